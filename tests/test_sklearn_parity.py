"""fnn.sklearn against scikit-learn's own MLP: started from the same weights on the same batches, the same steps.

Every law here fits scikit-learn's estimator and fnn's with the same parameters on the same
data, fnn started from the weights scikit-learn draws (``sk_initial_weights`` reproduces its
``_init_coef``, checked below) and ``shuffle=False`` so both see the same batches, and
compares the weights, ``loss_curve_`` and predictions to float64 rounding. What differs on
purpose (random draws, warm starts keeping the optimizer state, ...) is tested in
tests/test_sklearn.py.
"""

import inspect
import itertools
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fnn.sklearn is an optional extra: pip install 'fnn[sklearn]'")

import scipy.sparse as sparse
import sklearn
import sklearn.neural_network as sk_nn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network._base import LOSS_FUNCTIONS
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
from sklearn.utils._param_validation import InvalidParameterError

import fnn
from fnn.sklearn import MLPClassifier, MLPRegressor
from fnn.sklearn._objective import objective, output
from fnn.sklearn._optimizers import SklearnAdam, SklearnSGD

SKLEARN_17 = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 7)  # sample_weight, poisson
needs_17 = pytest.mark.skipif(not SKLEARN_17, reason="sample_weight and loss='poisson' came in scikit-learn 1.7")

# the worst weight difference after the runs below, relative to the largest weight: float64 rounding grown over a
# few dozen steps. L-BFGS stops where the gradient is ~1e-13: in a flat direction (a dead relu unit) the two may stop
# a few evaluations apart, at weights 1e-9 apart and losses equal to rounding (hypothesis found one such case).
STEP_TOL = {"sgd": 1e-11, "adam": 1e-11, "lbfgs": 1e-7}
ROUNDING = 1e-12  # a loss or prediction computed by two formulas of the same float64 numbers


def sk_initial_weights(seed, widths, activation):
    """The weights and biases scikit-learn's MLP starts from with ``random_state=seed`` (its ``_init_coef``)."""
    rng = np.random.RandomState(seed)
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in itertools.pairwise(widths):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, fan_out))
    return coefs, intercepts


def task(kind, n=60, d=4, seed=0):
    """(X, y) for a kind of target: binary, multiclass, multilabel, regression, multi-output, poisson."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    score = X @ rng.randn(d, 3) + 0.3 * X[:, :1] ** 2
    y = {
        "binary": (score[:, 0] > 0).astype(int),
        "multiclass": np.argmax(score, axis=1),
        "multilabel": (score > 0).astype(int),
        "regression": np.tanh(score[:, 0]),
        "multi-output": np.tanh(score),
        "poisson": np.exp(0.5 * np.tanh(score)),
    }[kind]
    return X, y


def both(kind, X, y, sample_weight=None, **params):
    """scikit-learn's and fnn's estimator fitted with ``params`` (fnn from scikit-learn's starting weights)."""
    classifier = kind in ("binary", "multiclass", "multilabel")
    if kind == "poisson":
        params["loss"] = "poisson"
    params = dict(random_state=5, shuffle=False) | params
    theirs = (sk_nn.MLPClassifier if classifier else sk_nn.MLPRegressor)(**params)
    ours = (MLPClassifier if classifier else MLPRegressor)(**params)
    outputs = {"binary": 1, "multiclass": 3, "regression": 1}.get(kind, 3)
    hidden = list(np.atleast_1d(params.get("hidden_layer_sizes", (100,))))
    coefs, intercepts = sk_initial_weights(
        params["random_state"], [X.shape[1], *hidden, outputs], params.get("activation", "relu")
    )
    weights = {} if sample_weight is None else {"sample_weight": sample_weight}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short runs on purpose
        with warnings.catch_warnings():  # scikit-learn 1.6 passes SciPy >= 1.15 its deprecated iprint
            warnings.simplefilter("ignore", DeprecationWarning)
            theirs.fit(X, y, **weights)
        ours.fit(X, y, **weights, coefs_init=coefs, intercepts_init=intercepts)
    return theirs, ours


def weight_difference(theirs, ours):
    """The largest difference between the two estimators' weights and biases, relative to the largest of them."""
    pairs = list(zip(theirs.coefs_ + theirs.intercepts_, ours.coefs_ + ours.intercepts_, strict=True))
    scale = max(1.0, max(float(np.max(np.abs(a))) for a, _ in pairs))
    return max(float(np.max(np.abs(a - b))) for a, b in pairs) / scale


def assert_same_steps(theirs, ours, X, solver):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    assert weight_difference(theirs, ours) < STEP_TOL[solver]
    if solver != "lbfgs":
        assert len(ours.loss_curve_) == len(theirs.loss_curve_)
        assert np.allclose(ours.loss_curve_, theirs.loss_curve_, rtol=STEP_TOL[solver], atol=0)
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=ROUNDING)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    method = "predict_proba" if hasattr(theirs, "predict_proba") else "predict"
    close = max(1e-9, 10 * STEP_TOL[solver])
    assert np.allclose(getattr(ours, method)(X), getattr(theirs, method)(X), rtol=close, atol=close)
    assert np.array_equal(ours.predict(X), theirs.predict(X)) or method == "predict"
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name


