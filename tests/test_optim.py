"""Laws of the optimizers in fnn.optim, swept over the registry.

Each optimizer's trajectory equals an independent, per-element reference written
here from the torch.optim documentation's pseudo-code; the flat update equals the
leaf-by-leaf update; update is pure; float32 stays float32; every optimizer
descends a convex quadratic; bad hyperparameters are ConfigErrors naming the thing.
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fnn.optim as optim
import fnn.tree
from fnn.errors import ConfigError, DtypeError, ShapeError

NAMES = sorted(optim.OPTIMIZERS)
STEPS = 50
RTOL = 1e-10  # reference vs implementation: the same formula, rounded in a different order
ATOL = 1e-12  # for entries that pass through zero
strict = np.errstate(over="raise", divide="raise", invalid="raise")  # underflow is fine
TRAJECTORIES = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LAWS = settings(max_examples=25, deadline=None)


# ---------------------------------------------------------------- test problems


def quadratic(seed: int, n: int, dtype=np.float64):
    """A random strictly convex quadratic 0.5 p'Ap - b'p: (p0, grad_fn, loss_fn)."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    a = (m @ m.T / n + 0.1 * np.eye(n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    p0 = rng.standard_normal(n).astype(dtype)

    def grad_fn(p):
        return a @ p - b

    def loss_fn(p):
        p = p.astype(np.float64)
        return float(0.5 * p @ a.astype(np.float64) @ p - b.astype(np.float64) @ p)

    return p0, grad_fn, loss_fn


def run(opt, p0, grad_fn, steps):
    """The trajectory p_1..p_steps (rows) and the final state."""
    p, state = p0, opt.init(p0)
    out = []
    for _ in range(steps):
        p, state = opt.update(p, grad_fn(p), state)
        out.append(p)
    return np.array(out), state


