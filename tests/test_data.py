"""Laws of fnn.data: one-hot round trips, splits are seeded partitions, scaling uses training
statistics only, IDX files round-trip and fail loudly, loaders give fixed shapes and dtypes."""

import gzip
import math
import sys
import types
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn
import fnn.data
from fnn.data import (
    Standardizer,
    load_csv,
    load_digits,
    load_mnist,
    load_sklearn,
    one_hot,
    read_idx,
    split_indices,
    standardize,
    train_test_split,
    write_idx,
)
from fnn.errors import ConfigError, DtypeError, FormatError, NonFiniteError, ShapeError

seeds = st.integers(0, 2**32 - 1)
fractions = st.floats(0.001, 0.999)


def frozen(a):
    """A read-only copy: a function that writes into its input fails on it."""
    a = np.array(a)
    a.flags.writeable = False
    return a


def rng(seed=0):
    return fnn.random.generator(fnn.random.key(seed))


# ---------------------------------------------------------------- one_hot


@given(st.integers(1, 8).flatmap(lambda k: st.tuples(st.just(k), st.lists(st.integers(0, k - 1), max_size=30))))
def test_one_hot_round_trips_with_argmax(case):
    k, labels = case
    y = frozen(np.array(labels, dtype=np.int64))
    h = one_hot(y, k)
    assert h.shape == (len(labels), k) and h.dtype == np.float32
    assert np.array_equal(h.argmax(axis=1), y)
    assert np.array_equal(h.sum(axis=1), np.ones(len(labels)))
    assert set(np.unique(h)) <= {0.0, 1.0}


def test_one_hot_class_order_is_explicit_and_defaults_to_max_plus_one():
    assert one_hot([2, 2]).tolist() == [[0, 0, 1], [0, 0, 1]]
    assert one_hot(np.array([1, 0], np.uint8), dtype=np.int64).dtype == np.int64
    assert one_hot(np.array([1.0, 0.0])).tolist() == [[0, 1], [1, 0]]  # whole-number floats are labels
    assert one_hot(np.array([True, False])).tolist() == [[0, 1], [1, 0]]
    assert one_hot(np.zeros(0, np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize(
    "labels, k, error, words",
    [
        ([0, 3], 3, ConfigError, "[0, 2]"),
        ([-1, 0], None, ConfigError, "non-negative"),
        ([0.5, 1], None, ConfigError, "integers"),
        ([np.nan], None, ConfigError, "integers"),
        (["a", "b"], None, ConfigError, "dtype"),
        ([[0, 1]], None, ShapeError, "(n,)"),
        ([0, 1], 0, ConfigError, "num_classes"),
        ([0, 1], True, ConfigError, "num_classes"),
    ],
)
def test_one_hot_rejects_bad_labels(labels, k, error, words):
    with pytest.raises(error, match="one_hot") as e:
        one_hot(labels, k)
    assert words in str(e.value)


# ---------------------------------------------------------------- split_indices


def assert_partition(train, test, n):
    for idx in (train, test):
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
    assert np.intersect1d(train, test).size == 0
    assert np.array_equal(np.union1d(train, test), np.arange(n))
    assert train.size >= 1 and test.size >= 1


@given(st.integers(2, 300), fractions, seeds)
def test_split_is_a_partition_of_the_requested_size(n, fraction, seed):
    train, test = split_indices(fnn.random.key(seed), n, fraction)
    assert_partition(train, test, n)
    assert test.size == min(max(math.floor(fraction * n + 0.5), 1), n - 1)


@given(st.integers(2, 100).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n - 1))), seeds)
def test_an_int_test_size_is_a_count(case, seed):
    n, count = case
    train, test = split_indices(fnn.random.key(seed), n, count)
    assert_partition(train, test, n)
    assert test.size == count


