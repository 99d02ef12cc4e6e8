"""Per-sample normalisation over the last axis: ``LayerNorm`` and ``RMSNorm`` (PyTorch's semantics).

- ``LayerNorm(eps=1e-5)``: ``y = (x − mean) / sqrt(var + eps) · scale + offset`` with the mean
  and the biased variance over the last axis, as ``torch.nn.LayerNorm(d)``; scale starts at
  ones, offset at zeros.
- ``RMSNorm(eps=None)``: ``y = x / sqrt(mean(x²) + eps) · scale`` over the last axis, as
  ``torch.nn.RMSNorm(d)``; ``eps=None`` is the machine epsilon of the params' dtype (torch's
  default).

Neither keeps running statistics: each sample is normalised by its own, in training and
inference alike. In a stack of K networks the scale and offset are (K, d).

>>> import numpy as np, fnn
>>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.LayerNorm()], in_shape=(2, 4), dtype=np.float64))
>>> y = fnn.apply(p, np.arange(8.0).reshape(1, 2, 4))
>>> np.allclose(y.mean(axis=-1), 0), np.allclose(y.std(axis=-1), 1, atol=1e-5)
(True, True)
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn._checks import real
from fnn._reductions import column_sums
from fnn.layers.base import backward, details, forward, init_node, out_shape, stackable, uses_key, writes_every_grad

__all__ = ["LayerNorm", "LayerNormParams", "RMSNorm", "RMSNormParams"]


def _eps(value: object) -> float:
    return real(value, "eps", low=0, high=1, low_open=True, high_open=True)


def _eps_or_none(value: object) -> float | None:
    return None if value is None else _eps(value)


@tree.value_class
@attrs.frozen
class LayerNorm:
    """Spec of layer normalisation over the last axis, with a learned scale and offset (``torch.nn.LayerNorm``).

    >>> import fnn
    >>> fnn.LayerNorm()
    LayerNorm(eps=1e-05)
    """

    eps: float = attrs.field(default=1e-5, converter=_eps)

    def describe(self) -> str:
        return "LayerNorm()"


@tree.register
@attrs.frozen
class LayerNormParams:
    """Parameters of a :class:`LayerNorm`: ``scale`` and ``offset`` (d,); ``eps`` is static."""

    scale: np.ndarray
    offset: np.ndarray
    eps: float = tree.static_field()

    def describe(self) -> str:
        return f"LayerNorm({self.scale.shape[-1]})"


@tree.value_class
@attrs.frozen
class RMSNorm:
    """Spec of root-mean-square normalisation over the last axis, with a learned scale (``torch.nn.RMSNorm``).

    >>> import fnn
    >>> fnn.RMSNorm()
    RMSNorm(eps=None)
    """

    eps: float | None = attrs.field(default=None, converter=_eps_or_none)

    def describe(self) -> str:
        return "RMSNorm()"


@tree.register
@attrs.frozen
class RMSNormParams:
    """Parameters of an :class:`RMSNorm`: ``scale`` (d,); ``eps`` (resolved to a number) is static."""

    scale: np.ndarray
    eps: float = tree.static_field()

    def describe(self) -> str:
        return f"RMSNorm({self.scale.shape[-1]})"


@out_shape.register(LayerNorm)
@out_shape.register(RMSNorm)
def _(spec: Any, in_shape: tuple) -> tuple:
    return tuple(in_shape)


@init_node.register
def _(spec: LayerNorm, key, in_shape, dtype):
    d = in_shape[-1]
    return LayerNormParams(np.ones(d, dtype), np.zeros(d, dtype), spec.eps)


@init_node.register
def _(spec: RMSNorm, key, in_shape, dtype):
    eps = float(np.finfo(dtype).eps) if spec.eps is None else spec.eps
    return RMSNormParams(np.ones(in_shape[-1], dtype), eps)


def _per_member(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A (d,) vector, or a stack's (K, d), shaped to broadcast against ``x`` (…, d) or (K, …, d)."""
    return v if v.ndim == 1 else v.reshape(v.shape[0], *(1,) * (x.ndim - 2), v.shape[1])


def _rows(a: np.ndarray, stacked: bool) -> np.ndarray:
    """``a`` as rows (M, d), or (K, M, d) for a stack, for the parameter gradients' column sums."""
    return a.reshape(a.shape[0], -1, a.shape[-1]) if stacked else a.reshape(-1, a.shape[-1])


@forward.register
def _(node: LayerNormParams, x, key, train):
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    inv = 1.0 / np.sqrt(var + x.dtype.type(node.eps))
    xhat = np.multiply(xc, inv, out=xc)
    y = xhat * _per_member(node.scale, x)
    y += _per_member(node.offset, x)
    return y, (xhat, inv)


@backward.register
def _(node: LayerNormParams, residual, g, out, need_input_grad):
    xhat, inv = residual
    stacked = node.scale.ndim == 2
    column_sums(_rows(g * xhat, stacked), out.scale)
    column_sums(_rows(g, stacked), out.offset)
    if not need_input_grad:
        return None
    # dx = inv · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)), with ĝ = g · scale (the LayerNorm VJP)
    gh = np.multiply(g, _per_member(node.scale, g), out=g)
    dx = gh - gh.mean(axis=-1, keepdims=True)
    dx -= xhat * np.mean(gh * xhat, axis=-1, keepdims=True)
    dx *= inv
    return dx


@forward.register
def _(node: RMSNormParams, x, key, train):
    inv = 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + x.dtype.type(node.eps))
    xhat = x * inv
    return xhat * _per_member(node.scale, x), (xhat, inv)


@backward.register
def _(node: RMSNormParams, residual, g, out, need_input_grad):
    xhat, inv = residual
    column_sums(_rows(g * xhat, node.scale.ndim == 2), out.scale)
    if not need_input_grad:
        return None
    # dx = inv · (ĝ − x̂ · mean(ĝ · x̂)), with ĝ = g · scale
    gh = np.multiply(g, _per_member(node.scale, g), out=g)
    dx = gh - xhat * np.mean(gh * xhat, axis=-1, keepdims=True)
    dx *= inv
    return dx


for _cls in (LayerNormParams, RMSNormParams):
    uses_key.register(_cls, lambda node: False)
    stackable.register(_cls, lambda node: True)
    writes_every_grad.register(_cls, lambda node: True)
    details.register(_cls, lambda node: f"eps {node.eps:g}")
