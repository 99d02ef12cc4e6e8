"""The ``fnn`` command: train, evaluate, predict and summarise a network from the shell.

    fnn train --data digits --layers 128,64 --epochs 30 --out runs/digits
    fnn evaluate runs/digits [--data FILE.csv] [--json]
    fnn predict runs/digits --data FILE.csv --out predictions.csv
    fnn summary runs/digits

A run directory holds ``config.json`` (the command's settings, and the class names of a
CSV whose target is text), ``checkpoints/`` (written by :func:`fnn.fit` during training:
after every epoch, or every N steps with ``--checkpoint-every N``) and, once training ends,
``model.npz`` (the TrainState, history and scaling), ``history.json``, ``history.csv`` and
``history.png`` (with the plot extra).

``fnn train`` classifies with ``--loss cross_entropy`` (the default: a softmax output; CSV
targets may be integers or class names such as ``setosa``) and regresses with ``--loss mse``
or ``--loss huber`` (real-valued targets, no output activation). Every setting is checked,
and the data loaded, before the run directory is written, so a failed command leaves
nothing that blocks the corrected one.

``fnn train ... --resume RUN_DIR`` (or ``--out RUN_DIR --resume``) continues the run in
RUN_DIR from its newest checkpoint, bit for bit as if it had never stopped, even after
a kill in the middle of an epoch; when RUN_DIR holds no run yet it starts one, so the
same command line serves the first start and every restart. ``--epochs`` is the run's total.

Errors print one line, ``fnn: error: ...``, never a traceback. Exit codes:

- 0 done;
- 2 a bad argument or unusable input: an option, a data file (missing, not UTF-8, not
  numbers), a run directory that is a file or whose ``config.json`` or ``model.npz`` is
  missing, damaged or not fnn's;
- 3 training diverged (the loss or the params became NaN or infinite);
- 4 the run directory is in use: another live ``fnn train`` holds it (the line names its
  process id; a run killed, even by SIGKILL, holds nothing);
- 130 interrupted (Ctrl-C: the line says how to resume);
- 1 anything else: the system refused (a full disk, no permission: the line says what), or
  an error fnn did not expect (a bug: ``FNN_TRACEBACK=1`` shows its traceback).

A closed pipe (``fnn train ... | head``) does not stop training: the lines it would have
printed are dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

import fnn
import fnn.resume
from fnn import _model_spec
from fnn.errors import ConfigError, FnnError, NonFiniteError

__all__ = ["main"]

MODEL, CONFIG, CHECKPOINTS = "model.npz", "config.json", "checkpoints"
DATA_HELP = "digits | iris | wine | breast_cancer | mnist:DIR | FILE.csv"
LOSSES = ("cross_entropy", "mse", "huber")
USAGE, FAILED, DIVERGED, BUSY, INTERRUPTED = 2, 1, 3, 4, 130

EPILOG = """\
examples:
  fnn train --data digits --layers 128,64 --epochs 30 --out runs/digits
  fnn train --data digits --epochs 60 --resume runs/digits      # continue (or start) the run
  fnn train --data digits --model "conv:16x3:same,relu,pool:2" --out runs/cnn   # a CNN on 8×8×1 images
  fnn train --data houses.csv --target price --loss mse --out runs/houses
  fnn evaluate runs/digits --json
  fnn predict runs/digits --data new.csv --out predictions.csv

exit codes: 0 done, 2 bad arguments or input (options, data, a damaged run directory), 3 training diverged,
  4 the run directory is in use by another live fnn train, 130 interrupted, 1 other errors (disk full, ...)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit code 2 (argparse prints usage too)
        raise _UsageError(message)


class _UsageError(Exception):
    pass


