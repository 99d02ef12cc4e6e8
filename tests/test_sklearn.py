"""fnn.sklearn: scikit-learn's own estimator checks, the laws of warm starts, partial_fit and seeds, real data.

scikit-learn is an optional extra, so this module runs only where it is installed.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="fnn.sklearn is an optional extra: pip install 'fnn[sklearn]'")

import sklearn.neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fnn  # noqa: E402
import fnn.sklearn as fsk  # noqa: E402
from fnn.errors import ConfigError  # noqa: E402
from fnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

SOLVERS = sorted(fnn.optim.OPTIMIZERS)  # every fnn optimizer is a solver
NEVER_STOP = dict(tol=0.0, n_iter_no_change=10**9)  # tol stops nothing: laws compare whole runs
EXACT = 1e-12  # float64 round-off between two formulas of the same loss


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


def quiet_fit(est, X, y):
    """``est.fit`` expecting scikit-learn's ConvergenceWarning (max_iter reached), as these runs are short."""
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        return est.fit(X, y)


# ------------------------------------------------------------------ scikit-learn's estimator checks


def _array_api_ready(check, monkeypatch):
    # check_array_api_input(array_namespace="numpy") skips unless SCIPY_ARRAY_API=1, the switch
    # scikit-learn asks for before array-API dispatch because some estimators call SciPy. These
    # estimators call no SciPy, so the check applies; set the switch for that check alone.
    if getattr(check, "func", check).__name__.startswith("check_array_api"):
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")


def _all_checks(estimators):
    """``parametrize_with_checks(estimators)``: every check, none skipped or expected to fail.

    scikit-learn < 1.8 hands pytest a generator, which pytest 9 deprecates (an error here): listed.
    """
    mark = parametrize_with_checks(estimators)
    names, values = mark.args
    return pytest.mark.parametrize(names, list(values), **mark.kwargs)


# ConvergenceWarning is ignored only here: the checks train on purpose for a handful of epochs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@_all_checks([
    MLPClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100),
    MLPRegressor(hidden_layer_sizes=(8,), learning_rate_init=0.01, max_iter=100),
])
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    _array_api_ready(check, monkeypatch)
    check(estimator)


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, sk_nn.MLPClassifier), (MLPRegressor, sk_nn.MLPRegressor)])
def test_parameters_are_named_and_defaulted_as_sklearn_mlp(ours, theirs):
    mine, sk = ours().get_params(), theirs().get_params()
    assert set(mine) <= set(sk)
    assert {name: mine[name] for name in mine} == {name: sk[name] for name in mine}
    # documented in fnn.sklearn ("loss" is the regressor's, from scikit-learn 1.7); a new one shows up here
    assert set(sk) - set(mine) <= {"learning_rate", "power_t", "max_fun", "loss"}


def test_import_fnn_does_not_load_the_extra():
    code = "import sys, fnn; print('fnn.sklearn' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# ------------------------------------------------------------------ laws: warm start, partial_fit, seeds


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_warm_start_a_then_b_equals_one_fit_of_a_plus_b(solver, kind):
    if kind == "classifier":
        X, y = classes_data(labels=["ant", "bee", "cat"])
        make = lambda m: small(MLPClassifier, solver=solver, batch_size=16, max_iter=m, **NEVER_STOP)  # noqa: E731
    else:
        X, y = regression_data(outputs=2)
        make = lambda m: small(MLPRegressor, solver=solver, batch_size=16, max_iter=m, **NEVER_STOP)  # noqa: E731
    once = quiet_fit(make(5), X, y)
    twice = quiet_fit(make(2).set_params(warm_start=True), X, y)
    quiet_fit(twice.set_params(max_iter=3), X, y)
    fnn.tree.assert_equal(once.state_, twice.state_)  # params, optimizer state, key, step: bit for bit
    assert once.loss_curve_ == twice.loss_curve_ and once.t_ == twice.t_ == 5 * len(X)
    assert (once.n_iter_, twice.n_iter_) == (5, 3)  # as scikit-learn: the epochs of the last call


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shuffle", [True, False])
def test_k_partial_fits_equal_the_first_k_epochs_of_fit(solver, shuffle):
    X, y = classes_data(n=50, labels=[-3, 7, 42])
    k = 4
    settings = dict(solver=solver, batch_size=16, shuffle=shuffle, **NEVER_STOP)
    fitted = quiet_fit(small(MLPClassifier, max_iter=k, **settings), X, y)
    stream = small(MLPClassifier, **settings)
    for i in range(k):
        stream.partial_fit(X, y, classes=[-3, 7, 42] if i == 0 else None)
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
    k_init, k_train, _ = fnn.random.split(fnn.random.key(0), 3)
    assert a.state_.key == k_train
    spec = fnn.mlp([4, 8, 3], output="softmax", init="glorot_uniform", dtype=np.float64)
    unmoved = quiet_fit(small(MLPClassifier, max_iter=1, solver="sgd", learning_rate_init=0.0), X, y)
    fnn.tree.assert_equal(unmoved.params_, fnn.init(k_init, spec))
    other = quiet_fit(small(MLPClassifier, max_iter=3).set_params(random_state=1), X, y)
    assert not fnn.tree.equal(a.params_, other.params_)


