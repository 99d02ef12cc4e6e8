"""Gradients by reverse-mode backpropagation: ``grad`` and ``value_and_grad``.

One pass forward keeps each layer's residual; the loss gives d loss / d output
(or, fused, d loss / d logits); one pass backward runs each layer's ``backward``
in reverse order, writing parameter gradients straight into their slices of
one flat gradient buffer laid out like the params' own. So the grads tree has
the params' structure, dtype and flat layout, and ``fnn.tree.ravel(grads)`` is free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from fnn import _fast, random, tree
from fnn._checks import boolean, is_real, short_repr
from fnn.errors import ConfigError, ShapeError
from fnn.layers import Activation, DenseParams, Dropout, SequentialParams, backward, forward, layer_name, weight_leaves
from fnn.layers.activations import _ZEROS
from fnn.layers.sequential import network_input, stack_key
from fnn.losses import Loss, _as_dtype, _weighted_mean
from fnn.losses import get as get_loss
from fnn.network import check_inputs, sample_out_shape

_dense_forward = forward.dispatch(DenseParams)
_relu_backward = backward.dispatch(Activation)

__all__ = ["grad", "value_and_grad", "l2_penalty", "loss_value", "output_of", "check_loss_output"]


def value_and_grad(
    params: SequentialParams,
    batch: tuple[Any, Any],
    *,
    loss: Loss | Callable | str,
    l2: float = 0.0,
    key: random.Key | None = None,
    train: bool = True,
    sample_weight: Any = None,
) -> tuple[np.floating, SequentialParams]:
    """The loss of ``params`` on ``batch`` and its gradient with respect to every leaf.

    Args:
        params: from :func:`fnn.init`.
        batch: ``(x, y)``; ``x`` of shape (n, *in_shape), ``y`` as the loss expects.
        loss: an ``fnn.losses`` loss, its name, or a callable ``(y_hat, y) -> (value, d/dy_hat)``.
        l2: adds ``0.5 * l2 * Σ w²`` over weight matrices (not biases) to the value.
        key: the key of the layers that draw random numbers in training (dropout).
        train: training mode (the default: dropout active, which then needs ``key``);
            ``train=False`` differentiates the network as :func:`fnn.apply` runs it.
        sample_weight: None, or one weight ≥ 0 per sample (n,): the loss is then the weighted
            mean of the rows (see :mod:`fnn.losses`).

    Raises:
        ConfigError: a loss that cannot take the network's outputs (a probability loss on logits,
            see :mod:`fnn.losses`; the message names the output and the two ways to fix it), or a
            bad argument.

    Returns:
        ``(value, grads)``: a scalar of the params' dtype, and a tree shaped like ``params``
        whose read-only leaves are views into one flat buffer. For a stack of K networks
        (see :func:`fnn.stack`), ``value`` holds the K losses and ``grads`` is the gradient
        of their sum: member k's gradient is network k's own, bit for bit.

    >>> import numpy as np, fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], dtype=np.float64))
    >>> x, y = np.ones((5, 3)), np.array([0, 1, 1, 0, 1])
    >>> value, g = fnn.value_and_grad(params, (x, y), loss=fnn.losses.cross_entropy)
    >>> fnn.tree.structure(g) == fnn.tree.structure(params), g.layers[0].w.dtype
    (True, dtype('float64'))
    """
    x, y = _check_batch(params, batch, "value_and_grad")
    loss = get_loss(loss)
    check_loss_output(params, loss, "value_and_grad")
    l2 = _check_l2(l2)
    if key is not None and not isinstance(key, random.Key):
        raise ConfigError(f"value_and_grad: key must be an fnn.random.Key or None, got {type(key).__name__}")
    weights = None
    if sample_weight is not None:
        y, weights = weighted_targets(params, x.shape[0], y, loss, sample_weight, None, "value_and_grad")
    return value_and_grad_unchecked(
        params, x, y, loss, l2, key, train=_check_train(train), check_targets=weights is None, weights=weights
    )


def weighted_targets(
    params: SequentialParams, n: int, y: Any, loss: Any, sample_weight: Any, class_weight: Any, where: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """``y`` converted by ``loss`` for ``n`` rows of the network's outputs, and each row's weight (or None)."""
    if not isinstance(loss, Loss):
        raise ConfigError(
            f"{where}: sample_weight and class_weight need an fnn.losses loss (which takes weights); the custom "
            f"loss {loss!r} is called as loss(y_hat, y), without them"
        )
    shape = (n, *sample_out_shape(params))
    y = loss.targets(y, shape, params.dtype)
    return y, loss.weights(y, shape, params.dtype, sample_weight=sample_weight, class_weight=class_weight, where=where)


def _check_train(train: Any) -> bool:
    return boolean(train, "train")


def grad(
    params: SequentialParams,
    batch: tuple[Any, Any],
    *,
    loss: Loss | Callable | str,
    l2: float = 0.0,
    key: random.Key | None = None,
    train: bool = True,
    sample_weight: Any = None,
) -> SequentialParams:
    """The gradient of the loss with respect to ``params`` (see :func:`value_and_grad`).

    >>> import numpy as np, fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 1], output="sigmoid"))
    >>> g = fnn.grad(params, (np.array([[1.0, 2.0]]), np.array([1.0])), loss="binary_cross_entropy")
    >>> g.layers[0].w.shape
    (2, 1)
    """
    return value_and_grad(params, batch, loss=loss, l2=l2, key=key, train=train, sample_weight=sample_weight)[1]


def _check_batch(params: Any, batch: Any, where: str) -> tuple[np.ndarray, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ShapeError(f"{where}: batch must be a pair (x, y), got {type(batch).__name__}")
    x = check_inputs(params, batch[0], where)
    return x, batch[1]


def _check_l2(l2: Any) -> float:
    if not is_real(l2) or not 0 <= l2 < math.inf or abs(l2) > _FLOAT_MAX:  # NaN fails both; 10**400 is no float
        raise ConfigError(f"l2 must be a finite number ≥ 0, got {short_repr(l2)}")
    return float(l2)


_FLOAT_MAX = float(np.finfo(np.float64).max)


def _fused_loss(params: SequentialParams, loss: Any, rows: bool = False) -> Callable | None:
    if isinstance(loss, Loss) and params.layers and isinstance(params.layers[-1], Activation):
        return (loss.fused_rows if rows else loss.fused)(params.layers[-1].name)
    return None


def output_of(params: SequentialParams) -> tuple[str | None, int | None, str]:
    """What the network's last layers say about its outputs: (last activation, output width, that layer's name).

    The activation is ``"identity"`` for a network ending in a Dense layer (logits) and None when
    its last layer is neither an Activation nor a Dense (a user's layer: its outputs are then
    checked by value, see :mod:`fnn.losses`); the width is None where it is not known. Dropout,
    the identity at inference, is looked through.

    >>> import fnn
    >>> fnn.backprop.output_of(fnn.init(fnn.random.key(0), fnn.mlp([4, 8, 3], output=None)))
    ('identity', 3, 'Dense(8→3)')
    >>> fnn.backprop.output_of(fnn.init(fnn.random.key(0), fnn.mlp([4, 3], output="sigmoid")))
    ('sigmoid', 3, 'Activation(sigmoid)')
    """
    return _output_of(getattr(params, "layers", ()))


def _output_of(layers: Any) -> tuple[str | None, int | None, str]:
    layers = [layer for layer in layers if not isinstance(layer, Dropout)]
    if not layers:
        return None, None, "Sequential"
    last = layers[-1]
    if isinstance(last, SequentialParams):
        return _output_of(last.layers)
    if isinstance(last, DenseParams):
        return "identity", int(last.w.shape[-1]), layer_name(last)
    if isinstance(last, Activation):
        before, width, _ = _output_of(layers[:-1])
        return last.name, width if before == "identity" else None, layer_name(last)
    return None, None, layer_name(last)


def check_loss_output(params: SequentialParams, loss: Any, where: str) -> None:
    """ConfigError when ``loss`` cannot take the outputs of ``params`` (a probability loss on logits, ...).

    See :mod:`fnn.losses` for the pairs; custom callables are taken at their word.

    >>> import fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([4, 3], output="log_softmax"))
    >>> fnn.backprop.check_loss_output(params, fnn.losses.nll, "fit")               # a pair: nothing to say
    >>> fnn.backprop.check_loss_output(params, fnn.losses.cross_entropy, "fit")
    Traceback (most recent call last):
    fnn.errors.ConfigError: fit: loss 'cross_entropy' takes probabilities, but the network ends in
    Activation(log_softmax) over 3 outputs: log-probabilities (log_softmax). Either use loss='nll' (the negative
    log-likelihood of log-probabilities, PyTorch's NLLLoss), or end the network in a softmax
    """
    if isinstance(loss, Loss):
        loss.check_output(*output_of(params), where)


@attrs.frozen
class Plan:
    """How to run a params structure: each layer's forward and backward implementation, resolved once.

    Dispatch on node types happens here instead of at every call of a training loop.
    """

    forwards: tuple
    backwards: tuple
    fused: Callable | None  # the fused loss from logits, when the last activation allows it
    fused_rows: Callable | None = None  # its rows' losses and gradients, for weights

    @classmethod
    def of(cls, params: SequentialParams, loss: Any, backend: str = "numpy") -> Plan:
        """The plan of ``params`` under ``loss``; ``backend="numba"`` (the ``fast`` extra) runs the
        elementwise passes of each hidden Dense + relu pair as compiled kernels (bitwise the same numbers)."""
        fused = _fused_loss(params, loss)
        layers = params.layers[:-1] if fused is not None else params.layers
        kinds = [type(layer) for layer in layers]
        rows = _fused_loss(params, loss, rows=True) if fused is not None else None
        forwards = [forward.dispatch(k) for k in kinds]
        backwards = [backward.dispatch(k) for k in kinds]
        for i in _dense_relu_pairs(layers):
            forwards[i], forwards[i + 1] = _DENSE_RELU[backend], _relu_after_dense
            if backend == "numba":
                backwards[i + 1] = _relu_backward_numba
        return cls(tuple(forwards), tuple(backwards), fused, rows)


# ---- a Dense followed by a relu, in place (see Plan.of)
# The Dense's output is a new array no one else holds, so the relu can run over it in place: one
# activation-sized array fewer per pair and step. The relu's residual is then (y, y), its output
# twice: its backward's mask ``x > 0`` is the same from y = maximum(x, 0) as from x (NaN: neither).


def _dense_relu_pairs(layers: Any) -> list[int]:
    """The indices i of the layers where layers[i] is a Dense and layers[i + 1] a relu Activation."""
    return [
        i
        for i in range(len(layers) - 1)
        if type(layers[i]) is DenseParams and type(layers[i + 1]) is Activation and layers[i + 1].name == "relu"
    ]


def _dense_relu_numpy(node: DenseParams, x: np.ndarray, key: Any, train: bool) -> tuple[np.ndarray, np.ndarray]:
    y, residual = _dense_forward(node, x, key, train)
    np.maximum(y, _ZEROS[y.dtype], out=y)
    return y, residual


def _dense_relu_numba(node: DenseParams, x: np.ndarray, key: Any, train: bool) -> tuple[np.ndarray, np.ndarray]:
    w, b = node.w, node.b
    if b is None or w.ndim != 2 or x.ndim != 2 or w.dtype not in _FAST_DTYPES:  # a stack, samples of higher rank,
        return _dense_relu_numpy(node, x, key, train)  # no bias, float16: NumPy's passes
    y = x @ w
    _fast.kernels()[0](y, b, _ZEROS[y.dtype][()])
    return y, x


def _relu_after_dense(node: Activation, y: np.ndarray, key: Any, train: bool) -> tuple[np.ndarray, tuple]:
    return y, (y, y)  # the relu already ran, in place, in the Dense's forward


def _relu_backward_numba(node: Activation, residual: tuple, g: np.ndarray, out: Any, need_input_grad: bool) -> Any:
    if not need_input_grad:
        return None
    y = residual[1]
    if g.ndim != 2 or not g.flags.writeable or g.dtype not in _FAST_DTYPES or g.shape != y.shape:
        return _relu_backward(node, residual, g, out, need_input_grad)
    _fast.kernels()[1](g, y, _ZEROS[y.dtype][()])
    return g


_DENSE_RELU = {"numpy": _dense_relu_numpy, "numba": _dense_relu_numba}
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _loss_value_and_grad(
    loss: Any, out: np.ndarray, y: Any, check_targets: bool, stacked: bool, weights: np.ndarray | None = None
) -> tuple[Any, np.ndarray]:
    if isinstance(loss, Loss):
        if check_targets:
            y = loss.targets(y, out.shape[1:] if stacked else out.shape, out.dtype)
        if weights is not None:
            return loss._weighted(out, y, stacked, weights)
        return loss._value_and_grad(out, y, stacked)
    if weights is not None:
        raise ConfigError(f"sample weights need an fnn.losses loss; the custom loss {loss!r} takes none")
    if stacked:  # a custom loss sees one member's outputs at a time
        pairs = [_custom_loss(loss, member, y) for member in out]
        return np.array([v for v, _ in pairs], dtype=out.dtype), np.stack([g for _, g in pairs])
    return _custom_loss(loss, out, y)


def _custom_loss(loss: Callable, out: np.ndarray, y: Any) -> tuple[np.floating, np.ndarray]:
    result = loss(out, y)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = f"a {type(result).__name__}" + (f" of {len(result)} items" if isinstance(result, (tuple, list)) else "")
        if isinstance(result, np.ndarray):
            got = f"an array of shape {result.shape}"
        raise ConfigError(
            f"custom loss {getattr(loss, '__name__', loss)!r} must return a pair (value, d value / d y_hat) with the "
            f"value a number and the gradient shaped like y_hat {out.shape}, got {got} ({short_repr(result)})"
        )
    value, g = result
    if not is_real(value) and not (isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"):
        raise ConfigError(
            f"custom loss {getattr(loss, '__name__', loss)!r} must return (value, gradient) with the value one "
            f"number (the mean loss of the batch), got a value {short_repr(value)} ({type(value).__name__}"
            f"{f', shape {np.shape(value)}' if np.ndim(value) else ''})"
        )
    try:
        g = np.array(g, dtype=out.dtype)  # a copy: layers may overwrite the gradient they are given
    except (TypeError, ValueError) as e:
        raise ConfigError(
            f"custom loss {getattr(loss, '__name__', loss)!r} must return (value, gradient) with the gradient a "
            f"numeric array shaped like y_hat {out.shape}, got {short_repr(g)} ({e})"
        ) from None
    if g.shape != out.shape:
        raise ShapeError(f"custom loss returned a gradient of shape {g.shape}; the output has shape {out.shape}")
    return out.dtype.type(value), g


def value_and_grad_unchecked(
    params: SequentialParams,
    x: np.ndarray,
    y: Any,
    loss: Any,
    l2: float,
    key: random.Key | None,
    *,
    train: bool,
    check_targets: bool = False,
    unravel: tree._Unravel | None = None,
    weights: np.ndarray | None = None,
) -> tuple[np.floating, SequentialParams]:
    """:func:`value_and_grad` without input checks, for loops that checked their data once.

    ``x`` must already be checked (:func:`fnn.network.check_inputs`); ``unravel`` (from
    ``ravel(params)``) may be passed to skip recomputing it.
    """
    if unravel is None:
        unravel = tree.ravel(params)[1]
    gflat = np.zeros(unravel.size, params.dtype)
    # a layer with state (BatchNorm) writes the state this batch leads to into the gradient's state leaves
    gstate = np.zeros(unravel.state_size, params.dtype) if unravel.mask else None
    value = value_and_grad_into(
        params, x, y, loss, l2, key, unravel(gflat, gstate), train=train, check_targets=check_targets, weights=weights
    )
    gflat.flags.writeable = False
    if gstate is not None:
        gstate.flags.writeable = False
    return value, unravel(gflat, gstate)


def value_and_grad_into(
    params: SequentialParams,
    x: np.ndarray,
    y: Any,
    loss: Any,
    l2: float,
    key: random.Key | None,
    gtree: SequentialParams,
    *,
    train: bool,
    check_targets: bool = False,
    plan: Plan | None = None,
    stop_if_non_finite: bool = False,
    weights: np.ndarray | None = None,
) -> np.floating:
    """The loss value; its gradient is written into ``gtree``, writable views laid out like ``params``.

    A layer whose ``backward`` writes every element of its gradient (``fnn.layers.writes_every_grad``)
    may be handed a buffer of stale numbers; the others need it zero-filled. ``plan`` (from
    :meth:`Plan.of` for these params and loss) may be passed to skip resolving it. With
    ``stop_if_non_finite``, a NaN or infinite value (penalty included) is returned before
    the backward pass: ``gtree`` is then left untouched. ``weights``: each row's weight (as
    ``loss.weights`` gives them), for the weighted mean; None for the plain mean.
    """
    if plan is None:
        plan = Plan.of(params, loss)
    layers = params.layers
    residuals: list[Any] = []
    keep = residuals.append
    stacked = params.members is not None
    h = network_input(params, x) if stacked else x
    # strict=False: plan.forwards stops before an output activation the loss fuses with
    if key is None or not train:
        for run, layer in zip(plan.forwards, layers, strict=False):
            h, r = run(layer, h, None, train)
            keep(r)
    else:
        key = stack_key(params, key) if stacked else key
        for i, (run, layer) in enumerate(zip(plan.forwards, layers, strict=False)):
            h, r = run(layer, h, random.fold_in(key, i), True)
            keep(r)
    if plan.fused is not None:
        if check_targets:
            y = loss.targets(y, h.shape[1:] if stacked else h.shape, h.dtype)
        if weights is None:
            value, g = plan.fused(h, y, stacked) if stacked else plan.fused(h, y)
        else:
            assert plan.fused_rows is not None  # Plan.of resolves it with fused
            rows, g = plan.fused_rows(h, y, stacked)
            value, g = _weighted_mean(rows, g, weights, stacked, loss.class_axis)
    else:
        value, g = _loss_value_and_grad(loss, h, y, check_targets, stacked, weights)
    if l2:
        value = _with_penalty(value, l2_penalty(params, l2))
    if type(value) is not h.dtype.type:  # the output has the params' dtype
        value = _as_dtype(value, h.dtype)
    if stop_if_non_finite and not (math.isfinite(value) if value.ndim == 0 else np.isfinite(value).all()):
        return value
    grads = gtree.layers
    for i in range(len(plan.backwards) - 1, -1, -1):
        g = plan.backwards[i](layers[i], residuals[i], g, grads[i], i > 0)
    if l2:
        _add_l2_gradient(params, l2, gtree)
    return value


def _with_penalty(value: Any, penalty: Any) -> Any:
    # One network: value (a NumPy scalar) + a Python float, computed in value's dtype. A stack:
    # the K penalties rounded to that dtype first, which is what the scalar sum does.
    if np.ndim(penalty) == 0:
        return value + penalty
    return value + penalty.astype(value.dtype)


def loss_value(
    params: SequentialParams, x: np.ndarray, y: Any, loss: Any, l2: float = 0.0, weights: np.ndarray | None = None
) -> np.floating:
    """The value :func:`value_and_grad` reports (fused from logits where it fuses), without gradients or dropout.

    ``x`` must already be checked (:func:`fnn.network.check_inputs`) and ``y`` converted by the loss.
    """
    fused = _fused_loss(params, loss)
    layers = params.layers[:-1] if fused is not None else params.layers
    stacked = params.members is not None
    h = network_input(params, x)
    for layer in layers:
        h = forward(layer, h, None, False)[0]
    if fused is None:
        value = _loss_value_and_grad(loss, h, y, False, stacked, weights)[0]
    elif weights is None:
        value = fused(h, y, stacked)[0]
    else:
        fused_rows = _fused_loss(params, loss, rows=True)
        assert fused_rows is not None  # a loss that fuses has a fused_rows
        rows, g = fused_rows(h, y, stacked)
        value = _weighted_mean(rows, g, weights, stacked, loss.class_axis)[0]
    if l2:
        value = _with_penalty(value, l2_penalty(params, l2))
    return _as_dtype(value, params.dtype)


def l2_penalty(params: Any, l2: float, grads: Any | None = None) -> float | np.ndarray:
    """``0.5 * l2 * Σ w²`` over the weight fields of ``params``; adds ``l2 * w`` to ``grads`` in place if given.

    For a stack of K networks, the K penalties (an array), each summed as one network's.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 2], dtype=np.float64))
    >>> bool(np.isclose(fnn.l2_penalty(p, 2.0), np.sum(p.layers[0].w ** 2)))
    True
    """
    members = getattr(params, "members", None)
    totals = [0.0] * (members or 1)
    for (w,) in weight_leaves(params):
        for k in range(len(totals)):  # for a stack, member by member: each sum as one network's
            totals[k] += float(np.vdot(w[k], w[k]) if members else np.vdot(w, w))
    if grads is not None:
        _add_l2_gradient(params, l2, grads)
    return 0.5 * l2 * totals[0] if members is None else 0.5 * l2 * np.array(totals)


def _add_l2_gradient(params: Any, l2: float, grads: Any) -> None:
    for w, gw in weight_leaves(params, grads):
        gw += gw.dtype.type(l2) * w