class _Busy(Exception):
    """The run directory is held by another live ``fnn train``."""


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fnn",
        description="Train, evaluate, predict with and summarise fnn networks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"fnn {fnn.__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="{train,evaluate,predict,summary}")

    t = sub.add_parser(
        "train",
        help="train an MLP and write a run directory",
        description="Train an MLP: a classifier (--loss cross_entropy, the default) or a regressor "
        "(--loss mse or huber). Writes RUN_DIR: config.json, checkpoints/, and at the end "
        "model.npz, history.json, history.csv, history.png.",
    )
    t.add_argument("--data", required=True, help=DATA_HELP)
    t.add_argument(
        "--model",
        default="mlp",
        metavar="mlp|cnn|SPEC",
        help="mlp (default: --layers, --activation, --dropout), cnn (a small CNN on digits or mnist "
        "images), or comma-separated layers such as 'conv:16x3:same,relu,pool:2' (see fnn._model_spec)",
    )
    t.add_argument("--layers", default="128,64", help="hidden widths, comma-separated (default 128,64)")
    t.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    t.add_argument("--dropout", type=float, default=0.0, help="fraction of hidden units dropped (default 0)")
    t.add_argument(
        "--loss",
        default="cross_entropy",
        choices=LOSSES,
        help="cross_entropy: classes (softmax output); mse or huber: real-valued targets (default cross_entropy)",
    )
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
    t.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="float dtype of the params and data (default float32)",
    )
    t.add_argument("--out", default=None, help="run directory to write (may be given by --resume instead)")
    t.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR (default: --out) from its newest checkpoint, or start it",
    )
    t.add_argument(
        "--checkpoint-every",
        default="epoch",
        metavar="N|epoch",
        help="checkpoint after every N optimizer steps, or every epoch (the default)",
    )
    t.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")

    e = sub.add_parser("evaluate", help="loss and accuracy (or mse, mae) of a trained run on a data set")
    e.add_argument("run", help="run directory written by `fnn train`")
    e.add_argument("--data", default=None, help=f"{DATA_HELP} (default: the run's own held-out test rows)")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of lines")

    r = sub.add_parser("predict", help="write a trained run's predictions for a data set as CSV")
    r.add_argument("run", help="run directory written by `fnn train`")
    r.add_argument("--data", required=True, help=f"{DATA_HELP}; a CSV may leave out the target column")
    r.add_argument("--out", default=None, help="the CSV file to write (default: standard output)")

    s = sub.add_parser("summary", help="print the layer table of a trained run and what it was trained to")
    s.add_argument("run", help="run directory written by `fnn train`")
    return p


# ------------------------------------------------------------------ data


def _load(data: str, target: str, dtype: str) -> dict[str, Any]:
    """{'x', 'y'} for a whole set, or {'x', 'y', 'x_test', 'y_test'} when the source has its own split.

    A CSV's target comes as text (``y`` of dtype str): :func:`_targets` decides what it is.
    """
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
        if not Path(data).is_file():
            raise _UsageError(f"--data {data}: " + ("is a directory" if Path(data).is_dir() else "no such file"))
        column: int | str = int(target) if target.lstrip("-").isdigit() else target
        with _utf8(f"--data {data}"):
            x, y = fnn.data.load_csv(data, target=column, dtype=dtype, target_dtype=str)
    else:
        raise _UsageError(f"--data must be {DATA_HELP}, got {data!r}")
    return {"x": x, "y": y}


@contextlib.contextmanager
def _utf8(path: Any) -> Any:
    """A usage error naming ``path`` for a file that is not UTF-8 text."""
    try:
        yield
    except UnicodeDecodeError as e:
        raise _UsageError(
            f"{path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): save it as UTF-8"
        ) from None


