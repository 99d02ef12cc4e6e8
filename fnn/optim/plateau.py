"""``ReduceLROnPlateau``: an optimizer whose learning rate drops when a validation metric stops improving.

Every schedule in :mod:`fnn.optim.schedules` is a function of the update count; this one
watches a quantity that only training knows, such as ``val_loss``, so it keeps what it has
seen in its state and :func:`fnn.fit` tells it each epoch's logs through :meth:`ReduceLROnPlateau.observe`
(the one optimizer method fit calls besides ``init`` and ``update``). Its state,
:class:`PlateauState`, is part of the TrainState's optimizer state, so checkpoints hold it
and a resumed run reduces the rate when the uninterrupted one does, bit for bit.

The rule is Keras's ``ReduceLROnPlateau``: when ``monitor`` has not improved by more than
``min_delta`` for ``patience`` epochs, the rate is multiplied by ``factor`` (not below
``min_lr``), then ``cooldown`` epochs pass before the count starts again.

**How the rate is scaled.** The wrapper lets the inner optimizer compute its step and
multiplies the step by the scale: ``new = old + scale · (inner_new − old)``. Every built-in
optimizer's step is its learning rate times a direction that does not depend on it (Adam's
moments, momentum's velocity, Adadelta's accumulators, AdamW's decay ``lr·wd·p`` too), so this
is the inner optimizer with ``lr · scale``, up to rounding; until the first reduction
(scale 1) it is the inner optimizer bit for bit.

>>> import fnn
>>> opt = fnn.optim.ReduceLROnPlateau(fnn.optim.adam(1e-2), patience=1, factor=0.5)
>>> state = opt.init(fnn.tree.ravel(fnn.init(fnn.random.key(0), fnn.mlp([2, 2])))[0])
>>> for val_loss in [0.9, 0.8, 0.85, 0.83]:
...     state = opt.observe(state, {"val_loss": val_loss})
>>> state.scale, opt.rate(state)
(0.25, 0.0025)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import attrs
import numpy as np

from fnn.errors import ConfigError
from fnn.optim.base import Optimizer, _to_float, check_step, count_field, real
from fnn.optim.transforms import member_sizes
from fnn.tree import register, static_field, value_class

__all__ = ["ReduceLROnPlateau", "PlateauState"]


@register
@attrs.frozen
class PlateauState:
    """State of :class:`ReduceLROnPlateau`: the inner optimizer's state and what the rule has seen.

    ``scale`` multiplies the inner optimizer's rate; ``best`` is the best value of the monitored
    quantity so far (None before the first epoch); ``wait`` the epochs since it improved; ``cooldown``
    the epochs left before counting again. For a stack of K networks each of the four is a tuple of
    K, one per member, and ``sizes`` holds each leaf's size per member (the flat vector's layout),
    so that every member's entries get its own scale.
    """

    inner: Any
    # a number each for one network, a tuple of K for a stack (Any: which one, the params decide)
    scale: Any = static_field(default=1.0)
    best: Any = static_field(default=None)
    wait: Any = static_field(default=0)
    cooldown: Any = static_field(default=0)
    sizes: tuple[int, ...] | None = static_field(default=None)

    @property
    def count(self) -> int:
        """The number of updates applied (the inner state's)."""
        return self.inner.count


def _check_monitor(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"ReduceLROnPlateau: monitor must be a history key such as 'val_loss', got {value!r}")


def _check_mode(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value not in ("auto", "min", "max"):
        raise ConfigError(f"ReduceLROnPlateau: mode must be 'auto', 'min' or 'max', got {value!r}")


@value_class
@attrs.frozen
class ReduceLROnPlateau:
    """Multiply the inner optimizer's learning rate by ``factor`` when ``monitor`` stops improving (Keras's rule).

    Args:
        optimizer: the optimizer whose rate to reduce (any fnn optimizer, a chain included).
        monitor: the history key to watch, e.g. ``"val_loss"`` (needs validation data) or ``"loss"``.
        factor: the multiplier, in (0, 1).
        patience: epochs without improvement before a reduction.
        min_delta: the least change that counts as an improvement.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like names, min otherwise).
        cooldown: epochs after a reduction before the count starts again.
        min_lr: the rate is never reduced below this (needs a number as the inner ``lr``).

    Raises:
        ConfigError: a bad setting; ``min_lr`` with a scheduled inner ``lr``.
    """

    optimizer: Any
    monitor: str = attrs.field(default="val_loss", kw_only=True, validator=_check_monitor)
    factor: float = real(0.1, lo=0.0, hi=1.0, lo_open=True, hi_open=True, kw_only=True)
    patience: int = count_field(10, lo=0, kw_only=True)
    min_delta: float = real(1e-4, kw_only=True)
    mode: str = attrs.field(default="auto", kw_only=True, validator=_check_mode)
    cooldown: int = count_field(0, lo=0, kw_only=True)
    min_lr: float = real(0.0, kw_only=True)
    _name = "ReduceLROnPlateau"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.optimizer, Optimizer):
            raise ConfigError(
                f"ReduceLROnPlateau expects an optimizer (init/update), e.g. fnn.optim.adam(1e-3), got "
                f"{self.optimizer!r}"
            )
        if self.min_lr > 0 and not isinstance(getattr(self.optimizer, "lr", None), float):
            raise ConfigError(
                f"ReduceLROnPlateau: min_lr needs the inner optimizer's lr to be a number, got "
                f"{getattr(self.optimizer, 'lr', None)!r}"
            )

    @property
    def lr(self) -> Any:
        """The inner optimizer's ``lr`` (before any reduction)."""
        return getattr(self.optimizer, "lr", None)

    @property
    def accepts_spare(self) -> bool:
        """Whether the inner optimizer takes spare buffers (see :mod:`fnn.optim`): then so does this one."""
        return getattr(self.optimizer, "accepts_spare", False) is True

    @property
    def direction(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "max" if "acc" in self.monitor else "min"

    def init(self, flat: np.ndarray) -> PlateauState:
        """The inner optimizer's initial state, at scale 1."""
        return PlateauState(self.optimizer.init(flat))

    def update(
        self, old: np.ndarray, grad: np.ndarray, state: PlateauState, spare: Any = None
    ) -> tuple[np.ndarray, PlateauState]:
        """Return the NEW PARAMS (not an update to add): the inner optimizer's, its step scaled by ``state.scale``.

        Entries whose scale is 1 are the inner optimizer's bit for bit (for a stack: the members
        whose rate was never reduced).
        """
        if spare is None:
            new, inner = self.optimizer.update(old, grad, state.inner)
        else:
            new, inner = self.optimizer.update(old, grad, state.inner, spare=(spare[0], spare[1].inner))
        scales = state.scale if isinstance(state.scale, tuple) else (state.scale,)
        if any(scale != 1.0 for scale in scales):
            check_step(self._name, old, grad)
            if not new.flags.writeable:
                new = new.copy()
            if isinstance(state.scale, tuple):
                scale = _per_entry(state.scale, state.sizes, new.dtype)
                step = (new - old) * scale + old
                np.copyto(new, step, where=scale != 1)
            else:
                new -= old
                new *= state.scale
                new += old
        return new, attrs.evolve(state, inner=inner)

    def _improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return math.isfinite(value)
        if self.direction == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta

    def _observe_one(self, value: float, scale: float, best: float | None, wait: int, cooldown: int) -> tuple:
        """Keras's rule for one network: its (scale, best, wait, cooldown) after an epoch that gave ``value``."""
        if cooldown > 0:
            cooldown -= 1
            wait = 0
        if self._improved(value, best):
            best, wait = value, 0
        elif cooldown == 0:
            wait += 1
            if wait >= self.patience:
                floor = self.min_lr / self.lr if self.min_lr > 0 else 0.0
                reduced = max(scale * self.factor, floor)
                if reduced < scale:
                    scale, cooldown = reduced, self.cooldown
                wait = 0
        return scale, best, wait, cooldown

    def observe(self, state: PlateauState, logs: dict, *, params: Any = None) -> PlateauState:
        """The state after an epoch whose history entries are ``logs`` (what :func:`fnn.fit` calls each epoch).

        For a stack of K networks ``logs[monitor]`` holds K values and ``params`` are the stack's
        params (the rule keeps only their layout): each member gets its own rate, reduced when its
        own value stops improving, so member m of the stack trains as network m would alone.

        Raises:
            ConfigError: ``monitor`` is not in ``logs``; it is not one number for one network, or not
                one per member for a stack.
        """
        if self.monitor not in logs:
            raise ConfigError(f"ReduceLROnPlateau monitors {self.monitor!r}; the history has {sorted(logs)}")
        value = logs[self.monitor]
        members = getattr(params, "members", None)
        if members is None:
            if np.ndim(value) != 0 or not isinstance(_to_float(value), float):
                raise ConfigError(
                    f"ReduceLROnPlateau watches one number, got {self.monitor}={value!r} (for a stack, pass its "
                    f"params: observe(state, logs, params=stack), one value per member)"
                )
            scale, best, wait, cooldown = self._observe_one(
                float(value), state.scale, state.best, state.wait, state.cooldown
            )
            return attrs.evolve(state, scale=scale, best=best, wait=wait, cooldown=cooldown)
        values = np.asarray(value, dtype=float) if np.ndim(value) == 1 else None
        if values is None or values.shape != (members,):
            raise ConfigError(
                f"ReduceLROnPlateau on a stack of {members} networks watches one {self.monitor} per member, got "
                f"{value!r}"
            )
        if state.sizes is None:  # the first epoch of a stack: one rule per member, from the one-network start
            state = attrs.evolve(
                state,
                scale=(state.scale,) * members,
                best=(state.best,) * members,
                wait=(state.wait,) * members,
                cooldown=(state.cooldown,) * members,
                sizes=member_sizes(params),
            )
        rows = [
            self._observe_one(float(v), *member)
            for v, *member in zip(values, state.scale, state.best, state.wait, state.cooldown, strict=True)
        ]
        scale, best, wait, cooldown = (tuple(column) for column in zip(*rows, strict=True))
        return attrs.evolve(state, scale=scale, best=best, wait=wait, cooldown=cooldown)

    def rate(self, state: PlateauState) -> Any:
        """The learning rate the next update uses (the inner ``lr`` at this count, times the scale), or None
        when the inner optimizer has no ``lr``; for a stack a (K,) array, one rate per member."""
        lr = self.lr
        if lr is None:
            return None
        base = lr if isinstance(lr, numbers.Real) else float(lr(state.count))
        if isinstance(state.scale, tuple):
            return base * np.asarray(state.scale)
        return base * state.scale


def _per_entry(scales: tuple[float, ...], sizes: tuple[int, ...] | None, dtype: np.dtype) -> np.ndarray:
    """The scale of every entry of a stack's flat vector: member m's scale over member m's block of each leaf."""
    if sizes is None:
        raise ConfigError("ReduceLROnPlateau: a stack's per-member scales without the stack's layout (sizes)")
    column = np.asarray(scales, dtype=dtype)
    return np.concatenate([np.repeat(column, size) for size in sizes])
