"""What both estimators share: the parameters, the network, ``fit``'s steps and the fitted attributes."""

from __future__ import annotations

import math
import warnings
from typing import Any

import attrs
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from fnn import optim, random, tree
from fnn.data import split_indices
from fnn.errors import ConfigError, ShapeError
from fnn.layers import Activation, DenseParams, SequentialParams
from fnn.sklearn._objective import output
from fnn.sklearn._optimizers import SklearnAdam, SklearnSGD
from fnn.sklearn._params import NonFiniteWeightsError, check_parameters, hidden_sizes, seed_from
from fnn.sklearn._training import (
    Diverged,
    Problem,
    Run,
    Settings,
    current_lr,
    finite,
    fit_lbfgs,
    fit_stochastic,
    forward,
)
from fnn.train import TrainState

__all__ = ["BaseMLP", "Target", "stochastic_solver"]

_ADAM_FAMILY = ("adamw", "adamax", "nadam")  # fnn's, beside scikit-learn's "adam"
_MOMENTUM_FAMILY = ("momentum", "nesterov")
_FNN_NAMES = {"logistic": "sigmoid"}  # scikit-learn's activation names that fnn spells differently
_NARROW_INIT = ("logistic", "sigmoid")  # scikit-learn's Glorot bound uses 2 instead of 6 for these


@attrs.frozen
class Target:
    """What a call trains on, derived from y: the encoded targets, the output, the validation strata.

    ``fitted`` holds the attributes that encoding y fixes (``classes_``, ...), set only once
    training succeeds.
    """

    y: np.ndarray  # (n, width) in the params' dtype
    kind: str  # out_activation_
    strata: np.ndarray | None
    fitted: dict

    @property
    def width(self) -> int:
        return self.y.shape[1]


def _sklearn_initial_params(key: random.Key, widths: tuple, activation: str, dtype: np.dtype) -> list:
    """scikit-learn's initial weights and biases (``_init_coef``), drawn with fnn keys in float64, then cast.

    Each layer's weights and biases are uniform on ``±sqrt(6 / (fan_in + fan_out))`` (2 instead
    of 6 for the logistic activation). Drawn in float64 whatever the dtype, so float32 and
    float64 data start from the same weights up to rounding.
    """
    factor = 2.0 if activation in _NARROW_INIT else 6.0
    keys = random.split(key, 2 * (len(widths) - 1))
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        bound = math.sqrt(factor / (fan_in + fan_out))
        w = random.uniform(keys[2 * i], (fan_in, fan_out), minval=-bound, maxval=bound)
        b = random.uniform(keys[2 * i + 1], (fan_out,), minval=-bound, maxval=bound)
        layers.append((w.astype(dtype), b.astype(dtype)))
    return layers


