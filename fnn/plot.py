"""Plots of training histories (optional extra: ``pip install 'fnn[plot]'``).

>>> import os, tempfile, numpy as np, fnn.plot
>>> history = {"loss": np.array([1.0, 0.5, 0.3]), "val_loss": np.array([1.1, 0.7, 0.6]),
...            "accuracy": np.array([0.6, 0.8, 0.9]), "val_accuracy": np.array([0.5, 0.7, 0.8])}
>>> with tempfile.TemporaryDirectory() as d:
...     fig = fnn.plot.history(history, path=os.path.join(d, "history.png"))
...     os.path.getsize(os.path.join(d, "history.png")) > 10_000
True
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from fnn.errors import ConfigError, ShapeError
from fnn.io import atomic_write

__all__ = ["history"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError("fnn.plot needs matplotlib: pip install 'fnn[plot]'") from e
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # headless: render to files
    import matplotlib.pyplot as plt

    return plt


def _panels(hist: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """One panel per quantity: loss first, then each metric; a panel holds the train and val_ curves."""
    names = [k for k in hist if k != "time" and not k.startswith("val_")]
    names += [k[4:] for k in hist if k.startswith("val_") and k[4:] not in hist]
    names.sort(key=lambda k: (k != "loss", k))
    return [(name, [k for k in (name, "val_" + name) if k in hist]) for name in names]


def _check_best(best_epoch: Any, epochs: int, members: int | None) -> np.ndarray | None:
    """The best epoch(s) as an int array (one per member for a stack), checked against the history."""
    if best_epoch is None:
        return None
    best = np.atleast_1d(np.asarray(best_epoch))
    expected = 1 if members is None else members
    bad = best.dtype.kind not in "iu" or best.ndim != 1 or best.size not in (1, expected)
    if bad or best.min() < 1 or best.max() > epochs:
        raise ConfigError(
            f"history: best_epoch must be an epoch in [1, {epochs}]"
            + (f", or {members} of them (one per member of the stack)" if members else "")
            + f", got {best_epoch!r}"
        )
    return best


def history(
    hist: Mapping[str, Any],
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    best_epoch: Any = None,
    log_scale: bool = False,
    loss_name: str | None = None,
) -> Any:
    """A figure of train and validation loss and metrics per epoch; saved as PNG when ``path`` is given.

    Epochs are ticked at whole numbers.

    Args:
        hist: a history from :func:`fnn.fit` (1-D arrays per key; for K stacked models
            (epochs, K) arrays, one line per model).
        path: where to write the PNG, atomically (a temporary file, then a rename) and with the
            permissions any file of the user gets (the umask's, as :func:`fnn.save`'s files);
            missing directories are made.
        title: a title for the figure.
        best_epoch: the epoch whose params were kept (early stopping's restored one), marked in
            every panel; for a stack, one per member, marked on each member's validation curve.
        log_scale: plot the loss on a log scale (a regression loss falling over decades).
        loss_name: the loss's name, for the loss panel's title (e.g. ``"cross_entropy"``).

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigError: the history has no epochs or nothing to plot; a bad ``best_epoch``; a log
            scale for a loss that is not positive.
        ShapeError: curves of different lengths.
        ImportError: matplotlib is not installed.
    """
    panels = _panels(hist)
    if not panels:
        raise ConfigError(f"history has nothing to plot (keys: {sorted(hist)})")
    lengths = {k: len(np.asarray(v)) for k, v in hist.items()}
    if len(set(lengths.values())) != 1:
        raise ShapeError(f"history curves must have one value per epoch each, got lengths {lengths}")
    epochs = next(iter(lengths.values()))
    if epochs == 0:
        raise ConfigError("history has no epochs to plot")
    members = next((np.shape(v)[1] for v in hist.values() if np.ndim(v) == 2), None)
    best = _check_best(best_epoch, epochs, members)
    if log_scale and "loss" in hist and not np.all(np.asarray(hist["loss"], dtype=float)[~np.isnan(hist["loss"])] > 0):
        raise ConfigError("history: log_scale needs a positive loss, and this one reaches 0 or below")
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    x = np.arange(1, epochs + 1)
    for ax, (name, keys) in zip(axes[0], panels, strict=True):
        legend = []
        for i, key in enumerate(keys):
            style = "--" if key.startswith("val_") else "-"
            label = "validation" if key.startswith("val_") else "train"
            # a stack's (epochs, K) entry is K lines of one colour; the legend names the first
            lines = ax.plot(
                x, np.asarray(hist[key], dtype=float), style, color=f"C{i}", marker="o" if epochs < 30 else None
            )
            legend.append((lines[0], label))
        if best is not None:
            legend.append(_mark_best(ax, hist, keys, best, x))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.set_title(f"loss ({loss_name})" if name == "loss" and loss_name else name)
        if log_scale and name == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend([h for h, _ in legend], [label for _, label in legend])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_png(fig, os.fspath(path))
    return fig


def _mark_best(ax: Any, hist: Mapping[str, Any], keys: list[str], best: np.ndarray, x: np.ndarray) -> tuple:
    """Mark the kept epoch: a vertical line for one network, a point on each member's curve for a stack."""
    if best.size == 1 and np.ndim(hist[keys[-1]]) == 1:
        line = ax.axvline(int(best[0]), color="0.3", linestyle=":", linewidth=1.2)
        return line, f"best epoch {int(best[0])} (kept)"
    curve = np.asarray(hist[keys[-1]], dtype=float).reshape(len(x), -1)  # the validation curve where there is one
    columns = np.arange(curve.shape[1])
    at = np.broadcast_to(best, columns.shape) - 1
    points = ax.plot(at + 1, curve[at, columns], linestyle="none", marker="*", markersize=10, color="0.2")
    return points[0], "best epochs (kept)"


def _save_png(fig: Any, path: str) -> None:
    # through fnn.io.atomic_write: a temporary file created with the umask's permissions (0644 for most
    # users), fsync, rename; tempfile.mkstemp would make every plot owner-only (0600)
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda f: fig.savefig(f, format="png", dpi=100))
