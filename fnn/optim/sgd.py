"""Stochastic gradient descent: plain, with heavy-ball momentum, and with Nesterov momentum.

All three follow ``torch.optim.SGD`` (dampening 0). Each ``update`` returns the
new params, not an update to add; the protocol is in :mod:`fnn.optim`.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from fnn._checks import keywords_checked
from fnn.optim.base import check_params, check_step, coupled_decay, lr_at, lr_field, real, scratch, zeros
from fnn.tree import register, value_class

__all__ = ["sgd", "momentum", "nesterov", "Sgd", "Momentum", "Nesterov", "SgdState", "MomentumState"]


@register
@attrs.frozen
class SgdState:
    """State of :func:`sgd`: the number of updates already applied."""

    count: int


@register
@attrs.frozen
class MomentumState:
    """State of :func:`momentum` and :func:`nesterov`: the count and the velocity ``b`` (torch's momentum buffer)."""

    count: int
    velocity: np.ndarray


@value_class
@attrs.frozen
class Sgd:
    """Plain SGD; built by :func:`sgd`, which documents it."""

    lr: Any = lr_field()
    weight_decay: float = real(0.0, kw_only=True)
    _name = "sgd"

    def init(self, flat: np.ndarray) -> SgdState:
        """The state before the first update: ``SgdState(count=0)``."""
        check_params(self._name, flat)
        return SgdState(0)

    def update(self, old: np.ndarray, grad: np.ndarray, state: SgdState) -> tuple[np.ndarray, SgdState]:
        """Return the NEW PARAMS ``old - lr * grad`` (not an update to add) and the next state."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        g = coupled_decay(grad, old, self.weight_decay)
        new = np.multiply(g, -lr, out=scratch(grad, g))
        new += old  # old + (-lr * g) is bitwise old - lr * g
        return new, SgdState(state.count + 1)


@value_class
@attrs.frozen
class Momentum:
    """SGD with heavy-ball momentum; built by :func:`momentum`, which documents it."""

    lr: Any = lr_field()
    momentum: float = real(0.9, hi=1.0, hi_open=True)
    weight_decay: float = real(0.0, kw_only=True)
    _name = "momentum"
    _nesterov = False

    def init(self, flat: np.ndarray) -> MomentumState:
        """The state before the first update: count 0 and a zero velocity."""
        check_params(self._name, flat)
        return MomentumState(0, zeros(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: MomentumState) -> tuple[np.ndarray, MomentumState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`momentum`."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        g = coupled_decay(grad, old, self.weight_decay)
        velocity = np.multiply(state.velocity, self.momentum)
        velocity += g  # b = mu * b + g; at the first step b = g exactly, as in torch
        if self._nesterov:
            step = np.multiply(velocity, self.momentum)
            step += g  # g + mu * b
            step *= -lr
        else:
            step = np.multiply(velocity, -lr)
        step += old
        return step, MomentumState(state.count + 1, velocity)


@value_class
@attrs.frozen
class Nesterov(Momentum):
    """SGD with Nesterov momentum; built by :func:`nesterov`, which documents it."""

    _name = "nesterov"
    _nesterov = True


@keywords_checked
def sgd(lr: Any, *, weight_decay: float = 0.0) -> Sgd:
    """Plain stochastic gradient descent: ``update`` returns the NEW PARAMS ``p - lr * g``.

    Update rule (``torch.optim.SGD`` with momentum 0), at step t = count + 1::

        g <- g + weight_decay * p        (only if weight_decay != 0)
        p <- p - lr_t * g

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        weight_decay: coupled L2 coefficient (torch's ``weight_decay``), >= 0.

    Returns:
        A frozen :class:`Sgd`; its state is :class:`SgdState` ``(count)``.

    Raises:
        ConfigError: a hyperparameter out of range (the message names it).

    See Also:
        :func:`momentum`, :func:`nesterov`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.sgd(0.1)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)   # gradient of sum(p**2)
    >>> p.round(4), state.count
    (array([ 0.64, -1.28]), 2)
    """
    return Sgd(lr, weight_decay=weight_decay)


@keywords_checked
def momentum(lr: Any, momentum: float = 0.9, *, weight_decay: float = 0.0) -> Momentum:
    """SGD with heavy-ball momentum: ``update`` returns the NEW PARAMS ``p - lr * b``.

    Update rule (``torch.optim.SGD(momentum=mu)``, dampening 0; Polyak's heavy
    ball in PyTorch's form, where the velocity ``b`` does not include ``lr``)::

        g <- g + weight_decay * p        (only if weight_decay != 0)
        b <- mu * b + g                  (b starts at 0, so b_1 = g)
        p <- p - lr_t * b

    The tutorials' form ``v <- mu * v - lr * g; p <- p + v`` is the same
    trajectory when ``lr`` is constant (``v = -lr * b``), equal up to rounding; with a
    schedule the two differ, and this is torch's.

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        momentum: the momentum factor ``mu``, in [0, 1).
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`Momentum`; its state is :class:`MomentumState` ``(count, velocity)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`sgd`, :func:`nesterov`, :func:`fnn.optim.from_update`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.momentum(0.1, 0.9)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4), state.velocity.round(4)
    (array([ 0.46, -0.92]), array([ 3.4, -6.8]))
    """
    return Momentum(lr, momentum, weight_decay=weight_decay)


@keywords_checked
def nesterov(lr: Any, momentum: float = 0.9, *, weight_decay: float = 0.0) -> Nesterov:
    """SGD with Nesterov momentum: ``update`` returns the NEW PARAMS ``p - lr * (g + mu * b)``.

    Update rule (``torch.optim.SGD(momentum=mu, nesterov=True)``, the
    Sutskever et al. 2013 form as PyTorch writes it)::

        g <- g + weight_decay * p        (only if weight_decay != 0)
        b <- mu * b + g                  (b starts at 0)
        p <- p - lr_t * (g + mu * b)

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        momentum: the momentum factor ``mu``, in [0, 1).
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`Nesterov`; its state is :class:`MomentumState` ``(count, velocity)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`momentum`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.nesterov(0.1, 0.9)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.2224, -0.4448])
    """
    return Nesterov(lr, momentum, weight_decay=weight_decay)