def test_random_state_none_draws_fresh_entropy_without_global_state_and_keeps_the_seed():
    X, y = classes_data()
    before = np.random.get_state()[1].copy()
    a = quiet_fit(small(MLPClassifier, max_iter=2).set_params(random_state=None), X, y)
    b = quiet_fit(small(MLPClassifier, max_iter=2).set_params(random_state=None), X, y)
    assert np.array_equal(np.random.get_state()[1], before)  # NumPy's global RNG untouched
    assert a.seed_ != b.seed_ and not fnn.tree.equal(a.params_, b.params_)
    again = quiet_fit(small(MLPClassifier, max_iter=2).set_params(random_state=a.seed_), X, y)
    fnn.tree.assert_equal(a.state_, again.state_)  # random_state=seed_ reproduces the fit


@pytest.mark.parametrize("rng", [np.random.RandomState, np.random.default_rng])
def test_numpy_rng_random_state_gives_one_draw_per_fit(rng):
    X, y = classes_data()
    expected = int(rng(5).randint(np.iinfo(np.int32).max) if rng is np.random.RandomState
                   else rng(5).integers(np.iinfo(np.int32).max))
    est = small(MLPClassifier, max_iter=1).set_params(random_state=rng(5))
    quiet_fit(est, X, y)
    assert est.seed_ == expected
    quiet_fit(est, X, y)  # the same generator, drawn again: another seed
    assert est.seed_ != expected


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_bad_random_state_is_rejected_at_fit(bad):
    X, y = classes_data()
    est = MLPClassifier(random_state=bad)  # the constructor only stores
    with pytest.raises(ConfigError, match="random_state"):
        est.fit(X, y)


# ------------------------------------------------------------------ the objective and stopping rules are scikit-learn's


def _frozen(cls, **kw):
    """An estimator whose params never move (SGD, lr 0): its first loss is the objective at initialization."""
    return cls(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, learning_rate_init=0.0, max_iter=1,
               alpha=0.3, batch_size=10, random_state=3, **kw)


def _penalty(est, batch_size=10):
    return est.alpha / (2 * batch_size) * sum(float(np.sum(w**2)) for w in est.coefs_)


@pytest.mark.parametrize("k", [2, 3])
def test_classifier_loss_curve_is_sklearn_log_loss_plus_alpha_penalty(k):
    X, y = classes_data(n=40, k=k)
    est = quiet_fit(_frozen(MLPClassifier), X, y)
    expected = log_loss(y, est.predict_proba(X)) + _penalty(est)
    assert abs(est.loss_curve_[0] - expected) < EXACT


def test_multilabel_loss_sums_over_labels_as_sklearn():
    X, _ = classes_data(n=40)
    Y = (X[:, :3] > 0).astype(int)
    est = quiet_fit(_frozen(MLPClassifier), X, Y)
    p = est.predict_proba(X)
    expected = -np.mean(np.sum(Y * np.log(p) + (1 - Y) * np.log1p(-p), axis=1)) + _penalty(est)
    assert abs(est.loss_curve_[0] - expected) < EXACT


def test_regressor_loss_curve_is_half_squared_error_plus_alpha_penalty():
    X, y = regression_data(n=40)
    est = quiet_fit(_frozen(MLPRegressor), X, y)
    expected = 0.5 * np.mean((est.predict(X) - y) ** 2) + _penalty(est)
    assert abs(est.loss_curve_[0] - expected) < EXACT


@pytest.mark.parametrize("early_stopping", [False, True])
def test_stopping_rule_counts_epochs_as_sklearn(early_stopping):
    # with a huge tol no epoch counts as an improvement after the first: both stop after n_iter_no_change + 2
    X, y = classes_data(n=80)
    kw = dict(hidden_layer_sizes=(8,), tol=1e9, n_iter_no_change=3, early_stopping=early_stopping, random_state=0)
    ours = MLPClassifier(**kw).fit(X, y)  # stopped by tol: no ConvergenceWarning (warnings are errors here)
    theirs = sk_nn.MLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert len(ours.loss_curve_) == 5 and (ours.validation_scores_ is None) == (not early_stopping)


def test_max_iter_warns_convergence_warning():
    X, y = classes_data()
    est = small(MLPClassifier, max_iter=3, **NEVER_STOP)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\)"):
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3 and est.t_ == 3 * len(X)
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)