def read_only(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------- references
# Plain per-element Python, straight from the pseudo-code in the torch.optim docs.
# Each factory returns step(t, p, g) -> new p for lists of floats, t = 1, 2, ...


def ref_sgd(lr, weight_decay=0.0):
    def step(t, p, g):
        return [p[i] - lr * (g[i] + weight_decay * p[i]) for i in range(len(p))]

    return step


def ref_momentum(lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    b = {}

    def step(t, p, g):
        new = []
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            b[i] = gi if t == 1 else momentum * b[i] + gi
            gi = gi + momentum * b[i] if nesterov else b[i]
            new.append(p[i] - lr * gi)
        return new

    return step


def ref_nesterov(lr, momentum=0.9, weight_decay=0.0):
    return ref_momentum(lr, momentum, weight_decay, nesterov=True)


def ref_adagrad(lr=0.01, eps=1e-10, weight_decay=0.0):
    s = {}

    def step(t, p, g):
        new = []
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            s[i] = s.get(i, 0.0) + gi * gi
            new.append(p[i] - lr * gi / (math.sqrt(s[i]) + eps))
        return new

    return step


def ref_rmsprop(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, weight_decay=0.0):
    v, g_ave, b = {}, {}, {}

    def step(t, p, g):
        new = []
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            v[i] = alpha * v.get(i, 0.0) + (1 - alpha) * gi * gi
            vt = v[i]
            if centered:
                g_ave[i] = g_ave.get(i, 0.0) * alpha + (1 - alpha) * gi
                vt = vt - g_ave[i] ** 2
            if momentum > 0:
                b[i] = momentum * b.get(i, 0.0) + gi / (math.sqrt(vt) + eps)
                new.append(p[i] - lr * b[i])
            else:
                new.append(p[i] - lr * gi / (math.sqrt(vt) + eps))
        return new

    return step


def ref_adadelta(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    v, u = {}, {}

    def step(t, p, g):
        new = []
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            v[i] = v.get(i, 0.0) * rho + gi * gi * (1 - rho)
            dx = math.sqrt(u.get(i, 0.0) + eps) / math.sqrt(v[i] + eps) * gi
            u[i] = u.get(i, 0.0) * rho + dx * dx * (1 - rho)
            new.append(p[i] - lr * dx)
        return new

    return step


def ref_adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False, weight_decay=0.0, decoupled=False):
    m, v, v_max = {}, {}, {}

    def step(t, p, g):
        new = []
        for i in range(len(p)):
            pi, gi = p[i], g[i]
            if decoupled:
                pi = pi - lr * weight_decay * pi
            else:
                gi = gi + weight_decay * pi
            m[i] = b1 * m.get(i, 0.0) + (1 - b1) * gi
            v[i] = b2 * v.get(i, 0.0) + (1 - b2) * gi * gi
            m_hat = m[i] / (1 - b1**t)
            if amsgrad:  # torch keeps the max of the raw second moment
                v_max[i] = max(v_max.get(i, 0.0), v[i])
                v_hat = v_max[i] / (1 - b2**t)
            else:
                v_hat = v[i] / (1 - b2**t)
            new.append(pi - lr * m_hat / (math.sqrt(v_hat) + eps))
        return new

    return step


def ref_adamw(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False):
    return ref_adam(lr, b1, b2, eps, amsgrad, weight_decay, decoupled=True)


def ref_adamax(lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0):
    m, u = {}, {}

    def step(t, p, g):
        new = []
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            m[i] = b1 * m.get(i, 0.0) + (1 - b1) * gi
            u[i] = max(b2 * u.get(i, 0.0), abs(gi) + eps)
            new.append(p[i] - lr * m[i] / ((1 - b1**t) * u[i]))
        return new

    return step


def ref_nadam(lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, momentum_decay=4e-3, weight_decay=0.0):
    m, v = {}, {}

    def mu(k):
        return b1 * (1 - 0.5 * 0.96 ** (k * momentum_decay))

    def step(t, p, g):
        prod_t = math.prod(mu(k) for k in range(1, t + 1))
        prod_t1 = prod_t * mu(t + 1)
        new = []
        for i in range(len(p)):
            gi = g[i] + weight_decay * p[i]
            m[i] = b1 * m.get(i, 0.0) + (1 - b1) * gi
            v[i] = b2 * v.get(i, 0.0) + (1 - b2) * gi * gi
            m_hat = mu(t + 1) * m[i] / (1 - prod_t1) + (1 - mu(t)) * gi / (1 - prod_t)
            v_hat = v[i] / (1 - b2**t)
            new.append(p[i] - lr * m_hat / (math.sqrt(v_hat) + eps))
        return new

    return step


REFERENCES = {
    "sgd": ref_sgd,
    "momentum": ref_momentum,
    "nesterov": ref_nesterov,
    "adagrad": ref_adagrad,
    "rmsprop": ref_rmsprop,
    "adadelta": ref_adadelta,
    "adam": ref_adam,
    "adamw": ref_adamw,
    "adamax": ref_adamax,
    "nadam": ref_nadam,
}


def run_side_by_side(opt, step, p0, grad_fn, steps):
    """Trajectories of ``opt`` and of the reference ``step``, both fed the gradient at the
    reference's params.

    The gradient depends on the params, but feeding both the same one keeps the loss
    surface from amplifying a rounding difference: Adam with b1 = 0 is sign-like near
    the optimum and turns a 1e-16 difference into 1e-8 within 50 steps.
    """
    p, state = p0, opt.init(p0)
    ref = [float(x) for x in p0]
    got, want = [], []
    for t in range(1, steps + 1):
        g = grad_fn(np.array(ref))
        p, state = opt.update(p, g, state)
        ref = step(t, ref, [float(x) for x in g])
        got.append(p)
        want.append(ref)
    return np.array(got), np.array(want), state


# ---------------------------------------------------------------- hyperparameters

lr = st.floats(1e-4, 0.1)
unit = st.floats(0.0, 0.99)
beta2 = st.floats(0.5, 0.9999)
eps = st.floats(1e-10, 1e-4)
wd = st.one_of(st.just(0.0), st.floats(1e-4, 0.1))

HYPER = {
    "sgd": st.fixed_dictionaries({"lr": lr, "weight_decay": wd}),
    "momentum": st.fixed_dictionaries({"lr": lr, "momentum": unit, "weight_decay": wd}),
    "nesterov": st.fixed_dictionaries({"lr": lr, "momentum": unit, "weight_decay": wd}),
    "adagrad": st.fixed_dictionaries({"lr": lr, "eps": eps, "weight_decay": wd}),
    # alpha >= 0.5: centered with alpha = 0 divides g by eps (v - a**2 = g**2 - g**2 = 0), a valid but useless setting
    "rmsprop": st.fixed_dictionaries(
        {
            "lr": lr,
            "alpha": st.floats(0.5, 0.999),
            "eps": eps,
            "momentum": unit,
            "centered": st.booleans(),
            "weight_decay": wd,
        }
    ),
    "adadelta": st.fixed_dictionaries(
        {"lr": st.floats(0.1, 1.0), "rho": st.floats(0.0, 1.0), "eps": st.floats(1e-8, 1e-4), "weight_decay": wd}
    ),
    "adam": st.fixed_dictionaries(
        {"lr": lr, "b1": unit, "b2": beta2, "eps": eps, "amsgrad": st.booleans(), "weight_decay": wd}
    ),
    "adamw": st.fixed_dictionaries(
        {"lr": lr, "b1": unit, "b2": beta2, "eps": eps, "weight_decay": st.floats(0.0, 0.5), "amsgrad": st.booleans()}
    ),
    "adamax": st.fixed_dictionaries({"lr": lr, "b1": unit, "b2": beta2, "eps": eps, "weight_decay": wd}),
    "nadam": st.fixed_dictionaries(
        {"lr": lr, "b1": unit, "b2": beta2, "eps": eps, "momentum_decay": st.floats(0.0, 0.01), "weight_decay": wd}
    ),
}

# A typical setting per optimizer, for the laws that are not about hyperparameters.
TYPICAL = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.05, "momentum": 0.9},
    "nesterov": {"lr": 0.05, "momentum": 0.9},
    "adagrad": {"lr": 0.1},
    "rmsprop": {"lr": 0.01},
    "adadelta": {"lr": 1.0},
    "adam": {"lr": 0.01},
    "adamw": {"lr": 0.01},
    "adamax": {"lr": 0.02},
    "nadam": {"lr": 0.02},
}

