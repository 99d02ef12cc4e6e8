"""Weight initialisers: frozen, named, drawn with an explicit key.

An initialiser is called as ``init(key, (fan_in, fan_out), dtype) -> array``.
Names (aliases in brackets): ``glorot_uniform`` (``xavier_uniform``),
``glorot_normal`` (``xavier_normal``), ``he_uniform`` (``kaiming_uniform``),
``he_normal`` (``kaiming_normal``), ``lecun_uniform``, ``lecun_normal``,
``normal`` (std 0.01 unless given: the tutorials' ``randn * 0.01``), ``zeros``.
The normal variants are plain (untruncated) normals, as in PyTorch's
``torch.nn.init``; the uniform ones are U(-limit, limit) with the same variance.

>>> import numpy as np, fnn
>>> w = fnn.initializers.get("he_normal")(fnn.random.key(0), (400, 300), np.float32)
>>> w.dtype, round(float(w.std()), 2), round(float(np.sqrt(2 / 400)), 2)
(dtype('float32'), 0.07, 0.07)
>>> fnn.initializers.normal(0.5)
Initializer(name='normal', std=0.5)
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from fnn import random
from fnn.errors import ConfigError

__all__ = ["Initializer", "get", "normal", "NAMES"]

# name -> (distribution, fan used for the variance, variance numerator)
_RULES = {
    "glorot_uniform": ("uniform", "avg", 1.0),
    "glorot_normal": ("normal", "avg", 1.0),
    "he_uniform": ("uniform", "in", 2.0),
    "he_normal": ("normal", "in", 2.0),
    "lecun_uniform": ("uniform", "in", 1.0),
    "lecun_normal": ("normal", "in", 1.0),
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
            return self.std
        n = (fan_in + fan_out) / 2 if fan == "avg" else fan_in
        return math.sqrt(numerator / n)

    def __call__(self, key: random.Key, shape: tuple[int, int], dtype: object) -> np.ndarray:
        dist = _RULES[self.name][0]
        std = self.scale(*shape)
        if dist == "zeros":
            return np.zeros(shape, dtype)
        if dist == "normal":
            return random.normal(key, shape, std=std, dtype=dtype)
        limit = math.sqrt(3.0) * std  # U(-a, a) has variance a²/3
        return random.uniform(key, shape, minval=-limit, maxval=limit, dtype=dtype)


def get(init: str | Initializer) -> Initializer:
    """An :class:`Initializer` from a name or an initializer; ConfigError listing the names otherwise."""
    if isinstance(init, Initializer):
        return init
    return Initializer(init)


def normal(std: float = 0.01) -> Initializer:
    """Normal weights with the given standard deviation (default 0.01)."""
    return Initializer("normal", std)
