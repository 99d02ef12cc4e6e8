"""fnn's convolutions and pools against PyTorch's own: outputs and gradients (input and parameters) in float64.

Each test draws a random layer (every padding form, stride, dilation, bias or not), a random
input shape the window fits in, weights, a batch and an upstream gradient g; runs fnn's forward
and backward and torch's (channels first: inputs transposed to (n, C, ...), kernels to
(C_out, C_in, *k)), and compares everything to TOL relative. Padding torch cannot express
(asymmetric pairs) is applied with F.pad before a padding-free torch layer (-inf for max
pooling, zeros otherwise); symmetric padding goes to torch's own ``padding=``, so torch's
"same" rule and count_include_pad are checked as torch implements them.
"""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st

import fnn
from fnn.layers import backward, forward
from fnn.layers.conv import TAP_MAJOR_CHANNELS
from fnn.testing import window_settings

TOL = 1e-10
torch.set_default_dtype(torch.float64)
SEEDS = st.integers(0, 2**16)
WORST: dict = {}  # the largest error per layer, printed by the last test


def close(a, b, what, layer):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    err = float(np.abs(a - b).max()) / scale if a.size else 0.0
    WORST[layer] = max(WORST.get(layer, 0.0), err)
    assert err <= TOL, f"{what}: relative error {err:.3g}"


def draws(seed, *shapes_):
    keys = fnn.random.split(fnn.random.key(seed), len(shapes_))
    return [fnn.random.normal(k, s) for k, s in zip(keys, shapes_, strict=True)]


def fnn_vjp(node, x, g):
    """fnn's output, parameter gradients (a node of the same type) and input gradient for upstream g."""
    y, r = forward(node, x, None, False)
    flat, unravel = fnn.tree.ravel(node)
    gbuf = np.zeros(flat.size, flat.dtype)
    gx = backward(node, r, g.copy(), unravel(gbuf), True)
    return y, unravel(gbuf), gx


def first(x):
    """channels last (n, ..., C) -> torch's channels first (n, C, ...)."""
    return np.moveaxis(x, -1, 1)


