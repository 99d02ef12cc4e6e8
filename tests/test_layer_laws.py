"""The laws every layer is held to, swept over the one registry of fnn's layers (fnn.testing.layer_cases).

Each hypothesis example draws a layer spec with random settings and a random sample shape,
and fnn.testing.check_layer_laws checks: the predicted output shape is apply's; gradients
equal central differences in float64; member k of a stack is network k bitwise (or the
stack is refused naming the layer); save/load round trips bitwise; float32 stays float32;
the summary has a row. A user's layer gets the same treatment from the same function.
"""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.testing import LAYER_NAMES, check_layer_laws, layer_cases

SEEDS = st.integers(0, 2**16)


@pytest.mark.parametrize("name", LAYER_NAMES)
@settings(max_examples=12, deadline=None)
@given(data=st.data(), seed=SEEDS)
def test_every_layer_obeys_every_law(name, data, seed):
    spec, in_shape = data.draw(layer_cases((name,)))
    result = check_layer_laws(spec, in_shape=in_shape, seed=seed)
    assert result["gradient_error"] <= fnn.testing.GRAD_RTOL
    assert result["stacked"], f"{name} is a built-in layer: it must run in stacks"


def test_the_registry_holds_every_layer_spec_fnn_defines():
    specs = {
        name
        for name, obj in inspect.getmembers(fnn.layers, inspect.isclass)
        if fnn.layers.base._registered(fnn.layers.out_shape, object.__new__(obj)) and not name.endswith("Params")
    }
    # FromForward holds a Python function, which fnn.save refuses by design (no pickle); tests/test_autodiff.py
    # checks its other laws (gradients, the stack member law, float32, equality with Dense)
    assert specs - {"FromForward"} == set(LAYER_NAMES)
    assert {n for n in fnn.__all__ if n in specs} == specs - {"FromForward"}  # and every one is public from fnn


def test_a_width_only_user_layer_works_on_flat_samples_and_says_so_on_others():
    import attrs

    @attrs.frozen
    class Twice:
        pass

    @fnn.tree.register
    @attrs.frozen
    class TwiceNode:
        pass

    fnn.layers.out_dim.register(Twice, lambda spec, d: d)
    fnn.layers.init_layer.register(Twice, lambda spec, key, d, dtype: TwiceNode())
    fnn.layers.forward.register(TwiceNode, lambda node, x, key, train: (2 * x, None))
    fnn.layers.backward.register(TwiceNode, lambda node, r, g, out, need: 2 * g if need else None)
    p = fnn.init(fnn.random.key(0), fnn.Sequential([Twice()], in_dim=3))
    assert np.array_equal(fnn.apply(p, np.ones((2, 3))), 2 * np.ones((2, 3)))
    with pytest.raises(fnn.errors.ConfigError, match=r"layer 1 \(Twice\): Twice takes flat samples only.*\(4, 3\)"):
        fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(3), Twice()], in_shape=(4, 3)))
    # a user's layer is not stackable unless it says so, and the refusal names it
    with pytest.raises(fnn.errors.ConfigError, match="TwiceNode"):
        fnn.stack([p, p])