# Settings that exercise every buffer and branch, for purity and dtype laws.
FULL = {
    "sgd": {"lr": 0.1, "weight_decay": 0.01},
    "momentum": {"lr": 0.05, "weight_decay": 0.01},
    "nesterov": {"lr": 0.05, "weight_decay": 0.01},
    "adagrad": {"lr": 0.1, "weight_decay": 0.01},
    "rmsprop": {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
    "adadelta": {"weight_decay": 0.01},
    "adam": {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01},
    "adamw": {"lr": 0.01, "amsgrad": True},
    "adamax": {"lr": 0.02, "weight_decay": 0.01},
    "nadam": {"lr": 0.02, "weight_decay": 0.01},
}


def test_the_registry_is_complete_and_swept():
    assert set(NAMES) == set(REFERENCES) == set(HYPER) == set(TYPICAL) == set(FULL)
    assert NAMES == sorted(
        ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamax", "nadam", "adamw"]
    )


# ---------------------------------------------------------------- trajectories


@pytest.mark.parametrize("name", NAMES)
@TRAJECTORIES
@given(data=st.data(), n=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
@strict
def test_trajectory_equals_the_published_rule(name, data, n, seed):
    hyper = data.draw(HYPER[name], label="hyper")
    p0, grad_fn, _ = quadratic(seed, n)
    got, want, state = run_side_by_side(optim.OPTIMIZERS[name](**hyper), REFERENCES[name](**hyper), p0, grad_fn, STEPS)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert state.count == STEPS and type(state.count) is int


@pytest.mark.parametrize("name", NAMES)
@LAWS
@given(n=st.integers(2, 40), seed=st.integers(0, 2**32 - 1), data=st.data())
@strict
def test_flat_update_equals_leaf_by_leaf(name, n, seed, data):
    """Every built-in is elementwise: splitting the vector into leaves changes no bit."""
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=4), label="cuts"))
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n)
    target = rng.standard_normal(n)
    opt = optim.OPTIMIZERS[name](**FULL[name])
    flat_p, flat_s = p, opt.init(p)
    leaves = np.split(p, cuts)
    leaf_states = [opt.init(leaf) for leaf in leaves]
    for _ in range(5):
        noise = rng.standard_normal(n)
        flat_p, flat_s = opt.update(flat_p, (flat_p - target) + noise, flat_s)
        gs = np.split(noise, cuts)
        ts = np.split(target, cuts)
        stepped = [
            opt.update(leaf, (leaf - t) + g, s) for leaf, t, g, s in zip(leaves, ts, gs, leaf_states, strict=True)
        ]
        leaves = [new for new, _ in stepped]
        leaf_states = [s for _, s in stepped]
    np.testing.assert_array_equal(flat_p, np.concatenate(leaves))
    for flat_leaf, *parts in zip(fnn.tree.leaves(flat_s), *(fnn.tree.leaves(s) for s in leaf_states), strict=True):
        if isinstance(flat_leaf, np.ndarray):
            np.testing.assert_array_equal(flat_leaf, np.concatenate(parts))
        else:
            assert all(part == flat_leaf for part in parts)


