"""Explicit, immutable random keys and the samplers that consume them.

A :class:`Key` is a seed plus a path of derivations (splits and fold-ins). It
names a stream of bits: NumPy's counter-based Philox generator seeded from
``SeedSequence(seed, spawn_key=path)``. Nothing here touches NumPy's global
random state, and the same key gives the same bits in every process and on
every machine (Philox and SeedSequence are specified bit for bit).

Use a key once. To draw twice, :func:`split` it first; to derive a key from
data (an epoch number, a layer index), :func:`fold_in`.

>>> import fnn
>>> k = fnn.random.key(0)
>>> a, b = fnn.random.split(k)
>>> a
Key(seed=0, path=(0,))
>>> fnn.random.uniform(a, (3,)).round(4).tolist() == fnn.random.uniform(a, (3,)).round(4).tolist()
True
>>> bool((fnn.random.uniform(a, (3,)) != fnn.random.uniform(b, (3,))).all())
True
"""

from __future__ import annotations

import numbers
import operator

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn import tree
from fnn._checks import MAX_BYTES, size_limit
from fnn.errors import ConfigError

__all__ = [
    "Key",
    "StackKey",
    "key",
    "split",
    "fold_in",
    "generator",
    "bits",
    "uniform",
    "normal",
    "bernoulli",
    "permutation",
    "truncated_normal",
]

# Each derivation adds two words to SeedSequence's spawn_key: a tag and a value, so
# that split(k)[i] and fold_in(k, i) name different streams.
_SPLIT, _FOLD = 0, 1