def test_early_stopping_holds_out_a_stratified_split_and_restores_the_best_epoch():
    X, y = classes_data(n=120, labels=["a", "b", "c"])
    est = small(MLPClassifier, early_stopping=True, validation_fraction=0.25, max_iter=15, **NEVER_STOP)
    quiet_fit(est, X, y)
    assert len(est.validation_scores_) == est.n_iter_ == 15 and est.best_loss_ is None
    assert est.best_validation_score_ == max(est.validation_scores_)
    codes = np.searchsorted(est.classes_, y)
    split_key = fnn.random.split(fnn.random.key(est.seed_), 3)[2]
    train, val = fnn.data.split_indices(split_key, len(X), 0.25, labels=codes)
    assert set(y[val]) == {"a", "b", "c"} and est.t_ == 15 * len(train)
    assert est.score(X[val], y[val]) == est.best_validation_score_  # the model kept is the best epoch's
    best_epoch = int(np.argmax(est.validation_scores_)) + 1
    assert est.state_.step == best_epoch * int(np.ceil(len(train) / min(200, len(train))))


def test_early_stopping_regressor_scores_r2():
    X, y = regression_data(n=100)
    est = small(MLPRegressor, early_stopping=True, max_iter=300).fit(X, y)
    assert est.n_iter_ < 300 and est.best_validation_score_ == max(est.validation_scores_) > 0.5


def test_early_stopping_errors():
    X, y = classes_data(n=10)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        small(MLPClassifier, early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="validation set is too small: 1 of 10 rows"):
        small(MLPRegressor, early_stopping=True, validation_fraction=0.05).fit(X, y.astype(float))


# ------------------------------------------------------------------ partial_fit and warm_start semantics


def test_partial_fit_classes_rules():
    X, y = classes_data(labels=["x", "y", "z"])
    est = small(MLPClassifier)
    with pytest.raises(ValueError, match=r"first partial_fit needs classes="):
        est.partial_fit(X, y)
    assert not hasattr(est, "state_")
    est.partial_fit(X[y != "z"], y[y != "z"], classes=["z", "y", "x"])  # a subset of the classes is fine
    assert est.classes_.tolist() == ["x", "y", "z"] and est.predict_proba(X).shape == (len(X), 3)
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"not among the classes"):
        est.partial_fit(X, np.where(y == "x", "w", y))
    with pytest.raises(ValueError, match=r"differs from classes_"):
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


def test_warm_start_rejects_a_changed_network_or_classes_and_leaves_the_model_unchanged():
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=1, warm_start=True), X, y)
    state = est.state_
    with pytest.raises(ValueError, match=r"differs from the fitted one.*warm_start=False"):
        est.set_params(hidden_layer_sizes=(9,)).fit(X, y)
    with pytest.raises(ValueError, match=r"same classes|classes of the previous fit"):
        est.set_params(hidden_layer_sizes=(8,)).fit(X[y < 2], y[y < 2])
    assert est.state_ is state


def test_pickle_round_trip_predicts_and_continues_bit_for_bit():
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=2, warm_start=True, **NEVER_STOP), X, y)
    copy = pickle.loads(pickle.dumps(est))
    assert np.array_equal(copy.predict_proba(X), est.predict_proba(X))
    fnn.tree.assert_equal(quiet_fit(copy, X, y).state_, quiet_fit(est, X, y).state_)


def test_keyboard_interrupt_keeps_the_epochs_done(monkeypatch):
    X, y = classes_data()
    calls = []

    def interrupted(state, data, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fnn.train_epoch(state, data, **kw)

    monkeypatch.setattr(fsk, "train_epoch", interrupted)
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
        (dict(solver="sgd"), fnn.optim.nesterov(0.01, 0.9)),
        (dict(solver="sgd", nesterovs_momentum=False, momentum=0.5), fnn.optim.momentum(0.01, 0.5)),
        (dict(solver="sgd", momentum=0.0), fnn.optim.sgd(0.01)),
        (dict(solver="momentum", momentum=0.8), fnn.optim.momentum(0.01, 0.8)),
        (dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6), fnn.optim.adam(0.01, 0.8, 0.99, 1e-6)),
        (dict(solver="NAdam"), fnn.optim.nadam(0.01, 0.9, 0.999, 1e-8)),
        (dict(solver="rmsprop", epsilon=1.0), fnn.optim.rmsprop(0.01)),  # epsilon is the Adam family's
    ],
)
def test_solver_names_build_fnn_optimizers(params, expected):
    X, y = classes_data()
    est = quiet_fit(small(MLPClassifier, max_iter=1, **params), X, y)
    assert est.state_.optimizer == expected


