"""Seconds per training epoch: fnn's ``train_epoch`` against the matmul floor, hand-written NumPy,
scikit-learn and PyTorch, all measured in one process on the same data.

The yardstick: float32, 784-256-128-10 ReLU, softmax cross-entropy, Adam(lr=1e-3), 60,000
standard-normal rows with random labels 0..9 (drawn with ``fnn.random``), one epoch, BLAS/OpenMP
threads limited to 2. Every column is reported as seconds per epoch
and as a ratio over the *floor* measured in the same process:

- floor: only the matrix products of one epoch at that batch size, on preallocated arrays with
  ``out=`` — forward ``h @ W`` for the 3 layers, backward ``h.T @ dY`` for the 3 layers and
  ``dY @ W.T`` for the 2 upper layers. The first layer's input gradient ``dY1 @ W1.T`` is NOT
  included (no trainer computes it). The same batch buffers are reused every step (the last,
  shorter batch uses their leading rows), so the floor is BLAS compute, with no gathering.
- hand-written NumPy: the fast reference to beat — gather into preallocated batch buffers,
  in-place bias/ReLU/softmax-cross-entropy, backward into one flat gradient buffer, in-place Adam
  on one flat parameter vector (same formula as ``torch.optim.Adam``; block by block, as fnn's
  kernel runs it, so that long vectors stay in the L2 cache between passes). Checked against
  ``fnn.value_and_grad`` and ``fnn.optim.adam`` at start-up.
- fnn: ``fnn.train_epoch(state, (x, y), batch_size=B, loss="cross_entropy")`` with
  ``fnn.mlp(sizes)`` (float32) and ``fnn.optim.adam(1e-3)``; with ``adam(1e-3, backend="numba")``
  (the ``fast`` extra: Adam and the Dense + relu passes compiled, bitwise the NumPy numbers); and
  with ``train_epoch(..., compiled=True)`` (the whole epoch one numba loop, products as loops, not
  BLAS: for small nets).
- scikit-learn: ``MLPClassifier(solver="adam", hidden_layer_sizes=..., batch_size=B, max_iter=1,
  shuffle=True, tol=0, alpha=0)``; one epoch = one ``partial_fit(x, y)`` call (exactly one
  shuffled pass over the data), timed after a warm-up ``partial_fit`` that fixed the classes and
  initialised the weights. Its per-call input validation is included, as fnn's is.
- PyTorch: ``nn.Sequential`` + ``torch.optim.Adam`` + ``nn.CrossEntropyLoss``, a loop over slices
  of ``torch.randperm`` indexing preallocated tensors, ``torch.set_num_threads(2)``; and the same with
  ``torch.optim.Adam(fused=True)`` (one fused kernel for the whole update).
- JAX, jit step: ``jax.jit`` of loss, ``jax.value_and_grad`` and ``optax.adam`` (params and state
  donated), the data on the device and each step's rows gathered inside the compiled step; one call
  and one loss read per batch.
- JAX, epoch in ``lax.scan``: the same step scanned over the epoch's full batches in one compiled
  call (no per-step dispatch; the losses read once at the end), the last, shorter batch by the jit step.

All trainers keep the last, shorter batch (ceil(n / B) steps) and read each step's loss as a
Python float. Each contender is warmed up with one epoch, then timed R times (best of R); the
repetitions are interleaved round-robin so that drift on a shared machine hits every column alike.
The tiny net (16-16-16-10, batch 32) is reported in µs per step beyond its own floor; its epochs
take 0.02-1 s, so it is timed 15 times (best of 15), where one noisy run would weigh more.

Run (from the repo root):

    python benchmarks/epoch.py                 # full table: 60,000 rows, best of 3 (a few minutes)
    python benchmarks/epoch.py --quick         # 6,000 rows, 1 repetition (well under a minute)
    python benchmarks/epoch.py --profile 32,128   # cProfile of one fnn epoch + where the time goes
    python benchmarks/epoch.py --faults        # minor page faults per step, peak RSS of an epoch
    python benchmarks/epoch.py --wait-idle 60  # on a shared machine: wait for quiet before each run

OpenBLAS's worker threads busy-wait after each product (``OPENBLAS_THREAD_TIMEOUT``, left as the
environment sets it and reported in the header), which keeps the second core from elementwise work:
``OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/epoch.py`` lets fnn's Adam split over both cores
(see ``fnn/optim/_threads.py``).

With 2 BLAS threads on 2 cores, any other busy process slows the matmuls several-fold (a BLAS
thread waits for its descheduled twin), so ratios from a busy machine mean little: the header
reports how much CPU other processes used during the timed runs, and ``--wait-idle`` waits for
quiet before each run and redoes runs that were disturbed.

scikit-learn, PyTorch and JAX columns say "skipped: not installed" when the package is missing
(``pip install -e ".[bench]"``; for PyTorch prefer a CPU-only build: the default Linux wheel
pulls multi-GB CUDA libraries).
"""

from __future__ import annotations

import os

THREADS = 2
# Before numpy (and torch) are imported: the BLAS and OpenMP pools are sized at load time.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's fnn, not an installed one
import fnn  # noqa: E402

BIG = [784, 256, 128, 10]
TINY = [16, 16, 16, 10]
CLASSES = 10
LR = 1e-3
ROOT = Path(__file__).resolve().parent.parent


