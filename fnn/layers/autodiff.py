"""A layer from its forward function alone: :func:`from_forward`, its backward derived by HIPS autograd.

``from_forward(fn, init=...)`` is a layer spec like ``fnn.Dense(4)``:

- ``fn(params, x) -> y`` is the forward pass on a batch: ``params`` a dict of named
  arrays (empty for a layer without parameters), ``x`` of shape ``(n, *in_shape)``, ``y``
  of shape ``(n, *out_shape)`` and ``x``'s dtype. Write it with ``autograd.numpy``
  (``import autograd.numpy as anp``); see :mod:`fnn.autodiff`.
- ``init(key, in_shape, dtype) -> dict`` draws the parameters for input samples of
  shape ``in_shape`` (no batch axis), each an array of ``dtype``; the default, None,
  makes a layer without parameters.

The output sample shape is found by running ``fn`` on a batch of one zero sample, and
:func:`fnn.init` also runs ``fn``'s backward once on it, so a function autograd cannot
trace or differentiate is refused when the network is built, not at the first step.

**How it runs.** In training (``train=True``: :func:`fnn.grad`, :func:`fnn.fit`) the
forward pass runs ``fn`` under autograd's tracing and keeps the trace as the residual;
``backward`` replays it with the output gradient (a vector-Jacobian product with respect
to the parameters and the input at once), writes every parameter gradient into the
gradient buffer and returns the input gradient. Outside training (:func:`fnn.apply`,
:func:`fnn.predict`) ``fn`` runs on plain arrays, untraced; a gradient asked for in that
mode (``fnn.grad(..., train=False)``) traces ``fn`` again in ``backward``. Traced or not,
``fn`` makes the same NumPy calls, so the outputs agree bit for bit.

**Stacks.** The layer runs in a stack of K networks (:func:`fnn.stack`): member k calls
``fn`` on its own parameters and its own rows, one member after the other, which is what
network k alone computes (the member law, bit for bit). autograd sees one network at a
time, so ``fn`` never meets the member axis.

**Limits.** The layer draws no random numbers (no key). fnn's ``l2`` penalty covers the
weight fields of fnn's own layers; a ``from_forward`` layer's parameters are a dict, which
``l2`` does not see: decay them with ``fnn.optim.add_weight_decay`` (it takes a mask over
the flat params). A layer holding a Python function cannot be written by :func:`fnn.save`
(functions are not data); save the flat parameters, ``fnn.tree.ravel(params)[0]``, and
load them into the ``unravel`` of params made again by :func:`fnn.init` from your code.

>>> import autograd.numpy as anp, numpy as np, fnn
>>> glorot = fnn.initializers.get("glorot_uniform")
>>> def gated(params, x):
...     return x * (1 / (1 + anp.exp(-(x @ params["w"]))))
>>> gate = fnn.layers.from_forward(gated, init=lambda key, shape, dtype: {"w": glorot(key, (shape[-1],) * 2, dtype)})
>>> spec = fnn.Sequential([fnn.Dense(4), gate, fnn.Dense(2)], in_dim=3)
>>> params = fnn.init(fnn.random.key(0), spec)
>>> params.layers[1].params["w"].shape, fnn.apply(params, np.ones((5, 3), np.float32)).shape
((4, 4), (5, 2))
>>> g = fnn.grad(params, (np.ones((5, 3)), np.zeros((5, 2))), loss="mse")
>>> g.layers[1].params["w"].dtype
dtype('float32')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from fnn import random, tree
from fnn.autodiff import check_callable, check_name, function_name, require_autograd, vjp_of
from fnn.errors import ConfigError, DtypeError
from fnn.layers.base import (
    backward,
    details,
    forward,
    init_node,
    out_shape,
    stackable,
    uses_key,
    writes_every_grad,
)

__all__ = ["FromForward", "FromForwardParams", "from_forward"]


@attrs.frozen
class FromForward:
    """Spec of a layer given by its forward function (see :func:`from_forward`, which makes it).

    >>> import autograd.numpy as anp, fnn
    >>> fnn.layers.from_forward(lambda params, x: x * anp.tanh(x), name="tanh_gate").describe()
    'from_forward(tanh_gate)'
    """

    fn: Callable = attrs.field(validator=check_callable("from_forward's fn"))
    init: Callable | None = attrs.field(default=None, kw_only=True)
    name: str = attrs.field(kw_only=True, validator=check_name)

    @init.validator
    def _check_init(self, attribute: Any, value: Any) -> None:
        if value is not None and not callable(value):
            raise ConfigError(
                f"from_forward's init must be a function (key, in_shape, dtype) -> dict of arrays, or None for a "
                f"layer without parameters; got {value!r} ({type(value).__name__})"
            )

    @name.default
    def _name(self) -> str:
        return function_name(self.fn)

    def __attrs_post_init__(self) -> None:
        require_autograd(f"fnn.layers.from_forward({self.name})")

    def describe(self) -> str:
        return f"from_forward({self.name})"


def from_forward(fn: Callable, *, init: Callable | None = None, name: str | None = None) -> FromForward:
    """A layer spec from its forward function; its backward is derived by autograd.

    Args:
        fn: ``fn(params, x) -> y`` on a batch ``x`` (n, *in_shape), ``params`` a dict of
            named arrays (empty without ``init``); ``y`` of shape (n, *out_shape) and
            ``x``'s dtype. Written with ``autograd.numpy``.
        init: ``init(key, in_shape, dtype) -> {name: array}``, the parameters for input
            samples of shape ``in_shape``, each an array of ``dtype``; None (the default)
            for a layer without parameters.
        name: shown in summaries and messages; ``fn.__name__`` by default.

    Returns:
        A :class:`FromForward` spec, to place in a :class:`fnn.Sequential`.

    Raises:
        ImportError: autograd is not installed (the message names the extra to install).
        ConfigError: ``fn`` or ``init`` is not a function, or ``name`` not a string. When the
            network is built (:func:`fnn.init`): ``init`` returns something other than a
            dict of arrays, or ``fn`` an output autograd did not trace, without a batch axis
            or of another batch size. DtypeError: ``init`` returns arrays of another dtype
            than asked for, or ``fn`` an output of another dtype than its input.

    >>> import autograd.numpy as anp, numpy as np, fnn
    >>> swish = fnn.layers.from_forward(lambda params, x: x / (1 + anp.exp(-x)), name="swish")
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([swish], in_dim=2, dtype=np.float64))
    >>> fnn.apply(p, np.array([[0.0, 1.0]])).round(4).tolist()
    [[0.0, 0.7311]]

    See Also:
        :func:`fnn.losses.from_function`: the same for a loss. ``examples/custom_layer.py``:
        a layer with a hand-written backward.
    """
    return FromForward(fn, init=init) if name is None else FromForward(fn, init=init, name=name)


@tree.register
@attrs.frozen
class FromForwardParams:
    """Parameters of a :func:`from_forward` layer: the dict ``params`` of named arrays (the leaves).

    ``fn``, ``name`` and ``in_shape`` (the input sample shape it was built for) are static.
    """

    params: dict
    fn: Callable = tree.static_field()
    name: str = tree.static_field()
    in_shape: tuple = tree.static_field()

    def describe(self) -> str:
        return f"from_forward({self.name})"


# ------------------------------------------------------------------ building: shapes and checks


def _draw(spec: FromForward, key: Any, in_shape: tuple, dtype: np.dtype | None) -> dict:
    """The parameters ``spec.init`` draws, checked: a dict of str to arrays (of ``dtype`` unless None)."""
    if spec.init is None:
        return {}
    params = spec.init(key, in_shape, np.dtype(np.float64) if dtype is None else dtype)
    if type(params) is not dict:
        raise ConfigError(
            f"init must return a dict of named arrays, such as {{'w': ...}}; it returned a {type(params).__name__}"
        )
    for name, a in params.items():
        if not isinstance(name, str):
            raise ConfigError(f"init must return a dict with string keys; it returned the key {name!r}")
        if type(a) is not np.ndarray:
            raise ConfigError(f"init must return NumPy arrays; at {name!r} it returned a {type(a).__name__}")
        if dtype is not None and a.dtype != dtype:
            raise DtypeError(
                f"{spec.describe()}: init was asked for {dtype} parameters but returned {a.dtype} at {name!r}; draw "
                f"with the dtype it is given (e.g. fnn.random.normal(key, shape, dtype=dtype))"
            )
    return params


def _probe(spec: FromForward, params: dict, in_shape: tuple, dtype: np.dtype) -> np.ndarray:
    """``fn`` on a batch of one zero sample: its output, checked to have a batch axis of one."""
    with np.errstate(all="ignore"):  # only the shape and dtype matter: zeros may divide by zero
        y = spec.fn(dict(params), np.zeros((1, *in_shape), dtype))
    if type(y) is not np.ndarray:
        raise ConfigError(f"fn must return a NumPy array (a batch of outputs); it returned a {type(y).__name__}")
    if y.ndim < 2 or y.shape[0] != 1:
        raise ConfigError(
            f"fn must return a batch (n, *out_shape) for a batch x (n, *in_shape); for x of shape {(1, *in_shape)} "
            f"it returned shape {y.shape}"
        )
    return y


@out_shape.register
def _(spec: FromForward, in_shape: tuple) -> tuple:
    # The shape is the same in either float dtype: probed in float64, the dtype is checked by init_node.
    params = _draw(spec, random.key(0), tuple(in_shape), None)
    return _probe(spec, params, tuple(in_shape), np.dtype(np.float64)).shape[1:]


@init_node.register
def _(spec: FromForward, key, in_shape, dtype):
    dtype, in_shape = np.dtype(dtype), tuple(in_shape)
    params = _draw(spec, key, in_shape, dtype)
    node = FromForwardParams(params, spec.fn, spec.name, in_shape)
    y = _probe(spec, params, in_shape, dtype)
    if y.dtype != dtype:
        raise DtypeError(
            f"{spec.describe()}: fn returned {y.dtype} outputs for {dtype} inputs; fnn keeps one dtype, the "
            f"params': build constants with x.dtype (e.g. anp.asarray(c, x.dtype))"
        )
    with np.errstate(all="ignore"):  # trace and differentiate once, so that fn fails here rather than in training
        y, residual = _forward_one(node, params, np.zeros((1, *in_shape), dtype), True)
        _backward_one(node, residual, np.ones_like(y), {k: np.empty_like(a) for k, a in params.items()})
    return node


uses_key.register(FromForwardParams, lambda node: False)
stackable.register(FromForwardParams, lambda node: True)
writes_every_grad.register(FromForwardParams, lambda node: True)
details.register(
    FromForwardParams,
    lambda node: ", ".join(
        [f"fn {function_name(node.fn)}", *(f"{k} {node.params[k].shape}" for k in sorted(node.params))]
    ),
)


# ------------------------------------------------------------------ running: forward and backward


def _traced(node: FromForwardParams, params: dict, x: np.ndarray) -> tuple[np.ndarray, Callable]:
    """``(y, vjp)`` of ``fn`` on one network's params and input, traced by autograd; ``vjp(g)`` gives the
    gradients of the params (in sorted order) and then of ``x``."""
    names = sorted(params)

    def run(*arrays: Any) -> Any:
        return node.fn(dict(zip(names, arrays[:-1], strict=True)), arrays[-1])

    return vjp_of(run, [*(params[k] for k in names), x], node.describe(), "its params or x")


def _forward_one(node: FromForwardParams, params: dict, x: np.ndarray, train: bool) -> tuple[np.ndarray, tuple]:
    """One network's ``(y, residual)``: traced in training, plain otherwise (then backward traces again)."""
    if not train:
        return node.fn(dict(params), x), (None, params, x)
    y, vjp = _traced(node, params, x)
    return y, (vjp, params, x)


