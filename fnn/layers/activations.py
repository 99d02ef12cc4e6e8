"""Activation functions, their vector-Jacobian products, and the ``Activation`` layer.

Every function is numerically stable for any finite input: no overflow warning
for |z| up to 1e4 in float64, softmax and log-softmax shifted by each row's
maximum, sigmoid computed piecewise, nothing hidden with ``nan_to_num``. The
derivative of relu (and leaky relu) at exactly 0 is taken as 0 (the slope).

>>> import numpy as np, fnn
>>> z = np.array([[-1e4, 0.0, 1e4]])
>>> fnn.layers.activations.sigmoid(z).tolist()
[[0.0, 0.5, 1.0]]
>>> fnn.layers.activations.softmax(np.array([[1e4, 1e4], [0.0, -1e4]])).tolist()
[[0.5, 0.5], [1.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs
import numpy as np

from fnn import tree
from fnn._reductions import constants
from fnn.errors import ConfigError
from fnn.layers.base import backward, details, forward, init_node, out_shape, stackable, uses_key

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "identity",
    "relu",
    "leaky_relu",
    "elu",
    "sigmoid",
    "tanh",
    "softplus",
    "gelu",
    "softmax",
    "log_softmax",
]

LEAKY_SLOPE = 0.01
ELU_ALPHA = 1.0
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


# A 0-d zero of the operand's own dtype: on a 32×16 float32 batch np.maximum(x, 0) takes 0.78 µs and
# x > 0 0.68 µs, against 0.50 and 0.37 µs with this (a Python 0 is converted on every call).
_ZEROS = constants(lambda dtype: np.zeros((), dtype))


def identity(x: np.ndarray) -> np.ndarray:
    return x


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, _ZEROS.get(x.dtype, 0))


def leaky_relu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, x * LEAKY_SLOPE)


def elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, ELU_ALPHA * np.expm1(np.minimum(x, 0)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1 / (1 + e^{-x}), computed as e^{-|x|} based pieces so nothing overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _gelu_inner(x: np.ndarray) -> np.ndarray:
    return _GELU_C * (x + _GELU_A * x * x * x)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return 0.5 * x * (1 + np.tanh(_gelu_inner(x)))


def softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the last axis, shifted by each row's maximum."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax: x − max − log Σ exp(x − max)."""
    shifted = x - x.max(axis=-1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


# Vector-Jacobian products: (x, y, g) -> dL/dx, where y = f(x) and g = dL/dy (g may be overwritten).
def _identity_vjp(x, y, g):
    return g


def _relu_vjp(x, y, g):
    return np.multiply(g, x > _ZEROS.get(x.dtype, 0), out=g)


def _leaky_relu_vjp(x, y, g):
    return np.multiply(g, np.where(x > 0, 1, LEAKY_SLOPE).astype(g.dtype, copy=False), out=g)


def _elu_vjp(x, y, g):
    return np.multiply(g, np.where(x > 0, 1, y + ELU_ALPHA).astype(g.dtype, copy=False), out=g)


def _sigmoid_vjp(x, y, g):
    return np.multiply(g, y * (1 - y), out=g)


def _tanh_vjp(x, y, g):
    return np.multiply(g, 1 - y * y, out=g)


def _softplus_vjp(x, y, g):
    return np.multiply(g, sigmoid(x), out=g)


def _gelu_vjp(x, y, g):
    t = np.tanh(_gelu_inner(x))
    d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * x * x)
    return np.multiply(g, d, out=g)


def _softmax_vjp(x, y, g):
    # The true Jacobian-vector product, row by row: y ⊙ (g − Σ g ⊙ y). Never an (n, m, m) Jacobian.
    s = (g * y).sum(axis=-1, keepdims=True)
    g -= s
    return np.multiply(g, y, out=g)


def _log_softmax_vjp(x, y, g):
    # y = log softmax(x): dL/dx = g − softmax(x) Σ g.
    s = g.sum(axis=-1, keepdims=True)
    return g - np.exp(y) * s


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "identity": (identity, _identity_vjp),
    "relu": (relu, _relu_vjp),
    "leaky_relu": (leaky_relu, _leaky_relu_vjp),
    "elu": (elu, _elu_vjp),
    "sigmoid": (sigmoid, _sigmoid_vjp),
    "tanh": (tanh, _tanh_vjp),
    "softplus": (softplus, _softplus_vjp),
    "gelu": (gelu, _gelu_vjp),
    "softmax": (softmax, _softmax_vjp),
    "log_softmax": (log_softmax, _log_softmax_vjp),
}
_ALIASES = {"linear": "identity"}
NAMES = tuple(ACTIVATIONS) + tuple(_ALIASES)


def canonical(name: object) -> str:
    """The canonical activation name (``linear`` → ``identity``); ConfigError listing valid names otherwise."""
    if not isinstance(name, str) or _ALIASES.get(name, name) not in ACTIVATIONS:
        lower = name.lower() if isinstance(name, str) else None
        hint = f" (names are lower case: {lower!r})" if lower in NAMES else ""
        raise ConfigError(f"unknown activation {name!r}; valid names: {', '.join(NAMES)}{hint}")
    return _ALIASES.get(name, name)


@tree.register
@attrs.frozen
class Activation:
    """An elementwise activation layer (softmax and log-softmax: over the last axis); it has no parameters.

    Args:
        name: one of ``identity`` (``linear``), ``relu``, ``leaky_relu``, ``elu``,
            ``sigmoid``, ``tanh``, ``softplus``, ``gelu``, ``softmax``, ``log_softmax``.

    >>> import fnn
    >>> fnn.Activation("linear")
    Activation(name='identity')
    """

    name: str = tree.static_field(converter=canonical)

    def describe(self) -> str:
        return f"Activation({self.name})"


@out_shape.register
def _(spec: Activation, in_shape: tuple) -> tuple:
    return in_shape


@init_node.register
def _(spec: Activation, key, in_shape, dtype):
    return spec


uses_key.register(Activation, lambda node: False)
stackable.register(Activation, lambda node: True)
details.register(Activation, lambda node: node.name)


@forward.register
def _(node: Activation, x, key, train):
    y = ACTIVATIONS[node.name][0](x)
    return y, (x, y)


@backward.register
def _(node: Activation, residual, g, out, need_input_grad):
    if not need_input_grad:
        return None
    x, y = residual
    return ACTIVATIONS[node.name][1](x, y, g)
