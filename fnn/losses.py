"""Losses: scalar values of the network's output and their gradients.

A loss takes ``y_hat`` (the network's output, after its last activation) and the targets
``y``. The built-ins are :class:`Loss` objects, by name in :data:`LOSSES`:

- ``mse``: mean over all elements of (ŷ − y)².
- ``huber`` (:class:`Huber`, ``delta=1.0``): mean over all elements of ½d² where |d| ≤ δ and
  δ(|d| − ½δ) elsewhere, d = ŷ − y (Keras's ``Huber``, torch's ``HuberLoss``).
- ``binary_cross_entropy``: mean over all elements of −[y log p + (1 − y) log(1 − p)], on
  probabilities p; ``binary_cross_entropy_from_logits`` the same of p = σ(z), on logits z.
- ``cross_entropy``: mean over the rows of −Σ_k y_k log p_k, on probabilities (rows that sum
  to 1); ``cross_entropy_from_logits`` the same of p = softmax(z), on logits. ``y`` may be
  integer class labels of shape (n,) (Keras's ``sparse_categorical_crossentropy``) or targets
  of shape (n, k) (its ``categorical_crossentropy``).
- ``nll``: the negative log-likelihood −Σ_k y_k log p_k of log-probabilities (a network ending
  in ``log_softmax``, as PyTorch's ``NLLLoss``); labels or targets as for cross-entropy.

The cross-entropies take ``label_smoothing=ε`` (``fnn.losses.CrossEntropy(label_smoothing=0.1)``):
the targets become (1 − ε)·y + ε/k (ε/2 for the binary one), as in Keras and PyTorch.

**A loss and the network's output are a pair.** A probability loss on logits trains to a
loss of 0 and learns nothing: the outputs only have to saturate. So :func:`fnn.grad`,
:func:`fnn.fit`, :func:`fnn.train_epoch` and :func:`fnn.evaluate` check the pair before any
work, by the network's last activation, and raise :class:`~fnn.errors.ConfigError` naming the
output and the two ways to fix it:

============================  =================================================================
loss                          outputs it takes (the last activation)
============================  =================================================================
``cross_entropy``             softmax (fused: computed from the logits)
``cross_entropy_from_logits`` logits: no activation (or log_softmax, whose softmax is the same)
``binary_cross_entropy``      sigmoid (fused), or softmax over 2 or more columns
``binary_cross_entropy_from_logits``  logits: anything but sigmoid and softmax
``nll``                       log_softmax (fused: the same numbers as ``cross_entropy_from_logits``)
``mse``, ``huber``            any
============================  =================================================================

A network whose last layer says nothing about its outputs (a user's layer) is checked by
value instead: the probability losses refuse outputs outside [0, 1] (and, for cross-entropy,
rows that do not sum to 1), ``nll`` outputs that are not log-probabilities.

When the network ends in a softmax (with ``cross_entropy``), a log_softmax (with ``nll``) or a
sigmoid (with ``binary_cross_entropy``), :func:`fnn.grad` computes value and gradient from the
logits z as one fused, stable piece: log-sum-exp and ``softmax(z) − y``; ``logaddexp(0, z) − y·z``
and ``σ(z) − y``. Probabilities are never divided by on that path. Applied to probabilities
directly, the cross-entropies clip them to [eps, 1 − eps] (eps of the dtype) so that the
logarithm and the gradient stay finite.

**Weights.** ``loss(y_hat, y, sample_weight=w, class_weight=c)`` is the weighted mean
Σ wᵢ·ℓᵢ / Σ wᵢ over the rows (scikit-learn's ``np.average``; PyTorch's ``weight=`` with the
mean reduction), where a row's weight is its sample's weight times its class's weight.
``sample_weight`` is one number ≥ 0 per sample, (n,); ``class_weight`` a dict
``{class: weight}`` (classes it leaves out weigh 1) or ``"balanced"`` (n / (classes · count),
scikit-learn's rule). Keras divides its weighted sum by the batch size instead of the sum of
the weights, so its weights also scale the step size; here they do not. :func:`fnn.fit` and
:func:`fnn.train_epoch` take the same two arguments; "balanced" is then counted over the whole
training set, once.

A custom loss is any callable ``(y_hat, y) -> (value, d value / d y_hat)``.

>>> import numpy as np, fnn
>>> p = np.array([[0.25, 0.75], [0.5, 0.5]])
>>> ce = fnn.losses.cross_entropy(p, np.array([1, 0]))
>>> bool(np.isclose(ce, -(np.log(0.75) + np.log(0.5)) / 2))
True
>>> float(fnn.losses.mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])))
5.0
>>> z = np.log(p)                                            # logits of the same probabilities
>>> bool(np.isclose(fnn.losses.cross_entropy_from_logits(z, np.array([1, 0])), ce))
True
>>> float(fnn.losses.mse(np.array([1.0, 3.0]), np.array([0.0, 0.0]), sample_weight=np.array([3.0, 1.0])))
3.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn._reductions import all_finite, row_sums
from fnn.autodiff import from_function
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.layers.activations import sigmoid

__all__ = [
    "Loss",
    "MSE",
    "Huber",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "NLL",
    "mse",
    "huber",
    "binary_cross_entropy",
    "binary_cross_entropy_from_logits",
    "cross_entropy",
    "cross_entropy_from_logits",
    "nll",
    "get",
    "LOSSES",
]
__all__ += ["from_function"]  # a loss from its value, gradient by autograd (fnn.autodiff)


def _finite(a: np.ndarray, what: str) -> None:
    if a.dtype.kind == "f" and not all_finite(a):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise NonFiniteError(f"{what} contains NaN or infinity (first at index {tuple(int(i) for i in bad)})")


def _as_2d_like(y: Any, shape: tuple, dtype: DTypeLike, what: str) -> np.ndarray:
    """Targets shaped like ``y_hat`` (n, ..., k); (n, ...) is accepted when k == 1."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ShapeError(f"{what}: targets must be numeric, got dtype {y.dtype}")
    if y.ndim == len(shape) - 1 and shape[-1] == 1:
        y = y[..., None]
    if y.shape != shape:
        hint = ""
        if y.ndim == len(shape) - 1 and y.shape == tuple(shape[:-1]) and y.dtype.kind in "biu":
            hint = (
                f"; these look like class labels: fnn.data.one_hot(y, {shape[-1]}) gives targets, or use "
                f"loss='cross_entropy', which takes labels"
            )
        raise ShapeError(f"{what}: targets of shape {shape} expected (like the network's output), got {y.shape}{hint}")
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


