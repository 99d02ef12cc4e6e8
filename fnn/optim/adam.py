"""The Adam family: Adam (with AMSGrad), AdamW, Adamax and NAdam, as in ``torch.optim``.

Each ``update`` returns the new params, not an update to add; the protocol is in
:mod:`fnn.optim`. Bias corrections and other per-step scalars are computed in
Python floats, so float32 params stay float32.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

from fnn._checks import keywords_checked
from fnn._reductions import TINY
from fnn.errors import ConfigError
from fnn.optim import _fused, _threads
from fnn.optim.base import check_params, check_step, coupled_decay, flag, lr_at, lr_field, real, zeros
from fnn.tree import register, value_class

__all__ = [
    "adam",
    "adamw",
    "adamax",
    "nadam",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "AdamState",
    "AdamaxState",
    "NAdamState",
]


def _moments(
    mu: np.ndarray, nu: np.ndarray, g: np.ndarray, b1: float, b2: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New ``b1 * mu + (1 - b1) * g`` and ``b2 * nu + (1 - b2) * g**2``, and a free scratch buffer."""
    mu = np.multiply(mu, b1)
    tmp = np.multiply(g, 1.0 - b1)
    mu += tmp
    nu = np.multiply(nu, b2)
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - b2
    nu += tmp
    return mu, nu, tmp


# ------------------------------------------------------------ Adam and AdamW


@register
@attrs.frozen
class AdamState:
    """State of :func:`adam` and :func:`adamw`: the count, the first and second moments
    ``mu`` and ``nu``, and ``nu_max`` (the running maximum of ``nu``) under AMSGrad, else ``None``."""

    count: int
    mu: np.ndarray
    nu: np.ndarray
    nu_max: np.ndarray | None = None


def _adam_init(name: str, flat: np.ndarray, amsgrad: bool) -> AdamState:
    check_params(name, flat)
    return AdamState(0, zeros(flat), zeros(flat), zeros(flat) if amsgrad else None)


BACKENDS = ("numpy", "numba")


