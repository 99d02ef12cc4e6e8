"""Saving and loading without pickle: one ``.npz`` per save, checkpoints, and a plain-JSON export.

**What can be saved.** ``save(path, obj)`` stores any pytree (see :mod:`fnn.tree`)
whose parts fnn can describe, and :func:`load` gives back the same kind of value,
bit for bit:

- params from :func:`fnn.init` (a ``SequentialParams``), or any tree of arrays;
- a :class:`fnn.TrainState` (params, optimizer state, key, step and optimizer);
- a history from :func:`fnn.fit` (a dict of str to 1-D or 2-D arrays);
- tuples, lists and dicts combining them (``{"state": state, "history": history}``).

Leaves may be arrays of a boolean or numeric dtype, NumPy scalars, Python
``int``/``float``/``bool``/``str`` (they come back with their type: an
optimizer's ``count`` stays an ``int``), and value objects: fnn's own (keys,
specs, optimizers, schedules, transforms, initializers, early-stopping rules) and
a user's, declared with :func:`fnn.tree.value_class`. Static fields hold the
same kinds of value plus tuples, lists, dicts and ``np.dtype``. An optimizer made
by :func:`fnn.optim.from_update` cannot be saved: its state lives in a user's
object, outside fnn.

**The file.** A zip archive of ``.npy`` members, uncompressed, that
``np.load(path, allow_pickle=False)`` reads without fnn:

- ``__header__``: a uint8 array of UTF-8 JSON (keys sorted) with ``format``
  (``"fnn"``), ``format_version``, ``fnn_version``, ``kind`` (``params``,
  ``train_state``, ``history`` or ``tree``), ``fingerprint`` (see
  :func:`fingerprint`; informational), ``arrays`` (the name, dtype and shape of
  each array member), ``tree`` (the encoded tree) and ``sha256``.
- ``a0``, ``a1``, ...: every array, in the order the encoding meets them
  (for params: layer by layer, weight before bias).

``sha256`` is the SHA-256 of the header without that field (as canonical JSON)
followed by each array's name, dtype, shape and bytes, so any change to a
value, static setting or array is detected. The tree encoding is JSON objects
with one tag each: ``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": [[key,
value], ...]}``, ``null`` for ``None``, ``{"node": "module:Class", "children":
{...}, "static": {...}}`` for a registered node, ``{"array": i}`` for an array,
plain JSON for Python scalars and strings, ``{"float": "nan"}`` for a
non-finite float, ``{"dtype": "float32"}``, and ``{"attrs": "module:Class",
"fields": {...}}`` for a value object (``module:Class`` is the name the class
was registered under; see :func:`fnn.tree.save_info`). A node whose leaves shared
one flat buffer, or whose class is registered with ``packed=True`` (params) or
is a child its parent's class names in ``packed_children`` (a TrainState's
params), carries ``"packed": true`` and is loaded into one flat, read-only buffer
again, so ``fnn.tree.ravel`` of loaded params copies nothing.

**Loading runs no code.** Arrays are read with ``allow_pickle=False`` after
their ``.npy`` header is checked (a boolean or numeric dtype, the shape and
dtype the JSON header lists, the member's size). Class names in a file are
looked up only among the classes registered in this process with
:func:`fnn.tree.register` (nodes) or :func:`fnn.tree.value_class` (values, fnn's
own included): these are the load allowlist, and no module named in a file is ever
imported. Objects are rebuilt through their ``__init__``, so their validators
run again: a tampered value is an error, not a wrong model. A file that is
empty, truncated, corrupted, foreign, holds object arrays or a pickle, has a
header that disagrees with its arrays, fails the checksum, or was written by
a newer format version raises :class:`~fnn.errors.FormatError` saying which;
a missing file raises ``FileNotFoundError``.

**Writes are atomic.** Everything is encoded first; then a temporary file in the
target's directory is written, flushed, fsync'ed and renamed over the target,
and the directory is fsync'ed. On any error the temporary file is removed: the
target is either the old file or the complete new one, never half of one.

>>> import tempfile, numpy as np, fnn
>>> from fnn import io
>>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
>>> with tempfile.TemporaryDirectory() as d:
...     path = io.save(f"{d}/model.npz", params)
...     back = io.load(path)
>>> fnn.tree.equal(back, params), back.layers[0].w.dtype, back.layers[0].w.flags.writeable
(True, dtype('float32'), False)
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import platform
import re
import secrets
import struct
import sys
import zipfile
import zlib
from typing import IO, Any, Callable

import attrs
import numpy as np
import numpy.lib.format as npy

from fnn import optim, tree
from fnn._version import __version__
from fnn.errors import ConfigError, DtypeError, FnnError, FormatError, NonFiniteError
from fnn.layers import Activation, DenseParams, Dropout, SequentialParams
from fnn.layers.sequential import float_dtype

__all__ = [
    "save",
    "load",
    "read_header",
    "fingerprint",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "checkpoint_path",
    "export_json",
    "import_json",
    "FORMAT_VERSION",
    "JSON_FORMAT_VERSION",
]

FORMAT = "fnn"
FORMAT_VERSION = 1
"""The version of the ``.npz`` format this fnn writes; it reads every version up to this one."""
JSON_FORMAT = "fnn.json"
JSON_FORMAT_VERSION = 1
"""The version of the JSON export this fnn writes and reads."""

_HEADER = "__header__"
_ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: never object, string, void or datetime
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same value gives the same bytes
_ZIP_MAGIC = b"PK\x03\x04"
_CHECKPOINT = re.compile(r"ckpt-(\d{12,})\.npz")
_PARTIAL_CHECKPOINT = re.compile(r"\.ckpt-\d{12,}\.npz\.[0-9a-f]+\.tmp")  # _atomic_write's name, killed mid-write
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# What a damaged or foreign file can make the zip, npy and JSON readers raise.
_BAD_FILE = (
    zipfile.BadZipFile,
    zlib.error,
    struct.error,
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    OSError,
    EOFError,
    RecursionError,
    OverflowError,
    NotImplementedError,
)


# ------------------------------------------------------------------ classes a file may name


def _class_name(cls: type) -> str:
    """The name files give ``cls``: declared at registration, ``module:qualname`` by default."""
    return tree.save_info(cls).name


def _has_default(cls: type, name: str) -> bool:
    return attrs.fields_dict(cls)[name].default is not attrs.NOTHING


def _node_fields(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(children, static) field names of a registered node class."""
    return tree.node_fields(cls)


