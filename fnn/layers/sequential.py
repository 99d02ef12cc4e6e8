"""``Sequential``: layers applied one after the other; the top-level spec of a network."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn import random, tree
from fnn.errors import ConfigError
from fnn.layers.base import (
    all_of,
    any_of,
    backward,
    check_shape,
    check_size,
    forward,
    init_node,
    layer_name,
    out_shape,
    stackable,
    sublayers,
    takes_integers,
    uses_key,
    writes_every_grad,
)
from fnn.layers.dense import DenseParams

__all__ = ["Sequential", "SequentialParams", "network_input", "stack_key"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: DTypeLike) -> np.dtype:
    """float32 or float64 as a NumPy dtype; a ConfigError for anything else."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def _layers(value: object) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"Sequential expects a list of layer specs, got {type(value).__name__}")
    layers = tuple(value)
    for i, layer in enumerate(layers):
        if isinstance(layer, (str, int, float)) or layer is None:
            raise ConfigError(
                f"Sequential layer {i} must be a layer spec such as fnn.Dense(64) or fnn.Activation('relu'), "
                f"got {layer!r}"
            )
    return layers


def _in_dim(value: object) -> int | None:
    return None if value is None else check_size(value, "Sequential in_dim")


def _in_shape(value: object) -> tuple | None:
    return None if value is None else check_shape(value, "Sequential in_shape")


@tree.value_class
@attrs.frozen
class Sequential:
    """Spec of layers applied in order to samples of shape ``in_shape``.

    Args:
        layers: layer specs (``Dense``, ``Activation``, ``Dropout``, nested ``Sequential``, or a user's).
        in_dim: the input width of flat samples: ``in_dim=d`` means ``in_shape=(d,)``.
        dtype: float dtype of the parameters (float32 by default, float64 on request).
        in_shape: the shape of one input sample, without the batch axis (channels last:
            ``(T, C)`` for sequences, ``(H, W, C)`` for images). :func:`fnn.init` needs it
            (or ``in_dim``) at the top level; a nested Sequential takes its input's.

    >>> import fnn
    >>> spec = fnn.Sequential([fnn.Dense(3), fnn.Activation("relu"), fnn.Dense(2)], in_dim=4)
    >>> spec.in_shape, fnn.layers.out_dim(spec, 4)
    ((4,), 2)
    >>> fnn.layers.out_shape(fnn.Sequential([fnn.Dense(3), fnn.Dense(2)]), (10, 4))
    (10, 2)
    """

    layers: tuple = attrs.field(converter=_layers)
    in_dim: int | None = attrs.field(default=None, converter=_in_dim)
    dtype: np.dtype = attrs.field(default=np.float32, converter=float_dtype)
    in_shape: tuple | None = attrs.field(default=None, kw_only=True, converter=_in_shape)

    def __attrs_post_init__(self) -> None:
        if self.in_dim is not None:
            if self.in_shape is not None and self.in_shape != (self.in_dim,):
                raise ConfigError(
                    f"Sequential got in_dim={self.in_dim} and in_shape={self.in_shape}; give one of them "
                    f"(in_dim=d means in_shape=(d,))"
                )
            object.__setattr__(self, "in_shape", (self.in_dim,))
        elif self.in_shape is not None and len(self.in_shape) == 1:
            object.__setattr__(self, "in_dim", self.in_shape[0])

    def describe(self) -> str:
        return f"Sequential({len(self.layers)} layers)"


def _check_members(node: SequentialParams, _: object, members: object) -> None:
    if members is None:
        return
    k = check_size(members, "SequentialParams members")
    for i, layer in enumerate(node.layers):
        if not stackable(layer):
            raise ConfigError(
                f"layer {i} ({layer_name(layer)}) cannot be stacked: it does not declare that it runs in a stack "
                f"(fnn.layers.stackable); stack networks built of layers that do, or train the members one by one"
            )
        for leaf in tree.leaves(layer):
            if np.ndim(leaf) == 0 or np.shape(leaf)[0] != k:
                raise ConfigError(
                    f"layer {i} ({layer_name(layer)}) of a stack of {k} networks has a leaf of shape "
                    f"{np.shape(leaf)}; every leaf of a stack needs a leading axis of size {k}"
                )


