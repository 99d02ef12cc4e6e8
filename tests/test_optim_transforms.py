"""Laws of chain, the gradient transforms, decoupled weight decay and from_update:
each combinator equals its manual composition, bit for bit where the arithmetic is
the same and to rounding where it is not (the test says which and why)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn.optim as optim
import fnn.tree
from fnn.errors import ConfigError, DtypeError, ShapeError

NAMES = sorted(optim.OPTIMIZERS)
LAWS = settings(max_examples=25, deadline=None)
ROUNDING = 1e-12  # relative: the same formula with scalars associated differently
strict = np.errstate(over="raise", divide="raise", invalid="raise")

# a setting per optimizer with every buffer in use, but no coupled weight decay
PLAIN = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.05},
    "nesterov": {"lr": 0.05},
    "adagrad": {"lr": 0.1},
    "rmsprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "adadelta": {},
    "adam": {"lr": 0.01, "amsgrad": True},
    "adamw": {"lr": 0.01, "weight_decay": 0.0},
    "adamax": {"lr": 0.02},
    "nadam": {"lr": 0.02},
}


def run(opt, p, grads):
    """Params after each gradient in ``grads``, and the final state."""
    state = opt.init(p)
    out = []
    for g in grads:
        p, state = opt.update(p, g, state)
        out.append(p)
    return np.array(out), state


def gradients(seed, n, steps=20, dtype=np.float64, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n).astype(dtype), [(scale * rng.standard_normal(n)).astype(dtype) for _ in range(steps)]


def read_only(a):
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


# ---------------------------------------------------------------- chain


@pytest.mark.parametrize("name", NAMES)
def test_chain_of_nothing_is_the_optimizer(name):
    opt = optim.OPTIMIZERS[name](**PLAIN[name])
    p, grads = gradients(0, 9)
    got, state = run(optim.chain(opt), p, grads)
    want, inner = run(opt, p, grads)
    np.testing.assert_array_equal(got, want)
    assert isinstance(state, optim.ChainState) and state.transforms == ()
    fnn.tree.assert_equal(state.inner, inner)
    assert state.count == inner.count == len(grads)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "adamw"])
@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), wd=st.floats(0.0, 1.0))
@strict
def test_add_weight_decay_equals_the_coupled_weight_decay_argument(name, seed, n, wd):
    """torch's weight_decay is exactly g + wd * p before the step: the same bits."""
    p, grads = gradients(seed, n)
    chained = optim.chain(optim.add_weight_decay(wd), optim.OPTIMIZERS[name](**PLAIN[name]))
    built_in = optim.OPTIMIZERS[name](**PLAIN[name], weight_decay=wd)
    np.testing.assert_array_equal(run(chained, p, grads)[0], run(built_in, p, grads)[0])


@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), limit=st.floats(0.01, 2.0))
@strict
def test_chain_equals_the_manual_composition(seed, n, limit):
    p, grads = gradients(seed, n, scale=3.0)
    opt = optim.adam(0.05)
    chained = optim.chain(optim.clip_by_value(limit), optim.clip_by_global_norm(2.0), opt)
    got, _ = run(chained, p, grads)
    manual = []
    for g in grads:
        g = np.clip(g, -limit, limit)
        norm = float(np.sqrt(np.sum(g * g)))
        manual.append(g * (2.0 / norm) if norm > 2.0 else g)
    want, _ = run(opt, p, manual)
    np.testing.assert_allclose(got, want, rtol=ROUNDING, atol=ROUNDING * np.abs(want).max())


def test_chain_state_has_names():
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.add_weight_decay(0.1), optim.momentum(0.1))
    state = opt.init(np.zeros(3))
    assert state.transforms == (None, None)
    assert isinstance(state.inner, optim.MomentumState)
    assert fnn.tree.is_registered(optim.ChainState)
    assert opt.lr == 0.1


def test_chain_rejects_misplaced_parts():
    with pytest.raises(ConfigError, match="got nothing"):
        optim.chain()
    with pytest.raises(ConfigError, match="last argument"):
        optim.chain(optim.adam(), optim.clip_by_value(1.0))
    with pytest.raises(ConfigError, match="argument 0 must be a gradient transform"):
        optim.chain(optim.adam(), optim.sgd(0.1))
    with pytest.raises(ConfigError, match="last argument"):
        optim.chain(optim.clip_by_value(1.0), "adam")


