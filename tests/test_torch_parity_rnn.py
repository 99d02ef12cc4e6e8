"""fnn's SimpleRNN, GRU and LSTM against torch.nn.RNN, GRU and LSTM: outputs and every gradient in float64.

Each case builds the layer in fnn with random parameters (biases included, both biases of a
gate different), moves them into the torch module with fnn.layers.recurrent.to_torch, runs a
random batch forward, backpropagates the same random upstream gradient, and compares the
output, the input gradient and the gradient of every torch parameter to TOL relative, over
random sizes (T from 1 to 50), one and two directions, return_sequences both ways, with and
without padding. Padded fnn sequences (right-padded with the mask value) are compared with
torch's packed sequences (pack_padded_sequence with the lengths): torch's output there is
zero, as fnn's, and torch's h_n is the state after each sequence's own last step.

``python tests/test_torch_parity_rnn.py [cases]`` sweeps random cases and prints the count and
the worst error of every compared quantity (what the README reports).
"""

import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.layers import backward, forward
from fnn.layers.recurrent import to_torch
from fnn.testing import random_params

TOL = 1e-10
torch.set_default_dtype(torch.float64)

SPECS = {"SimpleRNN": fnn.SimpleRNN, "GRU": fnn.GRU, "LSTM": fnn.LSTM}
MODULES = {"SimpleRNN": torch.nn.RNN, "GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM}


def errors(kind, hidden, steps, n, d, *, directions, sequences, lengths=None, activation="tanh", seed=0):
    """Relative errors {quantity: error} of fnn against torch on one random case."""
    options = {
        "return_sequences": sequences,
        "bidirectional": directions == 2,
        "mask_value": None if lengths is None else 0.0,
    }
    if kind == "SimpleRNN":
        options["activation"] = activation
    spec = fnn.Sequential([SPECS[kind](hidden, **options)], in_shape=(steps, d), dtype=np.float64)
    node = random_params(fnn.random.key(seed), spec).layers[0]
    x = fnn.random.normal(fnn.random.key(seed + 1), (n, steps, d))
    if lengths is not None:
        for i, length in enumerate(lengths):
            x[i, length:] = 0.0
    y, saved = forward(node, x, None, False)
    g = fnn.random.normal(fnn.random.key(seed + 2), y.shape)
    flat, unravel = fnn.tree.ravel(node)
    gbuf = np.zeros(flat.size)
    gx = backward(node, saved, g.copy(), unravel(gbuf), True)
    grads = to_torch(unravel(gbuf))

    kwargs = {"batch_first": True, "bidirectional": directions == 2}
    if kind == "SimpleRNN":
        kwargs["nonlinearity"] = activation
    module = MODULES[kind](d, hidden, **kwargs)
    module.load_state_dict({k: torch.tensor(v) for k, v in to_torch(node).items()})
    xt = torch.tensor(x, requires_grad=True)
    if lengths is None:
        out, h_n = module(xt)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False
        )
        out, h_n = module(packed)
        out = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=steps)[0]
    if kind == "LSTM":
        h_n = h_n[0]
    yt = out if sequences else h_n.permute(1, 0, 2).reshape(n, -1)  # (n, D·H): forward, then reverse
    yt.backward(torch.tensor(g))

    found = {"output": relative(y, yt.detach().numpy()), "input gradient": relative(gx, xt.grad.numpy())}
    for name, p in module.named_parameters():
        found[name.replace("_l0", "")] = relative(grads[name], p.grad.numpy())
    return found


def relative(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, f"shapes {a.shape} and {b.shape}"
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    return float(np.abs(a - b).max()) / scale if a.size else 0.0


@st.composite
def cases(draw, kind=None):
    kind = kind or draw(st.sampled_from(sorted(SPECS)))
    steps, n = draw(st.integers(1, 50)), draw(st.integers(1, 5))
    padded = draw(st.booleans())
    lengths = draw(st.lists(st.integers(1, steps), min_size=n, max_size=n)) if padded else None
    return {
        "kind": kind,
        "hidden": draw(st.integers(1, 6)),
        "steps": steps,
        "n": n,
        "d": draw(st.integers(1, 4)),
        "directions": draw(st.sampled_from([1, 2])),
        "sequences": draw(st.booleans()),
        "lengths": lengths,
        "activation": draw(st.sampled_from(["tanh", "relu"])),
        "seed": draw(st.integers(0, 2**16)),
    }


def run(case):
    c = dict(case)
    return errors(c.pop("kind"), c.pop("hidden"), c.pop("steps"), c.pop("n"), c.pop("d"), **c)


@pytest.mark.parametrize("kind", sorted(SPECS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_recurrent_layers_equal_torch(kind, data):
    case = data.draw(cases(kind))
    found = run(case)
    bad = {k: v for k, v in found.items() if not v <= TOL}
    assert not bad, f"{case}: {bad}"


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_a_thousand_steps_equal_torch(kind):
    found = errors(kind, 4, 1000, 3, 2, directions=2, sequences=True, lengths=[1000, 400, 1], seed=5)
    assert max(found.values()) <= TOL, found


def test_a_bidirectional_gru_flattened_into_dense_equals_torch_end_to_end():
    """fnn.Flatten after a bidirectional GRU orders (t, direction, unit), as torch's output.reshape(n, -1)."""
    steps, d, hidden, n = 7, 3, 4, 5
    spec = fnn.Sequential(
        [fnn.GRU(hidden, return_sequences=True, bidirectional=True), fnn.Flatten(), fnn.Dense(3)],
        in_shape=(steps, d),
        dtype=np.float64,
    )
    params = random_params(fnn.random.key(0), spec)
    x, t = fnn.random.normal(fnn.random.key(1), (n, steps, d)), fnn.random.normal(fnn.random.key(2), (n, 3))
    value, grads = fnn.value_and_grad(params, (x, t), loss="mse")
    gru = torch.nn.GRU(d, hidden, batch_first=True, bidirectional=True)
    gru.load_state_dict({k: torch.tensor(v) for k, v in to_torch(params.layers[0]).items()})
    dense = torch.nn.Linear(steps * 2 * hidden, 3)
    with torch.no_grad():
        dense.weight.copy_(torch.tensor(params.layers[2].w.T))
        dense.bias.copy_(torch.tensor(params.layers[2].b))
    loss = torch.mean((dense(gru(torch.tensor(x))[0].reshape(n, -1)) - torch.tensor(t)) ** 2)
    loss.backward()
    assert relative(value, loss.item()) <= TOL
    assert relative(grads.layers[2].w, dense.weight.grad.numpy().T) <= TOL
    mine = to_torch(grads.layers[0])
    for name, p in gru.named_parameters():
        assert relative(mine[name], p.grad.numpy()) <= TOL, name


def main(count: int) -> None:
    """Sweep ``count`` random cases per layer type; print the worst error of every quantity."""
    import hypothesis

    for kind in sorted(SPECS):
        worst: dict[str, float] = {}
        seen = []

        @settings(
            max_examples=count,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @given(cases(kind))
        def sweep(case):
            seen.append(case)  # noqa: B023 - sweep() runs in this iteration
            for k, v in run(case).items():
                worst[k] = max(worst.get(k, 0.0), v)  # noqa: B023

        sweep()
        padded = sum(c["lengths"] is not None for c in seen)
        top = max(worst.values())
        print(
            f"{kind}: {len(seen)} cases ({padded} padded, T {min(c['steps'] for c in seen)}-"
            f"{max(c['steps'] for c in seen)}), worst {top:.2e}: "
            + ", ".join(f"{k} {v:.1e}" for k, v in sorted(worst.items()))
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
