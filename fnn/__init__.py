"""fnn: a purely functional neural-network library on NumPy.

Values go in, values come out; nothing is mutated, and nothing random happens
without a key.

>>> import numpy as np, fnn
>>> key = fnn.random.key(0)
>>> params = fnn.init(key, fnn.mlp([4, 8, 3]))
>>> fnn.apply(params, np.zeros((2, 4))).shape
(2, 3)
"""

from fnn import errors, initializers, layers, losses, random, tree
from fnn.backprop import grad, l2_penalty, value_and_grad
from fnn.layers import Activation, Dense, Dropout, Sequential
from fnn.network import apply, init, mlp, output_shape

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Sequential",
    "apply",
    "errors",
    "grad",
    "init",
    "initializers",
    "l2_penalty",
    "layers",
    "losses",
    "mlp",
    "output_shape",
    "random",
    "tree",
    "value_and_grad",
]
