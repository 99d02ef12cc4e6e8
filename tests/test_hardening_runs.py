"""Issue 16, the runs side (../shared/reviews/reliability-findings.md): recovery that hands back only finite
states (F1), one live run per run directory (F3, F4), opt_step's checks (F15). Real processes, real files in
temporary directories, SIGKILL for real; the CLI's cases (F10, F16) are in tests/test_cli_hardening.py."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import attrs
import numpy as np
import pytest

import fnn
from fnn.errors import ConfigError, NonFiniteError, ShapeError

CHILD = pathlib.Path(__file__).with_name("runs_lock_child.py")
ROOT = pathlib.Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}  # this fnn


def finite(state):
    return bool(np.isfinite(fnn.tree.ravel(state.params)[0]).all())


def data16():
    x = fnn.random.normal(fnn.random.key(0), (16, 4)).astype(np.float32)
    return x, np.arange(16) % 3


def overflowing_second_step():
    """SGD whose second update (the last of a 2-step epoch) overflows the params while its loss is finite."""
    schedule = fnn.optim.schedules.piecewise_constant([1], [0.01, 1e45])
    params = fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 3], output=None))
    return fnn.TrainState.create(params, fnn.optim.sgd(schedule), key=fnn.random.key(2))


# ------------------------------------------------------------------ F1


@pytest.mark.parametrize("every", [None, 1])
def test_an_update_that_overflows_at_an_epoch_end_leaves_finite_state_and_checkpoint(tmp_path, every):  # F1
    x, y = data16()
    kw = dict(epochs=4, batch_size=8, loss="mse", verbose=0, checkpoint_every=every)
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError) as caught:
        fnn.fit(overflowing_second_step(), (x, np.eye(3, dtype=np.float32)[y]), checkpoint=tmp_path, **kw)
    e = caught.value
    assert finite(e.state) and e.state.step == 1, (e.state.step, str(e))
    assert "(step 1)" in str(e) and "step 2" not in str(e).split(";")[1]
    assert "history" not in str(e) and all(len(v) == 0 for v in e.history.values())  # no epoch completed
    newest = fnn.io.load_checkpoint(tmp_path)
    assert finite(newest.state)
    # a resume repeats the divergence, and hands back the same finite state
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError) as again:
        fnn.fit(overflowing_second_step(), (x, np.eye(3, dtype=np.float32)[y]), resume=tmp_path, **kw)
    assert fnn.tree.equal(again.value.state, e.state)


@pytest.mark.parametrize("validation", [None, 0.25])
def test_one_step_an_epoch_with_a_metric_gives_the_finite_state_before_it(validation):  # F1, the metric variant
    x, y = data16()
    s = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 3])), fnn.optim.sgd(1e45), key=fnn.random.key(2)
    )
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError) as caught:
        fnn.fit(
            s,
            (x, y),
            epochs=3,
            batch_size=16 if validation is None else 12,
            loss="cross_entropy",
            verbose=0,
            validation=validation,
        )
    e = caught.value
    assert finite(e.state) and e.state.step == 0 and fnn.tree.equal(e.state, s)
    assert "accuracy" not in str(e) and "y_hat" not in str(e)  # the update is named, not the metric that saw it
    assert all(np.isfinite(v).all() for v in e.history.values())  # no NaN val_loss


def test_train_epoch_names_the_update_and_hands_back_the_state_before_it():  # F1 at the epoch level
    x, y = data16()
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError, match="update") as caught:
        fnn.train_epoch(overflowing_second_step(), (x, np.eye(3, dtype=np.float32)[y]), batch_size=8, loss="mse")
    assert finite(caught.value.state) and caught.value.state.step == 1


def test_params_that_were_never_finite_are_said_to_be_so():  # F1: inf params under a finite loss
    # ReLU units whose incoming weights are -inf output 0: the loss stays finite, the params do not.
    x = np.abs(fnn.random.normal(fnn.random.key(0), (8, 2))).astype(np.float64) + 0.1
    y = np.zeros((8, 1))
    params = fnn.init(fnn.random.key(1), fnn.mlp([2, 3, 1], hidden="relu", output=None, dtype=np.float64))
    layers = list(params.layers)
    layers[0] = attrs.evolve(layers[0], w=np.full((2, 3), -np.inf))
    dead = fnn.TrainState.create(attrs.evolve(params, layers=tuple(layers)), fnn.optim.sgd(1.0), key=fnn.random.key(2))
    with np.errstate(all="ignore"):
        assert np.isfinite(fnn.evaluate(dead.params, (x, y), loss="mse")["loss"])  # the premise
        with pytest.raises(NonFiniteError) as caught:
            fnn.train_epoch(dead, (x, y), batch_size=4, loss="mse")
    assert "no state with finite params" in str(caught.value)  # told the truth
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError, match="the given state"):
        fnn.fit(dead, (x, y), epochs=1, batch_size=4, loss="mse", verbose=0)


def test_the_replay_finds_the_last_finite_state_when_the_one_before_is_not_finite_either():  # F1's rare branch
    from fnn import train

    x, y = data16()
    y = np.eye(3, dtype=np.float32)[y]
    start = overflowing_second_step()
    problem = train._prepare(start, (x, y), "mse", 0.0, "test")
    chunks = train._index_chunks(
        train._order(fnn.random.fold_in(fnn.random.fold_in(start.key, train.SHUFFLE), 0), 16, True), 8, False
    )
    with np.errstate(all="ignore"):
        good, _ = train._last_finite(start, problem, chunks, upto=2)
        one, _ = fnn.train_epoch(start, (x[chunks[0]], y[chunks[0]]), batch_size=8, loss="mse", shuffle=False)
        assert good.step == 1 and finite(good) and fnn.tree.equal(good, one)  # the replay is the epoch's own steps
        bad = fnn.opt_step(one, fnn.grad(one.params, (x[chunks[1]], y[chunks[1]]), loss="mse"))
        assert not finite(bad)
        carry = train.EpochCarry(bad, fnn.tree.ravel(bad.params)[0], bad, [(1.0, 8), (1.0, 8)], 2)  # previous: bad
        with pytest.raises(NonFiniteError, match=r"update at step 1 .*\(step 1\)") as caught:
            train._params_not_finite(carry, lambda upto: train._last_finite(start, problem, chunks, upto))
    assert fnn.tree.equal(caught.value.state, one)


def test_a_resume_from_a_checkpoint_with_non_finite_params_says_so(tmp_path):  # F1: an older fnn's checkpoint
    x, y = data16()
    s = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 3])), fnn.optim.sgd(0.1), key=fnn.random.key(2)
    )
    kw = dict(batch_size=8, loss="cross_entropy", verbose=0, checkpoint_every=1)
    fnn.fit(s, (x, y), epochs=1, checkpoint=tmp_path, **kw)
    newest = fnn.io.load_checkpoint(tmp_path)
    flat = fnn.tree.ravel(newest.state.params)[0].copy()
    flat[0] = np.nan
    forged = attrs.evolve(newest, state=attrs.evolve(newest.state, params=fnn.tree.ravel(newest.state.params)[1](flat)))
    fnn.io.save_checkpoint(tmp_path, forged, step=newest.state.step, keep=2)
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError, match="ckpt-000000000002.npz") as caught:
        fnn.fit(s, (x, y), epochs=2, resume=tmp_path, **kw)
    assert "ckpt-000000000001.npz" in str(caught.value)  # the one to go back to


# ------------------------------------------------------------------ F3, F4: one live run per directory


def child(mode, run_dir, out, lr=0.01, pause=0.0, go=True):
    """A run of tests/runs_lock_child.py; with ``go=False`` it waits, set up, for :func:`go`."""
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(run_dir), str(lr), str(pause), str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=ENV,
    )
    if go:
        start(proc)
    return proc


def start(*procs):
    for proc in procs:
        proc.stdin.write("go\n")
    for proc in procs:
        proc.stdin.flush()


def stop(proc):
    """Kill ``proc`` if it still runs, and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def wait_for_epoch(proc):
    line = proc.stdout.readline()
    assert line.startswith("epoch "), (line, proc.stderr.read() if proc.poll() is not None else "")


