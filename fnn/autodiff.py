"""Backward passes derived by HIPS autograd, an optional extra (``pip install 'fnn[autodiff]'``).

fnn's own layers and losses state their gradients by hand. For the code a user would
rather write once, the forward computation alone, autograd (NumPy-native reverse mode:
it records the NumPy calls a function makes and replays them backwards) derives them:

- :func:`fnn.layers.from_forward`: a layer from ``fn(params, x) -> y``
  (see :mod:`fnn.layers.autodiff`).
- :func:`from_function` (also ``fnn.losses.from_function``): a loss from
  ``fn(y_hat, y) -> scalar``, in the custom-loss form ``(y_hat, y) -> (value, d value / d y_hat)``
  that every fnn function taking a ``loss=`` accepts.

Write such functions with ``autograd.numpy`` (``import autograd.numpy as anp``), a thin
wrapper of NumPy whose functions autograd can trace; operators (``@``, ``*``, indexing,
``.T``) and NumPy's ufuncs (``np.tanh``) work on traced arrays too, but a plain NumPy
function such as ``np.asarray`` drops the trace, which fnn reports as an error.

autograd is imported only when such a layer or loss is built or run: ``import fnn``
never loads it.

>>> import autograd.numpy as anp, numpy as np, fnn
>>> half_mse = fnn.losses.from_function(lambda y_hat, y: 0.5 * anp.mean((y_hat - y) ** 2))
>>> value, g = half_mse(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))
>>> float(value), g.tolist()
(2.5, [[0.5, 1.5]])
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from fnn.errors import ConfigError, ShapeError

__all__ = ["FunctionLoss", "from_function", "vjp_of", "require_autograd", "function_name", "INSTALL"]

INSTALL = "pip install 'fnn[autodiff]'"
"""How to install the extra this module needs."""


def require_autograd(what: str) -> types.ModuleType:
    """The ``autograd`` module; an ImportError naming ``what`` needs it and the extra to install otherwise.

    >>> require_autograd("this example").__name__
    'autograd'
    """
    try:
        import autograd
    except ImportError as e:
        raise ImportError(
            f"{what} derives its gradients with HIPS autograd, which is not installed; install the extra: {INSTALL}"
        ) from e
    return autograd


def function_name(fn: Callable) -> str:
    """A short name of a function for messages and summaries: its ``__name__``, or its type's.

    >>> function_name(len), function_name(lambda x: x)
    ('len', '<lambda>')
    """
    return getattr(fn, "__name__", None) or type(fn).__name__


def check_callable(what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator refusing a value that is not callable, naming ``what``."""

    def check(instance: Any, attribute: Any, value: Any) -> None:
        if not callable(value):
            raise ConfigError(f"{what} must be a function, got {value!r} ({type(value).__name__})")

    return check


