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
import tempfile
from typing import Any, Mapping

import numpy as np

from fnn.errors import ConfigError, ShapeError

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


def history(hist: Mapping[str, Any], path: str | os.PathLike | None = None, *, title: str | None = None) -> Any:
    """A figure of train and validation loss and metrics per epoch; saved as PNG when ``path`` is given.

    Args:
        hist: a history from :func:`fnn.fit` (1-D arrays per key; for K stacked models
            (epochs, K) arrays, one line per model).
        path: where to write the PNG (atomically: a temporary file, then a rename).
        title: a title for the figure.

    Returns:
        The matplotlib Figure.

    Raises:
        ConfigError: the history has no epochs or nothing to plot.
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
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
    x = np.arange(1, epochs + 1)
    for ax, (name, keys) in zip(axes[0], panels, strict=True):
        legend = []
        for i, key in enumerate(keys):
            style = "--" if key.startswith("val_") else "-"
            label = "validation" if key.startswith("val_") else "train"
            # a stack's (epochs, K) entry is K lines of one colour; the legend names the first
            lines = ax.plot(x, np.asarray(hist[key], dtype=float), style, color=f"C{i}", marker="o" if epochs < 30 else None)
            legend.append((lines[0], label))
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend([h for h, _ in legend], [label for _, label in legend])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_png(fig, os.fspath(path))
    return fig


def _save_png(fig: Any, path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".fnn-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=100)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
