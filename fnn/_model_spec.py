"""The ``--model`` option of ``fnn train``: ``mlp`` (the default), ``cnn``, or a small spec language.

A spec is comma-separated items, read left to right (the sample shape after each one is
checked as it is built):

- ``input:HxWxC`` (an image: 2-D convolutions) or ``input:LxC`` (a signal: 1-D ones): the shape
  each flat row of features is reshaped to. It may be left out for ``--data digits`` (8×8×1)
  and ``mnist:DIR`` (28×28×1); a CSV needs it, and H·W·C must equal its feature count.
- ``conv:CxK`` (C channels, kernel K), with ``:same`` for same padding and ``:sN`` for stride N,
  e.g. ``conv:32x3:same`` or ``conv:16x5:s2``.
- ``pool:K`` (max pooling, window and stride K), ``avgpool:K``, ``globalmax``, ``globalavg``.
- ``dense:N`` (after a convolution or pool it flattens first), ``dropout:P``, ``batchnorm``, ``flatten``, and any
  activation name (``relu``, ``tanh``, …).

The output layer is added: a Flatten when the shape is not flat yet, then Dense to the number
of classes and a softmax (no softmax for a regression loss). ``cnn`` is
``conv:32x3:same,relu,pool:2,conv:64x3:same,relu,pool:2,dropout:0.25`` on the data's image
shape (8×8 → 2×2×64 for the digits).

>>> spec = build("conv:8x3:same,relu,pool:2", features=64, outputs=10, data="digits", dtype="float64")
>>> [layer.describe() for layer in spec.layers]  # doctest: +NORMALIZE_WHITESPACE
['Reshape((8, 8, 1))', 'Conv2D(8, 3×3)', 'Activation(relu)', 'MaxPool2D(2×2)', 'Flatten()', 'Dense(10)',
 'Activation(softmax)']
"""

from __future__ import annotations

import math
from typing import Any

import fnn
from fnn.errors import ConfigError, FnnError

__all__ = ["CNN", "IMAGE_SHAPES", "build"]

CNN = "conv:32x3:same,relu,pool:2,conv:64x3:same,relu,pool:2,dropout:0.25"
IMAGE_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1)}
FORMS = (
    "input:HxWxC | input:LxC | conv:CxK[:same][:sN] | pool:K | avgpool:K | globalmax | globalavg | dense:N | "
    "dropout:P | batchnorm | flatten | an activation (relu, tanh, ...)"
)


def _ints(text: str, item: str, count: tuple[int, ...]) -> tuple[int, ...]:
    parts = text.split("x")
    if len(parts) not in count or not all(p.isdigit() and int(p) >= 1 for p in parts):
        want = " or ".join("x".join("N" * c) for c in count)
        raise ConfigError(f"--model item {item!r}: expected {want} with integers ≥ 1, got {text!r}")
    return tuple(int(p) for p in parts)


def _image_shape(data: str) -> tuple[int, ...] | None:
    return IMAGE_SHAPES.get("mnist" if data.startswith("mnist:") else data)


