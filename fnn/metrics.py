"""Metrics: plain-float scores of a network's output against the truth.

A metric is a function ``metric(y_true, y_hat) -> float`` (truth first, as in
scikit-learn; losses take ``(y_hat, y)``). ``y_hat`` is the network's output of
shape (n, k). One rule turns outputs into predicted classes, :func:`predict_labels`:

- k >= 2: the argmax of each row (the first one on ties);
- k == 1: a sigmoid output, class 1 when ``y_hat >= threshold`` (0.5 by default;
  pass ``threshold=0.0`` for a logit output).

The truth ``y_true`` may be integer labels of shape (n,), or targets of shape
(n, k) (one-hot or probabilities; their argmax is the class); for k == 1 it is
binary targets of shape (n,) or (n, 1) in [0, 1] (class 1 when >= 0.5).

:data:`METRICS` maps names to metrics and :func:`get` looks them up, as
``fnn.fit(metrics=("accuracy",))`` does.

**Metrics users bring.** :func:`named` turns anything ``fit(metrics=[...])`` and
:func:`fnn.evaluate` take into a ``(name, metric)`` pair, the name being the history's key:

- a name of :data:`METRICS`, or of a scikit-learn metric fnn knows (:data:`SKLEARN_NAMES`:
  ``"f1_macro"``, ``"roc_auc"``, ..., scikit-learn's scorer names, imported only then);
- a function ``(y_true, y_hat) -> float``, named by its ``__name__`` (a lambda has none: give it one);
- a pair ``(name, function)``;
- a scikit-learn metric function itself (``sklearn.metrics.f1_score``, or a
  ``functools.partial`` of one such as ``partial(f1_score, average="macro")``): fnn gives it what
  it takes, predicted labels (``f1_score``, ``precision_score``, ...), scores (``roc_auc_score``,
  ``log_loss``, ...: the positive class's column for two classes, all columns for more) or
  values (``r2_score``, ...), and the true labels.

>>> import numpy as np, fnn.metrics
>>> y_hat = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> fnn.metrics.accuracy(np.array([0, 1, 1]), y_hat)
0.6666666666666666
>>> fnn.metrics.confusion_matrix([0, 1, 1], fnn.metrics.predict_labels(y_hat))
array([[1, 0],
       [1, 1]])
"""

from __future__ import annotations

import difflib
import functools
import importlib
import numbers
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from fnn._reductions import all_finite
from fnn.data import _class_labels
from fnn.errors import ConfigError, DtypeError, NonFiniteError, ShapeError
from fnn.losses import _as_2d_like

__all__ = [
    "predict_labels",
    "accuracy",
    "top_k_accuracy",
    "confusion_matrix",
    "mse",
    "mae",
    "METRICS",
    "SKLEARN_NAMES",
    "get",
    "named",
    "SklearnMetric",
]


def _outputs(y_hat: Any, where: str, *, column_ok: bool = False) -> np.ndarray:
    """``y_hat`` checked: numeric, finite, (n, k) with n >= 1 (or (n,) when ``column_ok``, as (n, 1))."""
    y_hat = np.asarray(y_hat)
    if y_hat.dtype.kind not in "biuf":
        raise DtypeError(f"{where}: y_hat must be numeric, got dtype {y_hat.dtype}")
    if column_ok and y_hat.ndim == 1:
        y_hat = y_hat[:, None]
    if y_hat.ndim != 2 or 0 in y_hat.shape:
        hint = "; a sigmoid output column is (n, 1), e.g. y_hat[:, None]" if y_hat.ndim == 1 else ""
        raise ShapeError(
            f"{where}: y_hat of shape (n, k) with n, k >= 1 (the network's output) expected, got {y_hat.shape}{hint}"
        )
    if y_hat.dtype.kind == "f" and not all_finite(y_hat):
        i, j = np.argwhere(~np.isfinite(y_hat))[0]
        raise NonFiniteError(f"{where}: y_hat contains NaN or infinity (first at row {i}, column {j})")
    return y_hat


