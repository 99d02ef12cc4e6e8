"""``BatchNorm``: batch normalisation over the last (channel) axis, with running statistics (PyTorch's semantics).

For samples of any shape ``(..., C)`` the statistics are taken per channel over the batch
and every other axis (``torch.nn.BatchNorm1d`` on (n, C) and (n, C, L), ``BatchNorm2d`` on
(n, C, H, W), channels last here). In training mode the batch's own mean and biased
variance normalise it; in inference mode (``fnn.apply``) the running ones do.

**Where the running statistics live** (see docs/design.md, "Model state"): in the params,
as *state* leaves (:func:`fnn.tree.state_field`) — saved, stacked, checkpointed and
restored with the params, but outside the flat vector the optimizer updates, so they get
no gradient, no l2 and no weight decay. A training-mode backward pass writes the
statistics the batch leads to into the gradient tree's state leaves; :func:`fnn.opt_step`
(and so ``train_epoch`` and ``fit``) takes them as the new params' state. A hand-written
``opt_step(state, grad(state.params, batch))`` loop therefore updates them too. The
update is torch's: ``running = momentum · batch + (1 − momentum) · running`` with the
unbiased batch variance; ``momentum=None`` is the cumulative average over the batches seen.

>>> import numpy as np, fnn
>>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.BatchNorm()], in_shape=(3,), dtype=np.float64))
>>> x = fnn.random.normal(fnn.random.key(1), (8, 3)) * 4 + 2
>>> s = fnn.TrainState.create(p, fnn.optim.sgd(0.0), key=fnn.random.key(2))
>>> s = fnn.opt_step(s, fnn.grad(s.params, (x, np.zeros((8, 3))), loss="mse"))
>>> bool(np.allclose(s.params.layers[0].mean, 0.1 * x.mean(axis=0)))
True
"""

from __future__ import annotations

import attrs
import numpy as np

from fnn import tree
from fnn._checks import real
from fnn._reductions import column_sums
from fnn.errors import ConfigError
from fnn.layers.base import backward, details, forward, init_node, out_shape, stackable, uses_key, writes_every_grad

__all__ = ["BatchNorm", "BatchNormParams"]


def _momentum(value: object) -> float | None:
    return (
        None
        if value is None
        else real(value, "BatchNorm momentum", low=0, high=1, hint=" (the weight of the new batch) or None")
    )


def _eps(value: object) -> float:
    return real(value, "BatchNorm eps", low=0, high=1, low_open=True, high_open=True)


@tree.value_class
@attrs.frozen
class BatchNorm:
    """Spec of batch normalisation over the last axis with learned scale and offset and running statistics.

    Args:
        momentum: the weight of the new batch in the running statistics (torch's convention,
            0.1 by default; Keras and Flax call 0.9 or 0.99 of the *old* ones "momentum");
            None for the cumulative average.
        eps: added to the variance.

    >>> import fnn
    >>> fnn.BatchNorm()
    BatchNorm(momentum=0.1, eps=1e-05)
    """

    momentum: float | None = attrs.field(default=0.1, kw_only=True, converter=_momentum)
    eps: float = attrs.field(default=1e-5, kw_only=True, converter=_eps)

    def describe(self) -> str:
        return "BatchNorm()"


@tree.register
@attrs.frozen
class BatchNormParams:
    """Parameters of a :class:`BatchNorm`: ``scale``, ``offset`` (C,); state ``mean``, ``var`` (C,) and ``count`` ()."""

    scale: np.ndarray
    offset: np.ndarray
    mean: np.ndarray = tree.state_field()  # running mean
    var: np.ndarray = tree.state_field()  # running (unbiased) variance
    count: np.ndarray = tree.state_field()  # batches seen in training (torch's num_batches_tracked)
    momentum: float | None = tree.static_field(default=0.1)
    eps: float = tree.static_field(default=1e-5)

    def describe(self) -> str:
        return f"BatchNorm({self.scale.shape[-1]})"


@out_shape.register
def _(spec: BatchNorm, in_shape: tuple) -> tuple:
    return tuple(in_shape)


@init_node.register
def _(spec: BatchNorm, key, in_shape, dtype):
    c = in_shape[-1]
    return BatchNormParams(
        np.ones(c, dtype),
        np.zeros(c, dtype),
        np.zeros(c, dtype),
        np.ones(c, dtype),
        np.zeros((), dtype),
        spec.momentum,
        spec.eps,
    )


