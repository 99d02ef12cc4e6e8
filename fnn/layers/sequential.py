"""``Sequential``: layers applied one after the other; the top-level spec of a network."""

from __future__ import annotations

import attrs
import numpy as np

from fnn import random, tree
from fnn.errors import ConfigError
from fnn.layers.activations import Activation
from fnn.layers.base import backward, check_size, forward, init_layer, layer_name, out_dim
from fnn.layers.dense import DenseParams
from fnn.layers.dropout import Dropout

__all__ = ["Sequential", "SequentialParams", "network_input"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: object) -> np.dtype:
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


@attrs.frozen
class Sequential:
    """Spec of layers applied in order to inputs of width ``in_dim``.

    Args:
        layers: layer specs (``Dense``, ``Activation``, ``Dropout``, nested ``Sequential``, or a user's).
        in_dim: input width; required at the top level (what :func:`fnn.init` builds).
        dtype: float dtype of the parameters (float32 by default, float64 on request).

    >>> import fnn
    >>> spec = fnn.Sequential([fnn.Dense(3), fnn.Activation("relu"), fnn.Dense(2)], in_dim=4)
    >>> fnn.layers.out_dim(spec, 4)
    2
    """

    layers: tuple = attrs.field(converter=_layers)
    in_dim: int | None = attrs.field(default=None, converter=_in_dim)
    dtype: np.dtype = attrs.field(default=np.float32, converter=float_dtype)

    def describe(self) -> str:
        return f"Sequential({len(self.layers)} layers)"


def _check_members(node: "SequentialParams", _: object, members: object) -> None:
    if members is None:
        return
    k = check_size(members, "SequentialParams members")
    for i, layer in enumerate(node.layers):
        if not isinstance(layer, STACKABLE) or (isinstance(layer, SequentialParams) and layer.members is not None):
            raise ConfigError(
                f"layer {i} ({layer_name(layer)}) cannot be stacked: stacked networks are built of Dense, "
                f"Activation, Dropout and (unstacked) Sequential layers"
            )
        for leaf in tree.leaves(layer):
            if np.ndim(leaf) == 0 or np.shape(leaf)[0] != k:
                raise ConfigError(
                    f"layer {i} ({layer_name(layer)}) of a stack of {k} networks has a leaf of shape "
                    f"{np.shape(leaf)}; every leaf of a stack needs a leading axis of size {k}"
                )


@tree.register
@attrs.frozen
class SequentialParams:
    """Parameters of a :class:`Sequential`: one node per layer; the input width is static.

    ``members`` is None for one network, or K for a stack of K networks of the same
    spec (see :func:`fnn.stack`): every leaf then has a leading axis of size K.
    """

    layers: tuple
    in_dim: int = tree.static_field()
    members: int | None = tree.static_field(default=None, validator=_check_members)

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


STACKABLE = (DenseParams, Activation, Dropout, SequentialParams)
"""The layer types a stack may hold: fnn's own, which act on (K, n, width) arrays member by member."""


def network_input(params: SequentialParams, x: np.ndarray) -> np.ndarray:
    """What the first layer of ``params`` receives for inputs ``x`` (n, features).

    One network: ``x`` itself. A stack of K: ``x`` too when the first layer is Dense (its
    matrix product broadcasts the shared rows over the members), otherwise a read-only
    (K, n, features) broadcast view, so that layers such as Dropout act per member.
    """
    if params.members is None or (params.layers and isinstance(params.layers[0], DenseParams)):
        return x
    return np.broadcast_to(x, (params.members, *x.shape))


@out_dim.register
def _(spec: Sequential, in_dim: int) -> int:
    if spec.in_dim is not None and spec.in_dim != in_dim:
        raise ConfigError(f"Sequential declares in_dim={spec.in_dim} but receives inputs of width {in_dim}")
    for layer in spec.layers:
        in_dim = out_dim(layer, in_dim)
    return in_dim


@init_layer.register
def _(spec: Sequential, key, in_dim, dtype):
    out_dim(spec, in_dim)  # validates the chain of widths before any drawing
    first_width, nodes = in_dim, []
    for i, (layer, k) in enumerate(zip(spec.layers, random.split(key, len(spec.layers)), strict=True)):
        try:
            nodes.append(init_layer(layer, k, in_dim, dtype))
        except ConfigError as e:
            raise ConfigError(f"layer {i} ({layer_name(layer)}): {e}") from None
        in_dim = out_dim(layer, in_dim)
    return SequentialParams(tuple(nodes), in_dim=first_width)


@forward.register
def _(node: SequentialParams, x, key, train):
    x = network_input(node, x)
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
