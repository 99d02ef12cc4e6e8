"""Seconds per training epoch of two CNNs: fnn's ``train_epoch`` against PyTorch CPU and the matrix-product
floor, all measured in one process on the same data; and the peak memory of one training step.

The nets (float32, softmax cross-entropy, Adam(lr=1e-3), batch 128, 10,000 standard-normal rows with
random labels 0..9 drawn with ``fnn.random``, one epoch, 2 BLAS/OpenMP threads):

- **LeNet**, 28×28×1: Conv 5×5 32 → ReLU → MaxPool 2 → Conv 5×5 64 → ReLU → MaxPool 2 → Flatten →
  Dense 128 → ReLU → Dense 10.
- **1-D CNN**, length-40 signals, 1 channel: 3 × (Conv1D 25 channels, kernel 5, stride 2, padding 2 →
  ReLU) → Flatten → Dense 10.

Columns:

- floor: only the matrix products of the epoch's convolutions and Dense layers, as fnn runs them
  (im2col), on preallocated arrays with ``out=``: forward windows @ kernel, backward windowsᵀ @ g
  and (except for the first layer, whose input gradient no trainer computes) g @ kernelᵀ. The
  same buffers serve every step (the last, shorter batch uses their leading rows), so it is BLAS
  compute alone: no window copies, no pooling, no activations, no optimizer.
- fnn: ``fnn.train_epoch(state, (x, y), batch_size=128, loss="cross_entropy")``, channels last,
  ``fnn.optim.adam(1e-3)``.
- PyTorch: the same net channels first in ``nn.Sequential`` + ``torch.optim.Adam`` +
  ``nn.CrossEntropyLoss``, a loop over slices of ``torch.randperm`` indexing preallocated
  tensors, ``torch.set_num_threads(2)`` (its convolutions run on oneDNN).

Each contender is warmed up with one epoch, then timed R times (best of R), the repetitions
interleaved round-robin. How busy other processes kept the machine during the timed runs is
reported (``--wait-idle`` waits for quiet before each run and redoes disturbed ones), as in
``benchmarks/epoch.py``, whose timing helpers this script uses.

Memory (``--memory``, on by default): each trainer in a fresh process runs one step, then the
peak RSS of a second step above the RSS before it is reported (Linux: ``/proc/self/clear_refs``);
for fnn also the tracemalloc peak of that step (NumPy's own allocations) and the window
matrices its convolutions build.

Run (from the repo root):

    python benchmarks/cnn.py                    # both nets, best of 5, memory (a few minutes)
    python benchmarks/cnn.py --quick            # 1,000 rows, 1 repetition
    python benchmarks/cnn.py --wait-idle 30     # on a shared machine
"""

from __future__ import annotations

import os
import sys

THREADS = int(os.environ.get("FNN_BENCH_THREADS", "2"))  # 1 gives contention-proof comparisons on a busy machine
# Before numpy (and torch) are imported: the BLAS and OpenMP pools are sized at load time.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fnn, not another installed one
import epoch as timing  # noqa: E402  (best_of, BACKGROUND, WAIT_IDLE, machine_info, Skip, log)

import fnn  # noqa: E402
from fnn.layers import Conv1DParams, Conv2DParams, DenseParams  # noqa: E402

CLASSES = 10
LR = 1e-3
BATCH = 128
ROOT = Path(__file__).resolve().parent.parent
NETS = {
    "lenet": ("LeNet 28×28×1", (28, 28, 1)),
    "conv1d": ("1-D CNN 40×1", (40, 1)),
}


def fnn_spec(net: str) -> fnn.Sequential:
    relu = fnn.Activation("relu")
    if net == "lenet":
        layers = [
            fnn.Conv2D(32, 5),
            relu,
            fnn.MaxPool2D(2),
            fnn.Conv2D(64, 5),
            relu,
            fnn.MaxPool2D(2),
            fnn.Flatten(),
            fnn.Dense(128),
            relu,
            fnn.Dense(10),
        ]
    else:
        layers = [layer for _ in range(3) for layer in (fnn.Conv1D(25, 5, stride=2, padding=2), relu)]
        layers += [fnn.Flatten(), fnn.Dense(10)]
    return fnn.Sequential([*layers, fnn.Activation("softmax")], in_shape=NETS[net][1])


def torch_model(net: str):
    from torch import nn

    if net == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(1024, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
    layers: list = []
    for c_in in (1, 25, 25):
        layers += [nn.Conv1d(c_in, 25, 5, stride=2, padding=2), nn.ReLU()]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(125, 10))


