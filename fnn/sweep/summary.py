"""The summary of a sweep's rows: mean and standard deviation across seeds, per setting."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fnn._checks import is_boolean, is_integer, is_real
from fnn.errors import ConfigError
from fnn.sweep._grid import SEED, is_error_row, setting_key
from fnn.sweep.store import stored_rows

_SEED = SEED
_COUNT = "seeds"
_FAILED = "failed"


def _config_keys(row: Mapping, i: int) -> list:
    """The keys before ``"seed"``: :func:`sweep` puts the config first, then the seed, then the results."""
    if _SEED not in row:
        raise ConfigError(
            f"sweep_summary: rows[{i}] has no {_SEED!r} key, so its setting cannot be told from its results; "
            f"pass by=[...] with the keys that name a setting"
        )
    return list(itertools.takewhile(lambda name: name != _SEED, row))


def _is_number(value: Any) -> bool:
    return is_real(value) and not is_boolean(value)


def _summarize(setting: dict, rows: list[Mapping], failed: int | None, skip: set, ddof: int) -> dict:
    out: dict = dict(setting)
    for count, value in ((_COUNT, len(rows)), (_FAILED, failed)):
        if count in out:
            raise ConfigError(
                f"sweep_summary: the setting has a key {count!r}, which the summary uses for a count of rows"
            )
        if value is not None:
            out[count] = value
    names = [name for name in rows[0] if name not in skip and name not in setting] if rows else []
    for name in names:
        if not all(name in row and _is_number(row[name]) for row in rows):
            continue
        values = np.array([float(row[name]) for row in rows], dtype=np.float64)
        # A diverged run (inf) makes the mean inf and the std nan: reported, not raised.
        with np.errstate(invalid="ignore", over="ignore"):
            mean = float(values.mean())
            std = float(values.std(ddof=ddof)) if len(values) > ddof else math.nan
        for column, stat in ((f"{name}_mean", mean), (f"{name}_std", std)):
            if column in out:
                raise ConfigError(
                    f"sweep_summary: the summary column {column!r} clashes with a key of the setting or rows"
                )
            out[column] = stat
    return out


def sweep_summary(
    rows: Sequence[Mapping[str, Any]] | str | os.PathLike,
    *,
    by: str | Sequence[str] | None = None,
    ddof: int = 1,
    as_frame: bool = False,
) -> Any:
    """Mean and standard deviation of every numeric result across seeds, one entry per setting.

    Args:
        rows: the rows of :func:`sweep` (or dicts like them), or the path of a sweep's store
            (see :mod:`fnn.sweep.store`), whose rows are read (while the sweep runs, too).
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
        Means and deviations are float64. Rows of failed pairs (``status="error"``, from
        ``on_error="record"``) are left out of the statistics and counted in ``"failed"``,
        a column that is there when any row failed.

    Raises:
        ConfigError: empty rows, a row that is not a dict, a row without a ``by`` key (or
            without ``"seed"`` when ``by`` is None), a bad ``ddof``, or column names that clash.
        FormatError: ``rows`` is a path to a file that is not a sweep store.
        ImportError: ``as_frame=True`` without pandas.

    >>> import fnn
    >>> rows = [{"lr": 0.1, "seed": 0, "acc": 0.90}, {"lr": 0.1, "seed": 1, "acc": 0.94},
    ...         {"lr": 0.01, "seed": 0, "acc": 0.80}, {"lr": 0.01, "seed": 1, "acc": 0.80}]
    >>> for s in fnn.sweep_summary(rows):
    ...     print(s["lr"], s["seeds"], round(s["acc_mean"], 3), round(s["acc_std"], 4))
    0.1 2 0.92 0.0283
    0.01 2 0.8 0.0
    >>> rows[3] = {"lr": 0.01, "seed": 1, "status": "error", "error_type": "ValueError", "error_message": "nan loss"}
    >>> [(s["lr"], s["seeds"], s["failed"], s["acc_mean"]) for s in fnn.sweep_summary(rows)]
    [(0.1, 2, 0, 0.92), (0.01, 1, 1, 0.8)]
    """
    if not is_integer(ddof) or ddof < 0:
        raise ConfigError(f"sweep_summary: ddof must be an int ≥ 0, got {ddof!r}")
    if isinstance(by, str):
        by = [by]
    if by is not None and (not isinstance(by, (list, tuple)) or not all(isinstance(name, str) for name in by)):
        raise ConfigError(f"sweep_summary: by must be a key name or a list of key names, got {by!r}")
    if isinstance(rows, (str, os.PathLike)):
        rows = stored_rows(rows)
    if not isinstance(rows, Sequence) or isinstance(rows, bytes) or not rows:
        raise ConfigError(f"sweep_summary: rows must be a non-empty list of dicts (from fnn.sweep), got {rows!r:.80}")
    groups: dict[tuple, tuple[dict, list, list, set]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ConfigError(f"sweep_summary: rows[{i}] must be a dict, got {type(row).__name__}")
        config = _config_keys(row, i) if by is None or _SEED in row else []
        names = config if by is None else list(by)
        for name in names:
            if name not in row:
                raise ConfigError(
                    f"sweep_summary: rows[{i}] has no key {name!r} (by={list(by or ())!r}); its keys are {list(row)}"
                )
        setting = {name: row[name] for name in names}
        _, members, failures, skip = groups.setdefault(setting_key(setting.items()), (setting, [], [], {_SEED}))
        (failures if is_error_row(row) else members).append(row)
        skip.update(config)
    any_failed = any(failures for _, _, failures, _ in groups.values())
    summary = [
        _summarize(setting, members, len(failures) if any_failed else None, skip, int(ddof))
        for setting, members, failures, skip in groups.values()
    ]
    if not as_frame:
        return summary
    try:
        import pandas
    except ImportError as e:
        raise ImportError(
            "sweep_summary(as_frame=True) needs pandas: pip install pandas "
            "(or leave as_frame=False for a list of dicts)"
        ) from e
    return pandas.DataFrame(summary)
