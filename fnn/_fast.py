"""Fused layer kernels compiled with numba (the ``fast`` extra), loaded only when a plan asks for them.

A training step runs a hidden ``Dense`` + ``relu`` pair as three NumPy passes forward (the matrix
product, ``+ b``, ``np.maximum``) and two backward (``x > 0``, then ``g * mask``), each streaming
the batch's activations again. The kernels below do the elementwise part of each direction in one
pass over the array, in place:

- ``bias_relu(y, b, zero)``: ``y <- maximum(y + b, 0)``, row by row;
- ``relu_grad(g, y, zero)``: ``g <- g * (y > 0)``.

Every operation is the one NumPy does, in the same order and in the array's dtype (``+`` of two
float32 is float32; ``zero`` is a 0 of that dtype), with no fused multiply-add and no fast-math,
so the results are bitwise NumPy's: ``np.maximum(v, 0)`` is ``v`` for ``v > 0`` or NaN, else +0
(also for ``v = -0.0``, as NumPy gives it), and ``g * 1`` is ``g``, ``g * 0`` is ``g * zero``.
The mask is taken from the relu's output instead of its input: ``maximum(v, 0) > 0`` exactly when
``v > 0`` (NaN: neither). ``tests/test_fast.py`` checks both against NumPy bitwise, over shapes.

fnn never imports numba itself: :func:`kernels` does, the first time a plan built with
``backend="numba"`` runs (``ConfigError`` naming the extra when it is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from fnn.errors import ConfigError

__all__ = ["kernels"]


@cache
def kernels() -> tuple[Callable, Callable]:
    """The compiled ``(bias_relu, relu_grad)`` kernels (compiled on first call per dtype, cached on disk).

    >>> import numpy as np
    >>> bias_relu, relu_grad = kernels()
    >>> y = np.array([[1.0, -2.0], [-0.5, 3.0]], np.float32)
    >>> bias_relu(y, np.array([0.5, 0.5], np.float32), np.float32(0))
    >>> y.tolist()
    [[1.5, 0.0], [0.0, 3.5]]
    """
    try:
        import numba
    except ImportError as error:
        raise ConfigError(
            'backend="numba" needs numba: pip install "fnn[fast]" (or use the default backend="numpy")'
        ) from error

    @numba.njit(nogil=True, cache=True)
    def bias_relu(y, b, zero):  # pragma: no cover - compiled
        n, k = y.shape
        for i in range(n):
            row = y[i]
            for j in range(k):
                v = row[j] + b[j]
                row[j] = v if (v > zero or v != v) else zero

    @numba.njit(nogil=True, cache=True)
    def relu_grad(g, y, zero):  # pragma: no cover - compiled
        n, k = g.shape
        for i in range(n):
            grow, yrow = g[i], y[i]
            for j in range(k):
                if not yrow[j] > zero:
                    grow[j] = grow[j] * zero

    return bias_relu, relu_grad
