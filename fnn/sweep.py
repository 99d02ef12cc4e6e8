"""Seeded experiment sweeps: every (setting, seed) pair, in a process pool, a thread or on a cluster.

:func:`sweep` runs ``run(config, key)`` for every setting of a grid and every seed and
returns one row per pair: the config, its ``seed`` and what ``run`` returned. The key is
``fnn.random.key(seed)`` and nothing else reaches ``run``, so for a ``run`` that depends on
its arguments only, a row is a function of (config, seed): the rows are the same, bit for
bit, whichever executor runs them, with however many workers, in whatever order the work
finishes. (Across machines, that also takes the same NumPy build and CPU kernels: BLAS
libraries pick their summation order by CPU.)

Work leaves this process as three plain values: ``run`` by reference (its module and
qualified name, which the worker imports: no code travels), the config and the seed; the
worker builds the key itself. A lambda or a function defined inside another function has
no name to import by, so it is refused whenever the work leaves this process. A
``functools.partial`` or a callable object travels pickled, its function or class by name.

Executors:

- ``executor=None``: a fresh local process pool (``forkserver``, or ``spawn`` where there is
  no forkserver), shut down before :func:`sweep` returns.
- :class:`SerialExecutor` (in this thread; for debugging, doctests and ``pdb``) or a
  :class:`concurrent.futures.ThreadPoolExecutor`: work stays in this process.
- any other :class:`concurrent.futures.Executor`, e.g. a Dask cluster's
  ``distributed.Client(...).get_executor()``. fnn never shuts down an executor it was given.

:func:`sweep_summary` groups the rows by setting and reports the mean and standard deviation
of every numeric result across seeds, as a list of dicts or a pandas DataFrame.

>>> import fnn
>>> from fnn.sweep import SerialExecutor
>>> def run(config, key):
...     return {"draw": float(fnn.random.uniform(key)) * config["scale"]}
>>> rows = fnn.sweep(run, {"scale": [1, 100]}, 2, executor=SerialExecutor())
>>> [(r["scale"], r["seed"]) for r in rows]
[(1, 0), (1, 1), (100, 0), (100, 1)]
>>> [r["seeds"] for r in fnn.sweep_summary(rows)]
[2, 2]
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import importlib
import inspect
import itertools
import math
import multiprocessing
import numbers
import operator
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from fnn import random
from fnn.errors import ConfigError, SweepError

__all__ = ["sweep", "sweep_summary", "SerialExecutor"]

_SEED = "seed"
_COUNT = "seeds"


class SerialExecutor(cf.Executor):
    """A :class:`concurrent.futures.Executor` that runs each task at once, in the calling thread.

    ``submit`` returns a future that is already done. Useful to debug a sweep (breakpoints
    and tracebacks stay in this process), in doctests, and for ``run`` functions that
    cannot be imported by another process. Lambdas and nested functions are accepted.

    >>> from fnn.sweep import SerialExecutor
    >>> with SerialExecutor() as ex:
    ...     ex.submit(pow, 2, 10).result()
    1024
    """

    def __init__(self) -> None:
        self._shut = False

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> cf.Future:
        if self._shut:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # noqa: BLE001 - the future carries it, as every executor's does
            future.set_exception(error)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shut = True


# ---------------------------------------------------------------- validation


def _check_config(config: Any, where: str) -> dict:
    if not isinstance(config, Mapping):
        raise ConfigError(f"sweep: {where} must be a dict of settings, got {type(config).__name__} {config!r}")
    for name in config:
        if not isinstance(name, str):
            raise ConfigError(f"sweep: {where} keys must be strings (they name the columns of the rows), got {name!r}")
    if _SEED in config:
        raise ConfigError(f"sweep: {where} has a key {_SEED!r}, which rows use for the seed; seeds go in the seeds argument")
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
    return isinstance(executor, (SerialExecutor, cf.ThreadPoolExecutor))


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


# ---------------------------------------------------------------- running


def _run_task(run: Any, config: dict, seed: int) -> Any:
    """The unit of work a worker receives: ``run`` (or its name), a config and a seed; ``run``'s result out."""
    if isinstance(run, _ByName):
        run = run.resolve()
    return run(config, random.key(seed))


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _process_pool(max_workers: int | None, tasks: int) -> cf.ProcessPoolExecutor:
    # Not "fork": forking a process that has threads (BLAS, a test runner, a Dask client, a
    # GUI) can deadlock the child on a lock some thread held, and Python ≥ 3.12 warns about it.
    # "forkserver" forks each worker from a small single-threaded server process and starts
    # faster than "spawn" (a fresh interpreter per worker), which is the only choice on Windows.
    # Both give each worker this process's sys.path and re-import a script's __main__.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    workers = min(tasks, max_workers if max_workers is not None else _cpu_count())
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def _name(run: Callable) -> str:
    target = _target(run)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"


