"""Per-coordinate adaptive rates: Adagrad, RMSprop and Adadelta, as in ``torch.optim``.

Each ``update`` returns the new params, not an update to add; the protocol is in
:mod:`fnn.optim`.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn._checks import keywords_checked
from fnn.optim.base import check_params, check_step, coupled_decay, flag, lr_at, lr_field, real, zeros
from fnn.tree import register, value_class

__all__ = [
    "adagrad",
    "rmsprop",
    "adadelta",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "AdagradState",
    "RMSpropState",
    "AdadeltaState",
]


# ------------------------------------------------------------ Adagrad


@register
@attrs.frozen
class AdagradState:
    """State of :func:`adagrad`: the count and the running sum of squared gradients."""

    count: int
    sum_sq: np.ndarray


@value_class
@attrs.frozen
class Adagrad:
    """Adagrad; built by :func:`adagrad`, which documents it."""

    lr: Any = lr_field(0.01)
    eps: float = real(1e-10, lo_open=True)
    weight_decay: float = real(0.0, kw_only=True)
    _name = "adagrad"

    def init(self, flat: np.ndarray) -> AdagradState:
        """The state before the first update: count 0 and a zero sum."""
        check_params(self._name, flat)
        return AdagradState(0, zeros(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: AdagradState) -> tuple[np.ndarray, AdagradState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`adagrad`."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        g = coupled_decay(grad, old, self.weight_decay)
        sum_sq = np.multiply(g, g)
        sum_sq += state.sum_sq
        step = np.sqrt(sum_sq)
        step += self.eps
        np.divide(g, step, out=step)
        step *= -lr
        step += old
        return step, AdagradState(state.count + 1, sum_sq)


@keywords_checked
def adagrad(lr: Any = 0.01, eps: float = 1e-10, *, weight_decay: float = 0.0) -> Adagrad:
    """Adagrad (Duchi, Hazan & Singer 2011): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.Adagrad`` with ``lr_decay=0``,
    ``initial_accumulator_value=0``; use a schedule for a decaying lr)::

        g <- g + weight_decay * p        (only if weight_decay != 0)
        s <- s + g**2                    (s starts at 0)
        p <- p - lr_t * g / (sqrt(s) + eps)

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        eps: added to the denominator, > 0.
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`Adagrad`; its state is :class:`AdagradState` ``(count, sum_sq)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`rmsprop`, :func:`adadelta`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.adagrad(0.1)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.8331, -1.8311])
    """
    return Adagrad(lr, eps, weight_decay=weight_decay)


# ------------------------------------------------------------ RMSprop


@register
@attrs.frozen
class RMSpropState:
    """State of :func:`rmsprop`: the count, the average of squared gradients, and (when used)
    the momentum buffer and the average gradient (``None`` otherwise)."""

    count: int
    square_avg: np.ndarray
    momentum_buffer: np.ndarray | None = None
    grad_avg: np.ndarray | None = None


@value_class
@attrs.frozen
class RMSprop:
    """RMSprop; built by :func:`rmsprop`, which documents it."""

    lr: Any = lr_field(0.01)
    alpha: float = real(0.99, hi=1.0, hi_open=True)
    eps: float = real(1e-8, lo_open=True)
    momentum: float = real(0.0, hi=1.0, hi_open=True)
    centered: bool = flag(False)
    weight_decay: float = real(0.0, kw_only=True)
    _name = "rmsprop"

    def init(self, flat: np.ndarray) -> RMSpropState:
        """The state before the first update: zero averages (and buffers only where used)."""
        check_params(self._name, flat)
        return RMSpropState(
            0,
            zeros(flat),
            zeros(flat) if self.momentum > 0 else None,
            zeros(flat) if self.centered else None,
        )

    def update(self, old: np.ndarray, grad: np.ndarray, state: RMSpropState) -> tuple[np.ndarray, RMSpropState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`rmsprop`."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        alpha = self.alpha
        g = coupled_decay(grad, old, self.weight_decay)
        square_avg = np.multiply(state.square_avg, alpha)
        tmp = np.multiply(g, g)
        tmp *= 1.0 - alpha
        square_avg += tmp
        grad_avg = None
        if self.centered:
            grad_avg = np.multiply(state.grad_avg, alpha)  # type: ignore[arg-type]  # centered: init made it
            np.multiply(g, 1.0 - alpha, out=tmp)
            grad_avg += tmp
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, tmp, out=tmp)
            np.maximum(tmp, 0.0, out=tmp)  # >= 0 in exact arithmetic; rounding must not make sqrt NaN
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(square_avg, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)  # g / (sqrt(v~) + eps)
        buffer = None
        if self.momentum > 0:
            buffer = np.multiply(state.momentum_buffer, self.momentum)  # type: ignore[arg-type]  # init made it
            buffer += tmp
            np.multiply(buffer, -lr, out=tmp)
        else:
            tmp *= -lr
        tmp += old
        return tmp, RMSpropState(state.count + 1, square_avg, buffer, grad_avg)


@keywords_checked
def rmsprop(
    lr: Any = 0.01,
    alpha: float = 0.99,
    eps: float = 1e-8,
    momentum: float = 0.0,
    centered: bool = False,
    *,
    weight_decay: float = 0.0,
) -> RMSprop:
    """RMSprop (Hinton's lecture 6e; centered form of Graves 2013): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.RMSprop``)::

        g <- g + weight_decay * p        (only if weight_decay != 0)
        v <- alpha * v + (1 - alpha) * g**2
        v~ = v
        if centered:  a <- alpha * a + (1 - alpha) * g;   v~ = max(v - a**2, 0)
        if momentum > 0:  b <- momentum * b + g / (sqrt(v~) + eps);   p <- p - lr_t * b
        else:             p <- p - lr_t * g / (sqrt(v~) + eps)

    (All buffers start at 0. The ``max(., 0)`` only guards against rounding, where
    torch would take the square root of a tiny negative number.)

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        alpha: smoothing constant, in [0, 1).
        eps: added to the denominator, > 0.
        momentum: momentum factor, in [0, 1); 0 keeps no buffer.
        centered: normalise by the estimated variance instead of the raw second moment.
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`RMSprop`; its state is :class:`RMSpropState`
        ``(count, square_avg, momentum_buffer, grad_avg)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`adagrad`, :func:`adam`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.rmsprop(0.01)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.8329, -1.8309])
    """
    return RMSprop(lr, alpha, eps, momentum, centered, weight_decay=weight_decay)


# ------------------------------------------------------------ Adadelta


@register
@attrs.frozen
class AdadeltaState:
    """State of :func:`adadelta`: the count, the average squared gradient ``square_avg`` (v)
    and the average squared step ``acc_delta`` (u)."""

    count: int
    square_avg: np.ndarray
    acc_delta: np.ndarray


@value_class
@attrs.frozen
class Adadelta:
    """Adadelta; built by :func:`adadelta`, which documents it."""

    lr: Any = lr_field(1.0)
    rho: float = real(0.9, hi=1.0)
    eps: float = real(1e-6, lo_open=True)
    weight_decay: float = real(0.0, kw_only=True)
    _name = "adadelta"

    def init(self, flat: np.ndarray) -> AdadeltaState:
        """The state before the first update: count 0 and zero averages."""
        check_params(self._name, flat)
        return AdadeltaState(0, zeros(flat), zeros(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: AdadeltaState) -> tuple[np.ndarray, AdadeltaState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`adadelta`."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        rho, eps = self.rho, self.eps
        g = coupled_decay(grad, old, self.weight_decay)
        square_avg = np.multiply(state.square_avg, rho)
        tmp = np.multiply(g, g)
        tmp *= 1.0 - rho
        square_avg += tmp
        std = np.add(square_avg, eps)
        np.sqrt(std, out=std)
        delta = np.add(state.acc_delta, eps, out=tmp)
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= g  # dx = sqrt(u + eps) / sqrt(v + eps) * g
        acc_delta = np.multiply(state.acc_delta, rho)
        np.multiply(delta, delta, out=std)
        std *= 1.0 - rho
        acc_delta += std
        delta *= -lr
        delta += old
        return delta, AdadeltaState(state.count + 1, square_avg, acc_delta)


@keywords_checked
def adadelta(lr: Any = 1.0, rho: float = 0.9, eps: float = 1e-6, *, weight_decay: float = 0.0) -> Adadelta:
    """Adadelta (Zeiler 2012): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.Adadelta``)::

        g  <- g + weight_decay * p       (only if weight_decay != 0)
        v  <- rho * v + (1 - rho) * g**2
        dx =  sqrt(u + eps) / sqrt(v + eps) * g
        u  <- rho * u + (1 - rho) * dx**2
        p  <- p - lr_t * dx

    Args:
        lr: coefficient that scales ``dx`` (1.0 is the paper's method), >= 0, or a schedule.
        rho: decay of the running averages, in [0, 1].
        eps: added inside both square roots, > 0.
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`Adadelta`; its state is :class:`AdadeltaState` ``(count, square_avg, acc_delta)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`adagrad`, :func:`rmsprop`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.adadelta()
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.9936, -1.9936])
    """
    return Adadelta(lr, rho, eps, weight_decay=weight_decay)