def check_name(instance: Any, attribute: Any, value: Any) -> None:
    """An attrs validator for a display name: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"name must be a non-empty string, got {value!r}")


# ------------------------------------------------------------------ the vector-Jacobian product


def vjp_of(fn: Callable, arrays: Sequence[np.ndarray], where: str, inputs: str) -> tuple[Any, Callable]:
    """``(fn(*arrays), vjp)``, where ``vjp(g)`` gives the gradients of ``<g, fn(*arrays)>`` with respect to each array.

    This is ``autograd.make_vjp`` with one root of the trace per array: make_vjp takes one
    argument, so several arrays would go in as one tuple, and autograd then differentiates
    the unpacking of that tuple too, allocating a zero tuple (every array's zeros) and adding
    into it for each element taken. That doubled the cost of a Dense-sized layer (256→128,
    batch 128: 500 µs against 270 µs). The pieces used (``trace_stack``, ``new_box``,
    ``VJPNode``, ``add_outgrads``, ``toposort``) are the ones make_vjp and its backward pass
    are made of, in every autograd since 1.2. An array ``fn`` does not depend on gets the
    gradient None.

    Raises:
        ConfigError: ``fn``'s result is not traced back to the arrays (``where`` and
            ``inputs`` name the function and its inputs in the message).

    >>> import autograd.numpy as anp, numpy as np
    >>> y, vjp = vjp_of(lambda a, b: anp.sum(a * b), [np.array([1.0, 2.0]), np.array([3.0, 4.0])], "f", "a, b")
    >>> float(y), [g.tolist() for g in vjp(np.float64(1.0))]
    (11.0, [[3.0, 4.0], [1.0, 2.0]])
    """
    from autograd.core import VJPNode, add_outgrads
    from autograd.tracer import isbox, new_box, trace_stack
    from autograd.util import toposort

    roots = [VJPNode.new_root() for _ in arrays]
    with trace_stack.new_trace() as trace:
        end = fn(*[new_box(a, trace, root) for a, root in zip(arrays, roots, strict=True)])
    if not isbox(end) or end._trace != trace:
        raise ConfigError(untraced_message(where, inputs, end))
    index = {root: i for i, root in enumerate(roots)}

    def vjp(g: Any) -> list:
        grads: list = [None] * len(roots)
        outgrads = {end._node: (g, False)}
        for node in toposort(end._node):
            outgrad = outgrads.pop(node)[0]
            i = index.get(node)
            if i is not None:
                grads[i] = outgrad
                continue
            for parent, ingrad in zip(node.parents, node.vjp(outgrad), strict=True):
                outgrads[parent] = add_outgrads(outgrads.get(parent), ingrad)
        return grads

    return end._value, vjp


# ------------------------------------------------------------------ a loss from its value


@attrs.frozen
class FunctionLoss:
    """A loss ``fn(y_hat, y) -> scalar`` whose gradient autograd derives; made by :func:`from_function`.

    Calling it gives ``(value, d value / d y_hat)``: fnn's custom-loss form. ``y_hat`` is
    one network's output (a stack's members are passed one at a time); floating targets are
    cast to ``y_hat``'s dtype first, so a float32 network stays float32; integer labels are
    passed as they are.
    """

    fn: Callable = attrs.field(validator=check_callable("fnn.losses.from_function's fn"))
    name: str = attrs.field(kw_only=True, validator=check_name)

    @name.default
    def _name(self) -> str:
        return function_name(self.fn)

    def __attrs_post_init__(self) -> None:
        require_autograd(f"fnn.losses.from_function({self.name})")

    def __call__(self, y_hat: Any, y: Any) -> tuple[np.floating, np.ndarray]:
        y_hat = np.asarray(y_hat)
        if y_hat.dtype.kind != "f":
            y_hat = y_hat.astype(np.float64)
        y = np.asarray(y)
        if y.dtype.kind == "f":
            y = y.astype(y_hat.dtype, copy=False)
        where = f"fnn.losses.from_function({self.name})"
        value, vjp = vjp_of(lambda y_hat: self.fn(y_hat, y), [y_hat], where, "y_hat")
        if np.ndim(value) != 0:
            raise ShapeError(
                f"fnn.losses.from_function({self.name}): fn must return a scalar, but for outputs of shape "
                f"{y_hat.shape} it returned shape {np.shape(value)}; reduce it (e.g. anp.mean)"
            )
        (g,) = vjp(np.ones((), np.result_type(value)))
        return y_hat.dtype.type(value), np.asarray(g).astype(y_hat.dtype, copy=False)


def from_function(fn: Callable, *, name: str | None = None) -> FunctionLoss:
    """A loss from ``fn(y_hat, y) -> scalar``, its gradient with respect to ``y_hat`` derived by autograd.

    Args:
        fn: the loss of one network's outputs ``y_hat`` (n, ..., k) against targets ``y``,
            written with ``autograd.numpy``.
        name: shown in messages; ``fn.__name__`` by default.

    Returns:
        A :class:`FunctionLoss`: ``loss(y_hat, y) -> (value, d value / d y_hat)``, which
        :func:`fnn.grad`, :func:`fnn.fit` and the others take as ``loss=``.

    Raises:
        ImportError: autograd is not installed (the message names the extra).
        ConfigError: ``fn`` is not callable; when called, ``fn``'s value does not depend on
            ``y_hat`` as autograd traces it.
        ShapeError: when called, ``fn`` returns a non-scalar.

    >>> import autograd.numpy as anp, numpy as np, fnn
    >>> huber = fnn.losses.from_function(lambda p, y: anp.mean(anp.sqrt(1 + (p - y) ** 2) - 1), name="pseudo_huber")
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], output=None))
    >>> x, y = np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32)
    >>> value, g = fnn.value_and_grad(params, (x, y), loss=huber)
    >>> value.dtype, g.layers[0].w.dtype
    (dtype('float32'), dtype('float32'))

    See Also:
        :func:`fnn.layers.from_forward`: the same for a layer.
    """
    return FunctionLoss(fn) if name is None else FunctionLoss(fn, name=name)


def untraced_message(where: str, inputs: str, out: Any) -> str:
    """The message for a function whose result autograd did not trace back to its ``inputs``."""
    kind = f"an array of dtype {out.dtype}" if isinstance(out, np.ndarray) else f"a {type(out).__name__}"
    return (
        f"{where}: fn returned {kind} that does not depend on {inputs} as autograd traces it, so it has no "
        f"gradient. Write fn with autograd.numpy (import autograd.numpy as anp): plain NumPy functions such as "
        f"np.asarray or np.array drop autograd's trace (operators and NumPy ufuncs such as np.tanh keep it)"
    )
