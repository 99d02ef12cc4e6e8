"""fnn: a purely functional neural-network library on NumPy.

Values go in, values come out; nothing is mutated, and nothing random happens
without a key.

>>> import numpy as np, fnn
>>> key = fnn.random.key(0)
>>> params = fnn.init(key, fnn.mlp([4, 8, 3]))
>>> fnn.apply(params, np.zeros((2, 4))).shape
(2, 3)
"""

from fnn import (
    callbacks,
    data,
    early_stopping,
    errors,
    evaluation,
    initializers,
    io,
    layers,
    losses,
    metrics,
    optim,
    random,
    resume,
    stacked,
    tree,
)
from fnn._version import __version__ as __version__
from fnn.backprop import grad, l2_penalty, value_and_grad
from fnn.early_stopping import EarlyStopping
from fnn.evaluation import evaluate
from fnn.fit import fit
from fnn.io import load, save
from fnn.layers import (
    GRU,
    LSTM,
    Activation,
    AvgPool1D,
    AvgPool2D,
    BatchNorm,
    Concat,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GlobalAvgPool,
    GlobalMaxPool,
    LayerNorm,
    MaxPool1D,
    MaxPool2D,
    Parallel,
    Reshape,
    Residual,
    RMSNorm,
    Sequential,
    SimpleRNN,
)
from fnn.minimize import MinimizeResult as MinimizeResult
from fnn.minimize import minimize
from fnn.network import apply, init, mlp, output_shape, predict, predict_proba
from fnn.stacked import init_many, stack, unstack
from fnn.summary import summary
from fnn.sweep import SerialExecutor, sweep, sweep_summary
from fnn.train import TrainState, batches, opt_step, train_epoch

__all__ = [
    "Activation",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNorm",
    "Concat",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "GRU",
    "LSTM",
    "LayerNorm",
    "MaxPool1D",
    "MaxPool2D",
    "Parallel",
    "RMSNorm",
    "Reshape",
    "Residual",
    "EarlyStopping",
    "SerialExecutor",
    "Sequential",
    "SimpleRNN",
    "TrainState",
    "apply",
    "batches",
    "callbacks",
    "data",
    "early_stopping",
    "evaluate",
    "evaluation",
    "fit",
    "opt_step",
    "optim",
    "predict",
    "predict_proba",
    "train_epoch",
    "errors",
    "grad",
    "init",
    "init_many",
    "initializers",
    "io",
    "l2_penalty",
    "layers",
    "load",
    "losses",
    "metrics",
    "minimize",
    "mlp",
    "output_shape",
    "random",
    "resume",
    "save",
    "stack",
    "stacked",
    "summary",
    "sweep",
    "sweep_summary",
    "tree",
    "unstack",
    "value_and_grad",
]
