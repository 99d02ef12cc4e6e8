"""Training you can see: fit's event lines, the loggers, ReduceLROnPlateau, and resume's epochs said aloud."""

import json
import os
import stat
import warnings

import numpy as np
import pytest

import fnn
import fnn.data
from fnn.errors import ConfigError, FnnWarning

X, Y = fnn.data.load_digits(dtype=np.float64)
X, Y = X[:400], Y[:400]


def state(members=None, opt=None, dtype=np.float64):
    spec = fnn.mlp([64, 16, 10], dtype=dtype)
    params = (
        fnn.init_many(fnn.random.split(fnn.random.key(1), members), spec)
        if members
        else fnn.init(fnn.random.key(1), spec)
    )
    return fnn.TrainState.create(params, opt or fnn.optim.adam(1e-2), key=fnn.random.key(2))


KW = dict(batch_size=32, loss="cross_entropy", validation=0.25)


def events(out):
    return [line for line in out.splitlines() if line.startswith("fit: ")]


def test_early_stopping_says_when_it_stops_and_which_epochs_params_it_restores(capsys):
    rule = fnn.EarlyStopping("val_loss", patience=2)
    s, h = fnn.fit(state(), (X, Y), epochs=50, verbose=1, early_stopping=rule, **KW)
    best = int(np.argmin(h["val_loss"])) + 1  # the first of the smallest: min_delta=0
    (line,) = events(capsys.readouterr().out)
    assert line.startswith(f"fit: early stopping at epoch {len(h['loss'])}: val_loss has not improved on ")
    assert line.endswith(f"(epoch {best}) for 2 epochs; restoring the params of epoch {best}")
    fnn.fit(
        state(),
        (X, Y),
        epochs=50,
        verbose=1,
        early_stopping=fnn.EarlyStopping("val_loss", patience=2, min_delta=0.05, restore_best=False),
        **KW,
    )
    assert events(capsys.readouterr().out)[0].endswith("keeping the last epoch's params (restore_best=False)")
    fnn.fit(state(), (X, Y), epochs=50, verbose=0, early_stopping=rule, **KW)
    assert capsys.readouterr().out == ""


def test_a_run_that_ends_before_patience_says_it_restores_the_best_epoch(capsys):
    s, h = fnn.fit(
        state(opt=fnn.optim.adam(0.2)),
        (X, Y),
        epochs=6,
        verbose=1,
        early_stopping=fnn.EarlyStopping("val_loss", patience=10),
        **KW,
    )
    best = int(np.argmin(h["val_loss"])) + 1
    lines = events(capsys.readouterr().out)
    assert (
        (lines == [])
        if best == 6
        else lines
        == [
            f"fit: restoring the params of epoch {best}, the best val_loss ({h['val_loss'][best - 1]:.4g}); "
            "the last epoch was 6"
        ]
    )


def test_a_stack_says_which_members_stop(capsys):
    rule = fnn.EarlyStopping("val_loss", patience=1)
    s, h = fnn.fit(state(members=3), (X, Y), epochs=40, verbose=1, early_stopping=rule, **KW)
    lines = events(capsys.readouterr().out)
    stopped = [m for line in lines for m in json.loads(line.split("member")[1].split("at epoch")[0].lstrip("s "))]
    assert sorted(stopped) == [0, 1, 2]
    best = [int(np.nanargmin(h["val_loss"][:, m])) + 1 for m in range(3)]
    assert lines[-1].endswith(f"all 3 members have stopped; restoring each member's best params (epochs {best})")


def test_resume_and_checkpoints_are_said(tmp_path, capsys):
    kw = dict(KW, resume=tmp_path / "run", checkpoint_every=5)
    fnn.fit(state(), (X, Y), epochs=1, verbose=2, **kw)
    lines = events(capsys.readouterr().out)
    assert lines[0] == f"fit: checkpoint {tmp_path / 'run' / 'ckpt-000000000000.npz'} (the start, step 0)"
    assert any("(step 5: 5 of 10 batches of epoch 1)" in line for line in lines)
    assert lines[-1].endswith("(epoch 1, step 10)")
    fnn.fit(state(), (X, Y), epochs=3, verbose=1, **kw)
    lines = events(capsys.readouterr().out)
    assert lines == [
        f"fit: resuming the run in {tmp_path / 'run'} from ckpt-000000000010.npz: 1 of 3 epochs done (step 10)"
    ]


