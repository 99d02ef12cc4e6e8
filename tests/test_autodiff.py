"""Losses from their value alone (fnn.losses.from_function), their gradients derived by HIPS autograd:
checked against fnn's mse and fused cross-entropy, in float32, and for the errors a user meets."""

import subprocess
import sys

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fnn
from fnn.errors import ConfigError, ShapeError


# ---------------------------------------------------------------- the loss from its value


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 9), st.sampled_from([(), (3,)]), st.integers(1, 5), st.sampled_from([np.float32, np.float64]), st.integers(0, 2**16))
def test_a_loss_from_its_value_is_mse(n, steps, k, dtype, seed):
    ka, kb = fnn.random.split(fnn.random.key(seed))
    y_hat, y = fnn.random.normal(ka, (n, *steps, k), dtype=dtype), fnn.random.normal(kb, (n, *steps, k), dtype=dtype)
    loss = fnn.losses.from_function(lambda p, t: anp.mean((p - t) ** 2), name="my_mse")
    value, g = loss(y_hat, y)
    expected_value, expected_g = fnn.losses.mse.value_and_grad(y_hat, y)
    assert value.dtype == g.dtype == dtype and g.shape == y_hat.shape
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(value, expected_value, rtol=rtol)
    np.testing.assert_allclose(g, expected_g, rtol=rtol, atol=rtol * float(np.abs(expected_g).max()))


def test_a_loss_on_integer_labels_matches_the_fused_cross_entropy():
    def cross_entropy_from_logits(z, labels):
        top = anp.max(z, axis=-1, keepdims=True)
        lse = anp.log(anp.sum(anp.exp(z - top), axis=-1)) + top[:, 0]
        return anp.mean(lse - z[np.arange(z.shape[0]), labels])

    spec = lambda out: fnn.mlp([4, 6, 3], output=out, dtype=np.float64)  # noqa: E731
    logits, probs = fnn.init(fnn.random.key(0), spec(None)), fnn.init(fnn.random.key(0), spec("softmax"))
    x, y = fnn.random.normal(fnn.random.key(1), (10, 4)), np.arange(10) % 3
    v, g = fnn.value_and_grad(logits, (x, y), loss=fnn.losses.from_function(cross_entropy_from_logits))
    v_fused, g_fused = fnn.value_and_grad(probs, (x, y), loss="cross_entropy")
    np.testing.assert_allclose(v, v_fused, rtol=1e-12)
    for a, b in zip(fnn.tree.leaves(g), fnn.tree.leaves(g_fused), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_loss_must_return_a_scalar_that_depends_on_the_output():
    with pytest.raises(ShapeError, match="must return a scalar.*returned shape \\(2, 1\\)"):
        fnn.losses.from_function(lambda p, t: (p - t) ** 2)(np.ones((2, 1)), np.zeros((2, 1)))
    with pytest.raises(ConfigError, match="does not depend on y_hat.*autograd.numpy"):
        fnn.losses.from_function(lambda p, t: anp.mean(t ** 2))(np.ones((2, 1)), np.zeros((2, 1)))
    with pytest.raises(ConfigError, match="must be a function"):
        fnn.losses.from_function("mse")


def test_without_autograd_building_such_a_loss_names_the_extra():
    code = (
        "import sys; sys.modules['autograd'] = None\n"
        "import fnn\n"
        "try:\n"
        "    fnn.losses.from_function(lambda p, y: p)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "fnn.losses.from_function(<lambda>)" in out and "pip install 'fnn[autodiff]'" in out, out
