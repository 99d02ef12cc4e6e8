"""The layer protocol: four functions dispatched on the type of a spec or params node.

A layer type is a *spec* class (frozen attrs, no arrays: what to build) and a
*params* node class (a registered pytree: what was built). For layers without
parameters (activations, dropout) the spec is its own params node, with every
field static. fnn's own layers and a user's are written the same way:

- ``out_dim(spec, in_dim) -> int``: the width of the layer's output.
- ``init_layer(spec, key, in_dim, dtype) -> node``: the params node (leaves are
  arrays of ``dtype``; :func:`fnn.init` packs them into one buffer afterwards).
- ``forward(node, x, key, train) -> (y, residual)``: the output, and whatever
  ``backward`` needs later. ``key`` is None unless randomness is wanted.
- ``backward(node, residual, g, out, need_input_grad) -> g_in``: given ``g``, the
  gradient of the loss with respect to ``y``, write the gradients of the node's
  leaves into the leaves of ``out`` (a node of the same type whose leaves are
  zero-filled writable arrays: fill them with ``out.w[...] = ...`` or ``out=``) and
  return the gradient with respect to ``x`` (or None when ``need_input_grad`` is
  False). ``g`` belongs to the backward pass: a layer may overwrite it.

Each is a :func:`functools.singledispatch` function: register an implementation
with ``@fnn.layers.forward.register`` (see ``examples/custom_layer.py``). Fields
made with :func:`weight_field` are weights: the ``l2`` penalty applies to them.
"""

from __future__ import annotations

import functools
import numbers
import operator
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.errors import ConfigError

__all__ = ["out_dim", "init_layer", "forward", "backward", "weight_field", "weight_leaves", "layer_name"]

_WEIGHT = "fnn.weight"


def _unregistered(kind: str):
    def missing(node: Any, *args: Any) -> Any:
        raise ConfigError(
            f"no {kind} is registered for {type(node).__name__}; register one with "
            f"@fnn.layers.{kind}.register (see the fnn.layers.base docstring)"
        )

    missing.__name__ = kind
    return missing


@functools.singledispatch
def out_dim(spec: Any, in_dim: int) -> int:
    """The output width of ``spec`` for inputs of width ``in_dim``.

    >>> import fnn
    >>> fnn.layers.out_dim(fnn.Dense(5), 3), fnn.layers.out_dim(fnn.Activation("relu"), 3)
    (5, 3)
    """
    return _unregistered("out_dim")(spec)


@functools.singledispatch
def init_layer(spec: Any, key: Any, in_dim: int, dtype: np.dtype) -> Any:
    """The params node of ``spec`` for inputs of width ``in_dim``, drawn with ``key``.

    >>> import numpy as np, fnn
    >>> fnn.layers.init_layer(fnn.Dense(2), fnn.random.key(0), 3, np.dtype("float32")).w.shape
    (3, 2)
    """
    return _unregistered("init_layer")(spec)


@functools.singledispatch
def forward(node: Any, x: np.ndarray, key: Any, train: bool) -> tuple[np.ndarray, Any]:
    """``(y, residual)`` of a params node applied to ``x`` (rows are samples)."""
    return _unregistered("forward")(node)


@functools.singledispatch
def backward(node: Any, residual: Any, g: np.ndarray, out: Any, need_input_grad: bool) -> np.ndarray | None:
    """Write the node's parameter gradients into ``out``; return the gradient for the input."""
    return _unregistered("backward")(node)


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
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{what} must be an integer ≥ {minimum}, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if value < minimum:
        raise ConfigError(f"{what} must be an integer ≥ {minimum}, got {value}")
    return value
