"""The boundary of :func:`fnn.sweep`.

The grid, the seeds, ``run``, the executor and the options, checked before any work starts."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import inspect
import itertools
import math
import operator
import os
import pathlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fnn._checks import MAX_BYTES, boolean, is_integer, is_real, size_limit
from fnn.errors import ConfigError
from fnn.sweep._serial import SerialExecutor
from fnn.sweep._task import ByName

SEED = "seed"
STATUS, ERROR_TYPE, ERROR_MESSAGE = "status", "error_type", "error_message"
"""The keys of a failed pair's row besides its config and seed (``on_error="record"``)."""
ON_ERROR = ("raise", "record")


def check_config(config: Any, where: str) -> dict:
    if not isinstance(config, Mapping):
        raise ConfigError(f"sweep: {where} must be a dict of settings, got {type(config).__name__} {config!r}")
    for name in config:
        if not isinstance(name, str):
            raise ConfigError(f"sweep: {where} keys must be strings (they name the columns of the rows), got {name!r}")
    if SEED in config:
        raise ConfigError(
            f"sweep: {where} has a key {SEED!r}, which rows use for the seed; seeds go in the seeds argument"
        )
    return dict(config)


def settings_of(grid: Any) -> list[dict]:
    """Every setting of ``grid`` in grid order: a dict of lists (product, last key fastest) or a list of dicts."""
    if isinstance(grid, Mapping):
        grid = check_config(grid, "grid")
        if not grid:
            raise ConfigError(
                "sweep: grid is an empty dict; give at least one key with a list of values, e.g. {'lr': [0.1, 0.01]}"
            )
        for name, values in grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"sweep: grid[{name!r}] must be a non-empty list of values, got {values!r}")
        settings = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    elif isinstance(grid, (list, tuple)):
        if not grid:
            raise ConfigError("sweep: grid is an empty list; give at least one setting (a dict)")
        settings = [check_config(config, f"grid[{i}]") for i, config in enumerate(grid)]
    else:
        raise ConfigError(
            f"sweep: grid must be a dict of lists (every combination) or a list of dicts (one setting each), "
            f"got {type(grid).__name__}"
        )
    seen: dict = {}
    for i, config in enumerate(settings):
        first = seen.setdefault(setting_key(config.items()), i)
        if first != i:
            raise ConfigError(
                f"sweep: grid has the setting {config!r} twice (settings {first} and {i}); each must be distinct"
            )
    return settings


PAIR_BYTES = 1024
"""What one (config, seed) pair costs the driver, in bytes, for :func:`fnn.sweep`'s ``max_bytes``: its
task, its row and the bookkeeping (measured: 500 bytes a pair for a row of two results; twice that
leaves room for larger rows). The default limit, 8 GiB, so allows about 8 million pairs."""


def seed_list(seeds: Any, settings: int = 1, max_bytes: Any = MAX_BYTES) -> list[int]:
    """``seeds`` as a list of distinct non-negative Python ints (an int N means range(N)); ConfigError, before
    the list is made, if ``settings`` times that many pairs would need more than ``max_bytes``."""
    if is_integer(seeds):
        if seeds < 1:
            raise ConfigError(f"sweep: seeds=N runs seeds 0..N-1 and needs N ≥ 1, got {seeds}")
        pairs = f"{seeds * settings:,} pairs of ~{PAIR_BYTES} bytes"
        size_limit(
            seeds * settings * PAIR_BYTES, max_bytes, f"sweep: {settings:,} settings × seeds={seeds:,} ({pairs})"
        )
        return list(range(operator.index(seeds)))
    if hasattr(seeds, "__len__"):
        size_limit(
            len(seeds) * settings * PAIR_BYTES,
            max_bytes,
            f"sweep: {settings:,} settings × {len(seeds):,} seeds ({len(seeds) * settings:,} pairs)",
        )
    if isinstance(seeds, np.ndarray):
        seeds = seeds.tolist() if seeds.ndim == 1 else seeds
    if not isinstance(seeds, (list, tuple, range)):
        raise ConfigError(
            f"sweep: seeds must be a list of non-negative ints or an int N (for 0..N-1), got {type(seeds).__name__}"
        )
    if not seeds:
        raise ConfigError("sweep: seeds is empty; give at least one seed")
    out: dict[int, int] = {}  # seed: its position (a dict: a check in constant time)
    for i, seed in enumerate(seeds):
        if not is_integer(seed) or seed < 0:
            raise ConfigError(f"sweep: seeds[{i}] must be a non-negative int, got {seed!r} ({type(seed).__name__})")
        if seed in out:
            raise ConfigError(f"sweep: seed {seed} appears twice in seeds (positions {out[seed]} and {i})")
        out[operator.index(seed)] = i
    return list(out)


