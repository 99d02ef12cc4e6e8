"""The estimators' solvers: scikit-learn's epoch loop over fnn steps, and full-batch L-BFGS.

:func:`fit_stochastic` is ``BaseMultilayerPerceptron._fit_stochastic`` with each mini-batch
step written as fnn's explicit loop (:func:`fnn.value_and_grad`, :func:`fnn.opt_step`;
``fnn.train_epoch`` is that loop's fast path, but it holds one ``l2`` for a whole epoch while
scikit-learn's penalty is divided by each batch's own length or weight sum). Its stopping
rules, learning-rate schedules (``invscaling``, ``adaptive``) and messages are scikit-learn's.
:func:`fit_lbfgs` hands SciPy's L-BFGS-B the same function scikit-learn hands it: the
full-batch objective of :mod:`fnn.sklearn._objective`, on the parameters packed in
scikit-learn's order (all weight matrices, then all biases), with its options.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fnn import random, tree
from fnn.backprop import Plan, value_and_grad, value_and_grad_into
from fnn.layers import DenseParams, writes_every_grad
from fnn.network import apply
from fnn.sklearn._objective import objective
from fnn.train import SHUFFLE, TrainState

__all__ = ["Problem", "Run", "Settings", "Diverged", "fit_stochastic", "fit_lbfgs", "forward", "LbfgsResult"]

_CHUNK_ENTRIES = 1 << 20  # a sparse X is densified this many entries at a time (8 MB in float64)


@attrs.frozen
class Problem:
    """The data one call trains on: rows (a dense array or a CSR matrix), encoded targets, weights, loss."""

    x: Any
    y: np.ndarray  # (n, k), in the params' dtype
    weights: np.ndarray | None  # (n,) in the params' dtype, or None
    kind: str  # the output activation: softmax, logistic, identity, exp
    alpha: float

    @property
    def n(self) -> int:
        return self.x.shape[0]

    def rows(self, idx: Any) -> Problem:
        """The problem restricted to rows ``idx`` (a slice or an index array)."""
        w = None if self.weights is None else self.weights[idx]
        return attrs.evolve(self, x=self.x[idx], y=self.y[idx], weights=w)

    def total(self) -> float:
        """scikit-learn's normaliser ``S``: the sum of the weights, or the number of rows."""
        return float(self.n) if self.weights is None else float(self.weights.sum())


def dense(x: Any) -> np.ndarray:
    """``x`` as a dense array (a sparse matrix is densified)."""
    return x.toarray() if hasattr(x, "toarray") else x


