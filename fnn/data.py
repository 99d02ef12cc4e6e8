"""Data: one-hot labels, seeded splits, standardization and data-set loaders.

Rows are samples. Every random choice takes an :mod:`fnn.random` key, and
nothing here modifies the arrays it is given.

- :func:`one_hot`, with the explicit class order 0..k-1.
- :func:`split_indices` and :func:`train_test_split`: seeded, stratified splits.
- :class:`Standardizer` and :func:`standardize`: scaling fitted on training rows only.
- Loaders: :func:`load_digits` (shipped with fnn, no download), :func:`load_sklearn`
  (optional scikit-learn), :func:`load_mnist` with :func:`read_idx` / :func:`write_idx`
  (MNIST's IDX format), and :func:`load_csv`.

Loaders return ``(x, y)``: ``x`` a float matrix, ``y`` int64 class labels.

>>> import fnn, fnn.data
>>> x, y = fnn.data.load_digits()
>>> x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.2)
>>> x_train.shape, x_test.shape
((1438, 64), (359, 64))
>>> x_train, x_test, scaler = fnn.data.standardize(x_train, x_test)
"""

from __future__ import annotations

import csv
import gzip
import heapq
import importlib
import math
import os
import re
import struct
import tempfile
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from fnn._checks import MAX_BYTES, check_max_bytes, choice, is_integer, is_real, open_regular, size_limit
from fnn.errors import ConfigError, DtypeError, FormatError, NonFiniteError, ShapeError
from fnn.random import Key, generator

__all__ = [
    "one_hot",
    "split_indices",
    "train_test_split",
    "Standardizer",
    "standardize",
    "load_digits",
    "load_sklearn",
    "read_idx",
    "IDX_MAX_BYTES",
    "write_idx",
    "load_mnist",
    "load_csv",
]


# ---------------------------------------------------------------- labels


def _class_labels(labels: Any, where: str, num_classes: int | None = None) -> tuple[np.ndarray, int]:
    """``labels`` as int64 class labels of shape (n,) in [0, k), and k.

    Integer and bool arrays are labels; float arrays are accepted when every value is a
    whole number. ``k`` is ``num_classes``, or ``max + 1`` when that is None.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ShapeError(f"{where}: class labels of shape (n,) expected, got shape {y.shape}")
    if y.dtype.kind == "f":
        finite = np.isfinite(y)
        bad = ~finite
        bad[finite] = y[finite] != np.round(y[finite])
        if bad.any():
            i = int(np.argmax(bad))
            raise ConfigError(f"{where}: class labels must be integers, got {y[i]} at index {i}")
    elif y.dtype.kind not in "iub":
        raise ConfigError(f"{where}: class labels must be integers, got dtype {y.dtype}")
    if num_classes is not None and (not is_integer(num_classes) or num_classes < 1):
        raise ConfigError(f"{where}: num_classes must be a positive integer, got {num_classes!r}")
    lo, hi = (int(y.min()), int(y.max())) if y.size else (0, -1)
    if lo < 0:
        raise ConfigError(f"{where}: class labels must be non-negative integers, got values in [{lo}, {hi}]")
    k = hi + 1 if num_classes is None else int(num_classes)
    if hi >= k:
        raise ConfigError(f"{where}: class labels must lie in [0, {k - 1}] for {k} classes, got values in [{lo}, {hi}]")
    return y.astype(np.int64), k


def one_hot(
    labels: Any, num_classes: int | None = None, *, dtype: Any = np.float32, max_bytes: int | None = MAX_BYTES
) -> np.ndarray:
    """Class labels as one-hot rows: ``out[i, labels[i]] = 1``, columns in class order 0..k-1.

    Args:
        labels: integer class labels of shape (n,), each in [0, num_classes).
        num_classes: the number of columns k; defaults to ``max(labels) + 1``.
        dtype: the output dtype (float32 by default).
        max_bytes: refuse an (n, k) result larger than this before allocating it (default
            8 GiB; None: no limit).

    Returns:
        An (n, k) array of zeros and ones.

    Raises:
        ShapeError: labels are not 1-D.
        ConfigError: labels are not integers, or lie outside [0, num_classes); the result would
            exceed ``max_bytes`` (``num_classes=10**10``).

    >>> import fnn.data
    >>> fnn.data.one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    y, k = _class_labels(labels, "one_hot: labels", num_classes)
    dtype = np.dtype(dtype)
    size_limit(y.size * k * dtype.itemsize, max_bytes, f"one_hot: {y.size:,} rows × {k:,} classes of {dtype}")
    out = np.zeros((y.size, k), dtype)
    out[np.arange(y.size), y] = 1
    return out


# ---------------------------------------------------------------- splits


