"""Layer specs, params nodes and the protocol that runs them (see :mod:`fnn.layers.base`)."""

from fnn.layers import activations, recurrent
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
from fnn.layers.batchnorm import BatchNorm, BatchNormParams
from fnn.layers.combinators import Concat, ConcatParams, Parallel, ParallelParams, Residual, ResidualParams
from fnn.layers.conv import Conv1D, Conv1DParams, Conv2D, Conv2DParams
from fnn.layers.dense import Dense, DenseParams
from fnn.layers.dropout import Dropout
from fnn.layers.embedding import Embedding, EmbeddingParams
from fnn.layers.normalization import LayerNorm, LayerNormParams, RMSNorm, RMSNormParams
from fnn.layers.pooling import AvgPool1D, AvgPool2D, GlobalAvgPool, GlobalMaxPool, MaxPool1D, MaxPool2D
from fnn.layers.recurrent import GRU, LSTM, GRUParams, LSTMParams, SimpleRNN, SimpleRNNParams
from fnn.layers.reshape import Flatten, Reshape
from fnn.layers.sequential import Sequential, SequentialParams

__all__ = [
    "activations",
    "recurrent",
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "BatchNormParams",
    "Concat",
    "ConcatParams",
    "Conv1D",
    "Conv1DParams",
    "Conv2D",
    "Conv2DParams",
    "Dense",
    "DenseParams",
    "Dropout",
    "Embedding",
    "EmbeddingParams",
    "Flatten",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "GRU",
    "GRUParams",
    "LSTM",
    "LSTMParams",
    "LayerNorm",
    "LayerNormParams",
    "MaxPool1D",
    "MaxPool2D",
    "Parallel",
    "ParallelParams",
    "RMSNorm",
    "RMSNormParams",
    "Reshape",
    "Residual",
    "ResidualParams",
    "FromForward",
    "FromForwardParams",
    "Sequential",
    "SequentialParams",
    "SimpleRNN",
    "SimpleRNNParams",
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
