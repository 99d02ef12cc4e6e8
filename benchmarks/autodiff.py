"""What autograd's tracing costs: a ``from_forward`` layer computing ``x @ w + b`` against ``fnn.Dense``.

One forward + backward of the layer alone (the layer's own ``forward`` and ``backward``, input
gradient included, as for a layer in the middle of a network), then the forward alone in
inference mode (untraced), and one ``fnn.value_and_grad`` of a small network holding the layer.
Each time is the best of 7 repeats, over 3 rounds that alternate the two layers (so that a
busy machine slows both alike). Run with one BLAS thread (OPENBLAS_NUM_THREADS=1) for steady numbers.

Run: python benchmarks/autodiff.py [--batch 128] [--sizes 256 128] [--rounds 3] [--quick]
"""

import argparse
import timeit

import numpy as np

import fnn


def affine(params, x):
    return x @ params["w"] + params["b"]


def affine_init(units):
    glorot = fnn.initializers.get("glorot_uniform")

    def init(key, in_shape, dtype):
        return {"w": glorot(key, (in_shape[-1], units), dtype), "b": np.zeros(units, dtype)}

    return init


def best(fn, repeat: int) -> float:
    n = timeit.Timer(fn).autorange()[0] if repeat > 1 else 1  # --quick: one call, a smoke test
    return min(timeit.repeat(fn, number=n, repeat=repeat)) / n


def layer_timings(node, x: np.ndarray, repeat: int) -> tuple[float, float]:
    y, _ = fnn.layers.forward(node, x, None, True)
    g = np.ones_like(y)
    out = fnn.tree.map(np.empty_like, node)

    def step():
        y, residual = fnn.layers.forward(node, x, None, True)
        fnn.layers.backward(node, residual, g.copy(), out, True)

    return best(step, repeat), best(lambda: fnn.layers.forward(node, x, None, False), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs=2, default=(256, 128), metavar=("IN", "OUT"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (a smoke test)")
    args = parser.parse_args()
    batch, (d_in, d_out), repeat, rounds = (
        (8, (16, 8), 1, 1) if args.quick else (args.batch, args.sizes, 7, args.rounds)
    )

    x = fnn.random.normal(fnn.random.key(1), (batch, d_in), dtype=np.float32)
    y = fnn.random.normal(fnn.random.key(2), (batch, 10), dtype=np.float32)
    layers = {
        "fnn.Dense": fnn.Dense(d_out),
        "from_forward(affine)": fnn.layers.from_forward(affine, init=affine_init(d_out)),
    }
    cases = {}
    for name, layer in layers.items():
        node = fnn.init(fnn.random.key(0), fnn.Sequential([layer], in_dim=d_in)).layers[0]
        net = fnn.init(
            fnn.random.key(0),
            fnn.Sequential([fnn.Dense(d_in), layer, fnn.Activation("tanh"), fnn.Dense(10)], in_dim=d_in),
        )
        cases[name] = (node, net)
    times = {name: [np.inf] * 3 for name in layers}
    for _ in range(rounds):
        for name, (node, net) in cases.items():
            now = (*layer_timings(node, x, repeat), best(lambda: fnn.value_and_grad(net, (x, y), loss="mse"), repeat))  # noqa: B023 - timed now, in this iteration
            times[name] = [min(a, b) for a, b in zip(times[name], now, strict=True)]
    print(f"batch {batch}, {d_in}→{d_out}, float32 (best of {repeat} repeats × {rounds} rounds)\n")
    print("| layer | forward + backward | forward, inference | value_and_grad of Dense(in)-layer-tanh-Dense(10) |")
    print("|---|---:|---:|---:|")
    for name, (train, infer, whole) in times.items():
        print(f"| {name} | {train * 1e6:.1f} µs | {infer * 1e6:.1f} µs | {whole * 1e6:.1f} µs |")


if __name__ == "__main__":
    main()