def _index(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{what} must be a non-negative integer, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if value < 0:
        raise ConfigError(f"{what} must be a non-negative integer, got {value}")
    return value


@tree.value_class
@attrs.frozen(repr=False)
class Key:
    """An immutable, hashable random key: a seed and the path of derivations from it.

    Build keys with :func:`key`, :func:`split` and :func:`fold_in`; ``repr`` shows the
    seed path, e.g. ``Key(seed=0, path=(1, 'fold 7'))`` for ``fold_in(split(key(0))[1], 7)``.
    """

    seed: int
    path: tuple = ()  # pairs flattened: (tag, value, tag, value, ...)

    def __repr__(self) -> str:
        steps = []
        for tag, value in zip(self.path[::2], self.path[1::2], strict=True):
            steps.append(value if tag == _SPLIT else f"fold {value}")
        return f"Key(seed={self.seed}, path={tuple(steps)!r})"

    def seed_sequence(self) -> np.random.SeedSequence:
        """The SeedSequence this key stands for."""
        return np.random.SeedSequence(self.seed, spawn_key=self.path)


def key(seed: int) -> Key:
    """A root key from a non-negative integer seed (0 is a valid seed).

    Raises:
        ConfigError: the seed is negative, a float, a bool or not an integer.

    >>> import fnn
    >>> fnn.random.key(42)
    Key(seed=42, path=())
    """
    return Key(_index(seed, "seed"))


def _check_key(k: object, where: str) -> Key:
    if not isinstance(k, Key):
        raise ConfigError(f"{where} expects an fnn.random.Key (from fnn.random.key(seed)), got {type(k).__name__}")
    return k


KEY_BYTES = 160
"""What one key costs in memory (measured: 152 bytes), for :func:`split`'s ``max_bytes``."""


def split(k: Key, num: int = 2, *, max_bytes: int | None = MAX_BYTES) -> tuple[Key, ...]:
    """``num`` new keys derived from ``k``, distinct from each other and from ``k``.

    ``max_bytes`` (default 8 GiB, about 50 million keys; None: no limit) refuses an absurd
    ``num`` (``split(key, 10**9)`` for a stack of 10⁹ seeds) before the keys are made.

    >>> import fnn
    >>> fnn.random.split(fnn.random.key(0), 3)
    (Key(seed=0, path=(0,)), Key(seed=0, path=(1,)), Key(seed=0, path=(2,)))
    """
    _check_key(k, "split")
    n = _index(num, "num")
    size_limit(n * KEY_BYTES, max_bytes, f"fnn.random.split: {n:,} keys of ~{KEY_BYTES} bytes")
    return tuple(Key(k.seed, k.path + (_SPLIT, i)) for i in range(n))


def fold_in(k: Key, data: int) -> Key:
    """A key derived from ``k`` and a non-negative integer (an epoch, a step, a layer index).

    For a :class:`StackKey`, the stack key of the folded key.

    >>> import fnn
    >>> fnn.random.fold_in(fnn.random.key(0), 7)
    Key(seed=0, path=('fold 7',))
    """
    if not isinstance(k, Key):
        if isinstance(k, StackKey):
            return StackKey(fold_in(k.key, data), k.members)
        _check_key(k, "fold_in")
    return Key(k.seed, k.path + (_FOLD, _index(data, "fold_in data")))


@attrs.frozen
class StackKey:
    """The key a layer of a stack of ``members`` networks receives (see :func:`fnn.stack`).

    A layer that draws random numbers learns from this type that it runs in a stack:
    member m draws with ``member(m)``, that is ``fold_in(key, m)``. Folding a stack key
    (as a Sequential does per layer) folds its ``key``.

    >>> import fnn
    >>> k = fnn.random.StackKey(fnn.random.key(0), 3)
    >>> fnn.random.fold_in(k, 2).member(1)
    Key(seed=0, path=('fold 2', 'fold 1'))
    """

    key: Key = attrs.field(validator=attrs.validators.instance_of(Key))
    members: int = attrs.field(validator=attrs.validators.instance_of(int))

    def member(self, m: int) -> Key:
        """The key of member ``m``."""
        return fold_in(self.key, m)


def generator(k: Key) -> np.random.Generator:
    """A fresh NumPy Generator (Philox) for the stream ``k`` names; same key, same draws.

    Use it for several draws inside one function; the key itself stays unchanged.
    """
    return np.random.Generator(np.random.Philox(_check_key(k, "generator").seed_sequence()))


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ConfigError(f"random samplers draw float32 or float64, got dtype {dt}")
    return dt


def bits(k: Key, shape: tuple = ()) -> np.ndarray:
    """Uniform random uint64 words."""
    return generator(k).integers(0, 2**64 - 1, size=shape, dtype=np.uint64, endpoint=True)


def uniform(
    k: Key, shape: tuple = (), *, minval: float = 0.0, maxval: float = 1.0, dtype: DTypeLike = np.float64
) -> np.ndarray:
    """Uniform samples on ``[minval, maxval)``, drawn directly in ``dtype``.

    >>> import fnn
    >>> x = fnn.random.uniform(fnn.random.key(0), (1000,), minval=-1, maxval=1, dtype="float32")
    >>> x.dtype, bool(x.min() >= -1 and x.max() < 1)
    (dtype('float32'), True)
    """
    dt = _float_dtype(dtype)
    out = generator(k).random(shape, dtype=dt)
    if (minval, maxval) != (0.0, 1.0):
        out *= dt.type(maxval - minval)
        out += dt.type(minval)
    return out


def normal(
    k: Key, shape: tuple = (), *, mean: float = 0.0, std: float = 1.0, dtype: DTypeLike = np.float64
) -> np.ndarray:
    """Normal samples (ziggurat), drawn directly in ``dtype``.

    >>> import fnn
    >>> fnn.random.normal(fnn.random.key(0), (2, 3)).shape
    (2, 3)
    """
    dt = _float_dtype(dtype)
    out = generator(k).standard_normal(shape, dtype=dt)
    if std != 1.0:
        out *= dt.type(std)
    if mean != 0.0:
        out += dt.type(mean)
    return out


def truncated_normal(
    k: Key, shape: tuple = (), *, lower: float = -2.0, upper: float = 2.0, dtype: DTypeLike = np.float64
) -> np.ndarray:
    """Standard normal samples conditioned on ``lower <= x <= upper`` (by rejection; lower < upper)."""
    if not lower < upper:
        raise ConfigError(f"truncated_normal needs lower < upper, got lower={lower}, upper={upper}")
    dt = _float_dtype(dtype)
    g = generator(k)
    size = int(np.prod(shape, dtype=np.int64))
    out = np.empty(size, dt)
    filled = 0
    while filled < size:
        draw = g.standard_normal(max(2 * (size - filled), 16), dtype=dt)
        draw = draw[(draw >= lower) & (draw <= upper)][: size - filled]
        out[filled : filled + draw.size] = draw
        filled += draw.size
    return out.reshape(shape)


def bernoulli(k: Key, p: float, shape: tuple = ()) -> np.ndarray:
    """Boolean samples that are True with probability ``p`` (0 <= p <= 1).

    >>> import fnn
    >>> m = fnn.random.bernoulli(fnn.random.key(1), 0.25, (10000,))
    >>> m.dtype, bool(0.2 < m.mean() < 0.3)
    (dtype('bool'), True)
    """
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"bernoulli probability must be in [0, 1], got {p}")
    return generator(k).random(shape, dtype=np.float64) < p


def permutation(k: Key, n: int) -> np.ndarray:
    """A random permutation of ``range(n)`` as int64.

    >>> import fnn
    >>> sorted(fnn.random.permutation(fnn.random.key(0), 5).tolist())
    [0, 1, 2, 3, 4]
    """
    return generator(k).permutation(_index(n, "permutation n")).astype(np.int64, copy=False)