def _positions(y_true: Any, y_hat: Any, where: str = "metric") -> tuple[Any, Any]:
    """Outputs of a sequence or image model, (n, ..., k), as rows (n·…, k) with their targets alike.

    Labels (n, ...) become (n·…,) and targets (n, ..., k) become (n·…, k); other shapes are left
    for the checks of the metric to name.
    """
    y_hat = np.asarray(y_hat)
    if y_hat.ndim <= 2:
        return y_true, y_hat
    y = np.asarray(y_true)
    if y.shape == y_hat.shape[:-1]:
        y = y.reshape(-1)
    elif y.shape == y_hat.shape:
        y = y.reshape(-1, y_hat.shape[-1])
    elif y_hat.ndim == 3 and y.shape in (y_hat.shape[1:-1], y_hat.shape[1:]):
        k = y_hat.shape[0]
        raise ShapeError(
            f"{where}: y_hat of shape {y_hat.shape} for {y.shape[0]} rows of y_true: if this is the output of a stack "
            f"of {k} networks (fnn.apply of params from fnn.stack or fnn.init_many), score each member, "
            f"[metric(y_true, member) for member in y_hat], or use fnn.evaluate(state, (x, y)), which gives one "
            f"value per member"
        )
    return y, y_hat.reshape(-1, y_hat.shape[-1])


def _predicted_labels(y_hat: Any, where: str) -> np.ndarray | None:
    """A 1-D ``y_hat`` as predicted labels (integers, bools or whole numbers); None for anything else."""
    y = np.asarray(y_hat)
    if y.ndim != 1 or y.dtype.kind not in "biuf":
        return None
    if y.dtype.kind == "f" and not (np.isfinite(y).all() and np.array_equal(y, np.round(y))):
        raise ShapeError(
            f"{where}: a 1-D y_hat is read as predicted labels (what fnn.predict returns), but these are not whole "
            f"numbers; pass the network's output as it is, (n, k), and for one sigmoid output its column (n, 1), "
            f"e.g. y_hat[:, None]"
        )
    return _class_labels(y, f"{where}: y_hat (predicted labels)")[0]


def _labels_of(y_hat: np.ndarray, threshold: float) -> np.ndarray:
    if y_hat.shape[1] == 1:
        return (y_hat[:, 0] >= threshold).astype(np.int64)
    return np.argmax(y_hat, axis=1).astype(np.int64)


def predict_labels(y_hat: Any, *, threshold: float = 0.5) -> np.ndarray:
    """Predicted classes of outputs (n, k): row argmax for k >= 2, ``y_hat >= threshold`` for k == 1.

    Args:
        y_hat: the network's output, shape (n, k).
        threshold: the class-1 cut for a single output column (0.5 for a sigmoid output).

    Returns:
        int64 labels of shape (n,).

    Raises:
        ShapeError: y_hat is not 2-D (a 1-D array is ambiguous: labels or one column?).
        NonFiniteError: y_hat contains NaN or infinity.

    >>> import numpy as np, fnn.metrics
    >>> fnn.metrics.predict_labels(np.array([[0.1, 0.7, 0.2], [3.0, 1.0, 3.0]])).tolist()
    [1, 0]
    >>> fnn.metrics.predict_labels(np.array([[0.2], [0.5]])).tolist()
    [0, 1]
    """
    return _labels_of(_outputs(y_hat, "predict_labels"), threshold)


def _true_labels(y_true: Any, shape: tuple[int, int], where: str) -> np.ndarray:
    """The true classes, from labels (n,) or targets (n, k); binary targets when k == 1."""
    n, k = shape
    y = np.asarray(y_true)
    if y.dtype.kind not in "biuf":
        raise DtypeError(f"{where}: y_true must be numeric, got dtype {y.dtype}")
    if k == 1:
        y = _as_2d_like(y, shape, np.float64, f"{where}: y_true")
        if y.min() < 0 or y.max() > 1:
            raise ConfigError(
                f"{where}: binary targets in [0, 1] expected for a (n, 1) output, got values in [{y.min()}, {y.max()}]"
            )
        return _labels_of(y, 0.5)
    if y.ndim == 1 and y.shape[0] == n:
        return _class_labels(y, f"{where}: y_true", k)[0]
    if y.shape != shape:
        raise ShapeError(
            f"{where}: y_true of shape ({n},) (labels) or {shape} (targets) "
            f"expected for y_hat of shape {shape}, got {y.shape}"
        )
    return _labels_of(_as_2d_like(y, shape, np.float64, f"{where}: y_true"), 0.5)