# ------------------------------------------------------------------ weights


def _weighted_mean(
    rows: np.ndarray, g: np.ndarray, w: np.ndarray, stacked: bool, class_axis: bool
) -> tuple[Any, np.ndarray]:
    """Σ w·ℓ / Σ w over the rows and its gradient, from each row's loss ``rows`` and gradient ``g``.

    ``w`` is shaped like one network's rows (a stack's members share it); ``class_axis``: each row
    spans the last axis of ``g`` (the cross-entropies). Weights that sum to 0 give 0 and a zero gradient.
    """
    total = float(np.add.reduce(w, axis=None, dtype=np.float64))
    wf = w.reshape(-1).astype(np.float64)
    value: Any
    if stacked:  # member by member, each as one network's
        value = np.array([np.dot(m.reshape(-1).astype(np.float64), wf) for m in rows])
    else:
        value = float(np.dot(rows.reshape(-1).astype(np.float64), wf))
    if total <= 0:
        return _as_dtype(value * 0.0, g.dtype), np.zeros_like(g)
    scale = (w / total).astype(g.dtype, copy=False)
    g *= scale[..., None] if class_axis else scale
    return _as_dtype(value / total, g.dtype), g


def _check_sample_weight(sample_weight: Any, rows: tuple, where: str) -> np.ndarray:
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise ConfigError(f"{where}: sample_weight must be numbers (one per sample), got dtype {w.dtype}")
    if w.shape != rows and w.shape != rows[:1]:
        also = f" or {rows}" if len(rows) > 1 else ""
        raise ShapeError(
            f"{where}: sample_weight of shape {rows[:1]} (one weight per sample){also} expected, got {w.shape}"
        )
    w = w.astype(np.float64)
    if not np.isfinite(w).all() or (w.size and w.min() < 0):
        raise ConfigError(f"{where}: sample_weight must be finite numbers ≥ 0, got values in [{w.min()}, {w.max()}]")
    return w.reshape(w.shape + (1,) * (len(rows) - w.ndim))


def _balanced(classes: np.ndarray) -> dict:
    """scikit-learn's "balanced" class weights of the labels ``classes``: n / (classes present · count)."""
    present, counts = np.unique(classes, return_counts=True)
    return {int(c): classes.size / (present.size * int(n)) for c, n in zip(present, counts, strict=True)}


