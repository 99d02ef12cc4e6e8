"""A loss and the network's output are a pair: every output activation × every loss is either
refused before any work (with the output named and two ways out) or computes the loss it says."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fnn
import fnn.data
import fnn.testing
from fnn.errors import ConfigError
from fnn.layers.activations import ACTIVATIONS

LOSS_NAMES = sorted(fnn.losses.LOSSES)
OUTPUTS = sorted(ACTIVATIONS)

# The decisions, written out: (loss, last activation) pairs refused at every width, and those
# refused only over one output (a softmax over one column is the constant 1).
LOGIT_LOSSES = ("cross_entropy_from_logits", "binary_cross_entropy_from_logits")
REFUSED = (
    {("cross_entropy", a) for a in OUTPUTS if a != "softmax"}
    | {("binary_cross_entropy", a) for a in OUTPUTS if a not in ("sigmoid", "softmax")}
    | {(loss, a) for loss in LOGIT_LOSSES for a in ("softmax", "sigmoid")}
    | {("nll", a) for a in OUTPUTS if a != "log_softmax"}
)
REFUSED_OVER_ONE = {("cross_entropy", "softmax"), ("binary_cross_entropy", "softmax")}
CLASS_LOSSES = ("cross_entropy", "cross_entropy_from_logits", "nll")


def network(activation, k, dtype=np.float64):
    return fnn.init(fnn.random.key(3), fnn.mlp([4, 5, k], output=activation, dtype=dtype))


def batch(loss, k, n=6):
    x = fnn.random.normal(fnn.random.key(4), (n, 4))
    if loss in CLASS_LOSSES:
        return x, np.arange(n) % k
    if loss.startswith("binary"):
        return x, (fnn.random.uniform(fnn.random.key(5), (n, k)) > 0.5).astype(float)
    return x, fnn.random.normal(fnn.random.key(5), (n, k))


def reference(loss, out, y, k):
    """The loss by torch, from what the outputs mean for it (probabilities, logits, log-probabilities)."""
    t, yt = torch.tensor(out), torch.tensor(y)
    if loss == "cross_entropy":
        return F.nll_loss(torch.log(t), yt).item()
    if loss in ("cross_entropy_from_logits", "nll"):
        return (F.cross_entropy(t, yt) if loss == "cross_entropy_from_logits" else F.nll_loss(t, yt)).item()
    if loss == "binary_cross_entropy":
        return F.binary_cross_entropy(t, yt).item()
    if loss == "binary_cross_entropy_from_logits":
        return F.binary_cross_entropy_with_logits(t, yt).item()
    if loss == "mse":
        return F.mse_loss(t, yt).item()
    return F.huber_loss(t, yt).item()


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("activation", OUTPUTS)
@pytest.mark.parametrize("loss", LOSS_NAMES)
def test_every_output_and_loss_is_refused_with_the_way_out_or_computes_its_loss(loss, activation, k):
    params, (x, y) = network(activation, k), batch(loss, k)
    refused = (loss, activation) in REFUSED or (k == 1 and (loss, activation) in REFUSED_OVER_ONE)
    if refused:
        for call in (
            lambda: fnn.grad(params, (x, y), loss=loss),
            lambda: fnn.fit(
                fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0)),
                (x, y),
                epochs=1,
                batch_size=2,
                loss=loss,
                verbose=0,
            ),
        ):
            with pytest.raises(ConfigError) as e:
                call()
            message = str(e.value)
            layer = (
                f"Dense(5→{k})" if activation == "identity" else f"Activation({activation})"
            )  # mlp leaves identity out
            assert f"loss '{loss}'" in message and f"ends in {layer}" in message, message
            assert "Either" in message and ", or" in message, message  # the two ways out
        return
    value, _ = fnn.value_and_grad(params, (x, y), loss=loss, train=False)
    out = fnn.apply(params, x)
    assert np.isclose(value, reference(loss, out, y, k), rtol=1e-10, atol=1e-12), (value, reference(loss, out, y, k))
    assert fnn.testing.check_grads(params, (x, y), loss=loss, train=False) < 1e-6


def test_a_network_without_an_output_activation_is_named_as_logits():
    params = network(None, 3)
    with pytest.raises(ConfigError, match=r"ends in Dense\(5→3\) over 3 outputs: logits.*cross_entropy_from_logits"):
        fnn.grad(params, batch("cross_entropy", 3), loss="cross_entropy")


def test_a_last_layer_fnn_cannot_read_is_checked_by_value():
    """A user's layer at the end: the probability losses look at the numbers instead."""
    spec = fnn.Sequential([fnn.Dense(3), fnn.LayerNorm()], in_dim=4, dtype=np.float64)
    params = fnn.init(fnn.random.key(0), spec)
    x, y = batch("cross_entropy", 3)
    with pytest.raises(ConfigError, match=r"cross_entropy: y_hat must be probabilities.*cross_entropy_from_logits"):
        fnn.grad(params, (x, y), loss="cross_entropy")
    with pytest.raises(ConfigError, match=r"nll: y_hat must be log-probabilities"):
        fnn.grad(params, (x, y), loss="nll")
    with pytest.raises(ConfigError, match=r"binary_cross_entropy: y_hat must be probabilities in \[0, 1\]"):
        fnn.grad(params, (x, np.zeros((6, 3))), loss="binary_cross_entropy")
    fnn.grad(params, (x, y), loss="cross_entropy_from_logits")  # logits: anything goes


