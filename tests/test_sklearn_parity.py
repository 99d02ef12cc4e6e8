"""fnn.sklearn against scikit-learn's own MLP: its solvers' kernels and its objective."""

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fnn.sklearn is an optional extra: pip install 'fnn[sklearn]'")

import sklearn  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from sklearn.neural_network._base import LOSS_FUNCTIONS  # noqa: E402
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer  # noqa: E402

import fnn  # noqa: E402
from fnn.sklearn._objective import objective, output  # noqa: E402
from fnn.sklearn._optimizers import SklearnAdam, SklearnSGD  # noqa: E402

SKLEARN_17 = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 7)  # sample_weight, poisson


# ------------------------------------------------------------------ the solvers' kernels, bit for bit


@given(
    lr=st.floats(1e-4, 1.0), momentum=st.sampled_from([0.0, 0.5, 0.9, 1.0]), nesterov=st.booleans(),
    steps=st.integers(1, 6), seed=st.integers(0, 2**16),
)
def test_sklearn_sgd_is_scikit_learns_sgd_optimizer_bit_for_bit(lr, momentum, nesterov, steps, seed):
    rng = np.random.RandomState(seed)
    p, grads = rng.randn(7), rng.randn(steps, 7)
    theirs = SGDOptimizer([p.copy()], learning_rate_init=lr, momentum=momentum, nesterov=nesterov)
    theirs_p = [p.copy()]
    opt = SklearnSGD(lr, momentum, nesterov)
    ours, state = p, opt.init(p)
    for g in grads:
        theirs.update_params(theirs_p, [g])
        ours, state = opt.update(ours, g, state)
    assert np.array_equal(ours, theirs_p[0]) and np.array_equal(state.velocity, theirs.velocities[0])


@given(
    lr=st.floats(1e-4, 1.0), beta_1=st.sampled_from([0.0, 0.5, 0.9]), beta_2=st.sampled_from([0.0, 0.9, 0.999]),
    epsilon=st.sampled_from([1e-8, 1e-3]), steps=st.integers(1, 6), seed=st.integers(0, 2**16),
)
def test_sklearn_adam_is_scikit_learns_adam_optimizer_bit_for_bit(lr, beta_1, beta_2, epsilon, steps, seed):
    rng = np.random.RandomState(seed)
    p, grads = rng.randn(7), rng.randn(steps, 7)
    theirs = AdamOptimizer([p.copy()], learning_rate_init=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    theirs_p = [p.copy()]
    opt = SklearnAdam(lr, beta_1, beta_2, epsilon)
    ours, state = p, opt.init(p)
    for g in grads:
        theirs.update_params(theirs_p, [g])
        ours, state = opt.update(ours, g, state)
    assert np.array_equal(ours, theirs_p[0]) and np.array_equal(state.m, theirs.ms[0])
    assert np.array_equal(state.v, theirs.vs[0]) and state.count == theirs.t


def test_sklearn_optimizers_keep_float32():
    p, g = np.ones(3, np.float32), np.full(3, 0.5, np.float32)
    for opt in (SklearnSGD(0.1, 0.9, True), SklearnAdam(0.1)):
        new, state = opt.update(p, g, opt.init(p))
        assert new.dtype == np.float32 and all(a.dtype == np.float32 for a in fnn.tree.leaves(state)[1:])


# ------------------------------------------------------------------ the objective, against scikit-learn's losses

_SK_LOSS = {"softmax": "log_loss", "logistic": "binary_log_loss", "identity": "squared_error", "exp": "poisson"}


@pytest.mark.parametrize("kind", ["softmax", "logistic", "identity", "exp"])
@pytest.mark.parametrize("weighted", [False, True])
def test_objective_value_is_scikit_learns_loss_and_delta_its_output_error(kind, weighted):
    rng = np.random.RandomState(0)
    z = rng.randn(9, 3)
    y = {"softmax": np.eye(3)[rng.randint(0, 3, 9)], "logistic": (rng.rand(9, 3) > 0.5) * 1.0,
         "identity": rng.randn(9, 3), "exp": rng.poisson(2.0, (9, 3)) * 1.0}[kind]
    w = rng.uniform(0.1, 2.0, 9) if weighted else None
    total = 9.0 if w is None else float(w.sum())
    if (weighted or kind == "exp") and not SKLEARN_17:
        pytest.skip("scikit-learn's losses take sample_weight, and loss='poisson' exists, from 1.7")
    value, delta = objective(kind, z, y, w, total)
    p = output(kind, z)
    assert value == pytest.approx(LOSS_FUNCTIONS[_SK_LOSS[kind]](y, p, w), rel=1e-12)
    expected = (p - y) * (1.0 if w is None else w[:, None]) / total  # scikit-learn's deltas[last] / sw_sum
    assert np.allclose(delta, expected, rtol=1e-13, atol=1e-16)
