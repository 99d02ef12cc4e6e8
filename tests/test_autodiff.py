"""Layers and losses from their forward computation alone (fnn.layers.from_forward, fnn.losses.from_function),
their gradients derived by HIPS autograd: checked against finite differences, against fnn's own Dense and mse,
in fit, in stacks (the member law, bitwise), in float32, and for the errors a user meets."""

import pathlib
import re
import subprocess
import sys

import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, DtypeError, ShapeError
from fnn.testing import GRAD_RTOL, check_grads, check_layer, random_params

ROOT = pathlib.Path(__file__).parents[1]
EQUAL_TO_DENSE = 1e-12
"""Relative tolerance of a from_forward affine layer against fnn.Dense in float64 (the same products;
only the order of the bias-gradient sums may differ)."""

glorot = fnn.initializers.get("glorot_uniform")


# ---------------------------------------------------------------- the forward functions under test


def gated(params, x):
    """A gated unit: x * sigmoid(x @ w + b), width preserved."""
    return x * (1 / (1 + anp.exp(-(x @ params["w"] + params["b"]))))


def init_gated(key, in_shape, dtype):
    d = in_shape[-1]
    return {"w": glorot(key, (d, d), dtype), "b": np.zeros(d, dtype)}


def tanh_gate(params, x):
    """Parameter-free: x * tanh(x)."""
    return x * anp.tanh(x)


def affine(params, x):
    return x @ params["w"] + params["b"]


def init_affine(units):
    def init(key, in_shape, dtype):
        return {"w": glorot(key, (in_shape[-1], units), dtype), "b": np.zeros(units, dtype)}

    return init


def softplus_affine(params, x):
    """A width-changing layer: log(1 + exp(x @ w + b))."""
    return anp.logaddexp(0, affine(params, x))


def attention(params, x):
    """One head of self-attention over the T axis of x (n, T, d): a layer on sequences."""
    q, k, v = x @ params["wq"], x @ params["wk"], x @ params["wv"]
    scores = anp.einsum("ntd,nsd->nts", q, k) / anp.sqrt(x.shape[-1]).astype(x.dtype)
    scores = scores - anp.max(scores, axis=-1, keepdims=True)
    weights = anp.exp(scores)
    weights = weights / anp.sum(weights, axis=-1, keepdims=True)
    return anp.einsum("nts,nsd->ntd", weights, v)


def init_attention(key, in_shape, dtype):
    d = in_shape[-1]
    return {
        name: glorot(k, (d, d), dtype) for name, k in zip(("wq", "wk", "wv"), fnn.random.split(key, 3), strict=True)
    }


def layers():
    """One of each kind: with parameters, without, and width-changing (units 3)."""
    return {
        "gated": fnn.layers.from_forward(gated, init=init_gated),
        "tanh_gate": fnn.layers.from_forward(tanh_gate),
        "softplus_affine": fnn.layers.from_forward(softplus_affine, init=init_affine(3), name="softplus_affine"),
    }


def with_dense_as_from_forward(params_dense, params_ff, index):
    """``params_dense`` with its Dense layer ``index`` replaced by ``params_ff``'s from_forward layer.

    The new layer holds the Dense layer's w and b."""
    dense, layer = params_dense.layers[index], params_ff.layers[index]
    swapped = fnn.layers.FromForwardParams({"w": dense.w, "b": dense.b}, layer.fn, layer.name, layer.in_shape)
    nodes = (*params_dense.layers[:index], swapped, *params_dense.layers[index + 1 :])
    return fnn.tree.pack(fnn.layers.SequentialParams(nodes, in_shape=params_dense.in_shape))


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ---------------------------------------------------------------- gradients against finite differences


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(layers())), st.integers(1, 8), st.integers(1, 8), st.integers(0, 2**16))
def test_gradients_equal_central_differences(name, in_dim, batch_size, seed):
    assert check_layer(layers()[name], in_dim=in_dim, batch_size=batch_size, seed=seed) <= GRAD_RTOL


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(0, 2**16))
def test_a_layer_on_sequences_has_the_gradients_of_finite_differences(n, steps, d, k, seed):
    spec = fnn.Sequential(
        [fnn.Dense(d), fnn.layers.from_forward(attention, init=init_attention), fnn.Dense(k)],
        in_shape=(steps, d),
        dtype=np.float64,
    )
    assert fnn.layers.out_shape(spec, (steps, d)) == (steps, k)
    kp, kx, ky = fnn.random.split(fnn.random.key(seed), 3)
    params = random_params(kp, spec)
    x, y = fnn.random.normal(kx, (n, steps, d)), fnn.random.normal(ky, (n, steps, k))
    assert check_grads(params, (x, y), loss="mse", seed=seed) <= GRAD_RTOL


