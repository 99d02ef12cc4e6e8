"""Gradients by reverse-mode backpropagation: ``grad`` and ``value_and_grad``.

One pass forward keeps each layer's residual; the loss gives d loss / d output
(or, fused, d loss / d logits); one pass backward runs each layer's ``backward``
in reverse order, writing parameter gradients straight into their slices of
one flat gradient buffer laid out like the params' own. So the grads tree has
the params' structure, dtype and flat layout, and ``fnn.tree.ravel(grads)`` is free.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import attrs
import numpy as np

from fnn import random, tree
from fnn.errors import ConfigError, ShapeError
from fnn.layers import Activation, SequentialParams, backward, forward, weight_leaves
from fnn.layers.sequential import network_input, stack_key
from fnn.losses import Loss, _as_dtype, get as get_loss
from fnn.network import check_inputs

__all__ = ["grad", "value_and_grad", "l2_penalty", "loss_value"]


def value_and_grad(
    params: SequentialParams,
    batch: tuple[Any, Any],
    *,
    loss: Loss | Callable | str,
    l2: float = 0.0,
    key: random.Key | None = None,
    train: bool = True,
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
    l2 = _check_l2(l2)
    if key is not None and not isinstance(key, random.Key):
        raise ConfigError(f"value_and_grad: key must be an fnn.random.Key or None, got {type(key).__name__}")
    return value_and_grad_unchecked(params, x, y, loss, l2, key, train=_check_train(train), check_targets=True)


def _check_train(train: Any) -> bool:
    if not isinstance(train, (bool, np.bool_)):
        raise ConfigError(f"train must be True or False, got {train!r}")
    return bool(train)


def grad(params: SequentialParams, batch: tuple[Any, Any], *, loss: Loss | Callable | str, l2: float = 0.0,
         key: random.Key | None = None, train: bool = True) -> SequentialParams:
    """The gradient of the loss with respect to ``params`` (see :func:`value_and_grad`).

    >>> import numpy as np, fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 1], output="sigmoid"))
    >>> g = fnn.grad(params, (np.array([[1.0, 2.0]]), np.array([1.0])), loss="binary_cross_entropy")
    >>> g.layers[0].w.shape
    (2, 1)
    """
    return value_and_grad(params, batch, loss=loss, l2=l2, key=key, train=train)[1]


def _check_batch(params: Any, batch: Any, where: str) -> tuple[np.ndarray, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ShapeError(f"{where}: batch must be a pair (x, y), got {type(batch).__name__}")
    x = check_inputs(params, batch[0], where)
    return x, batch[1]


def _check_l2(l2: Any) -> float:
    if isinstance(l2, bool) or not isinstance(l2, (int, float, np.floating, np.integer)) or not l2 >= 0 or l2 == np.inf:
        raise ConfigError(f"l2 must be a finite number ≥ 0, got {l2!r}")
    return float(l2)


def _fused_loss(params: SequentialParams, loss: Any) -> Callable | None:
    if isinstance(loss, Loss) and params.layers and isinstance(params.layers[-1], Activation):
        return loss.fused(params.layers[-1].name)
    return None


@attrs.frozen
class Plan:
    """How to run a params structure: each layer's forward and backward implementation, resolved once.

    Dispatch on node types happens here instead of at every call of a training loop.
    """

    forwards: tuple
    backwards: tuple
    fused: Callable | None  # the fused loss from logits, when the last activation allows it

    @classmethod
    def of(cls, params: SequentialParams, loss: Any) -> "Plan":
        fused = _fused_loss(params, loss)
        layers = params.layers[:-1] if fused is not None else params.layers
        kinds = [type(layer) for layer in layers]
        return cls(tuple(forward.dispatch(k) for k in kinds), tuple(backward.dispatch(k) for k in kinds), fused)


def _loss_value_and_grad(
    loss: Any, out: np.ndarray, y: Any, check_targets: bool, stacked: bool
) -> tuple[Any, np.ndarray]:
    if isinstance(loss, Loss):
        if check_targets:
            y = loss.targets(y, out.shape[1:] if stacked else out.shape, out.dtype)
        return loss._value_and_grad(out, y, stacked)
    if stacked:  # a custom loss sees one member's outputs at a time
        pairs = [_custom_loss(loss, member, y) for member in out]
        return np.array([v for v, _ in pairs], dtype=out.dtype), np.stack([g for _, g in pairs])
    return _custom_loss(loss, out, y)


def _custom_loss(loss: Callable, out: np.ndarray, y: Any) -> tuple[np.floating, np.ndarray]:
    value, g = loss(out, y)
    g = np.array(g, dtype=out.dtype)  # a copy: layers may overwrite the gradient they are given
    if g.shape != out.shape:
        raise ShapeError(f"custom loss returned a gradient of shape {g.shape}; the output has shape {out.shape}")
    return out.dtype.type(value), g


def value_and_grad_unchecked(
    params: SequentialParams, x: np.ndarray, y: Any, loss: Any, l2: float, key: random.Key | None,
    *, train: bool, check_targets: bool = False, unravel: Callable | None = None,
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
        params, x, y, loss, l2, key, unravel(gflat, gstate), train=train, check_targets=check_targets
    )
    gflat.flags.writeable = False
    if gstate is not None:
        gstate.flags.writeable = False
    return value, unravel(gflat, gstate)


def value_and_grad_into(
    params: SequentialParams, x: np.ndarray, y: Any, loss: Any, l2: float, key: random.Key | None,
    gtree: SequentialParams, *, train: bool, check_targets: bool = False, plan: Plan | None = None,
    stop_if_non_finite: bool = False,
) -> np.floating:
    """The loss value; its gradient is written into ``gtree``, writable views laid out like ``params``.

    A layer whose ``backward`` writes every element of its gradient (``fnn.layers.writes_every_grad``)
    may be handed a buffer of stale numbers; the others need it zero-filled. ``plan`` (from
    :meth:`Plan.of` for these params and loss) may be passed to skip resolving it. With
    ``stop_if_non_finite``, a NaN or infinite value (penalty included) is returned before
    the backward pass: ``gtree`` is then left untouched.
    """
    if plan is None:
        plan = Plan.of(params, loss)
    layers = params.layers
    residuals = []
    keep = residuals.append
    stacked = params.members is not None
    h = network_input(params, x) if stacked else x
    if key is None or not train:
        for run, layer in zip(plan.forwards, layers):
            h, r = run(layer, h, None, train)
            keep(r)
    else:
        key = stack_key(params, key) if stacked else key
        for i, (run, layer) in enumerate(zip(plan.forwards, layers)):
            h, r = run(layer, h, random.fold_in(key, i), True)
            keep(r)
    if plan.fused is not None:
        if check_targets:
            y = loss.targets(y, h.shape[1:] if stacked else h.shape, h.dtype)
        value, g = plan.fused(h, y, stacked) if stacked else plan.fused(h, y)
    else:
        value, g = _loss_value_and_grad(loss, h, y, check_targets, stacked)
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


def loss_value(params: SequentialParams, x: np.ndarray, y: Any, loss: Any, l2: float = 0.0) -> np.floating:
    """The value :func:`value_and_grad` reports (fused from logits where it fuses), without gradients or dropout.

    ``x`` must already be checked (:func:`fnn.network.check_inputs`) and ``y`` converted by the loss.
    """
    fused = _fused_loss(params, loss)
    layers = params.layers[:-1] if fused is not None else params.layers
    stacked = params.members is not None
    h = network_input(params, x)
    for layer in layers:
        h = forward(layer, h, None, False)[0]
    value = fused(h, y, stacked)[0] if fused is not None else _loss_value_and_grad(loss, h, y, False, stacked)[0]
    if l2:
        value = _with_penalty(value, l2_penalty(params, l2))
    return _as_dtype(value, params.dtype)


def l2_penalty(params: Any, l2: float, grads: Any | None = None) -> np.floating:
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
