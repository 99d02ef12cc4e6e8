"""Random search: configs drawn from a space with an fnn key, the same on every machine; a grid for :func:`fnn.sweep`.

A space is a dict of names to dimensions (:class:`Uniform`, :class:`LogUniform`,
:class:`Integer`, :class:`Choice`) or to constants, which every config gets as they are.
:func:`random_search` draws ``n`` distinct configs. Config ``i``'s value of a dimension is
drawn with the key ``fold_in(fold_in(key, i), word(name))`` (``word`` is 64 bits of the
name's SHA-256), so it depends on the key, ``i`` and the name alone: the first configs of a
longer search are the configs of a shorter one, and adding a dimension to the space leaves
the other dimensions' values as they were.

**The same configs on any machine.** Each draw starts from 64 random bits (Philox, specified
bit for bit); uniform values come from them by IEEE arithmetic and integers by integer
arithmetic alone. Log-uniform values need a logarithm and an exponential, whose last bit
varies between C libraries, so they are computed with Python's :mod:`decimal` (correctly
rounded, in software) and rounded once to a float.

>>> import fnn
>>> from fnn.sweep.space import Choice, Integer, LogUniform, Uniform, random_search
>>> space = {"lr": LogUniform(1e-4, 1e-1), "width": Integer(16, 128), "act": Choice(["relu", "tanh"]),
...          "dropout": Uniform(0.0, 0.5), "epochs": 10}
>>> configs = random_search(fnn.random.key(0), space, 3)
>>> [sorted(c) for c in configs][0]
['act', 'dropout', 'epochs', 'lr', 'width']
>>> all(1e-4 <= c["lr"] < 1e-1 and 16 <= c["width"] <= 128 and c["epochs"] == 10 for c in configs)
True
>>> random_search(fnn.random.key(0), space, 2) == configs[:2]
True
"""

from __future__ import annotations

import copy
import decimal
import hashlib
import math
from collections.abc import Mapping
from typing import Any

import attrs

from fnn import random
from fnn._checks import is_integer, is_real
from fnn.errors import ConfigError
from fnn.sweep._grid import check_config, setting_key

__all__ = ["Uniform", "LogUniform", "Integer", "Choice", "random_search"]

_TRIES = 100  # draws per config before a space is declared too small for n distinct configs


def _finite(where: str) -> Any:
    """A converter to float that refuses what is not a finite real number, naming ``where``."""

    def convert(value: Any) -> float:
        if not is_real(value) or not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)

    return convert


def _integer(name: str) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not is_integer(value):
            raise ConfigError(f"{name}.{attribute.name} must be an int, got {value!r} ({type(value).__name__})")

    return check


def _unit(bits: int) -> float:
    """A float in [0, 1) from the top 53 of 64 random bits: exact, so the same on any machine."""
    return (bits >> 11) * 2.0**-53


@attrs.frozen
class Uniform:
    """A float drawn uniformly from ``[low, high)``.

    >>> from fnn.sweep.space import Uniform
    >>> Uniform(0.0, 0.5)
    Uniform(low=0.0, high=0.5)
    """

    low: float = attrs.field(converter=_finite("Uniform.low"))  # type: ignore[misc]  # mypy's attrs plugin reads no converter a function returns
    high: float = attrs.field(converter=_finite("Uniform.high"))  # type: ignore[misc]

    def __attrs_post_init__(self) -> None:
        if not self.low < self.high:
            raise ConfigError(f"Uniform needs low < high, got low={self.low!r}, high={self.high!r}")

    def draw(self, bits: int) -> float:
        value = self.low + _unit(bits) * (self.high - self.low)
        return value if value < self.high else math.nextafter(self.high, self.low)  # rounding can reach high


@attrs.frozen
class LogUniform:
    """A float whose logarithm is uniform: ``exp(u)``, ``u`` uniform on ``[log(low), log(high))``; 0 < low < high.

    For learning rates and weight decays, which matter by their order of magnitude.

    >>> from fnn.sweep.space import LogUniform
    >>> LogUniform(1e-4, 1e-1).draw(0), LogUniform(1e-4, 1e-1).draw(2**63)
    (0.0001, 0.0031622776601683794)
    """

    low: float = attrs.field(converter=_finite("LogUniform.low"))  # type: ignore[misc]
    high: float = attrs.field(converter=_finite("LogUniform.high"))  # type: ignore[misc]

    def __attrs_post_init__(self) -> None:
        if not 0 < self.low < self.high:
            raise ConfigError(f"LogUniform needs 0 < low < high, got low={self.low!r}, high={self.high!r}")

    def draw(self, bits: int) -> float:
        context = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)  # a fresh one: contexts record flags
        low, high = context.ln(decimal.Decimal(self.low)), context.ln(decimal.Decimal(self.high))
        exponent = context.add(low, context.multiply(decimal.Decimal(_unit(bits)), context.subtract(high, low)))
        value = float(context.exp(exponent))
        return min(max(value, self.low), math.nextafter(self.high, self.low))