@given(st.integers(2, 100), fractions, seeds)
def test_same_key_same_split(n, fraction, seed):
    a = split_indices(fnn.random.key(seed), n, fraction)
    b = split_indices(fnn.random.key(seed), n, fraction)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def test_different_keys_give_different_splits():
    tests = {tuple(split_indices(fnn.random.key(seed), 50, 0.3)[1]) for seed in range(20)}
    assert len(tests) == 20
    root = fnn.random.key(0)
    assert len({tuple(split_indices(k, 50, 0.3)[1]) for k in fnn.random.split(root, 10)}) == 10


def test_split_is_pinned_across_versions():
    # fnn.fit(validation=...) relies on this split; changing it changes users' validation sets.
    train, test = split_indices(fnn.random.key(0), 10, 0.3)
    labelled = split_indices(fnn.random.key(0), 10, 0.3, labels=[0] * 5 + [1] * 5)
    assert (train.tolist(), test.tolist()) == (GOLDEN_PLAIN_TRAIN, GOLDEN_PLAIN_TEST)
    assert labelled[1].tolist() == GOLDEN_STRATIFIED_TEST


GOLDEN_PLAIN_TRAIN, GOLDEN_PLAIN_TEST = [1, 2, 4, 5, 6, 7, 9], [0, 3, 8]
GOLDEN_STRATIFIED_TEST = [0, 3, 6]


class_counts = st.lists(st.integers(1, 40), min_size=1, max_size=6)


@given(class_counts, fractions, seeds, st.sampled_from([np.int64, np.int8, np.uint16]))
def test_stratified_split_covers_every_class_and_keeps_quotas(counts, fraction, seed, dtype):
    counts = np.array(counts)
    n = int(counts.sum())
    if n < 2:
        return
    codes = rng(seed).permutation(np.repeat(np.arange(counts.size), counts))
    values = np.array([3, 0, 7, 100, 1, 42], dtype)  # arbitrary label values, not 0..C-1
    labels = frozen(values[codes])
    train, test = split_indices(fnn.random.key(seed), n, fraction, labels=labels)
    assert_partition(train, test, n)
    t = min(max(math.floor(fraction * n + 0.5), 1), n - 1)
    taken = np.bincount(codes[test], minlength=counts.size)
    big = counts >= 2
    # every class of two or more rows appears on both sides
    assert np.all(taken[big] >= 1) and np.all(taken[big] <= counts[big] - 1)
    # the total is t, or as close to it as that guarantee allows
    assert test.size == np.clip(t, big.sum(), n - big.sum())
    quota = counts * t / n
    if np.all((quota[big] >= 1) & (quota[big] <= counts[big] - 1)):
        assert test.size == t
        assert np.all(np.abs(taken - quota) < 1)


def test_stratified_split_of_three_sorted_classes():
    # the Iris trap: sorted by class, a plain head/tail split would test one class only
    labels = np.repeat([0, 1, 2], 50)
    train, test = split_indices(fnn.random.key(3), 150, 0.2, labels=labels)
    assert np.bincount(labels[test]).tolist() == [10, 10, 10]
    assert np.bincount(labels[train]).tolist() == [40, 40, 40]


def test_coverage_wins_over_the_exact_size():
    labels = np.repeat([0, 1, 2], 2)
    _, test = split_indices(fnn.random.key(0), 6, 1, labels=labels)
    assert sorted(labels[test].tolist()) == [0, 1, 2]
    _, test = split_indices(fnn.random.key(0), 6, 5, labels=labels)
    assert test.size == 3


def test_singleton_classes_go_to_one_side():
    labels = np.array([0, 1, 2, 3, 4, 5, 5, 5, 5, 5])
    train, test = split_indices(fnn.random.key(0), 10, 0.2, labels=labels)
    assert test.size == 2 and 5 in labels[test] and 5 in labels[train]


@given(st.integers(2, 60), fractions, seeds)
def test_unstratified_splits_ignore_the_labels(n, fraction, seed):
    k = fnn.random.key(seed)
    plain = split_indices(k, n, fraction)[1]
    ints = np.arange(n) % 3
    assert np.array_equal(split_indices(k, n, fraction, labels=ints, stratify=False)[1], plain)
    floats = np.linspace(0, 1, n)  # regression targets
    assert np.array_equal(split_indices(k, n, fraction, labels=floats)[1], plain)
    soft = np.full((n, 2), 0.5)  # probability targets
    assert np.array_equal(split_indices(k, n, fraction, labels=soft)[1], plain)


