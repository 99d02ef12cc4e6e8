"""Laws of init and apply: frozen params, same key same bits, predicted shapes, no mutation; bad input."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.initializers import NAMES as INIT_NAMES
from fnn.testing import specs


def digest(*arrays):
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


@settings(max_examples=50)
@given(specs(dropout=True, dtype=np.float32), st.integers(0, 2**32 - 1), st.integers(1, 7))
def test_init_apply_laws(spec, seed, n):
    key = fnn.random.key(seed)
    params = fnn.init(key, spec)
    again = fnn.init(key, spec)
    fnn.tree.assert_equal(params, again)  # same key: bitwise-identical params
    flat, _ = fnn.tree.ravel(params)
    for leaf in fnn.tree.leaves(params):
        assert leaf.dtype == np.float32 and not leaf.flags.writeable and np.shares_memory(flat, leaf)
    x = fnn.random.normal(fnn.random.fold_in(key, 1), (n, spec.in_dim))
    x.flags.writeable = True
    before = digest(x, flat)
    y = fnn.apply(params, x)
    y_train = fnn.apply(params, x, train=True, key=fnn.random.fold_in(key, 2))
    assert y.shape == y_train.shape == fnn.output_shape(spec, batch=n)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    assert digest(x, flat) == before  # apply never mutates its inputs
    same = fnn.apply(params, x, train=True, key=fnn.random.fold_in(key, 2))
    assert np.array_equal(y_train, same)  # same key: same dropout masks


def test_float64_on_request_and_no_silent_upcast():
    p64 = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], dtype=np.float64))
    p32 = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    assert fnn.apply(p64, np.ones((1, 3), np.float32)).dtype == np.float64
    assert fnn.apply(p32, np.ones((1, 3), np.float64)).dtype == np.float32
    assert fnn.apply(p32, np.ones((1, 3), np.int64)).dtype == np.float32


def test_each_layer_draws_from_its_own_key():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(4), fnn.Dense(4)], in_dim=4))
    assert not np.array_equal(params.layers[0].w, params.layers[1].w)


def test_dropout_scales_kept_units_and_is_off_at_inference():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dropout(0.25)], in_dim=1000))
    x = np.ones((4, 1000))
    assert np.array_equal(fnn.apply(params, x), x)
    y = fnn.apply(params, x, train=True, key=fnn.random.key(1))
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert 0.2 < (y == 0).mean() < 0.3  # rate is the fraction DROPPED


@pytest.mark.parametrize("init", INIT_NAMES)
def test_initializers_have_their_documented_variance(init):
    fan_in, fan_out = 400, 300
    w = fnn.initializers.get(init)(fnn.random.key(0), (fan_in, fan_out), np.float64)
    expected = fnn.initializers.get(init).scale(fan_in, fan_out)
    assert abs(w.std() - expected) <= 0.02 * expected + 1e-12
    assert abs(w.mean()) < 0.02 * max(expected, 1e-3)


@pytest.mark.parametrize("depth", [2, 6, 12])
def test_default_init_keeps_activation_scale_in_a_band_across_depth(depth):
    # pitfall 18: std-1 randn saturates, ×0.01 vanishes; the defaults keep the scale
    spec = fnn.mlp([256] + [256] * depth + [10], hidden="relu", output=None, dtype=np.float64)
    params = fnn.init(fnn.random.key(depth), spec)
    x = fnn.random.normal(fnn.random.key(99), (512, 256))
    assert 0.3 < fnn.apply(params, x).std() < 3.0


def test_mlp_builds_the_tutorial_layout():
    spec = fnn.mlp([784, 100, 10], hidden="sigmoid", output="softmax", dropout=0.2)
    names = [fnn.layers.layer_name(layer) for layer in spec.layers]
    assert names == ["Dense(100)", "Activation(sigmoid)", "Dropout(0.2)", "Dense(10)", "Activation(softmax)"]
    assert spec.layers[0].init.name == "glorot_uniform"
    assert fnn.mlp([3, 4, 2]).layers[0].init.name == "he_uniform"


# ------------------------------------------------------------------ bad input


@pytest.fixture
def params():
    return fnn.init(fnn.random.key(0), fnn.mlp([784, 16, 10]))


def test_wrong_width_names_layer_and_both_widths(params):
    with pytest.raises(ShapeError, match=r"783 features but layer 0 \(Dense\(784→16\)\) expects 784"):
        fnn.apply(params, np.zeros((2, 783)))


@pytest.mark.parametrize("shape", [(784,), (1, 2, 784)])
def test_x_must_be_2d(params, shape):
    with pytest.raises(ShapeError, match="2-D"):
        fnn.apply(params, np.zeros(shape))


def test_empty_batch(params):
    with pytest.raises(ShapeError, match="empty batch"):
        fnn.apply(params, np.zeros((0, 784)))


def test_non_finite_x_names_position(params):
    x = np.zeros((3, 784))
    x[2, 5] = np.nan
    with pytest.raises(NonFiniteError, match="row 2, column 5"):
        fnn.apply(params, x)


def test_train_without_key_is_a_clear_error():
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 8, 2], dropout=0.5))
    with pytest.raises(ConfigError, match="needs a key"):
        fnn.apply(params, np.ones((1, 4)), train=True)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: fnn.Dense(3.0), "integer"),
        (lambda: fnn.Dense(0), "≥ 1"),
        (lambda: fnn.Dense(True), "integer"),
        (lambda: fnn.Dense(3, init="glorot"), "valid names: glorot_normal"),
        (lambda: fnn.Dropout(1.0), r"\[0, 1\)"),
        (lambda: fnn.Dropout(-0.1), r"\[0, 1\)"),
        (lambda: fnn.mlp([784, 100.5, 10]), r"sizes\[1\]"),
        (lambda: fnn.mlp([784]), "at least"),
        (lambda: fnn.mlp([4, 2], hidden="sigmoud"), "valid names"),
        (lambda: fnn.mlp([4, 2], dropout=1.5), r"\[0, 1\)"),
        (lambda: fnn.mlp([4, 2], dtype=np.float16), "float32 or float64"),
        (lambda: fnn.Sequential(["relu"], in_dim=3), "layer spec"),
        (lambda: fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(2)])), "in_dim"),
        (lambda: fnn.init(0, fnn.mlp([2, 2])), "Key"),
        (lambda: fnn.initializers.normal(-1.0), "std > 0"),
        (lambda: fnn.initializers.Initializer("he_normal", 0.1), "takes no std"),
    ],
)
def test_bad_specs_are_config_errors(build, match):
    with pytest.raises(ConfigError, match=match):
        build()


def test_unregistered_layer_type_says_how_to_register():
    class Mystery:
        pass

    with pytest.raises(ConfigError, match="register"):
        fnn.init(fnn.random.key(0), fnn.Sequential([Mystery()], in_dim=2))


def test_dtype_is_the_leaves_dtype_so_a_cast_tree_works_everywhere():
    p32 = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    p64 = fnn.tree.map(lambda a: a.astype(np.float64), p32)  # one truth: the leaves
    assert (p32.dtype, p64.dtype) == (np.float32, np.float64)
    batch = (np.ones((2, 3)), np.array([0, 1]))
    assert fnn.apply(p64, batch[0]).dtype == np.float64
    value, g = fnn.value_and_grad(p64, batch, loss="cross_entropy")
    assert value.dtype == np.float64 and fnn.tree.ravel(g)[0].dtype == np.float64
