"""Recurrent layers on sequences ``(n, T, d)``: ``SimpleRNN``, ``GRU`` and ``LSTM``, with PyTorch's equations.

Each reads the time steps of a sample in order (and, with ``bidirectional=True``, in reverse
order too) from a state of zeros, and returns the last state ``(n, hidden)`` or, with
``return_sequences=True``, the state after every step ``(n, T, hidden)``; two directions are
concatenated on the last axis (``2·hidden``: forward first, as ``torch.nn.GRU``'s output).
The equations, gate orders and biases are ``torch.nn.RNN``/``GRU``/``LSTM``'s, for input
``x`` and previous state ``h`` (σ the logistic function, ⊙ the elementwise product):

- ``SimpleRNN``: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, ``act`` tanh or relu.
- ``GRU``, gates (r, z, n): ``r = σ(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise,
  ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`` (the reset gate multiplies the hidden
  projection, bias included), ``h' = (1 − z) ⊙ n + z ⊙ h``.
- ``LSTM``, gates (i, f, g, o): ``i, f, o = σ(W_i* x + b_i* + W_h* h + b_h*)``, ``g`` with
  tanh, ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``; no forget-gate bias is added.

**Parameters and PyTorch's.** Weights are stored as fnn's Dense stores them, ``(in, out)``,
with the gates side by side in torch's order along the last axis: ``w_ih`` (d, G·hidden),
``w_hh`` (hidden, G·hidden), ``b_ih`` and ``b_hh`` (G·hidden,), G = 1, 3 or 4; the reverse
direction has its own ``*_reverse`` leaves. So torch's ``weight_ih_l0`` is ``w_ih.T``,
``weight_hh_l0_reverse`` is ``w_hh_reverse.T``, ``bias_ih_l0`` is ``b_ih``:
:func:`to_torch` and :func:`from_torch` move them (as NumPy arrays, under torch's names).
``init="torch"`` (the default) draws every leaf from U(−1/√hidden, 1/√hidden), as torch
does; an fnn initializer name draws the two weights with it and starts the biases at zero.

**Padding.** With ``mask_value=v``, a time step whose features all equal ``v`` is padding
(Keras's ``Masking(v)`` convention, decided by the layer itself, since layers pass one array):
the state goes through it unchanged, the output there is zero (``return_sequences``), and
nothing at a padded step reaches the output or the gradients, so a padded sequence gives the
results of the unpadded one. Padding may sit anywhere; the reverse direction skips it too, so
right-padded sequences read backwards from their own last step (torch's packed sequences). A
sequence that is padding throughout keeps the zero state: its output is zeros. The test is on
the layer's own input: after an Embedding, a padding id must embed to exactly ``v``.

>>> import numpy as np, fnn
>>> spec = fnn.Sequential([fnn.GRU(4, mask_value=0.0)], in_shape=(5, 2), dtype=np.float64)
>>> p = fnn.init(fnn.random.key(0), spec)
>>> x = fnn.random.normal(fnn.random.key(1), (1, 3, 2))                # a sequence of 3 steps
>>> padded = np.concatenate([x, np.zeros((1, 2, 2))], axis=1)        # padded to the network's 5
>>> alone = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.GRU(4)], in_shape=(3, 2), dtype=np.float64))
>>> bool(np.allclose(fnn.apply(p, padded), fnn.apply(alone, x), rtol=1e-12))
True

**Speed and memory.** The input projections of all steps are computed before the time loop;
each step then runs one matrix product (both directions of a bidirectional layer, and every
member of a stack, batched in one ``np.matmul``) and a few elementwise passes on contiguous
gate blocks. The backward loop carries only the state gradients; the gate factors it needs
are computed for blocks of steps at once, and each weight gradient is one matrix product over
all steps after the loop (backpropagation through time). The forward keeps the states and the
gates, 1 (SimpleRNN), 5 (GRU) or 7 (LSTM) numbers per unit, step and direction, and the
backward needs about as many again: memory O(n·T·hidden).

**Stacks.** In a stack of K networks every leaf has a leading axis K and the input is
``(K, n, T, d)``; the members run the same products and passes one network runs, batched.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import attrs
import numpy as np

from fnn import initializers, random, tree
from fnn._checks import boolean, is_real
from fnn._reductions import constants, ones
from fnn.errors import ConfigError, ShapeError
from fnn.layers.base import (
    backward,
    check_size,
    details,
    forward,
    init_node,
    out_shape,
    stackable,
    uses_key,
    weight_field,
    writes_every_grad,
)

__all__ = [
    "SimpleRNN",
    "SimpleRNNParams",
    "GRU",
    "GRUParams",
    "LSTM",
    "LSTMParams",
    "to_torch",
    "from_torch",
]


# ------------------------------------------------------------------ specs


def _flag(owner: str, name: str, value: object) -> bool:
    return boolean(value, f"{owner} {name}")


def _mask_value(owner: str, value: Any) -> float | None:
    if value is None:
        return None
    if not is_real(value) or not math.isfinite(value):
        raise ConfigError(
            f"{owner} mask_value must be a finite number (the feature value of padded steps) or None, got {value!r}"
        )
    return float(value)


def _init(owner: str, value: object) -> str | initializers.Initializer:
    if value == "torch":
        return "torch"
    try:
        return initializers.get(value)  # type: ignore[arg-type]
    except ConfigError as e:
        raise ConfigError(f"{owner} init must be 'torch' (PyTorch's default) or an fnn initializer: {e}") from None


@attrs.frozen
class _RecurrentSpec:
    # Checked in __attrs_post_init__, where the messages can name the layer type.
    hidden: int
    return_sequences: bool = attrs.field(default=False, kw_only=True)
    bidirectional: bool = attrs.field(default=False, kw_only=True)
    mask_value: float | None = attrs.field(default=None, kw_only=True)
    init: Any = attrs.field(default="torch", kw_only=True)

    def __attrs_post_init__(self) -> None:
        owner = type(self).__name__
        checked = {
            "hidden": check_size(self.hidden, f"{owner} hidden"),
            "return_sequences": _flag(owner, "return_sequences", self.return_sequences),
            "bidirectional": _flag(owner, "bidirectional", self.bidirectional),
            "mask_value": _mask_value(owner, self.mask_value),
            "init": _init(owner, self.init),
        }
        if isinstance(self, SimpleRNN) and self.activation not in ("tanh", "relu"):
            raise ConfigError(
                f"SimpleRNN activation must be 'tanh' or 'relu' (torch.nn.RNN's nonlinearity), got {self.activation!r}"
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    def describe(self) -> str:
        flags = [f for f, on in (("sequences", self.return_sequences), ("bidirectional", self.bidirectional)) if on]
        return f"{type(self).__name__}({', '.join([str(self.hidden), *flags])})"


@tree.value_class
@attrs.frozen
class SimpleRNN(_RecurrentSpec):
    """Spec of an Elman RNN, ``h' = act(W_ih x + b_ih + W_hh h + b_hh)`` (``torch.nn.RNN``).

    Args:
        hidden: the state's width.
        activation: ``"tanh"`` (default) or ``"relu"``.
        return_sequences: output every step's state ``(n, T, hidden)`` instead of the last ``(n, hidden)``.
        bidirectional: also read the sequence backwards; outputs concatenated (``2·hidden``).
        mask_value: steps whose features all equal it are padding (see :mod:`fnn.layers.recurrent`).
        init: ``"torch"`` (U(±1/√hidden) for every leaf) or an fnn initializer for the weights.

    >>> import fnn
    >>> fnn.SimpleRNN(8, activation="relu", return_sequences=True).describe()
    'SimpleRNN(8, sequences)'
    """

    activation: str = attrs.field(default="tanh", kw_only=True)


@tree.value_class
@attrs.frozen
class GRU(_RecurrentSpec):
    """Spec of a gated recurrent unit with torch's equations and gate order (r, z, n) (``torch.nn.GRU``).

    Args: as :class:`SimpleRNN` (without ``activation``).

    >>> import numpy as np, fnn
    >>> spec = fnn.Sequential([fnn.GRU(8, bidirectional=True)], in_shape=(20, 3))
    >>> fnn.apply(fnn.init(fnn.random.key(0), spec), np.ones((4, 20, 3))).shape
    (4, 16)
    """


@tree.value_class
@attrs.frozen
class LSTM(_RecurrentSpec):
    """Spec of a long short-term memory layer with torch's equations and gate order (i, f, g, o) (``torch.nn.LSTM``).

    The cell state starts at zero with the hidden state; the output is the hidden state.
    Args: as :class:`SimpleRNN` (without ``activation``).

    >>> import numpy as np, fnn
    >>> spec = fnn.Sequential([fnn.LSTM(5, return_sequences=True)], in_shape=(7, 2))
    >>> fnn.apply(fnn.init(fnn.random.key(0), spec), np.ones((3, 7, 2))).shape
    (3, 7, 5)
    """


# ------------------------------------------------------------------ params nodes


@attrs.frozen
class _RecurrentParams:
    w_ih: np.ndarray = weight_field()
    w_hh: np.ndarray = weight_field()
    b_ih: np.ndarray  # type: ignore[misc]
    b_hh: np.ndarray  # type: ignore[misc]
    w_ih_reverse: np.ndarray | None = weight_field(default=None)
    w_hh_reverse: np.ndarray | None = weight_field(default=None)
    b_ih_reverse: np.ndarray | None = None
    b_hh_reverse: np.ndarray | None = None
    return_sequences: bool = tree.static_field(default=False)
    mask_value: float | None = tree.static_field(default=None)

    @property
    def hidden(self) -> int:
        """The state's width (per direction)."""
        return self.w_hh.shape[-2]

    @property
    def directions(self) -> int:
        """1, or 2 for a bidirectional layer."""
        return 1 if self.w_ih_reverse is None else 2

    def describe(self) -> str:
        width = f"2×{self.hidden}" if self.directions == 2 else str(self.hidden)
        return f"{type(self).__name__.removesuffix('Params')}({self.w_ih.shape[-2]}→{width})"


