"""Crash-resume for :func:`fnn.fit`: what a checkpoint holds, and how a restart finds its run again.

``fit(..., checkpoint=DIR, checkpoint_every=N)`` saves a :class:`Checkpoint` into
``DIR`` (with :func:`fnn.io.save_checkpoint`, so atomically) when it starts, after
every ``N``-th optimizer step (or after every epoch with ``"epoch"``) and when the
run ends. ``fit(..., resume=DIR)`` continues from the newest one. Training is a
pure function of the state's key and step, so the rest of a resumed run is the
rest of the uninterrupted one, bit for bit; what a checkpoint must add to the
:class:`fnn.TrainState` is the loop's own state: the epochs completed and their
history, the early-stopping watch, and, in the middle of an epoch, how many of
its batches are done and their losses (the permutation is drawn again from the
step at which the epoch began).

**Never half-written.** Every file is written to a temporary name, fsync'ed and
renamed into place; a kill during a write leaves a hidden ``.ckpt-*.tmp`` file
that no reader looks at (a resume deletes it) and the previous checkpoint
intact. The two newest checkpoints are kept (:data:`KEEP`): the rename alone
protects against a kill, the second file against a damaged disk (the newest
checkpoint failing to load raises :class:`~fnn.errors.FormatError` naming the
older one, rather than silently going back in time).

**One live run per directory.** A run holds an OS lock (``fcntl.flock``) on the file
:data:`LOCK` in its directory from before it looks at the directory until ``fit``
returns or raises; the file holds the holder's process id. A second ``fit`` into the
same directory, a new run or a resume, from another process or thread, gets a
:class:`~fnn.errors.ConfigError` naming the directory and that process id, at once,
before it reads or deletes anything. The kernel releases the lock when its holder's
process ends, however it ends (SIGKILL too): the file stays behind, holding nothing, and
the next run takes it over. (On a platform without ``fcntl`` nothing is locked.)

**The same run, or an error.** A checkpoint records the settings a continuation
must share (:func:`settings`): the training data's shape, dtype and CRC-32 of
every byte, the validation data or fraction, the split key, batch size,
shuffling, loss, ``l2``, metrics and early-stopping rule. ``resume`` also checks
the given state's key, optimizer and params structure against the checkpoint's.
Any difference raises :class:`~fnn.errors.ConfigError` naming it.

>>> import tempfile, numpy as np, fnn
>>> x = fnn.random.normal(fnn.random.key(0), (64, 3)).astype(np.float32)
>>> y = (x[:, 0] > 0).astype(int)
>>> params = fnn.init(fnn.random.key(1), fnn.mlp([3, 8, 2]))
>>> s0 = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(2))
>>> kw = dict(batch_size=16, loss="cross_entropy", verbose=0)
>>> with tempfile.TemporaryDirectory() as d:
...     _ = fnn.fit(s0, (x, y), epochs=2, checkpoint=d, checkpoint_every=3, **kw)
...     c = fnn.io.load_checkpoint(d)
...     resumed, h = fnn.fit(s0, (x, y), epochs=5, resume=d, **kw)      # 3 more epochs
>>> c.epoch, c.position, c.state.step, len(h["loss"])
(2, 0, 8, 5)
>>> whole, h5 = fnn.fit(s0, (x, y), epochs=5, **kw)
>>> fnn.tree.equal(resumed, whole), np.array_equal(h["loss"], h5["loss"])
(True, True)
"""

from __future__ import annotations

import errno
import os
import pathlib
import time
import zlib

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None  # type: ignore[assignment]  # no fcntl (Windows): nothing is locked
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from fnn import io, random, tree
from fnn._checks import is_integer
from fnn.early_stopping import StackedWatch, Watch
from fnn.errors import ConfigError, FormatError
from fnn.train import TrainState

__all__ = ["Checkpoint", "settings", "digest", "KEEP", "LOCK"]

KEEP = 2
"""How many checkpoints a run keeps: the newest and the one before it."""

LOCK = ".fnn.lock"
"""The file of a run directory that its live run holds locked (see "One live run per directory")."""


def _count(name: str) -> Any:
    def check(_: Any, __: Any, value: Any) -> None:
        if not is_integer(value) or value < 0:
            raise ConfigError(f"Checkpoint.{name} must be an integer ≥ 0, got {value!r}")

    return check


def _check_state(_: Any, __: Any, value: Any) -> None:
    if not isinstance(value, TrainState):
        raise ConfigError(f"Checkpoint.state must be an fnn.TrainState, got {type(value).__name__}")


