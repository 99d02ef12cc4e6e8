"""fnn.sklearn: scikit-learn's estimator checks, the laws of warm starts, partial_fit and seeds, fnn's own behaviour.

scikit-learn is an optional extra, so this module runs only where it is installed. The
equality with scikit-learn's own MLP (same steps, parameters, messages) is in
tests/test_sklearn_parity.py.
"""

import functools
import pathlib
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fnn.sklearn is an optional extra: pip install 'fnn[sklearn]'")

import scipy.sparse as sparse
import sklearn.neural_network as sk_nn
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

import fnn
import fnn.sklearn._training as training
from fnn.errors import ConfigError, ShapeError
from fnn.sklearn import MLPClassifier, MLPRegressor, NonFiniteWeightsError
from fnn.sklearn._optimizers import SklearnAdam, SklearnSGD

SOLVERS = sorted(fnn.optim.OPTIMIZERS)  # "sgd" and "adam" are scikit-learn's; every other fnn optimizer is one too
STOCHASTIC = [dict(solver=s) for s in SOLVERS] + [
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1),
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1),
]
NEVER_STOP = dict(tol=0.0, n_iter_no_change=np.inf)  # tol stops nothing: laws compare whole runs


def _name(params):
    return "-".join(str(v) for v in params.values())


# ------------------------------------------------------------------ data


def classes_data(n=60, d=4, k=3, seed=0, dtype=np.float64, labels=None):
    """Rows from fnn.random and labels from a fixed linear rule; ``labels`` renames the classes 0..k-1."""
    x = fnn.random.normal(fnn.random.key(seed), (n, d), dtype=dtype)
    w = fnn.random.normal(fnn.random.key(seed + 1), (d, k))
    y = np.argmax(x @ w, axis=1)
    return x, (y if labels is None else np.asarray(labels)[y])


def regression_data(n=60, d=3, outputs=None, seed=0, dtype=np.float64):
    x = fnn.random.normal(fnn.random.key(seed), (n, d), dtype=dtype)
    w = fnn.random.normal(fnn.random.key(seed + 1), (d, outputs or 1))
    y = np.tanh(x @ w)
    return x, (y[:, 0] if outputs is None else y)


def small(cls, **kw):
    """A small, seeded estimator; ``kw`` overrides."""
    return cls(**(dict(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0) | kw))


def quiet_fit(est, X, y, **fit_params):
    """``est.fit`` expecting scikit-learn's ConvergenceWarning (max_iter reached), as these runs are short."""
    with pytest.warns(ConvergenceWarning, match="Maximum iterations|lbfgs failed to converge"):
        return est.fit(X, y, **fit_params)


def initial_weights(est, X, y):
    """The weights ``est`` starts from: one epoch of SGD at the exact rate 0 (an fnn schedule) moves none."""
    frozen = clone(est).set_params(
        solver="sgd",
        momentum=0.0,
        max_iter=1,
        learning_rate="constant",
        learning_rate_init=fnn.optim.schedules.constant(0.0),
    )
    return quiet_fit(frozen, X, y)


# ------------------------------------------------------------------ scikit-learn's estimator checks


def _array_api_ready(check, monkeypatch):
    # check_array_api_input(array_namespace="numpy") skips unless SCIPY_ARRAY_API=1, the switch
    # scikit-learn asks for before array-API dispatch because some estimators call SciPy. These
    # estimators call no SciPy on that path, so the check applies; set the switch for that check alone.
    if getattr(check, "func", check).__name__.startswith("check_array_api"):
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")


def _all_checks(estimators):
    """``parametrize_with_checks(estimators)``: every check, none skipped or expected to fail.

    scikit-learn < 1.8 hands pytest a generator, which pytest 9 deprecates (an error here): listed.
    """
    mark = parametrize_with_checks(estimators)
    names, values = mark.args
    return pytest.mark.parametrize(names, list(values), **mark.kwargs)


CHECKED = [
    MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100),
    MLPRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100),
    MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30),
]


# ConvergenceWarning is ignored only here: the checks train on purpose for a handful of epochs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@_all_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    _array_api_ready(check, monkeypatch)
    check(estimator)


@pytest.mark.parametrize("estimator", [MLPClassifier(max_iter=5), MLPRegressor(max_iter=5), MLPRegressor(solver="sgd")])
def test_sklearn_parameter_validation_check(estimator):
    # scikit-learn runs this check on its own estimators only: every parameter has a constraint,
    # and a value of a wrong type or out of range is an InvalidParameterError naming it, in fit and partial_fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_param_validation(type(estimator).__name__, estimator)


