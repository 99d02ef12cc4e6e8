"""Running a sweep: every (config, seed) pair on an executor, each row kept as it finishes, the rows in grid order."""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fnn._checks import MAX_BYTES
from fnn.errors import ConfigError, SweepError
from fnn.sweep import _grid
from fnn.sweep import store as _store
from fnn.sweep._grid import ERROR_MESSAGE, ERROR_TYPE, SEED, STATUS, name_of
from fnn.sweep._pool import StartFailed, run_in_processes
from fnn.sweep._progress import Display
from fnn.sweep._task import Done, Failed, run_task


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _failure(outcome: Failed, run: Callable, config: dict, seed: int) -> SweepError:
    hint = ""
    if isinstance(outcome.error, cf.BrokenExecutor):
        hint = (
            " (a worker process died: it crashed, ran out of memory or could not unpack the task; "
            "pass executor=fnn.SerialExecutor() to see the error in this process)"
        )
    elif isinstance(outcome.error, ImportError):
        hint = (
            " (make run's module importable in the workers: install its package, or put its folder on their PYTHONPATH)"
        )
    elif outcome.type_name == "NameError":
        hint = (
            ' (worker processes import run\'s module afresh and do not run its `if __name__ == "__main__":` block: '
            "a global set there is not defined in them; set it at the module's top level, load it inside run, or "
            "pass it in the grid)"
        )
    failed = SweepError(
        f"sweep: run {name_of(run)} failed for config {config!r}, seed {seed}: "
        f"{outcome.type_name}: {outcome.message}{hint}"
    )
    failed.config, failed.seed, failed.rows = dict(config), seed, []
    failed.__cause__, failed.__suppress_context__ = outcome.error, True
    return failed


def _finished(n: int) -> str:
    return "1 row that finished is" if n == 1 else f"{n} rows that finished are"


def _checked(result: Any, run: Callable, config: dict, seed: int) -> dict:
    if not isinstance(result, dict):
        raise ConfigError(
            f"sweep: run {name_of(run)} must return a dict of results, got {type(result).__name__} "
            f"for config {config!r}, seed {seed}"
        )
    for name in result:
        if name == SEED or name in config:
            raise ConfigError(
                f"sweep: run {name_of(run)} returned the key {name!r}, which is already a "
                f"{'row' if name == SEED else 'config'} key (config {config!r}, seed {seed}); rename that result"
            )
    return result


class _Broken(Exception):
    """A given executor broke (a worker of a ProcessPoolExecutor died): every pair in flight failed at once."""

    def __init__(self, error: BaseException, indices: list[int]) -> None:
        super().__init__(error)
        self.error, self.indices = error, indices


def _on_executor(executor: cf.Executor, shipped: Any, jobs: Sequence[tuple], deliver: Callable) -> None:
    """Submit ``jobs`` to a given executor, ``deliver`` each outcome as it ends; cancel what is left on a stop."""
    futures: dict[cf.Future, int] = {}
    going = True

    def settle(future: cf.Future) -> None:
        nonlocal going
        index = futures.pop(future)
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, cf.BrokenExecutor):  # it cannot say which pair its dead worker ran: all are suspects
            raise _Broken(error, [index, *futures.values()])
        outcome = Failed.of(error) if error is not None else Done(*future.result())
        going = deliver(index, outcome) and going
        if not going:
            for pending in [f for f in futures if f.cancel()]:
                del futures[pending]

    try:
        for index, (config, *rest) in jobs:
            if not going:
                break
            # Each task gets its own copy of the config: a run that changes it in place changes
            # neither the rows nor the other tasks (in another process, pickling copies it).
            future = executor.submit(run_task, shipped, dict(config), *rest)
            futures[future] = index
            if future.done():  # a serial executor: stop at the first failure
                settle(future)
        while futures:
            done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
            for future in done:
                if future in futures:
                    settle(future)
    except BaseException:
        for future in futures:
            future.cancel()
        raise


