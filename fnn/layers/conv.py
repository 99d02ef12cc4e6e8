"""Convolutions, channels last: ``Conv1D`` on samples ``(L, C)`` and ``Conv2D`` on ``(H, W, C)``.

``y[p] = b + Σ_taps x[p·stride + tap·dilation] @ w[tap]`` over the (zero-)padded input: a
cross-correlation, as ``torch.nn.Conv1d``/``Conv2d`` compute it (fnn's kernel is
``(*kernel_size, in_channels, channels)``, channels last; torch's ``weight`` is its
``(channels, in_channels, *kernel_size)`` transpose). Output lengths follow PyTorch's floor
formula; ``padding="same"`` (stride 1 only, as in torch) puts the odd padding element after.

How it runs (see :mod:`fnn.layers._windows`):

- **forward**: a strided view of the windows of the padded input, one copy into the window
  matrix (positions, kernel·C_in), one matrix product with the kernel as (kernel·C_in, C_out);
  the output is already channels last. With at most :data:`TAP_MAJOR_CHANNELS` input channels
  (a first layer on images) the matrix is built transposed, tap by tap, with a row of ones that
  puts the bias into the product.
- **backward**: the kernel's gradient is one product, windowsᵀ @ g (with the bias's in the
  tap-major layout); the input's is g @ (each tap's kernel)ᵀ added back tap by tap: one product
  into a tap-sized scratch buffer and one strided add per kernel tap, never ``np.add.at``.
- **a stack** of K networks: kernels (K, *kernel_size, C_in, C_out), inputs (K, n, ..., C);
  ``np.matmul`` runs one product per member, the one a single network runs. A stack's first
  layer gets the shared input as a broadcast view: its windows are copied once, for all members.
- **memory**: the window matrix takes kernel_size·C_in/stride^rank times the input's memory, and
  training keeps it until the backward pass; the backward adds a buffer of 1/kernel_size of it.
  A batch whose window matrix would exceed :data:`WINDOW_BYTES` (per member) runs in chunks of
  samples that stay below it; the backward pass then rebuilds each chunk's windows. So
  ``fnn.apply`` on a whole data set never builds one gigabyte-sized matrix.

>>> import numpy as np, fnn
>>> spec = fnn.Sequential([fnn.Conv2D(4, 3, padding="same"), fnn.Conv2D(2, (2, 3), stride=2)], in_shape=(8, 8, 1))
>>> fnn.output_shape(spec, batch=5)
(5, 4, 3, 2)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import numpy as np

from fnn import initializers, random, tree
from fnn._checks import use_bias
from fnn._reductions import column_sums
from fnn.errors import ConfigError, ShapeError
from fnn.layers import _windows
from fnn.layers.base import (
    backward,
    check_size,
    details,
    forward,
    init_node,
    out_shape,
    stackable,
    uses_key,
    weight_field,
    writes_every_grad,
)

__all__ = ["Conv1D", "Conv2D", "Conv1DParams", "Conv2DParams", "WINDOW_BYTES", "TAP_MAJOR_CHANNELS"]

WINDOW_BYTES = 64 * 2**20
"""The largest window matrix (bytes, per member of a stack) a convolution builds at once.

