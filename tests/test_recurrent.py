"""SimpleRNN, GRU and LSTM: padding, initialisation, torch's names, bad input, long sequences.

The layer laws (shapes, central differences, the stack's member law, save/load, float32, the
summary row) are swept by tests/test_layer_laws.py over the registry; equality with torch is
tests/test_torch_parity_rnn.py. Here: what is particular to recurrent layers.
"""

import math
import pathlib
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.layers import backward, forward
from fnn.layers.recurrent import from_torch, to_torch
from fnn.testing import check_grads, random_params

KINDS = {"SimpleRNN": fnn.SimpleRNN, "GRU": fnn.GRU, "LSTM": fnn.LSTM}
CLOSE = {"rtol": 1e-11, "atol": 1e-13}  # float64: one sample alone runs products of other sizes


def vjp(node, x, g):
    """Output, parameter gradients (a node) and input gradient of one layer node for upstream g."""
    y, saved = forward(node, x, None, False)
    flat, unravel = fnn.tree.ravel(node)
    buf = np.full(flat.size, np.nan)  # writes_every_grad: every entry must be overwritten
    gx = backward(node, saved, g.copy(), unravel(buf), True)
    assert not np.isnan(buf).any()
    return y, unravel(buf), gx


def layer(kind, hidden, steps, d, seed=0, **options):
    spec = fnn.Sequential([KINDS[kind](hidden, **options)], in_shape=(steps, d), dtype=np.float64)
    return random_params(fnn.random.key(seed), spec).layers[0]


@st.composite
def padded_batches(draw):
    n, steps, d = draw(st.integers(1, 4)), draw(st.integers(1, 8)), draw(st.integers(1, 3))
    valid = np.array(draw(st.lists(st.lists(st.booleans(), min_size=steps, max_size=steps), min_size=n, max_size=n)))
    mask_value = draw(st.sampled_from([0.0, -1.0]))
    x = fnn.random.normal(fnn.random.key(draw(st.integers(0, 2**16))), (n, steps, d))
    x[~valid] = mask_value
    return x, valid, mask_value


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=30, deadline=None)
@given(
    batch=padded_batches(),
    hidden=st.integers(1, 4),
    sequences=st.booleans(),
    bidirectional=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_padded_steps_change_nothing_a_sequence_alone_gives(kind, batch, hidden, sequences, bidirectional, seed):
    """Padding anywhere (the steps whose features all equal mask_value) gives each sample's results alone:
    its output (zeros at padded steps), its share of the parameter gradients, and zero input
    gradient at padded steps. A sample that is padding throughout gives zeros and adds nothing."""
    x, valid, mask_value = batch
    n, steps, d = x.shape
    node = layer(
        kind, hidden, steps, d, seed, return_sequences=sequences, bidirectional=bidirectional, mask_value=mask_value
    )
    y, grads, gx = vjp(
        node, x, g := fnn.random.normal(fnn.random.key(seed + 1), forward(node, x, None, False)[0].shape)
    )
    total = fnn.tree.map(np.zeros_like, grads)
    for i in range(n):
        keep = valid[i]
        if not keep.any():
            assert not y[i].any() and not gx[i].any()
            continue
        g_alone = g[i, keep][None] if sequences else g[i][None]
        y_alone, grads_alone, gx_alone = vjp(node, x[i, keep][None], g_alone)
        np.testing.assert_allclose(y[i, keep] if sequences else y[i], y_alone[0], **CLOSE)
        if sequences:
            assert not y[i, ~keep].any()
        np.testing.assert_allclose(gx[i, keep], gx_alone[0], **CLOSE)
        assert not gx[i, ~keep].any()
        total = fnn.tree.map(np.add, total, grads_alone)
    for a, b in zip(fnn.tree.leaves(grads), fnn.tree.leaves(total), strict=True):
        np.testing.assert_allclose(a, b, **CLOSE)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_gradients_with_padding_equal_central_differences(kind, bidirectional):
    spec = fnn.Sequential(
        [KINDS[kind](3, return_sequences=True, bidirectional=bidirectional, mask_value=0.0), fnn.Dense(2)],
        in_shape=(6, 2),
        dtype=np.float64,
    )
    params = random_params(fnn.random.key(3), spec)
    x = fnn.random.normal(fnn.random.key(4), (3, 6, 2))
    x[0, 4:] = x[1, :2] = x[2, 2] = 0.0  # right, left and inner padding
    check_grads(params, (x, fnn.random.normal(fnn.random.key(5), (3, 6, 2))), loss="mse")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_stack_with_padding_is_each_network_bitwise(kind):
    spec = fnn.Sequential(
        [KINDS[kind](3, return_sequences=True, bidirectional=True, mask_value=0.0), fnn.Flatten(), fnn.Dense(2)],
        in_shape=(5, 2),
    )
    keys = fnn.random.split(fnn.random.key(0), 3)
    stack = fnn.init_many(keys, spec)
    x = fnn.random.normal(fnn.random.key(1), (4, 5, 2), dtype=np.float32)
    x[0, 3:] = x[1, :1] = x[3] = 0.0
    y = fnn.random.normal(fnn.random.key(2), (4, 2), dtype=np.float32)
    values, grads = fnn.value_and_grad(stack, (x, y), loss="mse")
    for k, key in enumerate(keys):
        value, g = fnn.value_and_grad(fnn.init(key, spec), (x, y), loss="mse")
        assert values[k] == value
        assert all(np.array_equal(a[k], b) for a, b in zip(fnn.tree.leaves(grads), fnn.tree.leaves(g), strict=True))


def test_the_reverse_direction_reads_each_sequence_from_its_own_last_step():
    node = layer("GRU", 2, 4, 1, bidirectional=True, return_sequences=True, mask_value=0.0)
    x = np.array([[[0.5], [-1.0], [0.0], [0.0]]])  # two steps, then padding
    y = forward(node, x, None, False)[0]
    alone = forward(node, x[:, :2], None, False)[0]
    np.testing.assert_allclose(y[0, :2], alone[0], rtol=1e-12)  # reverse state at t=1 has read x[1] only
    assert not y[0, 2:].any()


# ------------------------------------------------------------------ initialisation and torch's names


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_torch_default_init_draws_every_leaf_from_plus_minus_one_over_root_hidden(kind):
    p = fnn.init(fnn.random.key(0), fnn.Sequential([KINDS[kind](16, bidirectional=True)], in_shape=(3, 5)))
    leaves = fnn.tree.leaves(p)
    assert len(leaves) == 8
    assert all(np.abs(leaf).max() <= 0.25 for leaf in leaves)  # 1/√16
    drawn = np.concatenate([leaf.ravel() for leaf in leaves])
    assert drawn.min() < -0.24 and drawn.max() > 0.24 and abs(drawn.std() / (0.25 / math.sqrt(3)) - 1) < 0.1  # U(±¼)
    gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind]
    node = p.layers[0]
    assert (
        node.w_ih.shape == (5, gates * 16) and node.w_hh.shape == (16, gates * 16) and node.b_hh.shape == (gates * 16,)
    )
    assert fnn.tree.equal(
        p, fnn.init(fnn.random.key(0), fnn.Sequential([KINDS[kind](16, bidirectional=True)], in_shape=(3, 5)))
    )


