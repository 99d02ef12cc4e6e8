"""fnn's layers against PyTorch's own: outputs and gradients (input and parameters) in float64.

Each test builds the same layer in both, with the same weights, runs a random batch of random
shape forward, backpropagates the same random upstream gradient (through an MSE-free sum
<y, g>), and compares everything to TOL relative.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import fnn
from fnn.layers import backward, forward
from fnn.testing import random_params

TOL = 1e-10
torch.set_default_dtype(torch.float64)


def shapes(min_rank=1, max_rank=3, max_size=6):
    return st.lists(st.integers(1, max_size), min_size=min_rank, max_size=max_rank).map(tuple)


def close(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    err = float(np.abs(a - b).max()) / scale if a.size else 0.0
    assert err <= TOL, f"{what}: relative error {err:.3g}"


def fnn_vjp(node, x, g):
    """fnn's output, parameter gradients (a node of the same type) and input gradient for upstream g."""
    y, r = forward(node, x, None, False)
    flat, unravel = fnn.tree.ravel(node)
    gbuf = np.zeros(flat.size, flat.dtype)
    gx = backward(node, r, g.copy(), unravel(gbuf), True)
    return y, unravel(gbuf), gx


def torch_vjp(module, x, g):
    xt = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    y = module(xt)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy() if xt.requires_grad else None


def draws(seed, *shapes_):
    keys = fnn.random.split(fnn.random.key(seed), len(shapes_))
    return [fnn.random.normal(k, s) for k, s in zip(keys, shapes_, strict=True)]


@settings(max_examples=30, deadline=None)
@given(shapes(), st.integers(1, 5), st.sampled_from([1e-5, 1e-3]), st.integers(0, 2**16))
def test_layer_norm_equals_torch(in_shape, n, eps, seed):
    x, scale, offset = draws(seed, (n, *in_shape), in_shape[-1:], in_shape[-1:])
    g = draws(seed + 1, (n, *in_shape))[0]
    node = fnn.layers.LayerNormParams(scale, offset, eps)
    module = torch.nn.LayerNorm(in_shape[-1], eps=eps)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(scale))
        module.bias.copy_(torch.tensor(offset))
    y, grads, gx = fnn_vjp(node, x, g)
    yt, gxt = torch_vjp(module, x, g)
    close(y, yt, "output")
    close(gx, gxt, "input gradient")
    close(grads.scale, module.weight.grad.numpy(), "scale gradient")
    close(grads.offset, module.bias.grad.numpy(), "offset gradient")


@settings(max_examples=30, deadline=None)
@given(shapes(), st.integers(1, 5), st.sampled_from([None, 1e-6]), st.integers(0, 2**16))
def test_rms_norm_equals_torch(in_shape, n, eps, seed):
    x, scale = draws(seed, (n, *in_shape), in_shape[-1:])
    g = draws(seed + 1, (n, *in_shape))[0]
    spec = fnn.RMSNorm(eps)
    node = fnn.layers.RMSNormParams(scale, fnn.layers.init_node(spec, None, in_shape, np.dtype(np.float64)).eps)
    module = torch.nn.RMSNorm(in_shape[-1], eps=eps)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(scale))
    y, grads, gx = fnn_vjp(node, x, g)
    yt, gxt = torch_vjp(module, x, g)
    close(y, yt, "output")
    close(gx, gxt, "input gradient")
    close(grads.scale, module.weight.grad.numpy(), "scale gradient")


@settings(max_examples=30, deadline=None)
@given(shapes(1, 2), st.integers(1, 5), st.integers(1, 9), st.integers(1, 4), st.integers(0, 2**16))
def test_embedding_equals_torch_with_repeated_ids(in_shape, n, num, dim, seed):
    table, g = draws(seed, (num, dim), (n, *in_shape, dim))
    ids = fnn.random.generator(fnn.random.key(seed)).integers(0, num, (n, *in_shape))
    node = fnn.layers.EmbeddingParams(table)
    module = torch.nn.Embedding(num, dim)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(table))
    y, grads, gx = fnn_vjp(node, ids, g)
    yt, _ = torch_vjp(module, ids, g)
    assert gx is None
    close(y, yt, "output")
    close(grads.table, module.weight.grad.numpy(), "table gradient")


@settings(max_examples=30, deadline=None)
@given(shapes(1, 3), st.integers(1, 5), st.integers(1, 6), st.booleans(), st.integers(0, 2**16))
def test_time_distributed_dense_equals_torch_linear(in_shape, n, units, use_bias, seed):
    x, w, b, g = draws(seed, (n, *in_shape), (in_shape[-1], units), (units,), (n, *in_shape[:-1], units))
    node = fnn.layers.DenseParams(w, b if use_bias else None)
    module = torch.nn.Linear(in_shape[-1], units, bias=use_bias)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(w.T))
        if use_bias:
            module.bias.copy_(torch.tensor(b))
    y, grads, gx = fnn_vjp(node, x, g)
    yt, gxt = torch_vjp(module, x, g)
    close(y, yt, "output")
    close(gx, gxt, "input gradient")
    close(grads.w, module.weight.grad.numpy().T, "weight gradient")
    if use_bias:
        close(grads.b, module.bias.grad.numpy(), "bias gradient")


@settings(max_examples=20, deadline=None)
@given(shapes(1, 3), st.integers(1, 4), st.integers(0, 2**16))
def test_a_pre_norm_residual_block_equals_torch(in_shape, n, seed):
    """fnn.Residual([LayerNorm, Dense, gelu(tanh), Dense]) against the same block in torch, end to end."""
    d = in_shape[-1]
    spec = fnn.Sequential([fnn.Residual([fnn.LayerNorm(), fnn.Dense(2 * d), fnn.Activation("tanh"), fnn.Dense(d)]),
                           fnn.Flatten()], in_shape=in_shape, dtype=np.float64)
    params = random_params(fnn.random.key(seed), spec)
    x = draws(seed, (n, *in_shape))[0]
    y = fnn.apply(params, x)
    t = fnn.random.normal(fnn.random.key(seed + 1), y.shape)
    value, grads = fnn.value_and_grad(params, (x, t), loss="mse")
    block = params.layers[0].block.layers
    ln, l1, l2 = torch.nn.LayerNorm(d), torch.nn.Linear(d, 2 * d), torch.nn.Linear(2 * d, d)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor(block[0].scale)); ln.bias.copy_(torch.tensor(block[0].offset))
        l1.weight.copy_(torch.tensor(block[1].w.T)); l1.bias.copy_(torch.tensor(block[1].b))
        l2.weight.copy_(torch.tensor(block[3].w.T)); l2.bias.copy_(torch.tensor(block[3].b))
    xt = torch.tensor(x)
    yt = (xt + l2(torch.tanh(l1(ln(xt))))).reshape(n, -1)
    loss = torch.mean((yt - torch.tensor(t)) ** 2)
    loss.backward()
    close(y, yt.detach().numpy(), "output")
    close(value, loss.item(), "loss")
    gb = grads.layers[0].block.layers
    close(gb[0].scale, ln.weight.grad.numpy(), "LayerNorm scale gradient")
    close(gb[1].w, l1.weight.grad.numpy().T, "first Dense gradient")
    close(gb[3].b, l2.bias.grad.numpy(), "last Dense bias gradient")