def _class_weights_of(classes: np.ndarray, class_weight: Any, k: int, where: str) -> np.ndarray:
    """The weight of each row's class (``classes``: integer labels of the rows)."""
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(
                f"{where}: class_weight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}"
            )
        class_weight = _balanced(classes)
    if not isinstance(class_weight, dict):
        raise ConfigError(f"{where}: class_weight must be a dict {{class: weight}} or 'balanced', got {class_weight!r}")
    table = np.ones(k, np.float64)
    for c, weight in class_weight.items():
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (numbers.Integral, np.integer)) or not 0 <= int(c) < k:
            raise ConfigError(f"{where}: class_weight has the key {c!r}; classes are the integers 0..{k - 1}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= float(weight) < math.inf:
            raise ConfigError(f"{where}: class_weight[{c!r}] must be a finite number ≥ 0, got {weight!r}")
        table[int(c)] = float(weight)
    return table[classes]


# ------------------------------------------------------------------ the pair (output, loss)

# What a network's last activation makes its outputs, for the messages of the pairing check.
_OUTPUT_KIND = {
    "softmax": "probabilities (softmax)",
    "sigmoid": "probabilities of independent labels (sigmoid)",
    "log_softmax": "log-probabilities (log_softmax)",
    "identity": "logits (no output activation)",
}


def _describe_output(activation: str, width: int | None, layer: str) -> str:
    kind = _OUTPUT_KIND.get(activation, f"{activation} outputs, which are not probabilities")
    over = f" over {width} output{'s' if width != 1 else ''}" if width is not None else ""
    return f"the network ends in {layer}{over}: {kind}"


def _needs_columns(width: int | None, what: str) -> str | None:
    if width == 1:
        return (
            f"A {what} over 1 output is always 1, so nothing is learned. Either give it 2 outputs (one per class), "
            f"or use 1 output with a sigmoid and loss='binary_cross_entropy'"
        )
    return None


@attrs.frozen
class Loss:
    """Base of the built-in losses: ``loss(y_hat, y)`` is the scalar value.

    Subclasses implement ``targets`` (validation of ``y`` for outputs of one network's
    shape), ``_value_and_grad(y_hat, y, stacked)`` (on outputs), ``_rows(y_hat, y, stacked)``
    (each row's loss and gradient, for weights), ``mismatch`` (the pairing check) and, where
    a fused form exists, ``fused`` and ``fused_rows`` for one activation name.
    """

    _base = "loss"  # the name in messages and in fnn.losses.LOSSES
    class_axis = False  # whether a row spans the last axis (the cross-entropies) or is one element

    def __call__(self, y_hat: Any, y: Any, *, sample_weight: Any = None, class_weight: Any = None) -> np.floating:
        return self.value_and_grad(y_hat, y, sample_weight=sample_weight, class_weight=class_weight)[0]

    def value_and_grad(
        self, y_hat: Any, y: Any, *, sample_weight: Any = None, class_weight: Any = None
    ) -> tuple[np.floating, np.ndarray]:
        """(value, d value / d y_hat), with ``y`` validated against ``y_hat``; weighted if told (see the module)."""
        y_hat = np.asarray(y_hat)
        if y_hat.dtype.kind != "f":
            y_hat = y_hat.astype(np.float64)
        if y_hat.ndim == 1:
            y_hat = y_hat[:, None]
        _finite(y_hat, f"{self.name}: y_hat")
        y = self.targets(y, y_hat.shape, y_hat.dtype)
        w = self.weights(y, y_hat.shape, y_hat.dtype, sample_weight=sample_weight, class_weight=class_weight)
        if w is None:
            return self._value_and_grad(y_hat, y, False)
        return self._weighted(y_hat, y, False, w)

    def targets(self, y: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """``y`` checked and converted for one network's outputs of ``shape`` (n, ..., k) and ``dtype``.

        Raises ShapeError or ConfigError naming the loss.
        """
        return _as_2d_like(y, shape, dtype, self.name)

    def weights(
        self,
        y: np.ndarray,
        shape: tuple,
        dtype: np.dtype,
        *,
        sample_weight: Any = None,
        class_weight: Any = None,
        where: str | None = None,
    ) -> np.ndarray | None:
        """Each row's weight for targets ``y`` (as :meth:`targets` returns them) of outputs of ``shape``, or None.

        The rows are every element for the element-wise losses and every position but the class
        axis for the cross-entropies; the result has their shape, in ``dtype``.

        >>> import numpy as np, fnn
        >>> y = np.array([0, 1, 1, 1])
        >>> fnn.losses.cross_entropy.weights(y, (4, 2), np.dtype(np.float64), class_weight="balanced").tolist()
        [2.0, 0.6666666666666666, 0.6666666666666666, 0.6666666666666666]
        """
        if sample_weight is None and class_weight is None:
            return None
        where = where or self.name
        rows = tuple(shape[:-1]) if self.class_axis else tuple(shape)
        w = np.ones(rows, np.float64)
        if sample_weight is not None:
            w = w * _check_sample_weight(sample_weight, rows, where)
        if class_weight is not None:
            w = w * self._class_weights(y, shape, class_weight, where)
        return w.astype(dtype)

    def _value_and_grad(self, y_hat: np.ndarray, y: np.ndarray, stacked: bool) -> tuple[Any, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} defines no _value_and_grad")  # each loss does

    def _rows(self, y_hat: np.ndarray, y: np.ndarray, stacked: bool) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} defines no _rows")  # each loss does

    def _class_weights(self, y: np.ndarray, shape: tuple, class_weight: Any, where: str) -> np.ndarray:
        raise ConfigError(
            f"{where}: class_weight needs class labels, and {self.name} has real-valued targets; weigh the "
            f"samples with sample_weight instead"
        )

    def _weighted(self, y_hat: np.ndarray, y: np.ndarray, stacked: bool, w: np.ndarray) -> tuple[Any, np.ndarray]:
        rows, g = self._rows(y_hat, y, stacked)
        return _weighted_mean(rows, g, w, stacked, self.class_axis)

    def fused(self, activation: str) -> Callable | None:
        """The fused ``(logits, y, stacked) -> (value, d value / d logits)`` for a last activation, or None."""
        return None

    def fused_rows(self, activation: str) -> Callable | None:
        """The fused ``(logits, y, stacked) -> (each row's loss, its gradient)`` (for weights), or None."""
        return None

    def mismatch(self, activation: str, width: int | None) -> str | None:
        """Why outputs of a network ending in ``activation`` (``"identity"``: none) over ``width`` outputs
        cannot be what this loss takes, and the two ways out; None when they can."""
        return None

    def check_output(self, activation: str | None, width: int | None, layer: str, where: str) -> None:
        """ConfigError when the pair (last activation, this loss) trains nonsense (see the module).

        >>> import fnn
        >>> fnn.losses.cross_entropy.check_output("identity", 10, "Dense(32→10)", "fit")
        Traceback (most recent call last):
        fnn.errors.ConfigError: fit: loss 'cross_entropy' takes probabilities, but the network ends in Dense(32→10)
        over 10 outputs: logits (no output activation). Either end the network in a softmax
        (fnn.mlp(..., output='softmax'), or fnn.Activation('softmax')), or keep the logits and use
        loss='cross_entropy_from_logits'
        """
        if activation is None:
            return
        why = self.mismatch(activation, width)
        if why is not None:
            output = _describe_output(activation, width, layer)
            raise ConfigError(f"{where}: loss {self.name!r} takes {self._takes}, but {output}. {why}")

    @property
    def _takes(self) -> str:  # what the loss takes, in the pairing check's message
        return "any outputs"

    @property
    def name(self) -> str:
        """The loss's name: its key in :data:`LOSSES`, with any non-default setting, e.g.
        ``cross_entropy(label_smoothing=0.1)``."""
        settings = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in attrs.fields(type(self))
            if f.name != "from_logits" and getattr(self, f.name) != f.default
        ]
        base = self._base + ("_from_logits" if getattr(self, "from_logits", False) else "")
        return f"{base}({', '.join(settings)})" if settings else base