def target_of(run: Callable) -> Any:
    """What pickling ``run`` by reference has to import: the function under partials, or an object's class."""
    while isinstance(run, functools.partial):
        run = run.func
    if hasattr(run, "__qualname__"):
        return run
    return type(run)


def in_process(executor: cf.Executor) -> bool:
    return isinstance(executor, (SerialExecutor, cf.ThreadPoolExecutor))


def shipped(run: Callable, executor: cf.Executor | None) -> Any:
    """``run`` as it travels to the workers: itself in this process, a :class:`ByName` for a function elsewhere."""
    if executor is not None and in_process(executor):
        return run
    if inspect.isfunction(run):
        return ByName(run.__module__, run.__qualname__)
    return run  # a partial or a callable object: pickled, its function or class by name


def check_run(run: Any, executor: cf.Executor | None) -> None:
    if not callable(run):
        raise ConfigError(f"sweep: run must be a function run(config, key) -> dict, got {type(run).__name__} {run!r}")
    if executor is not None and in_process(executor):
        return
    target = target_of(run)
    qualname = getattr(target, "__qualname__", "")
    here = "pass executor=fnn.SerialExecutor() or a ThreadPoolExecutor to run in this process"
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise ConfigError(
            f"sweep: run is {qualname!r}, a lambda or a function defined inside another function; the sweep's "
            f"workers run in other processes and import run by its module-level name, which this one does not "
            f"have. Define it with def at the top level of a module (a script's own file works), or {here}"
        )
    if getattr(target, "__module__", None) == "__main__" and not hasattr(sys.modules.get("__main__"), "__file__"):
        raise ConfigError(
            f"sweep: run {qualname!r} is defined in an interactive session (a notebook or the REPL), which the "
            f"worker processes cannot import; move it into a .py module and import it from there, or {here}"
        )
    if inspect.isfunction(run):
        try:
            found = ByName(run.__module__, qualname).resolve()
        except ImportError:
            found = None
        if found is not run:
            raise ConfigError(
                f"sweep: run's name {run.__module__}.{qualname} does not lead back to it (redefined, or wrapped by a "
                f"decorator without functools.wraps), so workers that import it by name would run something else; "
                f"define it once at the top level of a module, or {here}"
            )


def check_executor(executor: Any, max_workers: Any) -> None:
    if executor is not None:
        if not isinstance(executor, cf.Executor):
            raise ConfigError(
                f"sweep: executor must be a concurrent.futures.Executor (a Dask Client gives one with "
                f".get_executor()), got {type(executor).__name__}"
            )
        if max_workers is not None:
            raise ConfigError("sweep: max_workers sizes the default process pool; it cannot be used with executor=")
    elif max_workers is not None and (not is_integer(max_workers) or max_workers < 1):
        raise ConfigError(f"sweep: max_workers must be an int ≥ 1 or None (one per CPU), got {max_workers!r}")


