"""Shared pieces of :mod:`fnn.optim`: protocols, checks, the lr resolver, and :func:`from_update`.

The optimizer and transform protocols are stated once, in the :mod:`fnn.optim`
package docstring. This module holds what every optimizer uses: attrs fields
that validate hyperparameters at construction (raising
:class:`~fnn.errors.ConfigError` that names the optimizer, the argument, the
expected range and the given value), the checks on ``init``/``update`` inputs,
:func:`lr_at`, which turns a float-or-schedule ``lr`` into this step's rate,
and :func:`from_update`, the adapter for the tutorials' ``update(old, grad)``
objects.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np

from fnn.errors import ConfigError, DtypeError, ShapeError
from fnn.tree import register

__all__ = [
    "Optimizer",
    "GradientTransform",
    "Schedule",
    "lr_at",
    "from_update",
    "FromUpdate",
    "FromUpdateState",
]


@runtime_checkable
class Optimizer(Protocol):
    """A pure optimizer on flat vectors: ``init(flat) -> state``, ``update(old, grad, state) -> (new, state)``."""

    def init(self, flat: np.ndarray) -> Any: ...

    def update(self, old: np.ndarray, grad: np.ndarray, state: Any) -> tuple[np.ndarray, Any]: ...


@runtime_checkable
class GradientTransform(Protocol):
    """A pure map of the gradient: ``init(flat) -> state``, ``update(grad, state, params) -> (grad', state)``."""

    def init(self, flat: np.ndarray) -> Any: ...

    def update(self, grad: np.ndarray, state: Any, params: np.ndarray) -> tuple[np.ndarray, Any]: ...


class Schedule(Protocol):
    """A learning-rate schedule: ``schedule(count) -> rate``, count = updates already applied."""

    def __call__(self, count: int) -> float: ...


# ------------------------------------------------------------ hyperparameters


def _owner(instance: Any) -> str:
    """The name used in messages: the factory's name (``adam``), else the class name."""
    return getattr(type(instance), "_name", type(instance).__name__)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _to_float(value: Any) -> Any:
    """Real numbers (Python or NumPy) become Python floats, so a NumPy float64
    scalar can never upcast float32 arithmetic; anything else is left for the
    validator to reject."""
    return float(value) if _is_real(value) else value


def _interval(lo: float, hi: float, lo_open: bool, hi_open: bool) -> str:
    if hi == math.inf:
        return f"> {lo:g}" if lo_open else f">= {lo:g}"
    return f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


@attrs.frozen
class _InRange:
    lo: float
    hi: float
    lo_open: bool
    hi_open: bool

    def __call__(self, instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        expected = _interval(self.lo, self.hi, self.lo_open, self.hi_open)
        ok = (
            _is_real(value)
            and math.isfinite(value)
            and (value > self.lo if self.lo_open else value >= self.lo)
            and (value < self.hi if self.hi_open else value <= self.hi)
        )
        if not ok:
            raise ConfigError(f"{_owner(instance)}: {attribute.name} must be a finite number {expected}, got {value!r}")


def real(
    default: Any = attrs.NOTHING,
    *,
    lo: float = 0.0,
    hi: float = math.inf,
    lo_open: bool = False,
    hi_open: bool = False,
    kw_only: bool = False,
) -> Any:
    """An attrs field holding a Python float in an interval (closed unless told), checked at construction."""
    return attrs.field(
        default=default,
        converter=_to_float,
        validator=_InRange(lo, hi, lo_open, hi_open),
        kw_only=kw_only,
    )


def count_field(default: Any = attrs.NOTHING, *, lo: int = 1, kw_only: bool = False) -> Any:
    """An attrs field holding a Python int >= ``lo`` (a number of steps)."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < lo:
            raise ConfigError(f"{_owner(instance)}: {attribute.name} must be an integer >= {lo}, got {value!r}")

    return attrs.field(
        default=default,
        converter=lambda v: int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v,
        validator=check,
        kw_only=kw_only,
    )


def flag(default: bool, *, kw_only: bool = False) -> Any:
    """An attrs field holding a bool (not merely something truthy)."""

    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{_owner(instance)}: {attribute.name} must be True or False, got {value!r}")

    return attrs.field(
        default=default,
        converter=lambda v: bool(v) if isinstance(v, np.bool_) else v,
        validator=check,
        kw_only=kw_only,
    )


def _check_lr(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if callable(value):
        return
    if not (_is_real(value) and math.isfinite(value) and value >= 0):
        raise ConfigError(
            f"{_owner(instance)}: {attribute.name} must be a finite number >= 0 or a schedule "
            f"(a callable count -> rate, see fnn.optim.schedules), got {value!r}"
        )


def lr_field(default: Any = attrs.NOTHING) -> Any:
    """An attrs field for a learning rate: a float >= 0, or a schedule called as ``lr(count)``."""
    return attrs.field(default=default, converter=_to_float, validator=_check_lr)


def lr_at(owner: str, lr: Any, count: int) -> float:
    """The learning rate for the update after ``count`` updates: ``lr`` itself, or ``lr(count)``.

    Args:
        owner: the optimizer's name, for messages.
        lr: a Python float (checked at construction) or a schedule.
        count: the number of updates already applied (0 for the first).

    Returns:
        A Python float (never a NumPy scalar, so float32 arithmetic stays float32).

    Raises:
        ConfigError: the schedule returned a negative, non-finite or non-numeric rate.

    >>> from fnn.optim import schedules
    >>> lr_at("sgd", 0.1, 5), lr_at("sgd", schedules.exponential_decay(1.0, 0.5), 2)
    (0.1, 0.25)
    """
    if type(lr) is float:
        return lr
    value = lr(count)
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ConfigError(
            f"{owner}: the lr schedule {lr!r} returned {value!r} at count {count}; expected a finite number >= 0"
        )
    return float(value)


# ------------------------------------------------------------ input checks


def check_params(owner: str, flat: Any) -> None:
    """Raise unless ``flat`` is a 1-D floating-point ndarray (what ``init`` accepts)."""
    if not isinstance(flat, np.ndarray):
        raise DtypeError(f"{owner}.init expects a 1-D floating-point numpy array, got {type(flat).__name__}")
    if flat.ndim != 1:
        raise ShapeError(f"{owner}.init expects a 1-D array (use fnn.tree.ravel), got shape {flat.shape}")
    if flat.dtype.kind != "f":
        raise DtypeError(f"{owner}.init expects floating-point params, got dtype {flat.dtype}")


def check_step(owner: str, old: Any, grad: Any) -> None:
    """Raise unless ``old`` is a 1-D float ndarray and ``grad`` has its shape and dtype.

    A gradient of another dtype is an error rather than a silent cast either way.
    """
    if not isinstance(old, np.ndarray) or not isinstance(grad, np.ndarray):
        bad = "old" if not isinstance(old, np.ndarray) else "grad"
        raise DtypeError(
            f"{owner}.update expects numpy arrays, got {type(old if bad == 'old' else grad).__name__} for {bad}"
        )
    if old.ndim != 1 or grad.shape != old.shape:
        raise ShapeError(f"{owner}.update expects 1-D old and grad of one shape, got {old.shape} and {grad.shape}")
    if grad.dtype != old.dtype or old.dtype.kind != "f":
        raise DtypeError(
            f"{owner}.update expects floating-point old and grad of one dtype, got {old.dtype} and {grad.dtype}"
        )


def coupled_decay(grad: np.ndarray, old: np.ndarray, weight_decay: float) -> np.ndarray:
    """``grad + weight_decay * old`` in a new array (torch's coupled L2), or ``grad`` itself if the decay is 0."""
    if weight_decay == 0.0:
        return grad
    out = np.multiply(old, weight_decay)
    out += grad
    return out


def scratch(grad: np.ndarray, owned: np.ndarray) -> np.ndarray:
    """``owned`` if it is a buffer this update allocated (not the caller's ``grad``), else a new one like it."""
    return owned if owned is not grad else np.empty_like(grad)


def zeros(flat: np.ndarray) -> np.ndarray:
    """A new zero array with the shape and dtype of ``flat`` (the start of every state array)."""
    return np.zeros(flat.shape, flat.dtype)


# ------------------------------------------------------------ from_update


@register
@attrs.frozen
class FromUpdateState:
    """State of :func:`from_update`: only the number of updates already applied."""

    count: int


def _read_only(a: np.ndarray) -> np.ndarray:
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


@attrs.frozen
class FromUpdate:
    """An optimizer around an ``update(old, grad) -> new`` object or function; see :func:`from_update`."""

    obj: Any
    _name = "from_update"

    @property
    def _update(self) -> Callable[[np.ndarray, np.ndarray], Any]:
        method = getattr(self.obj, "update", None)
        return method if callable(method) else self.obj

    def init(self, flat: np.ndarray) -> FromUpdateState:
        """Check ``flat``; the state is just ``FromUpdateState(count=0)``."""
        check_params(self._name, flat)
        return FromUpdateState(0)

    def update(self, old: np.ndarray, grad: np.ndarray, state: FromUpdateState) -> tuple[np.ndarray, FromUpdateState]:
        """Return the NEW PARAMS ``obj.update(old, grad)`` (not an update to add), and the state counted up.

        The object sees read-only views of ``old`` and ``grad``: one that writes into
        them raises ``ValueError`` instead of changing the caller's arrays.

        Raises:
            ShapeError: the object returned something of another shape.
            DtypeError: it returned another dtype (fnn never casts silently).
        """
        check_step(self._name, old, grad)
        new = self._update(_read_only(old), _read_only(grad))
        what = f"{self._name}({self.obj!r})"
        if not isinstance(new, np.ndarray) or new.shape != old.shape:
            got = getattr(new, "shape", type(new).__name__)
            raise ShapeError(f"{what} returned {got}; expected an array of shape {old.shape}")
        if new.dtype != old.dtype:
            raise DtypeError(
                f"{what} returned dtype {new.dtype} for {old.dtype} params; fnn never casts silently, so keep "
                f"the object's arrays in the params' dtype (e.g. a velocity made with np.zeros_like(old))"
            )
        return new, FromUpdateState(state.count + 1)


def from_update(obj: Any) -> Any:
    """Wrap an object with an ``update(old, grad) -> new`` method, or such a function, as an optimizer.

    This is the interface of the from-scratch tutorials (an SGD-with-momentum class
    that keeps its velocity as an attribute). The wrapper's ``update(old, grad,
    state)`` returns the NEW PARAMS the object returns, and the state
    ``FromUpdateState(count + 1)``.

    Purity, precisely: the wrapper itself is pure and copies nothing. It passes
    the object read-only views of ``old`` and ``grad``, so neither can change (an
    object that updates in place raises ``ValueError``), and it checks the
    result's shape and dtype. What the object keeps in its own attributes is its
    business: that state lives outside fnn's ``opt_state``, so it is not
    checkpointed, reusing an old ``opt_state`` does not rewind it, and every
    training run that uses the wrapper shares it. fnn does not ``copy.deepcopy``
    the object (a copy per call would forget the velocity; a copy at wrap time
    would still be shared by runs). Wrap ``copy.deepcopy(obj)`` yourself to give
    each run its own, or use a built-in: :func:`fnn.optim.momentum` is the pure
    equivalent of the tutorials' momentum class.

    Args:
        obj: an object whose ``update(old, grad)`` returns the new params, or a
            function ``(old, grad) -> new``. Something that is already an
            optimizer (``init`` and ``update``) is returned unchanged.

    Returns:
        A frozen :class:`FromUpdate` optimizer (or ``obj`` itself).

    Raises:
        ConfigError: ``obj`` has no ``update`` method and is not callable.

    >>> import numpy as np
    >>> from fnn import optim
    >>> class Tutorial:
    ...     def __init__(self, lr): self.lr = lr
    ...     def update(self, old, grad): return old - self.lr * grad
    >>> opt = optim.from_update(Tutorial(0.5))
    >>> p = np.array([1.0, -2.0])
    >>> new, state = opt.update(p, p, opt.init(p))
    >>> new, state
    (array([ 0.5, -1. ]), FromUpdateState(count=1))
    """
    if isinstance(obj, Optimizer) and callable(getattr(obj, "init", None)):
        return obj
    if not (callable(getattr(obj, "update", None)) or callable(obj)):
        raise ConfigError(
            f"from_update expects an object with an update(old, grad) -> new method or a function "
            f"(old, grad) -> new, got {obj!r}"
        )
    return FromUpdate(obj)