@attrs.frozen
class Integer:
    """An int drawn uniformly from ``low`` to ``high``, both included.

    >>> from fnn.sweep.space import Integer
    >>> Integer(1, 6).draw(0), Integer(1, 6).draw(2**64 - 1)
    (1, 6)
    """

    low: int = attrs.field(validator=_integer("Integer"))
    high: int = attrs.field(validator=_integer("Integer"))

    def __attrs_post_init__(self) -> None:
        if not self.low <= self.high:
            raise ConfigError(
                f"Integer needs low <= high (both are included), got low={self.low!r}, high={self.high!r}"
            )

    def draw(self, bits: int) -> int:
        # Lemire's multiply-shift without rejection: a bias below (high - low + 1) / 2**64.
        return int(self.low) + ((bits * (int(self.high) - int(self.low) + 1)) >> 64)


@attrs.frozen
class Choice:
    """One of ``values``, each as likely (give a value twice to make it twice as likely).

    >>> from fnn.sweep.space import Choice
    >>> Choice(["relu", "tanh"]).draw(2**63)
    'tanh'
    """

    values: tuple = attrs.field(converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not self.values:
            raise ConfigError("Choice needs at least one value, got none")

    def draw(self, bits: int) -> Any:
        return copy.deepcopy(self.values[(bits * len(self.values)) >> 64])


_DIMENSIONS = (Uniform, LogUniform, Integer, Choice)


def _word(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


def _draw(key: random.Key, space: dict, i: int) -> dict:
    k = random.fold_in(key, i)
    out = {}
    for name, dimension in space.items():
        if isinstance(dimension, _DIMENSIONS):
            out[name] = dimension.draw(int(random.bits(random.fold_in(k, _word(name)))))
        else:
            out[name] = copy.deepcopy(dimension)
    return out


def random_search(key: random.Key, space: Mapping[str, Any], n: int) -> list[dict]:
    """``n`` distinct configs drawn from ``space`` with ``key``: a list-of-dicts grid for :func:`fnn.sweep`.

    Args:
        key: an fnn key; the same key gives the same configs, in every process and on every machine.
        space: a dict of names (strings, not ``"seed"``) to :class:`Uniform`, :class:`LogUniform`,
            :class:`Integer` or :class:`Choice`, or to a constant that every config holds.
        n: how many configs (≥ 1).

    Returns:
        A list of ``n`` dicts in the space's key order, pairwise distinct (a draw equal to an
        earlier config is drawn again, from the next index), so the first ``m`` configs of a
        search of ``n > m`` are the search of ``m``.

    Raises:
        ConfigError: a bad key, space or ``n``, or a space with fewer than ``n`` distinct configs.

    >>> import fnn
    >>> from fnn.sweep.space import Choice, random_search
    >>> random_search(fnn.random.key(1), {"act": Choice(["relu", "tanh"]), "epochs": 5}, 2)
    [{'act': 'tanh', 'epochs': 5}, {'act': 'relu', 'epochs': 5}]
    """
    if not isinstance(key, random.Key):
        raise ConfigError(
            f"random_search: key must be an fnn.random.Key (fnn.random.key(seed)), got {type(key).__name__}"
        )
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(f"random_search: space must be a non-empty dict of names to dimensions, got {space!r:.80}")
    space = check_config(space, "the space").copy()
    if not is_integer(n) or n < 1:
        raise ConfigError(f"random_search: n must be an int ≥ 1, got {n!r}")
    configs: list[dict] = []
    seen: set = set()
    for i in range(_TRIES * int(n)):
        config = _draw(key, space, i)
        identity = setting_key(config.items())
        if identity not in seen:
            seen.add(identity)
            configs.append(config)
            if len(configs) == n:
                return configs
    raise ConfigError(
        f"random_search: {_TRIES * n} draws from the space gave {len(configs)} distinct configs, fewer than n={n}: "
        f"the space has too few (its dimensions are all discrete); lower n or widen the space"
    )
