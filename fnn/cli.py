"""The ``fnn`` command: train, evaluate and summarise a network from the shell.

    fnn train --data digits --layers 128,64 --epochs 30 --out runs/digits
    fnn evaluate runs/digits --data digits
    fnn summary runs/digits

A run directory holds ``config.json`` (the command's settings), ``checkpoints/``
(written by :func:`fnn.fit` during training: after every epoch, or every N steps with
``--checkpoint-every N``) and, once training ends, ``model.npz`` (the TrainState,
history and scaling), ``history.json``, ``history.csv`` and ``history.png`` (with the
plot extra).

``fnn train ... --resume RUN_DIR`` (or ``--out RUN_DIR --resume``) continues the run in
RUN_DIR from its newest checkpoint, bit for bit as if it had never stopped, even after
a kill in the middle of an epoch; when RUN_DIR holds no run yet it starts one, so the
same command line serves the first start and every restart. ``--epochs`` is the run's
total. Bad arguments print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import fnn
from fnn.errors import FnnError

__all__ = ["main"]

MODEL, CONFIG, CHECKPOINTS = "model.npz", "config.json", "checkpoints"
DATA_HELP = "digits | iris | wine | breast_cancer | mnist:DIR | FILE.csv"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2 (argparse prints usage too)
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fnn", description="Train, evaluate and summarise fnn networks.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train an MLP and write a run directory")
    t.add_argument("--data", required=True, help=DATA_HELP)
    t.add_argument("--layers", default="128,64", help="hidden widths, comma-separated (default 128,64)")
    t.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    t.add_argument("--dropout", type=float, default=0.0, help="fraction of hidden units dropped (default 0)")
    t.add_argument("--optimizer", default="adam", help=f"one of {', '.join(fnn.optim.OPTIMIZERS)} (default adam)")
    t.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    t.add_argument("--l2", type=float, default=0.0, help="L2 penalty on weights (default 0)")
    t.add_argument("--epochs", type=int, default=30, help="total epochs of the run (default 30)")
    t.add_argument("--batch-size", type=int, default=64, help="rows per mini-batch (default 64)")
    t.add_argument("--validation", type=float, default=0.1, help="fraction of training rows held out (default 0.1)")
    t.add_argument("--patience", type=int, default=None, help="early stopping on val_loss after this many epochs")
    t.add_argument("--test-size", type=float, default=0.2, help="fraction held out for `fnn evaluate` (default 0.2)")
    t.add_argument("--target", default="-1", help="CSV target column: index or header name (default -1)")
    t.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    t.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    t.add_argument("--out", default=None, help="run directory to write (may be given by --resume instead)")
    t.add_argument("--resume", nargs="?", const=True, default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR (default: --out) from its newest checkpoint, or start it")
    t.add_argument("--checkpoint-every", default="epoch", metavar="N|epoch",
                   help="checkpoint after every N optimizer steps, or every epoch (the default)")
    t.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")

    e = sub.add_parser("evaluate", help="accuracy and loss of a trained run on a data set")
    e.add_argument("run", help="run directory written by `fnn train`")
    e.add_argument("--data", default=None, help=f"{DATA_HELP} (default: the run's own held-out test rows)")

    s = sub.add_parser("summary", help="print the layer table of a trained run")
    s.add_argument("run", help="run directory written by `fnn train`")
    return p


# ------------------------------------------------------------------ data


def _load(data: str, target: str, dtype: str) -> dict[str, Any]:
    """{'x', 'y'} for a whole set, or {'x', 'y', 'x_test', 'y_test'} when the source has its own split."""
    if data == "digits":
        x, y = fnn.data.load_digits(dtype=dtype)
    elif data in ("iris", "wine", "breast_cancer"):
        x, y = fnn.data.load_sklearn(data, dtype=dtype)
    elif data.startswith("mnist:"):
        directory = data[len("mnist:") :]
        x, y = fnn.data.load_mnist(directory, kind="train", dtype=dtype)
        x_test, y_test = fnn.data.load_mnist(directory, kind="test", dtype=dtype)
        return {"x": x, "y": y, "x_test": x_test, "y_test": y_test}
    elif data.endswith(".csv"):
        column: int | str = int(target) if target.lstrip("-").isdigit() else target
        x, y = fnn.data.load_csv(data, target=column, dtype=dtype)
    else:
        raise _UsageError(f"--data must be {DATA_HELP}, got {data!r}")
    return {"x": x, "y": y}


def _split(config: dict, loaded: dict) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test), the same rows in every call with this config."""
    if "x_test" in loaded:
        return loaded["x"], loaded["y"], loaded["x_test"], loaded["y_test"]
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(
        fnn.random.key(config["seed"]), loaded["x"], loaded["y"], test_size=config["test_size"]
    )
    return x_train, y_train, x_test, y_test


