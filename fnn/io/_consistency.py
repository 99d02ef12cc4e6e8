"""After a load: every network and train state is what :func:`fnn.init` and ``TrainState.create`` build.

The checksum of a file is not keyed, so a tampering tool can recompute it; a value
class's validators run again on load, but a params node does not know its spec. So
:func:`check_loaded` walks a loaded value and, for every :class:`~fnn.layers.SequentialParams`
(a network or a stack of them) and every :class:`~fnn.TrainState` in it, checks the structure
an ``init`` would give, from the network's ``in_shape`` down, layer by layer:

- every leaf is an array of the network's one float dtype (float32 or float64), and a
  stack's leaves all lead with its ``members`` axis;
- fnn's own layers have exactly the leaves their spec's ``init`` makes for that input
  (Dense: ``w`` (in, units) and ``b`` (units,) or None; convolutions, recurrent layers,
  normalizations and embeddings likewise; combinators branch by branch);
- every layer, fnn's or a user's, maps a batch of ``n`` samples to ``n`` outputs of one
  sample shape (a forward pass on zeros for ``n`` = 2 and 3, in inference mode): the shape
  the next layer is checked against;
- a train state has a :class:`fnn.random.Key`, an integer ``step >= 0``, an optimizer, and
  an ``opt_state`` of exactly the structure, shapes and dtypes ``optimizer.init`` makes
  for its params (counts integers >= 0).

Anything else is a :class:`~fnn.errors.FormatError` naming the leaf's path.

>>> import numpy as np, fnn
>>> from fnn.io._consistency import check_loaded
>>> p = fnn.init(fnn.random.key(0), fnn.mlp([4, 8, 3]))
>>> check_loaded(p, "m.npz")
>>> bad = fnn.layers.SequentialParams((fnn.layers.DenseParams(np.zeros((1, 4, 8), np.float32)),), in_dim=4)
>>> check_loaded(bad, "m.npz")
Traceback (most recent call last):
fnn.errors.FormatError: cannot load m.npz: at .layers[0].w: init builds a weight of shape (4, 8) for this input, got
(1, 4, 8)
"""

from __future__ import annotations

import functools
from typing import Any

import attrs
import numpy as np

from fnn import random, tree
from fnn.errors import FnnError, FormatError
from fnn.layers import (
    BatchNormParams,
    ConcatParams,
    DenseParams,
    EmbeddingParams,
    LayerNormParams,
    ParallelParams,
    ResidualParams,
    RMSNormParams,
    SequentialParams,
    forward,
    init_node,
    layer_name,
    out_shape,
    takes_integers,
)
from fnn.layers.base import _registered
from fnn.layers.conv import _ConvParams
from fnn.layers.recurrent import _GATES, _RecurrentParams