def test_import_fnn_does_not_load_the_extra():
    code = "import sys, fnn; print('fnn.sklearn' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# ------------------------------------------------------------------ laws: warm start, partial_fit, seeds


@pytest.mark.parametrize("params", STOCHASTIC, ids=_name)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_warm_start_a_then_b_equals_one_fit_of_a_plus_b(params, kind):
    if kind == "classifier":
        X, y = classes_data(labels=["ant", "bee", "cat"])
        make = lambda m: small(MLPClassifier, batch_size=16, max_iter=m, **NEVER_STOP, **params)  # noqa: E731
    else:
        X, y = regression_data(outputs=2)
        make = lambda m: small(MLPRegressor, batch_size=16, max_iter=m, **NEVER_STOP, **params)  # noqa: E731
    once = quiet_fit(make(5), X, y)
    twice = quiet_fit(make(2).set_params(warm_start=True), X, y)
    quiet_fit(twice.set_params(max_iter=3), X, y)
    fnn.tree.assert_equal(once.state_, twice.state_)  # params, optimizer state, key, step: bit for bit
    assert once.loss_curve_ == twice.loss_curve_ and once.t_ == twice.t_ == 5 * len(X)
    assert (once.n_iter_, twice.n_iter_) == (5, 3)  # as scikit-learn: the epochs of the last call


def test_warm_start_keeps_the_adaptive_rate_divisions():
    X, y = classes_data()
    params = dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, tol=1e9, n_iter_no_change=1)
    once = quiet_fit(small(MLPClassifier, max_iter=6, **params), X, y)
    twice = quiet_fit(small(MLPClassifier, max_iter=3, warm_start=True, **params), X, y)
    quiet_fit(twice, X, y)
    fnn.tree.assert_equal(once.state_, twice.state_)
    assert once.state_.optimizer.lr == pytest.approx(0.1 / 25)  # stalled at epochs 2 and 4: divided twice


@pytest.mark.parametrize("params", STOCHASTIC, ids=_name)
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_k_partial_fits_equal_the_first_k_epochs_of_fit(params, shuffle, weighted):
    X, y = classes_data(n=50, labels=[-3, 7, 42])
    w = {"sample_weight": np.linspace(0.0, 2.0, len(X))} if weighted else {}
    k = 4
    settings = dict(batch_size=16, shuffle=shuffle, **NEVER_STOP, **params)
    fitted = quiet_fit(small(MLPClassifier, max_iter=k, **settings), X, y, **w)
    stream = small(MLPClassifier, **settings)
    for i in range(k):
        stream.partial_fit(X, y, classes=[-3, 7, 42] if i == 0 else None, **w)
        assert stream.n_iter_ == 1 and stream.state_.step == (i + 1) * 4  # ceil(50 / 16) = 4 steps an epoch
    fnn.tree.assert_equal(fitted.state_, stream.state_)
    assert fitted.loss_curve_ == stream.loss_curve_


def test_partial_fit_regressor_equals_fit():
    X, y = regression_data()
    fitted = quiet_fit(small(MLPRegressor, max_iter=3, **NEVER_STOP), X, y)
    stream = small(MLPRegressor, **NEVER_STOP)
    for _ in range(3):
        stream.partial_fit(X, y)
    fnn.tree.assert_equal(fitted.state_, stream.state_)


def test_int_seed_reproduces_and_derives_three_keys():
    X, y = classes_data()
    a, b = (quiet_fit(small(MLPClassifier, max_iter=3), X, y) for _ in range(2))
    fnn.tree.assert_equal(a.state_, b.state_)
    assert a.seed_ == 0
    _, k_train, _ = fnn.random.split(fnn.random.key(0), 3)
    assert a.state_.key == k_train
    other = quiet_fit(small(MLPClassifier, max_iter=3).set_params(random_state=1), X, y)
    assert not fnn.tree.equal(a.params_, other.params_)