def _given_initial_params(coefs: Any, intercepts: Any, widths: tuple, dtype: np.dtype, owner: str) -> list:
    """``coefs_init`` and ``intercepts_init`` checked against the network's widths, cast to its dtype."""
    if coefs is None or intercepts is None:
        raise ConfigError(f"{owner}.fit: coefs_init and intercepts_init go together; got only one of them")
    expected = [(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
    coefs, intercepts = list(coefs), list(intercepts)
    if len(coefs) != len(expected) or len(intercepts) != len(expected):
        raise ShapeError(
            f"{owner}.fit: coefs_init and intercepts_init need {len(expected)} arrays each (one per layer of the "
            f"widths {list(widths)}), got {len(coefs)} and {len(intercepts)}"
        )
    layers = []
    for i, (w, b, shape) in enumerate(zip(coefs, intercepts, expected, strict=True)):
        w, b = np.asarray(w), np.asarray(b)
        if w.shape != shape or b.shape != shape[1:]:
            raise ShapeError(
                f"{owner}.fit: layer {i} needs coefs_init[{i}] of shape {shape} and intercepts_init[{i}] of shape "
                f"{shape[1:]}, got {w.shape} and {b.shape}"
            )
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ConfigError(f"{owner}.fit: coefs_init[{i}] or intercepts_init[{i}] holds NaN or infinity")
        layers.append((w.astype(dtype), b.astype(dtype)))
    return layers


def _sample_weights(sample_weight: Any, X: Any, dtype: np.dtype) -> np.ndarray:
    """scikit-learn's checks of ``sample_weight`` (a number or one per row, finite), then fnn's: none negative."""
    weights = _check_sample_weight(sample_weight, X, dtype=dtype)
    if (weights < 0).any():
        rows = np.flatnonzero(weights < 0)
        raise ConfigError(
            f"Negative values in data passed to sample_weight "
            f"(rows {rows[:5].tolist()}{', ...' if rows.size > 5 else ''}"
            "): a weight must be >= 0"
        )
    return weights


def _network(layers: list, activation: str, n_features: int) -> SequentialParams:
    """The fnn network of these (weights, biases): Dense layers, the hidden activation between them, none after
    the last (its output is the logits; the output activation is part of the loss)."""
    hidden = Activation(_FNN_NAMES.get(activation, activation))
    nodes: list[Any] = []
    for i, (w, b) in enumerate(layers):
        if i:
            nodes.append(hidden)
        nodes.append(DenseParams(w, b))
    return tree.pack(SequentialParams(tuple(nodes), in_dim=n_features))


def _with_optimizer(state: TrainState, opt: Any) -> TrainState:
    """``state`` trained by ``opt`` from now on: the same kind of optimizer keeps its state, another restarts it."""
    if opt is None or opt == state.optimizer:
        return state
    if state.optimizer is not None and type(opt) is type(state.optimizer):
        return attrs.evolve(state, optimizer=opt)  # new hyperparameters (a new lr, ...), the same kind of state
    return attrs.evolve(state, opt_state=opt.init(tree.ravel(state.params)[0]), optimizer=opt)


def _validation_rows(n: int, fraction: float, strata: np.ndarray | None, key: random.Key) -> tuple:
    """scikit-learn's split sizes (``ceil(fraction * n)`` rows validate), drawn by fnn, stratified on ``strata``."""
    n_val = math.ceil(fraction * n)
    if n_val < 2 or n - n_val < 1:
        what = "validation" if n_val < 2 else "training"
        raise ConfigError(
            f"The validation set is too small. Increase 'validation_fraction' or the size of your dataset. "
            f"(validation_fraction={fraction} of {n} rows leaves {n_val} to validate and {n - n_val} to train; "
            f"early_stopping needs at least 2 and 1; the {what} side is short)"
        )
    return split_indices(key, n, n_val, labels=strata)


def stochastic_solver(estimator: Any) -> bool:
    """``partial_fit`` exists for the stochastic solvers only (scikit-learn's ``_check_solver``)."""
    if estimator.solver == "lbfgs":
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} is not stochastic."
        )
    return True


