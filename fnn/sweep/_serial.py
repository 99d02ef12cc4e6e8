"""An executor that runs each task at once, in the calling thread."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any


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
