"""fnn's layers against PyTorch's own: outputs and gradients (input and parameters) in float64.

Each test builds the same layer in both, with the same weights, runs a random batch of random
shape forward, backpropagates the same random upstream gradient (through an MSE-free sum
<y, g>), and compares everything to TOL relative.
"""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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
    return fnn_vjp_mode(node, x, g, False)


def fnn_vjp_mode(node, x, g, train):
    y, r = forward(node, x, None, train)
    flat, unravel = fnn.tree.ravel(node)
    gbuf = np.zeros(flat.size, flat.dtype)
    gstate = np.zeros(unravel.state_size, flat.dtype) if unravel.mask else None
    gx = backward(node, r, g.copy(), unravel(gbuf, gstate), True)
    return y, unravel(gbuf, gstate), gx


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
    spec = fnn.Sequential(
        [fnn.Residual([fnn.LayerNorm(), fnn.Dense(2 * d), fnn.Activation("tanh"), fnn.Dense(d)]), fnn.Flatten()],
        in_shape=in_shape,
        dtype=np.float64,
    )
    params = random_params(fnn.random.key(seed), spec)
    x = draws(seed, (n, *in_shape))[0]
    y = fnn.apply(params, x)
    t = fnn.random.normal(fnn.random.key(seed + 1), y.shape)
    value, grads = fnn.value_and_grad(params, (x, t), loss="mse")
    block = params.layers[0].block.layers
    ln, l1, l2 = torch.nn.LayerNorm(d), torch.nn.Linear(d, 2 * d), torch.nn.Linear(2 * d, d)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor(block[0].scale))
        ln.bias.copy_(torch.tensor(block[0].offset))
        l1.weight.copy_(torch.tensor(block[1].w.T))
        l1.bias.copy_(torch.tensor(block[1].b))
        l2.weight.copy_(torch.tensor(block[3].w.T))
        l2.bias.copy_(torch.tensor(block[3].b))
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


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from([(), (5,), (3, 4)]),
    st.integers(2, 6),
    st.integers(1, 4),
    st.sampled_from([0.1, 0.5, None]),
    st.integers(0, 2**16),
)
def test_batch_norm_equals_torch_over_several_training_steps_then_in_eval(spatial, n, c, momentum, seed):
    """Training-mode outputs and gradients (input, scale, offset), the running statistics after each of 3
    steps (torch's update, unbiased variance), then eval-mode output and gradient with those statistics."""
    spec = fnn.Sequential([fnn.BatchNorm(momentum=momentum)], in_shape=(*spatial, c), dtype=np.float64)
    bn = random_params(fnn.random.key(seed), spec).layers[0]  # random scale and offset; torch's initial statistics
    params = fnn.tree.pack(
        fnn.layers.SequentialParams(
            (fnn.layers.BatchNormParams(bn.scale, bn.offset, np.zeros(c), np.ones(c), np.zeros(()), momentum, 1e-5),),
            in_shape=(*spatial, c),
        )
    )
    module = (torch.nn.BatchNorm1d if len(spatial) < 2 else torch.nn.BatchNorm2d)(c, momentum=momentum)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(bn.scale))
        module.bias.copy_(torch.tensor(bn.offset))

    def channels_first(a):
        return np.moveaxis(a, -1, 1)

    state = fnn.TrainState.create(params, fnn.optim.sgd(0.0), key=fnn.random.key(0))
    for step in range(3):
        x, g = draws(seed + 10 * step, (n, *spatial, c), (n, *spatial, c))
        y = fnn.apply(state.params, x, train=True)
        grads = fnn.grad(state.params, (x, np.zeros_like(x)), loss=lambda out, t: (float(np.vdot(out, g)), g))  # noqa: B023 - used now
        module.train()
        module.zero_grad()
        xt = torch.tensor(channels_first(x), requires_grad=True)
        yt = module(xt)
        yt.backward(torch.tensor(channels_first(g)))
        close(y, np.moveaxis(yt.detach().numpy(), 1, -1), f"step {step} output")
        close(
            fnn.tree.ravel(grads)[0],
            np.concatenate([module.weight.grad.numpy(), module.bias.grad.numpy()]),
            f"step {step} scale and offset gradients",
        )
        state = fnn.opt_step(state, grads)
        new = state.params.layers[0]
        close(new.mean, module.running_mean.numpy(), f"step {step} running mean")
        close(new.var, module.running_var.numpy(), f"step {step} running var")
        assert int(new.count) == int(module.num_batches_tracked) == step + 1
    x, g = draws(seed + 99, (n, *spatial, c), (n, *spatial, c))
    module.eval()
    xt = torch.tensor(channels_first(x), requires_grad=True)
    yt = module(xt)
    yt.backward(torch.tensor(channels_first(g)))
    close(fnn.apply(state.params, x), np.moveaxis(yt.detach().numpy(), 1, -1), "eval output")
    _, grads, gx = fnn_vjp_mode(state.params.layers[0], x, g, False)
    close(gx, np.moveaxis(xt.grad.numpy(), 1, -1), "eval input gradient")
    assert fnn.tree.equal(fnn.tree.ravel_state(grads), fnn.tree.ravel_state(state.params))  # eval: stats unchanged


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([(), (4,), (2, 3)]), st.integers(2, 5), st.integers(1, 4), st.integers(0, 2**16))
def test_batch_norm_input_gradient_in_training_equals_torch(spatial, n, c, seed):
    x, g, scale, offset = draws(seed, (n, *spatial, c), (n, *spatial, c), (c,), (c,))
    node = fnn.layers.BatchNormParams(scale, offset, np.zeros(c), np.ones(c), np.zeros(()), 0.1, 1e-5)
    _, _, gx = fnn_vjp_mode(node, x, g, True)
    module = (torch.nn.BatchNorm1d if len(spatial) < 2 else torch.nn.BatchNorm2d)(c)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(scale))
        module.bias.copy_(torch.tensor(offset))
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    module(xt).backward(torch.tensor(np.moveaxis(g, -1, 1)))
    close(gx, np.moveaxis(xt.grad.numpy(), 1, -1), "training input gradient")
