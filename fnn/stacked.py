"""K networks as one: ``stack``, ``unstack``, ``member`` and ``init_many``.

A *stack* is a :class:`~fnn.layers.SequentialParams` whose ``members`` is K and whose
every leaf has a leading axis of size K (a Dense weight (K, in, out), a bias (K, out)),
packed, like any params, into one flat read-only buffer. Every function that takes
params takes a stack, and trains or runs its K networks together on the same rows:

- :func:`fnn.apply` returns (K, n, out) and :func:`fnn.predict` (K, n); inputs stay (n, features).
- :func:`fnn.value_and_grad` returns the K losses and the gradient of their sum (so
  member k's gradient is network k's own).
- :func:`fnn.train_epoch` and :func:`fnn.fit` step all members on the same batches;
  history entries are (epochs, K); early stopping watches each member on its own.
- Dropout: at each step member k draws its masks from ``fold_in(key, k)``, where ``key``
  is the one the layer would get as a single network.

**The law.** Without dropout, member k of a stacked ``fit`` is bit for bit the ``fit`` of
network k alone, in float32 and float64: each member's matrix products are the
products one network runs (``np.matmul`` loops over the members), its reductions add
the same numbers in the same order, and the optimizers work element by element. The
one exception, refused with a ConfigError, is an optimizer that mixes elements:
``clip_by_global_norm`` would clip all members by one norm (``fnn.optim.clip_by_member_norm``
clips each member by its own).

>>> import numpy as np, fnn
>>> spec = fnn.mlp([4, 8, 3])
>>> keys = fnn.random.split(fnn.random.key(0), 5)
>>> stacked = fnn.init_many(keys, spec)
>>> stacked.members, stacked.layers[0].w.shape, fnn.apply(stacked, np.ones((2, 4))).shape
(5, (5, 4, 8), (5, 2, 3))
>>> fnn.tree.equal(fnn.unstack(stacked)[3], fnn.init(keys[3], spec))
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from fnn import random, tree
from fnn._checks import MAX_BYTES
from fnn.errors import ConfigError
from fnn.layers import Sequential, SequentialParams
from fnn.network import check_params_size, init

__all__ = ["stack", "unstack", "member", "init_many", "select_members", "is_stacked"]


def is_stacked(params: Any) -> bool:
    """Whether ``params`` is a stack of networks (see :func:`stack`).

    >>> import fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 2]))
    >>> fnn.stacked.is_stacked(p), fnn.stacked.is_stacked(fnn.stack([p, p]))
    (False, True)
    """
    return isinstance(params, SequentialParams) and params.members is not None


def stack(params_list: Iterable[SequentialParams]) -> SequentialParams:
    """One stack of the K networks in ``params_list`` (all of one structure, shapes and dtype).

    Member k is ``params_list[k]``: every leaf gains a leading axis of size K. The result is
    a new packed tree (one flat read-only buffer); the inputs are unchanged.

    Raises:
        ConfigError: the list is empty; an item is not params from :func:`fnn.init` (or is
            already a stack); the items differ in structure, shapes or dtype (the message
            names the first difference); or a layer is a type stacks cannot hold (a user's layer).

    >>> import fnn
    >>> ps = [fnn.init(fnn.random.key(s), fnn.mlp([3, 2])) for s in range(4)]
    >>> s = fnn.stack(ps)
    >>> s.members, s.layers[0].w.shape, s.layers[0].b.shape
    (4, (4, 3, 2), (4, 2))
    """
    if isinstance(params_list, SequentialParams):
        raise ConfigError("fnn.stack expects a list of params trees, got a single one; wrap it: fnn.stack([params])")
    try:
        items = list(params_list)
    except TypeError:
        raise ConfigError(
            f"fnn.stack expects a list of params from fnn.init, got {type(params_list).__name__}"
        ) from None
    if not items:
        raise ConfigError("fnn.stack needs at least one params tree, got an empty list")
    for i, p in enumerate(items):
        if not isinstance(p, SequentialParams):
            raise ConfigError(
                f"fnn.stack: item {i} is a {type(p).__name__}, not params from fnn.init (a SequentialParams)"
            )
        if p.members is not None:
            raise ConfigError(f"fnn.stack: item {i} is already a stack of {p.members}; unstack it first (fnn.unstack)")
    first = items[0]
    for i, p in enumerate(items[1:], start=1):
        difference = _difference(first, p)
        if difference:
            raise ConfigError(f"fnn.stack: item {i} differs from item 0: {difference}")
    leaves = [np.stack(column) for column in zip(*(tree.leaves(p) for p in items), strict=True)]
    one = tree.unflatten(tree.structure(first), leaves)
    return tree.pack(attrs.evolve(one, members=len(items)))


def _difference(a: SequentialParams, b: SequentialParams) -> str | None:
    if tree.structure(a) != tree.structure(b):
        return f"another structure ({tree.structure(b)!r} instead of {tree.structure(a)!r})"
    for (path, x), (_, y) in zip(tree.leaves_with_path(a), tree.leaves_with_path(b), strict=True):
        if np.shape(x) != np.shape(y) or np.asarray(x).dtype != np.asarray(y).dtype:
            return (
                f"the leaf {path} is {np.shape(y)} {np.asarray(y).dtype}, "
                f"item 0 has {np.shape(x)} {np.asarray(x).dtype}"
            )
    return None


def unstack(stacked: SequentialParams) -> tuple[SequentialParams, ...]:
    """The K networks of a stack, each a packed params tree of its own (copies).

    ``unstack(stack(ps))`` equals ``ps``, and ``stack(unstack(s))`` equals ``s``.

    >>> import fnn
    >>> s = fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([2, 2]))
    >>> [p.layers[0].w.shape for p in fnn.unstack(s)]
    [(2, 2), (2, 2), (2, 2)]
    """
    if not is_stacked(stacked):
        raise ConfigError(
            f"fnn.unstack expects a stack of networks (from fnn.stack or fnn.init_many), got "
            f"{'params of one network' if isinstance(stacked, SequentialParams) else type(stacked).__name__}"
        )
    return tuple(tree.pack(member(stacked, k)) for k in range(stacked.members))  # type: ignore[arg-type]  # a stack


def member(stacked: SequentialParams, k: int) -> SequentialParams:
    """Network ``k`` of a stack, its leaves views into the stack's (nothing copied; see :func:`unstack` for copies).

    >>> import fnn
    >>> s = fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([2, 2]))
    >>> one = fnn.stacked.member(s, 1)
    >>> one.members, one.layers[0].w.shape, one.layers[0].w.base is not None
    (None, (2, 2), True)
    """
    return attrs.evolve(tree.map(lambda leaf: leaf[k], stacked), members=None)


def init_many(keys: Sequence[random.Key], spec: Sequential, *, max_bytes: int | None = MAX_BYTES) -> SequentialParams:
    """A stack of K networks of ``spec``, member k drawn as ``fnn.init(keys[k], spec)``.

    Args:
        keys: K keys, e.g. ``fnn.random.split(key, K)``.
        spec: as for :func:`fnn.init`.
        max_bytes: refuse, before allocating, a stack whose K members' params need more bytes
            (default 8 GiB; None: no limit).

    >>> import fnn
    >>> s = fnn.init_many(fnn.random.split(fnn.random.key(1), 8), fnn.mlp([64, 64, 10]))
    >>> s.members, fnn.tree.ravel(s)[0].size == 8 * (64 * 64 + 64 + 64 * 10 + 10)
    (8, True)
    """
    if isinstance(keys, random.Key) or not hasattr(keys, "__iter__"):
        raise ConfigError(
            f"init_many expects a sequence of keys, e.g. fnn.random.split(key, 8), got {type(keys).__name__}"
        )
    keys = list(keys)
    for i, k in enumerate(keys):
        if not isinstance(k, random.Key):
            raise ConfigError(f"init_many: keys[{i}] must be an fnn.random.Key, got {type(k).__name__}")
    if not keys:
        raise ConfigError("init_many needs at least one key, got none")
    if isinstance(spec, Sequential) and spec.in_shape is not None:
        check_params_size(spec, len(keys), max_bytes, "init_many")
    return stack([init(k, spec, max_bytes=None) for k in keys])


def select_members(take: np.ndarray, a: SequentialParams, b: SequentialParams) -> SequentialParams:
    """A stack whose member k is ``a``'s where ``take[k]`` and ``b``'s elsewhere (a new packed tree).

    >>> import numpy as np, fnn
    >>> ps = [fnn.init(fnn.random.key(s), fnn.mlp([2, 2])) for s in range(4)]
    >>> a, b = fnn.stack(ps[:2]), fnn.stack(ps[2:])
    >>> m = fnn.unstack(fnn.stacked.select_members(np.array([True, False]), a, b))
    >>> fnn.tree.equal(m[0], ps[0]), fnn.tree.equal(m[1], ps[3])
    (True, True)
    """
    take = np.asarray(take, dtype=bool)

    def pick(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.where(take.reshape((-1,) + (1,) * (x.ndim - 1)), x, y)

    return tree.pack(tree.map(pick, a, b))