def _as_numbers(y: np.ndarray) -> np.ndarray | None:
    """Text cells as float64 numbers, or None when one is not a finite number."""
    try:
        values = y.astype(np.float64)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def _targets(y: np.ndarray, loss: str, classes: list[str] | None, data: str) -> tuple[np.ndarray, list[str] | None]:
    """The targets for ``loss`` and the class names (for a CSV whose target is text), checked for the loss.

    ``classes`` (from a run's config) maps names to labels as the run did; None finds them.
    """
    regression = loss != "cross_entropy"
    if y.dtype.kind != "U":  # a built-in data set: integer labels
        return (y.astype(np.float64) if regression else y), None
    numbers = _as_numbers(y)
    if regression:
        if numbers is None:
            bad = next(v for v in y if _as_numbers(np.array([v])) is None)
            raise _UsageError(
                f"--loss {loss} needs real-valued targets, but the target column of {data} holds "
                f"{bad!r}; to classify, leave out --loss"
            )
        return numbers, None
    if classes is None and numbers is not None:
        if not np.array_equal(numbers, np.round(numbers)):
            bad = next(v for v in numbers if v != round(v))
            raise _UsageError(
                f"the target column of {data} holds real numbers (e.g. {bad:g}), not class labels; for regression "
                f"pass --loss mse (or huber)"
            )
        if numbers.min() < 0:
            raise _UsageError(
                f"the target column of {data} holds negative class labels ({numbers.min():g}); labels are 0, 1, ..."
            )
        return numbers.astype(np.int64), None
    if classes is None:
        names, labels = np.unique(y, return_inverse=True)
        return labels.astype(np.int64), [str(n) for n in names]
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted({str(v) for v in y} - set(index))
    if unknown:
        raise _UsageError(
            f"{data} holds the class {unknown[0]!r}, which the run never saw; its classes: {', '.join(classes)}"
        )
    return np.array([index[str(v)] for v in y], dtype=np.int64), classes


def _split(config: dict, x: np.ndarray, y: np.ndarray, loaded: dict) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test), the same rows in every call with this config."""
    if "x_test" in loaded:
        return x, y, loaded["x_test"], loaded["y_test"]
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(
        fnn.random.key(config["seed"]),
        x,
        y,
        test_size=config["test_size"],
        stratify=config.get("loss", "cross_entropy") == "cross_entropy",
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


def _model(args: argparse.Namespace, features: int, outputs: int, regression: bool, hidden: list[int]) -> Any:
    """The network of --model (see :mod:`fnn._model_spec`); a spec that cannot be built is a usage error."""
    try:
        return _model_spec.build(
            args.model,
            features=features,
            outputs=outputs,
            data=args.data,
            dtype=args.dtype,
            regression=regression,
            hidden=hidden,
            activation=args.activation,
            dropout=args.dropout,
        )
    except ConfigError as e:
        if args.model == "mlp":
            raise
        raise _UsageError(str(e)) from None


def _write_history(out: Path, history: dict[str, np.ndarray]) -> None:
    keys = list(history)
    _atomic_text(out / "history.json", json.dumps({k: history[k].tolist() for k in keys}, indent=1))
    rows = [["epoch", *keys]] + [
        [i + 1, *(repr(float(history[k][i])) for k in keys)] for i in range(len(history[keys[0]]))
    ]
    _atomic_text(out / "history.csv", _csv_text(rows))


def _csv_text(rows: list) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    return text.getvalue()


def _atomic_text(path: Path, text: str) -> None:
    fnn.io.atomic_write(path, lambda f: f.write(text.encode("utf-8")))


_SAME_RUN = (
    "data",
    "model",
    "layers",
    "activation",
    "dropout",
    "optimizer",
    "lr",
    "l2",
    "batch_size",
    "validation",
    "patience",
    "test_size",
    "target",
    "seed",
    "dtype",
    "loss",
)


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


def _started(out: Path) -> bool:
    """Whether ``out`` holds a run that has trained: a config.json alone (written by a command that then
    failed, in an older fnn) is no run, and the next command may start afresh."""
    return (out / MODEL).exists() or bool(fnn.io.list_checkpoints(out / CHECKPOINTS))


def _check_resumable(out: Path, resume: bool, config: dict) -> None:
    """A usage error unless --out is fresh, or --resume continues a run of the same settings."""
    if out.exists() and not out.is_dir():
        raise _UsageError(f"--out {out} is a file; the run directory must be a directory")
    above = next((p for p in out.parents if p.exists() or p.is_symlink()), None)
    if above is not None and not above.is_dir():
        raise _UsageError(f"--out {out}: {above} is a file, so no directory can be made under it")
    if not _started(out):
        return
    if not resume:
        raise _UsageError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
    if (out / MODEL).exists() and not fnn.io.list_checkpoints(out / CHECKPOINTS):
        raise _UsageError(
            f"{out} holds a run without {CHECKPOINTS}/ (written by an older fnn), which cannot be resumed"
        )
    saved = _read_config(out)
    for k in _SAME_RUN:
        if saved.get(k, {"loss": "cross_entropy", "model": "mlp"}.get(k)) != config[k]:
            raise _UsageError(f"--resume with --{k.replace('_', '-')} {config[k]!r}, but the run used {saved.get(k)!r}")


def _check_numbers(args: argparse.Namespace) -> None:
    """The settings fit would refuse, said with the command's option names before anything is loaded."""
    if args.epochs < 0:
        raise _UsageError(f"--epochs must be ≥ 0, got {args.epochs}")
    if args.batch_size < 1:
        raise _UsageError(f"--batch-size must be ≥ 1, got {args.batch_size}")
    if not 0 <= args.validation < 1:
        raise _UsageError(
            f"--validation must be a fraction in [0, 1) of the training rows (0: none), got {args.validation:g}"
        )
    if not 0 < args.test_size < 1:
        raise _UsageError(f"--test-size must be a fraction in (0, 1), got {args.test_size:g}")
    if args.patience is not None:
        if args.patience < 0:
            raise _UsageError(f"--patience must be ≥ 0, got {args.patience}")
        if args.validation == 0:
            raise _UsageError(
                "--patience stops on the validation loss, but --validation 0 holds out no rows: give "
                "--validation a fraction such as 0.1, or leave out --patience"
            )
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise _UsageError(f"--lr must be a finite number > 0, got {args.lr:g}")
    if not (math.isfinite(args.l2) and args.l2 >= 0):
        raise _UsageError(f"--l2 must be a finite number ≥ 0, got {args.l2:g}")


