"""Evaluation: the loss and metrics of a network on a data set, as :func:`fnn.fit` records them each epoch.

:func:`evaluate` is Keras's ``model.evaluate``: params (or a TrainState) and ``(x, y)`` in, a
dict of floats out — one value per member, as a (K,) array, for a stack of K networks. It runs
the network once, in inference mode: the loss is computed from the logits where it fuses with
the last activation (the value ``fit`` reports as ``val_loss``), the metrics from the outputs.

The metrics are anything :func:`fnn.metrics.named` takes: fnn's names, scikit-learn's metric
functions or scorer names, a user's function ``(y_true, y_hat) -> float`` or a pair
``(name, function)``. A metric that is not one of fnn's own is tried once on the data before
any training or evaluation (:func:`check_metrics`), so that a metric that raises, or returns
something that is not a number, is an error naming it at once — not after the first epoch.

>>> import numpy as np, fnn
>>> x = fnn.random.normal(fnn.random.key(0), (100, 3))
>>> y = (x[:, 0] > 0).astype(int)
>>> params = fnn.init(fnn.random.key(1), fnn.mlp([3, 8, 2]))
>>> scores = fnn.evaluate(params, (x, y), loss="cross_entropy", metrics=["accuracy", "f1"])
>>> sorted(scores), all(isinstance(v, float) for v in scores.values())
(['accuracy', 'f1', 'loss'], True)
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fnn import metrics as metrics_module
from fnn.backprop import (
    _check_l2,
    _fused_loss,
    _loss_value_and_grad,
    _weighted_mean,
    _with_penalty,
    check_loss_output,
    l2_penalty,
    weighted_targets,
)
from fnn.errors import ConfigError, FnnError
from fnn.layers import SequentialParams, forward
from fnn.layers.sequential import network_input
from fnn.losses import NLL, BinaryCrossEntropy, CrossEntropy, Loss, _as_dtype
from fnn.losses import get as get_loss
from fnn.network import NOT_PARAMS, check_inputs, sample_out_shape
from fnn.train import TrainState, _check_batch_size, _rows

__all__ = ["evaluate", "metric_functions", "check_metrics", "scores"]

_CLASS_LOSSES = (CrossEntropy, BinaryCrossEntropy, NLL)


def metric_functions(metrics: Any, loss: Any, where: str) -> dict[str, Callable]:
    """``{name: metric}`` for ``fit(metrics=...)``: by default ``accuracy`` for the class losses, none otherwise.

    ``metrics`` is a sequence of anything :func:`fnn.metrics.named` takes, or a dict ``{name: function}``.

    Raises:
        ConfigError: a string instead of a sequence, a bad metric, or two metrics of one name.

    >>> import fnn
    >>> from fnn.evaluation import metric_functions
    >>> list(metric_functions(None, fnn.losses.cross_entropy, "fit")), list(metric_functions(["mae"], "mse", "fit"))
    (['accuracy'], ['mae'])
    """
    if metrics is None:
        metrics = ("accuracy",) if isinstance(loss, _CLASS_LOSSES) else ()
    if isinstance(metrics, str):
        raise ConfigError(
            f"{where}: metrics must be a sequence of names, e.g. ('accuracy',), got the string {metrics!r}"
        )
    if isinstance(metrics, Mapping):
        metrics = list(metrics.items())
    if callable(metrics) or not hasattr(metrics, "__iter__"):
        raise ConfigError(
            f"{where}: metrics must be a sequence (e.g. ['accuracy', f1_score]) or a dict, got {metrics!r}"
        )
    found: dict[str, Callable] = {}
    for metric in metrics:
        name, fn = metrics_module.named(metric)
        if name in found:
            raise ConfigError(
                f"{where}: two metrics are named {name!r}; give one another name with a pair ('name', fn)"
            )
        found[name] = fn
    return found


def _is_fnns(fn: Callable) -> bool:
    return any(fn is builtin for builtin in metrics_module.METRICS.values())


def check_metrics(metric_fns: dict[str, Callable], params: SequentialParams, x: np.ndarray, y: Any, where: str) -> None:
    """Call each metric that is not one of fnn's own once on the outputs of ``params`` for ``x`` (member 0's,
    for a stack) against ``y``: ConfigError naming any that raises or does not return a real number.

    Warnings a metric gives on the outputs of an untrained network are not shown.

    >>> import numpy as np, fnn
    >>> from fnn.evaluation import check_metrics
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 2]))
    >>> check_metrics({"verdict": lambda y, p: "good"}, params, np.ones((3, 2)), np.array([0, 1, 1]), "fit")
    Traceback (most recent call last):
    fnn.errors.ConfigError: fit: metric 'verdict' returned 'good' on the training data, before training; a
    metric returns one number (a float)
    """
    own = [name for name, fn in metric_fns.items() if not _is_fnns(fn)]
    if not own:
        return
    y_hat = forward(params, x, None, False)[0]
    sample = y_hat[0] if params.members is not None else y_hat
    for name in own:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. scikit-learn's on a class no untrained row predicts
                value = metric_fns[name](y, sample)
        except FnnError:
            raise
        except Exception as e:
            raise ConfigError(
                f"{where}: metric {name!r} raised {type(e).__name__} on the training data, before training: {e}"
                f"{_hint(name, str(e))}"
            ) from e
        number = isinstance(value, (numbers.Real, np.ndarray)) and not isinstance(value, (bool, np.bool_))
        if not number or np.ndim(value) != 0:
            raise ConfigError(
                f"{where}: metric {name!r} returned {value!r} on the training data, before training; a metric "
                f"returns one number (a float)"
            )


def _hint(name: str, message: str) -> str:
    if "average=" in message and "binary" in message:
        return (
            f"; for more than two classes name an average, e.g. metrics=['{name.removesuffix('_score')}_macro'] "
            f"or functools.partial(sklearn.metrics.{name}, average='macro')"
        )
    if "multi_class" in message:
        return "; for more than two classes use 'roc_auc_ovr' or functools.partial(roc_auc_score, multi_class='ovr')"
    return ""


def _outputs(
    params: SequentialParams, x: np.ndarray, loss: Any, batch_size: int | None
) -> tuple[np.ndarray, Callable | None]:
    """The network's outputs before a last activation the loss fuses with (the logits), and that fused loss.

    Run in chunks of ``batch_size`` rows when given (memory only: each row's numbers are its own).
    """
    fused = _fused_loss(params, loss) if loss is not None else None
    layers = params.layers[:-1] if fused is not None else params.layers
    n = x.shape[0]
    chunks = [x] if batch_size is None or batch_size >= n else [x[i : i + batch_size] for i in range(0, n, batch_size)]
    parts = []
    for chunk in chunks:
        h = network_input(params, chunk)
        for layer in layers:
            h = forward(layer, h, None, False)[0]
        parts.append(h)
    axis = 1 if params.members is not None else 0
    return (parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)), fused


def scores(
    params: SequentialParams,
    x: np.ndarray,
    y: Any,
    loss: Any,
    l2: float,
    metric_fns: dict,
    prefix: str = "",
    *,
    weights: np.ndarray | None = None,
    batch_size: int | None = None,
    with_loss: bool = True,
    where: str = "evaluate",
) -> dict:
    """Loss (``prefix + "loss"``) and metrics of checked ``x`` and converted ``y``: floats, or (K,) arrays for a stack.

    One forward pass: the loss is the value ``fnn.backprop.loss_value`` gives, the metrics see the outputs
    ``fnn.apply`` gives, bit for bit. A metric that raises is named in a ConfigError.
    """
    stacked = params.members is not None
    logs: dict[str, Any] = {}
    if not (with_loss and loss is not None) and not metric_fns:
        return logs
    h, fused = _outputs(params, x, loss if with_loss else None, batch_size)
    if with_loss and loss is not None:
        if fused is None:
            value = _loss_value_and_grad(loss, h, y, False, stacked, weights)[0]
        elif weights is None:
            value = fused(h, y, stacked)[0]
        else:
            fused_rows = _fused_loss(params, loss, rows=True)
            assert fused_rows is not None  # a loss that fuses has a fused_rows
            rows, g = fused_rows(h, y, stacked)
            value = _weighted_mean(rows, g, weights, stacked, loss.class_axis)[0]
        if l2:
            value = _with_penalty(value, l2_penalty(params, l2))
        value = _as_dtype(value, params.dtype)
        logs[prefix + "loss"] = value.astype(np.float64) if stacked else float(value)
    if metric_fns:
        y_hat = forward(params.layers[-1], h, None, False)[0] if fused is not None else h
        for name, fn in metric_fns.items():
            try:
                logs[prefix + name] = np.array([float(fn(y, m)) for m in y_hat]) if stacked else float(fn(y, y_hat))
            except FnnError:
                raise
            except Exception as e:
                hint = _hint(name, str(e))
                raise ConfigError(f"{where}: metric {name!r} raised {type(e).__name__}: {e}{hint}") from e
    return logs


def evaluate(
    params_or_state: Any,
    data: tuple[Any, Any],
    *,
    loss: Any = None,
    metrics: Any = None,
    batch_size: int | None = None,
    l2: float = 0.0,
    sample_weight: Any = None,
) -> dict[str, Any]:
    """The loss and metrics of a network on ``data``: Keras's ``model.evaluate``, as a dict.

    Args:
        params_or_state: params from :func:`fnn.init` (or a stack's), or a :class:`fnn.TrainState`.
        data: ``(x, y)``.
        loss: a loss name, ``fnn.losses`` object or custom callable; None for metrics only.
        metrics: as ``fit(metrics=...)``: names, functions, ``(name, function)`` pairs,
            scikit-learn's metric functions; by default ``accuracy`` for the class losses.
        batch_size: run the network on this many rows at a time (memory only; None: all at once).
        l2: the weight penalty to add to the loss, as ``fit`` adds it.
        sample_weight: one weight ≥ 0 per row: the loss is the weighted mean (metrics are unweighted).

    Returns:
        ``{"loss": value, metric: value, ...}``: floats, or (K,) arrays of one value per member
        for a stack of K networks.

    Raises:
        ConfigError: nothing to evaluate, a loss that cannot take the network's outputs, a bad metric.
        ShapeError: ``x`` or ``y`` that do not fit the network or each other.

    >>> import numpy as np, fnn
    >>> x = fnn.random.normal(fnn.random.key(0), (100, 3))
    >>> y = (x[:, 0] > 0).astype(int)
    >>> stack = fnn.init_many(fnn.random.split(fnn.random.key(1), 4), fnn.mlp([3, 8, 2]))
    >>> {k: v.shape for k, v in fnn.evaluate(stack, (x, y), loss="cross_entropy").items()}
    {'loss': (4,), 'accuracy': (4,)}
    """
    where = "evaluate"
    params = params_or_state.params if isinstance(params_or_state, TrainState) else params_or_state
    if not isinstance(params, SequentialParams):
        raise ConfigError(NOT_PARAMS.format(where=where, given=type(params_or_state).__name__) + " or a TrainState")
    n = _rows(data, where, params)
    x = check_inputs(params, data[0], where)
    if batch_size is not None:
        batch_size = _check_batch_size(batch_size, n)
    l2 = _check_l2(l2)
    if loss is not None:
        loss = get_loss(loss)
        check_loss_output(params, loss, where)
    metric_fns = metric_functions(metrics, loss, where)
    if loss is None and not metric_fns:
        raise ConfigError(f"{where}: nothing to evaluate: pass loss=... (e.g. 'cross_entropy'), metrics=[...], or both")
    y, weights = np.asarray(data[1]), None
    if loss is not None and sample_weight is not None:
        y, weights = weighted_targets(params, n, y, loss, sample_weight, None, where)
    elif isinstance(loss, Loss):
        y = loss.targets(y, (n, *sample_out_shape(params)), params.dtype)
    elif sample_weight is not None:
        raise ConfigError(f"{where}: sample_weight weighs the loss; pass loss=... too")
    return scores(params, x, y, loss, l2, metric_fns, weights=weights, batch_size=batch_size)
