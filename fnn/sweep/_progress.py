"""The progress display of a sweep: finished, failed and remaining pairs, and the best result so far.

A tqdm bar when tqdm is installed (the ``progress`` extra), else one line on stderr per
finished pair. Only the process that drives the sweep shows it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from fnn._checks import is_real
from fnn.sweep._grid import SEED, is_error_row


def _number(value: Any) -> float | None:
    if is_real(value) and not math.isnan(float(value)):
        return float(value)
    return None


class Display:
    """Counts and the best row so far; shows them as pairs finish (nothing at all when ``show`` is False)."""

    def __init__(self, total: int, done: Sequence[Mapping], *, show: bool, best: tuple[str, str] | None) -> None:
        self.total, self.show, self.best = total, show, best
        self.finished = self.failed = 0
        self.best_row: Mapping | None = None
        self._bar: Any = None
        for row in done:
            self._count(row)
        if show:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, initial=self.finished, desc="sweep", unit="run", dynamic_ncols=True)
                self._bar.set_postfix_str(self.text(), refresh=True)

    def _count(self, row: Mapping) -> None:
        self.finished += 1
        if is_error_row(row):
            self.failed += 1
            return
        if self.best is not None:
            name, mode = self.best
            value = _number(row.get(name))
            held = None if self.best_row is None else _number(self.best_row[name])
            if value is not None and (held is None or (value < held if mode == "min" else value > held)):
                self.best_row = row

    def text(self) -> str:
        """What the display adds to the counts.

        ``3 failed, 5 remaining, best val_loss 0.1234 ({'lr': 0.1}, seed 2)``."""
        parts = [f"{self.failed} failed", f"{self.total - self.finished} remaining"]
        if self.best is not None:
            name, mode = self.best
            if self.best_row is None:
                parts.append(f"best {name} (the {mode}): none yet")
            else:
                row, keys = self.best_row, list(self.best_row)
                config = {k: row[k] for k in keys[: keys.index(SEED)]}  # a row is the config, the seed, the results
                parts.append(f"best {name} {row[name]:.6g} ({config}, seed {row[SEED]})")
        return ", ".join(parts)

    def update(self, row: Mapping) -> None:
        self._count(row)
        if not self.show:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(self.text(), refresh=False)
            self._bar.update(1)
        else:
            print(f"sweep: {self.finished}/{self.total} finished, {self.text()}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
