"""Optimizers by name: :data:`OPTIMIZERS` and :func:`get`, for the command line and the estimators."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from fnn.errors import ConfigError
from fnn.optim.adam import adam, adamax, adamw, nadam
from fnn.optim.adaptive import adadelta, adagrad, rmsprop
from fnn.optim.sgd import momentum, nesterov, sgd

__all__ = ["OPTIMIZERS", "get", "check_optimizer"]

OPTIMIZERS: Mapping[str, Callable[..., Any]] = MappingProxyType(
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


def check_optimizer(obj: Any, where: str) -> Any:
    """``obj``, unless it is one of the slips that look like an optimizer: ConfigError saying what to pass.

    A name (Keras's ``optimizer="adam"``), a factory not called (``fnn.optim.adam`` without
    ``(...)``, which :func:`fnn.optim.from_update` would otherwise take for a tutorial's
    ``update(old, grad)`` function) or a class.

    >>> from fnn import optim
    >>> optim.check_optimizer(optim.adam, "TrainState.create")
    Traceback (most recent call last):
    fnn.errors.ConfigError: TrainState.create: optimizer is the function fnn.optim.adam, which makes an
    optimizer: call it, e.g. fnn.optim.adam(lr=1e-3)
    """
    if isinstance(obj, str):
        key = obj.lower()
        example = (
            f"fnn.optim.{key}(lr=1e-3) or fnn.optim.get({obj!r}, lr=1e-3)"
            if key in OPTIMIZERS
            else (f"fnn.optim.adam(lr=1e-3), or one of: {', '.join(sorted(OPTIMIZERS))}")
        )
        raise ConfigError(f"{where}: optimizer is the string {obj!r}, not an optimizer: pass one, e.g. {example}")
    for name, factory in OPTIMIZERS.items():
        if obj is factory:
            raise ConfigError(
                f"{where}: optimizer is the function fnn.optim.{name}, which makes an optimizer: call it, e.g. "
                f"fnn.optim.{name}(lr=1e-3)"
            )
    if isinstance(obj, type) and obj.__module__.startswith("fnn.optim"):
        raise ConfigError(
            f"{where}: optimizer is the class {obj.__module__}.{obj.__name__}, not an optimizer: build one with its "
            f"factory, e.g. fnn.optim.adam(lr=1e-3)"
        )
    return obj


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
    factory: Callable[..., Any] | None = OPTIMIZERS.get(key) if isinstance(key, str) else None
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