def uninterrupted(tmp_path, lr=0.01):
    sys.path.insert(0, str(CHILD.parent))
    try:
        import runs_lock_child
    finally:
        sys.path.remove(str(CHILD.parent))
    state, data, kwargs = runs_lock_child.setup(lr)
    kwargs.pop("checkpoint_every")
    return fnn.fit(state, data, **kwargs)


def test_a_second_resume_while_the_run_is_live_is_refused_naming_the_holder(tmp_path):  # F3
    run = tmp_path / "run"
    first = child("resume", run, tmp_path / "a.npz", pause=-1)
    try:
        wait_for_epoch(first)  # now held inside fit, after epoch 1
        second = child("resume", run, tmp_path / "b.npz")
        out, err = second.communicate(timeout=120)
        assert second.returncode == 3, err
        assert out.startswith("refused: fit: ") and str(run) in out and f"process {first.pid}" in out, out
        assert first.poll() is None  # the live run was not touched ...
        out, err = first.communicate("\n", timeout=120)
        assert first.returncode == 0, err  # ... and finishes, equal to an uninterrupted run
    finally:
        stop(first)
    state, history = uninterrupted(tmp_path)
    assert fnn.tree.equal(fnn.load(tmp_path / "a.npz")["state"], state)


def test_a_new_run_into_a_live_runs_directory_is_refused(tmp_path):  # F4, one side started later
    run = tmp_path / "run"
    first = child("checkpoint", run, tmp_path / "a.npz", pause=-1)
    try:
        wait_for_epoch(first)
        second = child("checkpoint", run, tmp_path / "b.npz", lr=0.03)
        out, _ = second.communicate(timeout=120)
        assert second.returncode == 3 and f"process {first.pid}" in out, out
        assert first.communicate("\n", timeout=120)[0].count("epoch") == 5 and first.returncode == 0
    finally:
        stop(first)


