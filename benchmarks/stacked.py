"""K seeds in one pass: a stack of K networks (``fnn.init_many``) against the same K trained one
after another, on digits (1,797 rows × 64 features, shipped with fnn).

Each cell trains K networks of 64-H-10 (ReLU, softmax cross-entropy, Adam(1e-3), float32) for
``--epochs`` epochs with ``fnn.train_epoch``; "sequential" runs K single-network states in turn,
"stacked" one state holding all K (same batches, the matrix products batched by ``np.matmul``).
The two give bitwise the same members (tests/test_stacked.py); this measures only time. Each
contender is warmed up once, then timed ``--reps`` times, interleaved; the best is reported.

Run (from the repo root):

    python benchmarks/stacked.py              # K = 8, 32; H = 64, 256; batch 32 and 128
    python benchmarks/stacked.py --quick      # K = 8, H = 64, batch 32, one repetition
    python benchmarks/stacked.py --backend numba   # Adam's fused kernel (the fast extra)
"""

from __future__ import annotations

import os

THREADS = 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fnn, not an installed one
import fnn  # noqa: E402


def parse_ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t]


def states(k: int, hidden: int, backend: str) -> tuple[list, fnn.TrainState]:
    spec = fnn.mlp([64, hidden, 10])
    keys = fnn.random.split(fnn.random.key(0), k)
    opt = fnn.optim.adam(1e-3, backend=backend)
    train_key = fnn.random.key(1)
    singles = [fnn.TrainState.create(fnn.init(key, spec), opt, key=train_key) for key in keys]
    return singles, fnn.TrainState.create(fnn.init_many(keys, spec), opt, key=train_key)


def run_sequential(singles: list, data: tuple, batch: int, epochs: int) -> float:
    start = time.perf_counter()
    for s in singles:
        for _ in range(epochs):
            s, _ = fnn.train_epoch(s, data, batch_size=batch, loss="cross_entropy")
    return time.perf_counter() - start


def run_stacked(stacked: fnn.TrainState, data: tuple, batch: int, epochs: int) -> float:
    start = time.perf_counter()
    s = stacked
    for _ in range(epochs):
        s, _ = fnn.train_epoch(s, data, batch_size=batch, loss="cross_entropy")
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="K=8, H=64, batch 32, one repetition")
    ap.add_argument("--members", type=parse_ints, default=[8, 32], help="comma-separated K (default 8,32)")
    ap.add_argument(
        "--hidden", type=parse_ints, default=[64, 256], help="comma-separated hidden widths (default 64,256)"
    )
    ap.add_argument(
        "--batches", type=parse_ints, default=[32, 128], help="comma-separated batch sizes (default 32,128)"
    )
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timed run (default 3)")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions, best taken (default 3)")
    ap.add_argument("--backend", choices=["numpy", "numba"], default="numpy", help="Adam's kernel (default numpy)")
    args = ap.parse_args()
    if args.quick:
        args.members, args.hidden, args.batches, args.reps = [8], [64], [32], 1
    data = fnn.data.load_digits()
    rows = []
    for batch in args.batches:
        for hidden in args.hidden:
            for k in args.members:
                singles, stacked = states(k, hidden, args.backend)
                run_sequential(singles, data, batch, 1)  # warm-up: caches, allocator, numba compilation
                run_stacked(stacked, data, batch, 1)
                seq, stk = [], []
                for _ in range(args.reps):
                    seq.append(run_sequential(singles, data, batch, args.epochs))
                    stk.append(run_stacked(stacked, data, batch, args.epochs))
                rows.append((batch, hidden, k, min(seq), min(stk)))
                print(
                    f"  batch {batch} H {hidden} K {k}: sequential {min(seq):.3f} s, stacked {min(stk):.3f} s",
                    flush=True,
                )
    print()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
        f"threads limited to {THREADS}."
    )
    print(
        f"Versions: Python {platform.python_version()}, NumPy {np.__version__}, fnn {fnn.__version__}; "
        f"Adam backend {args.backend}."
    )
    print(f"digits 1,797 rows, 64-H-10 float32, {args.epochs} epochs per run, best of {args.reps}.")
    print()
    print("| batch | hidden H | K | K one after another | stacked | speed-up |")
    print("|---|---|---|---|---|---|")
    for batch, hidden, k, seq, stk in rows:
        print(f"| {batch} | {hidden} | {k} | {seq:.3f} s | {stk:.3f} s | {seq / stk:.2f}× |")


if __name__ == "__main__":
    main()