def accuracy(y_true: Any, y_hat: Any, *, threshold: float = 0.5) -> float:
    """The fraction of rows whose predicted class (:func:`predict_labels`) is the true class.

    Outputs (n, ..., k) of a sequence or image model count every position as a row.

    Args:
        y_true: labels (n,), targets (n, k), or for k == 1 binary targets (n,) or (n, 1).
        y_hat: the network's output, shape (n, k).
        threshold: the class-1 cut when k == 1.

    Raises:
        ShapeError: shapes that do not match, or y_hat not (n, k) with n >= 1.
        ConfigError: labels outside [0, k) or not integers; binary targets outside [0, 1].
        NonFiniteError: NaN or infinity in y_hat or the targets.

    A 1-D ``y_hat`` of integers (or whole numbers) is taken as predicted labels, as
    scikit-learn's ``accuracy_score(y_true, y_pred)`` takes them: ``accuracy(y, fnn.predict(params, x))``.

    >>> import numpy as np, fnn.metrics
    >>> fnn.metrics.accuracy(np.array([1, 0, 0, 1]), np.array([[0.9], [0.1], [0.7], [0.4]]))
    0.5
    >>> fnn.metrics.accuracy([1, 0, 2], np.array([1, 0, 0]))     # labels against labels
    0.6666666666666666
    """
    labels = _predicted_labels(y_hat, "accuracy")
    if labels is not None:
        if np.ndim(y_true) == 2 and np.shape(y_true)[1] > 1:  # targets (n, k): their classes
            truth = _labels_of(_as_2d_like(y_true, np.shape(y_true), np.float64, "accuracy: y_true"), 0.5)
        else:
            truth = _class_labels(np.ravel(y_true) if np.ndim(y_true) == 2 else y_true, "accuracy: y_true")[0]
        if truth.shape != labels.shape:
            raise ShapeError(f"accuracy: y_true with {truth.size} rows for {labels.size} predicted labels")
        return float(np.mean(truth == labels))
    y_true, y_hat = _positions(y_true, y_hat, "accuracy")
    y_hat = _outputs(y_hat, "accuracy")
    truth = _true_labels(y_true, y_hat.shape, "accuracy")
    return float(np.mean(_labels_of(y_hat, threshold) == truth))