def _check_flag(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{type(instance).__name__}: {attribute.name} must be True or False, got {value!r}")


def _check_smoothing(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) < 1:
        raise ConfigError(f"{type(instance).__name__}: label_smoothing must be a number in [0, 1), got {value!r}")


def _flag_field() -> Any:
    return attrs.field(
        default=False,
        kw_only=True,
        validator=_check_flag,
        converter=lambda v: bool(v) if isinstance(v, np.bool_) else v,
    )


def _smoothing_field() -> Any:
    return attrs.field(
        default=0.0,
        kw_only=True,
        validator=_check_smoothing,
        converter=lambda v: float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v,
    )


@attrs.frozen
class MSE(Loss):
    """Mean squared error over all elements: mean((ŷ − y)²); gradient 2(ŷ − y)/N."""

    _base = "mse"

    def _value_and_grad(self, y_hat, y, stacked):
        d = y_hat - y
        value = _mean(d * d, stacked)
        d *= 2.0 / _member_size(d, stacked)
        return value, d

    def _rows(self, y_hat, y, stacked):
        d = y_hat - y
        return d * d, d * 2.0


def _check_delta(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < float(value) < math.inf:
        raise ConfigError(f"Huber: delta must be a finite number > 0, got {value!r}")


@attrs.frozen
class Huber(Loss):
    """Huber loss over all elements: ½d² where |d| ≤ delta, delta·(|d| − ½·delta) elsewhere (d = ŷ − y); the mean.

    Quadratic near the target and linear far from it, so outliers pull with a force of at most
    ``delta``: Keras's ``Huber(delta)``, PyTorch's ``HuberLoss(delta=...)`` (mean reduction).

    >>> import numpy as np, fnn
    >>> float(fnn.losses.Huber(delta=1.0)(np.array([0.5, 3.0]), np.zeros(2)))
    1.3125
    """

    delta: float = attrs.field(
        default=1.0,
        validator=_check_delta,
        converter=lambda v: float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v,
    )
    _base = "huber"

    def _rows(self, y_hat, y, stacked):
        d = y_hat - y
        a = np.abs(d)
        delta = d.dtype.type(self.delta)
        rows = np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))
        return rows, np.clip(d, -delta, delta)

    def _value_and_grad(self, y_hat, y, stacked):
        rows, g = self._rows(y_hat, y, stacked)
        g *= g.dtype.type(1.0 / _member_size(g, stacked))
        return _as_dtype(_mean(rows, stacked), y_hat.dtype), g


def _clip(p: np.ndarray) -> np.ndarray:
    eps = np.finfo(p.dtype).eps
    return np.clip(p, eps, 1 - eps)


def _tolerance(dtype: np.dtype, k: int) -> float:
    eps = float(np.finfo(dtype).eps)
    return max(math.sqrt(eps), 16 * k * eps)