# ---------------------------------------------------------------- purity


def _snapshot(*trees):
    return [leaf.tobytes() if isinstance(leaf, np.ndarray) else leaf for t in trees for leaf in fnn.tree.leaves(t)]


def _warm_state(opt, p, rng, steps=3):
    state = opt.init(p)
    for _ in range(steps):
        p, state = opt.update(p, rng.standard_normal(p.size), state)
    return p, state


@pytest.mark.parametrize("writeable", [False, True], ids=["read-only", "writeable"])
@pytest.mark.parametrize("name", NAMES)
@strict
def test_update_is_pure(name, writeable):
    rng = np.random.default_rng(1)
    opt = optim.OPTIMIZERS[name](**FULL[name])
    p, state = _warm_state(opt, rng.standard_normal(17), rng)
    freeze = read_only if not writeable else (lambda a: np.array(a, copy=True))
    old, grad = freeze(p), freeze(rng.standard_normal(17))
    state = fnn.tree.map(lambda x: freeze(x) if isinstance(x, np.ndarray) else x, state)
    before = _snapshot(old, grad, state)
    first = opt.update(old, grad, state)
    second = opt.update(old, grad, state)
    assert _snapshot(old, grad, state) == before
    fnn.tree.assert_equal(first, second)  # same inputs, bitwise-same outputs
    new, new_state = first
    for leaf in [new, *fnn.tree.leaves(new_state)]:
        if isinstance(leaf, np.ndarray):  # nothing returned shares memory with an input
            assert not any(
                np.shares_memory(leaf, x) for x in [old, grad, *fnn.tree.leaves(state)] if isinstance(x, np.ndarray)
            )


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_is_frozen_hashable_and_compares_by_value(name):
    opt = optim.OPTIMIZERS[name](**TYPICAL[name])
    assert opt == optim.OPTIMIZERS[name](**TYPICAL[name])
    assert hash(opt) == hash(optim.OPTIMIZERS[name](**TYPICAL[name]))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        opt.lr = 1.0


def test_momentum_and_nesterov_are_different_optimizers():
    assert optim.momentum(0.1) != optim.nesterov(0.1)
    assert isinstance(optim.nesterov(0.1), optim.Nesterov) and optim.nesterov(0.1).init(np.zeros(1)).count == 0


