"""Building and running networks: ``mlp``, ``init``, ``apply`` and the input checks they share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fnn import random, tree
from fnn._checks import MAX_BYTES, foreign_array, size_limit
from fnn._reductions import all_finite
from fnn.errors import ConfigError, DtypeError, NonFiniteError, ShapeError
from fnn.initializers import Initializer
from fnn.layers import (
    Activation,
    Dense,
    Dropout,
    Sequential,
    SequentialParams,
    forward,
    init_node,
    layer_name,
    out_shape,
    takes_integers,
)
from fnn.layers.activations import canonical as _activation_name
from fnn.layers.base import check_size
from fnn.metrics import predict_labels

__all__ = ["mlp", "init", "apply", "predict", "predict_proba", "output_shape", "check_inputs", "sample_out_shape"]

NOT_PARAMS = "{where} expects params from fnn.init (a SequentialParams), got {given}"

_HE_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu")


def mlp(
    sizes: Sequence[int],
    *,
    hidden: str = "relu",
    output: str | None = "softmax",
    dropout: float = 0.0,
    init: str | Initializer | None = None,
    use_bias: bool = True,
    dtype: DTypeLike = np.float32,
) -> Sequential:
    """Spec of a multi-layer perceptron: the tutorials' ``layers=[784, 100, 10]``.

    Args:
        sizes: input width, hidden widths..., output width (at least two integers ≥ 1).
        hidden: activation after every hidden Dense layer.
        output: activation after the last Dense layer (``None`` or ``"identity"`` for none).
        dropout: fraction of units dropped after each hidden activation (0 for no Dropout layers).
        init: weight initializer for every Dense layer; by default ``he_uniform`` for
            relu-like hidden activations and ``glorot_uniform`` otherwise (the output
            layer is always ``glorot_uniform`` by default).
        use_bias: whether the Dense layers have biases.
        dtype: float32 (default) or float64 parameters.

    >>> import fnn
    >>> spec = fnn.mlp([4, 8, 3], hidden="tanh", output="softmax")
    >>> [fnn.layers.layer_name(l) for l in spec.layers]
    ['Dense(8)', 'Activation(tanh)', 'Dense(3)', 'Activation(softmax)']
    """
    if isinstance(sizes, (str, bytes)):
        text = sizes.decode(errors="replace") if isinstance(sizes, bytes) else sizes
        parts = [w.strip() for w in text.replace(";", ",").replace(" ", ",").split(",") if w.strip()]
        example = f"[{', '.join(parts)}]" if len(parts) >= 2 and all(w.isdigit() for w in parts) else "[64, 32, 10]"
        raise ConfigError(
            f"mlp sizes must list at least an input and an output width as integers, e.g. fnn.mlp({example}); got "
            f"the {type(sizes).__name__} {sizes!r:.60}"
        )
    if not hasattr(sizes, "__len__") or len(sizes) < 2:
        raise ConfigError(
            f"mlp sizes must list at least an input and an output width, e.g. fnn.mlp([64, 32, 10]); got {sizes!r:.60}"
        )
    widths = [check_size(s, f"mlp sizes[{i}]") for i, s in enumerate(sizes)]
    dropout = Dropout(dropout).rate  # validated even when there is no hidden layer to drop from
    hidden = _activation_name(hidden)
    output = "identity" if output is None else _activation_name(output)
    hidden_init = init if init is not None else ("he_uniform" if hidden in _HE_ACTIVATIONS else "glorot_uniform")
    output_init = init if init is not None else "glorot_uniform"
    layers: list = []
    for units in widths[1:-1]:
        layers += [Dense(units, use_bias=use_bias, init=hidden_init), Activation(hidden)]
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(widths[-1], use_bias=use_bias, init=output_init))
    if output != "identity":
        layers.append(Activation(output))
    return Sequential(layers, in_dim=widths[0], dtype=dtype)


def init(key: random.Key, spec: Sequential, *, max_bytes: int | None = MAX_BYTES) -> SequentialParams:
    """Parameters of ``spec``: a frozen tree whose leaves are read-only views into one flat buffer.

    Each layer draws from its own subkey of ``key``; the same key gives the same bits.

    Args:
        key: from :func:`fnn.random.key`.
        spec: a :class:`fnn.Sequential` with ``in_shape`` or ``in_dim`` (e.g. from :func:`fnn.mlp`).
        max_bytes: refuse, before allocating, a network whose parameters would need more bytes
            (estimated from the layers' widths; default 8 GiB);
            None for no limit.

    Raises:
        ConfigError: the spec is not a Sequential with an input shape, a layer rejects its input
            shape, or the parameters would exceed ``max_bytes`` (``fnn.mlp([10**6, 10**6])``).

    >>> import fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    >>> params.layers[0].w.shape, params.layers[0].w.dtype, params.layers[0].w.flags.writeable
    ((3, 4), dtype('float32'), False)
    >>> fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(4)], in_shape=(19, 3))).in_shape
    (19, 3)
    """
    if not isinstance(key, random.Key):
        raise ConfigError(
            f"init(key, spec) expects an fnn.random.Key first, got {type(key).__name__}"
            + (
                f" (for a seed: fnn.init(fnn.random.key({key!r}), spec))"
                if isinstance(key, int) and not isinstance(key, bool)
                else ""
            )
        )
    _check_spec(spec, "init")
    check_params_size(spec, 1, max_bytes, "init")
    return tree.pack(init_node(spec, key, spec.in_shape, spec.dtype))  # type: ignore[arg-type]  # a Sequential has one


def estimated_weights(spec: Sequential) -> tuple[int, str]:
    """A lower bound on the number of parameters of ``spec`` from its layers' widths, without allocating;
    and the largest layer's name. Layers of unknown kinds count 0.

    >>> import fnn
    >>> estimated_weights(fnn.mlp([784, 256, 10]))
    (203530, 'Dense(256)')
    """
    shape, total, largest, name = tuple(spec.in_shape), 0, -1, "none"  # type: ignore[arg-type]  # as init
    for layer in spec.layers:
        last = shape[-1] if shape else 1
        if hasattr(layer, "units"):
            n = last * layer.units + layer.units
        elif hasattr(layer, "channels") and hasattr(layer, "kernel_size"):
            n = math.prod(layer.kernel_size) * last * layer.channels + layer.channels
        elif hasattr(layer, "num_embeddings") and hasattr(layer, "dim"):
            n = layer.num_embeddings * layer.dim
        elif hasattr(layer, "hidden") and isinstance(layer.hidden, int):
            n = (last + layer.hidden + 1) * layer.hidden
        else:
            n = 0
        total += n
        if n > largest:
            largest, name = n, layer_name(layer)
        try:
            shape = tuple(out_shape(layer, shape))
        except Exception:  # noqa: BLE001 - init itself reports a shape a layer rejects
            break
    return total, name


def check_params_size(spec: Sequential, members: int, max_bytes: Any, where: str) -> None:
    """ConfigError, before anything is allocated, if ``members`` networks of ``spec`` exceed ``max_bytes``."""
    weights, largest = estimated_weights(spec)
    what = f"the params of {members:,} networks" if members > 1 else "the params"
    each = " each" if members > 1 else ""
    size_limit(
        weights * members * np.dtype(spec.dtype).itemsize,
        max_bytes,
        f"{where}: {what} ({weights:,} weights{each}, the most in {largest}, {np.dtype(spec.dtype)})",
    )


def _check_spec(spec: Any, where: str) -> None:
    if not isinstance(spec, Sequential) or spec.in_shape is None:
        raise ConfigError(
            f"{where} expects a Sequential spec with in_shape (or in_dim), e.g. fnn.mlp([784, 128, 10]) or "
            f"fnn.Sequential([...], in_shape=(28, 28, 1)), got {spec!r}"
        )


def output_shape(spec: Sequential, batch: int = 1) -> tuple[int, ...]:
    """The shape ``apply`` returns for ``batch`` samples, predicted from the spec alone.

    >>> import fnn
    >>> fnn.output_shape(fnn.mlp([5, 7, 3]), batch=10)
    (10, 3)
    >>> fnn.output_shape(fnn.Sequential([fnn.Dense(8)], in_shape=(19, 25)), batch=2)
    (2, 19, 8)
    """
    _check_spec(spec, "output_shape")
    assert spec.in_shape is not None  # _check_spec refused a spec without one
    return (batch, *out_shape(spec, spec.in_shape))


def sample_out_shape(params: SequentialParams) -> tuple[int, ...]:
    """The shape of one sample of the output of ``params`` (one member's, for a stack).

    >>> import fnn
    >>> fnn.network.sample_out_shape(fnn.init(fnn.random.key(0), fnn.mlp([5, 7, 3])))
    (3,)
    """
    x = np.zeros((1, *params.in_shape), np.intp if takes_integers(params) else params.dtype)
    y = forward(params, x, None, False)[0]
    return y.shape[1:] if params.members is None else y.shape[2:]


def check_inputs(params: Any, x: Any, where: str) -> np.ndarray:
    """``x`` of shape (n, *in_shape), as the params' float dtype (or as integers, for a first layer that takes them).

    Raises:
        ShapeError: ``x`` is empty, or the shape of its samples differs from the network's ``in_shape``.
        DtypeError: ``x`` is not numeric, or a first layer that takes integers is given floats.
        NonFiniteError: ``x`` holds NaN or infinity.
    """
    if not isinstance(params, SequentialParams):
        hint = " (pass state.params)" if type(params).__name__ == "TrainState" else ""
        raise ConfigError(NOT_PARAMS.format(where=where, given=type(params).__name__) + hint)
    foreign_array(x, f"{where}: x")
    columns = getattr(x, "dtypes", None)  # a pandas DataFrame: name the column that is not numeric
    try:
        x = np.asarray(x)
    except (ValueError, TypeError) as e:
        shape = ", ".join(map(str, params.in_shape))
        raise ShapeError(f"{where}: x must be an array of shape (n, {shape}); {_ragged(x, e)}") from None
    if x.dtype.kind not in "biuf":
        bad = [str(c) for c, t in getattr(columns, "items", lambda: ())() if getattr(t, "kind", "O") not in "biuf"]
        named = f" (the column{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad[:3]))})" if bad else ""
        raise DtypeError(f"{where}: x must be a numeric array, got dtype {x.dtype}{named}")
    in_shape = params.in_shape
    if x.shape[1:] != in_shape:
        first = layer_name(params.layers[0]) if params.layers else "Sequential"
        hint = " (for one sample use x[None])" if x.ndim == len(in_shape) else ""
        if params.members is not None and x.shape[:1] == (params.members,) and x.shape[2:] == in_shape:
            raise ShapeError(
                f"{where}: x has shape {x.shape}, as if each of the {params.members} members of this stack had rows of "
                f"its own; the members share x: pass x of shape (n, {', '.join(map(str, in_shape))}), e.g. x[0]"
            )
        if len(in_shape) == 1:
            if x.ndim == 2:
                raise ShapeError(f"{where}: x has {x.shape[1]} features but layer 0 ({first}) expects {in_shape[0]}")
            raise ShapeError(
                f"{where}: x must be 2-D (batch, features): layer 0 ({first}) takes flat samples of {in_shape[0]} "
                f"features; got shape {x.shape}{hint or ' (flatten the samples, or declare in_shape)'}"
            )
        raise ShapeError(
            f"{where}: x has shape {x.shape}, so samples of shape {x.shape[1:]}, but layer 0 ({first}) expects "
            f"samples of shape {in_shape}: x of shape (n, {', '.join(map(str, in_shape))}){hint}"
        )
    if x.shape[0] == 0:
        raise ShapeError(f"{where}: x is an empty batch (shape {x.shape}); at least one sample is needed")
    if takes_integers(params):
        if x.dtype.kind not in "biu":
            raise DtypeError(
                f"{where}: layer 0 ({layer_name(params.layers[0])}) takes integer ids, got x of dtype {x.dtype} "
                f"(ids are never rounded from floats; pass x.astype(int) if they are whole numbers)"
            )
        return x
    x = x.astype(params.dtype, copy=False)
    if not all_finite(x):
        at = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        place = f"row {at[0]}, column {at[1]}" if len(at) == 2 else f"index {at}"
        raise NonFiniteError(f"{where}: x contains NaN or infinity (first at {place})")
    return x


def _ragged(x: Any, error: Exception) -> str:
    """Where a nested sequence stops being rectangular: its first row of another length."""
    try:
        lengths = [len(row) for row in x]
    except TypeError:
        return f"NumPy cannot make one array of it ({error})"
    for i, n in enumerate(lengths):
        if n != lengths[0]:
            return f"it is a ragged list: row 0 has {lengths[0]} values, row {i} has {n}"
    return f"NumPy cannot make one array of it ({error})"


def apply(params: SequentialParams, x: Any, *, key: random.Key | None = None, train: bool = False) -> np.ndarray:
    """The network's output for inputs ``x`` of shape (batch, *in_shape).

    Dropout is active only with ``train=True``, and then needs ``key``. Inputs are cast
    to the params' dtype; nothing the caller passed is modified. For a stack of K networks
    (see :func:`fnn.stack`) the output is (K, batch, ...): every member sees the same ``x``.

    Raises:
        ShapeError, NonFiniteError: see :func:`check_inputs`.
        ConfigError: ``train=True`` without a key when the network has dropout.

    >>> import numpy as np, fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    >>> y = fnn.apply(params, np.ones((5, 3)))
    >>> y.shape, y.dtype, np.allclose(y.sum(axis=1), 1)
    ((5, 2), dtype('float32'), True)
    """
    x = check_inputs(params, x, "apply")
    if key is not None and not isinstance(key, random.Key):
        raise ConfigError(f"apply: key must be an fnn.random.Key or None, got {type(key).__name__}")
    return forward(params, x, key, bool(train))[0]


def predict_proba(params: SequentialParams, x: Any) -> np.ndarray:
    """The network's output (class probabilities for a softmax or sigmoid network); same as :func:`apply`.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 3]))
    >>> fnn.predict_proba(p, np.ones((1, 2))).shape
    (1, 3)
    """
    return apply(params, x)


def predict(params: SequentialParams, x: Any) -> np.ndarray:
    """Predicted class labels: argmax of the output's last axis, or output ≥ 0.5 for a single output.

    Shape (n, ...) (the output's shape without its last axis), or (K, n, ...) for a stack of K networks.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 3]))
    >>> fnn.predict(p, np.ones((4, 2))).shape
    (4,)
    """
    y_hat = apply(params, x)
    if params.members is not None:  # a stack: the labels of each member
        return np.stack([_labels(member) for member in y_hat])
    return _labels(y_hat)


def _labels(y_hat: np.ndarray) -> np.ndarray:
    if y_hat.ndim == 2:
        return predict_labels(y_hat)
    return predict_labels(y_hat.reshape(-1, y_hat.shape[-1])).reshape(y_hat.shape[:-1])
