"""The fully connected layer: ``y = x @ w + b`` with ``w`` of shape (in, out), on the last axis.

On samples of shape ``(..., in)`` it acts on the last axis at every position (a
time-distributed Dense): the output samples have shape ``(..., out)``.
"""

from __future__ import annotations

import attrs
import numpy as np

from fnn import initializers, random, tree
from fnn._checks import use_bias
from fnn._reductions import column_sums
from fnn.layers.base import (
    backward,
    check_size,
    forward,
    init_node,
    out_shape,
    stackable,
    uses_key,
    weight_field,
    writes_every_grad,
)
from fnn.layers.base import details as _details

__all__ = ["Dense", "DenseParams"]


@tree.value_class
@attrs.frozen
class Dense:
    """Spec of a fully connected layer with ``units`` outputs.

    Args:
        units: output width (an integer ≥ 1).
        use_bias: whether to add a bias.
        init: an initializer name (see :mod:`fnn.initializers`) or object.
        bias_init: ``"zeros"`` (the default) or ``"torch_uniform"`` (PyTorch's ``nn.Linear`` default,
            U(±1/√in); with ``init="torch_uniform"`` the layer starts as torch's does).

    >>> import fnn
    >>> fnn.Dense(4, init="he_normal")
    Dense(units=4, use_bias=True, init=Initializer(name='he_normal', std=None), bias_init='zeros')
    """

    units: int = attrs.field(converter=lambda u: check_size(u, "Dense units"))
    use_bias: bool = attrs.field(default=True, converter=use_bias("Dense"))  # type: ignore[misc]  # a made converter
    init: initializers.Initializer = attrs.field(default="glorot_uniform", converter=initializers.get)  # type: ignore[assignment]
    bias_init: str = attrs.field(default="zeros", converter=lambda v: initializers.bias_name(v, "Dense bias_init"))

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


@out_shape.register
def _(spec: Dense, in_shape: tuple) -> tuple:
    return (*in_shape[:-1], spec.units)


@init_node.register
def _(spec: Dense, key, in_shape, dtype):
    w = spec.init(key, (in_shape[-1], spec.units), dtype)
    b = None
    if spec.use_bias:  # the bias draws from its own key: zeros (the default) leave the weights' draw unchanged
        b = initializers.draw_bias(spec.bias_init, random.fold_in(key, 1), spec.units, in_shape[-1], dtype)
    return DenseParams(w, b)


uses_key.register(DenseParams, lambda node: False)
stackable.register(DenseParams, lambda node: True)
writes_every_grad.register(DenseParams, lambda node: True)
_details.register(DenseParams, lambda node: "bias" if node.b is not None else "no bias")


# One network: x (n, in), w (in, out), b (out,). A stack of K (see fnn.stack): w (K, in, out),
# b (K, out), x (K, n, in), or (n, in) shared by all members in the first layer; np.matmul
# then runs one matrix product per member, the same product a single network runs. Samples of
# higher rank, (n, ..., in) or (K, n, ..., in), are viewed as rows (n·…, in) for the product.


def _rows(node: DenseParams, a: np.ndarray) -> np.ndarray:
    """``a`` as the 2-D rows (or, for a stack, (K, rows, width)) the matrix product runs on."""
    if node.w.ndim == 2:
        return a if a.ndim == 2 else a.reshape(-1, a.shape[-1])
    return a if a.ndim <= 3 else a.reshape(a.shape[0], -1, a.shape[-1])


@forward.register
def _(node: DenseParams, x, key, train):
    w = node.w
    y = x @ w if x.ndim == w.ndim or x.ndim == 2 else (_rows(node, x) @ w).reshape(*x.shape[:-1], w.shape[-1])
    b = node.b
    if b is not None:
        y += b if b.ndim == 1 else b.reshape(b.shape[0], *(1,) * (y.ndim - 2), b.shape[1])
    return y, x


@backward.register
def _(node: DenseParams, x, g, out, need_input_grad):
    w = node.w
    if g.ndim != w.ndim:  # samples of higher rank: the product runs on their rows
        return _backward_rows(node, x, g, out, need_input_grad)
    np.matmul(x.mT, g, out=out.w)
    if node.b is not None:
        column_sums(g, out.b)
    if not need_input_grad:
        return None
    return g @ w.mT


def _backward_rows(
    node: DenseParams, x: np.ndarray, g: np.ndarray, out: DenseParams, need_input_grad: bool
) -> np.ndarray | None:
    shape = g.shape
    x, g = _rows(node, x), _rows(node, g)
    np.matmul(x.mT, g, out=out.w)
    if node.b is not None:
        column_sums(g, out.b)  # type: ignore[arg-type]
    if not need_input_grad:
        return None
    return (g @ node.w.mT).reshape(*shape[:-1], node.w.shape[-2])
