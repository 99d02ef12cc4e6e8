"""clip_by_member_norm: the gradient clip of recurrent training, for stacks (each member by its own norm).

The law: member m of a stack trained with clip_by_member_norm(c, stack) is bit for bit network m
trained alone with clip_by_global_norm(c); for one network the two are the same transform.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn import optim
from fnn.errors import ConfigError, ShapeError

DTYPES = st.sampled_from([np.float32, np.float64])


def stack_of(k, spec):
    keys = fnn.random.split(fnn.random.key(0), k)
    return fnn.init_many(keys, spec), [fnn.init(key, spec) for key in keys]


def member_flat(stack_flat, stack, m):
    """Member m's entries of a stack's flat vector, in one network's ravel order."""
    _, unravel = fnn.tree.ravel(stack)
    tree = unravel(stack_flat)
    return np.concatenate([leaf[m].ravel() for leaf in fnn.tree.leaves(tree)])


@settings(max_examples=60, deadline=None)
@given(dtype=DTYPES, max_norm=st.sampled_from([0.1, 1.0, 30.0]), seed=st.integers(0, 2**16))
def test_one_network_is_clip_by_global_norm_bitwise(dtype, max_norm, seed):
    p = fnn.init(fnn.random.key(0), fnn.mlp([3, 5, 2], dtype=dtype))
    g = fnn.random.normal(fnn.random.key(seed), fnn.tree.ravel(p)[0].shape, std=3.0, dtype=dtype)
    mine = optim.clip_by_member_norm(max_norm, p).update(g, None, g)[0]
    theirs = optim.clip_by_global_norm(max_norm).update(g, None, g)[0]
    assert mine.dtype == dtype and np.array_equal(mine, theirs)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 5), dtype=DTYPES, max_norm=st.sampled_from([0.5, 2.0]), seed=st.integers(0, 2**16))
def test_each_member_is_clipped_as_its_network_alone_bitwise(k, dtype, max_norm, seed):
    stack, _ = stack_of(k, fnn.Sequential([fnn.GRU(3, bidirectional=True), fnn.Dense(7)], in_shape=(4, 5), dtype=dtype))
    size = fnn.tree.ravel(stack)[0].size
    scales = fnn.random.uniform(fnn.random.key(seed), (k,), minval=0.0, maxval=0.3)  # some members clipped, some not
    g = fnn.random.normal(fnn.random.key(seed + 1), (size,), dtype=dtype)
    g = fnn.tree.ravel(
        fnn.tree.map(lambda a: a * scales.reshape(k, *(1,) * (a.ndim - 1)).astype(dtype), fnn.tree.ravel(stack)[1](g))
    )[0]
    clip = optim.chain(optim.clip_by_member_norm(max_norm, stack), optim.sgd(1.0))
    clipped = clip.transforms[0].update(g, None, g)[0]
    assert clipped.dtype == dtype
    for m in range(k):
        alone = member_flat(g, stack, m)
        assert np.array_equal(
            member_flat(clipped, stack, m), optim.clip_by_global_norm(max_norm).update(alone, None, alone)[0]
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_clipped_stacked_fit_is_each_clipped_fit_alone_bitwise(dtype):
    spec = fnn.Sequential(
        [fnn.GRU(6, return_sequences=True), fnn.Flatten(), fnn.Dense(3), fnn.Activation("softmax")],
        in_shape=(5, 2),
        dtype=dtype,
    )
    stack, singles = stack_of(3, spec)
    x = fnn.random.normal(fnn.random.key(1), (64, 5, 2))
    y = fnn.random.generator(fnn.random.key(2)).integers(0, 3, 64)
    max_norm = 0.05  # far below the gradients' norms: every step clips
    state = fnn.TrainState.create(
        stack, optim.chain(optim.clip_by_member_norm(max_norm, stack), optim.adam(0.05)), key=fnn.random.key(3)
    )
    state, history = fnn.fit(state, (x, y), epochs=3, batch_size=16, loss="cross_entropy", verbose=0)
    for m, single in enumerate(singles):
        alone = fnn.TrainState.create(
            single, optim.chain(optim.clip_by_global_norm(max_norm), optim.adam(0.05)), key=fnn.random.key(3)
        )
        alone, h = fnn.fit(alone, (x, y), epochs=3, batch_size=16, loss="cross_entropy", verbose=0)
        assert np.array_equal(history["loss"][:, m], h["loss"])
        assert fnn.tree.equal(fnn.unstack(state.params)[m], alone.params)


def test_clip_by_global_norm_is_still_refused_for_stacks_and_the_message_names_the_per_member_clip():
    stack, _ = stack_of(2, fnn.mlp([3, 2]))
    with pytest.raises(ConfigError, match=r"ClipByGlobalNorm .* mix the members .* fnn.optim.clip_by_member_norm"):
        fnn.TrainState.create(stack, optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1)), key=fnn.random.key(0))


def test_params_of_another_layout_are_refused():
    stack, singles = stack_of(2, fnn.mlp([3, 2]))
    clip = optim.chain(optim.clip_by_member_norm(1.0, stack), optim.sgd(0.1))
    with pytest.raises(
        ShapeError,
        match=r"clip_by_member_norm: built for 2 member\(s\) of 8 params \(16 in all\), "
        r"given flat params of size 8",
    ):
        fnn.TrainState.create(singles[0], clip, key=fnn.random.key(0))


def test_it_saves_and_loads_with_the_train_state(tmp_path):
    stack, _ = stack_of(2, fnn.mlp([3, 2]))
    state = fnn.TrainState.create(
        stack, optim.chain(optim.clip_by_member_norm(1.0, stack), optim.sgd(0.1)), key=fnn.random.key(0)
    )
    back = fnn.load(fnn.save(tmp_path / "state.npz", state))
    assert back.optimizer == state.optimizer


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: optim.clip_by_member_norm(0.0, fnn.init(fnn.random.key(0), fnn.mlp([2, 1]))),
            "max_norm must be a finite number > 0",
        ),
        (lambda: optim.ClipByMemberNorm(1.0, 0, (3,)), "members must be an integer ≥ 1, got 0"),
        (lambda: optim.ClipByMemberNorm(1.0, 2, 3), "sizes must be a tuple of leaf sizes, got 3"),
    ],
)
def test_bad_settings_say_what_is_expected(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