@given(st.integers(4, 60), fractions, seeds)
def test_one_hot_and_column_labels_stratify_like_their_labels(n, fraction, seed):
    k = fnn.random.key(seed)
    labels = np.arange(n) % 3
    expected = split_indices(k, n, fraction, labels=labels)[1]
    assert np.array_equal(split_indices(k, n, fraction, labels=one_hot(labels))[1], expected)
    assert np.array_equal(split_indices(k, n, fraction, labels=labels[:, None])[1], expected)


@pytest.mark.parametrize(
    "n, test_size, words",
    [
        (1, 0.5, "n (the number of rows)"),
        (True, 0.5, "n (the number of rows)"),
        (10, 0.0, "(0, 1)"),
        (10, 1.0, "(0, 1)"),
        (10, -0.1, "(0, 1)"),
        (10, 1.5, "(0, 1)"),
        (10, 0, "[1, 9]"),
        (10, 10, "[1, 9]"),
        (10, True, "test_size"),
        (10, "0.2", "test_size"),
    ],
)
def test_split_rejects_bad_sizes(n, test_size, words):
    with pytest.raises(ConfigError) as e:
        split_indices(fnn.random.key(0), n, test_size)
    assert words in str(e.value)


def test_split_rejects_bad_keys_and_labels():
    with pytest.raises(ConfigError, match="fnn.random.Key"):
        split_indices(0, 10, 0.2)
    with pytest.raises(ShapeError, match="labels with 10 rows"):
        split_indices(fnn.random.key(0), 10, 0.2, labels=np.zeros(9, int))
    with pytest.raises(ShapeError, match="labels with 10 rows"):
        split_indices(fnn.random.key(0), 10, 0.2, labels=np.zeros(9, int), stratify=False)


# ---------------------------------------------------------------- train_test_split


def test_train_test_split_takes_the_rows_split_indices_names():
    x = frozen(np.arange(40.0).reshape(20, 2))
    y = frozen(np.arange(20) % 2)
    x_tr, x_te, y_tr, y_te = train_test_split(fnn.random.key(5), x, y, test_size=0.3)
    train, test = split_indices(fnn.random.key(5), 20, 0.3, labels=y)
    assert np.array_equal(x_tr, x[train]) and np.array_equal(x_te, x[test])
    assert np.array_equal(y_tr, y[train]) and np.array_equal(y_te, y[test])
    assert np.bincount(y_te).tolist() == [3, 3]
    assert x_tr.flags.writeable  # new arrays, not views of the read-only input


def test_train_test_split_checks_rows():
    with pytest.raises(ShapeError, match=r"\(10, 2\) and \(9,\)"):
        train_test_split(fnn.random.key(0), np.zeros((10, 2)), np.zeros(9))


# ---------------------------------------------------------------- Standardizer

# Values on a coarse grid keep every non-constant column well conditioned.
grid_matrices = st.tuples(st.integers(2, 30), st.integers(1, 5)).flatmap(
    lambda shape: hnp.arrays(np.int64, shape, elements=st.integers(-2000, 2000)).map(lambda a: a / 2)
)


@given(grid_matrices, st.sampled_from([np.float32, np.float64]))
def test_standardized_training_columns_have_mean_0_and_std_1(x, dtype):
    x = frozen(x.astype(dtype))
    s = Standardizer.fit(x)
    z = s.transform(x)
    assert z.dtype == dtype and s.mean.dtype == dtype and s.scale.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-9
    constant = np.ptp(x, axis=0) == 0
    assert np.allclose(z.mean(axis=0), 0, atol=tol)
    assert np.allclose(z[:, ~constant].std(axis=0), 1, atol=tol)
    assert np.all(z[:, constant] == 0)  # centred exactly, never divided by zero


