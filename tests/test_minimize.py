"""L-BFGS through scipy: reaches the optimum of a convex problem, decreases monotonically, keeps dtype."""

import numpy as np
import pytest

import fnn
from fnn.errors import ConfigError

pytest.importorskip("scipy")  # the lbfgs extra; installed with the test extra, so this runs in CI


def softmax_regression(dtype=np.float64):
    x = fnn.random.normal(fnn.random.key(0), (300, 5))
    w = fnn.random.normal(fnn.random.key(1), (5, 3))
    y = np.argmax(x @ w + 0.5 * fnn.random.normal(fnn.random.key(2), (300, 3)), axis=1)
    params = fnn.init(fnn.random.key(3), fnn.mlp([5, 3], dtype=dtype))
    return params, x.astype(dtype), y


def test_convex_problem_reaches_a_stationary_point_below_adam():
    params, x, y = softmax_regression()
    best, result = fnn.minimize(params, (x, y), loss="cross_entropy", l2=1e-2, maxiter=500, tol=1e-12)
    g = fnn.tree.ravel(fnn.grad(best, (x, y), loss="cross_entropy", l2=1e-2))[0]
    assert np.abs(g).max() < 1e-5
    # the same problem by 3000 full-batch Adam steps ends no lower
    state = fnn.TrainState.create(params, fnn.optim.adam(0.05), key=fnn.random.key(0))
    for _ in range(3000):
        state = fnn.opt_step(state, fnn.grad(state.params, (x, y), loss="cross_entropy", l2=1e-2))
    adam_loss = fnn.value_and_grad(state.params, (x, y), loss="cross_entropy", l2=1e-2)[0]
    assert result.loss <= adam_loss + 1e-9
    assert np.isclose(result.loss, fnn.value_and_grad(best, (x, y), loss="cross_entropy", l2=1e-2)[0])


def test_loss_curve_decreases_and_run_is_deterministic():
    x, y = fnn.data.load_digits()
    params = fnn.init(fnn.random.key(0), fnn.mlp([64, 32, 10], dtype=np.float64))
    a, ra = fnn.minimize(params, (x[:600], y[:600]), loss="cross_entropy", l2=1e-4, maxiter=60)
    b, rb = fnn.minimize(params, (x[:600], y[:600]), loss="cross_entropy", l2=1e-4, maxiter=60)
    fnn.tree.assert_equal(a, b)
    assert np.all(np.diff(ra.loss_curve) <= 1e-12) and ra.loss_curve[-1] < 0.5 * ra.loss_curve[0]
    assert ra.iterations == len(ra.loss_curve) - 1 and ra.evaluations >= ra.iterations
    assert fnn.metrics.accuracy(y[600:], fnn.apply(a, x[600:])) > 0.9


def test_float32_stays_float32_in_one_read_only_buffer():
    params, x, y = softmax_regression(np.float32)
    best, _ = fnn.minimize(params, (x, y), loss="cross_entropy", maxiter=20)
    flat, _ = fnn.tree.ravel(best)
    for leaf in fnn.tree.leaves(best):
        assert leaf.dtype == np.float32 and not leaf.flags.writeable and np.shares_memory(flat, leaf)


@pytest.mark.parametrize(
    "kwargs, match", [(dict(maxiter=0), "maxiter"), (dict(tol=0.0), "tol"), (dict(memory=1.5), "memory")]
)
def test_bad_arguments(kwargs, match):
    params, x, y = softmax_regression()
    with pytest.raises(ConfigError, match=match):
        fnn.minimize(params, (x, y), loss="cross_entropy", **kwargs)