LeNet's second convolution (5×5×32 windows at 8×8 positions) needs 205 KB a sample in float32,
so a batch of up to 327 samples runs in one piece; larger batches run in chunks below this size.
"""

TAP_MAJOR_CHANNELS = 4
"""Convolutions with at most this many input channels build their window matrix transposed, tap by tap, with
the bias as one more row of the product (see :func:`_tap_matrix`); others build it channels last."""


@attrs.frozen
class _Conv:
    """What Conv1D and Conv2D share: the arguments (normalised in ``__attrs_post_init__``) and the names."""

    RANK: ClassVar[int] = 0

    channels: int
    kernel_size: Any
    stride: Any = attrs.field(default=1, kw_only=True)
    padding: Any = attrs.field(default="valid", kw_only=True)
    dilation: Any = attrs.field(default=1, kw_only=True)
    use_bias: bool = attrs.field(default=True, kw_only=True, converter=use_bias())  # type: ignore[misc]  # a made converter
    init: initializers.Initializer = attrs.field(  # type: ignore[assignment]
        default="glorot_uniform", kw_only=True, converter=initializers.get
    )
    bias_init: str = attrs.field(default="zeros", kw_only=True)

    def __attrs_post_init__(self) -> None:
        name, rank = type(self).__name__, self.RANK

        def set_(field: str, value: Any) -> None:  # normalising a frozen instance's own fields, once
            object.__setattr__(self, field, value)

        set_("channels", check_size(self.channels, f"{name} channels"))
        set_("kernel_size", _windows.sizes(self.kernel_size, rank, f"{name} kernel_size"))
        set_("stride", _windows.sizes(self.stride, rank, f"{name} stride"))
        set_("dilation", _windows.sizes(self.dilation, rank, f"{name} dilation"))
        set_("padding", _windows.padding(self.padding, rank, f"{name} padding"))
        set_("bias_init", initializers.bias_name(self.bias_init, f"{name} bias_init"))
        if self.padding == "same" and max(self.stride) > 1:
            raise ConfigError(
                f'{name} padding="same" needs stride 1 (as in PyTorch), got stride {self.stride}; give the padding '
                f"explicitly, e.g. padding={(self.kernel_size[0] - 1) // 2}"
            )

    def describe(self) -> str:
        return f"{type(self).__name__}({self.channels}, {_windows.fmt(self.kernel_size)})"


@tree.value_class
@attrs.frozen
class Conv1D(_Conv):
    """Spec of a 1-D convolution over samples ``(length, in_channels)`` with ``channels`` outputs (``torch.nn.Conv1d``).

    Args:
        channels: output channels.
        kernel_size: taps of the kernel.
        stride: step between windows (≥ 1).
        padding: ``"valid"`` (none, the default), ``"same"`` (stride 1: the output keeps the length;
            an odd total puts the extra zero after), an integer (zeros on both ends) or a pair
            ``(before, after)``.
        dilation: distance between taps (≥ 1).
        use_bias: whether to add a bias per output channel.
        init: the kernel's initializer (see :mod:`fnn.initializers`; fans from the whole kernel,
            ``"torch_uniform"`` is PyTorch's default).
        bias_init: ``"zeros"`` or ``"torch_uniform"`` (PyTorch's default: U(±1/√fan_in)).

    Raises:
        ConfigError: a size, stride or dilation that is not an integer ≥ 1, a padding of another
            form, or ``padding="same"`` with a stride above 1.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Conv1D(8, 5, stride=2)], in_shape=(40, 3)))
    >>> p.layers[0].w.shape, fnn.apply(p, np.ones((2, 40, 3))).shape
    ((5, 3, 8), (2, 18, 8))
    """

    RANK: ClassVar[int] = 1


@tree.value_class
@attrs.frozen
class Conv2D(_Conv):
    """Spec of a 2-D convolution over samples ``(height, width, in_channels)`` (``torch.nn.Conv2d``).

    The arguments are :class:`Conv1D`'s, each an integer (both axes) or a pair (height, width);
    ``padding`` is ``"valid"``, ``"same"``, an integer, a pair ``(ph, pw)`` (symmetric per axis, as
    in torch) or pairs ``((top, bottom), (left, right))``.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Conv2D(32, 5)], in_shape=(28, 28, 1)))
    >>> p.layers[0].w.shape, fnn.apply(p, np.ones((2, 28, 28, 1))).shape
    ((5, 5, 1, 32), (2, 24, 24, 32))
    >>> fnn.Conv2D(8, 3, padding="same", dilation=2).padding
    'same'
    """

    RANK: ClassVar[int] = 2


@attrs.frozen
class _ConvParams:
    """Parameters of a convolution: kernel ``w`` (*kernel_size, C_in, C_out), bias ``b`` (C_out,) or None.

    Static: ``stride``, ``dilation``, ``padding`` (as given, for the summary) and ``pads`` (the
    resolved (before, after) pairs).
    """

    RANK: ClassVar[int] = 0

    w: np.ndarray = weight_field()
    b: np.ndarray | None  # type: ignore[misc]
    stride: tuple = tree.static_field()
    dilation: tuple = tree.static_field()
    padding: Any = tree.static_field()
    pads: tuple = tree.static_field()

    @property
    def kernel_size(self) -> tuple[int, ...]:
        return self.w.shape[-self.RANK - 2 : -2]

    def describe(self) -> str:
        name = type(self).__name__.removesuffix("Params")
        return f"{name}({self.w.shape[-2]}→{self.w.shape[-1]}, {_windows.fmt(self.kernel_size)})"


@tree.register
@attrs.frozen
class Conv1DParams(_ConvParams):  # type: ignore[misc]
    """Parameters of a :class:`Conv1D`: kernel ``w`` (k, C_in, C_out) and bias ``b`` (C_out,) or None."""

    RANK: ClassVar[int] = 1


@tree.register
@attrs.frozen
class Conv2DParams(_ConvParams):  # type: ignore[misc]
    """Parameters of a :class:`Conv2D`: kernel ``w`` (kh, kw, C_in, C_out) and bias ``b`` (C_out,) or None."""

    RANK: ClassVar[int] = 2


_NODE = {Conv1D: Conv1DParams, Conv2D: Conv2DParams}


def _geometry(spec: _Conv, in_shape: tuple) -> tuple[tuple, tuple]:
    """(resolved pads, output spatial sizes) of ``spec`` on samples of ``in_shape``; ConfigErrors naming it."""
    _windows.sample_rank(spec.describe(), in_shape, spec.RANK)
    pads = _windows.resolve(spec.padding, spec.kernel_size, spec.dilation)
    out = _windows.out_sizes(
        spec.describe(),
        tuple(in_shape[:-1]),
        spec.kernel_size,
        spec.stride,
        spec.dilation,
        pads,
        spec.padding,
        "kernel",
    )
    return pads, out


@out_shape.register
def _(spec: _Conv, in_shape: tuple) -> tuple:
    return (*_geometry(spec, in_shape)[1], spec.channels)


@init_node.register
def _(spec: _Conv, key, in_shape, dtype):
    pads, _ = _geometry(spec, in_shape)
    shape = (*spec.kernel_size, in_shape[-1], spec.channels)
    w = spec.init(key, shape, dtype)  # fans from the whole kernel: in_axis -2, out_axis -1
    b = None
    if spec.use_bias:
        fan_in = initializers.fans(shape)[0]
        b = initializers.draw_bias(spec.bias_init, random.fold_in(key, 1), spec.channels, fan_in, dtype)
    return _NODE[type(spec)](w, b, spec.stride, spec.dilation, spec.padding, pads)


for _cls in (Conv1DParams, Conv2DParams):
    uses_key.register(_cls, lambda node: False)
    stackable.register(_cls, lambda node: True)
    writes_every_grad.register(_cls, lambda node: True)  # the kernel's and the bias's gradient are written whole


@details.register
def _(node: _ConvParams) -> str:
    kernel = _windows.fmt(node.kernel_size)
    parts = [
        kernel if node.RANK > 1 else f"kernel {kernel}",
        f"stride {_windows.fmt_step(node.stride)}",
        _windows.describe_padding(node.padding),
    ]
    if max(node.dilation) > 1:
        parts.append(f"dilation {_windows.fmt_step(node.dilation)}")
    if node.b is None:
        parts.append("no bias")
    return ", ".join(parts)


# ------------------------------------------------------------------ running


def _check_input(node: _ConvParams, x: np.ndarray, stacked: bool) -> None:
    rank, cin = node.RANK, node.w.shape[-2]
    if x.ndim != rank + 2 + stacked or x.shape[-1] != cin:
        axes = "length" if rank == 1 else "height, width"
        member = "members, " if stacked else ""
        raise ShapeError(f"{node.describe()} expects inputs of shape ({member}n, {axes}, {cin}), got shape {x.shape}")


def _rows(a: np.ndarray, stacked: bool, start: int, stop: int) -> np.ndarray:
    """Samples ``start:stop`` of a batch (n, ...) or of a stack's (K, n, ...)."""
    return a[:, start:stop] if stacked else a[start:stop]


