"""Losses: scalar values of the network's output and their gradients.

A loss takes ``y_hat`` (the network's output, after its last activation) and
the targets ``y``. The built-ins are :class:`Loss` objects:

- ``mse``: mean over all elements of (ŷ − y)².
- ``binary_cross_entropy``: mean over all elements of −[y log p + (1 − y) log(1 − p)].
- ``cross_entropy``: mean over the batch of each row's −Σ_k y_k log p_k. ``y`` may be
  integer class labels of shape (n,) or targets of shape (n, k).

``loss(y_hat, y)`` returns the scalar. When the network ends in a softmax (with
``cross_entropy``) or a sigmoid (with ``binary_cross_entropy``), :func:`fnn.grad`
computes value and gradient from the logits z as one fused, stable piece:
log-sum-exp and ``softmax(z) − y``; ``logaddexp(0, z) − y·z`` and ``σ(z) − y``.
Probabilities are never divided by on that path. Applied to probabilities
directly, the cross-entropies clip them to [eps, 1 − eps] (eps of the dtype)
so that the logarithm and the gradient stay finite.

A custom loss is any callable ``(y_hat, y) -> (value, d value / d y_hat)``.

>>> import numpy as np, fnn
>>> p = np.array([[0.25, 0.75], [0.5, 0.5]])
>>> ce = fnn.losses.cross_entropy(p, np.array([1, 0]))
>>> bool(np.isclose(ce, -(np.log(0.75) + np.log(0.5)) / 2))
True
>>> float(fnn.losses.mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])))
5.0
"""

from __future__ import annotations

import math
from typing import Any, Callable

import attrs
import numpy as np

from fnn._reductions import all_finite, row_sums
from fnn.autodiff import from_function
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.layers.activations import sigmoid

__all__ = ["Loss", "MSE", "BinaryCrossEntropy", "CrossEntropy", "mse", "binary_cross_entropy", "cross_entropy", "get", "LOSSES"]
__all__ += ["from_function"]  # a loss from its value, gradient by autograd (fnn.autodiff)


def _finite(a: np.ndarray, what: str) -> None:
    if a.dtype.kind == "f" and not all_finite(a):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise NonFiniteError(f"{what} contains NaN or infinity (first at index {tuple(int(i) for i in bad)})")


