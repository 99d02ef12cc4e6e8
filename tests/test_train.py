"""Laws of the training fold: purity, train_epoch = the explicit loop, fit 2+2 = fit 4, batches partition."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.train import DROPOUT, SHUFFLE


def blob(tree):
    return hashlib.sha256(b"".join(np.ascontiguousarray(leaf).tobytes() for leaf in fnn.tree.leaves(tree))).hexdigest()


def problem(seed=0, n=50, dropout=0.0, dtype=np.float32):
    k = fnn.random.key(seed)
    x = fnn.random.normal(fnn.random.fold_in(k, 1), (n, 5), dtype=dtype)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    params = fnn.init(fnn.random.fold_in(k, 2), fnn.mlp([5, 8, 3], dropout=dropout, dtype=dtype))
    return params, x, y


OPTIMIZERS = [
    fnn.optim.sgd(0.1),
    fnn.optim.momentum(0.05),
    fnn.optim.adam(0.01),
    fnn.optim.rmsprop(0.01),
    fnn.optim.adamw(0.01, amsgrad=True),
]


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1), st.integers(1, 50), st.sampled_from(OPTIMIZERS), st.booleans(), st.booleans())
def test_train_epoch_equals_explicit_loop(seed, batch_size, opt, dropout, drop_last):
    params, x, y = problem(seed, dropout=0.3 if dropout else 0.0)
    state = fnn.TrainState.create(params, opt, key=fnn.random.key(seed))
    state = fnn.opt_step(state, fnn.grad(params, (x, y), loss="cross_entropy", train=False))  # start at step 1, not 0
    folded, metrics = fnn.train_epoch(
        state, (x, y), batch_size=batch_size, loss="cross_entropy", l2=0.01, drop_last=drop_last
    )
    # the same epoch, by hand: the permutation and dropout keys are derived from (key, step)
    perm_key = fnn.random.fold_in(fnn.random.fold_in(state.key, SHUFFLE), state.step)
    manual, losses = state, []
    for xb, yb in fnn.batches(perm_key, (x, y), batch_size, drop_last=drop_last):
        key = fnn.random.fold_in(fnn.random.fold_in(state.key, DROPOUT), manual.step) if dropout else None
        value, g = fnn.value_and_grad(manual.params, (xb, yb), loss="cross_entropy", l2=0.01, key=key)
        losses.append(value)
        manual = fnn.opt_step(manual, g)
    fnn.tree.assert_equal(folded, manual)
    assert folded.step == manual.step and np.array_equal(metrics["step_loss"], np.array(losses, np.float64))


@settings(max_examples=10)
@given(st.integers(0, 2**32 - 1), st.sampled_from(OPTIMIZERS))
def test_fit_4_equals_fit_2_then_2(seed, opt):
    params, x, y = problem(seed, dropout=0.2)
    s0 = fnn.TrainState.create(params, opt, key=fnn.random.key(seed))
    kw = dict(batch_size=16, loss="cross_entropy", validation=0.2, verbose=0)
    s4, h4 = fnn.fit(s0, (x, y), epochs=4, **kw)
    s2, h2 = fnn.fit(s0, (x, y), epochs=2, **kw)
    s22, h22 = fnn.fit(s2, (x, y), epochs=2, **kw)
    fnn.tree.assert_equal(s4, s22)
    assert s4.step == s22.step
    for k in h4:
        if k != "time":
            assert np.array_equal(h4[k], np.concatenate([h2[k], h22[k]])), k


def test_dropout_inside_a_nested_sequential_is_active_in_training():
    inner = fnn.Sequential([fnn.Dense(16), fnn.Activation("relu"), fnn.Dropout(0.5)])
    spec = fnn.Sequential([inner, fnn.Dense(3), fnn.Activation("softmax")], in_dim=5)
    _, x, y = problem()
    state = fnn.TrainState.create(fnn.init(fnn.random.key(0), spec), fnn.optim.sgd(0.1), key=fnn.random.key(1))
    folded, _ = fnn.train_epoch(state, (x, y), batch_size=50, loss="cross_entropy", shuffle=False)
    key = fnn.random.fold_in(fnn.random.fold_in(state.key, DROPOUT), 0)
    with_masks = fnn.opt_step(state, fnn.grad(state.params, (x, y), loss="cross_entropy", key=key))
    without = fnn.opt_step(state, fnn.grad(state.params, (x, y), loss="cross_entropy", train=False))
    fnn.tree.assert_equal(folded, with_masks)
    assert not fnn.tree.equal(folded.params, without.params)


def test_opt_step_and_train_epoch_are_pure():
    params, x, y = problem(dropout=0.3)
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(0))
    g = fnn.grad(params, (x, y), loss="cross_entropy", train=False)
    before = (blob(state), blob(g), x.tobytes(), y.tobytes())
    a = fnn.opt_step(state, g)
    b = fnn.opt_step(state, g)
    fnn.tree.assert_equal(a, b)
    e1, m1 = fnn.train_epoch(state, (x, y), batch_size=8, loss="cross_entropy")
    e2, m2 = fnn.train_epoch(state, (x, y), batch_size=8, loss="cross_entropy")
    fnn.tree.assert_equal(e1, e2)
    assert np.array_equal(m1["step_loss"], m2["step_loss"])
    assert (blob(state), blob(g), x.tobytes(), y.tobytes()) == before
    assert all(not leaf.flags.writeable for leaf in fnn.tree.leaves(e1.params))
    flat, _ = fnn.tree.ravel(e1.params)
    assert all(np.shares_memory(flat, leaf) for leaf in fnn.tree.leaves(e1.params))


@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**32 - 1), st.booleans(), st.booleans())
def test_batches_visit_every_row_once(n, batch_size, seed, shuffle, drop_last):
    batch_size = min(batch_size, n)
    x, y = np.arange(2 * n).reshape(n, 2), np.arange(n)
    seen = [yb for _, yb in fnn.batches(fnn.random.key(seed), (x, y), batch_size, shuffle=shuffle, drop_last=drop_last)]
    assert all(len(b) == batch_size for b in seen[:-1])
    got = np.concatenate(seen) if seen else np.zeros(0, int)
    if drop_last:
        assert len(got) == n - n % batch_size and len(set(got.tolist())) == len(got)
    else:
        assert np.array_equal(np.sort(got), y)
    for xb, yb in zip(*zip(*fnn.batches(fnn.random.key(seed), (x, y), batch_size), strict=True), strict=True):
        assert np.array_equal(xb[:, 0], 2 * yb)  # rows stay paired


def test_each_epoch_reshuffles():
    params, x, y = problem()
    s = fnn.TrainState.create(params, fnn.optim.sgd(0.0), key=fnn.random.key(0))
    s1, m1 = fnn.train_epoch(s, (x, y), batch_size=10, loss="cross_entropy")
    s2, m2 = fnn.train_epoch(s1, (x, y), batch_size=10, loss="cross_entropy")
    # lr 0 leaves params unchanged, so different batch losses mean a different order
    fnn.tree.assert_equal(s.params, s2.params)
    assert not np.array_equal(m1["step_loss"], m2["step_loss"])


def test_from_update_tutorial_object_equals_builtin_sgd():
    class SGD:  # as the tutorials write it
        def __init__(self, lr):
            self.lr = lr

        def update(self, old, grad):
            return old - self.lr * grad

    params, x, y = problem()
    a, _ = fnn.train_epoch(
        fnn.TrainState.create(params, SGD(np.float32(0.1)), key=fnn.random.key(0)),
        (x, y),
        batch_size=7,
        loss="cross_entropy",
    )
    b, _ = fnn.train_epoch(
        fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)),
        (x, y),
        batch_size=7,
        loss="cross_entropy",
    )
    fnn.tree.assert_equal(a.params, b.params)


def test_non_finite_loss_stops_with_the_last_good_state():
    params, x, y = problem()
    state = fnn.TrainState.create(params, fnn.optim.sgd(1e38), key=fnn.random.key(0))
    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(NonFiniteError, match="at step") as e:
            fnn.fit(state, (x, y), epochs=5, batch_size=10, loss="cross_entropy", verbose=0)
    good = e.value.state
    assert isinstance(good, fnn.TrainState)
    assert np.isfinite(fnn.tree.ravel(good.params)[0]).all()
    assert isinstance(e.value.history, dict)


def test_non_finite_params_in_the_epochs_own_buffers_report_the_state_before_them_intact():
    # Adam writes each new state into the arrays of the state two steps back; a NaN gradient at
    # step 4 makes the params of step 5 NaN, and the error must carry step 4's state, untouched.
    params, x, y = problem()
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(0))

    def poisoned_at(bad):
        calls = []

        def loss(y_hat, y):  # half the squared outputs; its gradient turns NaN on call number `bad`
            calls.append(None)
            g = y_hat / y_hat.shape[0]
            return 0.5 * float(np.sum(y_hat * g)), np.full_like(g, np.nan) if len(calls) == bad else g

        return loss

    with pytest.raises(NonFiniteError, match="at step 5") as e:
        fnn.train_epoch(state, (x, y), batch_size=5, loss=poisoned_at(5))
    perm_key = fnn.random.fold_in(fnn.random.fold_in(state.key, SHUFFLE), 0)
    manual, loss = state, poisoned_at(0)
    for xb, yb in list(fnn.batches(perm_key, (x, y), 5))[:4]:
        manual = fnn.opt_step(manual, fnn.grad(manual.params, (xb, yb), loss=loss))
    assert e.value.state.step == 4
    fnn.tree.assert_equal(e.value.state, manual)


def test_the_numba_backend_trains_bitwise_like_numpy():
    pytest.importorskip("numba")  # the fast extra; the test extra installs it
    params, x, y = problem(dropout=0.2)
    states = [
        fnn.TrainState.create(params, fnn.optim.adam(0.01, backend=b), key=fnn.random.key(0))
        for b in ("numpy", "numba")
    ]
    (a, ha), (b, hb) = (fnn.fit(s, (x, y), epochs=3, batch_size=4, loss="cross_entropy", verbose=0) for s in states)
    fnn.tree.assert_equal(a.params, b.params)
    fnn.tree.assert_equal(a.opt_state, b.opt_state)
    assert np.array_equal(ha["loss"], hb["loss"])


def test_xor_is_solved():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    state = fnn.TrainState.create(
        fnn.init(fnn.random.key(0), fnn.mlp([2, 8, 2], hidden="tanh")), fnn.optim.adam(0.05), key=fnn.random.key(1)
    )
    state, history = fnn.fit(state, (x, y), epochs=300, batch_size=4, loss="cross_entropy", verbose=0)
    assert fnn.metrics.accuracy(y, fnn.apply(state.params, x)) == 1.0
    assert history["accuracy"][-1] == 1.0


def test_digits_reaches_97_percent_on_a_stratified_holdout():
    x, y = fnn.data.load_digits()
    xtr, xte, ytr, yte = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25)
    state = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([64, 128, 10])), fnn.optim.adam(1e-3), key=fnn.random.key(2)
    )
    state, _ = fnn.fit(state, (xtr, ytr), epochs=40, batch_size=32, loss="cross_entropy", verbose=0)
    acc = fnn.metrics.accuracy(yte, fnn.apply(state.params, xte))
    assert acc >= 0.97, acc


# a learning rate for each optimizer in the registry (adadelta's lr scales its own step size)
SMALL_MLP_LR = {
    "sgd": 0.1,
    "momentum": 0.05,
    "nesterov": 0.05,
    "adagrad": 0.05,
    "rmsprop": 0.003,
    "adadelta": 1.0,
    "adam": 0.005,
    "adamax": 0.01,
    "nadam": 0.005,
    "adamw": 0.005,
}


def test_the_small_mlp_table_covers_every_optimizer():
    assert sorted(SMALL_MLP_LR) == sorted(fnn.optim.OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(SMALL_MLP_LR))
def test_every_optimizer_decreases_the_loss_of_a_small_mlp(name):
    opt = fnn.optim.get(name, lr=SMALL_MLP_LR[name])
    params, x, y = problem(n=200)
    state = fnn.TrainState.create(params, opt, key=fnn.random.key(0))
    _, h = fnn.fit(state, (x, y), epochs=20, batch_size=20, loss="cross_entropy", verbose=0)
    assert h["loss"][-1] < 0.8 * h["loss"][0]


def test_early_stopping_restores_best_and_records_validation_loss():
    params, x, y = problem(n=120)
    state = fnn.TrainState.create(params, fnn.optim.adam(0.3), key=fnn.random.key(0))
    rule = fnn.EarlyStopping("val_loss", patience=2)
    best, h = fnn.fit(
        state, (x, y), epochs=60, batch_size=8, loss="cross_entropy", validation=0.3, early_stopping=rule, verbose=0
    )
    assert len(h["val_loss"]) < 60  # stopped early
    i = int(np.argmin(h["val_loss"]))
    assert len(h["val_loss"]) == i + 1 + 2  # patience epochs after the best
    # the restored params are the best epoch's: replaying i+1 epochs reproduces them
    again, _ = fnn.fit(state, (x, y), epochs=i + 1, batch_size=8, loss="cross_entropy", validation=0.3, verbose=0)
    fnn.tree.assert_equal(best, again)


def test_callbacks_see_logs_and_can_stop():
    params, x, y = problem()
    seen = []

    def stop_at_3(epoch, state, logs):
        seen.append((epoch, state.step, sorted(logs)))
        return epoch == 3

    _, h = fnn.fit(
        fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)),
        (x, y),
        epochs=10,
        batch_size=10,
        loss="cross_entropy",
        callbacks=[stop_at_3],
        verbose=0,
    )
    assert len(h["loss"]) == 3 and [s[0] for s in seen] == [1, 2, 3] and seen[0][1] == 5
    assert seen[0][2] == ["accuracy", "loss", "time"]


def test_fit_prints_one_line_per_epoch(capsys):
    params, x, y = problem()
    fnn.fit(
        fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)),
        (x, y),
        epochs=2,
        batch_size=10,
        loss="cross_entropy",
        verbose=2,
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  loss ")
    fnn.fit(
        fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)),
        (x, y),
        epochs=2,
        batch_size=10,
        loss="cross_entropy",
        verbose=0,
    )
    assert capsys.readouterr().out == ""


def test_float32_stays_float32():
    params, x, y = problem()
    for opt in OPTIMIZERS:
        state = fnn.TrainState.create(params, opt, key=fnn.random.key(0))
        state, _ = fnn.train_epoch(state, (x, y), batch_size=10, loss="cross_entropy")
        for leaf in fnn.tree.leaves(state.params) + [
            leaf for leaf in fnn.tree.leaves(state.opt_state) if isinstance(leaf, np.ndarray)
        ]:
            assert leaf.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(validation=1.5), ConfigError, r"fraction in \(0, 1\)"),
        (dict(validation=0.0), ConfigError, r"fraction in \(0, 1\)"),
        (dict(validation=(np.ones((5, 4)), np.zeros(5, int))), ShapeError, "4 features"),
        (dict(validation=(np.ones((5, 5)), np.zeros(4, int))), ShapeError, "same number of rows"),
        (dict(batch_size=0), ConfigError, r"batch_size must be in \[1, 50\]"),
        (dict(batch_size=51), ConfigError, r"batch_size must be in \[1, 50\]"),
        (dict(metrics=("accuracy", "f7")), ConfigError, "f7"),
        (dict(early_stopping=fnn.EarlyStopping("val_loss")), ConfigError, "no validation"),
        (dict(epochs=-1), ConfigError, "epochs"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, match):
    params, x, y = problem()
    args = dict(epochs=1, batch_size=10, loss="cross_entropy", verbose=0) | kwargs
    with pytest.raises(error, match=match):
        fnn.fit(fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)), (x, y), **args)


def test_grads_of_the_wrong_shape_are_rejected():
    params, x, y = problem()
    state = fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0))
    with pytest.raises(ShapeError, match="opt_step"):
        fnn.opt_step(state, (np.zeros(3, np.float32),))


def test_progress_bar_on_a_terminal_shows_batches_and_loss(monkeypatch):
    pytest.importorskip("tqdm")
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    import tqdm.auto

    class EveryUpdate(tqdm.auto.tqdm):  # a real tqdm that redraws on every update (no 0.1 s throttle)
        def __init__(self, *args, **kwargs):
            super().__init__(*args, mininterval=0, **kwargs)

    err = Terminal()
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(tqdm.auto, "tqdm", EveryUpdate)
    params, x, y = problem()
    fnn.fit(
        fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)),
        (x, y),
        epochs=2,
        batch_size=10,
        loss="cross_entropy",
        verbose=1,
    )
    shown = err.getvalue()
    assert "epoch 2/2" in shown and "5/5" in shown and "loss=" in shown