def test_adding_resume_to_a_second_fit_call_is_not_a_silent_no_op(tmp_path, capsys):
    """Findings §3.5: without resume= a second fit(epochs=3) trains 3 more; with it, none (epochs is the run's)."""
    kw = dict(epochs=3, batch_size=64, loss="cross_entropy", verbose=0, resume=tmp_path)
    s1, _ = fnn.fit(state(), (X, Y), **kw)
    with pytest.warns(FnnWarning, match=r"epochs counts the run's epochs, not this call's.*pass epochs=6 for 3 more"):
        s2, h2 = fnn.fit(s1, (X, Y), **kw)
    assert s2.step == s1.step and len(h2["loss"]) == 3
    with warnings.catch_warnings():  # the restart idiom (the same call, from the start state): no warning
        warnings.simplefilter("error")
        fnn.fit(state(), (X, Y), **kw)
    fnn.fit(state(), (X, Y), **{**kw, "verbose": 1})
    assert "has done its 3 epochs" in capsys.readouterr().out


def test_the_monitors_are_checked_before_training():  # finding 36: the typo was found after the first epoch
    calls = []
    with pytest.raises(
        ConfigError, match=r"early stopping monitors 'val_acc'; the history will have \['accuracy', 'loss', 'time', "
    ):
        fnn.fit(
            state(),
            (X, Y),
            epochs=2,
            early_stopping=fnn.EarlyStopping("val_acc"),
            callbacks=[lambda *a: calls.append(1)],
            verbose=0,
            **KW,
        )
    assert calls == []


# ------------------------------------------------------------------ loggers


def test_loggers_write_the_history_exactly_and_a_resumed_run_continues_them(tmp_path):
    csv_path, jsonl_path = tmp_path / "logs" / "history.csv", tmp_path / "logs" / "history.jsonl"
    loggers = [fnn.callbacks.CSVLogger(csv_path), fnn.callbacks.JSONLinesLogger(jsonl_path)]
    kw = dict(KW, verbose=0, callbacks=loggers, resume=tmp_path / "run")
    fnn.fit(state(), (X, Y), epochs=2, **kw)
    _, h = fnn.fit(state(), (X, Y), epochs=4, **kw)
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "epoch,loss,accuracy,val_loss,val_accuracy,time" and len(rows) == 5
    for k, key in enumerate(rows[0].split(",")[1:-1], start=1):
        assert [float(r.split(",")[k]) for r in rows[1:]] == h[key].tolist()  # exact: floats written with repr
    records = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4] and [r["val_loss"] for r in records] == h["val_loss"].tolist()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(csv_path.stat().st_mode) == 0o666 & ~umask


def test_loggers_replace_epochs_run_again_and_lines_cut_short(tmp_path):
    log = fnn.callbacks.JSONLinesLogger(tmp_path / "log.jsonl")
    for epoch in (1, 2, 3):
        log(epoch, None, {"loss": float(epoch)})
    with open(log.path, "a") as f:
        f.write('{"epoch": 4, "lo')  # a kill in the middle of a line
    log(3, None, {"loss": 30.0})  # the epoch a kill interrupted, run again after the resume
    assert [json.loads(line) for line in log.path.read_text().splitlines()] == [
        {"epoch": 1, "loss": 1.0},
        {"epoch": 2, "loss": 2.0},
        {"epoch": 3, "loss": 30.0},
    ]
    log(1, None, {"loss": 5.0})  # a new run: the file starts again
    assert log.path.read_text() == '{"epoch": 1, "loss": 5.0}\n'
    stack = fnn.callbacks.CSVLogger(tmp_path / "stack.csv")
    stack(1, None, {"loss": np.array([0.5, np.nan])})
    assert stack.path.read_text() == "epoch,loss[0],loss[1]\n1,0.5,nan\n"
    with pytest.raises(ConfigError, match="holds the columns"):
        stack(2, None, {"val_loss": 1.0})


