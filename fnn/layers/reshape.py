"""``Flatten`` and ``Reshape``: change the shape of each sample, not its values.

Both learn the shape of their input samples at :func:`fnn.init` (it is a static field of
the node), so they act on the sample axes only, whatever comes before them: the batch
axis, and in a stack of networks the member axis too.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn.errors import ConfigError
from fnn.layers.base import backward, check_shape, details, forward, init_node, out_shape, stackable, uses_key

__all__ = ["Flatten", "Reshape"]


def _shape_or_none(value: object) -> tuple | None:
    return None if value is None else check_shape(value, "in_shape")


@tree.register
@attrs.frozen
class Flatten:
    """Flatten each sample to one axis: samples ``(d1, d2, ...)`` become ``(d1·d2·…,)``, in C order.

    ``in_shape`` is filled in by :func:`fnn.init`; leave it out.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Flatten()], in_shape=(2, 3)))
    >>> fnn.apply(p, np.arange(12.0).reshape(2, 2, 3)).shape
    (2, 6)
    """

    in_shape: tuple | None = tree.static_field(default=None, converter=_shape_or_none)

    def describe(self) -> str:
        return "Flatten()"


@out_shape.register
def _(spec: Flatten, in_shape: tuple) -> tuple:
    return (math.prod(in_shape),)


@init_node.register
def _(spec: Flatten, key, in_shape, dtype):
    return Flatten(in_shape)


def _lead(x: np.ndarray, sample_rank: int) -> tuple:
    """The axes of ``x`` before its samples' own: (n,), or (K, n) in a stack."""
    return x.shape[: x.ndim - sample_rank]


@forward.register
def _(node: Flatten, x, key, train):
    return x.reshape(*_lead(x, len(node.in_shape)), -1), None  # type: ignore[arg-type]


@backward.register
def _(node: Flatten, residual, g, out, need_input_grad):
    return g.reshape(*g.shape[:-1], *node.in_shape) if need_input_grad else None  # type: ignore[misc]


def _target(value: object) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"Reshape shape must be a tuple of sizes such as (7, 7, 1), got {value!r}")
    shape = tuple(value)
    if not shape or sum(1 for s in shape if s == -1) > 1:
        raise ConfigError(f"Reshape shape must have at least one axis and at most one -1, got {shape}")
    for i, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or (s < 1 and s != -1):
            raise ConfigError(f"Reshape shape[{i}] must be an integer ≥ 1 or -1, got {s!r}")
    return tuple(int(s) for s in shape)


def _resolved(shape: tuple, in_shape: tuple) -> tuple:
    size = math.prod(in_shape)
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        if size % known:
            raise ConfigError(
                f"Reshape{shape} cannot take samples of shape {in_shape}: {size} elements do not divide by {known}"
            )
        return tuple(size // known if s == -1 else s for s in shape)
    if known != size:
        raise ConfigError(
            f"Reshape{shape} needs samples of {known} elements, got samples of shape {in_shape} ({size} elements)"
        )
    return shape


@tree.register
@attrs.frozen
class Reshape:
    """Reshape each sample to ``shape`` (one size may be -1: inferred), in C order, as ``np.reshape`` does.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Reshape((3, -1))], in_dim=6))
    >>> fnn.apply(p, np.arange(12.0).reshape(2, 6)).shape
    (2, 3, 2)
    """

    shape: tuple = tree.static_field(converter=_target)
    in_shape: tuple | None = tree.static_field(default=None, converter=_shape_or_none)

    def describe(self) -> str:
        return f"Reshape({self.shape})"


@out_shape.register
def _(spec: Reshape, in_shape: tuple) -> tuple:
    return _resolved(spec.shape, in_shape)


@init_node.register
def _(spec: Reshape, key, in_shape, dtype):
    _resolved(spec.shape, in_shape)
    return Reshape(spec.shape, in_shape)


@forward.register
def _(node: Reshape, x, key, train):
    return x.reshape(*_lead(x, len(node.in_shape)), *_resolved(node.shape, node.in_shape)), None  # type: ignore[arg-type]


@backward.register
def _(node: Reshape, residual, g, out, need_input_grad):
    if not need_input_grad:
        return None
    rank = len(_resolved(node.shape, node.in_shape))  # type: ignore[arg-type]
    return g.reshape(*g.shape[: g.ndim - rank], *node.in_shape)  # type: ignore[misc]


def _no_details(node: Any) -> str:
    return ""


for _cls in (Flatten, Reshape):
    uses_key.register(_cls, lambda node: False)
    stackable.register(_cls, lambda node: True)
details.register(Flatten, _no_details)
details.register(Reshape, lambda node: f"to {_resolved(node.shape, node.in_shape)}" if node.in_shape else "")
