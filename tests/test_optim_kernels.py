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

SPARE_OPTIMIZERS = [
    name for name, make in sorted(optim.OPTIMIZERS.items()) if getattr(make(0.1), "accepts_spare", False)
]


def test_adam_and_adamw_accept_spare_buffers():
    assert SPARE_OPTIMIZERS == ["adam", "adamw"]


def hyper(lr, amsgrad, weight_decay, backend, name):
    return optim.get(name, lr=lr, amsgrad=amsgrad, weight_decay=weight_decay, backend=backend)


vectors = st.sampled_from([np.float32, np.float64]).flatmap(
    lambda dt: st.integers(1, 300).flatmap(
        lambda n: st.tuples(*[hnp.arrays(dt, n, elements=st.floats(-1e3, 1e3, width=32)) for _ in range(4)])
    )
)
options = st.fixed_dictionaries(
    {
        "name": st.sampled_from(SPARE_OPTIMIZERS),
        "lr": st.floats(1e-5, 1.0),
        "amsgrad": st.booleans(),
        "weight_decay": st.sampled_from([0.0, 1e-2, 0.5]),
    }
)


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
    for (pa, sa), (pb, sb) in zip(plain, into, strict=True):
        assert pa.tobytes() == pb.tobytes()
        fnn.tree.assert_equal(sa, sb)


@settings(max_examples=60, deadline=None)
@given(vectors, options, st.sampled_from(MODES))
def test_the_numba_backend_equals_the_numpy_backend_bitwise(arrays, o, mode):
    pytest.importorskip("numba")  # the fast extra; installed by the test extra, so CI runs this
    p, *grads = arrays
    slow = hyper(o["lr"], o["amsgrad"], o["weight_decay"], "numpy", o["name"])
    fast = hyper(o["lr"], o["amsgrad"], o["weight_decay"], "numba", o["name"])
    for (pa, sa), (pb, sb) in zip(trajectory(slow, p, grads, mode), trajectory(fast, p, grads, mode), strict=True):
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
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([np.float32, np.float64]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(1, 3 * adam_module._BLOCK + 5),
)
def test_numpy_adam_block_by_block_is_bitwise_the_whole_vector_kernel(seed, dtype, amsgrad, into_grad, flush, n):
    # the NumPy kernel runs long vectors in cache-sized blocks; every element meets the same operations
    rng = np.random.default_rng(seed)
    p, g, mu = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    nu, nu_max = (rng.random(n).astype(dtype) for _ in range(2))
    mu[::7] = np.finfo(dtype).tiny / 3  # subnormal moments, for the flush
    scalars = (0.9, 0.999, 1e-8 * rng.random(), -1e-3 * rng.random(), flush)

    def run(kernel):
        g_own = g.copy()  # into_grad: the new params are written over the gradient, as train_epoch does
        out = [
            g_own if into_grad else np.empty(n, dtype),
            np.empty(n, dtype),
            np.empty(n, dtype),
            np.empty(n, dtype) if amsgrad else None,
        ]
        kernel(p, g_own, mu, nu, nu_max if amsgrad else None, *out, *scalars)
        return [a for a in out if a is not None]

    for blocked, whole in zip(run(adam_module._adam_numpy), run(adam_module._adam_passes), strict=True):
        assert blocked.tobytes() == whole.tobytes()


def moments(dtype, n, nonnegative=False):
    """Arrays of ``n`` moments: normal, subnormal (both signs unless ``nonnegative``), ±0, NaN, inf."""
    tiny = float(np.finfo(dtype).tiny)
    lo = 0.0 if nonnegative else -1.0
    elements = st.one_of(
        st.floats(1e3 * lo, 1e3, width=32),
        st.floats(tiny * lo, tiny, allow_subnormal=True),  # cast to dtype: its subnormals, and some 0s
        st.sampled_from([0.0, np.nan, np.inf] + ([] if nonnegative else [-0.0])),
    )
    return hnp.arrays(dtype, n, elements=elements)


@settings(max_examples=80, deadline=None)
@given(
    st.data(),
    st.sampled_from([np.float32, np.float64]),
    st.integers(1, 40),
    st.one_of(st.sampled_from([15, 31, 47]), st.integers(0, 50)),  # counts whose next update flushes, and any
    st.sampled_from(SPARE_OPTIMIZERS),
    st.booleans(),
    st.sampled_from(["numpy", "numba"]),
)
def test_flushing_subnormal_moments_changes_only_them_and_only_every_16th_update(
    data, dtype, n, count, name, amsgrad, backend
):
    # law: with the flush, an update's params are bitwise those without it; its stored moments too,
    # except on every 16th update (by count), where those below the smallest normal number are +0
    if backend == "numba":
        pytest.importorskip("numba")
    p = data.draw(hnp.arrays(dtype, n, elements=st.floats(-1e3, 1e3, width=32)))
    g = data.draw(moments(dtype, n))
    mu, nu, nu_max = (
        data.draw(moments(dtype, n)),
        data.draw(moments(dtype, n, True)),
        data.draw(moments(dtype, n, True)),
    )
    state = adam_module.AdamState(count, mu, nu, nu_max if amsgrad else None)
    on = optim.get(name, lr=0.01, amsgrad=amsgrad, backend=backend)
    off = optim.get(name, lr=0.01, amsgrad=amsgrad, flush_subnormals=False)  # torch's arithmetic, in NumPy
    assert on.flush_subnormals and not off.flush_subnormals
    with np.errstate(all="ignore"):
        p_on, s_on = on.update(p, g, state)
        p_off, s_off = off.update(p, g, state)
    assert p_on.tobytes() == p_off.tobytes()
    tiny = np.finfo(dtype).tiny
    for a_on, a_off in [(s_on.mu, s_off.mu), (s_on.nu, s_off.nu)]:
        want = np.where(np.abs(a_off) < tiny, dtype(0), a_off) if (count + 1) % 16 == 0 else a_off
        assert a_on.tobytes() == want.tobytes()
    if amsgrad:
        assert s_on.nu_max.tobytes() == s_off.nu_max.tobytes()


def test_flush_keeps_a_decaying_moment_out_of_the_subnormals():
    # a weight whose gradient stops: its first moment decays as 0.9**t and, with the flush, is
    # zero by the first 16th update after it has become subnormal
    opt = optim.adam(1e-3)
    p, state = np.ones(1, np.float32), opt.init(np.ones(1, np.float32))
    p, state = opt.update(p, np.ones(1, np.float32), state)
    tiny, seen = np.finfo(np.float32).tiny, []
    for _ in range(1200):
        p, state = opt.update(p, np.zeros(1, np.float32), state)
        seen.append((state.count, float(state.mu[0])))
    subnormal = [t for t, m in seen if 0 < abs(m) < tiny]
    assert subnormal and len(subnormal) < 16 and all(m == 0 for t, m in seen if t > subnormal[-1])
