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
from typing import Any, Callable

import numpy as np

from fnn import random, tree
from fnn.backprop import value_and_grad_unchecked
from fnn.errors import ConfigError
from fnn.layers import Activation, Dense, Dropout, Sequential, SequentialParams, forward, out_dim
from fnn.layers.activations import ACTIVATIONS
from fnn.losses import Loss, get as get_loss
from fnn.network import check_inputs, init

__all__ = [
    "GRAD_RTOL",
    "check_grads",
    "check_layer",
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
FD_STEPS = (1e-4, 1e-3, 1e-5, 1e-6)
"""Steps of the five-point central difference (truncation error O(h⁴), rounding O(ε/h)).

Each direction is tried with these steps in turn until one agrees. A wrong gradient
disagrees at every step. A kink of relu-like activations within reach of a step (a
pre-activation within ~2h of 0) spoils only the larger steps; a loss computed with
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
) -> float:
    """The largest relative error of ``<grad, v>`` against finite differences over random unit directions ``v``.

    Everything is computed in float64 (params and inputs are converted). Directions are
    drawn from ``fnn.random.key(seed)``; with ``key``, dropout masks are fixed by that key.
    """
    p64 = to_float64(params)
    x = check_inputs(p64, batch[0], "check_grads")
    y = batch[1]
    loss = get_loss(loss)
    flat, unravel = tree.ravel(p64)
    if flat.size == 0:
        return 0.0

    def value(theta: np.ndarray) -> float:
        return float(value_and_grad_unchecked(unravel(theta), x, y, loss, l2, key, train=key is not None, check_targets=True, unravel=unravel)[0])

    f0, g = value_and_grad_unchecked(p64, x, y, loss, l2, key, train=key is not None, check_targets=True, unravel=unravel)
    gflat = tree.ravel(g)[0]
    worst = 0.0
    for k in random.split(random.key(seed), directions):
        v = random.normal(k, flat.shape)
        v /= np.linalg.norm(v)
        analytic = float(gflat @ v)
        best = math.inf
        for h in FD_STEPS:
            numeric = (-value(flat + 2 * h * v) + 8 * value(flat + h * v) - 8 * value(flat - h * v) + value(flat - 2 * h * v)) / (12 * h)
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
) -> float:
    """Assert that :func:`fnn.grad` matches finite differences; return the largest relative error.

    Raises:
        AssertionError: the relative error exceeds ``rtol`` (the message gives it).
    """
    err = grad_error(params, batch, loss=loss, l2=l2, key=key, directions=directions, seed=seed)
    if not err <= rtol:
        raise AssertionError(f"gradient check failed: relative error {err:.3g} > {rtol:g}")
    return err


def check_layer(spec: Any, *, in_dim: int = 3, batch_size: int = 5, seed: int = 0, rtol: float = GRAD_RTOL) -> float:
    """Check a layer's backward (parameter and input gradients) against finite differences.

    The layer sits after a Dense layer (so its input gradient is exercised) and feeds an
    MSE loss with random targets (so the upstream gradient is arbitrary). Params are
    drawn at random, biases included, in float64.

    >>> import fnn
    >>> from fnn.testing import check_layer
    >>> check_layer(fnn.Activation("softmax")) < 1e-6
    True
    """
    net = Sequential([Dense(in_dim), spec], in_dim=in_dim, dtype=np.float64)
    k_params, k_x, k_y = random.split(random.key(seed), 3)
    params = random_params(k_params, net)
    x = random.normal(k_x, (batch_size, in_dim))
    y = random.normal(k_y, (batch_size, out_dim(net, in_dim)))
    return check_grads(params, (x, y), loss="mse", rtol=rtol, seed=seed)


def random_params(key: random.Key, spec: Sequential, *, std: float = 1.0) -> SequentialParams:
    """Params of ``spec`` with weights drawn from N(0, std²/fan_in) and biases from N(0, (std/2)²).

    Unlike :func:`fnn.init`, biases are not zero, so pre-activations are almost surely
    off the kinks of relu-like activations (where finite differences are meaningless).
    """
    params = init(key, spec)

    def draw(a: np.ndarray, k: random.Key) -> np.ndarray:
        scale = std / np.sqrt(a.shape[0]) if a.ndim == 2 else std / 2
        return random.normal(k, a.shape, std=scale, dtype=a.dtype)

    fresh = tree.map(
        draw,
        params,
        tree.structure(params).unflatten(random.split(random.fold_in(key, 1), len(tree.leaves(params)))),
    )
    return tree.pack(fresh)


# --------------------------------------------------------------- strategies

# For each loss, the output activations under which it is well defined and smooth.
LOSS_OUTPUTS = {
    "mse": tuple(ACTIVATIONS),
    "binary_cross_entropy": ("sigmoid", "softmax"),
    "cross_entropy": ("softmax", "sigmoid"),
}


# A cross-entropy applied to probabilities (not fused with its activation) evaluates
# log p and log(1 − p): at p within ~1e-6 of 0 or 1 the loss is known to only a few digits,
# so no finite difference can check its gradient to 1e-6. Such draws are rejected; the
# fused forms (softmax + cross_entropy, sigmoid + binary_cross_entropy) are checked anywhere.
_UNFUSED_PROBABILITY_LOSSES = {("binary_cross_entropy", "softmax"), ("cross_entropy", "sigmoid")}
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
    dtype: object = np.float64,
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
    if loss_name == "mse":
        return random.normal(key, (n, k))
    if loss_name == "binary_cross_entropy":
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
    k = out_dim(spec, spec.in_dim)

    @st.composite
    def build(draw: Callable) -> tuple[np.ndarray, np.ndarray]:
        n = draw(st.integers(1, max_batch))
        seed = draw(st.integers(0, 2**32 - 1))
        form = draw(st.sampled_from(["labels", "one_hot", "soft"])) if loss_name == "cross_entropy" else "targets"
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
        seed = draw(st.integers(0, 2**32 - 1))
        params = random_params(random.key(seed), spec)
        batch = draw(batches(spec, loss_name))
        if (loss_name, spec.layers[-1].name) in _UNFUSED_PROBABILITY_LOSSES:
            p = forward(params, batch[0], None, False)[0]
            _assume(min(float(p.min()), float(1 - p.max())) > SATURATION)
        return loss_name, params, batch

    return build()
