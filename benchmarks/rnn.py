"""Seconds per training epoch of recurrent networks: fnn's ``train_epoch`` against PyTorch CPU, in one process.

Two cases, float32, softmax cross-entropy over 10 random labels, Adam(lr=1e-3), one shuffled
epoch that keeps the last, shorter batch, BLAS/OpenMP threads limited to 2 for both:

- (a) ``GRU(64)`` over ``(n=4096, T=50, d=16)``, its last state into ``Dense(10)``, batch 128:
  a cell large enough for the matrix products to matter. Target: fnn at most 1.5× PyTorch.
- (b) a bidirectional ``GRU(6, return_sequences=True)`` over ``(n=4000, T=40, d=1)``,
  flattened (40 × 12 = 480) into ``Dense(10)``, batch 100: a tiny cell, where the cost is
  the work per time step, not arithmetic. Target: fnn faster than PyTorch.
- (c) ``LSTM(64)`` as (a), for information: PyTorch runs its CPU LSTM as one fused oneDNN
  kernel (its per-step cost below is a microsecond), its GRU as separate operations.

On a busy machine PyTorch's two OpenMP threads wait for each other (an epoch of (b) took 1 to
39 s instead of 0.3 while other processes used 1.2-1.6 cores): read the load in the header, and
compare with ``--threads 1`` too.

fnn: ``fnn.train_epoch(state, (x, y), batch_size=B, loss="cross_entropy")`` on a
``fnn.Sequential`` with ``fnn.optim.adam(1e-3)``. PyTorch: ``nn.GRU(batch_first=True)`` and
``nn.Linear``, ``nn.CrossEntropyLoss``, ``torch.optim.Adam``, a loop over slices of
``torch.randperm`` indexing preallocated tensors, ``torch.set_num_threads(2)``. Both start
from the same weights (fnn's, moved with ``fnn.layers.recurrent.to_torch``), and before any
timing the script checks that the two compute the same first loss. Each contender is warmed
up with one epoch and then timed R times, round-robin (best of R), so that drift on a shared
machine hits both alike; the header reports how much CPU other processes used meanwhile, and
``--wait-idle`` waits for quiet before each run and redoes disturbed runs.

**Per-step cost.** The time of one forward and backward pass of the layer alone, at T and 2T
steps on a batch of one sample with hidden 1 (no arithmetic to speak of), gives the cost of a
time step beyond the arithmetic: Python and NumPy's per-call work, what (b) is made of. The
same for torch's modules (its C++ loop and autograd's nodes per step).

Run (from the repo root):

    python benchmarks/rnn.py                  # both cases, best of 5, and the per-step cost
    python benchmarks/rnn.py --quick          # small data, one repetition (seconds)
    python benchmarks/rnn.py --wait-idle 60   # on a shared machine: wait for quiet before each run
"""

from __future__ import annotations

import os
import sys

# --threads N (default 2), read before numpy (and torch) are imported: the BLAS and OpenMP pools are
# sized at load time.
THREADS = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv[:-1] else 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import gc  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import fnn  # noqa: E402
from fnn.layers import backward, forward  # noqa: E402
from fnn.layers.recurrent import to_torch  # noqa: E402

