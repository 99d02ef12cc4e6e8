"""Combinators: ``Residual(block)``, ``Concat(branches)`` and ``Parallel(branches)``.

Each holds other layers (a layer spec, or a list of them, which means a
:class:`~fnn.layers.Sequential`) and registers the capabilities the engine asks
for (``sublayers``, ``uses_key``, ``stackable``, ``writes_every_grad``), so that
a network built with them keeps the fast path, a nested summary, stacking and
save/load like one built of plain layers. Branch ``i`` (the block, for Residual:
branch 0) gets the key ``fold_in(key, i)``.

- ``Residual(block)``: ``y = x + block(x)``; the block must keep the sample shape.
- ``Concat(branches, axis=-1)``: every branch gets the same input; their outputs are
  concatenated along ``axis`` (a sample axis: -1 is the channels): stax's
  ``FanOut`` + ``parallel`` + ``FanInConcat``.
- ``Parallel(branches)``: every branch gets the same input; their outputs are summed
  (stax's ``FanInSum``).

>>> import numpy as np, fnn
>>> spec = fnn.Sequential([fnn.Dense(8), fnn.Residual([fnn.Dense(8), fnn.Activation("tanh")]),
...                        fnn.Concat([fnn.Dense(2), fnn.Dense(3)])], in_dim=4)
>>> fnn.apply(fnn.init(fnn.random.key(0), spec), np.ones((5, 4))).shape
(5, 5)
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn import random, tree
from fnn.errors import ConfigError
from fnn.layers.base import (
    all_of,
    any_of,
    backward,
    details,
    forward,
    init_node,
    layer_name,
    out_shape,
    stackable,
    sublayers,
    takes_integers,
    uses_key,
    writes_every_grad,
)
from fnn.layers.sequential import Sequential

__all__ = ["Residual", "ResidualParams", "Concat", "ConcatParams", "Parallel", "ParallelParams"]


def _layer(value: object) -> Any:
    """A layer spec; a list or tuple of specs is a Sequential."""
    if isinstance(value, (list, tuple)):
        return Sequential(value)
    if isinstance(value, (str, int, float)) or value is None:
        raise ConfigError(f"expected a layer spec (such as fnn.Dense(8)) or a list of them, got {value!r}")
    return value


def _branches(value: object) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"branches must be a list of layer specs (or of lists of them), got {value!r}")
    branches = tuple(_layer(b) for b in value)
    if not branches:
        raise ConfigError("branches must hold at least one branch, got an empty list")
    return branches


def _sample_axis(axis: object, rank: int, where: str) -> int:
    """``axis`` of a sample of ``rank`` axes, as a negative index (so it holds with batch and member axes before)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -rank <= axis < rank:
        raise ConfigError(
            f"{where}: axis must be an integer in [{-rank}, {rank - 1}] for samples of rank {rank}, got {axis!r}"
        )
    return int(axis) - rank if axis >= 0 else int(axis)


def _branch_shapes(branches: tuple, in_shape: tuple, where: str) -> list[tuple]:
    shapes = []
    for i, b in enumerate(branches):
        try:
            shapes.append(tuple(out_shape(b, in_shape)))
        except ConfigError as e:
            raise ConfigError(f"{where} branch {i} ({layer_name(b)}): {e}") from None
    return shapes


def _init_branches(branches: tuple, key: Any, in_shape: tuple, dtype: np.dtype, where: str) -> tuple:
    nodes = []
    for i, b in enumerate(branches):
        try:
            nodes.append(init_node(b, random.fold_in(key, i), in_shape, dtype))
        except ConfigError as e:
            raise ConfigError(f"{where} branch {i} ({layer_name(b)}): {e}") from None
    return tuple(nodes)


def _key(key: Any, i: int) -> Any:
    return None if key is None else random.fold_in(key, i)


def _forward_branches(node: Any, x: np.ndarray, key: Any, train: bool) -> tuple[list, list]:
    """Every branch of ``node`` on the same input: their outputs and their residuals, in order."""
    outs = [forward(b, x, _key(key, i), train) for i, b in enumerate(node.branches)]
    return [y for y, _ in outs], [r for _, r in outs]