def test_an_fnn_initializer_draws_the_weights_and_zeroes_the_biases():
    p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.LSTM(8, init="glorot_uniform")], in_shape=(3, 4)))
    node = p.layers[0]
    assert not node.b_ih.any() and not node.b_hh.any()
    assert np.abs(node.w_ih).max() <= math.sqrt(6 / (4 + 32)) and np.abs(node.w_hh).max() <= math.sqrt(6 / (8 + 32))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_to_torch_and_from_torch_round_trip_and_name_a_wrong_shape(kind):
    node = layer(kind, 3, 4, 2, bidirectional=True)
    named = to_torch(node)
    assert sorted(named) == sorted(
        f"{w}_{m}_l0{s}" for w in ("weight", "bias") for m in ("ih", "hh") for s in ("", "_reverse")
    )
    assert fnn.tree.equal(from_torch(node, named), node)
    wrong = dict(named, weight_ih_l0=np.zeros((7, 2)))
    with pytest.raises(ShapeError, match=r"weight_ih_l0 has shape \(7, 2\), this layer needs \(\d+, 2\)"):
        from_torch(node, wrong)
    with pytest.raises(ConfigError, match=r"missing \['bias_hh_l0_reverse'\]"):
        from_torch(node, {k: v for k, v in named.items() if k != "bias_hh_l0_reverse"})
    stack = fnn.stack(
        [fnn.init(fnn.random.key(s), fnn.Sequential([KINDS[kind](3)], in_shape=(4, 2))) for s in range(2)]
    )
    with pytest.raises(ConfigError, match="stack"):
        to_torch(stack.layers[0])


def test_summary_shows_the_recurrent_layers_with_torch_parameter_counts():
    spec = fnn.Sequential(
        [
            fnn.Embedding(20, 8),
            fnn.GRU(16, return_sequences=True, bidirectional=True, mask_value=0.0),
            fnn.LSTM(8),
            fnn.Reshape((8, 1)),
            fnn.SimpleRNN(4, activation="relu", return_sequences=True),
        ],
        in_shape=(12,),
    )
    rows = [line.split() for line in fnn.summary(fnn.init(fnn.random.key(0), spec)).splitlines()]
    by_name = {r[1]: r for r in rows if len(r) > 2 and r[0].isdigit()}
    assert by_name["GRU"][2:6] == ["(None,", "12,", "32)", "2,496"]  # 2 × 3·16·(8 + 16 + 2)
    assert " ".join(by_name["GRU"][6:]) == "sequences, bidirectional, mask 0"
    assert by_name["LSTM"][2:5] == ["(None,", "8)", "1,344"]  # 4·8·(32 + 8 + 2)
    assert by_name["SimpleRNN"][2:6] == ["(None,", "8,", "4)", "28"] and by_name["SimpleRNN"][6] == "relu,"


# ------------------------------------------------------------------ bad input