def _backward_one(node: FromForwardParams, residual: tuple, g: np.ndarray, out: dict) -> np.ndarray:
    """Write one network's parameter gradients into ``out`` (a dict of arrays); return its input gradient."""
    vjp, params, x = residual
    if vjp is None:
        vjp = _traced(node, params, x)[1]
    *grads, g_in = vjp(g)
    for name, gk in zip(sorted(params), grads, strict=True):
        if gk is None:  # fn does not use this parameter
            out[name].fill(0)
        else:
            np.copyto(out[name], gk)  # casting="same_kind": a float64 gradient of a float32 leaf is rounded once
    if g_in is None:  # fn does not use x
        return np.zeros(x.shape, g.dtype)
    return g_in if g_in.dtype == g.dtype else g_in.astype(g.dtype)


def _stacked(node: FromForwardParams, x: np.ndarray) -> bool:
    """Whether ``x`` is a stack's (K, n, *in_shape) rather than one network's (n, *in_shape)."""
    return x.ndim == len(node.in_shape) + 2


def _member(params: dict, k: int) -> dict:
    return {name: a[k] for name, a in params.items()}


@forward.register
def _(node: FromForwardParams, x, key, train):
    if not _stacked(node, x):
        return _forward_one(node, node.params, x, train)
    runs = [_forward_one(node, _member(node.params, k), x[k], train) for k in range(x.shape[0])]
    return np.stack([y for y, _ in runs]), [r for _, r in runs]


@backward.register
def _(node: FromForwardParams, residual, g, out, need_input_grad):
    if type(residual) is tuple:
        g_in = _backward_one(node, residual, g, out.params)
    else:  # a stack: member k's residual, gradient and slice of the buffer
        g_in = np.stack([_backward_one(node, r, g[k], _member(out.params, k)) for k, r in enumerate(residual)])
    return g_in if need_input_grad else None
