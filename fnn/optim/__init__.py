"""Optimizers on flat parameter vectors: pure ``init``/``update`` pairs, schedules, transforms.

**The optimizer protocol.** An optimizer is a frozen object with two pure methods
on 1-D arrays (the flat view of a params tree, see :func:`fnn.tree.ravel`)::

    state = opt.init(flat)
    new, state = opt.update(old, grad, state)

``update`` returns the NEW PARAMS, not an update to add to them (the interface
of the from-scratch tutorials; Optax's ``update`` returns an update, and mixing
the two up is the classic mistake). It never changes ``old``, ``grad`` or the
arrays in ``state`` (they may be read-only); the arrays it returns are new
(for :func:`from_update`, whatever the wrapped object returns).
``state`` is a frozen, named pytree node (``AdamState(count, mu, nu, nu_max)``,
``SgdState(count)``, ...) holding ``count``, the number of updates already
applied (a Python int), and arrays of the params' dtype. float32 in gives
float32 out: every per-step scalar is a Python float, never a NumPy float64.
Static hyperparameters are fields of the optimizer, checked at construction
(:class:`~fnn.errors.ConfigError` names the optimizer, the argument, the
expected range and the given value), and replaceable with
``attrs.evolve(opt, lr=...)``, which keeps the state valid. Names, defaults and
formulas follow ``torch.optim``; each factory's docstring gives its exact rule.

**Learning rates.** Every ``lr`` is a number or a schedule: a callable
``lr(count) -> rate`` (see :mod:`fnn.optim.schedules`), called with the count
of updates already applied (0 for the first). A schedule that returns a
negative or non-finite rate makes ``update`` raise :class:`~fnn.errors.ConfigError`.
:class:`ReduceLROnPlateau` ``(opt, monitor="val_loss", ...)`` watches a validation metric
instead (Keras's rule): :func:`fnn.fit` tells it each epoch's logs through its ``observe``
method, and its state (in the optimizer state, so in checkpoints) holds the reduced scale.

**Gradient transforms and composition.** A transform maps the gradient before
an optimizer sees it::

    tstate = t.init(flat)
    grad2, tstate = t.update(grad, tstate, params)

It is pure like an optimizer, but may return ``grad`` itself when it has
nothing to change (nothing downstream writes into a gradient).

:func:`chain` ``(t1, ..., tk, opt)`` is an optimizer: it passes the gradient
through the transforms in order and returns ``opt.update(old, grad_k, ...)``,
so the result is still the new params; its state is
``ChainState(transforms=(...), inner=...)``. Transforms: :func:`clip_by_global_norm`
(:func:`clip_by_member_norm` for a stack: each member by its own norm),
:func:`clip_by_value`, :func:`add_weight_decay` (coupled L2, into the gradient).
Decoupled weight decay acts on the params, so it wraps a whole optimizer:
:func:`decoupled_weight_decay` ``(opt, wd)`` decays the old params by
``lr_t * wd`` and then lets ``opt`` step from them (``adamw`` is exactly
``decoupled_weight_decay(adam(...), wd)``).

**Tutorial objects.** :func:`from_update` wraps an object with
``update(old, grad) -> new`` (or such a function) as an optimizer; its docstring
states exactly what stays pure.

**Spare buffers.** An optimizer whose class sets ``accepts_spare = True`` (Adam
and AdamW) also takes ``update(old, grad, state, spare=(flat, state_k))``: arrays
the caller owns and gives up, the params array and an optimizer state's arrays
(``flat`` may be the memory ``grad`` is in: the gradient is read in full before
that array is written). The result is then written into those arrays instead of
new ones, and is the same, bit for bit. :func:`fnn.train_epoch` computes each
step's gradient into the params buffer of the state two steps back and passes it
as ``flat``, with that state's moments: two buffer sets it allocates itself, so a
long epoch allocates nothing per step; no array the caller can see is ever written.

**By name.** :data:`OPTIMIZERS` maps names to factories; :func:`get` builds one.

>>> import numpy as np
>>> from fnn import optim
>>> opt = optim.adam(lr=0.1)
>>> params = np.array([1.0, -2.0])
>>> state = opt.init(params)
>>> for _ in range(3):
...     params, state = opt.update(params, 2 * params, state)   # minimise sum(p**2)
>>> params.round(3), state.count
(array([ 0.702, -1.701]), 3)
"""

from fnn.optim import schedules
from fnn.optim.adam import (
    Adam,
    Adamax,
    AdamaxState,
    AdamState,
    AdamW,
    NAdam,
    NAdamState,
    adam,
    adamax,
    adamw,
    nadam,
)
from fnn.optim.adaptive import (
    Adadelta,
    AdadeltaState,
    Adagrad,
    AdagradState,
    RMSprop,
    RMSpropState,
    adadelta,
    adagrad,
    rmsprop,
)
from fnn.optim.base import FromUpdate, FromUpdateState, GradientTransform, Optimizer, Schedule, from_update, lr_at
from fnn.optim.plateau import PlateauState, ReduceLROnPlateau
from fnn.optim.registry import OPTIMIZERS, check_optimizer, get
from fnn.optim.schedules import (
    constant,
    cosine_decay,
    exponential_decay,
    inverse_time_decay,
    join_schedules,
    linear_warmup,
    piecewise_constant,
    step_decay,
    warmup_cosine_decay,
)
from fnn.optim.sgd import Momentum, MomentumState, Nesterov, Sgd, SgdState, momentum, nesterov, sgd
from fnn.optim.transforms import (
    AddWeightDecay,
    Chain,
    ChainState,
    ClipByGlobalNorm,
    ClipByMemberNorm,
    ClipByValue,
    DecoupledWeightDecay,
    add_weight_decay,
    chain,
    clip_by_global_norm,
    clip_by_member_norm,
    clip_by_value,
    decoupled_weight_decay,
    global_norm,
)

__all__ = [
    # optimizers
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adadelta",
    "adam",
    "adamax",
    "nadam",
    "adamw",
    "from_update",
    "OPTIMIZERS",
    "get",
    "check_optimizer",
    # composition
    "chain",
    "clip_by_global_norm",
    "clip_by_member_norm",
    "clip_by_value",
    "add_weight_decay",
    "decoupled_weight_decay",
    "global_norm",
    # schedules
    "schedules",
    "constant",
    "exponential_decay",
    "inverse_time_decay",
    "piecewise_constant",
    "step_decay",
    "cosine_decay",
    "linear_warmup",
    "join_schedules",
    "warmup_cosine_decay",
    "lr_at",
    "ReduceLROnPlateau",
    "PlateauState",
    # protocols
    "Optimizer",
    "GradientTransform",
    "Schedule",
    # classes and states
    "Sgd",
    "SgdState",
    "Momentum",
    "Nesterov",
    "MomentumState",
    "Adagrad",
    "AdagradState",
    "RMSprop",
    "RMSpropState",
    "Adadelta",
    "AdadeltaState",
    "Adam",
    "AdamW",
    "AdamState",
    "Adamax",
    "AdamaxState",
    "NAdam",
    "NAdamState",
    "FromUpdate",
    "FromUpdateState",
    "Chain",
    "ChainState",
    "ClipByGlobalNorm",
    "ClipByMemberNorm",
    "ClipByValue",
    "AddWeightDecay",
    "DecoupledWeightDecay",
]