@pytest.mark.parametrize("name", NAMES)
def test_state_is_a_named_registered_pytree(name):
    opt = optim.OPTIMIZERS[name](**FULL[name])
    state = opt.init(np.zeros(3))
    assert fnn.tree.is_registered(type(state))
    assert type(state).__name__.endswith("State")
    assert state.count == 0
    fnn.tree.assert_equal(fnn.tree.structure(state).unflatten(fnn.tree.leaves(state)), state)


# ---------------------------------------------------------------- dtype


@pytest.mark.parametrize("schedule", [False, True], ids=["float-lr", "schedule-lr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
@strict
def test_dtype_is_kept_for_params_and_every_state_array(name, dtype, schedule):
    hyper = dict(FULL[name])
    if schedule:
        hyper["lr"] = optim.schedules.exponential_decay(hyper.get("lr", 1.0), 0.9)
    opt = optim.OPTIMIZERS[name](**hyper)
    rng = np.random.default_rng(2)
    p = read_only(rng.standard_normal(11).astype(dtype))
    state = opt.init(p)
    for _ in range(4):
        p, state = opt.update(p, rng.standard_normal(11).astype(dtype), state)
        assert p.dtype == dtype
        arrays = [leaf for leaf in fnn.tree.leaves(state) if isinstance(leaf, np.ndarray)]
        assert arrays or name == "sgd"
        assert all(a.dtype == dtype for a in arrays)
        assert all(
            not isinstance(leaf, np.generic) for leaf in fnn.tree.leaves(state)
        )  # counts etc. are Python scalars
    assert type(state.count) is int


@pytest.mark.parametrize("name", NAMES)
def test_float32_trajectory_follows_float64(name):
    p0, grad_fn, _ = quadratic(3, 20)
    opt = optim.OPTIMIZERS[name](**TYPICAL[name])
    want, _ = run(opt, p0, grad_fn, 20)
    p32, grad32, _ = quadratic(3, 20, np.float32)
    got, _ = run(opt, p32, grad32, 20)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- behaviour


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
@strict
def test_every_optimizer_descends_a_convex_quadratic(name, dtype):
    p0, grad_fn, loss = quadratic(4, 30, dtype)
    traj, _ = run(optim.OPTIMIZERS[name](**TYPICAL[name]), p0, grad_fn, 200)
    assert np.isfinite(traj).all()
    assert loss(traj[-1]) < loss(p0) - 1e-3 * abs(loss(p0))
    if name != "adadelta":  # adadelta's steps start at sqrt(eps): it barely moves in 200 steps
        best = loss(np.linalg.solve(*_normal_equations(4, 30)))
        assert loss(traj[-1]) - best < 0.5 * (loss(p0) - best)


def _normal_equations(seed, n):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    return m @ m.T / n + 0.1 * np.eye(n), rng.standard_normal(n)


@pytest.mark.parametrize("name", NAMES)
@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20))
@strict
def test_zero_lr_leaves_params_unchanged(name, seed, n):
    hyper = dict(FULL[name], lr=0.0)
    p0, grad_fn, _ = quadratic(seed, n)
    traj, _ = run(optim.OPTIMIZERS[name](**hyper), p0, grad_fn, 10)
    np.testing.assert_array_equal(traj, np.broadcast_to(p0, traj.shape))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
@strict
def test_zero_gradient_from_rest_leaves_params_unchanged(name, dtype):
    """Zero gradients with zero state divide 0 by eps, never 0 by 0."""
    p = np.linspace(-1, 1, 7).astype(dtype)
    hyper = dict(TYPICAL[name], weight_decay=0.0) if name == "adamw" else TYPICAL[name]
    traj, _ = run(optim.OPTIMIZERS[name](**hyper), p, np.zeros_like, 5)
    np.testing.assert_array_equal(traj, np.broadcast_to(p, traj.shape))


@pytest.mark.parametrize("name", NAMES)
@strict
def test_large_float32_gradients_do_not_overflow(name):
    """Gradients of 1e15 (squares 1e30, near float32's limit of 3e38) still give finite steps."""
    p = np.ones(5, np.float32)
    g = np.full(5, 1e15, np.float32) * np.array([1, -1, 1, -1, 1], np.float32)
    hyper = dict(TYPICAL[name], lr=1e-20) if name in ("sgd", "momentum", "nesterov") else TYPICAL[name]
    traj, _ = run(optim.OPTIMIZERS[name](**hyper), p, lambda _: g, 5)
    assert np.isfinite(traj).all() and traj.dtype == np.float32