@tree.register
@attrs.frozen
class Checkpoint:
    """Everything :func:`fnn.fit` needs to continue a run: one file of a checkpoint directory.

    Attributes:
        state: the training state (params, optimizer state, key, step, optimizer).
        history: the completed epochs' history (a dict of arrays, ``epoch`` entries each).
        watch: the early-stopping state (best value, epoch and state, epochs since): a
            :class:`fnn.early_stopping.Watch`, or a :class:`~fnn.early_stopping.StackedWatch` for a stack.
        step_loss, step_rows: the losses and batch sizes of the first ``position`` steps of
            the epoch in progress (so that its mean loss comes out the same).
        epoch: epochs completed.
        position: batches of epoch ``epoch + 1`` done (0 between epochs).
        stopped: the run ended early (early stopping or a callback): a resume returns at once.
        settings: what a continuation must share with the run (see :func:`settings`).
        start: the step of the state the run started from (None in files of fnn before it was
            recorded), so that a resume can check that ``state.step`` follows from the epochs and
            batches done.

    Loading checks that the parts agree (lengths, types), so a tampered file is a
    :class:`~fnn.errors.FormatError`, not a wrong run.

    >>> import tempfile, numpy as np, fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 2]))
    >>> s = fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(1))
    >>> x, y = np.eye(2, dtype=np.float32).repeat(5, axis=0), np.arange(2).repeat(5)
    >>> with tempfile.TemporaryDirectory() as d:    # 10 rows, batches of 4: 3 steps an epoch
    ...     _ = fnn.fit(s, (x, y), epochs=2, batch_size=4, loss="cross_entropy", verbose=0,
    ...                 checkpoint=d, checkpoint_every=2)
    ...     c = fnn.io.load_checkpoint(d, step=4)
    >>> c.epoch, c.position, c.step_rows.tolist(), list(c.history), c.state.step
    (1, 1, [4], ['loss', 'accuracy', 'time'], 4)
    """

    state: TrainState = attrs.field(validator=_check_state)
    history: dict
    watch: Any
    step_loss: np.ndarray
    step_rows: np.ndarray
    epoch: int = tree.static_field(validator=_count("epoch"))
    position: int = tree.static_field(validator=_count("position"))
    stopped: bool = tree.static_field(default=False)
    settings: dict = tree.static_field(factory=dict)
    start: int | None = tree.static_field(default=None)

    def __attrs_post_init__(self) -> None:
        if self.start is not None and not (is_integer(self.start) and 0 <= self.start <= self.state.step):
            raise ConfigError(f"Checkpoint.start must be None or a step in [0, {self.state.step}], got {self.start!r}")
        if not isinstance(self.watch, (Watch, StackedWatch)):
            raise ConfigError(f"Checkpoint.watch must be the early-stopping state, got {type(self.watch).__name__}")
        if type(self.stopped) is not bool or type(self.settings) is not dict:
            raise ConfigError("Checkpoint.stopped must be a bool and Checkpoint.settings a dict")
        if type(self.history) is not dict or not all(
            type(k) is str and isinstance(v, np.ndarray) and len(v) == self.epoch and v.dtype == np.float64
            for k, v in self.history.items()
        ):
            raise ConfigError(
                f"Checkpoint.history must map names to float64 arrays of {self.epoch} entries (one per epoch, as "
                f"fnn.fit records them)"
            )
        lengths = [len(a) if isinstance(a, np.ndarray) and a.ndim else None for a in (self.step_loss, self.step_rows)]
        if lengths != [self.position, self.position]:
            raise ConfigError(
                f"Checkpoint.step_loss and step_rows must hold one entry per batch done ({self.position}), "
                f"got lengths {lengths}"
            )

    def losses(self) -> list[tuple[float, int]]:
        """The (loss, rows) pairs of the steps done in the epoch in progress."""
        return list(zip(self.step_loss.tolist(), self.step_rows.tolist(), strict=True))


# ------------------------------------------------------------------ settings


def digest(*arrays: Any) -> str:
    """Shape, dtype and a CRC-32 of every byte of ``arrays``: the identity of a data set.

    CRC-32 rather than SHA-256: it guards against accidental changes, not tampering,
    and costs about 45 ms for MNIST's 60,000 × 784 float32 (SHA-256: about 105 ms).

    >>> import numpy as np
    >>> from fnn import resume
    >>> x = np.zeros((2, 3), np.float32)
    >>> resume.digest(x).split(" crc32 ")[0], resume.digest(x) == resume.digest(x.copy())
    ('<f4(2, 3)', True)
    >>> x2 = x.copy(); x2[1, 2] = 1e-30
    >>> resume.digest(x2) == resume.digest(x)
    False
    """
    crc, parts = 0, []
    for a in arrays:
        a = np.ascontiguousarray(a)
        shape = f"{a.dtype.str}{tuple(a.shape)}"
        parts.append(shape)
        crc = zlib.crc32(a.reshape(-1).view(np.uint8), zlib.crc32(shape.encode("ascii"), crc))  # type: ignore[arg-type]
    return f"{' '.join(parts)} crc32 {crc:08x}"