def freeze(value: Any) -> Any:
    """A hashable stand-in for ``value`` that is equal for equal values (lists, dicts and arrays too)."""
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((repr(k), freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(freeze(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


def setting_key(items: Any) -> tuple:
    return tuple(sorted((name, freeze(value)) for name, value in items))


def name_of(run: Callable) -> str:
    """``module.qualname`` of ``run`` (of the function under partials, or of a callable object's class)."""
    target = target_of(run)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def is_error_row(row: Mapping) -> bool:
    """Whether ``row`` is a failed pair's row (``status="error"`` with the error's type and message)."""
    return row.get(STATUS) == "error" and ERROR_TYPE in row and ERROR_MESSAGE in row


def check_signature(run: Callable, workdirs: bool) -> None:
    """ConfigError unless ``run`` can be called as ``run(config, key)``.

    (``run(config, key, workdir)`` with workdirs.)"""
    try:
        signature = inspect.signature(run)
    except (TypeError, ValueError):  # some builtins and C callables have none to read: let the call tell
        return
    args = ("config", "key", "workdir") if workdirs else ("config", "key")
    try:
        signature.bind(*args)
    except TypeError:
        why = (
            "workdirs= adds the pair's working directory as a third argument"
            if workdirs
            else "a third argument, the pair's working directory, comes with workdirs=DIR"
        )
        raise ConfigError(
            f"sweep: run {name_of(run)} is called as run({', '.join(args)}) ({why}), but its signature is {signature}"
        ) from None


def check_options(
    on_error: Any, retry_failed: Any, store: Any, timeout: Any, executor: Any, progress: Any, best: Any
) -> float | None:
    """The options of :func:`fnn.sweep` beyond the grid; returns the timeout in seconds (or None)."""
    if not isinstance(on_error, str) or on_error not in ON_ERROR:
        raise ConfigError(
            f"sweep: on_error must be 'raise' (stop at the first failure) or 'record' (a failed pair "
            f"becomes a row with status='error'), got {on_error!r}"
        )
    boolean(retry_failed, "sweep: retry_failed")
    if retry_failed and store is None:
        raise ConfigError("sweep: retry_failed=True runs again the failed pairs of a store; it needs store=PATH")
    boolean(progress, "sweep: progress")
    if best is not None:
        if not (
            isinstance(best, (tuple, list))
            and len(best) == 2
            and isinstance(best[0], str)
            and best[1] in ("min", "max")
        ):
            raise ConfigError(
                f"sweep: best must be a (result name, 'min' or 'max') pair, e.g. ('val_loss', 'min'), got {best!r}"
            )
        if not progress:
            raise ConfigError("sweep: best= names the result the progress display reports; pass progress=True too")
    if timeout is None:
        return None
    if not is_real(timeout) or not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"sweep: timeout must be a positive number of seconds (per run) or None, got {timeout!r}")
    if executor is not None:
        raise ConfigError(
            "sweep: timeout= ends an overdue run by ending its worker process, "
            "which fnn can do only in its own process "
            "pool (a thread cannot be stopped, and another executor's workers are not fnn's to end); leave executor "
            "out (max_workers= sizes the pool), or set a time limit in the cluster"
        )
    return float(timeout)


def check_record_keys(settings: list[dict]) -> None:
    """A failed pair's row holds its config and the error keys: a config key among those would be lost."""
    for i, config in enumerate(settings):
        for name in (STATUS, ERROR_TYPE, ERROR_MESSAGE):
            if name in config:
                raise ConfigError(
                    f"sweep: setting {i} has a key {name!r}, which on_error='record' uses in the rows of "
                    f"failed pairs; rename that setting"
                )


def workdir_root(workdirs: Any) -> pathlib.Path | None:
    """``workdirs`` checked and made absolute (workers elsewhere may have another current directory); created."""
    if workdirs is None:
        return None
    if not isinstance(workdirs, (str, os.PathLike)):
        raise ConfigError(f"sweep: workdirs must be a directory path or None, got {type(workdirs).__name__}")
    root = pathlib.Path(os.path.abspath(os.fspath(workdirs)))
    if root.exists() and not root.is_dir():
        raise ConfigError(f"sweep: workdirs={os.fspath(workdirs)!r} is a file; give a directory (created if missing)")
    if not root.parent.is_dir():
        raise ConfigError(
            f"sweep: workdirs={os.fspath(workdirs)!r} is in the directory {os.fspath(root.parent)!r}, "
            f"which does not exist; create it first"
        )
    root.mkdir(exist_ok=True)
    return root
