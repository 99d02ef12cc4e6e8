"""Training as a fold: ``TrainState``, ``opt_step``, ``batches``, ``train_epoch`` and ``fit``.

One step is ``grad`` then ``opt_step``; an epoch is ``toolz.reduce`` of that step
over the epoch's mini-batches; ``fit`` runs epochs and records history.

Randomness comes from the state's key, which never changes: the permutation of
an epoch is drawn from ``fold_in(fold_in(key, SHUFFLE), step)`` with the step at
which the epoch starts, and the dropout masks of a step from
``fold_in(fold_in(key, DROPOUT), step)``. So a state alone fixes the rest of a
run: fitting 2 epochs and then 2 more from the returned state gives, bit for
bit, what fitting 4 epochs gives.

>>> import numpy as np, fnn
>>> x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
>>> y = np.array([0, 1, 1, 0])
>>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 8, 2], hidden="tanh"))
>>> state = fnn.TrainState.create(params, fnn.optim.adam(0.05), key=fnn.random.key(1))
>>> state, history = fnn.fit(state, (x, y), epochs=200, batch_size=4, loss="cross_entropy", verbose=0)
>>> fnn.predict(state.params, x).tolist()
[0, 1, 1, 0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, NamedTuple

import attrs
import numpy as np
import toolz

from fnn import optim as _optim
from fnn import random, tree
from fnn._checks import boolean, foreign_array, is_integer
from fnn.backprop import Plan, _check_l2, check_loss_output, value_and_grad_into, weighted_targets
from fnn.errors import ConfigError, NonFiniteError, ShapeError
from fnn.layers import uses_key, writes_every_grad
from fnn.losses import Loss
from fnn.losses import get as get_loss
from fnn.network import _ragged as ragged
from fnn.network import check_inputs, sample_out_shape

__all__ = ["TrainState", "opt_step", "batches", "train_epoch", "detached", "EpochCarry", "SHUFFLE", "DROPOUT"]

SHUFFLE, DROPOUT = 0, 1  # fold_in tags: the two uses of a state's key


class _Required:
    """The default of a keyword ``fit`` and ``train_epoch`` cannot do without: its absence is an fnn error
    that names it and its kind of value, checked after a misplaced positional argument is."""

    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()  # Any: it stands in for a value of any annotated type


def check_call(where: str, extra: tuple, **required: Any) -> None:
    """ConfigError for ``fit(state, x, y)`` (data is one pair) and for a keyword left out (``loss=``, ...)."""
    if extra:
        raise ConfigError(
            f"{where} takes the data as one pair: {where}(state, (x, y), epochs=..., batch_size=..., loss=...), got "
            f"{len(extra)} more positional argument{'s' if len(extra) > 1 else ''} after it (scikit-learn's and "
            f"Keras's fit(x, y) is {where}(state, (x, y)) here)"
        )
    examples = {"epochs": "epochs=10", "batch_size": "batch_size=32", "loss": "loss='cross_entropy' (or 'mse', ...)"}
    missing = [name for name, value in required.items() if value is REQUIRED]
    if missing:
        many = len(missing) > 1
        raise ConfigError(
            f"{where} needs {', '.join(examples[m] for m in missing)}: the keyword{'s' if many else ''} "
            f"{', '.join(missing)} {'were' if many else 'was'} not given"
        )


@tree.register(kind="train_state", packed_children=("params",))
@attrs.frozen
class TrainState:
    """Everything training needs to continue: params, optimizer state, key, step count and optimizer.

    Build it with :meth:`create`. ``params`` and ``opt_state`` are the pytree children;
    ``key``, ``step`` and ``optimizer`` are static.
    """

    params: Any
    opt_state: Any
    key: random.Key = tree.static_field()
    step: int = tree.static_field(default=0)
    optimizer: Any = tree.static_field(default=None)

    @classmethod
    def create(cls, params: Any, optimizer: Any, *, key: random.Key) -> TrainState:
        """A state at step 0: ``optimizer.init`` on the flat params.

        Args:
            params: from :func:`fnn.init`.
            optimizer: an ``fnn.optim`` optimizer, or any object with ``update(old, grad) -> new``
                (the tutorials' interface), adapted by :func:`fnn.optim.from_update`.
            key: the key all training randomness (shuffling, dropout) derives from.

        >>> import fnn
        >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 2]))
        >>> fnn.TrainState.create(p, fnn.optim.sgd(0.1), key=fnn.random.key(1)).step
        0
        """
        if not isinstance(key, random.Key):
            raise ConfigError(
                f"TrainState.create: key must be an fnn.random.Key, e.g. key=fnn.random.key(0), got "
                f"{type(key).__name__}"
            )
        optimizer = _optim.from_update(_optim.check_optimizer(optimizer, "TrainState.create"))
        _check_stack_optimizer(params, optimizer, "TrainState.create")
        flat, _ = tree.ravel(params)
        return cls(params, optimizer.init(flat), key=key, step=0, optimizer=optimizer)


def _mixing_part(obj: Any, seen: int = 0) -> Any:
    """The first part of an optimizer that mixes entries of different members (``elementwise = False``
    without ``per_member = True``), or None."""
    if getattr(type(obj), "elementwise", True) is False and not getattr(type(obj), "per_member", False):
        return obj
    if seen > 20:  # optimizers are shallow; a cycle is not one
        return None
    if attrs.has(type(obj)):
        children = [getattr(obj, f.name) for f in attrs.fields(type(obj))]
    elif isinstance(obj, (tuple, list)):
        children = list(obj)
    else:
        return None
    for child in children:
        found = _mixing_part(child, seen + 1)
        if found is not None:
            return found
    return None


def _check_stack_optimizer(params: Any, optimizer: Any, where: str) -> None:
    if getattr(params, "members", None) is None:
        return
    part = _mixing_part(optimizer)
    if part is not None:
        raise ConfigError(
            f"{where}: {type(part).__name__} acts on the whole flat vector, so in a stack of {params.members} "
            f"networks it would mix the members (one norm for all); "
            f"fnn.optim.clip_by_member_norm(max_norm, params) clips "
            f"each member by its own norm"
        )


def opt_step(state: TrainState, grads: Any) -> TrainState:
    """The state after one optimizer update with ``grads``: ravel (free), update, unravel (views).

    Pure: ``state`` and ``grads`` are unchanged; the new params live in a new, read-only buffer.

    ``grads`` must be laid out as the params are (what :func:`fnn.grad` returns): the same tree
    structure and leaf shapes, not merely the same total size; a flat vector ``g`` is
    ``fnn.tree.ravel(state.params)[1](g)``. A gradient holding NaN or infinity is refused
    rather than applied: the update would make the params non-finite, and no later step could
    undo it. (``fit`` and ``train_epoch`` do not come through here: their steps check the loss,
    which a non-finite gradient's params would show, and the params once an epoch.)

    Raises:
        ShapeError: ``grads`` has another structure, other leaf shapes, another flat size or dtype.
        NonFiniteError: ``grads`` holds NaN or infinity; its ``.state`` is ``state``, unchanged.

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 1], output=None))
    >>> s = fnn.TrainState.create(p, fnn.optim.sgd(0.5), key=fnn.random.key(0))
    >>> g = fnn.grad(p, (np.ones((1, 2)), np.zeros((1, 1))), loss="mse")
    >>> s2 = fnn.opt_step(s, g)
    >>> s2.step, bool(np.allclose(s2.params.layers[0].b, p.layers[0].b - 0.5 * g.layers[0].b))
    (1, True)
    """
    if not isinstance(state, TrainState):
        raise ConfigError(
            f"opt_step expects a TrainState (fnn.TrainState.create(params, opt, key=...)) and grads, got "
            f"{type(state).__name__} as the state"
        )
    flat, unravel = tree.ravel(state.params)
    gflat, gunravel = tree.ravel(grads)
    if gflat.shape != flat.shape or gflat.dtype != flat.dtype:
        raise ShapeError(
            f"opt_step: grads ravel to {gflat.shape} {gflat.dtype} but params to {flat.shape} {flat.dtype}"
        )
    if gunravel.structure != unravel.structure or gunravel.shapes != unravel.shapes:  # tuples: compared in C
        _wrong_layout(gunravel, unravel)
    if not np.isfinite(gflat).all():  # no warning, whatever np.errstate says (a sum or dot would overflow)
        bad = np.flatnonzero(~np.isfinite(gflat))
        error = NonFiniteError(
            f"opt_step: grads hold NaN or infinity ({bad.size} of {gflat.size} values, the first at flat index "
            f"{bad[0]}); not applied: .state is the state given, unchanged"
        )
        error.state = state
        raise error
    return _apply_update(state, flat, gflat, unravel, _new_model_state(grads, unravel))[0]


def _wrong_layout(got: tree._Unravel, expected: tree._Unravel) -> None:
    if got.structure != expected.structure:
        raise ShapeError(
            f"opt_step: grads have another tree structure than the params, with the same total size: expected "
            f"{expected.structure!r}, got {got.structure!r} (grads from fnn.grad(state.params, ...) have the params' "
            f"structure; a flat vector g goes in as fnn.tree.ravel(state.params)[1](g))"
        )
    raise ShapeError(
        f"opt_step: grads have the params' structure but other leaf shapes: expected {expected.shapes}, "
        f"got {got.shapes}"
    )


def _new_model_state(grads: Any, unravel: tree._Unravel) -> np.ndarray | None:
    """The params' next state leaves (BatchNorm's running statistics): the gradient's state leaves,
    where the layers wrote the state the batch leads to; None for params without state."""
    if not unravel.mask:
        return None
    gstate = tree.ravel_state(grads)
    if gstate.shape != (unravel.state_size,):
        raise ShapeError(f"opt_step: grads hold {gstate.size} state values but params {unravel.state_size}")
    if gstate.flags.writeable:  # not from fnn.grad: own a read-only copy
        gstate = gstate.copy()
        gstate.flags.writeable = False
    return gstate


def _apply_update(
    state: TrainState,
    flat: np.ndarray,
    gflat: np.ndarray,
    unravel: tree._Unravel,
    model_state: np.ndarray | None = None,
) -> tuple[TrainState, np.ndarray]:
    """The next state and its flat params (read-only).

    ``model_state``: the next state leaves, if the params have any."""
    new, opt_state = state.optimizer.update(flat, gflat, state.opt_state)
    if new.flags.writeable or new.base is None:
        new = tree.sealed(new)  # read-only for good: no .base of a view of it can be made writeable
    params = unravel(new) if model_state is None else unravel(new, model_state)
    return TrainState(params, opt_state, key=state.key, step=state.step + 1, optimizer=state.optimizer), new


# ------------------------------------------------------------------ batches


def _check_batch_size(batch_size: Any, n: int, held_out: str = "") -> int:
    """``batch_size`` if it is an integer in [1, n]; ``held_out`` says why there are n training rows (validation)."""
    if not is_integer(batch_size):
        got = f"{batch_size!r} ({type(batch_size).__name__})"
        raise ConfigError(f"batch_size must be an integer in [1, {n}], got {got}")
    if not 1 <= batch_size <= n:
        rows = f"the number of training rows{held_out}"
        advice = (
            f"; pass batch_size={n} for one batch per epoch (fnn does not shrink it to fit, as Keras does)"
            if batch_size > n
            else ""
        )
        raise ConfigError(f"batch_size must be in [1, {n}] ({rows}), got {batch_size}{advice}")
    return int(batch_size)


def _rows(data: Any, where: str = "batches", params: Any = None) -> int:
    """The number of rows of ``data``, a pair (x, y) of one row per sample each; ShapeError naming what is wrong."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        got = f"a {type(data).__name__}" + (f" of {len(data)} items" if isinstance(data, (tuple, list)) else "")
        raise ShapeError(f"{where}: data must be a pair (x, y), e.g. {where}(state, (x, y), ...), got {got}")
    for i, (name, a) in enumerate((("x", data[0]), ("y", data[1]))):
        foreign_array(a, f"{where}: data[{i}] ({name})")
        if a is None or isinstance(a, (str, bytes)) or not hasattr(a, "__len__"):
            raise ShapeError(f"{where}: data[{i}] ({name}) must be an array with one row per sample, got {a!r:.80}")
        try:
            dims = np.ndim(a)
        except (ValueError, TypeError) as e:  # a ragged list, or something NumPy cannot make an array of
            raise ShapeError(
                f"{where}: data[{i}] ({name}) must be an array with one row per sample; {ragged(a, e)}"
            ) from None
        if dims == 0:
            raise ShapeError(f"{where}: data[{i}] ({name}) must be an array with one row per sample, got {a!r:.80}")
    x, y = data
    n, m = len(x), len(y)
    if m != n:
        members = getattr(params, "members", None)
        hint = ""
        if members is not None and np.ndim(y) >= 2 and np.shape(y)[:2] == (members, n):
            hint = (
                f"; the {members} members of a stack share x and y, so y has one row per row of x: targets per "
                f"member, of shape {np.shape(y)}, are not supported (pass y of shape {(n, *np.shape(y)[2:])}, or "
                f"train the members one by one)"
            )
        raise ShapeError(f"{where}: x and y must have the same number of rows, got {n} and {m}{hint}")
    return n


