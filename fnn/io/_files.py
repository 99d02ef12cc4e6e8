"""The ``.npz`` file: :func:`save`, :func:`load` and :func:`read_header`, the header's checks and
checksum, and :func:`atomic_write`, which every file fnn writes goes through.

The layout of the file and every check :func:`load` makes are in the :mod:`fnn.io`
docstring; the tree inside the header is :mod:`fnn.io._codec`'s.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import pathlib
import platform
import re
import secrets
import stat
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so no temporary file is provably stale
    fcntl = None  # type: ignore[assignment]  # no fcntl (Windows): nothing is locked

import numpy as np
import numpy.lib.format as npy

from fnn._checks import check_max_bytes, open_regular
from fnn._version import __version__
from fnn.errors import ConfigError, FormatError
from fnn.io._codec import (
    ARRAY_KINDS,
    check_keys,
    decode_tree,
    dtype_name,
    encode_tree,
    fail,
    file_kind,
    parse_dtype,
    short,
)
from fnn.io._consistency import check_loaded

FORMAT = "fnn"
FORMAT_VERSION = 1
"""The version of the ``.npz`` format this fnn writes; it reads every version up to this one."""

MAX_BYTES = 4 * 2**30
"""The default ``max_bytes`` of :func:`load`: 4 GiB of members (header and arrays) in one file.