@tree.register
@attrs.frozen
class SimpleRNNParams(_RecurrentParams):  # type: ignore[misc]
    """Parameters of a :class:`SimpleRNN`.

    ``w_ih`` (d, H), ``w_hh`` (H, H), ``b_ih``, ``b_hh`` (H,) (and ``*_reverse``)."""

    activation: str = tree.static_field(default="tanh")


@tree.register
@attrs.frozen
class GRUParams(_RecurrentParams):  # type: ignore[misc]
    """Parameters of a :class:`GRU`: ``w_ih`` (d, 3H), ``w_hh`` (H, 3H), ``b_ih``, ``b_hh`` (3H,), gates (r, z, n)."""


@tree.register
@attrs.frozen
class LSTMParams(_RecurrentParams):  # type: ignore[misc]
    """Parameters of an :class:`LSTM`.

    ``w_ih`` (d, 4H), ``w_hh`` (H, 4H), ``b_ih``, ``b_hh`` (4H,), gates (i, f, g, o)."""


_PARAMS = {SimpleRNN: SimpleRNNParams, GRU: GRUParams, LSTM: LSTMParams}
_GATES = {SimpleRNNParams: 1, GRUParams: 3, LSTMParams: 4}
_LEAVES = ("w_ih", "w_hh", "b_ih", "b_hh")