def _layer(item: str, rank: int) -> Any:
    name, _, rest = item.partition(":")
    args = rest.split(":") if rest else []
    if name == "conv":
        if not args:
            raise ConfigError(f"--model item {item!r}: give channels and kernel, e.g. conv:16x3")
        channels, kernel = _ints(args[0], item, (2,))
        padding, stride = "valid", 1
        for option in args[1:]:
            if option == "same":
                padding = "same"
            elif option.startswith("s") and option[1:].isdigit() and int(option[1:]) >= 1:
                stride = int(option[1:])
            else:
                raise ConfigError(f"--model item {item!r}: options are :same and :sN (stride N), got {option!r}")
        return (fnn.Conv1D if rank == 1 else fnn.Conv2D)(channels, kernel, stride=stride, padding=padding)
    if name in ("pool", "avgpool"):
        (size,) = _ints(rest, item, (1,))
        return {
            ("pool", 1): fnn.MaxPool1D,
            ("pool", 2): fnn.MaxPool2D,
            ("avgpool", 1): fnn.AvgPool1D,
            ("avgpool", 2): fnn.AvgPool2D,
        }[name, rank](size)
    if name == "dense":
        return fnn.Dense(_ints(rest, item, (1,))[0])
    if name == "dropout":
        try:
            return fnn.Dropout(float(rest))
        except (ValueError, FnnError):
            raise ConfigError(f"--model item {item!r}: expected dropout:P with 0 ≤ P < 1") from None
    plain = {
        "globalmax": fnn.GlobalMaxPool,
        "globalavg": fnn.GlobalAvgPool,
        "batchnorm": fnn.BatchNorm,
        "flatten": fnn.Flatten,
    }
    if name in plain and not rest:
        return plain[name]()
    if not rest and name in fnn.layers.activations.NAMES:
        return fnn.Activation(name)
    raise ConfigError(f"--model item {item!r} is not one of: {FORMS}")


def build(
    model: str,
    *,
    features: int,
    outputs: int,
    data: str,
    dtype: str,
    regression: bool = False,
    hidden: list[int] | None = None,
    activation: str = "relu",
    dropout: float = 0.0,
) -> fnn.Sequential:
    """The network ``fnn train --model MODEL`` trains on flat rows of ``features`` values.

    Args:
        model: ``"mlp"`` (``hidden``, ``activation`` and ``dropout`` give it), ``"cnn"`` or a spec
            (see the module docstring).
        features: the width of each (standardized, flat) row.
        outputs: classes (or 1 for a regression).
        data: the ``--data`` value, for the image shapes of digits and MNIST.
        dtype: ``"float32"`` or ``"float64"``.
        regression: no softmax on the output.

    Raises:
        ConfigError: an item that cannot be read, a missing or wrong ``input:`` shape, or a layer
            that does not fit the shape before it (the message names the item).

    >>> build("cnn", features=64, outputs=10, data="digits", dtype="float32").layers[1].describe()
    'Conv2D(32, 3×3)'
    """
    output = [fnn.Dense(outputs)] + ([] if regression else [fnn.Activation("softmax")])
    if model == "mlp":
        return fnn.mlp(
            [features, *(hidden or []), outputs],
            hidden=activation,
            output=None if regression else "softmax",
            dropout=dropout,
            dtype=dtype,
        )
    items = [i.strip() for i in (CNN if model == "cnn" else model).split(",") if i.strip()]
    if not items:
        raise ConfigError(f"--model must be mlp, cnn or comma-separated items ({FORMS}), got {model!r}")
    shape: tuple[int, ...] | None
    if items[0].startswith("input:"):
        shape = _ints(items.pop(0)[len("input:") :], "input", (2, 3))
    else:
        shape = _image_shape(data)
        if shape is None:
            raise ConfigError(
                f"--model {model!r} on --data {data}: say the shape of a row first, e.g. "
                f"'input:HxWxC,...' for images or 'input:LxC,...' for signals"
            )
    if math.prod(shape) != features:
        raise ConfigError(
            f"--model input {'x'.join(map(str, shape))} holds {math.prod(shape)} values, but "
            f"--data {data} has {features} features a row"
        )
    rank = len(shape) - 1
    layers: list = [fnn.Reshape(shape)]
    current: tuple = shape
    for item in items:
        try:
            layer = _layer(item, rank)
            if isinstance(layer, fnn.Dense) and len(current) > 1:  # dense:N after images flattens them first
                layers.append(fnn.Flatten())
                current = (math.prod(current),)
            current = fnn.layers.out_shape(layer, current)
        except ConfigError as e:
            if str(e).startswith("--model"):
                raise
            raise ConfigError(f"--model item {item!r} on samples of shape {current}: {e}") from None
        layers.append(layer)
    if len(current) > 1:
        layers.append(fnn.Flatten())
    return fnn.Sequential([*layers, *output], in_shape=(features,), dtype=dtype)