@tree.register(packed=True, kind="params")
@attrs.frozen(init=False)
class SequentialParams:
    """Parameters of a :class:`Sequential`: one node per layer; the input sample shape is static.

    ``members`` is None for one network, or K for a stack of K networks of the same
    spec (see :func:`fnn.stack`): every leaf then has a leading axis of size K.
    ``in_dim=d`` (the keyword of flat networks) is accepted for ``in_shape=(d,)``.

    >>> import fnn
    >>> fnn.layers.SequentialParams((), in_dim=3).in_shape
    (3,)
    """

    layers: tuple
    in_shape: tuple = tree.static_field(converter=lambda s: check_shape(s, "SequentialParams in_shape"))
    members: int | None = tree.static_field(default=None, validator=_check_members)

    def __init__(
        self, layers: tuple, in_shape: Any = None, members: int | None = None, *, in_dim: int | None = None
    ) -> None:
        if (in_shape is None) == (in_dim is None):
            raise ConfigError(
                f"SequentialParams needs in_shape or in_dim (one of them), got {in_shape!r} and {in_dim!r}"
            )
        self.__attrs_init__(layers, in_shape if in_dim is None else (in_dim,), members)

    @property
    def in_dim(self) -> int:
        """The input width of a network on flat samples (``in_shape == (in_dim,)``)."""
        if len(self.in_shape) != 1:
            raise ConfigError(f"this network takes samples of shape {self.in_shape}, not flat ones; use in_shape")
        return self.in_shape[0]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the leaves (the one truth: a ``tree.map`` that casts them changes it too);
        float32 for a network without parameters."""
        for layer in self.layers:
            found = tree.leaves(layer)
            if found:
                return np.asarray(found[0]).dtype
        return np.dtype(np.float32)

    def describe(self) -> str:
        stack = "" if self.members is None else f", {self.members} members"
        return f"Sequential({len(self.layers)} layers{stack})"

    @classmethod
    def migrate_static(cls, static: dict) -> dict:
        """Static fields as a file written before per-sample shapes gives them: ``in_dim=d`` is ``in_shape=(d,)``."""
        if "in_dim" in static and "in_shape" not in static:
            static = dict(static)
            static["in_shape"] = (static.pop("in_dim"),)
        return static


def network_input(params: SequentialParams, x: np.ndarray) -> np.ndarray:
    """What the first layer of ``params`` receives for inputs ``x`` (n, *in_shape).

    One network: ``x`` itself. A stack of K: ``x`` too when the samples are flat and the
    first layer is Dense (its matrix product broadcasts the shared rows over the members),
    otherwise a read-only (K, n, *in_shape) broadcast view: inside a stack every layer sees
    the member axis first.
    """
    if params.members is None or (x.ndim == 2 and params.layers and isinstance(params.layers[0], DenseParams)):
        return x
    return np.broadcast_to(x, (params.members, *x.shape))


def stack_key(params: SequentialParams, key: Any) -> Any:
    """The key the layers of ``params`` are handed: a :class:`fnn.random.StackKey` for a stack."""
    if params.members is None or key is None or type(key) is random.StackKey:
        return key
    return random.StackKey(key, params.members)


def _declared(spec: Sequential, in_shape: tuple) -> None:
    if spec.in_shape is not None and spec.in_shape != tuple(in_shape):
        raise ConfigError(
            f"Sequential declares in_shape={spec.in_shape} but receives samples of shape {tuple(in_shape)}"
        )


def _chain(spec: Sequential, in_shape: tuple) -> list[tuple]:
    """The input sample shape of every layer, and the output's last."""
    shapes = [tuple(in_shape)]
    for i, layer in enumerate(spec.layers):
        try:
            shapes.append(tuple(out_shape(layer, shapes[-1])))
        except ConfigError as e:
            raise ConfigError(f"layer {i} ({layer_name(layer)}): {e}") from None
    return shapes


@out_shape.register
def _(spec: Sequential, in_shape: tuple) -> tuple:
    _declared(spec, in_shape)
    return _chain(spec, in_shape)[-1]


@init_node.register
def _(spec: Sequential, key, in_shape, dtype):
    _declared(spec, in_shape)
    shapes = _chain(spec, in_shape)  # validates the chain of shapes before any drawing
    nodes = []
    for i, (layer, k) in enumerate(zip(spec.layers, random.split(key, len(spec.layers)), strict=True)):
        try:
            nodes.append(init_node(layer, k, shapes[i], dtype))
        except ConfigError as e:
            raise ConfigError(f"layer {i} ({layer_name(layer)}): {e}") from None
    return SequentialParams(tuple(nodes), in_shape=tuple(in_shape))


sublayers.register(SequentialParams, lambda node: node.layers)
uses_key.register(SequentialParams, lambda node: any_of(uses_key, node.layers))
stackable.register(SequentialParams, lambda node: node.members is None and all_of(stackable, node.layers))
writes_every_grad.register(SequentialParams, lambda node: all_of(writes_every_grad, node.layers))
takes_integers.register(SequentialParams, lambda node: bool(node.layers) and takes_integers(node.layers[0]))


@forward.register
def _(node: SequentialParams, x, key, train):
    x = network_input(node, x)
    key = stack_key(node, key)
    residuals = []
    for i, layer in enumerate(node.layers):
        x, r = forward(layer, x, None if key is None else random.fold_in(key, i), train)
        residuals.append(r)
    return x, residuals


@backward.register
def _(node: SequentialParams, residuals, g, out, need_input_grad):
    last = len(node.layers) - 1
    for i in range(last, -1, -1):
        g = backward(node.layers[i], residuals[i], g, out.layers[i], need_input_grad or i > 0)
    return g
