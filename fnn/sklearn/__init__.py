"""scikit-learn estimators trained by fnn: :class:`MLPClassifier` and :class:`MLPRegressor`.

An optional extra (``pip install fnn[sklearn]``); ``import fnn`` does not load it.
Both estimators follow scikit-learn's conventions (the constructor only stores its
arguments; ``fit`` returns ``self``; fitted attributes end in ``_``) and pass
``sklearn.utils.estimator_checks``. Parameters are named as in scikit-learn's own
``MLPClassifier``/``MLPRegressor`` wherever the meaning is the same, with the same
defaults; the differences are listed here.

**Training.** Each epoch is one :func:`fnn.train_epoch` over the training rows; the
epoch loop around it is scikit-learn's: ``loss_curve_`` records each epoch's mean
batch loss; training stops when the loss (or, with ``early_stopping``, the
validation score) has not improved by ``tol`` for more than ``n_iter_no_change``
consecutive epochs, and otherwise warns with ``ConvergenceWarning`` after
``max_iter`` epochs. The objective is scikit-learn's: log-loss (softmax over the
classes, or a sigmoid output for binary and multilabel targets) or half the mean
squared error, plus ``alpha / (2 * batch_size) * Σ w²`` over the weight matrices.
So ``loss_curve_``, ``tol`` and ``alpha`` mean what they mean there (one detail: the
penalty of a short last batch is divided by the full ``batch_size``, not by its own
length). Weights start Glorot-uniform in every layer, U(±sqrt(6 / (fan_in + fan_out))),
as scikit-learn draws them for all but its ``logistic`` activation (there it narrows
the bound to sqrt(2 / ...)); biases start at zero (scikit-learn draws them too).

**Solvers.** ``solver`` is the name of any fnn optimizer (:data:`fnn.optim.OPTIMIZERS`),
with ``lr=learning_rate_init``. ``"sgd"`` keeps scikit-learn's meaning: SGD with
``momentum`` (Nesterov's if ``nesterovs_momentum``), that is fnn's ``nesterov``, or
``momentum``, or plain ``sgd`` when ``momentum=0``; ``"momentum"`` and ``"nesterov"``
also take ``momentum``. The Adam family (``adam``, ``adamw``, ``adamax``, ``nadam``)
takes ``beta_1``, ``beta_2`` and ``epsilon``; other optimizers use fnn's defaults
besides ``lr``. ``learning_rate_init`` may be an :mod:`fnn.optim.schedules` schedule
(fnn's counterpart of scikit-learn's ``learning_rate`` and ``power_t``, which are
not parameters here). There is no ``lbfgs`` solver, no ``max_fun``, no Poisson
loss and no ``sample_weight``; sparse inputs are rejected.

**Dtype.** The network computes in X's float dtype: float32 data trains float32
params and predicts float32; float64 (and integer) data uses float64, as
scikit-learn's MLP does (scikit-learn#17759). Later ``partial_fit`` or warm-start
data is cast to the dtype of the first fit.

**Randomness.** ``random_state`` is the seed: an int ``s`` gives the root key
``fnn.random.key(s)``; ``None`` draws fresh entropy from the operating system
(``np.random.SeedSequence().entropy``, no global RNG); a ``np.random.RandomState``
or ``Generator`` gives one integer drawn from it at each fit (scikit-learn's
convention for deriving seeds). The seed used is stored as ``seed_``, so passing
``random_state=est.seed_`` reproduces a fit. Three keys derive from it,
``k_init, k_train, k_split = fnn.random.split(fnn.random.key(seed_), 3)``: the
initial params, the :class:`fnn.TrainState`'s key (which shuffles each epoch by
its step), and the stratified ``early_stopping`` split (the same rows in every
fit on the same data).

**Continuing.** ``state_`` is the :class:`fnn.TrainState` (params, optimizer
state, key and step). ``warm_start=True`` makes ``fit`` continue from it, optimizer
state included, so ``fit`` with ``max_iter=a`` and then ``max_iter=b`` gives, bit
for bit, one fit of ``a + b`` epochs (when ``tol`` stops neither and without
``early_stopping``, which restores the best epoch). ``partial_fit`` runs one epoch
from it, so k calls on the same data give the first k epochs of ``fit``. A
changed ``learning_rate_init`` (or other hyperparameter of the same optimizer)
applies from the next epoch with the optimizer state kept; a different solver
restarts the optimizer state; a different architecture is an error.

**Outputs.** ``predict_proba`` is (n, n_classes) and sums to 1 (for multilabel
targets: (n, n_labels) of independent probabilities); ``predict`` is the
``classes_`` entry of its argmax (or the 0/1 indicator, as y's dtype, for
multilabel); ``decision_function`` gives the logits and ``predict_log_proba``
is computed from them, so it stays finite where probabilities round to 0.
``MLPRegressor.predict`` has y's shape: (n,) after a 1-D y, (n, k) after a 2-D
one, (n, 1) included.

>>> import numpy as np
>>> from fnn.sklearn import MLPClassifier
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 25)
>>> y = np.array(["no", "yes", "yes", "no"] * 25)
>>> clf = MLPClassifier((16,), activation="tanh", learning_rate_init=0.05, random_state=0).fit(X, y)
>>> clf.predict([[0.0, 1.0], [1.0, 1.0]]).tolist(), clf.n_iter_ < clf.max_iter
(['yes', 'no'], True)
>>> clf.predict_proba([[0.0, 1.0]]).shape, clf.state_.step == clf.n_iter_
((1, 2), True)
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import attrs
import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"fnn.sklearn needs scikit-learn >= 1.6 ({error}); install it with: pip install 'fnn[sklearn]'"
    ) from error

from fnn import optim, random, tree
from fnn.data import split_indices
from fnn.errors import ConfigError
from fnn.layers import Activation, Dense, DenseParams
from fnn.losses import binary_cross_entropy, cross_entropy
from fnn.network import apply, init, mlp
from fnn.train import TrainState, train_epoch

__all__ = ["MLPClassifier", "MLPRegressor"]

_ADAM_FAMILY = ("adam", "adamw", "adamax", "nadam")
_MOMENTUM_FAMILY = ("momentum", "nesterov")
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid"}  # scikit-learn's names that fnn spells differently
_SKLEARN_OUTPUTS = {"sigmoid": "logistic", None: "identity", "softmax": "softmax"}  # for out_activation_
_AUTO_BATCH = 200  # batch_size="auto" is min(200, n_samples), as in scikit-learn


# ------------------------------------------------------------------ checks of the settings


def _integer(value: Any, name: str, minimum: int, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _number(value: Any, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ConfigError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _flag(value: Any, name: str, owner: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def _hidden_sizes(value: Any, owner: str) -> tuple[int, ...]:
    sizes = (value,) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ConfigError(
            f"{owner}: hidden_layer_sizes must be an integer or a sequence of integers >= 1, got {value!r}"
        )
    sizes = tuple(sizes)
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ConfigError(f"{owner}: hidden_layer_sizes[{i}] must be an integer >= 1, got {s!r} (in {value!r})")
    return tuple(int(s) for s in sizes)


def _seed_from(random_state: Any, owner: str) -> int:
    """The integer seed of a fit: ``random_state`` itself, fresh entropy for None, or one draw from a NumPy RNG."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ConfigError(f"{owner}: random_state must be a non-negative integer seed, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    raise ConfigError(
        f"{owner}: random_state must be None, an integer >= 0, a numpy RandomState or a numpy Generator, "
        f"got {random_state!r}"
    )


