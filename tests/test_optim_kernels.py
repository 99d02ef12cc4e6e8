"""Laws of the optimizer kernels: writing into spare buffers changes nothing but where the result
lives, the numba backend (the ``fast`` extra) gives bitwise the NumPy backend's results, and the
NumPy kernel run block by block gives bitwise its whole-vector results."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn.optim as optim
import fnn.tree
from fnn.errors import ConfigError

adam_module = importlib.import_module("fnn.optim.adam")  # the attribute fnn.optim.adam is the function

SPARE_OPTIMIZERS = [name for name, make in sorted(optim.OPTIMIZERS.items()) if getattr(make(0.1), "accepts_spare", False)]


def test_adam_and_adamw_accept_spare_buffers():
    assert SPARE_OPTIMIZERS == ["adam", "adamw"]


def hyper(lr, amsgrad, weight_decay, backend, name):
    return optim.get(name, lr=lr, amsgrad=amsgrad, weight_decay=weight_decay, backend=backend)


vectors = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dt: st.integers(1, 300).flatmap(
        lambda n: st.tuples(*[hnp.arrays(dt, n, elements=st.floats(-1e3, 1e3, width=32)) for _ in range(4)])
    )
)
options = st.fixed_dictionaries({
    "name": st.sampled_from(SPARE_OPTIMIZERS),
    "lr": st.floats(1e-5, 1.0),
    "amsgrad": st.booleans(),
    "weight_decay": st.sampled_from([0.0, 1e-2, 0.5]),
})


def copy(state):
    """A copy of a state's arrays (the count stays a Python int)."""
    return fnn.tree.map(lambda a: a.copy() if isinstance(a, np.ndarray) else a, state)


MODES = ["fresh", "ping_pong", "into_grad"]


def trajectory(opt, p, grads, mode):
    """The params and states after each step. "fresh": new arrays each step. "ping_pong": each step
    writes into the arrays of the state two steps back. "into_grad", as train_epoch does: the new
    params go into the gradient's own array, the moments into those of the state two steps back
    (fresh ones for the first two steps)."""
    out = [(p, opt.init(p))]
    for i, g in enumerate(grads):
        spare = None
        if mode == "ping_pong" and i >= 2:
            spare = (out[-2][0].copy(), copy(out[-2][1]))  # copies stand in for the buffers given up
        if mode == "into_grad":
            g = g.copy()  # a buffer the caller gives up, holding the gradient
            spare = (g, copy(out[-2][1]) if i >= 2 else opt.init(p))
        new, state = opt.update(out[-1][0], g, out[-1][1], spare=spare)
        if spare is not None:
            assert new is spare[0] and state.mu is spare[1].mu and state.nu is spare[1].nu
        out.append((new.copy(), copy(state)))
    return out


@settings(max_examples=60, deadline=None)
@given(vectors, options, st.sampled_from(["numpy", "numba"]), st.sampled_from(MODES[1:]))
def test_writing_into_spare_buffers_gives_bitwise_the_same_trajectory(arrays, o, backend, mode):
    if backend == "numba":
        pytest.importorskip("numba")
    p, *grads = arrays
    opt = hyper(o["lr"], o["amsgrad"], o["weight_decay"], backend, o["name"])
    plain, into = trajectory(opt, p, grads, "fresh"), trajectory(opt, p, grads, mode)
    for (pa, sa), (pb, sb) in zip(plain, into):
        assert pa.tobytes() == pb.tobytes()
        fnn.tree.assert_equal(sa, sb)


@settings(max_examples=60, deadline=None)
@given(vectors, options, st.sampled_from(MODES))
def test_the_numba_backend_equals_the_numpy_backend_bitwise(arrays, o, mode):
    pytest.importorskip("numba")  # the fast extra; installed by the test extra, so CI runs this
    p, *grads = arrays
    slow = hyper(o["lr"], o["amsgrad"], o["weight_decay"], "numpy", o["name"])
    fast = hyper(o["lr"], o["amsgrad"], o["weight_decay"], "numba", o["name"])
    for (pa, sa), (pb, sb) in zip(trajectory(slow, p, grads, mode), trajectory(fast, p, grads, mode)):
        assert pa.dtype == pb.dtype == p.dtype and pa.tobytes() == pb.tobytes()
        fnn.tree.assert_equal(sa, sb)


def test_the_numba_backend_propagates_nan_like_numpy():
    pytest.importorskip("numba")
    p = np.array([1.0, 2.0, 3.0], np.float32)
    g = np.array([np.nan, 1.0, -1.0], np.float32)
    slow, fast = optim.adam(0.1, amsgrad=True), optim.adam(0.1, amsgrad=True, backend="numba")
    a, b = slow.update(p, g, slow.init(p)), fast.update(p, g, fast.init(p))
    assert a[0].tobytes() == b[0].tobytes() and np.isnan(b[0][0]) and np.isnan(b[1].nu_max[0])


def test_an_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match=r"adam: backend must be one of 'numpy', 'numba', got 'cuda'"):
        optim.adam(backend="cuda")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.float32, np.float64]), st.booleans(), st.booleans(),
       st.integers(1, 3 * adam_module._BLOCK + 5))
def test_numpy_adam_block_by_block_is_bitwise_the_whole_vector_kernel(seed, dtype, amsgrad, into_grad, n):
    # the NumPy kernel runs long vectors in cache-sized blocks; every element meets the same operations
    rng = np.random.default_rng(seed)
    p, g, mu = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    nu, nu_max = (rng.random(n).astype(dtype) for _ in range(2))
    scalars = (0.9, 0.999, 1e-8 * rng.random(), -1e-3 * rng.random())

    def run(kernel):
        g_own = g.copy()  # into_grad: the new params are written over the gradient, as train_epoch does
        out = [g_own if into_grad else np.empty(n, dtype), np.empty(n, dtype), np.empty(n, dtype),
               np.empty(n, dtype) if amsgrad else None]
        kernel(p, g_own, mu, nu, nu_max if amsgrad else None, *out, *scalars)
        return [a for a in out if a is not None]

    for blocked, whole in zip(run(adam_module._adam_numpy), run(adam_module._adam_passes), strict=True):
        assert blocked.tobytes() == whole.tobytes()
