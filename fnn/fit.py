"""``fit``: epochs of :func:`fnn.train_epoch`, validation, metrics, early stopping, callbacks, progress.

History is data: a dict of 1-D arrays with one entry per epoch run by the call —
``loss`` (the mean batch loss during the epoch), ``val_loss``, each metric and
``val_<metric>`` (measured on the whole set after the epoch, in inference mode),
and ``time`` (seconds). Early stopping is state kept by the loop, not a callback
(see :mod:`fnn.early_stopping`): its best params are restored however the loop ends (patience, a callback, the
last epoch, or an error, whose ``.state`` then carries them).

With ``checkpoint=DIR`` or ``resume=DIR`` the loop's whole state (the TrainState,
epochs done, history, early-stopping state, and the position inside the epoch)
is saved as it goes, and a run killed at any moment continues bit for bit: see
:mod:`fnn.resume`.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import attrs
import numpy as np

from fnn import io, random
from fnn import resume as resume_module
from fnn._checks import boolean, integer, is_boolean, is_real
from fnn.data import split_indices
from fnn.early_stopping import EarlyStopping, start_watch
from fnn.errors import ConfigError, FnnWarning, NonFiniteError, ShapeError
from fnn.evaluation import check_metrics, metric_functions, scores
from fnn.losses import Loss
from fnn.network import check_inputs, sample_out_shape
from fnn.optim.plateau import ReduceLROnPlateau
from fnn.train import (
    REQUIRED,
    TrainState,
    _check_batch_size,
    _params_finite,
    _prepare,
    _Problem,
    _run_epoch,
    check_call,
    value_text,
)

__all__ = ["fit", "EarlyStopping"]


def _validation_split(
    validation: Any, problem: _Problem, params: Any, split_key: random.Key, where: str
) -> tuple[_Problem, tuple[np.ndarray, Any] | None]:
    """The training problem restricted to its training rows, and the validation (x, y) or None."""
    if validation is None:
        return problem, None
    if isinstance(validation, (tuple, list)):
        if len(validation) != 2:
            raise ShapeError(
                f"{where}: validation must be a fraction or a pair (x_val, y_val), got {len(validation)} items"
            )
        x_val = check_inputs(params, validation[0], f"{where} (validation x)")
        y_val = validation[1]
        if len(y_val) != x_val.shape[0]:
            raise ShapeError(
                f"{where}: x_val and y_val must have the same number of rows, got {x_val.shape[0]} and {len(y_val)}"
            )
        if isinstance(problem.loss, Loss):
            y_val = problem.loss.targets(y_val, (x_val.shape[0], *sample_out_shape(params)), params.dtype)
            if np.ndim(y_val) != np.ndim(problem.y):
                raise ShapeError(
                    f"{where}: y_val has shape {np.shape(validation[1])}, "
                    f"unlike the training targets {np.shape(problem.y)}"
                )
        return problem, (x_val, y_val)
    if not is_real(validation) or not 0 < validation < 1:
        raise ConfigError(
            f"{where}: validation must be None, a fraction in (0, 1) or (x_val, y_val), got {validation!r}"
        )
    y = problem.y  # integer labels and one-hot targets stratify; anything else splits plainly
    train_idx, val_idx = split_indices(split_key, problem.x.shape[0], float(validation), labels=y)
    weights = None if problem.weights is None else np.take(problem.weights, train_idx, axis=0)
    train = attrs.evolve(problem, x=problem.x[train_idx], y=np.take(y, train_idx, axis=0), weights=weights)
    return train, (problem.x[val_idx], np.take(y, val_idx, axis=0))


def _evaluate(state: TrainState, x: np.ndarray, y: Any, problem: _Problem, metric_fns: dict, prefix: str) -> dict:
    """Loss (with a prefix: the training loss is the epoch's) and metrics on (x, y): floats, or (K,) arrays for a
    stack."""
    return scores(state.params, x, y, problem.loss, problem.l2, metric_fns, prefix, with_loss=bool(prefix), where="fit")


def _progress(verbose: int, steps: int, epoch: int, epochs: int, done: int = 0) -> Any:
    if verbose != 1 or not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=steps, initial=done, desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch")


def _line(epoch: int, epochs: int, logs: dict) -> str:
    parts = [f"epoch {epoch}/{epochs}"]
    parts += [f"{k} {value_text(v)}" for k, v in logs.items() if k != "time"]
    parts.append(f"{logs['time']:.2f}s")
    return "  ".join(parts)


def _check_callback_result(result: Any, callback: Callable) -> bool:
    if result is None or is_boolean(result):
        return bool(result)
    raise ConfigError(f"callback {callback!r} returned {result!r}; return True to stop training, or None/False")


def _say(verbose: int, level: int, text: str) -> None:
    """An event line (early stopping, resume, a checkpoint) when ``verbose`` is at least ``level``."""
    if verbose >= level:
        print(f"fit: {text}", flush=True)


def _plateau_inside(optimizer: Any, depth: int = 0) -> bool:
    """Whether a ReduceLROnPlateau sits inside ``optimizer`` (where fit cannot tell it the epochs' logs)."""
    if depth > 20 or not attrs.has(type(optimizer)):
        return False
    for f in attrs.fields(type(optimizer)):
        child = getattr(optimizer, f.name)
        for part in child if isinstance(child, tuple) else (child,):
            if isinstance(part, ReduceLROnPlateau) or _plateau_inside(part, depth + 1):
                return True
    return False


def _check_plateau(optimizer: Any, keys: set, where: str) -> ReduceLROnPlateau | None:
    if isinstance(optimizer, ReduceLROnPlateau):
        if optimizer.monitor not in keys:
            raise ConfigError(
                f"{where}: ReduceLROnPlateau monitors {optimizer.monitor!r}; the history will have {sorted(keys)}"
            )
        return optimizer
    if _plateau_inside(optimizer):
        raise ConfigError(
            f"{where}: a ReduceLROnPlateau inside another optimizer ({type(optimizer).__name__}) never hears of the "
            f"epochs: make it the outermost, e.g. ReduceLROnPlateau(fnn.optim.chain(..., adam))"
        )
    return None


def _plateau_news(plateau: ReduceLROnPlateau, before: Any, after: Any, epoch: int) -> str:
    """The line saying that ReduceLROnPlateau lowered the rate this epoch (of which members, in a stack), or ''."""
    old, new = np.atleast_1d(before.scale), np.atleast_1d(after.scale)
    if old.shape != new.shape:  # a stack's first epoch: every member starts at the one-network scale
        old = np.broadcast_to(old, new.shape)
    lowered = np.flatnonzero(new < old)
    if lowered.size == 0:
        return ""
    rate = plateau.rate(after)
    whose = (
        f" of member{'s' * (lowered.size > 1)} {', '.join(map(str, lowered))}" if isinstance(after.scale, tuple) else ""
    )
    to = "" if rate is None else ", to " + ", ".join(f"{r:.4g}" for r in np.atleast_1d(rate)[lowered])
    return (
        f"epoch {epoch}: {plateau.monitor} has not improved for {plateau.patience} epochs; ReduceLROnPlateau "
        f"multiplies the learning rate{whose} by {plateau.factor:g}{to}"
    )


def _history_keys(metric_fns: dict, validation: bool, plateau: bool) -> set:
    keys = {"loss", *metric_fns}
    if validation:
        keys |= {"val_" + k for k in keys}
    return keys | {"time"} | ({"lr"} if plateau else set())


def _stopping_news(rule: EarlyStopping, before: Any, after: Any, epoch: int) -> str | None:
    """What early stopping did this epoch, in words, or None."""
    if getattr(after, "stopped", None) is None:  # one network
        if not after.stop(rule):
            return None
        text = (
            f"early stopping at epoch {epoch}: {rule.monitor} has not improved on {after.best:.4g} (epoch "
            f"{after.best_epoch}) for {after.wait} epochs"
        )
        if not rule.restore_best:
            return text + "; keeping the last epoch's params (restore_best=False)"
        return text + f"; restoring the params of epoch {after.best_epoch}"
    new = np.flatnonzero(after.stopped & ~before.stopped)
    if not new.size:
        return None
    s = "s" if new.size > 1 else ""
    text = (
        f"early stopping member{s} {new.tolist()} at epoch {epoch} (best {rule.monitor} at "
        f"epoch{s} {after.best_epoch[new].tolist()})"
    )
    if after.stopped.all():
        text += f"; all {after.stopped.size} members have stopped"
        if rule.restore_best:
            text += f"; restoring each member's best params (epochs {after.best_epoch.tolist()})"
    return text


def _restore_news(rule: EarlyStopping | None, watch: Any, epoch: int, stopped: bool) -> str | None:
    """Whether restore_best changes the params of a run that was not stopped by early stopping, in words."""
    if rule is None or not rule.restore_best or stopped:
        return None
    if getattr(watch, "stopped", None) is None:
        if watch.best_epoch in (-1, epoch):
            return None
        return (
            f"restoring the params of epoch {watch.best_epoch}, the best {rule.monitor} ({watch.best:.4g}); "
            f"the last epoch was {epoch}"
        )
    if np.all((watch.best_epoch == epoch) | (watch.best_epoch < 0)):
        return None
    return f"restoring each member's best params (epochs {watch.best_epoch.tolist()}, best {rule.monitor})"


def fit(
    state: TrainState,
    data: tuple[Any, Any],
    *extra: Any,
    epochs: int = REQUIRED,
    batch_size: int = REQUIRED,
    loss: Any = REQUIRED,
    l2: float = 0.0,
    validation: Any = None,
    metrics: Sequence[str] | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callable] = (),
    verbose: int = 1,
    split_key: random.Key = random.key(0),
    shuffle: bool = True,
    drop_last: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | str | None = None,
    resume: str | os.PathLike | None = None,
    sample_weight: Any = None,
    class_weight: Any = None,
) -> tuple[TrainState, dict[str, np.ndarray]]:
    """Train for ``epochs`` epochs of :func:`fnn.train_epoch`; return the state and the history.

    Args:
        state: from :meth:`fnn.TrainState.create` (or a previous ``fit``: training continues).
        data: ``(x, y)``, one pair (``fit(state, x, y)`` is refused with a message saying so).
        epochs: how many epochs this call runs; with ``checkpoint`` or ``resume``, the total
            of the run (a resumed run at epoch 3 of ``epochs=5`` runs 2 more). A resumed call that
            trains no epoch because the run already has them, given a state that has trained
            (so probably meant as "N more"), warns with :class:`fnn.errors.FnnWarning`.
        batch_size: rows per mini-batch (1 ≤ batch_size ≤ training rows).
        loss: a loss name, ``fnn.losses`` object or custom callable.
        l2: weight penalty (see :func:`fnn.value_and_grad`).
        validation: None; a fraction in (0, 1) held out from ``data`` with ``split_key``
            (stratified by class for integer labels; the same rows in every call); or ``(x_val, y_val)``.
        metrics: metric names (see :mod:`fnn.metrics`); by default ``("accuracy",)`` for the
            cross-entropy losses and none otherwise.
        early_stopping: an :class:`EarlyStopping`, or None.
        callbacks: functions ``(epoch, state, logs) -> None | bool`` called after each epoch
            (``epoch`` counts from 1 over the whole run; an epoch whose checkpoint a kill
            prevented is run again on resume, callbacks included); returning True stops training.
        verbose: 0 silent; 1 one line per epoch plus a progress bar on a terminal (if tqdm is
            installed), and a line for each event: early stopping (when it stops and which
            epoch's params it restores), a resume (from which checkpoint, epoch and step), a
            learning-rate reduction; 2 one line per epoch, the events, and each checkpoint written.
        split_key: the key of the validation split (never the training key).
        shuffle, drop_last: as in :func:`fnn.batches`.
        checkpoint: a directory to write checkpoints into (created if needed; it must hold no
            checkpoints yet): one at the start, then every ``checkpoint_every``, and one at the end.
            The call holds the directory's lock throughout: one live run per directory (see :mod:`fnn.resume`).
        checkpoint_every: an integer (after every step whose count is a multiple of it), or
            ``"epoch"`` (after every epoch; the default).
        resume: a checkpoint directory: continue the run from its newest checkpoint, ignoring
            ``state`` (but checking that its key, optimizer and params structure are the run's),
            or start from ``state`` when it holds none yet; either way keep checkpointing into
            it. So the same call serves the first start and every restart. See :mod:`fnn.resume`.
        sample_weight: None, or one weight ≥ 0 per row of ``data``: each training batch's loss
            is the weighted mean of its rows (see :mod:`fnn.losses`); the rows a ``validation``
            fraction holds out leave with their weights. Validation losses and metrics are unweighted.
        class_weight: None, a dict ``{class: weight}`` (classes left out weigh 1), or
            ``"balanced"`` (n / (classes · count) over ``data``, scikit-learn's rule); multiplies
            ``sample_weight``. Needs class labels or one-hot targets.

    Returns:
        ``(state, history)``; history maps ``loss``, ``val_loss``, metric names, ``val_``
        metric names and ``time`` to arrays of one value per epoch (of the whole run when
        resuming). For a stack of K networks (see :func:`fnn.stack`) every entry but ``time``
        is (epochs, K); early stopping watches each member on its own, a stopped member's
        entries are NaN from the next epoch on (it keeps being stepped with the others,
        unrecorded), training ends when all have stopped, and ``restore_best`` gives each
        member its best params (with the last epoch's optimizer state and step). A run
        killed at any moment (SIGKILL included) and resumed returns params, optimizer state
        and history bitwise equal to an uninterrupted run's, except ``time``, which is
        wall-clock (for an epoch cut by the kill, the time since the restart).

    Raises:
        NonFiniteError: the loss became NaN or infinite, or an update made the params so (the
            epoch's last, whose NaN no later loss shows, is caught at the epoch's end: no
            history entry and no checkpoint holds it). Its ``.state`` is the last state with
            finite params (the best one, with early stopping and ``restore_best``) and its
            ``.history`` the epochs completed. Any other error raised inside the loop
            (a KeyboardInterrupt too) carries the same two attributes. Also raised before
            training when the given state, or the newest checkpoint of ``resume``, holds NaN
            or infinity.
        ConfigError: a bad argument; with ``resume``, a setting or data set that differs from
            the run's (the message names it); with ``checkpoint``, a directory holding checkpoints;
            with either, a directory another live run holds (the message names its process id).
        FormatError: the newest checkpoint in ``resume`` cannot be loaded.

    >>> import tempfile, numpy as np, fnn
    >>> x = fnn.random.normal(fnn.random.key(0), (200, 2)).astype(np.float32)
    >>> y = (x[:, 0] * x[:, 1] > 0).astype(int)
    >>> params = fnn.init(fnn.random.key(1), fnn.mlp([2, 16, 2]))
    >>> s = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(2))
    >>> kw = dict(batch_size=32, loss="cross_entropy", validation=0.2, verbose=0)
    >>> s5, h = fnn.fit(s, (x, y), epochs=5, **kw)
    >>> sorted(h), h["loss"].shape
    (['accuracy', 'loss', 'time', 'val_accuracy', 'val_loss'], (5,))
    >>> with tempfile.TemporaryDirectory() as run:       # stopped after 2 epochs, then resumed
    ...     _ = fnn.fit(s, (x, y), epochs=2, resume=run, **kw)
    ...     r5, rh = fnn.fit(s, (x, y), epochs=5, resume=run, **kw)
    >>> fnn.tree.equal(r5, s5), np.array_equal(rh["val_loss"], h["val_loss"])
    (True, True)
    """
    where = "fit"
    check_call(where, extra, epochs=epochs, batch_size=batch_size, loss=loss)
    problem = _prepare(state, data, loss, l2, where, sample_weight, class_weight)
    epochs = integer(epochs, "fit: epochs", minimum=0)
    shuffle, drop_last = boolean(shuffle, "fit: shuffle"), boolean(drop_last, "fit: drop_last")
    if verbose not in (0, 1, 2):
        raise ConfigError(f"fit: verbose must be 0, 1 or 2, got {verbose!r}")
    if not isinstance(split_key, random.Key):
        raise ConfigError(f"fit: split_key must be an fnn.random.Key, got {type(split_key).__name__}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise ConfigError(f"fit: early_stopping must be an fnn.EarlyStopping or None, got {early_stopping!r}")
    if callable(callbacks) or not isinstance(callbacks, Iterable) or isinstance(callbacks, (str, bytes)):
        raise ConfigError(
            f"fit: callbacks must be a list of callables (epoch, state, logs), got {callbacks!r:.80}"
            + (f" (for one, pass callbacks=[{getattr(callbacks, '__name__', 'fn')}])" if callable(callbacks) else "")
        )
    callbacks = tuple(callbacks)
    for cb in callbacks:
        if not callable(cb):
            raise ConfigError(f"fit: callbacks must be callables (epoch, state, logs), got {cb!r}")
    directory, resuming, every = resume_module._directory_of(checkpoint, resume, checkpoint_every, where)
    metric_fns = metric_functions(metrics, problem.loss, where)
    whole = problem
    problem, val = _validation_split(validation, problem, state.params, split_key, where)
    held_out = ""
    if val is not None and not isinstance(validation, (tuple, list)):
        held_out = f": {whole.x.shape[0]} rows less the {val[0].shape[0]} that validation={validation!r} holds out"
    batch_size = _check_batch_size(batch_size, problem.x.shape[0], held_out)
    if early_stopping is not None and early_stopping.monitor.startswith("val_") and val is None:
        raise ConfigError(f"fit: early stopping monitors {early_stopping.monitor!r} but no validation data was given")
    plateau_watching = isinstance(state.optimizer, ReduceLROnPlateau)
    if plateau_watching and state.optimizer.monitor.startswith("val_") and val is None:
        raise ConfigError(
            f"fit: ReduceLROnPlateau monitors {state.optimizer.monitor!r} but no validation data was given"
        )
    keys = _history_keys(metric_fns, val is not None, plateau_watching)
    plateau = _check_plateau(state.optimizer, keys, where)
    if early_stopping is not None and early_stopping.monitor not in keys:
        raise ConfigError(
            f"fit: early stopping monitors {early_stopping.monitor!r}; the history will have {sorted(keys)}"
        )
    check_metrics(metric_fns, state.params, problem.x, problem.y, where)  # a user's metric fails now, not an epoch on
    say = partial(_say, verbose)
    steps = math.ceil(problem.x.shape[0] / batch_size) if not drop_last else problem.x.shape[0] // batch_size

    history: dict[str, list] = {}
    watch, done, losses, stop, saver, lock = start_watch(state.params), 0, [], False, None, None
    if directory is None:
        _check_finite_start(state, where)
    else:
        pair = isinstance(validation, (tuple, list))
        settings = resume_module.settings(
            (whole.x, whole.y),
            None if pair else validation,
            val if pair else None,
            split_key=split_key,
            batch_size=batch_size,
            shuffle=bool(shuffle),
            drop_last=bool(drop_last),
            loss=problem.loss,
            l2=problem.l2,
            metrics=tuple(metric_fns),
            early_stopping=early_stopping,
            weights=whole.weights,
        )
        saver = resume_module._Saver(directory, every, settings)
        lock = resume_module._lock(directory, where)  # held until fit returns or raises (see fnn.resume)
        try:
            if not resuming:
                resume_module._refuse_to_mix(directory, where)
            newest = resume_module._newest(directory) if resuming else None
            if newest is None:
                _check_finite_start(state, where)
                saver = attrs.evolve(saver, start=state.step)
                path = saver.save(state, history, watch, 0)  # at once: an unsaveable state fails before any training
                say(2, f"checkpoint {path} (the start, step {state.step})")
            else:
                path, found = newest
                _check_finite_start(found.state, where, path)
                resume_module._check_same_run(found, state, settings, epochs, where, directory, steps, path)
                saver = attrs.evolve(saver, start=found.start)
                given = state
                state, watch, done, losses, stop = found.state, found.watch, found.epoch, found.losses(), found.stopped
                history = {k: list(v) for k, v in found.history.items()}
                _resume_news(say, directory, path, found, epochs, steps, given)
        except BaseException:
            resume_module._unlock(lock)
            raise
    try:
        epoch = done
        while epoch < epochs and not stop:
            epoch += 1
            start = time.perf_counter()
            bar = _progress(verbose, math.ceil(problem.x.shape[0] / batch_size), epoch, epochs, len(losses))
            hook = None
            if saver is not None and saver.every:
                hook = partial(_mid_epoch_checkpoint, saver, say, steps, history, watch, epoch - 1)
            try:
                state, m = _run_epoch(
                    state,
                    problem,
                    batch_size,
                    bool(shuffle),
                    bool(drop_last),
                    bar,
                    position=len(losses),
                    losses=losses,
                    every=every,
                    hook=hook,
                )
            finally:
                if bar is not None:
                    bar.close()
            losses = []
            logs = {"loss": m["loss"]}
            logs.update(_evaluate(state, problem.x, problem.y, problem, metric_fns, ""))
            if val is not None:
                logs.update(_evaluate(state, val[0], val[1], problem, metric_fns, "val_"))
            logs = watch.mask(logs)
            if plateau is not None and plateau.rate(state.opt_state) is not None:
                logs["lr"] = plateau.rate(state.opt_state)  # the rate this epoch's steps used
                members = getattr(state.params, "members", None)
                if members is not None:  # before a stack's first epoch its members share the starting rate
                    logs["lr"] = np.broadcast_to(logs["lr"], (members,)).copy()
            logs["time"] = time.perf_counter() - start
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
            if verbose:
                print(_line(epoch, epochs, logs), flush=True)
            if early_stopping is not None:
                if early_stopping.monitor not in logs:
                    raise ConfigError(
                        f"fit: early stopping monitors {early_stopping.monitor!r}; history has {sorted(logs)}"
                    )
                before, watch = watch, watch.update(early_stopping, logs[early_stopping.monitor], epoch, state)
                stop = watch.stop(early_stopping)
                news = _stopping_news(early_stopping, before, watch, epoch)
                if news:
                    say(1, news)
            if plateau is not None:
                observed = plateau.observe(state.opt_state, logs, params=state.params)
                news = _plateau_news(plateau, state.opt_state, observed, epoch)
                if news:
                    say(1, news)
                state = attrs.evolve(state, opt_state=observed)
            for cb in callbacks:
                asked = _check_callback_result(cb(epoch, state, dict(logs)), cb)
                if asked and not stop:
                    say(1, f"stopped at epoch {epoch} by the callback {getattr(cb, '__name__', cb)!r}")
                stop = asked or stop
            if saver is not None and (not saver.every or stop or epoch == epochs):
                path = saver.save(state, history, watch, epoch, stopped=stop)
                say(2, f"checkpoint {path} (epoch {epoch}, step {state.step})")
        stopped_early = stop and early_stopping is not None and watch.stop(early_stopping)
        news = _restore_news(early_stopping, watch, epoch, stopped_early)
        if news:
            say(1, news)
    except BaseException as error:
        good = getattr(error, "state", None) or state
        # any exception (Ctrl-C too) carries the state and history out
        error.state = _restore(early_stopping, watch, good)  # type: ignore[attr-defined]
        error.history = _as_arrays(history)  # type: ignore[attr-defined]
        raise
    finally:
        resume_module._unlock(lock)
    return _restore(early_stopping, watch, state), _as_arrays(history)


def _check_finite_start(state: TrainState, where: str, path: Any = None) -> None:
    """NonFiniteError for a run that would start from params holding NaN or infinity (once a call: one pass)."""
    if _params_finite(state):
        return
    if path is None:
        error = NonFiniteError(
            f"{where}: the given state's params hold NaN or infinity (step {state.step}): nothing finite to train from"
        )
    else:
        older = [p.name for _, p in io.list_checkpoints(path.parent) if p != path]
        back = f"delete it to resume from {older[-1]}" if older else "no older checkpoint is left"
        error = NonFiniteError(
            f"{where}: the newest checkpoint {path} holds params with NaN or infinity (step "
            f"{state.step}; a run of an fnn that did not check them yet): {back}"
        )
    error.state = state
    raise error


def _resume_news(
    say: Callable, directory: Any, path: Any, found: Any, epochs: int, steps: int, given: TrainState
) -> None:
    """Say where a resumed run continues, and warn when it trains nothing although more was probably meant."""
    place = os.fspath(directory)
    if found.stopped:
        say(
            1,
            f"the run in {place} stopped early at epoch {found.epoch} (early stopping or a callback); nothing to train",
        )
        return
    if found.epoch >= epochs:
        message = (
            f"the run in {place} has done its {epochs} epochs: with resume=, epochs counts the run's epochs, "
            f"not this call's, so this call trains none; pass epochs={found.epoch + epochs} for {epochs} more"
        )
        say(1, message)
        if given.step > 0:  # a trained state: probably a script that added resume= to a second fit call
            warnings.warn(f"fit(resume={place!r}): {message}", FnnWarning, stacklevel=3)
        return
    where = f", and {found.position} of {steps} batches of epoch {found.epoch + 1}" if found.position else ""
    say(
        1,
        f"resuming the run in {place} from {os.path.basename(path)}: {found.epoch} of {epochs} epochs done"
        f"{where} (step {found.state.step})",
    )


def _mid_epoch_checkpoint(
    saver: Any, say: Callable, steps: int, history: dict, watch: Any, epoch: int, state: TrainState, losses: Any
) -> None:
    path = saver.mid_epoch(history, watch, epoch, state, losses)
    say(2, f"checkpoint {path} (step {state.step}: {len(losses)} of {steps} batches of epoch {epoch + 1})")


def _restore(rule: EarlyStopping | None, watch: Any, state: TrainState) -> TrainState:
    if rule is None or not rule.restore_best:
        return state
    return watch.restored(state)


def _as_arrays(history: dict[str, list]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in history.items()}
