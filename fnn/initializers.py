"""Weight initialisers: frozen, named, drawn with an explicit key.

An initialiser is called as ``init(key, shape, dtype, *, in_axis=-2, out_axis=-1) -> array``.
The fans come from the shape, as in JAX's ``variance_scaling``: ``fan_in`` is the
size of ``in_axis`` times the receptive field (the product of the axes that are
neither ``in_axis`` nor ``out_axis``), ``fan_out`` likewise. So a Dense kernel
``(in, out)`` has fans ``in`` and ``out``, and a convolution kernel
``(kh, kw, in, out)`` has ``kh·kw·in`` and ``kh·kw·out`` (PyTorch's rule too).
Names (aliases in brackets): ``glorot_uniform`` (``xavier_uniform``),
``glorot_normal`` (``xavier_normal``), ``he_uniform`` (``kaiming_uniform``),
``he_normal`` (``kaiming_normal``), ``lecun_uniform``, ``lecun_normal``,
``normal`` (std 0.01 unless given: the tutorials' ``randn * 0.01``), ``zeros``,
``torch_uniform`` (PyTorch's default for ``nn.Linear`` and ``nn.Conv*d``:
U(-1/√fan_in, 1/√fan_in), which is what its ``kaiming_uniform_(a=√5)`` draws).
The normal variants are plain (untruncated) normals, as in PyTorch's
``torch.nn.init``; the uniform ones are U(-limit, limit) with the same variance.

Biases are drawn by :func:`draw_bias`, named by a layer's ``bias_init``: ``zeros`` (the
default) or ``torch_uniform`` (PyTorch's bias default, the same U(±1/√fan_in) with the
fan_in of the layer's kernel).

>>> import numpy as np, fnn
>>> w = fnn.initializers.get("he_normal")(fnn.random.key(0), (400, 300), np.float32)
>>> w.dtype, round(float(w.std()), 2), round(float(np.sqrt(2 / 400)), 2)
(dtype('float32'), 0.07, 0.07)
>>> fnn.initializers.normal(0.5)
Initializer(name='normal', std=0.5)
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
from numpy.typing import DTypeLike

from fnn import random, tree
from fnn.errors import ConfigError

__all__ = ["Initializer", "get", "normal", "fans", "NAMES", "BIAS_NAMES", "bias_name", "draw_bias"]

# name -> (distribution, fan used for the variance, variance numerator)
# name: (distribution, fan, numerator of the variance); None where the rule has no fan
_RULES: dict[str, tuple[str, Any, Any]] = {
    "glorot_uniform": ("uniform", "avg", 1.0),
    "glorot_normal": ("normal", "avg", 1.0),
    "he_uniform": ("uniform", "in", 2.0),
    "he_normal": ("normal", "in", 2.0),
    "lecun_uniform": ("uniform", "in", 1.0),
    "lecun_normal": ("normal", "in", 1.0),
    "torch_uniform": ("uniform", "in", 1.0 / 3.0),  # variance 1/(3·fan_in): the limit √3·std is 1/√fan_in
    "normal": ("normal", None, None),
    "zeros": ("zeros", None, None),
}
_ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
}
NAMES = tuple(sorted(_RULES)) + tuple(sorted(_ALIASES))


def _canonical(name: object) -> str:
    if not isinstance(name, str) or _ALIASES.get(name, name) not in _RULES:
        raise ConfigError(f"unknown initializer {name!r}; valid names: {', '.join(NAMES)}")
    return _ALIASES.get(name, name)


@tree.value_class
@attrs.frozen
class Initializer:
    """A weight initialiser by name; ``std`` is used (and only allowed) by ``normal``."""

    name: str = attrs.field(converter=_canonical)
    std: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.name == "normal":
            if self.std is None:
                object.__setattr__(self, "std", 0.01)
            if not (isinstance(self.std, (int, float)) and math.isfinite(self.std) and self.std > 0):
                raise ConfigError(f"normal initializer needs a finite std > 0, got {self.std!r}")
            object.__setattr__(self, "std", float(self.std))
        elif self.std is not None:
            raise ConfigError(f"initializer {self.name!r} takes no std (given {self.std!r}); only 'normal' does")

    def scale(self, fan_in: int, fan_out: int) -> float:
        """The standard deviation of the drawn weights."""
        dist, fan, numerator = _RULES[self.name]
        if dist == "zeros":
            return 0.0
        if fan is None:
            return self.std  # type: ignore[return-value]  # 'normal' (fan None) always has a std
        n = (fan_in + fan_out) / 2 if fan == "avg" else fan_in
        return math.sqrt(numerator / n)

    def __call__(
        self, key: random.Key, shape: tuple[int, ...], dtype: DTypeLike, *, in_axis: int = -2, out_axis: int = -1
    ) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` drawn with ``key``; fans from ``shape`` (see :func:`fans`).

        >>> import numpy as np, fnn
        >>> w = fnn.initializers.get("he_uniform")(fnn.random.key(0), (3, 3, 8, 16), np.float64)
        >>> bool(np.abs(w).max() <= np.sqrt(6 / (3 * 3 * 8)))
        True
        """
        dist = _RULES[self.name][0]
        std = self.scale(*fans(shape, in_axis, out_axis))
        if dist == "zeros":
            return np.zeros(shape, dtype)
        if dist == "normal":
            return random.normal(key, shape, std=std, dtype=dtype)
        limit = math.sqrt(3.0) * std  # U(-a, a) has variance a²/3
        return random.uniform(key, shape, minval=-limit, maxval=limit, dtype=dtype)


