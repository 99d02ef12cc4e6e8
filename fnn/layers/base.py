"""The layer protocol: functions dispatched on the type of a spec or params node.

A layer type is a *spec* class (frozen attrs, no arrays: what to build) and a
*params* node class (a registered pytree: what was built). For layers without
parameters (activations, dropout) the spec is its own params node, with every
field static. fnn's own layers and a user's are written the same way.

**Shapes are per sample** (no batch axis, channels last, as in stax and Equinox):
a network's input ``x`` has shape ``(n, *in_shape)``, and each layer sees the
shape of one sample of its input.

The four functions every layer registers:

- ``out_shape(spec, in_shape) -> tuple``: the shape of one sample of the output.
- ``init_node(spec, key, in_shape, dtype) -> node``: the params node (leaves are
  arrays of ``dtype``; :func:`fnn.init` packs them into one buffer afterwards).
- ``forward(node, x, key, train) -> (y, residual)``: the output for a batch ``x``
  of shape ``(n, *in_shape)``, and whatever ``backward`` needs later. ``train`` is
  True in training mode; ``key`` is None unless the caller gave one (a layer
  that needs it in training says so with a ConfigError). ``train`` is positional
  here because this is the hot path; the public functions take it as ``train=``.
- ``backward(node, residual, g, out, need_input_grad) -> g_in``: given ``g``, the
  gradient of the loss with respect to ``y``, write the gradients of the node's
  leaves into the leaves of ``out`` (a node of the same type whose leaves are
  writable arrays: fill them with ``out.w[...] = ...`` or ``out=``) and return the
  gradient with respect to ``x`` (or None when ``need_input_grad`` is False).
  ``g`` belongs to the backward pass: a layer may overwrite it.

**Flat layers, the older protocol.** A layer may register ``out_dim(spec, in_dim)
-> int`` and ``init_layer(spec, key, in_dim, dtype)`` on integer widths instead of
``out_shape``/``init_node``; it then works on flat samples, ``in_shape == (d,)``,
unchanged, and is refused (naming it) on samples of any other rank.

**Capabilities**, each dispatched with a safe default, so that a combinator or a
user's layer gets what fnn's own layers get by registering them:

- ``sublayers(node) -> tuple``: the layer nodes inside a combinator (default none);
  the summary shows them nested.
- ``uses_key(node) -> bool``: whether training must hand the layer a key (default
  True: an unknown layer may draw from its key).
- ``stackable(node) -> bool``: whether the layer runs in a stack of K networks
  (:func:`fnn.stack`): its leaves then carry a leading axis K, its input is
  ``(K, n, *in_shape)`` (or the shared ``(n, *in_shape)`` for a first Dense), and
  member k's output is bitwise what network k alone gives. Default False: a stack
  holding the layer is refused with its name.
- ``writes_every_grad(node) -> bool``: whether ``backward`` writes every element of
  ``out`` (default: only a node without leaves). Then the training loop may hand it
  a buffer holding stale numbers instead of zeros (the fast path).
- ``takes_integers(node) -> bool``: whether the layer, placed first, takes integer
  inputs as they are (Embedding) instead of float ones (default False).
- ``details(node) -> str``: the summary's details column (default: the static
  settings and the leaf shapes).

Each is a :func:`functools.singledispatch` function: register an implementation
with ``@fnn.layers.forward.register`` (see ``examples/custom_layer.py``). Fields
made with :func:`weight_field` are weights: the ``l2`` penalty applies to them.
"""

from __future__ import annotations

import functools
import math
import numbers
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn._checks import integer
from fnn.errors import ConfigError

__all__ = [
    "out_shape",
    "init_node",
    "out_dim",
    "init_layer",
    "forward",
    "backward",
    "sublayers",
    "uses_key",
    "stackable",
    "writes_every_grad",
    "takes_integers",
    "details",
    "weight_field",
    "weight_leaves",
    "layer_name",
    "check_shape",
]

_WEIGHT = "fnn.weight"


def _unregistered(kind: str):
    def missing(node: Any, *args: Any) -> Any:
        raise ConfigError(
            f"no {kind} is registered for {type(node).__name__}; register one with "
            f"@fnn.layers.{kind}.register (see the fnn.layers.base docstring)"
        )

    missing.__name__ = kind
    return missing


def _registered(function: Any, spec: Any) -> bool:
    """Whether ``function`` (a singledispatch function) has an implementation for ``spec``'s type."""
    return function.dispatch(type(spec)) is not function.registry[object]