def test_two_new_runs_started_at_once_one_is_refused_and_the_other_owns_the_directory(tmp_path):  # F4, the race
    for attempt in range(4):
        run = tmp_path / f"run{attempt}"
        a = child("checkpoint", run, tmp_path / f"a{attempt}.npz", lr=0.01, go=False)
        b = child("checkpoint", run, tmp_path / f"b{attempt}.npz", lr=0.03, go=False)
        time.sleep(3)  # both set up and waiting
        start(a, b)
        outs = [p.communicate(timeout=180) for p in (a, b)]
        codes = sorted(p.returncode for p in (a, b))
        assert codes == [0, 3], (codes, outs)
        winner, lr = (a, 0.01) if a.returncode == 0 else (b, 0.03)
        loser_out = outs[1 if winner is a else 0][0]
        assert "refused: fit: " in loser_out and (f"process {winner.pid}" in loser_out or "already holds" in loser_out)
        newest = fnn.io.load_checkpoint(run)  # the directory holds the winner's run only
        state, _ = uninterrupted(tmp_path, lr)
        assert fnn.tree.equal(newest.state, state)


def test_a_sigkilled_holder_leaves_nothing_that_blocks_the_resume(tmp_path):  # F3: the lock dies with its process
    run = tmp_path / "run"
    first = child("resume", run, tmp_path / "a.npz", pause=1.0)
    wait_for_epoch(first)
    wait_for_epoch(first)
    os.kill(first.pid, signal.SIGKILL)
    stop(first)
    assert first.returncode == -signal.SIGKILL
    assert (run / ".fnn.lock").exists()  # left behind, holding nothing
    second = child("resume", run, tmp_path / "b.npz")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, (out, err)
    state, history = uninterrupted(tmp_path)
    resumed = fnn.load(tmp_path / "b.npz")
    assert fnn.tree.equal(resumed["state"], state) and np.array_equal(resumed["history"]["loss"], history["loss"])


