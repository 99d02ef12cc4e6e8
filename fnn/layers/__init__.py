"""Layer specs, params nodes and the protocol that runs them (see :mod:`fnn.layers.base`)."""

from fnn.layers import activations
from fnn.layers.activations import Activation
from fnn.layers.autodiff import FromForward, FromForwardParams, from_forward
from fnn.layers.base import (
    backward,
    check_shape,
    details,
    forward,
    init_layer,
    init_node,
    layer_name,
    out_dim,
    out_shape,
    stackable,
    sublayers,
    takes_integers,
    uses_key,
    weight_field,
    weight_leaves,
    writes_every_grad,
)
from fnn.layers.dense import Dense, DenseParams
from fnn.layers.dropout import Dropout
from fnn.layers.sequential import Sequential, SequentialParams

__all__ = [
    "activations",
    "Activation",
    "Dense",
    "DenseParams",
    "Dropout",
    "FromForward",
    "FromForwardParams",
    "Sequential",
    "SequentialParams",
    "backward",
    "check_shape",
    "details",
    "forward",
    "from_forward",
    "init_layer",
    "init_node",
    "layer_name",
    "out_dim",
    "out_shape",
    "stackable",
    "sublayers",
    "takes_integers",
    "uses_key",
    "weight_field",
    "weight_leaves",
    "writes_every_grad",
]