@attrs.frozen
class _Settings:
    """The estimator's parameters after checking, for one call of fit or partial_fit."""

    hidden: tuple
    alpha: float
    max_iter: int
    shuffle: bool
    tol: float
    warm_start: bool
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int


# ------------------------------------------------------------------ objective and bookkeeping


def _half_squared_error(y_hat: np.ndarray, y: np.ndarray) -> tuple[np.floating, np.ndarray]:
    """scikit-learn's ``squared_error``: ``0.5 * mean((ŷ − y)²)`` over all elements; gradient ``(ŷ − y) / N``."""
    d = y_hat - y
    value = 0.5 * np.mean(d * d)
    d /= d.dtype.type(d.size)
    return value, d


@attrs.frozen
class _Target:
    """What a call trains on, derived from y: the loss's targets, the output layer, the objective.

    ``scale`` turns fnn's loss into scikit-learn's (a multilabel log-loss sums over the
    labels where fnn's binary cross-entropy averages over them); ``strata`` are the labels
    the validation split is stratified on, or None; ``fitted`` the attributes that
    encoding y fixes (``classes_``, ...), set only once training succeeds.
    """

    y: np.ndarray
    width: int
    output: str | None
    loss: Any
    scale: float
    strata: np.ndarray | None
    fitted: dict


