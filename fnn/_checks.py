"""The validators shared by fnn's boundaries: an integer that is not a bool, a real number in a range.

Every public function checks its arguments with these, so that the same mistake gets the
same message everywhere: what was expected, what was given (``repr`` and type).

>>> from fnn._checks import integer, real
>>> integer(3, "units", minimum=1), real(0.5, "rate", low=0, high=1, high_open=True)
(3, 0.5)
>>> integer(True, "units", minimum=1)
Traceback (most recent call last):
...
fnn.errors.ConfigError: units must be an integer ≥ 1, got True (bool)
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

from fnn.errors import ConfigError

__all__ = ["is_integer", "is_real", "integer", "real"]


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's) and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # NumPy's bool_ is not Integral


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (an integer or a float, Python's or NumPy's) and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(value: Any, what: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int``, if it is an integer in ``[minimum, maximum]``.

    A ConfigError naming ``what`` otherwise."""
    if minimum is not None and maximum is not None:
        expected = f"an integer in [{minimum}, {maximum}]"
    elif minimum is not None:
        expected = f"an integer ≥ {minimum}"
    elif maximum is not None:
        expected = f"an integer ≤ {maximum}"
    else:
        expected = "an integer"
    if not is_integer(value):
        raise ConfigError(f"{what} must be {expected}, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{what} must be {expected}, got {value}")
    return value


def real(
    value: Any, what: str, *, low: float = -math.inf, high: float = math.inf, low_open: bool = False,
    high_open: bool = False, hint: str = "",
) -> float:
    """``value`` as a ``float``, if it is a real number in the interval; a ConfigError naming ``what`` otherwise.

    The interval is ``[low, high]``, open at either end with ``low_open``/``high_open``;
    ``hint`` is added to the expectation (e.g. " (the fraction dropped)").
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    expected = f"a number in {interval}{hint}"
    if not is_real(value):
        raise ConfigError(f"{what} must be {expected}, got {value!r} ({type(value).__name__})")
    v = float(value)
    inside = (low < v if low_open else low <= v) and (v < high if high_open else v <= high)
    if not inside:  # NaN is never inside
        raise ConfigError(f"{what} must be {expected}, got {value!r}")
    return v
