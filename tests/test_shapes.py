"""The engine on per-sample shapes: inputs (n, *in_shape), explicit stacks, bad input named.

The registry laws (tests/test_layer_laws.py) check every layer on random shapes; this file
states the engine's own rules: what a shape means, what can never be mistaken for a stack,
what an error names, and that nothing the training loop hands out changes afterwards.
"""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, DtypeError, ShapeError
from fnn.testing import random_params
from fnn.train import TrainState, _prepare, _run_epoch

SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)


# ---------------------------------------------------------------- shapes


def test_in_dim_means_a_flat_in_shape():
    a = fnn.Sequential([fnn.Dense(3)], in_dim=4)
    b = fnn.Sequential([fnn.Dense(3)], in_shape=(4,))
    assert a == b and a.in_shape == (4,) and b.in_dim == 4
    assert fnn.tree.equal(fnn.init(fnn.random.key(0), a), fnn.init(fnn.random.key(0), b))
    with pytest.raises(ConfigError, match=r"in_dim=4 and in_shape=\(5,\)"):
        fnn.Sequential([fnn.Dense(3)], in_dim=4, in_shape=(5,))
    with pytest.raises(ConfigError, match="in_shape"):
        fnn.Sequential([fnn.Dense(3)], in_shape=(4, 0))


@settings(max_examples=40, deadline=None)
@given(SHAPES, st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**16))
def test_dense_on_samples_of_any_rank_acts_on_the_last_axis_at_every_position(in_shape, units, n, seed):
    spec = fnn.Sequential([fnn.Dense(units), fnn.Activation("tanh")], in_shape=in_shape, dtype=np.float64)
    params = random_params(fnn.random.key(seed), spec)
    x = fnn.random.normal(fnn.random.key(seed + 1), (n, *in_shape))
    flat = fnn.init(fnn.random.key(0), fnn.Sequential(spec.layers, in_dim=in_shape[-1], dtype=np.float64))
    flat = fnn.tree.unflatten(fnn.tree.structure(flat), fnn.tree.leaves(params))
    y = fnn.apply(params, x)
    assert y.shape == (n, *in_shape[:-1], units) == fnn.output_shape(spec, batch=n)
    assert np.allclose(y.reshape(-1, units), fnn.apply(flat, x.reshape(-1, in_shape[-1])), rtol=1e-13, atol=1e-15)


def test_initializers_draw_from_the_fans_of_the_whole_kernel():
    w = fnn.initializers.get("he_normal")(fnn.random.key(0), (5, 5, 16, 32), np.float64)
    assert abs(w.std() / np.sqrt(2 / (5 * 5 * 16)) - 1) < 0.02  # fan_in = kh·kw·in, as PyTorch and JAX
    g = fnn.initializers.get("glorot_uniform")(fnn.random.key(1), (3, 64, 48), np.float64)
    assert abs(g.std() / np.sqrt(2 / (3 * 64 + 3 * 48)) - 1) < 0.03
    assert fnn.initializers.fans((16, 8, 3), in_axis=1, out_axis=0) == (24, 48)


# ---------------------------------------------------------------- never mistaken for a stack


def test_a_sequence_batch_given_to_one_network_is_data_never_a_stack():
    params = fnn.init(
        fnn.random.key(0),
        fnn.Sequential([fnn.Dense(4), fnn.Dropout(0.5), fnn.Dense(2)], in_shape=(7, 3), dtype=np.float64),
    )
    x = fnn.random.normal(fnn.random.key(1), (10, 7, 3))
    y = fnn.random.normal(fnn.random.key(2), (10, 7, 2))
    value, g = fnn.value_and_grad(params, (x, y), loss="mse", key=fnn.random.key(3))
    assert np.ndim(value) == 0  # one network, one loss
    assert fnn.losses.mse(fnn.apply(params, x), y).shape == ()
    h = fnn.apply(params, x, train=True, key=fnn.random.key(3))
    assert h.shape == (10, 7, 2)