def _as_2d_like(y: Any, shape: tuple, dtype: np.dtype, what: str) -> np.ndarray:
    """Targets shaped like ``y_hat`` (n, ..., k); (n, ...) is accepted when k == 1."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ShapeError(f"{what}: targets must be numeric, got dtype {y.dtype}")
    if y.ndim == len(shape) - 1 and shape[-1] == 1:
        y = y[..., None]
    if y.shape != shape:
        raise ShapeError(f"{what}: targets of shape {shape} expected (like the network's output), got {y.shape}")
    y = y.astype(dtype, copy=False)
    _finite(y, f"{what} targets")
    return y


# Every loss is per network: for a stack of K networks (outputs (K, n, ..., k), see fnn.stack,
# passed with stacked=True: the rank of an array never says whether it is a stack) the value is
# an array of K values and the gradient that of their sum, each member's computed by the same
# operations, in the same order, as one network's (so the two agree bit for bit). One network's
# outputs are (n, ..., k): a sequence model's (n, T, k) is one network's, averaged over n·T rows.


def _member_size(a: np.ndarray, stacked: bool = False) -> int:
    """Elements per network of outputs (n, ..., k), or (K, n, ..., k) for a stack."""
    return a.size // a.shape[0] if stacked else a.size


# A stack's per-member reductions take each member's values as one contiguous row, so that they
# add in the pairwise order one network's contiguous values do (callers pass C-ordered arrays: a
# strided view, as 2-D fancy indexing returns for a stack, would be reduced in another order).


def _sums(a: np.ndarray, stacked: bool = False) -> Any:
    """The float64 sum of ``a`` (one network's: a Python float), or per member of a stack's (K, ...)."""
    if not stacked:
        return float(np.add.reduce(a, axis=None))
    return np.add.reduce(a.reshape(a.shape[0], -1), axis=1).astype(np.float64)


def _mean(a: np.ndarray, stacked: bool = False) -> Any:
    """np.mean over one network's outputs: the scalar, or K of them for a stack (as :func:`_sums`)."""
    return np.mean(a.reshape(a.shape[0], -1), axis=1) if stacked else np.mean(a)


def _as_dtype(value: Any, dtype: np.dtype) -> Any:
    """A loss value of ``dtype``: a NumPy scalar, or K values for a stack."""
    return dtype.type(value) if getattr(value, "ndim", 0) == 0 else value.astype(dtype)


@attrs.frozen
class Loss:
    """Base of the built-in losses: ``loss(y_hat, y)`` is the scalar value.

    Subclasses implement ``targets`` (validation of ``y`` for outputs of one network's
    shape), ``_value_and_grad(y_hat, y, stacked)`` (on outputs) and, where a fused form
    exists, ``fused`` for one activation name.
    """

    def __call__(self, y_hat: Any, y: Any) -> np.floating:
        return self.value_and_grad(y_hat, y)[0]

    def value_and_grad(self, y_hat: Any, y: Any) -> tuple[np.floating, np.ndarray]:
        """(value, d value / d y_hat), with ``y`` validated against ``y_hat``."""
        y_hat = np.asarray(y_hat)
        if y_hat.dtype.kind != "f":
            y_hat = y_hat.astype(np.float64)
        if y_hat.ndim == 1:
            y_hat = y_hat[:, None]
        _finite(y_hat, f"{self.name}: y_hat")
        return self._value_and_grad(y_hat, self.targets(y, y_hat.shape, y_hat.dtype), False)

    def targets(self, y: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """``y`` checked and converted for one network's outputs of ``shape`` (n, ..., k) and ``dtype``.

        Raises ShapeError or ConfigError naming the loss.
        """
        return _as_2d_like(y, shape, dtype, self.name)

    def fused(self, activation: str) -> Callable | None:
        """The fused ``(logits, y, stacked) -> (value, d value / d logits)`` for a last activation, or None."""
        return None

    @property
    def name(self) -> str:
        return _NAMES[type(self)]


@attrs.frozen
class MSE(Loss):
    """Mean squared error over all elements: mean((ŷ − y)²); gradient 2(ŷ − y)/N."""

    def _value_and_grad(self, y_hat, y, stacked):
        d = y_hat - y
        value = _mean(d * d, stacked)
        d *= 2.0 / _member_size(d, stacked)
        return value, d


def _clip(p: np.ndarray) -> np.ndarray:
    eps = np.finfo(p.dtype).eps
    return np.clip(p, eps, 1 - eps)


@attrs.frozen
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, mean over all elements; fused with a sigmoid output."""

    def targets(self, y, shape, dtype):
        y = _as_2d_like(y, shape, dtype, self.name)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ConfigError(f"{self.name}: targets must lie in [0, 1], got values in [{y.min()}, {y.max()}]")
        return y

    def _value_and_grad(self, p, y, stacked):
        p = _clip(p)
        value = -_mean(y * np.log(p) + (1 - y) * np.log1p(-p), stacked)
        return value, (p - y) / (p * (1 - p)) / _member_size(p, stacked)

    def fused(self, activation):
        return _bce_from_logits if activation == "sigmoid" else None


def _bce_from_logits(z: np.ndarray, y: np.ndarray, stacked: bool = False) -> tuple[np.floating, np.ndarray]:
    # −[y log σ(z) + (1 − y) log(1 − σ(z))] = log(1 + e^z) − y·z
    size = _member_size(z, stacked)
    value = _sums(np.logaddexp(0, z) - y * z, stacked) / size
    g = sigmoid(z)
    g -= y
    g /= g.dtype.type(size)
    return _as_dtype(value, z.dtype), g


def _labels(y: np.ndarray, rows: tuple, k: int, where: str) -> np.ndarray:
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
            raise ConfigError(f"{where}: targets with one axis fewer than the outputs are class labels and must be integers, got non-integer values")
    elif y.dtype.kind not in "iub":
        raise ConfigError(f"{where}: class labels must be integers, got dtype {y.dtype}")
    if y.shape != rows:
        raise ShapeError(f"{where}: class labels of shape {rows} expected, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ConfigError(f"{where}: class labels must lie in [0, {k - 1}] for {k} outputs, got values in [{y.min()}, {y.max()}]")
    return y.astype(np.intp, copy=False)


@attrs.frozen
class CrossEntropy(Loss):
    """Categorical cross-entropy over the last axis, mean over the rows; labels (n, ...) or targets (n, ..., k);
    fused with softmax. Rows are every position but the class axis: (n, T, k) outputs average n·T rows."""

    def targets(self, y, shape, dtype):
        y = np.asarray(y)
        if y.ndim == len(shape) - 1 and len(shape) >= 2:
            return _labels(y, tuple(shape[:-1]), shape[-1], self.name)
        return _as_2d_like(y, shape, dtype, self.name)

    def _value_and_grad(self, p, y, stacked):
        n = _member_size(p, stacked) // p.shape[-1]
        p = _clip(p)
        if y.ndim < p.ndim - stacked:
            at = _label_index(p.shape, y)
            picked = p.reshape(-1).take(at)
            value = -_mean(np.log(picked), stacked)
            g = np.zeros_like(p)
            g.reshape(-1).put(at, -1.0 / (picked * n))
            return value, g
        value = -_sums(y * np.log(p), stacked) / n
        return _as_dtype(value, p.dtype), -y / p / n

    def fused(self, activation):
        return _ce_from_logits if activation == "softmax" else None


def _row_starts(shape: tuple) -> np.ndarray:
    """The flat index of each row's first element in an array of ``shape`` (..., k), shaped like
    ``shape[:-1]``: indices into the flat array that keep the rows' layout."""
    starts = np.arange(0, math.prod(shape), shape[-1])
    return starts if len(shape) == 2 else starts.reshape(shape[:-1])


def _label_index(shape: tuple, y: np.ndarray) -> np.ndarray:
    """Flat indices into an array of ``shape`` (n, ..., k), or (K, n, ..., k) for a stack, of each
    row's label ``y`` (n, ...), shaped like ``shape[:-1]``: each member of a stack picks its rows' labels."""
    at = _row_starts(shape)
    at += y
    return at


def _ce_from_logits(z: np.ndarray, y: np.ndarray, stacked: bool = False) -> tuple[np.floating, np.ndarray]:
    # −Σ y log softmax(z) = Σ y·(lse(z) − z); gradient Σy·softmax(z) − y.
    # (Written with ufunc calls on whole arrays and scalar arithmetic: on small batches the per-call
    # overhead of np.mean, .sum() and friends is most of the cost.)
    rank = z.ndim - stacked  # of one network's outputs: 2 for (n, k)
    n = z.shape[-2] if rank == 2 else _member_size(z, stacked) // z.shape[-1]
    # Shifted by each row's maximum, picked at its argmax: exact (a NaN row gives NaN), and over
    # short rows 2-9x faster than np.maximum.reduce, which loops over the rows one by one.
    at = _row_starts(z.shape)
    top = z.argmax(axis=-1)
    top += at
    shifted = np.subtract(z, z.ravel().take(top)[..., None])
    if y.ndim < rank:  # labels: each row's label logit by its flat index (fancy indexing costs more)
        at += y
        flat = shifted.ravel()  # a view: shifted is a new C-contiguous array
        picked = flat.take(at)  # before exp overwrites shifted
        e = np.exp(shifted, out=shifted)
        s = row_sums(e)
        lse = np.log(s)
        lse -= picked[..., None]  # each row's loss, log Σ exp − the label's (shifted) logit
        value = _sums(lse, stacked) / n
        s *= n
        e /= s  # e is now softmax(z) / n
        flat.take(at, out=picked)
        picked -= 1.0 / n
        flat.put(at, picked)
        return _as_dtype(value, z.dtype), e
    e = np.exp(shifted)
    s = row_sums(e)
    total = row_sums(y)
    value = (_sums(total * np.log(s), stacked) - _sums(y * shifted, stacked)) / n
    s *= n
    np.divide(total, s, out=s)
    e *= s  # softmax(z) * total / n
    e -= np.multiply(y, z.dtype.type(1.0 / n))
    return _as_dtype(value, z.dtype), e


mse = MSE()
binary_cross_entropy = BinaryCrossEntropy()
cross_entropy = CrossEntropy()
_NAMES = {MSE: "mse", BinaryCrossEntropy: "binary_cross_entropy", CrossEntropy: "cross_entropy"}
LOSSES = {"mse": mse, "binary_cross_entropy": binary_cross_entropy, "cross_entropy": cross_entropy}


def get(loss: str | Loss | Callable) -> Loss | Callable:
    """A loss from a name, a :class:`Loss` or a custom callable; ConfigError listing the names otherwise.

    >>> import fnn
    >>> fnn.losses.get("mse") is fnn.losses.mse
    True
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ConfigError(f"unknown loss {loss!r}; valid names: {', '.join(LOSSES)}")
        return LOSSES[loss]
    if not callable(loss):
        raise ConfigError(f"loss must be a name, an fnn.losses.Loss or a callable (y_hat, y) -> (value, grad), got {loss!r}")
    return loss