def _registered() -> dict[str, type]:
    """Registered node classes by their names in files; a later registration of the same name wins."""
    return {_class_name(cls): cls for cls in tree.registered_classes()}


def _value_classes() -> dict[str, type]:
    """The value classes (not pytree nodes) a file may name, declared with fnn.tree.value_class: the load allowlist."""
    return {_class_name(cls): cls for cls in tree.value_classes()}


# ------------------------------------------------------------------ encoding (save)


def _dtype_name(dt: np.dtype) -> str:
    """``float32`` for native dtypes, the full descriptor (``>f4``) otherwise."""
    return dt.name if np.dtype(dt.name) == dt else dt.str


def _where(path: str) -> str:
    return path or "<root>"


def _one_array_dtype(leaves: list) -> bool:
    return bool(leaves) and all(type(a) is np.ndarray for a in leaves) and len({a.dtype for a in leaves}) == 1


class _Encoder:
    """Turns a tree into its JSON description, collecting the arrays it meets."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.registered = _registered()
        self.values = _value_classes()
        # The classes a file can name: each the holder of its name (not one shadowed by a later registration).
        self.nameable = {*self.registered.values(), *self.values.values()}

    def array(self, a: Any, path: str) -> int:
        a = np.asarray(a)
        if a.dtype.kind not in _ARRAY_KINDS:
            raise DtypeError(
                f"fnn.save: the array at {_where(path)} has dtype {a.dtype}; fnn files hold only boolean and "
                f"numeric arrays (no object, string, structured or datetime dtypes)"
            )
        self.arrays.append(a if a.flags.c_contiguous else a.copy(order="C"))
        return len(self.arrays) - 1

    def tree(self, node: Any, path: str, *, inside_packed: bool = False, force_pack: bool = False) -> Any:
        t = type(node)
        if node is None:
            return None
        if t is not tuple and t is not list and t is not dict and not tree.is_registered(t):
            return self.leaf(node, path)
        if t is dict:
            try:
                sorted(node)
            except TypeError:
                kinds = sorted({type(k).__name__ for k in node})
                raise ConfigError(
                    f"fnn.save: the dict at {_where(path)} has keys that cannot be sorted ({', '.join(kinds)}); "
                    f"a pytree's dict keys must be of one comparable type"
                ) from None
        packed = False
        if not inside_packed:
            leaves = tree.leaves(node)
            forced = force_pack or (tree.is_registered(t) and tree.save_info(t).packed)
            packed = (forced and _one_array_dtype(leaves)) or tree.leaves_are_packed(leaves)
        inner = inside_packed or packed
        if t is tuple or t is list:
            out: dict = {t.__name__: [self.tree(c, f"{path}[{i}]", inside_packed=inner) for i, c in enumerate(node)]}
        elif t is dict:
            out = {
                "dict": [
                    [self.static(k, f"{path} (a key)"), self.tree(v, f"{path}[{k!r}]", inside_packed=inner)]
                    for k, v in node.items()
                ]
            }
        else:
            out = self.node(node, path, inner)
        if packed:
            out["packed"] = True
        return out

    def node(self, node: Any, path: str, inside: bool) -> dict:
        cls = type(node)
        name = _class_name(cls)
        if self.registered.get(name) is not cls:
            raise ConfigError(
                f"fnn.save: the {cls.__qualname__} node at {_where(path)} shares its name {name} with a class "
                f"registered later, so it could not be found again on load"
            )
        children, static = _node_fields(cls)
        # Children declared packed (a TrainState's params) are packed on load even if they were not on save.
        pack = tree.save_info(cls).packed_children
        return {
            "node": name,
            "children": {
                n: self.tree(getattr(node, n), f"{path}.{n}", inside_packed=inside, force_pack=n in pack)
                for n in children
            },
            "static": {n: self.static(getattr(node, n), f"{path}.{n}") for n in static},
        }

    def leaf(self, x: Any, path: str) -> Any:
        if isinstance(x, np.ndarray):
            return {"array": self.array(x, path)}
        return self.static(x, path)

    def static(self, v: Any, path: str) -> Any:
        t = type(v)
        if v is None or t is bool or t is int or t is str:
            return v
        if t is float:
            return v if math.isfinite(v) else {"float": repr(v)}
        if isinstance(v, np.ndarray):
            return {"array": self.array(v, path)}
        if isinstance(v, np.generic):
            return {"array": self.array(v, path), "scalar": True}
        if isinstance(v, np.dtype):
            if v.kind not in _ARRAY_KINDS:
                raise DtypeError(f"fnn.save: the dtype {v} at {_where(path)} is not boolean or numeric")
            return {"dtype": _dtype_name(v)}
        if t is tuple or t is list:
            return {t.__name__: [self.static(x, f"{path}[{i}]") for i, x in enumerate(v)]}
        if t is dict:
            pairs = [[self.static(k, f"{path} (a key)"), self.static(x, f"{path}[{k!r}]")] for k, x in v.items()]
            return {"dict": pairs}
        if isinstance(v, optim.FromUpdate):
            raise ConfigError(
                f"fnn.save: cannot save the optimizer at {_where(path)}: it is fnn.optim.from_update({v.obj!r}), "
                f"whose state lives inside your object, outside fnn, so it could not be restored. Save the params "
                f"alone (state.params), or train with a built-in optimizer such as fnn.optim.momentum"
            )
        if t in self.nameable:
            fields = {
                f.alias: self.static(getattr(v, f.name), f"{path}.{f.name}") for f in attrs.fields(t) if f.init
            }
            return {"attrs": _class_name(t), "fields": fields}
        raise ConfigError(
            f"fnn.save: cannot save the {t.__qualname__} at {_where(path)}: a file holds arrays, numbers, strings, "
            f"None, tuples, lists, dicts, NumPy dtypes, fnn's own keys, specs, optimizers and schedules, and "
            f"attrs classes registered with fnn.tree.register (nodes) or fnn.tree.value_class (values)"
        )


def _kind(obj: Any) -> str:
    for cls in type(obj).__mro__:  # the kind a registered class declares (params, train_state), as isinstance would
        kind = tree.save_info(cls).kind if tree.is_registered(cls) else None
        if kind is not None:
            return kind
    if type(obj) is dict and obj and all(type(k) is str and isinstance(v, np.ndarray) for k, v in obj.items()):
        return "history"
    return "tree"


def fingerprint() -> dict[str, Any]:
    """A description of this machine's numerics, stored in every file for reproducibility checks.

    Results are reproducible bit for bit only on the same NumPy, BLAS, CPU architecture
    and thread settings (BLAS reductions differ across them). fnn records this and
    never acts on it; compare it with :func:`read_header` ``(path)["fingerprint"]``.

    Returns:
        A dict with ``numpy``, ``python``, ``machine``, ``system`` and ``byteorder``, plus
        ``blas`` (name and version, when NumPy reports them) and ``threads`` (the
        ``*_NUM_THREADS`` environment variables that are set).

    >>> from fnn import io
    >>> {"numpy", "python", "machine"} <= set(io.fingerprint())
    True
    """
    info: dict[str, Any] = {
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
        "byteorder": sys.byteorder,
    }
    blas = _blas()
    if blas:
        info["blas"] = blas
    threads = {k: os.environ[k] for k in _THREAD_VARIABLES if k in os.environ}
    if threads:
        info["threads"] = threads
    return info


def _blas() -> str | None:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except Exception:  # noqa: BLE001 - informational only: older NumPy has no mode="dicts"
        return None


def _canonical(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")


def _checksum(header: dict, arrays: list[np.ndarray]) -> str:
    """SHA-256 of the header without ``sha256``, then each array's name, dtype, shape and bytes."""
    h = hashlib.sha256(_canonical({k: v for k, v in header.items() if k != "sha256"}))
    for i, a in enumerate(arrays):
        h.update(f"\na{i} {a.dtype.str} {tuple(a.shape)}\n".encode("ascii"))
        c = a if a.flags.c_contiguous else a.copy(order="C")
        h.update(c.reshape(-1).view(np.uint8))
    return h.hexdigest()