def test_cross_entropy_on_sequence_outputs_averages_every_position():
    logits = fnn.random.normal(fnn.random.key(0), (4, 6, 5))
    labels = fnn.random.generator(fnn.random.key(1)).integers(0, 5, (4, 6))
    p = fnn.layers.activations.softmax(logits)
    rows = fnn.losses.cross_entropy(p.reshape(-1, 5), labels.reshape(-1))
    assert np.isclose(fnn.losses.cross_entropy(p, labels), rows, rtol=1e-14)
    assert np.isclose(fnn.losses.cross_entropy(p, np.eye(5)[labels]), rows, rtol=1e-14)
    with pytest.raises(ShapeError, match=r"class labels of shape \(4, 6\)"):
        fnn.losses.cross_entropy(p, labels[:, :5])


def test_a_stack_of_sequence_networks_is_each_network_bitwise():
    spec = fnn.Sequential(
        [fnn.Dense(5), fnn.LayerNorm(), fnn.Activation("relu"), fnn.Flatten(), fnn.Dense(3), fnn.Activation("softmax")],
        in_shape=(6, 4),
    )
    keys = fnn.random.split(fnn.random.key(0), 3)
    stack = fnn.init_many(keys, spec)
    x = fnn.random.normal(fnn.random.key(1), (9, 6, 4)).astype(np.float32)
    y = np.arange(9) % 3
    out = fnn.apply(stack, x)
    assert out.shape == (3, 9, 3)
    state = fnn.TrainState.create(stack, fnn.optim.adam(1e-2), key=fnn.random.key(2))
    state, _ = fnn.fit(state, (x, y), epochs=2, batch_size=4, loss="cross_entropy", verbose=0)
    for k, key in enumerate(keys):
        alone = fnn.TrainState.create(fnn.init(key, spec), fnn.optim.adam(1e-2), key=fnn.random.key(2))
        alone, _ = fnn.fit(alone, (x, y), epochs=2, batch_size=4, loss="cross_entropy", verbose=0)
        assert fnn.tree.equal(fnn.stacked.member(state.params, k), alone.params)


# ---------------------------------------------------------------- bad input names what and where


def test_a_wrong_sample_shape_names_the_layer_and_both_shapes():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(4)], in_shape=(7, 3)))
    with pytest.raises(
        ShapeError, match=r"samples of shape \(7, 4\).*layer 0 \(Dense\(3→4\)\) expects samples of shape \(7, 3\)"
    ):
        fnn.apply(params, np.zeros((2, 7, 4)))
    with pytest.raises(ShapeError, match=r"for one sample use x\[None\]"):
        fnn.apply(params, np.zeros((7, 3)))


def test_a_chain_that_does_not_fit_names_the_layer_its_index_and_the_shapes():
    message = (
        r"layer 1 \(Reshape\(\(4, 4\)\)\): Reshape\(4, 4\) needs samples of 16 elements, got samples of shape \(3, 5\)"
    )
    with pytest.raises(ConfigError, match=message):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(5), fnn.Reshape((4, 4))], in_shape=(3, 2)))


def test_a_residual_block_that_changes_the_shape_is_refused_with_both_shapes():
    with pytest.raises(
        ConfigError, match=r"layer 1 \(Residual\(Sequential\(1 layers\)\)\).*turns samples of shape \(8,\) into \(5,\)"
    ):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(8), fnn.Residual([fnn.Dense(5)])], in_dim=3))


def test_concat_branches_that_do_not_fit_say_which_branch():
    with pytest.raises(
        ConfigError, match=r"Concat branch 1 outputs samples of shape \(2, 3\), branch 0 of shape \(3, 2\)"
    ):
        fnn.init(
            fnn.random.key(0),
            fnn.Sequential([fnn.Concat([fnn.Dense(2), [fnn.Reshape((2, 3))]], axis=-1)], in_shape=(3, 2)),
        )
    with pytest.raises(
        ConfigError, match=r"Concat branch 1 \(Reshape\(\(4, 4\)\)\): Reshape\(4, 4\) needs samples of 16"
    ):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Concat([fnn.Dense(2), fnn.Reshape((4, 4))])], in_dim=3))
    with pytest.raises(ConfigError, match=r"Concat: axis must be an integer in \[-1, 0\] for samples of rank 1, got 1"):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Concat([fnn.Dense(2), fnn.Dense(2)], axis=1)], in_dim=3))
    with pytest.raises(ConfigError, match="Parallel branch 1 outputs samples of shape"):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Parallel([fnn.Dense(2), fnn.Dense(3)])], in_dim=3))


