"""Convolutions and pools beyond the registry's laws: bad input and its messages, stacks whose first layer
is a convolution or a pool (the shared input is a broadcast view), the chunked path that bounds the
window matrices' memory, and the summary of a CNN.

Outputs and gradients against PyTorch: tests/test_torch_parity_conv.py.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, ShapeError
from fnn.layers import conv
from fnn.testing import random_params

# ------------------------------------------------------------------ bad input


def build(layer, in_shape):
    return fnn.init(fnn.random.key(0), fnn.Sequential([layer], in_shape=in_shape))


@pytest.mark.parametrize(
    "layer, in_shape, sizes",
    [
        (
            fnn.Conv2D(8, 5),
            (4, 6, 1),
            r"kernel spans 5×5 but the padded input is only 4×6 \(input 4×6, padding valid\)",
        ),
        (
            fnn.Conv2D(8, 3, dilation=2, padding=1),
            (2, 3, 2),
            r"spans 5×5 \(dilation 2\) but the padded input is only 4×5",
        ),
        (
            fnn.Conv1D(4, 7, padding=(1, 2)),
            (3, 1),
            r"kernel spans 7 but the padded input is only 6 \(input 3, padding pad \(1, 2\)\)",
        ),
        (fnn.MaxPool2D(3), (2, 8, 4), r"window spans 3×3 but the padded input is only 2×8"),
        (fnn.AvgPool1D(4, padding=1), (1, 2), r"window spans 4 but the padded input is only 3"),
    ],
)
def test_a_window_larger_than_the_padded_input_names_the_layer_and_both_sizes(layer, in_shape, sizes):
    with pytest.raises(ConfigError, match=rf"layer 0 \({re.escape(layer.describe())}\): .*{sizes}"):
        build(layer, in_shape)


@pytest.mark.parametrize(
    "layer, in_shape, expected",
    [
        (
            fnn.Conv2D(8, 3),
            (28, 28),
            r"Conv2D\(8, 3×3\) takes samples of shape \(height, width, channels\), got samples of "
            r"shape \(28, 28\); for one channel, add it: fnn.Reshape\(\(28, 28, 1\)\)",
        ),
        (fnn.Conv1D(8, 3), (5, 4, 3), r"Conv1D\(8, 3\) takes samples of shape \(length, channels\), got .*\(5, 4, 3\)"),
        (fnn.MaxPool2D(2), (6, 2), r"MaxPool2D\(2×2\) takes samples of shape \(height, width, channels\)"),
        (
            fnn.AvgPool1D(2),
            (6,),
            r"AvgPool1D\(2\) takes samples of shape \(length, channels\).*fnn.Reshape\(\(6, 1\)\)",
        ),
        (
            fnn.GlobalAvgPool(),
            (6,),
            r"GlobalAvgPool\(\) takes samples of shape \(..., channels\) with at least one spatial",
        ),
    ],
)
def test_an_input_of_the_wrong_rank_names_the_layer_and_the_expected_shape(layer, in_shape, expected):
    with pytest.raises(ConfigError, match=rf"layer 0 \(.*\): {expected}"):
        build(layer, in_shape)


def test_an_input_with_the_wrong_channel_count_names_the_layer_and_the_expected_shape():
    params = build(fnn.Conv2D(8, 3), (10, 10, 3))
    with pytest.raises(
        ShapeError,
        match=r"layer 0 \(Conv2D\(3→8, 3×3\)\) expects samples of shape \(10, 10, 3\): "
        r"x of shape \(n, 10, 10, 3\)",
    ):
        fnn.apply(params, np.zeros((2, 10, 10, 1)))
    node = params.layers[0]  # run directly (as a user's combinator might): the node itself says what it takes
    with pytest.raises(
        ShapeError,
        match=r"Conv2D\(3→8, 3×3\) expects inputs of shape \(n, height, width, 3\), got "
        r"shape \(2, 10, 10, 1\)",
    ):
        fnn.layers.forward(node, np.zeros((2, 10, 10, 1)), None, False)
    with pytest.raises(
        ShapeError, match=r"Conv1D\(3→2, 2\) expects inputs of shape \(n, length, 3\), got shape \(4, 3\)"
    ):
        fnn.layers.forward(build(fnn.Conv1D(2, 2), (5, 3)).layers[0], np.zeros((4, 3)), None, False)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: fnn.Conv2D(8, 3, stride=0),
            r"Conv2D stride must be an integer ≥ 1 or a pair of them \(height, width\), got 0",
        ),
        (lambda: fnn.Conv2D(8, 3, stride=(1, 0)), r"Conv2D stride must be an integer ≥ 1 or a pair .*got \(1, 0\)"),
        (lambda: fnn.Conv1D(8, 3, dilation=0), r"Conv1D dilation must be an integer ≥ 1, got 0"),
        (lambda: fnn.Conv1D(8, 2.5), r"Conv1D kernel_size must be an integer ≥ 1, got 2.5"),
        (lambda: fnn.Conv2D(8, (3, 3, 3)), r"Conv2D kernel_size must be an integer ≥ 1 or a pair .*got \(3, 3, 3\)"),
        (lambda: fnn.Conv2D(8, "3"), r"Conv2D kernel_size must be an integer ≥ 1 .*got '3'"),
        (lambda: fnn.Conv2D(8, True), r"Conv2D kernel_size must be an integer ≥ 1 .*got True"),
        (lambda: fnn.Conv2D(0, 3), r"Conv2D channels must be an integer ≥ 1, got 0"),
        (lambda: fnn.Conv1D(4.0, 3), r"Conv1D channels must be an integer ≥ 1, got 4.0"),
        (lambda: fnn.MaxPool2D(0), r"MaxPool2D size must be an integer ≥ 1 or a pair"),
        (lambda: fnn.AvgPool1D(2, stride=1.5), r"AvgPool1D stride must be an integer ≥ 1, got 1.5"),
        (
            lambda: fnn.Conv1D(8, 3, padding="full"),
            r'Conv1D padding must be "valid", "same", an integer ≥ 0, '
            r"or a pair \(before, after\) of them, got 'full'",
        ),
        (
            lambda: fnn.Conv2D(8, 3, padding=-1),
            r"Conv2D padding must be .*\(\(top, bottom\), \(left, right\)\), got -1",
        ),
        (lambda: fnn.Conv2D(8, 3, padding=(1, 2, 3)), r"Conv2D padding must be .*got \(1, 2, 3\)"),
        (lambda: fnn.Conv2D(8, 3, use_bias="yes"), r"use_bias must be True or False, got 'yes'"),
        (
            lambda: fnn.Conv2D(8, 3, bias_init="ones"),
            r"Conv2D bias_init must be one of 'zeros', 'torch_uniform', got 'ones'",
        ),
        (lambda: fnn.Dense(8, bias_init="normal"), r"Dense bias_init must be one of 'zeros', 'torch_uniform'"),
        (lambda: fnn.Conv2D(8, 3, init="torch"), r"unknown initializer 'torch'; valid names: .*torch_uniform"),
    ],
)
def test_bad_settings_are_config_errors_listing_what_is_allowed(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_a_layer_takes_no_unknown_keyword():
    with pytest.raises(TypeError, match="strides"):
        fnn.Conv2D(8, 3, strides=2)
    with pytest.raises(TypeError):
        fnn.Conv2D(8, 3, 2)  # stride is keyword-only


@pytest.mark.parametrize(
    "make",
    [
        lambda: fnn.Conv2D(8, 3, stride=2, padding="same"),
        lambda: fnn.Conv1D(8, 3, stride=(2,), padding="same"),
        lambda: fnn.MaxPool2D(2, padding="same"),  # stride None is the size, 2
        lambda: fnn.AvgPool1D(3, stride=2, padding="same"),
    ],
)
def test_same_padding_with_a_stride_is_refused_as_torch_does(make):
    with pytest.raises(ConfigError, match=r'padding="same" needs stride 1'):
        make()


def test_pool_padding_beyond_half_the_window_is_refused_as_torch_does():
    with pytest.raises(
        ConfigError,
        match=r"MaxPool2D padding may be at most half the window on each side .*size 2×2, "
        r"got padding pad 2",
    ):
        fnn.MaxPool2D(2, padding=2)
    with pytest.raises(ConfigError, match=r"at most half.*size 3, got padding pad \(0, 2\)"):
        fnn.AvgPool1D(3, padding=(0, 2))
    assert fnn.MaxPool1D(3, padding=1).pads == ((1, 1),)


# ------------------------------------------------------------------ stacks whose first layer has windows

FIRST_LAYERS = [
    fnn.Conv2D(3, 2, padding=((1, 0), (0, 1)), stride=(2, 1)),
    fnn.Conv2D(2, 3, dilation=2),
    fnn.MaxPool2D(2, stride=1, padding=1),
    fnn.AvgPool2D(2),
    fnn.GlobalMaxPool(),
]


@pytest.mark.parametrize("first", FIRST_LAYERS, ids=lambda s: s.describe())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunked", [False, True])
def test_a_stack_with_a_window_layer_first_is_each_network_bitwise(first, dtype, chunked, monkeypatch):
    """Inside a stack the first layer gets the shared input as a broadcast view (stride 0 over the members);
    chunked: window matrices of one sample at a time (a member's chunks are those of one network)."""
    if chunked:
        monkeypatch.setattr(conv, "WINDOW_BYTES", 1)
    spec = fnn.Sequential([first, fnn.Flatten(), fnn.Dense(3)], in_shape=(6, 5, 2), dtype=dtype)
    singles = [random_params(fnn.random.key(k), spec) for k in range(3)]
    stack = fnn.stack(singles)
    x = fnn.random.normal(fnn.random.key(9), (4, 6, 5, 2)).astype(dtype)
    y = fnn.random.normal(fnn.random.key(8), (4, 3)).astype(dtype)
    values, grads = fnn.value_and_grad(stack, (x, y), loss="mse")
    for k, single in enumerate(singles):
        assert np.array_equal(fnn.apply(stack, x)[k], fnn.apply(single, x))
        v, g = fnn.value_and_grad(single, (x, y), loss="mse")
        assert values[k] == v
        for a, b in zip(fnn.tree.leaves(grads), fnn.tree.leaves(g), strict=True):
            assert np.array_equal(a[k], b)


# ------------------------------------------------------------------ bounded window memory


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 9), st.integers(1, 3), st.booleans(), st.booleans(), st.sampled_from([2, 6]), st.integers(0, 2**16)
)
def test_the_chunked_convolution_equals_the_one_piece_one(n, chunk_samples, stacked, need_input_grad, cin, seed):
    """Batches whose window matrix exceeds WINDOW_BYTES run in chunks of samples: same output, same gradients;
    with 2 input channels the windows are built tap-major (with the bias's row of ones), with 6 channels last."""
    assert 2 <= conv.TAP_MAJOR_CHANNELS < 6
    spec = fnn.Sequential([fnn.Conv2D(3, (3, 2), padding=1, stride=(1, 2))], in_shape=(5, 6, cin), dtype=np.float64)
    keys = fnn.random.split(fnn.random.key(seed), 4)
    params = fnn.stack([random_params(k, spec) for k in keys[:2]]) if stacked else random_params(keys[0], spec)
    node = params.layers[0]
    x = fnn.random.normal(keys[2], ((2,) if stacked else ()) + (n, 5, 6, cin))
    positions = np.prod(fnn.layers.out_shape(spec, (5, 6, cin))[:-1])  # 5×4
    per_sample = positions * (3 * 2 * cin + (cin <= 4)) * 8  # positions × (kernel·C_in [+ a row of ones]) × bytes
    results = []
    for limit in (conv.WINDOW_BYTES, chunk_samples * per_sample):
        y, r = conv.conv_forward(node, x, limit)
        g = fnn.random.normal(keys[3], y.shape)
        flat, unravel = fnn.tree.ravel(node)
        out = unravel(np.full(flat.size, np.nan))  # stale numbers: every gradient entry must be written
        gx = conv.conv_backward(node, r, g, out, need_input_grad)
        results.append((y, out, gx, r[0] is None))
    (y1, g1, x1, chunked1), (y2, g2, x2, chunked2) = results
    assert not chunked1 and chunked2 == (chunk_samples < n)
    np.testing.assert_allclose(y2, y1, rtol=1e-13, atol=1e-13)
    for a, b in zip(fnn.tree.leaves(g2), fnn.tree.leaves(g1), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    if need_input_grad:
        np.testing.assert_allclose(x2, x1, rtol=1e-13, atol=1e-13)
    else:
        assert x1 is None and x2 is None


def test_apply_on_a_large_batch_keeps_the_window_matrix_below_the_bound():
    import tracemalloc

    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Conv2D(4, 5)], in_shape=(28, 28, 8)))
    x = np.zeros((600, 28, 28, 8), np.float32)  # one window matrix would be 600·576·200·4 B = 276 MB
    tracemalloc.start()
    y = fnn.apply(params, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert y.shape == (600, 24, 24, 4)
    assert peak < conv.WINDOW_BYTES + 2 * y.nbytes + x.nbytes, peak


# ------------------------------------------------------------------ summary


def test_the_summary_of_a_cnn_shows_keras_shapes_counts_and_window_details():
    spec = fnn.Sequential(
        [
            fnn.Conv2D(32, 5),
            fnn.Activation("relu"),
            fnn.MaxPool2D(2),
            fnn.Conv2D(64, 3, padding="same", dilation=2, use_bias=False),
            fnn.AvgPool2D(2, stride=1, padding=((0, 1), (1, 0))),
            fnn.GlobalAvgPool(),
            fnn.Dense(10),
        ],
        in_shape=(28, 28, 1),
    )
    rows = [re.split(r"\s{2,}", line) for line in fnn.summary(spec).splitlines()[4:11]]
    assert rows == [
        ["0", "Conv2D", "(None, 24, 24, 32)", "832", "5×5, stride 1, valid"],
        ["1", "Activation", "(None, 24, 24, 32)", "0", "relu"],
        ["2", "MaxPool2D", "(None, 12, 12, 32)", "0", "2×2, stride 2, valid"],
        ["3", "Conv2D", "(None, 12, 12, 64)", "18,432", "3×3, stride 1, same, dilation 2, no bias"],
        ["4", "AvgPool2D", "(None, 12, 12, 64)", "0", "2×2, stride 1, pad ((0, 1), (1, 0))"],
        ["5", "GlobalAvgPool", "(None, 64)", "0", "over 12×12"],
        ["6", "Dense", "(None, 10)", "650", "bias"],
    ]
    one_d = fnn.summary(fnn.Sequential([fnn.Conv1D(25, 3, stride=2, padding=1), fnn.MaxPool1D(2)], in_shape=(40, 1)))
    assert [re.split(r"\s{2,}", line) for line in one_d.splitlines()[4:6]] == [
        ["0", "Conv1D", "(None, 20, 25)", "100", "kernel 3, stride 2, pad 1"],
        ["1", "MaxPool1D", "(None, 10, 25)", "0", "window 2, stride 2, valid"],
    ]
