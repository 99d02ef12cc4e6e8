"""Learning-rate schedules: frozen objects called as ``schedule(count) -> rate``.

``count`` is the number of updates already applied, so ``schedule(0)`` is the
rate of the first update; an optimizer calls ``lr(state.count)``. Every schedule
holds only plain numbers and tuples (and, for :func:`join_schedules`, other
schedules), so it compares by value, hashes, and can be written to JSON.
Arguments are checked at construction: a schedule that could return a negative
or non-finite rate is a :class:`~fnn.errors.ConfigError` there, naming the
argument, the expected range and the given value.

>>> from fnn.optim import schedules
>>> s = schedules.exponential_decay(0.1, 0.5, transition_steps=10)
>>> [round(s(k), 4) for k in (0, 10, 20)]
[0.1, 0.05, 0.025]
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
from collections.abc import Callable
from typing import Any

import attrs

from fnn.errors import ConfigError
from fnn.optim.base import _is_real, count_field, flag, real
from fnn.tree import value_class

__all__ = [
    "constant",
    "exponential_decay",
    "inverse_time_decay",
    "piecewise_constant",
    "step_decay",
    "cosine_decay",
    "linear_warmup",
    "join_schedules",
    "warmup_cosine_decay",
    "Constant",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstant",
    "StepDecay",
    "CosineDecay",
    "LinearWarmup",
    "JoinedSchedules",
]


def _rate(default: Any = attrs.NOTHING) -> Any:
    """A learning-rate value: a finite float >= 0."""
    return real(default)


@value_class
@attrs.frozen
class Constant:
    """``value`` at every count; built by :func:`constant`."""

    value: float = _rate()
    _name = "constant"

    def __call__(self, count: int) -> float:
        return self.value


@value_class
@attrs.frozen
class ExponentialDecay:
    """``init_value * decay_rate ** (count / transition_steps)``; built by :func:`exponential_decay`."""

    init_value: float = _rate()
    decay_rate: float = real(lo=0.0, hi=1.0, lo_open=True)
    transition_steps: int = count_field(1)
    staircase: bool = flag(False)
    _name = "exponential_decay"

    def __call__(self, count: int) -> float:
        p = count // self.transition_steps if self.staircase else count / self.transition_steps
        return self.init_value * self.decay_rate**p


@value_class
@attrs.frozen
class InverseTimeDecay:
    """``init_value / (1 + decay_rate * count / transition_steps)``; built by :func:`inverse_time_decay`."""

    init_value: float = _rate()
    decay_rate: float = real()
    transition_steps: int = count_field(1)
    staircase: bool = flag(False)
    _name = "inverse_time_decay"

    def __call__(self, count: int) -> float:
        p = count // self.transition_steps if self.staircase else count / self.transition_steps
        return self.init_value / (1.0 + self.decay_rate * p)


def _boundaries(owner: str, value: Any, n: int | None = None) -> tuple[int, ...]:
    """Check a strictly increasing tuple of non-negative ints (of length ``n`` if given)."""
    items = tuple(value) if isinstance(value, (tuple, list)) else None
    ok = (
        items is not None
        and all(isinstance(b, numbers.Integral) and not isinstance(b, bool) and int(b) >= 0 for b in items)
        and all(a < b for a, b in itertools.pairwise(items))
    )
    if not ok or items is None:  # (ok implies items: said again for the type checker)
        raise ConfigError(f"{owner}: boundaries must be a strictly increasing sequence of integers >= 0, got {value!r}")
    if n is not None and len(items) != n:
        raise ConfigError(f"{owner}: expected {n} boundaries (one fewer than the pieces), got {len(items)}: {value!r}")
    return tuple(int(b) for b in items)


@value_class
@attrs.frozen
class PiecewiseConstant:
    """``values[i]`` where ``i`` = how many boundaries are <= count; built by :func:`piecewise_constant`."""

    boundaries: tuple[int, ...]
    values: tuple[float, ...]
    _name = "piecewise_constant"

    def __attrs_post_init__(self) -> None:
        values = self.values
        if (
            not isinstance(values, (tuple, list))
            or not values
            or not all(_is_real(v) and math.isfinite(v) and v >= 0 for v in values)
        ):
            raise ConfigError(
                f"{self._name}: values must be a non-empty sequence of finite numbers >= 0, got {values!r}"
            )
        object.__setattr__(self, "values", tuple(float(v) for v in values))
        object.__setattr__(self, "boundaries", _boundaries(self._name, self.boundaries, len(values) - 1))

    def __call__(self, count: int) -> float:
        return self.values[bisect.bisect_right(self.boundaries, count)]


@value_class
@attrs.frozen
class StepDecay:
    """``init_value * gamma ** (count // step_size)``; built by :func:`step_decay`."""

    init_value: float = _rate()
    step_size: int = count_field()
    gamma: float = real(0.1, hi=1.0)
    _name = "step_decay"

    def __call__(self, count: int) -> float:
        return self.init_value * self.gamma ** (count // self.step_size)


@value_class
@attrs.frozen
class CosineDecay:
    """Cosine from ``init_value`` to ``alpha * init_value`` over ``decay_steps``; built by :func:`cosine_decay`."""

    init_value: float = _rate()
    decay_steps: int = count_field()
    alpha: float = real(0.0, hi=1.0)
    _name = "cosine_decay"

    def __call__(self, count: int) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(count, self.decay_steps) / self.decay_steps))
        return self.init_value * ((1.0 - self.alpha) * cosine + self.alpha)