def _order(key: random.Key | None, n: int, shuffle: bool) -> np.ndarray:
    return random.permutation(key, n) if shuffle else np.arange(n)  # type: ignore[arg-type]  # it names a missing key


def batches(
    key: random.Key | None, data: tuple[Any, Any], batch_size: int, *, shuffle: bool = True, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A lazy iterator of ``(x, y)`` mini-batches in a random order drawn with ``key``.

    Every row is visited exactly once; the last, shorter batch is kept unless ``drop_last``.
    With ``shuffle=False`` the order is the data's own and ``key`` may be None.

    >>> import numpy as np, fnn
    >>> x, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> [b[1].tolist() for b in fnn.batches(fnn.random.key(0), (x, y), 2)]
    [[0, 3], [4, 2], [1]]
    """
    n = _rows(data, "batches")
    batch_size = _check_batch_size(batch_size, n)
    shuffle, drop_last = boolean(shuffle, "batches: shuffle"), boolean(drop_last, "batches: drop_last")
    if shuffle and not isinstance(key, random.Key):
        raise ConfigError(f"batches: shuffling needs an fnn.random.Key, got {type(key).__name__}")
    x, y = (np.asarray(a) for a in data)
    order = _order(key, n, shuffle)
    return ((np.take(x, idx, axis=0), np.take(y, idx, axis=0)) for idx in _index_chunks(order, batch_size, drop_last))


def _index_chunks(order: np.ndarray, batch_size: int, drop_last: bool) -> list[np.ndarray]:
    n = order.size
    stop = n - n % batch_size if drop_last else n
    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]


# --------------------------------------------------------------- the fold


@attrs.frozen
class _Problem:
    """What a step needs besides the state: checked data, loss, penalty, flat layout."""

    x: np.ndarray
    y: Any
    loss: Any
    l2: float
    unravel: tree._Unravel
    dropout: bool
    plan: Plan
    weights: np.ndarray | None = None  # each row's weight (sample_weight, class_weight), or None


def _prepare(
    state: TrainState, data: Any, loss: Any, l2: float, where: str, sample_weight: Any = None, class_weight: Any = None
) -> _Problem:
    if not isinstance(state, TrainState):
        raise ConfigError(
            f"{where} expects a TrainState (fnn.TrainState.create(params, opt, key=...)), got {type(state).__name__}"
        )
    params = state.params
    _rows(data, where, params)
    x = check_inputs(params, data[0], where)
    _check_stack_optimizer(params, state.optimizer, where)
    loss = get_loss(loss)
    check_loss_output(params, loss, where)
    y = np.asarray(data[1])  # once, not per batch
    weights = None
    if sample_weight is not None or class_weight is not None:
        y, weights = weighted_targets(params, x.shape[0], y, loss, sample_weight, class_weight, where)
    elif isinstance(loss, Loss):
        y = loss.targets(y, (x.shape[0], *sample_out_shape(params)), params.dtype)
    plan = Plan.of(params, loss, _backend(state.optimizer))
    return _Problem(x, y, loss, _check_l2(l2), tree.ravel(params)[1], uses_key(params), plan, weights)


def _backend(optimizer: Any) -> str:
    """``"numba"`` for an optimizer built with ``backend="numba"`` (the ``fast`` extra): the epoch's layers then
    run their compiled kernels too (bitwise the same numbers, see :mod:`fnn._fast`); else ``"numpy"``."""
    return "numba" if getattr(optimizer, "backend", "numpy") == "numba" else "numpy"


@attrs.frozen
class _Slot:
    """One of the two parameter-sized buffers an epoch rotates through (with an optimizer that
    takes spare buffers): a step computes its gradient here, and the optimizer then writes the
    new params over that gradient. Only read-only views of it reach a state."""

    write: np.ndarray  # writable 1-D view: where the optimizer puts the new params
    grad_tree: Any  # writable views laid out like the params: where the gradient goes
    grad: np.ndarray  # read-only 1-D view: the gradient, as the optimizer reads it
    params: Any  # read-only views laid out like the params: the params of the state living here
    flat: np.ndarray  # read-only 1-D view: those params, flat
    # State leaves (BatchNorm's statistics) have a buffer of their own: the backward pass writes the
    # state the batch leads to into the gradient's state leaves, which are the new params' state.
    state: np.ndarray | None  # read-only 1-D view of it, or None for params without state

    @classmethod
    def make(cls, unravel: tree._Unravel, dtype: np.dtype) -> _Slot:
        owner = np.empty(unravel.size, dtype)
        write = owner.view()  # writable views are made first: they stay writable once the owner is not
        state_owner = np.zeros(unravel.state_size, dtype) if unravel.mask else None
        grad_tree = unravel(write, None if state_owner is None else state_owner.view())
        shown = tree.sealed(owner)  # what a state hands out: read-only views no .base can make writable
        state = None
        if state_owner is not None:
            state = tree.sealed(state_owner)
        return cls(write, grad_tree, shown.view(), unravel(shown.view(), state), shown.view(), state)


@attrs.frozen
class _EpochBuffers:
    """Arrays owned by one epoch and reused by its steps (never seen by the caller, but as the read-only
    params of the states it makes): the gathered batch, and either two rotating slots (see :class:`_Slot`
    and "Spare buffers" in :mod:`fnn.optim`) or one gradient buffer."""

    x: np.ndarray  # batch_size rows of x and of y, gathered into with np.take(out=)
    y: np.ndarray
    slots: tuple  # two _Slots, or () when the gradient has a buffer of its own:
    grad: _Slot | None  # ... this one (its params views unused)
    zero: bool  # whether that buffer must be cleared each step (layers that may write only part of it)
    w: np.ndarray | None = None  # batch_size rows of the weights, when there are weights

    @classmethod
    def for_epoch(cls, state: TrainState, problem: _Problem, batch_size: int) -> _EpochBuffers | None:
        # An adapted tutorial object might keep the gradient it is given: it gets a fresh one.
        if isinstance(state.optimizer, _optim.FromUpdate):
            return None
        x, y = problem.x, problem.y
        xb, yb = np.empty((batch_size, *x.shape[1:]), x.dtype), np.empty((batch_size, *y.shape[1:]), y.dtype)
        dtype = state.params.dtype
        # The rotation writes each gradient over params the step has given up, so every element of it
        # must be written by the backward pass: the layers say whether theirs does (writes_every_grad).
        fills = writes_every_grad(state.params)
        w = problem.weights
        wb = None if w is None else np.empty((batch_size, *w.shape[1:]), w.dtype)
        if fills and getattr(state.optimizer, "accepts_spare", False) is True:
            slots = (_Slot.make(problem.unravel, dtype), _Slot.make(problem.unravel, dtype))
            return cls(xb, yb, slots, None, False, wb)
        grad = _Slot.make(problem.unravel, dtype)
        grad.write.fill(0)
        return cls(xb, yb, (), grad, not fills, wb)


class EpochCarry(NamedTuple):
    """What the fold over an epoch's mini-batches carries from one step to the next.

    A NamedTuple (named fields, immutable, and as cheap to build as a tuple: the tiny-net
    step builds one per batch).
    """

    state: TrainState  # the state after the steps done so far
    flat: np.ndarray  # its params as one flat (read-only) vector
    previous: TrainState | None  # the state one step before: kept intact for NonFiniteError
    losses: list  # (value, rows) per step of the epoch so far; the one list the epoch appends to
    done: int  # steps done in this call


_carry = tuple.__new__  # builds an EpochCarry from a tuple in C: 0.12 against 0.25 µs for EpochCarry(...), once a step


def _step(problem: _Problem, buffers: _EpochBuffers | None, carry: EpochCarry, idx: np.ndarray) -> EpochCarry:
    """One mini-batch: gradient at the current params, then the optimizer update.

    With two slots, step ``j`` computes its gradient in slot ``j % 2``, where the state
    before lives (from the third step on; the first two use fresh moments), and the
    optimizer writes the new state over it. So a state made inside an epoch keeps its
    arrays for two steps only: the epoch hands none of them out but the last (whose slot
    is never written again) and, to a hook, a detached copy (see :func:`_run_epoch`). The
    loss is checked before the gradient is written, so on NaN or infinity the state the
    step started from and the one before it are both intact for NonFiniteError.
    """
    state, flat, previous, losses, done = carry
    key = random.fold_in(random.fold_in(state.key, DROPOUT), state.step) if problem.dropout else None
    slot = None
    if buffers is None:
        xb = np.take(problem.x, idx, axis=0)
        yb = np.take(problem.y, idx, axis=0)
        gflat = np.zeros(problem.unravel.size, flat.dtype)
        gstate = np.zeros(problem.unravel.state_size, flat.dtype) if problem.unravel.mask else None
        gtree = problem.unravel(gflat, gstate)
    else:
        m = idx.size  # mode="clip": the indices are valid, and "raise" would gather via a temporary
        xb = problem.x.take(idx, axis=0, out=buffers.x[:m], mode="clip")
        yb = problem.y.take(idx, axis=0, out=buffers.y[:m], mode="clip")
        slot = buffers.slots[done % 2] if buffers.slots else buffers.grad
        assert slot is not None  # _EpochBuffers.make gives slots or a grad buffer
        gflat, gtree = slot.grad, slot.grad_tree
        if buffers.zero:
            slot.write.fill(0)
    if problem.weights is None:
        value = value_and_grad_into(
            state.params,
            xb,
            yb,
            problem.loss,
            problem.l2,
            key,
            gtree,
            train=True,
            plan=problem.plan,
            stop_if_non_finite=True,
        )
    else:  # a path of its own: the plain one above stays as fast as it was
        if buffers is None:
            wb = np.take(problem.weights, idx, axis=0)
        else:
            assert buffers.w is not None  # the buffers of a weighted epoch hold its weights
            wb = problem.weights.take(idx, axis=0, out=buffers.w[: idx.size], mode="clip")
        value = value_and_grad_into(
            state.params,
            xb,
            yb,
            problem.loss,
            problem.l2,
            key,
            gtree,
            train=True,
            plan=problem.plan,
            stop_if_non_finite=True,
            weights=wb,
        )
    if value.ndim:  # a stack: K losses, kept as float64 like one network's
        if not np.isfinite(value).all():
            _non_finite(state, flat, previous, f"{value} (members {np.flatnonzero(~np.isfinite(value)).tolist()})")
        losses.append((value.astype(np.float64), idx.size))
    else:
        if not math.isfinite(value):
            _non_finite(state, flat, previous, value)
        losses.append((float(value), idx.size))
    if slot is not None and buffers is not None and buffers.slots:
        if done >= 2:
            assert previous is not None  # the carry holds the state before from the second step on
            moments = previous.opt_state
        else:
            moments = state.optimizer.init(slot.flat)
        _, opt_state = state.optimizer.update(flat, gflat, state.opt_state, spare=(slot.write, moments))
        # positional: 0.6 against 0.8 µs with keywords, once per step
        new_state = TrainState(slot.params, opt_state, state.key, state.step + 1, state.optimizer)
        return _carry(EpochCarry, (new_state, slot.flat, state, losses, done + 1))
    if slot is not None:  # the one gradient buffer is reused next step: the new state gets its own copy
        gstate = None if slot.state is None else slot.state.copy()
    if gstate is not None:
        gstate.flags.writeable = False
    new_state, new_flat = _apply_update(state, flat, gflat, problem.unravel, gstate)
    return EpochCarry(new_state, new_flat, state, losses, done + 1)


def _finite(flat: np.ndarray) -> bool:
    return bool(np.isfinite(flat).all())


def _params_finite(state: TrainState) -> bool:
    return _finite(tree.ravel(state.params)[0])


def _non_finite(state: TrainState, flat: np.ndarray, previous: TrainState | None, value: Any) -> None:
    if _finite(flat):
        good, text = state, f"the last state with finite params (step {state.step}) is attached as .state"
    elif previous is not None and _params_finite(previous):
        good, text = previous, f"the last state with finite params (step {previous.step}) is attached as .state"
    else:  # params given already NaN or infinite (a ReLU network can hide them under a finite loss)
        good = state if previous is None else previous
        text = (
            f"the params it was computed from are NaN or infinite, and no state with finite params is at hand "
            f"(.state is that of step {good.step}, not finite either)"
        )
    error = NonFiniteError(f"the loss became {value} at step {state.step}; {text}")
    error.state = detached(good)  # its own arrays: the epoch's buffers are not handed out
    raise error


def _params_not_finite(carry: EpochCarry, replay: Callable) -> None:
    """NonFiniteError for an update that made the params NaN or infinite while its loss was finite: at the end of
    an epoch (no later loss shows it) or before a checkpoint. ``.state`` is the state before it (``previous``,
    intact: no step has run since), or, should that not be finite either, the last finite one ``replay`` finds."""
    previous = carry.previous
    if previous is not None and _params_finite(previous):
        good, start = previous, None
    else:
        good, start = replay(carry.state.step)
    if good is None:
        error = NonFiniteError(
            f"the params are NaN or infinite at step {carry.state.step}, and no state with finite params is at "
            f"hand: the state the epoch started from (step {start.step}) is not finite either; .state is that state"
        )
        error.state = detached(start)
        raise error
    error = NonFiniteError(
        f"the update at step {good.step} made the params NaN or infinite (its loss was finite; only the next "
        f"step's loss would have shown it); the last state with finite params (step {good.step}) is attached as "
        f".state"
    )
    error.state = detached(good)
    raise error


def _last_finite(start: TrainState, problem: _Problem, chunks: list, upto: int) -> tuple[TrainState | None, TrainState]:
    """(the last state with finite params among ``start`` and the states its steps over ``chunks`` lead to, up to
    step ``upto``, or None; ``start``): the epoch replayed with arrays of its own (training is a pure function of
    the state), on the error path only, so that the steps themselves check nothing."""
    if not _params_finite(start):
        return None, start
    carry = EpochCarry(start, tree.ravel(start.params)[0], None, [], 0)
    for idx in chunks:
        if carry.state.step >= upto:
            break
        after = _step(problem, None, carry, idx)
        if not _finite(after.flat):
            break
        carry = after
    return carry.state, start


def detached(state: TrainState) -> TrainState:
    """A copy of ``state`` whose params and optimizer state own their arrays (params packed, read-only).

    >>> import fnn
    >>> s = fnn.TrainState.create(fnn.init(fnn.random.key(0), fnn.mlp([2, 2])), fnn.optim.adam(), key=fnn.random.key(1))
    >>> fnn.tree.equal(detached(s), s), detached(s).params.layers[0].w is s.params.layers[0].w
    (True, False)
    """

    def own(a: Any) -> Any:
        return tree.sealed(a.copy()) if isinstance(a, np.ndarray) else a

    return TrainState(tree.pack(state.params), tree.map(own, state.opt_state), state.key, state.step, state.optimizer)


def value_text(value: Any) -> str:
    """A loss or metric for a progress line: the value, or for a stack the mean over its members
    (those still training: stopped members' entries are NaN)."""
    if np.ndim(value) == 0:
        return f"{value:.4f}"
    live = np.asarray(value)[~np.isnan(value)]
    return f"{float(np.mean(live)) if live.size else math.nan:.4f} (mean of {live.size})"


def _step_with_progress(
    problem: _Problem, buffers: _EpochBuffers | None, bar: Any, carry: EpochCarry, idx: np.ndarray
) -> EpochCarry:
    carry = _step(problem, buffers, carry, idx)
    bar.update(1)
    bar.set_postfix(loss=value_text(carry.losses[-1][0]), refresh=False)
    return carry


def _step_with_hook(
    step: Callable, every: int, hook: Callable, replay: Callable, carry: EpochCarry, idx: np.ndarray
) -> EpochCarry:
    carry = step(carry, idx)
    if carry.state.step % every == 0:
        if not _finite(carry.flat):  # once a checkpoint, not once a step: no checkpoint holds NaN or infinity
            _params_not_finite(carry, replay)
        # A detached copy: the state's own arrays live in a slot that a later step overwrites.
        hook(detached(carry.state), list(carry.losses))
    return carry


def _run_epoch(
    state: TrainState,
    problem: _Problem,
    batch_size: int,
    shuffle: bool,
    drop_last: bool,
    progress: Any = None,
    *,
    position: int = 0,
    losses: Sequence[tuple[float, int]] = (),
    every: int = 0,
    hook: Callable | None = None,
) -> tuple[TrainState, dict]:
    """One epoch; or, with ``position``, the rest of one whose first ``position`` steps (losses given) are done.

    With ``hook``, ``hook(state, losses)`` is called after each step whose new ``state.step``
    is a multiple of ``every`` (``losses``: a copy of the epoch's (value, rows) pairs so far).
    Without it the fold is exactly the plain one.

    **No array handed out changes afterwards.** The states made inside the epoch share two
    rotating buffers (see :func:`_step`), so a hook receives a detached copy of the state (its
    own arrays), an error raised in the epoch carries a detached state, and the state returned
    lives in a slot no later step writes (each epoch allocates its own buffers).

    **No state handed out holds NaN or infinity.** A step checks its loss (free); an update that
    makes the params non-finite shows in the next step's loss, except the epoch's last (and, in the
    rare network whose loss hides them, any): so the params are checked once at the epoch's end and
    before each hook call, and a NonFiniteError carries the state before the update.
    """
    # The permutation belongs to the epoch, so it is drawn with the step at which the epoch began.
    start = state.step - position
    order = _order(random.fold_in(random.fold_in(state.key, SHUFFLE), start), problem.x.shape[0], shuffle)
    chunks = _index_chunks(order, batch_size, drop_last)[position:]
    buffers = _EpochBuffers.for_epoch(state, problem, batch_size)
    if progress is None:
        step = partial(_step, problem, buffers)
    else:
        step = partial(_step_with_progress, problem, buffers, progress)
    replay = partial(_last_finite, state, problem, chunks)
    if hook is not None:
        step = partial(_step_with_hook, step, every, hook, replay)
    carry = toolz.reduce(step, chunks, EpochCarry(state, tree.ravel(state.params)[0], None, list(losses), 0))
    if not _finite(carry.flat):  # once an epoch: the update that ends it has no loss after it to show a NaN
        _params_not_finite(carry, replay)
    state, losses = carry.state, carry.losses
    values = np.array([v for v, _ in losses], dtype=np.float64)
    sizes = np.array([n for _, n in losses])
    return state, {"loss": _epoch_mean(values, sizes, state.params), "step_loss": values, "steps": len(losses)}


def _epoch_mean(values: np.ndarray, sizes: np.ndarray, params: Any) -> Any:
    """The mean step loss weighted by batch size; for a stack, (K,) means, each as one network's."""
    members = getattr(params, "members", None)
    if not sizes.size:
        return float("nan") if members is None else np.full(members, np.nan)
    if members is None:
        return float(np.dot(values, sizes) / sizes.sum())
    # member by member (a matrix-vector product would add in another order)
    return np.array([np.dot(column, sizes) for column in np.ascontiguousarray(values.T)]) / sizes.sum()


def train_epoch(
    state: TrainState,
    data: tuple[Any, Any],
    *extra: Any,
    batch_size: int = REQUIRED,
    loss: Any = REQUIRED,
    l2: float = 0.0,
    shuffle: bool = True,
    drop_last: bool = False,
    sample_weight: Any = None,
    class_weight: Any = None,
    compiled: bool = False,
) -> tuple[TrainState, dict]:
    """One pass over ``data`` in mini-batches: ``toolz.reduce`` of (grad, opt_step) over the batches.

    ``sample_weight`` (one weight ≥ 0 per row of ``data``) and ``class_weight`` (a dict
    ``{class: weight}`` or ``"balanced"``, counted over ``data``) make each batch's loss the
    weighted mean of its rows (see :mod:`fnn.losses`).

    ``compiled=True`` (the ``fast`` extra) runs the whole epoch as one compiled loop, for plain relu
    MLPs with softmax cross-entropy and Adam (see :mod:`fnn._fast_epoch`, which lists what it supports):
    no per-step Python, the same batches and formulas, matrix products as loops (not BLAS), so the
    results agree with the NumPy fold to rounding, not bitwise. For small networks.

    Returns:
        ``(state, metrics)`` with ``metrics["loss"]`` the mean of the batch losses weighted by
        batch size (each measured before its update), ``metrics["step_loss"]`` the per-step
        losses and ``metrics["steps"]`` their count. For a stack of K networks (see
        :func:`fnn.stack`) all members step on the same batches; ``loss`` is (K,) and
        ``step_loss`` (steps, K).

    Raises:
        NonFiniteError: the loss became NaN or infinite, or the epoch's last update made the
            params so; the exception's ``.state`` is the last state with finite parameters (the
            one that step started from, or the one before that update).

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.mlp([2, 2]))
    >>> s = fnn.TrainState.create(p, fnn.optim.sgd(0.1), key=fnn.random.key(1))
    >>> s, m = fnn.train_epoch(s, (np.ones((10, 2)), np.zeros(10, int)), batch_size=4, loss="cross_entropy")
    >>> s.step, m["steps"], m["step_loss"].shape
    (3, 3, (3,))
    """
    check_call("train_epoch", extra, batch_size=batch_size, loss=loss)
    problem = _prepare(state, data, loss, l2, "train_epoch", sample_weight, class_weight)
    batch_size = _check_batch_size(batch_size, problem.x.shape[0])
    shuffle, drop_last = boolean(shuffle, "train_epoch: shuffle"), boolean(drop_last, "train_epoch: drop_last")
    if boolean(compiled, "train_epoch: compiled"):
        return _compiled_epoch(state, problem, batch_size, shuffle, drop_last)
    return _run_epoch(state, problem, batch_size, shuffle, drop_last)


def _compiled_epoch(
    state: TrainState, problem: _Problem, batch_size: int, shuffle: bool, drop_last: bool
) -> tuple[TrainState, dict]:
    """:func:`_run_epoch` as one compiled loop (``train_epoch(compiled=True)``, see :mod:`fnn._fast_epoch`):
    the same permutation and batches, states and metrics built as the fold builds them."""
    from fnn import _fast_epoch
    from fnn.optim.adam import AdamState

    order = _order(random.fold_in(random.fold_in(state.key, SHUFFLE), state.step), problem.x.shape[0], shuffle)
    stop = sum(c.size for c in _index_chunks(order, batch_size, drop_last))
    done, (P, M, V), losses = _fast_epoch.run(state, problem, order, stop, batch_size)

    def state_in(slot: int, steps: int) -> TrainState:  # the state after `steps` of the epoch's steps
        opt_state = AdamState(state.opt_state.count + steps, M[slot], V[slot])
        return TrainState(problem.unravel(P[slot]), opt_state, state.key, state.step + steps, state.optimizer)

    if done < losses.size:  # the loss of step `done` was not finite: its state is in slot done % 2
        here = state_in(done % 2, done)
        good = here if np.isfinite(P[done % 2]).all() or done == 0 else state_in((done - 1) % 2, done - 1)
        _non_finite(here, P[done % 2], None if good is here else good, state.params.dtype.type(losses[done]))
    values = losses.astype(state.params.dtype).astype(np.float64)  # as the fold keeps them: the params' dtype
    sizes = np.minimum(batch_size, stop - np.arange(0, stop, batch_size))
    new = state_in(done % 2, done)
    return new, {"loss": _epoch_mean(values, sizes, new.params), "step_loss": values, "steps": done}