def top_k_accuracy(y_true: Any, y_hat: Any, *, k: int = 5) -> float:
    """The fraction of rows whose true class is among the k highest outputs.

    Ties are ranked as :func:`predict_labels` ranks them (lower column first), so
    ``k=1`` equals :func:`accuracy`. With k >= the number of columns every row counts.

    Raises:
        ConfigError: k is not a positive integer.
        ShapeError: y_hat has fewer than 2 columns, or shapes that do not match.

    >>> import numpy as np, fnn.metrics
    >>> y_hat = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    >>> fnn.metrics.top_k_accuracy([1, 0], y_hat, k=2)
    0.5
    """
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ConfigError(f"top_k_accuracy: k must be a positive integer, got {k!r}")
    y_true, y_hat = _positions(y_true, y_hat, "top_k_accuracy")
    y_hat = _outputs(y_hat, "top_k_accuracy")
    if y_hat.shape[1] < 2:
        raise ShapeError(f"top_k_accuracy: y_hat with at least 2 columns (classes) expected, got shape {y_hat.shape}")
    truth = _true_labels(y_true, y_hat.shape, "top_k_accuracy")
    score = y_hat[np.arange(truth.size), truth][:, None]
    earlier = np.arange(y_hat.shape[1]) < truth[:, None]
    rank = np.sum(y_hat > score, axis=1) + np.sum((y_hat == score) & earlier, axis=1)
    return float(np.mean(rank < k))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``c[i, j]`` of rows of true class i predicted as class j (rows: truth).

    Args:
        y_true: integer labels (n,).
        y_pred: predicted integer labels (n,), e.g. from :func:`predict_labels`.
        num_classes: the size k of the matrix; defaults to the largest label + 1.

    Returns:
        A (k, k) int64 array; it sums to n and its trace is the number of correct rows.

    Raises:
        ShapeError: the label arrays are not 1-D of one length.
        ConfigError: labels that are not integers in [0, num_classes).

    >>> import fnn.metrics
    >>> fnn.metrics.confusion_matrix([0, 0, 2], [0, 1, 2])
    array([[1, 1, 0],
           [0, 0, 0],
           [0, 0, 1]])
    """
    t, kt = _class_labels(y_true, "confusion_matrix: y_true", num_classes)
    p, kp = _class_labels(y_pred, "confusion_matrix: y_pred", num_classes)
    if t.size != p.size:
        raise ShapeError(f"confusion_matrix: y_true and y_pred of one length expected, got {t.size} and {p.size}")
    k = max(kt, kp)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)


def _errors(y_true: Any, y_hat: Any, where: str) -> np.ndarray:
    """``y_hat - y_true`` in float64, with targets shaped like y_hat ((n,) accepted for one column)."""
    y_true, y_hat = _positions(y_true, y_hat, where)
    y_hat = _outputs(y_hat, where, column_ok=True).astype(np.float64)
    return y_hat - _as_2d_like(y_true, y_hat.shape, np.float64, f"{where}: y_true")


def mse(y_true: Any, y_hat: Any) -> float:
    """Mean squared error over all elements, mean((ŷ − y)²), as a float.

    >>> import fnn.metrics
    >>> fnn.metrics.mse([1.0, 2.0], [[1.0], [4.0]])
    2.0
    """
    return float(np.mean(np.square(_errors(y_true, y_hat, "mse"))))


def mae(y_true: Any, y_hat: Any) -> float:
    """Mean absolute error over all elements, mean(|ŷ − y|), as a float.

    >>> import fnn.metrics
    >>> fnn.metrics.mae([1.0, 2.0], [[1.0], [4.0]])
    1.0
    """
    return float(np.mean(np.abs(_errors(y_true, y_hat, "mae"))))


METRICS: dict[str, Callable[[Any, Any], float]] = {"accuracy": accuracy, "mse": mse, "mae": mae}

# scikit-learn's metric functions by what they take: predicted labels, scores, or values.
_SKLEARN_TAKES = {
    "labels": (
        "accuracy_score",
        "balanced_accuracy_score",
        "precision_score",
        "recall_score",
        "f1_score",
        "fbeta_score",
        "jaccard_score",
        "matthews_corrcoef",
        "cohen_kappa_score",
        "hamming_loss",
        "zero_one_loss",
    ),
    "scores": (
        "roc_auc_score",
        "average_precision_score",
        "log_loss",
        "top_k_accuracy_score",
        "brier_score_loss",
        "d2_log_loss_score",
    ),
    "values": (
        "r2_score",
        "mean_squared_error",
        "root_mean_squared_error",
        "mean_absolute_error",
        "median_absolute_error",
        "explained_variance_score",
        "max_error",
        "mean_absolute_percentage_error",
        "mean_squared_log_error",
        "root_mean_squared_log_error",
        "mean_pinball_loss",
        "d2_absolute_error_score",
        "mean_poisson_deviance",
        "mean_gamma_deviance",
        "mean_tweedie_deviance",
    ),
}
_TAKES = {name: takes for takes, names in _SKLEARN_TAKES.items() for name in names}

SKLEARN_NAMES: dict[str, tuple[str, dict]] = {
    "precision": ("precision_score", {"zero_division": 0}),
    "recall": ("recall_score", {"zero_division": 0}),
    "f1": ("f1_score", {"zero_division": 0}),
    **{
        f"{m}_{avg}": (f"{m}_score", {"average": avg, "zero_division": 0})
        for m in ("precision", "recall", "f1")
        for avg in ("macro", "micro", "weighted")
    },
    "balanced_accuracy": ("balanced_accuracy_score", {}),
    "matthews_corrcoef": ("matthews_corrcoef", {}),
    "roc_auc": ("roc_auc_score", {}),
    "roc_auc_ovr": ("roc_auc_score", {"multi_class": "ovr"}),
    "roc_auc_ovo": ("roc_auc_score", {"multi_class": "ovo"}),
    "average_precision": ("average_precision_score", {}),
    "log_loss": ("log_loss", {}),
    "r2": ("r2_score", {}),
}
"""Metric names that scikit-learn computes (its scorer names): name -> (function in ``sklearn.metrics``, its
keyword arguments). ``precision``, ``recall`` and ``f1`` are binary, as scikit-learn's; for more classes use
their ``_macro``, ``_micro`` or ``_weighted`` forms. An undefined precision (no row predicted in a class) is 0."""


def _sklearn_function(fn: Any) -> tuple[str, str] | None:
    """(function name, what it takes) for a function of ``sklearn.metrics`` (or a partial of one), else None."""
    base = fn.func if isinstance(fn, functools.partial) else fn
    module = getattr(base, "__module__", None) or ""
    if not module.startswith("sklearn.metrics"):
        return None
    name = getattr(base, "__name__", repr(base))
    if name not in _TAKES:
        raise ConfigError(
            f"fnn does not know what scikit-learn's {name} takes (predicted labels, scores or values); pass it "
            f"wrapped: ({name!r}, lambda y_true, y_hat: {name}(y_true, <what it takes, from y_hat>))"
        )
    return name, _TAKES[name]


@attrs.frozen
class SklearnMetric:
    """A scikit-learn metric function called as an fnn metric, ``(y_true, y_hat) -> float``.

    ``y_hat`` is the network's output (n, k); the function gets the true labels and, as
    ``takes`` says, the predicted labels (:func:`predict_labels`), the scores (for k ≤ 2 the
    positive class's column, else all k), or the values. Outputs (n, ..., k) count every position.

    >>> import numpy as np, fnn.metrics
    >>> from sklearn.metrics import f1_score
    >>> f1 = fnn.metrics.SklearnMetric(f1_score, "labels")
    >>> f1([0, 1, 1], np.array([[0.8, 0.2], [0.4, 0.6], [0.9, 0.1]]))
    0.6666666666666666
    """

    fn: Callable
    takes: str = attrs.field(validator=attrs.validators.in_(tuple(_SKLEARN_TAKES)))

    def __call__(self, y_true: Any, y_hat: Any) -> float:
        where = f"scikit-learn's {getattr(getattr(self.fn, 'func', self.fn), '__name__', 'metric')}"
        y_true, y_hat = _positions(y_true, y_hat, where)
        if self.takes == "values":
            out = _outputs(y_hat, where, column_ok=True).astype(np.float64)
            truth = _as_2d_like(y_true, out.shape, np.float64, f"{where}: y_true")
            if out.shape[1] == 1:
                out, truth = out[:, 0], truth[:, 0]
            return float(self.fn(truth, out))
        out = _outputs(y_hat, where)
        truth = _true_labels(y_true, out.shape, where)
        if self.takes == "labels":
            return float(self.fn(truth, _labels_of(out, 0.5)))
        scores = out[:, -1] if out.shape[1] <= 2 else out
        return float(self.fn(truth, scores))


def _from_sklearn_name(name: str) -> Callable:
    function, kwargs = SKLEARN_NAMES[name]
    try:
        module = importlib.import_module("sklearn.metrics")
    except ImportError as e:
        raise ImportError(f"the metric {name!r} is scikit-learn's: pip install 'fnn[sklearn]'") from e
    fn = getattr(module, function)
    return SklearnMetric(functools.partial(fn, **kwargs) if kwargs else fn, _TAKES[function])


def _valid_names() -> str:
    return f"{', '.join(METRICS)} (and, computed by scikit-learn: {', '.join(SKLEARN_NAMES)})"


_RESERVED = ("loss", "time", "lr")


def _checked_name(name: Any, metric: Any) -> str:
    if not isinstance(name, str) or not name or name.startswith("val_") or name in _RESERVED:
        raise ConfigError(
            f"a metric's name must be a non-empty string that does not start with 'val_' and is none of "
            f"{', '.join(_RESERVED)} (the history's own keys), got {name!r} for {metric!r}"
        )
    return name


def named(metric: Any) -> tuple[str, Callable]:
    """``(name, metric)`` for anything ``fit(metrics=[...])`` takes (see the module): the name is the history's key.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones), a lambda without a name,
            a scikit-learn function fnn does not know, or something that is not a metric.

    >>> import numpy as np, fnn.metrics
    >>> def always_one(y_true, y_hat):
    ...     return 1.0
    >>> fnn.metrics.named(always_one)[0], fnn.metrics.named(("ones", always_one))[0], fnn.metrics.named("mae")[0]
    ('always_one', 'ones', 'mae')
    >>> from sklearn.metrics import f1_score
    >>> name, f1 = fnn.metrics.named(f1_score)
    >>> name, f1([0, 1, 1], np.array([[0.8, 0.2], [0.4, 0.6], [0.9, 0.1]]))
    ('f1_score', 0.6666666666666666)
    """
    if isinstance(metric, str):
        if metric in METRICS:
            return metric, METRICS[metric]
        if metric in SKLEARN_NAMES:
            return metric, _from_sklearn_name(metric)
        names = [*METRICS, *SKLEARN_NAMES]
        close = [n for n in names if n.startswith(metric)] or difflib.get_close_matches(metric, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown metric {metric!r}; valid names: {_valid_names()}{hint}")
    if isinstance(metric, (tuple, list)) and len(metric) == 2 and isinstance(metric[0], str):
        name, fn = metric
        if not callable(fn):
            raise ConfigError(f"a metric pair is (name, function (y_true, y_hat) -> float), got ({name!r}, {fn!r})")
        found = _sklearn_function(fn)
        return _checked_name(name, metric), fn if found is None else SklearnMetric(fn, found[1])
    if callable(metric) and not isinstance(metric, type):
        found = _sklearn_function(metric)
        if found is not None:
            return found[0], SklearnMetric(metric, found[1])
        if isinstance(metric, SklearnMetric):
            return _sklearn_function(metric.fn)[0], metric  # type: ignore[index]  # made from one
        name = getattr(metric, "__name__", None)
        if not isinstance(name, str) or name == "<lambda>":
            raise ConfigError(
                f"the metric {metric!r} has no name for the history (a lambda, or a callable object without "
                f"__name__): pass it as a pair, ('my_metric', fn)"
            )
        return _checked_name(name, metric), metric
    raise ConfigError(
        f"metric must be a name ({_valid_names()}), a function (y_true, y_hat) -> float, a pair (name, function) "
        f"or a scikit-learn metric function, got {metric!r}"
    )


def get(metric: str | Callable) -> Callable:
    """A metric from its name in :data:`METRICS` (or :data:`SKLEARN_NAMES`), or a callable ``(y_true, y_hat) -> float``
    as is.

    scikit-learn's metric functions come back adapted (see :func:`named`).

    Raises:
        ConfigError: an unknown name (the message lists the valid ones) or a non-callable.

    >>> import fnn.metrics
    >>> fnn.metrics.get("accuracy") is fnn.metrics.accuracy
    True
    """
    if callable(metric) and not isinstance(metric, type) and _sklearn_function(metric) is None:
        return metric
    if not isinstance(metric, str) and not callable(metric):
        raise ConfigError(
            f"metric must be a name ({_valid_names()}) or a callable (y_true, y_hat) -> float, got {metric!r}"
        )
    return named(metric)[1]