def _chunks(x: Any) -> list[slice]:
    """Row slices: one for a dense ``x``; for a sparse one, chunks that densify to at most ~1M entries."""
    n = x.shape[0]
    if not hasattr(x, "toarray"):
        return [slice(0, n)]
    step = max(1, _CHUNK_ENTRIES // max(1, x.shape[1]))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def forward(params: Any, x: Any) -> np.ndarray:
    """``fnn.apply(params, x)``, a sparse ``x`` densified chunk by chunk."""
    parts = [apply(params, dense(x[s])) for s in _chunks(x)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _value_and_grad(params: Any, problem: Problem, total: float, l2: float) -> tuple[Any, Any]:
    loss = functools.partial(objective, problem.kind, weights=problem.weights, total=total)
    return value_and_grad(params, (dense(problem.x), problem.y), loss=loss, l2=l2)


# ------------------------------------------------------------------ settings and bookkeeping


@attrs.frozen
class Settings:
    """The estimator's parameters that the solvers read, after checking."""

    solver: str
    alpha: float
    batch_size: Any  # "auto" or an int
    learning_rate: str
    learning_rate_init: Any
    power_t: float
    max_iter: int
    max_fun: int
    shuffle: bool
    tol: float
    verbose: Any
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: float


@attrs.frozen
class Run:
    """The epoch loop's bookkeeping, carried across warm starts and partial_fit calls.

    ``lr_divisions`` counts the divisions by 5 of ``learning_rate="adaptive"``.
    """

    loss_curve: tuple = ()
    t: int = 0
    best_loss: float | None = math.inf
    validation_scores: tuple | None = None
    best_validation_score: float | None = None
    no_improvement: int = 0
    best_state: TrainState | None = None
    lr_divisions: int = 0

    def for_early_stopping(self, early_stopping: bool, state: TrainState) -> Run:
        """This bookkeeping made ready for a call with or without early stopping (it may change on warm starts)."""
        if early_stopping and self.validation_scores is None:
            return attrs.evolve(
                self, best_loss=None, validation_scores=(), best_validation_score=-math.inf, best_state=state
            )
        if not early_stopping and self.best_loss is None:
            return attrs.evolve(
                self, best_loss=math.inf, validation_scores=None, best_validation_score=None, best_state=None
            )
        return self


class Diverged(Exception):
    """Raised inside an epoch when a batch's loss is NaN or infinite; ``state`` is the step's (finite) start."""

    def __init__(self, value: float, state: TrainState, epoch: int | None = None):
        super().__init__(value)
        self.value = value
        self.state = state
        self.epoch = epoch  # of the fit that raised it, counted from 1


def current_lr(settings: Settings, run: Run) -> Any:
    """The rate of the next epoch, as scikit-learn's ``SGDOptimizer.learning_rate`` would be.

    ``constant``: ``learning_rate_init``; ``invscaling``: ``learning_rate_init / (t + 1) ** power_t``
    with ``t`` the training rows seen so far (``learning_rate_init`` itself before any);
    ``adaptive``: ``learning_rate_init`` divided by 5 once per time the loss stalled.
    """
    lr = settings.learning_rate_init
    if settings.learning_rate == "invscaling" and run.t:
        return float(lr) / (run.t + 1) ** settings.power_t
    if settings.learning_rate == "adaptive":
        lr = float(lr)
        for _ in range(run.lr_divisions):  # divided step by step, as scikit-learn does (not by 5**k)
            lr /= 5.0
    return lr


# ------------------------------------------------------------------ stochastic solvers


def batch_size_for(settings: Settings, n: int) -> int:
    """scikit-learn's batch size: ``min(200, n)`` for ``"auto"``, else ``batch_size`` clipped to ``n`` (warning)."""
    if isinstance(settings.batch_size, str):
        return min(200, n)
    if settings.batch_size > n:
        warnings.warn(
            f"Got `batch_size` less than 1 or larger than sample size. It is going to be clipped "
            f"(batch_size={settings.batch_size}, {n} training rows)",
            UserWarning,
            stacklevel=6,
        )
    return int(min(settings.batch_size, n))


def _epoch(state: TrainState, problem: Problem, batch_size: int, shuffle: bool) -> tuple[TrainState, float]:
    """One pass over ``problem`` in mini-batches; returns the state and scikit-learn's epoch loss.

    Each step is ``fnn.value_and_grad`` then ``fnn.opt_step`` (bitwise: the same calls, with the
    flat layout, the plan and a gradient buffer made once an epoch instead of once a step). The
    order is fnn's: the permutation of ``fold_in(fold_in(key, SHUFFLE), step)`` at the epoch's
    first step, so a state alone fixes the rest of a run. The epoch loss is the mean of the batch
    losses weighted by their lengths (penalty included), as scikit-learn's ``accumulated_loss / n``.
    A batch whose weights sum to 0 carries no information and is skipped (scikit-learn divides by
    that 0).
    """
    n = problem.n
    if shuffle:
        order = random.permutation(random.fold_in(random.fold_in(state.key, SHUFFLE), state.step), n)
        batches: list[Any] = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    else:
        batches = [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    params, opt_state, step, optimizer = state.params, state.opt_state, state.step, state.optimizer
    flat, unravel = tree.ravel(params)
    plan = Plan.of(params, objective)
    grad = np.zeros(unravel.size, flat.dtype)
    grad_tree = unravel(grad)
    zero = not writes_every_grad(params)
    accumulated = 0.0
    for idx in batches:
        weights = None if problem.weights is None else problem.weights[idx]
        y = problem.y[idx]
        total = float(y.shape[0]) if weights is None else float(weights.sum())
        if total == 0:
            continue
        loss = functools.partial(objective, problem.kind, weights=weights, total=total)
        if zero:
            grad.fill(0)
        value = float(
            value_and_grad_into(
                params,
                dense(problem.x[idx]),
                y,
                loss,
                problem.alpha / total,
                None,
                grad_tree,
                train=True,
                plan=plan,
                stop_if_non_finite=True,
            )
        )
        if not math.isfinite(value):
            raise Diverged(value, TrainState(params, opt_state, key=state.key, step=step, optimizer=optimizer))
        flat, opt_state = optimizer.update(flat, grad, opt_state)
        if flat.flags.writeable:
            flat.flags.writeable = False
        params = unravel(flat)
        step += 1
        accumulated += value * y.shape[0]
    return TrainState(params, opt_state, key=state.key, step=step, optimizer=optimizer), accumulated / n


def _with_lr(state: TrainState, lr: Any) -> TrainState:
    if state.optimizer.lr == lr:
        return state
    return attrs.evolve(state, optimizer=attrs.evolve(state.optimizer, lr=lr))


def _stalled(settings: Settings, schedules_lr: bool, run: Run, divisions: int) -> tuple[bool, int]:
    """scikit-learn's ``trigger_stopping`` after more than ``n_iter_no_change`` epochs without improvement:
    ``(stop, divisions)``. Stop, unless the rate is ``adaptive`` and still above 1e-6: then divide it by 5."""
    what = "Validation score" if settings.early_stopping else "Training loss"
    message = (
        f"{what} did not improve more than tol={settings.tol:f} for {settings.n_iter_no_change} consecutive epochs."
    )
    if not (schedules_lr and settings.learning_rate == "adaptive"):
        if settings.verbose:
            print(message + " Stopping.")
        return True, divisions
    lr = current_lr(settings, attrs.evolve(run, lr_divisions=divisions))
    if lr <= 1e-6:
        if settings.verbose:
            print(message + " Learning rate too small. Stopping.")
        return True, divisions
    if settings.verbose:
        print(message + f" Setting learning rate to {lr / 5.0:f}")
    return False, divisions + 1


def fit_stochastic(
    state: TrainState,
    run: Run,
    train: Problem,
    validation: Problem | None,
    settings: Settings,
    *,
    incremental: bool,
    score: Callable[[Any, Problem], float],
    schedules_lr: bool,
) -> tuple[TrainState, Run, int, Diverged | None]:
    """Epochs under scikit-learn's rules (``_fit_stochastic``): ``max_iter`` of them (one when
    ``incremental``), stopping after more than ``n_iter_no_change`` epochs without an
    improvement of ``tol`` (``adaptive`` divides the rate by 5 instead, until it is <= 1e-6).

    Args:
        schedules_lr: the solver is scikit-learn's SGD, which ``learning_rate`` applies to.
        score: ``score(params, validation)``, the validation score (accuracy, R²); NaN where
            the network's outputs are not finite.

    Returns:
        ``(state, run, n_iter, diverged)``: with ``early_stopping`` the state is the best
        epoch's; ``diverged`` is the :class:`Diverged` that ended an early-stopping run, else None.

    Raises:
        Diverged: the loss became non-finite without ``early_stopping``.
    """
    early_stopping = settings.early_stopping
    batch_size = batch_size_for(settings, train.n)
    tol, patience = settings.tol, settings.n_iter_no_change
    curve = list(run.loss_curve)
    scores = None if run.validation_scores is None else list(run.validation_scores)
    best_loss, best_score, best_state = run.best_loss, run.best_validation_score, run.best_state
    wait, t, divisions, n_iter = run.no_improvement, run.t, run.lr_divisions, 0
    diverged = None
    try:
        for _ in range(1 if incremental else settings.max_iter):
            # Overflow on the way to a NaN loss is detected (each batch's loss, then the weights) and
            # reported as an error naming the cause: NumPy's warnings about the steps there are noise.
            with np.errstate(over="ignore", invalid="ignore"):
                if schedules_lr:
                    lr = current_lr(settings, attrs.evolve(run, t=t, lr_divisions=divisions))
                    state = _with_lr(state, lr)
                try:
                    state, loss = _epoch(state, train, batch_size, settings.shuffle)
                except Diverged as error:
                    error.epoch = n_iter + 1
                    if not early_stopping:
                        raise
                    diverged = error
                    break
                n_iter += 1
                t += train.n
                curve.append(loss)
                if settings.verbose:
                    print(f"Iteration {n_iter}, loss = {loss:.8f}")
                if early_stopping:
                    # with early stopping the run keeps validation scores, a best score and state
                    assert validation is not None and scores is not None and best_score is not None
                    value = score(state.params, validation)
                    scores.append(value)
                    if settings.verbose:
                        print(f"Validation score: {value:f}")
                    wait = wait + 1 if value < best_score + tol else 0  # NaN resets the count, as in scikit-learn
                    if value > best_score:
                        best_score, best_state = value, state
                else:
                    assert best_loss is not None  # without early stopping the run keeps the best loss
                    wait = wait + 1 if loss > best_loss - tol else 0
                    best_loss = min(best_loss, loss)
                if wait > patience:  # stop, or (adaptive) divide the rate by 5 and count again
                    stop, divisions = _stalled(settings, schedules_lr, run, divisions)
                    if stop:
                        break
                    wait = 0
                if not incremental and n_iter == settings.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({n_iter}) reached and the optimization hasn't "
                        "converged yet.",
                        ConvergenceWarning,
                        stacklevel=5,
                    )
    except KeyboardInterrupt:
        if n_iter == 0:
            raise
        warnings.warn(f"Training interrupted by user after {n_iter} epochs.", UserWarning, stacklevel=5)
    scores_kept = None if scores is None else tuple(scores)
    run = Run(tuple(curve), t, best_loss, scores_kept, best_score, wait, best_state, divisions)
    if early_stopping:
        state = best_state  # type: ignore[assignment]  # as scikit-learn: the best epoch's model, however the loop ended
    return state, run, n_iter, diverged


# ------------------------------------------------------------------ L-BFGS


@attrs.frozen
class LbfgsResult:
    """What one L-BFGS run reports: scikit-learn's ``n_iter_`` and ``loss_``, SciPy's status and message."""

    loss: float
    loss_curve: tuple
    n_iter: int
    status: int
    message: str


def _sklearn_order(params: Any) -> np.ndarray:
    """Indices taking fnn's flat vector (w1, b1, w2, b2, ...) to scikit-learn's packing (w1, w2, ..., b1, b2, ...)."""
    leaves, structure = tree.flatten(params)
    offsets = np.cumsum([0] + [leaf.size for leaf in leaves])
    positions = tree.unflatten(
        structure,
        [np.arange(a, b).reshape(leaf.shape) for a, b, leaf in zip(offsets[:-1], offsets[1:], leaves, strict=True)],
    )
    dense_layers = [layer for layer in positions.layers if isinstance(layer, DenseParams)]
    return np.concatenate([layer.w.ravel() for layer in dense_layers] + [layer.b for layer in dense_layers])


def fit_lbfgs(params: Any, problem: Problem, settings: Settings) -> tuple[Any, LbfgsResult]:
    """Minimise the full-batch objective from ``params`` with SciPy's L-BFGS-B, with scikit-learn's options.

    ``maxiter=max_iter``, ``maxfun=max_fun``, ``gtol=tol`` and SciPy's other defaults, as
    ``_fit_lbfgs``; the objective is evaluated in the params' dtype (a sparse X chunk by chunk),
    while SciPy keeps its iterate in float64.
    """
    from scipy.optimize import minimize as scipy_minimize

    flat, unravel = tree.ravel(params)
    dtype = flat.dtype
    order = _sklearn_order(params)
    unorder = np.empty_like(order)
    unorder[order] = np.arange(order.size)
    total = problem.total()
    chunks = [problem.rows(s) for s in _chunks(problem.x)]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        current = unravel(theta[unorder].astype(dtype))
        value, grad = 0.0, np.zeros(flat.size, np.float64)
        for i, chunk in enumerate(chunks):  # the penalty once, with the first chunk
            v, g = _value_and_grad(current, chunk, total, problem.alpha / total if i == 0 else 0.0)
            value += float(v)
            grad += tree.ravel(g)[0]
        return value, grad[order]

    curve: list[float] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging line search is SciPy's
        result = scipy_minimize(
            fun,
            flat[order].astype(np.float64),
            jac=True,
            method="L-BFGS-B",
            callback=lambda intermediate_result: curve.append(float(intermediate_result.fun)),
            options={"maxfun": settings.max_fun, "maxiter": settings.max_iter, "gtol": settings.tol},
        )
    new = result.x[unorder].astype(dtype)
    new.flags.writeable = False
    info = LbfgsResult(
        float(result.fun),
        tuple(curve),
        min(int(result.nit), settings.max_iter),
        int(result.status),
        str(result.message),
    )
    return unravel(new), info


def finite(params: Any) -> bool:
    """Whether every weight and bias of ``params`` is finite."""
    return bool(np.isfinite(tree.ravel(params)[0]).all())