def _check_backend(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value not in BACKENDS:
        raise ConfigError(f"{instance._name}: backend must be one of {', '.join(map(repr, BACKENDS))}, got {value!r}")


def _backend_field() -> Any:
    return attrs.field(default="numpy", kw_only=True, validator=_check_backend)


# Every FLUSH_EVERY-th update (by count) sets the stored moments that have become subnormal to zero.
# A weight whose gradient stays exactly 0 (a dead unit, an input that is almost always 0) has a first
# moment that decays as b1**t through the subnormal floats, about 150 steps in float32, which x86 CPUs
# handle on a slow microcode path: in the benchmark's batch-32 epochs 0.1% subnormal
# moments made the update 10% slower (639 against 581 µs). The update they still enter is below
# float precision (a moment under 1.2e-38 over sqrt(nu) + eps). Flushing every step would cost 6
# NumPy passes each time (8% of a batch-32 epoch); every 16th costs 0.4 passes a step and leaves a
# subnormal moment 8 steps on average instead of 150 (the epoch: 3% faster).
FLUSH_EVERY = 16

# Elements per block of the NumPy kernel: its 12 passes run block by block, so that the 7 arrays'
# blocks (7 × 256 KB in float32) stay in a 2 MB L2 cache between passes instead of streaming 12 times
# from L3. On 235k float32 params: 547 against 625 µs per update, 3-6% of a batch-32 epoch. Each element
# still goes through the same operations, so the result is bitwise the whole-vector one.
_BLOCK = 65536


def _adam_numpy(
    p: np.ndarray,
    g: np.ndarray,
    mu: np.ndarray,
    nu: np.ndarray,
    nu_max: np.ndarray | None,
    out_p: np.ndarray,
    out_mu: np.ndarray,
    out_nu: np.ndarray,
    out_nu_max: np.ndarray | None,
    b1: float,
    b2: float,
    eps_hat: Any,
    step: Any,
    flush: bool,
) -> None:
    """The Adam kernel in NumPy (see :func:`_adam_passes`), block by block on long vectors."""
    n = p.size
    if n <= _BLOCK:
        return _adam_passes(p, g, mu, nu, nu_max, out_p, out_mu, out_nu, out_nu_max, b1, b2, eps_hat, step, flush)
    for start in range(0, n, _BLOCK):
        b = slice(start, start + _BLOCK)
        _adam_passes(
            p[b],
            g[b],
            mu[b],
            nu[b],
            None if nu_max is None else nu_max[b],
            out_p[b],
            out_mu[b],
            out_nu[b],
            None if out_nu_max is None else out_nu_max[b],
            b1,
            b2,
            eps_hat,
            step,
            flush,
        )


def _flush_subnormals(a: np.ndarray) -> None:
    """Set the entries of ``a`` smaller in magnitude than the smallest normal number to +0."""
    np.copyto(a, 0, where=np.abs(a) < TINY[a.dtype])


def _adam_passes(
    p: np.ndarray,
    g: np.ndarray,
    mu: np.ndarray,
    nu: np.ndarray,
    nu_max: np.ndarray | None,
    out_p: np.ndarray,
    out_mu: np.ndarray,
    out_nu: np.ndarray,
    out_nu_max: np.ndarray | None,
    b1: float,
    b2: float,
    eps_hat: Any,
    step: Any,
    flush: bool,
) -> None:
    """The Adam kernel in NumPy, 12 passes (18 when it flushes); ``out_p`` doubles as the scratch buffer.

    ``out_p`` may be ``g`` itself: every use of the raw gradient comes before ``out_p`` is
    first written. (Sums are formed in an order that gives the bits of the fused kernel's
    ``b1 * mu + c1 * g`` and ``b2 * nu + g * g * c2``: IEEE addition and multiplication commute.)
    """
    np.multiply(g, g, out=out_nu)
    out_nu *= 1.0 - b2
    np.multiply(g, 1.0 - b1, out=out_p)  # the last read of g
    np.multiply(mu, b1, out=out_mu)
    out_mu += out_p
    np.multiply(nu, b2, out=out_p)
    out_nu += out_p
    n = out_nu
    if out_nu_max is not None:
        n = np.maximum(nu_max, out_nu, out=out_nu_max)  # type: ignore[arg-type]  # both given under AMSGrad; torch: max of the raw nu, corrected by the current bc2
    np.sqrt(n, out=out_p)
    out_p += eps_hat
    np.divide(out_mu, out_p, out=out_p)
    out_p *= step
    out_p += p
    if flush:  # the stored moments only: this step's update used them as computed
        _flush_subnormals(out_mu)
        _flush_subnormals(out_nu)


def _adam_step(
    p: np.ndarray,
    g: np.ndarray,
    state: AdamState,
    lr: float,
    b1: float,
    b2: float,
    eps: float,
    backend: str = "numpy",
    spare: tuple | None = None,
    flush_subnormals: bool = True,
) -> tuple[np.ndarray, AdamState]:
    """The Adam step, once, for Adam and AdamW: new params and state from params ``p`` and gradient ``g``.

    The results are written into ``spare`` = (params, AdamState) when given: arrays from an
    earlier step that the caller owns and gives up (never ``p``, ``g`` or ``state``'s own).
    """
    t = state.count + 1
    # Where the step writes: the spare's arrays, or new ones. (Named one by one, not unpacked from
    # tuples into the kernel's call: at 722 params that costs 0.5 µs of a 10 µs step.)
    if spare is None:
        new = np.empty_like
        out_p, out_mu, out_nu, out_nu_max = new(p), new(p), new(p), None if state.nu_max is None else new(p)
    else:
        out_p, old = spare
        if not isinstance(old, AdamState) or out_p.shape != p.shape or out_p.dtype != p.dtype:
            raise ConfigError(
                f"adam: spare must be (flat params, AdamState) like the current ones, got {type(old).__name__}"
            )
        out_mu, out_nu, out_nu_max = old.mu, old.nu, old.nu_max
    # lr / bc1 * mu / (sqrt(n) / sqrt(bc2) + eps), computed as (lr * sqrt(bc2) / bc1) * mu /
    # (sqrt(n) + eps * sqrt(bc2)): the same number up to rounding, one pass fewer (Kingma & Ba, sec. 2).
    sqrt_bc2 = math.sqrt(1.0 - b2**t)
    kernel = _adam_numpy if backend == "numpy" else _fused.adam_kernel()
    eps_hat, step, flush = eps * sqrt_bc2, -(lr * sqrt_bc2 / (1.0 - b1**t)), flush_subnormals and t % FLUSH_EVERY == 0
    mu, nu, nu_max = state.mu, state.nu, state.nu_max
    if p.size < _threads.MIN_SPLIT:  # one call (a short vector: no closure, no helper thread)
        kernel(p, g, mu, nu, nu_max, out_p, out_mu, out_nu, out_nu_max, b1, b2, eps_hat, step, flush)
    else:  # a long one: both cores, each on one half (elementwise: bitwise the one call's result)

        def part(start: int, stop: int) -> None:
            b = slice(start, stop)
            kernel(
                p[b],
                g[b],
                mu[b],
                nu[b],
                None if nu_max is None else nu_max[b],
                out_p[b],
                out_mu[b],
                out_nu[b],
                None if out_nu_max is None else out_nu_max[b],
                b1,
                b2,
                eps_hat,
                step,
                flush,
            )

        _threads.split_run(part, p.size)
    return out_p, AdamState(t, out_mu, out_nu, out_nu_max)


class _AdamFamily:
    """What Adam and AdamW share: the state, spare buffers and the step itself (see :func:`adam`)."""

    __slots__ = ()
    accepts_spare = True
    # the settings Adam and AdamW declare as attrs fields
    _name: str
    amsgrad: bool
    b1: float
    b2: float
    eps: float
    backend: str
    flush_subnormals: bool

    def init(self, flat: np.ndarray) -> AdamState:
        """The state before the first update: count 0, zero moments (and ``nu_max`` under AMSGrad)."""
        return _adam_init(self._name, flat, self.amsgrad)

    def _step(self, p: np.ndarray, g: np.ndarray, state: AdamState, lr: float, spare: tuple | None) -> tuple:
        return _adam_step(p, g, state, lr, self.b1, self.b2, self.eps, self.backend, spare, self.flush_subnormals)


@value_class
@attrs.frozen
class Adam(_AdamFamily):
    """Adam; built by :func:`adam`, which documents it."""

    lr: Any = lr_field(1e-3)
    b1: float = real(0.9, hi=1.0, hi_open=True)
    b2: float = real(0.999, hi=1.0, hi_open=True)
    eps: float = real(1e-8, lo_open=True)
    amsgrad: bool = flag(False)
    weight_decay: float = real(0.0, kw_only=True)
    backend: str = _backend_field()
    flush_subnormals: bool = flag(True, kw_only=True)
    _name = "adam"

    def update(
        self, old: np.ndarray, grad: np.ndarray, state: AdamState, *, spare: tuple | None = None
    ) -> tuple[np.ndarray, AdamState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`adam`.

        ``spare``: arrays to write the result into; see "Spare buffers" in :mod:`fnn.optim`.
        """
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        return self._step(old, coupled_decay(grad, old, self.weight_decay), state, lr, spare)


@value_class
@attrs.frozen
class AdamW(_AdamFamily):
    """AdamW; built by :func:`adamw`, which documents it."""

    lr: Any = lr_field(1e-3)
    b1: float = real(0.9, hi=1.0, hi_open=True)
    b2: float = real(0.999, hi=1.0, hi_open=True)
    eps: float = real(1e-8, lo_open=True)
    weight_decay: float = real(1e-2)
    amsgrad: bool = flag(False, kw_only=True)
    backend: str = _backend_field()
    flush_subnormals: bool = flag(True, kw_only=True)
    _name = "adamw"

    def update(
        self, old: np.ndarray, grad: np.ndarray, state: AdamState, *, spare: tuple | None = None
    ) -> tuple[np.ndarray, AdamState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`adamw`.

        ``spare``: arrays to write the result into; see "Spare buffers" in :mod:`fnn.optim`.
        """
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        decayed = np.multiply(old, 1.0 - lr * self.weight_decay)  # torch: param.mul_(1 - lr * wd)
        return self._step(decayed, grad, state, lr, spare)


@keywords_checked
def adam(
    lr: Any = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    amsgrad: bool = False,
    *,
    weight_decay: float = 0.0,
    backend: str = "numpy",
    flush_subnormals: bool = True,
) -> Adam:
    """Adam (Kingma & Ba 2015), optionally AMSGrad (Reddi et al. 2018): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.Adam``), at step t = count + 1::

        g  <- g + weight_decay * p       (only if weight_decay != 0; coupled L2)
        mu <- b1 * mu + (1 - b1) * g
        nu <- b2 * nu + (1 - b2) * g**2
        if amsgrad:  nu_max <- max(nu_max, nu);  n = nu_max     (max of the raw nu, as torch)
        else:        n = nu
        p  <- p - lr_t / (1 - b1**t) * mu / (sqrt(n) / sqrt(1 - b2**t) + eps)
        if flush_subnormals and t % 16 == 0:  mu, nu <- 0 where |mu|, |nu| < tiny   (after the step)

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        b1: decay of the first moment, in [0, 1) (torch's ``betas[0]``).
        b2: decay of the second moment, in [0, 1) (torch's ``betas[1]``).
        eps: added to the denominator, > 0.
        amsgrad: use the AMSGrad variant.
        weight_decay: coupled L2 coefficient, >= 0 (for decoupled decay use :func:`adamw`).
        backend: ``"numpy"`` (the default: 12 NumPy passes over the params) or ``"numba"``: the
            same arithmetic fused into one compiled loop (one pass over memory, about 4x faster on
            large nets; needs the ``fast`` extra, ``pip install "fnn[fast]"``, and compiles once
            per process and dtype on first use). The two give bitwise the same results.
        flush_subnormals: every 16th update, set the stored moments smaller than the dtype's
            smallest normal number (``tiny``: 1.2e-38 in float32) to zero. A weight whose gradient
            stays 0 (a dead unit, an input feature that is almost always 0) has a first moment
            that decays into subnormal floats, which x86 CPUs handle slowly (10% of the moments
            subnormal make the update 4x slower); what such a moment adds to the params is below
            float precision. ``False`` keeps torch's arithmetic exactly (the update itself is the
            same either way).

    Returns:
        A frozen :class:`Adam`; its state is :class:`AdamState` ``(count, mu, nu, nu_max)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`adamw`, :func:`adamax`, :func:`nadam`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.adam(0.1)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4), state.count
    (array([ 0.8, -1.8]), 2)
    """
    return Adam(lr, b1, b2, eps, amsgrad, weight_decay=weight_decay, backend=backend, flush_subnormals=flush_subnormals)


@keywords_checked
def adamw(
    lr: Any = 1e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    *,
    amsgrad: bool = False,
    backend: str = "numpy",
    flush_subnormals: bool = True,
) -> AdamW:
    """AdamW, Adam with decoupled weight decay (Loshchilov & Hutter 2019): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.AdamW``): first decay the old params, then take an
    Adam step (without coupled decay) from them::

        p <- p * (1 - lr_t * weight_decay)
        p <- adam_step(p, g)             (the rule of :func:`adam`)

    It equals ``decoupled_weight_decay(adam(lr, b1, b2, eps), weight_decay)``
    bit for bit.

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``; the decay uses the same ``lr_t``.
        b1: decay of the first moment, in [0, 1).
        b2: decay of the second moment, in [0, 1).
        eps: added to the denominator, > 0.
        weight_decay: decoupled decay coefficient, >= 0.
        amsgrad: use the AMSGrad variant.
        backend: ``"numpy"`` (the default: 12 NumPy passes over the params) or ``"numba"``: the
            same arithmetic fused into one compiled loop (one pass over memory, about 4x faster on
            large nets; needs the ``fast`` extra, ``pip install "fnn[fast]"``, and compiles once
            per process and dtype on first use). The two give bitwise the same results.
        flush_subnormals: every 16th update, set subnormal stored moments to zero (see :func:`adam`).

    Returns:
        A frozen :class:`AdamW`; its state is :class:`AdamState`.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`adam`, :func:`fnn.optim.decoupled_weight_decay`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.adamw(0.1, weight_decay=0.5)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.7082, -1.6104])
    """
    return AdamW(lr, b1, b2, eps, weight_decay, amsgrad=amsgrad, backend=backend, flush_subnormals=flush_subnormals)


# ------------------------------------------------------------ Adamax


@register
@attrs.frozen
class AdamaxState:
    """State of :func:`adamax`: the count, the first moment ``mu`` and the
    exponentially weighted infinity norm ``nu`` (the paper's ``u``)."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


@value_class
@attrs.frozen
class Adamax:
    """Adamax; built by :func:`adamax`, which documents it."""

    lr: Any = lr_field(2e-3)
    b1: float = real(0.9, hi=1.0, hi_open=True)
    b2: float = real(0.999, hi=1.0, hi_open=True)
    eps: float = real(1e-8, lo_open=True)
    weight_decay: float = real(0.0, kw_only=True)
    _name = "adamax"

    def init(self, flat: np.ndarray) -> AdamaxState:
        """The state before the first update: count 0 and zero moments."""
        check_params(self._name, flat)
        return AdamaxState(0, zeros(flat), zeros(flat))

    def update(self, old: np.ndarray, grad: np.ndarray, state: AdamaxState) -> tuple[np.ndarray, AdamaxState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`adamax`."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        t = state.count + 1
        b1 = self.b1
        g = coupled_decay(grad, old, self.weight_decay)
        mu = np.multiply(state.mu, b1)
        tmp = np.multiply(g, 1.0 - b1)
        mu += tmp
        np.abs(g, out=tmp)
        tmp += self.eps
        nu = np.multiply(state.nu, self.b2)
        np.maximum(nu, tmp, out=nu)  # u = max(b2 * u, |g| + eps)
        np.divide(mu, nu, out=tmp)
        tmp *= -(lr / (1.0 - b1**t))
        tmp += old
        return tmp, AdamaxState(t, mu, nu)


@keywords_checked
def adamax(
    lr: Any = 2e-3, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *, weight_decay: float = 0.0
) -> Adamax:
    """Adamax, Adam with the infinity norm (Kingma & Ba 2015, sec. 7.1): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.Adamax``), at step t = count + 1::

        g  <- g + weight_decay * p       (only if weight_decay != 0)
        mu <- b1 * mu + (1 - b1) * g
        u  <- max(b2 * u, |g| + eps)
        p  <- p - lr_t / (1 - b1**t) * mu / u

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        b1: decay of the first moment, in [0, 1).
        b2: decay of the infinity norm, in [0, 1).
        eps: added to ``|g|``, > 0.
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`Adamax`; its state is :class:`AdamaxState` ``(count, mu, nu)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`adam`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.adamax(0.1)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.8, -1.8])
    """
    return Adamax(lr, b1, b2, eps, weight_decay=weight_decay)


# ------------------------------------------------------------ NAdam


@register
@attrs.frozen
class NAdamState:
    """State of :func:`nadam`: the count, ``mu_product`` (the product of the momentum
    schedule ``mu_1 ... mu_t``, a Python float), and the moments ``mu`` and ``nu``."""

    count: int
    mu_product: float
    mu: np.ndarray
    nu: np.ndarray


@value_class
@attrs.frozen
class NAdam:
    """NAdam; built by :func:`nadam`, which documents it."""

    lr: Any = lr_field(2e-3)
    b1: float = real(0.9, hi=1.0, hi_open=True)
    b2: float = real(0.999, hi=1.0, hi_open=True)
    eps: float = real(1e-8, lo_open=True)
    momentum_decay: float = real(4e-3)
    weight_decay: float = real(0.0, kw_only=True)
    _name = "nadam"

    def init(self, flat: np.ndarray) -> NAdamState:
        """The state before the first update: count 0, ``mu_product`` 1.0 and zero moments."""
        check_params(self._name, flat)
        return NAdamState(0, 1.0, zeros(flat), zeros(flat))

    def _momentum_at(self, t: int) -> float:
        return self.b1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))

    def update(self, old: np.ndarray, grad: np.ndarray, state: NAdamState) -> tuple[np.ndarray, NAdamState]:
        """Return the NEW PARAMS (not an update to add) and the next state; the rule is in :func:`nadam`."""
        check_step(self._name, old, grad)
        lr = lr_at(self._name, self.lr, state.count)
        t = state.count + 1
        g = coupled_decay(grad, old, self.weight_decay)
        mu_t, mu_next = self._momentum_at(t), self._momentum_at(t + 1)
        mu_product = state.mu_product * mu_t
        mu, nu, tmp = _moments(state.mu, state.nu, g, self.b1, self.b2)
        # d = sqrt(nu / bc2) + eps = (sqrt(nu) + eps * sqrt(bc2)) / sqrt(bc2): fold sqrt(bc2)
        # into the two scalar coefficients (equal up to rounding, one pass fewer).
        sqrt_bc2 = math.sqrt(1.0 - self.b2**t)
        np.sqrt(nu, out=tmp)
        tmp += self.eps * sqrt_bc2
        grad_part = np.divide(g, tmp)
        grad_part *= -lr * sqrt_bc2 * (1.0 - mu_t) / (1.0 - mu_product)
        grad_part += old
        np.divide(mu, tmp, out=tmp)
        tmp *= -lr * sqrt_bc2 * mu_next / (1.0 - mu_product * mu_next)
        tmp += grad_part
        return tmp, NAdamState(t, mu_product, mu, nu)


@keywords_checked
def nadam(
    lr: Any = 2e-3,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    momentum_decay: float = 4e-3,
    *,
    weight_decay: float = 0.0,
) -> NAdam:
    """NAdam, Adam with Nesterov momentum (Dozat 2016): ``update`` returns the NEW PARAMS.

    Update rule (``torch.optim.NAdam``, with its momentum schedule ``mu_t`` and
    running product), at step t = count + 1::

        g    <- g + weight_decay * p     (only if weight_decay != 0)
        mu_t  = b1 * (1 - 0.5 * 0.96**(t * momentum_decay))
        mu_t1 = b1 * (1 - 0.5 * 0.96**((t + 1) * momentum_decay))
        P_t   = mu_1 * ... * mu_t        (kept in the state as mu_product)
        mu   <- b1 * mu + (1 - b1) * g
        nu   <- b2 * nu + (1 - b2) * g**2
        d     = sqrt(nu / (1 - b2**t)) + eps
        p    <- p - lr_t * (1 - mu_t) / (1 - P_t) * g / d
                  - lr_t * mu_t1 / (1 - P_t * mu_t1) * mu / d

    Args:
        lr: learning rate >= 0, or a schedule ``lr(count)``.
        b1: decay of the first moment, in [0, 1).
        b2: decay of the second moment, in [0, 1).
        eps: added to the denominator, > 0.
        momentum_decay: ``psi`` of the momentum schedule, >= 0.
        weight_decay: coupled L2 coefficient, >= 0.

    Returns:
        A frozen :class:`NAdam`; its state is :class:`NAdamState` ``(count, mu_product, mu, nu)``.

    Raises:
        ConfigError: a hyperparameter out of range.

    See Also:
        :func:`adam`, :func:`nesterov`.

    >>> import numpy as np
    >>> from fnn import optim
    >>> opt = optim.nadam(0.1)
    >>> p = np.array([1.0, -2.0]); state = opt.init(p)
    >>> for _ in range(2):
    ...     p, state = opt.update(p, 2 * p, state)
    >>> p.round(4)
    array([ 0.82  , -1.8179])
    """
    return NAdam(lr, b1, b2, eps, momentum_decay, weight_decay=weight_decay)
