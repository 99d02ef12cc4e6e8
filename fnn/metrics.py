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

>>> import numpy as np, fnn.metrics
>>> y_hat = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> fnn.metrics.accuracy(np.array([0, 1, 1]), y_hat)
0.6666666666666666
>>> fnn.metrics.confusion_matrix([0, 1, 1], fnn.metrics.predict_labels(y_hat))
array([[1, 0],
       [1, 1]])
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

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
    "get",
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
        raise ShapeError(f"{where}: y_hat of shape (n, k) with n, k >= 1 (the network's output) expected, got {y_hat.shape}{hint}")
    if y_hat.dtype.kind == "f" and not all_finite(y_hat):
        i, j = np.argwhere(~np.isfinite(y_hat))[0]
        raise NonFiniteError(f"{where}: y_hat contains NaN or infinity (first at row {i}, column {j})")
    return y_hat


def _positions(y_true: Any, y_hat: Any) -> tuple[Any, Any]:
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
    return y, y_hat.reshape(-1, y_hat.shape[-1])


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
            raise ConfigError(f"{where}: binary targets in [0, 1] expected for a (n, 1) output, got values in [{y.min()}, {y.max()}]")
        return _labels_of(y, 0.5)
    if y.ndim == 1 and y.shape[0] == n:
        return _class_labels(y, f"{where}: y_true", k)[0]
    if y.shape != shape:
        raise ShapeError(f"{where}: y_true of shape ({n},) (labels) or {shape} (targets) expected for y_hat of shape {shape}, got {y.shape}")
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

    >>> import numpy as np, fnn.metrics
    >>> fnn.metrics.accuracy(np.array([1, 0, 0, 1]), np.array([[0.9], [0.1], [0.7], [0.4]]))
    0.5
    """
    y_true, y_hat = _positions(y_true, y_hat)
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
    y_true, y_hat = _positions(y_true, y_hat)
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
    y_true, y_hat = _positions(y_true, y_hat)
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


def get(metric: str | Callable) -> Callable:
    """A metric from its name in :data:`METRICS`, or a callable ``(y_true, y_hat) -> float`` as is.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones) or a non-callable.

    >>> import fnn.metrics
    >>> fnn.metrics.get("accuracy") is fnn.metrics.accuracy
    True
    """
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ConfigError(f"unknown metric {metric!r}; valid names: {', '.join(METRICS)}")
        return METRICS[metric]
    if not callable(metric):
        raise ConfigError(f"metric must be a name ({', '.join(METRICS)}) or a callable (y_true, y_hat) -> float, got {metric!r}")
    return metric