# ------------------------------------------------------------------ the findings' F cases, on digits

DIGITS = fnn.data.load_digits()


def fit_digits(output, loss, epochs=10, lr=1e-2):
    x, y = DIGITS
    s = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([64, 32, 10], output=output)), fnn.optim.adam(lr), key=fnn.random.key(2)
    )
    return fnn.fit(s, (x, y), epochs=epochs, batch_size=32, loss=loss, verbose=0)


@pytest.mark.parametrize(
    "output, words",
    [
        (None, ["logits (no output activation)", "output='softmax'", "loss='cross_entropy_from_logits'"]),  # case 46
        ("log_softmax", ["log-probabilities", "loss='nll'", "softmax"]),  # case 47
        (
            "sigmoid",
            ["Activation(sigmoid) over 10 outputs", "do not sum to 1", "softmax", "binary_cross_entropy"],
        ),  # case 109
    ],
)
def test_cross_entropy_on_an_output_that_is_not_probabilities_is_refused_before_training(output, words):
    with pytest.raises(ConfigError) as e:
        fit_digits(output, "cross_entropy", epochs=1)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert str(e.value).startswith("fit: loss 'cross_entropy' takes probabilities")


def test_the_two_ways_out_train_and_the_three_pairs_are_one_computation():
    """softmax + cross_entropy, no activation + cross_entropy_from_logits and log_softmax + nll train
    the same Dense layers on the same numbers: bit for bit the same run."""
    runs = [
        fit_digits(o, loss, epochs=3)
        for o, loss in (("softmax", "cross_entropy"), (None, "cross_entropy_from_logits"), ("log_softmax", "nll"))
    ]
    (s0, h0), *others = runs
    for s, h in others:
        assert all(
            np.array_equal(a, b) for a, b in zip(fnn.tree.leaves(s0.params), fnn.tree.leaves(s.params), strict=True)
        )
        assert np.array_equal(h0["loss"], h["loss"])
    x, y = DIGITS
    assert h0["loss"][-1] < 0.2 and fnn.metrics.accuracy(y, fnn.apply(s0.params, x)) > 0.95


def test_label_smoothing_equals_torch_and_trains():
    z = fnn.random.normal(fnn.random.key(0), (7, 4))
    y = np.array([0, 1, 2, 3, 0, 1, 2])
    zt = torch.tensor(z, requires_grad=True)
    for loss in (
        fnn.losses.CrossEntropy(from_logits=True, label_smoothing=0.2),
        fnn.losses.CrossEntropy(label_smoothing=0.2),
    ):
        out = z if loss.from_logits else np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        value, g = loss.value_and_grad(out, y)
        t = F.cross_entropy(zt, torch.tensor(y), label_smoothing=0.2)
        assert np.isclose(value, t.item(), rtol=1e-12)
        if loss.from_logits:
            assert np.allclose(g, torch.autograd.grad(t, zt)[0].numpy(), atol=1e-15)
    # fused after a softmax equals the loss on the logits
    params = network("softmax", 4)
    x = fnn.random.normal(fnn.random.key(1), (7, 4))
    logits = network(None, 4)
    a = fnn.value_and_grad(params, (x, y), loss=fnn.losses.CrossEntropy(label_smoothing=0.2))[0]
    b = fnn.value_and_grad(logits, (x, y), loss=fnn.losses.CrossEntropy(from_logits=True, label_smoothing=0.2))[0]
    assert a == b
    assert fnn.testing.check_grads(params, (x, y), loss=fnn.losses.CrossEntropy(label_smoothing=0.2)) < 1e-6
    with pytest.raises(ConfigError, match=r"label_smoothing must be a number in \[0, 1\)"):
        fnn.losses.CrossEntropy(label_smoothing=1.0)


def test_huber_equals_torch_and_is_quadratic_then_linear():
    d = fnn.random.normal(fnn.random.key(0), (6, 3)) * 3
    y = fnn.random.normal(fnn.random.key(1), (6, 3))
    dt = torch.tensor(d, requires_grad=True)
    for delta in (1.0, 0.3, 5.0):
        value, g = fnn.losses.Huber(delta=delta).value_and_grad(d, y)
        t = F.huber_loss(dt, torch.tensor(y), delta=delta)
        assert np.isclose(value, t.item(), rtol=1e-12)
        assert np.allclose(g, torch.autograd.grad(t, dt)[0].numpy(), atol=1e-15)
    assert fnn.losses.get("huber") == fnn.losses.Huber() and fnn.losses.Huber(delta=2.0).name == "huber(delta=2.0)"
    with pytest.raises(ConfigError, match="delta must be a finite number > 0"):
        fnn.losses.Huber(delta=0)