@given(grid_matrices, st.data())
def test_test_rows_use_training_statistics(x_train, data):
    x_test = data.draw(hnp.arrays(np.float64, (3, x_train.shape[1]), elements=st.floats(-1e3, 1e3)))
    s = Standardizer.fit(x_train)
    mean = x_train.mean(axis=0)
    std = np.where(np.ptp(x_train, axis=0) == 0, 1, x_train.std(axis=0))
    assert np.allclose(s.transform(x_test), (x_test - mean) / std)
    _, test_s, s2 = standardize(x_train, x_test)
    assert np.array_equal(test_s, s.transform(x_test))
    assert np.array_equal(s2.mean, s.mean) and np.array_equal(s2.scale, s.scale)


@given(grid_matrices, st.data())
def test_inverse_transform_undoes_transform(x_train, data):
    x = data.draw(hnp.arrays(np.float64, (4, x_train.shape[1]), elements=st.floats(-1e3, 1e3)))
    s = Standardizer.fit(x_train)
    assert np.allclose(s.inverse_transform(s.transform(x)), x, rtol=1e-12, atol=1e-9)
    assert np.allclose(s.transform(s.inverse_transform(x)), x, rtol=1e-12, atol=1e-9)


def test_standardizer_is_frozen_and_keeps_dtypes():
    x = frozen([[1, 10], [3, 10]])  # integers: statistics and outputs in float64
    s = Standardizer.fit(x)
    assert s.mean.tolist() == [2.0, 10.0] and s.scale.tolist() == [1.0, 1.0]
    assert s.transform(x).dtype == np.float64 and s.transform(x).tolist() == [[-1, 0], [1, 0]]
    assert s.transform(np.ones((1, 2), np.float32)).dtype == np.float32
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.mean = np.zeros(2)
    with pytest.raises(ValueError, match="read-only"):
        s.scale[0] = 2
    s32 = Standardizer.fit(np.array([[0.0], [2.0]], np.float32))
    assert s32.transform(np.array([[4]])).dtype == np.float32
    assert s32.transform(np.array([4.0])).tolist() == [3.0]  # one sample as a 1-D row