@value_class
@attrs.frozen
class LinearWarmup:
    """Linear from ``init_value`` to ``peak_value`` over ``warmup_steps``, then flat; built by :func:`linear_warmup`."""

    init_value: float = _rate()
    peak_value: float = _rate()
    warmup_steps: int = count_field()
    _name = "linear_warmup"

    def __call__(self, count: int) -> float:
        if count >= self.warmup_steps:
            return self.peak_value
        return self.init_value + (self.peak_value - self.init_value) * (count / self.warmup_steps)


@value_class
@attrs.frozen
class JoinedSchedules:
    """``schedules[i](count - boundaries[i-1])`` on piece ``i``; built by :func:`join_schedules`."""

    schedules: tuple[Callable[[int], float], ...]
    boundaries: tuple[int, ...]
    _name = "join_schedules"

    def __attrs_post_init__(self) -> None:
        scheds = self.schedules
        if not isinstance(scheds, (tuple, list)) or not scheds or not all(callable(s) for s in scheds):
            raise ConfigError(f"{self._name}: schedules must be a non-empty sequence of schedules, got {scheds!r}")
        object.__setattr__(self, "schedules", tuple(scheds))
        object.__setattr__(self, "boundaries", _boundaries(self._name, self.boundaries, len(scheds) - 1))

    def __call__(self, count: int) -> float:
        i = bisect.bisect_right(self.boundaries, count)
        return self.schedules[i](count - self.boundaries[i - 1] if i else count)


def constant(value: float) -> Constant:
    """The same rate at every count.

    Args:
        value: the rate, a finite number >= 0.

    Raises:
        ConfigError: a negative or non-finite value.

    >>> from fnn.optim import schedules
    >>> schedules.constant(0.1)(1000)
    0.1
    """
    return Constant(value)