def _failure(error: BaseException, run: Callable, config: dict, seed: int) -> SweepError:
    hint = ""
    if isinstance(error, cf.BrokenExecutor):
        hint = (
            " (a worker process died: it crashed, ran out of memory or could not unpack the task; "
            "pass executor=fnn.SerialExecutor() to see the error in this process)"
        )
    elif isinstance(error, ImportError):
        hint = " (make run's module importable in the workers: install its package, or put its folder on their PYTHONPATH)"
    failed = SweepError(
        f"sweep: run {_name(run)} failed for config {config!r}, seed {seed}: {type(error).__name__}: {error}{hint}"
    )
    failed.config, failed.seed = dict(config), seed
    return failed


def _checked(result: Any, run: Callable, config: dict, seed: int) -> dict:
    if not isinstance(result, dict):
        raise ConfigError(
            f"sweep: run {_name(run)} must return a dict of results, got {type(result).__name__} "
            f"for config {config!r}, seed {seed}"
        )
    for name in result:
        if name == _SEED or name in config:
            raise ConfigError(
                f"sweep: run {_name(run)} returned the key {name!r}, which is already a "
                f"{'row' if name == _SEED else 'config'} key (config {config!r}, seed {seed}); rename that result"
            )
    return result


def _gather(executor: cf.Executor, run: Callable, tasks: list[tuple[dict, int]]) -> list[dict]:
    """Submit every task, check results as they finish, return them in task order; fail fast."""
    shipped = _shipped(run, executor)
    futures: list[cf.Future] = []
    results: dict[int, dict] = {}

    def settle(i: int) -> None:
        config, seed = tasks[i]
        error = futures[i].exception()
        if error is not None:
            raise _failure(error, run, config, seed) from error
        results[i] = _checked(futures[i].result(), run, config, seed)

    try:
        for config, seed in tasks:
            # Each task gets its own copy of the config: a run that changes it in place changes
            # neither the rows nor the other tasks, in this process or another.
            futures.append(executor.submit(_run_task, shipped, dict(config), seed))
            if futures[-1].done():  # a serial executor: stop at the first failure
                settle(len(futures) - 1)
        index = {future: i for i, future in enumerate(futures)}
        for future in cf.as_completed(futures):
            if index[future] not in results:
                settle(index[future])
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [results[i] for i in range(len(tasks))]