def test_a_stacks_logs_reach_a_logger_per_member(tmp_path):
    fnn.fit(
        state(members=2), (X, Y), epochs=2, verbose=0, callbacks=[fnn.callbacks.CSVLogger(tmp_path / "s.csv")], **KW
    )
    assert (tmp_path / "s.csv").read_text().splitlines()[0].startswith("epoch,loss[0],loss[1],accuracy[0],accuracy[1]")


# ------------------------------------------------------------------ ReduceLROnPlateau


def keras_rule(values, factor, patience, cooldown, min_delta, lr):
    """The rates Keras's ReduceLROnPlateau would use, epoch by epoch (its on_epoch_end, transcribed)."""
    best, wait, cool, rates = np.inf, 0, 0, []
    for v in values:
        rates.append(lr)
        if cool > 0:
            cool -= 1
            wait = 0
        if v < best - min_delta:
            best, wait = v, 0
        elif cool == 0:
            wait += 1
            if wait >= patience:
                lr, cool, wait = lr * factor, cooldown, 0
    return rates


def test_reduce_lr_on_plateau_follows_keras_and_says_so(capsys):
    opt = fnn.optim.ReduceLROnPlateau(
        fnn.optim.adam(0.05), monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_delta=0.01
    )
    s, h = fnn.fit(state(opt=opt), (X, Y), epochs=25, verbose=1, **KW)
    assert np.allclose(h["lr"], keras_rule(h["val_loss"], 0.5, 2, 1, 0.01, 0.05), rtol=1e-12)
    assert h["lr"][-1] < 0.05
    lines = events(capsys.readouterr().out)
    assert len(lines) == int(np.sum(np.diff(h["lr"]) < 0)) + (s.opt_state.scale < h["lr"][-1] / 0.05)
    assert "val_loss has not improved for 2 epochs; ReduceLROnPlateau multiplies the learning rate by 0.5" in lines[0]


def test_a_plateau_scale_is_the_inner_optimizer_at_a_lower_rate_and_one_is_bitwise_the_inner():
    g = fnn.random.normal(fnn.random.key(0), (50,))
    p = fnn.random.normal(fnn.random.key(1), (50,))
    for inner, lower in (
        (fnn.optim.adam(0.1), fnn.optim.adam(0.025)),
        (fnn.optim.momentum(0.1, 0.9), fnn.optim.momentum(0.025, 0.9)),
        (fnn.optim.adamw(0.1), fnn.optim.adamw(0.025)),
    ):
        plateau = fnn.optim.ReduceLROnPlateau(inner)
        a, sa = plateau.update(p, g, plateau.init(p))
        b, _ = inner.update(p, g, inner.init(p))
        assert np.array_equal(a, b)
        reduced = type(sa)(sa.inner, scale=0.25)
        a2, _ = plateau.update(a, g, reduced)
        b2, _ = lower.update(a, g, sa.inner)  # AdamW's decay lr·wd·p scales too
        assert np.allclose(a2, b2, rtol=1e-12, atol=1e-15)


def test_plateau_state_is_in_checkpoints_and_a_resume_is_bitwise(tmp_path):
    opt = fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.05), factor=0.5, patience=1)
    kw = dict(KW, verbose=0)
    whole, hw = fnn.fit(state(opt=opt), (X, Y), epochs=8, **kw)
    fnn.fit(state(opt=opt), (X, Y), epochs=3, resume=tmp_path, **kw)
    resumed, hr = fnn.fit(state(opt=opt), (X, Y), epochs=8, resume=tmp_path, **kw)
    fnn.tree.assert_equal(whole, resumed)
    assert np.array_equal(hw["lr"], hr["lr"]) and hw["lr"][-1] < 0.05
    back = fnn.load(fnn.save(tmp_path / "s.npz", whole))
    fnn.tree.assert_equal(back, whole)


