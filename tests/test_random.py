"""Laws of fnn.random: same key, same bits (in another process too); derived keys differ."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError

seeds = st.integers(0, 2**63)
paths = st.lists(st.tuples(st.sampled_from(["split", "fold"]), st.integers(0, 50)), max_size=4)


def derive(seed, path):
    k = fnn.random.key(seed)
    for kind, i in path:
        k = fnn.random.split(k, i + 1)[i] if kind == "split" else fnn.random.fold_in(k, i)
    return k


@given(seeds, paths)
def test_same_key_same_bits(seed, path):
    a, b = derive(seed, path), derive(seed, path)
    assert a == b and hash(a) == hash(b)
    assert np.array_equal(fnn.random.bits(a, (4,)), fnn.random.bits(b, (4,)))
    assert np.array_equal(fnn.random.normal(a, (3,), dtype=np.float32), fnn.random.normal(b, (3,), dtype=np.float32))


@given(seeds, paths, st.integers(2, 6))
def test_split_children_differ_from_each_other_and_parent(seed, path, n):
    parent = derive(seed, path)
    children = fnn.random.split(parent, n)
    streams = {tuple(fnn.random.bits(k, (2,)).tolist()) for k in (parent, *children)}
    assert len(streams) == n + 1


@given(seeds, st.integers(0, 100))
def test_fold_in_differs_from_split_child_of_same_index(seed, i):
    k = fnn.random.key(seed)
    folded = fnn.random.fold_in(k, i)
    child = fnn.random.split(k, i + 1)[i]
    assert folded != child
    assert not np.array_equal(fnn.random.bits(folded, (2,)), fnn.random.bits(child, (2,)))


def test_keys_are_immutable_and_repr_shows_path():
    k = fnn.random.fold_in(fnn.random.split(fnn.random.key(3))[1], 7)
    assert repr(k) == "Key(seed=3, path=(1, 'fold 7'))"
    with pytest.raises(AttributeError):
        k.seed = 4


def test_global_numpy_state_untouched():
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - the law: fnn leaves it alone
    params = fnn.init(fnn.random.key(0), fnn.mlp([5, 4, 3], dropout=0.5))
    fnn.apply(params, np.ones((2, 5)), train=True, key=fnn.random.key(1))
    fnn.random.permutation(fnn.random.key(2), 10)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


_CHILD = """
import json, numpy as np, fnn
k = fnn.random.key(123)
p = fnn.init(k, fnn.mlp([6, 5, 3], dropout=0.5))
y = fnn.apply(p, np.ones((4, 6)), train=True, key=fnn.random.fold_in(k, 9))
print(json.dumps({"params": fnn.tree.ravel(p)[0].tobytes().hex(), "y": y.tobytes().hex()}))
"""


def test_same_key_same_bits_in_another_process():
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True)
    theirs = json.loads(out.stdout)
    k = fnn.random.key(123)
    p = fnn.init(k, fnn.mlp([6, 5, 3], dropout=0.5))
    y = fnn.apply(p, np.ones((4, 6)), train=True, key=fnn.random.fold_in(k, 9))
    assert theirs == {"params": fnn.tree.ravel(p)[0].tobytes().hex(), "y": y.tobytes().hex()}


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, None])
def test_bad_seeds_are_config_errors(bad):
    with pytest.raises(ConfigError, match="seed"):
        fnn.random.key(bad)


def test_samplers_reject_bad_arguments():
    k = fnn.random.key(0)
    with pytest.raises(ConfigError, match="probability"):
        fnn.random.bernoulli(k, 1.5)
    with pytest.raises(ConfigError, match="float32 or float64"):
        fnn.random.normal(k, (2,), dtype=np.int32)
    with pytest.raises(ConfigError, match="Key"):
        fnn.random.split(0)


@given(seeds, st.integers(0, 200))
def test_permutation_is_a_permutation(seed, n):
    p = fnn.random.permutation(fnn.random.key(seed), n)
    assert np.array_equal(np.sort(p), np.arange(n))


@given(seeds)
def test_truncated_normal_respects_bounds(seed):
    x = fnn.random.truncated_normal(fnn.random.key(seed), (50,), lower=-1.0, upper=0.5)
    assert x.shape == (50,) and x.min() >= -1.0 and x.max() <= 0.5