# ------------------------------------------------------------------ the solvers' kernels, bit for bit


@given(
    lr=st.floats(1e-4, 1.0),
    momentum=st.sampled_from([0.0, 0.5, 0.9, 1.0]),
    nesterov=st.booleans(),
    steps=st.integers(1, 6),
    seed=st.integers(0, 2**16),
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
    lr=st.floats(1e-4, 1.0),
    beta_1=st.sampled_from([0.0, 0.5, 0.9]),
    beta_2=st.sampled_from([0.0, 0.9, 0.999]),
    epsilon=st.sampled_from([1e-8, 1e-3]),
    steps=st.integers(1, 6),
    seed=st.integers(0, 2**16),
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
    y = {
        "softmax": np.eye(3)[rng.randint(0, 3, 9)],
        "logistic": (rng.rand(9, 3) > 0.5) * 1.0,
        "identity": rng.randn(9, 3),
        "exp": rng.poisson(2.0, (9, 3)) * 1.0,
    }[kind]
    w = rng.uniform(0.1, 2.0, 9) if weighted else None
    total = 9.0 if w is None else float(w.sum())
    if (weighted or kind == "exp") and not SKLEARN_17:
        pytest.skip("scikit-learn's losses take sample_weight, and loss='poisson' exists, from 1.7")
    value, delta = objective(kind, z, y, w, total)
    p = output(kind, z)
    sk_loss = LOSS_FUNCTIONS[_SK_LOSS[kind]]
    assert value == pytest.approx(sk_loss(y, p) if w is None else sk_loss(y, p, w), rel=1e-12)
    expected = (p - y) * (1.0 if w is None else w[:, None]) / total  # scikit-learn's deltas[last] / sw_sum
    assert np.allclose(delta, expected, rtol=1e-13, atol=1e-16)


# ------------------------------------------------------------------ the helper reproduces scikit-learn's start


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_sk_initial_weights_are_the_weights_scikit_learn_starts_from(activation):
    X, y = task("multiclass")
    # a rate of 1e-300 moves no float64 weight: one epoch of it shows scikit-learn's starting point
    theirs = sk_nn.MLPClassifier(
        (5, 4), activation=activation, solver="sgd", momentum=0.0, learning_rate_init=1e-300, max_iter=1, random_state=3
    )
    with pytest.warns(ConvergenceWarning):
        theirs.fit(X, y)
    coefs, intercepts = sk_initial_weights(3, [4, 5, 4, 3], activation)
    for a, b in zip(theirs.coefs_ + theirs.intercepts_, coefs + intercepts, strict=True):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------ the same steps, solver by solver

SOLVER_SETTINGS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.05),
    "sgd, classical momentum": dict(solver="sgd", nesterovs_momentum=False, momentum=0.7, learning_rate_init=0.05),
    "sgd, no momentum": dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
    "sgd, invscaling": dict(solver="sgd", learning_rate="invscaling", power_t=0.3, learning_rate_init=0.2),
    # tol=1e9 stalls every epoch: the rate is divided by 5 after every second one, down to 1e-6, then it stops
    "sgd, adaptive": dict(
        solver="sgd", learning_rate="adaptive", tol=1e9, n_iter_no_change=1, learning_rate_init=0.2, max_iter=40
    ),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam, betas": dict(solver="adam", learning_rate_init=0.02, beta_1=0.5, beta_2=0.9, epsilon=1e-6),
    "lbfgs": dict(solver="lbfgs"),
    "lbfgs, max_fun": dict(solver="lbfgs", max_fun=7, max_iter=50),
}
KINDS = ["binary", "multiclass", "multilabel", "regression", "multi-output"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", SOLVER_SETTINGS)
def test_fnn_takes_scikit_learns_steps(name, kind):
    X, y = task(kind)
    params = dict(hidden_layer_sizes=(6, 5), activation="tanh", alpha=0.01, batch_size=16, max_iter=12)
    theirs, ours = both(kind, X, y, **(params | SOLVER_SETTINGS[name]))
    assert_same_steps(theirs, ours, X, SOLVER_SETTINGS[name]["solver"])


def test_adaptive_rate_stops_when_scikit_learn_stops():
    X, y = task("multiclass")
    theirs, ours = both("multiclass", X, y, hidden_layer_sizes=(6,), batch_size=16, **SOLVER_SETTINGS["sgd, adaptive"])
    assert theirs.n_iter_ == ours.n_iter_ < 40  # stopped by "Learning rate too small", not by max_iter
    assert ours.state_.optimizer.lr == theirs._optimizer.learning_rate <= 1e-6


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "multi-output"])
def test_sparse_input_takes_the_steps_of_dense_input(solver, kind):
    X, y = task(kind)
    X = np.where(np.abs(X) > 0.8, X, 0.0)
    params = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=16, max_iter=8, learning_rate_init=0.02)
    for container in (sparse.csr_matrix, sparse.csc_array):
        theirs, ours = both(kind, container(X), y, **params)
        assert_same_steps(theirs, ours, X, solver)