def test_chain_accepts_a_wrapped_tutorial_object():
    opt = optim.chain(optim.clip_by_value(1.0), optim.from_update(lambda old, grad: old - 0.5 * grad))
    p = np.array([1.0, 1.0])
    new, state = opt.update(p, np.array([4.0, -0.5]), opt.init(p))
    np.testing.assert_array_equal(new, [0.5, 1.25])
    assert state.count == 1


# ---------------------------------------------------------------- clipping


@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50), max_norm=st.floats(0.01, 10.0), scale=st.floats(1e-3, 1e3))
@strict
def test_clip_by_global_norm_caps_the_norm_and_keeps_the_direction(seed, n, max_norm, scale):
    g = scale * np.random.default_rng(seed).standard_normal(n)
    clipped, state = optim.clip_by_global_norm(max_norm).update(g, None, np.zeros(n))
    norm = np.linalg.norm(g)
    assert state is None
    if norm <= max_norm:
        assert clipped is g  # nothing to do, nothing copied (nothing downstream writes to it)
    else:
        assert np.linalg.norm(clipped) == pytest.approx(max_norm, rel=1e-12)
        np.testing.assert_allclose(clipped, g * (max_norm / norm), rtol=1e-14)


@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), data=st.data())
def test_global_norm_clipping_is_one_factor_for_all_leaves_not_leafwise(seed, n, data):
    """The flat vector is all params at once, so clipping scales every leaf by the same
    global factor. That is what torch's clip_grad_norm_ over all params does; clipping
    leaf by leaf would scale each leaf by its own norm, which is a different map."""
    cut = data.draw(st.integers(1, n - 1))
    g = np.random.default_rng(seed).standard_normal(n)
    g[:cut] *= 100.0 / np.linalg.norm(g[:cut])  # leaf 0 is long (norm 100),
    g[cut:] *= 0.5 / np.linalg.norm(g[cut:])  # leaf 1 short (0.5, under the limit on its own)
    clip = optim.clip_by_global_norm(1.0)
    flat, _ = clip.update(g, None, g)
    factor = 1.0 / np.linalg.norm(g)
    np.testing.assert_allclose(flat, np.concatenate([g[:cut] * factor, g[cut:] * factor]), rtol=1e-14)
    leafwise = np.concatenate([clip.update(part, None, part)[0] for part in (g[:cut], g[cut:])])
    assert not np.allclose(flat, leafwise)


@strict
def test_clip_by_global_norm_float32_huge_and_non_finite():
    g = np.full(8, 1e30, np.float32)  # the squares overflow float32
    clipped, _ = optim.clip_by_global_norm(1.0).update(g, None, g)
    assert clipped.dtype == np.float32
    np.testing.assert_allclose(clipped, np.full(8, 1 / np.sqrt(8)), rtol=1e-6)
    bad = np.array([1.0, np.inf, 2.0], np.float32)
    assert optim.clip_by_global_norm(1.0).update(bad, None, bad)[0] is bad  # surfaces, is not zeroed


@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50), limit=st.floats(1e-3, 5.0), cut=st.integers(0, 50))
@strict
def test_clip_by_value_is_elementwise_and_bounded(seed, n, limit, cut):
    g = 3 * np.random.default_rng(seed).standard_normal(n)
    clip = optim.clip_by_value(limit)
    got, _ = clip.update(g, None, g)
    assert np.all(np.abs(got) <= limit)
    np.testing.assert_array_equal(got, np.clip(g, -limit, limit))
    cut = min(cut, n)
    leafwise = np.concatenate([clip.update(part, None, part)[0] for part in (g[:cut], g[cut:])])
    np.testing.assert_array_equal(got, leafwise)


# ---------------------------------------------------------------- weight decay and masks


@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), wd=st.floats(0.0, 1.0), data=st.data())
@strict
def test_masked_weight_decay_decays_exactly_where_the_mask_says(seed, n, wd, data):
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    rng = np.random.default_rng(seed)
    p, g = rng.standard_normal(n), rng.standard_normal(n)
    got, _ = optim.add_weight_decay(wd, mask=mask).update(g, None, p)
    full, _ = optim.add_weight_decay(wd).update(g, None, p)
    np.testing.assert_array_equal(got, np.where(mask, full, g))
    # the mask is a law of the leaves too: all-True is no mask, all-False no decay
    np.testing.assert_array_equal(optim.add_weight_decay(wd, mask=np.ones(n, bool)).update(g, None, p)[0], full)
    np.testing.assert_array_equal(optim.add_weight_decay(wd, mask=np.zeros(n, bool)).update(g, None, p)[0], g)


