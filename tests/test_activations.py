"""Laws of the activation functions: stability, symmetry, and their VJPs against finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn
from fnn.layers.activations import ACTIVATIONS, log_softmax, sigmoid, softmax
from fnn.testing import check_layer

NAMES = sorted(ACTIVATIONS)
EXTREME = np.array([[-1e4, -1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3, 1e4]])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_without_warnings_at_extremes(name, dtype):
    # conftest turns overflow/invalid/divide into errors: finishing is the law
    x = EXTREME.astype(dtype)
    y = ACTIVATIONS[name][0](x)
    assert y.dtype == dtype and np.isfinite(y).all()
    g = ACTIVATIONS[name][1](x, y, np.ones_like(x))
    assert g.dtype == dtype and np.isfinite(g).all()


@pytest.mark.parametrize("name", NAMES)
@given(seed=st.integers(0, 2**32 - 1), width=st.integers(1, 6))
def test_activation_vjp_matches_finite_differences(name, seed, width):
    # arbitrary upstream gradient: the layer feeds an MSE loss with random targets
    check_layer(fnn.Activation(name), in_dim=width, seed=seed)


finite = st.floats(-1e4, 1e4)


@given(hnp.arrays(np.float64, st.integers(1, 20), elements=finite))
def test_sigmoid_symmetry_and_range(x):
    s = sigmoid(x)
    assert np.allclose(sigmoid(-x), 1 - s, atol=1e-15)
    assert ((0 <= s) & (s <= 1)).all()
    order = np.argsort(x, kind="stable")
    assert (np.diff(s[order]) >= 0).all()


def test_sigmoid_at_zero_is_half():
    assert sigmoid(np.array([0.0]))[0] == 0.5


rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=st.floats(-10, 10))


@given(rows, st.floats(-1e3, 1e3))
def test_softmax_rows_sum_to_one_and_shift_invariant(x, c):
    s = softmax(x)
    assert np.allclose(s.sum(axis=1), 1)
    assert np.allclose(softmax(x + c), s, atol=1e-12)


@given(rows)
def test_softmax_rows_at_very_different_offsets(x):
    # per-row shift: a row 1e3 below another must not underflow to 0/0
    shifted = x + np.where(np.arange(x.shape[0]) % 2, 1e3, -1e3)[:, None]
    s = softmax(shifted)
    assert np.isfinite(s).all() and np.allclose(s.sum(axis=1), 1)


@given(rows)
def test_log_softmax_is_log_of_softmax(x):
    assert np.allclose(log_softmax(x), np.log(softmax(x)), atol=1e-12)


def test_relu_derivative_at_zero_is_zero_and_inputs_unchanged():
    x = np.array([[-1.0, 0.0, 0.5, 2.0]])
    x.flags.writeable = False
    relu, vjp = ACTIVATIONS["relu"]
    y = relu(x)
    assert vjp(x, y, np.ones_like(x)).tolist() == [[0.0, 0.0, 1.0, 1.0]]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble, np.int32])
@given(data=st.data())
def test_relu_and_its_vjp_are_the_textbook_forms_in_every_dtype(dtype, data):
    # relu compares with a zero of the input's own dtype (faster than a Python 0): same values,
    # bit for bit, NaN, ±0 and infinities included, and the dtype kept
    values = st.integers(-100, 100) if dtype is np.int32 else st.floats(allow_nan=True, allow_infinity=True, width=16)
    x = data.draw(hnp.arrays(dtype, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=values))
    g = data.draw(hnp.arrays(dtype, x.shape, elements=values))
    relu, vjp = ACTIVATIONS["relu"]
    y = relu(x)
    assert _same(y, np.maximum(x, 0))
    with np.errstate(all="ignore"):
        assert _same(vjp(x, y, g.copy()), (g * (x > 0)).astype(dtype))


def _same(a, b):
    """Equal dtype, values, NaNs and signs of zero (longdouble's padding bytes are not compared)."""
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(fnn.errors.ConfigError, match="valid names: identity, relu"):
        fnn.Activation("relux")
