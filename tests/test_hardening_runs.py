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
    s = fnn.TrainState.create(fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 3])), fnn.optim.sgd(1e45),
                              key=fnn.random.key(2))
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError) as caught:
        fnn.fit(s, (x, y), epochs=3, batch_size=16 if validation is None else 12, loss="cross_entropy", verbose=0,
                validation=validation)
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


def test_a_resume_from_a_checkpoint_with_non_finite_params_says_so(tmp_path):  # F1: an older fnn's checkpoint
    x, y = data16()
    s = fnn.TrainState.create(fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 3])), fnn.optim.sgd(0.1),
                              key=fnn.random.key(2))
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
