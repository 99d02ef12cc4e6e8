"""``summary(params)``: a Keras-style table of a network's layers, output shapes and parameter counts.

The table is a pure function of the params: the same params give the same string,
however often it is called, and the total is the number of elements in the flat
parameter vector (``fnn.tree.ravel(params)[0].size``), counted from the leaves, so
a Dense layer without bias counts only its weights. Output shapes come from running
each layer's ``forward`` on one row of zeros, so a user's registered layers are
shown correctly too.

>>> import fnn
>>> from fnn.summary import summary
>>> print(summary(fnn.init(fnn.random.key(0), fnn.mlp([4, 8, 3], dropout=0.5))))
Sequential: input (None, 4), float32
=============================================
#  Layer       Output shape  Params  Details
---------------------------------------------
0  Dense       (None, 8)         40  bias
1  Activation  (None, 8)          0  relu
2  Dropout     (None, 8)          0  rate 0.5
3  Dense       (None, 3)         27  bias
4  Activation  (None, 3)          0  softmax
=============================================
Total params: 67 (268 B)
Trainable params: 67 (268 B)
Non-trainable params: 0 (0 B)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnn import random, stacked, tree
from fnn.errors import ConfigError
from fnn.layers import Activation, DenseParams, Dropout, Sequential, SequentialParams, forward
from fnn.network import init
from fnn.train import TrainState

__all__ = ["summary"]

_COLUMNS = ("#", "Layer", "Output shape", "Params", "Details")


def _params_of(obj: Any) -> SequentialParams:
    if isinstance(obj, TrainState):
        obj = obj.params
    if isinstance(obj, Sequential):
        obj = init(random.key(0), obj)  # counts and shapes do not depend on the key
    if not isinstance(obj, SequentialParams):
        raise ConfigError(
            f"summary expects params from fnn.init (a SequentialParams), a TrainState or a Sequential spec, "
            f"got {type(obj).__name__}"
        )
    return obj


def _count(node: Any) -> int:
    return sum(int(np.size(leaf)) for leaf in tree.leaves(node))


def _shape(y: np.ndarray) -> str:
    return "(" + ", ".join(["None", *(str(n) for n in y.shape[1:])]) + ")"


def _type_name(node: Any) -> str:
    name = type(node).__name__
    return name[: -len("Params")] if name.endswith("Params") and len(name) > len("Params") else name


def _format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _details(node: Any) -> str:
    if isinstance(node, DenseParams):
        return "bias" if node.b is not None else "no bias"
    if isinstance(node, Activation):
        return node.name
    if isinstance(node, Dropout):
        return f"rate {node.rate:g}"
    # A user's layer: its static settings, then the shapes of its leaves.
    s = tree.structure(node)
    names = _static_names(type(node))
    parts = [f"{n}={_format_value(v)}" for n, v in zip(names, s.aux, strict=True)] if names else []
    parts += [f"{path.lstrip('.')} {tuple(np.shape(leaf))}" for path, leaf in tree.leaves_with_path(node)]
    return ", ".join(parts)


def _static_names(cls: type) -> tuple[str, ...]:
    return tree.node_fields(cls)[1] if tree.is_registered(cls) else ()


def _rows(node: SequentialParams, x: np.ndarray, prefix: str, rows: list) -> np.ndarray:
    """Append a row per layer of ``node`` (nested Sequentials expanded: ``2.0``, ``2.1``, ...); return the output."""
    for i, layer in enumerate(node.layers):
        index = f"{prefix}{i}"
        if isinstance(layer, SequentialParams):
            last = f"{index}.{len(layer.layers) - 1}"
            start = len(rows)
            rows.append(None)  # filled once the nested output shape is known
            y = _rows(layer, x, f"{index}.", rows)
            details = f"layers {index}.0-{last}" if layer.layers else "no layers"
            rows[start] = (index, "Sequential", _shape(y), "", details)
        else:
            y = forward(layer, x, None, False)[0]
            rows.append((index, _type_name(layer), _shape(y), f"{_count(layer):,}", _details(layer)))
        x = y
    return x


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n:,} B" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def summary(params: Any) -> str:
    """A Keras-style table of the network: index, layer, output shape, parameter count, details; and the totals.

    Details are the activation name, the dropout rate, ``bias``/``no bias`` for Dense
    layers, and a user's layer's static settings and leaf shapes. Nested Sequentials
    are expanded (rows ``2.0``, ``2.1``, ...; the Sequential's own row has no count, so
    the column sums to the total). Every parameter is trainable.

    Args:
        params: from :func:`fnn.init`; a :class:`fnn.TrainState` (its params) or a
            Sequential spec with ``in_dim`` (initialised with a fixed key) also work.
            For a stack of K networks (:func:`fnn.stack`) the rows describe one member
            and the totals count all K.

    Returns:
        The table as a string, lines joined by newlines; ``print`` it.

    Raises:
        ConfigError: ``params`` is none of these.

    >>> import fnn
    >>> from fnn.summary import summary
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([5, 2], output="sigmoid", use_bias=False))
    >>> text = summary(params)
    >>> text.splitlines()[4].split(), text.splitlines()[-3]
    (['0', 'Dense', '(None,', '2)', '10', 'no', 'bias'], 'Total params: 10 (40 B)')
    >>> text == summary(params)
    True
    >>> stack = fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([5, 2], output="sigmoid", use_bias=False))
    >>> summary(stack).splitlines()[-3]
    'Total params: 30 (120 B)'
    """
    params = _params_of(params)
    dtype = np.dtype(params.dtype)
    members = params.members
    if members is not None:  # a stack: the rows of one member, the totals of all
        params = stacked.member(params, 0)
    rows: list = []
    _rows(params, np.zeros((1, params.in_dim), dtype), "", rows)
    widths = [max(len(c), *(len(r[j]) for r in rows)) if rows else len(c) for j, c in enumerate(_COLUMNS)]

    def line(cells: tuple) -> str:
        padded = [c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    total = _count(params) * (members or 1)
    nbytes = total * dtype.itemsize
    stack = "" if members is None else f"; a stack of {members} networks (the rows show one, the totals all)"
    return "\n".join(
        [
            f"Sequential: input (None, {params.in_dim}), {dtype.name}{stack}",
            "=" * width,
            line(_COLUMNS),
            "-" * width,
            *(line(r) for r in rows),
            "=" * width,
            f"Total params: {total:,} ({_bytes(nbytes)})",
            f"Trainable params: {total:,} ({_bytes(nbytes)})",
            "Non-trainable params: 0 (0 B)",
        ]
    )