def _sequence_shape(name: str, in_shape: tuple) -> tuple[int, int]:
    if len(in_shape) != 2:
        raise ConfigError(
            f"{name} expects sequences: inputs of shape (n, T, d), samples (T, d); "
            f"got samples of shape {tuple(in_shape)} "
            f"(inputs (n, {', '.join(map(str, in_shape))})); T steps of one feature are x[..., None], one step of d "
            f"features x[:, None]"
        )
    return in_shape[0], in_shape[1]


@out_shape.register(SimpleRNN)
@out_shape.register(GRU)
@out_shape.register(LSTM)
def _(spec: _RecurrentSpec, in_shape: tuple) -> tuple:
    steps, _ = _sequence_shape(spec.describe(), in_shape)
    width = spec.hidden * (2 if spec.bidirectional else 1)
    return (steps, width) if spec.return_sequences else (width,)


@init_node.register(SimpleRNN)
@init_node.register(GRU)
@init_node.register(LSTM)
def _(spec: _RecurrentSpec, key, in_shape, dtype):
    _, d = _sequence_shape(spec.describe(), in_shape)
    cls = _PARAMS[type(spec)]
    h = spec.hidden
    shapes = ((d, _GATES[cls] * h), (h, _GATES[cls] * h), (_GATES[cls] * h,), (_GATES[cls] * h,))
    directions = 2 if spec.bidirectional else 1
    keys = iter(random.split(key, 4 * directions))
    leaves: dict[str, np.ndarray] = {}
    for suffix in ("", "_reverse")[:directions]:
        for name, shape in zip(_LEAVES, shapes, strict=True):
            k = next(keys)
            if spec.init == "torch":
                bound = 1.0 / math.sqrt(h)
                leaves[name + suffix] = random.uniform(k, shape, minval=-bound, maxval=bound, dtype=dtype)
            elif name.startswith("w"):
                leaves[name + suffix] = spec.init(k, shape, dtype)
            else:
                leaves[name + suffix] = np.zeros(shape, dtype)
    extra = {"activation": spec.activation} if cls is SimpleRNNParams else {}  # type: ignore[attr-defined]
    return cls(**leaves, return_sequences=spec.return_sequences, mask_value=spec.mask_value, **extra)


for _cls in (SimpleRNNParams, GRUParams, LSTMParams):
    uses_key.register(_cls, lambda node: False)
    stackable.register(_cls, lambda node: True)
    writes_every_grad.register(_cls, lambda node: True)


@details.register(SimpleRNNParams)
@details.register(GRUParams)
@details.register(LSTMParams)
def _(node: _RecurrentParams) -> str:
    parts = [node.activation] if isinstance(node, SimpleRNNParams) else []
    parts.append("sequences" if node.return_sequences else "last step")
    if node.directions == 2:
        parts.append("bidirectional")
    if node.mask_value is not None:
        parts.append(f"mask {node.mask_value:g}")
    return ", ".join(parts)


# ------------------------------------------------------------------ torch's names


def to_torch(node: _RecurrentParams) -> dict[str, np.ndarray]:
    """The layer's parameters under ``torch.nn.RNN``/``GRU``/``LSTM``'s names and layouts (new NumPy arrays).

    Load them with ``module.load_state_dict({k: torch.tensor(v) for k, v in to_torch(node).items()})``
    into a one-layer module with ``batch_first=True`` and the same ``hidden_size``/``bidirectional``.

    Raises:
        ConfigError: ``node`` is a stack's (take one member with ``fnn.stacked.member``).

    >>> import fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.GRU(4)], in_shape=(6, 3)))
    >>> {k: v.shape for k, v in fnn.layers.recurrent.to_torch(p.layers[0]).items()}
    {'weight_ih_l0': (12, 3), 'weight_hh_l0': (12, 4), 'bias_ih_l0': (12,), 'bias_hh_l0': (12,)}
    """
    if node.w_hh.ndim != 2:
        raise ConfigError(f"to_torch takes one network's {node.describe()}, got a stack's (leaves {node.w_hh.shape})")
    out = {}
    for suffix in ("", "_reverse")[: node.directions]:
        for name in _LEAVES:
            leaf = np.asarray(getattr(node, name + suffix))
            out[_torch_name(name, suffix)] = np.array(leaf.T if leaf.ndim == 2 else leaf)
    return out


def _torch_name(name: str, suffix: str) -> str:
    kind, which = name.split("_")
    return f"{'weight' if kind == 'w' else 'bias'}_{which}_l0{suffix}"


