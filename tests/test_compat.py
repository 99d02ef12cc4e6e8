"""Files written by earlier versions of fnn still load and predict the same.

The fixtures in tests/fixtures were written by fnn at git cf7f65a (the last commit before the
engine took per-sample shapes): a trained TrainState of a float64 network with dropout and a
nested Sequential, a float32 stack of three MLPs, and their outputs on a few rows.

ckpt_single_f71f609.npz and ckpt_stack_f71f609.npz were written by fnn at git f71f609 (the last
commit before early stopping left fnn.fit for fnn.early_stopping): the checkpoint after step 5
of the run in _checkpointed_run, one network and a stack of two, its early-stopping state
named fnn.fit:_Watch and fnn.fit:_StackedWatch in the file.

The fixtures were computed on another machine. fnn is bitwise reproducible on one machine,
but a matrix product's rounding depends on the BLAS kernel the CPU selects (OpenBLAS picks
one per CPU model), so numbers computed there are compared here to float rounding, and
the bitwise laws compare runs made here: a file as fnn reads it now, the same file re-saved.
"""

import json
import pathlib
import shutil

import numpy as np
import pytest

import fnn
from fnn.early_stopping import StackedWatch, Watch

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


# a few float32 roundings through a small network and its training: far below any real change
CLOSE = dict(rtol=1e-5, atol=1e-6)


def _expected():
    with np.load(FIXTURES / "expected_cf7f65a.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_a_state_written_before_shapes_loads_and_predicts_the_same():
    expected = _expected()
    state = fnn.load(FIXTURES / "state_cf7f65a.npz")
    assert isinstance(state, fnn.TrainState)
    assert state.step == int(expected["step"])
    np.testing.assert_allclose(fnn.apply(state.params, expected["x"]), expected["state_out"], rtol=1e-12, atol=1e-14)


def test_a_state_written_before_shapes_trains_on():
    state = fnn.load(FIXTURES / "state_cf7f65a.npz")
    x = _expected()["x"]
    state2, metrics = fnn.train_epoch(state, (x, np.arange(len(x)) % 3), batch_size=4, loss="cross_entropy")
    assert state2.step == state.step + 2 and np.isfinite(metrics["loss"])


def test_a_stack_written_before_shapes_loads_and_predicts_the_same():
    expected = _expected()
    stack = fnn.load(FIXTURES / "stack_cf7f65a.npz")
    assert stack.members == 3
    np.testing.assert_allclose(fnn.apply(stack, expected["x"].astype(np.float32)), expected["stack_out"], **CLOSE)


def _checkpointed_run(kind):
    """The run the checkpoint fixtures come from (fit with checkpoint=DIR and these arguments)."""
    x = fnn.random.normal(fnn.random.key(0), (30, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    spec = fnn.mlp([3, 4, 2])
    key = fnn.random.key(1)
    params = fnn.init(key, spec) if kind == "single" else fnn.init_many(fnn.random.split(key, 2), spec)
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(2))
    kw = dict(
        epochs=2,
        batch_size=8,
        loss="cross_entropy",
        validation=0.2,
        verbose=0,
        early_stopping=fnn.EarlyStopping(patience=3),
        checkpoint_every=5,
    )
    return state, (x, y), kw


@pytest.mark.parametrize("kind, watch", [("single", Watch), ("stack", StackedWatch)])
def test_a_checkpoint_written_before_early_stopping_moved_loads_and_resumes_bit_for_bit(tmp_path, kind, watch):
    path = FIXTURES / f"ckpt_{kind}_f71f609.npz"
    checkpoint = fnn.io.load(path)
    assert isinstance(checkpoint, fnn.resume.Checkpoint) and type(checkpoint.watch) is watch
    assert (checkpoint.state.step, checkpoint.epoch, checkpoint.position) == (5, 1, 2)
    assert checkpoint.settings["early_stopping"] == fnn.EarlyStopping(patience=3)
    # this fnn writes the same names the old file holds
    again = fnn.io.save(tmp_path / "again.npz", checkpoint)
    written = fnn.io.read_header(again)["tree"]
    assert written["static"].pop("start") is None  # the one field added since (the run's start step: unknown here)
    assert json.dumps(written) == json.dumps(fnn.io.read_header(path)["tree"])

    state, data, kw = _checkpointed_run(kind)
    resumed, history = _resume_from(tmp_path / "old", path, state, data, kw)
    # the old file and this fnn's re-save of it resume into the same run, bit for bit
    again_resumed, again_history = _resume_from(tmp_path / "new", again, state, data, kw)
    fnn.tree.assert_equal(resumed, again_resumed)
    assert sorted(history) == sorted(again_history)
    for name in history:
        if name != "time":
            np.testing.assert_array_equal(history[name], again_history[name])
    # and that run is the uninterrupted one, to float rounding (the file's first five steps ran elsewhere)
    whole, whole_history = fnn.fit(state, data, **{k: v for k, v in kw.items() if k != "checkpoint_every"})
    assert resumed.step == whole.step
    for a, b in zip(fnn.tree.leaves(resumed.params), fnn.tree.leaves(whole.params), strict=True):
        np.testing.assert_allclose(a, b, **CLOSE)
    for name in history:
        if name != "time":
            np.testing.assert_allclose(history[name], whole_history[name], **CLOSE)


def _resume_from(run, checkpoint_file, state, data, kw):
    run.mkdir()
    shutil.copy(checkpoint_file, fnn.io.checkpoint_path(run, 5))
    return fnn.fit(state, data, resume=run, **kw)