def _per_member(v: np.ndarray, x: np.ndarray, stacked: bool) -> np.ndarray:
    """A (C,) vector, or a stack's (K, C), shaped to broadcast against ``x`` (…, C) or (K, …, C)."""
    return v.reshape(v.shape[0], *(1,) * (x.ndim - 2), v.shape[1]) if stacked else v


def _rows(a: np.ndarray, stacked: bool) -> np.ndarray:
    """``a`` as rows (M, C), or (K, M, C) for a stack: every value of a channel in one column."""
    return a.reshape(a.shape[0], -1, a.shape[-1]) if stacked else a.reshape(-1, a.shape[-1])


def _channel_sums(a: np.ndarray, stacked: bool) -> np.ndarray:
    rows = _rows(a, stacked)
    return column_sums(rows, np.empty(rows.shape[:-2] + rows.shape[-1:], a.dtype))


@forward.register
def _(node: BatchNormParams, x, key, train):
    stacked = node.scale.ndim == 2
    dtype = x.dtype.type
    if train:
        m = x.size // (x.shape[0] * x.shape[-1]) if stacked else x.size // x.shape[-1]
        if m < 2:
            raise ConfigError(
                f"{node.describe()} in training mode needs more than one value per channel, got {m} (a batch of 1 "
                f"without other axes); train on batches of 2 or more, or use train=False"
            )
        mean = _channel_sums(x, stacked) / dtype(m)
        xc = x - _per_member(mean, x, stacked)
        var = _channel_sums(xc * xc, stacked) / dtype(m)
    else:
        m, mean, var = 0, node.mean, node.var
        xc = x - _per_member(mean, x, stacked)
    inv = 1.0 / np.sqrt(var + dtype(node.eps))
    xhat = np.multiply(xc, _per_member(inv, x, stacked), out=xc)
    y = xhat * _per_member(node.scale, x, stacked)
    y += _per_member(node.offset, x, stacked)
    return y, (xhat, inv, mean, var, m)


@backward.register
def _(node: BatchNormParams, residual, g, out, need_input_grad):
    xhat, inv, mean, var, m = residual
    stacked = node.scale.ndim == 2
    dtype = g.dtype.type
    out.scale[...] = _channel_sums(g * xhat, stacked)
    out.offset[...] = _channel_sums(g, stacked)
    _write_statistics(node, out, mean, var, m)
    if not need_input_grad:
        return None
    gh = np.multiply(g, _per_member(node.scale, g, stacked), out=g)
    if not m:  # inference: the statistics are constants
        return np.multiply(gh, _per_member(inv, g, stacked), out=gh)
    # dx = inv · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) per channel, with ĝ = g · scale
    mean_g = _channel_sums(gh, stacked) / dtype(m)
    mean_gx = _channel_sums(gh * xhat, stacked) / dtype(m)
    dx = gh - _per_member(mean_g, g, stacked)
    dx -= xhat * _per_member(mean_gx, g, stacked)
    dx *= _per_member(inv, g, stacked)
    return dx


def _write_statistics(node: BatchNormParams, out: BatchNormParams, mean: np.ndarray, var: np.ndarray, m: int) -> None:
    """Write into ``out``'s state the running statistics after this batch (unchanged in inference mode)."""
    if not m:
        out.mean[...], out.var[...], out.count[...] = node.mean, node.var, node.count
        return
    dtype = node.mean.dtype.type
    count = node.count + dtype(1)
    if node.momentum is None:  # the cumulative average over the batches seen (per member: its own count)
        w = 1.0 / count
        w = w if np.ndim(w) == 0 else w[:, None]
    else:
        w = dtype(node.momentum)
    unbiased = var * dtype(m / (m - 1))
    out.mean[...] = w * mean + (1 - w) * node.mean  # torch's order of operations
    out.var[...] = w * unbiased + (1 - w) * node.var
    out.count[...] = count


uses_key.register(BatchNormParams, lambda node: False)
stackable.register(BatchNormParams, lambda node: True)
writes_every_grad.register(BatchNormParams, lambda node: True)
details.register(
    BatchNormParams,
    lambda node: (
        ("cumulative average" if node.momentum is None else f"momentum {node.momentum:g} = weight of the new batch")
        + f", eps {node.eps:g}"
    ),
)
