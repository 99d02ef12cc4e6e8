"""Laws of fnn.tree: round trips, the zero-copy flat view, structure errors with paths."""

import attrs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn
from fnn.errors import DtypeError, ShapeError


@fnn.tree.register
@attrs.frozen
class Node:
    a: object
    b: object
    tag: str = fnn.tree.static_field(default="x")


def arrays(dtype):
    return hnp.arrays(
        dtype,
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements=st.floats(-1e6, 1e6, width=np.dtype(dtype).itemsize * 8),
    )


def trees(dtype=np.float64):
    return st.recursive(
        arrays(dtype) | st.none(),
        lambda kids: (
            st.tuples(kids, kids)
            | st.lists(kids, max_size=3)
            | st.dictionaries(st.text("abc", min_size=1, max_size=2), kids, max_size=3)
            | st.builds(Node, kids, kids, st.sampled_from(["x", "y"]))
        ),
        max_leaves=8,
    )


@given(trees())
def test_unravel_of_ravel_is_identity(t):
    flat, unravel = fnn.tree.ravel(t)
    assert flat.ndim == 1
    fnn.tree.assert_equal(unravel(flat), t)


@given(trees(np.float32))
def test_pack_gives_zero_copy_ravel_and_views(t):
    packed = fnn.tree.pack(t)
    flat, unravel = fnn.tree.ravel(packed)
    fnn.tree.assert_equal(packed, t)
    for leaf in fnn.tree.leaves(packed):
        assert np.shares_memory(flat, leaf) or leaf.size == 0
        assert not leaf.flags.writeable
    again = unravel(flat)
    for leaf in fnn.tree.leaves(again):
        assert np.shares_memory(flat, leaf) or leaf.size == 0


@given(trees())
def test_flatten_unflatten_round_trip_and_structure_is_hashable(t):
    leaves, s = fnn.tree.flatten(t)
    fnn.tree.assert_equal(s.unflatten(leaves), t)
    assert hash(s) == hash(fnn.tree.structure(t)) and s.num_leaves == len(leaves)


def test_params_ravel_without_copy_and_unravel_makes_views():
    params = fnn.init(fnn.random.key(0), fnn.mlp([784, 256, 128, 10]))
    flat, unravel = fnn.tree.ravel(params)
    assert flat.size == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    for leaf in fnn.tree.leaves(params):
        assert np.shares_memory(flat, leaf)
        with pytest.raises(ValueError):
            leaf[(0,) * leaf.ndim] = 1.0
    again, _ = fnn.tree.ravel(params)
    assert again.__array_interface__["data"][0] == flat.__array_interface__["data"][0]
    new = np.arange(flat.size, dtype=np.float32)
    back = unravel(new)
    assert all(np.shares_memory(new, leaf) for leaf in fnn.tree.leaves(back))
    assert fnn.tree.ravel(back)[0] is not None and np.shares_memory(fnn.tree.ravel(back)[0], new)


def test_leaves_are_listed_layer_by_layer_weight_before_bias():
    params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    assert [leaf.shape for leaf in fnn.tree.leaves(params)] == [(3, 4), (4,), (4, 2), (2,)]


def test_hand_built_tree_ravels_by_copy():
    t = (np.ones(2), np.zeros((2, 2)))
    flat, _ = fnn.tree.ravel(t)
    assert not np.shares_memory(flat, t[0])
    assert flat.tolist() == [1, 1, 0, 0, 0, 0]


def test_views_out_of_order_are_copied_not_misread():
    buf = np.arange(6.0)
    t = (buf[3:], buf[:3])
    flat, _ = fnn.tree.ravel(t)
    assert flat.tolist() == [3, 4, 5, 0, 1, 2]


def test_mixed_dtypes_are_a_type_error_naming_paths():
    with pytest.raises(DtypeError, match=r"\['b'\]: float32") as e:
        fnn.tree.ravel({"a": np.zeros(2), "b": np.zeros(2, np.float32)})
    assert isinstance(e.value, TypeError)


def test_empty_tree_ravels_to_shape_0():
    for empty in [(), [], {}, None, ((), {"a": None})]:
        flat, unravel = fnn.tree.ravel(empty)
        assert flat.shape == (0,)
        assert fnn.tree.structure(unravel(flat)) == fnn.tree.structure(empty)


def test_none_is_not_a_leaf():
    assert fnn.tree.leaves((None, 1, [None])) == [1]


def test_map_structure_mismatch_names_the_path():
    with pytest.raises(ShapeError, match=r"at \[1\]\['k'\]"):
        fnn.tree.map(lambda a, b: a, (1, {"k": 2}), (1, {"k": (2, 3)}))


def test_assert_equal_names_path_of_value_difference():
    params = fnn.init(fnn.random.key(0), fnn.mlp([3, 2]))
    other = fnn.init(fnn.random.key(1), fnn.mlp([3, 2]))
    with pytest.raises(AssertionError, match=r"at \.layers\[0\]\.w"):
        fnn.tree.assert_equal(params, other)
    assert not fnn.tree.equal(params, other) and fnn.tree.equal(params, params)


def test_static_fields_are_structure():
    assert fnn.tree.structure(Node(1, 2, "x")) != fnn.tree.structure(Node(1, 2, "y"))
    assert fnn.tree.leaves(Node(1, 2)) == [1, 2]


def test_array_in_static_field_is_an_error():
    with pytest.raises(TypeError, match="static field"):
        fnn.tree.leaves(Node(1, 2, np.zeros(2)))


def test_register_rejects_non_frozen_classes():
    @attrs.define
    class Mutable:
        a: int

    with pytest.raises(TypeError, match="frozen"):
        fnn.tree.register(Mutable)


def test_unravel_rejects_wrong_size_and_dtype():
    _, unravel = fnn.tree.ravel((np.zeros(3),))
    with pytest.raises(ShapeError, match="3 elements"):
        unravel(np.zeros(4))
    with pytest.raises(DtypeError):
        unravel(np.zeros(3, np.float32))