def test_plateau_on_a_stack_gives_each_member_its_own_rate_as_each_would_have_alone(capsys, tmp_path):
    """The stack law for ReduceLROnPlateau: member m's params, rates and history are network m's alone,
    bit for bit, with members whose rates drop at different epochs; and a resumed stack is the whole run."""
    opt = fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.05), factor=0.5, patience=1)
    kw = dict(KW, epochs=10, verbose=1)
    stacked, h = fnn.fit(state(members=3, opt=opt), (X, Y), **kw)
    lines = events(capsys.readouterr().out)
    scales = np.asarray(stacked.opt_state.scale)
    rates = np.asarray(h["lr"])
    assert rates.shape == (10, 3) and len({tuple(r) for r in rates.T}) > 1, rates  # they drop at different epochs
    drops = [int(np.sum(np.diff(rates[:, m]) < 0)) for m in range(3)]
    for m, key in enumerate(fnn.random.split(fnn.random.key(1), 3)):
        spec = fnn.mlp([64, 16, 10], dtype=np.float64)
        alone, hm = fnn.fit(fnn.TrainState.create(fnn.init(key, spec), opt, key=fnn.random.key(2)), (X, Y), **kw)
        assert fnn.tree.equal(fnn.unstack(stacked.params)[m], alone.params)
        assert np.array_equal(rates[:, m], hm["lr"]) and alone.opt_state.scale == scales[m]
        assert len(events(capsys.readouterr().out)) == drops[m] + (alone.opt_state.scale < hm["lr"][-1] / 0.05)
    said = [
        int(w)
        for line in lines
        for w in line.split("learning rate of member")[1].split(" by")[0].lstrip("s ").split(", ")
    ]
    assert sorted(said) == sorted(m for m in range(3) for _ in range(drops[m] + (scales[m] < h["lr"][-1][m] / 0.05)))
    kw["verbose"] = 0
    fnn.fit(state(members=3, opt=opt), (X, Y), **dict(kw, epochs=4), resume=tmp_path)
    resumed, hr = fnn.fit(state(members=3, opt=opt), (X, Y), **kw, resume=tmp_path)
    fnn.tree.assert_equal(stacked, resumed)
    assert np.array_equal(rates, np.asarray(hr["lr"]))


def test_plateau_on_a_stack_needs_one_value_per_member():
    stack = fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([2, 2]))
    opt = fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.01))
    s = opt.init(fnn.tree.ravel(stack)[0])
    with pytest.raises(ConfigError, match=r"stack of 2 networks watches one val_loss per member, got 0.5"):
        opt.observe(s, {"val_loss": 0.5}, params=stack)
    with pytest.raises(ConfigError, match=r"watches one number.*params=stack"):
        opt.observe(s, {"val_loss": np.array([0.5, 0.4])})


@pytest.mark.parametrize(
    "make, words",
    [
        (
            lambda: state(opt=fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.01), monitor="val_acc")),
            ["monitors 'val_acc'", "val_accuracy"],
        ),
        (
            lambda: state(opt=fnn.optim.decoupled_weight_decay(fnn.optim.ReduceLROnPlateau(fnn.optim.sgd(0.1)), 0.1)),
            ["never hears of the epochs", "outermost"],
        ),
    ],
)
def test_plateau_misuse_is_refused_before_training(make, words):
    with pytest.raises(ConfigError) as e:
        fnn.fit(make(), (X, Y), epochs=1, verbose=0, **KW)
    assert all(w in str(e.value) for w in words), str(e.value)
    with pytest.raises(ConfigError, match="no validation data"):
        fnn.fit(
            state(opt=fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.01))),
            (X, Y),
            epochs=1,
            batch_size=32,
            loss="cross_entropy",
            verbose=0,
        )
    with pytest.raises(ConfigError, match="factor must be a finite number"):
        fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.01), factor=1.5)