def test_standardize_returns_every_array_then_the_scaler():
    a, b, c = np.array([[1.0], [3.0]]), np.array([[5.0]]), np.array([[1.0], [2.0]])
    out = standardize(a, b, c)
    assert len(out) == 4 and isinstance(out[-1], Standardizer)
    assert [o.ravel().tolist() for o in out[:3]] == [[-1, 1], [3], [-1, 0]]
    train_s, scaler = standardize(a)
    assert train_s.ravel().tolist() == [-1, 1]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: Standardizer.fit(np.zeros(3)), ShapeError, "x_train of shape (n, d)"),
        (lambda: Standardizer.fit(np.zeros((0, 3))), ShapeError, "n >= 1"),
        (lambda: Standardizer.fit(np.array([[1.0, np.nan]])), NonFiniteError, "row 0, column 1"),
        (lambda: Standardizer.fit(np.array([["a"]])), DtypeError, "numeric"),
        (lambda: Standardizer.fit(np.zeros((2, 3))).transform(np.zeros((2, 4))), ShapeError, "3 columns"),
        (lambda: Standardizer.fit(np.zeros((2, 3))).inverse_transform(np.float64(1)), ShapeError, "3 columns"),
        (lambda: Standardizer(np.zeros(2), np.zeros(2)), ConfigError, "positive scale"),
        (lambda: Standardizer(np.zeros(2), np.ones(3)), ShapeError, "one shape"),
        (lambda: Standardizer(np.zeros(2), np.ones(2, np.float32)), DtypeError, "one float dtype"),
    ],
)
def test_standardizer_rejects_bad_input(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert words in str(e.value)


# ---------------------------------------------------------------- load_digits and load_sklearn


def test_load_digits_shapes_dtypes_and_balance():
    x, y = load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 1
    counts = np.bincount(y)
    assert counts.size == 10 and counts.sum() == 1797 and np.all((counts >= 170) & (counts <= 190))


def test_load_digits_is_deterministic_and_returns_fresh_arrays():
    x1, y1 = load_digits()
    x1[0, 0] = 99
    x2, y2 = load_digits()
    assert x2[0, 0] != 99 and np.array_equal(y1, y2)
    raw, _ = load_digits(scale=False, dtype=np.uint8)
    assert raw.dtype == np.uint8 and raw.max() == 16
    assert np.array_equal(load_digits(dtype=np.float64)[0], raw / 16)


@pytest.mark.parametrize("dtype, scale", [(np.int64, True), (np.int8, False)])
def test_load_digits_rejects_dtypes_that_cannot_hold_the_pixels(dtype, scale):
    with pytest.raises(ConfigError, match="load_digits"):
        load_digits(dtype=dtype, scale=scale)


def test_load_sklearn_rejects_unknown_names_before_importing(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ConfigError, match="iris, digits, breast_cancer, wine"):
        load_sklearn("mnist")


def test_load_sklearn_says_how_to_install_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'fnn\[sklearn\]'"):
        load_sklearn("iris")


def test_load_sklearn_converts_what_scikit_learn_returns(monkeypatch):
    calls = []

    def load_wine(*, return_X_y):
        calls.append(return_X_y)
        return np.array([[1.5, 2.0], [3.0, 4.0]]), np.array([0, 2], np.int32)

    fake = types.ModuleType("sklearn.datasets")
    fake.load_wine = load_wine
    monkeypatch.setitem(sys.modules, "sklearn", types.ModuleType("sklearn"))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", fake)
    x, y = load_sklearn("wine")
    assert calls == [True]
    assert x.dtype == np.float32 and x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert y.dtype == np.int64 and y.tolist() == [0, 2]
    assert load_sklearn("wine", dtype=np.float64)[0].dtype == np.float64
    with pytest.raises(ConfigError, match="float dtype"):
        load_sklearn("wine", dtype=np.int32)


# ---------------------------------------------------------------- IDX files

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@given(
    st.sampled_from(IDX_DTYPES).flatmap(
        lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    ),
    st.booleans(),
)
def test_read_idx_inverts_write_idx(tmp_path_factory, a, compress):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, frozen(a))
    b = read_idx(path)
    assert b.dtype == a.dtype and b.shape == a.shape and b.tobytes() == a.tobytes()
    assert b.dtype.isnative and b.flags.writeable
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_write_idx_writes_the_documented_format(tmp_path):
    write_idx(tmp_path / "a", np.array([[1, 2, 3], [4, 5, 6]], np.uint8))
    assert (tmp_path / "a").read_bytes() == bytes.fromhex("00000802 00000002 00000003 010203040506")
    write_idx(tmp_path / "b", np.array([258, -2], ">i2").astype("<i2"))
    assert (tmp_path / "b").read_bytes() == bytes.fromhex("00000b01 00000002 0102fffe")
    write_idx(tmp_path / "c.gz", np.arange(3, dtype=np.float64))
    assert gzip.decompress((tmp_path / "c.gz").read_bytes())[:8] == bytes.fromhex("00000e01 00000003")


