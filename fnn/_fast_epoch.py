"""A compiled epoch (the ``fast`` extra): ``train_epoch(..., compiled=True)`` runs the whole fold in one numba call.

JAX's ``lax.scan`` removes the per-step dispatch of a jitted step; this does the same for the networks
it supports: a plain MLP (``Dense`` + ``relu`` hidden layers, a ``Dense`` + ``softmax`` output, biases
or none), ``cross_entropy`` on integer labels, ``fnn.optim.adam`` with a constant rate (no AMSGrad, no
weight decay), no ``l2``, no weights, one network (not a stack), float32 or float64. Anything else is
a ``ConfigError`` that says what is not supported (the NumPy fold runs it: drop ``compiled=True``).

**The numbers.** The step is the NumPy fold's (same batches, same formulas, the same Adam in the
params' dtype), but the matrix products are loops here, not BLAS calls, so they add in another
order: the results agree with the NumPy fold to rounding (``tests/test_fast.py`` holds them to
``2e-4`` relative in float32 and ``1e-10`` in float64 after an epoch), not bitwise. The loops are
meant for small networks, where the NumPy fold's time is Python and call overhead (16-16-16-10 at
batch 32: a few µs a step); on wide layers BLAS is faster and the NumPy fold is the one to use.

**What stays the same.** The permutation (from the state's key and step), the losses (one per
step, measured before its update), the returned state (params read-only in a buffer of the epoch's
own, ``AdamState`` moments), and a non-finite loss raising ``NonFiniteError`` with the last state
of finite params attached (the kernel keeps two states, as the fold's two slots do).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np

from fnn import tree
from fnn.errors import ConfigError
from fnn.layers import Activation, DenseParams

__all__ = ["run", "unsupported"]


@cache
def _kernel() -> Callable:
    try:
        import numba
    except ImportError as error:
        raise ConfigError('train_epoch(compiled=True) needs numba: pip install "fnn[fast]"') from error

    @numba.njit(error_model="numpy", nogil=True, cache=True)
    def epoch(x, y, order, batch, stop, acts, deltas, Ws, Bs, GWs, GBs, P, M, V, G, hp, losses):  # pragma: no cover
        # acts[l], deltas[l]: (batch, width l) buffers; Ws[s][l], Bs[s][l]: layer l's weights and bias as views
        # of slot s of P (the params); M, V: the Adam moments; slot s holds the state before the step, 1 - s
        # the one after. GWs, GBs: views of the gradient G. hp: lr, b1, b2, eps, count, flush period, has bias.
        layers = len(acts) - 1
        lr, b1, b2, eps, count0, flush_every, has_bias = hp[0], hp[1], hp[2], hp[3], int(hp[4]), int(hp[5]), hp[6] > 0
        sc = np.empty(8, P.dtype)  # per-step scalars in the params' dtype, rounded as NumPy rounds a Python float
        sc[6] = 0.0
        sc[7] = np.finfo(P.dtype).tiny
        zero, tiny = sc[6], sc[7]
        n_params = P.shape[1]
        d0 = x.shape[1]
        step = 0
        for start in range(0, stop, batch):
            s = step % 2
            m = min(batch, stop - start)
            h0 = acts[0]
            for r in range(m):
                row = order[start + r]
                for c in range(d0):
                    h0[r, c] = x[row, c]
            for layer in range(layers):  # forward: h @ w (+ b), relu below the top
                h, out, w, bias = acts[layer], acts[layer + 1], Ws[s][layer], Bs[s][layer]
                a, b = w.shape
                for r in range(m):
                    o = out[r]
                    for j in range(b):
                        o[j] = zero
                    hr = h[r]
                    for i in range(a):
                        hv = hr[i]
                        wr = w[i]
                        for j in range(b):
                            o[j] += hv * wr[j]
                    if has_bias:
                        for j in range(b):
                            o[j] += bias[j]
                    if layer < layers - 1:
                        for j in range(b):
                            v = o[j]
                            if not (v > zero or v != v):
                                o[j] = zero
            z, dz = acts[layers], deltas[layers]  # softmax cross-entropy: loss, (softmax - onehot) / m
            k = z.shape[1]
            total = 0.0
            for r in range(m):
                zr, dr = z[r], dz[r]
                zmax = zr[0]
                for j in range(1, k):
                    if zr[j] > zmax or zr[j] != zr[j]:
                        zmax = zr[j]
                ssum = zero
                for j in range(k):
                    e = np.exp(zr[j] - zmax)
                    dr[j] = e
                    ssum += e
                label = y[order[start + r]]
                total += np.log(ssum) - (zr[label] - zmax)
                ssum *= m
                for j in range(k):
                    dr[j] /= ssum
                dr[label] -= 1.0 / m
            loss = total / m
            losses[step] = loss
            if not np.isfinite(loss):
                return step
            for layer in range(layers - 1, -1, -1):  # backward
                h, d, w, gw, gb = acts[layer], deltas[layer + 1], Ws[s][layer], GWs[layer], GBs[layer]
                a, b = w.shape
                gw[:, :] = zero
                gb[:] = zero
                for r in range(m):
                    hr, dr = h[r], d[r]
                    for i in range(a):
                        hv = hr[i]
                        g = gw[i]
                        for j in range(b):
                            g[j] += hv * dr[j]
                    if has_bias:
                        for j in range(b):
                            gb[j] += dr[j]
                if layer > 0:
                    dprev = deltas[layer]
                    for r in range(m):
                        hr, dr, pr = h[r], d[r], dprev[r]
                        for i in range(a):
                            if hr[i] > zero:
                                wr = w[i]
                                acc = zero
                                for j in range(b):
                                    acc += dr[j] * wr[j]
                                pr[i] = acc
                            else:
                                pr[i] = zero
            t = count0 + step + 1  # Adam, fnn.optim.adam's rule and order of operations, into the other slot
            sqrt_bc2 = np.sqrt(1.0 - b2**t)
            sc[0], sc[1], sc[2], sc[3] = b1, 1.0 - b1, b2, 1.0 - b2
            sc[4], sc[5] = eps * sqrt_bc2, -(lr * sqrt_bc2 / (1.0 - b1**t))
            cb1, cc1, cb2, cc2, ce, ca = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5]
            p, mu, nu, po, muo, nuo = P[s], M[s], V[s], P[1 - s], M[1 - s], V[1 - s]
            for i in range(n_params):
                gi = G[i]
                mv = cb1 * mu[i] + cc1 * gi
                vv = cb2 * nu[i] + gi * gi * cc2
                muo[i] = mv
                nuo[i] = vv
                po[i] = mv / (np.sqrt(vv) + ce) * ca + p[i]
            if flush_every > 0 and t % flush_every == 0:
                for i in range(n_params):
                    if abs(muo[i]) < tiny:
                        muo[i] = zero
                    if abs(nuo[i]) < tiny:
                        nuo[i] = zero
            step += 1
        return step

    return epoch


def unsupported(state: Any, problem: Any) -> str | None:
    """Why the compiled epoch cannot run this problem, or None when it can."""
    from fnn.losses import CrossEntropy
    from fnn.optim.adam import Adam

    params, opt = state.params, state.optimizer
    if getattr(params, "members", None) is not None:
        return "a stack of networks"
    if not isinstance(opt, Adam) or opt.amsgrad or opt.weight_decay or not isinstance(opt.lr, float):
        return (
            f"the optimizer {type(opt).__name__} (only fnn.optim.adam with a constant float lr, no AMSGrad or "
            "weight decay)"
        )
    loss = problem.loss
    if type(loss) is not CrossEntropy or loss.from_logits or loss.label_smoothing:
        return f"the loss {getattr(loss, 'name', loss)!r} (only 'cross_entropy' after a softmax)"
    if problem.l2 or problem.weights is not None or problem.dropout:
        return "l2, sample or class weights, or layers that draw random numbers"
    y = problem.y
    if y.ndim != 1 or y.dtype.kind not in "iu":
        return "targets other than integer labels (n,)"
    layers = params.layers
    dense = layers[0::2]
    acts = layers[1::2]
    if len(layers) % 2 or not all(type(d) is DenseParams and d.w.ndim == 2 for d in dense):
        return "layers other than Dense + Activation pairs"
    names = [a.name if type(a) is Activation else None for a in acts]
    if names[-1] != "softmax" or any(n != "relu" for n in names[:-1]):
        return "activations other than relu (hidden) and softmax (output)"
    if len({d.b is None for d in dense}) > 1:
        return "some Dense layers with a bias and some without"
    if problem.x.ndim != 2 or params.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        return "samples that are not flat rows, or params neither float32 nor float64"
    return None


def run(state: Any, problem: Any, order: np.ndarray, stop: int, batch_size: int) -> tuple[int, tuple, np.ndarray]:
    """Run the compiled epoch over ``order[:stop]`` in batches of ``batch_size`` from ``state``.

    Returns ``(done, (P, M, V), losses)``: the steps done (fewer than planned when a loss was not
    finite: ``losses[done]`` is that loss), the read-only (2, n) params and Adam moments, the state
    after ``j`` steps being in slot ``j % 2``, and the per-step losses (float64). ``ConfigError`` for
    what it does not support (see :func:`unsupported`).
    """
    why = unsupported(state, problem)
    if why is not None:
        raise ConfigError(
            f"train_epoch(compiled=True) does not support {why}; drop compiled=True to run the NumPy fold"
        )
    from fnn.optim.adam import FLUSH_EVERY

    params, opt = state.params, state.optimizer
    flat, unravel = tree.ravel(params)
    n, dtype = flat.size, flat.dtype
    P, M, V = np.empty((2, n), dtype), np.empty((2, n), dtype), np.empty((2, n), dtype)
    P[0], M[0], V[0] = flat, state.opt_state.mu, state.opt_state.nu
    dense = params.layers[0::2]
    widths = [dense[0].w.shape[0]] + [d.w.shape[1] for d in dense]
    views = [unravel(P[0]).layers[0::2], unravel(P[1]).layers[0::2]]
    G = np.empty(n, dtype)
    gviews = unravel(G).layers[0::2]
    has_bias = dense[0].b is not None
    spare = [np.zeros(w, dtype) for w in widths[1:]]  # stand-ins for absent biases (never read)
    Ws = tuple(tuple(d.w for d in v) for v in views)
    Bs = tuple(tuple(d.b if has_bias else z for d, z in zip(v, spare, strict=True)) for v in views)
    GWs = tuple(d.w for d in gviews)
    GBs = tuple(d.b if has_bias else np.zeros(w, dtype) for d, w in zip(gviews, widths[1:], strict=True))
    losses = np.empty(-(-stop // batch_size), np.float64)
    hp = np.array(
        [
            opt.lr,
            opt.b1,
            opt.b2,
            opt.eps,
            state.opt_state.count,
            FLUSH_EVERY if opt.flush_subnormals else 0,
            float(has_bias),
        ],
        np.float64,
    )
    x = problem.x if problem.x.flags.c_contiguous else np.ascontiguousarray(problem.x)
    acts = tuple(np.empty((batch_size, w), dtype) for w in widths)
    deltas = tuple(np.empty((batch_size, w), dtype) for w in widths)
    done = _kernel()(x, problem.y, order, batch_size, stop, acts, deltas, Ws, Bs, GWs, GBs, P, M, V, G, hp, losses)
    for a in (P, M, V):
        a.flags.writeable = False
    return done, (P, M, V), losses