def _window_matrix(xp: np.ndarray, node: _ConvParams, out: tuple, stacked: bool) -> np.ndarray:
    """The windows of ``xp`` as one matrix (samples·positions, kernel·C_in), or (K, …, …) for a stack: one copy.

    A stack's shared first-layer input (a broadcast view, stride 0 over the members) is copied
    once and broadcast back: every member multiplies the same matrix a single network builds.
    """
    view = _windows.windows(xp, node.kernel_size, node.stride, node.dilation, out)
    width = math.prod(node.kernel_size) * node.w.shape[-2]
    if stacked and xp.strides[0] == 0:
        one = view[0].reshape(-1, width)
        return np.broadcast_to(one, (xp.shape[0], *one.shape))
    return view.reshape(*xp.shape[:stacked], -1, width)


def _tap_major(node: _ConvParams) -> bool:
    """Whether the convolution builds its windows transposed, tap by tap: few input channels (:func:`_tap_matrix`)."""
    return node.w.shape[-2] <= TAP_MAJOR_CHANNELS


def _tap_matrix(xp: np.ndarray, node: _ConvParams, out: tuple, stacked: bool) -> np.ndarray:
    """The transposed window matrix (kernel·C_in + 1, samples·positions) of ``xp``, its last row ones (the bias's).

    Built tap by tap: each (tap, channel) row is one strided slice of the input, copied along
    whole output rows. With few input channels this is the cheap layout: the channels-last
    matrix would be copied in runs of kernel-width·C_in values (5 for LeNet's first layer,
    whose 73,728×25 matrix takes 1.7 ms that way and 0.6 ms this way), and the row of ones puts
    the bias into the product (no pass over the output to add it, none over g to sum it).
    A stack's shared first-layer input is copied once and broadcast, as in :func:`_window_matrix`.
    """
    if stacked and xp.strides[0] == 0:
        one = _tap_matrix(xp[0], node, out, False)
        return np.broadcast_to(one, (xp.shape[0], *one.shape))
    cin = xp.shape[-1]
    taps = _windows.offsets(node.kernel_size, node.stride, node.dilation, out)
    lead = xp.shape[: -node.RANK - 1]  # (n,) or (K, n)
    members = lead[:-1]
    cols = np.empty((*members, len(taps) * cin + 1, math.prod(lead[-1:]) * math.prod(out)), xp.dtype)
    for t, (_, index) in enumerate(taps):
        rows = cols[..., t * cin : (t + 1) * cin, :].reshape(*members, cin, *lead[-1:], *out)
        np.copyto(rows, np.moveaxis(xp[index], -1, len(members)))
    cols[..., -1, :] = 1
    return cols