def from_torch(node: _RecurrentParams, state_dict: dict) -> _RecurrentParams:
    """A params node like ``node`` (same type and settings) holding the arrays of a torch module's ``state_dict``.

    ``state_dict`` maps torch's names (``weight_ih_l0``, ..., ``*_reverse``) to arrays (NumPy
    arrays, or CPU tensors, e.g. ``module.state_dict()``); values are cast to ``node``'s dtype.
    Put the node into a network with ``attrs.evolve(params, layers=...)`` and ``fnn.tree.pack``.

    Raises:
        ConfigError: a name is missing, or one is there that this layer does not have.
        ShapeError: an array's shape is not the one this layer needs (both are named).

    >>> import numpy as np, fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.LSTM(2)], in_shape=(4, 3)))
    >>> node = p.layers[0]
    >>> back = fnn.layers.recurrent.from_torch(node, fnn.layers.recurrent.to_torch(node))
    >>> fnn.tree.equal(back, node)
    True
    """
    suffixes = ("", "_reverse")[: node.directions]
    expected = {_torch_name(n, s): (n + s, getattr(node, n + s)) for s in suffixes for n in _LEAVES}
    names = set(state_dict)
    if names != set(expected):
        missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
        raise ConfigError(f"from_torch into {node.describe()}: missing {missing}, unexpected {extra}")
    if node.w_hh.ndim != 2:
        raise ConfigError(f"from_torch takes one network's {node.describe()}, got a stack's (leaves {node.w_hh.shape})")
    leaves = {}
    for torch_name, (name, leaf) in expected.items():
        value, want = np.asarray(state_dict[torch_name]), leaf.T.shape
        if value.shape != want:
            raise ShapeError(
                f"from_torch into {node.describe()}: {torch_name} has shape {value.shape}, this layer needs {want}"
            )
        leaves[name] = np.array(value.T, dtype=leaf.dtype)
    return attrs.evolve(node, **leaves)  # type: ignore[arg-type]


# ------------------------------------------------------------------ running it
#
# Internally every (member, direction) pair is one of B "lanes" (B = K·D), batched by np.matmul,
# and the arrays are feature-major, (…, features, n), so that each gate is a contiguous block of
# rows: per step, a lane's state is h (H, n) and its gate pre-activations W_hh h (G·H, n).
# Arrays the time loops walk are time-first, (T, B, ·, n); the inputs and the gate gradients,
# which the weight gradients contract over all steps at once, are lanes-first, (B, ·, T, n) (the
# loop writes step t's strided view), so that no transposing copy of them is made. Both are in
# each lane's processing order (the reverse direction's step s is time T−1−s). The sigmoid
# gates run as σ(a) = ½·tanh(a/2) + ½, which never overflows; their rows of the forward weights
# and biases are stored pre-halved (exact: a power of two), so each costs one tanh and two passes.


class _Kind(NamedTuple):
    gates: int
    order: tuple  # torch's gate blocks in the internal order
    sigmoids: int  # the internal order's leading blocks that are sigmoid gates


_KINDS = {
    SimpleRNNParams: _Kind(1, (0,), 0),
    GRUParams: _Kind(3, (0, 1, 2), 2),  # (r, z, n)
    LSTMParams: _Kind(4, (3, 0, 1, 2), 3),  # (o, i, f, g): the sigmoids first, and i, f, g together for the backward
}

# Rows per block of steps for the backward's gate factors: a block's factors stay in cache.
_BLOCK_ELEMENTS = 1 << 15
# ½ and 0 as 0-d arrays of each dtype: a Python float is converted at every call (0.6 against 0.3 µs a pass).
_HALF = constants(lambda dtype: np.array(0.5, dtype))
_ZERO = constants(lambda dtype: np.zeros((), dtype))


def _blocks(index: tuple, hidden: int) -> np.ndarray:
    return np.concatenate([np.arange(b * hidden, (b + 1) * hidden) for b in index])


class _Weights(NamedTuple):
    wi: np.ndarray  # (B, d, G·H) internal order, sigmoid columns halved: the input projection
    wi_true: np.ndarray  # (B, d, G·H) internal order: for the input gradient
    wh: np.ndarray  # (B, G·H, H + 1) internal order, [W_hh | b_hh], sigmoid rows halved: the forward step
    wh_back: np.ndarray  # (B, H, G·H) in the order of the backward's gate gradients
    bias: np.ndarray  # (B, G·H, 1): b_ih, added to the input projection (halved where sigmoid)


def _lanes(node: _RecurrentParams, name: str) -> np.ndarray:
    """Leaf ``name`` of every direction, (*lead, D, ...) → (B, ...)."""
    fwd, rev = getattr(node, name), getattr(node, name + "_reverse")
    both = fwd[..., None, :, :] if fwd.ndim == node.w_hh.ndim else fwd[..., None, :]
    if rev is not None:
        both = np.stack([fwd, rev], axis=-3 if fwd.ndim == node.w_hh.ndim else -2)
    return both.reshape(-1, *fwd.shape[node.w_hh.ndim - 2 :])


def _weights(node: _RecurrentParams, kind: _Kind) -> _Weights:
    # The states carry a row of ones (see _run), so W_hh h + b_hh is one product: b_hh is the last
    # column of the recurrent weights. GRU's b_hn, inside the reset gate, needs nothing more.
    h = node.hidden
    order = _blocks(kind.order, h)
    half = slice(0, kind.sigmoids * h)
    wi_true = np.ascontiguousarray(_lanes(node, "w_ih")[..., order])
    wh_true = _lanes(node, "w_hh")[..., order]
    wi = wi_true.copy()
    wi[..., half] *= 0.5
    wh = np.concatenate([wh_true, _lanes(node, "b_hh")[:, None, order]], axis=1).swapaxes(-1, -2).copy()
    wh[:, half] *= 0.5
    bias = _lanes(node, "b_ih")[..., order, None]
    bias[:, half] *= 0.5
    back = _blocks((2, 0, 1), h) if type(node) is GRUParams else slice(None)  # GRU: (hn, r, z), see _gru_backward
    return _Weights(wi, wi_true, wh, np.ascontiguousarray(wh_true[..., back]), bias)


