"""The boundary of :func:`fnn.sweep`: the grid, the seeds, ``run`` and the executor, checked before any work starts."""

from __future__ import annotations

import concurrent.futures as cf
import functools
import importlib
import inspect
import itertools
import numbers
import operator
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from fnn.errors import ConfigError

SEED = "seed"


class SerialExecutorBase(cf.Executor):
    """Marker base of :class:`fnn.SerialExecutor`, so that this module can tell in-process executors."""


def _check_config(config: Any, where: str) -> dict:
    if not isinstance(config, Mapping):
        raise ConfigError(f"sweep: {where} must be a dict of settings, got {type(config).__name__} {config!r}")
    for name in config:
        if not isinstance(name, str):
            raise ConfigError(f"sweep: {where} keys must be strings (they name the columns of the rows), got {name!r}")
    if SEED in config:
        raise ConfigError(f"sweep: {where} has a key {SEED!r}, which rows use for the seed; seeds go in the seeds argument")
    return dict(config)


def _settings(grid: Any) -> list[dict]:
    """Every setting of ``grid`` in grid order: a dict of lists (product, last key fastest) or a list of dicts."""
    if isinstance(grid, Mapping):
        grid = _check_config(grid, "grid")
        if not grid:
            raise ConfigError("sweep: grid is an empty dict; give at least one key with a list of values, e.g. {'lr': [0.1, 0.01]}")
        for name, values in grid.items():
            if not isinstance(values, (list, tuple)) or not values:
                raise ConfigError(f"sweep: grid[{name!r}] must be a non-empty list of values, got {values!r}")
        settings = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    elif isinstance(grid, (list, tuple)):
        if not grid:
            raise ConfigError("sweep: grid is an empty list; give at least one setting (a dict)")
        settings = [_check_config(config, f"grid[{i}]") for i, config in enumerate(grid)]
    else:
        raise ConfigError(
            f"sweep: grid must be a dict of lists (every combination) or a list of dicts (one setting each), "
            f"got {type(grid).__name__}"
        )
    seen: dict = {}
    for i, config in enumerate(settings):
        first = seen.setdefault(_setting_key(config.items()), i)
        if first != i:
            raise ConfigError(f"sweep: grid has the setting {config!r} twice (settings {first} and {i}); each must be distinct")
    return settings


def _seeds(seeds: Any) -> list[int]:
    """``seeds`` as a list of distinct non-negative Python ints (an int N means range(N))."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"sweep: seeds=N runs seeds 0..N-1 and needs N ≥ 1, got {seeds}")
        return list(range(operator.index(seeds)))
    if isinstance(seeds, np.ndarray):
        seeds = seeds.tolist() if seeds.ndim == 1 else seeds
    if not isinstance(seeds, (list, tuple, range)):
        raise ConfigError(f"sweep: seeds must be a list of non-negative ints or an int N (for 0..N-1), got {type(seeds).__name__}")
    if not seeds:
        raise ConfigError("sweep: seeds is empty; give at least one seed")
    out: list[int] = []
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ConfigError(f"sweep: seeds[{i}] must be a non-negative int, got {seed!r} ({type(seed).__name__})")
        if seed in out:
            raise ConfigError(f"sweep: seed {seed} appears twice in seeds (positions {out.index(seed)} and {i})")
        out.append(operator.index(seed))
    return out


def _target(run: Callable) -> Any:
    """What pickling ``run`` by reference has to import: the function under partials, or an object's class."""
    while isinstance(run, functools.partial):
        run = run.func
    if hasattr(run, "__qualname__"):
        return run
    return type(run)


def _in_process(executor: cf.Executor) -> bool:
    return isinstance(executor, (SerialExecutorBase, cf.ThreadPoolExecutor))


@attrs.frozen
class _ByName:
    """A function as its module and qualified name: what a worker imports instead of receiving code.

    Pickle would send a function by name too, but a worker that cannot import it then fails
    while unpacking the task, which kills a process pool's worker and stalls a Dask worker;
    resolved inside the task, the ImportError comes back as the task's error.
    """

    module: str
    qualname: str

    def resolve(self) -> Callable:
        try:
            obj: Any = importlib.import_module(self.module)
            for part in self.qualname.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise ImportError(f"cannot import {self.module}.{self.qualname} in process {os.getpid()}: {e}") from e
        return obj


def _shipped(run: Callable, executor: cf.Executor | None) -> Any:
    """``run`` as it travels to the workers: itself in this process, a :class:`_ByName` for a function elsewhere."""
    if executor is not None and _in_process(executor):
        return run
    if inspect.isfunction(run):
        return _ByName(run.__module__, run.__qualname__)
    return run  # a partial or a callable object: pickled, its function or class by name


def _check_run(run: Any, executor: cf.Executor | None) -> None:
    if not callable(run):
        raise ConfigError(f"sweep: run must be a function run(config, key) -> dict, got {type(run).__name__} {run!r}")
    if executor is not None and _in_process(executor):
        return
    target = _target(run)
    qualname = getattr(target, "__qualname__", "")
    in_process = "pass executor=fnn.SerialExecutor() or a ThreadPoolExecutor to run in this process"
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise ConfigError(
            f"sweep: run is {qualname!r}, a lambda or a function defined inside another function; the sweep's "
            f"workers run in other processes and import run by its module-level name, which this one does not "
            f"have. Define it with def at the top level of a module (a script's own file works), or {in_process}"
        )
    if getattr(target, "__module__", None) == "__main__" and not hasattr(sys.modules.get("__main__"), "__file__"):
        raise ConfigError(
            f"sweep: run {qualname!r} is defined in an interactive session (a notebook or the REPL), which the "
            f"worker processes cannot import; move it into a .py module and import it from there, or {in_process}"
        )
    if inspect.isfunction(run):
        try:
            found = _ByName(run.__module__, qualname).resolve()
        except ImportError:
            found = None
        if found is not run:
            raise ConfigError(
                f"sweep: run's name {run.__module__}.{qualname} does not lead back to it (redefined, or wrapped by a "
                f"decorator without functools.wraps), so workers that import it by name would run something else; "
                f"define it once at the top level of a module, or {in_process}"
            )


def _check_executor(executor: Any, max_workers: Any) -> None:
    if executor is not None:
        if not isinstance(executor, cf.Executor):
            raise ConfigError(
                f"sweep: executor must be a concurrent.futures.Executor (a Dask Client gives one with "
                f".get_executor()), got {type(executor).__name__}"
            )
        if max_workers is not None:
            raise ConfigError("sweep: max_workers sizes the default process pool; it cannot be used with executor=")
    elif max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, numbers.Integral) or max_workers < 1
    ):
        raise ConfigError(f"sweep: max_workers must be an int ≥ 1 or None (one per CPU), got {max_workers!r}")



def _freeze(value: Any) -> Any:
    """A hashable stand-in for ``value`` that is equal for equal values (lists, dicts and arrays too)."""
    if isinstance(value, Mapping):
        return ("dict", tuple(sorted((repr(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


def _setting_key(items: Any) -> tuple:
    return tuple(sorted((name, _freeze(value)) for name, value in items))


def name_of(run: Callable) -> str:
    """``module.qualname`` of ``run`` (of the function under partials, or of a callable object's class)."""
    target = _target(run)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