_OPTION_NAMES = (
    ("batch_size", "--batch-size"),
    ("validation", "--validation"),
    ("epochs", "--epochs"),
    ("patience", "--patience"),
    ("l2", "--l2"),
    ("lr", "--lr"),
)


def _in_cli_words(message: str) -> str:
    """An fnn message about fit's arguments, with the command's option names."""
    message = message.removeprefix("fit: ")
    for name, option in _OPTION_NAMES:
        message = message.replace(f"{name} must", f"{option} must")
    return message


def _train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    out, resume = _run_dir(args)
    config = {
        k: getattr(args, k)
        for k in (
            "data",
            "model",
            "layers",
            "activation",
            "dropout",
            "optimizer",
            "lr",
            "l2",
            "epochs",
            "batch_size",
            "validation",
            "patience",
            "test_size",
            "target",
            "seed",
            "dtype",
            "loss",
        )
    }
    _check_numbers(args)
    every = _checkpoint_every(args.checkpoint_every)
    hidden = _hidden(args.layers)
    _check_resumable(out, resume, config)
    saved_classes = _read_config(out).get("classes") if resume and _started(out) else None
    loaded = _load(args.data, args.target, args.dtype)
    y, classes = _targets(loaded["y"], args.loss, saved_classes, args.data)
    if classes is not None:
        config["classes"] = classes
    x_train, y_train, _, _ = _split(config, loaded["x"], y, loaded)
    x_train, _, scaler = fnn.data.standardize(x_train, x_train[:1])
    regression = args.loss != "cross_entropy"
    outputs = 1 if regression else (len(classes) if classes is not None else int(np.max(y)) + 1)
    if not regression and len(np.unique(y)) < 2:
        only = classes[0] if classes is not None else int(y[0])
        raise _UsageError(
            f"the target column of {args.data} holds one class ({only!r}) in all {len(y)} rows: a "
            f"classifier needs at least 2 classes; for real-valued targets pass --loss mse"
        )
    # The same state on every start: fit ignores it when the run's checkpoints exist.
    k_init, k_train = fnn.random.split(fnn.random.key(args.seed))
    spec = _model(args, x_train.shape[1], outputs, regression, hidden)
    optimizer = fnn.optim.get(args.optimizer, lr=args.lr)
    state = fnn.TrainState.create(fnn.init(k_init, spec), optimizer, key=k_train)
    stopping = fnn.EarlyStopping("val_loss", patience=args.patience) if args.patience is not None else None
    kw = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        loss=args.loss,
        l2=args.l2,
        validation=args.validation or None,
        early_stopping=stopping,
        metrics=["mae"] if regression else None,
    )
    try:  # every check fit makes, before anything is written: epochs=0 without a directory trains and writes nothing
        fnn.fit(state, (x_train, y_train), **{**kw, "epochs": 0}, verbose=0)
    except FnnError as e:
        raise _UsageError(_in_cli_words(str(e).splitlines()[0])) from None
    fresh = not out.exists()
    lock = _hold(out)  # one live fnn train per run directory, from here to the end (see fnn.resume)
    try:
        _check_resumable(out, resume, config)  # again, under the lock: another command may have started meanwhile
        started_before = _started(out)
        _atomic_text(out / CONFIG, json.dumps(config, indent=1))
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a divergence is said in one line
                state, history = fnn.fit(
                    state,
                    (x_train, y_train),
                    **kw,
                    verbose=0 if args.quiet else 1,
                    resume=out / CHECKPOINTS,
                    checkpoint_every=every,
                )
        except NonFiniteError as e:
            return _diverged(e, out, fresh, started_before, args)
        except KeyboardInterrupt as e:
            return _interrupted(e, out, argv, resume)
        payload = {
            "state": state,
            "history": history,
            "classes": outputs,
            "scaler": {"mean": scaler.mean, "scale": scaler.scale},
        }
        if classes is not None:
            payload["class_names"] = classes
        fnn.save(out / MODEL, payload)
        written = [MODEL, CONFIG, f"{CHECKPOINTS}/"]
        if history:
            _write_history(out, history)
            written += ["history.json", "history.csv"]
            if _plot(out, history, config):
                written.append("history.png")
        print(f"wrote {out}: {', '.join(written)}")
        return 0
    finally:
        fnn.resume._unlock(lock)