@pytest.mark.parametrize("activation, factor", [("relu", 6.0), ("tanh", 6.0), ("logistic", 2.0)])
def test_starting_weights_are_drawn_as_scikit_learn_draws_them(activation, factor):
    # uniform on ±sqrt(factor / (fan_in + fan_out)), biases too (scikit-learn's _init_coef)
    X, y = classes_data(n=30, d=40)
    start = initial_weights(MLPClassifier((60,), activation=activation, random_state=0), X, y)
    for w, b in zip(start.coefs_, start.intercepts_, strict=True):
        bound = np.sqrt(factor / sum(w.shape))
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
        assert np.abs(b).max() <= bound and np.abs(b).max() > 0.5 * bound


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_float32_and_float64_data_start_from_the_same_weights(kind):
    X, y = classes_data(n=40) if kind == "classifier" else regression_data(n=40)
    est = small(MLPClassifier if kind == "classifier" else MLPRegressor, hidden_layer_sizes=(7, 5))
    wide = initial_weights(est, X, y)
    narrow = initial_weights(est, X.astype(np.float32), y)
    assert narrow.params_.dtype == np.float32 and wide.params_.dtype == np.float64
    for a, b in zip(wide.coefs_ + wide.intercepts_, narrow.coefs_ + narrow.intercepts_, strict=True):
        assert np.array_equal(a.astype(np.float32), b)  # drawn once in float64, then cast


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_and_float64_data_train_the_same_model_up_to_rounding(solver):
    X, y = classes_data(n=80)
    est = small(MLPClassifier, solver=solver, max_iter=10, **NEVER_STOP)
    wide = quiet_fit(clone(est), X, y)
    narrow = quiet_fit(clone(est), X.astype(np.float32), y)
    assert np.allclose(wide.predict_proba(X), narrow.predict_proba(X.astype(np.float32)), atol=1e-4)


def test_random_state_none_draws_fresh_entropy_without_global_state_and_keeps_the_seed():
    X, y = classes_data()
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - the law: fnn leaves it alone
    a = quiet_fit(small(MLPClassifier, max_iter=2).set_params(random_state=None), X, y)
    b = quiet_fit(small(MLPClassifier, max_iter=2).set_params(random_state=None), X, y)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002 - NumPy's global RNG untouched
    assert a.seed_ != b.seed_ and not fnn.tree.equal(a.params_, b.params_)
    again = quiet_fit(small(MLPClassifier, max_iter=2).set_params(random_state=a.seed_), X, y)
    fnn.tree.assert_equal(a.state_, again.state_)  # random_state=seed_ reproduces the fit


@pytest.mark.parametrize("rng", [np.random.RandomState, np.random.default_rng])
def test_numpy_rng_random_state_gives_one_draw_per_fit(rng):
    X, y = classes_data()
    expected = int(
        rng(5).randint(np.iinfo(np.int32).max)
        if rng is np.random.RandomState
        else rng(5).integers(np.iinfo(np.int32).max)
    )
    est = small(MLPClassifier, max_iter=1).set_params(random_state=rng(5))
    quiet_fit(est, X, y)
    assert est.seed_ == expected
    quiet_fit(est, X, y)  # the same generator, drawn again: another seed
    assert est.seed_ != expected


# ------------------------------------------------------------------ starting from given weights


def test_coefs_init_starts_from_the_given_weights():
    X, y = classes_data()
    donor = quiet_fit(small(MLPClassifier, max_iter=5), X, y)
    frozen = dict(solver="sgd", momentum=0.0, max_iter=1, learning_rate_init=fnn.optim.schedules.constant(0.0))
    est = quiet_fit(small(MLPClassifier, **frozen), X, y, coefs_init=donor.coefs_, intercepts_init=donor.intercepts_)
    for a, b in zip(donor.coefs_ + donor.intercepts_, est.coefs_ + est.intercepts_, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(est.predict_proba(X), donor.predict_proba(X))


def test_coefs_init_errors():
    X, y = classes_data()
    est = small(MLPClassifier, max_iter=1)
    coefs = [np.zeros((4, 8)), np.zeros((8, 3))]
    with pytest.raises(ShapeError, match=r"layer 1 needs coefs_init\[1\] of shape \(8, 3\).*got \(8, 2\)"):
        est.fit(X, y, coefs_init=[coefs[0], np.zeros((8, 2))], intercepts_init=[np.zeros(8), np.zeros(3)])
    with pytest.raises(ShapeError, match="need 2 arrays each"):
        est.fit(X, y, coefs_init=coefs[:1], intercepts_init=[np.zeros(8)])
    with pytest.raises(ConfigError, match="go together"):
        est.fit(X, y, coefs_init=coefs)
    with pytest.raises(ConfigError, match="NaN or infinity"):
        est.fit(X, y, coefs_init=[coefs[0], np.full((8, 3), np.nan)], intercepts_init=[np.zeros(8), np.zeros(3)])
    fitted = quiet_fit(est.set_params(warm_start=True), X, y)
    with pytest.raises(ConfigError, match="set warm_start=False"):
        fitted.fit(X, y, coefs_init=coefs, intercepts_init=[np.zeros(8), np.zeros(3)])


# ------------------------------------------------------------------ stopping, divergence


def test_max_iter_warns_convergence_warning():
    X, y = classes_data()
    est = small(MLPClassifier, max_iter=3, **NEVER_STOP)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\)"):
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3 and est.t_ == 3 * len(X)
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)