def exponential_decay(
    init_value: float, decay_rate: float, transition_steps: int = 1, staircase: bool = False
) -> ExponentialDecay:
    """Exponential decay: ``init_value * decay_rate ** (count / transition_steps)``.

    The tutorials' ``lr = lr0 * decay_rate ** epoch`` is ``transition_steps`` = steps per
    epoch with ``staircase=True``; Keras' ``ExponentialDecay`` is the same formula.

    Args:
        init_value: the rate at count 0, >= 0.
        decay_rate: factor per ``transition_steps``, in (0, 1].
        transition_steps: steps per factor of ``decay_rate``, an integer >= 1.
        staircase: use ``count // transition_steps`` (a step function) instead of ``/``.

    Raises:
        ConfigError: an argument out of range.

    See Also:
        :func:`step_decay`, :func:`inverse_time_decay`.

    >>> from fnn.optim import schedules
    >>> s = schedules.exponential_decay(1.0, 0.5, transition_steps=2, staircase=True)
    >>> [s(k) for k in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return ExponentialDecay(init_value, decay_rate, transition_steps, staircase)


def inverse_time_decay(
    init_value: float, decay_rate: float, transition_steps: int = 1, staircase: bool = False
) -> InverseTimeDecay:
    """Inverse-time decay: ``init_value / (1 + decay_rate * count / transition_steps)``.

    The tutorials' ``lr = lr0 / (1 + decay_rate * epoch)``; Keras' ``InverseTimeDecay``.

    Args:
        init_value: the rate at count 0, >= 0.
        decay_rate: >= 0.
        transition_steps: an integer >= 1.
        staircase: use ``count // transition_steps`` instead of ``/``.

    Raises:
        ConfigError: an argument out of range.

    >>> from fnn.optim import schedules
    >>> s = schedules.inverse_time_decay(1.0, 0.5)
    >>> [s(k) for k in range(3)]
    [1.0, 0.6666666666666666, 0.5]
    """
    return InverseTimeDecay(init_value, decay_rate, transition_steps, staircase)


def piecewise_constant(boundaries: Any, values: Any) -> PiecewiseConstant:
    """A step function: ``values[0]`` before ``boundaries[0]``, ``values[i]`` from ``boundaries[i-1]`` on.

    The update after ``count`` updates uses ``values[i]`` where ``i`` is the number
    of boundaries ``<= count``; so ``boundaries=(100,)`` switches at the 101st update.

    Args:
        boundaries: strictly increasing integers >= 0.
        values: ``len(boundaries) + 1`` rates, each >= 0.

    Raises:
        ConfigError: mismatched lengths, unsorted boundaries, or a negative value.

    >>> from fnn.optim import schedules
    >>> s = schedules.piecewise_constant((2, 4), (1.0, 0.1, 0.01))
    >>> [s(k) for k in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    return PiecewiseConstant(boundaries, values)


def step_decay(init_value: float, step_size: int, gamma: float = 0.1) -> StepDecay:
    """Step decay, as ``torch.optim.lr_scheduler.StepLR``: ``init_value * gamma ** (count // step_size)``.

    Args:
        init_value: the rate at count 0, >= 0.
        step_size: updates per drop, an integer >= 1.
        gamma: factor of each drop, in [0, 1].

    Raises:
        ConfigError: an argument out of range.

    >>> from fnn.optim import schedules
    >>> s = schedules.step_decay(1.0, step_size=2, gamma=0.5)
    >>> [s(k) for k in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return StepDecay(init_value, step_size, gamma)


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0) -> CosineDecay:
    """Cosine decay (Loshchilov & Hutter's SGDR, one cycle), as Optax and Keras.

    ``init_value * ((1 - alpha) * 0.5 * (1 + cos(pi * min(count, decay_steps) / decay_steps)) + alpha)``:
    from ``init_value`` down to ``alpha * init_value`` at ``decay_steps``, constant after.

    Args:
        init_value: the rate at count 0, >= 0.
        decay_steps: an integer >= 1.
        alpha: the final rate as a fraction of ``init_value``, in [0, 1].

    Raises:
        ConfigError: an argument out of range.

    >>> from fnn.optim import schedules
    >>> s = schedules.cosine_decay(1.0, 4)
    >>> [round(s(k), 4) for k in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """
    return CosineDecay(init_value, decay_steps, alpha)


def linear_warmup(init_value: float, peak_value: float, warmup_steps: int) -> LinearWarmup:
    """Linear warmup from ``init_value`` (at count 0) to ``peak_value`` (from ``warmup_steps`` on).

    ``init_value + (peak_value - init_value) * min(count, warmup_steps) / warmup_steps``.
    With ``init_value=0`` the first update has rate 0 (as in Optax). Join it with
    a decay using :func:`join_schedules`, or use :func:`warmup_cosine_decay`.

    Args:
        init_value: the rate at count 0, >= 0.
        peak_value: the rate reached at ``warmup_steps``, >= 0.
        warmup_steps: an integer >= 1.

    Raises:
        ConfigError: an argument out of range.

    >>> from fnn.optim import schedules
    >>> s = schedules.linear_warmup(0.0, 1.0, 4)
    >>> [s(k) for k in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    return LinearWarmup(init_value, peak_value, warmup_steps)


def join_schedules(schedules: Any, boundaries: Any) -> JoinedSchedules:
    """Run ``schedules[0]`` until ``boundaries[0]``, then ``schedules[1]`` restarted at count 0, and so on.

    At count ``c`` with ``boundaries[i-1] <= c < boundaries[i]`` the rate is
    ``schedules[i](c - boundaries[i-1])`` (as Optax's ``join_schedules``).

    Args:
        schedules: a sequence of schedules (callables count -> rate).
        boundaries: ``len(schedules) - 1`` strictly increasing integers >= 0.

    Raises:
        ConfigError: mismatched lengths, unsorted boundaries, or a non-callable schedule.

    >>> from fnn.optim import schedules as S
    >>> s = S.join_schedules((S.linear_warmup(0.0, 1.0, 2), S.step_decay(1.0, 2, 0.5)), (2,))
    >>> [s(k) for k in range(7)]
    [0.0, 0.5, 1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return JoinedSchedules(schedules, boundaries)


def warmup_cosine_decay(
    init_value: float, peak_value: float, warmup_steps: int, decay_steps: int, end_value: float = 0.0
) -> Any:
    """Linear warmup to ``peak_value``, then cosine decay to ``end_value`` (Optax's ``warmup_cosine_decay_schedule``).

    ``decay_steps`` is the total length, warmup included: the rate is ``peak_value``
    at ``warmup_steps`` and ``end_value`` from ``decay_steps`` on.

    Args:
        init_value: the rate at count 0, >= 0.
        peak_value: the rate at the end of warmup, >= 0.
        warmup_steps: an integer >= 0 (0: no warmup).
        decay_steps: an integer > ``warmup_steps``.
        end_value: the final rate, in [0, ``peak_value``].

    Returns:
        A :class:`JoinedSchedules` of a :class:`LinearWarmup` and a :class:`CosineDecay`
        (just the :class:`CosineDecay` when ``warmup_steps`` is 0).

    Raises:
        ConfigError: an argument out of range.

    >>> from fnn.optim import schedules
    >>> s = schedules.warmup_cosine_decay(0.0, 1.0, warmup_steps=2, decay_steps=4)
    >>> [round(s(k), 4) for k in range(6)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """
    owner = "warmup_cosine_decay"
    if not (isinstance(warmup_steps, numbers.Integral) and not isinstance(warmup_steps, bool) and warmup_steps >= 0):
        raise ConfigError(f"{owner}: warmup_steps must be an integer >= 0, got {warmup_steps!r}")
    if not (
        isinstance(decay_steps, numbers.Integral) and not isinstance(decay_steps, bool) and decay_steps > warmup_steps
    ):
        raise ConfigError(
            f"{owner}: decay_steps (the total, warmup included) must be an integer > warmup_steps={warmup_steps!r}, "
            f"got {decay_steps!r}"
        )
    for arg, value in (("init_value", init_value), ("peak_value", peak_value)):
        if not (_is_real(value) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{owner}: {arg} must be a finite number >= 0, got {value!r}")
    if not (_is_real(end_value) and 0 <= end_value <= peak_value):
        raise ConfigError(f"{owner}: end_value must be a number in [0, peak_value={peak_value!r}], got {end_value!r}")
    alpha = end_value / peak_value if peak_value > 0 else 0.0
    decay = CosineDecay(peak_value, int(decay_steps) - int(warmup_steps), alpha)
    if warmup_steps == 0:
        return decay
    return JoinedSchedules((LinearWarmup(init_value, peak_value, int(warmup_steps)), decay), (int(warmup_steps),))
