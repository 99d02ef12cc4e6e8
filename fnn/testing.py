"""Property-testing tools for networks and users' own layers (needs hypothesis).

- :func:`check_grads`: compares :func:`fnn.grad` with central finite differences
  along random directions, in float64 (the ``check_vjp`` idea of autograd).
- :func:`check_layer`: the same for one layer spec, placed between a Dense layer
  and an MSE loss so that its parameter gradients *and* its input gradient are checked.
- Hypothesis strategies: :func:`specs`, :func:`random_params`, :func:`batches`,
  :func:`problems` (spec, params and a batch that suits the loss), the same ones
  fnn's own tests use.

>>> import numpy as np, fnn
>>> from fnn.testing import check_grads
>>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 5, 2], hidden="tanh", dtype=np.float64))
>>> x = fnn.random.normal(fnn.random.key(1), (4, 3))
>>> check_grads(params, (x, np.array([0, 1, 1, 0])), loss=fnn.losses.cross_entropy) < 1e-6
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fnn import random, tree
from fnn.backprop import value_and_grad_unchecked
from fnn.errors import ConfigError
from fnn.initializers import fans
from fnn.layers import (
    Activation,
    Dense,
    Dropout,
    Sequential,
    SequentialParams,
    check_shape,
    forward,
    layer_name,
    out_dim,
    out_shape,
    stackable,
    takes_integers,
    uses_key,
)
from fnn.layers.activations import ACTIVATIONS
from fnn.losses import Loss
from fnn.losses import get as get_loss
from fnn.network import apply, check_inputs, init, sample_out_shape

__all__ = [
    "GRAD_RTOL",
    "check_grads",
    "check_layer",
    "check_layer_laws",
    "grad_error",
    "to_float64",
    "random_params",
    "specs",
    "batches",
    "problems",
    "LOSS_OUTPUTS",
]

GRAD_RTOL = 1e-6
"""Largest accepted relative error between analytic and finite-difference directional derivatives."""
FD_STEPS = (1e-4, 1e-3, 1e-5, 1e-6, 1e-7)
"""Steps of the five-point central difference (truncation error O(h⁴), rounding O(ε/h)).