@attrs.frozen
class _Run:
    """The epoch loop's bookkeeping, carried across warm starts and partial_fit calls."""

    loss_curve: tuple = ()
    t: int = 0
    best_loss: float | None = math.inf
    validation_scores: tuple | None = None
    best_validation_score: float | None = None
    no_improvement: int = 0
    best_state: TrainState | None = None

    def for_early_stopping(self, early_stopping: bool, state: TrainState) -> "_Run":
        """This bookkeeping made ready for a call with or without early stopping (it may change on warm starts)."""
        if early_stopping and self.validation_scores is None:
            return attrs.evolve(
                self, best_loss=None, validation_scores=(), best_validation_score=-math.inf, best_state=state
            )
        if not early_stopping and self.best_loss is None:
            return attrs.evolve(self, best_loss=math.inf)
        return self


def _describe(spec: Any) -> str:
    widths = [spec.in_dim] + [layer.units for layer in spec.layers if isinstance(layer, Dense)]
    names = [layer.name for layer in spec.layers if isinstance(layer, Activation)]
    return f"widths {widths}, activations {names}"


def _with_optimizer(state: TrainState, opt: Any) -> TrainState:
    """``state`` trained by ``opt`` from now on: the same kind of optimizer keeps its state, another restarts it."""
    if opt == state.optimizer:
        return state
    if type(opt) is type(state.optimizer):
        return attrs.evolve(state, optimizer=opt)  # new hyperparameters (a new lr, ...), the same kind of state
    return attrs.evolve(state, opt_state=opt.init(tree.ravel(state.params)[0]), optimizer=opt)


# ------------------------------------------------------------------ the shared estimator