LR = 1e-3
CLASSES = 10
CASES = {  # name: (layer, rows, steps, features, hidden, bidirectional, return_sequences, batch, target)
    "a": ("GRU", 4096, 50, 16, 64, False, False, 128, "≤ 1.5× PyTorch"),
    "b": ("GRU", 4000, 40, 1, 6, True, True, 100, "faster than PyTorch"),
    "c": ("LSTM", 4096, 50, 16, 64, False, False, 128, "none (for information)"),
}
TITLES = {
    "a": "(a) GRU(64), (4096, 50, 16), batch 128",
    "b": "(b) bidirectional GRU(6) → Flatten → Dense(10), (4000, 40, 1), batch 100",
    "c": "(c) LSTM(64), as (a)",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the two trainers


def make_data(rows: int, steps: int, features: int) -> tuple[np.ndarray, np.ndarray]:
    kx, ky = fnn.random.split(fnn.random.key(0))
    x = fnn.random.normal(kx, (rows, steps, features), dtype=np.float32)
    return x, fnn.random.generator(ky).integers(0, CLASSES, rows)


def fnn_spec(
    layer: str, steps: int, features: int, hidden: int, bidirectional: bool, sequences: bool
) -> fnn.Sequential:
    layers = [getattr(fnn, layer)(hidden, bidirectional=bidirectional, return_sequences=sequences)]
    layers += [fnn.Flatten()] if sequences else []
    return fnn.Sequential([*layers, fnn.Dense(CLASSES), fnn.Activation("softmax")], in_shape=(steps, features))


def make_fnn(params, x, y, batch):
    state = [fnn.TrainState.create(params, fnn.optim.adam(LR), key=fnn.random.key(1))]

    def run() -> None:
        state[0], _ = fnn.train_epoch(state[0], (x, y), batch_size=batch, loss="cross_entropy")

    return run


def torch_model(params, sequences: bool):
    import torch

    rnn, dense = params.layers[0], params.layers[-2]
    hidden, directions = rnn.hidden, rnn.directions
    lstm = isinstance(rnn, fnn.layers.LSTMParams)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = (torch.nn.LSTM if lstm else torch.nn.GRU)(
                rnn.w_ih.shape[0], hidden, batch_first=True, bidirectional=directions == 2
            )
            self.fc = torch.nn.Linear(dense.w.shape[0], CLASSES)

        def forward(self, xb):
            out, h_n = self.rnn(xb)
            h_n = h_n[0] if lstm else h_n
            z = out.reshape(xb.shape[0], -1) if sequences else h_n.permute(1, 0, 2).reshape(xb.shape[0], -1)
            return self.fc(z)

    net = Net()
    net.rnn.load_state_dict({k: torch.tensor(v) for k, v in to_torch(rnn).items()})
    with torch.no_grad():
        net.fc.weight.copy_(torch.tensor(dense.w.T))
        net.fc.bias.copy_(torch.tensor(dense.b))
    return net


def make_torch(params, x, y, batch, sequences):
    import torch

    torch.set_num_threads(THREADS)
    net = torch_model(params, sequences)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    n = x.shape[0]

    def run() -> None:
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            loss.item()

    return run


def check_same_loss(params, x, y, sequences) -> float:
    """fnn's and torch's loss on the first 64 rows from the same weights; exits if they differ."""
    import torch

    ours = float(fnn.value_and_grad(params, (x[:64], y[:64]), loss="cross_entropy")[0])
    with torch.no_grad():
        theirs = float(
            torch.nn.CrossEntropyLoss()(
                torch_model(params, sequences)(torch.from_numpy(x[:64])), torch.from_numpy(y[:64].astype(np.int64))
            )
        )
    if not math.isclose(ours, theirs, rel_tol=1e-5):
        sys.exit(f"fnn's loss {ours} differs from torch's {theirs} on the same weights: the comparison is off")
    return abs(ours - theirs) / abs(theirs)


# ------------------------------------------------------------------ timing on a shared machine

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
BACKGROUND: list[float] = []  # other processes' CPU use during each timed run, in cores


def _busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields[:8]) - fields[3] - (fields[4] if len(fields) > 4 else 0)) / _TICK


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