# ---------------------------------------------------------------- the same numbers as fnn's own layers


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9), st.sampled_from([(), (4,)]), st.integers(0, 2**16))
def test_an_affine_from_forward_layer_is_dense(n, d, units, steps, seed):
    in_shape = (*steps, d)
    ff = fnn.layers.from_forward(affine, init=init_affine(units))
    dense_spec = fnn.Sequential(
        [fnn.Dense(units), fnn.Activation("tanh"), fnn.Dense(2)], in_shape=in_shape, dtype=np.float64
    )
    ff_spec = fnn.Sequential([ff, fnn.Activation("tanh"), fnn.Dense(2)], in_shape=in_shape, dtype=np.float64)
    kp, kx, ky = fnn.random.split(fnn.random.key(seed), 3)
    p_dense = random_params(kp, dense_spec)
    p_ff = with_dense_as_from_forward(p_dense, fnn.init(kp, ff_spec), 0)
    x, y = fnn.random.normal(kx, (n, *in_shape)), fnn.random.normal(ky, (n, *steps, 2))
    assert relative_error(fnn.apply(p_ff, x), fnn.apply(p_dense, x)) <= EQUAL_TO_DENSE
    v_ff, g_ff = fnn.value_and_grad(p_ff, (x, y), loss="mse")
    v_dense, g_dense = fnn.value_and_grad(p_dense, (x, y), loss="mse")
    assert abs(v_ff - v_dense) <= EQUAL_TO_DENSE * abs(v_dense)
    assert relative_error(g_ff.layers[0].params["w"], g_dense.layers[0].w) <= EQUAL_TO_DENSE
    assert relative_error(g_ff.layers[0].params["b"], g_dense.layers[0].b) <= EQUAL_TO_DENSE
    assert relative_error(g_ff.layers[2].w, g_dense.layers[2].w) <= EQUAL_TO_DENSE


def test_an_affine_layer_in_the_middle_passes_dense_s_input_gradient():
    def spec_of(first):
        return fnn.Sequential([fnn.Dense(5), fnn.Activation("tanh"), first, fnn.Dense(2)], in_dim=3, dtype=np.float64)

    p_dense = random_params(fnn.random.key(0), spec_of(fnn.Dense(4)))
    p_ff = with_dense_as_from_forward(
        p_dense, fnn.init(fnn.random.key(0), spec_of(fnn.layers.from_forward(affine, init=init_affine(4)))), 2
    )
    x, y = fnn.random.normal(fnn.random.key(1), (7, 3)), fnn.random.normal(fnn.random.key(2), (7, 2))
    g_ff, g_dense = fnn.grad(p_ff, (x, y), loss="mse"), fnn.grad(p_dense, (x, y), loss="mse")
    assert relative_error(g_ff.layers[0].w, g_dense.layers[0].w) <= EQUAL_TO_DENSE  # through the input gradient


def test_it_trains_inside_fit_as_dense_does():
    x = fnn.random.normal(fnn.random.key(0), (200, 4))
    y = (x[:, 0] * x[:, 1] > 0).astype(int)
    kw = dict(epochs=6, batch_size=32, loss="cross_entropy", verbose=0)

    def run(first):
        spec = fnn.Sequential(
            [
                first,
                fnn.Activation("tanh"),
                fnn.layers.from_forward(gated, init=init_gated),
                fnn.Dense(2),
                fnn.Activation("softmax"),
            ],
            in_dim=4,
            dtype=np.float64,
        )
        state = fnn.TrainState.create(fnn.init(fnn.random.key(1), spec), fnn.optim.adam(0.02), key=fnn.random.key(2))
        return fnn.fit(state, (x, y), **kw)

    state, history = run(fnn.layers.from_forward(affine, init=init_affine(8)))
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    dense_state, dense_history = run(fnn.Dense(8))  # glorot_uniform from the same key: the same start
    np.testing.assert_allclose(history["loss"], dense_history["loss"], rtol=1e-9)
    np.testing.assert_allclose(
        state.params.layers[0].params["w"], dense_state.params.layers[0].w, rtol=1e-7, atol=1e-12
    )