@needs_17
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "multi-output", "poisson"])
def test_sample_weight_takes_scikit_learns_steps(solver, kind):
    X, y = task(kind)
    w = np.random.RandomState(1).randint(0, 4, len(X)).astype(float)
    params = dict(
        hidden_layer_sizes=(6,),
        activation="relu",
        solver=solver,
        batch_size=16,
        max_iter=10,
        learning_rate_init=0.02,
        alpha=0.1,
    )
    theirs, ours = both(kind, X, y, sample_weight=w, **params)
    assert_same_steps(theirs, ours, X, solver)


@needs_17
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_loss_takes_scikit_learns_steps(solver):
    X, y = task("poisson")
    theirs, ours = both(
        "poisson", X, y, hidden_layer_sizes=(5,), solver=solver, batch_size=20, max_iter=10, learning_rate_init=0.01
    )
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert_same_steps(theirs, ours, X, solver)


@given(
    solver=st.sampled_from(["sgd", "adam", "lbfgs"]),
    kind=st.sampled_from(KINDS),
    hidden=st.lists(st.integers(1, 6), min_size=0, max_size=2).map(tuple),
    activation=st.sampled_from(["identity", "logistic", "tanh", "relu"]),
    batch_size=st.one_of(st.just("auto"), st.integers(5, 70)),
    alpha=st.sampled_from([0.0, 1e-4, 0.3]),
    learning_rate=st.sampled_from(["constant", "invscaling", "adaptive"]),
    momentum=st.sampled_from([0.0, 0.5, 0.9]),  # 1.0, undamped, diverges on purpose
    nesterov=st.booleans(),
    weighted=st.booleans() if SKLEARN_17 else st.just(False),
)
@settings(max_examples=40)
def test_law_same_start_same_batches_same_steps(
    solver, kind, hidden, activation, batch_size, alpha, learning_rate, momentum, nesterov, weighted
):
    X, y = task(kind, n=50)
    w = np.random.RandomState(2).uniform(0, 2, len(X)) if weighted else None
    params = dict(
        hidden_layer_sizes=hidden,
        activation=activation,
        solver=solver,
        batch_size=batch_size,
        alpha=alpha,
        learning_rate=learning_rate,
        momentum=momentum,
        nesterovs_momentum=nesterov,
        learning_rate_init=0.01,
        max_iter=5,
        tol=0.0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a batch_size above 50 is clipped, with a warning by both
        theirs, ours = both(kind, X, y, sample_weight=w, **params)
    assert_same_steps(theirs, ours, X, solver)


# ------------------------------------------------------------------ stopping, early stopping, validation


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("n_iter_no_change", [1, 3])
def test_stopping_rule_counts_epochs_as_scikit_learn(early_stopping, n_iter_no_change):
    # with a huge tol no epoch counts as an improvement after the first: both stop after n_iter_no_change + 2
    X, y = task("multiclass", n=80)
    kw = dict(
        hidden_layer_sizes=(8,),
        tol=1e9,
        n_iter_no_change=n_iter_no_change,
        early_stopping=early_stopping,
        random_state=0,
    )
    ours = MLPClassifier(**kw).fit(X, y)  # stopped by tol: no ConvergenceWarning (warnings are errors here)
    theirs = sk_nn.MLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == n_iter_no_change + 2
    assert len(ours.validation_scores_ or ()) == len(theirs.validation_scores_ or ())
    assert (ours.best_loss_ is None) == (theirs.best_loss_ is None) == early_stopping


def test_n_iter_no_change_inf_never_stops_on_tol():
    X, y = task("binary")
    kw = dict(hidden_layer_sizes=(4,), tol=1e9, n_iter_no_change=np.inf, max_iter=7, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(7\)"):
        ours = MLPClassifier(**kw).fit(X, y)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(7\)"):
        theirs = sk_nn.MLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 7


def test_early_stopping_validation_set_sizes_are_scikit_learns():
    # 21 rows, fraction 0.1: ceil(2.1) = 3 rows validate, as in train_test_split (rounding would give 2)
    X, y = task("regression", n=21)
    kw = dict(hidden_layer_sizes=(4,), early_stopping=True, max_iter=3, tol=0.0, n_iter_no_change=100, random_state=0)
    with pytest.warns(ConvergenceWarning):
        ours = MLPRegressor(**kw).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        theirs = sk_nn.MLPRegressor(**kw).fit(X, y)
    assert ours.t_ == theirs.t_ == 3 * 18


@needs_17  # scikit-learn 1.6 trains on a validation set of one row
@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sk_nn.MLPClassifier), (MLPRegressor, sk_nn.MLPRegressor)])
def test_a_too_small_validation_set_is_refused_with_scikit_learns_words(ours, theirs):
    X, y = task("multilabel" if ours is MLPClassifier else "regression", n=10)  # not stratified: 1 row validates
    kw = dict(early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="The validation set is too small") as sk_error:
        theirs(**kw).fit(X, y)
    with pytest.raises(ValueError, match="The validation set is too small") as error:
        ours(**kw).fit(X, y)
    assert str(sk_error.value) in str(error.value)  # scikit-learn's sentence, then fnn's numbers
    assert "1 to validate" in str(error.value)