def _backward_branches(node: Any, residuals: list, gs: Any, out: Any, need_input_grad: bool) -> Any:
    """Branch i's backward pass from the gradient ``gs[i]``; the sum of their input gradients (None if not needed)."""
    total: Any = None
    for b, r, g, o in zip(node.branches, residuals, gs, out.branches, strict=True):
        g_in: Any = backward(b, r, g, o, need_input_grad)  # an array when need_input_grad
        if need_input_grad:
            total = g_in.copy() if total is None else np.add(total, g_in, out=total)
    return total


def _register_capabilities(cls: type, kids: Any) -> None:
    sublayers.register(cls, kids)
    uses_key.register(cls, lambda node: any_of(uses_key, kids(node)))
    stackable.register(cls, lambda node: all_of(stackable, kids(node)))
    writes_every_grad.register(cls, lambda node: all_of(writes_every_grad, kids(node)))


# ------------------------------------------------------------------ Residual


@tree.value_class
@attrs.frozen
class Residual:
    """Spec of a residual connection: ``y = x + block(x)``; ``block`` is a layer spec or a list of them.

    Raises:
        ConfigError: at :func:`fnn.init`, when the block changes the sample shape (both shapes named).

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Residual([fnn.Dense(3, init="zeros")])], in_dim=3))
    >>> fnn.apply(p, np.ones((1, 3))).tolist()  # a zero block: the identity
    [[1.0, 1.0, 1.0]]
    """

    block: Any = attrs.field(converter=_layer)

    def describe(self) -> str:
        return f"Residual({layer_name(self.block)})"


@tree.register
@attrs.frozen
class ResidualParams:
    """Parameters of a :class:`Residual`: the block's params node."""

    block: Any

    def describe(self) -> str:
        return f"Residual({layer_name(self.block)})"


@out_shape.register
def _(spec: Residual, in_shape: tuple) -> tuple:
    shape = _branch_shapes((spec.block,), in_shape, "Residual")[0]
    if shape != tuple(in_shape):
        raise ConfigError(
            f"Residual: the block {layer_name(spec.block)} turns samples of shape {tuple(in_shape)} into {shape}; "
            f"x + block(x) needs the block to keep the shape"
        )
    return shape


@init_node.register
def _(spec: Residual, key, in_shape, dtype):
    out_shape(spec, in_shape)
    return ResidualParams(_init_branches((spec.block,), key, in_shape, dtype, "Residual")[0])


@forward.register
def _(node: ResidualParams, x, key, train):
    y, r = forward(node.block, x, _key(key, 0), train)
    return x + y, r


@backward.register
def _(node: ResidualParams, residual, g, out, need_input_grad):
    # The block may overwrite the gradient it is given; the skip path needs g as it is.
    g_block = backward(node.block, residual, g.copy() if need_input_grad else g, out.block, need_input_grad)
    return np.add(g, g_block, out=g) if need_input_grad else None  # type: ignore[arg-type]


_register_capabilities(ResidualParams, lambda node: (node.block,))
details.register(ResidualParams, lambda node: "x + block(x)")


# ------------------------------------------------------------------ Concat and Parallel


@tree.value_class
@attrs.frozen
class Concat:
    """Spec of branches that all get the input, with their outputs concatenated along ``axis`` (of a sample).

    Args:
        branches: layer specs, or lists of them (each a Sequential).
        axis: the sample axis to concatenate on (-1, the channels, by default); the branches'
            outputs must agree on every other axis.

    >>> import numpy as np, fnn
    >>> spec = fnn.Sequential([fnn.Concat([fnn.Dense(2), [fnn.Dense(3), fnn.Activation("relu")]])], in_dim=4)
    >>> fnn.output_shape(spec, batch=7)
    (7, 5)
    """

    branches: tuple = attrs.field(converter=_branches)
    axis: int = attrs.field(default=-1, kw_only=True)

    def describe(self) -> str:
        return f"Concat({len(self.branches)} branches)"


@tree.register
@attrs.frozen
class ConcatParams:
    """Parameters of a :class:`Concat`: one params node per branch.

    ``axis`` (negative) and the branch widths are static."""

    branches: tuple
    axis: int = tree.static_field()
    sizes: tuple = tree.static_field()

    def describe(self) -> str:
        return f"Concat({len(self.branches)} branches)"


def _without(shape: tuple, axis: int) -> tuple:
    i = axis % len(shape)
    return shape[:i] + shape[i + 1 :]


