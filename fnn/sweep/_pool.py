"""fnn's own process pool for sweeps: it knows which pair each worker runs, so it can end one, and lose none.

:class:`concurrent.futures.ProcessPoolExecutor` cannot say which task a dead worker was
running (every future in flight fails with ``BrokenProcessPool``), cannot end one task that
runs too long, and on shutdown waits for the running tasks and for those already queued.
This pool hands each worker one task at a time over a pipe of its own, so the driver always
knows which pair a worker runs:

- a worker that dies (``os._exit``, a segfault, the out-of-memory killer) fails its own pair
  and nobody else's, and a new worker takes its place for the pairs still to run;
- a pair that runs past ``timeout`` fails with ``TimeoutError`` and its worker is killed;
- on any exception in the driver (Ctrl-C's KeyboardInterrupt included) every worker is
  killed at once, and the exception goes on;
- a worker ends by itself as soon as the driver dies (it watches a pipe only the driver holds
  open), so a killed sweep leaves no run going on in the background.

Workers ignore SIGINT: a Ctrl-C in a terminal reaches every process of the foreground group,
and it is the driver's to handle. They start with ``forkserver`` (``spawn`` where there is
none), never ``fork``, for the reasons in :func:`start_method`.
"""

from __future__ import annotations

import collections
import multiprocessing
import multiprocessing.connection
import multiprocessing.reduction
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import attrs

from fnn.sweep._task import Done, Failed, run_task


def start_method() -> str:
    """``forkserver`` where there is one, else ``spawn``.

    Not ``fork``: forking a process that has threads (BLAS, a test runner, a Dask client, a
    GUI) can deadlock the child on a lock some thread held, and Python ≥ 3.12 warns about it.
    ``forkserver`` forks each worker from a small single-threaded server process and starts
    faster than ``spawn`` (a fresh interpreter per worker), which is the only choice on
    Windows. Both give each worker this process's ``sys.path`` and re-import a script's
    ``__main__``.
    """
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


# ------------------------------------------------------------------ in the worker

READY = b"ready"


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker, as text (its ``__cause__`` here)."""

    def __str__(self) -> str:
        return self.args[0]


def _dumps(message: tuple) -> bytes:
    return bytes(multiprocessing.reduction.ForkingPickler.dumps(message))


def _answer(job: tuple) -> bytes:
    """The message for the driver: ("done", result, seconds) or ("failed", error or None, type, text, traceback)."""
    start = time.perf_counter()
    try:
        result, seconds = run_task(*job)
    except BaseException as error:  # noqa: BLE001 - SystemExit from run is the pair's failure, not the worker's end
        trace = "".join(traceback.format_exception(error))
        failed = ("failed", error, type(error).__name__, str(error), trace, time.perf_counter() - start)
        try:
            data = _dumps(failed)
            multiprocessing.reduction.ForkingPickler.loads(data)  # E(a, b) pickles, but cannot be rebuilt from its args
            return data
        except Exception:  # noqa: BLE001 - an exception that cannot travel travels as text
            return _dumps(("failed", None, *failed[2:]))
    try:
        return _dumps(("done", result, seconds))
    except Exception as error:  # noqa: BLE001 - the pair's failure: its result cannot travel
        text = f"run returned a result that cannot be sent back to the sweep: {type(error).__name__}: {error}"
        return _dumps(("failed", None, type(error).__name__, text, "", seconds))


def _end_with_driver(lifeline: multiprocessing.connection.Connection) -> None:
    """Wait until the driver's end of the lifeline closes (the driver ended or died), then end this process."""
    try:
        lifeline.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(0)