def _loss_name(loss: Any) -> str:
    name = getattr(loss, "name", None)
    if isinstance(name, str):
        return name
    return f"{getattr(loss, '__module__', '?')}.{getattr(loss, '__qualname__', type(loss).__qualname__)}"


def settings(
    data: tuple[Any, Any],
    validation: Any,
    validation_data: tuple[Any, Any] | None,
    *,
    split_key: random.Key,
    batch_size: int,
    shuffle: bool,
    drop_last: bool,
    loss: Any,
    l2: float,
    metrics: Sequence[str],
    early_stopping: Any,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote its checkpoint.

    ``data`` is the whole training set as fit checked it (before a validation split);
    ``validation`` the fraction given or None; ``validation_data`` the pair given, if any;
    ``weights`` the rows' weights, if any (recorded only then, so runs without weights keep
    the settings of the checkpoints written before weights existed).

    >>> import numpy as np, fnn
    >>> from fnn import resume
    >>> s = resume.settings((np.zeros((4, 2)), np.zeros(4, int)), 0.25, None, split_key=fnn.random.key(0),
    ...                     batch_size=2, shuffle=True, drop_last=False, loss=fnn.losses.mse, l2=0.0,
    ...                     metrics=(), early_stopping=None)
    >>> s["data"].split(" crc32 ")[0], s["loss"], s["validation"]
    ('<f8(4, 2) <i8(4,)', 'mse', 0.25)
    """
    recorded = {
        "data": digest(*data),
        "validation": digest(*validation_data) if validation_data is not None else validation,
        "split_key": split_key,
        "batch_size": batch_size,
        "shuffle": shuffle,
        "drop_last": drop_last,
        "loss": _loss_name(loss),
        "l2": l2,
        "metrics": tuple(metrics),
        "early_stopping": early_stopping,
    }
    if weights is not None:
        recorded["weights"] = digest(weights)
    return recorded


# ------------------------------------------------------------------ directories


def _directory_of(checkpoint: Any, resume: Any, every: Any, where: str) -> tuple[pathlib.Path | None, bool, int]:
    """(directory or None, resuming, steps between checkpoints: 0 for every epoch), checked."""
    for name, value in (("checkpoint", checkpoint), ("resume", resume)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise ConfigError(f"{where}: {name} must be a directory path or None, got {value!r}")
    if checkpoint is not None and resume is not None and pathlib.Path(checkpoint) != pathlib.Path(resume):
        raise ConfigError(
            f"{where}: checkpoint={os.fspath(checkpoint)!r} and resume={os.fspath(resume)!r} differ; "
            f"resume=DIR alone continues the run in DIR and keeps checkpointing into it"
        )
    directory = resume if resume is not None else checkpoint
    if directory is not None and pathlib.Path(directory).exists() and not pathlib.Path(directory).is_dir():
        name = "resume" if resume is not None else "checkpoint"
        raise ConfigError(
            f"{where}: {name}={os.fspath(directory)!r} is a file, but {name}= takes a directory, where fit keeps a "
            f"run's checkpoints (ckpt-<step>.npz); a file written by fnn.save is read with fnn.load(path)"
        )
    if directory is None:
        if every is not None:
            raise ConfigError(f"{where}: checkpoint_every={every!r} needs checkpoint=DIR or resume=DIR")
        return None, False, 0
    if every is None or every == "epoch":
        steps = 0
    elif not is_integer(every) or every < 1:
        raise ConfigError(
            f"{where}: checkpoint_every must be an integer ≥ 1 (optimizer steps) or 'epoch', got {every!r}"
        )
    else:
        steps = int(every)
    return pathlib.Path(directory), resume is not None, steps


def _newest(directory: pathlib.Path) -> tuple[pathlib.Path, Checkpoint] | None:
    """The newest checkpoint in ``directory`` (after deleting partial writes) and its path, or None."""
    found = io.recover_checkpoint(directory)
    if found is None:
        return None
    path, value = found
    if not isinstance(value, Checkpoint):
        raise FormatError(
            f"cannot resume from {path}: it holds a {type(value).__name__}, not a checkpoint written by fnn.fit"
        )
    return path, value


def _lock(directory: str | os.PathLike, where: str) -> int | None:
    """Make ``directory`` if needed and take its :data:`LOCK` for this run: a file descriptor for :func:`_unlock`.

    None (no lock) where the lock file cannot be written (a read-only directory: a resume of a finished run
    there still returns it; a run that would write fails at its first checkpoint, as it would have).

    Raises:
        ConfigError: another live run holds it (the message names the directory and its process id).
    """
    directory = pathlib.Path(directory)
    if fcntl is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return None  # a directory this process cannot write into is one it cannot write checkpoints into
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise ConfigError(
                f"{where}: {os.fspath(directory)} is in use by a live run (process {holder}); one run writes into a "
                f"directory at a time: wait for that one to end (or stop it), or use another directory"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the file locked must still be the one at the path (a run's directory removed meanwhile: again)
            here = os.stat(path)
            mine = os.fstat(fd)
            if (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
                return fd
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _holder(fd: int) -> str:
    """The process id in a lock file that another process holds (it writes it just after taking the lock)."""
    for _ in range(50):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text:
            return text
        time.sleep(0.002)
    return "not known: it has not written its id"


def _unlock(fd: int | None) -> None:
    """Release a lock taken by :func:`_lock` (the file stays: deleting it would let two runs lock two files)."""
    if fd is not None:
        os.close(fd)


def _refuse_to_mix(directory: pathlib.Path, where: str) -> None:
    """A new run must not write into a directory holding another run's checkpoints."""
    if io.list_checkpoints(directory):
        raise ConfigError(
            f"{where}: {os.fspath(directory)} already holds checkpoints; pass resume={os.fspath(directory)!r} to "
            f"continue that run, or checkpoint into an empty directory"
        )


