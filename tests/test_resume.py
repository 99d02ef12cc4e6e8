"""Laws of crash-resume: a run stopped at any moment and resumed equals the run never stopped, bit for bit.

The in-process laws crash a run by raising from inside its loss (so at any step, or inside an
evaluation); the subprocess laws kill a real process with SIGKILL, at random moments and in
the middle of a checkpoint write.
"""

import pathlib
import runpy
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn import io, resume
from fnn.errors import ConfigError, FormatError

CHILD = pathlib.Path(__file__).with_name("crash_resume_child.py")


class Crash(BaseException):
    """What the crashing loss raises: like a kill, nothing in fit may catch it."""


class CountingMSE:
    """Mean squared error (a custom loss, so fit calls it at every step and evaluation) that can crash.

    ``crash_at``: raise :class:`Crash` on that call (1-based) of this object, or never.
    """

    def __init__(self, crash_at=None):
        self.crash_at, self.calls = crash_at, 0

    def __call__(self, y_hat, y):
        self.calls += 1
        if self.calls == self.crash_at:
            raise Crash(self.calls)
        diff = y_hat - y
        return float(np.mean(diff * diff)), 2 * diff / diff.size


def problem(seed, n=60, dropout=0.2):
    k = fnn.random.key(seed)
    x = fnn.random.normal(fnn.random.fold_in(k, 1), (n, 4)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 0.5)
    y = fnn.data.one_hot(labels, 3).astype(np.float32)
    spec = fnn.mlp([4, 8, 3], dropout=dropout)
    state = fnn.TrainState.create(
        fnn.init(fnn.random.fold_in(k, 2), spec), fnn.optim.adam(0.02), key=fnn.random.fold_in(k, 3)
    )
    return state, (x, y)


def assert_same_run(a, b):
    (sa, ha), (sb, hb) = a, b
    fnn.tree.assert_equal(sa, sb)  # params, optimizer state, key, step and optimizer
    assert sa.step == sb.step and set(ha) == set(hb)
    for k in ha:
        if k != "time":  # wall-clock
            assert np.array_equal(ha[k], hb[k]), k


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    batch_size=st.integers(5, 30),
    every=st.sampled_from([1, 2, 3, 7, "epoch"]),
    crashes=st.lists(st.integers(1, 60), min_size=1, max_size=4),
    stopping=st.booleans(),
)
def test_a_run_crashed_anywhere_and_resumed_equals_the_uninterrupted_run(
    tmp_path_factory, seed, batch_size, every, crashes, stopping
):
    state, data = problem(seed % 1000)
    kw = dict(
        epochs=5,
        batch_size=batch_size,
        validation=0.25,
        metrics=("accuracy",),
        verbose=0,
        early_stopping=fnn.EarlyStopping("val_loss", patience=2) if stopping else None,
    )
    expected = fnn.fit(state, data, loss=CountingMSE(), **kw)
    run = tmp_path_factory.mktemp("run")
    for crash_at in crashes:  # each restart is the same call, crashing at its crash_at-th loss evaluation
        try:
            fnn.fit(state, data, loss=CountingMSE(crash_at), resume=run, checkpoint_every=every, **kw)
        except Crash:
            pass
    assert_same_run(fnn.fit(state, data, loss=CountingMSE(), resume=run, checkpoint_every=every, **kw), expected)
    assert len(io.list_checkpoints(run)) <= resume.KEEP


def test_checkpointing_changes_nothing_and_resuming_a_finished_run_returns_it(tmp_path):
    state, data = problem(1)
    kw = dict(batch_size=8, loss="cross_entropy", validation=0.25, verbose=0)
    plain = fnn.fit(state, data, epochs=4, **kw)
    assert_same_run(fnn.fit(state, data, epochs=4, checkpoint=tmp_path / "a", checkpoint_every=3, **kw), plain)
    written = io.list_checkpoints(tmp_path / "a")
    assert_same_run(fnn.fit(state, data, epochs=4, resume=tmp_path / "a", **kw), plain)
    assert io.list_checkpoints(tmp_path / "a") == written  # nothing to do, nothing written
    # epochs is the run's total: a finished run continues to a larger one, and equals it
    assert_same_run(fnn.fit(state, data, epochs=6, resume=tmp_path / "a", **kw), fnn.fit(state, data, epochs=6, **kw))


def test_a_run_that_stopped_early_stays_stopped(tmp_path):
    state, data = problem(2)
    kw = dict(
        batch_size=8,
        loss="cross_entropy",
        validation=0.25,
        verbose=0,
        early_stopping=fnn.EarlyStopping("val_loss", patience=1, min_delta=0.5),
    )
    stopped = fnn.fit(state, data, epochs=30, resume=tmp_path, **kw)
    assert len(stopped[1]["loss"]) < 30 and io.load_checkpoint(tmp_path).stopped
    assert_same_run(fnn.fit(state, data, epochs=40, resume=tmp_path, **kw), stopped)  # the restored best state