def test_a_mask_from_a_params_tree():
    """The intended recipe: decay weight matrices, not biases."""
    params = {"w": np.ones((2, 2)), "b": np.ones(2)}
    flat, unravel = fnn.tree.ravel(params)
    mask, _ = fnn.tree.ravel({"w": np.ones((2, 2), bool), "b": np.zeros(2, bool)})
    decayed, _ = optim.add_weight_decay(0.5, mask=mask).update(np.zeros_like(flat), None, flat)
    tree = unravel(decayed)
    np.testing.assert_array_equal(tree["w"], np.full((2, 2), 0.5))
    np.testing.assert_array_equal(tree["b"], np.zeros(2))


def test_masks_are_copied_read_only_compared_by_value_and_hashable():
    m = np.array([True, False])
    t = optim.add_weight_decay(0.1, mask=m)
    m[0] = False  # the transform keeps its own copy
    assert t.mask[0] and not t.mask.flags.writeable
    assert t == optim.add_weight_decay(0.1, mask=[True, False])
    assert t != optim.add_weight_decay(0.1, mask=[True, True])
    assert t != optim.add_weight_decay(0.1)
    assert hash(t) == hash(optim.add_weight_decay(0.1, mask=[True, False]))


def test_mask_errors():
    with pytest.raises(ConfigError, match="add_weight_decay: mask must be a 1-D boolean array"):
        optim.add_weight_decay(0.1, mask=np.array([1, 0]))
    with pytest.raises(ConfigError, match="decoupled_weight_decay: mask must be a 1-D boolean array"):
        optim.decoupled_weight_decay(optim.adam(), 0.1, mask=np.ones((2, 2), bool))
    with pytest.raises(ShapeError, match=r"mask has shape \(2,\), the flat params \(3,\)"):
        optim.chain(optim.add_weight_decay(0.1, mask=[True, False]), optim.sgd(0.1)).init(np.zeros(3))
    with pytest.raises(ShapeError, match="mask has shape"):
        optim.decoupled_weight_decay(optim.sgd(0.1), 0.1, mask=[True]).init(np.zeros(3))


# ---------------------------------------------------------------- decoupled weight decay


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("schedule", [False, True])
@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), wd=st.floats(0.0, 2.0), lr=st.floats(1e-4, 0.1))
@strict
def test_adamw_is_decoupled_weight_decay_of_adam_bit_for_bit(seed, n, wd, lr, schedule, amsgrad):
    """Both decay the old params first, p * (1 - lr_t * wd), as torch.optim.AdamW does."""
    lr = optim.cosine_decay(lr, 10, 0.1) if schedule else lr
    p, grads = gradients(seed, n)
    got, s1 = run(optim.decoupled_weight_decay(optim.adam(lr, amsgrad=amsgrad), wd), p, grads)
    want, s2 = run(optim.adamw(lr, weight_decay=wd, amsgrad=amsgrad), p, grads)
    np.testing.assert_array_equal(got, want)
    fnn.tree.assert_equal(s1, s2)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "adamw"])
@strict
def test_decoupled_weight_decay_is_the_step_minus_lr_wd_p(name):
    """For an optimizer whose step does not depend on p, decaying first equals
    opt_update(p) - lr * wd * p, up to rounding (the subtraction is associated differently)."""
    wd = 0.3
    opt = optim.OPTIMIZERS[name](**PLAIN[name])
    wrapped = optim.decoupled_weight_decay(opt, wd)
    p, grads = gradients(1, 12)
    s, ws = opt.init(p), wrapped.init(p)
    lr = PLAIN[name].get("lr", 1.0)
    for g in grads:
        plain, s_next = opt.update(p, g, s)
        new, ws = wrapped.update(p, g, s)
        np.testing.assert_allclose(new, plain - lr * wd * p, rtol=ROUNDING, atol=ROUNDING)
        fnn.tree.assert_equal(ws, s_next)  # the wrapper adds no state and changes none
        p, s = new, s_next


def test_decoupled_weight_decay_of_sgd_is_the_formula():
    p, grads = gradients(2, 5)
    opt = optim.decoupled_weight_decay(optim.sgd(0.1), 0.5)
    got, _ = run(opt, p, grads)
    want = []
    for g in grads:
        p = p * (1 - 0.1 * 0.5) - 0.1 * g
        want.append(p)
    np.testing.assert_array_equal(got, want)