class _Layout(NamedTuple):
    lead: tuple  # () for one network, (K,) for a stack
    n: int
    steps: int
    directions: int

    @property
    def lanes(self) -> int:
        return math.prod(self.lead) * self.directions


def _by_lane(a: np.ndarray, layout: _Layout) -> np.ndarray:
    """(*lead, n, T, F) in time order → (B, F, T, n), each lane's steps in its processing order (a new array)."""
    rank = len(layout.lead)
    moved = a.transpose(*range(rank), rank + 2, rank + 1, rank)  # (*lead, F, T, n)
    out = np.empty((*layout.lead, layout.directions, *moved.shape[rank:]), a.dtype)
    out[..., 0, :, :, :] = moved
    if layout.directions == 2:
        out[..., 1, :, :, :] = moved[..., ::-1, :]
    return out.reshape(layout.lanes, *moved.shape[rank:])


class _Saved(NamedTuple):
    layout: _Layout
    weights: _Weights
    xs: np.ndarray  # (B, d, T, n): the inputs, feature-major, in each lane's processing order
    h: np.ndarray  # (T + 1, B, H + 1, n): the states, h[0] = 0, and a last row of ones
    cell: tuple  # the kind's gate values (see the forward loops)
    padded: np.ndarray | None  # (T, B, 1, n) bool: padded steps of each lane, or None without padding
    padded_steps: tuple  # per processing step: whether any lane pads there
    valid: np.ndarray | None  # (*lead, n, T) bool: the non-padded steps, or None


def _check_input(node: _RecurrentParams, x: np.ndarray) -> _Layout:
    stacked = node.w_hh.ndim == 3
    rank = 4 if stacked else 3
    if x.ndim != rank:
        want = "(K, n, T, d) in a stack of K networks" if stacked else "(n, T, d)"
        raise ShapeError(f"{node.describe()} expects inputs of shape {want}, got an array of shape {x.shape}")
    d = node.w_ih.shape[-2]
    if x.shape[-1] != d:
        raise ShapeError(f"{node.describe()}: its inputs have {x.shape[-1]} features per step, its weights take {d}")
    return _Layout(x.shape[:1] if stacked else (), x.shape[-3], x.shape[-2], node.directions)


def _padding(node: _RecurrentParams, x: np.ndarray, layout: _Layout) -> tuple:
    if node.mask_value is None:
        return None, (), None
    valid = np.any(x != x.dtype.type(node.mask_value), axis=-1)  # (*lead, n, T)
    if valid.all():
        return None, (), None
    padded = ~_by_lane(valid[..., None], layout)  # (B, 1, T, n)
    padded = np.ascontiguousarray(padded.transpose(2, 0, 1, 3))  # (T, B, 1, n)
    return padded, tuple(padded.reshape(layout.steps, -1).any(axis=1).tolist()), valid  # type: ignore[arg-type]


def _input_projection(w: _Weights, xs: np.ndarray) -> np.ndarray:
    """(T, B, G·H, n): every step's ``W_ih x + biases`` (as :func:`_weights` folds them), one product per step and lane.

    Computed straight into the layout of the time loop (a product over all rows at once, then a
    transposing copy, costs twice as much); with one feature an outer product, which BLAS is slow at.
    """
    steps = xs.transpose(2, 0, 1, 3)  # (T, B, d, n)
    weights = w.wi.swapaxes(-1, -2)  # (B, G·H, d)
    gi = np.multiply(weights, steps) if xs.shape[1] == 1 else np.matmul(weights, steps)
    gi += w.bias
    return gi


def _run(node: _RecurrentParams, x: np.ndarray) -> tuple[np.ndarray, _Saved]:
    layout = _check_input(node, x)
    kind = _KINDS[type(node)]
    w = _weights(node, kind)
    xs = _by_lane(x, layout)
    padded, padded_steps, valid = _padding(node, x, layout)
    gi = _input_projection(w, xs)
    h = np.empty((layout.steps + 1, layout.lanes, node.hidden + 1, layout.n), x.dtype)
    h[0] = 0
    h[:, :, -1] = 1  # the ones that multiply b_hh in the step's product
    loop = {SimpleRNNParams: _rnn_forward, GRUParams: _gru_forward, LSTMParams: _lstm_forward}[type(node)]
    cell = loop(node, w, gi, h, padded, padded_steps)
    saved = _Saved(layout, w, xs, h, cell, padded, padded_steps, valid)
    return _output(node, saved), saved