# ---------------------------------------------------------------- schedules as lr


@pytest.mark.parametrize("name", NAMES)
@strict
def test_schedule_lr_equals_constant_lr_swapped_in_each_step(name):
    """lr(count) is used for the update after count updates; swapping the lr with
    attrs.evolve between steps gives the same bits (the state does not depend on lr)."""
    schedule = optim.schedules.warmup_cosine_decay(0.001, 0.05, 3, 12, end_value=0.001)
    opt = optim.OPTIMIZERS[name](**dict(FULL[name], lr=schedule))
    rng = np.random.default_rng(5)
    p = q = rng.standard_normal(9)
    s = r = opt.init(p)
    for k in range(15):
        g = rng.standard_normal(9)
        p, s = opt.update(p, g, s)
        q, r = attrs.evolve(opt, lr=schedule(k)).update(q, g, r)
        fnn.tree.assert_equal((p, s), (q, r))


@pytest.mark.parametrize("name", NAMES)
def test_schedule_is_called_with_the_count_of_updates_already_applied(name):
    seen = []

    def recording(count):
        seen.append(count)
        return 0.01

    opt = optim.OPTIMIZERS[name](**dict(FULL[name], lr=recording))
    p = np.ones(3)
    state = opt.init(p)
    for _ in range(4):
        p, state = opt.update(p, np.ones(3), state)
    assert seen == [0, 1, 2, 3]


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "fast", None])
@pytest.mark.parametrize("name", NAMES)
def test_a_schedule_returning_a_bad_rate_is_a_config_error(name, bad):
    opt = optim.OPTIMIZERS[name](**dict(FULL[name], lr=lambda count: 0.1 if count < 2 else bad))
    p = np.ones(3)
    state = opt.init(p)
    for _ in range(2):
        p, state = opt.update(p, np.ones(3), state)
    with pytest.raises(ConfigError, match=rf"{name}: the lr schedule .* returned {re_repr(bad)} at count 2"):
        opt.update(p, np.ones(3), state)


def re_repr(x):
    import re

    return re.escape(repr(x))


# ---------------------------------------------------------------- bad input


BAD_HYPER = [
    ("sgd", {"lr": -0.1}, "lr", ">= 0", "-0.1"),
    ("sgd", {"lr": math.nan}, "lr", ">= 0", "nan"),
    ("sgd", {"lr": "0.1"}, "lr", ">= 0", "'0.1'"),
    ("sgd", {"lr": 0.1, "weight_decay": -1.0}, "weight_decay", ">= 0", "-1.0"),
    ("momentum", {"lr": 0.1, "momentum": 1.0}, "momentum", "[0, 1)", "1.0"),
    ("nesterov", {"lr": 0.1, "momentum": -0.5}, "momentum", "[0, 1)", "-0.5"),
    ("adagrad", {"eps": 0.0}, "eps", "> 0", "0.0"),
    ("adagrad", {"lr": math.inf}, "lr", ">= 0", "inf"),
    ("rmsprop", {"alpha": 1.5}, "alpha", "[0, 1)", "1.5"),
    ("rmsprop", {"momentum": 1.0}, "momentum", "[0, 1)", "1.0"),
    ("rmsprop", {"centered": "yes"}, "centered", "True or False", "'yes'"),
    ("adadelta", {"rho": 1.1}, "rho", "[0, 1]", "1.1"),
    ("adadelta", {"eps": -1e-6}, "eps", "> 0", "-1e-06"),
    ("adam", {"b1": 1.0}, "b1", "[0, 1)", "1.0"),
    ("adam", {"b1": -0.1}, "b1", "[0, 1)", "-0.1"),
    ("adam", {"b2": 1.0}, "b2", "[0, 1)", "1.0"),
    ("adam", {"eps": 0.0}, "eps", "> 0", "0.0"),
    ("adam", {"amsgrad": 1}, "amsgrad", "True or False", "1"),
    ("adam", {"weight_decay": -0.01}, "weight_decay", ">= 0", "-0.01"),
    ("adamw", {"weight_decay": -0.01}, "weight_decay", ">= 0", "-0.01"),
    ("adamw", {"b2": 2.0}, "b2", "[0, 1)", "2.0"),
    ("adamax", {"b2": -0.5}, "b2", "[0, 1)", "-0.5"),
    ("adamax", {"lr": -2e-3}, "lr", ">= 0", "-0.002"),
    ("nadam", {"momentum_decay": -1.0}, "momentum_decay", ">= 0", "-1.0"),
    ("nadam", {"b1": True}, "b1", "[0, 1)", "True"),
]