def _flat_only(spec: Any, in_shape: tuple) -> ConfigError:
    return ConfigError(
        f"{layer_name(spec)} takes flat samples only (it registers out_dim/init_layer on widths), but its input "
        f"samples have shape {in_shape}; put fnn.Flatten() before it, or register out_shape/init_node for it"
    )


@functools.singledispatch
def out_shape(spec: Any, in_shape: tuple) -> tuple:
    """The shape of one sample of ``spec``'s output, for input samples of shape ``in_shape``.

    A layer registered on widths (``out_dim``) gets ``(out_dim(spec, d),)`` for ``in_shape == (d,)``.

    >>> import fnn
    >>> fnn.layers.out_shape(fnn.Dense(5), (19, 3)), fnn.layers.out_shape(fnn.Activation("relu"), (3,))
    ((19, 5), (3,))
    """
    if _registered(out_dim, spec):
        if len(in_shape) != 1:
            raise _flat_only(spec, in_shape)
        return (out_dim(spec, in_shape[0]),)
    return _unregistered("out_shape")(spec)


@functools.singledispatch
def init_node(spec: Any, key: Any, in_shape: tuple, dtype: np.dtype) -> Any:
    """The params node of ``spec`` for input samples of shape ``in_shape``, drawn with ``key``.

    >>> import numpy as np, fnn
    >>> fnn.layers.init_node(fnn.Dense(2), fnn.random.key(0), (7, 3), np.dtype("float32")).w.shape
    (3, 2)
    """
    if _registered(init_layer, spec):
        if len(in_shape) != 1:
            raise _flat_only(spec, in_shape)
        return init_layer(spec, key, in_shape[0], dtype)
    return _unregistered("init_node")(spec)


@functools.singledispatch
def out_dim(spec: Any, in_dim: int) -> int:
    """The output width of ``spec`` for flat inputs of width ``in_dim`` (:func:`out_shape` on ``(in_dim,)``).

    >>> import fnn
    >>> fnn.layers.out_dim(fnn.Dense(5), 3), fnn.layers.out_dim(fnn.Activation("relu"), 3)
    (5, 3)
    """
    if _registered(out_shape, spec):
        shape = out_shape(spec, (in_dim,))
        if len(shape) != 1:
            raise ConfigError(f"{layer_name(spec)} has output samples of shape {shape}, not a width; use out_shape")
        return shape[0]
    return _unregistered("out_dim")(spec)


@functools.singledispatch
def init_layer(spec: Any, key: Any, in_dim: int, dtype: np.dtype) -> Any:
    """The params node of ``spec`` for flat inputs of width ``in_dim`` (:func:`init_node` on ``(in_dim,)``).

    >>> import numpy as np, fnn
    >>> fnn.layers.init_layer(fnn.Dense(2), fnn.random.key(0), 3, np.dtype("float32")).w.shape
    (3, 2)
    """
    if _registered(init_node, spec):
        return init_node(spec, key, (in_dim,), dtype)
    return _unregistered("init_layer")(spec)


@functools.singledispatch
def forward(node: Any, x: np.ndarray, key: Any, train: bool) -> tuple[np.ndarray, Any]:
    """``(y, residual)`` of a params node applied to a batch ``x`` (rows are samples)."""
    return _unregistered("forward")(node)


@functools.singledispatch
def backward(node: Any, residual: Any, g: np.ndarray, out: Any, need_input_grad: bool) -> np.ndarray | None:
    """Write the node's parameter gradients into ``out``; return the gradient for the input."""
    return _unregistered("backward")(node)


# ------------------------------------------------------------------ capabilities


@functools.singledispatch
def sublayers(node: Any) -> tuple:
    """The layer nodes inside a combinator (a Sequential's layers, a Residual's block); () for a plain layer.

    >>> import fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 3, 1]))
    >>> [fnn.layers.layer_name(n) for n in fnn.layers.sublayers(p)]
    ['Dense(2→3)', 'Activation(relu)', 'Dense(3→1)', 'Activation(softmax)']
    """
    return ()


@functools.singledispatch
def uses_key(node: Any) -> bool:
    """Whether the layer draws random numbers in training (so that training must pass it a key).

    The default, for a layer fnn knows nothing about, is True.

    >>> import fnn
    >>> fnn.layers.uses_key(fnn.Dropout(0.5)), fnn.layers.uses_key(fnn.Activation("relu"))
    (True, False)
    """
    return True


@functools.singledispatch
def stackable(node: Any) -> bool:
    """Whether the layer runs in a stack of K networks with the member law (see :mod:`fnn.layers.base`).

    >>> import fnn
    >>> fnn.layers.stackable(fnn.Activation("tanh")), fnn.layers.stackable(object())
    (True, False)
    """
    return False