def test_training_and_inference_modes_give_the_same_bits():
    spec = fnn.Sequential([fnn.Dense(4), fnn.layers.from_forward(gated, init=init_gated), fnn.Dense(2)], in_dim=3)
    params = fnn.init(fnn.random.key(0), spec)
    x, y = fnn.random.normal(fnn.random.key(1), (6, 3), dtype=np.float32), np.zeros((6, 2), np.float32)
    assert np.array_equal(fnn.apply(params, x), fnn.apply(params, x, train=True))  # no key needed: uses_key is False
    assert fnn.tree.equal(fnn.grad(params, (x, y), loss="mse"), fnn.grad(params, (x, y), loss="mse", train=False))


# ---------------------------------------------------------------- dtypes, stacks, capabilities


@pytest.mark.parametrize("name", sorted(layers()))
def test_float32_stays_float32(name):
    spec = fnn.Sequential([fnn.Dense(4), layers()[name], fnn.Dense(2)], in_dim=3)
    params = fnn.init(fnn.random.key(0), spec)
    assert all(a.dtype == np.float32 for a in fnn.tree.leaves(params))
    x, y = fnn.random.normal(fnn.random.key(1), (5, 3), dtype=np.float32), np.zeros((5, 2), np.float32)
    assert fnn.apply(params, x).dtype == np.float32
    value, grads = fnn.value_and_grad(
        params, (x, y), loss=fnn.losses.from_function(lambda p, t: anp.mean((p - t) ** 2))
    )
    assert value.dtype == np.float32 and all(g.dtype == np.float32 for g in fnn.tree.leaves(grads))
    node = params.layers[1]
    h = fnn.apply(fnn.layers.SequentialParams(params.layers[:1], in_dim=3), x)
    y1, residual = fnn.layers.forward(node, h, None, True)
    out = fnn.tree.map(np.empty_like, node)
    g_in = fnn.layers.backward(node, residual, np.ones_like(y1), out, True)
    assert y1.dtype == g_in.dtype == np.float32


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 9),
    st.sampled_from([np.float32, np.float64]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_member_k_of_a_stack_is_network_k_bitwise(k, n, dtype, first, seed):
    body = [fnn.layers.from_forward(gated, init=init_gated), fnn.Dense(3), fnn.layers.from_forward(tanh_gate)]
    spec = fnn.Sequential(body if first else [fnn.Dense(4), *body], in_dim=4, dtype=dtype)
    keys = fnn.random.split(fnn.random.key(seed), k)
    members = [random_params(key, spec) for key in keys]
    stacked = fnn.stack(members)
    x, y = (
        fnn.random.normal(fnn.random.key(seed + 1), (n, 4), dtype=dtype),
        fnn.random.normal(fnn.random.key(seed + 2), (n, 3), dtype=dtype),
    )
    out = fnn.apply(stacked, x)
    value, grads = fnn.value_and_grad(stacked, (x, y), loss="mse", l2=0.1)
    for m, p in enumerate(members):
        assert np.array_equal(out[m], fnn.apply(p, x))
        v, g = fnn.value_and_grad(p, (x, y), loss="mse", l2=0.1)
        assert value[m] == v
        assert fnn.tree.equal(fnn.stacked.member(grads, m), g)


def test_a_stacked_fit_is_each_networks_fit_bitwise():
    x = fnn.random.normal(fnn.random.key(0), (120, 4), dtype=np.float32)
    y = (x[:, 0] > x[:, 1]).astype(int)
    spec = fnn.Sequential(
        [fnn.Dense(6), fnn.layers.from_forward(gated, init=init_gated), fnn.Dense(2), fnn.Activation("softmax")],
        in_dim=4,
    )
    keys = fnn.random.split(fnn.random.key(1), 3)
    kw = dict(epochs=3, batch_size=16, loss="cross_entropy", verbose=0)
    stacked, _ = fnn.fit(
        fnn.TrainState.create(fnn.init_many(keys, spec), fnn.optim.adam(0.01), key=fnn.random.key(2)), (x, y), **kw
    )
    for m, key in enumerate(keys):
        single, _ = fnn.fit(
            fnn.TrainState.create(fnn.init(key, spec), fnn.optim.adam(0.01), key=fnn.random.key(2)), (x, y), **kw
        )
        assert fnn.tree.equal(fnn.unstack(stacked.params)[m], single.params)


def test_capabilities_names_and_summary():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.layers.from_forward(gated, init=init_gated)], in_dim=3))
    node = params.layers[0]
    assert not fnn.layers.uses_key(node) and fnn.layers.stackable(node) and fnn.layers.writes_every_grad(node)
    assert (
        fnn.layers.layer_name(node) == "from_forward(gated)"
        and fnn.layers.details(node) == "fn gated, b (3,), w (3, 3)"
    )
    assert fnn.tree.node_fields(fnn.layers.FromForwardParams) == (("params",), ("fn", "name", "in_shape"))
    assert "FromForward" in fnn.summary(params) and "Total params: 12" in fnn.summary(params)