def test_callbacks_and_printed_lines_count_the_runs_epochs(tmp_path, capsys):
    state, data = problem(3)
    kw = dict(batch_size=8, loss="cross_entropy", resume=tmp_path)
    fnn.fit(state, data, epochs=2, verbose=0, **kw)
    seen = []
    fnn.fit(state, data, epochs=4, verbose=2, callbacks=[lambda epoch, s, logs: seen.append(epoch)], **kw)
    lines = capsys.readouterr().out.splitlines()
    assert seen == [3, 4] and [line.split()[1] for line in lines if line.startswith("epoch")] == ["3/4", "4/4"]
    assert lines[0].startswith(f"fit: resuming the run in {tmp_path} from ckpt-") and "2 of 4 epochs done" in lines[0]


def test_resume_from_an_empty_directory_starts_from_the_given_state_and_writes_the_start(tmp_path):
    state, data = problem(4)
    fnn.fit(state, data, epochs=0, batch_size=8, loss="cross_entropy", verbose=0, resume=tmp_path / "new")
    start = io.load_checkpoint(tmp_path / "new")
    assert (start.epoch, start.position, start.history) == (0, 0, {})
    fnn.tree.assert_equal(start.state, state)


def changed(seed):
    """(name, fit keyword changes) pairs, each a setting a resumed run must share with its start."""
    state, (x, y) = problem(seed)
    x2 = x.copy()
    x2[7, 1] = np.nextafter(x2[7, 1], np.float32(np.inf))  # one ulp of one value
    other_key = fnn.TrainState.create(state.params, state.optimizer, key=fnn.random.key(99))
    other_lr = fnn.TrainState.create(state.params, fnn.optim.adam(0.03), key=state.key)
    wider = fnn.TrainState.create(fnn.init(fnn.random.key(0), fnn.mlp([4, 9, 3])), state.optimizer, key=state.key)
    return [
        ("data", dict(data=(x2, y))),
        ("data", dict(data=(x, y[:, ::-1]))),
        ("batch_size", dict(batch_size=9)),
        ("shuffle", dict(shuffle=False)),
        ("drop_last", dict(drop_last=True)),
        ("loss", dict(loss="cross_entropy")),
        ("l2", dict(l2=1e-4)),
        ("validation", dict(validation=0.3)),
        ("validation", dict(validation=None)),
        ("split_key", dict(split_key=fnn.random.key(1))),
        ("metrics", dict(metrics=())),
        ("early_stopping", dict(early_stopping=fnn.EarlyStopping("val_loss", patience=3))),
        ("key", dict(state=other_key)),
        ("optimizer", dict(state=other_lr)),
        ("structure", dict(state=wider)),
    ]


@pytest.mark.parametrize("i", range(len(changed(5))), ids=[f"{name}-{i}" for i, (name, _) in enumerate(changed(5))])
def test_resuming_with_another_setting_or_data_names_the_difference(tmp_path, i):
    state, data = problem(5)
    kw = dict(
        state=state,
        data=data,
        batch_size=8,
        loss="mse",
        validation=0.25,
        metrics=("accuracy",),
        early_stopping=fnn.EarlyStopping("val_loss", patience=5),
        verbose=0,
        resume=tmp_path,
    )
    fnn.fit(epochs=2, **kw)
    name, change = changed(5)[i]
    with pytest.raises(ConfigError, match=name):
        fnn.fit(epochs=3, **(kw | change))


def test_resuming_with_a_validation_pair_checks_its_data(tmp_path):
    state, (x, y) = problem(6)
    kw = dict(batch_size=8, loss="mse", verbose=0, resume=tmp_path)
    fnn.fit(state, (x[:40], y[:40]), epochs=1, validation=(x[40:], y[40:]), **kw)
    fnn.fit(state, (x[:40], y[:40]), epochs=2, validation=(x[40:].copy(), y[40:].copy()), **kw)  # equal data: fine
    with pytest.raises(ConfigError, match="validation"):
        fnn.fit(state, (x[:40], y[:40]), epochs=3, validation=(x[40:] * 2, y[40:]), **kw)


