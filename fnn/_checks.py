"""The validators shared by fnn's boundaries: an integer that is not a bool, a real number in a range, True or
False, one of some strings, another library's array fnn cannot take, a keyword another library spells
otherwise, a request too large for memory (``size_limit``, :data:`MAX_BYTES`), a file that is a regular file,
a byte limit for loading (``check_max_bytes``).

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

import difflib
import functools
import inspect
import math
import numbers
import operator
import os
import stat
from typing import Any, BinaryIO

import numpy as np

from fnn.errors import ConfigError, FormatError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]  # no fcntl (Windows): nothing is locked

__all__ = [
    "is_integer",
    "is_real",
    "is_boolean",
    "integer",
    "real",
    "boolean",
    "choice",
    "use_bias",
    "foreign_array",
    "keywords_checked",
    "ArgumentError",
    "size_limit",
    "MAX_BYTES",
    "short_repr",
    "open_regular",
    "check_max_bytes",
]

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's) and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)  # NumPy's bool_ is not Integral


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (an integer or a float, Python's or NumPy's) and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_boolean(value: Any) -> bool:
    """Whether ``value`` is ``True`` or ``False`` (Python's or NumPy's bool); 0, 1 and the string "False" are not."""
    return isinstance(value, (bool, np.bool_))


def integer(value: Any, what: str, *, minimum: int | None = None, maximum: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int``, if it is an integer in ``[minimum, maximum]``; a ConfigError naming ``what`` otherwise.

    ``hint`` is added to the expectation (e.g. " (the number of training rows)").

    >>> integer(0, "epochs", minimum=1, hint=" (the number of passes over the data)")
    Traceback (most recent call last):
    ...
    fnn.errors.ConfigError: epochs must be an integer ≥ 1 (the number of passes over the data), got 0
    """
    if minimum is not None and maximum is not None:
        expected = f"an integer in [{minimum}, {maximum}]"
    elif minimum is not None:
        expected = f"an integer ≥ {minimum}"
    elif maximum is not None:
        expected = f"an integer ≤ {maximum}"
    else:
        expected = "an integer"
    expected += hint
    if not is_integer(value):
        raise ConfigError(f"{what} must be {expected}, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{what} must be {expected}, got {value}")
    return value