# ------------------------------------------------------------------ train


def _hidden(layers: str) -> list[int]:
    try:
        widths = [int(w) for w in layers.split(",") if w.strip()]
    except ValueError:
        raise _UsageError(f"--layers must be comma-separated integers such as 128,64, got {layers!r}") from None
    if any(w < 1 for w in widths):
        raise _UsageError(f"--layers widths must be ≥ 1, got {layers!r}")
    return widths


def _write_history(out: Path, history: dict[str, np.ndarray]) -> None:
    keys = list(history)
    _atomic_text(out / "history.json", json.dumps({k: history[k].tolist() for k in keys}, indent=1))
    rows = [["epoch", *keys]] + [[i + 1, *(repr(float(history[k][i])) for k in keys)] for i in range(len(history[keys[0]]))]
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    _atomic_text(out / "history.csv", text.getvalue())


def _atomic_text(path: Path, text: str) -> None:
    fnn.io.atomic_write(path, lambda f: f.write(text.encode("utf-8")))


_SAME_RUN = ("data", "layers", "activation", "dropout", "optimizer", "lr", "l2", "batch_size", "validation", "patience",
             "test_size", "target", "seed", "dtype")


def _run_dir(args: argparse.Namespace) -> tuple[Path, bool]:
    """(the run directory, whether --resume was given), from --out and --resume."""
    named = args.resume if isinstance(args.resume, str) else None
    if args.out is None and named is None:
        raise _UsageError("train needs --out RUN_DIR (or --resume RUN_DIR)")
    if args.out is not None and named is not None and Path(args.out) != Path(named):
        raise _UsageError(f"--out {args.out} and --resume {named} name different run directories")
    return Path(named or args.out), args.resume is not None


def _checkpoint_every(text: str) -> int | str:
    if text == "epoch":
        return text
    if not text.isdigit() or int(text) < 1:
        raise _UsageError(f"--checkpoint-every must be a number of steps ≥ 1 or 'epoch', got {text!r}")
    return int(text)


def _check_resumable(out: Path, resume: bool, config: dict) -> None:
    """A usage error unless --out is fresh, or --resume continues a run of the same settings."""
    started = (out / CONFIG).exists() or (out / MODEL).exists() or bool(fnn.io.list_checkpoints(out / CHECKPOINTS))
    if not started:
        return
    if not resume:
        raise _UsageError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    if (out / MODEL).exists() and not fnn.io.list_checkpoints(out / CHECKPOINTS):
        raise _UsageError(f"{out} holds a run without {CHECKPOINTS}/ (written by an older fnn), which cannot be resumed")
    saved = json.loads((out / CONFIG).read_text())
    for k in _SAME_RUN:
        if saved.get(k) != config[k]:
            raise _UsageError(f"--resume with --{k.replace('_', '-')} {config[k]!r}, but the run used {saved.get(k)!r}")


