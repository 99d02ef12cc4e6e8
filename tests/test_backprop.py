"""The gradient law: fnn.grad equals central finite differences over random specs, losses and label forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.testing import GRAD_RTOL, check_grads, grad_error, problems, random_params

# Largest error seen while the suite runs; printed at the end of the session by test_report below.
WORST = {"error": 0.0}


@settings(max_examples=300)
@given(problems(), st.sampled_from([0.0, 0.3]))
def test_grad_equals_finite_differences(problem, l2):
    loss, params, batch = problem
    err = check_grads(params, batch, loss=loss, l2=l2)
    WORST["error"] = max(WORST["error"], err)


@settings(max_examples=60)
@given(problems(max_depth=3, dropout=True), st.integers(0, 2**32 - 1))
def test_grad_with_dropout_matches_finite_differences_for_fixed_masks(problem, seed):
    loss, params, batch = problem
    check_grads(params, batch, loss=loss, key=fnn.random.key(seed))


def test_custom_loss_callable():
    def huber(y_hat, y):
        d = y_hat - y
        small = np.abs(d) <= 1
        value = np.where(small, 0.5 * d * d, np.abs(d) - 0.5).mean()
        return value, np.where(small, d, np.sign(d)) / d.size

    params = random_params(fnn.random.key(0), fnn.mlp([3, 4, 2], output=None, dtype=np.float64))
    x = fnn.random.normal(fnn.random.key(1), (6, 3))
    y = fnn.random.normal(fnn.random.key(2), (6, 2)) * 3
    check_grads(params, (x, y), loss=huber)


@given(st.integers(0, 2**32 - 1), st.integers(2, 8))
def test_batch_gradient_is_mean_of_per_sample_gradients(seed, n):
    spec = fnn.mlp([3, 5, 4], hidden="tanh", dtype=np.float64)
    params = random_params(fnn.random.key(seed), spec)
    x = fnn.random.normal(fnn.random.key(seed + 1), (n, 3))
    y = np.arange(n) % 4
    full = fnn.tree.ravel(fnn.grad(params, (x, y), loss="cross_entropy"))[0]
    per = [fnn.tree.ravel(fnn.grad(params, (x[i : i + 1], y[i : i + 1]), loss="cross_entropy"))[0] for i in range(n)]
    assert np.allclose(full, np.mean(per, axis=0), atol=1e-13)


@given(st.integers(0, 2**32 - 1), st.floats(0.01, 10))
def test_l2_adds_lambda_w_to_weights_only(seed, lam):
    params = random_params(fnn.random.key(seed), fnn.mlp([3, 4, 2], dtype=np.float64))
    batch = (fnn.random.normal(fnn.random.key(1), (5, 3)), np.array([0, 1, 1, 0, 1]))
    v0, g0 = fnn.value_and_grad(params, batch, loss="cross_entropy")
    v1, g1 = fnn.value_and_grad(params, batch, loss="cross_entropy", l2=lam)
    assert np.isclose(v1 - v0, 0.5 * lam * sum(np.sum(layer.w**2) for layer in params.layers[::2]))
    for p, a, b in zip(params.layers[::2], g0.layers[::2], g1.layers[::2], strict=True):
        assert np.allclose(b.w - a.w, lam * p.w) and np.array_equal(b.b, a.b)


def test_grads_share_params_structure_dtype_and_flat_layout():
    for dtype in (np.float32, np.float64):
        params = fnn.init(fnn.random.key(0), fnn.mlp([4, 6, 3], dtype=dtype))
        g = fnn.grad(params, (np.ones((2, 4)), np.array([0, 2])), loss="cross_entropy")
        assert fnn.tree.structure(g) == fnn.tree.structure(params)
        flat, _ = fnn.tree.ravel(g)
        assert flat.dtype == dtype and all(np.shares_memory(flat, leaf) for leaf in fnn.tree.leaves(g))
        assert not any(leaf.flags.writeable for leaf in fnn.tree.leaves(g))


def test_grad_does_not_mutate_inputs():
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 6, 3], dropout=0.3))
    x = np.arange(8.0, dtype=np.float32).reshape(2, 4)
    y = np.array([0, 2])
    before = (fnn.tree.ravel(params)[0].tobytes(), x.tobytes(), y.tobytes())
    fnn.value_and_grad(params, (x, y), loss="cross_entropy", key=fnn.random.key(1), l2=0.1)
    assert (fnn.tree.ravel(params)[0].tobytes(), x.tobytes(), y.tobytes()) == before


def test_training_mode_is_the_train_flag_not_the_key():
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 32, 3], dropout=0.5))
    batch = (np.ones((4, 4)), np.array([0, 1, 2, 0]))
    inference = fnn.grad(params, batch, loss="cross_entropy", train=False)
    # train=False ignores a key: the network as fnn.apply runs it
    assert fnn.tree.equal(inference, fnn.grad(params, batch, loss="cross_entropy", train=False, key=fnn.random.key(1)))
    trained = fnn.grad(params, batch, loss="cross_entropy", key=fnn.random.key(1))
    assert not fnn.tree.equal(inference, trained)
    assert fnn.tree.equal(trained, fnn.grad(params, batch, loss="cross_entropy", key=fnn.random.key(1)))
    with pytest.raises(ConfigError, match="Dropout in training mode needs a key"):
        fnn.grad(params, batch, loss="cross_entropy")  # training is the default: dropout says it needs a key
    with pytest.raises(ConfigError, match="train must be True or False"):
        fnn.grad(params, batch, loss="cross_entropy", train="yes")


def test_a_network_without_randomness_trains_without_a_key():
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 8, 3]))
    batch = (np.ones((4, 4)), np.array([0, 1, 2, 0]))
    assert fnn.tree.equal(
        fnn.grad(params, batch, loss="cross_entropy"), fnn.grad(params, batch, loss="cross_entropy", train=False)
    )


def test_bad_batches():
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 3]))
    with pytest.raises(ShapeError, match="pair"):
        fnn.grad(params, np.ones((2, 4)), loss="mse")
    with pytest.raises(ConfigError, match=r"\[0, 2\]"):
        fnn.grad(params, (np.ones((2, 4)), np.array([0, 3])), loss="cross_entropy")
    with pytest.raises(ShapeError, match="labels of shape"):
        fnn.grad(params, (np.ones((2, 4)), np.array([0, 1, 2])), loss="cross_entropy")
    with pytest.raises(NonFiniteError):
        fnn.grad(params, (np.full((2, 4), np.inf), np.array([0, 1])), loss="cross_entropy")
    with pytest.raises(ConfigError, match="l2"):
        fnn.grad(params, (np.ones((2, 4)), np.array([0, 1])), loss="cross_entropy", l2=-1)
    with pytest.raises(ConfigError, match="unknown loss"):
        fnn.grad(params, (np.ones((2, 4)), np.array([0, 1])), loss="hinge")


def test_checker_catches_a_wrong_gradient():
    # the checker must be able to fail: a loss whose gradient is off by 1% is caught
    def wrong(y_hat, y):
        d = y_hat - y
        return np.mean(d * d), 2.02 * d / d.size

    params = random_params(fnn.random.key(0), fnn.mlp([3, 2], output=None, dtype=np.float64))
    batch = (fnn.random.normal(fnn.random.key(1), (4, 3)), fnn.random.normal(fnn.random.key(2), (4, 2)))
    assert grad_error(params, batch, loss=wrong) > 1e-3
    with pytest.raises(AssertionError, match="relative error"):
        check_grads(params, batch, loss=wrong)


def test_report_worst_gradient_error(capsys):
    with capsys.disabled():
        print(
            f"\n[fnn] largest relative gradient error found by hypothesis: {WORST['error']:.3g} (bound {GRAD_RTOL:g})"
        )
