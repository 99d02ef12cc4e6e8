"""Gradient transforms, :func:`chain` (transforms before an optimizer), and decoupled weight decay.

A transform maps the gradient before the optimizer sees it; :func:`chain` joins
transforms and one optimizer into an optimizer. Decoupled weight decay changes
the params, not the gradient, so it is a wrapper of a whole optimizer
(:func:`decoupled_weight_decay`). The protocols are in :mod:`fnn.optim`.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn.errors import ConfigError, ShapeError
from fnn.optim.adam import Adam, Adamax, AdamW, NAdam
from fnn.optim.adaptive import Adadelta, Adagrad, RMSprop
from fnn.optim.base import FromUpdate, GradientTransform, Optimizer, _owner, check_params, check_step, lr_at, real
from fnn.optim.sgd import Momentum, Sgd
from fnn.tree import leaves as tree_leaves
from fnn.tree import register, state_mask, value_class

__all__ = [
    "chain",
    "clip_by_global_norm",
    "clip_by_member_norm",
    "clip_by_value",
    "add_weight_decay",
    "decoupled_weight_decay",
    "global_norm",
    "Chain",
    "ChainState",
    "ClipByGlobalNorm",
    "ClipByMemberNorm",
    "ClipByValue",
    "AddWeightDecay",
    "DecoupledWeightDecay",
]


# ------------------------------------------------------------ masks


def _as_mask(value: Any) -> Any:
    """``None``, or a read-only 1-D boolean copy of ``value`` (left as is if it is not boolean, for the validator)."""
    if value is None:
        return None
    mask = np.array(value, copy=True)
    if mask.dtype != np.bool_:
        return value
    mask.flags.writeable = False
    return mask


def _check_mask(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, np.ndarray) or value.dtype != np.bool_ or value.ndim != 1:
        got = f"dtype {value.dtype}, shape {value.shape}" if isinstance(value, np.ndarray) else repr(value)
        raise ConfigError(
            f"{_owner(instance)}: mask must be a 1-D boolean array over the flat params (True = decay), got {got}"
        )


def _same_mask(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _mask_field() -> Any:
    # Compared by value; left out of the hash (equal objects still hash equal).
    return attrs.field(
        default=None,
        converter=_as_mask,
        validator=_check_mask,
        eq=attrs.cmp_using(eq=_same_mask),
        hash=False,
        kw_only=True,
    )


def _check_mask_size(owner: str, mask: np.ndarray | None, flat: np.ndarray) -> None:
    if mask is not None and mask.shape != flat.shape:
        raise ShapeError(f"{owner}: mask has shape {mask.shape}, the flat params {flat.shape}")


# ------------------------------------------------------------ transforms


def global_norm(grad: np.ndarray) -> float:
    """The Euclidean norm of the whole flat vector, as a Python float.

    Accumulates in the vector's dtype; if that overflows while every entry is
    finite, it is recomputed on the vector scaled by its largest magnitude.

    >>> import numpy as np
    >>> from fnn import optim
    >>> optim.global_norm(np.array([3.0, 4.0]))
    5.0
    >>> round(optim.global_norm(np.full(4, 1e30, np.float32)) / 1e30, 6)   # squares overflow float32
    2.0
    """
    with np.errstate(over="ignore"):
        sq = float(np.dot(grad, grad))
    if math.isinf(sq):
        scale = float(np.max(np.abs(grad)))
        if math.isfinite(scale):
            scaled = grad / grad.dtype.type(scale)
            return scale * math.sqrt(float(np.dot(scaled, scaled)))
    return math.sqrt(sq)


@value_class
@attrs.frozen
class ClipByGlobalNorm:
    """Scale the gradient to norm ``max_norm`` if it is longer; built by :func:`clip_by_global_norm`."""

    max_norm: float = real(lo_open=True)
    _name = "clip_by_global_norm"
    elementwise = False  # one norm over the whole vector: it would mix the members of a stack

    def init(self, flat: np.ndarray) -> None:
        """No state: ``None``."""
        check_params(self._name, flat)

    def update(self, grad: np.ndarray, state: None, params: np.ndarray) -> tuple[np.ndarray, None]:
        """Return the transformed gradient and the state (``None``)."""
        norm = global_norm(grad)
        if not (math.isfinite(norm) and norm > self.max_norm):
            return grad, None
        return np.multiply(grad, self.max_norm / norm), None


def clip_by_global_norm(max_norm: float) -> ClipByGlobalNorm:
    """Rescale the whole gradient to norm ``max_norm`` when its norm is larger (Pascanu et al. 2013).

    ``g <- g * max_norm / ||g||`` if ``||g|| > max_norm``, else ``g`` unchanged; the norm is
    taken over the flat vector, i.e. over all params together, like
    ``torch.nn.utils.clip_grad_norm_`` (which divides by ``||g|| + 1e-6`` and so
    shrinks by a hair even below the threshold; this follows Optax and does not).
    Because the norm is global, clipping is not elementwise: clipping each leaf
    on its own would give a different result. A gradient holding inf or NaN is
    passed through unchanged, so the non-finite values surface rather than
    being scaled to zero.

    Args:
        max_norm: the largest allowed norm, > 0.

    Raises:
        ConfigError: ``max_norm`` not > 0.

    >>> import numpy as np
    >>> from fnn import optim
    >>> clip = optim.clip_by_global_norm(1.0)
    >>> clip.update(np.array([3.0, 4.0]), None, np.zeros(2))[0]
    array([0.6, 0.8])
    """
    return ClipByGlobalNorm(max_norm)


_BUILD = "build it with fnn.optim.clip_by_member_norm(max_norm, params)"


def _is_size(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_members(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not _is_size(value, 1):
        raise ConfigError(f"clip_by_member_norm: members must be an integer ≥ 1, got {value!r}; {_BUILD}")


def _check_sizes(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if not (isinstance(value, tuple) and all(_is_size(s, 0) for s in value)):
        raise ConfigError(f"clip_by_member_norm: sizes must be a tuple of leaf sizes, got {value!r}; {_BUILD}")


def _list_as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@value_class
@attrs.frozen
class ClipByMemberNorm:
    """Scale each member's gradient to norm ``max_norm`` if it is longer; built by :func:`clip_by_member_norm`."""

    max_norm: float = real(lo_open=True)
    # real() is attrs.field with no default; mypy's attrs plugin takes the call for one
    members: int = attrs.field(validator=_check_members)  # type: ignore[misc]
    sizes: tuple = attrs.field(  # type: ignore[misc]  # one member's leaf sizes, in ravel order
        converter=_list_as_tuple, validator=_check_sizes
    )
    _name = "clip_by_member_norm"
    elementwise = False  # one norm per member ...
    per_member = True  # ... over that member's own entries: it never mixes the members of a stack

    def init(self, flat: np.ndarray) -> None:
        """No state: ``None``; checks that ``flat`` is the params this transform was built for."""
        check_params(self._name, flat)
        expected = self.members * sum(self.sizes)
        if flat.size != expected:
            raise ShapeError(
                f"{self._name}: built for {self.members} member(s) of {sum(self.sizes)} params ({expected} in all), "
                f"given flat params of size {flat.size}; {_BUILD} with the params it will train"
            )

    def update(self, grad: np.ndarray, state: None, params: np.ndarray) -> tuple[np.ndarray, None]:
        """Return the transformed gradient and the state (``None``)."""
        k = self.members
        if k == 1:  # one network: clip_by_global_norm itself
            return ClipByGlobalNorm(self.max_norm).update(grad, state, params)
        # A stack's flat vector holds each leaf for all members in turn (leaf i: K·s_i entries, member-major):
        # gather member m's entries into one row, in the order one network's flat vector has them, so that
        # its norm adds the same numbers in the same order as clip_by_global_norm on network m alone.
        rows = np.empty((k, sum(self.sizes)), grad.dtype)
        start = column = 0
        for size in self.sizes:
            rows[:, column : column + size] = grad[start : start + k * size].reshape(k, size)
            start, column = start + k * size, column + size
        factors = []
        for row in rows:
            norm = global_norm(row)
            factors.append(self.max_norm / norm if math.isfinite(norm) and norm > self.max_norm else 1.0)
        if all(f == 1.0 for f in factors):
            return grad, None
        scale = np.array(factors, grad.dtype)[:, None]  # rounded to the dtype, as a Python float scalar would be
        out = np.empty_like(grad)
        start = 0
        for size in self.sizes:
            part = slice(start, start + k * size)
            np.multiply(grad[part].reshape(k, size), scale, out=out[part].reshape(k, size))
            start += k * size
        return out, None


