"""Exceptions raised for user errors.

Every error fnn raises on bad input is an :class:`FnnError`, and also the
built-in exception a Python user would expect (``ValueError``, ``TypeError``,
``FloatingPointError``), so ``except ValueError`` keeps working. Messages say
what was expected, what was given, and where (the layer, argument or tree path).

>>> import fnn
>>> try:
...     fnn.Dropout(1.5)
... except fnn.errors.ConfigError as e:
...     print(type(e).__mro__[1:3])
(<class 'fnn.errors.FnnError'>, <class 'ValueError'>)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FnnError",
    "ShapeError",
    "ConfigError",
    "DtypeError",
    "FormatError",
    "NonFiniteError",
    "SweepError",
    "FnnWarning",
]


class FnnError(Exception):
    """Base class of every error fnn raises for bad input."""


class ShapeError(FnnError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class ConfigError(FnnError, ValueError):
    """A setting is invalid: an unknown name, a value out of range, a wrong type of option."""


class DtypeError(FnnError, TypeError):
    """An array or tree has a dtype fnn cannot use here (e.g. mixed float dtypes in one tree)."""


class FormatError(FnnError, ValueError):
    """A file is not a valid fnn file (truncated, corrupted, foreign or too new)."""


class NonFiniteError(FnnError, FloatingPointError):
    """A NaN or infinity appeared where finite numbers are required."""

    # Set by the training loops that raise it: the last state with finite params (and fit's history).
    state: Any
    history: Any


class SweepError(FnnError, RuntimeError):
    """A sweep's ``run`` raised for one (config, seed): ``.config`` and ``.seed`` say which.

    The original exception is the ``__cause__``.
    """

    # Set where it is raised: the pair that failed (None when the sweep itself stopped) and the rows done.
    config: dict[str, Any] | None
    seed: int | None
    rows: list[dict[str, Any]]


class FnnWarning(UserWarning):
    """Something fnn did that may not be what was meant, said rather than left silent (e.g. a resumed
    run that trains no epoch because ``epochs`` counts the run's, not the call's)."""
