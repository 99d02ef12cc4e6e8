"""``Embedding(num_embeddings, dim)``: a learned vector per integer id (``torch.nn.Embedding``).

Ids of any sample shape ``(...)`` become vectors ``(..., dim)``; a network that starts with
an Embedding takes integer inputs as they are (``fnn.layers.takes_integers``), never cast
to float. Ids outside ``[0, num_embeddings)`` are an error naming the range and the worst
id (NumPy would silently wrap a negative one). The gradient of the table adds up every
occurrence of an id (``np.add.at``), so repeated ids are exact. The table starts as
N(0, 1) draws, as torch's does.

>>> import numpy as np, fnn
>>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Embedding(10, 3)], in_shape=(4,)))
>>> fnn.apply(p, np.array([[1, 2, 2, 9]])).shape
(1, 4, 3)
"""

from __future__ import annotations

import attrs
import numpy as np

from fnn import initializers, tree
from fnn.errors import ConfigError, DtypeError
from fnn.layers.base import (
    backward,
    check_size,
    details,
    forward,
    init_node,
    out_shape,
    stackable,
    takes_integers,
    uses_key,
    weight_field,
    writes_every_grad,
)

__all__ = ["Embedding", "EmbeddingParams"]


@tree.value_class
@attrs.frozen
class Embedding:
    """Spec of a lookup table of ``num_embeddings`` vectors of size ``dim``.

    Args:
        num_embeddings: how many ids (ids are ``0 .. num_embeddings - 1``).
        dim: the size of each vector.
        init: the table's initializer (default ``normal(1.0)``, torch's N(0, 1)).

    >>> import fnn
    >>> fnn.Embedding(1000, 16).describe()
    'Embedding(1000, 16)'
    """

    num_embeddings: int = attrs.field(converter=lambda v: check_size(v, "Embedding num_embeddings"))
    dim: int = attrs.field(converter=lambda v: check_size(v, "Embedding dim"))
    init: initializers.Initializer = attrs.field(factory=lambda: initializers.normal(1.0), converter=initializers.get)

    def describe(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.dim})"


@tree.register
@attrs.frozen
class EmbeddingParams:
    """Parameters of an :class:`Embedding`: the ``table`` (num_embeddings, dim)."""

    table: np.ndarray = weight_field()

    def describe(self) -> str:
        return f"Embedding({self.table.shape[-2]}, {self.table.shape[-1]})"


@out_shape.register
def _(spec: Embedding, in_shape: tuple) -> tuple:
    return (*in_shape, spec.dim)


@init_node.register
def _(spec: Embedding, key, in_shape, dtype):
    return EmbeddingParams(spec.init(key, (spec.num_embeddings, spec.dim), dtype))


def _check_ids(node: EmbeddingParams, ids: np.ndarray) -> None:
    if ids.dtype.kind not in "biu":
        raise DtypeError(f"{node.describe()} takes integer ids, got an input of dtype {ids.dtype}")
    v = node.table.shape[-2]
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= v:
        worst = lo if lo < 0 else hi
        raise ConfigError(f"{node.describe()}: ids must lie in [0, {v - 1}], got {worst} (ids in [{lo}, {hi}])")


@forward.register
def _(node: EmbeddingParams, ids, key, train):
    _check_ids(node, ids)
    table = node.table
    if table.ndim == 2:
        return table.take(ids, axis=0), ids
    # a stack: ids (K, n, ...), member k looks up its own table
    return np.stack([table[k].take(ids[k], axis=0) for k in range(table.shape[0])]), ids


@backward.register
def _(node: EmbeddingParams, ids, g, out, need_input_grad):
    table = out.table
    table[...] = 0
    if node.table.ndim == 2:
        np.add.at(table, ids.reshape(-1), g.reshape(-1, g.shape[-1]))
    else:
        for k in range(table.shape[0]):
            np.add.at(table[k], ids[k].reshape(-1), g[k].reshape(-1, g.shape[-1]))
    return None  # ids have no gradient


uses_key.register(EmbeddingParams, lambda node: False)
stackable.register(EmbeddingParams, lambda node: True)
writes_every_grad.register(EmbeddingParams, lambda node: True)
takes_integers.register(EmbeddingParams, lambda node: True)
details.register(EmbeddingParams, lambda node: f"{node.table.shape[-2]} ids → {node.table.shape[-1]}")