Loading allocates what a file's members declare (and packs params into one buffer, at most
twice that), so the limit bounds the memory a load can take. It is far above what fnn trains
on NumPy (a float32 network of 300 million parameters with Adam's two moments is 3.6 GB) and
below what a machine holds twice. Pass ``max_bytes=N`` (or ``None``, no limit) to load more.
"""

STALE_GRACE = 60.0
"""Seconds an *empty*, unlocked temporary file of :func:`atomic_write` is left alone (see there)."""

_HEADER = "__header__"
_HEADER_SHARE = 16  # the JSON header may take 1/16 of max_bytes: json.loads builds several times its text in objects
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the same value gives the same bytes
_ZIP_MAGIC = b"PK\x03\x04"
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
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
    RuntimeError,  # zipfile: "File ... is encrypted, password required" (a flag bit in the directory)
)


# ------------------------------------------------------------------ writing (save)


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
        h.update(c.reshape(-1).view(np.uint8))  # type: ignore[arg-type]  # an ndarray is a buffer
    return h.hexdigest()


def _encode(obj: Any) -> tuple[bytes, list[np.ndarray]]:
    """(header bytes, arrays) of a file holding ``obj``; raises before anything is written."""
    encoded, arrays = encode_tree(obj)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fnn_version": __version__,
        "kind": file_kind(obj),
        "fingerprint": fingerprint(),
        "arrays": [
            {"name": f"a{i}", "dtype": dtype_name(a.dtype), "shape": list(a.shape)} for i, a in enumerate(arrays)
        ],
        "tree": encoded,
    }
    header["sha256"] = _checksum(header, arrays)
    return _canonical(header), arrays


def _write_npz(f: IO[bytes], header: bytes, arrays: list[np.ndarray]) -> None:
    members = [(_HEADER, np.frombuffer(header, np.uint8)), *((f"a{i}", a) for i, a in enumerate(arrays))]
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, a in members:
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                npy.write_array(member, a, allow_pickle=False)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` through a temporary file in its directory: ``write(f)``, flush, fsync, rename, fsync.

    Every file fnn writes goes through this. ``path`` then holds either its old content or
    the complete new one, never half of one; on any error (``write`` raising included) the
    temporary file, ``.<name>.<12 hex digits>.tmp``, is removed. A process killed midway
    leaves that file behind and ``path`` untouched; the next write (or :func:`load`) of
    ``path`` removes it (see :func:`remove_stale_temporaries`: the writer holds an ``flock``
    on its temporary file until the rename, so a live writer's file is never removed).

    A file that already exists keeps its permission bits (a private ``0600`` model stays
    private); a new one takes the umask's, as an ordinary file would. An existing file the
    caller may not write (``0444``, or not writable by this user) is refused, not replaced.

    Args:
        path: the file to write; its directory must exist.
        write: called once with the temporary file, open for writing bytes.

    Raises:
        ConfigError: ``path`` exists and is read-only.
        OSError: the directory is missing or not writable; whatever ``write`` raises.

    >>> import pathlib, tempfile
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     notes = pathlib.Path(d) / "notes.txt"
    ...     io.atomic_write(notes, lambda f: f.write(b"epoch 3 done"))
    ...     notes.read_bytes(), [p.name for p in pathlib.Path(d).iterdir()]
    (b'epoch 3 done', ['notes.txt'])
    """
    path = pathlib.Path(os.fspath(path))
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    if not directory.is_dir():  # say so, rather than name the temporary file the user never asked for
        what = "is not a directory" if directory.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {os.fspath(path)}: the directory {os.fspath(directory) or '.'} {what}")
    old = _existing(path)
    remove_stale_temporaries(directory, re.escape(path.name))
    # os.open with 0o666 honours the umask, as an ordinary file would (NamedTemporaryFile makes 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        f = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    try:
        with f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # held until after the rename: the file is a live writer's
            if old is not None:
                _keep_permissions(f.fileno(), old)
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:
                os.replace(tmp, path)
        if fcntl is None:  # Windows cannot rename an open file
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _existing(path: pathlib.Path) -> os.stat_result | None:
    """The status of the regular file at ``path`` (None if there is none); a ConfigError if it is read-only."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if not _writable(path, st):
        raise ConfigError(
            f"cannot write {os.fspath(path)}: the file exists and is read-only (mode {stat.filemode(st.st_mode)}, "
            f"{oct(stat.S_IMODE(st.st_mode))}); fnn does not replace a write-protected file: make it writable "
            f"(chmod u+w) or write to another path"
        )
    return st


def _writable(path: pathlib.Path, st: os.stat_result) -> bool:
    """Whether this user may write the file (for root: whether it has a write bit; 0444 is protected by intent)."""
    if not hasattr(os, "geteuid"):
        return bool(st.st_mode & stat.S_IWRITE)
    euid = os.geteuid()
    if euid == 0:  # root may write anything: a file without any write bit is read-only by intent
        return bool(st.st_mode & 0o222)
    if euid == st.st_uid:
        bit = stat.S_IWUSR
    elif st.st_gid == os.getegid() or st.st_gid in os.getgroups():
        bit = stat.S_IWGRP
    else:
        bit = stat.S_IWOTH
    return bool(st.st_mode & bit) and os.access(path, os.W_OK)


def _keep_permissions(fd: int, old: os.stat_result) -> None:
    """Give the temporary file the replaced file's permission bits (and owner and group, where allowed)."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:  # only root may give a file away; the bits are kept all the same
            pass


def remove_stale_temporaries(directory: str | os.PathLike, target: str) -> list[pathlib.Path]:
    """Delete the temporary files :func:`atomic_write` left for targets named like ``target``; return them.

    ``target`` is a regular expression for the target's file name (``re.escape(name)`` for
    one file, ``r"ckpt-\\d{12,}\\.npz"`` for a checkpoint directory's). A temporary file is
    ``.<target>.<12 hex digits>.tmp``, and it is deleted only when it is provably stale:

    - its writer is gone: :func:`atomic_write` holds an ``flock`` on its temporary file from
      before the first byte until after the rename, and the kernel drops that lock when the
      writer dies (SIGKILL included). A file whose lock this call cannot take is a live
      writer's and is left alone, however old it looks;
    - and, if it is empty, it is older than :data:`STALE_GRACE` seconds: an empty unlocked
      file may be a live writer's between its creation and its lock.

    Symbolic links, other names and files of other targets are never touched; errors (a
    read-only directory) are ignored: cleaning is best effort. On a system without ``fcntl``
    (Windows) nothing is provably stale, and nothing is deleted.

    Safe to call while other processes write into ``directory``.

    >>> import pathlib, re, tempfile
    >>> from fnn.io import _files
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (pathlib.Path(d) / ".model.npz.0123456789ab.tmp").write_bytes(b"PK, then killed")
    ...     removed = _files.remove_stale_temporaries(d, re.escape("model.npz"))
    ...     [p.name for p in removed], list(pathlib.Path(d).iterdir())
    (['.model.npz.0123456789ab.tmp'], [])
    """
    if fcntl is None:
        return []
    pattern = re.compile(rf"\.(?:{target})\.[0-9a-f]{{12}}\.tmp")
    directory = pathlib.Path(directory)
    try:
        entries = [e for e in os.scandir(directory) if pattern.fullmatch(e.name)]
    except OSError:
        return []
    removed = []
    for entry in entries:
        path = directory / entry.name
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            st = os.fstat(fd)
            if st.st_size == 0 and time.time() - st.st_mtime < STALE_GRACE:
                continue
            now = os.lstat(path)  # still the file this call locked (not one renamed into place since)?
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                continue
            os.unlink(path)
            removed.append(path)
        except OSError:  # BlockingIOError: a live writer holds it
            continue
        finally:
            os.close(fd)
    return sorted(removed)


def too_large(where: str, what: str, size: int, max_bytes: int, call: str = "fnn.load") -> FormatError:
    """The error for a file whose declared sizes pass ``max_bytes``, saying how to raise the limit."""
    return fail(
        where,
        f"{what} declares {size:,} bytes, more than max_bytes={max_bytes} ({max_bytes / 2**30:.3g} GiB), the limit "
        f"a load may allocate; if the file is trusted, load it with {call}(..., max_bytes={size}) or "
        f"max_bytes=None (no limit)",
    )


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
    is replaced only once the new one is complete and on disk. Missing parent directories
    are created (as :func:`save_checkpoint` creates its directory).

    Args:
        path: the file to write.
        obj: what to save (the kinds are listed in the :mod:`fnn.io` docstring).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ConfigError: ``obj`` holds something a file cannot describe (a function, an
            unregistered class, a ``from_update`` optimizer); the message gives its path.
        DtypeError: an array of object, string or structured dtype.
        OSError: the directory cannot be made or is not writable.

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
    given = os.fspath(path)
    path = pathlib.Path(given)
    if not given or path.name in ("", ".", "..") or path.is_dir():
        raise IsADirectoryError(
            f"cannot save to {given!r}: it is {'empty' if not given else 'a directory'}; fnn.save writes one file: "
            f"give its path, e.g. {os.path.join(given or '.', 'model.npz')!r}"
        )
    header, arrays = _encode(obj)  # first: nothing is made for an object that cannot be saved
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: _write_npz(f, header, arrays))
    return path