# ------------------------------------------------------------------ parameters: names, order, defaults, validation


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sk_nn.MLPClassifier), (MLPRegressor, sk_nn.MLPRegressor)])
def test_constructor_signature_is_scikit_learns(ours, theirs):
    mine, sk = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
    assert [(p.name, p.kind) for p in sk.values()] == [(p.name, p.kind) for p in mine.values() if p.name in sk]
    assert set(mine) == set(sk) | ({"loss"} if ours is MLPRegressor else set())  # loss is sklearn >= 1.7's
    assert {n: sk[n].default for n in sk} == {n: mine[n].default for n in sk}


def _sklearn_parameter_sets():
    """Parameters of scikit-learn estimators in every option of every choice parameter."""
    choices = dict(
        solver=["lbfgs", "sgd", "adam"],
        activation=["identity", "logistic", "tanh", "relu"],
        learning_rate=["constant", "invscaling", "adaptive"],
        nesterovs_momentum=[True, False],
        early_stopping=[True, False],
        batch_size=["auto", 7],
        n_iter_no_change=[3, np.inf],
        hidden_layer_sizes=[(), 3, (4, 2), [5]],
        random_state=[None, 0, np.random.RandomState(1)],
    )
    for name, values in choices.items():
        for value in values:
            yield {name: value, "max_iter": 3}