def worker_main(tasks: multiprocessing.connection.Connection, lifeline: multiprocessing.connection.Connection) -> None:
    """A worker's life: one job at a time from ``tasks``, its answer back, until None or the driver is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with_driver, args=(lifeline,), daemon=True).start()
    try:
        tasks.send_bytes(READY)  # this far, the worker started: a death after this is its pair's
        while True:
            job = tasks.recv()
            if job is None:
                return
            tasks.send_bytes(_answer(job))
    except (EOFError, OSError):  # the driver is gone
        return


# ------------------------------------------------------------------ in the driver


@attrs.define
class _Worker:
    process: Any
    tasks: multiprocessing.connection.Connection
    lifeline: multiprocessing.connection.Connection
    job: Any = None  # the task it runs, or None when idle
    started: float = 0.0
    ready: bool = False  # it said it started (its first message)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self._close()

    def ask_to_end(self) -> None:
        """Tell an idle worker to end (it exits when it reads this)."""
        try:
            self.tasks.send(None)
        except OSError:
            pass

    def end(self) -> None:
        """Wait a second for the worker to end after :meth:`ask_to_end`; kill it if it has not."""
        self.process.join(1.0)
        self.kill()

    def _close(self) -> None:
        self.process.join(5.0)
        for connection in (self.tasks, self.lifeline):
            connection.close()


def _start(context: Any) -> _Worker:
    here, there = context.Pipe(duplex=True)
    life_reader, life_writer = context.Pipe(duplex=False)
    process = context.Process(target=worker_main, args=(there, life_reader), daemon=True, name="fnn-sweep-worker")
    process.start()
    there.close()
    life_reader.close()
    return _Worker(process, here, life_writer)


def _death(process: Any) -> str:
    process.join(5.0)
    code = process.exitcode
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (which the out-of-memory killer sends)" if -code == getattr(signal, "SIGKILL", 9) else ""
        return f"was killed by {name}{why}"
    return f"exited with code {code}"


class StartFailed(Exception):
    """A worker process died before it could take any work: nothing to do with the pair it was given."""


def _never_started(worker: _Worker) -> StartFailed:
    return StartFailed(
        f"fnn's sweep worker processes die as they start (one {_death(worker.process)}), before taking any work; "
        f"their error output says why. A common cause: the main script cannot be imported again by the workers "
        f"(run from stdin or python -c); put the sweep in a .py file, or pass executor=fnn.SerialExecutor()"
    )


def _died(worker: _Worker) -> tuple[Failed, bool]:
    """The outcome of a worker's death: its pair's failure, or StartFailed if it died before taking any work."""
    if not worker.ready:
        raise _never_started(worker)
    return Failed.of(BrokenProcessPool(f"the worker process running this pair {_death(worker.process)}")), False


def _receive(worker: _Worker) -> tuple[Done | Failed, bool] | None:
    """The worker's answer and whether the worker lives on (``BrokenProcessPool`` when it died); None if none yet."""
    try:
        data = worker.tasks.recv_bytes()
        if data == READY:
            worker.ready = True
            worker.started = time.monotonic()  # a run's time counts from here, not from the worker's start-up
            if not worker.tasks.poll():
                return None
            data = worker.tasks.recv_bytes()
        message = multiprocessing.reduction.ForkingPickler.loads(data)
    except (EOFError, OSError):
        message = None
    except Exception as error:  # noqa: BLE001 - an answer that cannot be unpacked here fails its pair
        return Failed.of(error), True
    if message is None:
        return _died(worker)
    if message[0] == "done":
        return Done(message[1], message[2]), True
    _, raised, type_name, text, trace, seconds = message
    if raised is not None and trace:
        raised.__cause__ = RemoteTraceback(f'\n"""\n{trace}"""')
    return Failed(raised, type_name, text, seconds), True


def run_in_processes(
    shipped: Any,
    jobs: Sequence[tuple[int, tuple]],
    *,
    workers: int,
    timeout: float | None,
    deliver: Callable[[int, Done | Failed], bool],
) -> None:
    """Run ``jobs`` in up to ``workers`` processes; ``deliver`` each outcome.

    A job is ``(index, args)``: its worker calls ``run_task(shipped, *args)``.

    ``deliver(index, outcome)`` is called in this thread as each pair ends; when it returns
    False no further job starts, and those running are waited for (and delivered). Every
    worker has ended when this returns or raises.
    """
    context = multiprocessing.get_context(start_method())
    queue = collections.deque(jobs)
    idle: list[_Worker] = []
    busy: list[_Worker] = []
    going = True

    def settle(worker: _Worker, outcome: Done | Failed, alive: bool) -> None:
        nonlocal going
        index = worker.job[0]
        worker.job = None
        busy.remove(worker)
        if alive and worker.process.is_alive():
            idle.append(worker)
        else:
            worker.kill()  # dead already, or overdue
        going = deliver(index, outcome) and going

    try:
        while busy or (queue and going):
            while queue and going and (idle or len(busy) < workers):
                worker = idle.pop() if idle else _start(context)
                index, args = job = queue.popleft()
                try:
                    worker.tasks.send((shipped, *args))
                except (OSError, EOFError):  # it died idle: not this pair's doing, which a new worker runs
                    worker.kill()
                    if not worker.ready:
                        raise _never_started(worker) from None
                    queue.appendleft(job)
                    continue
                except Exception as error:  # noqa: BLE001 - a config or run that cannot be pickled fails its pair
                    idle.append(worker)
                    going = deliver(index, Failed.of(error)) and going
                    continue
                worker.job, worker.started = job, time.monotonic()
                busy.append(worker)
            if not busy:
                break
            wait = None
            if timeout is not None and any(w.ready for w in busy):  # a run's time starts when its worker is up
                wait = max(0.0, min(w.started for w in busy if w.ready) + timeout - time.monotonic())
            ready = set(
                multiprocessing.connection.wait([w.tasks for w in busy] + [w.process.sentinel for w in busy], wait)
            )
            for worker in list(busy):
                if worker.tasks in ready:
                    answer = _receive(worker)
                    if answer is not None:
                        settle(worker, *answer)
                elif worker.process.sentinel in ready:  # dead, and its pipe not closed (a child of it holds it)
                    settle(worker, *_died(worker))
            if timeout is not None:
                now = time.monotonic()
                for worker in [w for w in busy if w.ready and now - w.started >= timeout]:
                    overdue = TimeoutError(
                        f"the run took longer than timeout={timeout:g} s, so its worker process was ended"
                    )
                    settle(worker, Failed.of(overdue, timeout), alive=False)
    except BaseException:
        for worker in idle + busy:
            worker.process.kill()
        for worker in idle + busy:
            worker._close()
        raise
    for worker in idle:
        worker.ask_to_end()
    for worker in idle:
        worker.end()