def last(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


def torch_padding(pads, fill):
    """(torch padding= for the layer, a function padding the input first): symmetric pads go to torch itself."""
    if all(b == a for b, a in pads):
        return tuple(b for b, _ in pads), lambda t: t
    flat = [v for b, a in reversed(pads) for v in (b, a)]  # F.pad lists the last axis first
    return 0, lambda t: F.pad(t, flat, value=fill)


def spatial(draw, size, dil, pads, extra=4):
    needed = [max(1, d * (k - 1) + 1 - b - a) for k, d, (b, a) in zip(size, dil, pads, strict=True)]
    return tuple(draw(st.integers(n, n + extra)) for n in needed)


@st.composite
def conv_cases(draw, rank):
    size, stride, dil, pad, pads = draw(window_settings(st, rank, dilation=True))
    cls = fnn.Conv1D if rank == 1 else fnn.Conv2D
    spec = cls(draw(st.integers(1, 4)), size, stride=stride, padding=pad, dilation=dil, use_bias=draw(st.booleans()))
    # 1..TAP_MAJOR_CHANNELS input channels build the windows tap-major (the bias a row of the product), more
    # build them channels last: both layouts are drawn
    in_shape = (*spatial(draw, size, dil, pads), draw(st.integers(1, 2 * TAP_MAJOR_CHANNELS)))
    return spec, in_shape, draw(st.integers(1, 4)), draw(SEEDS)


def check_conv(spec, in_shape, n, seed):
    rank = spec.RANK
    layer = type(spec).__name__
    node = fnn.layers.init_node(spec, fnn.random.key(seed), in_shape, np.dtype(np.float64))
    w, b = draws(seed, node.w.shape, (spec.channels,))
    node = type(node)(w, b if spec.use_bias else None, node.stride, node.dilation, node.padding, node.pads)
    x = draws(seed + 1, (n, *in_shape))[0]
    y, grads, gx = fnn_vjp(node, x, g := draws(seed + 2, (n, *fnn.layers.out_shape(spec, in_shape)))[0])

    conv = torch.nn.Conv1d if rank == 1 else torch.nn.Conv2d
    padding, prepad = torch_padding(node.pads, 0.0)
    if spec.padding == "same":
        padding, prepad = "same", (lambda t: t)  # torch's own "same" rule
    module = conv(
        in_shape[-1],
        spec.channels,
        spec.kernel_size,
        stride=spec.stride,
        padding=padding,
        dilation=spec.dilation,
        bias=spec.use_bias,
    )
    with torch.no_grad():
        module.weight.copy_(torch.tensor(np.moveaxis(np.moveaxis(w, -1, 0), -1, 1)))  # (*k, in, out) -> (out, in, *k)
        if spec.use_bias:
            module.bias.copy_(torch.tensor(b))
    xt = torch.tensor(first(x), requires_grad=True)
    with warnings.catch_warnings():  # torch warns that "same" with an even kernel pads a copy of the input
        warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
        yt = module(prepad(xt))
    yt.backward(torch.tensor(first(g)))
    close(y, last(yt), "output", layer)
    close(gx, last(xt.grad), "input gradient", layer)
    close(grads.w, np.moveaxis(np.moveaxis(module.weight.grad.numpy(), 0, -1), 0, -2), "kernel gradient", layer)
    if spec.use_bias:
        close(grads.b, module.bias.grad.numpy(), "bias gradient", layer)


# the cases torch handles specially, always run: "same" with an even kernel (the odd zero goes after)
# and with dilation, explicit asymmetric pairs, stride with dilation, a kernel as large as the padded input
@settings(max_examples=120, deadline=None)
@given(conv_cases(1))
@example((fnn.Conv1D(3, 4, padding="same"), (7, 2), 2, 0))
@example((fnn.Conv1D(2, 2, padding="same", dilation=3), (5, 3), 3, 1))
@example((fnn.Conv1D(3, 3, padding=(0, 2), stride=2, dilation=2, use_bias=False), (6, 2), 2, 2))
@example((fnn.Conv1D(1, 5, padding=1), (3, 1), 1, 3))
def test_conv1d_equals_torch(case):
    check_conv(*case)


@settings(max_examples=120, deadline=None)
@given(conv_cases(2))
@example((fnn.Conv2D(3, (2, 4), padding="same"), (5, 6, 2), 2, 0))
@example((fnn.Conv2D(2, 2, padding="same", dilation=(2, 3)), (4, 7, 3), 2, 1))
@example((fnn.Conv2D(4, (3, 2), padding=((0, 2), (1, 0)), stride=(2, 1), dilation=(1, 2)), (5, 4, 2), 3, 2))
@example((fnn.Conv2D(2, 3, stride=2, padding=(1, 0), use_bias=False), (3, 3, 1), 2, 3))
@example((fnn.Conv2D(3, 2, stride=(1, 2), padding=1), (4, 5, 7), 2, 4))  # channels last
@example((fnn.Conv2D(2, 3, padding=((1, 0), (0, 2)), use_bias=False), (4, 4, 5), 3, 5))
def test_conv2d_equals_torch(case):
    check_conv(*case)


@st.composite
def pool_cases(draw, rank, kind):
    size, stride, _, pad, pads = draw(window_settings(st, rank, dilation=False))
    cls = {("max", 1): fnn.MaxPool1D, ("max", 2): fnn.MaxPool2D, ("avg", 1): fnn.AvgPool1D, ("avg", 2): fnn.AvgPool2D}
    stride_arg = stride if pad == "same" else draw(st.sampled_from([None, stride]))
    spec = cls[kind, rank](size, stride=stride_arg, padding=pad)
    in_shape = (*spatial(draw, size, (1,) * rank, pads), draw(st.integers(1, 4)))
    return spec, in_shape, draw(st.integers(1, 4)), draw(SEEDS), draw(st.booleans())


def check_pool(spec, in_shape, n, seed, ties):
    rank, layer = spec.RANK, type(spec).__name__
    x = draws(seed, (n, *in_shape))[0]
    if ties:  # few distinct values: windows with tied maxima, which must route to the first, as torch's do
        x = np.round(x)
    y, _, gx = fnn_vjp(spec, x, g := draws(seed + 1, (n, *fnn.layers.out_shape(spec, in_shape)))[0])
    is_max = isinstance(spec, (fnn.MaxPool1D, fnn.MaxPool2D))
    padding, prepad = torch_padding(spec.pads, -np.inf if is_max else 0.0)
    torch_cls = {
        (True, 1): torch.nn.MaxPool1d,
        (True, 2): torch.nn.MaxPool2d,
        (False, 1): torch.nn.AvgPool1d,
        (False, 2): torch.nn.AvgPool2d,
    }[is_max, rank]
    module = torch_cls(spec.size, stride=spec.stride, padding=padding)  # avg: count_include_pad=True, torch's default
    xt = torch.tensor(first(x), requires_grad=True)
    yt = module(prepad(xt))
    yt.backward(torch.tensor(first(g)))
    close(y, last(yt), "output", layer)
    close(gx, last(xt.grad), "input gradient", layer)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_pools_equal_torch(kind, rank, data):
    check_pool(*data.draw(pool_cases(rank, kind)))


@pytest.mark.parametrize(
    "spec, in_shape",
    [
        (fnn.MaxPool1D(2, stride=1, padding="same"), (5, 2)),  # the odd -inf goes after
        (fnn.AvgPool1D(2, stride=1, padding="same"), (5, 2)),
        (fnn.MaxPool2D((3, 2), stride=(1, 2), padding=((1, 0), (1, 1))), (4, 5, 2)),
        (fnn.AvgPool2D((3, 2), stride=(2, 1), padding=((0, 1), (1, 0))), (4, 5, 2)),
        (fnn.AvgPool2D(3, stride=2, padding=1), (5, 5, 3)),  # torch's own padding, counted as zeros
        (fnn.MaxPool2D(3, stride=1), (3, 3, 1)),  # the window as large as the input
    ],
)
@pytest.mark.parametrize("ties", [False, True])
def test_pools_equal_torch_in_the_special_cases(spec, in_shape, ties):
    check_pool(spec, in_shape, 3, 7, ties)


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=2, max_size=3).map(tuple),
    n=st.integers(1, 4),
    seed=SEEDS,
    ties=st.booleans(),
)
def test_global_pools_equal_torch_adaptive_pools(kind, shape, n, seed, ties):
    layer = "GlobalMaxPool" if kind == "max" else "GlobalAvgPool"
    spec = getattr(fnn, layer)()
    node = fnn.layers.init_node(spec, None, shape, np.dtype(np.float64))
    x, g = draws(seed, (n, *shape), (n, shape[-1]))
    if ties:
        x = np.round(x)
    y, _, gx = fnn_vjp(node, x, g)
    rank = len(shape) - 1
    module = {
        ("max", 1): torch.nn.AdaptiveMaxPool1d,
        ("max", 2): torch.nn.AdaptiveMaxPool2d,
        ("avg", 1): torch.nn.AdaptiveAvgPool1d,
        ("avg", 2): torch.nn.AdaptiveAvgPool2d,
    }[kind, rank](1)
    xt = torch.tensor(first(x), requires_grad=True)
    yt = module(xt).flatten(1)
    yt.backward(torch.tensor(g))
    close(y, yt.detach().numpy(), "output", layer)
    close(gx, last(xt.grad), "input gradient", layer)