def test_decoupled_weight_decay_mask_and_chain():
    p, grads = gradients(3, 4)
    mask = np.array([True, False, True, False])
    inner = optim.chain(optim.clip_by_value(0.5), optim.adam(0.01))
    got, state = run(optim.decoupled_weight_decay(inner, 0.5, mask=mask), p, grads)
    assert isinstance(state, optim.ChainState) and state.count == len(grads)
    undecayed, _ = run(inner, p, grads)
    decayed, _ = run(optim.decoupled_weight_decay(inner, 0.5), p, grads)
    np.testing.assert_array_equal(got[:, ~mask], undecayed[:, ~mask])
    np.testing.assert_array_equal(got[:, mask], decayed[:, mask])


def test_decoupled_weight_decay_needs_an_lr():
    with pytest.raises(ConfigError, match="decoupled_weight_decay needs an optimizer with an lr"):
        optim.decoupled_weight_decay(optim.from_update(lambda old, grad: old), 0.1)
    with pytest.raises(ConfigError, match="decoupled_weight_decay expects an optimizer"):
        optim.decoupled_weight_decay("adam", 0.1)
    with pytest.raises(ConfigError, match="decoupled_weight_decay: weight_decay must be a finite number >= 0, got -1"):
        optim.decoupled_weight_decay(optim.adam(), -1)


@pytest.mark.parametrize(
    ("factory", "args", "message"),
    [
        (optim.clip_by_global_norm, (0.0,), "clip_by_global_norm: max_norm must be a finite number > 0, got 0.0"),
        (optim.clip_by_global_norm, (np.inf,), "clip_by_global_norm: max_norm must be a finite number > 0, got inf"),
        (optim.clip_by_value, (-1.0,), "clip_by_value: limit must be a finite number > 0, got -1.0"),
        (optim.add_weight_decay, (-0.1,), "add_weight_decay: weight_decay must be a finite number >= 0, got -0.1"),
    ],
)
def test_transform_config_errors(factory, args, message):
    with pytest.raises(ConfigError) as info:
        factory(*args)
    assert str(info.value) == message


# ---------------------------------------------------------------- purity and dtype of the combinators

COMBINATIONS = {
    "chain": lambda: optim.chain(
        optim.clip_by_global_norm(0.5),
        optim.clip_by_value(0.1),
        optim.add_weight_decay(0.1, mask=np.arange(7) % 2 == 0),
        optim.nadam(0.01),
    ),
    "decoupled": lambda: optim.decoupled_weight_decay(
        optim.chain(optim.clip_by_value(0.3), optim.rmsprop(centered=True, momentum=0.5)), 0.1, mask=np.arange(7) > 2
    ),
    "from_update": lambda: optim.from_update(lambda old, grad: old - 0.1 * grad),
}


@pytest.mark.parametrize("which", sorted(COMBINATIONS))
@strict
def test_combinators_are_pure(which):
    opt = COMBINATIONS[which]()
    p, grads = gradients(4, 7)
    _, state = run(opt, p, grads[:3])
    old, grad = read_only(p), read_only(grads[3])
    state = fnn.tree.map(lambda x: read_only(x) if isinstance(x, np.ndarray) else x, state)
    before = [x.tobytes() if isinstance(x, np.ndarray) else x for x in [old, grad, *fnn.tree.leaves(state)]]
    first, second = opt.update(old, grad, state), opt.update(old, grad, state)
    after = [x.tobytes() if isinstance(x, np.ndarray) else x for x in [old, grad, *fnn.tree.leaves(state)]]
    assert after == before
    fnn.tree.assert_equal(first, second)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("which", sorted(COMBINATIONS))
@strict
def test_combinators_keep_the_dtype(which, dtype):
    opt = COMBINATIONS[which]()
    p, grads = gradients(5, 7, dtype=dtype)
    traj, state = run(opt, p, grads)
    assert traj.dtype == dtype
    assert all(leaf.dtype == dtype for leaf in fnn.tree.leaves(state) if isinstance(leaf, np.ndarray))


# ---------------------------------------------------------------- from_update


class TutorialSGD:
    """Plain SGD as the from-scratch tutorials write it."""

    def __init__(self, lr):
        self.lr = lr

    def update(self, old, grad):
        return old - self.lr * grad


class TutorialMomentum:
    """SGD with momentum as Lazar's tutorial writes it: the velocity is an attribute."""

    def __init__(self, lr, momentum):
        self.lr = lr
        self.momentum = momentum
        self.v = 0

    def update(self, old, grad):
        self.v = self.momentum * self.v - self.lr * grad
        return old + self.v


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), lr=st.floats(0.0, 1.0))
@strict
def test_tutorial_sgd_is_sgd_bit_for_bit(seed, n, lr, dtype):
    p, grads = gradients(seed, n, dtype=dtype)
    got, state = run(optim.from_update(TutorialSGD(lr)), p, grads)
    np.testing.assert_array_equal(got, run(optim.sgd(lr), p, grads)[0])
    assert got.dtype == dtype and state == optim.FromUpdateState(len(grads))