def sweep(
    run: Callable[[dict, random.Key], dict],
    grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]],
    seeds: int | Sequence[int],
    *,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
) -> list[dict]:
    """Run ``run(config, fnn.random.key(seed))`` for every setting and seed; one row per pair.

    Args:
        run: a function ``run(config, key) -> dict`` defined at the top level of a module, so
            that worker processes can import it (a lambda or nested function is accepted only
            by in-process executors). It gets a fresh copy of the config and the key
            ``fnn.random.key(seed)``, and returns a dict of results whose keys differ from the
            config's and from ``"seed"``.
        grid: a dict of lists, ``{"lr": [0.1, 0.01], "width": [32, 64]}``: every combination,
            in the dict's key order, the last key varying fastest; or a list of dicts, one
            setting each. Keys are strings; ``"seed"`` is reserved; settings are distinct.
        seeds: a list of distinct non-negative ints, or an int N for seeds 0..N-1.
        executor: None for a local process pool (created and shut down here), or any
            :class:`concurrent.futures.Executor`: :class:`SerialExecutor`, a
            ``ThreadPoolExecutor``, a ``ProcessPoolExecutor``, or a Dask cluster's
            ``Client(...).get_executor()``. A given executor is never shut down.
        max_workers: processes of the default pool (default: one per CPU, at most one per task).

    Returns:
        A list of dicts ``{**config, "seed": seed, **result}``, settings in grid order and seeds
        inside each setting in the order given, whatever order the work finished in. The rows
        are bitwise the same for every executor and number of workers.

    Raises:
        ConfigError: a bad ``run``, ``grid``, ``seeds``, ``executor`` or ``max_workers`` (before
            any work starts); or ``run`` returned a non-dict or a key that clashes (names the key).
        SweepError: ``run`` raised (or its worker died); the message names the config and seed,
            ``.config`` and ``.seed`` hold them, and ``__cause__`` is the original error. The
            first failure stops the sweep: work not yet started is cancelled.

    See Also:
        :func:`sweep_summary`: mean and standard deviation across seeds, per setting.

    A doctest cannot define a function that other processes import, so this one runs in
    this process (a script would define ``run`` at its top level and leave ``executor`` out):

    >>> import fnn
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> def run(config, key):
    ...     x = fnn.random.normal(key, (1000,), std=config["std"])
    ...     return {"std_hat": float(x.std()), "n": len(x)}
    >>> rows = fnn.sweep(run, {"std": [1.0, 3.0]}, [0, 1], executor=fnn.SerialExecutor())
    >>> [(r["std"], r["seed"]) for r in rows], list(rows[0])
    ([(1.0, 0), (1.0, 1), (3.0, 0), (3.0, 1)], ['std', 'seed', 'std_hat', 'n'])
    >>> with ThreadPoolExecutor(2) as pool:
    ...     rows == fnn.sweep(run, {"std": [1.0, 3.0]}, [0, 1], executor=pool)
    True
    """
    settings = _settings(grid)
    seed_list = _seeds(seeds)
    _check_executor(executor, max_workers)
    _check_run(run, executor)
    tasks = [(config, seed) for config in settings for seed in seed_list]
    if executor is not None:
        results = _gather(executor, run, tasks)
    else:
        pool = _process_pool(max_workers, len(tasks))
        try:
            results = _gather(pool, run, tasks)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return [{**config, _SEED: seed, **result} for (config, seed), result in zip(tasks, results, strict=True)]


# ---------------------------------------------------------------- summary


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


def _config_keys(row: Mapping, i: int) -> list:
    """The keys before ``"seed"``: :func:`sweep` puts the config first, then the seed, then the results."""
    if _SEED not in row:
        raise ConfigError(
            f"sweep_summary: rows[{i}] has no {_SEED!r} key, so its setting cannot be told from its results; "
            f"pass by=[...] with the keys that name a setting"
        )
    return list(itertools.takewhile(lambda name: name != _SEED, row))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _summarize(setting: dict, rows: list[Mapping], skip: set, ddof: int) -> dict:
    out: dict = dict(setting)
    if _COUNT in out:
        raise ConfigError(f"sweep_summary: the setting has a key {_COUNT!r}, which the summary uses for the count of rows")
    out[_COUNT] = len(rows)
    names = [name for name in rows[0] if name not in skip and name not in setting]
    for name in names:
        if not all(name in row and _is_number(row[name]) for row in rows):
            continue
        values = np.array([float(row[name]) for row in rows], dtype=np.float64)
        # A diverged run (inf) makes the mean inf and the std nan: reported, not raised.
        with np.errstate(invalid="ignore", over="ignore"):
            mean = float(values.mean())
            std = float(values.std(ddof=ddof)) if len(values) > ddof else math.nan
        for column, value in ((f"{name}_mean", mean), (f"{name}_std", std)):
            if column in out:
                raise ConfigError(f"sweep_summary: the summary column {column!r} clashes with a key of the setting or rows")
            out[column] = value
    return out