def _check_same_run(
    found: Checkpoint,
    state: TrainState,
    current: dict,
    epochs: int,
    where: str,
    directory: pathlib.Path,
    steps: int,
    path: pathlib.Path,
) -> None:
    """ConfigError naming the first difference between the run in ``directory`` and this call; FormatError if
    the checkpoint's step does not follow from its epoch and position (``steps`` batches an epoch)."""
    place = f"{where}(resume={os.fspath(directory)!r})"
    given = {**current, **{k: None for k in found.settings if k not in current}}  # weights are recorded only if any
    for name, value in given.items():
        saved = found.settings.get(name, "<not recorded>" if name != "weights" else None)
        if saved != value:
            raise ConfigError(
                f"{place}: {name} differs: the run was started with {saved!r}, this call gives {value!r}; resume "
                f"with the run's settings, or start a new run in another directory"
            )
    for name in ("key", "optimizer"):
        saved, given = getattr(found.state, name), getattr(state, name)
        if saved != given:
            raise ConfigError(f"{place}: the given state's {name} is {given!r}, but the run's is {saved!r}")
    shapes = [[(np.shape(a), np.asarray(a).dtype) for a in tree.leaves(s.params)] for s in (found.state, state)]
    if tree.structure(found.state.params) != tree.structure(state.params) or shapes[0] != shapes[1]:
        raise ConfigError(f"{place}: the given params have another structure, shapes or dtype than the run's")
    if found.epoch > epochs or (found.epoch == epochs and found.position > 0):
        done = f"{found.epoch} epochs" + (f" and {found.position} batches of the next" if found.position else "")
        least = found.epoch + (found.position > 0)
        raise ConfigError(
            f"{place}: the run has done {done}; epochs={epochs} (the run's total) must be at least {least}"
        )
    # last: a different batch size or data is named above, as the setting it is
    if found.start is None or found.stopped:  # an old file; a stopped run may hold an earlier epoch's state
        return
    expected = found.start + found.epoch * steps + found.position
    if found.state.step != expected:
        raise FormatError(
            f"cannot resume from {path}: its step {found.state.step} does not follow from epoch {found.epoch} and "
            f"position {found.position} at {steps} batches an epoch (from the run's start at step {found.start}: "
            f"step {expected}): the file was changed, or belongs to another run"
        )


@attrs.frozen
class _Saver:
    """Writes a run's checkpoints into ``directory``; ``every`` steps apart (0: at epoch ends)."""

    directory: pathlib.Path
    every: int
    settings: dict
    start: int | None = None  # the step the run started from (Checkpoint.start)

    def save(
        self,
        state: TrainState,
        history: dict[str, list],
        watch: Any,
        epoch: int,
        losses: Sequence[tuple[float, int]] = (),
        stopped: bool = False,
    ) -> pathlib.Path:
        checkpoint = Checkpoint(
            state,
            {k: np.asarray(v, dtype=np.float64) for k, v in history.items()},
            watch,
            np.array([v for v, _ in losses], dtype=np.float64),
            np.array([n for _, n in losses], dtype=np.int64),
            epoch=epoch,
            position=len(losses),
            stopped=bool(stopped),
            settings=self.settings,
            start=self.start,
        )
        return io.save_checkpoint(self.directory, checkpoint, step=state.step, keep=KEEP)

    def mid_epoch(
        self, history: dict[str, list], watch: Any, epoch: int, state: TrainState, losses: Sequence[tuple[float, int]]
    ) -> pathlib.Path:
        """The hook :func:`fnn.fit` hands to the epoch: ``epoch`` epochs done, ``len(losses)`` batches of the next."""
        return self.save(state, history, watch, epoch, losses)