def test_a_flat_input_names_the_layer_and_the_sequence_shape_it_expects():
    with pytest.raises(
        ConfigError,
        match=r"layer 1 \(GRU\(4\)\): GRU\(4\) expects sequences: inputs of shape "
        r"\(n, T, d\), samples \(T, d\); got samples of shape \(5,\)",
    ):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(5), fnn.GRU(4)], in_dim=3))
    p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.LSTM(4)], in_shape=(6, 5)))
    with pytest.raises(
        ShapeError, match=r"layer 0 \(LSTM\(5→4\)\) expects samples of shape \(6, 5\): x of shape \(n, 6, 5\)"
    ):
        fnn.apply(p, np.ones((3, 5)))
    with pytest.raises(
        ShapeError, match=r"LSTM\(5→4\) expects inputs of shape \(n, T, d\), got an array of shape \(3, 5\)"
    ):
        forward(p.layers[0], np.ones((3, 5)), None, False)


def test_a_feature_width_that_differs_names_both():
    p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.GRU(4)], in_shape=(6, 5)))
    with pytest.raises(
        ShapeError, match=r"samples of shape \(6, 3\), but layer 0 \(GRU\(5→4\)\) expects samples of shape \(6, 5\)"
    ):
        fnn.apply(p, np.ones((2, 6, 3)))
    with pytest.raises(ShapeError, match=r"GRU\(5→4\): its inputs have 3 features per step, its weights take 5"):
        forward(p.layers[0], np.ones((2, 6, 3)), None, False)


def test_nan_inputs_raise_the_usual_error():
    p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.SimpleRNN(4, mask_value=0.0)], in_shape=(6, 2)))
    x = np.ones((3, 6, 2))
    x[2, 4, 1] = np.nan
    with pytest.raises(NonFiniteError, match=r"x contains NaN or infinity \(first at index \(2, 4, 1\)\)"):
        fnn.apply(p, x)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: fnn.GRU(0), "GRU hidden must be an integer ≥ 1, got 0"),
        (lambda: fnn.LSTM(2.5), r"LSTM hidden must be an integer ≥ 1, got 2.5"),
        (lambda: fnn.GRU(3, mask_value=float("nan")), "GRU mask_value must be a finite number"),
        (lambda: fnn.LSTM(3, bidirectional="yes"), "LSTM bidirectional must be True or False, got 'yes'"),
        (lambda: fnn.SimpleRNN(3, return_sequences=1), "SimpleRNN return_sequences must be True or False, got 1"),
        (lambda: fnn.SimpleRNN(3, activation="sigmoid"), "SimpleRNN activation must be 'tanh' or 'relu'"),
        (lambda: fnn.GRU(3, init="orthogonal"), "GRU init must be 'torch' .* unknown initializer 'orthogonal'"),
    ],
)
def test_bad_settings_name_the_layer_and_what_it_takes(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_a_misspelt_setting_fails():
    with pytest.raises(TypeError, match="bidirectonal"):
        fnn.GRU(3, bidirectonal=True)


def test_a_sequence_that_is_padding_throughout_outputs_zeros():
    p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.LSTM(3, bidirectional=True, mask_value=0.0)], in_shape=(4, 2)))
    x = np.ones((2, 4, 2))
    x[1] = 0.0
    y = fnn.apply(p, x)
    assert not y[1].any() and y[0].all()


# ------------------------------------------------------------------ long sequences


def peak_bytes(kind, steps, n=4, d=3, hidden=8):
    spec = fnn.Sequential(
        [KINDS[kind](hidden, return_sequences=True, bidirectional=True), fnn.Dense(1)],
        in_shape=(steps, d),
        dtype=np.float64,
    )
    params = fnn.init(fnn.random.key(0), spec)
    x = fnn.random.normal(fnn.random.key(1), (n, steps, d))
    y = fnn.random.normal(fnn.random.key(2), (n, steps, 1))
    tracemalloc.start()
    try:
        value, grads = fnn.value_and_grad(params, (x, y), loss="mse")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(value) and all(np.isfinite(g).all() for g in fnn.tree.leaves(grads))
    return peak


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_thousand_steps_backpropagate_in_memory_linear_in_the_steps(kind):
    """Backpropagation through 1,000 steps keeps O(n·T·hidden) numbers: at most 40 per unit and
    step (the states, the gates, their gradients), and twice the steps take about twice the memory."""
    n, hidden, d = 4, 8, 3
    long, short = peak_bytes(kind, 1000), peak_bytes(kind, 500)
    per_step = n * 2 * hidden * 8  # bytes of one step's states, both directions, float64
    assert long <= 40 * per_step * 1000 + 16 * n * d * 8 * 1000
    assert long / short < 2.2


def test_the_benchmark_runs_and_checks_that_fnn_and_torch_compute_the_same_loss():
    root = pathlib.Path(__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "benchmarks/rnn.py", "--quick"], cwd=root, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "fnn and torch agree on the first loss" in done.stderr
    assert (
        "| (a) GRU(64)" in done.stdout
        and "| (b) bidirectional GRU(6)" in done.stdout
        and "| (c) LSTM(64)" in done.stdout
    )
    assert "| GRU, bidirectional |" in done.stdout  # the per-step cost