def _train(args: argparse.Namespace) -> int:
    out, resume = _run_dir(args)
    config = {k: getattr(args, k) for k in ("data", "layers", "activation", "dropout", "optimizer", "lr", "l2", "epochs",
                                            "batch_size", "validation", "patience", "test_size", "target", "seed", "dtype")}
    if args.epochs < 0:
        raise _UsageError(f"--epochs must be ≥ 0, got {args.epochs}")
    every = _checkpoint_every(args.checkpoint_every)
    _check_resumable(out, resume, config)
    loaded = _load(args.data, args.target, args.dtype)
    x_train, y_train, _, _ = _split(config, loaded)
    x_train, _, scaler = fnn.data.standardize(x_train, x_train[:1])
    classes = int(np.max(y_train)) + 1
    # The same state on every start: fit ignores it when the run's checkpoints exist.
    k_init, k_train = fnn.random.split(fnn.random.key(args.seed))
    spec = fnn.mlp([x_train.shape[1], *_hidden(args.layers), classes], hidden=args.activation,
                   output="softmax", dropout=args.dropout, dtype=args.dtype)
    optimizer = fnn.optim.get(args.optimizer, lr=args.lr)
    state = fnn.TrainState.create(fnn.init(k_init, spec), optimizer, key=k_train)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / CONFIG).exists():
        _atomic_text(out / CONFIG, json.dumps(config, indent=1))
    stopping = fnn.EarlyStopping("val_loss", patience=args.patience) if args.patience is not None else None
    state, history = fnn.fit(state, (x_train, y_train), epochs=args.epochs, batch_size=args.batch_size,
                             loss="cross_entropy", l2=args.l2, validation=args.validation or None,
                             early_stopping=stopping, verbose=0 if args.quiet else 1,
                             resume=out / CHECKPOINTS, checkpoint_every=every)
    fnn.save(out / MODEL, {"state": state, "history": history, "classes": classes,
                           "scaler": {"mean": scaler.mean, "scale": scaler.scale}})
    if history:
        _write_history(out, history)
        _plot(out, history)
    print(f"wrote {out}: {MODEL}, {CONFIG}, {CHECKPOINTS}/" + (", history.json, history.csv" if history else ""))
    return 0


def _plot(out: Path, history: dict) -> None:
    try:
        import fnn.plot
        import matplotlib.pyplot as plt
    except ImportError:
        print("history.png skipped: matplotlib is not installed (pip install 'fnn[plot]')", file=sys.stderr)
        return
    plt.close(fnn.plot.history(history, path=out / "history.png", title=str(out)))


# ------------------------------------------------------------------ evaluate, summary


def _run(path: str) -> tuple[dict, dict]:
    run = Path(path)
    if not (run / MODEL).exists():
        if fnn.io.list_checkpoints(run / CHECKPOINTS):
            raise FileNotFoundError(
                f"{run} holds a run that has not finished: continue it with `fnn train ... --resume {run}`"
            )
        raise FileNotFoundError(f"{run} is not a run directory: {MODEL} is missing (write one with `fnn train`)")
    return fnn.load(run / MODEL), json.loads((run / CONFIG).read_text())


def _evaluate(args: argparse.Namespace) -> int:
    saved, config = _run(args.run)
    data = args.data or config["data"]
    loaded = _load(data, config["target"], config["dtype"])
    if data == config["data"]:
        _, _, x, y = _split(config, loaded)
        where = "held-out test rows"
    else:
        x, y = loaded.get("x_test", loaded["x"]), loaded.get("y_test", loaded["y"])
        where = "all rows" if "x_test" not in loaded else "test files"
    scaler = fnn.data.Standardizer(saved["scaler"]["mean"], saved["scaler"]["scale"])
    params = saved["state"].params
    y_hat = fnn.apply(params, scaler.transform(x.astype(config["dtype"])))
    loss = float(fnn.losses.cross_entropy(y_hat, y))
    print(f"data: {data} ({where}, {len(y)} rows)")
    print(f"accuracy: {fnn.metrics.accuracy(y, y_hat):.4f}")
    print(f"loss: {loss:.4f}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    saved, config = _run(args.run)
    print(fnn.summary(saved["state"].params))
    history = saved["history"]
    if history:
        last = {k: float(v[-1]) for k, v in history.items() if k != "time"}
        print(f"trained {len(history['loss'])} epochs ({config['optimizer']}, lr {config['lr']}, seed {config['seed']}); "
              + ", ".join(f"{k} {v:.4f}" for k, v in last.items()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fnn`` command; returns the exit code (2 for bad arguments or unusable input)."""
    try:
        args = _parser().parse_args(argv)
        return {"train": _train, "evaluate": _evaluate, "summary": _summary}[args.command](args)
    except (_UsageError, FnnError, FileNotFoundError, ImportError, json.JSONDecodeError) as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"fnn: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
