"""File-mutation fuzzing of ``fnn.load`` within a memory budget (issue 16).

Every mutated file must either raise :class:`~fnn.errors.FormatError` or load a value that is
sound: the original itself (for mutations the checksum covers), or, for re-signed mutations
(the checksum recomputed, as a tampering tool would), a value that saves and loads back equal
and whose networks run (a batch of ``n`` rows gives ``n`` outputs). Any other exception fails.
Each load's peak traced memory (NumPy reports its buffers to tracemalloc) must stay within a
small multiple of the file's size.

Mutations: byte flips, truncations, forged zip-directory sizes, forged ``.npy`` header shapes,
re-signed JSON header edits (any node of the tree replaced, deleted or given another value,
array shapes and dtypes changed with arrays to match) and re-signed array reshapes.

The default run takes seconds (CI); ``pytest -m slow tests/test_fuzz_files.py`` runs the same
properties with many more examples.
"""

import json
import pathlib
import tempfile
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fnn
from fnn import io
from fnn.errors import FormatError
from fnn.io import _files

BUDGET_FACTOR, BUDGET_SLACK = 3, 256 * 1024  # a load may use 3x the file's bytes plus 256 KiB
FAST, SLOW = 50, 3000  # examples per property


def _bases():
    key = fnn.random.key(0)
    params = fnn.init(key, fnn.mlp([4, 6, 3]))
    conv = fnn.init(
        key, fnn.Sequential([fnn.Conv1D(3, 2), fnn.BatchNorm(), fnn.Flatten(), fnn.Dense(2)], in_shape=(5, 2))
    )
    stack = fnn.stack([fnn.init(fnn.random.key(i), fnn.mlp([3, 4, 2])) for i in range(3)])
    state = fnn.TrainState.create(params, fnn.optim.adam(1e-3), key=fnn.random.key(1))
    history = {"loss": np.array([0.9, 0.5]), "val_loss": np.array([1.0, 0.7])}
    return {"params": params, "conv": conv, "stack": stack, "state": state, "tree": {"h": history, "epoch": 3}}


BASES = _bases()
_DIR = pathlib.Path(tempfile.mkdtemp(prefix="fnn-fuzz-"))
RAW = {name: io.save(_DIR / f"{name}.npz", value).read_bytes() for name, value in BASES.items()}
NAMES = sorted(RAW)


def _load_within_budget(data: bytes):
    """(value or FormatError) of loading ``data``; fails on any other exception or on a peak over the budget."""
    path = _DIR / "mutant.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        try:
            out = io.load(path)
        except FormatError as e:
            out = e
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= BUDGET_FACTOR * len(data) + BUDGET_SLACK, f"{peak} bytes traced loading a {len(data)}-byte file"
    return out


def _sound(value):
    """A loaded value is sound: it saves and loads back equal, and its networks map n rows to n outputs."""
    again = io.load(io.save(_DIR / "again.npz", value))
    assert fnn.tree.equal(again, value)
    for net in _networks(value):
        if net.members is None and len(net.in_shape) >= 1:
            x = np.zeros((2, *net.in_shape), net.dtype)
            y = fnn.apply(net, x)
            assert y.shape[0] == 2


def _networks(value):
    if isinstance(value, fnn.layers.SequentialParams):
        return [value]
    if isinstance(value, fnn.TrainState):
        return _networks(value.params)
    if isinstance(value, (tuple, list)):
        return [n for v in value for n in _networks(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _networks(v)]
    return []


# ------------------------------------------------------------------ strategies


@st.composite
def flips(draw):
    name = draw(st.sampled_from(NAMES))
    data = bytearray(RAW[name])
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return name, bytes(data)


@st.composite
def truncations(draw):
    name = draw(st.sampled_from(NAMES))
    return name, RAW[name][: draw(st.integers(0, len(RAW[name]) - 1))]


_HUGE = st.sampled_from([2**31, 2**32 - 1, 2**33, 2**40, 2**62, 10**12])


@st.composite
def forged_sizes(draw):
    """A member's sizes in the central directory set to something else (zip64 extra fields rewritten too)."""
    name = draw(st.sampled_from(NAMES))
    src = _DIR / f"{name}.npz"
    with zipfile.ZipFile(src) as zf:
        members = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
    target = draw(st.integers(0, len(members) - 1))
    size = draw(st.one_of(_HUGE, st.integers(0, 2 * len(RAW[name]))))
    out = _DIR / "forged.npz"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for filename, data in members:
            zf.writestr(zipfile.ZipInfo(filename, date_time=(1980, 1, 1, 0, 0, 0)), data)
        info = zf.infolist()[target]
        info.file_size = size
        info.compress_size = draw(st.sampled_from([size, info.compress_size]))
    return name, out.read_bytes()


@st.composite
def forged_npy_shapes(draw):
    """An array's .npy header and the JSON header agree on a forged shape; the zip says the member's true size."""
    name = draw(st.sampled_from(NAMES))
    header, arrays = _raw_parts(_DIR / f"{name}.npz")
    i = draw(st.integers(0, len(arrays) - 1))
    shape = tuple(draw(st.lists(st.one_of(st.integers(0, 8), _HUGE), min_size=0, max_size=3)))
    header["arrays"][i]["shape"] = list(shape)
    data = _write(header, arrays, resign=False)
    old = _npy_header(arrays[i].shape, arrays[i].dtype)
    new = _npy_header(shape, arrays[i].dtype)
    if len(old) == len(new):
        data = data.replace(old, new, 1)
    return name, data


def _npy_header(shape, dtype):
    import io as _pyio

    import numpy.lib.format as npy

    buf = _pyio.BytesIO()
    npy.write_array_header_1_0(
        buf, {"descr": npy.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    )
    return buf.getvalue()


_JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10),
    _HUGE,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["float32", "float64", "int32", "O", "U3", "relu", "softmax"]),
)
_JSON = st.recursive(
    _JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "array",
                    "tuple",
                    "list",
                    "dict",
                    "node",
                    "attrs",
                    "fields",
                    "children",
                    "static",
                    "packed",
                    "scalar",
                    "float",
                    "dtype",
                ]
            ),
            inner,
            max_size=3,
        ),
        st.builds(lambda i: {"array": i}, st.integers(0, 8)),
        st.builds(lambda xs: {"tuple": xs}, st.lists(inner, max_size=3)),
    ),
    max_leaves=6,
)


