"""Files written by earlier versions of fnn still load and predict the same.

The fixtures in tests/fixtures were written by fnn at git cf7f65a (the last commit before the
engine took per-sample shapes): a trained TrainState of a float64 network with dropout and a
nested Sequential, a float32 stack of three MLPs, and their outputs on a few rows.
"""

import pathlib

import numpy as np

import fnn

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def _expected():
    with np.load(FIXTURES / "expected_cf7f65a.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_a_state_written_before_shapes_loads_and_predicts_the_same():
    expected = _expected()
    state = fnn.load(FIXTURES / "state_cf7f65a.npz")
    assert isinstance(state, fnn.TrainState)
    assert state.step == int(expected["step"])
    np.testing.assert_array_equal(fnn.apply(state.params, expected["x"]), expected["state_out"])


def test_a_state_written_before_shapes_trains_on():
    state = fnn.load(FIXTURES / "state_cf7f65a.npz")
    x = _expected()["x"]
    state2, metrics = fnn.train_epoch(state, (x, np.arange(len(x)) % 3), batch_size=4, loss="cross_entropy")
    assert state2.step == state.step + 2 and np.isfinite(metrics["loss"])


def test_a_stack_written_before_shapes_loads_and_predicts_the_same():
    expected = _expected()
    stack = fnn.load(FIXTURES / "stack_cf7f65a.npz")
    assert stack.members == 3
    np.testing.assert_array_equal(fnn.apply(stack, expected["x"].astype(np.float32)), expected["stack_out"])