def _check_unit_interval(p: np.ndarray, name: str, fix: str) -> None:
    """A probability loss applied to outputs that cannot be probabilities raises, naming the way out."""
    tol = _tolerance(p.dtype, 1)
    lo, hi = float(np.min(p)), float(np.max(p))
    if lo < -tol or hi > 1 + tol:
        raise ConfigError(f"{name}: y_hat must be probabilities in [0, 1], got values in [{lo:.4g}, {hi:.4g}]; {fix}")


def _check_probability_rows(p: np.ndarray, name: str, fix: str) -> None:
    _check_unit_interval(p, name, fix)
    sums = row_sums(p)
    tol = _tolerance(p.dtype, p.shape[-1])
    lo, hi = float(np.min(sums)), float(np.max(sums))
    if lo < 1 - tol or hi > 1 + tol:
        raise ConfigError(
            f"{name}: y_hat must be probabilities whose rows sum to 1, got row sums in [{lo:.4g}, {hi:.4g}]; {fix}"
        )


def _smooth_binary(y: np.ndarray, z: np.ndarray, eps: float) -> np.ndarray:
    """Binary targets (1 − ε)·y + ε/2 (``z``: the outputs they are for)."""
    return y * y.dtype.type(1 - eps) + y.dtype.type(eps / 2) if eps else y