def test_the_lock_file_names_its_holder_and_a_thread_of_the_same_process_is_refused_too(tmp_path):
    from fnn import resume

    lock = resume._lock(tmp_path, "fit")
    try:
        assert (tmp_path / ".fnn.lock").read_text().strip() == str(os.getpid())
        with pytest.raises(ConfigError, match=f"process {os.getpid()}"):
            resume._lock(tmp_path, "fit")
    finally:
        resume._unlock(lock)
    resume._unlock(resume._lock(tmp_path, "fit"))  # released: taken again at once


# ------------------------------------------------------------------ F15: opt_step


def a_state(spec=None, optimizer=None):
    params = fnn.init(fnn.random.key(0), spec or fnn.mlp([4, 8, 3]))
    return fnn.TrainState.create(params, optimizer or fnn.optim.adam(0.01), key=fnn.random.key(1))


def some_grads(state):
    x, y = data16()
    return fnn.grad(state.params, (x, y), loss="cross_entropy")


def test_opt_step_refuses_grads_of_another_structure_of_the_same_size():  # F15
    s = a_state()
    flat = fnn.tree.ravel(some_grads(s))[0]
    n = flat.size
    for wrong in (flat.copy(), [flat[:5].copy(), flat[5:].copy()]):  # a plain flat vector; two arrays split elsewhere
        with pytest.raises(ShapeError, match="structure"):
            fnn.opt_step(s, wrong)
    layers = s.params.layers  # the first weight transposed: the same structure and size, other shapes
    swapped = attrs.evolve(s.params, layers=(attrs.evolve(layers[0], w=np.zeros((8, 4), np.float32)), *layers[1:]))
    assert fnn.tree.ravel(swapped)[0].size == n
    with pytest.raises(ShapeError, match="shapes"):
        fnn.opt_step(s, swapped)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_opt_step_refuses_non_finite_grads_and_hands_back_the_state(bad):  # F15
    s = a_state()
    g = some_grads(s)
    flat, unravel = fnn.tree.ravel(g)
    flat = flat.copy()
    flat[7] = bad
    with pytest.raises(NonFiniteError, match="grads") as caught:
        fnn.opt_step(s, unravel(flat))
    assert caught.value.state is s


def test_opt_step_still_takes_fnn_grads_of_every_kind_of_params():  # the check refuses nothing it should take
    with_state = fnn.Sequential([fnn.Dense(8), fnn.BatchNorm(), fnn.Dense(3), fnn.Activation("softmax")], in_dim=4)
    for spec in (fnn.mlp([4, 8, 3]), with_state):
        s = a_state(spec)
        g = some_grads(s)
        s2 = fnn.opt_step(s, g)
        assert s2.step == 1 and finite(s2)
    stack = fnn.stack([fnn.init(fnn.random.key(k), fnn.mlp([4, 8, 3])) for k in range(3)])
    s = fnn.TrainState.create(stack, fnn.optim.sgd(0.1), key=fnn.random.key(1))
    assert fnn.opt_step(s, some_grads(s)).step == 1


def test_a_finished_run_on_a_read_only_file_system_still_resumes(tmp_path):  # no lock file can be made there
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("no tmpfs mount here (needs root)")
    try:
        s = a_state()
        x, y = data16()
        kw = dict(epochs=2, batch_size=8, loss="cross_entropy", verbose=0)
        done, history = fnn.fit(s, (x, y), checkpoint=mount / "run", **kw)
        (mount / "run" / ".fnn.lock").unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        again, h = fnn.fit(s, (x, y), resume=mount / "run", **kw)
        assert fnn.tree.equal(again, done) and np.array_equal(h["loss"], history["loss"])
    finally:
        subprocess.run(["umount", str(mount)], check=True)
