"""Running a sweep: every (config, seed) pair on an executor, the rows back in grid order."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fnn import random
from fnn.errors import ConfigError, SweepError
from fnn.sweep._grid import (
    SEED,
    SerialExecutorBase,
    _ByName,
    _check_executor,
    _check_run,
    _seeds,
    _settings,
    _shipped,
    name_of,
)

_SEED = SEED


class SerialExecutor(SerialExecutorBase):
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
        f"sweep: run {name_of(run)} failed for config {config!r}, seed {seed}: {type(error).__name__}: {error}{hint}"
    )
    failed.config, failed.seed = dict(config), seed
    return failed


def _checked(result: Any, run: Callable, config: dict, seed: int) -> dict:
    if not isinstance(result, dict):
        raise ConfigError(
            f"sweep: run {name_of(run)} must return a dict of results, got {type(result).__name__} "
            f"for config {config!r}, seed {seed}"
        )
    for name in result:
        if name == _SEED or name in config:
            raise ConfigError(
                f"sweep: run {name_of(run)} returned the key {name!r}, which is already a "
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