__all__ = ["check_loaded"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_PROBE = (2, 3)  # batch sizes of the forward probe: two, so that no dimension can pass for the batch by chance


class _Bad(Exception):
    """A mismatch found at a path; turned into the file's FormatError by check_loaded."""

    def __init__(self, at: str, message: str) -> None:
        super().__init__(at, message)
        self.at, self.message = at, message


def check_loaded(value: Any, where: str) -> None:
    """Raise a FormatError naming the path of the first part of ``value`` an ``init`` would not build."""
    try:
        _walk(value, "")
    except _Bad as e:
        raise FormatError(f"cannot load {where}: at {e.at or '<root>'}: {e.message}") from None


def _walk(node: Any, at: str) -> None:
    t = type(node)
    if t is SequentialParams:
        _network(node, at)
        return
    if _is_train_state(node):
        _train_state(node, at)
    if t is tuple or t is list:
        for i, c in enumerate(node):
            _walk(c, f"{at}[{i}]")
    elif t is dict:
        for k, c in node.items():
            _walk(c, f"{at}[{k!r}]")
    elif tree.is_registered(t):
        for name in tree.node_fields(t)[0]:
            _walk(getattr(node, name), f"{at}.{name}")


def _is_train_state(node: Any) -> bool:
    """A TrainState, known by its registration (``kind="train_state"``): fnn.train imports fnn.io, not back."""
    t = type(node)
    return tree.is_registered(t) and tree.save_info(t).kind == "train_state"


# ------------------------------------------------------------------ networks


def _network(params: SequentialParams, at: str) -> None:
    members = params.members
    prefix = () if members is None else (members,)
    leaves = tree.leaves(params)
    dtypes = {a.dtype if type(a) is np.ndarray else type(a).__name__ for a in leaves}
    if leaves and (len(dtypes) != 1 or next(iter(dtypes)) not in _FLOATS):
        raise _Bad(at, f"a network's leaves are arrays of one dtype, float32 or float64; got {_names(dtypes)}")
    dtype = leaves[0].dtype if leaves else np.dtype(np.float32)
    shape = tuple(params.in_shape)
    for i, layer in enumerate(params.layers):
        shape = _layer_out(layer, shape, prefix, dtype, f"{at}.layers[{i}]")


def _names(dtypes: set) -> str:
    return ", ".join(sorted(str(d) for d in dtypes))


def _layer_out(node: Any, in_shape: tuple, prefix: tuple, dtype: np.dtype, at: str) -> tuple:
    """Check ``node``'s leaves for samples of ``in_shape`` and return its output sample shape."""
    for name, leaf in _leaves_at(node, at):
        if type(leaf) is not np.ndarray or leaf.dtype != dtype:
            got = f"{leaf.dtype} array" if type(leaf) is np.ndarray else type(leaf).__name__
            raise _Bad(name, f"a leaf of this network must be a {dtype} array, got {got}")
        if leaf.shape[: len(prefix)] != prefix:
            raise _Bad(name, f"every leaf of a stack of {prefix[0]} networks leads with that axis, got {leaf.shape}")
    try:
        _leaf_shapes(node, in_shape, prefix, at)
    except (AttributeError, IndexError, TypeError) as e:  # a leaf init always makes is missing (None)
        raise _Bad(at, f"{_name(node)} lacks leaves its init builds ({type(e).__name__}: {e})") from None
    return _probe(node, in_shape, prefix, dtype, at)


def _leaves_at(node: Any, at: str) -> list[tuple[str, Any]]:
    """(path, leaf) of ``node``'s own leaves, one level down (nested networks are checked on their own)."""
    t = type(node)
    if not tree.is_registered(t):
        return [(at, node)]
    out: list[tuple[str, Any]] = []
    for name in tree.node_fields(t)[0]:
        child = getattr(node, name)
        if child is None:
            continue
        if type(child) in (tuple, list, dict) or tree.is_registered(type(child)):
            out.extend((f"{at}.{name}{p}", leaf) for p, leaf in _paths(child))
        else:
            out.append((f"{at}.{name}", child))
    return out


def _paths(node: Any, at: str = "") -> list[tuple[str, Any]]:
    t = type(node)
    if node is None:
        return []
    if t is tuple or t is list:
        return [x for i, c in enumerate(node) for x in _paths(c, f"{at}[{i}]")]
    if t is dict:
        return [x for k, c in node.items() for x in _paths(c, f"{at}[{k!r}]")]
    if tree.is_registered(t):
        return [x for n in tree.node_fields(t)[0] for x in _paths(getattr(node, n), f"{at}.{n}")]
    return [(at, node)]


def _expect(node: Any, name: str, shape: tuple, at: str, what: str) -> None:
    leaf = getattr(node, name)
    got = None if leaf is None else tuple(leaf.shape)
    if got != shape:
        raise _Bad(f"{at}.{name}", f"init builds {what} of shape {shape} for this input, got {got}")


@functools.singledispatch
def _leaf_shapes(node: Any, in_shape: tuple, prefix: tuple, at: str) -> None:
    """The leaves an init of fnn's own layers makes; a user's layer is checked by the forward probe alone."""


@_leaf_shapes.register
def _(node: DenseParams, in_shape, prefix, at):
    units = node.w.shape[-1] if node.w.ndim else 0
    _expect(node, "w", (*prefix, in_shape[-1], units), at, "a weight")
    if node.b is not None:
        _expect(node, "b", (*prefix, units), at, "a bias")


@_leaf_shapes.register
def _(node: _ConvParams, in_shape, prefix, at):
    rank = type(node).RANK
    w = node.w.shape
    if len(w) != len(prefix) + rank + 2:
        raise _Bad(f"{at}.w", f"init builds a kernel of {rank + 2} axes (*kernel_size, C_in, C_out), got {w}")
    _expect(node, "w", (*prefix, *w[len(prefix) : -2], in_shape[-1], w[-1]), at, "a kernel")
    if node.b is not None:
        _expect(node, "b", (*prefix, w[-1]), at, "a bias")


@_leaf_shapes.register
def _(node: _RecurrentParams, in_shape, prefix, at):
    gates = _GATES[type(node)]
    hidden = node.w_hh.shape[-2] if node.w_hh.ndim >= 2 else 0
    width = gates * hidden
    shapes = {"w_ih": (in_shape[-1], width), "w_hh": (hidden, width), "b_ih": (width,), "b_hh": (width,)}
    reverse = node.w_ih_reverse is not None
    for name, shape in shapes.items():
        _expect(node, name, (*prefix, *shape), at, "a recurrent leaf")
        if reverse or getattr(node, name + "_reverse") is not None:
            _expect(node, name + "_reverse", (*prefix, *shape), at, "a bidirectional layer's reverse leaf")


@_leaf_shapes.register(LayerNormParams)
@_leaf_shapes.register(RMSNormParams)
@_leaf_shapes.register(BatchNormParams)
def _(node, in_shape, prefix, at):
    for name in tree.node_fields(type(node))[0]:
        shape = (*prefix,) if name == "count" else (*prefix, in_shape[-1])
        _expect(node, name, shape, at, "a normalization leaf")


@_leaf_shapes.register
def _(node: EmbeddingParams, in_shape, prefix, at):
    table = node.table.shape
    if len(table) != len(prefix) + 2:
        raise _Bad(f"{at}.table", f"init builds a table of shape (num_embeddings, dim), got {table}")


@_leaf_shapes.register
def _(node: ResidualParams, in_shape, prefix, at):
    out = _layer_out(node.block, in_shape, prefix, _dtype_of(node), f"{at}.block")
    if out != tuple(in_shape):
        raise _Bad(f"{at}.block", f"a Residual block keeps the sample shape {tuple(in_shape)}, this one gives {out}")


@_leaf_shapes.register(ConcatParams)
@_leaf_shapes.register(ParallelParams)
def _(node, in_shape, prefix, at):
    for i, branch in enumerate(node.branches):
        _layer_out(branch, in_shape, prefix, _dtype_of(node), f"{at}.branches[{i}]")


@_leaf_shapes.register
def _(node: SequentialParams, in_shape, prefix, at):
    if node.members is not None:
        raise _Bad(f"{at}.members", "a network inside a layer is not a stack: its members must be None")
    if tuple(node.in_shape) != tuple(in_shape):
        raise _Bad(
            f"{at}.in_shape",
            f"this block receives samples of shape {tuple(in_shape)}, it declares {tuple(node.in_shape)}",
        )
    shape = tuple(in_shape)
    for i, layer in enumerate(node.layers):
        shape = _layer_out(layer, shape, prefix, _dtype_of(node), f"{at}.layers[{i}]")


def _name(node: Any) -> str:
    try:
        return layer_name(node)
    except Exception:  # noqa: BLE001 - a tampered node's describe() may fail on its own leaves
        return type(node).__name__


def _dtype_of(node: Any) -> np.dtype:
    leaves = tree.leaves(node)
    return leaves[0].dtype if leaves else np.dtype(np.float32)


def _probe(node: Any, in_shape: tuple, prefix: tuple, dtype: np.dtype, at: str) -> tuple:
    """The output sample shape of ``node``: a forward pass on zeros must map n samples to n outputs."""
    if not tree.leaves(node) and _registered(init_node, node) and _registered(out_shape, node):
        try:  # a layer without leaves is its own spec (Activation, Dropout, Flatten, pooling): init it again
            built = init_node(node, random.key(0), tuple(in_shape), dtype)
            shape = tuple(out_shape(node, tuple(in_shape)))
        except (FnnError, ValueError, TypeError) as e:
            raise _Bad(at, f"{_name(node)} cannot take samples of shape {tuple(in_shape)} ({e})") from None
        if type(built) is not type(node) or built != node:
            raise _Bad(at, f"init builds {built!r} for samples of shape {tuple(in_shape)}, the file gives {node!r}")
        return shape
    shapes = []
    for n in _PROBE:
        x = np.zeros((*prefix, n, *in_shape), np.int64 if takes_integers(node) else dtype)
        try:
            with np.errstate(all="ignore"):
                y = forward(node, x, None, False)[0]
        except Exception as e:  # noqa: BLE001 - any failure on well-formed input is the file's fault
            raise _Bad(
                at, f"{_name(node)} fails on samples of shape {tuple(in_shape)} ({type(e).__name__}: {e})"
            ) from None
        shape = np.shape(y)
        lead = (*prefix, n)
        if shape[: len(lead)] != lead:
            raise _Bad(
                at,
                f"{_name(node)} maps a batch of shape {x.shape} to one of shape {shape}: "
                f"its leaves do not match its input",
            )
        shapes.append(shape[len(lead) :])
    if shapes[0] != shapes[1]:
        raise _Bad(at, f"{_name(node)} gives samples of shape {shapes[0]} for 2 inputs and {shapes[1]} for 3")
    return tuple(shapes[0])


# ------------------------------------------------------------------ train states


def _train_state(state: Any, at: str) -> None:
    if type(state.key) not in (random.Key,) or not _good_key(state.key):
        raise _Bad(f"{at}.key", f"a TrainState's key is an fnn.random.Key, got {state.key!r}")
    if type(state.step) is not int or state.step < 0:
        raise _Bad(f"{at}.step", f"a TrainState's step is an integer >= 0, got {state.step!r}")
    optimizer = state.optimizer
    if optimizer is None or not callable(getattr(optimizer, "init", None)) or not attrs.has(type(optimizer)):
        raise _Bad(f"{at}.optimizer", f"a TrainState's optimizer is an fnn optimizer, got {optimizer!r}")
    try:
        flat, _ = tree.ravel(state.params)
        expected = optimizer.init(flat)
    except _Bad:
        raise
    except Exception as e:  # noqa: BLE001 - params the optimizer cannot take are the file's fault
        raise _Bad(
            f"{at}.optimizer", f"{type(optimizer).__name__}.init fails on these params ({type(e).__name__}: {e})"
        ) from None
    _same_as(state.opt_state, expected, f"{at}.opt_state")


def _good_key(key: Any) -> bool:
    return (
        type(key.seed) is int
        and key.seed >= 0
        and type(key.path) is tuple
        and all(type(p) in (int, str) for p in key.path)
    )


def _same_as(got: Any, expected: Any, at: str) -> None:
    """``got`` has ``expected``'s structure, array shapes and dtypes, and value types (what an init builds)."""
    t = type(expected)
    if type(got) is not t:
        raise _Bad(at, f"init builds a {t.__name__} here, got {type(got).__name__}")
    if t is np.ndarray:
        if got.shape != expected.shape or got.dtype != expected.dtype:
            raise _Bad(
                at,
                f"init builds a {expected.dtype} array of shape {expected.shape}, got {got.dtype} of shape {got.shape}",
            )
        return
    if t is int:
        if got < 0:
            raise _Bad(at, f"a count is an integer >= 0, got {got}")
        return
    if t is tuple or t is list:
        if len(got) != len(expected):
            raise _Bad(at, f"init builds {len(expected)} parts here, got {len(got)}")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _same_as(g, e, f"{at}[{i}]")
        return
    if t is dict:
        if sorted(got, key=repr) != sorted(expected, key=repr):
            raise _Bad(at, f"init builds the keys {sorted(expected, key=repr)}, got {sorted(got, key=repr)}")
        for k in expected:
            _same_as(got[k], expected[k], f"{at}[{k!r}]")
        return
    if tree.is_registered(t):
        children, static = tree.node_fields(t)
        for name in children:
            _same_as(getattr(got, name), getattr(expected, name), f"{at}.{name}")
        return
    if isinstance(expected, (float, np.generic)) or expected is None:
        return  # a value (a learning rate kept in the state, a scale): any value of its type