# ---------------------------------------------------------------- the loss from its value


@settings(max_examples=30, deadline=None)
@given(
    st.integers(1, 9),
    st.sampled_from([(), (3,)]),
    st.integers(1, 5),
    st.sampled_from([np.float32, np.float64]),
    st.integers(0, 2**16),
)
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
        fnn.losses.from_function(lambda p, t: anp.mean(t**2))(np.ones((2, 1)), np.zeros((2, 1)))
    with pytest.raises(ConfigError, match="must be a function"):
        fnn.losses.from_function("mse")


# ---------------------------------------------------------------- errors at the boundary


def build(layer, in_dim=3, dtype=np.float32):
    return fnn.init(fnn.random.key(0), fnn.Sequential([layer], in_dim=in_dim, dtype=dtype))


def test_bad_functions_are_refused_when_the_network_is_built():
    with pytest.raises(ConfigError, match="fn must be a function"):
        fnn.layers.from_forward(None)
    with pytest.raises(ConfigError, match="init must be a function"):
        fnn.layers.from_forward(tanh_gate, init={"w": np.ones(3)})
    with pytest.raises(ConfigError, match="name must be a non-empty string"):
        fnn.layers.from_forward(tanh_gate, name="")
    with pytest.raises(
        ConfigError, match="layer 0 \\(from_forward\\(tanh_gate\\)\\): init must return a dict.*a tuple"
    ):
        build(fnn.layers.from_forward(tanh_gate, init=lambda key, shape, dtype: (np.ones(3),)))
    with pytest.raises(ConfigError, match="init must return NumPy arrays; at 'w' it returned a list"):
        build(fnn.layers.from_forward(tanh_gate, init=lambda key, shape, dtype: {"w": [1.0]}))
    with pytest.raises(DtypeError, match="asked for float32 parameters but returned float64 at 'w'"):
        build(
            fnn.layers.from_forward(
                gated, init=lambda key, shape, dtype: {"w": np.ones((3, 3)), "b": np.zeros(3, dtype)}
            )
        )
    with pytest.raises(DtypeError, match="fn returned float64 outputs for float32 inputs"):
        build(fnn.layers.from_forward(lambda params, x: x * np.float64(2.0), name="doubles"))
    with pytest.raises(ConfigError, match="must return a batch.*returned shape \\(3,\\)"):
        build(fnn.layers.from_forward(lambda params, x: anp.sum(x, axis=0), name="sums_the_batch"))
    with pytest.raises(
        ConfigError, match="layer 0 .*from_forward\\(strips\\): fn returned an array of dtype object .*autograd.numpy"
    ):
        build(fnn.layers.from_forward(lambda params, x: np.asarray(x) * 2, name="strips"))


def test_saving_names_the_layer_and_a_flat_vector_round_trips(tmp_path):
    params = build(fnn.layers.from_forward(gated, init=init_gated))
    with pytest.raises(
        ConfigError,
        match="cannot save from_forward\\(gated\\) at .layers\\[0\\]: its static field 'fn' "
        "holds the function gated, and functions are not data",
    ):
        fnn.save(tmp_path / "model.npz", params)
    assert not list(tmp_path.iterdir())  # nothing written
    fnn.save(tmp_path / "flat.npz", fnn.tree.ravel(params)[0])
    again = fnn.tree.ravel(build(fnn.layers.from_forward(gated, init=init_gated)))[1](fnn.load(tmp_path / "flat.npz"))
    assert fnn.tree.equal(again, params)


def test_without_autograd_building_such_a_layer_names_the_extra():
    code = (
        "import sys; sys.modules['autograd'] = None\n"
        "import fnn\n"
        "for build in (lambda: fnn.layers.from_forward(lambda p, x: x),\n"
        "              lambda: fnn.losses.from_function(lambda p, y: p)):\n"
        "    try:\n"
        "        build()\n"
        "    except ImportError as e:\n"
        "        print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == 2 and all("pip install 'fnn[autodiff]'" in line for line in out), out
    assert "fnn.layers.from_forward(<lambda>)" in out[0] and "fnn.losses.from_function(<lambda>)" in out[1]


# ---------------------------------------------------------------- docs and benchmark still run


def test_the_readme_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("## A layer from its forward pass", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    exec(compile(code, "README.md", "exec"), {})


def test_the_autodiff_benchmark_runs():
    done = subprocess.run(
        [sys.executable, "benchmarks/autodiff.py", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "| from_forward" in done.stdout and "| fnn.Dense" in done.stdout