def _concat_shape(spec: Concat, in_shape: tuple) -> tuple[tuple, int, tuple]:
    shapes = _branch_shapes(spec.branches, in_shape, "Concat")
    rank = len(shapes[0])
    for i, s in enumerate(shapes[1:], start=1):
        if len(s) != rank:
            raise ConfigError(
                f"Concat branch {i} outputs samples of shape {s}, branch 0 of shape {shapes[0]}: ranks differ"
            )
    axis = _sample_axis(spec.axis, rank, "Concat")
    for i, s in enumerate(shapes[1:], start=1):
        if _without(s, axis) != _without(shapes[0], axis):
            raise ConfigError(
                f"Concat branch {i} outputs samples of shape {s}, branch 0 of shape {shapes[0]}: they must agree "
                f"on every axis but the concatenation axis {spec.axis}"
            )
    sizes = tuple(s[axis] for s in shapes)
    out = list(shapes[0])
    out[axis] = sum(sizes)
    return tuple(out), axis, sizes


@out_shape.register
def _(spec: Concat, in_shape: tuple) -> tuple:
    return _concat_shape(spec, in_shape)[0]


@init_node.register
def _(spec: Concat, key, in_shape, dtype):
    _, axis, sizes = _concat_shape(spec, in_shape)
    return ConcatParams(_init_branches(spec.branches, key, in_shape, dtype, "Concat"), axis, sizes)


@forward.register
def _(node: ConcatParams, x, key, train):
    ys, rs = _forward_branches(node, x, key, train)
    return np.concatenate(ys, axis=node.axis), rs


@backward.register
def _(node: ConcatParams, residuals, g, out, need_input_grad):
    pieces = np.split(g, np.cumsum(node.sizes[:-1]), axis=node.axis)  # views of g: each branch owns its own
    return _backward_branches(node, residuals, pieces, out, need_input_grad)


@tree.value_class
@attrs.frozen
class Parallel:
    """Spec of branches that all get the input, with their outputs summed (all must have one output shape).

    >>> import numpy as np, fnn
    >>> spec = fnn.Sequential([fnn.Parallel([fnn.Dense(3), [fnn.Dense(3), fnn.Activation("tanh")]])], in_dim=2)
    >>> fnn.output_shape(spec, batch=4)
    (4, 3)
    """

    branches: tuple = attrs.field(converter=_branches)

    def describe(self) -> str:
        return f"Parallel({len(self.branches)} branches)"


@tree.register
@attrs.frozen
class ParallelParams:
    """Parameters of a :class:`Parallel`: one params node per branch."""

    branches: tuple

    def describe(self) -> str:
        return f"Parallel({len(self.branches)} branches)"


@out_shape.register
def _(spec: Parallel, in_shape: tuple) -> tuple:
    shapes = _branch_shapes(spec.branches, in_shape, "Parallel")
    for i, s in enumerate(shapes[1:], start=1):
        if s != shapes[0]:
            raise ConfigError(
                f"Parallel branch {i} outputs samples of shape {s}, branch 0 of shape {shapes[0]}; "
                "a sum needs one shape"
            )
    return shapes[0]


@init_node.register
def _(spec: Parallel, key, in_shape, dtype):
    out_shape(spec, in_shape)
    return ParallelParams(_init_branches(spec.branches, key, in_shape, dtype, "Parallel"))


@forward.register
def _(node: ParallelParams, x, key, train):
    ys, rs = _forward_branches(node, x, key, train)
    total = ys[0]
    for y in ys[1:]:
        total = total + y
    return total, rs


@backward.register
def _(node: ParallelParams, residuals, g, out, need_input_grad):
    # every branch but the last gets a copy (made as its turn comes): a branch may overwrite the gradient it is given
    last = len(node.branches) - 1
    gs = (g if i == last else g.copy() for i in range(last + 1))
    return _backward_branches(node, residuals, gs, out, need_input_grad)


_register_capabilities(ConcatParams, lambda node: node.branches)
_register_capabilities(ParallelParams, lambda node: node.branches)
takes_integers.register(ConcatParams, lambda node: all_of(takes_integers, node.branches))
takes_integers.register(ParallelParams, lambda node: all_of(takes_integers, node.branches))
details.register(ConcatParams, lambda node: f"{len(node.branches)} branches on axis {node.axis}")
details.register(ParallelParams, lambda node: f"sum of {len(node.branches)} branches")