def clip_by_member_norm(max_norm: float, params: Any) -> ClipByMemberNorm:
    """Clip each member of a stack of networks as :func:`clip_by_global_norm` clips one network.

    Member m's gradient is rescaled to norm ``max_norm`` when its own norm (over its own
    entries of every leaf) is larger, and left unchanged otherwise; members never mix, so
    member m of a stack trained with it is bit for bit network m trained alone with
    ``clip_by_global_norm(max_norm)``, and stacks accept it (where ``clip_by_global_norm`` is
    refused). For one network it is ``clip_by_global_norm``. The clip of exploding gradients
    in recurrent networks (Pascanu et al. 2013), for K seeds at once.

    Args:
        max_norm: the largest allowed norm of each member's gradient, > 0.
        params: the params it will train (a stack from :func:`fnn.stack` or :func:`fnn.init_many`,
            or one network): the transform keeps only their layout (members and leaf sizes).

    Raises:
        ConfigError: ``max_norm`` not > 0.

    >>> import numpy as np, fnn
    >>> stack = fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([1, 1], output=None, use_bias=False))
    >>> clip = fnn.optim.clip_by_member_norm(1.0, stack)
    >>> clip.members, clip.sizes
    (2, (1,))
    >>> clip.update(np.array([3.0, 0.5]), None, np.zeros(2))[0]   # member 0 clipped, member 1 left
    array([1. , 0.5])
    """
    return ClipByMemberNorm(max_norm, getattr(params, "members", None) or 1, member_sizes(params))