# ------------------------------------------------------------------ reading (load)


def _read_member(npz: Any, name: str, where: str, expect: tuple[np.dtype, tuple] | None = None) -> np.ndarray:
    """Read one ``.npy`` member after checking its header: numeric dtype, the expected dtype/shape, its size.

    The member's size in the zip directory was checked against the file and ``max_bytes``
    (:func:`_check_members`) and the ``.npy`` header must announce exactly that size, so
    NumPy never allocates more than the file holds.
    """
    info = npz.zip.getinfo(name + ".npy")
    with npz.zip.open(info) as fp:
        version = npy.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = npy.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = npy.read_array_header_2_0(fp)
        else:
            raise fail(where, f"member {name} is a .npy file of version {version}, which fnn does not write")
        offset = fp.tell()
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS:
        raise fail(
            where,
            f"member {name} holds {dtype} data; fnn files hold only boolean and numeric arrays "
            f"(object arrays would need pickle, which fnn never loads)",
        )
    if expect is not None and (dtype != expect[0] or shape != expect[1]):
        raise fail(
            where,
            f"array {name}: the header says dtype {expect[0]}, shape {expect[1]}, "
            f"but the file holds dtype {dtype}, shape {shape}",
        )
    size = offset + math.prod(shape) * dtype.itemsize
    if info.file_size != size:
        raise fail(where, f"member {name} has {info.file_size} bytes, but its .npy header announces {size}")
    return npz[name]


def _check_members(npz: Any, names: list[str], where: str, file_size: int, max_bytes: int | None, call: str) -> None:
    """Check the zip directory's entries for ``names`` before anything is read: stored, not encrypted, sizes that
    fit in the file (members do not overlap, so their sizes add up to at most the file's) and in ``max_bytes``."""
    total = 0
    for name in names:
        info = npz.zip.getinfo(name)
        if info.flag_bits & 0x1:
            raise fail(where, f"member {name} is marked encrypted; fnn files are never encrypted (a damaged file?)")
        if info.compress_type != zipfile.ZIP_STORED:
            raise fail(where, f"member {name} is compressed; fnn files store their members uncompressed")
        if info.compress_size != info.file_size or info.header_offset + info.file_size > file_size:
            raise fail(
                where,
                f"member {name} declares {info.file_size:,} bytes (stored as {info.compress_size:,}) at offset "
                f"{info.header_offset:,}, more than the bytes in the file ({file_size:,}): a forged or damaged "
                f"directory",
            )
        total += info.file_size
    if total > file_size:
        raise fail(
            where, f"its members declare {total:,} bytes in all, more than the bytes in the file ({file_size:,})"
        )
    if max_bytes is not None and total > max_bytes:
        raise too_large(
            where, "it" if len(names) > 1 else f"its {names[0].removesuffix('.npy')} member", total, max_bytes, call
        )
    header = npz.zip.getinfo(_HEADER + ".npy").file_size
    if max_bytes is not None and header > max_bytes // _HEADER_SHARE:
        raise fail(
            where,
            f"its JSON header declares {header:,} bytes, more than 1/{_HEADER_SHARE} of max_bytes={max_bytes} (parsed "
            f"JSON takes several times its text); if the file is trusted, load it with "
            f"{call}(..., max_bytes={header * _HEADER_SHARE}) or max_bytes=None (no limit)",
        )