def _encode(obj: Any) -> tuple[bytes, list[np.ndarray]]:
    """(header bytes, arrays) of a file holding ``obj``; raises before anything is written."""
    enc = _Encoder()
    encoded = enc.tree(obj, "")
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fnn_version": __version__,
        "kind": _kind(obj),
        "fingerprint": fingerprint(),
        "arrays": [
            {"name": f"a{i}", "dtype": _dtype_name(a.dtype), "shape": list(a.shape)} for i, a in enumerate(enc.arrays)
        ],
        "tree": encoded,
    }
    header["sha256"] = _checksum(header, enc.arrays)
    return _canonical(header), enc.arrays


def _write_npz(f: IO[bytes], header: bytes, arrays: list[np.ndarray]) -> None:
    members = [(_HEADER, np.frombuffer(header, np.uint8)), *((f"a{i}", a) for i, a in enumerate(arrays))]
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in members:
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                npy.write_array(member, a, allow_pickle=False)


def _atomic_write(path: pathlib.Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file in its directory: flush, fsync, rename, fsync the directory."""
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with 0o666 honours the umask, as an ordinary file would (NamedTemporaryFile makes 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: pathlib.Path) -> None:
    """Make the rename durable; best effort (Windows cannot open a directory, some file systems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path: str | os.PathLike, obj: Any) -> pathlib.Path:
    """Write ``obj`` (params, a TrainState, a history, or a tree of them) to one ``.npz`` file, atomically.

    The file name is used exactly as given (no ``.npz`` is appended). An existing file
    is replaced only once the new one is complete and on disk.

    Args:
        path: the file to write; its directory must exist.
        obj: what to save (the kinds are listed in the :mod:`fnn.io` docstring).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ConfigError: ``obj`` holds something a file cannot describe (a function, an
            unregistered class, a ``from_update`` optimizer); the message gives its path.
        DtypeError: an array of object, string or structured dtype.
        OSError: the directory is missing or not writable.

    See Also:
        :func:`load`, :func:`save_checkpoint`, :func:`export_json`.

    >>> import tempfile, fnn
    >>> from fnn import io
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 3]))
    >>> state = fnn.TrainState.create(p, fnn.optim.adam(1e-3), key=fnn.random.key(1))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = io.load(io.save(f"{d}/run.npz", {"state": state, "epoch": 3}))
    >>> back["epoch"], back["state"].optimizer == state.optimizer, fnn.tree.equal(back, {"state": state, "epoch": 3})
    (3, True, True)
    """
    path = pathlib.Path(os.fspath(path))
    header, arrays = _encode(obj)
    _atomic_write(path, lambda f: _write_npz(f, header, arrays))
    return path


# ------------------------------------------------------------------ decoding (load)


def _fail(where: str, message: str) -> FormatError:
    return FormatError(f"cannot load {where}: {message}")


def _check_keys(enc: Any, required: set[str], optional: set[str], where: str, at: str) -> dict:
    if type(enc) is not dict or not required <= set(enc) or not set(enc) <= required | optional:
        expected = f"an object with keys {sorted(required)}"
        raise _fail(where, f"malformed header at {_where(at)}: expected {expected}, got {_short(enc)}")
    return enc


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _read_member(npz: Any, name: str, where: str, expect: tuple[np.dtype, tuple] | None = None) -> np.ndarray:
    """Read one ``.npy`` member after checking its header: numeric dtype, the expected dtype/shape, its size."""
    info = npz.zip.getinfo(name + ".npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise _fail(where, f"member {name} is compressed; fnn files store their members uncompressed")
    with npz.zip.open(info) as fp:
        version = npy.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = npy.read_array_header_2_0(fp)
        else:
            raise _fail(where, f"member {name} is a .npy file of version {version}, which fnn does not write")
        offset = fp.tell()
    if dtype.hasobject or dtype.kind not in _ARRAY_KINDS:
        raise _fail(
            where,
            f"member {name} holds {dtype} data; fnn files hold only boolean and numeric arrays "
            f"(object arrays would need pickle, which fnn never loads)",
        )
    if expect is not None and (dtype != expect[0] or shape != expect[1]):
        raise _fail(
            where,
            f"array {name}: the header says dtype {expect[0]}, shape {expect[1]}, "
            f"but the file holds dtype {dtype}, shape {shape}",
        )
    size = offset + math.prod(shape) * dtype.itemsize
    if info.file_size != size:
        raise _fail(where, f"member {name} has {info.file_size} bytes, but its .npy header announces {size}")
    return npz[name]


def _parse_dtype(value: Any, where: str, at: str) -> np.dtype:
    if type(value) is not str:
        raise _fail(where, f"malformed header at {at}: a dtype name must be a string, got {_short(value)}")
    try:
        dt = np.dtype(value)
    except TypeError:
        raise _fail(where, f"malformed header at {at}: unknown dtype {value!r}") from None
    if dt.kind not in _ARRAY_KINDS:
        raise _fail(where, f"malformed header at {at}: dtype {value!r} is not boolean or numeric")
    return dt


def _array_specs(header: dict, where: str) -> list[tuple[np.dtype, tuple]]:
    entries = header.get("arrays")
    if type(entries) is not list:
        raise _fail(where, "malformed header: 'arrays' must be a list")
    specs = []
    for i, e in enumerate(entries):
        _check_keys(e, {"name", "dtype", "shape"}, set(), where, f"arrays[{i}]")
        if e["name"] != f"a{i}":
            raise _fail(where, f"malformed header: arrays[{i}] is named {e['name']!r}, expected 'a{i}'")
        shape = e["shape"]
        if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
            raise _fail(
                where, f"malformed header: arrays[{i}] has shape {_short(shape)}, expected a list of integers >= 0"
            )
        specs.append((_parse_dtype(e["dtype"], where, f"arrays[{i}].dtype"), tuple(shape)))
    return specs


def _check_format(header: Any, where: str) -> dict:
    if type(header) is not dict or header.get("format") != FORMAT:
        got = header.get("format") if type(header) is dict else type(header).__name__
        raise _fail(where, f"not an fnn file: its header's format is {got!r}, expected {FORMAT!r}")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise _fail(where, f"malformed header: format_version is {version!r}, expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise _fail(
            where,
            f"it was written by a newer fnn (format version {version}, fnn {header.get('fnn_version', '?')}); "
            f"this fnn ({__version__}) reads format versions up to {FORMAT_VERSION}: upgrade fnn to load it",
        )
    return header


def _read_npz(npz: Any, where: str, with_arrays: bool) -> tuple[dict, list[np.ndarray]]:
    names = npz.zip.namelist()
    if len(set(names)) != len(names):
        raise _fail(where, "the archive lists a member twice")
    if _HEADER + ".npy" not in names:
        raise _fail(
            where,
            f"not an fnn file: it has no {_HEADER} member (a plain .npz, as np.savez writes?); "
            f"members: {', '.join(sorted(names)[:5])}{', ...' if len(names) > 5 else ''}",
        )
    raw = _read_member(npz, _HEADER, where)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _fail(where, f"the {_HEADER} member is {raw.dtype} of shape {raw.shape}, expected 1-D uint8 (UTF-8 JSON)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(where, f"the header is not valid JSON ({e})") from None
    header = _check_format(header, where)
    specs = _array_specs(header, where)
    expected = {_HEADER + ".npy"} | {f"a{i}.npy" for i in range(len(specs))}
    if set(names) != expected:
        missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
        raise _fail(where, f"its members do not match its header: missing {missing}, unexpected {extra}")
    if not with_arrays:
        return header, []
    arrays = [_read_member(npz, f"a{i}", where, spec) for i, spec in enumerate(specs)]
    if header.get("sha256") != _checksum(header, arrays):
        raise _fail(where, "checksum mismatch: the arrays or the header changed after the file was written")
    for a in arrays:
        a.flags.writeable = False
    return header, arrays


def _read_file(path: str | os.PathLike, with_arrays: bool = True) -> tuple[dict, list[np.ndarray], str]:
    where = os.fspath(path)
    with open(path, "rb") as f:  # FileNotFoundError (and other OS errors) propagate as they are
        start = f.read(len(_ZIP_MAGIC))
        if not start:
            raise _fail(where, "the file is empty (0 bytes)")
        if start != _ZIP_MAGIC:
            raise _fail(where, f"not an fnn file: it is not a .npz (zip) archive; it starts with {start!r}")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                header, arrays = _read_npz(npz, where, with_arrays)
        except FormatError:
            raise
        except _BAD_FILE as e:
            raise _fail(where, f"the file is truncated, corrupted or not an fnn file ({type(e).__name__}: {e})") from e
    return header, arrays, where


class _Decoder:
    """Rebuilds a tree from its JSON description and the file's arrays."""

    def __init__(self, arrays: list[np.ndarray], where: str) -> None:
        self.arrays = arrays
        self.where = where
        self.registered = _registered()
        self.values = {**self.registered, **_value_classes()}

    def fail(self, at: str, message: str) -> FormatError:
        return _fail(self.where, f"at {_where(at)} in the header: {message}")

    def tree(self, enc: Any, at: str) -> Any:
        if enc is None:
            return None
        if type(enc) is dict:
            packed = enc.get("packed", False)
            if packed is not False and packed is not True:
                raise self.fail(at, f"'packed' must be true or false, got {_short(packed)}")
            if "tuple" in enc or "list" in enc:
                kind = "tuple" if "tuple" in enc else "list"
                items = _check_keys(enc, {kind}, {"packed"}, self.where, at)[kind]
                if type(items) is not list:
                    raise self.fail(at, f"a {kind} must hold a list, got {_short(items)}")
                built = [self.tree(c, f"{at}[{i}]") for i, c in enumerate(items)]
                return self.packed(tuple(built) if kind == "tuple" else built, packed, at)
            if "dict" in enc:
                pairs = _check_keys(enc, {"dict"}, {"packed"}, self.where, at)["dict"]
                return self.packed(self.dict(pairs, at, self.tree), packed, at)
            if "node" in enc:
                _check_keys(enc, {"node", "children", "static"}, {"packed"}, self.where, at)
                return self.packed(self.node(enc, at), packed, at)
        return self.static(enc, at)

    def packed(self, node: Any, packed: bool, at: str) -> Any:
        if not packed:
            return node
        leaves = tree.leaves(node)
        if not _one_array_dtype(leaves):
            raise self.fail(at, "a packed node must hold arrays of one dtype")
        return tree.pack(node)

    def dict(self, pairs: Any, at: str, value: Callable[[Any, str], Any]) -> dict:
        if type(pairs) is not list or not all(type(p) is list and len(p) == 2 for p in pairs):
            raise self.fail(at, f"a dict must hold a list of [key, value] pairs, got {_short(pairs)}")
        out = {}
        for k, v in pairs:
            key = self.static(k, f"{at} (a key)")
            if key in out:
                raise self.fail(at, f"the key {key!r} appears twice")
            out[key] = value(v, f"{at}[{key!r}]")
        return out

    def node(self, enc: dict, at: str) -> Any:
        name = enc["node"]
        cls = self.registered.get(name) if type(name) is str else None
        if cls is None:
            raise self.fail(
                at,
                f"the node class {_short(name)} is not registered with fnn.tree.register in this process; import "
                f"the module that defines it before loading (fnn.load never imports a module a file names)",
            )
        children, static = _node_fields(cls)
        kids, statics = enc["children"], enc["static"]
        if type(statics) is dict:
            statics = {n: self.static(v, f"{at}.{n}") for n, v in statics.items()}
            migrate = getattr(cls, "migrate_static", None)  # a class that renamed a static field says how
            if migrate is not None:
                statics = migrate(statics)
            # a static field added since the file was written takes its default
            static = tuple(n for n in static if n in statics or not _has_default(cls, n))
        names = [sorted(x) if type(x) is dict else x for x in (kids, statics)]
        if names != [sorted(children), sorted(static)]:
            raise self.fail(
                at,
                f"{cls.__qualname__} has children {sorted(children)} and static fields {sorted(static)} in this "
                f"process, but the file gives {_short(names[0])} and {_short(names[1])}",
            )
        values = {n: self.tree(kids[n], f"{at}.{n}") for n in children}
        values.update({n: statics[n] for n in static})
        return self.construct(cls, values, at)

    def construct(self, cls: type, values: dict, at: str) -> Any:
        by_name = {f.name: f for f in attrs.fields(cls)}
        try:
            kwargs = {by_name[n].alias: v for n, v in values.items() if by_name[n].init}
            return cls(**kwargs)
        except (FnnError, ValueError, TypeError, KeyError) as e:
            raise self.fail(at, f"{cls.__qualname__} rejected the stored values: {type(e).__name__}: {e}") from e

    def array(self, enc: dict, at: str) -> Any:
        _check_keys(enc, {"array"}, {"scalar"}, self.where, at)
        i, scalar = enc["array"], enc.get("scalar", False)
        if type(i) is not int or not 0 <= i < len(self.arrays) or scalar not in (True, False):
            raise self.fail(at, f"bad array reference {_short(enc)} (the file has {len(self.arrays)} arrays)")
        a = self.arrays[i]
        if scalar:
            if a.ndim != 0:
                raise self.fail(at, f"a NumPy scalar needs a 0-d array, but a{i} has shape {a.shape}")
            return a[()]
        return a

    def static(self, enc: Any, at: str) -> Any:
        t = type(enc)
        if enc is None or t is bool or t is int or t is str or t is float:
            return enc
        if t is not dict:
            raise self.fail(at, f"unexpected value {_short(enc)}")
        if "array" in enc:
            return self.array(enc, at)
        if "float" in enc:
            text = _check_keys(enc, {"float"}, set(), self.where, at)["float"]
            if text not in _NON_FINITE:
                raise self.fail(at, f"a tagged float must be 'nan', 'inf' or '-inf', got {_short(text)}")
            return _NON_FINITE[text]
        if "dtype" in enc:
            return _parse_dtype(_check_keys(enc, {"dtype"}, set(), self.where, at)["dtype"], self.where, at)
        if "tuple" in enc or "list" in enc:
            kind = "tuple" if "tuple" in enc else "list"
            items = _check_keys(enc, {kind}, set(), self.where, at)[kind]
            if type(items) is not list:
                raise self.fail(at, f"a {kind} must hold a list, got {_short(items)}")
            built = [self.static(x, f"{at}[{i}]") for i, x in enumerate(items)]
            return tuple(built) if kind == "tuple" else built
        if "dict" in enc:
            return self.dict(_check_keys(enc, {"dict"}, set(), self.where, at)["dict"], at, self.static)
        if "attrs" in enc:
            _check_keys(enc, {"attrs", "fields"}, set(), self.where, at)
            name, fields = enc["attrs"], enc["fields"]
            cls = self.values.get(name) if type(name) is str else None
            if cls is None:
                raise self.fail(
                    at,
                    f"the class {_short(name)} is neither declared with fnn.tree.value_class nor registered with "
                    f"fnn.tree.register in this process (fnn.load never imports a module a file names)",
                )
            if type(fields) is not dict:
                raise self.fail(at, f"fields must be an object, got {_short(fields)}")
            aliases = {f.alias: f for f in attrs.fields(cls) if f.init}
            unknown = set(fields) - set(aliases)
            if unknown:
                raise self.fail(at, f"{cls.__qualname__} has no fields {sorted(unknown)}")
            try:
                return cls(**{k: self.static(v, f"{at}.{k}") for k, v in fields.items()})
            except FormatError:
                raise
            except (FnnError, ValueError, TypeError) as e:
                raise self.fail(at, f"{cls.__qualname__} rejected the stored values: {type(e).__name__}: {e}") from e
        raise self.fail(at, f"unexpected value {_short(enc)}")


def load(path: str | os.PathLike) -> Any:
    """Read a file written by :func:`save`: the same kind of value, bit for bit, with read-only leaves.

    Params (and a TrainState's params) come back in one flat, read-only buffer, so
    ``fnn.tree.ravel`` of them copies nothing. Every check of the :mod:`fnn.io` docstring
    runs before anything is built; no code from the file is ever run.

    Args:
        path: a file written by :func:`save` (or :func:`save_checkpoint`).

    Returns:
        The saved value: params, a :class:`fnn.TrainState`, a history, or a tree of them.

    Raises:
        FileNotFoundError: there is no such file.
        FormatError: the file is empty, truncated, corrupted, not an fnn file, holds
            object arrays or a pickle, disagrees with its header, fails its checksum,
            was written by a newer format version, or names a class this process does
            not know; the message says which.

    See Also:
        :func:`save`, :func:`load_checkpoint`, :func:`import_json`.

    >>> import tempfile, numpy as np, fnn
    >>> from fnn import io
    >>> history = {"loss": np.array([0.9, 0.5]), "val_loss": np.array([1.0, 0.7])}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = io.load(io.save(f"{d}/history.npz", history))
    >>> back["loss"].tolist(), list(back)
    ([0.9, 0.5], ['loss', 'val_loss'])
    """
    header, arrays, where = _read_file(path)
    decoder = _Decoder(arrays, where)
    try:
        return decoder.tree(header["tree"], "")
    except FormatError:
        raise
    except (LookupError, TypeError, ValueError, AttributeError, RecursionError, FnnError) as e:
        raise _fail(where, f"malformed tree in the header ({type(e).__name__}: {e})") from e


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a file written by :func:`save`, without reading or verifying its arrays.

    Useful to see what a file holds (``kind``, ``fnn_version``, ``fingerprint``, the
    array shapes) cheaply; :func:`load` does the full verification.

    Raises:
        FileNotFoundError: there is no such file.
        FormatError: the file or its header is not a valid fnn file, or is too new.

    >>> import tempfile, fnn
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     h = io.read_header(io.save(f"{d}/p.npz", fnn.init(fnn.random.key(0), fnn.mlp([2, 3]))))
    >>> h["kind"], h["format_version"], [a["shape"] for a in h["arrays"]]
    ('params', 1, [[2, 3], [3]])
    """
    return _read_file(path, with_arrays=False)[0]


# ------------------------------------------------------------------ checkpoints


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ConfigError(f"checkpoint step must be an integer >= 0, got {step!r}")
    return int(step)


def _check_keep(keep: Any) -> int | None:
    if keep is None:
        return None
    if isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or keep < 1:
        raise ConfigError(f"checkpoint keep must be None (keep all) or an integer >= 1, got {keep!r}")
    return int(keep)


def checkpoint_path(directory: str | os.PathLike, step: int) -> pathlib.Path:
    """The file :func:`save_checkpoint` writes for ``step``: ``directory/ckpt-<step, 12 digits>.npz``.

    >>> from fnn import io
    >>> io.checkpoint_path("run", 42).name
    'ckpt-000000000042.npz'
    """
    return pathlib.Path(directory) / f"ckpt-{_check_step(step):012d}.npz"


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, pathlib.Path]]:
    """``(step, path)`` of every checkpoint in ``directory``, by increasing step.

    Only files named exactly ``ckpt-<digits>.npz`` count; temporary files and other
    names are ignored. A missing directory has no checkpoints.

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = [io.save_checkpoint(d, np.zeros(2), step=s) for s in (10, 2)]
    ...     [s for s, _ in io.list_checkpoints(d)]
    [2, 10]
    """
    return sorted((int(match.group(1)), path) for match, path in _files_named(directory, _CHECKPOINT))


def _files_named(directory: str | os.PathLike, pattern: re.Pattern) -> list[tuple[re.Match, pathlib.Path]]:
    """The regular files in ``directory`` whose whole name matches ``pattern`` (none if it is missing)."""
    directory = pathlib.Path(directory)
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((match, directory / entry.name))
    return found


def _remove_partial_writes(directory: str | os.PathLike) -> list[pathlib.Path]:
    """Delete the temporary files of checkpoint writes that were killed before their rename; return them.

    Only for a directory no other process is writing into (a resume's own run directory).
    """
    removed = []
    for _, path in _files_named(directory, _PARTIAL_CHECKPOINT):
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return sorted(removed)


def latest_checkpoint(directory: str | os.PathLike) -> pathlib.Path | None:
    """The checkpoint with the highest step in ``directory``, or ``None`` if there is none.

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     print(io.latest_checkpoint(d))
    ...     _ = io.save_checkpoint(d, np.zeros(2), step=7)
    ...     io.latest_checkpoint(d).name
    None
    'ckpt-000000000007.npz'
    """
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def save_checkpoint(
    directory: str | os.PathLike, payload: Any, *, step: int, keep: int | None = None
) -> pathlib.Path:
    """Save ``payload`` as the checkpoint of ``step`` in ``directory`` (created if needed), atomically.

    The file is ``ckpt-<step:012d>.npz`` (see :func:`checkpoint_path`); a checkpoint of the
    same step is replaced. With ``keep``, once the new file is durable, older checkpoints
    are deleted so that the ``keep`` highest steps remain (the new one always does).

    Args:
        directory: the run's checkpoint directory.
        payload: anything :func:`save` accepts (e.g. ``{"state": state, "history": history}``).
        step: the training step, an integer >= 0.
        keep: how many checkpoints to keep, or ``None`` to keep all.

    Returns:
        The path written.

    Raises:
        ConfigError: a bad ``step`` or ``keep``, or a payload :func:`save` cannot store.

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for s in range(5):
    ...         _ = io.save_checkpoint(d, {"x": np.full(2, s)}, step=s, keep=2)
    ...     [s for s, _ in io.list_checkpoints(d)], io.load_checkpoint(d)["x"].tolist()
    ([3, 4], [4, 4])
    """
    path = checkpoint_path(directory, step)
    keep = _check_keep(keep)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, payload)
    if keep is not None:
        ranked = list_checkpoints(path.parent)
        survivors = {p for _, p in ranked[-keep:]} | {path}
        for _, p in ranked:
            if p not in survivors:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
    return path


def load_checkpoint(directory: str | os.PathLike, *, step: int | None = None) -> Any:
    """Load the latest checkpoint in ``directory`` (or the one of ``step``).

    Raises:
        FileNotFoundError: the directory holds no checkpoint (of that step).
        FormatError: the checkpoint is not a valid fnn file (see :func:`load`).

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = [io.save_checkpoint(d, np.full(1, s), step=s) for s in (1, 2)]
    ...     io.load_checkpoint(d).tolist(), io.load_checkpoint(d, step=1).tolist()
    ([2], [1])
    """
    if step is None:
        path = latest_checkpoint(directory)
        if path is None:
            raise FileNotFoundError(f"no checkpoint (ckpt-<step>.npz) in {os.fspath(directory)}")
    else:
        path = checkpoint_path(directory, step)
    return load(path)


# ------------------------------------------------------------------ JSON export


def _finite_list(a: np.ndarray, at: str) -> list:
    if not np.isfinite(a).all():
        raise NonFiniteError(f"export_json: {at} holds NaN or infinity, which JSON cannot represent")
    # tolist gives Python floats exactly equal to the values (float32 ones included); json
    # writes each with repr, the shortest text that reads back to the same float64.
    return a.tolist()


def _export_node(node: Any, at: str) -> dict:
    if isinstance(node, SequentialParams):
        return {
            "type": "Sequential",
            "in_dim": int(node.in_dim),
            "dtype": np.dtype(node.dtype).name,
            "layers": [_export_node(layer, f"{at}.layers[{i}]") for i, layer in enumerate(node.layers)],
        }
    if isinstance(node, DenseParams):
        if node.w.ndim != 2:
            raise ConfigError(
                f"export_json: {at} has weights of shape {node.w.shape}; expected (in, units) "
                f"(stacked params are not supported)"
            )
        return {
            "type": "Dense",
            "in_dim": int(node.w.shape[0]),
            "units": int(node.w.shape[1]),
            "use_bias": node.b is not None,
            "weights": _finite_list(node.w, f"{at}.w"),
            "bias": None if node.b is None else _finite_list(node.b, f"{at}.b"),
        }
    if isinstance(node, Activation):
        return {"type": "Activation", "name": node.name}
    if isinstance(node, Dropout):
        return {"type": "Dropout", "rate": node.rate}
    raise ConfigError(
        f"export_json: {at} is a {type(node).__name__}; the JSON export knows Dense, Activation, Dropout and "
        f"nested Sequential layers (use fnn.save for other layers)"
    )


def export_json(path: str | os.PathLike, params: SequentialParams) -> pathlib.Path:
    """Write a network's architecture and weights as plain JSON, readable without fnn; atomically.

    The document is ``{"format": "fnn.json", "format_version": 1, "fnn_version": ...,
    "model": {"type": "Sequential", "in_dim", "dtype", "layers": [...]}}`` where each layer
    is ``{"type": "Dense", "in_dim", "units", "use_bias", "weights", "bias"}`` (weights as
    nested lists of shape (in_dim, units), rows are inputs: ``y = x @ weights + bias``),
    ``{"type": "Activation", "name"}``, ``{"type": "Dropout", "rate"}`` or a nested
    Sequential. Numbers are written exactly (float32 values too), so :func:`import_json`
    gives back the same bits.

    Args:
        path: the file to write.
        params: from :func:`fnn.init` (Dense, Activation, Dropout and Sequential layers).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ConfigError: a layer the JSON export does not know (use :func:`save`).
        NonFiniteError: a weight is NaN or infinite (JSON has no such numbers).

    >>> import json, tempfile, fnn
    >>> from fnn import io
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], dropout=0.5))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     doc = json.loads(io.export_json(f"{d}/model.json", params).read_text())
    ...     back = io.import_json(f"{d}/model.json")
    >>> [layer["type"] for layer in doc["model"]["layers"]], doc["model"]["dtype"]
    (['Dense', 'Activation', 'Dropout', 'Dense', 'Activation'], 'float32')
    >>> fnn.tree.equal(back, params)
    True
    """
    if not isinstance(params, SequentialParams):
        raise ConfigError(f"export_json expects params from fnn.init (a SequentialParams), got {type(params).__name__}")
    doc = {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "fnn_version": __version__,
        "model": _export_node(params, "model"),
    }
    text = (json.dumps(doc, allow_nan=False) + "\n").encode("utf-8")
    path = pathlib.Path(os.fspath(path))
    _atomic_write(path, lambda f: f.write(text))
    return path


class _JsonImporter:
    """Rebuilds params from a JSON export, checking every part."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, at: str, message: str) -> FormatError:
        return _fail(self.where, f"at {at}: {message}")

    def keys(self, layer: Any, required: set[str], at: str) -> dict:
        if type(layer) is not dict or set(layer) != required:
            got = sorted(layer) if type(layer) is dict else _short(layer)
            raise self.fail(at, f"expected an object with keys {sorted(required)}, got {got}")
        return layer

    def size(self, value: Any, at: str) -> int:
        if type(value) is not int or value < 1:
            raise self.fail(at, f"expected an integer >= 1, got {_short(value)}")
        return value

    def numbers(self, value: Any, shape: tuple[int, ...], dtype: np.dtype, at: str) -> np.ndarray:
        rows = value if len(shape) == 2 else [value]
        width = shape[-1]
        ok = type(value) is list and (len(shape) == 1 or len(value) == shape[0])
        ok = ok and all(type(r) is list and len(r) == width and all(type(x) in (int, float) for x in r) for r in rows)
        if not ok:
            raise self.fail(at, f"expected numbers in nested lists of shape {shape}")
        try:
            a = np.array(value, dtype=np.float64)
        except OverflowError:
            raise self.fail(at, "a number is too large for float64") from None
        with np.errstate(over="ignore"):
            a = a.astype(dtype)
        if not np.isfinite(a).all():
            raise self.fail(at, f"a number is NaN, infinite or out of the {dtype} range")
        return a

    def sequential(self, layer: Any, width: int | None, dtype: np.dtype | None, at: str) -> SequentialParams:
        self.keys(layer, {"type", "in_dim", "dtype", "layers"}, at)
        in_dim = self.size(layer["in_dim"], f"{at}.in_dim")
        if width is not None and in_dim != width:
            raise self.fail(at, f"in_dim is {in_dim} but the previous layer outputs {width}")
        try:
            dt = float_dtype(layer["dtype"]) if type(layer["dtype"]) is str else None
        except ConfigError:
            dt = None
        if dt is None or (dtype is not None and dt != dtype):
            expected = "float32 or float64" if dtype is None else dtype.name
            raise self.fail(at, f"dtype must be {expected}, got {_short(layer['dtype'])}")
        if type(layer["layers"]) is not list:
            raise self.fail(at, f"layers must be a list, got {_short(layer['layers'])}")
        nodes, width = [], in_dim
        for i, child in enumerate(layer["layers"]):
            node, width = self.layer(child, width, dt, f"{at}.layers[{i}]")
            nodes.append(node)
        return SequentialParams(tuple(nodes), in_shape=(in_dim,))

    def layer(self, layer: Any, width: int, dtype: np.dtype, at: str) -> tuple[Any, int]:
        kind = layer.get("type") if type(layer) is dict else None
        if kind == "Sequential":
            node = self.sequential(layer, width, dtype, at)
            return node, self.width_after(node, width)
        if kind == "Dense":
            self.keys(layer, {"type", "in_dim", "units", "use_bias", "weights", "bias"}, at)
            in_dim, units = self.size(layer["in_dim"], f"{at}.in_dim"), self.size(layer["units"], f"{at}.units")
            if in_dim != width:
                raise self.fail(at, f"in_dim is {in_dim} but the previous layer outputs {width}")
            if type(layer["use_bias"]) is not bool or (layer["bias"] is None) == layer["use_bias"]:
                raise self.fail(at, "use_bias must be true with a bias list, or false with bias null")
            w = self.numbers(layer["weights"], (in_dim, units), dtype, f"{at}.weights")
            b = None if layer["bias"] is None else self.numbers(layer["bias"], (units,), dtype, f"{at}.bias")
            return DenseParams(w, b), units
        if kind in ("Activation", "Dropout"):
            field = "name" if kind == "Activation" else "rate"
            self.keys(layer, {"type", field}, at)
            value = layer[field]
            if kind == "Dropout" and type(value) not in (int, float):
                raise self.fail(at, f"rate must be a number, got {_short(value)}")
            try:
                return (Activation(value) if kind == "Activation" else Dropout(value)), width
            except ConfigError as e:
                raise self.fail(at, str(e)) from None
        raise self.fail(at, f"unknown layer type {_short(kind)}; expected Dense, Activation, Dropout or Sequential")

    @staticmethod
    def width_after(node: SequentialParams, width: int) -> int:
        for layer in node.layers:
            if isinstance(layer, DenseParams):
                width = layer.w.shape[1]
            elif isinstance(layer, SequentialParams):
                width = _JsonImporter.width_after(layer, width)
        return width


def import_json(path: str | os.PathLike) -> SequentialParams:
    """Params from a file written by :func:`export_json`: the recorded dtype, one flat read-only buffer.

    Every part is checked: layer types and keys, widths that chain, weights of the
    right shape holding only finite numbers, activation names and dropout rates.

    Args:
        path: a JSON export.

    Returns:
        A ``SequentialParams`` whose ``fnn.tree.ravel`` copies nothing.

    Raises:
        FileNotFoundError: there is no such file.
        FormatError: the file is not valid JSON, not an fnn JSON export, too new, or
            inconsistent; the message gives the place (``model.layers[2].weights``).

    See Also:
        :func:`export_json`, :func:`load`.

    >>> import tempfile, numpy as np, fnn
    >>> from fnn import io
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 2], dtype=np.float64))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = io.import_json(io.export_json(f"{d}/m.json", params))
    >>> back.dtype, fnn.tree.equal(back, params), np.shares_memory(fnn.tree.ravel(back)[0], back.layers[0].w)
    (dtype('float64'), True, True)
    """
    where = os.fspath(path)
    raw = pathlib.Path(where).read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(where, f"not a JSON file ({e})") from None
    if type(doc) is not dict or doc.get("format") != JSON_FORMAT:
        got = doc.get("format") if type(doc) is dict else type(doc).__name__
        raise _fail(where, f"not an fnn JSON export: its format is {got!r}, expected {JSON_FORMAT!r}")
    version = doc.get("format_version")
    if type(version) is not int or version < 1:
        raise _fail(where, f"format_version is {version!r}, expected an integer >= 1")
    if version > JSON_FORMAT_VERSION:
        raise _fail(
            where,
            f"it was written by a newer fnn (JSON format version {version}); this fnn reads versions up to "
            f"{JSON_FORMAT_VERSION}: upgrade fnn to load it",
        )
    model = doc.get("model")
    if type(model) is not dict or model.get("type") != "Sequential":
        raise _fail(where, "at model: expected a Sequential layer")
    try:
        params = _JsonImporter(where).sequential(model, None, None, "model")
    except RecursionError as e:
        raise _fail(where, f"layers nested too deeply ({e})") from None
    return tree.pack(params)
