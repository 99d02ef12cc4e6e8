"""``summary(params)``: a Keras-style table of a network's layers, output shapes and parameter counts.

The table is a pure function of the params: the same params give the same string,
however often it is called, and the total is the number of elements in the flat
parameter vector (``fnn.tree.ravel(params)[0].size``), counted from the leaves, so
a Dense layer without bias counts only its weights. Output shapes come from running
each layer's ``forward`` on one sample of zeros, so a user's registered layers are
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
from fnn.layers import Sequential, SequentialParams, details, forward, sublayers, takes_integers
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


def _rows(node: Any, x: np.ndarray, prefix: str, rows: list) -> np.ndarray | None:
    """Append a row per sublayer of ``node`` (combinators expanded: ``2.0``, ``2.1``, ...); return the output.

    A Sequential's sublayers are chained; any other combinator's sublayers (branches, blocks) are
    each shown on the combinator's own input. A layer whose output cannot be computed so shows "?".
    """
    chained = isinstance(node, SequentialParams)
    for i, layer in enumerate(sublayers(node)):
        index = f"{prefix}{i}"
        inner = sublayers(layer)
        try:
            y = forward(layer, x, None, False)[0]
        except Exception:  # noqa: BLE001 - a user's combinator whose sublayers take other inputs: say so, do not fail
            y = None
        shape = "?" if y is None else _shape(y)
        if inner:
            start = len(rows)
            rows.append(None)  # filled once the nested rows are counted
            _rows(layer, x, f"{index}.", rows)
            own = _count(layer) - sum(_count(n) for n in inner)
            what = f"layers {index}.0-{index}.{len(inner) - 1}"
            extra = "" if isinstance(layer, SequentialParams) else details(layer)
            rows[start] = (
                index,
                _type_name(layer),
                shape,
                f"{own:,}" if own else "",
                f"{extra}; {what}" if extra else what,
            )
        else:
            rows.append((index, _type_name(layer), shape, f"{_count(layer):,}", details(layer)))
        if chained:
            if y is None:
                return None
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

    Output shapes are per sample, Keras-style: ``(None, 19, 25)``. Details come from
    ``fnn.layers.details`` (the activation name, the dropout rate, ``bias``/``no bias`` for
    Dense layers; by default a layer's static settings and leaf shapes). Combinators
    (``fnn.layers.sublayers``: a nested Sequential, a Residual's block, a Concat's branches)
    are expanded (rows ``2.0``, ``2.1``, ...; the combinator's own row counts only its own
    leaves, so the column sums to the total). State leaves (``fnn.tree.state_field``: BatchNorm's
    running statistics) are counted as non-trainable, as Keras counts them.

    Args:
        params: from :func:`fnn.init`; a :class:`fnn.TrainState` (its params) or a
            Sequential spec with ``in_shape`` (initialised with a fixed key) also work.
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
    x = np.zeros((1, *params.in_shape), np.intp if takes_integers(params) else dtype)
    _rows(params, x, "", rows)
    widths = [max(len(c), *(len(r[j]) for r in rows)) if rows else len(c) for j, c in enumerate(_COLUMNS)]

    def line(cells: tuple) -> str:
        padded = [c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    total = _count(params) * (members or 1)
    frozen = tree.ravel_state(params).size * (members or 1)  # state leaves: BatchNorm's running statistics
    stack = "" if members is None else f"; a stack of {members} networks (the rows show one, the totals all)"
    return "\n".join(
        [
            f"Sequential: input {_shape(x)}, {dtype.name}{stack}",
            "=" * width,
            line(_COLUMNS),
            "-" * width,
            *(line(r) for r in rows),
            "=" * width,
            f"Total params: {total:,} ({_bytes(total * dtype.itemsize)})",
            f"Trainable params: {total - frozen:,} ({_bytes((total - frozen) * dtype.itemsize)})",
            f"Non-trainable params: {frozen:,} ({_bytes(frozen * dtype.itemsize)})",
        ]
    )