class BaseMLP(BaseEstimator):
    """The parameters, ``fit``'s steps and the fitted attributes shared by both estimators."""

    # Set by fit (declared for the type checker; an unfitted estimator has none of them)
    state_: TrainState
    seed_: int
    _split_key: Any
    _architecture: tuple
    _run: Any

    _y_numeric = False

    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        *,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
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
        self.max_fun = max_fun

    # ---------------------------------------------------------- views of the fitted state

    @property
    def params_(self) -> Any:
        """The fitted fnn network up to the output activation: ``fnn.apply(est.params_, X)`` is the logits
        (the last layer's pre-activation), which ``out_activation_`` turns into the outputs."""
        check_is_fitted(self, "state_")
        return self.state_.params

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, layer by layer, each (fan_in, fan_out): read-only views of ``params_``."""
        return [layer.w for layer in self.params_.layers if isinstance(layer, DenseParams)]

    @property
    def intercepts_(self) -> list[np.ndarray | None]:
        """The bias vectors, layer by layer: read-only views of ``params_``."""
        return [layer.b for layer in self.params_.layers if isinstance(layer, DenseParams)]

    # ---------------------------------------------------------- settings

    def _settings(self) -> Settings:
        owner = type(self).__name__
        schedule = callable(self.learning_rate_init)
        if schedule and self.solver == "sgd" and self.learning_rate != "constant":
            raise ConfigError(
                f"{owner}: learning_rate={self.learning_rate!r} sets the rate of solver='sgd' itself; an fnn "
                f"schedule as learning_rate_init ({self.learning_rate_init!r}) needs learning_rate='constant'"
            )
        return Settings(
            solver=self.solver,
            alpha=float(self.alpha),
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            learning_rate_init=self.learning_rate_init if schedule else float(self.learning_rate_init),
            power_t=float(self.power_t),
            max_iter=int(self.max_iter),
            max_fun=int(self.max_fun),
            shuffle=bool(self.shuffle),
            tol=float(self.tol),
            verbose=self.verbose,
            early_stopping=bool(self.early_stopping),
            validation_fraction=float(self.validation_fraction),
            n_iter_no_change=self.n_iter_no_change,
        )

    def _optimizer(self, settings: Settings, run: Run) -> Any:
        """The optimizer ``solver`` names: scikit-learn's SGD or Adam, None for L-BFGS, else fnn's optimizer."""
        name, lr = self.solver, settings.learning_rate_init
        if name == "lbfgs":
            return None
        if name == "sgd":
            return SklearnSGD(current_lr(settings, run), float(self.momentum), bool(self.nesterovs_momentum))
        if name == "adam":
            return SklearnAdam(lr, float(self.beta_1), float(self.beta_2), float(self.epsilon))
        try:
            if name in _MOMENTUM_FAMILY:
                return optim.get(name, lr=lr, momentum=self.momentum)
            if name in _ADAM_FAMILY:
                return optim.get(name, lr=lr, b1=self.beta_1, b2=self.beta_2, eps=self.epsilon)
            return optim.get(name, lr=lr)
        except ConfigError as e:
            raise ConfigError(f"{type(self).__name__} (solver={self.solver!r}, fnn's optimizer): {e}") from None

    # ---------------------------------------------------------- fit

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        incremental: bool,
        classes: Any = None,
        coefs_init: Any = None,
        intercepts_init: Any = None,
    ) -> BaseMLP:
        check_parameters(self)
        owner = type(self).__name__
        settings = self._settings()
        hidden = hidden_sizes(self.hidden_layer_sizes, owner)
        if settings.early_stopping and incremental:
            raise ConfigError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "state_") or not (incremental or self.warm_start)
        given = coefs_init is not None or intercepts_init is not None
        if given and not first:
            raise ConfigError(
                f"{owner}.fit: coefs_init and intercepts_init start a new model, but warm_start=True continues the "
                "fitted one; set warm_start=False"
            )
        X, y = validate_data(
            self,
            _native_float32(X),
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=self._y_numeric,
            dtype=(np.float64, np.float32),
            reset=first,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        dtype = X.dtype if first else self.state_.params.dtype
        X = X.tocsr().astype(dtype, copy=False) if hasattr(X, "tocsr") else X.astype(dtype, copy=False)
        weights = None if sample_weight is None else _sample_weights(sample_weight, X, dtype)
        target = self._target(y, dtype, first=first, incremental=incremental, classes=classes)
        widths = (X.shape[1], *hidden, target.width)
        architecture = (widths, self.activation)
        if first:
            seed = seed_from(self.random_state)
            k_init, k_train, k_split = random.split(random.key(seed), 3)
            if given:
                layers = _given_initial_params(coefs_init, intercepts_init, widths, dtype, owner)
            else:
                layers = _sklearn_initial_params(k_init, widths, self.activation, dtype)
            state = TrainState(_network(layers, self.activation, X.shape[1]), None, key=k_train, step=0)
            run = Run()
        else:
            if architecture != self._architecture:
                raise ConfigError(
                    f"{owner}: the network (widths {list(widths)}, activation {self.activation!r}) differs from the "
                    f"fitted one (widths {list(self._architecture[0])}, activation {self._architecture[1]!r}): "
                    "hidden_layer_sizes, activation, or the number of features or outputs changed; set "
                    "warm_start=False to start over"
                )
            state, seed, k_split, run = self.state_, self.seed_, self._split_key, self._run
        state = _with_optimizer(state, self._optimizer(settings, run))
        problem = Problem(X, target.y, weights, target.kind, settings.alpha)
        if self.solver == "lbfgs":
            state, run, fitted = self._lbfgs(state, run, problem, settings, first)
        else:
            state, run, fitted = self._stochastic(state, run, problem, target, settings, incremental, k_split)

        # the estimator changes only now that training succeeded
        for name, value in {**target.fitted, **fitted}.items():
            if value is _ABSENT:
                self.__dict__.pop(name, None)
            else:
                setattr(self, name, value)
        self.state_ = state
        self.seed_ = seed
        self._split_key = k_split
        self._architecture = architecture
        self._run = run
        self.n_outputs_ = target.width
        self.n_layers_ = len(hidden) + 2
        self.out_activation_ = target.kind
        return self

    def _stochastic(
        self,
        state: TrainState,
        run: Run,
        problem: Problem,
        target: Target,
        settings: Settings,
        incremental: bool,
        split_key: random.Key,
    ) -> tuple[TrainState, Run, dict]:
        owner = type(self).__name__
        run = run.for_early_stopping(settings.early_stopping, state)
        train, validation = problem, None
        if settings.early_stopping:
            rows, val_rows = _validation_rows(problem.n, settings.validation_fraction, target.strata, split_key)
            train, validation = problem.rows(rows), problem.rows(val_rows)
        try:
            state, run, n_iter, diverged = fit_stochastic(
                state,
                run,
                train,
                validation,
                settings,
                incremental=incremental,
                score=self._validation_score,
                schedules_lr=self.solver == "sgd",
            )
        except Diverged as error:
            where = f"at step {error.state.step} (epoch {error.epoch} of this fit)"
            raise self._diverged(f"the training loss became {error.value} {where}", error.state) from None
        if diverged is not None:
            warnings.warn(
                f"{owner}: the training loss became {diverged.value} at step {diverged.state.step} (epoch "
                f"{diverged.epoch} of this fit); training stopped there, and, as early_stopping=True, the model of "
                f"the best epoch (validation score {run.best_validation_score}) is kept",
                ConvergenceWarning,
                stacklevel=4,
            )
        if not finite(state.params):
            raise self._diverged(f"the weights became NaN or infinite at the last step (step {state.step})", state)
        fitted = {
            "n_iter_": n_iter,
            "t_": run.t,
            "loss_curve_": list(run.loss_curve),
            "loss_": run.loss_curve[-1] if run.loss_curve else math.nan,
            "best_loss_": run.best_loss,
            "validation_scores_": None if run.validation_scores is None else list(run.validation_scores),
            "best_validation_score_": run.best_validation_score,
        }
        return state, run, fitted

    def _lbfgs(
        self, state: TrainState, run: Run, problem: Problem, settings: Settings, first: bool
    ) -> tuple[TrainState, Run, dict]:
        params, result = fit_lbfgs(state.params, problem, settings)
        if not finite(params):
            raise self._diverged(f"L-BFGS ended at NaN or infinite weights (loss {result.loss})", state)
        if result.status != 0:
            message = (
                f"lbfgs failed to converge after {result.n_iter} iteration(s) (status={result.status}):\n"
                f"{result.message}\n"
            )
            if result.n_iter == settings.max_iter:
                message += (
                    f"\nIncrease the number of iterations to improve the convergence (max_iter={settings.max_iter})."
                )
            warnings.warn(message, ConvergenceWarning, stacklevel=4)
        fitted = {
            "n_iter_": result.n_iter,
            "t_": 0 if first else self.t_,
            "loss_": result.loss,
            "loss_curve_": list(result.loss_curve),
            "best_loss_": _ABSENT,
            "validation_scores_": _ABSENT,
            "best_validation_score_": _ABSENT,
        }
        return attrs.evolve(state, params=params), run, fitted

    def _diverged(self, what: str, state: TrainState) -> NonFiniteWeightsError:
        """The error of a fit that diverged (``what`` happened); ``state`` is the last with finite weights."""
        advice = "" if self.solver == "lbfgs" else f", or learning_rate_init={self.learning_rate_init!r} is too large"
        failure = NonFiniteWeightsError(
            f"{type(self).__name__}: {what}. Solver produced non-finite parameter weights. The input data may "
            f"contain large values and need to be preprocessed (e.g. with StandardScaler){advice}. The estimator "
            "is unchanged; the last state with finite weights is attached as .state"
        )
        failure.state = state
        return failure

    # ---------------------------------------------------------- outputs

    def _logits(self, X: Any) -> np.ndarray:
        """The network's last pre-activation on ``X``, after scikit-learn's checks (fitted, n_features_in_)."""
        check_is_fitted(self, "state_")
        X = validate_data(
            self, _native_float32(X), accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32)
        )
        return forward(self.state_.params, X)

    def _outputs(self, X: Any) -> np.ndarray:
        z = self._logits(X)
        return output(self.out_activation_, z)

    def _validation_score(self, params: Any, validation: Problem) -> float:
        z = forward(params, validation.x)
        if not np.isfinite(z).all():
            return math.nan
        return float(self._score_outputs(validation.y, output(validation.kind, z), validation.weights, validation.kind))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_ABSENT = object()  # a fitted attribute this solver does not have (scikit-learn's L-BFGS has no best_loss_)


def _native_float32(X: Any) -> Any:
    """``X`` in native byte order if it is a float32 array of the other one (big-endian on x86), so that
    scikit-learn's ``dtype=(float64, float32)`` keeps it float32 rather than converting it to float64."""
    if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.dtype.itemsize == 4 and not X.dtype.isnative:
        return X.astype(X.dtype.newbyteorder("="))
    return X