@pytest.mark.parametrize(("name", "hyper", "arg", "expected", "given_"), BAD_HYPER)
def test_bad_hyperparameters_are_config_errors_naming_everything(name, hyper, arg, expected, given_):
    with pytest.raises(ConfigError) as info:
        optim.OPTIMIZERS[name](**hyper)
    message = str(info.value)
    assert message.startswith(f"{name}: {arg} ")
    assert expected in message and message.endswith(f"got {given_}")


def test_every_optimizer_validates_after_evolve_too():
    with pytest.raises(ConfigError, match="adam: b1"):
        attrs.evolve(optim.adam(), b1=1.5)


@pytest.mark.parametrize("name", NAMES)
def test_a_misspelt_hyperparameter_fails(name):
    with pytest.raises(TypeError):
        optim.OPTIMIZERS[name](**TYPICAL[name], learning_rate=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_init_rejects_what_is_not_a_flat_float_vector(name):
    opt = optim.OPTIMIZERS[name](**TYPICAL[name])
    with pytest.raises(ShapeError, match=f"{name}.init expects a 1-D array"):
        opt.init(np.zeros((2, 2)))
    with pytest.raises(DtypeError, match="floating-point"):
        opt.init(np.zeros(3, np.int64))
    with pytest.raises(DtypeError, match="numpy array"):
        opt.init([1.0, 2.0])


@pytest.mark.parametrize("name", NAMES)
def test_update_rejects_mismatched_grad(name):
    opt = optim.OPTIMIZERS[name](**TYPICAL[name])
    p = np.zeros(3, np.float32)
    state = opt.init(p)
    with pytest.raises(DtypeError, match="float32 and float64"):
        opt.update(p, np.zeros(3), state)  # no silent upcast, no silent downcast
    with pytest.raises(ShapeError, match=r"\(3,\) and \(4,\)"):
        opt.update(p, np.zeros(4, np.float32), state)


# ---------------------------------------------------------------- registry


def test_get_builds_by_name():
    assert optim.get("adam", lr=0.01) == optim.adam(lr=0.01)
    assert optim.get("AdamW") == optim.adamw()
    assert optim.get("sgd", lr=0.1, weight_decay=0.5) == optim.sgd(0.1, weight_decay=0.5)
    for name, factory in optim.OPTIMIZERS.items():
        assert optim.get(name, **TYPICAL[name]) == factory(**TYPICAL[name])


def test_get_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        optim.get("adamm")
    assert "'adamm'" in str(info.value)
    assert all(name in str(info.value) for name in NAMES)


def test_get_bad_or_missing_hyperparameter_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"optimizer 'adam': .*'lrr'.*lr=0\.001, b1=0\.9"):
        optim.get("adam", lrr=0.1)
    with pytest.raises(ConfigError, match=r"optimizer 'sgd': .*'lr'"):
        optim.get("sgd")
    with pytest.raises(ConfigError, match="adam: b1"):
        optim.get("adam", b1=2.0)


def test_registry_is_read_only():
    with pytest.raises(TypeError):
        optim.OPTIMIZERS["mine"] = optim.sgd