Each direction is tried with these steps in turn until one agrees. A wrong gradient
disagrees at every step. A kink of relu-like activations within reach of a step (a
pre-activation within ~2h of 0) spoils only the larger steps (1e-7 reaches a kink
found by hypothesis 1.5e-7 from a relu's pre-activation); a loss computed with
little relative precision (e.g. log(1 − p) of a saturated probability) spoils only the
smaller ones.
"""
FD_FLOOR = 1e-5
"""Directional derivatives smaller than ``FD_FLOOR * (1 + |f|)`` are compared against that scale.

The five-point difference itself carries a rounding error of about ε·|f|/h ≈ 2e-12·|f|
in float64, so a relative error of 1e-6 is only measurable for derivatives well above
2e-6·|f|; below the floor the check is absolute (≈1e-11·|f|).
"""


def to_float64(params: Any) -> Any:
    """A float64 copy of a params tree, packed into one read-only buffer."""
    return tree.pack(tree.map(lambda a: np.asarray(a, np.float64), params))


def grad_error(
    params: SequentialParams,
    batch: tuple[Any, Any],
    *,
    loss: Loss | Callable | str,
    l2: float = 0.0,
    key: random.Key | None = None,
    directions: int = 4,
    seed: int = 0,
    train: bool | None = None,
) -> float:
    """The largest relative error of ``<grad, v>`` against finite differences over random unit directions ``v``.

    Everything is computed in float64 (params and inputs are converted). Directions are
    drawn from ``fnn.random.key(seed)``; with ``key``, dropout masks are fixed by that key.
    ``train`` is the mode (by default: training if and only if a key is given).
    """
    train = key is not None if train is None else bool(train)
    p64 = to_float64(params)
    x = check_inputs(p64, batch[0], "check_grads")
    y = batch[1]
    loss = get_loss(loss)
    flat, unravel = tree.ravel(p64)
    if flat.size == 0:
        return 0.0

    def value(theta: np.ndarray) -> float:
        return float(
            value_and_grad_unchecked(
                unravel(theta), x, y, loss, l2, key, train=train, check_targets=True, unravel=unravel
            )[0]
        )

    f0, g = value_and_grad_unchecked(p64, x, y, loss, l2, key, train=train, check_targets=True, unravel=unravel)
    gflat = tree.ravel(g)[0]
    worst = 0.0
    for k in random.split(random.key(seed), directions):
        v = random.normal(k, flat.shape)
        v /= np.linalg.norm(v)
        analytic = float(gflat @ v)
        best = math.inf
        for h in FD_STEPS:
            numeric = (
                -value(flat + 2 * h * v) + 8 * value(flat + h * v) - 8 * value(flat - h * v) + value(flat - 2 * h * v)
            ) / (12 * h)
            scale = max(abs(numeric), abs(analytic), FD_FLOOR * (1 + abs(float(f0))))
            best = min(best, abs(numeric - analytic) / scale)
            if best <= GRAD_RTOL:
                break
        worst = max(worst, best)
    return worst


def check_grads(
    params: SequentialParams,
    batch: tuple[Any, Any],
    *,
    loss: Loss | Callable | str,
    l2: float = 0.0,
    key: random.Key | None = None,
    directions: int = 4,
    rtol: float = GRAD_RTOL,
    seed: int = 0,
    train: bool | None = None,
) -> float:
    """Assert that :func:`fnn.grad` matches finite differences; return the largest relative error.

    ``train``: the mode, as in :func:`grad_error`.

    Raises:
        AssertionError: the relative error exceeds ``rtol`` (the message gives it).
    """
    err = grad_error(params, batch, loss=loss, l2=l2, key=key, directions=directions, seed=seed, train=train)
    if not err <= rtol:
        raise AssertionError(f"gradient check failed: relative error {err:.3g} > {rtol:g}")
    return err


def _layer_network(spec: Any, in_shape: tuple, dtype: DTypeLike, front: bool) -> Sequential:
    """``spec`` alone, or after a shape-keeping Dense (on the last axis) so that its input gradient is exercised."""
    layers = [Dense(in_shape[-1]), spec] if front else [spec]
    return Sequential(layers, in_shape=in_shape, dtype=dtype)


def _takes_integers(spec: Any, in_shape: tuple) -> bool:
    return takes_integers(init(random.key(0), Sequential([spec], in_shape=in_shape, dtype=np.float64)))


def _layer_inputs(
    key: random.Key, spec: Any, in_shape: tuple, n: int, integers: bool, id_range: int | None
) -> np.ndarray:
    if integers:
        high = id_range if id_range is not None else getattr(spec, "num_embeddings", 2)
        return random.generator(key).integers(0, high, (n, *in_shape))
    return random.normal(key, (n, *in_shape))


def check_layer(
    spec: Any,
    *,
    in_shape: tuple | None = None,
    in_dim: int = 3,
    batch_size: int = 5,
    seed: int = 0,
    rtol: float = GRAD_RTOL,
    id_range: int | None = None,
) -> float:
    """Check a layer's backward (parameter and input gradients) against finite differences, in float64.

    The layer sits after a Dense layer on the last axis (which keeps the sample shape, so its
    input gradient is exercised) and feeds an MSE loss with random targets (so the upstream
    gradient is arbitrary). Params are drawn at random, biases included. A layer that takes
    integer ids (``fnn.layers.takes_integers``) is checked alone, on ids in ``[0, id_range)``
    (by default its ``num_embeddings``). Both modes are checked: training (a layer that uses
    a key gets a fixed one, so its random draws are fixed too; BatchNorm differentiates
    through its batch statistics) and inference; the larger error is returned.

    Args:
        spec: the layer spec.
        in_shape: the shape of its input samples (default ``(in_dim,)``).

    >>> import fnn
    >>> from fnn.testing import check_layer
    >>> check_layer(fnn.Activation("softmax")) < 1e-6
    True
    >>> check_layer(fnn.LayerNorm(), in_shape=(4, 3)) < 1e-6
    True
    """
    in_shape = check_shape(in_shape if in_shape is not None else in_dim, "check_layer in_shape")
    integers = _takes_integers(spec, in_shape)
    net = _layer_network(spec, in_shape, np.float64, front=not integers)
    k_params, k_x, k_y, k_key = random.split(random.key(seed), 4)
    params = random_params(k_params, net)
    x = _layer_inputs(k_x, spec, in_shape, batch_size, integers, id_range)
    y = random.normal(k_y, (batch_size, *sample_out_shape(params)))
    key = k_key if uses_key(params) else None
    return max(
        check_grads(params, (x, y), loss="mse", rtol=rtol, seed=seed, key=key, train=mode) for mode in (True, False)
    )


def check_layer_laws(
    spec: Any, *, in_shape: tuple, seed: int = 0, members: int = 3, batch_size: int = 4, id_range: int | None = None
) -> dict[str, Any]:
    """Every law fnn's own layers are held to, for one layer spec on samples of ``in_shape``.

    1. **shape**: ``fnn.layers.out_shape(spec, in_shape)`` is the shape of one sample of ``apply``'s output;
    2. **gradient**: :func:`check_layer` (float64, central differences);
    3. **stack**: if the layer declares ``fnn.layers.stackable``, member k of a stack of ``members``
       networks gives bitwise network k's output and gradient; if not, stacking it is refused
       with a ConfigError naming it;
    4. **save/load**: ``fnn.load(fnn.save(...))`` gives back equal params and bitwise equal outputs;
    5. **float32**: a float32 network's output and gradient stay float32;
    6. **summary**: :func:`fnn.summary` shows a row for the layer.

    Raises:
        AssertionError: a law fails (the message says which).

    Returns:
        ``{"gradient_error": float, "stacked": bool}``.

    >>> import fnn
    >>> from fnn.testing import check_layer_laws
    >>> check_layer_laws(fnn.Dense(3), in_shape=(5, 2))["stacked"]
    True
    """
    import tempfile

    from fnn import io
    from fnn import stacked as stacking
    from fnn.backprop import value_and_grad
    from fnn.summary import summary

    in_shape = check_shape(in_shape, "check_layer_laws in_shape")
    integers = _takes_integers(spec, in_shape)
    keys = random.split(random.key(seed), members + 3)
    x = _layer_inputs(keys[-1], spec, in_shape, batch_size, integers, id_range)
    net64 = _layer_network(spec, in_shape, np.float64, front=not integers)
    singles = [random_params(k, net64) for k in keys[:members]]
    y_hat = apply(singles[0], x)
    predicted = (batch_size, *out_shape(net64, in_shape))
    if y_hat.shape != predicted:
        raise AssertionError(f"shape law: out_shape predicts {predicted[1:]} per sample, apply gives {y_hat.shape[1:]}")
    y = random.normal(keys[-2], y_hat.shape)
    error = check_layer(spec, in_shape=in_shape, batch_size=batch_size, seed=seed, id_range=id_range)

    node = singles[0].layers[-1]
    can_stack = stackable(node)
    if can_stack:
        stack = stacking.stack(singles)
        out = apply(stack, x)
        # inference mode, and training mode unless the layer draws random numbers (members draw their own)
        for train in (False,) if uses_key(node) else (False, True):
            value, grads = value_and_grad(stack, (x, y), loss="mse", train=train)
            for k, single in enumerate(singles):
                if not np.array_equal(out[k], apply(single, x)):
                    raise AssertionError(f"stack law: member {k}'s output differs from network {k}'s")
                v, g = value_and_grad(single, (x, y), loss="mse", train=train)
                if value[k] != v or not all(  # type: ignore[index]  # a stack's value: K losses
                    np.array_equal(a[k], b) for a, b in zip(tree.leaves(grads), tree.leaves(g), strict=True)
                ):
                    raise AssertionError(
                        f"stack law (train={train}): member {k}'s loss or gradient differs from network {k}'s"
                    )
    else:
        try:
            stacking.stack(singles)
        except ConfigError as e:
            if layer_name(node) not in str(e):
                raise AssertionError(f"a refused stack must name the layer {layer_name(node)}: {e}") from None
        else:
            raise AssertionError(f"{layer_name(node)} does not declare stackable, but a stack of it was built")

    with tempfile.TemporaryDirectory() as tmp:
        path = io.save(f"{tmp}/params.npz", singles[0])
        back = io.load(path)
    if not tree.equal(back, singles[0]) or not np.array_equal(apply(back, x), y_hat):
        raise AssertionError("save/load law: the loaded params differ from the saved ones")

    p32 = init(keys[members], _layer_network(spec, in_shape, np.float32, front=not integers))
    x32 = x if integers else x.astype(np.float32)
    out32 = apply(p32, x32)
    _, g32 = value_and_grad(p32, (x32, y.astype(np.float32)), loss="mse", key=keys[members + 1], train=True)
    if out32.dtype != np.float32 or any(np.asarray(a).dtype != np.float32 for a in tree.leaves(g32)):
        raise AssertionError(f"float32 law: output {out32.dtype}, gradients {[a.dtype for a in tree.leaves(g32)]}")

    name = type(node).__name__.removesuffix("Params") or type(node).__name__
    index = "0" if integers else "1"
    if not any(line.split()[:2] == [index, name] for line in summary(singles[0]).splitlines()):
        raise AssertionError(f"summary law: no row {index} for {name}:\n{summary(singles[0])}")
    return {"gradient_error": error, "stacked": can_stack}


def random_params(key: random.Key, spec: Sequential, *, std: float = 1.0) -> SequentialParams:
    """Params of ``spec`` with arrays of 2 or more axes drawn from N(0, std²/fan_in) and vectors from N(0, (std/2)²);
    state leaves (running statistics) from 0.5 + |N(0, 1)|.

    Unlike :func:`fnn.init`, biases are not zero, so pre-activations are almost surely
    off the kinks of relu-like activations (where finite differences are meaningless).
    """
    params = init(key, spec)

    def draw(a: np.ndarray, k: random.Key, state: bool) -> np.ndarray:
        if state:  # running statistics (a variance, a count): positive, around 1
            return np.abs(random.normal(k, a.shape, dtype=a.dtype)) + a.dtype.type(0.5)
        scale = std / np.sqrt(fans(a.shape)[0]) if a.ndim >= 2 else std / 2
        return random.normal(k, a.shape, std=scale, dtype=a.dtype)

    s = tree.structure(params)
    fresh = tree.map(
        draw,
        params,
        s.unflatten(random.split(random.fold_in(key, 1), s.num_leaves)),
        s.unflatten(tree.state_mask(params)),
    )
    return tree.pack(fresh)


# --------------------------------------------------------------- strategies

# For each loss, the output activations it takes (fnn.losses: the pairs) under which it is smooth;
# a softmax needs 2 outputs or more (over one it is the constant 1).
_LOGITS = tuple(a for a in ACTIVATIONS if a not in ("softmax", "sigmoid"))
LOSS_OUTPUTS = {
    "mse": tuple(ACTIVATIONS),
    "binary_cross_entropy": ("sigmoid", "softmax"),
    "cross_entropy": ("softmax",),
    "cross_entropy_from_logits": _LOGITS,
    "binary_cross_entropy_from_logits": _LOGITS,
    "nll": ("log_softmax",),
    "huber": tuple(ACTIVATIONS),
}
_CLASS_LOSSES = ("cross_entropy", "cross_entropy_from_logits", "nll")


# A cross-entropy applied to probabilities (not fused with its activation) evaluates
# log p and log(1 − p): at p within ~1e-6 of 0 or 1 the loss is known to only a few digits,
# so no finite difference can check its gradient to 1e-6. Such draws are rejected; the
# fused forms (softmax + cross_entropy, sigmoid + binary_cross_entropy) are checked anywhere.
_UNFUSED_PROBABILITY_LOSSES = {("binary_cross_entropy", "softmax")}
SATURATION = 1e-6


def _assume(condition: bool) -> None:
    from hypothesis import assume

    assume(condition)


def _st() -> Any:
    try:
        import hypothesis.strategies as st
    except ImportError as e:  # pragma: no cover - hypothesis is in the test extra
        raise ImportError("fnn.testing strategies need hypothesis: pip install 'fnn[test]'") from e
    return st


def specs(
    *,
    min_depth: int = 1,
    max_depth: int = 4,
    max_width: int = 16,
    activations: tuple[str, ...] = tuple(ACTIVATIONS),
    outputs: tuple[str, ...] = tuple(ACTIVATIONS),
    dropout: bool = False,
    dtype: DTypeLike = np.float64,
) -> Any:
    """Strategy of Sequential specs: ``depth`` Dense layers of widths 1..max_width, each followed by an activation.

    >>> from hypothesis import given, settings
    >>> from fnn.testing import specs
    >>> @settings(max_examples=5)
    ... @given(specs(max_depth=2))
    ... def test(spec):
    ...     assert spec.in_dim >= 1
    >>> test()
    """
    st = _st()
    if min_depth < 1 or max_depth < min_depth:
        raise ConfigError(f"specs needs 1 <= min_depth <= max_depth, got {min_depth}, {max_depth}")

    @st.composite
    def build(draw: Callable) -> Sequential:
        depth = draw(st.integers(min_depth, max_depth))
        widths = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
        layers: list = []
        for i, units in enumerate(widths[1:]):
            last = i == depth - 1
            layers.append(Dense(units, use_bias=draw(st.booleans())))
            layers.append(Activation(draw(st.sampled_from(outputs if last else activations))))
            if dropout and not last and draw(st.booleans()):
                layers.append(Dropout(draw(st.sampled_from([0.1, 0.5]))))
        return Sequential(layers, in_dim=widths[0], dtype=dtype)

    return build()


def _targets(key: random.Key, loss_name: str, n: int, k: int, label_form: str) -> np.ndarray:
    if loss_name in ("mse", "huber"):
        return random.normal(key, (n, k))
    if loss_name.startswith("binary_cross_entropy"):
        return random.uniform(key, (n, k))
    labels = random.generator(key).integers(0, k, n)
    if label_form == "labels":
        return labels
    if label_form == "one_hot":
        return np.eye(k)[labels]
    soft = random.uniform(key, (n, k)) + 0.1
    return soft / soft.sum(axis=1, keepdims=True)


def batches(spec: Sequential, loss_name: str, *, max_batch: int = 8) -> Any:
    """Strategy of ``(x, y)`` batches for ``spec`` and a built-in loss (all label forms for cross-entropy)."""
    st = _st()
    if loss_name not in LOSS_OUTPUTS:
        raise ConfigError(f"batches: unknown loss {loss_name!r}; valid names: {', '.join(LOSS_OUTPUTS)}")
    k = out_dim(spec, spec.in_dim)  # type: ignore[arg-type]  # out_dim names a spec without in_dim

    @st.composite
    def build(draw: Callable) -> tuple[np.ndarray, np.ndarray]:
        n = draw(st.integers(1, max_batch))
        seed = draw(st.integers(0, 2**32 - 1))
        form = draw(st.sampled_from(["labels", "one_hot", "soft"])) if loss_name in _CLASS_LOSSES else "targets"
        kx, ky = random.split(random.key(seed))
        x = random.normal(kx, (n, spec.in_dim))
        return x, _targets(ky, loss_name, n, k, form)

    return build()


def problems(*, max_depth: int = 4, max_width: int = 16, dropout: bool = False) -> Any:
    """Strategy of ``(loss_name, params, batch)`` over every loss, activation and label form, in float64.

    Params come from :func:`random_params` (no exact zeros), so gradient checks stay off kinks.
    """
    st = _st()

    @st.composite
    def build(draw: Callable) -> tuple[str, SequentialParams, tuple]:
        loss_name = draw(st.sampled_from(sorted(LOSS_OUTPUTS)))
        spec = draw(specs(max_depth=max_depth, max_width=max_width, outputs=LOSS_OUTPUTS[loss_name], dropout=dropout))
        _assume(spec.layers[-1].name != "softmax" or spec.layers[-2].units > 1)
        seed = draw(st.integers(0, 2**32 - 1))
        params = random_params(random.key(seed), spec)
        batch = draw(batches(spec, loss_name))
        if (loss_name, spec.layers[-1].name) in _UNFUSED_PROBABILITY_LOSSES:
            p = forward(params, batch[0], None, False)[0]
            _assume(min(float(p.min()), float(1 - p.max())) > SATURATION)
        return loss_name, params, batch

    return build()


# --------------------------------------------------------------- the registry of layers


def _sample_shapes(st: Any, min_rank: int = 1, max_rank: int = 3, max_size: int = 5) -> Any:
    return st.lists(st.integers(1, max_size), min_size=min_rank, max_size=max_rank).map(tuple)


def window_settings(st: Any, rank: int, *, dilation: bool, max_size: int = 3) -> Any:
    """Strategy of ``(size, stride, dilation, padding, pads)`` for a convolution or pooling window of ``rank`` axes.

    Every padding form is drawn: "valid", "same" (stride 1), an integer, a pair per axis. With
    ``dilation=False`` (pooling) the padding is at most half the window on each side.
    """
    from fnn.layers import _windows

    @st.composite
    def build(draw: Callable) -> tuple:
        size = tuple(draw(st.integers(1, max_size)) for _ in range(rank))
        stride = tuple(draw(st.integers(1, 2)) for _ in range(rank))
        dil = tuple(draw(st.integers(1, 2)) if dilation else 1 for _ in range(rank))
        half = [k // 2 if not dilation else 2 for k in size]
        forms = ["valid", "int", "pairs"] + (["same"] if max(stride) == 1 else [])
        form = draw(st.sampled_from(forms))
        if form in ("valid", "same"):
            pad: Any = form
        elif form == "int":
            pad = draw(st.integers(0, min(half)))
        else:
            pairs = tuple((draw(st.integers(0, h)), draw(st.integers(0, h))) for h in half)
            pad = pairs[0] if rank == 1 else pairs
        pads = _windows.resolve(_windows.padding(pad, rank, "padding"), size, dil)
        return size, stride, dil, pad, pads

    return build()


def _window_layers(st: Any) -> dict[str, Callable[[], Any]]:
    """Registry entries of the convolutions and pools: settings first, then input shapes the window fits in."""
    from fnn.layers import AvgPool1D, AvgPool2D, Conv1D, Conv2D, GlobalAvgPool, GlobalMaxPool, MaxPool1D, MaxPool2D

    def spatial(draw: Callable, size: tuple, dil: tuple, pads: tuple) -> tuple:
        needed = [max(1, d * (k - 1) + 1 - b - a) for k, d, (b, a) in zip(size, dil, pads, strict=True)]
        return tuple(draw(st.integers(n, n + 3)) for n in needed)

    def conv(cls: type, rank: int) -> Any:
        @st.composite
        def build(draw: Callable) -> tuple:
            size, stride, dil, pad, pads = draw(window_settings(st, rank, dilation=True))
            spec = cls(
                draw(st.integers(1, 3)), size, stride=stride, padding=pad, dilation=dil, use_bias=draw(st.booleans())
            )
            return spec, (*spatial(draw, size, dil, pads), draw(st.integers(1, 3)))

        return build()

    def pool(cls: type, rank: int) -> Any:
        @st.composite
        def build(draw: Callable) -> tuple:
            size, stride, _, pad, pads = draw(window_settings(st, rank, dilation=False))
            stride_arg = stride if pad == "same" else draw(st.sampled_from([None, stride]))  # None: the size
            spec = cls(size, stride=stride_arg, padding=pad)
            return spec, (*spatial(draw, size, (1,) * rank, pads), draw(st.integers(1, 3)))

        return build()

    global_shapes = _sample_shapes(st, 2, 3, 4)
    return {
        "Conv1D": lambda: conv(Conv1D, 1),
        "Conv2D": lambda: conv(Conv2D, 2),
        "MaxPool1D": lambda: pool(MaxPool1D, 1),
        "MaxPool2D": lambda: pool(MaxPool2D, 2),
        "AvgPool1D": lambda: pool(AvgPool1D, 1),
        "AvgPool2D": lambda: pool(AvgPool2D, 2),
        "GlobalMaxPool": lambda: st.tuples(st.just(GlobalMaxPool()), global_shapes),
        "GlobalAvgPool": lambda: st.tuples(st.just(GlobalAvgPool()), global_shapes),
    }


def _registry() -> dict[str, Callable[[], Any]]:
    """name -> a function returning a strategy of ``(spec, in_shape)`` (hypothesis is imported lazily)."""
    from fnn.layers import (
        GRU,
        LSTM,
        BatchNorm,
        Concat,
        Embedding,
        Flatten,
        LayerNorm,
        Parallel,
        Reshape,
        Residual,
        RMSNorm,
        SimpleRNN,
    )

    st = _st()
    shapes = _sample_shapes(st)

    def with_shape(specs_: Any, shapes_: Any = shapes) -> Any:
        return st.tuples(specs_, shapes_)

    def reshaped(in_shape: tuple) -> Any:
        size = math.prod(in_shape)
        return st.sampled_from([(-1,), (size,), tuple(reversed(in_shape)), (*in_shape, 1), (1, -1)]).map(
            lambda target: (Reshape(target), in_shape)
        )

    def concat(in_shape: tuple) -> Any:
        axes = st.sampled_from(list(range(-len(in_shape), len(in_shape))))
        units = st.integers(1, 4)
        return st.tuples(units, units, axes).map(
            lambda t: (
                Concat(
                    [
                        Dense(t[0]),
                        [Dense(t[0] if t[2] % len(in_shape) != len(in_shape) - 1 else t[1]), Activation("tanh")],
                    ],
                    axis=t[2],
                ),
                in_shape,
            )
        )

    # recurrent layers take (T, d) samples; a mask value is never met by the Dense in front (masks: test_recurrent.py)
    sequences = _sample_shapes(st, 2, 2, 4)

    def recurrent(cls: type, **extra: Any) -> Any:
        flags = {"return_sequences": st.booleans(), "bidirectional": st.booleans(), **extra}
        return st.builds(cls, st.integers(1, 4), **flags, mask_value=st.sampled_from([None, 0.0]))

    return {
        **_window_layers(st),
        "Dense": lambda: with_shape(st.builds(Dense, st.integers(1, 6), use_bias=st.booleans())),
        "Activation": lambda: with_shape(st.sampled_from(sorted(ACTIVATIONS)).map(Activation)),
        "Dropout": lambda: with_shape(st.sampled_from([0.0, 0.25, 0.5]).map(Dropout)),
        "Flatten": lambda: with_shape(st.just(Flatten())),
        "Reshape": lambda: shapes.flatmap(reshaped),
        "Residual": lambda: st.tuples(st.integers(1, 4), shapes).map(
            lambda t: (Residual([Dense(t[0]), Activation("tanh"), Dense(t[1][-1])]), t[1])
        ),
        "Concat": lambda: shapes.flatmap(concat),
        "Parallel": lambda: st.tuples(st.integers(1, 4), shapes).map(
            lambda t: (Parallel([Dense(t[0]), [Dense(t[0]), Activation("sigmoid")]]), t[1])
        ),
        # over one feature LayerNorm's output is the offset alone: its input gradient is 0, nothing to check
        "LayerNorm": lambda: with_shape(
            st.sampled_from([1e-5, 1e-3]).map(LayerNorm), shapes.filter(lambda s: s[-1] >= 2)
        ),
        "RMSNorm": lambda: with_shape(st.sampled_from([None, 1e-6]).map(RMSNorm)),
        # one value per channel cannot be normalised in training: at least two rows or positions
        "BatchNorm": lambda: with_shape(
            st.tuples(st.sampled_from([0.1, 0.5, None]), st.sampled_from([1e-5, 1e-3])).map(
                lambda t: BatchNorm(momentum=t[0], eps=t[1])
            )
        ),
        "Embedding": lambda: with_shape(
            st.tuples(st.integers(1, 7), st.integers(1, 4)).map(lambda t: Embedding(*t)), _sample_shapes(st, 1, 2)
        ),
        "SimpleRNN": lambda: with_shape(recurrent(SimpleRNN, activation=st.sampled_from(["tanh", "relu"])), sequences),
        "GRU": lambda: with_shape(recurrent(GRU), sequences),
        "LSTM": lambda: with_shape(recurrent(LSTM), sequences),
        "Sequential": lambda: with_shape(
            st.tuples(st.integers(1, 4), st.sampled_from(sorted(ACTIVATIONS))).map(
                lambda t: Sequential([Dense(t[0]), Activation(t[1])])
            )
        ),
    }


LAYER_NAMES = (
    "Dense",
    "Activation",
    "Dropout",
    "Flatten",
    "Reshape",
    "Residual",
    "Concat",
    "Parallel",
    "LayerNorm",
    "RMSNorm",
    "BatchNorm",
    "Embedding",
    "SimpleRNN",
    "GRU",
    "LSTM",
    "Sequential",
    "Conv1D",
    "Conv2D",
    "MaxPool1D",
    "MaxPool2D",
    "AvgPool1D",
    "AvgPool2D",
    "GlobalMaxPool",
    "GlobalAvgPool",
)
"""The names of :func:`layer_cases`' registry: every layer spec fnn defines (a test checks none is missing)."""


def layer_cases(names: tuple[str, ...] = LAYER_NAMES) -> Any:
    """Strategy of ``(spec, in_shape)`` over the registry of every fnn layer, with random settings and shapes.

    The laws of :func:`check_layer_laws` are swept over it (``tests/test_layer_laws.py``); a new
    layer is one more entry here.

    >>> from hypothesis import given, settings
    >>> import fnn
    >>> from fnn.testing import layer_cases
    >>> @settings(max_examples=5)
    ... @given(layer_cases())
    ... def test(case):
    ...     spec, in_shape = case
    ...     assert len(fnn.layers.out_shape(spec, in_shape)) >= 1
    >>> test()
    """
    st = _st()
    registry = _registry()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ConfigError(f"layer_cases: unknown layer names {unknown}; valid names: {', '.join(registry)}")
    return st.sampled_from(list(names)).flatmap(lambda n: registry[n]())