def _hold(out: Path) -> int | None:
    """Make ``out`` and take its lock (see :mod:`fnn.resume`), or say which live process holds it."""
    try:
        return fnn.resume._lock(out, "train")
    except FnnError as e:
        raise _Busy(
            str(e).replace(
                "wait for that one to end (or stop it), or use another directory",
                "wait for it to end (or stop it), or choose another --out",
            )
        ) from None


def _diverged(error: NonFiniteError, out: Path, fresh: bool, started_before: bool, args: argparse.Namespace) -> int:
    """One line for a run whose loss became NaN or infinite; a run this command started is removed (training
    is deterministic: resuming it would diverge again), so that the corrected command can start."""
    done = len(getattr(error, "history", {}).get("loss", ()))
    what = str(error).split(";")[0]
    if not started_before:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        else:
            (out / CONFIG).unlink(missing_ok=True)
            shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
        kept = f"nothing was kept in {out}"
    else:
        kept = f"the checkpoints of {out} up to epoch {done} are kept, but a resume would diverge again"
    print(
        f"fnn: error: training diverged in epoch {done + 1}: {what}; {kept}; try a lower --lr (it was {args.lr:g})",
        file=sys.stderr,
    )
    return DIVERGED


def _interrupted(error: KeyboardInterrupt, out: Path, argv: Sequence[str], resume: bool) -> int:
    done = len(getattr(error, "history", {}).get("loss", ()))
    command = shlex.join(["fnn", *argv, *([] if resume else ["--resume"])])
    print(
        f"\nfnn: interrupted in epoch {done + 1}; the run is saved in {out / CHECKPOINTS}: continue it with: {command}",
        file=sys.stderr,
    )
    return INTERRUPTED


def _best_epoch(history: dict, config: dict) -> int | None:
    """The epoch whose params the run kept: the best val_loss when early stopping ran, else None."""
    if config.get("patience") is None or "val_loss" not in history or not len(history["val_loss"]):
        return None
    return int(np.nanargmin(history["val_loss"])) + 1


def _plot(out: Path, history: dict, config: dict) -> bool:
    try:
        import matplotlib.pyplot as plt

        import fnn.plot
    except ImportError:
        print("history.png skipped: matplotlib is not installed (pip install 'fnn[plot]')", file=sys.stderr)
        return False
    losses = np.asarray(history["loss"], dtype=float)
    wide = bool(np.all(losses > 0)) and losses.max() > 100 * losses.min()  # two decades or more: a log scale
    title = f"{out}: {config['optimizer']}, lr {config['lr']:g}, seed {config['seed']}"
    plt.close(
        fnn.plot.history(
            history,
            path=out / "history.png",
            title=title,
            best_epoch=_best_epoch(history, config),
            log_scale=wide,
            loss_name=config.get("loss", "cross_entropy"),
        )
    )
    return True