def test_write_idx_is_reproducible_and_read_idx_sniffs_gzip(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    write_idx(tmp_path / "1.gz", a)
    write_idx(tmp_path / "2.gz", a)
    assert (tmp_path / "1.gz").read_bytes() == (tmp_path / "2.gz").read_bytes()
    (tmp_path / "plain-name").write_bytes((tmp_path / "1.gz").read_bytes())
    assert np.array_equal(read_idx(tmp_path / "plain-name"), a)
    assert np.array_equal(read_idx(str(tmp_path / "1.gz")), a)


def _idx_bytes():
    return bytes.fromhex("00000802 00000002 00000003 010203040506")


CORRUPTIONS = {
    "empty": (lambda b: b"", "truncated IDX header"),
    "three bytes": (lambda b: b[:3], "truncated IDX header"),
    "wrong magic": (lambda b: b"\x01" + b[1:], "magic"),
    "png": (lambda b: b"\x89PNG\r\n\x1a\n" + b, "magic"),
    "unknown type code": (lambda b: b[:2] + b"\x0a" + b[3:], "type code 0x0A"),
    "zero dimensions": (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
    "cut in the dimensions": (lambda b: b[:9], "truncated IDX header: 12 bytes"),
    "cut in the data": (lambda b: b[:-1], "truncated data"),
    "extra byte": (lambda b: b + b"\x00", "left over"),
    "dimension too large": (lambda b: b[:8] + b"\x00\x00\x01\x00" + b[12:], "needs 512 data bytes, found 6"),
    "gzip cut short": (lambda b: gzip.compress(b, mtime=0)[:-6], "gzip"),
    "gzip bit flip": (lambda b: _flip(gzip.compress(b * 50, mtime=0), 30), "gzip"),
    "gzip trailing garbage": (lambda b: gzip.compress(b, mtime=0) + b"junk", "gzip"),
}


def _flip(data, i):
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_read_idx_rejects_broken_files_naming_them(tmp_path, name):
    corrupt, words = CORRUPTIONS[name]
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(corrupt(_idx_bytes()))
    with pytest.raises(FormatError) as e:
        read_idx(path)
    assert str(path) in str(e.value) and words in str(e.value)


def test_read_idx_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize(
    "array, error, words",
    [
        (np.zeros(2, np.int64), DtypeError, "int64"),
        (np.zeros(2, bool), DtypeError, "bool"),
        (np.zeros(2, np.float16), DtypeError, "float16"),
        (np.uint8(3), ShapeError, "shape ()"),
    ],
)
def test_write_idx_rejects_what_idx_cannot_hold(tmp_path, array, error, words):
    with pytest.raises(error, match="write_idx") as e:
        write_idx(tmp_path / "a", array)
    assert words in str(e.value) and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- load_mnist

MNIST_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def _write_mnist(directory, kind="train", n=5, gz=(False, False), images=None, labels=None):
    g = rng(n)
    images = g.integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
    labels = g.integers(0, 10, n, dtype=np.uint8) if labels is None else labels
    prefix = "train" if kind == "train" else "t10k"
    write_idx(directory / (f"{prefix}-images-idx3-ubyte" + ".gz" * gz[0]), images)
    write_idx(directory / (f"{prefix}-labels-idx1-ubyte" + ".gz" * gz[1]), labels)
    return images, labels


@pytest.mark.parametrize("gz", [(False, False), (True, True), (True, False), (False, True)])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_reads_raw_and_gzipped_files(tmp_path, kind, gz):
    images, labels = _write_mnist(tmp_path, kind, gz=gz)
    x, y = load_mnist(tmp_path, kind=kind)
    assert x.shape == (5, 784) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(x, images.reshape(5, 784).astype(np.float32) / np.float32(255))
    assert np.array_equal(y, labels)
    raw, _ = load_mnist(str(tmp_path), kind=kind, dtype=np.uint8, scale=False)
    assert np.array_equal(raw, images.reshape(5, 784))


def test_load_mnist_names_every_expected_file(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        load_mnist(tmp_path / "absent")
    message = str(e.value)
    assert all(name in message for name in MNIST_NAMES)
    assert "absent" in message and "does not exist" in message and ".gz" in message
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(FileNotFoundError, match="missing: t10k-labels-idx1-ubyte") as e:
        load_mnist(tmp_path, kind="test")
    assert all(name in str(e.value) for name in MNIST_NAMES)


@pytest.mark.parametrize(
    "images, labels, words",
    [
        (np.zeros((3, 2, 2), np.uint8), np.zeros(2, np.uint8), "holds 3 images but"),
        (np.zeros((3, 2, 2), np.float32), np.zeros(3, np.uint8), "uint8 images"),
        (np.zeros((3, 4), np.uint8), np.zeros(3, np.uint8), "uint8 images"),
        (np.zeros((3, 2, 2), np.uint8), np.zeros((3, 1), np.uint8), "uint8 labels"),
    ],
)
def test_load_mnist_rejects_mismatched_files(tmp_path, images, labels, words):
    _write_mnist(tmp_path, images=images, labels=labels)
    with pytest.raises(FormatError, match=words):
        load_mnist(tmp_path)


def test_load_mnist_rejects_bad_options(tmp_path):
    _write_mnist(tmp_path)
    with pytest.raises(ConfigError, match="'train', 'test'"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(ConfigError, match="float dtype"):
        load_mnist(tmp_path, dtype=np.int32)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08")
    with pytest.raises(FormatError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)


# ---------------------------------------------------------------- load_csv


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_with_a_header_and_a_named_target(tmp_path):
    path = _csv(tmp_path, "\ufeffa,label,b\n1,0,2.5\n\n3,1,4\n")
    x, y = load_csv(path, target="label")
    assert x.dtype == np.float32 and x.tolist() == [[1, 2.5], [3, 4]]
    assert y.dtype == np.int64 and y.tolist() == [0, 1]
    x, y = load_csv(path, target=0, dtype=np.float64)
    assert x.dtype == np.float64 and x.tolist() == [[0, 2.5], [1, 4]] and y.tolist() == [1, 3]


def test_load_csv_without_a_header(tmp_path):
    path = _csv(tmp_path, '5.1,3.5,0\n4.9,"3.0",2\n')
    x, y = load_csv(path)
    assert np.allclose(x, [[5.1, 3.5], [4.9, 3.0]]) and y.tolist() == [0, 2]
    x, y = load_csv(path, target=1)
    assert y.dtype == np.float32 and y.tolist() == [3.5, 3.0]
    x, y = load_csv(path, header=True)  # the first line is taken as names when told so
    assert x.shape == (1, 2)
    x, y = load_csv(_csv(tmp_path, "1;2\n3;4\n", "semi.csv"), delimiter=";")
    assert x.tolist() == [[1], [3]] and y.tolist() == [2, 4]


@pytest.mark.parametrize(
    "text, kwargs, error, words",
    [
        ("a,b\n1,2\n3,x\n", {}, FormatError, "line 3, column 2 ('b'): a finite number expected, got 'x'"),
        ("1,2\n3,\n", {}, FormatError, "line 2, column 2: a finite number expected, got ''"),
        ("1,2\n3,nan\n", {}, FormatError, "line 2, column 2"),
        ("1,2\n3,4,5\n", {}, FormatError, "line 2: 2 cells expected"),
        ("a,b\n1,2\n", {"header": False}, FormatError, "line 1, column 1"),
        ("", {}, FormatError, "no data lines"),
        ("a,b\n", {}, FormatError, "no data lines"),
        ("", {"header": True}, FormatError, "no data lines"),
        ("1\n2\n", {}, FormatError, "at least 2 columns"),
        ("1,2\n", {"target": "b"}, ConfigError, "no header"),
        ("a,b\n1,2\n", {"target": "c"}, ConfigError, "columns: a, b"),
        ("a,a\n1,2\n", {"target": "a"}, ConfigError, "more than one column"),
        ("1,2\n", {"target": 2}, ConfigError, "[-2, 1]"),
        ("1,2\n", {"target": True}, ConfigError, "target"),
        ("1,2\n", {"dtype": np.int64}, ConfigError, "float dtype"),
    ],
)
def test_load_csv_errors_name_the_line_and_column(tmp_path, text, kwargs, error, words):
    path = _csv(tmp_path, text)
    with pytest.raises(error) as e:
        load_csv(path, **kwargs)
    assert words in str(e.value)


def test_load_csv_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "nope.csv")


# ---------------------------------------------------------------- purity


def test_no_global_random_state_is_used():
    source = Path(fnn.data.__file__).read_text(encoding="utf-8")
    assert "np.random." not in source and "import random" not in source