def _output(node: _RecurrentParams, saved: _Saved) -> np.ndarray:
    lay, hid = saved.layout, node.hidden
    if not node.return_sequences:  # the final state of every lane: (B, H, n) → (*lead, n, D·H)
        last = saved.h[-1, :, :hid].reshape(*lay.lead, lay.directions, hid, lay.n)
        return np.ascontiguousarray(np.moveaxis(last, -1, -3)).reshape(*lay.lead, lay.n, lay.directions * hid)
    states = saved.h[1:, :, :hid].reshape(lay.steps, *lay.lead, lay.directions, hid, lay.n)
    rank = len(lay.lead)
    states = states.transpose(*range(1, rank + 1), rank + 3, 0, rank + 1, rank + 2)  # (*lead, n, T, D, H)
    y = np.empty(states.shape, states.dtype)
    y[..., 0, :] = states[..., 0, :]
    if lay.directions == 2:
        y[..., 1, :] = states[..., ::-1, 1, :]
    if saved.valid is not None:
        np.copyto(y, 0, where=~saved.valid[..., None, None])
    return y.reshape(*lay.lead, lay.n, lay.steps, lay.directions * hid)


def _rnn_forward(node, w, gi, h, padded, padded_steps):
    relu = node.activation == "relu"
    zero = _ZERO[h.dtype]
    for t, (gi_t, h_prev, h_new) in enumerate(zip(gi, h[:-1], h[1:, :, :-1], strict=True)):
        np.matmul(w.wh, h_prev, out=h_new)
        h_new += gi_t
        if relu:
            np.maximum(h_new, zero, out=h_new)
        else:
            np.tanh(h_new, out=h_new)
        if padded_steps and padded_steps[t]:
            np.copyto(h_new, h_prev[:, :-1], where=padded[t])
    return ()


def _gru_forward(node, w, gi, h, padded, padded_steps):
    hid = node.hidden
    steps, lanes, _, n = gi.shape
    gates = np.empty(gi.shape, h.dtype)  # (r, z, W_hn h + b_hn)
    new = np.empty((steps, lanes, hid, n), h.dtype)  # n
    half = _HALF[h.dtype]
    views = zip(
        gi[:, :, : 2 * hid],
        gi[:, :, 2 * hid :],
        gates,
        gates[:, :, : 2 * hid],
        gates[:, :, :hid],
        gates[:, :, hid : 2 * hid],
        gates[:, :, 2 * hid :],
        new,
        h[:-1],
        h[1:, :, :-1],
        strict=True,
    )
    for t, (gi_rz, gi_n, gh, rz, r, z, hn, n_t, h_ones, h_new) in enumerate(views):
        h_prev = h_ones[:, :-1]
        np.matmul(w.wh, h_ones, out=gh)  # W_hh h + b_hh
        rz += gi_rz
        np.tanh(rz, out=rz)
        np.multiply(rz, half, out=rz)
        np.add(rz, half, out=rz)
        np.multiply(r, hn, out=n_t)
        n_t += gi_n
        np.tanh(n_t, out=n_t)
        np.subtract(h_prev, n_t, out=h_new)  # h' = (h − n) ⊙ z + n, torch's own order
        h_new *= z
        h_new += n_t
        if padded_steps and padded_steps[t]:
            np.copyto(h_new, h_prev, where=padded[t])
    return gates, new


def _lstm_forward(node, w, gi, h, padded, padded_steps):
    hid = node.hidden
    steps, lanes, _, n = gi.shape
    gates = np.empty(gi.shape, h.dtype)  # (o, i, f, g) after their activations
    c = np.empty((steps + 1, lanes, hid, n), h.dtype)
    c[0] = 0
    tc = np.empty((steps, lanes, hid, n), h.dtype)  # tanh(c')
    ig = np.empty((lanes, hid, n), h.dtype)
    half = _HALF[h.dtype]
    b = [gates[:, :, k * hid : (k + 1) * hid] for k in range(4)]
    views = zip(gi, gates, gates[:, :, : 3 * hid], *b, c[:-1], c[1:], tc, h[:-1], h[1:, :, :-1], strict=True)
    for t, (gi_t, a, sig, o, i, f, g, c_prev, c_new, tc_t, h_ones, h_new) in enumerate(views):
        np.matmul(w.wh, h_ones, out=a)
        a += gi_t
        np.tanh(a, out=a)
        np.multiply(sig, half, out=sig)
        np.add(sig, half, out=sig)
        np.multiply(f, c_prev, out=c_new)
        np.multiply(i, g, out=ig)
        c_new += ig
        np.tanh(c_new, out=tc_t)
        np.multiply(o, tc_t, out=h_new)
        if padded_steps and padded_steps[t]:
            np.copyto(c_new, c_prev, where=padded[t])
            np.copyto(h_new, h_ones[:, :-1], where=padded[t])
    return gates, c, tc


@forward.register(SimpleRNNParams)
@forward.register(GRUParams)
@forward.register(LSTMParams)
def _(node, x, key, train):
    return _run(node, x)


# ------------------------------------------------------------------ backward


def _upstream(node: _RecurrentParams, g: np.ndarray, saved: _Saved) -> np.ndarray:
    """The output gradient per processing step, (T, B, H, n) (zero at padded steps), for return_sequences."""
    lay, hid = saved.layout, node.hidden
    g = g.reshape(*lay.lead, lay.n, lay.steps, lay.directions, hid)
    rank = len(lay.lead)
    g = g.transpose(rank + 1, *range(rank), rank + 2, rank + 3, rank)  # (T, *lead, D, H, n)
    steps = np.empty(g.shape, g.dtype)
    steps[..., 0, :, :] = g[..., 0, :, :]
    if lay.directions == 2:
        steps[..., 1, :, :] = g[::-1, ..., 1, :, :]
    steps = steps.reshape(lay.steps, lay.lanes, hid, lay.n)
    if saved.padded is not None:
        np.copyto(steps, 0, where=saved.padded)
    return steps


