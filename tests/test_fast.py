"""The fast paths against their NumPy references, bitwise: the compiled Dense + relu kernels (fnn._fast),
the in-place Dense + relu pairs of a plan, whole epochs with backend="numba", and the optimizer's
update split over two threads (fnn.optim._threads)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn
from fnn import backprop
from fnn.optim import _threads
from fnn.optim.adam import FLUSH_EVERY, _adam_numpy

numba = pytest.importorskip("numba", reason="the fast extra; the test extra installs it")
from fnn import _fast  # noqa: E402

DTYPES = st.sampled_from([np.float32, np.float64])
SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -1e-40]  # signed zeros, NaN, infinities, subnormals


def _values(dtype, shape):
    return hnp.arrays(
        dtype, shape, elements=st.one_of(st.sampled_from(SPECIAL), st.floats(-1e6, 1e6, width=np.finfo(dtype).bits))
    )


def _bits(a):
    return a.view(np.uint32 if a.dtype == np.float32 else np.uint64)


@st.composite
def _batch(draw):
    dtype = draw(DTYPES)
    n, k = draw(st.integers(1, 40)), draw(st.integers(1, 70))
    return dtype, draw(_values(dtype, (n, k))), draw(_values(dtype, (k,))), draw(_values(dtype, (n, k)))


@given(_batch())
@settings(max_examples=60)
def test_bias_relu_is_numpys_add_then_maximum_bitwise(case):
    dtype, y, b, _ = case
    with np.errstate(all="ignore"):  # inf + -inf: NaN, as NumPy gives it
        expected = np.maximum(y + b, np.zeros((), dtype))
        got = y.copy()
        _fast.kernels()[0](got, b, dtype(0))
    assert np.array_equal(_bits(got), _bits(expected))


@given(_batch())
@settings(max_examples=60)
def test_relu_grad_is_numpys_mask_and_multiply_bitwise(case):
    dtype, x, _, g = case
    zero = np.zeros((), dtype)
    with np.errstate(all="ignore"):
        y = np.maximum(x, zero)
        expected = np.multiply(g, x > zero)  # the NumPy vjp's mask, from the relu's input
        got = g.copy()
        _fast.kernels()[1](got, y, dtype(0))  # the kernel's, from its output
    assert np.array_equal(_bits(got), _bits(expected))


def test_the_kernels_compile_for_read_only_and_strided_arrays():
    bias_relu, relu_grad = _fast.kernels()
    y = np.arange(-6.0, 6.0).reshape(3, 4)
    b = np.ones(8)[::2]
    b.flags.writeable = False
    bias_relu(y, b, 0.0)
    assert y.tolist() == np.maximum(np.arange(-6.0, 6.0).reshape(3, 4) + 1, 0).tolist()
    g = np.ones((3, 8))[:, ::2]
    relu_grad(g, y, 0.0)
    assert g.tolist() == (y > 0).astype(float).tolist()


def test_plans_pair_each_hidden_dense_with_its_relu_and_nothing_else():
    params = fnn.init(
        fnn.random.key(0),
        fnn.Sequential(
            [
                fnn.Dense(4),
                fnn.Activation("relu"),
                fnn.Dense(4),
                fnn.Activation("tanh"),
                fnn.Dense(3),
                fnn.Activation("relu"),
                fnn.Dense(2),
                fnn.Activation("softmax"),
            ],
            in_dim=3,
        ),
    )
    assert backprop._dense_relu_pairs(params.layers) == [0, 4]
    plan = backprop.Plan.of(params, fnn.losses.get("cross_entropy"), "numba")
    assert plan.forwards[0] is backprop._dense_relu_numba and plan.forwards[1] is backprop._relu_after_dense
    assert plan.forwards[2] is not backprop._dense_relu_numba  # Dense then tanh: as it was
    assert len(plan.forwards) == 7  # the softmax is fused into the loss


@st.composite
def _nets(draw):
    widths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=3))
    d, k = draw(st.integers(1, 9)), draw(st.integers(2, 5))
    n = draw(st.integers(2, 40))
    batch = draw(st.integers(1, n))
    dtype = draw(DTYPES)
    bias = draw(st.booleans())
    hidden = draw(st.sampled_from(["relu", "tanh"]))
    return widths, d, k, n, batch, dtype, bias, hidden, draw(st.integers(0, 2**16))


@given(_nets())
@settings(max_examples=25)
def test_an_epoch_with_the_fast_kernels_is_bitwise_the_numpy_one(net):
    widths, d, k, n, batch, dtype, bias, hidden, seed = net
    layers = []
    for w in widths:
        layers += [fnn.Dense(w, use_bias=bias), fnn.Activation(hidden)]
    spec = fnn.Sequential([*layers, fnn.Dense(k), fnn.Activation("softmax")], in_dim=d, dtype=dtype)
    params = fnn.init(fnn.random.key(seed), spec)
    x = fnn.random.normal(fnn.random.key(seed + 1), (n, d), dtype=dtype)
    y = np.arange(n) % k
    states = [
        fnn.TrainState.create(params, fnn.optim.adam(0.05, backend=b), key=fnn.random.key(2))
        for b in ("numpy", "numba")
    ]
    (a, ma), (b, mb) = (fnn.train_epoch(s, (x, y), batch_size=batch, loss="cross_entropy") for s in states)
    fnn.tree.assert_equal(a.params, b.params)
    fnn.tree.assert_equal(a.opt_state, b.opt_state)
    assert np.array_equal(ma["step_loss"], mb["step_loss"])


def test_the_in_place_pair_is_bitwise_the_layer_by_layer_gradient():
    # The NumPy plan runs each Dense + relu pair in place; fnn.grad's explicit layers must agree bitwise.
    params = fnn.init(fnn.random.key(0), fnn.mlp([5, 7, 6, 3]))
    x = fnn.random.normal(fnn.random.key(1), (9, 5), dtype=np.float32)
    y = np.arange(9) % 3
    value, grads = fnn.value_and_grad(params, (x, y), loss="cross_entropy")
    loss = fnn.losses.get("cross_entropy")
    layers = params.layers
    h, residuals = x, []
    for layer in layers[:-1]:  # each layer's own forward, no pairing
        h, r = fnn.layers.forward(layer, h, None, True)
        residuals.append(r)
    v, g = loss.fused("softmax")(h, y)
    out = fnn.tree.map(np.zeros_like, params)
    outs = []
    for i in range(len(layers) - 2, -1, -1):
        leaf = out.layers[i]
        writable = fnn.tree.map(lambda a: a.copy(), leaf)
        g = fnn.layers.backward(layers[i], residuals[i], g, writable, i > 0)
        outs.append((i, writable))
    assert v == value
    for i, leaf in outs:
        fnn.tree.assert_equal(leaf, grads.layers[i])


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_split_over_two_threads_is_bitwise_one_call(backend, amsgrad, monkeypatch):
    n = 3 * _threads.MIN_SPLIT + 17  # long enough to split, with a ragged end
    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    g[::7] = 0.0  # exact zeros: moments that decay into subnormals and are flushed
    opt = fnn.optim.adam(0.01, amsgrad=amsgrad, backend=backend)
    results = []
    for split in (True, False):
        monkeypatch.setattr(_threads, "_SPLIT", split)
        q, s = p, opt.init(p)
        for _ in range(FLUSH_EVERY + 1):  # one flushing step included
            q, s = opt.update(q, g, s)
        results.append((q, s))
    fnn.tree.assert_equal(results[0][1], results[1][1])
    assert np.array_equal(results[0][0], results[1][0])


def test_split_run_raises_the_helpers_error_and_covers_every_index(monkeypatch):
    monkeypatch.setattr(_threads, "_SPLIT", True)
    seen = np.zeros(_threads.MIN_SPLIT * 2 + 5, int)
    calls = []

    def mark(start, stop):
        calls.append((start, stop))
        seen[start:stop] += 1

    _threads.split_run(mark, seen.size)
    assert (seen == 1).all() and len(calls) == 2

    def fail(start, stop):
        if start > 0:
            raise ValueError("upper half")

    with pytest.raises(ValueError, match="upper half"):
        _threads.split_run(fail, seen.size)


@pytest.mark.parametrize(
    "env, split",
    [
        ({}, False),
        ({"OPENBLAS_THREAD_TIMEOUT": "4"}, True),
        ({"OPENBLAS_THREAD_TIMEOUT": "28"}, False),
        ({"OPENBLAS_NUM_THREADS": "1"}, False),
        ({"OPENBLAS_THREAD_TIMEOUT": "x"}, False),
    ],
)
def test_the_split_waits_for_blas_to_leave_a_core_free(env, split):
    assert _threads._blas_leaves_a_core(env) is split


def test_the_numpy_kernel_splits_on_block_boundaries_or_not_with_the_same_bits():
    n = _threads.MIN_SPLIT + 1000
    rng = np.random.default_rng(1)
    p, g, mu, nu = (rng.standard_normal(n).astype(np.float32) for _ in range(4))
    nu = np.abs(nu)
    outs = [tuple(np.empty_like(p) for _ in range(3)) for _ in range(2)]
    _adam_numpy(p, g, mu, nu, None, *outs[0], None, 0.9, 0.999, 1e-8, -1e-3, False)
    half = 12345  # a split that cuts a block
    for b in (slice(0, half), slice(half, n)):
        _adam_numpy(p[b], g[b], mu[b], nu[b], None, *(o[b] for o in outs[1]), None, 0.9, 0.999, 1e-8, -1e-3, False)
    for a, b in zip(*outs, strict=True):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------ the compiled epoch (fnn._fast_epoch)

RTOL = {np.float32: 2e-4, np.float64: 1e-10}  # after one epoch: the loops add in another order than BLAS


@st.composite
def _mlps(draw):
    dtype = draw(DTYPES)
    hidden = draw(st.lists(st.integers(1, 12), min_size=0, max_size=3))
    widths = [draw(st.integers(1, 9)), *hidden, draw(st.integers(2, 5))]
    n = draw(st.integers(2, 50))
    return (
        dtype,
        widths,
        n,
        draw(st.integers(1, n)),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.booleans()),
        draw(st.integers(0, 2**16)),
    )


def _mlp_problem(dtype, widths, n, bias, seed):
    layers = []
    for w in widths[1:-1]:
        layers += [fnn.Dense(w, use_bias=bias), fnn.Activation("relu")]
    spec = fnn.Sequential(
        [*layers, fnn.Dense(widths[-1], use_bias=bias), fnn.Activation("softmax")], in_dim=widths[0], dtype=dtype
    )
    params = fnn.init(fnn.random.key(seed), spec)
    x = fnn.random.normal(fnn.random.key(seed + 1), (n, widths[0]), dtype=dtype)
    return params, x, np.arange(n) % widths[-1]


@given(_mlps())
@settings(max_examples=30)
def test_the_compiled_epoch_agrees_with_the_numpy_fold(case):
    dtype, widths, n, batch, bias, shuffle, drop_last, seed = case
    params, x, y = _mlp_problem(dtype, widths, n, bias, seed)
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(seed))
    state = fnn.train_epoch(state, (x, y), batch_size=batch, loss="cross_entropy")[0]  # moments and count not zero
    kw = dict(batch_size=batch, loss="cross_entropy", shuffle=shuffle, drop_last=drop_last)
    ref, mref = fnn.train_epoch(state, (x, y), **kw)
    got, mgot = fnn.train_epoch(state, (x, y), compiled=True, **kw)
    assert (got.step, got.opt_state.count, got.key) == (ref.step, ref.opt_state.count, ref.key)
    assert mgot["steps"] == mref["steps"]
    rtol = RTOL[dtype]
    arrays = [[a for a in fnn.tree.leaves(s) if isinstance(a, np.ndarray)] for s in (got, ref)]
    for a, b in zip(*arrays, strict=True):
        assert a.dtype == b.dtype and not a.flags.writeable
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.abs(b).max(initial=0))))
    np.testing.assert_allclose(mgot["step_loss"], mref["step_loss"], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(mgot["loss"], mref["loss"], rtol=rtol)


def test_the_compiled_epoch_continues_where_the_fold_would():
    params, x, y = _mlp_problem(np.float64, [6, 8, 3], 40, True, 0)
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(1))
    fold = state
    compiled = state
    for _ in range(3):
        fold = fnn.train_epoch(fold, (x, y), batch_size=7, loss="cross_entropy")[0]
        compiled = fnn.train_epoch(compiled, (x, y), batch_size=7, loss="cross_entropy", compiled=True)[0]
    assert compiled.step == fold.step == 18
    np.testing.assert_allclose(fnn.tree.ravel(compiled.params)[0], fnn.tree.ravel(fold.params)[0], rtol=1e-10)
    # and its state trains on in the fold, and is left unchanged by it
    before = fnn.tree.map(np.copy, compiled)
    fnn.train_epoch(compiled, (x, y), batch_size=7, loss="cross_entropy")
    fnn.tree.assert_equal(before, compiled)


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda p, o: (p, fnn.optim.sgd(0.1)), "the optimizer Sgd"),
        (lambda p, o: (p, fnn.optim.adam(0.1, amsgrad=True)), "no AMSGrad"),
        (
            lambda p, o: (fnn.init(fnn.random.key(0), fnn.mlp([4, 5, 3], hidden="tanh")), o),
            "activations other than relu",
        ),
        (lambda p, o: (fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([4, 5, 3])), o), "a stack"),
    ],
)
def test_the_compiled_epoch_names_what_it_does_not_support(change, words):
    params, opt = change(fnn.init(fnn.random.key(0), fnn.mlp([4, 5, 3])), fnn.optim.adam(0.1))
    state = fnn.TrainState.create(params, opt, key=fnn.random.key(1))
    with pytest.raises(fnn.errors.ConfigError, match=words):
        fnn.train_epoch(
            state, (np.ones((6, 4), np.float32), np.arange(6) % 3), batch_size=2, loss="cross_entropy", compiled=True
        )


def test_the_compiled_epoch_refuses_l2_and_logits_losses_and_a_non_bool():
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 5, 3]))
    state = fnn.TrainState.create(params, fnn.optim.adam(0.1), key=fnn.random.key(1))
    data = (np.ones((6, 4), np.float32), np.arange(6) % 3)
    with pytest.raises(fnn.errors.ConfigError, match="l2"):
        fnn.train_epoch(state, data, batch_size=2, loss="cross_entropy", l2=0.1, compiled=True)
    with pytest.raises(fnn.errors.ConfigError, match="compiled must be True or False"):
        fnn.train_epoch(state, data, batch_size=2, loss="cross_entropy", compiled="yes")


def test_a_non_finite_loss_in_the_compiled_epoch_raises_with_the_last_finite_state():
    params, x, y = _mlp_problem(np.float32, [4, 6, 3], 64, True, 3)
    state = fnn.TrainState.create(params, fnn.optim.adam(1e30), key=fnn.random.key(1))  # params blow up at once
    x = x * np.float32(1e18)
    with np.errstate(all="ignore"):
        with pytest.raises(fnn.errors.NonFiniteError, match="the loss became") as e:
            fnn.train_epoch(state, (x, y), batch_size=4, loss="cross_entropy", compiled=True)
    good = e.value.state
    assert np.isfinite(fnn.tree.ravel(good.params)[0]).all() and good.step < 16
    assert good.opt_state.count == good.step
