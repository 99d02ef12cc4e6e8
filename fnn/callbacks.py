"""Callbacks of :func:`fnn.fit`: the protocol, and loggers that write each epoch's logs to a file.

**The protocol.** A callback is any callable ``callback(epoch, state, logs) -> None | bool``,
passed as ``fit(..., callbacks=[...])``. It is called once after every epoch, in order:

- ``epoch`` counts from 1 over the whole run (a resumed run continues the count);
- ``state`` is the :class:`fnn.TrainState` after the epoch; its arrays never change afterwards,
  so a callback may keep it;
- ``logs`` is a new dict of the epoch's history entries: ``loss``, the metrics, their ``val_``
  forms, ``lr`` (with :class:`fnn.optim.ReduceLROnPlateau`) and ``time``; floats, or (K,)
  arrays of one value per member for a stack of K networks (NaN for a member that stopped);
- returning True stops training after this epoch (None or False goes on; anything else is an error).

Callbacks run after early stopping has seen the epoch and before the epoch's checkpoint. A
run killed before that checkpoint runs the epoch again when resumed, callbacks included, so a
callback that writes somewhere should let a second call for the same epoch replace the first,
as :class:`CSVLogger` and :class:`JSONLinesLogger` do. :func:`scalars` flattens a stack's logs
into one number per key, as experiment trackers want them.

Forwarding every epoch to an experiment tracker (MLflow, Weights & Biases, TensorBoard, ...)
takes a few lines; here the tracker is a stand-in with the usual ``log_metrics(metrics, step)``:

>>> import numpy as np, fnn
>>> class Tracker:                            # e.g. mlflow, or a wandb run (run.log(metrics, step=...))
...     def __init__(self):
...         self.logged = []
...     def log_metrics(self, metrics, step):
...         self.logged.append((step, metrics))
>>> tracker = Tracker()
>>> def to_tracker(epoch, state, logs):
...     tracker.log_metrics(fnn.callbacks.scalars(logs), step=epoch)
>>> x = fnn.random.normal(fnn.random.key(0), (64, 3)).astype(np.float32)
>>> y = (x[:, 0] > 0).astype(int)
>>> params = fnn.init(fnn.random.key(1), fnn.mlp([3, 8, 2]))
>>> s = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(2))
>>> _ = fnn.fit(s, (x, y), epochs=3, batch_size=16, loss="cross_entropy", verbose=0, callbacks=[to_tracker])
>>> [step for step, _ in tracker.logged], sorted(tracker.logged[0][1])
([1, 2, 3], ['accuracy', 'loss', 'time'])
"""

from __future__ import annotations

import csv
import io as text_io
import json
import math
import os
import pathlib
from typing import Any

import attrs
import numpy as np

from fnn.errors import ConfigError
from fnn.io import atomic_write

__all__ = ["CSVLogger", "JSONLinesLogger", "scalars"]


def scalars(logs: dict) -> dict[str, float]:
    """``logs`` with one float per key: a stack's (K,) entries become ``name[0]``, ..., ``name[K-1]``.

    >>> import numpy as np, fnn
    >>> fnn.callbacks.scalars({"loss": 0.5, "val_loss": np.array([0.25, np.nan])})
    {'loss': 0.5, 'val_loss[0]': 0.25, 'val_loss[1]': nan}
    """
    out: dict[str, float] = {}
    for key, value in logs.items():
        if np.ndim(value) == 0:
            out[key] = float(value)
        else:
            out.update({f"{key}[{m}]": float(v) for m, v in enumerate(np.ravel(value))})
    return out


def _path(value: Any) -> pathlib.Path:
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"a logger's path must be a file path, got {value!r}")
    return pathlib.Path(value)


def _check_epoch(epoch: Any, who: str) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 1:
        raise ConfigError(f"{who}: epoch must be an integer ≥ 1 (callbacks get fit's epoch count), got {epoch!r}")
    return int(epoch)


def _read_lines(path: pathlib.Path) -> tuple[list[str], bool]:
    """The complete lines of ``path`` (none if it does not exist), and whether the file ends in one."""
    if not path.exists():
        return [], True
    text = path.read_text(encoding="utf-8")
    return text.split("\n")[:-1], text.endswith("\n") or not text  # the last piece is "" or a cut-short line


