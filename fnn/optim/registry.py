"""Optimizers by name: :data:`OPTIMIZERS` and :func:`get`, for the command line and the estimators."""

from __future__ import annotations

import inspect
from types import MappingProxyType
from typing import Any

from fnn.errors import ConfigError
from fnn.optim.adam import adam, adamax, adamw, nadam
from fnn.optim.adaptive import adadelta, adagrad, rmsprop
from fnn.optim.sgd import momentum, nesterov, sgd

__all__ = ["OPTIMIZERS", "get"]

OPTIMIZERS = MappingProxyType(
    {
        "sgd": sgd,
        "momentum": momentum,
        "nesterov": nesterov,
        "adagrad": adagrad,
        "rmsprop": rmsprop,
        "adadelta": adadelta,
        "adam": adam,
        "adamax": adamax,
        "nadam": nadam,
        "adamw": adamw,
    }
)
"""Read-only mapping from an optimizer's name to its factory (``OPTIMIZERS["adam"] is fnn.optim.adam``)."""


def get(name: str, **hyper: Any) -> Any:
    """The optimizer called ``name`` (case-insensitive), built with the hyperparameters ``hyper``.

    Args:
        name: a key of :data:`OPTIMIZERS`.
        **hyper: keyword arguments of that factory (``lr=...``, ...).

    Returns:
        The optimizer.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones), an unknown or
            missing hyperparameter (the message lists the factory's), or a value out of range.

    >>> from fnn import optim
    >>> optim.get("adam", lr=0.01) == optim.adam(lr=0.01)
    True
    >>> optim.get("adamm")
    Traceback (most recent call last):
    fnn.errors.ConfigError: unknown optimizer 'adamm'; expected one of: adadelta, adagrad, adam,
    adamax, adamw, momentum, nadam, nesterov, rmsprop, sgd
    """
    key = name.lower() if isinstance(name, str) else name
    factory = OPTIMIZERS.get(key) if isinstance(key, str) else None
    if factory is None:
        raise ConfigError(f"unknown optimizer {name!r}; expected one of: {', '.join(sorted(OPTIMIZERS))}")
    signature = inspect.signature(factory)
    try:
        signature.bind(**hyper)
    except TypeError as e:
        params = ", ".join(
            f"{p.name}" if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
            for p in signature.parameters.values()
        )
        raise ConfigError(f"optimizer {key!r}: {e}; its hyperparameters are: {params}") from None
    return factory(**hyper)