def test_a_total_below_what_the_run_has_done_is_refused(tmp_path):
    state, data = problem(7)
    kw = dict(batch_size=8, verbose=0, resume=tmp_path, checkpoint_every=5)
    fnn.fit(state, data, epochs=3, loss=CountingMSE(), **kw)
    with pytest.raises(ConfigError, match="3 epochs; epochs=2"):
        fnn.fit(state, data, epochs=2, loss=CountingMSE(), **kw)
    shutil.rmtree(tmp_path)
    with pytest.raises(Crash):
        fnn.fit(state, data, epochs=3, loss=CountingMSE(crash_at=7), **kw)
    at = io.load_checkpoint(tmp_path)  # 8 steps per epoch: step 5 is inside epoch 1
    assert (at.epoch, at.position) == (0, 5)
    with pytest.raises(ConfigError, match="0 epochs and 5 batches of the next; epochs=0"):
        fnn.fit(state, data, epochs=0, loss=CountingMSE(), **kw)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(checkpoint_every=5), "needs checkpoint=DIR or resume=DIR"),
        (dict(checkpoint="a", checkpoint_every=0), "checkpoint_every must be"),
        (dict(checkpoint="a", checkpoint_every="step"), "checkpoint_every must be"),
        (dict(checkpoint="a", checkpoint_every=2.0), "checkpoint_every must be"),
        (dict(checkpoint="a", resume="b"), "differ"),
        (dict(checkpoint=3), "directory path"),
    ],
)
def test_bad_checkpoint_arguments(tmp_path, monkeypatch, kwargs, match):
    monkeypatch.chdir(tmp_path)
    state, data = problem(8)
    with pytest.raises(ConfigError, match=match):
        fnn.fit(state, data, epochs=1, batch_size=8, loss="mse", verbose=0, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_refuses_a_directory_holding_checkpoints(tmp_path):
    state, data = problem(9)
    kw = dict(epochs=1, batch_size=8, loss="mse", verbose=0)
    fnn.fit(state, data, checkpoint=tmp_path, **kw)
    with pytest.raises(ConfigError, match="already holds checkpoints; pass resume="):
        fnn.fit(state, data, checkpoint=tmp_path, **kw)
    fnn.fit(state, data, checkpoint=tmp_path, resume=tmp_path, **kw)  # the same directory twice: a resume


def test_an_unsaveable_state_fails_before_training(tmp_path):
    class SGD:
        def update(self, old, grad):
            return old - 0.1 * grad

    state, data = problem(10)
    state = fnn.TrainState.create(state.params, SGD(), key=state.key)
    with pytest.raises(ConfigError, match="from_update"):
        fnn.fit(
            state,
            data,
            epochs=1,
            batch_size=8,
            loss="mse",
            verbose=0,
            checkpoint=tmp_path,
            callbacks=[lambda *a: pytest.fail("trained")],
        )


def test_errors_keep_their_state_and_whole_run_history(tmp_path):
    state, data = problem(11)
    kw = dict(epochs=4, batch_size=8, validation=0.25, verbose=0, resume=tmp_path)
    fnn.fit(state, data, loss=CountingMSE(), **dict(kw, epochs=2))
    with pytest.raises(Crash) as caught:
        fnn.fit(state, data, loss=CountingMSE(crash_at=3), **kw)  # in the third step of epoch 3
    # as without resume: the history so far (of the whole run) and the state the epoch began with
    assert len(caught.value.history["loss"]) == 2 and caught.value.state.step == 2 * 6


# ------------------------------------------------------------------ damaged files


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A run directory with two checkpoints (mid-epoch), and the bytes of the newest."""
    run = tmp_path_factory.mktemp("written")
    state, data = problem(12)
    fnn.fit(
        state,
        data,
        epochs=2,
        batch_size=8,
        loss="mse",
        validation=0.25,
        verbose=0,
        checkpoint=run,
        checkpoint_every=3,
        early_stopping=fnn.EarlyStopping("val_loss"),
    )
    (_, older), (_, newest) = io.list_checkpoints(run)
    return run, older, newest, newest.read_bytes()


@settings(max_examples=40)
@given(cut=st.floats(0, 1, exclude_max=True))
def test_a_truncated_checkpoint_is_a_format_error_never_a_bad_load(tmp_path_factory, written, cut):
    run, _, newest, content = written
    damaged = tmp_path_factory.mktemp("damaged")
    shutil.copytree(run, damaged, dirs_exist_ok=True)
    (damaged / newest.name).write_bytes(content[: int(cut * len(content))])
    with pytest.raises(FormatError):
        io.load(damaged / newest.name)
    state, data = problem(12)
    with pytest.raises(FormatError, match="delete .* to resume from it"):
        fnn.fit(
            state,
            data,
            epochs=2,
            batch_size=8,
            loss="mse",
            validation=0.25,
            verbose=0,
            resume=damaged,
            early_stopping=fnn.EarlyStopping("val_loss"),
        )


def test_a_checkpoint_holding_something_else_is_refused(tmp_path):
    io.save_checkpoint(tmp_path, {"state": 1}, step=3)
    state, data = problem(13)
    with pytest.raises(FormatError, match="holds a dict, not a checkpoint written by fnn.fit"):
        fnn.fit(state, data, epochs=1, batch_size=8, loss="mse", verbose=0, resume=tmp_path)


def test_inconsistent_checkpoints_cannot_be_built_and_so_not_loaded(written):
    _, older, newest, _ = written
    assert io.load(newest).position == 0  # the end of the run
    c = io.load(older)
    assert c.position > 0
    with pytest.raises(ConfigError, match="one entry per batch done"):
        resume.Checkpoint(
            c.state, c.history, c.watch, c.step_loss[1:], c.step_rows[1:], epoch=c.epoch, position=c.position
        )
    with pytest.raises(ConfigError, match="arrays of 0 entries"):
        resume.Checkpoint(
            c.state, {"loss": np.zeros(1)}, c.watch, c.step_loss, c.step_rows, epoch=0, position=c.position
        )
    with pytest.raises(ConfigError, match="TrainState"):
        resume.Checkpoint(
            c.state.params, c.history, c.watch, c.step_loss, c.step_rows, epoch=c.epoch, position=c.position
        )


# ------------------------------------------------------------------ real kills


def child(run, out, steps):
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(run), str(out), str(steps)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def partial_writes(run):
    return sorted(p.name for p in pathlib.Path(run).glob(".ckpt-*.tmp"))


WRITE_AND_HANG = """
import io as stdio, sys, time, fnn
from fnn import io
from fnn.io import _files
run = sys.argv[1]
payload = io.load_checkpoint(run)
whole = stdio.BytesIO()
_files._write_npz(whole, *_files._encode(payload))
def half_then_hang(f):
    f.write(whole.getvalue()[: len(whole.getvalue()) // 2])
    f.flush()
    print("writing", flush=True)
    time.sleep(120)
io.atomic_write(io.checkpoint_path(run, payload.state.step + 1), half_then_hang)
"""


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one_and_the_run_resumes(tmp_path, written):
    run, *_ = written
    shutil.copytree(run, tmp_path / "run")
    before = io.list_checkpoints(tmp_path / "run")
    with subprocess.Popen(
        [sys.executable, "-c", WRITE_AND_HANG, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout.readline().strip() == "writing"
        finally:
            proc.send_signal(signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL and len(partial_writes(tmp_path / "run")) == 1
    assert io.list_checkpoints(tmp_path / "run") == before  # the half-written file is invisible
    assert isinstance(io.load_checkpoint(tmp_path / "run"), resume.Checkpoint)
    state, data = problem(12)
    kw = dict(
        epochs=2, batch_size=8, loss="mse", validation=0.25, verbose=0, early_stopping=fnn.EarlyStopping("val_loss")
    )
    assert_same_run(fnn.fit(state, data, resume=tmp_path / "run", **kw), fnn.fit(state, data, **kw))
    assert partial_writes(tmp_path / "run") == []  # the resume cleaned up


KILLS, STEPS = 8, 2  # kills per test run; checkpoint every STEPS optimizer steps (writes are most of the time)


def test_sigkill_at_random_moments_then_resume_equals_the_uninterrupted_run(tmp_path):
    setup = runpy.run_path(str(CHILD))["setup"]
    state, data, kwargs = setup()
    expected = fnn.fit(state, data, **kwargs)
    rng = np.random.default_rng(20240606)  # kill points: seeded, so a failure can be replayed
    # Kill within the first 0.25 s after the child is ready: a run of checkpoint writes takes about
    # a second here, so most kills land in training; timing only spreads the kill points, it is
    # never needed for the run to come out right.
    delays = rng.uniform(0.0, 0.25, KILLS)
    run, out = tmp_path / "run", tmp_path / "out.npz"
    landed = dict.fromkeys(
        [
            "in a write",
            "between writes, mid-epoch",
            "between writes, at an epoch boundary",
            "before its first write",
            "finished first",
        ],
        0,
    )
    for delay in delays:
        temporaries, newest = partial_writes(run), io.latest_checkpoint(run)
        with child(run, out, STEPS) as proc:
            try:
                assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
                time.sleep(delay)
            finally:
                proc.send_signal(signal.SIGKILL)  # a no-op if it has finished
        if proc.returncode == 0:
            landed["finished first"] += 1
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
        if set(partial_writes(run)) - set(temporaries):
            landed["in a write"] += 1
        elif io.latest_checkpoint(run) == newest:
            landed["before its first write"] += 1
        else:
            landed[
                f"between writes, {'mid-epoch' if io.load_checkpoint(run).position else 'at an epoch boundary'}"
            ] += 1
    if not out.exists():
        with child(run, out, STEPS) as proc:
            _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    print(f"\ncrash-resume kill points: {landed}")
    got = fnn.load(out)
    assert_same_run((got["state"], got["history"]), expected)