def _with_bias_row(node: _ConvParams, w2: np.ndarray) -> np.ndarray:
    """The kernel (…, kernel·C_in, C_out) with the bias (or zeros) as one more row: the tap-major product's."""
    b = node.b if node.b is not None else np.zeros(w2.shape[:-2] + w2.shape[-1:], w2.dtype)
    return np.concatenate([w2, b[..., None, :]], axis=-2)


def _chunk(node: _ConvParams, n: int, out: tuple, itemsize: int, limit: int) -> int:
    """How many samples' windows fit in ``limit`` bytes (at least 1); ``n`` when all of them do."""
    per_sample = math.prod(out) * (math.prod(node.kernel_size) * node.w.shape[-2] + _tap_major(node)) * itemsize
    return max(1, min(n, limit // max(per_sample, 1)))


def conv_forward(node: _ConvParams, x: np.ndarray, limit: int) -> tuple[np.ndarray, tuple]:
    """``(y, residual)`` of a convolution on ``x``, with window matrices of at most ``limit`` bytes per member."""
    rank, w = node.RANK, node.w
    stacked = w.ndim == rank + 3
    _check_input(node, x, stacked)
    spatial = x.shape[-rank - 1 : -1]
    out = _windows.out_sizes(
        node.describe(), spatial, node.kernel_size, node.stride, node.dilation, node.pads, node.padding, "kernel"
    )
    xp = _windows.pad(x, node.pads)
    members = w.shape[:stacked]
    cout = w.shape[-1]
    w2 = w.reshape(*members, -1, cout)
    tap_major = _tap_major(node)
    if tap_major:
        w2 = _with_bias_row(node, w2)
    build = _tap_matrix if tap_major else _window_matrix
    n = x.shape[stacked]
    step = _chunk(node, n, out, x.dtype.itemsize, limit)
    if step == n:
        cols = build(xp, node, out, stacked)
        y = np.matmul(cols.mT if tap_major else cols, w2)
    else:  # in chunks of samples: the windows are rebuilt chunk by chunk in the backward pass too
        cols = None
        p = math.prod(out)
        y = np.empty((*members, n * p, cout), x.dtype)
        for start in range(0, n, step):
            stop = min(n, start + step)
            chunk = build(_rows(xp, stacked, start, stop), node, out, stacked)
            np.matmul(chunk.mT if tap_major else chunk, w2, out=y[..., start * p : stop * p, :])
            del chunk  # before the next one is built: one chunk's windows at a time
    if node.b is not None and not tap_major:
        y += node.b if not stacked else node.b[:, None, :]
    lead = x.shape[: stacked + 1]
    return y.reshape(*lead, *out, cout), (cols, xp, out, spatial, step)


def _view(a: np.ndarray, shape: tuple) -> np.ndarray:
    """``a`` reshaped without a copy (gradient leaves are contiguous views of one buffer)."""
    v = a.reshape(shape)
    if not np.may_share_memory(v, a):  # pragma: no cover - gradient leaves are always contiguous
        raise AssertionError("a gradient leaf is not contiguous")
    return v


def _input_grad(node: _ConvParams, g2: np.ndarray, dxp: np.ndarray, out: tuple) -> None:
    """Add the gradient of every window back where its taps read the (padded) input: one strided add per tap.

    Tap by tap: the gradient of what the tap read, (rows, C_in) = g @ (the tap's kernel)ᵀ, goes into
    one scratch buffer of a tap's size, which is then added along rows of out-width·C_in values.
    (As one product (rows, taps·C_in) the taps would be interleaved and the adds would run along
    C_in values only: LeNet's second convolution, 3.0 against 5.2 ms for the adds.) Tap by tap
    rather than all taps in one matmul call: the same products and sums (bitwise the same result),
    equally fast, and the buffer is 1/taps of the window matrix (1 MB against 26 MB for LeNet's
    second convolution), still in cache when its add reads it.
    """
    w = node.w
    members = w.shape[: w.ndim - node.RANK - 2]
    taps, cin = math.prod(node.kernel_size), w.shape[-2]
    per_tap = w.reshape(*members, taps, cin, w.shape[-1]).mT  # (…, taps, C_out, C_in)
    scratch = np.empty((*members, g2.shape[-2], cin), g2.dtype)
    lead = dxp.shape[: -node.RANK - 1]
    for t, (_, index) in enumerate(_windows.offsets(node.kernel_size, node.stride, node.dilation, out)):
        np.matmul(g2, per_tap[..., t, :, :], out=scratch)
        dxp[index] += scratch.reshape(*lead, *out, cin)


def conv_backward(node: _ConvParams, residual: tuple, g: np.ndarray, out: Any, need_input_grad: bool) -> Any:
    """The kernel's and bias's gradients into ``out``; the input's gradient (or None)."""
    cols, xp, positions, spatial, step = residual
    w = node.w
    stacked = w.ndim == node.RANK + 3
    members, cout = w.shape[:stacked], w.shape[-1]
    g2 = g.reshape(*members, -1, cout)
    gw = _view(out.w, (*members, -1, cout))
    tap_major = _tap_major(node)
    if tap_major:  # the kernel's gradient and, in its last row, the bias's: one product
        gwb = np.empty((*members, gw.shape[-2] + 1, cout), g.dtype)
    else:
        gwb = gw
        if node.b is not None:
            column_sums(g2, out.b)
    dxp: Any = np.zeros(xp.shape, g.dtype) if need_input_grad else None  # used only when need_input_grad
    if cols is not None:
        np.matmul(cols if tap_major else cols.mT, g2, out=gwb)
        if need_input_grad:
            _input_grad(node, g2, dxp, positions)
    else:
        build = _tap_matrix if tap_major else _window_matrix
        n, p = xp.shape[stacked], math.prod(positions)
        for start in range(0, n, step):
            stop = min(n, start + step)
            chunk = build(_rows(xp, stacked, start, stop), node, positions, stacked)
            g_chunk = g2[..., start * p : stop * p, :]
            a = chunk if tap_major else chunk.mT
            if start == 0:
                np.matmul(a, g_chunk, out=gwb)
            else:
                gwb += np.matmul(a, g_chunk)
            if need_input_grad:
                _input_grad(node, g_chunk, _rows(dxp, stacked, start, stop), positions)
            del chunk, a
    if tap_major:
        gw[...] = gwb[..., :-1, :]
        if node.b is not None:
            out.b[...] = gwb[..., -1, :]
    if not need_input_grad:
        return None
    return dxp if xp.shape[-node.RANK - 1 : -1] == spatial else dxp[_windows.interior(spatial, node.pads)]


@forward.register
def _(node: _ConvParams, x, key, train):
    return conv_forward(node, x, WINDOW_BYTES)


backward.register(_ConvParams, conv_backward)
