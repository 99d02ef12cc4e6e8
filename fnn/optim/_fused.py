"""Fused optimizer kernels compiled with numba (the ``fast`` extra), loaded only when asked for.

NumPy runs Adam as 12 separate passes over the parameter vector (block by block, so that
long vectors are read from the L2 cache rather than from memory at each pass); the loop below
does the same arithmetic element by element in one pass. Every
operation is the one NumPy does, in the same order and in the params' dtype (the scalars
are cast to it first, as NumPy casts a Python float), with no fused multiply-add and no
fast-math, so the results are bitwise those of the NumPy kernel. ``error_model="numpy"``
lets a division by zero give inf instead of raising, which also lets the loop vectorise.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from fnn._reductions import TINY
from fnn.errors import ConfigError


@cache
def _compiled() -> tuple[Callable, Callable]:
    try:
        import numba
    except ImportError as error:
        raise ConfigError(
            'backend="numba" needs numba: pip install "fnn[fast]" (or use the default backend="numpy")'
        ) from error

    # ``over``: the gradient is read from ``out_p`` itself (the new params are written over it), and
    # ``g`` is an empty stand-in. LLVM vectorises the loop only when its arrays provably do not
    # overlap: two views of one buffer, as ``g`` and ``out_p``, would leave it scalar (2x slower).
    @numba.njit(error_model="numpy", nogil=True, cache=True)
    def adam(
        p, g, mu, nu, nu_max, out_p, out_mu, out_nu, out_nu_max, scalars, amsgrad, over
    ):  # pragma: no cover - compiled
        b1, c1, b2, c2, e, a = scalars[0], scalars[1], scalars[2], scalars[3], scalars[4], scalars[5]
        for i in range(p.size):
            gi = out_p[i] if over else g[i]
            m = b1 * mu[i] + c1 * gi
            v = b2 * nu[i] + gi * gi * c2
            out_mu[i] = m
            out_nu[i] = v
            if amsgrad:
                top = nu_max[i]
                if v > top or v != v:  # np.maximum: the larger, NaN if either is NaN
                    top = v
                out_nu_max[i] = top
                v = top
            out_p[i] = m / (np.sqrt(v) + e) * a + p[i]

    # The flush of fnn.optim.adam, as NumPy's copyto(a, 0, where=|a| < tiny), in a loop of its own (inside
    # the one above, even behind a flag that is False, it kept that loop from vectorising: 1.7x slower).
    @numba.njit(nogil=True, cache=True)
    def flush(a, tiny):  # pragma: no cover - compiled
        zero = tiny - tiny  # +0 of the array's dtype (a literal 0.0 is float64)
        for i in range(a.size):
            if abs(a[i]) < tiny:
                a[i] = zero

    return adam, flush


def adam_kernel() -> Callable:
    """The fused Adam kernel, with the signature of ``fnn.optim.adam._adam_numpy``.

    >>> import numpy as np
    >>> from fnn.optim import _fused, adam
    >>> p, g = np.array([1.0, -2.0], np.float32), np.array([0.5, 0.25], np.float32)
    >>> fast, slow = adam(0.1, backend="numba"), adam(0.1)
    >>> a, b = fast.update(p, g, fast.init(p))[0], slow.update(p, g, slow.init(p))[0]
    >>> a.dtype, bool(np.array_equal(a, b))
    (dtype('float32'), True)
    """
    adam, flush_subnormals = _compiled()

    def kernel(
        p: np.ndarray,
        g: np.ndarray,
        mu: np.ndarray,
        nu: np.ndarray,
        nu_max: np.ndarray | None,
        out_p: np.ndarray,
        out_mu: np.ndarray,
        out_nu: np.ndarray,
        out_nu_max: np.ndarray | None,
        b1: float,
        b2: float,
        eps_hat: Any,
        step: Any,
        flush: bool,
    ) -> None:
        amsgrad = out_nu_max is not None
        over = np.may_share_memory(out_p, g)  # the spare params array is the gradient's own (see fnn.optim)
        # the scalars in the params' dtype, rounded as NumPy rounds a Python float; one array, not six
        # scalars: at 722 params six casts and five more arguments made the call 3.7 µs instead of 2.5
        scalars = np.array((b1, 1.0 - b1, b2, 1.0 - b2, eps_hat, step), p.dtype)
        adam(
            p,
            out_p[:0] if over else g,
            mu,
            nu,
            nu_max if amsgrad else nu,
            out_p,
            out_mu,
            out_nu,
            out_nu_max if amsgrad else out_nu,
            scalars,
            amsgrad,
            over,
        )
        if flush:
            tiny = TINY[p.dtype][()]
            flush_subnormals(out_mu, tiny)
            flush_subnormals(out_nu, tiny)

    return kernel
