"""The fully connected layer: ``y = x @ w + b`` with ``w`` of shape (in, out)."""

from __future__ import annotations

import attrs
import numpy as np

from fnn import initializers, tree
from fnn._reductions import column_sums
from fnn.errors import ConfigError
from fnn.layers.base import backward, check_size, forward, init_layer, out_dim, weight_field

__all__ = ["Dense", "DenseParams"]


def _check_use_bias(value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"Dense use_bias must be True or False, got {value!r}")
    return bool(value)


@attrs.frozen
class Dense:
    """Spec of a fully connected layer with ``units`` outputs.

    Args:
        units: output width (an integer ≥ 1).
        use_bias: whether to add a bias (started at zero).
        init: an initializer name (see :mod:`fnn.initializers`) or object.

    >>> import fnn
    >>> fnn.Dense(4, init="he_normal")
    Dense(units=4, use_bias=True, init=Initializer(name='he_normal', std=None))
    """

    units: int = attrs.field(converter=lambda u: check_size(u, "Dense units"))
    use_bias: bool = attrs.field(default=True, converter=_check_use_bias)
    init: initializers.Initializer = attrs.field(default="glorot_uniform", converter=initializers.get)

    def describe(self) -> str:
        return f"Dense({self.units})"


@tree.register
@attrs.frozen
class DenseParams:
    """Parameters of a :class:`Dense` layer: weights ``w`` (in, out) and bias ``b`` (out,) or None."""

    w: np.ndarray = weight_field()
    b: np.ndarray | None = None

    def describe(self) -> str:
        return f"Dense({self.w.shape[-2]}→{self.w.shape[-1]})"


@out_dim.register
def _(spec: Dense, in_dim: int) -> int:
    return spec.units


@init_layer.register
def _(spec: Dense, key, in_dim, dtype):
    w = spec.init(key, (in_dim, spec.units), dtype)
    b = np.zeros(spec.units, dtype) if spec.use_bias else None
    return DenseParams(w, b)


# One network: x (n, in), w (in, out), b (out,). A stack of K (see fnn.stack): w (K, in, out),
# b (K, out), x (K, n, in), or (n, in) shared by all members in the first layer; np.matmul
# then runs one matrix product per member, the same product a single network runs.


@forward.register
def _(node: DenseParams, x, key, train):
    y = x @ node.w
    b = node.b
    if b is not None:
        y += b if b.ndim == 1 else b[:, None, :]
    return y, x


@backward.register
def _(node: DenseParams, x, g, out, need_input_grad):
    np.matmul(x.mT, g, out=out.w)
    if node.b is not None:
        column_sums(g, out.b)
    if not need_input_grad:
        return None
    return g @ node.w.mT