def wait_idle(limit: float) -> None:
    """Wait up to ``limit`` seconds until other processes use less than 0.15 of a core."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        b0 = _busy_seconds()
        if b0 is None:
            return
        time.sleep(0.5)
        if (_busy_seconds() - b0) / 0.5 < 0.15:
            return


def timed(run, wait: float) -> float:
    gc.collect()
    if wait:
        wait_idle(wait)
    b0, o0 = _busy_seconds(), _own_seconds()
    t0 = time.perf_counter()
    run()
    elapsed = time.perf_counter() - t0
    if b0 is not None and elapsed >= 0.25:  # /proc/stat counts in 10 ms ticks
        BACKGROUND.append(max(_busy_seconds() - b0 - (_own_seconds() - o0), 0.0) / elapsed)
    return elapsed


def best_of(runs: dict, reps: int, wait: float, label: str) -> dict:
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(reps):
        for name, run in runs.items():
            for _attempt in range(5 if wait else 1):  # with --wait-idle, redo runs others disturbed
                n_bg = len(BACKGROUND)
                times[name].append(timed(run, wait))
                if len(BACKGROUND) == n_bg or BACKGROUND[-1] < 0.3:
                    break
        log(f"  {label} rep {r + 1}/{reps}: " + ", ".join(f"{n} {t[-1]:.3f}s" for n, t in times.items()))
    return {name: min(ts) for name, ts in times.items()}


def case(name: str, rows: int | None, reps: int, wait: float) -> dict:
    layer, n, steps, d, hidden, bi, seq, batch, _ = CASES[name]
    rows = rows or n
    x, y = make_data(rows, steps, d)
    params = fnn.init(fnn.random.key(2), fnn_spec(layer, steps, d, hidden, bi, seq))
    gap = check_same_loss(params, x, y, seq)
    log(f"{TITLES[name]}: fnn and torch agree on the first loss (relative difference {gap:.1e})")
    result = best_of(
        {"fnn": make_fnn(params, x, y, batch), "torch": make_torch(params, x, y, batch, seq)}, reps, wait, name
    )
    return {**result, "rows": rows, "steps_per_epoch": math.ceil(rows / batch)}


# ------------------------------------------------------------------ per-step cost


def fnn_pass(kind: str, steps: int, bidirectional: bool, n: int = 1, hidden: int = 1, d: int = 1):
    spec = fnn.Sequential(
        [getattr(fnn, kind)(hidden, bidirectional=bidirectional, return_sequences=True)], in_shape=(steps, d)
    )
    node = fnn.init(fnn.random.key(0), spec).layers[0]
    x = fnn.random.normal(fnn.random.key(1), (n, steps, d), dtype=np.float32)
    flat, unravel = fnn.tree.ravel(node)
    out = unravel(np.zeros(flat.size, np.float32))
    g = np.ones((n, steps, hidden * (2 if bidirectional else 1)), np.float32)

    def run() -> None:
        y, saved = forward(node, x, None, True)
        backward(node, saved, g.copy(), out, True)

    return run


def torch_pass(kind: str, steps: int, bidirectional: bool, n: int = 1, hidden: int = 1, d: int = 1):
    import torch

    torch.set_num_threads(THREADS)
    module = {"SimpleRNN": torch.nn.RNN, "GRU": torch.nn.GRU, "LSTM": torch.nn.LSTM}[kind](
        d, hidden, batch_first=True, bidirectional=bidirectional
    )
    x = torch.randn(n, steps, d, requires_grad=True)

    def run() -> None:
        module(x)[0].sum().backward()

    return run


def per_step(make, kind: str, bidirectional: bool, steps: int, reps: int) -> float:
    """µs per time step of one forward + backward pass: the slope between ``steps`` and ``2·steps``."""
    short, long = make(kind, steps, bidirectional), make(kind, 2 * steps, bidirectional)
    short(), long()
    best = {}
    for name, run in (("short", short), ("long", long)):
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(10):
                run()
            samples.append((time.perf_counter() - t0) / 10)
        best[name] = min(samples)
    return (best["long"] - best["short"]) / steps * 1e6


# ------------------------------------------------------------------ report


def machine() -> str:
    cpu = "unknown"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "?"
    import torch

    return (
        f"Machine: {cpu} ({os.cpu_count()} logical CPUs), {platform.platform()}; threads limited to {THREADS}.\n"
        f"Versions: Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__}, "
        f"fnn {fnn.__version__} (git {commit})."
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="512 rows, one repetition, a short per-step measurement")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions per contender (best of; default 5)")
    ap.add_argument("--only", default="a,b,c", help="cases to run, of a, b, c (default all)")
    ap.add_argument("--no-steps", action="store_true", help="skip the per-step cost")
    ap.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP/torch threads of both (default 2)")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each timed run, wait up to SECONDS for other processes to go quiet",
    )
    args = ap.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("benchmarks/rnn.py compares with PyTorch: pip install -e '.[bench]' (the CPU build)")
    reps = 1 if args.quick else args.reps
    rows = 512 if args.quick else None
    names = [c for c in args.only.split(",") if c]
    results = {c: case(c, rows, reps, args.wait_idle) for c in names}

    print(machine())
    load = (
        f"median {statistics.median(BACKGROUND):.2f}, max {max(BACKGROUND):.2f} cores" if BACKGROUND else "not measured"
    )
    print(f"float32, one epoch, best of {reps}; other processes' CPU use during the timed runs: {load}.\n")
    print("| case | fnn `train_epoch` | PyTorch CPU | fnn / PyTorch | target |")
    print("|---|---|---|---|---|")
    for c, r in results.items():
        rows_note = "" if r["rows"] == CASES[c][1] else f" ({r['rows']} rows)"
        print(
            f"| {TITLES[c]}{rows_note} | {r['fnn']:.3f} s | {r['torch']:.3f} s | {r['fnn'] / r['torch']:.2f}× | "
            f"{CASES[c][8]} |"
        )
    if args.no_steps:
        return
    steps, step_reps = (50, 2) if args.quick else (200, 7)
    print(
        f"\nPer time step of one forward + backward pass, beyond arithmetic (batch 1, hidden 1; slope between "
        f"{steps} and {2 * steps} steps, best of {step_reps}):\n"
    )
    print("| layer | fnn | PyTorch |")
    print("|---|---|---|")
    for kind in ("SimpleRNN", "GRU", "LSTM"):
        for bi in (False, True):
            ours = per_step(fnn_pass, kind, bi, steps, step_reps)
            theirs = per_step(torch_pass, kind, bi, steps, step_reps)
            print(f"| {kind}{', bidirectional' if bi else ''} | {ours:.1f} µs | {theirs:.1f} µs |")


if __name__ == "__main__":
    main()