def make_data(net: str, rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    kx, ky = fnn.random.split(fnn.random.key(seed))
    x = fnn.random.normal(kx, (rows, *NETS[net][1]), dtype=np.float32)
    return x, fnn.random.generator(ky).integers(0, CLASSES, rows)


# ------------------------------------------------------------------ the contenders


def gemms(params: fnn.layers.SequentialParams) -> list[tuple]:
    """(layer, rows per sample, inner size, outputs, is the first layer) of every layer's matrix product, as fnn
    runs it: a convolution's rows are its output positions, its inner size kernel·C_in."""
    found = []
    shape = params.in_shape
    for layer in params.layers:
        out = fnn.layers.forward(layer, np.zeros((1, *shape), np.float32), None, False)[0].shape[1:]
        if isinstance(layer, (Conv1DParams, Conv2DParams, DenseParams)):
            found.append((layer, math.prod(out[:-1]), math.prod(layer.w.shape[:-1]), layer.w.shape[-1], not found))
        shape = out
    return found


def make_floor(net: str, rows: int, batch: int):
    """The matmuls of one epoch (forward, kernel gradient, and input gradient past the first layer), preallocated."""
    rng = np.random.default_rng(0)
    params = fnn.init(fnn.random.key(1), fnn_spec(net))
    buffers = []
    for _, per_sample, inner, outs, first in gemms(params):
        m = per_sample * batch
        a = rng.standard_normal((m, inner), dtype=np.float32)  # the window matrix
        w = rng.standard_normal((inner, outs), dtype=np.float32)
        y = np.empty((m, outs), np.float32)
        g = rng.standard_normal((m, outs), dtype=np.float32)
        gw = np.empty((inner, outs), np.float32)
        buffers.append((per_sample, a, w, y, g, gw, None if first else np.empty((m, inner), np.float32)))

    def operands(n: int) -> list[tuple]:
        ops = []
        for per_sample, a, w, y, g, gw, ga in buffers:
            m = per_sample * n
            ops.append((a[:m], w, y[:m]))
            ops.append((a[:m].T, g[:m], gw))
            if ga is not None:
                ops.append((g[:m], w.T, ga[:m]))
        return ops

    full, rem = divmod(rows, batch)
    plan = [operands(batch)] * full + ([operands(rem)] if rem else [])
    matmul = np.matmul

    def run() -> None:
        for ops in plan:
            for a, b, out in ops:
                matmul(a, b, out=out)

    return run


def make_fnn(net: str, x: np.ndarray, y: np.ndarray, batch: int):
    params = fnn.init(fnn.random.key(1), fnn_spec(net))
    box = [fnn.TrainState.create(params, fnn.optim.adam(LR), key=fnn.random.key(2))]

    def run() -> None:
        box[0], _ = fnn.train_epoch(box[0], (x, y), batch_size=min(batch, x.shape[0]), loss="cross_entropy")

    return run


def _torch():
    try:
        import torch
    except ImportError as e:
        raise timing.Skip("skipped: not installed") from e
    torch.set_num_threads(THREADS)
    return torch


def make_torch(net: str, x: np.ndarray, y: np.ndarray, batch: int):
    torch = _torch()
    from torch import nn

    torch.manual_seed(0)
    model = torch_model(net)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))  # channels first
    yt = torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    n = x.shape[0]
    batch = min(batch, n)

    def run() -> None:
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()

    return run


CONTENDERS = [("floor", "floor (matmuls only)"), ("fnn", "fnn `train_epoch`"), ("torch", "PyTorch CPU")]


def measure(net: str, rows: int, names: list[str], reps: int, batch: int) -> dict:
    x, y = make_data(net, rows)
    runs, out = {}, {}
    for name in names:
        try:
            if name == "floor":
                runs[name] = make_floor(net, rows, batch)
            else:
                runs[name] = {"fnn": make_fnn, "torch": make_torch}[name](net, x, y, batch)
        except timing.Skip as e:
            out[name] = str(e)
    out.update(timing.best_of(runs, reps, f"{net} batch {batch}"))
    return out


# ------------------------------------------------------------------ memory


