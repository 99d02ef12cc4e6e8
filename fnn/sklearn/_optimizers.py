"""scikit-learn's two stochastic solvers as fnn optimizers: its SGD (with momentum) and its Adam.

fnn's own :func:`fnn.optim.nesterov` and :func:`fnn.optim.adam` follow ``torch.optim``, whose
formulas differ from scikit-learn's (``sklearn/neural_network/_stochastic_optimizers.py``):
torch's momentum buffer holds gradients and is scaled by the learning rate at each step, so
the two trajectories part as soon as the rate changes (``learning_rate="invscaling"`` or
``"adaptive"``); torch's Adam adds ``epsilon`` to the bias-corrected ``sqrt(v)``, scikit-learn's
to the raw one. These classes write scikit-learn's update rules, operation for operation, in
fnn's optimizer protocol (:mod:`fnn.optim`): ``update(old, grad, state)`` returns the NEW
PARAMS and a named state, on the flat vector. Every per-step scalar is a Python float, so
float32 params stay float32.

>>> import numpy as np
>>> opt = SklearnSGD(lr=0.1, momentum=0.9, nesterov=False)
>>> p = np.array([1.0, -2.0]); state = opt.init(p)
>>> for _ in range(2):
...     p, state = opt.update(p, 2 * p, state)   # gradient of sum(p**2)
>>> p.round(4), state.velocity.round(4)
(array([ 0.46, -0.92]), array([-0.34,  0.68]))
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn.optim.base import check_params, check_step, flag, lr_at, lr_field, real, zeros
from fnn.tree import register, value_class

__all__ = ["SklearnSGD", "SklearnSGDState", "SklearnAdam", "SklearnAdamState"]


@register(name="fnn.sklearn:SklearnSGDState")
@attrs.frozen
class SklearnSGDState:
    """State of :class:`SklearnSGD`: the count of updates applied and scikit-learn's ``velocities``
    (which, unlike torch's momentum buffer, include the learning rate)."""

    count: int
    velocity: np.ndarray


@value_class(name="fnn.sklearn:SklearnSGD")
@attrs.frozen
class SklearnSGD:
    """scikit-learn's ``SGDOptimizer``: ``update`` returns the NEW PARAMS ``p + u``.

    Update rule (``_get_updates``), with ``mu = momentum`` and this step's rate ``lr``::

        v <- mu * v - lr * g          (v starts at 0)
        u <- mu * v - lr * g          if nesterov, else u <- v
        p <- p + u

    ``lr`` is a number (the estimator sets it each epoch, for ``invscaling`` and
    ``adaptive``) or an :mod:`fnn.optim.schedules` schedule called with the count.

    >>> import numpy as np
    >>> opt = SklearnSGD(lr=0.5, momentum=0.0, nesterov=True)
    >>> opt.update(np.array([1.0]), np.array([2.0]), opt.init(np.zeros(1)))[0]
    array([0.])
    """

    lr: Any = lr_field()
    momentum: float = real(0.9, hi=1.0)
    nesterov: bool = flag(True)
    _name = "sgd (scikit-learn's)"

    def init(self, flat: np.ndarray) -> SklearnSGDState:
        """The state before the first update: count 0 and a zero velocity."""
        check_params(self._name, flat)
        return SklearnSGDState(0, zeros(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: SklearnSGDState) -> tuple[np.ndarray, SklearnSGDState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in the class docstring."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        velocity = np.multiply(state.velocity, self.momentum)
        velocity -= np.multiply(grad, lr)
        if self.nesterov:
            step = np.multiply(velocity, self.momentum)
            step -= np.multiply(grad, lr)
        else:
            step = velocity
        return np.add(old, step), SklearnSGDState(state.count + 1, velocity)


@register(name="fnn.sklearn:SklearnAdamState")
@attrs.frozen
class SklearnAdamState:
    """State of :class:`SklearnAdam`: the count (scikit-learn's ``t`` before the update) and the moments."""

    count: int
    m: np.ndarray
    v: np.ndarray


@value_class(name="fnn.sklearn:SklearnAdam")
@attrs.frozen
class SklearnAdam:
    """scikit-learn's ``AdamOptimizer``: ``update`` returns the NEW PARAMS ``p + u``.

    Update rule (``_get_updates``, Kingma & Ba's algorithm with the bias corrections folded
    into the rate, and ``epsilon`` added to the uncorrected ``sqrt(v)``), at t = count + 1::

        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g**2
        lr_t <- lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        p <- p + (-lr_t * m) / (sqrt(v) + epsilon)

    >>> import numpy as np
    >>> opt = SklearnAdam(lr=0.1)
    >>> p, state = opt.update(np.array([1.0]), np.array([3.0]), opt.init(np.zeros(1)))
    >>> p.round(6), state.count
    (array([0.9]), 1)
    """

    lr: Any = lr_field()
    beta_1: float = real(0.9, hi=1.0, hi_open=True)
    beta_2: float = real(0.999, hi=1.0, hi_open=True)
    epsilon: float = real(1e-8, lo_open=True)
    _name = "adam (scikit-learn's)"

    def init(self, flat: np.ndarray) -> SklearnAdamState:
        """The state before the first update: count 0 and zero moments."""
        check_params(self._name, flat)
        return SklearnAdamState(0, zeros(flat), zeros(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: SklearnAdamState) -> tuple[np.ndarray, SklearnAdamState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in the class docstring."""
        check_step(self._name, old, grad)
        t = state.count + 1
        b1, b2 = self.beta_1, self.beta_2
        m = np.multiply(state.m, b1)
        m += np.multiply(grad, 1 - b1)
        v = np.multiply(state.v, b2)
        v += np.multiply(np.multiply(grad, grad), 1 - b2)
        lr = lr_at(self._name, self.lr, state.count) * math.sqrt(1 - b2**t) / (1 - b1**t)
        step = np.multiply(m, -lr)
        denominator = np.sqrt(v)
        denominator += self.epsilon
        step /= denominator
        return np.add(old, step), SklearnAdamState(t, m, v)