def _array_specs(header: dict, where: str) -> list[tuple[np.dtype, tuple]]:
    entries = header.get("arrays")
    if type(entries) is not list:
        raise fail(where, "malformed header: 'arrays' must be a list")
    specs = []
    for i, e in enumerate(entries):
        check_keys(e, {"name", "dtype", "shape"}, set(), where, f"arrays[{i}]")
        if e["name"] != f"a{i}":
            raise fail(where, f"malformed header: arrays[{i}] is named {e['name']!r}, expected 'a{i}'")
        shape = e["shape"]
        if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
            raise fail(
                where, f"malformed header: arrays[{i}] has shape {short(shape)}, expected a list of integers >= 0"
            )
        specs.append((parse_dtype(e["dtype"], where, f"arrays[{i}].dtype"), tuple(shape)))
    return specs


def _check_format(header: Any, where: str) -> dict:
    if type(header) is not dict or header.get("format") != FORMAT:
        got = header.get("format") if type(header) is dict else type(header).__name__
        raise fail(where, f"not an fnn file: its header's format is {got!r}, expected {FORMAT!r}")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise fail(where, f"malformed header: format_version is {version!r}, expected an integer >= 1")
    if version > FORMAT_VERSION:
        raise fail(
            where,
            f"it was written by a newer fnn (format version {version}, fnn {header.get('fnn_version', '?')}); "
            f"this fnn ({__version__}) reads format versions up to {FORMAT_VERSION}: upgrade fnn to load it",
        )
    return header