class _Rows:
    """The rows of one sweep call as its pairs finish: checked, committed to the store, shown; the first failure."""

    def __init__(
        self,
        run: Callable,
        tasks: list[tuple[dict, int]],
        *,
        record: bool,
        kept: _store.Store | None,
        pairs: list[Any],
        workdirs: list[pathlib.Path | None],
        display: Display,
    ) -> None:
        self.run, self.tasks, self.record, self.kept = run, tasks, record, kept
        self.pairs, self.workdirs, self.display = pairs, workdirs, display
        self.rows: dict[int, dict] = {}
        self.failure: BaseException | None = None

    def deliver(self, index: int, outcome: Done | Failed) -> bool:
        """Keep the outcome of pair ``index``; False once the sweep must stop (a failure with on_error='raise')."""
        config, seed = self.tasks[index]
        if isinstance(outcome, Done):
            try:
                result = _checked(outcome.result, self.run, config, seed)
                if self.kept is not None:
                    _store.check_json(result, f"run {name_of(self.run)} for config {config!r}, seed {seed}: result")
                row = {**config, SEED: seed, **result}
            except ConfigError as error:
                if not self.record:
                    self.failure = self.failure or error
                    return False
                outcome = Failed.of(error, outcome.seconds)
        if isinstance(outcome, Failed):
            if not self.record:
                self.failure = self.failure or _failure(outcome, self.run, config, seed)
                return False
            row = {**config, SEED: seed, STATUS: "error", ERROR_TYPE: outcome.type_name, ERROR_MESSAGE: outcome.message}
        if self.kept is not None:
            text = _store.encode(row)
            failure = (outcome.type_name, outcome.message) if isinstance(outcome, Failed) else None
            workdir = self.workdirs[index]
            self.kept.put(
                self.pairs[index],
                _store.encode(config),
                seed,
                text,
                error=failure,
                seconds=outcome.seconds,
                workdir=None if workdir is None else os.fspath(workdir),
            )
            row = json.loads(text)  # the stored form, which a rerun returns: equal, and the same types
        self.rows[index] = row
        self.display.update(row)
        return True

    def done(self) -> list[dict]:
        return [self.rows[i] for i in sorted(self.rows)]


def _stored(
    kept: _store.Store,
    tasks: list[tuple[dict, int]],
    pairs: list[str],
    *,
    record: bool,
    retry_failed: bool,
    run: Callable,
) -> dict[int, dict]:
    """The rows the store holds for this call's pairs (failed ones only with on_error='record' and no retry)."""
    found = kept.finished()
    rows: dict[int, dict] = {}
    failed: list[int] = []
    for i, ((config, seed), pair) in enumerate(zip(tasks, pairs, strict=True)):
        stored = found.get(pair)
        if stored is None:
            continue
        if stored.config != _store.encode(config):
            raise ConfigError(
                f"sweep: the store {os.fspath(kept.path)} holds the config {stored.config} for seed {seed} "
                f"where this grid gives {_store.encode(config)}: "
                f"equal values written another way (a type, or the key order), whose row "
                f"would differ from the one this call returns; write the grid as it was, or use another store"
            )
        if stored.status == "error" and (retry_failed or not record):
            failed.append(i)
            continue
        rows[i] = stored.row
    if failed and not retry_failed:
        config, seed = tasks[failed[0]]
        row = found[pairs[failed[0]]].row
        error = SweepError(
            f"sweep: the store {os.fspath(kept.path)} holds a failure of run {name_of(run)} for config {config!r}, "
            f"seed {seed} ({row[ERROR_TYPE]}: {row[ERROR_MESSAGE]})"
            f"{f' and {len(failed) - 1} more' if len(failed) > 1 else ''}; "
            f"pass retry_failed=True to run the failed pairs again, or on_error='record' to get them as rows"
        )
        error.config, error.seed, error.rows = dict(config), seed, [rows[i] for i in sorted(rows)]
        raise error
    return rows


