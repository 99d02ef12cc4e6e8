"""One unit of a sweep's work, as a worker receives it, and what comes back: a result or a failure."""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import time
from collections.abc import Callable
from typing import Any

import attrs

from fnn import io, random


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


PAIR_FILE = "pair.json"
"""What a pair's working directory holds besides ``run``'s own files: its config and seed, as JSON."""


def _enter_workdir(workdir: pathlib.Path, config: dict, seed: int) -> None:
    workdir.mkdir(exist_ok=True)
    record = workdir / PAIR_FILE
    if not record.exists():
        text = json.dumps({"config": config, "seed": seed}, indent=1) + "\n"
        io.atomic_write(record, lambda f: f.write(text.encode("utf-8")))


def run_task(run: Any, config: dict, seed: int, workdir: pathlib.Path | None = None) -> tuple[Any, float]:
    """The unit of work a worker receives: ``run`` (or its name), a config, a seed and maybe a working directory.

    Returns ``run``'s result and the seconds it took here. With a working directory, it is
    created (its parent exists) with a ``pair.json`` naming the pair, and ``run`` is called
    as ``run(config, key, workdir)``.
    """
    if isinstance(run, ByName):
        run = run.resolve()
    start = time.perf_counter()
    if workdir is None:
        result = run(config, random.key(seed))
    else:
        _enter_workdir(workdir, config, seed)
        result = run(config, random.key(seed), workdir)
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