# ------------------------------------------------------------------ evaluate, predict, summary


def _run(path: str) -> tuple[dict, dict]:
    run = Path(path)
    if not run.exists():
        raise _UsageError(f"{run} does not exist (a run directory is written by `fnn train --out {run}`)")
    if run.is_file():
        parent = run.parent if run.name == MODEL else None
        hint = f": pass its run directory, {parent}" if parent is not None else " (a run directory is expected)"
        raise _UsageError(f"{run} is a file{hint}")
    if not (run / MODEL).exists():
        if fnn.io.list_checkpoints(run / CHECKPOINTS):
            raise _UsageError(
                f"{run} holds a run that has not finished: continue it with `fnn train ... --resume {run}`"
            )
        raise _UsageError(f"{run} is not a run directory: {MODEL} is missing (write one with `fnn train`)")
    return _read_model(run), _read_config(run)


# What fnn train writes into config.json, with the types every command relies on (classes: optional, loss: older
# runs have none and are cross_entropy).
_CONFIG_TYPES: dict[str, type | tuple[type, ...]] = {
    "data": str,
    "layers": str,
    "activation": str,
    "dropout": (int, float),
    "optimizer": str,
    "lr": (int, float),
    "l2": (int, float),
    "epochs": int,
    "batch_size": int,
    "validation": (int, float),
    "patience": (int, type(None)),
    "test_size": (int, float),
    "target": str,
    "seed": int,
    "dtype": str,
}


def _read_config(run: Path) -> dict:
    """``run/config.json``, checked: a usage error naming the file and what is wrong with it."""
    path = run / CONFIG
    problem: str | None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        problem = f"is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})"
    except json.JSONDecodeError as e:
        problem = f"is not JSON ({e.msg}, line {e.lineno})"
    except FileNotFoundError:
        problem = "is missing"
    except IsADirectoryError:
        problem = "is a directory"
    else:
        problem = _config_problem(config)
        if problem is None:
            return config
    raise _UsageError(
        f"{path} {problem}: the run's settings cannot be read (fnn train writes this file; restore it, "
        f"or train again into another --out)"
    )


def _config_problem(config: Any) -> str | None:
    if not isinstance(config, dict):
        return f"holds a JSON {type(config).__name__}, not the object of settings fnn train writes"
    missing = [k for k in _CONFIG_TYPES if k not in config]
    if missing:
        return f"lacks the setting{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    for k, kind in _CONFIG_TYPES.items():
        if not isinstance(config[k], kind) or isinstance(config[k], bool):
            return f"has {k} = {config[k]!r}, not a {getattr(kind, '__name__', 'number')}"
    if config["dtype"] not in ("float32", "float64") or config.get("loss", "cross_entropy") not in LOSSES:
        return f"has dtype {config['dtype']!r} and loss {config.get('loss')!r}, not fnn train's"
    classes = config.get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        return f"has classes = {classes!r}, not a list of class names"
    return None


def _read_model(run: Path) -> dict:
    """``run/model.npz``, checked to be what fnn train writes: a usage error naming the file otherwise."""
    path = run / MODEL
    try:
        saved = fnn.load(path)
    except FnnError as e:
        raise _UsageError(f"{path} cannot be loaded: {str(e).splitlines()[0]}") from None
    except (OSError, RuntimeError, ValueError, EOFError) as e:  # zipfile's own errors on a damaged file
        raise _UsageError(f"{path} cannot be loaded ({type(e).__name__}: {e}): it is damaged") from None
    problem = _model_problem(saved)
    if problem is not None:
        raise _UsageError(f"{path} {problem}: it is not a model written by fnn train (train again to rewrite it)")
    return saved