def _read_npz(
    npz: Any, where: str, with_arrays: bool, file_size: int, max_bytes: int | None, call: str
) -> tuple[dict, list[np.ndarray]]:
    names = npz.zip.namelist()
    if len(set(names)) != len(names):
        raise fail(where, "the archive lists a member twice")
    if _HEADER + ".npy" not in names:
        raise fail(
            where,
            f"not an fnn file: it has no {_HEADER} member (a plain .npz, as np.savez writes?); "
            f"members: {', '.join(sorted(names)[:5])}{', ...' if len(names) > 5 else ''}",
        )
    _check_members(npz, names if with_arrays else [_HEADER + ".npy"], where, file_size, max_bytes, call)
    raw = _read_member(npz, _HEADER, where)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise fail(where, f"the {_HEADER} member is {raw.dtype} of shape {raw.shape}, expected 1-D uint8 (UTF-8 JSON)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise fail(where, f"the header is not valid JSON ({e})") from None
    header = _check_format(header, where)
    specs = _array_specs(header, where)
    expected = {_HEADER + ".npy"} | {f"a{i}.npy" for i in range(len(specs))}
    if set(names) != expected:
        missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
        raise fail(where, f"its members do not match its header: missing {missing}, unexpected {extra}")
    if not with_arrays:
        return header, []
    arrays = [_read_member(npz, f"a{i}", where, spec) for i, spec in enumerate(specs)]
    if header.get("sha256") != _checksum(header, arrays):
        raise fail(where, "checksum mismatch: the arrays or the header changed after the file was written")
    for a in arrays:
        a.flags.writeable = False
    return header, arrays


def _missing(where: str) -> str:
    """Why there is nothing to load at ``where``: the first missing directory, or the fnn files beside it."""
    path = pathlib.Path(where)
    parent = path.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    if parent != path.parent:
        missing = next(p for p in [path.parent, *path.parent.parents] if p.parent == parent)
        return f"cannot load {where}: there is no such file (the directory {str(missing)!r} does not exist)"
    try:
        names = sorted(p.name for p in parent.iterdir() if p.suffix in (".npz", ".json") or p.is_dir())
    except OSError:
        names = []
    close = difflib.get_close_matches(path.name, names, 3)
    here = (
        f"; did you mean {', '.join(map(repr, close))}?"
        if close
        else (
            f"; {str(parent)!r} holds {', '.join(map(repr, names[:5]))}{' …' if len(names) > 5 else ''}"
            if names
            else f"; {str(parent)!r} holds no .npz file"
        )
    )
    return f"cannot load {where}: there is no such file{here}"


def _read_file(
    path: str | os.PathLike, with_arrays: bool = True, max_bytes: Any = MAX_BYTES, call: str = "fnn.load"
) -> tuple[dict, list[np.ndarray], str]:
    where = os.fspath(path)
    max_bytes = check_max_bytes(max_bytes)
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"cannot load {where}: it is a directory; a checkpoint directory is read with fnn.io.load_checkpoint(DIR) "
            f"(or continued with fit(..., resume=DIR)), a run of the command line with fnn.load(DIR/model.npz)"
        )
    if not os.path.lexists(path):  # still a FileNotFoundError, saying what is there instead
        raise FileNotFoundError(_missing(where))
    with open_regular(path, where) as f:  # FileNotFoundError (and other OS errors) propagate as they are
        file_size = os.fstat(f.fileno()).st_size
        start = f.read(len(_ZIP_MAGIC))
        if not start:
            raise fail(where, "the file is empty (0 bytes)")
        if start != _ZIP_MAGIC:
            raise fail(where, f"not an fnn file: it is not a .npz (zip) archive; it starts with {start!r}")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                header, arrays = _read_npz(npz, where, with_arrays, file_size, max_bytes, call)
        except FormatError:
            raise
        except _BAD_FILE as e:
            raise fail(where, f"the file is truncated, corrupted or not an fnn file ({type(e).__name__}: {e})") from e
    path = pathlib.Path(where)
    remove_stale_temporaries(path.parent, re.escape(path.name))  # a killed save's leftovers (F18), best effort
    return header, arrays, where


def load(path: str | os.PathLike, *, max_bytes: int | None = MAX_BYTES) -> Any:
    """Read a file written by :func:`save`: the same kind of value, bit for bit, with read-only leaves.

    Params (and a TrainState's params) come back in one flat, read-only buffer, so
    ``fnn.tree.ravel`` of them copies nothing. Every check of the :mod:`fnn.io` docstring
    runs before anything is built; no code from the file is ever run.

    Memory is bounded before anything is allocated: every size the file declares is
    checked against the file's own size (a forged zip directory or ``.npy`` header cannot
    make NumPy allocate more than the file holds), each array is referred to exactly once
    (a small file cannot unfold into a large tree), and the members together must fit in
    ``max_bytes``. Loaded params and train states are then checked against what
    :func:`fnn.init` and :meth:`fnn.TrainState.create` build (see ``fnn.io._consistency``).
    Temporary files a killed :func:`save` of ``path`` left behind are removed.

    Args:
        path: a file written by :func:`save` (or :func:`save_checkpoint`).
        max_bytes: the most bytes the file's members (JSON header and arrays) may declare,
            :data:`MAX_BYTES` (4 GiB) by default, the JSON header at most 1/16 of it;
            ``None`` for no limit (the checks against the file's size still hold). The peak
            memory of a load is at most about twice this.

    Returns:
        The saved value: params, a :class:`fnn.TrainState`, a history, or a tree of them.

    Raises:
        FileNotFoundError: there is no such file.
        FormatError: the file is empty, truncated, corrupted, not an fnn file, holds
            object arrays or a pickle, disagrees with its header, fails its checksum,
            was written by a newer format version, names a class this process does
            not know, declares more than ``max_bytes``, or is not a regular file (a FIFO,
            a device); the message says which.
        ConfigError: ``max_bytes`` is not None or an integer >= 1.

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
    header, arrays, where = _read_file(path, max_bytes=max_bytes)
    value = decode_tree(header, arrays, where)
    check_loaded(value, where)
    return value


def read_header(path: str | os.PathLike, *, max_bytes: int | None = MAX_BYTES) -> dict[str, Any]:
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
    return _read_file(path, with_arrays=False, max_bytes=max_bytes, call="fnn.io.read_header")[0]