def window_bytes(net: str, batch: int) -> list[tuple[str, int]]:
    """(layer, bytes) of each convolution's window matrix for a batch: what training keeps until the backward."""
    params = fnn.init(fnn.random.key(1), fnn_spec(net))
    return [
        (layer.describe(), per_sample * inner * batch * 4)
        for layer, per_sample, inner, _, _ in gemms(params)
        if not isinstance(layer, DenseParams)
    ]


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory_child(net: str, trainer: str, batch: int) -> None:
    """One step to warm up, then the peak RSS of a second step above the RSS before it (MiB), as JSON."""
    x, y = make_data(net, batch)
    run = make_fnn(net, x, y, batch) if trainer == "fnn" else make_torch(net, x, y, batch)
    run()
    gc.collect()
    before = _status_mib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (Linux ≥ 4.0)
    except OSError:
        before = None
    run()
    peak = _status_mib("VmHWM")
    result = {"before": before, "peak": peak}
    if trainer == "fnn":
        tracemalloc.start()
        run()
        result["traced"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(json.dumps(result))


def memory(net: str, names: list[str], batch: int) -> dict:
    found = {}
    for trainer in [n for n in names if n != "floor"]:
        done = subprocess.run(
            [sys.executable, __file__, "--_memory-child", f"{net},{trainer}", "--batch", str(batch)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            found[trainer] = "failed: " + done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
            continue
        found[trainer] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


# ------------------------------------------------------------------ report


def table(results: dict, steps: dict) -> str:
    lines = [
        "| net | " + " | ".join(t for _, t in CONTENDERS) + " | fnn / PyTorch |",
        "|---" * (len(CONTENDERS) + 2) + "|",
    ]
    for net, res in results.items():
        floor = res["floor"]
        cells = [f"{floor:.3f} s"]
        for n, _ in CONTENDERS[1:]:
            v = res.get(n, "not run (--only)")
            cells.append(v if isinstance(v, str) else f"{v:.3f} s ({v / floor:.2f}×)")
        f, t = res.get("fnn"), res.get("torch")
        ratio = f"{f / t:.2f}×" if isinstance(f, float) and isinstance(t, float) else "–"
        lines.append(f"| {NETS[net][0]}, {steps[net]} steps | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MiB" if nbytes >= 2**20 else f"{nbytes / 2**10:.0f} KiB"


def memory_table(mem: dict, batch: int) -> str:
    lines = [
        f"| net | fnn: peak RSS of a step | fnn: tracemalloc peak | fnn: window matrices (batch {batch}) "
        "| PyTorch: peak RSS of a step |",
        "|---|---|---|---|---|",
    ]
    for net, found in mem.items():
        windows = found["windows"]
        cells = []
        f = found.get("fnn")
        if isinstance(f, dict):
            rss = (
                f"{f['peak'] - f['before']:.1f} MiB" if f.get("before") is not None else f"{f['peak']:.1f} MiB (total)"
            )
            cells += [rss, f"{f['traced']:.1f} MiB"]
        else:
            cells += [str(f or "not run"), "–"]
        cells.append(" + ".join(_size(b) for _, b in windows) + f" = {_size(sum(b for _, b in windows))}")
        t = found.get("torch")
        if isinstance(t, dict):
            cells.append(
                f"{t['peak'] - t['before']:.1f} MiB" if t.get("before") is not None else f"{t['peak']:.1f} MiB (total)"
            )
        else:
            cells.append(str(t or "not run"))
        lines.append(f"| {NETS[net][0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="1,000 rows and 1 repetition")
    ap.add_argument("--rows", type=int, help="training rows (default 10,000; 1,000 with --quick)")
    ap.add_argument("--reps", type=int, help="timed repetitions, best taken (default 5; 1 with --quick)")
    ap.add_argument("--batch", type=int, default=BATCH, help="batch size (default 128)")
    ap.add_argument("--nets", type=lambda s: s.split(","), default=list(NETS), help="comma-separated: lenet,conv1d")
    ap.add_argument(
        "--only", type=lambda s: s.split(","), help="comma-separated subset of: fnn,torch (the floor always runs)"
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each timed run, wait up to this long for other processes to use < 0.15 core, and "
        "redo (up to 4 times) a run during which they used > 0.3 core (default 0: off)",
    )
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        memory_child(*args.memory_child.split(","), args.batch)
        return
    unknown = set(args.nets) - set(NETS)
    if unknown:
        ap.error(f"--nets: unknown {sorted(unknown)}; choose from {list(NETS)}")
    names = ["floor"] + [n for n in ("fnn", "torch") if not args.only or n in args.only]
    timing.WAIT_IDLE = args.wait_idle
    rows = args.rows or (1_000 if args.quick else 10_000)
    reps = args.reps or (1 if args.quick else 5)

    results, steps = {}, {}
    for net in args.nets:
        steps[net] = -(-rows // args.batch)
        timing.log(f"{NETS[net][0]}: {steps[net]} steps of {args.batch}")
        results[net] = measure(net, rows, names, reps, args.batch)
    mem = {}
    if not args.no_memory:
        for net in args.nets:
            timing.log(f"{NETS[net][0]}: memory of one step")
            mem[net] = {"windows": window_bytes(net, args.batch), **memory(net, names, args.batch)}

    print(timing.header(timing.machine_info(rows, reps)))
    bg = sorted(timing.BACKGROUND)
    if bg:
        print(
            f"Other processes' CPU during the {len(bg)} timed runs: median {bg[len(bg) // 2]:.2f}, "
            f"max {bg[-1]:.2f} cores (of {os.cpu_count()}); each cell is the best of {reps}."
        )
        if bg[len(bg) // 2] > 0.2:
            print("WARNING: other processes were busy during most runs; rerun with --wait-idle 60 and/or more --reps.")
    print()
    print(table(results, steps))
    print(
        "\nFloor = the epoch's matrix products as fnn runs them (im2col: windows @ kernel, windowsᵀ @ g, g @ kernelᵀ "
        "past the first layer; Dense likewise) on preallocated arrays."
    )
    if mem:
        print()
        print(memory_table(mem, args.batch))
        print(
            "\nPeak RSS of one training step above the RSS before it (a fresh process, after one warm-up step); "
            "tracemalloc: NumPy's allocations during a step; window matrices: kept by training until the backward "
            "pass (their buffers then take the windows' gradient)."
        )


if __name__ == "__main__":
    main()