@LAWS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 30), lr=st.floats(1e-3, 0.5), mu=st.floats(0.0, 0.99))
@strict
def test_tutorial_momentum_is_momentum_up_to_rounding(seed, n, lr, mu):
    """The tutorial's velocity is v = -lr * b (torch's buffer b), so with a constant lr
    both give the same params in exact arithmetic; in floating point mu * (-lr * b) - lr * g
    and -lr * (mu * b + g) round differently, so the law is allclose, not bitwise.
    (Step 1 is bitwise: both compute p - lr * g. With a schedule the two differ, since
    the tutorial's velocity remembers old rates; fnn follows torch.)"""
    p, grads = gradients(seed, n, steps=50)
    got, _ = run(optim.from_update(TutorialMomentum(lr, mu)), p, grads)
    want, _ = run(optim.momentum(lr, mu), p, grads)
    np.testing.assert_array_equal(got[0], want[0])
    scale = np.max(np.abs(want), axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=ROUNDING, atol=1e-13 * scale.max())


def test_from_update_never_lets_the_object_write_into_its_inputs():
    class InPlace:
        def update(self, old, grad):
            old -= 0.1 * grad  # the tutorial bug fnn's read-only views catch
            return old

    p, g = np.ones(3), np.ones(3)  # writeable on purpose
    opt = optim.from_update(InPlace())
    with pytest.raises(ValueError, match="read-only"):
        opt.update(p, g, opt.init(p))
    np.testing.assert_array_equal(p, np.ones(3))
    assert p.flags.writeable


def test_from_update_state_lives_in_the_object_as_documented():
    """The wrapper is pure; a stateful object is not, and fnn does not copy it:
    repeating a call moves the tutorial's velocity again. deepcopy gives a run its own."""
    recipe = TutorialMomentum(0.1, 0.9)
    p, grads = gradients(6, 4)
    opt = optim.from_update(recipe)
    state = opt.init(p)
    first, _ = opt.update(p, grads[0], state)
    second, _ = opt.update(p, grads[0], state)
    assert not np.array_equal(first, second)  # the object's velocity moved between the calls
    velocity = recipe.v.copy()
    a, b = (optim.from_update(copy.deepcopy(recipe)) for _ in range(2))
    np.testing.assert_array_equal(run(a, p, grads)[0], run(b, p, grads)[0])
    np.testing.assert_array_equal(recipe.v, velocity)  # the copies ran; the recipe did not move


@strict
def test_from_update_of_a_pure_function_is_pure():
    opt = optim.from_update(lambda old, grad: old - 0.25 * grad)
    p, g = read_only(np.arange(4.0)), read_only(np.ones(4))
    state = opt.init(p)
    first, second = opt.update(p, g, state), opt.update(p, g, state)
    fnn.tree.assert_equal(first, second)
    assert first[1] == optim.FromUpdateState(1) and state == optim.FromUpdateState(0)


def test_from_update_checks_what_the_object_returns():
    p32 = np.ones(3, np.float32)

    class Upcasting:
        def __init__(self):
            self.v = np.zeros(3)  # float64: the usual tutorial slip

        def update(self, old, grad):
            self.v = 0.9 * self.v - 0.1 * grad
            return old + self.v

    opt = optim.from_update(Upcasting())
    with pytest.raises(DtypeError, match="returned dtype float64 for float32 params; fnn never casts silently"):
        opt.update(p32, p32, opt.init(p32))
    opt = optim.from_update(lambda old, grad: old[:2])
    with pytest.raises(ShapeError, match=r"returned \(2,\); expected an array of shape \(3,\)"):
        opt.update(p32, p32, opt.init(p32))
    opt = optim.from_update(lambda old, grad: None)
    with pytest.raises(ShapeError, match="returned NoneType"):
        opt.update(p32, p32, opt.init(p32))


def test_from_update_arguments():
    adam = optim.adam()
    assert optim.from_update(adam) is adam  # already an optimizer
    with pytest.raises(ConfigError, match="from_update expects an object with an update"):
        optim.from_update(42)
    wrapped = optim.from_update(TutorialSGD(0.1))
    assert wrapped == optim.from_update(wrapped.obj)
    with pytest.raises(ShapeError, match="from_update.init expects a 1-D array"):
        wrapped.init(np.zeros((2, 2)))