def test_learning_rate_init_may_be_an_fnn_schedule():
    X, y = classes_data()
    lr = fnn.optim.schedules.exponential_decay(0.05, 0.5)
    est = quiet_fit(small(MLPClassifier, max_iter=2).set_params(learning_rate_init=lr), X, y)
    assert est.state_.optimizer.lr == lr and clone(est).learning_rate_init == lr


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(hidden_layer_sizes=(8, 0)), r"hidden_layer_sizes\[1\] must be an integer >= 1, got 0"),
        (dict(hidden_layer_sizes="8"), "hidden_layer_sizes must be an integer or a sequence"),
        (dict(activation="swish"), "unknown activation 'swish'"),
        (dict(solver="lbfgs"), "solver 'lbfgs' is not available"),
        (dict(solver="adamm"), "unknown optimizer 'adamm'; expected one of: adadelta"),
        (dict(learning_rate_init=-1.0), "solver='adam'"),
        (dict(alpha=-1.0), "alpha must be a finite number >= 0, got -1.0"),
        (dict(batch_size=0), r"batch_size \('auto' or an integer\) must be an integer >= 1, got 0"),
        (dict(max_iter=0), "max_iter must be an integer >= 1, got 0"),
        (dict(tol=float("nan")), "tol must be a finite number >= 0"),
        (dict(n_iter_no_change=0), "n_iter_no_change must be an integer >= 1"),
        (dict(shuffle="yes"), "shuffle must be True or False"),
        (dict(early_stopping=True, validation_fraction=1.0), r"validation_fraction must be in \(0, 1\)"),
        (dict(momentum=1.5, solver="sgd"), "momentum"),
    ],
)
def test_bad_settings_fail_at_fit_naming_the_parameter(params, match):
    X, y = classes_data()
    est = MLPClassifier(**params)  # no validation in __init__
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_batch_size_larger_than_the_data_is_clipped_with_a_warning():
    X, y = classes_data(n=20)
    with pytest.warns(UserWarning, match="batch_size=64 larger than the 20 training rows"):
        small(MLPClassifier, batch_size=64, max_iter=1).partial_fit(X, y, classes=[0, 1, 2])


def test_verbose_prints_each_epoch(capsys):
    X, y = classes_data()
    quiet_fit(small(MLPClassifier, max_iter=2, verbose=True, early_stopping=True), X, y)
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out and "Validation score: " in out


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
    assert pred.shape == Y.shape and pred.dtype == np.int32 and proba.shape == Y.shape
    assert np.array_equal(pred, (est.decision_function(X) > 0).astype(np.int32))
    assert est.score(X, Y) > 0.5  # subset accuracy
    est.partial_fit(X, Y)  # continues without classes=


@pytest.mark.parametrize("dtype, expected",
                         [(np.float32, np.float32), (np.float64, np.float64), (np.int64, np.float64)])
def test_the_network_computes_in_the_dtype_of_x(dtype, expected):
    X, y = classes_data(dtype=np.float64)
    X = (10 * X).astype(dtype)
    clf = quiet_fit(small(MLPClassifier, max_iter=2), X, y)
    reg = quiet_fit(small(MLPRegressor, max_iter=2), X, y.astype(float))
    assert clf.params_.dtype == expected and clf.predict_proba(X).dtype == expected
    assert all(w.dtype == expected for w in clf.coefs_ + clf.intercepts_)
    assert reg.predict(X).dtype == expected and reg.state_.opt_state.mu.dtype == expected
    clf.partial_fit(X.astype(np.float64), y)  # later data is cast to the params' dtype
    assert clf.params_.dtype == expected


@pytest.mark.parametrize("outputs, shape", [(None, (60,)), (1, (60, 1)), (2, (60, 2))])
def test_regressor_predicts_the_shape_of_y(outputs, shape):
    X, y = regression_data(outputs=outputs)
    est = quiet_fit(small(MLPRegressor, max_iter=3), X, y)
    assert est.predict(X).shape == shape and est.n_outputs_ == (outputs or 1) and est.out_activation_ == "identity"


def test_fitted_attributes_are_shaped_as_sklearn_mlp():
    X, y = classes_data(n=60, k=3)
    kw = dict(hidden_layer_sizes=(7, 5), max_iter=1, random_state=0)
    ours = quiet_fit(MLPClassifier(**kw), X, y)
    theirs = quiet_fit(sk_nn.MLPClassifier(**kw), X, y)
    assert [w.shape for w in ours.coefs_] == [w.shape for w in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert not ours.coefs_[0].flags.writeable  # views of params_, the one source of truth
    with pytest.raises(NotFittedError):
        MLPClassifier().coefs_


# ------------------------------------------------------------------ real data, next to scikit-learn's MLP


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


def test_grid_search_clones_and_sets_params():
    X, y = classes_data(n=90)
    grid = GridSearchCV(small(MLPClassifier, max_iter=100), {"hidden_layer_sizes": [(4,), (16,)]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert grid.best_estimator_.hidden_layer_sizes in [(4,), (16,)] and grid.best_score_ > 0.8