def member_sizes(params: Any) -> tuple[int, ...]:
    """Each trainable leaf's size per member of a stack (of the one network, for one): the flat vector's layout.

    A stack's flat vector is leaf after leaf, each leaf (K, ...) member after member; state
    leaves (BatchNorm's statistics) are not in it.

    >>> import fnn
    >>> member_sizes(fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([2, 4])))
    (8, 4)
    """
    members = getattr(params, "members", None) or 1
    found = [leaf for leaf, state in zip(tree_leaves(params), state_mask(params), strict=True) if not state]
    return tuple(int(np.size(leaf)) // members for leaf in found)


@value_class
@attrs.frozen
class ClipByValue:
    """Clip every entry to [-limit, limit]; built by :func:`clip_by_value`."""

    limit: float = real(lo_open=True)
    _name = "clip_by_value"

    def init(self, flat: np.ndarray) -> None:
        """No state: ``None``."""
        check_params(self._name, flat)

    def update(self, grad: np.ndarray, state: None, params: np.ndarray) -> tuple[np.ndarray, None]:
        """Return the transformed gradient and the state (``None``)."""
        return np.clip(grad, -self.limit, self.limit), None


def clip_by_value(limit: float) -> ClipByValue:
    """Clip each gradient entry to ``[-limit, limit]`` (``torch.nn.utils.clip_grad_value_``).

    Args:
        limit: > 0.

    Raises:
        ConfigError: ``limit`` not > 0.

    >>> import numpy as np
    >>> from fnn import optim
    >>> optim.clip_by_value(1.0).update(np.array([3.0, -0.5]), None, np.zeros(2))[0]
    array([ 1. , -0.5])
    """
    return ClipByValue(limit)


@value_class
@attrs.frozen
class AddWeightDecay:
    """Add ``weight_decay * params`` to the gradient; built by :func:`add_weight_decay`."""

    weight_decay: float = real()
    mask: np.ndarray | None = _mask_field()
    _name = "add_weight_decay"

    def init(self, flat: np.ndarray) -> None:
        """Check ``flat`` (and the mask's size); no state: ``None``."""
        check_params(self._name, flat)
        _check_mask_size(self._name, self.mask, flat)

    def update(self, grad: np.ndarray, state: None, params: np.ndarray) -> tuple[np.ndarray, None]:
        """Return the transformed gradient and the state (``None``)."""
        if self.weight_decay == 0.0:
            return grad, None
        if self.mask is None:
            out = np.multiply(params, self.weight_decay)
        else:
            _check_mask_size(self._name, self.mask, params)
            out = np.zeros_like(grad)
            np.multiply(params, self.weight_decay, out=out, where=self.mask)
        out += grad
        return out, None


def add_weight_decay(weight_decay: float, *, mask: Any = None) -> AddWeightDecay:
    """Coupled L2 decay in the gradient: ``g <- g + weight_decay * p`` (where ``mask`` is True).

    This is torch's ``weight_decay`` argument of SGD, Adam and the others, as a
    transform: ``chain(add_weight_decay(wd), adam())`` equals ``adam(weight_decay=wd)``
    bit for bit. With an adaptive optimizer the decay is rescaled by the
    optimizer; for decay that is not, see :func:`decoupled_weight_decay`.

    Args:
        weight_decay: >= 0.
        mask: optional 1-D boolean array over the flat params, True where to decay
            (e.g. weights but not biases); build it with ``fnn.tree.ravel`` of a
            tree of booleans.

    Raises:
        ConfigError: a negative ``weight_decay`` or a mask that is not a 1-D boolean array.

    >>> import numpy as np
    >>> from fnn import optim
    >>> wd = optim.add_weight_decay(0.1, mask=np.array([True, False]))
    >>> wd.update(np.zeros(2), None, np.array([1.0, 1.0]))[0]
    array([0.1, 0. ])
    """
    return AddWeightDecay(weight_decay, mask=mask)


# ------------------------------------------------------------ chain


@register
@attrs.frozen
class ChainState:
    """State of :func:`chain`: the transforms' states (a tuple, in order) and the optimizer's."""

    transforms: tuple
    inner: Any

    @property
    def count(self) -> int:
        """The inner optimizer's count: updates already applied."""
        return self.inner.count


def _lr_of(owner: str, opt: Any) -> Any:
    lr = getattr(opt, "lr", None)
    if lr is None:
        raise ConfigError(f"{owner} needs an optimizer with an lr (a number or a schedule), got {opt!r}")
    return lr


@value_class
@attrs.frozen
class Chain:
    """Transforms, then an optimizer; built by :func:`chain`, which documents it."""

    transforms: tuple
    inner: Any
    _name = "chain"

    @property
    def lr(self) -> Any:
        """The inner optimizer's ``lr`` (so a chain can be wrapped by :func:`decoupled_weight_decay`)."""
        return getattr(self.inner, "lr", None)

    def init(self, flat: np.ndarray) -> ChainState:
        """Each transform's initial state, and the optimizer's."""
        check_params(self._name, flat)
        return ChainState(tuple(t.init(flat) for t in self.transforms), self.inner.init(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: ChainState) -> tuple[np.ndarray, ChainState]:
        """Return the NEW PARAMS (not an update to add): the optimizer's step on the transformed gradient."""
        check_step(self._name, old, grad)
        states = []
        for t, s in zip(self.transforms, state.transforms, strict=True):
            grad, s = t.update(grad, s, old)
            states.append(s)
        new, inner = self.inner.update(old, grad, state.inner)
        return new, ChainState(tuple(states), inner)


def chain(*parts: Any) -> Chain:
    """An optimizer that maps the gradient through transforms, then steps with the last argument.

    ``chain(t1, ..., tk, opt).update(old, grad, state)`` computes
    ``g1, s1 = t1.update(grad, s1, old)``, ..., then returns
    ``opt.update(old, gk, s_opt)``: the NEW PARAMS, like every optimizer. Its
    state is :class:`ChainState` ``(transforms=(s1, ..., sk), inner=s_opt)``.

    Args:
        *parts: zero or more gradient transforms, then one optimizer.

    Returns:
        A frozen :class:`Chain`.

    Raises:
        ConfigError: no optimizer given, an fnn optimizer among the transforms, or
            an fnn transform in last place.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1))
    >>> p = np.array([1.0, -2.0])
    >>> new, state = opt.update(p, np.array([30.0, 40.0]), opt.init(p))
    >>> new, state.count
    (array([ 0.94, -2.08]), 1)
    """
    if not parts:
        raise ConfigError("chain expects zero or more gradient transforms and then an optimizer, got nothing")
    *transforms, inner = parts
    if not isinstance(inner, Optimizer) or isinstance(inner, _FNN_TRANSFORMS):
        raise ConfigError(
            f"chain expects an optimizer (init/update(old, grad, state)) as its last argument, got {inner!r}"
        )
    for i, t in enumerate(transforms):
        if isinstance(t, _FNN_OPTIMIZERS) or not isinstance(t, GradientTransform):
            raise ConfigError(
                f"chain: argument {i} must be a gradient transform (init/update(grad, state, params)); "
                f"only the last argument is the optimizer, got {t!r}"
            )
    return Chain(tuple(transforms), inner)


# ------------------------------------------------------------ decoupled weight decay


@value_class
@attrs.frozen
class DecoupledWeightDecay:
    """An optimizer whose params decay by ``lr * weight_decay`` before each step; see :func:`decoupled_weight_decay`."""

    inner: Any
    weight_decay: float = real()
    mask: np.ndarray | None = _mask_field()
    _name = "decoupled_weight_decay"

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.inner, Optimizer):
            raise ConfigError(f"{self._name} expects an optimizer (init/update), got {self.inner!r}")
        _lr_of(self._name, self.inner)

    @property
    def lr(self) -> Any:
        """The inner optimizer's ``lr``."""
        return self.inner.lr

    def init(self, flat: np.ndarray) -> Any:
        """The inner optimizer's initial state (this wrapper adds none)."""
        check_params(self._name, flat)
        _check_mask_size(self._name, self.mask, flat)
        return self.inner.init(flat)

    def update(self, old: np.ndarray, grad: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """Return the NEW PARAMS (not an update to add): the inner step from the decayed params."""
        check_step(self._name, old, grad)
        factor = 1.0 - lr_at(self._name, self.inner.lr, state.count) * self.weight_decay
        if self.mask is None:
            decayed = np.multiply(old, factor)
        else:
            _check_mask_size(self._name, self.mask, old)
            decayed = old.copy()
            np.multiply(old, factor, out=decayed, where=self.mask)
        return self.inner.update(decayed, grad, state)


def decoupled_weight_decay(opt: Any, weight_decay: float, *, mask: Any = None) -> DecoupledWeightDecay:
    """Wrap an optimizer with decoupled weight decay (Loshchilov & Hutter 2019): ``update`` returns the NEW PARAMS.

    Each update first decays the OLD params and then lets ``opt`` step from them,
    in ``torch.optim.AdamW``'s order::

        p <- p * (1 - lr_t * weight_decay)      (where mask is True)
        p <- opt.update(p, g, state)

    ``lr_t`` is ``opt``'s own rate for this update (its ``lr`` at ``state.count``),
    so a schedule scales the decay too. For an optimizer whose step does not
    depend on ``p`` (no coupled weight decay) this is
    ``opt_update(p) - lr_t * weight_decay * p`` up to rounding, and
    ``decoupled_weight_decay(adam(...), wd)`` equals ``adamw(..., weight_decay=wd)``
    bit for bit. The state is ``opt``'s state, unchanged in form.

    Args:
        opt: an optimizer with an ``lr`` attribute (every built-in, and a :func:`chain` of one).
        weight_decay: >= 0.
        mask: optional 1-D boolean array over the flat params, True where to decay.

    Raises:
        ConfigError: ``opt`` is not an optimizer or has no ``lr``; a bad ``weight_decay`` or mask.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.decoupled_weight_decay(optim.sgd(0.1), 0.5)
    >>> p = np.array([1.0, -2.0])
    >>> opt.update(p, np.zeros(2), opt.init(p))[0]
    array([ 0.95, -1.9 ])
    """
    return DecoupledWeightDecay(opt, weight_decay, mask=mask)


# fnn's own transforms and optimizers share method names, so chain tells them apart by type
# (Nesterov subclasses Momentum); foreign objects are taken at their word.
_FNN_TRANSFORMS = (ClipByGlobalNorm, ClipByMemberNorm, ClipByValue, AddWeightDecay)
_FNN_OPTIMIZERS = (
    Sgd,
    Momentum,
    Adagrad,
    RMSprop,
    Adadelta,
    Adam,
    AdamW,
    Adamax,
    NAdam,
    FromUpdate,
    Chain,
    DecoupledWeightDecay,
)