def real(
    value: Any,
    what: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a ``float``, if it is a real number in the interval; a ConfigError naming ``what`` otherwise.

    The interval is ``[low, high]``, open at either end with ``low_open``/``high_open``;
    ``hint`` is added to the expectation (e.g. " (the fraction dropped)").
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    expected = f"a number in {interval}{hint}"
    if not is_real(value):
        raise ConfigError(f"{what} must be {expected}, got {value!r} ({type(value).__name__})")
    try:
        v = float(value)
    except OverflowError:  # an int beyond float's range (10**400) is outside every interval fnn takes
        digits = int(operator.index(value).bit_length() * math.log10(2)) + 1  # str() refuses over 4,300 digits
        raise ConfigError(f"{what} must be {expected}, got an integer of about {digits} digits") from None
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


def boolean(value: Any, what: str) -> bool:
    """``value`` as a ``bool``, if it is True or False; a ConfigError naming ``what`` otherwise.

    The string ``"False"`` is refused rather than read as true, and so are 0 and 1.

    >>> boolean(np.True_, "shuffle")
    True
    >>> boolean("False", "shuffle")
    Traceback (most recent call last):
    ...
    fnn.errors.ConfigError: shuffle must be True or False, got 'False' (str)
    """
    if not is_boolean(value):
        raise ConfigError(f"{what} must be True or False, got {value!r:.80} ({type(value).__name__})")
    return bool(value)


def use_bias(owner: str = "") -> Any:
    """The converter of a layer's ``use_bias`` field (Dense, Conv1D, Conv2D): True or False, else a
    ConfigError naming ``owner``'s use_bias.

    >>> use_bias("Dense")(np.True_)
    True
    >>> use_bias("Dense")(1)
    Traceback (most recent call last):
    ...
    fnn.errors.ConfigError: Dense use_bias must be True or False, got 1 (int)
    """
    return functools.partial(_flag, f"{owner} use_bias".strip())


def _flag(what: str, value: Any) -> bool:
    return boolean(value, what)


def choice(value: Any, what: str, options: Any) -> str:
    """``value``, if it is one of the strings ``options``; a ConfigError naming ``what`` and listing them otherwise.

    >>> choice("record", "on_error", ("raise", "record"))
    'record'
    >>> choice("skip", "on_error", ("raise", "record"))
    Traceback (most recent call last):
    ...
    fnn.errors.ConfigError: on_error must be one of 'raise', 'record', got 'skip'
    """
    if not isinstance(value, str) or value not in options:
        given = f"{value!r:.80}" + ("" if isinstance(value, str) else f" ({type(value).__name__})")
        raise ConfigError(f"{what} must be one of {', '.join(map(repr, options))}, got {given}")
    return value


MAX_BYTES = 8 * 2**30
"""The default limit (8 GiB) on the memory one request may ask for before anything is allocated: a
network's (or a stack's) parameters, the keys of a split, a sweep's pairs, a one-hot matrix. It is larger
than any model fnn trains on a CPU in practice and smaller than a typo such as ``--layers
1000000000``, which would otherwise run until the out-of-memory killer ends the process. The
functions that check it take ``max_bytes=`` to raise it."""


def size_limit(needed: float, max_bytes: Any, what: str, keyword: str = "max_bytes") -> None:
    """A ConfigError if ``needed`` bytes exceed ``max_bytes`` (None: no limit), naming ``what`` and how to raise it.

    >>> size_limit(12 * 2**30, MAX_BYTES, "fnn.init: the params of mlp([100000, 30000])")
    Traceback (most recent call last):
    ...
    fnn.errors.ConfigError: fnn.init: the params of mlp([100000, 30000]) need 12.0 GiB, over the limit
    max_bytes=8.0 GiB; pass a larger max_bytes= (or max_bytes=None) if this is meant
    """
    if max_bytes is None:
        return
    if not is_real(max_bytes) or not max_bytes > 0:
        raise ConfigError(f"{keyword} must be a number of bytes > 0 or None, got {max_bytes!r}")
    if needed > max_bytes:
        raise ConfigError(
            f"{what} need {_bytes(needed)}, over the limit "
            f"{keyword}={_bytes(max_bytes)}; pass a larger {keyword}= (or {keyword}=None) if this is meant"
        )


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def foreign_array(a: Any, what: str) -> None:
    """A ConfigError for arrays of other libraries that NumPy cannot take as they are: a SciPy sparse
    matrix (NumPy makes a 0-d object array of it), a PyTorch tensor that requires grad.

    >>> import numpy as np
    >>> foreign_array(np.ones(2), "fit: x")  # NumPy's own, lists, DataFrames: nothing to say
    """
    module = type(a).__module__ or ""
    if module.startswith("scipy.sparse"):
        raise ConfigError(
            f"{what} is a SciPy sparse {type(a).__name__} of shape {getattr(a, 'shape', '?')}; fnn takes dense "
            f"arrays: pass x.toarray()"
        )
    if module.startswith("torch") and getattr(a, "requires_grad", False):
        raise ConfigError(
            f"{what} is a torch tensor that requires grad; pass x.detach().numpy() (x.detach().cpu().numpy())"
        )


class ArgumentError(ConfigError, TypeError):
    """A call with an argument the function does not take, or without one it needs: a ConfigError that
    is also the TypeError Python raises for such a call, so ``except TypeError`` keeps working."""


OTHER_NAMES = {  # the names other libraries give fnn's arguments (Keras, PyTorch, Optax)
    "learning_rate": "lr",
    "beta_1": "b1",
    "beta_2": "b2",
    "beta1": "b1",
    "beta2": "b2",
    "epsilon": "eps",
    "betas": "b1 and b2",
    "decay": "weight_decay",
    "nesterov": "fnn.optim.nesterov",
}


def keywords_checked(factory: Any) -> Any:
    """``factory``, which says in a ConfigError what an argument it does not take is called in fnn.

    ``fnn.optim.adam(learning_rate=1e-3)`` (Keras's name) is then "adam() has no argument
    'learning_rate': fnn calls it lr" (an :class:`ArgumentError`: a ConfigError and a TypeError)
    rather than Python's bare TypeError; the signature (and so
    ``help``, ``inspect.signature``) is the factory's own, and a typo still fails.

    >>> @keywords_checked
    ... def sgd(lr, *, weight_decay=0.0):
    ...     return lr
    >>> sgd(learning_rate=0.1)
    Traceback (most recent call last):
    ...
    fnn._checks.ArgumentError: sgd() has no argument 'learning_rate': fnn calls it lr, e.g. sgd(lr=0.1); its
    arguments are: lr, weight_decay=0.0
    """
    signature = inspect.signature(factory)
    module = factory.__module__ or ""
    name = f"fnn.optim.{factory.__name__}" if module.startswith("fnn.optim") else factory.__name__

    @functools.wraps(factory)
    def checked(*args: Any, **kwargs: Any) -> Any:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as e:
            raise ArgumentError(_binding_error(name, signature, kwargs, e)) from None
        return factory(*args, **kwargs)

    return checked


def _binding_error(name: str, signature: inspect.Signature, kwargs: dict, error: TypeError) -> str:
    params = ", ".join(
        p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
        for p in signature.parameters.values()
    )
    for given, value in kwargs.items():
        if given in signature.parameters:
            continue
        close = difflib.get_close_matches(given, list(signature.parameters), 1)
        ours = OTHER_NAMES.get(given) or (close[0] if close else None)
        if ours is None:
            return f"{name}() has no argument {given!r}; its arguments are: {params}"
        example = f", e.g. {name}({ours}={value!r})" if ours in signature.parameters else ""
        return f"{name}() has no argument {given!r}: fnn calls it {ours}{example}; its arguments are: {params}"
    return f"{name}(): {error}; its arguments are: {params}"
