"""Pooling, channels last: ``MaxPool1D/2D``, ``AvgPool1D/2D``, ``GlobalMaxPool`` and ``GlobalAvgPool``.

- ``MaxPool1D(size, *, stride=None, padding="valid")`` on samples ``(L, C)`` (``MaxPool2D`` on
  ``(H, W, C)``, sizes an integer or a pair): the largest value of each window, channel by
  channel, as ``torch.nn.MaxPool1d/2d``. ``stride=None`` means ``size``; the padding is
  ``-inf`` (it never wins), and, as in torch, at most half the window on each side, so every
  window holds an input. The gradient goes to each window's maximum; on a tie, to the first
  one (row-major), as torch routes it.
- ``AvgPool1D/2D``: the mean of each window. Padding counts as zeros in the mean, as torch's
  default ``count_include_pad=True`` does: every window divides by its full size.
- ``GlobalMaxPool()``, ``GlobalAvgPool()``: over every spatial axis, samples ``(..., C)`` → ``(C,)``
  (``torch.nn.AdaptiveMaxPool*d(1)`` / ``AdaptiveAvgPool*d(1)`` then a flatten).

Windows are read as strided views of the (padded) input, one view per tap: the forward
pass is one elementwise max (or add) per tap, and the backward pass writes (disjoint
windows) or adds (overlapping ones) one strided slice per tap, never ``np.add.at``.
Outputs use PyTorch's floor formula. Pooling layers have no parameters; each spec is its
own node.

>>> import numpy as np, fnn
>>> spec = fnn.Sequential([fnn.MaxPool2D(2), fnn.AvgPool2D(3, stride=1, padding=1), fnn.GlobalMaxPool()],
...                       in_shape=(8, 6, 3))
>>> fnn.output_shape(spec, batch=2)
(2, 3)
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from fnn import tree
from fnn._reductions import column_sums
from fnn.errors import ConfigError, ShapeError
from fnn.layers import _windows
from fnn.layers.base import backward, check_shape, details, forward, init_node, out_shape, stackable, uses_key

__all__ = ["MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D", "GlobalMaxPool", "GlobalAvgPool"]


@attrs.frozen
class _Pool:
    """What the window pools share: ``size``, ``stride`` (``None`` is ``size``) and ``padding``, normalised."""

    RANK: ClassVar[int] = 0

    size: Any = tree.static_field()
    stride: Any = tree.static_field(default=None, kw_only=True)
    padding: Any = tree.static_field(default="valid", kw_only=True)

    def __attrs_post_init__(self) -> None:
        name, rank = type(self).__name__, self.RANK
        size = _windows.sizes(self.size, rank, f"{name} size")
        stride = size if self.stride is None else _windows.sizes(self.stride, rank, f"{name} stride")
        pad = _windows.padding(self.padding, rank, f"{name} padding")
        if pad == "same" and max(stride) > 1:
            raise ConfigError(
                f'{name} padding="same" needs stride 1, got stride {stride} (stride=None means the size); give the '
                f"padding explicitly"
            )
        pads = _windows.resolve(pad, size, (1,) * rank)
        if any(2 * p > k for (b, a), k in zip(pads, size, strict=True) for p in (b, a)):
            raise ConfigError(
                f"{name} padding may be at most half the window on each side (as in PyTorch), so that every window "
                f"holds an input: size {_windows.fmt(size)}, got padding {_windows.describe_padding(pad)}"
            )
        for field, value in (("size", size), ("stride", stride), ("padding", pad)):
            object.__setattr__(self, field, value)  # normalising a frozen instance's own fields, once

    def describe(self) -> str:
        return f"{type(self).__name__}({_windows.fmt(self.size)})"

    @property
    def pads(self) -> tuple:
        return _windows.resolve(self.padding, self.size, (1,) * self.RANK)


def _doc(kind: str, rank: int) -> str:
    shape = "(length, channels)" if rank == 1 else "(height, width, channels)"
    return f"""Spec (and node) of {kind} pooling over samples {shape}; see :mod:`fnn.layers.pooling`.

    Args:
        size: the window{" (an integer or a pair)" if rank == 2 else ""}.
        stride: the step between windows (default ``None``: the size).
        padding: ``"valid"`` (none), ``"same"`` (stride 1 only), an integer or explicit pairs,
            at most half the window on each side.
    """


@tree.register
@attrs.frozen
class MaxPool1D(_Pool):
    __doc__ = (
        _doc("max", 1)
        + """
    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.MaxPool1D(2)], in_shape=(5, 1)))
    >>> fnn.apply(p, np.array([[[1.0], [3.0], [2.0], [2.0], [9.0]]]))[0, :, 0].tolist()
    [3.0, 2.0]
    """
    )
    RANK: ClassVar[int] = 1


@tree.register
@attrs.frozen
class MaxPool2D(_Pool):
    __doc__ = (
        _doc("max", 2)
        + """
    >>> import fnn
    >>> fnn.output_shape(fnn.Sequential([fnn.MaxPool2D(2)], in_shape=(24, 24, 32)), batch=1)
    (1, 12, 12, 32)
    """
    )
    RANK: ClassVar[int] = 2


@tree.register
@attrs.frozen
class AvgPool1D(_Pool):
    __doc__ = (
        _doc("average", 1)
        + """
    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.AvgPool1D(2, padding=1)], in_shape=(3, 1)))
    >>> fnn.apply(p, np.array([[[2.0], [4.0], [6.0]]]))[0, :, 0].tolist()  # the padded zero counts
    [1.0, 5.0]
    """
    )
    RANK: ClassVar[int] = 1


@tree.register
@attrs.frozen
class AvgPool2D(_Pool):
    __doc__ = (
        _doc("average", 2)
        + """
    >>> import fnn
    >>> fnn.output_shape(fnn.Sequential([fnn.AvgPool2D(3, stride=2)], in_shape=(7, 7, 4)), batch=1)
    (1, 3, 3, 4)
    """
    )
    RANK: ClassVar[int] = 2


_MAX = (MaxPool1D, MaxPool2D)


def _out(node: _Pool, spatial: tuple) -> tuple:
    return _windows.out_sizes(
        node.describe(), spatial, node.size, node.stride, (1,) * node.RANK, node.pads, node.padding, "window"
    )


@out_shape.register
def _(spec: _Pool, in_shape: tuple) -> tuple:
    _windows.sample_rank(spec.describe(), in_shape, spec.RANK)
    return (*_out(spec, tuple(in_shape[:-1])), in_shape[-1])


@init_node.register
def _(spec: _Pool, key, in_shape, dtype):
    out_shape(spec, in_shape)
    return spec


@details.register
def _(node: _Pool) -> str:
    size = _windows.fmt(node.size) if node.RANK > 1 else f"window {node.size[0]}"
    return f"{size}, stride {_windows.fmt_step(node.stride)}, {_windows.describe_padding(node.padding)}"


def _check_rank(node: Any, x: np.ndarray, rank: int) -> None:
    if x.ndim < rank + 2:
        axes = "length" if rank == 1 else "height, width"
        raise ShapeError(f"{node.describe()} expects inputs of shape (n, {axes}, channels), got shape {x.shape}")


@forward.register
def _(node: _Pool, x, key, train):
    rank = node.RANK
    _check_rank(node, x, rank)
    spatial = x.shape[-rank - 1 : -1]
    out = _out(node, spatial)
    is_max = isinstance(node, _MAX)
    xp = _windows.pad(x, node.pads, -np.inf if is_max else 0.0)
    taps = [index for _, index in _windows.offsets(node.size, node.stride, (1,) * rank, out)]
    if is_max:
        y, first = _max_and_first(xp, taps)
        return y, (xp.shape, first, taps, spatial)
    y = xp[taps[0]] + xp[taps[1]] if len(taps) > 1 else xp[taps[0]].copy()
    for index in taps[2:]:
        y += xp[index]  # tap by tap, row-major: the same order in every member of a stack
    y /= x.dtype.type(len(taps))
    return y, (xp.shape, None, taps, spatial)


def _max_and_first(xp: np.ndarray, taps: list) -> tuple[np.ndarray, np.ndarray]:
    """Each window's maximum, and which tap (row-major) first holds it: torch's tie rule.

    Tap t is the first maximum when it is above the running maximum of taps 0..t-1 and no later
    tap is above it; so the first maximum is the largest t whose tap exceeded the running maximum.
    Finding it here (4 cheap passes a tap) makes the backward one compare and one write a tap:
    2×2 windows over (128, 24, 24, 32) take 1.2 + 0.9 ms, against 0.5 + 3.1 ms when the backward
    compares every tap with the maximum and masks out the later ties.

    Each tap is first copied into one contiguous buffer: the strided tap (runs of C values) is then
    read once, and the compare and the maximum run on contiguous arrays (LeNet's first pool, 40
    interleaved runs on a loaded machine: best 1.7 against 2.3 ms a forward).
    """
    y = xp[taps[0]].copy()
    first = np.zeros(y.shape, np.uint8 if len(taps) < 256 else np.intp)
    above = np.empty(y.shape, np.bool_)
    scratch = np.empty_like(first)
    tap = np.empty_like(y)
    for t, index in enumerate(taps[1:], 1):
        np.copyto(tap, xp[index])
        np.greater(tap, y, out=above)
        np.maximum(y, tap, out=y)
        np.multiply(above, first.dtype.type(t), out=scratch)
        np.maximum(first, scratch, out=first)
    return y, first


@backward.register
def _(node: _Pool, residual, g, out, need_input_grad):
    if not need_input_grad:
        return None
    shape, first, taps, spatial = residual
    rank = node.RANK
    disjoint = _windows.disjoint(node.size, node.stride, (1,) * rank)
    padded = shape[-rank - 1 : -1] != spatial
    covered = (
        disjoint
        and not padded
        and all(n == k * (n // k) and s == k for n, k, s in zip(spatial, node.size, node.stride, strict=True))
    )
    # windows that tile the input exactly write every input once: no zero fill needed
    dxp = np.empty(shape, g.dtype) if covered else np.zeros(shape, g.dtype)
    if first is None:  # average: each tap gets g / taps
        share = np.divide(g, g.dtype.type(len(taps)), out=g)
        for index in taps:
            if disjoint:
                dxp[index] = share
            else:
                dxp[index] += share
    else:  # max: each window's g goes to the tap that first holds its maximum
        hit = np.empty(first.shape, np.bool_)
        for t, index in enumerate(taps):
            np.equal(first, first.dtype.type(t), out=hit)
            if disjoint:
                np.multiply(g, hit, out=dxp[index])
            else:
                dxp[index] += g * hit
    return dxp[_windows.interior(spatial, node.pads)] if padded else dxp


for _cls in (MaxPool1D, MaxPool2D, AvgPool1D, AvgPool2D):
    uses_key.register(_cls, lambda node: False)
    stackable.register(_cls, lambda node: True)


# ------------------------------------------------------------------ global pools


def _shape_or_none(value: object) -> tuple | None:
    return None if value is None else check_shape(value, "in_shape")


@attrs.frozen
class _GlobalPool:
    """Pooling over every spatial axis; ``in_shape`` is filled in by :func:`fnn.init` (leave it out)."""

    in_shape: tuple | None = tree.static_field(default=None, converter=_shape_or_none)

    def describe(self) -> str:
        return f"{type(self).__name__}()"


@tree.register
@attrs.frozen
class GlobalMaxPool(_GlobalPool):
    """The largest value of each channel over all spatial axes: samples ``(..., C)`` → ``(C,)``; ties go to the first.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.GlobalMaxPool()], in_shape=(2, 2, 3)))
    >>> fnn.apply(p, np.arange(12.0).reshape(1, 2, 2, 3)).tolist()
    [[9.0, 10.0, 11.0]]
    """


@tree.register
@attrs.frozen
class GlobalAvgPool(_GlobalPool):
    """The mean of each channel over all spatial axes: samples ``(..., C)`` → ``(C,)``.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.GlobalAvgPool()], in_shape=(4, 2)))
    >>> fnn.apply(p, np.arange(8.0).reshape(1, 4, 2)).tolist()
    [[3.0, 4.0]]
    """


@out_shape.register
def _(spec: _GlobalPool, in_shape: tuple) -> tuple:
    if len(in_shape) < 2:
        raise ConfigError(
            f"{spec.describe()} takes samples of shape (..., channels) with at least one spatial axis, got samples "
            f"of shape {tuple(in_shape)}"
        )
    return (in_shape[-1],)


@init_node.register
def _(spec: _GlobalPool, key, in_shape, dtype):
    out_shape(spec, in_shape)
    return type(spec)(tuple(in_shape))


def _positions(node: _GlobalPool, x: np.ndarray) -> np.ndarray:
    """``x`` (..., *spatial, C) as (..., positions, C)."""
    rank = len(node.in_shape)  # type: ignore[arg-type]
    if x.shape[x.ndim - rank :] != node.in_shape:
        raise ShapeError(f"{node.describe()} expects samples of shape {node.in_shape}, got inputs of shape {x.shape}")
    return x.reshape(*x.shape[: x.ndim - rank], -1, x.shape[-1])


@forward.register
def _(node: GlobalAvgPool, x, key, train):
    rows = _positions(node, x)
    y = column_sums(rows, np.empty((*rows.shape[:-2], rows.shape[-1]), x.dtype))
    y /= x.dtype.type(rows.shape[-2])
    return y, rows.shape


@backward.register
def _(node: GlobalAvgPool, shape, g, out, need_input_grad):
    if not need_input_grad:
        return None
    dx = np.empty(shape, g.dtype)
    dx[...] = (g / g.dtype.type(shape[-2]))[..., None, :]
    return dx.reshape(*shape[:-2], *node.in_shape)  # type: ignore[misc]


@forward.register
def _(node: GlobalMaxPool, x, key, train):
    rows = _positions(node, x)
    first = rows.argmax(axis=-2)[..., None, :]  # the first maximum of each channel
    return np.take_along_axis(rows, first, axis=-2)[..., 0, :], (rows.shape, first)


@backward.register
def _(node: GlobalMaxPool, residual, g, out, need_input_grad):
    if not need_input_grad:
        return None
    shape, first = residual
    dx = np.zeros(shape, g.dtype)
    np.put_along_axis(dx, first, g[..., None, :], axis=-2)
    return dx.reshape(*shape[:-2], *node.in_shape)  # type: ignore[misc]


for _cls in (GlobalMaxPool, GlobalAvgPool):  # type: ignore[assignment]
    uses_key.register(_cls, lambda node: False)
    stackable.register(_cls, lambda node: True)
    details.register(_cls, lambda node: f"over {_windows.fmt(node.in_shape[:-1])}" if node.in_shape else "")