@attrs.frozen
class BinaryCrossEntropy(Loss):
    """Binary cross-entropy, mean over all elements; on probabilities (fused with a sigmoid output), or
    with ``from_logits=True`` on logits (``binary_cross_entropy_from_logits``).

    ``label_smoothing=ε`` moves the targets to (1 − ε)·y + ε/2.
    """

    from_logits: bool = _flag_field()
    label_smoothing: float = _smoothing_field()
    _base = "binary_cross_entropy"

    @property
    def _takes(self) -> str:
        return "logits" if self.from_logits else "probabilities in [0, 1]"

    def targets(self, y: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
        y = _as_2d_like(y, shape, dtype, self.name)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ConfigError(f"{self.name}: targets must lie in [0, 1], got values in [{y.min()}, {y.max()}]")
        return y

    def _class_weights(self, y, shape, class_weight, where):
        return _class_weights_of((y >= 0.5).astype(np.intp), class_weight, 2, where)

    def _probabilities(self, p):
        fix = "for logits (a network without a sigmoid) use loss='binary_cross_entropy_from_logits'"
        _check_unit_interval(p, self.name, fix)
        return _clip(p)

    def _value_and_grad(self, p, y, stacked):
        y = _smooth_binary(y, p, self.label_smoothing)
        if self.from_logits:
            return _bce_from_logits(p, y, stacked)
        p = self._probabilities(p)
        value = -_mean(y * np.log(p) + (1 - y) * np.log1p(-p), stacked)
        return value, (p - y) / (p * (1 - p)) / _member_size(p, stacked)

    def _rows(self, p, y, stacked):
        y = _smooth_binary(y, p, self.label_smoothing)
        if self.from_logits:
            return _bce_rows_from_logits(p, y, stacked)
        p = self._probabilities(p)
        return -(y * np.log(p) + (1 - y) * np.log1p(-p)), (p - y) / (p * (1 - p))

    def fused(self, activation: str) -> Callable | None:
        if self.from_logits or activation != "sigmoid":
            return None
        if not self.label_smoothing:
            return _bce_from_logits
        return partial(_smoothed, _bce_from_logits, _smooth_binary, self.label_smoothing)

    def fused_rows(self, activation: str) -> Callable | None:
        if self.from_logits or activation != "sigmoid":
            return None
        return partial(_smoothed, _bce_rows_from_logits, _smooth_binary, self.label_smoothing)

    def mismatch(self, activation: str, width: int | None) -> str | None:
        if self.from_logits:
            if activation in ("sigmoid", "softmax"):
                return (
                    f"Either drop the {activation} (fnn.mlp(..., output=None)) and keep this loss, or keep it and "
                    f"use loss='binary_cross_entropy'"
                )
            return None
        if activation == "sigmoid":
            return None
        if activation == "softmax":
            return _needs_columns(width, "softmax")
        if activation == "identity":
            return (
                "Either end the network in a sigmoid (fnn.mlp(..., output='sigmoid')), or keep the logits and use "
                "loss='binary_cross_entropy_from_logits'"
            )
        return (
            "Either end the network in a sigmoid (fnn.mlp(..., output='sigmoid')), or treat its outputs as "
            "logits with loss='binary_cross_entropy_from_logits'"
        )


def _smoothed(fn: Callable, smooth: Callable, eps: float, z: np.ndarray, y: np.ndarray, stacked: bool = False) -> Any:
    """``fn(z, smooth(y, z, eps), stacked)``: a fused form against smoothed targets (label smoothing)."""
    return fn(z, smooth(y, z, eps), stacked)


def _bce_from_logits(z: np.ndarray, y: np.ndarray, stacked: bool = False) -> tuple[np.floating, np.ndarray]:
    # −[y log σ(z) + (1 − y) log(1 − σ(z))] = log(1 + e^z) − y·z
    size = _member_size(z, stacked)
    value = _sums(np.logaddexp(0, z) - y * z, stacked) / size
    g = sigmoid(z)
    g -= y
    g /= g.dtype.type(size)
    return _as_dtype(value, z.dtype), g


def _bce_rows_from_logits(z: np.ndarray, y: np.ndarray, stacked: bool = False) -> tuple[np.ndarray, np.ndarray]:
    g = sigmoid(z)
    g -= y
    return np.logaddexp(0, z) - y * z, g


def _labels(y: np.ndarray, rows: tuple, k: int, where: str) -> np.ndarray:
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
            at = bad[0] if len(bad) == 1 else bad
            raise ConfigError(f"{where}: class labels must be integers, got {y[bad]} at index {at}")
        if not np.array_equal(y, np.round(y)):
            raise ConfigError(
                f"{where}: targets with one axis fewer than the outputs are class labels "
                "and must be integers, got non-integer values"
            )
    elif y.dtype.kind not in "iub":
        raise ConfigError(
            f"{where}: class labels must be integers 0..{k - 1}, got dtype {y.dtype}; encode named classes with "
            f"classes, y = np.unique(y, return_inverse=True)"
        )
    if y.shape != rows:
        hint = " (labels of shape (n, 1): pass y.ravel())" if y.shape == (*rows, 1) else ""
        raise ShapeError(f"{where}: class labels of shape {rows} expected, got shape {y.shape}{hint}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ConfigError(
            f"{where}: class labels must lie in [0, {k - 1}] for {k} outputs, got values in [{y.min()}, {y.max()}]"
        )
    return y.astype(np.intp, copy=False)


def _class_targets(y: Any, shape: tuple, dtype: np.dtype, where: str) -> np.ndarray:
    """Labels (n, ...) or targets (n, ..., k) for class outputs of ``shape``: the cross-entropies' ``targets``."""
    y = np.asarray(y)
    if y.ndim == len(shape) - 1 and len(shape) >= 2:
        return _labels(y, tuple(shape[:-1]), shape[-1], where)
    if y.shape == (*shape[:-1], 1) and shape[-1] > 1 and y.dtype.kind in "biu":  # Keras accepts (n, 1) labels
        return _labels(y[..., 0], tuple(shape[:-1]), shape[-1], where)
    t = _as_2d_like(y, shape, dtype, where)
    if t.size and t.min() < 0:  # NaN is refused by _as_2d_like
        at = tuple(int(i) for i in np.argwhere(t < 0)[0])
        raise ConfigError(
            f"{where}: soft targets are probabilities, each ≥ 0 (a distribution over the {shape[-1]} classes per row), "
            f"got {t[at]:g} at index {at}"
        )
    return t


def _one_hot_targets(y: np.ndarray, k: int, dtype: np.dtype) -> np.ndarray:
    """Targets (..., k) of labels (...); targets are returned as they are."""
    if y.dtype.kind == "f":
        return y
    t = np.zeros((*y.shape, k), dtype)
    np.put_along_axis(t, y[..., None], 1, axis=-1)
    return t


def _smooth_classes(y: np.ndarray, z: np.ndarray, eps: float) -> np.ndarray:
    """Class targets (1 − ε)·y + ε/k of labels or targets ``y`` for outputs ``z`` (..., k)."""
    k, dtype = z.shape[-1], z.dtype
    t = _one_hot_targets(y, k, dtype)
    return t * dtype.type(1 - eps) + dtype.type(eps / k) if eps else t


def _classes_of(y: np.ndarray) -> np.ndarray:
    """The class of each row: its label, or the argmax of its target."""
    return y if y.dtype.kind != "f" else np.argmax(y, axis=-1)


@attrs.frozen
class CrossEntropy(Loss):
    """Categorical cross-entropy over the last axis, mean over the rows; labels (n, ...) or targets (n, ..., k).

    On probabilities (fused with a softmax output), or with ``from_logits=True`` on logits
    (``cross_entropy_from_logits``). Rows are every position but the class axis: (n, T, k)
    outputs average n·T rows. ``label_smoothing=ε`` moves the targets to (1 − ε)·y + ε/k.

    >>> import numpy as np, fnn
    >>> z = np.array([[2.0, 0.0, 0.0]])
    >>> smooth = fnn.losses.CrossEntropy(from_logits=True, label_smoothing=0.3)
    >>> smooth.name, bool(np.isclose(smooth(z, [0]), -(0.8 * np.log(0.7870) + 0.2 * np.log(0.1065)), atol=1e-3))
    ('cross_entropy_from_logits(label_smoothing=0.3)', True)
    """

    from_logits: bool = _flag_field()
    label_smoothing: float = _smoothing_field()
    _base = "cross_entropy"
    class_axis = True

    @property
    def _takes(self) -> str:
        return "logits" if self.from_logits else "probabilities"

    def targets(self, y: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
        return _class_targets(y, shape, dtype, self.name)

    def _class_weights(self, y, shape, class_weight, where):
        return _class_weights_of(_classes_of(y), class_weight, shape[-1], where)

    def _probabilities(self, p):
        fix = "for logits (a network without a softmax) use loss='cross_entropy_from_logits'"
        _check_probability_rows(p, self.name, fix)
        return p

    def _value_and_grad(self, p, y, stacked):
        if self.label_smoothing:
            y = _smooth_classes(y, p, self.label_smoothing)
        if self.from_logits:
            return _ce_from_logits(p, y, stacked)
        p = self._probabilities(p)
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

    def _rows(self, p, y, stacked):
        y = _smooth_classes(y, p, self.label_smoothing)
        if self.from_logits:
            return _ce_rows_from_logits(p, y, stacked)
        p = _clip(self._probabilities(p))
        return -row_sums(y * np.log(p))[..., 0], -y / p

    def fused(self, activation: str) -> Callable | None:
        if activation != ("log_softmax" if self.from_logits else "softmax"):
            return None
        if self.label_smoothing:
            return partial(_smoothed, _ce_from_logits, _smooth_classes, self.label_smoothing)
        return _ce_from_logits

    def fused_rows(self, activation: str) -> Callable | None:
        if activation != ("log_softmax" if self.from_logits else "softmax"):
            return None
        return partial(_smoothed, _ce_rows_from_logits, _smooth_classes, self.label_smoothing)

    def mismatch(self, activation: str, width: int | None) -> str | None:
        if self.from_logits:
            if activation == "softmax":
                return (
                    "Either use loss='cross_entropy', which takes probabilities, or drop the softmax "
                    "(fnn.mlp(..., output=None)) to keep the logits"
                )
            if activation == "sigmoid":
                return (
                    "Either drop the sigmoid (fnn.mlp(..., output=None)) and keep this loss, or, for independent "
                    "labels, keep it and use loss='binary_cross_entropy'"
                )
            return None
        if activation == "softmax":
            return _needs_columns(width, "softmax")
        if activation == "identity":
            return (
                "Either end the network in a softmax (fnn.mlp(..., output='softmax'), or "
                "fnn.Activation('softmax')), or keep the logits and use loss='cross_entropy_from_logits'"
            )
        if activation == "log_softmax":
            return (
                "Either use loss='nll' (the negative log-likelihood of log-probabilities, PyTorch's NLLLoss), "
                "or end the network in a softmax"
            )
        if activation == "sigmoid":
            return (
                "Its outputs do not sum to 1 over a row. Either end the network in a softmax (one class per row), "
                "or, for independent labels, use loss='binary_cross_entropy'"
            )
        return (
            "Either end the network in a softmax (fnn.mlp(..., output='softmax')), or treat its outputs as logits "
            "with loss='cross_entropy_from_logits'"
        )


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


def _ce_rows_from_logits(z: np.ndarray, y: np.ndarray, stacked: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each row's −Σ y log softmax(z) and its gradient Σy·softmax(z) − y (targets ``y``)."""
    y = _one_hot_targets(y, z.shape[-1], z.dtype)
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    s = row_sums(e)
    total = row_sums(y)
    rows = (total * np.log(s) - row_sums(y * shifted))[..., 0]
    e *= total / s
    e -= y
    return rows, e


@attrs.frozen
class NLL(Loss):
    """Negative log-likelihood of log-probabilities (a network ending in ``log_softmax``): mean over the rows of
    −Σ_k y_k·ŷ_k, labels (n, ...) or targets (n, ..., k) as for :class:`CrossEntropy` (PyTorch's ``NLLLoss``).

    After a log_softmax it is computed from the logits, fused: the same numbers as
    ``cross_entropy`` after a softmax.

    >>> import numpy as np, fnn
    >>> logp = np.log(np.array([[0.25, 0.75], [0.5, 0.5]]))
    >>> bool(np.isclose(fnn.losses.nll(logp, [1, 0]), -(np.log(0.75) + np.log(0.5)) / 2))
    True
    """

    _base = "nll"

    @property
    def _takes(self) -> str:
        return "log-probabilities"

    class_axis = True

    def targets(self, y: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
        return _class_targets(y, shape, dtype, self.name)

    def _class_weights(self, y, shape, class_weight, where):
        return _class_weights_of(_classes_of(y), class_weight, shape[-1], where)

    def _log_probabilities(self, logp: np.ndarray) -> None:
        fix = "end the network in log_softmax, or for logits use loss='cross_entropy_from_logits'"
        tol = _tolerance(logp.dtype, logp.shape[-1])
        hi = float(np.max(logp))
        if hi > tol:
            raise ConfigError(f"{self.name}: y_hat must be log-probabilities (≤ 0), got values up to {hi:.4g}; {fix}")
        lse = np.log(row_sums(np.exp(logp)))
        if float(np.max(np.abs(lse))) > tol:
            raise ConfigError(
                f"{self.name}: y_hat must be log-probabilities whose rows' exp sum to 1, got log-sums up "
                f"to {float(np.max(np.abs(lse))):.4g} away from 0; {fix}"
            )

    def _value_and_grad(self, logp, y, stacked):
        self._log_probabilities(logp)
        n = _member_size(logp, stacked) // logp.shape[-1]
        t = _one_hot_targets(y, logp.shape[-1], logp.dtype)
        value = -_sums(np.broadcast_to(t, logp.shape) * logp, stacked) / n
        return _as_dtype(value, logp.dtype), np.broadcast_to(t * logp.dtype.type(-1.0 / n), logp.shape).copy()

    def _rows(self, logp, y, stacked):
        self._log_probabilities(logp)
        t = _one_hot_targets(y, logp.shape[-1], logp.dtype)
        return -row_sums(np.broadcast_to(t, logp.shape) * logp)[..., 0], np.broadcast_to(-t, logp.shape).copy()

    def fused(self, activation: str) -> Callable | None:
        return _ce_from_logits if activation == "log_softmax" else None

    def fused_rows(self, activation: str) -> Callable | None:
        return _ce_rows_from_logits if activation == "log_softmax" else None

    def mismatch(self, activation: str, width: int | None) -> str | None:
        if activation == "log_softmax":
            return None
        if activation == "softmax":
            return (
                "Either use loss='cross_entropy', which takes probabilities, or end the network in log_softmax "
                "(fnn.mlp(..., output='log_softmax'))"
            )
        if activation == "identity":
            return (
                "Either end the network in log_softmax (fnn.mlp(..., output='log_softmax')), or keep the logits "
                "and use loss='cross_entropy_from_logits'"
            )
        return (
            "Either end the network in log_softmax (fnn.mlp(..., output='log_softmax')), or treat its outputs as "
            "logits with loss='cross_entropy_from_logits'"
        )


mse = MSE()
huber = Huber()
binary_cross_entropy = BinaryCrossEntropy()
binary_cross_entropy_from_logits = BinaryCrossEntropy(from_logits=True)
cross_entropy = CrossEntropy()
cross_entropy_from_logits = CrossEntropy(from_logits=True)
nll = NLL()
LOSSES = {
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
    "cross_entropy_from_logits": cross_entropy_from_logits,
    "binary_cross_entropy_from_logits": binary_cross_entropy_from_logits,
    "nll": nll,
    "huber": huber,
}

# Names other libraries give these losses: an unknown name says which fnn loss it is.
_OTHER_NAMES = {
    "sparse_categorical_crossentropy": "cross_entropy (it takes integer labels (n,) as they are)",
    "categorical_crossentropy": "cross_entropy (it takes one-hot targets (n, k) too)",
    "crossentropy": "cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",
    "bce": "binary_cross_entropy (binary_cross_entropy_from_logits on logits)",
    "log_loss": "cross_entropy",
    "nll_loss": "nll",
    "mean_squared_error": "mse",
    "squared_error": "mse",
    "huber_loss": "huber",
}


def get(loss: str | Loss | Callable) -> Loss | Callable:
    """A loss from a name, a :class:`Loss` or a custom callable; ConfigError listing the names otherwise.

    >>> import fnn
    >>> fnn.losses.get("mse") is fnn.losses.mse
    True
    >>> fnn.losses.get("sparse_categorical_crossentropy")
    Traceback (most recent call last):
    fnn.errors.ConfigError: unknown loss 'sparse_categorical_crossentropy'; fnn calls it cross_entropy (it takes
    integer labels (n,) as they are). Valid names: mse, binary_cross_entropy, cross_entropy,
    cross_entropy_from_logits, binary_cross_entropy_from_logits, nll, huber
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            known = _OTHER_NAMES.get(loss.lower().replace("-", "_"))
            hint = f"; fnn calls it {known}. Valid names" if known else "; valid names"
            raise ConfigError(f"unknown loss {loss!r}{hint}: {', '.join(LOSSES)}")
        return LOSSES[loss]
    if isinstance(loss, type):
        if issubclass(loss, Loss):
            names = [k for k, v in LOSSES.items() if type(v) is loss]
            by_name = f" or its name {names[0]!r}" if names else ""
            raise ConfigError(
                f"loss is the class fnn.losses.{loss.__name__}, not a loss: pass an instance, "
                f"fnn.losses.{loss.__name__}(){by_name}"
            )
        raise ConfigError(
            f"loss must be a name, an fnn.losses.Loss or a callable (y_hat, y) -> (value, grad), got the class "
            f"{loss.__name__}"
        )
    if not callable(loss):
        raise ConfigError(
            f"loss must be a name, an fnn.losses.Loss or a callable (y_hat, y) -> (value, grad), got {loss!r}"
        )
    return loss
