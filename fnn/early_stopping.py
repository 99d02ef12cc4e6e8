"""Early stopping: the rule (:class:`EarlyStopping`) and the state :func:`fnn.fit` keeps for it.

The rule is a frozen value given to ``fit(early_stopping=...)``. The state, a
:class:`Watch` (a :class:`StackedWatch` for a stack of networks, watched member by
member), is what the loop carries from epoch to epoch: the best value, its epoch
and the state then, and the epochs since. It is a pytree node, so a checkpoint holds
it (see :mod:`fnn.resume`) and a resumed run stops where the uninterrupted one would.

These classes lived in ``fnn.fit`` when the file format was fixed, and files still
name them ``fnn.fit:EarlyStopping``, ``fnn.fit:_Watch`` and ``fnn.fit:_StackedWatch``
(``name=`` at registration, see :mod:`fnn.tree`): older checkpoints load, and newer
ones are the same bytes.

>>> import fnn
>>> from fnn.early_stopping import Watch
>>> rule = fnn.EarlyStopping("val_loss", patience=2)
>>> watch = Watch()
>>> for epoch, loss in enumerate([0.9, 0.7, 0.8, 0.75], start=1):
...     watch = watch.update(rule, loss, epoch, f"the state after epoch {epoch}")
>>> watch.best, watch.best_epoch, watch.wait, watch.stop(rule), watch.restored("the last state")
(0.7, 2, 2, True, 'the state after epoch 2')
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.errors import ConfigError
from fnn.stacked import select_members
from fnn.train import TrainState

__all__ = ["EarlyStopping", "Watch", "StackedWatch", "start_watch"]


def _check_monitor(value: Any) -> str:
    if not isinstance(value, str) or not value:
        hint = (
            f" (the first argument is monitor; patience is a keyword: EarlyStopping(patience={value!r}))"
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            else ""
        )
        raise ConfigError(f"EarlyStopping monitor must be a history key such as 'val_loss', got {value!r}{hint}")
    return value


def _check_patience(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"EarlyStopping patience must be an integer ≥ 0, got {value!r}")
    return int(value)


def _check_min_delta(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ConfigError(f"EarlyStopping min_delta must be a finite number ≥ 0, got {value!r}")
    return float(value)


def _check_mode(value: Any) -> str:
    if value not in ("auto", "min", "max"):
        raise ConfigError(f"EarlyStopping mode must be 'auto', 'min' or 'max', got {value!r}")
    return value


@tree.value_class(name="fnn.fit:EarlyStopping")  # its name in files since it lived in fnn.fit
@attrs.frozen
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a history key, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement tolerated before stopping.
        min_delta: the smallest change that counts as an improvement.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like names, min otherwise).
        restore_best: return the params of the best epoch, however training ends.

    >>> import fnn
    >>> fnn.EarlyStopping("val_accuracy", patience=3).direction
    'max'
    """

    monitor: str = attrs.field(default="val_loss", converter=_check_monitor)
    patience: int = attrs.field(default=5, converter=_check_patience)
    min_delta: float = attrs.field(default=0.0, converter=_check_min_delta)
    mode: str = attrs.field(default="auto", converter=_check_mode)
    restore_best: bool = True

    @property
    def direction(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "max" if "acc" in self.monitor else "min"

    def improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return math.isfinite(value)
        if self.direction == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def exhausted(self, wait: Any) -> Any:
        """Whether ``wait`` epochs without improvement use up the patience (element by element for an array).

        >>> import numpy as np, fnn
        >>> rule = fnn.EarlyStopping(patience=2)
        >>> rule.exhausted(1), rule.exhausted(np.array([0, 2, 3])).tolist()
        (False, [False, True, True])
        """
        return (wait > 0) & (wait >= self.patience)


@tree.register(name="fnn.fit:_Watch")  # its name in files since it lived in fnn.fit
@attrs.frozen
class Watch:
    """Early-stopping state of one network: the best value and epoch, the state then, and epochs since.

    A pytree node, so that a checkpoint can hold it (see :mod:`fnn.resume`); the module
    docstring shows it at work.
    """

    best: float | None = None
    best_epoch: int = tree.static_field(default=-1)
    best_state: TrainState | None = None
    wait: int = tree.static_field(default=0)

    def update(self, rule: EarlyStopping, value: float, epoch: int, state: TrainState) -> Watch:
        if rule.improved(value, self.best):
            return Watch(value, epoch, state, 0)
        return attrs.evolve(self, wait=self.wait + 1)

    def stop(self, rule: EarlyStopping) -> bool:
        return rule.exhausted(self.wait)

    def mask(self, logs: dict) -> dict:
        return logs

    def restored(self, state: TrainState) -> TrainState:
        return state if self.best_state is None else self.best_state


def _flags(dtype: Any) -> Any:
    def convert(value: Any) -> np.ndarray:
        a = np.array(value, dtype=dtype)  # a copy: the watch owns its arrays
        if a.ndim != 1:
            raise ConfigError(f"a stacked early-stopping field must be 1-D (one entry per member), got shape {a.shape}")
        a.flags.writeable = False
        return a

    return convert


@tree.register(name="fnn.fit:_StackedWatch")  # its name in files since it lived in fnn.fit
@attrs.frozen
class StackedWatch:
    """Early stopping of a stack, member by member: what :class:`Watch` keeps, with one entry per member.

    ``best`` is NaN where a member has no best yet, ``best_epoch`` −1; ``stopped`` marks the members
    whose patience ran out (their history entries are NaN from the next epoch on, as if they had left
    the run); ``best_params`` is a stack of each member's best params (None before any improvement).

    >>> import numpy as np, fnn
    >>> stack = fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([2, 2]))
    >>> state = fnn.TrainState.create(stack, fnn.optim.sgd(0.1), key=fnn.random.key(1))
    >>> rule = fnn.EarlyStopping(patience=1)
    >>> watch = fnn.early_stopping.StackedWatch.start(2)
    >>> for epoch, losses in enumerate([[0.5, 0.4], [0.6, 0.3]], start=1):
    ...     watch = watch.update(rule, np.array(losses), epoch, state)
    >>> watch.best.tolist(), watch.best_epoch.tolist(), watch.stopped.tolist()
    ([0.5, 0.3], [1, 2], [True, False])
    """

    best: np.ndarray = attrs.field(converter=_flags(np.float64))  # type: ignore[misc]  # mypy's attrs plugin reads no converter a function returns
    best_epoch: np.ndarray = attrs.field(converter=_flags(np.int64))  # type: ignore[misc]
    wait: np.ndarray = attrs.field(converter=_flags(np.int64))  # type: ignore[misc]
    stopped: np.ndarray = attrs.field(converter=_flags(bool))  # type: ignore[misc]
    best_params: Any = None

    def __attrs_post_init__(self) -> None:
        sizes = {len(self.best), len(self.best_epoch), len(self.wait), len(self.stopped)}
        if len(sizes) != 1:
            raise ConfigError(
                f"a stacked early-stopping state needs one entry per member in every field, got sizes {sorted(sizes)}"
            )

    @classmethod
    def start(cls, members: int) -> StackedWatch:
        """The state before the first epoch of a stack of ``members`` networks."""
        return cls(np.full(members, np.nan), np.full(members, -1), np.zeros(members), np.zeros(members, bool))

    def update(self, rule: EarlyStopping, values: np.ndarray, epoch: int, state: TrainState) -> StackedWatch:
        improved = np.array(
            [
                not stopped and rule.improved(float(v), None if math.isnan(b) else float(b))
                for v, b, stopped in zip(values, self.best, self.stopped, strict=True)
            ]
        )
        best_params = self.best_params
        if improved.any():
            previous = state.params if best_params is None else best_params
            best_params = state.params if improved.all() else select_members(improved, state.params, previous)
        wait = np.where(improved, 0, self.wait + ~self.stopped)
        return StackedWatch(
            np.where(improved, values, self.best),
            np.where(improved, epoch, self.best_epoch),
            wait,
            self.stopped | rule.exhausted(wait),
            best_params,
        )

    def stop(self, rule: EarlyStopping) -> bool:
        return bool(self.stopped.all())

    def mask(self, logs: dict) -> dict:
        """The epoch's logs with NaN for the members that stopped before it."""
        if not self.stopped.any():
            return logs
        return {k: np.where(self.stopped, np.nan, v) if np.ndim(v) else v for k, v in logs.items()}

    def restored(self, state: TrainState) -> TrainState:
        """``state`` with each member's best params (its last where it never improved); the optimizer
        state and step stay ``state``'s: the members' best epochs differ."""
        if self.best_params is None:
            return state
        return attrs.evolve(state, params=select_members(self.best_epoch >= 0, self.best_params, state.params))


def start_watch(params: Any) -> Watch | StackedWatch:
    """The early-stopping state before the first epoch on ``params``: a :class:`StackedWatch` for a stack.

    >>> import fnn
    >>> fnn.early_stopping.start_watch(fnn.init(fnn.random.key(0), fnn.mlp([2, 2])))
    Watch(best=None, best_epoch=-1, best_state=None, wait=0)
    """
    members = getattr(params, "members", None)
    return Watch() if members is None else StackedWatch.start(members)