def test_max_pool_ties_go_to_the_first_maximum_as_in_torch():
    x = np.zeros((1, 4, 4, 1))  # every window all ties
    y, _, gx = fnn_vjp(fnn.MaxPool2D(2), x, np.ones((1, 2, 2, 1)))
    assert gx[0, :, :, 0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    xt = torch.zeros((1, 1, 4, 4), requires_grad=True)
    torch.nn.MaxPool2d(2)(xt).sum().backward()
    assert np.array_equal(gx[..., 0], xt.grad.numpy()[:, 0])


@pytest.mark.parametrize("rank", [1, 2])
def test_torch_uniform_draws_as_torch_default_conv_and_linear(rank):
    """fnn's torch_uniform kernel and bias have torch's bounds (1/√fan_in) and variance (bound²/3)."""
    spec = (fnn.Conv1D if rank == 1 else fnn.Conv2D)(64, 3, init="torch_uniform", bias_init="torch_uniform")
    node = fnn.layers.init_node(spec, fnn.random.key(0), (*(9,) * rank, 16), np.dtype(np.float64))
    module = (torch.nn.Conv1d if rank == 1 else torch.nn.Conv2d)(16, 64, 3)
    bound = 1 / np.sqrt(16 * 3**rank)
    for ours, theirs in ((node.w, module.weight), (node.b, module.bias)):
        theirs = theirs.detach().numpy()
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound
        assert np.abs(ours).max() > 0.9 * bound and np.abs(theirs).max() > 0.9 * bound
    w = module.weight.detach().numpy()  # thousands of draws: the standard deviations agree to a few percent
    assert abs(node.w.std() / w.std() - 1) < 0.05 and abs(node.w.std() * np.sqrt(3) / bound - 1) < 0.05
    dense = fnn.layers.init_node(
        fnn.Dense(64, init="torch_uniform", bias_init="torch_uniform"), fnn.random.key(0), (100,), np.dtype(np.float64)
    )
    assert np.abs(dense.w).max() <= 0.1 and np.abs(dense.b).max() <= 0.1 and np.abs(dense.b).max() > 0.09


def test_report_worst_errors(capsys):
    with capsys.disabled():
        print(
            "\n[fnn] largest relative error against torch, per layer: "
            + ", ".join(f"{k} {v:.2g}" for k, v in sorted(WORST.items()))
            + f" (bound {TOL:g})"
        )
