"""Layer specs, params nodes and the protocol that runs them (see :mod:`fnn.layers.base`)."""

from fnn.layers import activations
from fnn.layers.activations import Activation
from fnn.layers.base import backward, forward, init_layer, layer_name, out_dim, weight_field, weight_leaves
from fnn.layers.dense import Dense, DenseParams
from fnn.layers.dropout import Dropout
from fnn.layers.sequential import Sequential, SequentialParams

__all__ = [
    "activations",
    "Activation",
    "Dense",
    "DenseParams",
    "Dropout",
    "Sequential",
    "SequentialParams",
    "backward",
    "forward",
    "init_layer",
    "layer_name",
    "out_dim",
    "weight_field",
    "weight_leaves",
]