def _slots(enc, path=()):
    """Every (path, value) inside a JSON value: the places an edit can hit."""
    yield path, enc
    if type(enc) is dict:
        for k, v in enc.items():
            yield from _slots(v, (*path, k))
    elif type(enc) is list:
        for i, v in enumerate(enc):
            yield from _slots(v, (*path, i))


def _set(enc, path, value, delete=False):
    for p in path[:-1]:
        enc = enc[p]
    if delete and type(enc) is dict:
        del enc[path[-1]]
    elif delete and type(enc) is list:
        enc.pop(path[-1])
    else:
        enc[path[-1]] = value


@st.composite
def resigned_headers(draw):
    """A JSON header edit (any slot of the tree replaced or deleted), the checksum recomputed."""
    name = draw(st.sampled_from(NAMES))
    header, arrays = _raw_parts(_DIR / f"{name}.npz")
    slots = [p for p, _ in _slots(header["tree"]) if p]
    path = draw(st.sampled_from(slots))
    if draw(st.booleans()):
        _set(header["tree"], path, None, delete=True)
    else:
        _set(header["tree"], path, draw(_JSON))
    return name, _write(header, arrays, resign=True)


@st.composite
def resigned_arrays(draw):
    """An array reshaped, recast, grown or shrunk, its header entry and the checksum to match."""
    name = draw(st.sampled_from(NAMES))
    header, arrays = _raw_parts(_DIR / f"{name}.npz")
    i = draw(st.integers(0, len(arrays) - 1))
    a = arrays[i]
    how = draw(st.sampled_from(["axis", "flat", "transpose", "grow", "shrink", "scalar", "empty", "dtype"]))
    if how == "axis":
        a = a.reshape(1, *a.shape)
    elif how == "flat":
        a = a.reshape(-1)
    elif how == "transpose":
        a = np.ascontiguousarray(a.T)
    elif how == "grow":
        a = np.zeros((a.size + draw(st.integers(1, 5)),), a.dtype)
    elif how == "shrink":
        a = a.reshape(-1)[: max(0, a.size - draw(st.integers(1, 3)))].copy()
    elif how == "scalar":
        a = np.zeros((), a.dtype)
    elif how == "empty":
        a = np.zeros((0,) + a.shape[1:], a.dtype)
    else:
        a = a.astype(draw(st.sampled_from([np.float16, np.float64, np.int32, np.float32, np.bool_])))
    arrays[i] = a
    header["arrays"][i] = {"name": f"a{i}", "dtype": a.dtype.name, "shape": list(a.shape)}
    return name, _write(header, arrays, resign=True)


def _raw_parts(path):
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["__header__"].tobytes().decode("utf-8"))
        arrays = [npz[f"a{i}"] for i in range(len(header["arrays"]))]
    return header, arrays


def _write(header, arrays, *, resign):
    if resign:
        header["sha256"] = _files._checksum(header, arrays)
    out = _DIR / "written.npz"
    with open(out, "wb") as f:
        _files._write_npz(f, _files._canonical(header), arrays)
    return out.read_bytes()


# ------------------------------------------------------------------ properties


def _unsigned(case):
    name, data = case
    out = _load_within_budget(data)
    if not isinstance(out, FormatError):
        assert fnn.tree.equal(out, BASES[name]), "a mutation the checksum covers loaded a different value"


def _resigned(case):
    _, data = case
    out = _load_within_budget(data)
    if not isinstance(out, FormatError):
        _sound(out)


PROPERTIES = {
    "flips": (flips(), _unsigned),
    "truncations": (truncations(), _unsigned),
    "forged_sizes": (forged_sizes(), _unsigned),
    "forged_npy_shapes": (forged_npy_shapes(), _unsigned),
    "resigned_headers": (resigned_headers(), _resigned),
    "resigned_arrays": (resigned_arrays(), _resigned),
}


def _run(name, examples):
    strategy, check = PROPERTIES[name]
    test = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(strategy)(check))
    test()


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_mutated_files_are_format_errors_or_sound_within_budget(name):
    _run(name, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_mutated_files_at_length(name):
    _run(name, SLOW)