def sweep_summary(
    rows: Sequence[Mapping[str, Any]],
    *,
    by: str | Sequence[str] | None = None,
    ddof: int = 1,
    as_frame: bool = False,
) -> Any:
    """Mean and standard deviation of every numeric result across seeds, one entry per setting.

    Args:
        rows: the rows of :func:`sweep` (or dicts like them).
        by: the keys that name a setting. By default, each row's config keys: those before
            ``"seed"``, as :func:`sweep` orders them. With a subset of them, the other config
            keys are averaged over too (they are never reported as results).
        ddof: delta degrees of freedom of the standard deviation: 1 (default) gives the sample
            standard deviation across seeds (as pandas' ``std``), NaN with a single seed; 0 the
            population one.
        as_frame: return a pandas DataFrame (pandas is imported only then) instead of a list.

    Returns:
        A list of dicts, settings in the order they first appear: the setting's keys, then
        ``"seeds"`` (the number of rows in the group: one per seed when grouping by the whole
        setting), then ``NAME_mean`` and ``NAME_std`` for every result that is a real number
        (not a bool) in every row of the group. Other results (arrays, strings) are left out.
        Means and deviations are float64.

    Raises:
        ConfigError: empty rows, a row that is not a dict, a row without a ``by`` key (or
            without ``"seed"`` when ``by`` is None), a bad ``ddof``, or column names that clash.
        ImportError: ``as_frame=True`` without pandas.

    >>> import fnn
    >>> rows = [{"lr": 0.1, "seed": 0, "acc": 0.90}, {"lr": 0.1, "seed": 1, "acc": 0.94},
    ...         {"lr": 0.01, "seed": 0, "acc": 0.80}, {"lr": 0.01, "seed": 1, "acc": 0.80}]
    >>> for s in fnn.sweep_summary(rows):
    ...     print(s["lr"], s["seeds"], round(s["acc_mean"], 3), round(s["acc_std"], 4))
    0.1 2 0.92 0.0283
    0.01 2 0.8 0.0
    """
    if isinstance(ddof, bool) or not isinstance(ddof, numbers.Integral) or ddof < 0:
        raise ConfigError(f"sweep_summary: ddof must be an int ≥ 0, got {ddof!r}")
    if isinstance(by, str):
        by = [by]
    if by is not None and (not isinstance(by, (list, tuple)) or not all(isinstance(name, str) for name in by)):
        raise ConfigError(f"sweep_summary: by must be a key name or a list of key names, got {by!r}")
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)) or not rows:
        raise ConfigError(f"sweep_summary: rows must be a non-empty list of dicts (from fnn.sweep), got {rows!r:.80}")
    groups: dict[tuple, tuple[dict, list, set]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ConfigError(f"sweep_summary: rows[{i}] must be a dict, got {type(row).__name__}")
        config = _config_keys(row, i) if by is None or _SEED in row else []
        names = config if by is None else list(by)
        for name in names:
            if name not in row:
                raise ConfigError(f"sweep_summary: rows[{i}] has no key {name!r} (by={list(by)!r}); its keys are {list(row)}")
        setting = {name: row[name] for name in names}
        _, members, skip = groups.setdefault(_setting_key(setting.items()), (setting, [], {_SEED}))
        members.append(row)
        skip.update(config)
    summary = [_summarize(setting, members, skip, int(ddof)) for setting, members, skip in groups.values()]
    if not as_frame:
        return summary
    try:
        import pandas
    except ImportError as e:
        raise ImportError("sweep_summary(as_frame=True) needs pandas: pip install pandas (or leave as_frame=False for a list of dicts)") from e
    return pandas.DataFrame(summary)
