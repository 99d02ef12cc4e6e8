"""Layer specs, params nodes and the protocol that runs them (see :mod:`fnn.layers.base`)."""

from fnn.layers import activations, recurrent
from fnn.layers.activations import Activation
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
from fnn.layers.combinators import Concat, ConcatParams, Parallel, ParallelParams, Residual, ResidualParams
from fnn.layers.dense import Dense, DenseParams
from fnn.layers.dropout import Dropout
from fnn.layers.embedding import Embedding, EmbeddingParams
from fnn.layers.normalization import LayerNorm, LayerNormParams, RMSNorm, RMSNormParams
from fnn.layers.recurrent import GRU, LSTM, GRUParams, LSTMParams, SimpleRNN, SimpleRNNParams
from fnn.layers.reshape import Flatten, Reshape
from fnn.layers.sequential import Sequential, SequentialParams

__all__ = [
    "activations",
    "recurrent",
    "Activation",
    "Concat",
    "ConcatParams",
    "Dense",
    "DenseParams",
    "Dropout",
    "Embedding",
    "EmbeddingParams",
    "Flatten",
    "GRU",
    "GRUParams",
    "LSTM",
    "LSTMParams",
    "LayerNorm",
    "LayerNormParams",
    "Parallel",
    "ParallelParams",
    "RMSNorm",
    "RMSNormParams",
    "Reshape",
    "Residual",
    "ResidualParams",
    "Sequential",
    "SequentialParams",
    "SimpleRNN",
    "SimpleRNNParams",
    "backward",
    "check_shape",
    "details",
    "forward",
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
