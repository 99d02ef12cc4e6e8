"""Laws of the losses: definitions, fused forms equal to unfused ones, stability from logits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.layers.activations import log_softmax, sigmoid, softmax
from fnn.losses import _bce_from_logits, _ce_from_logits

logits = hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)), elements=st.floats(-20, 20))


@given(logits, st.data())
def test_ce_from_logits_equals_minus_log_softmax_at_label(z, data):
    n, k = z.shape
    y = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    value, g = _ce_from_logits(z, y)
    assert np.isclose(value, -np.mean(log_softmax(z)[np.arange(n), y]), rtol=1e-12, atol=1e-12)
    assert np.allclose(g, (softmax(z) - np.eye(k)[y]) / n, atol=1e-15)
    # label form and one-hot form agree
    value2, g2 = _ce_from_logits(z, np.eye(k)[y])
    assert np.isclose(value, value2, rtol=1e-12, atol=1e-12) and np.allclose(g, g2, atol=1e-15)


@given(logits, st.data())
def test_fused_equals_unfused_where_both_finite(z, data):
    y01 = data.draw(hnp.arrays(np.float64, z.shape, elements=st.floats(0, 1)))
    fused, _ = _bce_from_logits(z, y01)
    unfused = fnn.losses.binary_cross_entropy(sigmoid(np.clip(z, -15, 15)), y01)
    if np.abs(z).max() <= 15:
        assert np.isclose(fused, unfused, rtol=1e-9)
    n, k = z.shape
    labels = np.arange(n) % k
    p = softmax(z)
    if p[np.arange(n), labels].min() > 1e-12:  # the unfused form clips probabilities below eps
        assert np.isclose(_ce_from_logits(z, labels)[0], fnn.losses.cross_entropy(p, labels), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_at_logits_of_1e4(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype)
    value, g = _ce_from_logits(z, np.array([1, 2]))
    assert np.isfinite(value) and np.isfinite(g).all() and value.dtype == dtype
    assert np.isclose(value, 1e4, rtol=1e-6)  # row 0 is off by 2e4 at its label, row 1 is right
    value, g = _bce_from_logits(z, np.array([[0, 1, 1], [0, 0, 1]], dtype))
    assert np.isfinite(value) and np.isfinite(g).all() and g.dtype == dtype


@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)), elements=st.floats(-5, 5)), st.data())
def test_mse_is_mean_of_squares(yhat, data):
    y = data.draw(hnp.arrays(np.float64, yhat.shape, elements=st.floats(-5, 5)))
    value, g = fnn.losses.mse.value_and_grad(yhat, y)
    assert np.isclose(value, ((yhat - y) ** 2).mean())
    assert np.allclose(g, 2 * (yhat - y) / y.size)


def test_probability_losses_stay_finite_at_zero_and_one():
    p = np.array([[0.0, 1.0]])
    assert np.isfinite(fnn.losses.cross_entropy(p, np.array([0])))
    assert np.isfinite(fnn.losses.binary_cross_entropy(p, np.array([[1.0, 0.0]])))


def test_label_and_target_checks():
    p = np.full((2, 3), 1 / 3)
    with pytest.raises(ConfigError, match=r"\[0, 2\]"):
        fnn.losses.cross_entropy(p, np.array([0, 3]))
    with pytest.raises(ShapeError, match=r"shape \(2,\)"):
        fnn.losses.cross_entropy(p, np.array([0, 1, 2]))
    with pytest.raises(ConfigError, match="integers"):
        fnn.losses.cross_entropy(p, np.array([0.5, 1.0]))
    with pytest.raises(ShapeError, match=r"\(2, 3\)"):
        fnn.losses.mse(p, np.zeros((2, 2)))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        fnn.losses.binary_cross_entropy(p, np.full((2, 3), 2.0))
    with pytest.raises(NonFiniteError):
        fnn.losses.mse(p, np.full((2, 3), np.nan))


def test_unknown_loss_name_lists_valid_ones():
    with pytest.raises(ConfigError, match="mse, binary_cross_entropy, cross_entropy"):
        fnn.losses.get("hinge")


@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 5), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_ce_from_logits_shift_is_exact_for_huge_and_non_finite_rows(dtype, n, k, seed):
    # The shift is each row's maximum picked at its argmax: huge logits stay finite, a NaN
    # anywhere in a row makes that row (and the loss) NaN, and other rows are unaffected.
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, k)) * 1e30).astype(dtype)
    y = rng.integers(0, k, n)
    value, g = _ce_from_logits(z, y)
    z64 = z.astype(np.float64)
    assert np.isfinite(value) and np.isfinite(g).all()
    assert np.isclose(value, -np.mean(log_softmax(z64)[np.arange(n), y]), rtol=1e-6)
    bad = z.copy()
    bad[rng.integers(n), rng.integers(k)] = np.nan
    with np.errstate(invalid="ignore"):
        value, g = _ce_from_logits(bad, y)
    rows = np.isnan(bad).any(axis=1)
    assert np.isnan(value) and np.isnan(g[rows]).all() and np.isfinite(g[~rows]).all()