def _int_at_least(n: Any, what: str, minimum: int) -> int:
    if not is_integer(n) or n < minimum:
        raise ConfigError(f"{what} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _test_count(test_size: Any, n: int) -> int:
    """The number of test rows ``test_size`` asks for, out of n (both sides keep at least one row)."""
    if not is_real(test_size):
        raise ConfigError(f"test_size must be a fraction in (0, 1) or a count in [1, {n - 1}], got {test_size!r}")
    if is_integer(test_size):
        if not 1 <= test_size <= n - 1:
            raise ConfigError(f"test_size as a count must lie in [1, {n - 1}] for n={n} rows, got {test_size}")
        return int(test_size)
    if not 0 < test_size < 1:  # a real number that is not an integer: a fraction
        raise ConfigError(f"test_size as a fraction must lie in (0, 1), got {test_size!r} (pass an int for a count)")
    return min(max(math.floor(test_size * n + 0.5), 1), n - 1)


def _strata(labels: Any, n: int) -> np.ndarray | None:
    """Class codes 0..C-1 per row to stratify on, or None when ``labels`` are not class labels."""
    y = np.asarray(labels)
    if y.ndim == 0 or y.shape[0] != n:
        raise ShapeError(f"split_indices: labels with {n} rows (one per sample) expected, got shape {y.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1 and y.dtype.kind in "iub":
        return np.unique(y, return_inverse=True)[1].reshape(n)
    if y.ndim == 2 and y.shape[1] >= 2 and y.dtype.kind in "iubf":
        if np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all():
            return np.argmax(y, axis=1)
    return None


def _stratified_take(counts: np.ndarray, t: int, n: int, order: np.ndarray) -> np.ndarray:
    """How many rows of each class go to the test side (see :func:`split_indices`)."""
    quota = counts * t / n
    lo = (counts >= 2).astype(np.int64)  # a class of two or more rows has one on each side
    hi = counts - lo
    take = np.clip(np.floor(quota).astype(np.int64), lo, hi)
    diff = t - int(take.sum())  # |diff| <= the number of classes
    if diff == 0:
        return take
    # Settle the total one row at a time, on the class furthest from its quota that has room
    # to move (largest remainders, then the classes forced to their bounds give way); ties go
    # to the class first in the random ``order``. If no class has room, coverage wins over size.
    step = 1 if diff > 0 else -1
    room = hi - take if step > 0 else take - lo
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    heap = [(step * (take[c] - quota[c]), rank[c], c) for c in np.flatnonzero(room)]
    heapq.heapify(heap)
    for _ in range(abs(diff)):
        if not heap:
            break
        _, r, c = heapq.heappop(heap)
        take[c] += step
        room[c] -= 1
        if room[c]:
            heapq.heappush(heap, (step * (take[c] - quota[c]), r, c))
    return take


def split_indices(
    key: Key, n: int, test_size: float | int, *, labels: Any = None, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random partition of ``range(n)`` into sorted train and test index arrays.

    The test side gets ``t`` rows: ``test_size`` itself when it is an int, else
    ``round(test_size * n)`` (halves up), kept within [1, n - 1] so neither side is empty.

    With ``stratify`` and class ``labels``, each class c of m_c rows sends its quota
    ``m_c * t / n`` rows to the test side, rounded down or up: the round-ups go to the
    largest remainders (ties in a random order drawn from ``key``) so the total is ``t``.
    Every class of two or more rows keeps at least one row on each side; where that
    forces a class off its quota, the others give way. So when every such class has a
    quota in [1, m_c - 1], each class is within one row of its quota and the total is
    ``t``; otherwise the total is as close to ``t`` as the coverage guarantee allows
    (coverage wins over the exact size). A class of one row goes to one side. Labels count as class labels
    when they are integer (or bool) of shape (n,) or (n, 1), or exact one-hot rows of shape (n, k) (stratified on
    the argmax). Float labels of shape (n,) (regression targets) and other 2-D targets
    give a plain random split, as do ``labels=None`` and ``stratify=False``.

    Args:
        key: the only source of randomness; the same key gives the same split.
        n: the number of rows, at least 2.
        test_size: a fraction in (0, 1), or a count in [1, n - 1].
        labels: optional per-row labels of length n to stratify on.
        stratify: set False for a plain random split even when labels are given.

    Returns:
        ``(train_idx, test_idx)``: sorted, disjoint int64 arrays whose union is ``range(n)``.

    Raises:
        ConfigError: ``n`` or ``test_size`` out of range, or ``key`` is not a key.
        ShapeError: ``labels`` do not have n rows.

    >>> import fnn, fnn.data
    >>> train, test = fnn.data.split_indices(fnn.random.key(0), 10, 0.2, labels=[0] * 5 + [1] * 5)
    >>> len(train), len(test), (test // 5).tolist()
    (8, 2, [0, 1])
    """
    if not isinstance(key, Key):
        raise ConfigError(
            f"split_indices: key must be an fnn.random.Key (from fnn.random.key(seed)), got {type(key).__name__}"
        )
    n = _int_at_least(n, "split_indices: n (the number of rows)", 2)
    t = _test_count(test_size, n)
    codes = None if labels is None else _strata(labels, n)
    g = generator(key)
    test = np.zeros(n, bool)
    if codes is None or not stratify:
        test[g.permutation(n)[:t]] = True
    else:
        counts = np.bincount(codes)
        take = _stratified_take(counts, t, n, g.permutation(counts.size))
        perm = g.permutation(n)
        grouped = perm[np.argsort(codes[perm], kind="stable")]  # classes in blocks, random order within
        rank = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
        test[grouped[rank < np.repeat(take, counts)]] = True
    return np.flatnonzero(~test).astype(np.int64), np.flatnonzero(test).astype(np.int64)


_NO_Y = object()  # y left out: the key probably was (scikit-learn's train_test_split(x, y))


def train_test_split(
    key: Key, x: Any, y: Any = _NO_Y, *, test_size: float | int = 0.25, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, x_test, y_train, y_test)``: rows split by :func:`split_indices`, stratified on ``y``.

    Raises:
        ShapeError: x and y have different numbers of rows.
        ConfigError: as :func:`split_indices`; no key first (scikit-learn's ``train_test_split(x, y)``).

    >>> import numpy as np, fnn, fnn.data
    >>> x, y = np.arange(20).reshape(10, 2), np.array([0, 1] * 5)
    >>> x_tr, x_te, y_tr, y_te = fnn.data.train_test_split(fnn.random.key(1), x, y, test_size=0.4)
    >>> x_tr.shape, x_te.shape, np.bincount(y_te).tolist()
    ((6, 2), (4, 2), [2, 2])
    """
    if not isinstance(key, Key):
        raise ConfigError(
            f"train_test_split(key, x, y, test_size=...) takes the key of the split first, e.g. "
            f"fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25), got {type(key).__name__} "
            f"(scikit-learn's train_test_split(x, y, random_state=0) is this with the key first)"
        )
    if y is _NO_Y:
        raise ConfigError("train_test_split(key, x, y, test_size=...): y was not given")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ShapeError(
            f"train_test_split: x and y must have the same number of rows, got shapes {x.shape} and {y.shape}"
        )
    train, test = split_indices(key, x.shape[0], test_size, labels=y, stratify=stratify)
    return x[train], x[test], y[train], y[test]


# ---------------------------------------------------------------- scaling


def _read_only(a: Any) -> np.ndarray:
    a = np.array(a)  # a copy, owned by the Standardizer
    a.flags.writeable = False
    return a


def _numeric(x: Any, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DtypeError(f"{where} must be a numeric array, got dtype {x.dtype}")
    return x


@attrs.frozen(eq=False)
class Standardizer:
    """Column scaling ``(x - mean) / scale`` with statistics fitted on training rows.

    Build one with :meth:`Standardizer.fit` on the training rows only, then transform
    training, validation and test rows with the same statistics. ``mean`` and ``scale``
    are read-only arrays of shape (d,), in the float dtype of the fitted data.

    >>> import numpy as np
    >>> from fnn.data import Standardizer
    >>> s = Standardizer.fit(np.array([[0.0, 5.0], [2.0, 5.0]]))
    >>> s.mean, s.scale
    (array([1., 5.]), array([1., 1.]))
    >>> s.transform(np.array([[4.0, 7.0]]))
    array([[3., 2.]])
    """

    mean: np.ndarray = attrs.field(converter=_read_only)
    scale: np.ndarray = attrs.field(converter=_read_only)

    def __attrs_post_init__(self) -> None:
        if self.mean.ndim != 1 or self.mean.shape != self.scale.shape:
            raise ShapeError(
                f"Standardizer: mean and scale of one shape (d,) expected, got {self.mean.shape} and {self.scale.shape}"
            )
        if self.mean.dtype.kind != "f" or self.scale.dtype != self.mean.dtype:
            raise DtypeError(
                f"Standardizer: mean and scale of one float dtype expected, "
                f"got {self.mean.dtype} and {self.scale.dtype}"
            )
        if not (np.isfinite(self.mean).all() and np.isfinite(self.scale).all() and (self.scale > 0).all()):
            raise ConfigError("Standardizer: finite mean and finite, positive scale expected")

    @classmethod
    def fit(cls, x_train: Any) -> Standardizer:
        """Column means and standard deviations of ``x_train`` (n, d), n >= 1.

        Statistics are computed in float64 and stored in the dtype of ``x_train``
        (float64 for integer input). A constant column gets its value as mean and scale
        1, so it becomes exactly 0 instead of being divided by zero.

        Raises:
            ShapeError: x_train is not 2-D with at least one row.
            DtypeError: x_train is not numeric.
            NonFiniteError: x_train contains NaN or infinity.
        """
        x = _numeric(x_train, "Standardizer.fit: x_train")
        if x.ndim != 2 or x.shape[0] == 0:
            raise ShapeError(f"Standardizer.fit: x_train of shape (n, d) with n >= 1 expected, got shape {x.shape}")
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        x64 = x.astype(np.float64)
        if not np.isfinite(x64).all():
            i, j = np.argwhere(~np.isfinite(x64))[0]
            raise NonFiniteError(f"Standardizer.fit: x_train contains NaN or infinity (first at row {i}, column {j})")
        constant = x64.min(axis=0) == x64.max(axis=0)
        mean = np.where(constant, x64[0], x64.mean(axis=0)).astype(dtype)
        scale = np.where(constant, 1.0, x64.std(axis=0)).astype(dtype)
        scale[scale == 0] = 1  # a spread too small for the dtype (subnormal) is treated as constant
        return cls(mean, scale)

    def _prepare(self, x: Any, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = _numeric(x, f"Standardizer.{where}: x")
        if x.ndim == 0 or x.shape[-1] != self.mean.size:
            raise ShapeError(
                f"Standardizer.{where}: x with {self.mean.size} columns (as fitted) expected, got shape {x.shape}"
            )
        dtype = x.dtype if x.dtype.kind == "f" else self.mean.dtype
        return x.astype(dtype), self.mean.astype(dtype), self.scale.astype(dtype)

    def transform(self, x: Any) -> np.ndarray:
        """``(x - mean) / scale``, in the float dtype of ``x`` (the fitted dtype for integer x)."""
        x, mean, scale = self._prepare(x, "transform")
        x -= mean  # x is our own copy
        x /= scale
        return x

    def inverse_transform(self, x: Any) -> np.ndarray:
        """``x * scale + mean``: the inverse of :meth:`transform`."""
        x, mean, scale = self._prepare(x, "inverse_transform")
        x *= scale
        x += mean
        return x


def standardize(x_train: Any, *others: Any) -> tuple:
    """``(x_train_s, *others_s, scaler)``: all arrays scaled by statistics of ``x_train`` alone.

    >>> import numpy as np, fnn.data
    >>> train_s, test_s, scaler = fnn.data.standardize(np.array([[1.0], [3.0]]), np.array([[5.0]]))
    >>> train_s.ravel().tolist(), test_s.ravel().tolist()
    ([-1.0, 1.0], [3.0])

    See Also:
        :class:`Standardizer`, which this fits and applies.
    """
    scaler = Standardizer.fit(x_train)
    return (scaler.transform(x_train), *(scaler.transform(x) for x in others), scaler)


# ---------------------------------------------------------------- bundled and optional data sets


def _pixels(raw: np.ndarray, dtype: Any, scale: bool, top: int, where: str) -> np.ndarray:
    """Integer pixel values as ``dtype``, divided by ``top`` when ``scale``."""
    dt = np.dtype(dtype)
    if scale and dt.kind != "f":
        raise ConfigError(f"{where}: scale=True needs a float dtype, got {dt}")
    if not np.can_cast(raw.dtype, dt):
        raise ConfigError(f"{where}: dtype {dt} cannot hold {raw.dtype} pixel values; use a float dtype")
    out = raw.astype(dt)
    if scale:
        out /= dt.type(top)
    return out


def load_digits(*, dtype: Any = np.float32, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits (1,797 images, 10 classes), shipped with fnn: no download.

    From the UCI "Optical Recognition of Handwritten Digits" data set (CC BY 4.0), as
    bundled by scikit-learn. Pixels count 0..16; about 180 images per class.

    Args:
        dtype: dtype of x (float32 by default).
        scale: divide pixels by 16, into [0, 1].

    Returns:
        ``(x, y)``: x of shape (1797, 64), y int64 labels 0..9, in the file's order.

    >>> import fnn.data
    >>> x, y = fnn.data.load_digits()
    >>> x.shape, x.dtype, float(x.max()), y.dtype, y[:5].tolist()
    ((1797, 64), dtype('float32'), 1.0, dtype('int64'), [0, 1, 2, 3, 4])
    """
    with (resources.files("fnn") / "datasets" / "digits.npz").open("rb") as f, np.load(f, allow_pickle=False) as npz:
        x, y = npz["x"], npz["y"]
    return _pixels(x, dtype, scale, 16, "load_digits"), y.astype(np.int64)


_SKLEARN_LOADERS = {
    "iris": "load_iris",
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
}
_SKLEARN_HINT = "load_sklearn needs scikit-learn, an optional extra: pip install 'fnn[sklearn]'"


def load_sklearn(name: str, *, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """One of scikit-learn's small bundled data sets: "iris", "digits", "breast_cancer" or "wine".

    scikit-learn is imported here, not when fnn is. Features are returned unscaled
    (they have different units; see :func:`standardize`). For the digits without
    scikit-learn, use :func:`load_digits`.

    Args:
        name: the data set.
        dtype: float dtype of x (float32 by default, like fnn's params).

    Returns:
        ``(x, y)``: x of shape (n, d), y int64 class labels.

    Raises:
        ConfigError: an unknown name or a non-float dtype.
        ImportError: scikit-learn is not installed (the message says how to install it).
    """
    if not isinstance(name, str) or name not in _SKLEARN_LOADERS:
        raise ConfigError(f"load_sklearn: unknown data set {name!r}; valid names: {', '.join(_SKLEARN_LOADERS)}")
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ConfigError(f"load_sklearn: a float dtype expected, got {dt}")
    try:
        datasets = importlib.import_module("sklearn.datasets")
    except ImportError as e:
        raise ImportError(_SKLEARN_HINT) from e
    x, y = getattr(datasets, _SKLEARN_LOADERS[name])(return_X_y=True)
    return np.asarray(x, dt), np.asarray(y).astype(np.int64)


# ---------------------------------------------------------------- IDX (MNIST) files

# IDX type codes and the big-endian dtypes they stand for (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {np.dtype(t).newbyteorder("="): code for code, t in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIMS = 64  # NumPy's limit
IDX_MAX_BYTES = 4 * 2**30
"""The default ``max_bytes`` of :func:`read_idx`: the most data bytes an IDX header may declare (4 GiB)."""


def read_idx(path: str | os.PathLike, *, max_bytes: int | None = IDX_MAX_BYTES) -> np.ndarray:
    """The array stored in an IDX file (MNIST's format), raw or gzip-compressed.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then each
    dimension as a big-endian uint32; the big-endian data follow. A file starting
    with the gzip magic is decompressed as it is read, whatever its name.

    Memory is bounded before anything is allocated: the size the header declares is
    checked against ``max_bytes`` (and, for a raw file, against the file's size), and a
    gzip stream is inflated only up to that size (one byte more shows bytes left over),
    so a small file cannot inflate into a large one.

    Args:
        path: the file.
        max_bytes: the most data bytes the header may declare, :data:`IDX_MAX_BYTES`
            (4 GiB; MNIST's training images are 47 MB) by default, or ``None`` for no limit.

    Returns:
        A new native-byte-order array of the stored shape and dtype.

    Raises:
        FileNotFoundError: no file at ``path``.
        FormatError: the file is not valid IDX: broken gzip, wrong magic, unknown type
            code, truncated header or data, bytes left over after the data, a declared size
            over ``max_bytes``, or not a regular file (a FIFO, a device).

    >>> import numpy as np, tempfile, os, fnn.data
    >>> path = os.path.join(tempfile.mkdtemp(), "a.idx.gz")
    >>> fnn.data.write_idx(path, np.arange(6, dtype=np.int16).reshape(2, 3))
    >>> fnn.data.read_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    """
    name = os.fspath(path)
    max_bytes = check_max_bytes(max_bytes)
    with open_regular(path, name) as raw:
        file_size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _read_idx_stream(f, name, max_bytes, None)
        return _read_idx_stream(raw, name, max_bytes, file_size)


def _read_exactly(f: Any, n: int, name: str) -> bytes:
    try:
        return f.read(n)
    except (OSError, EOFError, zlib.error) as e:
        raise FormatError(f"{name}: corrupted or truncated gzip data ({e})") from e


def _read_idx_stream(f: Any, name: str, max_bytes: int | None, file_size: int | None) -> np.ndarray:
    """Read an IDX array from the (decompressed) stream ``f``; ``file_size`` is the raw file's, if not compressed."""
    head = _read_exactly(f, 4, name)
    if len(head) < 4:
        raise FormatError(f"{name}: truncated IDX header: 4 bytes expected, file has {len(head)}")
    if head[:2] != b"\0\0":
        raise FormatError(
            f"{name}: not an IDX file: magic 0x0000 expected in the first two bytes, got 0x{head[:2].hex()}"
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise FormatError(f"{name}: unknown IDX type code 0x{code:02X}; expected one of {known}")
    if ndim == 0:
        raise FormatError(f"{name}: IDX header gives 0 dimensions; at least 1 expected")
    if ndim > _MAX_DIMS:
        raise FormatError(f"{name}: IDX header gives {ndim} dimensions; a NumPy array has at most {_MAX_DIMS}")
    start = 4 + 4 * ndim
    dims = _read_exactly(f, 4 * ndim, name)
    if len(dims) < 4 * ndim:
        raise FormatError(
            f"{name}: truncated IDX header: {start} bytes expected for {ndim} dimensions, file has {4 + len(dims)}"
        )
    shape = struct.unpack(f">{ndim}I", dims)
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = math.prod(shape) * dtype.itemsize
    if max_bytes is not None and expected > max_bytes:
        raise FormatError(
            f"{name}: the IDX header declares shape {shape} of {dtype.newbyteorder('=')}, {expected:,} data bytes, "
            f"more than max_bytes={max_bytes} ({max_bytes / 2**30:.3g} GiB), the limit a read may allocate; if the "
            f"file is trusted, read it with fnn.data.read_idx(path, max_bytes={expected}) or max_bytes=None"
        )
    if file_size is not None and file_size - start != expected:
        found = file_size - start
        what = "truncated data" if found < expected else "size mismatch, bytes left over"
        raise FormatError(
            f"{name}: {what}: shape {shape} of {dtype.newbyteorder('=')} needs {expected} data bytes, found {found}"
        )
    data = np.empty(expected, np.uint8)
    view, got = data.data, 0
    while got < expected:  # readinto: no second copy of the data, and never more than the header declared
        try:
            n = f.readinto(view[got:])
        except (OSError, EOFError, zlib.error) as e:
            raise FormatError(f"{name}: corrupted or truncated gzip data ({e})") from e
        if not n:
            break
        got += n
    if got < expected:
        raise FormatError(
            f"{name}: truncated data: shape {shape} of {dtype.newbyteorder('=')} needs {expected} data bytes, "
            f"found {got}"
        )
    if _read_exactly(f, 1, name):  # one byte more, never the rest: a stream may inflate without end
        holds = "the file holds more" if file_size is not None else "its gzip data inflate to more (read no further)"
        raise FormatError(
            f"{name}: size mismatch, bytes left over: shape {shape} of {dtype.newbyteorder('=')} needs {expected} data "
            f"bytes, and {holds}"
        )
    a = data.view(dtype)
    if not dtype.isnative:
        a = a.byteswap(inplace=True).view(dtype.newbyteorder("="))  # in place: no second copy
    return a.reshape(shape)


def write_idx(path: str | os.PathLike, array: Any) -> None:
    """Write ``array`` to an IDX file, gzip-compressed when ``path`` ends in ".gz".

    The write is atomic (a temporary file renamed into place), and gzip output is
    reproducible (no timestamp). :func:`read_idx` reads it back exactly.

    Raises:
        DtypeError: the dtype is not one IDX stores (uint8, int8, int16, int32, float32, float64).
        ShapeError: the array is 0-D, or has more than 255 dimensions or a dimension >= 2**32.
    """
    a = np.asarray(array)
    dt = a.dtype.newbyteorder("=")
    if dt not in _IDX_CODES:
        names = ", ".join(str(d) for d in _IDX_CODES)
        raise DtypeError(f"write_idx: array dtype must be one of {names}, got {a.dtype}")
    if not 1 <= a.ndim <= 255 or any(s >= 2**32 for s in a.shape):
        raise ShapeError(f"write_idx: IDX holds 1 to 255 dimensions, each < 2**32, got shape {a.shape}")
    code = _IDX_CODES[dt]
    data = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _find_mnist_files(directory: Path, kind: str) -> tuple[Path, Path]:
    found, missing = [], []
    for name in _MNIST_FILES[kind]:
        candidates = [directory / name, directory / f"{name}.gz"]
        hit = next((p for p in candidates if p.is_file()), None)
        found.append(hit)
        if hit is None:
            missing.append(name)
    if missing:
        expected = " and ".join(f"{n} (or {n}.gz)" for n in _MNIST_FILES[kind])
        other = "test" if kind == "train" else "train"
        raise FileNotFoundError(
            f"load_mnist(kind={kind!r}) expects {expected} in {directory}"
            + ("" if directory.is_dir() else " (the directory does not exist)")
            + f"; missing: {', '.join(missing)}. (kind={other!r} reads {' and '.join(_MNIST_FILES[other])}.)"
        )
    return found[0], found[1]  # type: ignore[return-value]  # none missing: both found


def load_mnist(
    directory: str | os.PathLike, *, kind: str = "train", dtype: Any = np.float32, scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST from the standard IDX files in ``directory`` (raw or .gz).

    Reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (kind "train") or
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (kind "test"), each
    possibly with a ``.gz`` suffix. Nothing is downloaded.

    Args:
        directory: the folder holding the files.
        kind: "train" or "test".
        dtype: dtype of x (float32 by default).
        scale: divide pixels by 255, into [0, 1].

    Returns:
        ``(x, y)``: x of shape (n, rows * cols) (n, 784 for MNIST), y int64 labels.

    Raises:
        ConfigError: an unknown kind, or a dtype that cannot hold the pixels.
        FileNotFoundError: a file is missing; the message names every expected file.
        FormatError: a file is not valid IDX, or images and labels do not match.

    >>> import numpy as np, tempfile, os, fnn.data
    >>> d = tempfile.mkdtemp()
    >>> fnn.data.write_idx(os.path.join(d, "t10k-images-idx3-ubyte"), np.zeros((3, 28, 28), np.uint8))
    >>> fnn.data.write_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), np.array([7, 2, 1], np.uint8))
    >>> x, y = fnn.data.load_mnist(d, kind="test")
    >>> x.shape, x.dtype, y.tolist()
    ((3, 784), dtype('float32'), [7, 2, 1])
    """
    choice(kind, "load_mnist: kind", tuple(_MNIST_FILES))
    images_path, labels_path = _find_mnist_files(Path(directory), kind)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise FormatError(
            f"{images_path}: uint8 images of shape (n, rows, cols) expected, got {images.dtype} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise FormatError(
            f"{labels_path}: uint8 labels of shape (n,) expected, got {labels.dtype} of shape {labels.shape}"
        )
    if labels.size != images.shape[0]:
        raise FormatError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.size} labels")
    x = _pixels(images.reshape(images.shape[0], -1), dtype, scale, 255, "load_mnist")
    return x, labels.astype(np.int64)


# ---------------------------------------------------------------- CSV


# A plain decimal number, as a CSV cell holds it: no "1_000", "0x10", "nan", "inf", non-ASCII digits or NUL.
_PLAIN_NUMBER = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*")


def _is_number(cell: str) -> bool:
    """Whether ``cell`` reads as a number at all (Python's ``float``): how a header line is told from data."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_plain_number(cell: str) -> bool:
    return _PLAIN_NUMBER.fullmatch(cell) is not None


def _target_column(target: Any, width: int, names: list[str] | None, where: str) -> int:
    if isinstance(target, str):
        if names is None:
            raise ConfigError(
                f"{where}: target {target!r} is a column name, but the file has no header; pass a column index"
            )
        if names.count(target) != 1:
            problem = "is not a column" if target not in names else "names more than one column"
            raise ConfigError(f"{where}: target {target!r} {problem}; columns: {', '.join(names)}")
        return names.index(target)
    if not is_integer(target) or not -width <= target < width:
        raise ConfigError(
            f"{where}: target must be a column name or an index in [{-width}, {width - 1}], got {target!r}"
        )
    return int(target) % width


def load_csv(
    path: str | os.PathLike,
    *,
    target: int | str = -1,
    header: bool | None = None,
    delimiter: str = ",",
    dtype: Any = np.float32,
    target_dtype: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Numeric features and a target column from a small CSV file.

    Blank lines are skipped; every other line must have the same number of cells, each
    a plain decimal number (``12``, ``-0.5``, ``1e-3``; not ``1_000``, ``0x10``, ``nan`` or
    ``inf``) that is finite in ``dtype`` (a header line aside).

    Args:
        path: the file (UTF-8, an optional byte-order mark is ignored).
        target: the target column, as an index (negative counts from the end) or a header name.
        header: whether the first line holds column names; None (the default) decides by
            looking: the first line is a header when any of its cells is not a number.
        delimiter: the cell separator.
        dtype: float dtype of x, and of y when y is not integral.
        target_dtype: None for a numeric target; ``str`` to read the target cells as text
            (class names such as ``setosa``; encode them with ``np.unique(y, return_inverse=True)``).

    Returns:
        ``(x, y)``: x of shape (n, columns - 1); y of shape (n,), int64 when every target
        value is a whole number (class labels), else ``dtype`` (or ``str`` with ``target_dtype=str``).

    Raises:
        FormatError: a ragged line, a cell that is not a plain decimal number or overflows
            ``dtype`` (naming its line and column), or no data lines.
        ConfigError: an unknown target column, or a non-float dtype.

    >>> import os, tempfile, fnn.data
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("a,b,label\\n1.5,2,0\\n3,4.25,1\\n")
    >>> x, y = fnn.data.load_csv(path, target="label")
    >>> x.tolist(), y.tolist(), y.dtype
    ([[1.5, 2.0], [3.0, 4.25]], [0, 1], dtype('int64'))
    """
    name = os.fspath(path)
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ConfigError(f"load_csv: a float dtype expected, got {dt}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"load_csv: delimiter must be one character, such as ',' or ';', got {delimiter!r:.40}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            rows = [(reader.line_num, cells) for cells in reader if any(c.strip() for c in cells)]
        except UnicodeDecodeError as e:
            raise FormatError(
                f"{name}: not UTF-8 text ({e.reason}: the byte {e.object[e.start : e.end]!r}); convert it "
                f"to UTF-8, e.g. iconv -f latin1 -t utf-8"
            ) from None
        except csv.Error as e:
            raise FormatError(f"{name}, line {reader.line_num}: not a CSV line fnn can read ({e})") from None
    text_target = target_dtype is str
    if target_dtype is not None and not text_target:
        raise ConfigError(f"load_csv: target_dtype must be None (numbers) or str (text), got {target_dtype!r}")
    if header is None and text_target and rows:  # a text target says nothing: look at the other cells
        first = rows[0][1]
        skip = None if isinstance(target, str) else (target % len(first) if isinstance(target, int) and first else None)
        header = isinstance(target, str) or not all(_is_number(c) for j, c in enumerate(first) if j != skip)
    if header is None:
        header = bool(rows) and not all(map(_is_number, rows[0][1]))
    names = [c.strip() for c in rows[0][1]] if header and rows else None
    rows = rows[1:] if header else rows
    if not rows:
        raise FormatError(f"{name}: no data lines")
    width = len(names) if names is not None else len(rows[0][1])
    if width < 2:
        raise FormatError(f"{name}: at least 2 columns (features and a target) expected, got {width}")
    col = _target_column(target, width, names, f"load_csv({name})")
    for line, cells in rows:
        if len(cells) != width:
            raise FormatError(f"{name}, line {line}: {width} cells expected (like the first line), got {len(cells)}")
    if text_target:
        labels = np.array([cells[col].strip() for _, cells in rows], dtype=np.str_)
        rows = [(line, [c for j, c in enumerate(cells) if j != col]) for line, cells in rows]
        names = None if names is None else [c for j, c in enumerate(names) if j != col]
        x = _numbers(rows, names, name, None, dt)
        return x.astype(dt), labels
    values = _numbers(rows, names, name, col, dt)
    y = values[:, col]
    x = np.delete(values, col, axis=1).astype(dt)
    integral = (y == np.round(y)).all() and np.abs(y).max() < 2**53
    if not integral:
        with np.errstate(over="ignore"):
            bad = np.flatnonzero(~np.isfinite(y.astype(dt)))
        if bad.size:
            line, cells = rows[bad[0]]
            column = f"column {col + 1}" + (f" ({names[col]!r})" if names else "")
            raise FormatError(
                f"{name}, line {line}, {column}: {cells[col].strip()} does not fit in {dt} (whose largest value is "
                f"{np.finfo(dt).max:.4g}); pass dtype=np.float64 to keep it, or rescale the column"
            )
    return x, y.astype(np.int64 if integral else dt)


def _numbers(rows: list, names: list | None, name: str, col: int | None, dt: np.dtype) -> np.ndarray:
    """The cells of ``rows`` as float64 (n, width), each a plain decimal number finite in ``dt``; FormatError naming
    the first cell that is not (its line and column)."""
    values = None
    if all(_is_plain_number(c) for _, cells in rows for c in cells):
        values = np.array([cells for _, cells in rows], dtype=np.str_).astype(np.float64)
        with np.errstate(over="ignore"):
            finite = np.isfinite(values) & np.isfinite(values.astype(dt))
        if col is not None:
            finite[:, col] = np.isfinite(values[:, col])  # the target is checked once its dtype is known
        if finite.all():
            return values
    for line, cells in rows:
        for j, cell in enumerate(cells):
            column = f"column {j + 1}" + (f" ({names[j]!r})" if names else "")
            if not _is_plain_number(cell):
                hint = " (a target of class names: read it with target_dtype=str)" if j == col else ""
                raise FormatError(
                    f"{name}, line {line}, {column}: a finite number expected, got {cell!r} (a plain decimal such as "
                    f"12, -0.5 or 1e-3){hint}"
                )
            value = float(cell)
            with np.errstate(over="ignore"):
                overflows = not np.isfinite(np.asarray(value).astype(dt))
            if not math.isfinite(value) or (overflows and j != col):
                raise FormatError(
                    f"{name}, line {line}, {column}: {cell.strip()} does not fit in {dt} (whose largest value is "
                    f"{np.finfo(dt).max:.4g}); pass dtype=np.float64 to keep it, or rescale the column"
                )
    raise AssertionError("unreachable: a cell failed the check")  # pragma: no cover