def test_embedding_ids_out_of_range_or_float_are_errors_naming_the_layer_range_and_worst_id():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Embedding(10, 3)], in_shape=(4,)))
    with pytest.raises(ConfigError, match=r"Embedding\(10, 3\): ids must lie in \[0, 9\], got 12"):
        fnn.apply(params, np.array([[1, 12, 3, 11]]))
    with pytest.raises(ConfigError, match=r"ids must lie in \[0, 9\], got -1"):
        fnn.apply(params, np.array([[1, -1, 3, 11]]))
    with pytest.raises(DtypeError, match=r"layer 0 \(Embedding\(10, 3\)\) takes integer ids, got x of dtype float64"):
        fnn.apply(params, np.array([[1.0, 2.0, 3.0, 4.0]]))
    ids = np.array([[1, 2, 3, 4]], dtype=np.int16)
    assert fnn.apply(params, ids).dtype == np.float32  # integers are looked up, never cast


def test_embedding_gradient_adds_every_occurrence_of_an_id():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Embedding(4, 2)], in_shape=(5,), dtype=np.float64))
    ids = np.array([[1, 1, 3, 1, 0]])
    g = fnn.grad(params, (ids, np.zeros((1, 5, 2))), loss="mse")
    out = fnn.apply(params, ids)
    expected = np.zeros((4, 2))
    for i, j in enumerate(ids[0]):
        expected[j] += 2 * out[0, i] / out.size
    assert np.allclose(g.layers[0].table, expected, rtol=1e-15)


# ---------------------------------------------------------------- nothing handed out changes afterwards


def _snapshot(state):
    return copy.deepcopy([np.array(a) for a in fnn.tree.leaves((state.params, state.opt_state))])


def _unchanged(state, snapshot):
    return all(
        np.array_equal(a, b) for a, b in zip(fnn.tree.leaves((state.params, state.opt_state)), snapshot, strict=True)
    )


@pytest.mark.parametrize("batchnorm", [False, True])
@pytest.mark.parametrize("optimizer", [fnn.optim.adam(1e-2), fnn.optim.sgd(0.1), fnn.optim.momentum(0.1)])
def test_every_state_a_per_step_hook_receives_is_unchanged_when_the_epoch_ends(optimizer, batchnorm):
    x = fnn.random.normal(fnn.random.key(0), (64, 4)).astype(np.float32)
    y = np.arange(64) % 3
    spec = fnn.mlp([4, 8, 3])
    if batchnorm:  # running statistics live in buffers of their own: they must not change afterwards either
        spec = fnn.Sequential([spec.layers[0], fnn.BatchNorm(), *spec.layers[1:]], in_dim=4)
    state = TrainState.create(fnn.init(fnn.random.key(1), spec), optimizer, key=fnn.random.key(2))
    seen = []
    problem = _prepare(state, (x, y), fnn.losses.cross_entropy, 0.0, "test")
    _run_epoch(state, problem, 4, True, False, every=1, hook=lambda s, losses: seen.append((s, _snapshot(s))))
    assert len(seen) == 16
    assert all(_unchanged(s, snap) for s, snap in seen)


def test_every_state_a_callback_receives_is_unchanged_when_fit_returns():
    x = fnn.random.normal(fnn.random.key(0), (64, 4)).astype(np.float32)
    y = np.arange(64) % 3
    state = TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 3])), fnn.optim.adam(1e-2), key=fnn.random.key(2)
    )
    seen = []
    fnn.fit(
        state,
        (x, y),
        epochs=5,
        batch_size=4,
        loss="cross_entropy",
        verbose=0,
        callbacks=[lambda epoch, s, logs: seen.append((s, _snapshot(s)))],
    )
    assert len(seen) == 5 and all(_unchanged(s, snap) for s, snap in seen)