class _BaseMLP(BaseEstimator):
    """The parameters, the epoch loop and the fitted attributes shared by both estimators."""

    _y_numeric = False

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate_init=0.001,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change

    # ---------------------------------------------------------- views of the fitted state

    @property
    def params_(self) -> Any:
        """The fitted fnn params, ``state_.params``: ``fnn.apply(est.params_, X)`` is the network's output."""
        check_is_fitted(self, "state_")
        return self.state_.params

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, layer by layer, each (fan_in, fan_out): read-only views of ``params_``."""
        return [layer.w for layer in self.params_.layers if isinstance(layer, DenseParams)]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, layer by layer: read-only views of ``params_``."""
        return [layer.b for layer in self.params_.layers if isinstance(layer, DenseParams)]

    # ---------------------------------------------------------- settings

    def _settings(self, incremental: bool) -> _Settings:
        owner = type(self).__name__
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _integer(self.batch_size, "batch_size ('auto' or an integer)", 1, owner)
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise ConfigError(f"{owner}: verbose must be a bool or an integer, got {self.verbose!r}")
        _flag(self.nesterovs_momentum, "nesterovs_momentum", owner)
        settings = _Settings(
            hidden=_hidden_sizes(self.hidden_layer_sizes, owner),
            alpha=_number(self.alpha, "alpha", owner),
            max_iter=_integer(self.max_iter, "max_iter", 1, owner),
            shuffle=_flag(self.shuffle, "shuffle", owner),
            tol=_number(self.tol, "tol", owner),
            warm_start=_flag(self.warm_start, "warm_start", owner),
            early_stopping=_flag(self.early_stopping, "early_stopping", owner),
            validation_fraction=_number(self.validation_fraction, "validation_fraction", owner),
            n_iter_no_change=_integer(self.n_iter_no_change, "n_iter_no_change", 1, owner),
        )
        if settings.early_stopping:
            if not 0 < settings.validation_fraction < 1:
                raise ConfigError(
                    f"{owner}: validation_fraction must be in (0, 1) with early_stopping, "
                    f"got {self.validation_fraction!r}"
                )
            if incremental:
                raise ConfigError(
                    f"{owner}: partial_fit does not support early_stopping=True; set early_stopping=False"
                )
        return settings

    def _optimizer(self) -> Any:
        """The fnn optimizer ``solver`` names, built from this estimator's hyperparameters."""
        name = self.solver.lower() if isinstance(self.solver, str) else self.solver
        lr = self.learning_rate_init
        try:
            if name == "sgd":  # scikit-learn's sgd: with (Nesterov's) momentum unless momentum=0
                if isinstance(self.momentum, numbers.Real) and self.momentum == 0:
                    return optim.sgd(lr)
                return (optim.nesterov if self.nesterovs_momentum else optim.momentum)(lr, self.momentum)
            if name in _MOMENTUM_FAMILY:
                return optim.get(name, lr=lr, momentum=self.momentum)
            if name in _ADAM_FAMILY:
                return optim.get(name, lr=lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon)
            if name == "lbfgs":
                raise ConfigError(
                    "solver 'lbfgs' is not available (training runs in mini-batch epochs); "
                    f"expected one of: {', '.join(sorted(optim.OPTIMIZERS))}"
                )
            return optim.get(name, lr=lr)
        except ConfigError as e:
            raise ConfigError(f"{type(self).__name__} (solver={self.solver!r}): {e}") from None

    def _spec(self, n_features: int, target: _Target, dtype: np.dtype, hidden: tuple) -> Any:
        activation = self.activation
        if isinstance(activation, str):
            activation = _SKLEARN_ACTIVATIONS.get(activation, activation)
        try:  # Glorot-uniform weights throughout, as scikit-learn draws them (its bound sqrt(6 / (fan_in + fan_out)))
            widths = [n_features, *hidden, target.width]
            return mlp(widths, hidden=activation, output=target.output, init="glorot_uniform", dtype=dtype)
        except ConfigError as e:
            raise ConfigError(f"{type(self).__name__} (activation={self.activation!r}): {e}") from None

    # ---------------------------------------------------------- fit

    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None) -> "_BaseMLP":
        settings = self._settings(incremental)
        fitted = hasattr(self, "state_")
        first = not fitted or not (incremental or settings.warm_start)
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=self._y_numeric, dtype=(np.float64, np.float32), reset=first
        )
        dtype = X.dtype if first else self.state_.params.dtype
        X = X.astype(dtype, copy=False)
        target = self._target(y, dtype, first=first, incremental=incremental, classes=classes)
        spec = self._spec(X.shape[1], target, dtype, settings.hidden)
        opt = self._optimizer()
        if first:
            seed = _seed_from(self.random_state, type(self).__name__)
            k_init, k_train, k_split = random.split(random.key(seed), 3)
            state = TrainState.create(init(k_init, spec), opt, key=k_train)
            run = _Run()
        else:
            seed, k_split, run = self.seed_, self._split_key, self._run
            if spec != self._spec_fitted:
                raise ConfigError(
                    f"{type(self).__name__}: the network ({_describe(spec)}) differs from the fitted one "
                    f"({_describe(self._spec_fitted)}): hidden_layer_sizes, activation, or the number of features "
                    "or outputs changed; set warm_start=False to start over"
                )
            state = _with_optimizer(self.state_, opt)
        run = run.for_early_stopping(settings.early_stopping, state)

        state, run, n_iter = self._epochs(X, target, state, run, settings, incremental, k_split)

        for name, value in target.fitted.items():  # the estimator changes only now that training succeeded
            setattr(self, name, value)
        self.state_ = state
        self.seed_ = seed
        self._split_key = k_split
        self._spec_fitted = spec
        self._run = run
        self.n_iter_ = n_iter
        self.t_ = run.t
        self.loss_curve_ = list(run.loss_curve)
        self.loss_ = run.loss_curve[-1]
        self.best_loss_ = run.best_loss
        self.validation_scores_ = None if run.validation_scores is None else list(run.validation_scores)
        self.best_validation_score_ = run.best_validation_score
        self.n_outputs_ = target.width
        self.n_layers_ = len(settings.hidden) + 2
        self.out_activation_ = _SKLEARN_OUTPUTS[target.output]
        return self

    def _epochs(
        self, X: np.ndarray, target: _Target, state: TrainState, run: _Run, settings: _Settings, incremental: bool,
        split_key: random.Key,
    ) -> tuple[TrainState, _Run, int]:
        """Epochs of :func:`fnn.train_epoch` under scikit-learn's stopping rules (its ``_fit_stochastic`` loop)."""
        early_stopping = settings.early_stopping
        x_train, y_train = X, target.y
        if early_stopping:
            x_train, y_train, x_val, y_val = self._validation_split(X, target, settings.validation_fraction, split_key)
        n = x_train.shape[0]
        batch_size = min(_AUTO_BATCH, n) if isinstance(self.batch_size, str) else int(self.batch_size)
        if batch_size > n:
            warnings.warn(f"Got batch_size={batch_size} larger than the {n} training rows; it is clipped to {n}",
                          UserWarning, stacklevel=4)
            batch_size = n
        l2 = settings.alpha / (batch_size * target.scale)
        tol, patience = settings.tol, settings.n_iter_no_change
        curve = list(run.loss_curve)
        scores = None if run.validation_scores is None else list(run.validation_scores)
        best_loss, best_score, best_state = run.best_loss, run.best_validation_score, run.best_state
        wait, t, n_iter = run.no_improvement, run.t, 0
        try:
            for _ in range(1 if incremental else settings.max_iter):
                state, metrics = train_epoch(
                    state, (x_train, y_train), batch_size=batch_size, loss=target.loss, l2=l2, shuffle=settings.shuffle
                )
                n_iter += 1
                t += n
                loss = metrics["loss"] * target.scale
                curve.append(loss)
                if self.verbose:
                    print(f"Iteration {n_iter}, loss = {loss:.8f}")
                if early_stopping:
                    score = float(self._score_outputs(y_val, apply(state.params, x_val)))
                    scores.append(score)
                    if self.verbose:
                        print(f"Validation score: {score:f}")
                    wait = wait + 1 if score < best_score + tol else 0
                    if score > best_score:
                        best_score, best_state = score, state
                else:
                    wait = wait + 1 if loss > best_loss - tol else 0
                    best_loss = min(best_loss, loss)
                if wait > patience:
                    if self.verbose:
                        what = "Validation score" if early_stopping else "Training loss"
                        print(f"{what} did not improve more than tol={tol:f} for {patience} consecutive epochs. "
                              "Stopping.")
                    break
                if not incremental and n_iter == settings.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({n_iter}) reached and the optimization hasn't "
                        "converged yet.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        except KeyboardInterrupt:
            if n_iter == 0:
                raise
            warnings.warn(f"Training interrupted by user after {n_iter} epochs.", UserWarning, stacklevel=4)
        run = _Run(tuple(curve), t, best_loss, None if scores is None else tuple(scores), best_score, wait, best_state)
        if early_stopping:
            state = best_state  # as scikit-learn: the best epoch's model, however the loop ended
        return state, run, n_iter

    def _validation_split(self, X: np.ndarray, target: _Target, fraction: float, key: random.Key) -> tuple:
        owner = type(self).__name__
        if X.shape[0] < 3:
            raise ConfigError(f"{owner}: early_stopping needs at least 3 rows (2 to validate), got {X.shape[0]}")
        train, val = split_indices(key, X.shape[0], fraction, labels=target.strata)
        if val.size < 2:
            raise ConfigError(
                f"{owner}: the validation set is too small: {val.size} of {X.shape[0]} rows with "
                f"validation_fraction={fraction}; increase validation_fraction or the number of rows"
            )
        return X[train], target.y[train], X[val], target.y[val]

    def _output(self, X: Any) -> np.ndarray:
        """The network's output on ``X`` after scikit-learn's checks (fitted, n_features_in_, finite)."""
        check_is_fitted(self, "state_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return apply(self.state_.params, X)


# ------------------------------------------------------------------ docstrings


_PARAMETERS = """
    Parameters (named, and defaulting, as in scikit-learn's MLP; :mod:`fnn.sklearn` lists the differences):
        hidden_layer_sizes: the hidden layers' widths, an int or a sequence of ints >= 1; default (100,).
        activation: of the hidden layers: ``identity``, ``logistic`` (fnn's ``sigmoid``), ``tanh``,
            ``relu`` (default), or another fnn activation name (``gelu``, ``elu``, ...).
        solver: the name of an fnn optimizer (``fnn.optim.OPTIMIZERS``); ``"sgd"`` as scikit-learn's
            (with ``momentum``); default ``"adam"``.
        alpha: L2 penalty ``alpha / (2 * batch_size) * Σ w²`` on the weight matrices; default 1e-4.
        batch_size: rows per mini-batch, or ``"auto"`` for ``min(200, n_samples)``; a larger one is clipped.
        learning_rate_init: the optimizer's ``lr``, a number or an ``fnn.optim`` schedule; default 1e-3.
        max_iter: the most epochs one ``fit`` runs (``partial_fit`` runs one); default 200.
        shuffle: a new order each epoch (drawn from the state's key and step); default True.
        random_state: the seed: None (fresh entropy), an int >= 0, a numpy RandomState or Generator.
        tol: the least improvement of the loss (or validation score) that counts; default 1e-4.
        verbose: print each epoch's loss (and validation score).
        warm_start: ``fit`` continues from ``state_`` (params and optimizer state) instead of starting over.
        momentum, nesterovs_momentum: for ``solver="sgd"`` (``momentum`` also for ``"momentum"``, ``"nesterov"``).
        early_stopping: hold out ``validation_fraction`` of the rows (stratified for class labels), stop
            on their score (accuracy, or R²) and keep the best epoch's model.
        validation_fraction: in (0, 1), with ``early_stopping``; default 0.1.
        beta_1, beta_2, epsilon: the Adam family's ``b1``, ``b2`` and ``eps``.
        n_iter_no_change: epochs without an improvement of ``tol`` tolerated; default 10.

    Attributes:
        state_: the :class:`fnn.TrainState`: params, optimizer state, key and step.
        params_, coefs_, intercepts_: its params, and their weight matrices and biases as lists of
            read-only views (shaped as scikit-learn's).
        seed_: the integer seed all of this model's randomness derives from.
        loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_,
        n_features_in_, n_layers_, n_outputs_, out_activation_: as in scikit-learn's MLP (``n_iter_``
            counts the epochs of the last call, ``t_`` the training rows seen by all of them).
"""


# ------------------------------------------------------------------ classifier


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = (
        """A multi-layer perceptron classifier trained with :func:`fnn.train_epoch`: binary, multiclass, multilabel.

    Class labels may be any sortable values (strings, ints, ...); ``classes_`` holds them
    sorted. Two classes train one sigmoid output (``out_activation_ == "logistic"``), more a
    softmax over the classes; a 0/1 indicator matrix y trains one sigmoid per label.
"""
        + _PARAMETERS
        + """        classes_: the class labels, sorted (for multilabel y: ``arange(n_labels)``).

    See Also:
        :class:`MLPRegressor`; :func:`fnn.fit` for the functional interface.

    >>> from sklearn.datasets import load_iris
    >>> from fnn.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=500, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9), clf.predict_proba(X[:2]).shape, [w.shape for w in clf.coefs_]
    (True, (2, 3), [(4, 16), (16, 3)])
    """
    )

    def fit(self, X: Any, y: Any) -> "MLPClassifier":
        """Train on ``X`` (n_samples, n_features) and labels ``y`` (n,), or a 0/1 indicator (n, n_labels).

        Starts over, unless ``warm_start`` (y must then have the classes of the previous fit).

        Returns:
            self.

        Raises:
            ValueError: invalid data or settings (fnn's own checks raise ConfigError, a ValueError);
                y with a single class.
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> "MLPClassifier":
        """One epoch over ``X, y`` from the current state (the first call starts one).

        Args:
            X, y: as for :meth:`fit`; y may hold any subset of the classes.
            classes: every class of the whole stream (e.g. ``np.unique(y_all)``): required on the
                first call unless y is a multilabel indicator; afterwards it must equal ``classes_``.

        Returns:
            self.
        """
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``; rows sum to 1.

        For multilabel y: (n_samples, n_labels), each label's own probability. The dtype is the params'.
        """
        out = self._output(X)
        if out.shape[1] == 1:
            p = out[:, 0]
            return np.column_stack([1 - p, p])
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits, the output before its sigmoid or softmax: (n_samples,) for two classes (> 0 means
        ``classes_[1]``), else (n_samples, n_classes) with the argmax at the predicted class (multilabel:
        > 0 where a label is predicted)."""
        check_is_fitted(self, "state_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        params = self.state_.params
        z = apply(attrs.evolve(params, layers=params.layers[:-1]), X)  # all layers but the last activation
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``, computed from the logits so that it stays finite."""
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)])
        if self._multilabel:
            return -np.logaddexp(0, -z)
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row, ``classes_[argmax(predict_proba(X))]``; for multilabel y the 0/1 indicator."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(self._indicator_dtype)
        return self.classes_[np.argmax(proba, axis=1)]

    def _target(self, y: np.ndarray, dtype: np.dtype, *, first: bool, incremental: bool, classes: Any) -> _Target:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ConfigError(
                "MLPClassifier: y must be class labels of shape (n,) or a 0/1 multilabel indicator (n, n_labels), "
                f"got {kind} targets of shape {y.shape}"
            )
        multilabel = kind == "multilabel-indicator"
        if not first and multilabel != self._multilabel:
            was = "a multilabel indicator" if self._multilabel else "class labels"
            raise ConfigError(f"MLPClassifier: y is {kind} but the model was fitted on {was}; set warm_start=False")
        if multilabel:
            return self._multilabel_target(y, dtype, first, classes)
        if first:
            if incremental and classes is None:
                raise ConfigError(
                    "MLPClassifier: the first partial_fit needs classes=... (every class of the stream, "
                    "e.g. np.unique(y_all))"
                )
            labels = unique_labels(y if classes is None else np.asarray(classes))
            if labels.size < 2:
                raise ConfigError(f"MLPClassifier needs at least 2 classes to train, got 1 class: {labels.tolist()}")
        else:
            labels = self.classes_
            if incremental and classes is not None and not np.array_equal(unique_labels(np.asarray(classes)), labels):
                raise ConfigError(
                    f"MLPClassifier: classes={np.asarray(classes).tolist()} differs from classes_={labels.tolist()} "
                    "of the earlier calls"
                )
            present = unique_labels(y)
            if not incremental and set(present.tolist()) != set(labels.tolist()):
                raise ConfigError(
                    "MLPClassifier: warm_start needs y with the classes of the previous fit; "
                    f"it had {labels.tolist()}, y has {present.tolist()}"
                )
        codes = _codes(labels, y)
        fitted = {"classes_": labels, "_multilabel": False, "_indicator_dtype": None}
        if labels.size == 2:
            return _Target(codes.astype(dtype)[:, None], 1, "sigmoid", binary_cross_entropy, 1.0, codes, fitted)
        return _Target(codes, labels.size, "softmax", cross_entropy, 1.0, codes, fitted)

    def _multilabel_target(self, y: np.ndarray, dtype: np.dtype, first: bool, classes: Any) -> _Target:
        k = y.shape[1]
        if classes is not None and not np.array_equal(np.asarray(classes), np.arange(k)):
            raise ConfigError(
                f"MLPClassifier: for a multilabel y of {k} columns, classes must be range({k}), got {classes!r}"
            )
        if not first and k != self.classes_.size:
            raise ConfigError(f"MLPClassifier: y has {k} labels but the model was fitted on {self.classes_.size}")
        fitted = {"classes_": np.arange(k), "_multilabel": True, "_indicator_dtype": y.dtype}
        # scikit-learn's log-loss sums over the labels; fnn's binary cross-entropy averages: scale by k
        return _Target(y.astype(dtype), k, "sigmoid", binary_cross_entropy, float(k), None, fitted)

    def _score_outputs(self, y: np.ndarray, out: np.ndarray) -> float:
        """Accuracy of the network's outputs against encoded targets (subset accuracy for multilabel)."""
        if out.shape[1] == 1:
            return accuracy_score(y[:, 0] > 0.5, out[:, 0] > 0.5)
        if y.ndim == 2:
            return accuracy_score(y > 0.5, out > 0.5)
        return accuracy_score(y, np.argmax(out, axis=1))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _codes(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The index of each label of ``y`` in the sorted ``classes``; ConfigError naming labels not among them."""
    idx = np.minimum(np.searchsorted(classes, y), classes.size - 1)
    unknown = classes[idx] != y
    if unknown.any():
        raise ConfigError(
            f"MLPClassifier: y has labels {unique_labels(y[unknown]).tolist()} that are not among the classes "
            f"{classes.tolist()}"
        )
    return idx.astype(np.int64)


# ------------------------------------------------------------------ regressor


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = (
        """A multi-layer perceptron regressor trained with :func:`fnn.train_epoch`: identity output, squared error.

    y may be 1-D (n,) or 2-D (n, n_outputs); ``predict`` returns as many dimensions.
"""
        + _PARAMETERS
        + """
    See Also:
        :class:`MLPClassifier`; :func:`fnn.fit` for the functional interface.

    >>> import numpy as np
    >>> from fnn.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 64)[:, None]
    >>> reg = MLPRegressor((16,), learning_rate_init=0.01, random_state=0)
    >>> reg = reg.partial_fit(X, 2 * X[:, 0]).partial_fit(X, 2 * X[:, 0])
    >>> reg.predict(X[:3]).shape, len(reg.loss_curve_), reg.state_.step
    ((3,), 2, 2)
    """
    )

    _y_numeric = True

    def fit(self, X: Any, y: Any) -> "MLPRegressor":
        """Train on ``X`` (n_samples, n_features) and targets ``y`` (n,) or (n, n_outputs).

        Starts over, unless ``warm_start``.

        Returns:
            self.

        Raises:
            ValueError: invalid data or settings (fnn's own checks raise ConfigError, a ValueError).
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X: Any, y: Any) -> "MLPRegressor":
        """One epoch over ``X, y`` from the current state (the first call starts one).

        Returns:
            self.
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions: (n_samples,) after a 1-D y, else (n_samples, n_outputs); in the params' dtype."""
        out = self._output(X)
        return out if self._y_2d else out[:, 0]

    def _target(self, y: np.ndarray, dtype: np.dtype, *, first: bool, incremental: bool, classes: Any) -> _Target:
        y2 = (y[:, None] if y.ndim == 1 else y).astype(dtype)
        return _Target(y2, y2.shape[1], None, _half_squared_error, 1.0, None, {"_y_2d": y.ndim == 2})

    def _score_outputs(self, y: np.ndarray, out: np.ndarray) -> float:
        """R² of the network's outputs against the targets, averaged over the outputs."""
        return r2_score(y, out)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