@functools.singledispatch
def writes_every_grad(node: Any) -> bool:
    """Whether the layer's ``backward`` writes every element of its gradient node ``out``.

    The default is True only for a node without leaves (there is nothing to write).

    >>> import fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 1]))
    >>> fnn.layers.writes_every_grad(p.layers[0]), fnn.layers.writes_every_grad(p)
    (True, True)
    """
    return not tree.leaves(node)


@functools.singledispatch
def takes_integers(node: Any) -> bool:
    """Whether the layer, first in a network, takes integer inputs as they are (never cast to float).

    >>> import fnn
    >>> fnn.layers.takes_integers(fnn.Activation("relu"))
    False
    """
    return False


@functools.singledispatch
def details(node: Any) -> str:
    """The details :func:`fnn.summary` shows for a layer node: by default its static settings and leaf shapes.

    >>> import fnn
    >>> fnn.layers.details(fnn.Dropout(0.25))
    'rate 0.25'
    """
    cls = type(node)
    names = tree.node_fields(cls)[1] if tree.is_registered(cls) else ()
    parts = [f"{n}={_format_value(getattr(node, n))}" for n in names]
    if tree.is_registered(cls):
        parts += [f"{path.lstrip('.')} {tuple(np.shape(leaf))}" for path, leaf in tree.leaves_with_path(node)]
    return ", ".join(parts)


def _format_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def all_of(capability: Any, nodes: Any) -> bool:
    """``capability(n)`` for every node in ``nodes`` (what a combinator registers for most capabilities)."""
    return all(capability(n) for n in nodes)


def any_of(capability: Any, nodes: Any) -> bool:
    """``capability(n)`` for some node in ``nodes``."""
    return any(capability(n) for n in nodes)


# ------------------------------------------------------------------ weights, names, checks


def weight_field(**kwargs: Any) -> Any:
    """An attrs field holding a weight array: the ``l2`` penalty applies to it (biases use plain fields)."""
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata[_WEIGHT] = True
    return attrs.field(metadata=metadata, **kwargs)


def weight_leaves(params: Any, *others: Any) -> list[tuple]:
    """Tuples (weight, other_1, ...) for every weight field in ``params`` and the same place in ``others``.

    >>> import fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    >>> [w.shape for (w,) in fnn.layers.weight_leaves(p)]
    [(3, 4), (4, 2)]
    """
    found: list[tuple] = []
    _collect_weights((params, *others), found)
    return found


def _collect_weights(nodes: tuple, found: list) -> None:
    node = nodes[0]
    t = type(node)
    if t in (tuple, list):
        for kids in zip(*nodes, strict=True):
            _collect_weights(kids, found)
    elif t is dict:
        for k in sorted(node):
            _collect_weights(tuple(n[k] for n in nodes), found)
    elif tree.is_registered(t):
        for f in attrs.fields(t):
            if f.metadata.get("fnn.static"):
                continue
            values = tuple(getattr(n, f.name) for n in nodes)
            if f.metadata.get(_WEIGHT):
                if values[0] is not None:
                    found.append(values)
            else:
                _collect_weights(values, found)


def layer_name(node: Any) -> str:
    """A short human name of a spec or params node, e.g. ``Dense(3→4)`` or ``Activation(relu)``."""
    describe = getattr(node, "describe", None)
    return describe() if callable(describe) else type(node).__name__


def check_size(value: Any, what: str, *, minimum: int = 1) -> int:
    """An integer size ≥ ``minimum``; bools, floats and strings are rejected with a ConfigError."""
    return integer(value, what, minimum=minimum)


def check_shape(value: Any, what: str) -> tuple[int, ...]:
    """A per-sample shape: a tuple of integers ≥ 1 (an integer ``d`` means ``(d,)``); a ConfigError otherwise.

    >>> import fnn
    >>> fnn.layers.check_shape(4, "in_shape"), fnn.layers.check_shape([19, 25], "in_shape")
    ((4,), (19, 25))
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (check_size(value, what),)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{what} must be a tuple of sizes such as (28, 28, 1), got {value!r}")
    shape = tuple(value)
    if not shape:
        raise ConfigError(f"{what} must have at least one axis, got ()")
    return tuple(check_size(s, f"{what}[{i}]") for i, s in enumerate(shape))


def size_of(shape: tuple) -> int:
    """The number of elements of one sample of ``shape``."""
    return math.prod(shape)