def _append_or_rewrite(path: pathlib.Path, kept: list[str], all_lines: list[str], complete: bool, line: str) -> None:
    """Add ``line`` after ``kept``: an append (one write, O_APPEND, then fsync) when ``kept`` is the whole file,
    else a rewrite through :func:`fnn.io.atomic_write` (a resumed run replacing the epochs it runs again,
    or a line a kill cut short)."""
    if kept == all_lines and complete and path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    text = "".join(f"{k}\n" for k in (*kept, line))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


@attrs.frozen
class CSVLogger:
    """A callback writing each epoch's logs as a row of a CSV file: ``epoch`` and one column per key.

    A stack's (K,) entries are columns ``name[0]``, ..., ``name[K-1]``; floats are written
    exactly (``repr``). Each epoch adds its row as one append, so a reader never sees half a
    row; a run that starts at epoch 1 replaces the file, and a resumed run replaces the rows
    of the epochs it runs again (and a row a kill cut short).

    Raises (when called):
        ConfigError: the file holds rows of other columns (another kind of run).

    >>> import pathlib, tempfile, fnn
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = fnn.callbacks.CSVLogger(pathlib.Path(d) / "log.csv")
    ...     for epoch, loss in enumerate([0.9, 0.5], start=1):
    ...         log(epoch, None, {"loss": loss, "time": 0.25})
    ...     log(2, None, {"loss": 0.4, "time": 0.25})     # epoch 2 again, as after a resume
    ...     print(log.path.read_text(), end="")
    epoch,loss,time
    1,0.9,0.25
    2,0.4,0.25
    """

    path: pathlib.Path = attrs.field(converter=_path)

    def __call__(self, epoch: int, state: Any, logs: dict) -> None:
        epoch = _check_epoch(epoch, "CSVLogger")
        row = scalars(logs)
        header = ",".join(["epoch", *row])
        out = text_io.StringIO()
        csv.writer(out, lineterminator="").writerow([epoch, *(repr(v) for v in row.values())])
        lines, complete = _read_lines(self.path)
        if epoch == 1 or not lines:
            kept = []
        else:
            if lines[0] != header:
                raise ConfigError(
                    f"CSVLogger: {self.path} holds the columns {lines[0]!r}, but this run logs {header!r}; log to "
                    f"another file, or delete it"
                )
            kept = [lines[0], *(line for line in lines[1:] if _epoch_of(line) < epoch)]
        _append_or_rewrite(
            self.path, kept if kept else [header], lines if kept else [], complete and bool(kept), out.getvalue()
        )


def _epoch_of(line: str) -> float:
    head = line.split(",", 1)[0].strip()
    return int(head) if head.isdigit() else math.inf


def _json_value(v: float) -> float | None:
    return v if math.isfinite(v) else None


@attrs.frozen
class JSONLinesLogger:
    """A callback writing each epoch's logs as one JSON object a line: ``{"epoch": 3, "loss": 0.41, ...}``.

    A stack's (K,) entries are lists; NaN and infinities are ``null`` (JSON has no NaN). Each
    epoch adds its line as one append; a run that starts at epoch 1 replaces the file, and a
    resumed run replaces the lines of the epochs it runs again.

    >>> import json, pathlib, tempfile, numpy as np, fnn
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = fnn.callbacks.JSONLinesLogger(pathlib.Path(d) / "log.jsonl")
    ...     log(1, None, {"loss": 0.5, "val_loss": np.array([0.25, np.nan])})
    ...     [json.loads(line) for line in log.path.read_text().splitlines()]
    [{'epoch': 1, 'loss': 0.5, 'val_loss': [0.25, None]}]
    """

    path: pathlib.Path = attrs.field(converter=_path)

    def __call__(self, epoch: int, state: Any, logs: dict) -> None:
        epoch = _check_epoch(epoch, "JSONLinesLogger")
        record: dict[str, Any] = {"epoch": epoch}
        for key, value in logs.items():
            values = [_json_value(float(v)) for v in np.ravel(value)]
            record[key] = values[0] if np.ndim(value) == 0 else values
        line = json.dumps(record, allow_nan=False)
        lines, complete = _read_lines(self.path)
        kept = [] if epoch == 1 else [k for k in lines if _json_epoch(k) < epoch]
        _append_or_rewrite(self.path, kept, lines, complete, line)


def _json_epoch(line: str) -> float:
    try:
        epoch = json.loads(line).get("epoch")
    except (ValueError, AttributeError):
        return math.inf
    return epoch if isinstance(epoch, int) else math.inf
