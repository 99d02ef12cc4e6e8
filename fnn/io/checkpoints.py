"""Checkpoint directories: one file per training step, ``ckpt-<step, 12 digits>.npz``, written atomically.

A checkpoint is an ordinary fnn file (see :func:`fnn.io.save`) under a name that
orders by step. :func:`save_checkpoint` writes one and can keep only the newest;
:func:`load_checkpoint` reads the newest (or a given step). A write killed before
its rename leaves only a hidden temporary file, which no reader here looks at;
:func:`recover_checkpoint` deletes those and loads the newest checkpoint after a
crash. :mod:`fnn.resume` builds :func:`fnn.fit`'s crash-resume on these.

>>> import tempfile, numpy as np
>>> from fnn import io
>>> with tempfile.TemporaryDirectory() as d:
...     _ = [io.save_checkpoint(d, {"step": s}, step=s, keep=2) for s in (1, 2, 3)]
...     [p.name for _, p in io.list_checkpoints(d)], io.load_checkpoint(d)
(['ckpt-000000000002.npz', 'ckpt-000000000003.npz'], {'step': 3})
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import Any

import numpy as np

from fnn.errors import ConfigError, FormatError
from fnn.io._files import MAX_BYTES, check_max_bytes, load, remove_stale_temporaries, save

_CHECKPOINT = re.compile(r"ckpt-(\d{12,})\.npz")
_CHECKPOINT_NAME = r"ckpt-\d{12,}\.npz"  # the targets whose killed writes remove_stale_temporaries cleans


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ConfigError(f"checkpoint step must be an integer >= 0, got {step!r}")
    return int(step)


def _check_keep(keep: Any) -> int | None:
    if keep is None:
        return None
    if isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or keep < 1:
        raise ConfigError(f"checkpoint keep must be None (keep all) or an integer >= 1, got {keep!r}")
    return int(keep)


def checkpoint_path(directory: str | os.PathLike, step: int) -> pathlib.Path:
    """The file :func:`save_checkpoint` writes for ``step``: ``directory/ckpt-<step, 12 digits>.npz``.

    >>> from fnn import io
    >>> io.checkpoint_path("run", 42).name
    'ckpt-000000000042.npz'
    """
    return pathlib.Path(directory) / f"ckpt-{_check_step(step):012d}.npz"


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, pathlib.Path]]:
    """``(step, path)`` of every checkpoint in ``directory``, by increasing step.

    Only files named exactly ``ckpt-<digits>.npz`` count; temporary files and other
    names are ignored. A missing directory has no checkpoints.

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = [io.save_checkpoint(d, np.zeros(2), step=s) for s in (10, 2)]
    ...     [s for s, _ in io.list_checkpoints(d)]
    [2, 10]
    """
    return sorted((int(match.group(1)), path) for match, path in _files_named(directory, _CHECKPOINT))


def _files_named(directory: str | os.PathLike, pattern: re.Pattern) -> list[tuple[re.Match, pathlib.Path]]:
    """The regular files in ``directory`` whose whole name matches ``pattern`` (none if it is missing)."""
    directory = pathlib.Path(directory)
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((match, directory / entry.name))
    return found


def _remove_partial_writes(directory: str | os.PathLike) -> list[pathlib.Path]:
    """Delete the temporary files of checkpoint writes that were killed before their rename; return them.

    Only provably stale ones (see :func:`fnn.io._files.remove_stale_temporaries`): a live
    writer's temporary file, in this process or another, is never deleted.
    """
    return remove_stale_temporaries(directory, _CHECKPOINT_NAME)


def latest_checkpoint(directory: str | os.PathLike) -> pathlib.Path | None:
    """The checkpoint with the highest step in ``directory``, or ``None`` if there is none.

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     print(io.latest_checkpoint(d))
    ...     _ = io.save_checkpoint(d, np.zeros(2), step=7)
    ...     io.latest_checkpoint(d).name
    None
    'ckpt-000000000007.npz'
    """
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def save_checkpoint(directory: str | os.PathLike, payload: Any, *, step: int, keep: int | None = None) -> pathlib.Path:
    """Save ``payload`` as the checkpoint of ``step`` in ``directory`` (created if needed), atomically.

    The file is ``ckpt-<step:012d>.npz`` (see :func:`checkpoint_path`); a checkpoint of the
    same step is replaced. With ``keep``, once the new file is durable, older checkpoints
    are deleted so that the ``keep`` highest steps remain (the new one always does).

    Args:
        directory: the run's checkpoint directory.
        payload: anything :func:`save` accepts (e.g. ``{"state": state, "history": history}``).
        step: the training step, an integer >= 0.
        keep: how many checkpoints to keep, or ``None`` to keep all.

    Returns:
        The path written.

    Raises:
        ConfigError: a bad ``step`` or ``keep``, or a payload :func:`save` cannot store.

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for s in range(5):
    ...         _ = io.save_checkpoint(d, {"x": np.full(2, s)}, step=s, keep=2)
    ...     [s for s, _ in io.list_checkpoints(d)], io.load_checkpoint(d)["x"].tolist()
    ([3, 4], [4, 4])
    """
    path = checkpoint_path(directory, step)
    keep = _check_keep(keep)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, payload)
    if keep is not None:
        ranked = list_checkpoints(path.parent)
        survivors = {p for _, p in ranked[-keep:]} | {path}
        for _, p in ranked:
            if p not in survivors:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
    return path


def load_checkpoint(directory: str | os.PathLike, *, step: int | None = None, max_bytes: int | None = MAX_BYTES) -> Any:
    """Load the latest checkpoint in ``directory`` (or the one of ``step``).

    ``max_bytes`` bounds the file's members as in :func:`fnn.io.load` (4 GiB by default).

    Raises:
        FileNotFoundError: the directory holds no checkpoint (of that step).
        FormatError: the checkpoint is not a valid fnn file (see :func:`load`).

    >>> import tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = [io.save_checkpoint(d, np.full(1, s), step=s) for s in (1, 2)]
    ...     io.load_checkpoint(d).tolist(), io.load_checkpoint(d, step=1).tolist()
    ([2], [1])
    """
    check_max_bytes(max_bytes)
    if step is None:
        path = latest_checkpoint(directory)
        if path is None:
            raise FileNotFoundError(f"no checkpoint (ckpt-<step>.npz) in {os.fspath(directory)}")
    else:
        path = checkpoint_path(directory, step)
    return load(path, max_bytes=max_bytes)


def recover_checkpoint(
    directory: str | os.PathLike, *, max_bytes: int | None = MAX_BYTES
) -> tuple[pathlib.Path, Any] | None:
    """``(path, value)`` of the newest checkpoint in a run's own ``directory`` after a crash, or None if it has none.

    First deletes the temporary files of checkpoint writes killed before their rename (only
    provably stale ones: a live writer's is left alone). If the newest checkpoint
    cannot be loaded, the error names the one before it, which is untouched, rather than
    quietly going back in time.

    Raises:
        FormatError: the newest checkpoint is not a valid fnn file (see :func:`fnn.io.load`).

    >>> import pathlib, tempfile, numpy as np
    >>> from fnn import io
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = [io.save_checkpoint(d, np.full(1, s), step=s) for s in (1, 2)]
    ...     _ = (pathlib.Path(d) / ".ckpt-000000000003.npz.0123456789ab.tmp").write_bytes(b"PK")  # killed mid-write
    ...     path, value = io.recover_checkpoint(d)
    ...     path.name, value.tolist(), sorted(p.name for p in pathlib.Path(d).iterdir())
    ('ckpt-000000000002.npz', [2], ['ckpt-000000000001.npz', 'ckpt-000000000002.npz'])
    """
    check_max_bytes(max_bytes)
    _remove_partial_writes(directory)
    found = list_checkpoints(directory)
    if not found:
        return None
    path = found[-1][1]
    try:
        return path, load(path, max_bytes=max_bytes)
    except FormatError as error:
        if len(found) < 2:
            raise
        older = found[-2][1].name
        raise FormatError(
            f"{error}; the one before it, {older}, is untouched: delete {path.name} to resume from it"
        ) from error