def _exploding(cls, **kw):
    """An estimator whose SGD steps explode: a huge rate on unscaled data."""
    return cls(**(dict(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=50.0, random_state=0) | kw))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_divergence_raises_a_value_error_and_leaves_the_estimator_unchanged(cls):
    X, y = regression_data(n=80)
    y, scale = (y, 100.0) if cls is MLPRegressor else ((y > 0).astype(int), 1e100)  # log-loss grows slowly
    est = quiet_fit(small(cls, max_iter=2, warm_start=True), X, y)
    state = est.state_
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights") as error:
        est.set_params(**_exploding(cls, max_iter=50, warm_start=True).get_params()).fit(scale * X, y)
    assert isinstance(error.value, NonFiniteWeightsError) and isinstance(error.value, fnn.errors.NonFiniteError)
    assert "loss became" in str(error.value) and "learning_rate_init=50.0 is too large" in str(error.value)
    assert est.state_ is state  # unchanged
    assert np.isfinite(fnn.tree.ravel(error.value.state.params)[0]).all()
    with pytest.raises(NonFiniteWeightsError, match=r"\(epoch \d+ of this fit\)"):
        _exploding(cls, max_iter=50).fit(scale * X, y)


def test_divergence_with_early_stopping_keeps_the_best_epoch():
    X, y = regression_data(n=100)
    est = _exploding(MLPRegressor, max_iter=50, early_stopping=True, learning_rate_init=0.5)
    with pytest.warns(ConvergenceWarning, match="the model of the best epoch"):
        est.fit(30 * X, y)
    assert np.isfinite(est.predict(X)).all() and len(est.validation_scores_) == est.n_iter_ < 50
    assert est.best_validation_score_ == max(est.validation_scores_, default=-np.inf)


# ------------------------------------------------------------------ early stopping


def test_early_stopping_holds_out_a_stratified_split_and_restores_the_best_epoch():
    X, y = classes_data(n=120, labels=["a", "b", "c"])
    est = small(MLPClassifier, early_stopping=True, validation_fraction=0.25, max_iter=15, **NEVER_STOP)
    quiet_fit(est, X, y)
    assert len(est.validation_scores_) == est.n_iter_ == 15 and est.best_loss_ is None
    assert est.best_validation_score_ == max(est.validation_scores_)
    codes = np.searchsorted(est.classes_, y)
    split_key = fnn.random.split(fnn.random.key(est.seed_), 3)[2]
    train, val = fnn.data.split_indices(split_key, len(X), 30, labels=codes)  # ceil(0.25 * 120) rows validate
    assert set(y[val]) == {"a", "b", "c"} and est.t_ == 15 * len(train)
    assert est.score(X[val], y[val]) == est.best_validation_score_  # the model kept is the best epoch's
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    assert est.state_.step == best_epoch * int(np.ceil(len(train) / min(200, len(train))))


def test_early_stopping_regressor_scores_r2_with_sample_weights():
    X, y = regression_data(n=100)
    w = np.linspace(0.5, 1.5, len(X))
    est = small(MLPRegressor, early_stopping=True, max_iter=300).fit(X, y, sample_weight=w)
    assert est.n_iter_ < 300 and est.best_validation_score_ == max(est.validation_scores_) > 0.5