def _model_problem(saved: Any) -> str | None:
    if not isinstance(saved, dict):
        return f"holds a {type(saved).__name__}, not the dict of state, history and scaler fnn train saves"
    missing = [k for k in ("state", "history", "classes", "scaler") if k not in saved]
    if missing:
        return f"lacks {', '.join(missing)}"
    if not isinstance(saved["state"], fnn.TrainState):
        return f"holds a {type(saved['state']).__name__} as its state, not an fnn.TrainState"
    scaler = saved["scaler"]
    if not (
        isinstance(scaler, dict)
        and all(isinstance(scaler.get(k), np.ndarray) and scaler[k].ndim == 1 for k in ("mean", "scale"))
        and scaler["mean"].shape == scaler["scale"].shape
    ):
        return "holds a scaler without the mean and scale vectors of one length"
    history = saved["history"]
    if not (isinstance(history, dict) and all(isinstance(v, np.ndarray) and v.ndim == 1 for v in history.values())):
        return "holds a history that is not a dict of one value per epoch"
    if history and ("loss" not in history or len({len(v) for v in history.values()}) != 1):
        return f"holds a history without a loss for every epoch (it has {sorted(history)})"
    names = saved.get("class_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        return "holds class names that are not a list of strings"
    return None


def _features(x: np.ndarray, scaler: Any, data: str, config: dict) -> np.ndarray:
    width = scaler.mean.shape[0]
    if x.shape[1] != width:
        raise _UsageError(
            f"--data {data} has {x.shape[1]} features, but the run was trained on {width} ({config['data']})"
        )
    return scaler.transform(x.astype(config["dtype"]))


def _evaluate(args: argparse.Namespace) -> int:
    saved, config = _run(args.run)
    data = args.data or config["data"]
    loaded = _load(data, config["target"], config["dtype"])
    loss = config.get("loss", "cross_entropy")
    y, _ = _targets(loaded["y"], loss, config.get("classes"), data)
    if data == config["data"]:
        _, _, x, y = _split(config, loaded["x"], y, loaded)
        where = "held-out test rows"
    else:
        x = loaded.get("x_test", loaded["x"])
        y = _targets(loaded["y_test"], loss, config.get("classes"), data)[0] if "y_test" in loaded else y
        where = "all rows" if "x_test" not in loaded else "test files"
    scaler = fnn.data.Standardizer(saved["scaler"]["mean"], saved["scaler"]["scale"])
    x = _features(x, scaler, data, config)
    metrics = ["mse", "mae"] if loss != "cross_entropy" else ["accuracy"]
    scores = fnn.evaluate(saved["state"], (x, y), loss=loss, metrics=metrics)
    if args.json:
        print(json.dumps({"run": args.run, "data": data, "rows": int(len(y)), "split": where, **scores}))
        return 0
    print(f"data: {data} ({where}, {len(y)} rows)")
    for name in metrics:
        print(f"{name}: {scores[name]:.4f}")
    print(f"loss: {scores['loss']:.4f}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    saved, config = _run(args.run)
    scaler = fnn.data.Standardizer(saved["scaler"]["mean"], saved["scaler"]["scale"])
    width = scaler.mean.shape[0]
    if args.data.endswith(".csv"):
        x = _csv_features(args.data, width, config)
    else:
        x = _load(args.data, config["target"], config["dtype"])["x"]
    x = _features(x, scaler, args.data, config)
    y_hat = fnn.apply(saved["state"].params, x)
    if config.get("loss", "cross_entropy") != "cross_entropy":
        rows = [["prediction"], *([repr(float(v))] for v in y_hat[:, 0])]
    else:
        names = saved.get("class_names") or [str(k) for k in range(y_hat.shape[1])]
        labels = fnn.metrics.predict_labels(y_hat)
        rows = [
            ["label", *(f"p_{n}" for n in names)],
            *([names[int(k)], *(repr(float(p)) for p in row)] for k, row in zip(labels, y_hat, strict=True)),
        ]
    text = _csv_text(rows)
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        _atomic_text(Path(args.out), text)
        print(f"wrote {args.out}: {len(rows) - 1} predictions")
    return 0


def _csv_features(path: str, width: int, config: dict) -> np.ndarray:
    """The features of a CSV for predict: every column, or every column but the run's target column."""
    if not Path(path).is_file():
        raise _UsageError(f"--data {path}: no such file")
    with _utf8(f"--data {path}"), open(path, newline="", encoding="utf-8-sig") as f:
        rows = [(line, cells) for line, cells in enumerate(csv.reader(f), 1) if any(c.strip() for c in cells)]
    if not rows:
        raise _UsageError(f"--data {path}: no data lines")
    if len(rows[0][1]) == width + 1:
        target = config["target"]
        column: int | str = int(target) if target.lstrip("-").isdigit() else target
        with _utf8(f"--data {path}"):
            return fnn.data.load_csv(path, target=column, dtype=config["dtype"], target_dtype=str)[0]
    if len(rows[0][1]) != width:
        raise _UsageError(
            f"--data {path} has {len(rows[0][1])} columns; the run takes {width} features (and, "
            f"optionally, its target column)"
        )
    if not all(_is_number(c) for c in rows[0][1]):
        rows = rows[1:]  # a header line
    x = np.empty((len(rows), width), np.float64)
    for i, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise _UsageError(f"{path}, line {line}: {width} cells expected, got {len(cells)}")
        for j, cell in enumerate(cells):
            if not _is_number(cell) or not math.isfinite(float(cell)):
                raise _UsageError(f"{path}, line {line}, column {j + 1}: a finite number expected, got {cell!r}")
            x[i, j] = float(cell)
    return x.astype(config["dtype"])


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _summary(args: argparse.Namespace) -> int:
    saved, config = _run(args.run)
    print(fnn.summary(saved["state"].params))
    history = saved["history"]
    if history:
        best = _best_epoch(history, config)
        at = (best or len(history["loss"])) - 1
        values = {k: float(v[at]) for k, v in history.items() if k != "time"}
        epochs = len(history["loss"])
        kept = f"early stopping kept epoch {best}: " if best is not None else ""
        print(
            f"trained {epochs} epochs ({config['optimizer']}, lr {config['lr']}, seed {config['seed']}); {kept}"
            + ", ".join(f"{k} {v:.4f}" for k, v in values.items())
        )
    return 0


# ------------------------------------------------------------------ the command


class _PipeSafe(io.TextIOBase):
    """Standard output that a closed pipe (``fnn train ... | head``) does not break: after the reader has
    gone, what would have been printed is dropped, and the work goes on."""

    def __init__(self, stream: Any) -> None:
        self._stream, self._closed = stream, False

    def write(self, text: str) -> int:
        if not self._closed:
            try:
                self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self._closed:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def isatty(self) -> bool:
        return not self._closed and self._stream.isatty()

    def _drop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError, ValueError):  # so that the interpreter's last flush is quiet too
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fnn`` command; returns the exit code (see the module: 0, 1, 2, 3, 4 or 130)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    with contextlib.redirect_stdout(_PipeSafe(sys.stdout)):
        try:
            args = parser.parse_args(argv)
            if args.command is None:
                print(parser.format_help(), end="", file=sys.stderr)
                return USAGE
            if args.command == "train":
                return _train(args, argv)
            return {"evaluate": _evaluate, "predict": _predict, "summary": _summary}[args.command](args)
        except (_UsageError, FnnError, FileNotFoundError, IsADirectoryError, ImportError, json.JSONDecodeError) as e:
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"fnn: error: {message}", file=sys.stderr)
            return USAGE
        except _Busy as e:
            print(f"fnn: error: {e}", file=sys.stderr)
            return BUSY
        except KeyboardInterrupt:
            print("\nfnn: interrupted", file=sys.stderr)
            return INTERRUPTED
        except OSError as e:
            print(f"fnn: error: {e}", file=sys.stderr)
            return FAILED
        except Exception as e:  # a bug: still one line, and the traceback on request
            if os.environ.get("FNN_TRACEBACK"):
                raise
            first = str(e).splitlines()[0] if str(e) else ""
            print(
                f"fnn: error: unexpected {type(e).__name__}: {first} (a bug in fnn, please report it; "
                f"FNN_TRACEBACK=1 shows where)",
                file=sys.stderr,
            )
            return FAILED


if __name__ == "__main__":
    sys.exit(main())