def fans(shape: tuple[int, ...], in_axis: int = -2, out_axis: int = -1) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``: the in and out axes times the receptive field.

    A 1-D shape ``(n,)`` has fans ``(n, n)``.

    >>> import fnn
    >>> fnn.initializers.fans((4, 5)), fnn.initializers.fans((3, 3, 8, 16)), fnn.initializers.fans((16, 8, 3), 1, 0)
    ((4, 5), (72, 144), (24, 48))
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 0:
        return 1, 1
    i, o = in_axis % len(shape), out_axis % len(shape)
    if i == o:
        raise ConfigError(f"initializer fans: in_axis and out_axis must differ, got {in_axis} and {out_axis}")
    receptive = math.prod(s for a, s in enumerate(shape) if a not in (i, o))
    return shape[i] * receptive, shape[o] * receptive


def get(init: str | Initializer) -> Initializer:
    """An :class:`Initializer` from a name or an initializer; ConfigError listing the names otherwise."""
    if isinstance(init, Initializer):
        return init
    return Initializer(init)


def normal(std: float = 0.01) -> Initializer:
    """Normal weights with the given standard deviation (default 0.01)."""
    return Initializer("normal", std)


BIAS_NAMES = ("zeros", "torch_uniform")


def bias_name(name: object, where: str = "bias_init") -> str:
    """A valid bias initialiser name (see :data:`BIAS_NAMES`); a ConfigError listing them otherwise.

    >>> import fnn
    >>> fnn.initializers.bias_name("torch_uniform")
    'torch_uniform'
    """
    if not isinstance(name, str) or name not in BIAS_NAMES:
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, BIAS_NAMES))}, got {name!r}")
    return name


def draw_bias(name: str, key: random.Key, units: int, fan_in: int, dtype: DTypeLike) -> np.ndarray:
    """A bias of ``units`` values: zeros, or U(-1/√fan_in, 1/√fan_in) (``torch_uniform``, PyTorch's bias default).

    ``fan_in`` is the fan_in of the layer's kernel (inputs times the receptive field).

    >>> import numpy as np, fnn
    >>> b = fnn.initializers.draw_bias("torch_uniform", fnn.random.key(0), 1000, 25, np.float64)
    >>> bool(np.abs(b).max() <= 0.2), round(float(np.abs(b).max()), 2)
    (True, 0.2)
    """
    if bias_name(name) == "zeros":
        return np.zeros(units, dtype)
    limit = 1.0 / math.sqrt(fan_in)
    return random.uniform(key, (units,), minval=-limit, maxval=limit, dtype=dtype)