def test_partial_fit_refuses_early_stopping_with_scikit_learns_message():
    X, y = classes_data(n=10)
    with pytest.raises(ValueError, match="^partial_fit does not support early_stopping=True$"):
        small(MLPClassifier, early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


# ------------------------------------------------------------------ partial_fit and warm_start semantics


def test_partial_fit_classes_rules():
    X, y = classes_data(labels=["x", "y", "z"])
    est = small(MLPClassifier)
    with pytest.raises(ValueError, match=r"classes must be passed on the first call to partial_fit"):
        est.partial_fit(X, y)
    assert not hasattr(est, "state_")
    est.partial_fit(X[y != "z"], y[y != "z"], classes=["z", "y", "x"])  # a subset of the classes is fine
    assert est.classes_.tolist() == ["x", "y", "z"] and est.predict_proba(X).shape == (len(X), 3)
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`.*\['w'\] are not among"):
        est.partial_fit(X, np.where(y == "x", "w", y))
    with pytest.raises(ValueError, match=r"is not the same as on last call to partial_fit"):
        est.partial_fit(X, y, classes=["x", "y"])
    assert len(est.loss_curve_) == 2 and est.n_iter_ == 1


def test_partial_fit_after_fit_continues_and_fit_without_warm_start_starts_over():
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=2, **NEVER_STOP), X, y)
    est.partial_fit(X, y)
    assert est.state_.step == 3 and len(est.loss_curve_) == 3
    fresh = quiet_fit(small(MLPClassifier, max_iter=2, **NEVER_STOP), X, y)
    fnn.tree.assert_equal(quiet_fit(est, X, y).state_, fresh.state_)


def test_warm_start_keeps_optimizer_state_when_hyperparameters_change_and_restarts_it_for_another_solver():
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=2, warm_start=True, **NEVER_STOP), X, y)
    quiet_fit(est.set_params(learning_rate_init=0.003), X, y)
    assert est.state_.opt_state.count == est.state_.step == 4 and est.state_.optimizer.lr == 0.003
    quiet_fit(est.set_params(solver="rmsprop"), X, y)
    assert est.state_.opt_state.count == 2 and est.state_.step == 6  # a new optimizer state, the same run
    quiet_fit(est.set_params(solver="lbfgs", max_iter=3), X, y)  # L-BFGS continues from the weights
    assert est.state_.step == 6 and est.n_iter_ == 3


def test_warm_start_rejects_a_changed_network_or_classes_with_scikit_learns_words_and_leaves_the_model():
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=1, warm_start=True), X, y)
    state = est.state_
    with pytest.raises(ValueError, match=r"differs from the fitted one.*warm_start=False"):
        est.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"warm_start can only be used where `y` has the same classes as in the "
        r"previous call to fit. Previously got \[0, 1, 2\], `y` has \[0, 1\]",
    ):
        est.set_params(hidden_layer_sizes=(8,)).fit(X[y < 2], y[y < 2])
    assert est.state_ is state


def test_pickle_round_trip_predicts_and_continues_bit_for_bit():
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=2, warm_start=True, **NEVER_STOP), X, y)
    copy = pickle.loads(pickle.dumps(est))  # noqa: S301 - scikit-learn's contract; the test's own bytes
    assert np.array_equal(copy.predict_proba(X), est.predict_proba(X))
    fnn.tree.assert_equal(quiet_fit(copy, X, y).state_, quiet_fit(est, X, y).state_)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_the_train_state_saves_and_loads_with_fnn(solver, tmp_path):
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=2, solver=solver), X, y)
    fnn.save(tmp_path / "state.npz", est.state_)
    fnn.tree.assert_equal(fnn.load(tmp_path / "state.npz"), est.state_)


def test_keyboard_interrupt_keeps_the_epochs_done(monkeypatch):
    X, y = classes_data()
    calls = []
    epoch = training._epoch

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return epoch(*args)

    monkeypatch.setattr(training, "_epoch", interrupted)
    with pytest.warns(UserWarning, match="interrupted by user after 2 epochs"):
        est = small(MLPClassifier, max_iter=10).fit(X, y)
    assert est.n_iter_ == 2 and est.state_.step == 2
    calls.clear()
    calls.extend([1, 1])  # the next call is the third: nothing trained, so the interrupt propagates
    with pytest.raises(KeyboardInterrupt):
        small(MLPClassifier).fit(X, y)


# ------------------------------------------------------------------ solvers and settings


@pytest.mark.parametrize(
    "params, expected",
    [
        (dict(solver="sgd"), SklearnSGD(0.01, 0.9, True)),
        (dict(solver="sgd", nesterovs_momentum=False, momentum=0.5), SklearnSGD(0.01, 0.5, False)),
        (dict(solver="sgd", momentum=1.0), SklearnSGD(0.01, 1.0, True)),  # scikit-learn's range is [0, 1]
        (dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6), SklearnAdam(0.01, 0.8, 0.99, 1e-6)),
        (dict(solver="momentum", momentum=0.8), fnn.optim.momentum(0.01, 0.8)),
        (dict(solver="nadam"), fnn.optim.nadam(0.01, 0.9, 0.999, 1e-8)),
        (dict(solver="rmsprop", epsilon=1.0), fnn.optim.rmsprop(0.01)),  # epsilon is the Adam family's
    ],
)
def test_solver_names_build_optimizers(params, expected):
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=1, **params), X, y)
    assert est.state_.optimizer == expected


def test_invscaling_sets_each_epochs_rate_from_the_rows_seen():
    X, y = classes_data(n=50)
    est = quiet_fit(small(MLPClassifier, solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=3), X, y)
    assert est.state_.optimizer.lr == 0.01 / (2 * 50 + 1) ** 0.25  # the third epoch's, after 100 rows


def test_learning_rate_init_may_be_an_fnn_schedule():
    X, y = classes_data()
    lr = fnn.optim.schedules.exponential_decay(0.05, 0.5)
    est = quiet_fit(small(MLPClassifier, max_iter=2).set_params(learning_rate_init=lr), X, y)
    assert est.state_.optimizer.lr == lr and clone(est).learning_rate_init == lr
    with pytest.raises(ConfigError, match="needs learning_rate='constant'"):
        est.set_params(solver="sgd", learning_rate="invscaling").fit(X, y)


def test_fnn_solvers_check_their_own_ranges():
    X, y = classes_data()
    with pytest.raises(ConfigError, match=r"solver='momentum', fnn's optimizer.*momentum must be"):
        MLPClassifier(solver="momentum", momentum=1.0).fit(X, y)


def test_batch_size_larger_than_the_data_is_clipped_with_scikit_learns_warning():
    X, y = classes_data(n=20)
    with pytest.warns(UserWarning, match="larger than sample size. It is going to be clipped"):
        small(MLPClassifier, batch_size=64, max_iter=1).partial_fit(X, y, classes=[0, 1, 2])


def test_verbose_prints_scikit_learns_lines(capsys):
    X, y = classes_data()
    quiet_fit(small(MLPClassifier, max_iter=2, verbose=True, early_stopping=True), X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out and "Validation score: " in out
    small(
        MLPClassifier,
        solver="sgd",
        learning_rate="adaptive",
        verbose=True,
        tol=1e9,
        n_iter_no_change=1,
        learning_rate_init=1e-6,
        max_iter=10,
    ).fit(X, y)
    assert "Learning rate too small. Stopping." in capsys.readouterr().out


# ------------------------------------------------------------------ L-BFGS


def test_lbfgs_attributes_and_its_convergence_warning():
    X, y = classes_data(n=80)
    with pytest.warns(ConvergenceWarning, match=r"lbfgs failed to converge after 4 iteration\(s\) \(status=1\)"):
        est = small(MLPClassifier, solver="lbfgs", max_iter=4).fit(X, y)
    assert est.n_iter_ == 4 == len(est.loss_curve_) and est.loss_ == est.loss_curve_[-1] and est.t_ == 0
    assert not hasattr(est, "best_loss_") and not hasattr(est, "validation_scores_")
    assert est.state_.step == 0 and est.state_.opt_state is None
    converged = small(MLPClassifier, solver="lbfgs", max_iter=2000).fit(X, y)  # no warning: converged
    assert converged.n_iter_ < 2000 and converged.score(X, y) > 0.95


def test_lbfgs_max_fun_bounds_the_evaluations():
    X, y = regression_data(n=80)
    with pytest.warns(ConvergenceWarning, match="status=1"):
        est = small(MLPRegressor, solver="lbfgs", max_fun=5, max_iter=100).fit(X, y)
    assert est.n_iter_ <= 5


# ------------------------------------------------------------------ sample weights and sparse input


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_integer_sample_weights_equal_repeated_rows_in_full_batch_lbfgs(cls):
    X, y = classes_data(n=30) if cls is MLPClassifier else regression_data(n=30)
    w = np.arange(len(X)) % 3  # zeros drop rows
    est = small(cls, solver="lbfgs", max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = clone(est).fit(X, y, sample_weight=w)
        repeated = clone(est).fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0))
    method = "predict_proba" if cls is MLPClassifier else "predict"
    assert np.allclose(getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-6, atol=1e-9)


def test_a_batch_of_zero_weights_is_skipped():
    X, y = regression_data(n=40)
    w = np.r_[np.ones(20), np.zeros(20)]
    est = quiet_fit(small(MLPRegressor, solver="sgd", batch_size=20, shuffle=False, max_iter=2), X, y, sample_weight=w)
    assert est.state_.step == 2  # one step an epoch: the second batch carries no weight


def test_sample_weight_errors():
    X, y = classes_data()
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        small(MLPClassifier).fit(X, y, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(60,\)"):
        small(MLPClassifier).fit(X, y, sample_weight=np.ones(3))


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sparse_input_trains_the_model_dense_input_trains(solver):
    X, y = classes_data(n=60)
    X = np.where(np.abs(X) > 0.5, X, 0.0)
    est = small(MLPClassifier, solver=solver, max_iter=5, **NEVER_STOP)
    dense, csr = quiet_fit(clone(est), X, y), quiet_fit(clone(est), sparse.csr_matrix(X), y)
    csc = quiet_fit(clone(est), sparse.csc_array(X), y)
    for fitted in (csr, csc):
        assert np.allclose(fitted.predict_proba(X), dense.predict_proba(X), rtol=1e-12, atol=1e-12)
        assert np.allclose(fitted.predict_proba(sparse.csr_matrix(X)), dense.predict_proba(X), atol=1e-12)


def test_sparse_input_is_densified_chunk_by_chunk(monkeypatch):
    monkeypatch.setattr(training, "_CHUNK_ENTRIES", 40)  # 10 rows of 4 features a chunk
    X, y = regression_data(n=35, d=4)
    est = small(MLPRegressor, solver="lbfgs", max_iter=5)
    a, b = quiet_fit(clone(est), sparse.csr_matrix(X), y), quiet_fit(clone(est), X, y)
    assert np.allclose(a.predict(sparse.csr_matrix(X)), b.predict(X), atol=1e-12)


# ------------------------------------------------------------------ outputs: labels, shapes, dtypes


@pytest.mark.parametrize("labels", [["no", "yes"], [-1, 5], ["ant", "bee", "cat"], [1.0, 2.0, 4.0, 8.0]])
def test_classifier_outputs_for_any_labels(labels):
    X, y = classes_data(n=80, k=len(labels), labels=labels)
    est = quiet_fit(small(MLPClassifier, max_iter=30), X, y)
    proba, log_proba, scores = est.predict_proba(X), est.predict_log_proba(X), est.decision_function(X)
    assert est.classes_.tolist() == sorted(labels) and proba.shape == (80, len(labels))
    assert np.allclose(proba.sum(axis=1), 1) and np.allclose(np.exp(log_proba), proba)
    assert np.array_equal(est.predict(X), est.classes_[np.argmax(proba, axis=1)])
    if len(labels) == 2:
        assert scores.shape == (80,) and est.out_activation_ == "logistic" and est.n_outputs_ == 1
        assert np.array_equal(est.predict(X), est.classes_[(scores > 0).astype(int)])
    else:
        assert scores.shape == (80, len(labels)) and est.out_activation_ == "softmax"
        assert np.array_equal(np.argmax(scores, axis=1), np.argmax(proba, axis=1))


def test_log_proba_stays_finite_when_probabilities_saturate():
    X, y = classes_data(n=80, k=2)
    est = quiet_fit(small(MLPClassifier, max_iter=30), X, y)
    far = 1e4 * X
    assert np.isfinite(est.predict_log_proba(far)).all() and np.min(est.predict_proba(far)) == 0.0


def test_multilabel_indicator_targets():
    X, _ = classes_data(n=80)
    Y = (X[:, :3] > 0).astype(np.int32)
    est = quiet_fit(small(MLPClassifier, max_iter=50), X, Y)
    assert est.classes_.tolist() == [0, 1, 2] and est.out_activation_ == "logistic"
    pred, proba = est.predict(X), est.predict_proba(X)
    assert pred.shape == Y.shape and pred.dtype == np.int_ and proba.shape == Y.shape  # ints, as scikit-learn's
    assert np.array_equal(pred, (est.decision_function(X) > 0).astype(int))
    assert est.score(X, Y) > 0.5  # subset accuracy
    est.partial_fit(X, Y)  # continues without classes=


@pytest.mark.parametrize(
    "dtype, expected", [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)]
)
def test_the_network_computes_in_the_dtype_of_x(dtype, expected):
    X, y = classes_data(dtype=np.float64)
    X = (10 * X).astype(dtype)
    clf = quiet_fit(small(MLPClassifier, max_iter=2), X, y)
    reg = quiet_fit(small(MLPRegressor, max_iter=2), X, y.astype(float))
    assert clf.params_.dtype == expected and clf.predict_proba(X).dtype == expected
    assert all(w.dtype == expected for w in clf.coefs_ + clf.intercepts_)
    assert reg.predict(X).dtype == expected and reg.state_.opt_state.m.dtype == expected
    clf.partial_fit(X.astype(np.float64), y)  # later data is cast to the params' dtype
    assert clf.params_.dtype == expected


@pytest.mark.parametrize("outputs, shape", [(None, (60,)), (2, (60, 2))])
def test_regressor_predicts_the_shape_of_y(outputs, shape):
    X, y = regression_data(outputs=outputs)
    est = quiet_fit(small(MLPRegressor, max_iter=3), X, y)
    assert est.predict(X).shape == shape and est.n_outputs_ == (outputs or 1) and est.out_activation_ == "identity"


def test_a_column_y_warns_and_predicts_flat_as_scikit_learn():
    X, y = regression_data(outputs=1)
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        est = small(MLPRegressor, max_iter=300).fit(X, y)
    assert est.predict(X).shape == (60,) and est.n_outputs_ == 1


def test_poisson_regression():
    X, y = regression_data(n=100)
    y = np.exp(y)
    est = small(MLPRegressor, loss="poisson", max_iter=300).fit(X, y)
    assert est.out_activation_ == "exp" and (est.predict(X) > 0).all() and est.score(X, y) > 0.5
    with pytest.raises(ValueError, match=r"loss='poisson' needs targets y >= 0"):
        small(MLPRegressor, loss="poisson").fit(X, -y)


def test_fitted_attributes_are_shaped_as_sklearn_mlp():
    X, y = classes_data(n=60, k=3)
    kw = dict(hidden_layer_sizes=(7, 5), max_iter=1, random_state=0)
    ours = quiet_fit(MLPClassifier(**kw), X, y)
    theirs = quiet_fit(sk_nn.MLPClassifier(**kw), X, y)
    assert [w.shape for w in ours.coefs_] == [w.shape for w in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("loss_", "loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        assert isinstance(getattr(theirs, name), type(getattr(ours, name))), name
    assert not ours.coefs_[0].flags.writeable  # views of params_, the one source of truth
    with pytest.raises(NotFittedError):
        _ = MLPClassifier().coefs_


def test_feature_names_in_as_scikit_learn():
    pandas = pytest.importorskip("pandas")
    X, y = classes_data()
    frame = pandas.DataFrame(X, columns=["a", "b", "c", "d"])
    est = quiet_fit(small(MLPClassifier, max_iter=2), frame, y)
    assert est.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        est.predict(X)


# ------------------------------------------------------------------ in scikit-learn's tools, next to its MLP


@pytest.mark.parametrize("load", [load_iris, load_breast_cancer])
def test_real_data_cross_validated_accuracy_matches_sklearn_mlp(load):
    # default settings on both sides, in a Pipeline with StandardScaler, 5 stratified folds
    X, y = load(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 200 epochs at lr 1e-3 do not converge on iris
        ours = cross_val_score(make_pipeline(StandardScaler(), MLPClassifier(random_state=0)), X, y, cv=folds)
        theirs = cross_val_score(make_pipeline(StandardScaler(), sk_nn.MLPClassifier(random_state=0)), X, y, cv=folds)
    assert ours.shape == (5,) and ours.mean() > 0.93
    assert abs(ours.mean() - theirs.mean()) <= 0.03, (ours.mean(), theirs.mean())


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("solver", ["lbfgs", "sgd", "adam"])
def test_grid_search_over_a_pipeline_with_every_solver(solver, cls):
    X, y = classes_data(n=90) if cls is MLPClassifier else regression_data(n=90)
    name = cls.__name__.lower()
    pipe = make_pipeline(StandardScaler(), small(cls, solver=solver, max_iter=40))
    grid = {f"{name}__hidden_layer_sizes": [(4,), (16,)], f"{name}__alpha": [1e-4, 1e-1]}
    search = GridSearchCV(pipe, grid, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    best = search.best_estimator_[-1]
    assert best.solver == solver and best.hidden_layer_sizes in [(4,), (16,)]
    assert search.best_score_ > (0.8 if cls is MLPClassifier else 0.5) and search.score(X, y) > search.best_score_ - 0.1


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("weighted", [False, True])
def test_an_epoch_is_the_explicit_loop_of_value_and_grad_and_opt_step(solver, weighted):
    # the epoch makes the flat layout and the gradient buffer once; it must take the public pieces' steps, bitwise
    X, y = classes_data(n=50)
    w = np.linspace(0.0, 2.0, len(X)) if weighted else None
    est = quiet_fit(small(MLPClassifier, solver=solver, max_iter=1), X, y, sample_weight=w)
    problem = training.Problem(X, np.eye(3)[y], w, "softmax", est.alpha)
    after, loss = training._epoch(est.state_, problem, 16, False)
    state, losses = est.state_, []
    for start in range(0, len(X), 16):
        rows = problem.rows(slice(start, start + 16))
        total = rows.total()
        objective = functools.partial(fnn.sklearn._objective.objective, "softmax", weights=rows.weights, total=total)
        value, grads = fnn.value_and_grad(state.params, (rows.x, rows.y), loss=objective, l2=est.alpha / total)
        state = fnn.opt_step(state, grads)
        losses.append(float(value) * rows.n)
    fnn.tree.assert_equal(after, state)
    assert loss == sum(losses) / len(X)


def test_the_readme_section_runs():
    text = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("## scikit-learn\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short runs, as documentation
        exec(compile(code, "README.md", "exec"), namespace)
    ours, theirs, clf = namespace["ours"], namespace["theirs"], namespace["clf"]
    assert ours.get_params() == theirs.get_params() and clf.n_iter_ == 1 and clf.state_.step > clf.n_iter_