def _final(node: _RecurrentParams, g: np.ndarray, saved: _Saved) -> np.ndarray:
    """The gradient of the final states, (B, H, n), for an output of the last step."""
    lay = saved.layout
    g = g.reshape(*lay.lead, lay.n, lay.directions, node.hidden)
    return np.ascontiguousarray(np.moveaxis(g, -3, -1)).reshape(lay.lanes, node.hidden, lay.n)


def _step_blocks(steps: int, per_step: int) -> list[tuple[int, int]]:
    """Blocks [a, b) of steps, last first, of about _BLOCK_ELEMENTS elements per factor array."""
    size = max(1, min(steps, _BLOCK_ELEMENTS // max(per_step, 1)))
    return [(a, min(a + size, steps)) for a in range(0, steps, size)][::-1]


def _rnn_backward(node, saved, dh, g_steps, grads):
    w, h, padded, padded_steps = saved.weights, saved.h, saved.padded, saved.padded_steps
    relu = node.activation == "relu"
    e = grads.transpose(2, 0, 1, 3)  # (T, B, H, n): step t's view
    dh2 = np.empty_like(dh)
    carry = np.empty_like(dh) if padded is not None else None
    for a, b in _step_blocks(h.shape[0] - 1, dh.size):
        out = h[a + 1 : b + 1, :, :-1]
        factor = (out > 0).astype(out.dtype) if relu else 1 - out * out  # act'(a), from the output
        if padded is not None:
            np.copyto(factor, 0, where=padded[a:b])
        for t in range(b - 1, a - 1, -1):
            if g_steps is not None:
                dh += g_steps[t]
            np.multiply(dh, factor[t - a], out=e[t])
            np.matmul(w.wh_back, e[t], out=dh2)
            if padded_steps and padded_steps[t]:  # a padded step passes the gradient on unchanged
                np.multiply(dh, padded[t], out=carry)
                dh2 += carry
            dh, dh2 = dh2, dh
    return grads, grads, None


def _gru_backward(node, saved, dh, g_steps, grads):
    # grads holds the gate gradients in the order (hn, r, z, n): da_z and da_n are dh times one
    # factor each, d(hn) and da_r are da_n times one factor each (two passes for four blocks),
    # (hn, r, z) is what W_hh multiplies and (r, z, n) what W_ih does: both are contiguous rows.
    w, h, padded = saved.weights, saved.h, saved.padded
    gates, new = saved.cell
    hid = node.hidden
    lanes, _, steps, n = grads.shape
    e4 = grads.reshape(lanes, 4, hid, steps, n).transpose(3, 0, 1, 2, 4)  # (T, B, 4, H, n)
    e3 = grads[:, : 3 * hid].transpose(2, 0, 1, 3)  # (T, B, 3H, n): (hn, r, z)
    dh2, tmp = np.empty_like(dh), np.empty_like(dh)
    for a, b in _step_blocks(steps, 2 * dh.size):
        r, z, hn = gates[a:b, :, :hid], gates[a:b, :, hid : 2 * hid], gates[a:b, :, 2 * hid :]
        f1 = np.empty((b - a, lanes, 2, hid, n), dh.dtype)  # (dz/dh', dn/dh' through a_n)
        f2 = np.empty((b - a, lanes, 2, hid, n), dh.dtype)  # (d(hn)/da_n, dr/da_n)
        one_z = 1 - z
        np.subtract(h[a + 1 : b + 1, :, :-1], new[a:b], out=f1[:, :, 0])  # h' − n = z ⊙ (h − n)
        f1[:, :, 0] *= one_z
        np.multiply(new[a:b], new[a:b], out=f1[:, :, 1])
        np.subtract(1, f1[:, :, 1], out=f1[:, :, 1])
        f1[:, :, 1] *= one_z
        f2[:, :, 0] = r
        np.multiply(hn, r, out=f2[:, :, 1])
        f2[:, :, 1] *= 1 - r
        keep = z
        if padded is not None:
            np.copyto(f1, 0, where=padded[a:b, :, :, None])
            keep = np.where(padded[a:b], 1, z)
        for t in range(b - 1, a - 1, -1):
            if g_steps is not None:
                dh += g_steps[t]
            np.multiply(dh[:, None], f1[t - a], out=e4[t, :, 2:])
            np.multiply(e4[t, :, 3:], f2[t - a], out=e4[t, :, :2])
            np.multiply(dh, keep[t - a], out=dh2)
            np.matmul(w.wh_back, e3[t], out=tmp)
            dh2 += tmp
            dh, dh2 = dh2, dh
    return grads[:, hid:], grads[:, : 3 * hid], _blocks((1, 2, 0), hid)  # W_hh's columns from (hn, r, z) to (r, z, n)


def _lstm_backward(node, saved, dh, g_steps, grads):
    # grads holds the gate gradients in the internal order (o, i, f, g): da_o = dh·tc·o(1−o) and
    # (da_i, da_f, da_g) = dc·(g·i(1−i), c·f(1−f), i(1−g²)), with dc = dc' + dh·o(1−tc²).
    w, padded, padded_steps = saved.weights, saved.padded, saved.padded_steps
    gates, c, tc = saved.cell
    hid = node.hidden
    lanes, _, steps, n = grads.shape
    e = grads.transpose(2, 0, 1, 3)  # (T, B, 4H, n)
    e4 = grads.reshape(lanes, 4, hid, steps, n).transpose(3, 0, 1, 2, 4)  # (T, B, 4, H, n)
    dc, dct, dh2 = np.zeros_like(dh), np.empty_like(dh), np.empty_like(dh)
    carry = np.empty_like(dh) if padded is not None else None
    for a, b in _step_blocks(steps, 3 * dh.size):
        g4 = gates[a:b].reshape(b - a, lanes, 4, hid, n)
        o, i, f, gg, tcb = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3], tc[a:b]
        pc = 1 - tcb * tcb
        pc *= o  # dc/dh'
        q = o * (1 - o)
        q *= tcb  # da_o/dh'
        rr = np.empty((b - a, lanes, 3, hid, n), dh.dtype)
        np.multiply(gg, i * (1 - i), out=rr[:, :, 0])
        np.multiply(c[a:b], f * (1 - f), out=rr[:, :, 1])
        np.multiply(gg, gg, out=rr[:, :, 2])
        np.subtract(1, rr[:, :, 2], out=rr[:, :, 2])
        rr[:, :, 2] *= i
        keep = f
        if padded is not None:
            np.copyto(pc, 0, where=padded[a:b])
            np.copyto(q, 0, where=padded[a:b])
            np.copyto(rr, 0, where=padded[a:b, :, :, None])
            keep = np.where(padded[a:b], 1, f)
        for t in range(b - 1, a - 1, -1):
            if g_steps is not None:
                dh += g_steps[t]
            np.multiply(dh, pc[t - a], out=dct)
            dct += dc
            np.multiply(dh, q[t - a], out=e4[t, :, 0])
            np.multiply(dct[:, None], rr[t - a], out=e4[t, :, 1:])
            np.multiply(dct, keep[t - a], out=dc)
            np.matmul(w.wh_back, e[t], out=dh2)
            if padded_steps and padded_steps[t]:
                np.multiply(dh, padded[t], out=carry)
                dh2 += carry
            dh, dh2 = dh2, dh
    return grads, grads, None


def _to_leaves(node: _RecurrentParams, kind: _Kind, grad: np.ndarray, out: Any, name: str, layout: _Layout) -> None:
    """Write a (B, ..., G·H) gradient in the internal gate order into leaf ``name`` (and its reverse) of ``out``."""
    back = np.argsort(_blocks(kind.order, node.hidden))
    lanes = grad[..., back].reshape(*layout.lead, layout.directions, *grad.shape[1:])
    for suffix, part in zip(
        ("", "_reverse")[: layout.directions], np.moveaxis(lanes, len(layout.lead), 0), strict=True
    ):
        getattr(out, name + suffix)[...] = part


@backward.register(SimpleRNNParams)
@backward.register(GRUParams)
@backward.register(LSTMParams)
def _(node, saved, g, out, need_input_grad):
    lay, w = saved.layout, saved.weights
    kind = _KINDS[type(node)]
    hid, dt = node.hidden, saved.h.dtype
    if node.return_sequences:
        g_steps, dh = _upstream(node, g, saved), np.zeros((lay.lanes, hid, lay.n), dt)
    else:
        g_steps, dh = None, _final(node, g, saved)
    # The gate gradients, lanes first (B, rows, T, n), so that each weight gradient is one product
    # over all steps (T·n columns) after the loop; the loop writes step t's view.
    grads = np.empty((lay.lanes, (kind.gates + (kind.gates == 3)) * hid, lay.steps, lay.n), dt)
    loop = {SimpleRNNParams: _rnn_backward, GRUParams: _gru_backward, LSTMParams: _lstm_backward}[type(node)]
    d_in, d_h, h_columns = loop(node, saved, dh, g_steps, grads)
    rows = lay.steps * lay.n
    d_in, d_h = d_in.reshape(lay.lanes, -1, rows), d_h.reshape(lay.lanes, -1, rows)  # views: (T, n) is contiguous
    h_prev = np.ascontiguousarray(saved.h[:-1].transpose(1, 2, 0, 3)).reshape(lay.lanes, hid + 1, rows)
    dw_hh = np.matmul(h_prev, d_h.mT)  # (B, H + 1, G·H): the row of ones gives b_hh's gradient
    if h_columns is not None:
        dw_hh = dw_hh[..., h_columns]
    dw_hh, db_hh = dw_hh[:, :hid], dw_hh[:, hid]
    _to_leaves(node, kind, np.matmul(saved.xs.reshape(lay.lanes, -1, rows), d_in.mT), out, "w_ih", lay)
    _to_leaves(node, kind, dw_hh, out, "w_hh", lay)
    _to_leaves(node, kind, np.matmul(d_in, ones(rows, dt)), out, "b_ih", lay)
    _to_leaves(node, kind, db_hh, out, "b_hh", lay)
    if not need_input_grad:
        return None
    dx = np.matmul(w.wi_true, d_in).reshape(*lay.lead, lay.directions, -1, lay.steps, lay.n)  # (*lead, D, d, T, n)
    total = dx[..., 0, :, :, :]
    if lay.directions == 2:
        total = total + dx[..., 1, :, ::-1, :]
    rank = len(lay.lead)
    return np.ascontiguousarray(total.transpose(*range(rank), rank + 2, rank + 1, rank))  # (*lead, n, T, d)
