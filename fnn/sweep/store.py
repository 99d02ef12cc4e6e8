"""The results store of a sweep: one SQLite file that keeps every finished row, committed as it finishes.

``fnn.sweep(run, grid, seeds, store=PATH)`` writes each row into ``PATH`` in its own
transaction the moment its run finishes, and a later call with the same ``PATH`` returns
the stored rows of the pairs that are done and runs only the others. Only the process that
drives the sweep writes (workers on a cluster return their rows to it), and it holds a lock
(``PATH.lock``, an advisory ``flock`` where the system has one) so that a second driver on
the same store is refused instead of running the same pairs; a driver that dies releases it.
A commit is synced to the disk (SQLite's ``synchronous=FULL``: about 4 ms a row on an
ordinary disk, next to runs of seconds or hours), so a committed row survives a power cut
as well as a kill; a kill during a commit leaves the store as it was before it.

**What a store knows.** The run function's module and qualified name (a store belongs to
one), and every finished pair by its identity (:func:`pair_id`) and its config's exact JSON:
a rerun whose grid writes a pair's config another way (``1`` where the store has ``1.0``, or
the keys in another order) is refused, since its rows would differ. It does not know
``run``'s code, a ``functools.partial``'s arguments or the data ``run`` reads: after
changing those, start a new store.

**Rows are JSON.** A stored row is the JSON text of the row :func:`fnn.sweep` returns, so
it comes back equal and of the same types, bit for bit: ``None``, ``bool``, ``int``,
``float`` (NaN and infinities included), ``str``, lists and dicts with string keys. Anything
else (a NumPy array or scalar, a tuple) is refused with an error naming the key, rather than
stored as something that would come back different; nothing is ever pickled. Save arrays
with :func:`fnn.save` into the pair's working directory (``workdirs=``) instead.

**The file.** Readable by any SQLite client while a sweep runs (the journal is a
write-ahead log, so readers never block the writer; keep the store on a local disk, as
SQLite asks of such databases). While a sweep runs, and after a kill, the newest rows may be
in ``PATH-wal`` beside it: copy ``PATH*`` together (the next sweep on the store folds them
back into ``PATH`` when it ends). Its tables:

- ``meta(key, value)``: ``format`` (``fnn.sweep``), ``format_version``, ``run`` (the
  module and qualified name of the run function the store belongs to), ``fnn_version``.
- ``rows``: one per finished pair: ``pair`` (its identity, see :func:`pair_id`),
  ``config`` (JSON), ``seed``, ``status`` (``ok`` or ``error``), ``row`` (the row as JSON),
  ``error_type``, ``error_message``, ``seconds`` (the run's wall time in its worker),
  ``finished`` (UTC, ISO 8601) and ``workdir``.
- ``grid(position, pair)``: the pairs of the latest sweep call in row order, so that
  ``SELECT count(*) FROM grid WHERE pair NOT IN (SELECT pair FROM rows)`` is what remains.

>>> import contextlib, pandas, sqlite3, tempfile, fnn
>>> def run(config, key):
...     return {"score": config["x"] * 10 + key.seed}
>>> with tempfile.TemporaryDirectory() as d:
...     rows = fnn.sweep(run, {"x": [1, 2]}, 2, store=f"{d}/runs.db", executor=fnn.SerialExecutor())
...     with contextlib.closing(sqlite3.connect(f"{d}/runs.db")) as db:
...         frame = pandas.read_sql("SELECT seed, status, json_extract(row, '$.score') AS score FROM rows", db)
>>> frame.values.tolist()
[[0, 'ok', 10], [1, 'ok', 11], [0, 'ok', 20], [1, 'ok', 21]]
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import pathlib
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from fnn._version import __version__
from fnn.errors import ConfigError, FormatError

__all__ = ["FORMAT", "FORMAT_VERSION", "pair_id", "pair_dir", "stored_rows", "check_json", "encode"]

FORMAT = "fnn.sweep"
FORMAT_VERSION = 1
"""The version of the store's tables this fnn writes; it reads every version up to this one."""

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE rows (
    pair TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    row TEXT NOT NULL,
    error_type TEXT,
    error_message TEXT,
    seconds REAL,
    finished TEXT NOT NULL,
    workdir TEXT
);
CREATE TABLE grid (position INTEGER PRIMARY KEY, pair TEXT NOT NULL UNIQUE);
"""
_TABLES = {"meta", "rows", "grid"}
_JSON = "JSON holds None, bool, int, float, str, lists and dicts with string keys"


# ------------------------------------------------------------------ rows as JSON


def _hint(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return "; return value.tolist(), or fnn.save the array into the pair's working directory (workdirs=)"
    if isinstance(value, np.generic):
        kind = "bool" if isinstance(value, np.bool_) else "float" if isinstance(value, np.inexact) else "int"
        return f"; return {kind}(value)"
    if isinstance(value, tuple):
        return "; use a list (a tuple would come back as a list)"
    if isinstance(value, (int, float, str, dict, list)):
        return f" (a subclass of {type(value).__mro__[1].__name__}, which would come back as that)"
    return ""


def check_json(value: Any, where: str) -> None:
    """Raise ConfigError unless ``value`` is JSON that comes back exactly: the same values and types.

    Args:
        value: a config, a result or a row.
        where: what ``value`` is, for the message (``"run's result"``, ``"grid setting 2"``).

    Raises:
        ConfigError: naming the key path, the type found and what to use instead.

    >>> import numpy as np
    >>> from fnn.sweep.store import check_json
    >>> check_json({"loss": 0.5, "curve": [1.0, float("nan")], "name": None}, "result")
    >>> check_json({"loss": np.float32(0.5)}, "result")
    Traceback (most recent call last):
    fnn.errors.ConfigError: sweep: result['loss'] is a numpy.float32 (np.float32(0.5)), which a sweep store cannot
    keep as it is (JSON holds None, bool, int, float, str, lists and dicts with string keys); return float(value)
    """
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        kind = type(item)
        if kind is dict:
            for k, v in item.items():
                if type(k) is not str:
                    raise ConfigError(
                        f"sweep: {path} has the key {k!r} ({type(k).__name__}); {_JSON}, so keys must be str"
                    )
                stack.append((v, f"{path}[{k!r}]"))
        elif kind is list:
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(item))
        elif kind not in (type(None), bool, int, float, str):
            shown = f"{item!r}"
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise ConfigError(
                f"sweep: {path} is a "
                f"{kind.__module__ + '.' if kind.__module__ != 'builtins' else ''}{kind.__qualname__} "
                f"({shown}), which a sweep store cannot keep as it is ({_JSON}){_hint(item)}"
            )


def encode(value: Any) -> str:
    """The JSON text a store keeps for ``value`` (checked with :func:`check_json` first): compact, ASCII.

    >>> from fnn.sweep.store import encode
    >>> print(encode({"lr": 0.1, "curve": [1.0, float("inf")], "tag": "é"}))
    {"lr":0.1,"curve":[1.0,Infinity],"tag":"\\u00e9"}
    """
    return json.dumps(value, ensure_ascii=True, allow_nan=True, separators=(",", ":"))


def _canonical(value: Any) -> Any:
    """A tagged form of a JSON value in which values equal in Python are identical (1 == 1.0 == True)."""
    if isinstance(value, dict):
        return {"d": sorted([k, _canonical(v)] for k, v in value.items())}
    if isinstance(value, list):
        return {"l": [_canonical(v) for v in value]}
    if isinstance(value, str):
        return {"s": value}
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        return {"f": "nan" if math.isnan(value) else repr(value)}
    return {"i": int(value)}  # ints, bools and integral floats: equal in Python, the same pair


def pair_id(config: Mapping[str, Any], seed: int) -> str:
    """The identity of a (config, seed) pair: 32 hex digits, the same for configs equal in Python.

    It names the pair's row in a store and its working directory. Key order and the
    difference between ``1``, ``1.0`` and ``True`` do not change it (they are the same
    setting to :func:`fnn.sweep`, which refuses a grid holding both).

    >>> from fnn.sweep.store import pair_id
    >>> pair_id({"lr": 0.1, "width": 32}, 0) == pair_id({"width": 32.0, "lr": 0.1}, 0)
    True
    >>> pair_id({"lr": 0.1}, 0) == pair_id({"lr": 0.1}, 1), len(pair_id({"lr": 0.1}, 0))
    (False, 32)
    """
    check_json(dict(config), "config")
    text = json.dumps([_canonical(dict(config)), int(seed)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def pair_dir(root: str | os.PathLike, config: Mapping[str, Any], seed: int) -> pathlib.Path:
    """The working directory :func:`fnn.sweep` gives the pair (config, seed) under ``workdirs=root``.

    It depends on the pair alone (see :func:`pair_id`), so every rerun of a sweep, on any
    machine, gives a pair the same directory, and ``fit(..., resume=workdir)`` inside ``run``
    continues from the pair's last checkpoint.

    >>> from fnn.sweep.store import pair_dir
    >>> pair_dir("runs", {"lr": 0.1}, 3).parent.name, len(pair_dir("runs", {"lr": 0.1}, 3).name)
    ('runs', 32)
    """
    return pathlib.Path(os.fspath(root)) / pair_id(config, seed)


# ------------------------------------------------------------------ the file


def _check_path(path: Any, where: str) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"{where}: store must be a file path (str or os.PathLike) or None, got {type(path).__name__}")
    path = pathlib.Path(os.fspath(path))
    if path.is_dir():
        raise ConfigError(
            f"{where}: store={os.fspath(path)!r} is a directory; "
            f"give the path of a file, e.g. {os.fspath(path / 'sweep.db')!r}"
        )
    if not path.parent.is_dir():
        raise ConfigError(
            f"{where}: store={os.fspath(path)!r} is in the directory {os.fspath(path.parent)!r}, which does not exist; "
            f"create it first (fnn does not create directories for a store, so that a typo is not a new store)"
        )
    return path


def _connect(path: pathlib.Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        uri = pathlib.Path(os.path.abspath(path)).as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
    return sqlite3.connect(path, isolation_level=None, timeout=30.0)


def _checked_tables(connection: sqlite3.Connection, path: pathlib.Path, where: str, *, thorough: bool = True) -> bool:
    """True for a sweep store, False for an empty database; FormatError for anything else.

    ``thorough`` also reads every page (SQLite's quick_check), to find damage before any work starts.
    """
    place = f"{where}: {os.fspath(path)}"
    try:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return False
        problems = [text for (text,) in connection.execute("PRAGMA quick_check")] if thorough else ["ok"]
        if problems != ["ok"]:
            raise FormatError(f"{place} is a damaged SQLite database (its quick_check says: {'; '.join(problems[:3])})")
        if "meta" not in tables:
            raise FormatError(
                f"{place} is an SQLite database but not a sweep store (its tables: {', '.join(sorted(tables))})"
            )
        meta = dict(connection.execute("SELECT key, value FROM meta"))
    except sqlite3.DatabaseError as e:
        raise FormatError(f"{place} is not a sweep store: SQLite cannot read it ({e})") from e
    if meta.get("format") != FORMAT or not _TABLES <= tables:
        raise FormatError(f"{place} is an SQLite database but not a sweep store (meta format {meta.get('format')!r})")
    version = meta.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise FormatError(
            f"{place} has store format version {version!r}; this fnn reads versions up to {FORMAT_VERSION}: upgrade fnn"
        )
    return True


def _decode(text: str, path: pathlib.Path, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise FormatError(f"{os.fspath(path)}: {what} is not valid JSON ({e})") from e


@attrs.frozen
class Stored:
    """A row read from a store: the exact config JSON, the status and the row."""

    config: str
    status: str
    row: dict


class Store:
    """An open store, held by the process that drives a sweep: reads the done pairs, commits each row.

    Made by :func:`open_store`; a context manager that closes the database and releases the lock.
    """

    def __init__(self, path: pathlib.Path, connection: sqlite3.Connection, lock: int | None) -> None:
        self.path, self._db, self._lock = path, connection, lock

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            if self._lock is not None:
                os.close(self._lock)  # releases the flock
                self._lock = None

    def _write(self, statements: Sequence[tuple[str, Any]]) -> None:
        """One transaction: every statement, then COMMIT; on any error (a KeyboardInterrupt too) nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, values in statements:
                if isinstance(values, list):
                    self._db.executemany(sql, values)
                else:
                    self._db.execute(sql, values)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def finished(self) -> dict[str, Stored]:
        """Every stored row, by pair identity."""
        out = {}
        for pair, config, status, row in self._db.execute("SELECT pair, config, status, row FROM rows"):
            out[pair] = Stored(config, status, _decode(row, self.path, f"the row of pair {pair}"))
        return out

    def set_grid(self, pairs: Sequence[str]) -> None:
        """Record the pairs of this sweep call, in row order (what :func:`stored_rows` orders by)."""
        self._write(
            [("DELETE FROM grid", ()), ("INSERT INTO grid (position, pair) VALUES (?, ?)", list(enumerate(pairs)))]
        )

    def put(
        self,
        pair: str,
        config: str,
        seed: int,
        row: str,
        *,
        error: tuple[str, str] | None,
        seconds: float | None,
        workdir: str | None,
    ) -> None:
        """Commit one finished pair (replacing a failure that was retried)."""
        finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        values = (
            pair,
            config,
            seed if seed < 2**63 else str(seed),
            "ok" if error is None else "error",
            row,
            *(error or (None, None)),
            seconds,
            finished,
            workdir,
        )
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO rows (pair, config, seed, status, row, error_type, error_message, "
                    "seconds, finished, workdir) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            ]
        )


def _take_lock(path: pathlib.Path, where: str) -> int | None:
    """An exclusive advisory lock on ``PATH.lock`` for this process, or ConfigError naming the holder."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; one driver per store is then the user's to keep
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        raise ConfigError(f"{where}: cannot create the store's lock file {os.fspath(lock_path)}: {e}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise ConfigError(
            f"{where}: the store {os.fspath(path)} is in use by another sweep (process {holder}); two drivers would "
            f"run the same pairs: wait for it to end, or give this sweep another store"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
    return fd


def open_store(path: Any, run_name: str, *, where: str = "sweep") -> Store:
    """Open (or create) the store at ``path`` for the run function named ``run_name``, locked for this process.

    Raises:
        ConfigError: ``path`` is not a path, is a directory or is in a missing directory; the
            store belongs to another run function; another process holds it.
        FormatError: the file is not a sweep store, is damaged, or is of a newer format.
    """
    path = _check_path(path, where)
    if path.exists() and path.stat().st_size:  # checked before the lock: a wrong file gets no lock file beside it
        with contextlib.closing(_connect(path, read_only=True)) as db:
            _checked_tables(db, path, where)
    lock = _take_lock(path, where)
    try:
        db = _connect(path, read_only=False)
    except sqlite3.Error as e:
        if lock is not None:
            os.close(lock)
        raise ConfigError(f"{where}: cannot open the store {os.fspath(path)}: {e}") from e
    store = Store(path, db, lock)
    try:
        _prepare(store, run_name, where)
    except BaseException:
        store.close()
        raise
    return store


def _prepare(store: Store, run_name: str, where: str) -> None:
    db, path = store._db, store.path
    if not _checked_tables(db, path, where, thorough=False):
        db.execute("PRAGMA journal_mode = WAL")
        meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "run": run_name, "fnn_version": __version__}
        store._write(
            [(statement, ()) for statement in _SCHEMA.split(";") if statement.strip()]
            + [("INSERT INTO meta (key, value) VALUES (?, ?)", list(meta.items()))]
        )
    db.execute("PRAGMA synchronous = FULL")  # a committed row survives a power cut, not only a kill
    (owner,) = db.execute("SELECT value FROM meta WHERE key = 'run'").fetchone() or ("?",)
    if owner != run_name:
        raise ConfigError(
            f"{where}: the store {os.fspath(path)} belongs to the run function {owner}, not {run_name}; its rows are "
            f"another function's results: give this sweep another store (one store per run function)"
        )


def _order(path: pathlib.Path, db: sqlite3.Connection) -> list[tuple[str, str]]:
    return list(
        db.execute(
            "SELECT rows.pair, rows.row FROM rows LEFT JOIN grid ON grid.pair = rows.pair "
            "ORDER BY grid.position IS NULL, grid.position, rows.rowid"
        )
    )


def stored_rows(path: str | os.PathLike) -> list[dict]:
    """The rows a store holds: those of the latest sweep's grid in its order, then any others.

    Reads without writing or locking, so it works while a sweep is writing the store (from
    another process too). Failed pairs are rows with ``status="error"`` (see :func:`fnn.sweep`).

    Raises:
        ConfigError: ``path`` is not a path, is a directory, or its directory is missing.
        FileNotFoundError: there is no file at ``path``.
        FormatError: the file is not a sweep store, is damaged or of a newer format.

    >>> import tempfile, fnn
    >>> from fnn.sweep.store import stored_rows
    >>> def run(config, key):
    ...     return {"score": config["x"] + key.seed}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     rows = fnn.sweep(run, {"x": [10, 20]}, 2, store=f"{d}/s.db", executor=fnn.SerialExecutor())
    ...     stored_rows(f"{d}/s.db") == rows
    True
    """
    path = _check_path(path, "stored_rows")
    if not path.exists():
        raise FileNotFoundError(f"stored_rows: there is no store at {os.fspath(path)}")
    try:
        db = _connect(path, read_only=True)
    except sqlite3.Error as e:
        raise FormatError(f"stored_rows: cannot open {os.fspath(path)}: {e}") from e
    try:
        if not _checked_tables(db, path, "stored_rows", thorough=False):
            raise FormatError(f"stored_rows: {os.fspath(path)} is an empty SQLite database, not a sweep store")
        try:
            found = _order(path, db)
        except sqlite3.DatabaseError as e:
            raise FormatError(f"stored_rows: cannot read the rows of {os.fspath(path)} ({e})") from e
    finally:
        db.close()
    return [_decode(row, path, f"the row of pair {pair}") for pair, row in found]