class Skip(Exception):
    """A contender that cannot run here (its package is not installed)."""


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ data


def make_data(rows: int, width: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` standard-normal float32 rows (standardised features) and integer labels 0..9, drawn with fnn.random.

    Centred inputs on purpose: with uniform [0, 1) inputs and random labels most ReLUs die within an
    epoch, the gradients become mostly exact zeros and Adam's first moment decays into float32
    denormals, which halve the speed of its divide — a benchmark of dead networks, not of training.
    """
    kx, ky = fnn.random.split(fnn.random.key(seed))
    x = fnn.random.normal(kx, (rows, width), dtype=np.float32)
    y = fnn.random.generator(ky).integers(0, CLASSES, rows)
    return x, y


def n_params(sizes: list[int]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def steps_of(rows: int, batch: int) -> int:
    return -(-rows // batch)


# ------------------------------------------------------------------ floor


def make_floor(x: np.ndarray, sizes: list[int], batch: int):
    """The matmuls of one epoch (forward, dW for every layer, dX for layers 2..L) on preallocated arrays."""
    rows = x.shape[0]
    batch = min(batch, rows)
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((a, b), dtype=np.float32) * np.float32(0.05) for a, b in itertools.pairwise(sizes)]
    hs = [np.ascontiguousarray(x[:batch])] + [np.empty((batch, b), np.float32) for b in sizes[1:]]
    ds = [None] + [rng.standard_normal((batch, b), dtype=np.float32) for b in sizes[1:]]  # dY of each layer
    dxs = [None] + [np.empty((batch, a), np.float32) for a in sizes[1:-1]]  # dX of layers 2..L land here
    gws = [np.empty_like(w) for w in ws]

    def operands(m: int) -> list[tuple]:
        """(a, b, out) of every matmul of a step with m rows, views made once."""
        ops = [(hs[i][:m], ws[i], hs[i + 1][:m]) for i in range(len(ws))]
        for i in range(len(ws) - 1, -1, -1):
            ops.append((hs[i][:m].T, ds[i + 1][:m], gws[i]))
            if i > 0:
                ops.append((ds[i + 1][:m], ws[i].T, dxs[i][:m]))
        return ops

    full, rem = divmod(rows, batch)
    plan = [operands(batch)] * full + ([operands(rem)] if rem else [])
    matmul = np.matmul

    def run() -> None:
        for ops in plan:
            for a, b, out in ops:
                matmul(a, b, out=out)

    return run


# ------------------------------------------------------------------ hand-written NumPy


class NumpyMLP:
    """A clean, fast, in-place NumPy MLP (ReLU hidden, softmax cross-entropy) trained with Adam.

    Parameters, gradients and both Adam moments are flat float32 vectors with per-layer views;
    every per-step array lives in a buffer allocated once. Starts from the same parameters as fnn.
    """

    def __init__(self, params, batch: int, lr: float = LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        flat, _ = fnn.tree.ravel(params)
        dense = [layer for layer in params.layers if hasattr(layer, "w")]
        self.sizes = [dense[0].w.shape[0]] + [layer.w.shape[1] for layer in dense]
        self.dtype = flat.dtype
        n = flat.size
        self.p = np.empty(n, self.dtype)
        self.g = np.zeros(n, self.dtype)
        self.mu = np.zeros(n, self.dtype)
        self.nu = np.zeros(n, self.dtype)
        self.tmp = np.empty(n, self.dtype)
        self.w, self.b, self.gw, self.gb = [], [], [], []
        off = 0
        for layer, (a, c) in zip(dense, itertools.pairwise(self.sizes), strict=True):
            for views, gviews, shape, value in ((self.w, self.gw, (a, c), layer.w), (self.b, self.gb, (c,), layer.b)):
                size = math.prod(shape)
                views.append(self.p[off : off + size].reshape(shape))
                gviews.append(self.g[off : off + size].reshape(shape))
                views[-1][...] = value
                off += size
        assert off == n
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.blocks = [
            tuple(a[i : i + 65536] for a in (self.p, self.g, self.mu, self.nu, self.tmp)) for i in range(0, n, 65536)
        ]
        self.batch = batch
        self.xb = np.empty((batch, self.sizes[0]), self.dtype)
        self.yb = np.empty(batch, np.intp)
        self.z = [np.empty((batch, c), self.dtype) for c in self.sizes[1:]]  # activations (in place)
        self.d = [np.empty((batch, c), self.dtype) for c in self.sizes[1:-1]]  # hidden dY
        self.mask = [np.empty((batch, c), np.bool_) for c in self.sizes[1:-1]]
        self.picked = np.empty(batch, self.dtype)
        self.rowmax = np.empty((batch, 1), self.dtype)
        self.rowsum = np.empty((batch, 1), self.dtype)
        self.logsum = np.empty((batch, 1), self.dtype)
        self.row_starts = np.arange(batch) * self.sizes[-1]
        self.at = np.empty(batch, np.intp)
        self._cache: dict = {}

    def _views(self, m: int) -> tuple:
        """Every per-step array view for a batch of m rows, made once per m."""
        v = self._cache.get(m)
        if v is None:
            xb, yb = self.xb[:m], self.yb[:m]
            zs = [z[:m] for z in self.z]
            acts = [xb] + zs[:-1]  # each layer's input
            forward = [
                (a, w, b, z, i < len(zs) - 1)
                for i, (a, w, b, z) in enumerate(zip(acts, self.w, self.b, zs, strict=True))
            ]
            backward = []
            for i in range(len(zs) - 1, -1, -1):
                d = zs[i] if i == len(zs) - 1 else self.d[i][:m]
                prev = (self.d[i - 1][:m], self.w[i].T, self.mask[i - 1][:m], acts[i]) if i > 0 else None
                backward.append((acts[i].T, d, self.gw[i], self.gb[i], prev))
            logits = zs[-1]
            loss = (
                logits,
                logits.reshape(-1),
                self.rowmax[:m],
                self.rowsum[:m],
                self.logsum[:m],
                self.picked[:m],
                self.at[:m],
                self.row_starts[:m],
            )
            v = self._cache[m] = (xb, yb, forward, loss, backward)
        return v

    def loss_and_grad(self, m: int) -> float:
        """Forward and backward on the first m rows of the batch buffers; gradients land in ``self.g``."""
        _, yb, forward, (z, zflat, rowmax, rowsum, logsum, picked, at, row_starts), backward = self._views(m)
        matmul, add, maximum = np.matmul, np.add, np.maximum
        for h, w, b, out, relu in forward:
            matmul(h, w, out=out)
            add(out, b, out=out)
            if relu:
                maximum(out, 0, out=out)
        # softmax cross-entropy from the logits z, in place: z becomes (softmax(z) - onehot(y)) / m
        add(row_starts, yb, out=at)  # flat index of each row's label
        maximum.reduce(z, axis=1, keepdims=True, out=rowmax)
        np.subtract(z, rowmax, out=z)
        zflat.take(at, out=picked)  # the label's shifted logit
        np.exp(z, out=z)
        add.reduce(z, axis=1, keepdims=True, out=rowsum)
        np.log(rowsum, out=logsum)
        loss = (float(add.reduce(logsum, axis=None)) - float(add.reduce(picked))) / m  # mean of log Σe^z − z_y
        rowsum *= m
        np.divide(z, rowsum, out=z)  # softmax / m
        zflat.take(at, out=picked)
        picked -= 1.0 / m
        zflat.put(at, picked)
        for h_t, d, gw, gb, prev in backward:
            matmul(h_t, d, out=gw)
            add.reduce(d, axis=0, out=gb)
            if prev is not None:
                dprev, w_t, mask, h = prev
                matmul(d, w_t, out=dprev)
                np.greater(h, 0, out=mask)  # ReLU's derivative: 1 where its output is > 0, else 0
                np.multiply(dprev, mask, out=dprev)  # branch-free; copyto(where=) is ~10× slower on random masks
        return loss

    def adam(self) -> None:
        """In-place Adam on the flat vectors (torch.optim.Adam's formula), block by block as fnn's
        NumPy kernel runs it: 65,536 elements at a time keep the 5 arrays' blocks in the L2 cache."""
        self.t += 1
        b1, b2 = self.b1, self.b2
        sqrt_bc2 = math.sqrt(1.0 - b2**self.t)
        eps_hat, step = self.eps * sqrt_bc2, -(self.lr * sqrt_bc2 / (1.0 - b1**self.t))
        for p, g, mu, nu, tmp in self.blocks:
            mu *= b1
            np.multiply(g, 1.0 - b1, out=tmp)
            mu += tmp
            nu *= b2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - b2
            nu += tmp
            np.sqrt(nu, out=tmp)
            tmp += eps_hat
            np.divide(mu, tmp, out=tmp)
            tmp *= step
            p += tmp

    def epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray) -> float:
        total = 0.0
        for start in range(0, order.size, self.batch):
            idx = order[start : start + self.batch]
            m = idx.size
            xb, yb = self._views(m)[:2]
            x.take(idx, axis=0, out=xb, mode="clip")  # mode="raise" would buffer the output
            y.take(idx, out=yb, mode="clip")
            total += self.loss_and_grad(m) * m
            self.adam()
        return total / order.size


def make_numpy(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int):
    params = fnn.init(fnn.random.key(1), fnn.mlp(sizes))
    net = NumpyMLP(params, min(batch, x.shape[0]))
    gen = np.random.default_rng(2)

    def run() -> None:
        net.epoch(x, y, gen.permutation(x.shape[0]))

    return run


def check_reference() -> str:
    """The hand-written reference's gradient and Adam step against fnn's, on a small float64 net."""
    params = fnn.init(fnn.random.key(3), fnn.mlp([7, 5, 4, 3], dtype=np.float64))
    x, y = make_data(9, 7, seed=4)
    x, y = x.astype(np.float64), y % 3
    net = NumpyMLP(params, 16)  # a last, shorter batch: 9 of 16 rows
    net.xb[:9], net.yb[:9] = x, y
    loss = net.loss_and_grad(9)
    value, grads = fnn.value_and_grad(params, (x, y), loss="cross_entropy")
    gflat, _ = fnn.tree.ravel(grads)
    dgrad = float(np.abs(net.g - gflat).max())
    dloss = abs(loss - float(value))
    state = fnn.TrainState.create(params, fnn.optim.adam(LR), key=fnn.random.key(0))
    state = fnn.opt_step(fnn.opt_step(state, grads), grads)
    net.adam()
    net.adam()
    dparam = float(np.abs(net.p - fnn.tree.ravel(state.params)[0]).max())
    ok = max(dgrad, dloss, dparam) < 1e-10
    if not ok:
        raise SystemExit(
            f"hand-written reference disagrees with fnn: loss {dloss:.2e}, grad {dgrad:.2e}, adam {dparam:.2e}"
        )
    return (
        f"hand-written reference = fnn (float64): |Δloss| {dloss:.1e}, max|Δgrad| {dgrad:.1e}, "
        f"max|Δparams| after 2 Adam steps {dparam:.1e}"
    )


# ------------------------------------------------------------------ fnn


def make_fnn(
    x: np.ndarray,
    y: np.ndarray,
    sizes: list[int],
    batch: int,
    backend: str = "numpy",
    optimizer=None,
    compiled: bool = False,
):
    params = fnn.init(fnn.random.key(1), fnn.mlp(sizes))
    optimizer = fnn.optim.adam(LR, backend=backend) if optimizer is None else optimizer
    box = [fnn.TrainState.create(params, optimizer, key=fnn.random.key(2))]
    extra = {"compiled": True} if compiled else {}

    def run() -> None:
        box[0], _ = fnn.train_epoch(box[0], (x, y), batch_size=min(batch, x.shape[0]), loss="cross_entropy", **extra)

    return run


# ------------------------------------------------------------------ scikit-learn


def make_sklearn(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int):
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError as e:
        raise Skip("skipped: not installed") from e
    clf = MLPClassifier(
        solver="adam",
        hidden_layer_sizes=tuple(sizes[1:-1]),
        batch_size=min(batch, x.shape[0]),
        max_iter=1,
        shuffle=True,
        tol=0,
        alpha=0,
        learning_rate_init=LR,
        random_state=0,
    )
    classes = np.arange(CLASSES)
    started = [False]

    def run() -> None:
        # partial_fit = exactly one shuffled pass over (x, y); the first call also initialises.
        if started[0]:
            clf.partial_fit(x, y)
        else:
            clf.partial_fit(x, y, classes=classes)
            started[0] = True

    return run


# ------------------------------------------------------------------ PyTorch


def _torch():
    try:
        import torch
    except ImportError as e:
        raise Skip("skipped: not installed") from e
    torch.set_num_threads(THREADS)
    return torch


def make_torch(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int, fused: bool = False):
    torch = _torch()
    from torch import nn

    torch.manual_seed(0)
    layers: list = []
    for a, b in itertools.pairwise(sizes[:-1]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    model = nn.Sequential(*layers)
    opt = (
        torch.optim.Adam(model.parameters(), lr=LR, fused=True)
        if fused
        else torch.optim.Adam(model.parameters(), lr=LR)
    )
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x)  # shares memory: no copy
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


# ------------------------------------------------------------------ JAX


def _jax():
    try:
        import jax
        import optax
    except ImportError as e:
        raise Skip("skipped: not installed") from e
    return jax, optax


def _jax_trainer(x: np.ndarray, y: np.ndarray, sizes: list[int]):
    """The network, loss and jitted Adam step of the JAX peers: the params a list of (w, b), optax.adam."""
    jax, optax = _jax()
    jnp = jax.numpy
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes) - 1)
    params = [
        (jax.random.normal(k, (a, b), jnp.float32) * (2.0 / a) ** 0.5, jnp.zeros(b, jnp.float32))
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]
    opt = optax.adam(LR)

    def loss_fn(params, xb, yb):
        h = xb
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b)
        w, b = params[-1]
        return optax.softmax_cross_entropy_with_integer_labels(h @ w + b, yb).mean()

    def step(params, opt_state, xs, ys, idx):
        loss, grads = jax.value_and_grad(loss_fn)(params, xs[idx], ys[idx])
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    xs, ys = jax.device_put(x), jax.device_put(y.astype(np.int32))
    return jax, params, opt.init(params), step, xs, ys


def make_jax_step(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int):
    """JAX's compiled step: ``jax.jit`` of loss, gradient and optax Adam; one call (and one loss read) per batch.
    The data live on the device; each step gathers its rows inside the jitted function."""
    jax, params, opt_state, step, xs, ys = _jax_trainer(x, y, sizes)
    jstep = jax.jit(step, donate_argnums=(0, 1))
    n = x.shape[0]
    batch = min(batch, n)
    gen = np.random.default_rng(0)
    box = [params, opt_state]

    def run() -> None:
        perm = gen.permutation(n).astype(np.int32)
        p, s = box
        total = 0.0
        for start in range(0, n, batch):
            idx = perm[start : start + batch]
            p, s, loss = jstep(p, s, xs, ys, idx)
            total += float(loss) * idx.size
        box[:] = [p, s]

    run()  # compile both batch shapes outside the timings
    return run


def make_jax_scan(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int):
    """JAX's whole epoch as one compiled loop: ``lax.scan`` of the jitted step over the full batches (the last,
    shorter batch, if any, by the jitted step), all losses read once at the end."""
    jax, params, opt_state, step, xs, ys = _jax_trainer(x, y, sizes)
    n = x.shape[0]
    batch = min(batch, n)
    full = n // batch

    def epoch(params, opt_state, xs, ys, order):
        def body(carry, idx):
            p, s, loss = step(*carry, xs, ys, idx)
            return (p, s), loss

        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), order)
        return params, opt_state, losses

    jepoch = jax.jit(epoch, donate_argnums=(0, 1))
    jstep = jax.jit(step, donate_argnums=(0, 1))
    gen = np.random.default_rng(0)
    box = [params, opt_state]

    def run() -> None:
        perm = gen.permutation(n).astype(np.int32)
        p, s = box
        p, s, losses = jepoch(p, s, xs, ys, perm[: full * batch].reshape(full, batch))
        total = float(np.asarray(losses).sum()) * batch
        if n % batch:
            p, s, loss = jstep(p, s, xs, ys, perm[full * batch :])
            total += float(loss) * (n % batch)
        box[:] = [p, s]

    run()  # compile outside the timings
    return run


# ------------------------------------------------------------------ timing

CONTENDERS = [  # (name, column title)
    ("floor", "floor (matmuls only)"),
    ("numpy", "hand-written NumPy"),
    ("fnn", "fnn train_epoch"),
    ("fnn_numba", 'fnn, adam(backend="numba")'),
    ("fnn_compiled", "fnn, train_epoch(compiled=True)"),
    ("sklearn", "scikit-learn MLP"),
    ("torch", "PyTorch CPU"),
    ("torch_fused", "PyTorch, Adam(fused=True)"),
    ("jax_step", "JAX, jit step"),
    ("jax_scan", "JAX, epoch in lax.scan"),
]


def build(name: str, x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int):
    if name == "floor":
        return make_floor(x, sizes, batch)
    if name == "fnn_compiled" and max(sizes) > 64:
        raise Skip("not run: for small nets (its products are loops, not BLAS)")
    if name in ("fnn_numba", "fnn_compiled"):
        try:
            import numba  # noqa: F401
        except ImportError as e:
            raise Skip("skipped: not installed") from e
        run = make_fnn(x, y, sizes, batch, backend="numba", compiled=name == "fnn_compiled")
        run()  # compile the kernels outside the timings (once per process and dtype)
        return run
    if name == "torch_fused":
        return make_torch(x, y, sizes, batch, fused=True)
    makers = {
        "numpy": make_numpy,
        "fnn": make_fnn,
        "sklearn": make_sklearn,
        "torch": make_torch,
        "jax_step": make_jax_step,
        "jax_scan": make_jax_scan,
    }
    return makers[name](x, y, sizes, batch)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
WAIT_IDLE = 0.0  # seconds to wait, before each timed run, for other processes to go quiet (--wait-idle)
BACKGROUND: list[float] = []  # other processes' CPU use during each timed run, in cores


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (from /proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


def background(interval: float) -> float | None:
    """Cores' worth of CPU other processes use, sampled over ``interval`` seconds while we sleep."""
    b0 = _busy_seconds()
    if b0 is None:
        return None
    time.sleep(interval)
    return max(_busy_seconds() - b0, 0.0) / interval


def wait_idle(limit: float) -> None:
    """Wait up to ``limit`` seconds until other processes use less than 0.15 of a core."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        load = background(0.5)
        if load is None or load < 0.15:
            return


def timed(run) -> float:
    gc.collect()
    if WAIT_IDLE:
        wait_idle(WAIT_IDLE)
    b0, o0 = _busy_seconds(), _own_seconds()
    t0 = time.perf_counter()
    run()
    elapsed = time.perf_counter() - t0
    if b0 is not None and elapsed >= 0.25:  # /proc/stat counts in 10 ms ticks
        BACKGROUND.append(max(_busy_seconds() - b0 - (_own_seconds() - o0), 0.0) / elapsed)
    return elapsed


def best_of(runs: dict, reps: int, label: str = "") -> dict:
    """Best-of-``reps`` seconds of each callable: one warm-up call each, then ``reps`` round-robin rounds."""
    for run in runs.values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run()  # warm-up: first-touch allocations, lazy initialisation
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(reps):
        for name, run in runs.items():
            for _attempt in range(5 if WAIT_IDLE else 1):  # with --wait-idle, redo runs others disturbed
                n_bg = len(BACKGROUND)
                times[name].append(timed(run))
                if len(BACKGROUND) == n_bg or BACKGROUND[-1] < 0.3:
                    break
        log(f"    {label} rep {r + 1}/{reps}: " + ", ".join(f"{n} {t[-1]:.3f}s" for n, t in times.items()))
    return {name: min(ts) for name, ts in times.items()}


def measure(x: np.ndarray, y: np.ndarray, sizes: list[int], batch: int, names: list[str], reps: int) -> dict:
    """Best-of-``reps`` seconds per epoch for each contender (or its skip message)."""
    runs, out = {}, {}
    for name in names:
        try:
            runs[name] = build(name, x, y, sizes, batch)
        except Skip as e:
            out[name] = str(e)
    out.update(best_of(runs, reps, f"{'-'.join(map(str, sizes))} batch {batch}"))
    return out


# ------------------------------------------------------------------ machine


def machine_info(rows: int, reps: int) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    blas = "unknown"
    try:
        cfg = np.__config__.CONFIG["Build Dependencies"]["blas"]
        blas = f"{cfg.get('name', '?')} {cfg.get('version', '')}".strip()
    except (AttributeError, KeyError, TypeError):  # a NumPy that describes its build otherwise
        pass
    versions = {"python": platform.python_version(), "numpy": np.__version__, "fnn": fnn.__version__}
    for mod in ("sklearn", "torch", "jax", "jaxlib", "optax", "numba"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = "not installed"
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True, timeout=10
        )
        commit = rev.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):  # no git, or no repository: the report says "?"
        commit = "?"
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "threads": THREADS,
        "blas_timeout": os.environ.get("OPENBLAS_THREAD_TIMEOUT", "default"),
        "blas": blas,
        "versions": versions,
        "commit": commit,
        "rows": rows,
        "reps": reps,
        "platform": platform.platform(),
    }


def header(info: dict) -> str:
    v = info["versions"]
    return "\n".join(
        [
            f"Machine: {info['cpu']} ({info['cores']}), {info['platform']}; threads limited to {info['threads']} "
            f"(OMP/OPENBLAS/MKL_NUM_THREADS, torch.set_num_threads); OPENBLAS_THREAD_TIMEOUT {info['blas_timeout']}.",
            f"Versions: Python {v['python']}, NumPy {v['numpy']} ({info['blas']}), "
            f"fnn {v['fnn']} (git {info['commit']}), scikit-learn {v['sklearn']}, PyTorch {v['torch']}, "
            f"JAX {v['jax']} (jaxlib {v['jaxlib']}, optax {v['optax']}), "
            f"numba {v['numba']}.",
            f"Run: {info['date']}; float32, {info['rows']:,} rows, one epoch, best of {info['reps']}, "
            "ratio = seconds per epoch / floor measured in the same process.",
        ]
    )


# ------------------------------------------------------------------ table


def table(results: dict, batches: list[int], tiny: dict | None, rows: int) -> str:
    names = [n for n, _ in CONTENDERS]
    titles = [t for _, t in CONTENDERS]
    lines = ["| batch | " + " | ".join(titles) + " |", "|---" * (len(titles) + 1) + "|"]
    for b in batches:
        res = results[b]
        floor = res["floor"]
        cells = [f"{floor:.3f} s"]
        for n in names[1:]:
            v = res.get(n)
            cells.append(v if isinstance(v, str) else f"{v:.3f} s ({v / floor:.2f}×)")
        lines.append(f"| {b} | " + " | ".join(cells) + " |")
    if tiny is not None:
        steps = steps_of(rows, 32)
        floor = tiny["floor"]
        cells = [f"{floor / steps * 1e6:.1f} µs/step"]
        for n in names[1:]:
            v = tiny.get(n)
            cells.append(v if isinstance(v, str) else f"+{(v - floor) / steps * 1e6:.0f} µs/step")
        lines.append("| tiny 16-16-16-10, 32 | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ profile


def profile(batches: list[int], rows: int, reps: int, top: int) -> None:
    import cProfile
    import pstats

    x, y = make_data(rows, BIG[0])
    for batch in batches:
        steps = steps_of(rows, batch)
        run = make_fnn(x, y, BIG, batch)
        run()
        prof = cProfile.Profile()
        gc.collect()
        prof.enable()
        run()
        prof.disable()
        print(f"\n## cProfile of one fnn epoch, 784-256-128-10, batch {batch} ({steps} steps, {rows:,} rows)\n")
        print("Note: ufuncs and the @ operator are not calls cProfile sees: their time (matmuls included)")
        print("counts as tottime of the Python function that runs them (e.g. dense.py forward/backward).\n")
        for key in ("tottime", "cumulative"):
            print(f"### top {top} by {key}\n```")
            stats = pstats.Stats(prof, stream=sys.stdout)
            stats.strip_dirs().sort_stats(key).print_stats(top)
            print("```")
        breakdown(x, y, batch, steps, reps)


def breakdown(x: np.ndarray, y: np.ndarray, batch: int, steps: int, reps: int) -> None:
    """Where fnn's epoch goes, from unprofiled timings of its parts measured on their own (interleaved)."""
    rows = x.shape[0]
    params = fnn.init(fnn.random.key(1), fnn.mlp(BIG))
    flat, _ = fnn.tree.ravel(params)
    opt = fnn.optim.adam(LR)
    g = fnn.random.normal(fnn.random.key(5), flat.shape, dtype=np.float32)
    box = [flat, opt.init(flat)]

    def fnn_adam() -> None:  # fnn's own optimizer update on the real flat size, `steps` times
        p, s = box
        for _ in range(steps):
            p, s = opt.update(p, g, s)
        box[:] = [p, s]

    net = NumpyMLP(params, batch)
    gen = np.random.default_rng(2)

    def hand_adam() -> None:  # on the same gradient as fnn_adam: the last batch's has exact zeros
        net.g[...] = g  # (dead ReLU units), whose first moments decay into subnormals: 2x slower
        for _ in range(steps):
            net.adam()

    tx, ty = make_data(rows, TINY[0], seed=1)
    t = best_of(
        {
            "fnn": make_fnn(x, y, BIG, batch),
            "fnn_sgd": make_fnn(x, y, BIG, batch, optimizer=fnn.optim.sgd(LR)),
            "floor": make_floor(x, BIG, batch),
            "fnn_adam": fnn_adam,
            "numpy": lambda: net.epoch(x, y, gen.permutation(rows)),
            "numpy_adam": hand_adam,
            "tiny_fnn": make_fnn(tx, ty, TINY, 32),
            "tiny_floor": make_floor(tx, TINY, 32),
        },
        reps,
        f"breakdown batch {batch}",
    )
    t_fnn, floor = t["fnn"], t["floor"]
    numerics = t["numpy"] - floor - t["numpy_adam"]  # gather, bias, ReLU + mask, softmax-CE, loss
    rest = t_fnn - floor - t["fnn_adam"] - numerics
    per_step = (t["tiny_fnn"] - t["tiny_floor"]) / steps_of(rows, 32)

    def row(what: str, sec: float) -> str:
        return f"| {what} | {sec:.3f} s | {sec / floor:.2f}× | {sec / t_fnn * 100:.0f}% | {sec / steps * 1e6:.0f} µs |"

    print(f"\n### Where fnn's epoch goes, batch {batch} (unprofiled, best of {reps}, parts timed on their own)\n")
    print("| part | s/epoch | × floor | share of fnn | per step |\n|---|---|---|---|---|")
    print(row("fnn train_epoch, total", t_fnn))
    print(row("matmuls (the floor)", floor))
    print(row("optimizer: fnn.optim.adam update alone, × steps", t["fnn_adam"]))
    print(row("other numerics: the hand-written reference's non-matmul, non-Adam work", numerics))
    print(row("remainder: fnn's Python overhead and extra allocations/passes", rest))
    print(
        f"\nFor scale: hand-written NumPy epoch {t['numpy']:.3f} s ({t['numpy'] / floor:.2f}× floor), its in-place "
        f"Adam alone {t['numpy_adam']:.3f} s ({t['numpy_adam'] / steps * 1e6:.0f} µs/step). "
        f"fnn's per-step cost beyond the floor on the tiny net (16-16-16-10, batch 32), "
        f"i.e. its fixed per-step overhead: {per_step * 1e6:.0f} µs/step "
        f"→ × {steps} steps = {per_step * steps:.3f} s. Parts timed alone run with warmer caches than inside an epoch, "
        "so the remainder is an upper bound on pure Python overhead."
    )
    print(
        f"\nThe same fnn epoch with plain SGD in place of Adam (2 passes over the params instead of 12): "
        f"{t['fnn_sgd']:.3f} s ({t['fnn_sgd'] / floor:.2f}× floor), "
        f"so Adam costs {(t_fnn - t['fnn_sgd']) / steps * 1e6:.0f} "
        "µs/step more than SGD inside the epoch, and the SGD ratio is about the least any optimizer could give."
    )


# ------------------------------------------------------------------ faults and RSS


def _minflt() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def faults(batches: list[int], rows: int, names: list[str]) -> None:
    x, y = make_data(rows, BIG[0])
    print(f"\n## Minor page faults per step (one epoch after a warm-up epoch, {rows:,} rows, 784-256-128-10)\n")
    print("| batch | " + " | ".join(t for n, t in CONTENDERS if n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for batch in batches:
        steps = steps_of(rows, batch)
        cells = []
        for name in names:
            try:
                run = build(name, x, y, BIG, batch)
            except Skip as e:
                cells.append(str(e))
                continue
            run()
            gc.collect()
            before = _minflt()
            run()
            cells.append(f"{(_minflt() - before) / steps:.1f}")
            del run
            gc.collect()
        print(f"| {batch} | " + " | ".join(cells) + " |")
    print(f"\n## Peak RSS of one epoch in a fresh process ({rows:,} rows, 784-256-128-10)\n")
    mib = 2**20
    data_mib = (x.nbytes + y.nbytes) / mib
    params_mib = n_params(BIG) * 4 / mib
    print(
        f"data {data_mib:.1f} MiB (x float32 {x.nbytes / mib:.1f} MiB + int64 labels), params {params_mib:.2f} MiB. "
        "baseline = RSS after the imports and one warm-up matmul of each layer's shape (BLAS buffers touched); "
        "budget = data + 6×params + the epoch's index permutation (8 bytes a row) + 8 batches of every layer's "
        "activations (input included), above the baseline, with 4 MiB of slack for the interpreter's and malloc's own "
        "growth in 'within?'; "
        "'epoch extra' = peak during the epoch − RSS just before it (data and trainer built). "
        "Peak = VmHWM after resetting it just before the epoch (ru_maxrss where that reset is not possible).\n"
    )
    print("| batch | trainer | baseline | before epoch | peak | epoch extra | peak − baseline vs budget | within? |")
    print("|---|---|---|---|---|---|---|---|")
    for batch in batches:
        acts_mib = 8 * batch * sum(BIG) * 4 / mib
        budget = data_mib + 6 * params_mib + 8 * rows / mib + acts_mib
        for trainer in ("fnn", "numpy"):
            cmd = [sys.executable, __file__, "--_rss-child", trainer, "--rows", str(rows), "--batches", str(batch)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print(f"| {batch} | {trainer} | child failed: {res.stderr.strip().splitlines()[-1:]} |")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            above = r["peak"] - r["baseline"]
            print(
                f"| {batch} | {trainer} | {r['baseline']:.0f} MiB | {r['before']:.0f} MiB | {r['peak']:.0f} MiB "
                f"| {r['peak'] - r['before']:.1f} MiB | {above:.1f} MiB vs {budget:.1f} MiB ({above - budget:+.1f}) | "
                f"{'yes' if above <= budget + 4 else 'NO'} |"
            )


def _status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kiB -> MiB
    except OSError:
        pass
    return None


def _rss_now() -> float:
    return _status_mib("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(trainer: str, rows: int, batch: int) -> None:
    """One epoch in this fresh process; print the baseline, pre-epoch and peak RSS (MiB) as JSON."""
    for a, b in itertools.pairwise(BIG):  # touch BLAS's work buffers as any trainer would, then free
        h, w = np.ones((batch, a), np.float32), np.ones((a, b), np.float32)
        d = h @ w
        _ = h.T @ d, d @ w.T
    del h, w, d, _
    gc.collect()
    baseline = _rss_now()
    x, y = make_data(rows, BIG[0])
    run = build(trainer, x, y, BIG, batch)
    gc.collect()
    before = _rss_now()
    reset = True
    try:  # reset the high-water mark so the peak is the epoch's own (Linux ≥ 4.0)
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        reset = False
    run()
    peak = _status_mib("VmHWM") if reset else None
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"baseline": baseline, "before": before, "peak": peak}))


# ------------------------------------------------------------------ main


def parse_ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="6,000 rows and 1 repetition (well under a minute)")
    ap.add_argument("--rows", type=int, help="training rows (default 60,000; 6,000 with --quick)")
    ap.add_argument("--reps", type=int, help="timed repetitions, best taken (default 3; 1 with --quick)")
    ap.add_argument(
        "--batches", type=parse_ints, default=[32, 128, 512], help="comma-separated batch sizes (default 32,128,512)"
    )
    ap.add_argument(
        "--only",
        type=lambda s: s.split(","),
        help="comma-separated subset of: floor,numpy,fnn,fnn_numba,fnn_compiled,sklearn,torch,torch_fused,"
        "jax_step,jax_scan",
    )
    ap.add_argument("--no-tiny", action="store_true", help="skip the tiny-net row")
    ap.add_argument(
        "--tiny-reps",
        type=int,
        help="repetitions of the tiny-net row, best taken (default 15; 3 with --quick): "
        "its epochs take 0.02-1 s, so more of them cost little and steady the best",
    )
    ap.add_argument(
        "--profile",
        type=parse_ints,
        metavar="BATCHES",
        help="cProfile one fnn epoch at these batch sizes, then a time breakdown",
    )
    ap.add_argument("--top", type=int, default=25, help="rows of each cProfile listing (default 25)")
    ap.add_argument("--faults", action="store_true", help="minor page faults per step and peak RSS of an epoch")
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each timed run, wait up to this long for other processes to use < 0.15 core, "
        "and redo (up to 4 times) a run during which they used > 0.3 core (default 0: off)",
    )
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--_rss-child", dest="rss_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    global WAIT_IDLE
    WAIT_IDLE = args.wait_idle
    rows = args.rows or (6_000 if args.quick else 60_000)
    reps = args.reps or (1 if args.quick else 3)
    tiny_reps = args.tiny_reps or (3 if args.quick else 15)
    if args.rss_child:
        rss_child(args.rss_child, rows, args.batches[0])
        return
    names = [n for n, _ in CONTENDERS]
    if args.only:
        unknown = set(args.only) - set(names)
        if unknown:
            ap.error(f"--only: unknown {sorted(unknown)}; choose from {names}")
        names = ["floor"] + [n for n in names if n in args.only and n != "floor"]

    info = machine_info(rows, reps)
    if args.profile or args.faults:
        print(header(info))
        if args.profile:
            profile(args.profile, rows, reps, args.top)
        if args.faults:
            faults(args.batches, rows, [n for n in names if n != "floor"])
        return

    log(check_reference())
    results: dict = {}
    x, y = make_data(rows, BIG[0])
    for batch in args.batches:
        log(f"batch {batch}: {steps_of(rows, batch)} steps")
        results[batch] = measure(x, y, BIG, batch, names, reps)
    del x, y
    tiny = None
    if not args.no_tiny:
        tx, ty = make_data(rows, TINY[0], seed=1)
        log(f"tiny net {TINY}, batch 32: {steps_of(rows, 32)} steps")
        tiny = measure(tx, ty, TINY, 32, names, tiny_reps)
    for res in [*results.values(), *([tiny] if tiny else [])]:
        for n in [n for n, _ in CONTENDERS if n not in names]:
            res[n] = "not run (--only)"
    print(header(info))
    if BACKGROUND:
        bg = sorted(BACKGROUND)
        print(
            f"Other processes' CPU during the {len(bg)} timed runs: median {bg[len(bg) // 2]:.2f}, "
            f"max {bg[-1]:.2f} cores (of {os.cpu_count()}); each cell is the best of {reps}"
            + ("." if tiny is None else f", the tiny row's of {tiny_reps}.")
        )
        if bg[len(bg) // 2] > 0.2:
            print(
                "WARNING: other processes were busy during most runs; with 2 BLAS threads on 2 cores that slows the "
                "matmuls by several times. Rerun with --wait-idle 60 and/or more --reps."
            )
    print()
    print(table(results, args.batches, tiny, rows))
    print(
        "\nFloor = the epoch's matmuls only (forward h@W ×3, backward h.T@dY ×3 and dY@W.T for layers 2–3; "
        "layer 1's input gradient excluded). Tiny row: floor in µs per step, others in µs per step beyond it."
    )
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "results": {str(b): r for b, r in results.items()}, "tiny": tiny}, indent=2)
        )


if __name__ == "__main__":
    main()
