"""Stacks of K networks (fnn.stack, fnn.unstack, fnn.init_many): member k of anything stacked is,
bit for bit, the same thing done to network k alone.

Gradients of stacks are not checked against finite differences here: the law below makes each
member's gradient bitwise the single network's, which tests/test_backprop.py checks.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, NonFiniteError
from fnn.layers.dropout import mask
from fnn.testing import LOSS_OUTPUTS, batches, random_params, specs

DTYPES = [np.float64, np.float32]


def cast(tree, dtype):
    return fnn.tree.pack(fnn.tree.map(lambda a: np.asarray(a).astype(dtype), tree))


@st.composite
def stacked_problems(draw, dropout=False):
    """(loss name, K member params, batch, dtype): members of one random spec, each from its own seed."""
    loss = draw(st.sampled_from(sorted(LOSS_OUTPUTS)))
    spec = draw(specs(max_depth=3, max_width=12, outputs=LOSS_OUTPUTS[loss], dropout=dropout))
    assume(spec.layers[-1].name != "softmax" or spec.layers[-2].units > 1)  # a softmax over one output is refused
    k = draw(st.integers(1, 5))
    seeds = draw(st.lists(st.integers(0, 2**32 - 1), min_size=k, max_size=k))
    dtype = draw(st.sampled_from(DTYPES))
    members = [cast(random_params(fnn.random.key(s), spec, std=0.5), dtype) for s in seeds]
    x, y = draw(batches(spec, loss, max_batch=40))
    return loss, members, (x.astype(dtype), y), dtype


def leaves_equal_member(stacked_tree, k, single_tree):
    return all(
        np.array_equal(a[k], b)
        for a, b in zip(fnn.tree.leaves(stacked_tree), fnn.tree.leaves(single_tree), strict=True)
    )


# ---------------------------------------------------------------- building stacks


@settings(max_examples=40)
@given(specs(max_depth=3, dropout=True), st.integers(1, 6), st.sampled_from(DTYPES))
def test_stack_unstack_round_trip_and_init_many(spec, k, dtype):
    spec = fnn.Sequential(spec.layers, in_dim=spec.in_dim, dtype=dtype)
    keys = fnn.random.split(fnn.random.key(k), k)
    singles = [fnn.init(key, spec) for key in keys]
    stacked = fnn.init_many(keys, spec)
    assert fnn.tree.equal(stacked, fnn.stack(singles))
    assert stacked.members == k and stacked.dtype == np.dtype(dtype)
    for leaf, single in zip(fnn.tree.leaves(stacked), fnn.tree.leaves(singles[0]), strict=True):
        assert leaf.shape == (k, *single.shape) and not leaf.flags.writeable
    flat, _ = fnn.tree.ravel(stacked)  # one buffer: ravel is free
    assert all(np.shares_memory(flat, leaf) for leaf in fnn.tree.leaves(stacked))
    back = fnn.unstack(stacked)
    assert len(back) == k and all(fnn.tree.equal(a, b) for a, b in zip(back, singles, strict=True))
    assert fnn.tree.equal(fnn.stack(back), stacked)
    assert all(p.members is None for p in back)


def test_stack_leaves_its_inputs_alone_and_owns_its_buffer():
    singles = [fnn.init(fnn.random.key(s), fnn.mlp([3, 4, 2])) for s in range(3)]
    before = [fnn.tree.map(np.copy, p) for p in singles]
    stacked = fnn.stack(singles)
    assert all(fnn.tree.equal(a, b) for a, b in zip(singles, before, strict=True))
    assert not any(np.shares_memory(fnn.tree.ravel(stacked)[0], fnn.tree.ravel(p)[0]) for p in singles)


def test_stack_refuses_bad_input_naming_the_problem():
    p = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    with pytest.raises(ConfigError, match="empty"):
        fnn.stack([])
    with pytest.raises(ConfigError, match="single one"):
        fnn.stack(p)
    with pytest.raises(ConfigError, match="item 1 is a ndarray"):
        fnn.stack([p, np.zeros(3)])
    with pytest.raises(ConfigError, match="item 1 differs from item 0: another structure"):
        fnn.stack([p, fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], hidden="tanh"))])
    with pytest.raises(ConfigError, match=r"item 1 differs from item 0: the leaf .*layers\[0\]\.w is \(3, 5\)"):
        fnn.stack([p, fnn.init(fnn.random.key(0), fnn.mlp([3, 5, 2]))])
    with pytest.raises(ConfigError, match="float64"):
        fnn.stack([p, fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], dtype=np.float64))])
    with pytest.raises(ConfigError, match="already a stack"):
        fnn.stack([fnn.stack([p])])
    with pytest.raises(ConfigError, match="params of one network"):
        fnn.unstack(p)
    with pytest.raises(ConfigError, match="sequence of keys"):
        fnn.init_many(fnn.random.key(0), fnn.mlp([3, 2]))
    with pytest.raises(ConfigError, match=r"keys\[1\]"):
        fnn.init_many([fnn.random.key(0), 1], fnn.mlp([3, 2]))


def test_a_stack_needs_a_leading_member_axis_on_every_leaf():
    p = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    with pytest.raises(ConfigError, match="leading axis of size 4"):
        fnn.layers.SequentialParams(p.layers, in_dim=3, members=4)
    with pytest.raises(ConfigError, match="members must be an integer"):
        fnn.layers.SequentialParams(p.layers, in_dim=3, members=0)


def test_user_layers_cannot_be_stacked():
    import attrs

    @fnn.tree.register
    @attrs.frozen
    class Scale:
        s: np.ndarray

    p = fnn.init(fnn.random.key(0), fnn.mlp([2, 2]))
    custom = fnn.layers.SequentialParams((*p.layers, Scale(np.ones(2, np.float32))), in_dim=2)
    with pytest.raises(ConfigError, match="cannot be stacked"):
        fnn.stack([custom, custom])


# ---------------------------------------------------------------- the law, one step


@settings(max_examples=150, deadline=None)
@given(stacked_problems(), st.sampled_from([0.0, 0.25]))
def test_member_k_of_value_and_grad_is_network_k_bitwise(problem, l2):
    loss, members, batch, dtype = problem
    stacked = fnn.stack(members)
    value, grads = fnn.value_and_grad(stacked, batch, loss=loss, l2=l2)
    assert value.shape == (len(members),) and value.dtype == dtype
    assert grads.members == len(members) and all(g.dtype == dtype for g in fnn.tree.leaves(grads))
    out = fnn.apply(stacked, batch[0])
    assert out.shape == (len(members), *fnn.apply(members[0], batch[0]).shape)
    for k, p in enumerate(members):
        v, g = fnn.value_and_grad(p, batch, loss=loss, l2=l2)
        assert value[k] == v or (np.isnan(value[k]) and np.isnan(v))
        assert leaves_equal_member(grads, k, g)
        assert np.array_equal(out[k], fnn.apply(p, batch[0]))


@pytest.mark.parametrize(
    "name", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamax", "nadam", "adamw"]
)
def test_grad_then_opt_step_on_a_stack_is_each_networks_own_step(name):
    keys = fnn.random.split(fnn.random.key(0), 3)
    spec = fnn.mlp([5, 6, 3], dtype=np.float64)
    x, y = fnn.random.normal(fnn.random.key(1), (9, 5)), np.arange(9) % 3
    opt = fnn.optim.get(name, lr=0.05)
    state = fnn.TrainState.create(fnn.init_many(keys, spec), opt, key=fnn.random.key(2))
    for _ in range(3):
        state = fnn.opt_step(state, fnn.grad(state.params, (x, y), loss="cross_entropy", l2=0.01))
    for k, key in enumerate(keys):
        single = fnn.TrainState.create(fnn.init(key, spec), opt, key=fnn.random.key(2))
        for _ in range(3):
            single = fnn.opt_step(single, fnn.grad(single.params, (x, y), loss="cross_entropy", l2=0.01))
        assert fnn.tree.equal(fnn.unstack(state.params)[k], single.params)


def test_a_custom_loss_sees_one_member_at_a_time():
    seen = []

    def half_mse(y_hat, y):
        seen.append(y_hat.shape)
        d = y_hat - y
        return 0.5 * float(np.mean(d * d)), d / d.size

    keys = fnn.random.split(fnn.random.key(0), 3)
    spec = fnn.mlp([4, 5, 2], output=None, dtype=np.float64)
    x, y = fnn.random.normal(fnn.random.key(1), (7, 4)), fnn.random.normal(fnn.random.key(2), (7, 2))
    value, grads = fnn.value_and_grad(fnn.init_many(keys, spec), (x, y), loss=half_mse)
    assert seen == [(7, 2)] * 3
    for k, key in enumerate(keys):
        v, g = fnn.value_and_grad(fnn.init(key, spec), (x, y), loss=half_mse)
        assert value[k] == v and leaves_equal_member(grads, k, g)


def test_predict_gives_each_members_labels():
    keys = fnn.random.split(fnn.random.key(0), 4)
    spec = fnn.mlp([3, 6, 3])
    x = fnn.random.normal(fnn.random.key(1), (9, 3))
    labels = fnn.predict(fnn.init_many(keys, spec), x)
    assert labels.shape == (4, 9)
    assert all(np.array_equal(labels[k], fnn.predict(fnn.init(key, spec), x)) for k, key in enumerate(keys))
    assert fnn.predict_proba(fnn.init_many(keys, spec), x).shape == (4, 9, 3)


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("first", ["dense", "dropout"])
def test_member_k_draws_its_dropout_masks_from_fold_in_of_the_layer_key(first):
    key = fnn.random.key(5)
    layers = [fnn.Dense(6), fnn.Activation("relu"), fnn.Dropout(0.5)]
    if first == "dropout":
        layers = [fnn.Dropout(0.5), *layers]
    spec = fnn.Sequential(layers, in_dim=4, dtype=np.float64)
    at = len(layers) - 1  # the index of the last Dropout: its layer key is fold_in(key, at)
    members = [fnn.init(k, spec) for k in fnn.random.split(fnn.random.key(0), 3)]
    x = fnn.random.normal(fnn.random.key(1), (8, 4)) + 3.0  # positive: relu keeps every unit
    out = fnn.apply(fnn.stack(members), x, train=True, key=key)
    masks = []
    for k, p in enumerate(members):
        h = x
        if first == "dropout":
            h = h * mask(fnn.random.fold_in(fnn.random.fold_in(key, 0), k), 0.5, x.shape, x.dtype)
        h = np.maximum(h @ p.layers[-3].w + p.layers[-3].b, 0)
        m = mask(fnn.random.fold_in(fnn.random.fold_in(key, at), k), 0.5, h.shape, h.dtype)
        np.testing.assert_array_equal(out[k], h * m)
        masks.append(m)
    assert not np.array_equal(masks[0], masks[1])  # each member its own masks


def test_training_with_dropout_draws_masks_per_member_and_stays_reproducible():
    data = digits_subset()
    spec = fnn.mlp([64, 16, 10], dropout=0.3, dtype=np.float64)
    state = fnn.TrainState.create(
        fnn.init_many(fnn.random.split(fnn.random.key(0), 2), spec), fnn.optim.sgd(0.1), key=fnn.random.key(1)
    )
    a, _ = fnn.train_epoch(state, data, batch_size=50, loss="cross_entropy")
    b, _ = fnn.train_epoch(state, data, batch_size=50, loss="cross_entropy")
    assert fnn.tree.equal(a, b)
    # the same initial params in both members: only their masks differ, so they drift apart
    same = fnn.stack([fnn.init(fnn.random.key(0), spec)] * 2)
    c, _ = fnn.train_epoch(
        fnn.TrainState.create(same, fnn.optim.sgd(0.1), key=fnn.random.key(1)),
        data,
        batch_size=50,
        loss="cross_entropy",
    )
    w = c.params.layers[0].w
    assert not np.array_equal(w[0], w[1])


# ---------------------------------------------------------------- the law, whole runs


def digits_subset(n=300, dtype=np.float64):
    from fnn.data import load_digits

    x, y = load_digits()
    return x[:n].astype(dtype), y[:n]


OPTIMIZERS = {
    "adam": lambda: fnn.optim.adam(1e-2),
    "adam_numba": lambda: fnn.optim.adam(1e-2, backend="numba"),
    "rmsprop": lambda: fnn.optim.rmsprop(1e-2, momentum=0.5, centered=True),
    "nesterov_schedule": lambda: fnn.optim.nesterov(fnn.optim.schedules.cosine_decay(0.1, 40)),
    "adamw_chain": lambda: fnn.optim.chain(fnn.optim.clip_by_value(0.5), fnn.optim.adamw(1e-2)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_member_k_of_a_stacked_fit_is_the_fit_of_network_k_bitwise(dtype, opt):
    if opt == "adam_numba":
        pytest.importorskip("numba", reason="the numba backend is the fast extra")
    data = digits_subset(dtype=dtype)
    spec = fnn.mlp([64, 24, 10], dtype=dtype)
    keys = fnn.random.split(fnn.random.key(3), 4)
    rule = fnn.EarlyStopping("val_loss", patience=1)
    kw = dict(epochs=7, batch_size=32, loss="cross_entropy", l2=1e-3, validation=0.2, early_stopping=rule, verbose=0)
    stacked, history = fnn.fit(
        fnn.TrainState.create(fnn.init_many(keys, spec), OPTIMIZERS[opt](), key=fnn.random.key(4)), data, **kw
    )
    assert history["time"].shape == (len(history["time"]),)
    lengths = []
    for k, key in enumerate(keys):
        single, h = fnn.fit(
            fnn.TrainState.create(fnn.init(key, spec), OPTIMIZERS[opt](), key=fnn.random.key(4)), data, **kw
        )
        assert fnn.tree.equal(fnn.unstack(stacked.params)[k], single.params)
        n = len(h["loss"])
        lengths.append(n)
        for name, values in h.items():
            if name != "time":
                assert history[name].shape == (len(history["time"]), len(keys))
                np.testing.assert_array_equal(history[name][:n, k], values)  # bitwise: NaN-free here
                assert np.isnan(history[name][n:, k]).all()  # stopped members leave NaN behind
    assert len(history["time"]) == max(lengths)
    if opt == "rmsprop":  # this run has members stopping at different epochs (NaN-padded above)
        assert len(set(lengths)) > 1


def test_stacked_train_epoch_reports_per_member_losses_like_single_runs():
    data = digits_subset(dtype=np.float32)
    spec = fnn.mlp([64, 16, 10])
    keys = fnn.random.split(fnn.random.key(0), 3)
    s, m = fnn.train_epoch(
        fnn.TrainState.create(fnn.init_many(keys, spec), fnn.optim.adam(), key=fnn.random.key(1)),
        data,
        batch_size=64,
        loss="cross_entropy",
    )
    assert m["step_loss"].shape == (5, 3) and m["loss"].shape == (3,)
    assert s.params.dtype == np.float32 and all(
        a.dtype == np.float32 for a in fnn.tree.leaves(s.opt_state) if isinstance(a, np.ndarray) and a.ndim
    )
    for k, key in enumerate(keys):
        _, m1 = fnn.train_epoch(
            fnn.TrainState.create(fnn.init(key, spec), fnn.optim.adam(), key=fnn.random.key(1)),
            data,
            batch_size=64,
            loss="cross_entropy",
        )
        assert np.array_equal(m["step_loss"][:, k], m1["step_loss"]) and m["loss"][k] == m1["loss"]


def test_clip_by_global_norm_is_refused_for_stacks():
    stacked = fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([3, 2]))
    opt = fnn.optim.chain(fnn.optim.clip_by_global_norm(1.0), fnn.optim.sgd(0.1))
    with pytest.raises(ConfigError, match="ClipByGlobalNorm .* mix the members"):
        fnn.TrainState.create(stacked, opt, key=fnn.random.key(0))
    # the same optimizer trains one network
    fnn.TrainState.create(fnn.unstack(stacked)[0], opt, key=fnn.random.key(0))


def test_minimize_refuses_a_stack():
    pytest.importorskip("scipy")
    stacked = fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([3, 2]))
    with pytest.raises(ConfigError, match="minimize each of fnn.unstack"):
        fnn.minimize(stacked, (np.ones((4, 3)), np.zeros(4, int)), loss="cross_entropy")


def test_a_nan_member_raises_naming_it_with_the_last_finite_state():
    x = np.ones((4, 2))
    y = np.zeros((4, 1))
    members = [fnn.init(fnn.random.key(s), fnn.mlp([2, 1], output=None, dtype=np.float64)) for s in range(3)]
    state = fnn.TrainState.create(fnn.stack(members), fnn.optim.sgd(1e200), key=fnn.random.key(0))
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError, match=r"members \[") as info:
        fnn.fit(state, (x, y), epochs=5, batch_size=2, loss="mse", verbose=0)
    assert np.isfinite(fnn.tree.ravel(info.value.state.params)[0]).all()


def test_fit_prints_the_mean_over_members(capsys):
    data = digits_subset(100)
    state = fnn.TrainState.create(
        fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([64, 8, 10], dtype=np.float64)),
        fnn.optim.adam(1e-2),
        key=fnn.random.key(1),
    )
    fnn.fit(state, data, epochs=1, batch_size=50, loss="cross_entropy", verbose=2)
    assert "(mean of 3)" in capsys.readouterr().out


# ---------------------------------------------------------------- files and crash-resume


def test_save_and_load_a_stack(tmp_path):
    stacked = fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([4, 5, 2]))
    fnn.save(tmp_path / "s.npz", stacked)
    back = fnn.load(tmp_path / "s.npz")
    assert back.members == 3 and fnn.tree.equal(back, stacked)


def test_a_stacked_run_resumed_from_any_checkpoint_ends_bitwise_equal(tmp_path):
    data = digits_subset(200)
    spec = fnn.mlp([64, 12, 10], dtype=np.float64)
    start = fnn.TrainState.create(
        fnn.init_many(fnn.random.split(fnn.random.key(0), 3), spec), fnn.optim.adam(1e-2), key=fnn.random.key(1)
    )
    kw = dict(
        batch_size=32,
        loss="cross_entropy",
        validation=0.25,
        verbose=0,
        early_stopping=fnn.EarlyStopping("val_accuracy", patience=2),
    )
    whole, history = fnn.fit(start, data, epochs=6, **kw)
    fnn.fit(start, data, epochs=6, checkpoint=tmp_path / "run", checkpoint_every=4, **kw)
    checkpoints = fnn.io.list_checkpoints(tmp_path / "run")
    assert len(checkpoints) == fnn.resume.KEEP
    for step, path in checkpoints[:1]:  # the older kept one: resume from the middle of the run
        d = tmp_path / f"from{step}"
        d.mkdir()
        (d / path.name).write_bytes(path.read_bytes())
        resumed, h = fnn.fit(start, data, epochs=6, resume=d, **kw)
        assert fnn.tree.equal(resumed, whole)
        assert all(np.array_equal(h[k], history[k], equal_nan=True) for k in history if k != "time")
