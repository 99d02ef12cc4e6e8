"""The validators shared by fnn's boundaries: an integer that is not a bool, a real number in a range, a file
that is a regular file, a byte limit.

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
import os
import stat
from typing import Any, BinaryIO

from fnn.errors import ConfigError, FormatError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["is_integer", "is_real", "integer", "real", "open_regular", "check_max_bytes"]

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's) and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # NumPy's bool_ is not Integral


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (an integer or a float, Python's or NumPy's) and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(value: Any, what: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int``, if it is an integer in ``[minimum, maximum]``; a ConfigError naming ``what`` otherwise."""
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


def open_regular(path: str | os.PathLike, where: str) -> BinaryIO:
    """``path`` opened for reading bytes, if it is a regular file (a symlink to one included).

    A FIFO, a device or a socket is a FormatError at once: the file is opened with
    ``O_NONBLOCK`` (so opening a FIFO without a writer does not block) and checked with
    ``fstat`` on the open descriptor (so nothing can be swapped in between the check and the
    read).

    Raises:
        FileNotFoundError: there is no such file (other OS errors propagate as they are).
        IsADirectoryError: it is a directory.
        FormatError: it is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"cannot load {where}: it is a directory")
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
            raise FormatError(f"cannot load {where}: it is not a regular file but {kind}")
        if fcntl is not None and hasattr(os, "O_NONBLOCK"):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_max_bytes(max_bytes: Any) -> int | None:
    """``max_bytes`` if it is None (no limit) or an integer >= 1; a ConfigError otherwise."""
    return None if max_bytes is None else integer(max_bytes, "max_bytes", minimum=1)
