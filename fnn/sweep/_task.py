"""One unit of a sweep's work, as a worker receives it, and what comes back: a result or a failure."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from typing import Any

import attrs

from fnn import random


@attrs.frozen
class ByName:
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


def run_task(run: Any, config: dict, seed: int) -> tuple[Any, float]:
    """The unit of work a worker receives: ``run`` (or its name), a config and a seed.

    Returns ``run``'s result and the seconds it took here.
    """
    if isinstance(run, ByName):
        run = run.resolve()
    start = time.perf_counter()
    result = run(config, random.key(seed))
    return result, time.perf_counter() - start


@attrs.frozen
class Done:
    """A run that returned: its result and how long it took in its worker."""

    result: Any
    seconds: float | None


@attrs.frozen
class Failed:
    """A run that did not return a result: the exception (if it could travel), its type's name and message."""

    error: BaseException | None
    type_name: str
    message: str
    seconds: float | None = None

    @classmethod
    def of(cls, error: BaseException, seconds: float | None = None) -> Failed:
        return cls(error, type(error).__name__, str(error), seconds)