@pytest.mark.parametrize("theirs, ours", [(sk_nn.MLPClassifier, MLPClassifier), (sk_nn.MLPRegressor, MLPRegressor)])
def test_any_scikit_learn_estimators_params_build_the_fnn_estimator(theirs, ours):
    X, y = task("binary" if ours is MLPClassifier else "regression", n=40)
    for params in _sklearn_parameter_sets():
        sk = theirs(**params)
        est = ours(**sk.get_params())
        assert {name: est.get_params()[name] for name in sk.get_params()} == sk.get_params()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # scikit-learn 1.6 passes SciPy >= 1.15 iprint
            assert est.fit(X, y).predict(X).shape == sk.fit(X, y).predict(X).shape


INVALID = [
    ("learning_rate_init", 0),
    ("learning_rate_init", -1.0),
    ("momentum", 2),
    ("momentum", -0.1),
    ("validation_fraction", 1.5),
    ("validation_fraction", 1.0),
    ("alpha", -1.0),
    ("batch_size", 0),
    ("batch_size", "big"),
    ("max_iter", 0),
    ("max_iter", 2.5),
    ("tol", -1.0),
    ("n_iter_no_change", 0),
    ("n_iter_no_change", 2.5),
    ("shuffle", "yes"),
    ("warm_start", 1),
    ("beta_1", 1.0),
    ("beta_2", -0.5),
    ("epsilon", 0.0),
    ("power_t", -1.0),
    ("max_fun", 0),
    ("solver", "adamm"),
    ("solver", "Adam"),
    ("activation", "swish"),
    ("activation", "softmax"),
    ("learning_rate", "cosine"),
    ("random_state", -1),
    ("random_state", 1.5),
    ("random_state", "0"),
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", "8"),
    ("verbose", "loud"),
    ("early_stopping", None),
    ("nesterovs_momentum", 0.5),
]


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sk_nn.MLPClassifier), (MLPRegressor, sk_nn.MLPRegressor)])
@pytest.mark.parametrize("name, value", INVALID)
def test_invalid_values_are_rejected_as_scikit_learn_rejects_them(ours, theirs, name, value):
    X, y = task("binary" if ours is MLPClassifier else "regression", n=20)
    with pytest.raises(InvalidParameterError) as sk_error:
        theirs(**{name: value}).fit(X, y)
    with pytest.raises(InvalidParameterError) as error:
        ours(**{name: value}).fit(X, y)
    assert str(error.value) == str(sk_error.value)
    assert isinstance(error.value, fnn.errors.ConfigError)


@needs_17
def test_invalid_loss_is_rejected_as_scikit_learn_rejects_it():
    X, y = task("regression", n=20)
    with pytest.raises(InvalidParameterError) as sk_error:
        sk_nn.MLPRegressor(loss="huber").fit(X, y)
    with pytest.raises(InvalidParameterError) as error:
        MLPRegressor(loss="huber").fit(X, y)
    assert str(error.value) == str(sk_error.value)


@pytest.mark.parametrize("sizes", [(8, 0), [3, -1]])
def test_non_positive_hidden_layer_sizes_are_value_errors_as_in_scikit_learn(sizes):
    X, y = task("binary", n=20)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        sk_nn.MLPClassifier(sizes).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(sizes).fit(X, y)


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sk_nn.MLPClassifier), (MLPRegressor, sk_nn.MLPRegressor)])
def test_partial_fit_is_absent_for_lbfgs_with_scikit_learns_message(ours, theirs):
    assert not hasattr(ours(solver="lbfgs"), "partial_fit") and hasattr(ours(solver="sgd"), "partial_fit")
    for est in (ours(solver="lbfgs"), sk_nn.MLPClassifier(solver="lbfgs")):
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
            _ = est.partial_fit
        assert str(error.value.__cause__) == (
            "partial_fit is only available for stochastic optimizers. lbfgs is not stochastic."
        )


def test_estimator_tags_are_scikit_learns_or_wider():
    from sklearn.utils import get_tags

    assert get_tags(MLPClassifier()) == get_tags(sk_nn.MLPClassifier())
    ours, theirs = get_tags(MLPRegressor()), get_tags(sk_nn.MLPRegressor())
    assert ours.input_tags == theirs.input_tags and ours.target_tags.multi_output  # scikit-learn's does fit many
