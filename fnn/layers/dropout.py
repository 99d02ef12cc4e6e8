"""Inverted dropout: at training time zero a fraction ``rate`` of units and scale the rest by 1/(1 − rate)."""

from __future__ import annotations

import attrs
import numpy as np

from fnn import random, tree
from fnn._checks import real
from fnn.errors import ConfigError
from fnn.layers.base import backward, details, forward, init_node, out_shape, stackable, uses_key

__all__ = ["Dropout"]


_NEEDS_KEY = (
    "Dropout in training mode needs a key: pass key=fnn.random.key(...) (fnn.apply, fnn.grad), or train=False "
    "for the network without dropout"
)


def _check_rate(rate: object) -> float:
    return real(rate, "Dropout rate", low=0, high=1, high_open=True, hint=" (the fraction of units DROPPED)")


@tree.register
@attrs.frozen
class Dropout:
    """Dropout layer; ``rate`` is the fraction of units dropped (not kept), in [0, 1).

    Active only in training mode (``fnn.apply(..., train=True, key=k)``, ``fnn.grad(..., key=k)``,
    ``fnn.train_epoch``, ``fnn.fit``), which then needs a key; the identity otherwise. In a stack of networks (see
    :func:`fnn.stack`) member ``m`` draws its masks with ``fnn.random.fold_in(k, m)``, where
    ``k`` is the key the layer is given. Kept units are scaled by
    1/(1 − rate) so that inference needs no rescaling.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dropout(0.5)], in_dim=4))
    >>> fnn.apply(p, np.ones((1, 4)), train=True, key=fnn.random.key(3)).tolist()
    [[0.0, 2.0, 2.0, 2.0]]
    """

    rate: float = tree.static_field(converter=_check_rate)

    def describe(self) -> str:
        return f"Dropout({self.rate:g})"


@out_shape.register
def _(spec: Dropout, in_shape: tuple) -> tuple:
    return in_shape


@init_node.register
def _(spec: Dropout, key, in_shape, dtype):
    return spec


uses_key.register(Dropout, lambda node: node.rate > 0)
stackable.register(Dropout, lambda node: True)
details.register(Dropout, lambda node: f"rate {node.rate:g}")


def mask(key: random.Key, rate: float, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """The scaled keep-mask: 1/(1 − rate) where kept, 0 where dropped."""
    keep = random.uniform(key, shape, dtype=np.float64) >= rate
    return keep.astype(dtype) * dtype.type(1.0 / (1.0 - rate))


@forward.register
def _(node: Dropout, x, key, train):
    if not train or node.rate == 0.0:
        return x, None
    if key is None:
        raise ConfigError(_NEEDS_KEY)
    if type(key) is random.StackKey:  # a stack of networks: member k draws its own masks, from fold_in(key, k)
        m = np.stack([mask(key.member(k), node.rate, x.shape[1:], x.dtype) for k in range(key.members)])
    else:
        m = mask(key, node.rate, x.shape, x.dtype)
    return x * m, m


@backward.register
def _(node: Dropout, m, g, out, need_input_grad):
    if not need_input_grad:
        return None
    return g if m is None else np.multiply(g, m, out=g)