def sweep(
    run: Callable[..., dict],
    grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]],
    seeds: int | Sequence[int],
    *,
    executor: cf.Executor | None = None,
    max_workers: int | None = None,
    store: str | os.PathLike | None = None,
    on_error: str = "raise",
    retry_failed: bool = False,
    timeout: float | None = None,
    workdirs: str | os.PathLike | None = None,
    progress: bool = False,
    best: tuple[str, str] | None = None,
    max_bytes: int | None = MAX_BYTES,
) -> list[dict]:
    """Run ``run(config, fnn.random.key(seed))`` for every setting and seed; one row per pair.

    Args:
        run: a function ``run(config, key) -> dict`` defined at the top level of a module, so
            that worker processes can import it (a lambda or nested function is accepted only
            by in-process executors). It gets a fresh copy of the config and the key
            ``fnn.random.key(seed)``, and returns a dict of results whose keys differ from the
            config's and from ``"seed"``. With ``workdirs``, ``run(config, key, workdir)``.
        grid: a dict of lists, ``{"lr": [0.1, 0.01], "width": [32, 64]}``: every combination,
            in the dict's key order, the last key varying fastest; or a list of dicts, one
            setting each (e.g. from :func:`fnn.sweep.space.random_search`). Keys are strings;
            ``"seed"`` is reserved; settings are distinct.
        seeds: a list of distinct non-negative ints, or an int N for seeds 0..N-1.
        executor: None for fnn's local process pool (created and ended here), or any
            :class:`concurrent.futures.Executor`: :class:`SerialExecutor`, a
            ``ThreadPoolExecutor``, a ``ProcessPoolExecutor``, or a Dask cluster's
            ``Client(...).get_executor()``. A given executor is never shut down.
        max_workers: processes of the default pool (default: one per CPU, at most one per pair).
        store: the path of an SQLite file (see :mod:`fnn.sweep.store`) that keeps every
            finished row, committed as its run finishes; its directory must exist. Called
            again with the same store, the sweep returns the stored rows of the pairs that
            are done and runs only the others (new settings or seeds included); a store of
            another ``run`` function, or holding a pair's config written another way, is
            refused. Rows (configs and results) must then be JSON: numbers, strings, bools,
            None, lists and dicts.
        on_error: ``"raise"`` (stop at the first failure, as a :class:`~fnn.errors.SweepError`)
            or ``"record"``: a failed pair becomes the row ``{**config, "seed": seed,
            "status": "error", "error_type": ..., "error_message": ...}`` and the sweep goes on.
        retry_failed: with a store, run again the pairs stored as failed (by default a rerun
            returns them as they are with ``"record"``, and refuses them with ``"raise"``).
        timeout: seconds a run may take in fnn's process pool (counted once its worker is up);
            an overdue run fails with ``TimeoutError`` and its worker process is ended.
        workdirs: a directory (created if missing; its parent must exist) under which each
            pair gets a working directory of its own, the same on every rerun
            (:func:`fnn.sweep.store.pair_dir`): ``run`` is called as ``run(config, key,
            workdir)``, so ``fnn.fit(..., resume=workdir)`` inside it continues an interrupted
            run from its last checkpoint. On a cluster it must be on a shared file system.
        progress: show finished, failed and remaining pairs as they finish (a tqdm bar when
            tqdm is installed, else a line on stderr per pair).
        best: ``(result name, "min" or "max")``: the progress display also shows the best
            row so far by that result.
        max_bytes: refuse, before any list is made, a sweep whose pairs would need more bytes in
            this process than this (about 1 KiB a pair: the default, 8 GiB, allows some 8 million
            pairs); None for no limit. ``seeds=10**9`` is refused at once, not after the memory is gone.

    Returns:
        A list of dicts ``{**config, "seed": seed, **result}``, settings in grid order and seeds
        inside each setting in the order given, whatever order the work finished in. The rows
        are bitwise the same for every executor and number of workers, with or without a
        store, and however many times the sweep was interrupted and rerun.

    Raises:
        ConfigError: a bad ``run``, ``grid``, ``seeds``, ``executor``, option or store path, a
            grid that a store cannot keep (before any work starts); a store of another run or
            config; with ``on_error="raise"``, ``run`` returned a non-dict, a key that clashes,
            or (with a store) a value JSON cannot hold (names the key).
        FormatError: ``store`` is not a sweep store, or is damaged.
        SweepError: with ``on_error="raise"``, ``run`` raised, its worker died or it timed out;
            the message names the config and seed, ``.config`` and ``.seed`` hold them,
            ``.rows`` the rows that finished (they are in the store too), and ``__cause__`` is
            the original error. Runs not yet started are cancelled, runs already running
            finish first (their rows are kept). Also when the store holds a failure and
            ``retry_failed`` is False.

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

    A failure as a row, and a store that keeps the rows for the next call:

    >>> import tempfile
    >>> def fragile(config, key):
    ...     if config["lr"] > 1:
    ...         raise ValueError(f"diverged at lr={config['lr']}")
    ...     return {"loss": config["lr"] / 10}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     rows = fnn.sweep(fragile, {"lr": [0.1, 10]}, 1, store=f"{d}/s.db", on_error="record",
    ...                      executor=fnn.SerialExecutor())
    ...     again = fnn.sweep(fragile, {"lr": [0.1, 10]}, 1, store=f"{d}/s.db", on_error="record",
    ...                       executor=fnn.SerialExecutor())   # runs nothing: both pairs are stored
    >>> rows[1]
    {'lr': 10, 'seed': 0, 'status': 'error', 'error_type': 'ValueError', 'error_message': 'diverged at lr=10'}
    >>> again == rows
    True
    """
    settings = _grid.settings_of(grid)
    seed_list = _grid.seed_list(seeds, len(settings), max_bytes)
    _grid.check_executor(executor, max_workers)
    _grid.check_run(run, executor)
    limit = _grid.check_options(on_error, retry_failed, store, timeout, executor, progress, best)
    _grid.check_signature(run, workdirs is not None)
    record = on_error == "record"
    if record:
        _grid.check_record_keys(settings)
    named = store is not None or workdirs is not None
    if named:  # pairs are named by their JSON, and a store keeps it
        for i, config in enumerate(settings):
            for name, value in config.items():
                _store.check_json(value, f"setting {i}'s {name!r}")
    tasks = [(config, seed) for config in settings for seed in seed_list]
    # a pair's id where a store or workdirs name it (named), None otherwise
    pairs: list[Any] = [_store.pair_id(config, seed) if named else None for config, seed in tasks]
    root = _grid.workdir_root(workdirs)
    dirs = [None if root is None else root / pair for pair in pairs]
    kept = None if store is None else _store.open_store(store, name_of(run))
    try:
        rows = {} if kept is None else _stored(kept, tasks, pairs, record=record, retry_failed=retry_failed, run=run)
        if kept is not None:
            kept.set_grid(pairs)
        display = Display(len(tasks), [rows[i] for i in sorted(rows)], show=progress, best=best)
        collected = _Rows(run, tasks, record=record, kept=kept, pairs=pairs, workdirs=dirs, display=display)
        collected.rows.update(rows)
        jobs = [(i, (config, seed, dirs[i])) for i, (config, seed) in enumerate(tasks) if i not in rows]
        shipped = _grid.shipped(run, executor)
        try:
            if jobs and executor is None:
                workers = min(len(jobs), max_workers if max_workers is not None else _cpu_count())
                run_in_processes(shipped, jobs, workers=workers, timeout=limit, deliver=collected.deliver)
            elif jobs and executor is not None:
                _on_executor(executor, shipped, jobs, collected.deliver)
        except _Broken as broken:
            suspects = [tasks[i] for i in broken.indices]
            error = SweepError(
                f"sweep: a worker process of the given executor died ({type(broken.error).__name__}: {broken.error}) "
                f"while {len(suspects)} pairs were running or queued, and the executor cannot tell which one it ran: "
                f"{', '.join(f'config {c!r} seed {s}' for c, s in suspects)}. None of them is recorded; fnn's own pool "
                f"(leave executor out) names the pair whose worker died and runs the others"
            )
            error.config, error.seed, error.rows = None, None, collected.done()
            raise error from broken.error
        except StartFailed as failed:
            error = SweepError(f"sweep: {failed}")
            error.config, error.seed, error.rows = None, None, collected.done()
            raise error from None
        finally:
            display.close()
    finally:
        if kept is not None:
            kept.close()
    if collected.failure is not None:
        if isinstance(collected.failure, SweepError):
            collected.failure.rows = collected.done()
            kept_too = " and in the store" if store is not None else ""
            collected.failure.args = (
                f"{collected.failure.args[0]}; the {_finished(len(collected.failure.rows))} in this error's "
                f".rows{kept_too}; pass on_error='record' to make each failure a row and run the rest",
            )
        raise collected.failure
    return [collected.rows[i] for i in range(len(tasks))]
