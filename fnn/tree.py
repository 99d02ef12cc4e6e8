"""Pytrees: nested containers of arrays, and the flat view of their leaves.

The protocol, stated once: a *pytree* is a leaf or a node. Nodes are tuples,
lists, dicts (children in sorted-key order), ``None`` (a node with no
children, so ``None`` is never a leaf), and frozen attrs classes registered
with :func:`register`. A registered class's fields are its children, except
fields declared static with :func:`static_field`; static fields hold settings
(an activation name, a rate) that are part of the tree's *structure*, and an
array in a static field is an error. Everything else (arrays, scalars) is a
leaf.

Children declared with :func:`state_field` are *state*: leaves like any other
for :func:`leaves`, :func:`map`, :func:`equal` and files, but not trainable
(BatchNorm's running statistics). :func:`ravel` leaves them out of the flat
vector (the optimizer's vector), and keeps them in a second one,
:func:`ravel_state`.

:func:`ravel` turns a tree into one 1-D array and a function that turns such
an array back into the tree. When the tree's leaves already sit, in order, in
one contiguous buffer (as params from :func:`fnn.init` do), ravel returns that
buffer without copying, and ``unravel`` returns views, never copies.

>>> import numpy as np, fnn
>>> t = {"a": np.zeros(2), "b": (np.ones((2, 2)), None)}
>>> fnn.tree.leaves(t)
[array([0., 0.]), array([[1., 1.],
       [1., 1.]])]
>>> flat, unravel = fnn.tree.ravel(t)
>>> flat.shape
(6,)
>>> fnn.tree.equal(unravel(flat), t)
True

**Classes a file may name.** :mod:`fnn.io` writes a registered node as its class
name, children and static fields, and loads it only if a class of that name is
registered in this process (it never imports a module a file names). A frozen attrs
class that is a *value* rather than a node (a spec, a key, an optimizer, a
schedule: held whole in a leaf or a static field) may be named in a file once it is
declared with :func:`value_class`: these declarations are the load allowlist, and
fnn's own value classes make them where they are defined, as a user's spec class
can. Both decorators take ``name=``, the name files give the class (by default
``module:qualname``; a class that moved keeps its old name, so files written before
still load and files written after are the same bytes). :func:`register` also takes
``packed=True`` (the node's leaves are saved as one flat buffer and loaded into one
again, as params are), ``packed_children`` (the same for the children named, as a
TrainState's params) and ``kind`` (the header's ``kind`` of a file holding such a
node at its root). :func:`save_info` gives them back.

>>> import attrs, tempfile
>>> @fnn.tree.value_class
... @attrs.frozen
... class Widen:
...     factor: int = 2
>>> with tempfile.TemporaryDirectory() as d:
...     fnn.io.load(fnn.io.save(f"{d}/spec.npz", {"block": Widen(3)}))
{'block': Widen(factor=3)}
>>> fnn.tree.save_info(Widen).name, fnn.tree.save_info(fnn.layers.SequentialParams).packed
('fnn.tree:Widen', True)
"""

from __future__ import annotations

import functools
import itertools
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import numpy as np

from fnn.errors import DtypeError, ShapeError

__all__ = [
    "register",
    "static_field",
    "state_field",
    "ravel_state",
    "has_state",
    "state_mask",
    "is_registered",
    "flatten",
    "unflatten",
    "leaves",
    "structure",
    "map",
    "leaves_with_path",
    "equal",
    "assert_equal",
    "ravel",
    "pack",
    "sealed",
    "leaves_are_packed",
    "node_fields",
    "registered_classes",
    "value_class",
    "value_classes",
    "save_info",
    "SaveInfo",
    "Structure",
]

_STATIC = "fnn.static"
_STATE = "fnn.state"
_REGISTRY: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_STATE_FIELDS: dict[type, frozenset[str]] = {}
# (children field names, static field names) per registered class, and the children that are
# state. Filled at import time of the modules that define node classes; never changed afterwards.


def static_field(**kwargs: Any) -> Any:
    """An attrs field that is part of a node's structure, not one of its leaves.

    Args:
        **kwargs: passed to :func:`attrs.field` (``default``, ``validator``, ...).

    >>> import attrs, fnn
    >>> @fnn.tree.register
    ... @attrs.frozen
    ... class Scaled:
    ...     w: object
    ...     name: str = fnn.tree.static_field(default="s")
    >>> fnn.tree.leaves(Scaled(1.0))
    [1.0]
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata[_STATIC] = True
    return attrs.field(metadata=metadata, **kwargs)


def state_field(**kwargs: Any) -> Any:
    """An attrs field holding *state*: arrays that are part of the tree but not trained.

    State leaves are leaves for :func:`leaves`, :func:`map`, :func:`equal`, stacks and files;
    :func:`ravel` (the optimizer's flat vector) leaves them out and :func:`ravel_state`
    holds them. BatchNorm's running statistics are state.

    >>> import attrs, numpy as np, fnn
    >>> @fnn.tree.register
    ... @attrs.frozen
    ... class Counted:
    ...     w: object
    ...     seen: object = fnn.tree.state_field()
    >>> t = Counted(np.ones(2), np.zeros(1))
    >>> len(fnn.tree.leaves(t)), fnn.tree.ravel(t)[0].size, fnn.tree.ravel_state(t).size
    (2, 2, 1)
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata[_STATE] = True
    return attrs.field(metadata=metadata, **kwargs)


@attrs.frozen
class SaveInfo:
    """How :mod:`fnn.io` writes a registered node or value class (see the :mod:`fnn.tree` docstring).

    Attributes:
        name: the class's name in files: ``module:qualname`` unless declared.
        kind: the header's ``kind`` of a file holding one at its root, or None.
        packed: a node whose leaves are saved as one flat buffer, and loaded into one.
        packed_children: the children saved and loaded so.
    """

    name: str
    kind: str | None = None
    packed: bool = False
    packed_children: tuple[str, ...] = ()


_SAVE_INFO: dict[type, SaveInfo] = {}
# Per registered node and value class; filled, like _REGISTRY, where the classes are defined.
_VALUE_CLASSES: dict[type, None] = {}  # the value classes, in declaration order (a dict as an ordered set)


def _check_frozen_attrs(cls: Any, where: str) -> None:
    if not attrs.has(cls):
        raise TypeError(f"fnn.tree.{where} expects an attrs class, got {cls!r}")
    if cls.__setattr__ is object.__setattr__:
        raise TypeError(f"fnn.tree.{where} expects a frozen attrs class (attrs.frozen), got {cls.__name__}")


def _file_name(cls: type, name: Any, where: str) -> str:
    if name is None:
        return f"{cls.__module__}:{cls.__qualname__}"
    if type(name) is not str or name.count(":") != 1 or not all(name.split(":")):
        raise TypeError(f"fnn.tree.{where}: name must be a string 'module:qualname', got {name!r}")
    return name


def register(
    cls: type | None = None,
    /,
    *,
    name: str | None = None,
    kind: str | None = None,
    packed: bool = False,
    packed_children: tuple[str, ...] = (),
) -> Any:
    """Register a frozen attrs class as a pytree node; usable as a class decorator, with or without options.

    Fields made with :func:`static_field` are static; all others are children.

    Args:
        cls: the class.
        name: its name in files (default ``module:qualname``); see the module docstring.
        kind: the header's ``kind`` of a file holding one at its root.
        packed: save the node's leaves as one flat buffer and load them into one.
        packed_children: children to save and load so.

    Raises:
        TypeError: if ``cls`` is not a frozen attrs class, or an option is malformed.

    >>> import attrs, fnn
    >>> @fnn.tree.register
    ... @attrs.frozen
    ... class Pair:
    ...     a: object
    ...     b: object
    >>> fnn.tree.map(lambda x: x * 2, Pair(1, 2))
    Pair(a=2, b=4)
    >>> @fnn.tree.register(packed_children=("w",))
    ... @attrs.frozen
    ... class Weights:
    ...     w: object
    >>> fnn.tree.save_info(Weights).packed_children
    ('w',)
    """
    if cls is None:
        return functools.partial(register, name=name, kind=kind, packed=packed, packed_children=packed_children)
    _check_frozen_attrs(cls, "register")
    fields = attrs.fields(cls)
    children = tuple(f.name for f in fields if not f.metadata.get(_STATIC))
    static = tuple(f.name for f in fields if f.metadata.get(_STATIC))
    if kind is not None and type(kind) is not str:
        raise TypeError(f"fnn.tree.register: kind must be a string or None, got {kind!r}")
    if type(packed) is not bool:
        raise TypeError(f"fnn.tree.register: packed must be True or False, got {packed!r}")
    if isinstance(packed_children, str) or not all(c in children for c in packed_children):
        raise TypeError(
            f"fnn.tree.register: packed_children must be a tuple of {cls.__name__}'s children {children}, "
            f"got {packed_children!r}"
        )
    info = SaveInfo(_file_name(cls, name, "register"), kind, packed, tuple(packed_children))
    _REGISTRY[cls] = (children, static)
    state = frozenset(f.name for f in fields if f.metadata.get(_STATE))
    if state:
        _STATE_FIELDS[cls] = state
    _SAVE_INFO[cls] = info
    return cls


def value_class(cls: type | None = None, /, *, name: str | None = None) -> Any:
    """Declare a frozen attrs class a value that a file may name (the load allowlist); a class decorator.

    A value is held whole in a leaf or a static field (a spec, a key, an optimizer): it is
    saved as its init arguments and rebuilt through ``__init__``, so its validators run
    again on load. See the module docstring.

    Args:
        cls: the class.
        name: its name in files (default ``module:qualname``).

    Raises:
        TypeError: if ``cls`` is not a frozen attrs class, or ``name`` is malformed.

    >>> import attrs, fnn
    >>> @fnn.tree.value_class(name="my_lab.specs:Widen")
    ... @attrs.frozen
    ... class Widen:
    ...     factor: int = 2
    >>> Widen in fnn.tree.value_classes(), fnn.tree.save_info(Widen).name
    (True, 'my_lab.specs:Widen')
    """
    if cls is None:
        return functools.partial(value_class, name=name)
    _check_frozen_attrs(cls, "value_class")
    file_name = _file_name(cls, name, "value_class")
    info = _SAVE_INFO.get(cls)
    _SAVE_INFO[cls] = SaveInfo(file_name) if info is None else attrs.evolve(info, name=file_name)
    _VALUE_CLASSES[cls] = None
    return cls


def value_classes() -> tuple[type, ...]:
    """Every class declared with :func:`value_class` in this process, in declaration order.

    >>> import fnn
    >>> fnn.layers.Dense in fnn.tree.value_classes(), fnn.layers.DenseParams in fnn.tree.value_classes()
    (True, False)
    """
    return tuple(_VALUE_CLASSES)


def save_info(cls: type) -> SaveInfo:
    """How :mod:`fnn.io` writes ``cls``, a registered node or value class (see :class:`SaveInfo`).

    Raises:
        TypeError: ``cls`` is neither.

    >>> import fnn
    >>> info = fnn.tree.save_info(fnn.TrainState)
    >>> info.name, info.kind, info.packed_children
    ('fnn.train:TrainState', 'train_state', ('params',))
    """
    if cls not in _SAVE_INFO:
        raise TypeError(
            f"{cls!r} is neither a registered pytree node class nor a value class "
            f"(see fnn.tree.register and fnn.tree.value_class)"
        )
    return _SAVE_INFO[cls]


def is_registered(cls: type) -> bool:
    """Whether ``cls`` is a registered pytree node class."""
    return cls in _REGISTRY


def node_fields(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(children, static) field names of a registered node class, in declaration order.

    >>> import fnn
    >>> fnn.tree.node_fields(fnn.layers.DenseParams)
    (('w', 'b'), ())
    """
    if cls not in _REGISTRY:
        raise TypeError(f"{cls!r} is not a registered pytree node class (see fnn.tree.register)")
    return _REGISTRY[cls]


def registered_classes() -> tuple[type, ...]:
    """Every class registered as a pytree node in this process, in registration order."""
    return tuple(_REGISTRY)


class Structure(tuple):
    """The shape of a pytree without its leaves: hashable, comparable.

    ``kind`` is ``"leaf"``, ``"none"``, ``"tuple"``, ``"list"``, ``"dict"`` or a
    registered class; ``aux`` holds dict keys or a node's static values. (A tuple
    underneath, so equality and hashing run in C.)
    """

    __slots__ = ()

    def __new__(cls, kind: Any, aux: tuple, children: tuple) -> Structure:
        return tuple.__new__(cls, (kind, aux, children))

    kind = property(lambda self: self[0])
    aux = property(lambda self: self[1])
    children = property(lambda self: self[2])

    @property
    def num_leaves(self) -> int:
        if self[0] == "leaf":
            return 1
        return sum(c.num_leaves for c in self[2])

    def unflatten(self, leaves: Any) -> Any:
        """Build a tree of this structure from a sequence of leaves (in order)."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ShapeError(f"{self!r} has {self.num_leaves} leaves, got {len(leaves)}")
        return _builder(self)(iter(leaves).__next__)

    def __repr__(self) -> str:
        return f"Structure({_describe(self)})"

    def __reduce__(self) -> tuple:
        return (Structure, tuple(self))


_LEAF = Structure("leaf", (), ())
_NONE = Structure("none", (), ())


def _builder(s: Structure) -> Callable[[Callable[[], Any]], Any]:
    """A function that builds a tree of structure ``s`` from a ``next_leaf`` callable (compiled once).

    Leaves are taken inline rather than through a function per leaf, and registered slotted
    classes are filled through their slot descriptors: unravel runs once per training step.
    """
    kind = s[0]
    if kind == "leaf":
        return lambda nxt: nxt()
    if kind == "none":
        return lambda nxt: None
    kids = [None if c[0] == "leaf" else _builder(c) for c in s[2]]  # None: a leaf, taken inline

    def values(nxt: Callable[[], Any]) -> list:
        return [nxt() if k is None else k(nxt) for k in kids]

    if kind == "tuple":
        return lambda nxt: tuple(values(nxt))
    if kind == "list":
        return values
    if kind == "dict":
        keys = s[1]
        return lambda nxt: dict(zip(keys, values(nxt), strict=True))
    names, static = _REGISTRY[kind]
    setters = [_setter(kind, name) for name in names]
    fixed = [(_setter(kind, name), value) for name, value in zip(static, s[1], strict=True)]
    new = object.__new__

    def build(nxt: Callable[[], Any]) -> Any:
        # Bypass __init__ validators and converters: the values come from a node that
        # already passed them, or are leaves of the same roles (e.g. gradients).
        obj = new(kind)
        for put, value in zip(setters, values(nxt), strict=True):
            put(obj, value)
        for put, value in fixed:
            put(obj, value)
        return obj

    return build


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The fastest way to set field ``name`` on a frozen instance: its slot descriptor if slotted."""
    descriptor = cls.__dict__.get(name)
    if descriptor is not None and hasattr(descriptor, "__set__") and type(descriptor).__name__ == "member_descriptor":
        return descriptor.__set__
    return lambda obj, value: object.__setattr__(obj, name, value)


def _describe(s: Structure) -> str:
    if s.kind == "leaf":
        return "*"
    if s.kind == "none":
        return "None"
    inner = ", ".join(_describe(c) for c in s.children)
    if s.kind == "tuple":
        return f"({inner}{',' if len(s.children) == 1 else ''})"
    if s.kind == "list":
        return f"[{inner}]"
    if s.kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_describe(c)}" for k, c in zip(s.aux, s.children, strict=True)) + "}"
    return f"{s.kind.__name__}({inner})"


def _children(node: Any) -> tuple[Any, tuple, tuple] | None:
    """(kind, aux, children) of a node, or None for a leaf."""
    t = type(node)
    if t is tuple:
        return "tuple", (), node
    if node is None:
        return "none", (), ()
    if t is list:
        return "list", (), tuple(node)
    if t is dict:
        keys = tuple(sorted(node))
        return "dict", keys, tuple(node[k] for k in keys)
    spec = _REGISTRY.get(t)
    if spec is not None:
        names, static = spec
        return t, tuple([getattr(node, n) for n in static]), tuple([getattr(node, n) for n in names])
    return None


def _flatten(node: Any, out: list, mask: list | None = None, state: bool = False) -> Structure:
    """The structure of ``node``; its leaves are appended to ``out`` and, if ``mask`` is given,
    whether each is a state leaf to ``mask``."""
    t = type(node)
    if t is tuple or t is list:
        return Structure("tuple" if t is tuple else "list", (), tuple([_flatten(k, out, mask, state) for k in node]))
    if node is None:
        return _NONE
    if t is dict:
        keys = tuple(sorted(node))
        return Structure("dict", keys, tuple([_flatten(node[k], out, mask, state) for k in keys]))
    spec = _REGISTRY.get(t)
    if spec is None:
        out.append(node)
        if mask is not None:
            mask.append(state)
        return _LEAF
    names, static = spec
    aux = tuple([getattr(node, n) for n in static])
    if aux and any(isinstance(a, np.ndarray) for a in aux):
        raise TypeError(f"{t.__name__} has an array in a static field; arrays must be children (leaves)")
    states = _STATE_FIELDS.get(t)
    if states is None or mask is None:
        return Structure(t, aux, tuple([_flatten(getattr(node, n), out, mask, state) for n in names]))
    return Structure(t, aux, tuple([_flatten(getattr(node, n), out, mask, state or n in states) for n in names]))


def flatten(tree: Any) -> tuple[list, Structure]:
    """(leaves, structure) of a tree; :meth:`Structure.unflatten` inverts it.

    >>> import fnn
    >>> leaves, s = fnn.tree.flatten((1, [2, None], {"b": 3, "a": 4}))
    >>> leaves
    [1, 2, 4, 3]
    >>> s.unflatten([10, 20, 40, 30])
    (10, [20, None], {'a': 40, 'b': 30})
    """
    out: list = []
    return out, _flatten(tree, out)


def unflatten(structure: Structure, leaves: Any) -> Any:
    """Inverse of :func:`flatten`: build a tree from a structure and leaves in order."""
    return structure.unflatten(leaves)


def leaves(tree: Any) -> list:
    """The leaves of a tree, in order (dict keys sorted; attrs fields in declaration order).

    >>> import fnn
    >>> fnn.tree.leaves({"b": 1, "a": (2, None)})
    [2, 1]
    """
    return flatten(tree)[0]


def structure(tree: Any) -> Structure:
    """The structure of a tree: equal for trees of equal shape, hashable.

    >>> import fnn
    >>> fnn.tree.structure((1, 2)) == fnn.tree.structure((3.0, 4.0))
    True
    """
    return flatten(tree)[1]


def map(f: Callable, tree: Any, *rest: Any) -> Any:  # noqa: A001 - the name pytree users expect
    """Apply ``f`` leaf-wise to ``tree`` and the trees in ``rest`` (which must share its structure).

    Raises:
        ShapeError: a tree in ``rest`` has another structure (the message gives the path).

    >>> import fnn
    >>> fnn.tree.map(lambda a, b: a + b, (1, {"x": 2}), (10, {"x": 20}))
    (11, {'x': 22})
    """
    ls, s = flatten(tree)
    others = []
    for i, r in enumerate(rest):
        rl, rs = flatten(r)
        if rs != s:
            raise ShapeError(
                f"fnn.tree.map: tree {i + 1} differs in structure from tree 0: {_first_difference(tree, r)}"
            )
        others.append(rl)
    return s.unflatten(f(*args) for args in zip(ls, *others, strict=True))


def _path_children(node: Any) -> list[tuple[str, Any]] | None:
    parts = _children(node)
    if parts is None:
        return None
    kind, aux, kids = parts
    if kind in ("tuple", "list"):
        return [(f"[{i}]", k) for i, k in enumerate(kids)]
    if kind == "dict":
        return [(f"[{k!r}]", c) for k, c in zip(aux, kids, strict=True)]
    if kind == "none":
        return []
    return [(f".{n}", c) for n, c in zip(_REGISTRY[kind][0], kids, strict=True)]


def leaves_with_path(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, leaf) pairs, paths written as Python accessors (``.layers[0].w``).

    >>> import fnn
    >>> fnn.tree.leaves_with_path({"a": (1, 2)})
    [("['a'][0]", 1), ("['a'][1]", 2)]
    """
    kids = _path_children(tree)
    if kids is None:
        return [(prefix, tree)]
    out: list = []
    for p, k in kids:
        out.extend(leaves_with_path(k, prefix + p))
    return out


def _first_difference(a: Any, b: Any, path: str = "", exact: bool = False) -> str | None:
    """A message naming the first path where two trees differ, or None if equal."""
    pa, pb = _children(a), _children(b)
    where = path or "<root>"
    if pa is None or pb is None:
        if (pa is None) != (pb is None):
            return f"at {where}: one is a leaf, the other a {type(b if pa is None else a).__name__} node"
        if not exact:
            return None
        xa, xb = np.asarray(a), np.asarray(b)
        if xa.shape != xb.shape:
            return f"at {where}: shapes {xa.shape} and {xb.shape} differ"
        if xa.dtype != xb.dtype:
            return f"at {where}: dtypes {xa.dtype} and {xb.dtype} differ"
        if not np.array_equal(xa, xb, equal_nan=xa.dtype.kind in "fc"):
            diff = np.argwhere(xa != xb)
            first = tuple(int(i) for i in diff[0]) if diff.size else ()
            return f"at {where}: values differ first at index {first}"
        return None
    if pa[0] != pb[0]:
        name = lambda k: k if isinstance(k, str) else k.__name__  # noqa: E731
        return f"at {where}: node types {name(pa[0])} and {name(pb[0])} differ"
    if pa[1] != pb[1]:
        return f"at {where}: {'keys' if pa[0] == 'dict' else 'static fields'} {pa[1]!r} and {pb[1]!r} differ"
    ka, kb = _path_children(a), _path_children(b)
    assert ka is not None and kb is not None  # both are nodes: leaves returned above
    if len(ka) != len(kb):
        return f"at {where}: {len(ka)} and {len(kb)} children"
    for (p, x), (_, y) in zip(ka, kb, strict=True):
        msg = _first_difference(x, y, path + p, exact)
        if msg:
            return msg
    return None


def equal(a: Any, b: Any) -> bool:
    """Whether two trees have the same structure and bitwise-equal leaves (same dtypes and shapes).

    >>> import numpy as np, fnn
    >>> fnn.tree.equal((np.zeros(2),), (np.zeros(2),)), fnn.tree.equal((np.zeros(2),), (np.ones(2),))
    (True, False)
    """
    return _first_difference(a, b, exact=True) is None


def assert_equal(a: Any, b: Any) -> None:
    """Raise ``AssertionError`` naming the first path where ``a`` and ``b`` differ (a test helper).

    >>> import numpy as np, fnn
    >>> fnn.tree.assert_equal({"w": np.zeros(2)}, {"w": np.array([0.0, 1.0])})
    Traceback (most recent call last):
    AssertionError: at ['w']: values differ first at index (1,)
    """
    msg = _first_difference(a, b, exact=True)
    if msg:
        raise AssertionError(msg)


# ---------------------------------------------------------------- flat view


def _as_array_leaves(ls: list) -> list[np.ndarray]:
    return [x if isinstance(x, np.ndarray) else np.asarray(x) for x in ls]


def _common_dtype(arrays: list[np.ndarray], tree_paths: Callable[[], list[str]]) -> np.dtype:
    if not arrays:
        return np.dtype(np.float64)
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        paths = tree_paths()
        found = ", ".join(f"{p or '<root>'}: {a.dtype}" for p, a in zip(paths, arrays, strict=True))
        raise DtypeError(f"fnn.tree.ravel needs one dtype for every leaf, got {found}")
    return dtypes.pop()


def _consecutive_owner(arrays: list) -> np.ndarray | None:
    """The array owning the memory the arrays are consecutive, in-order views into; else None."""
    if not all(type(a) is np.ndarray for a in arrays):
        return None
    filled = [a for a in arrays if a.size]  # empty leaves occupy no memory: any pointer will do
    if not filled:
        return None
    first = filled[0]
    owner = first.base
    if not isinstance(owner, np.ndarray) or not owner.flags.c_contiguous:
        return None
    pos = first.__array_interface__["data"][0]
    for a in filled:
        if (
            a.base is not owner
            or a.dtype != first.dtype
            or not a.flags.c_contiguous
            or a.__array_interface__["data"][0] != pos
        ):
            return None
        pos += a.nbytes
    return owner


def leaves_are_packed(leaves: list) -> bool:
    """Whether arrays are consecutive views, in order, into one buffer (as :func:`pack` and :func:`fnn.init` make).

    >>> import numpy as np, fnn
    >>> fnn.tree.leaves_are_packed(fnn.tree.leaves(fnn.tree.pack((np.zeros(2), np.ones(3)))))
    True
    """
    return _consecutive_owner(leaves) is not None


def _buffer_of(arrays: list[np.ndarray], total: int) -> np.ndarray | None:
    """The 1-D array the leaves are consecutive views into, or None if they are not."""
    owner = _consecutive_owner(arrays)
    if owner is None:
        return None
    first = next(a for a in arrays if a.size)
    offset = (first.__array_interface__["data"][0] - owner.__array_interface__["data"][0]) // first.itemsize
    flat = owner.reshape(-1)
    if offset == 0 and total == flat.size:
        return flat
    return flat[offset : offset + total]


def ravel(tree: Any) -> tuple[np.ndarray, _Unravel]:
    """One 1-D array of all trainable leaves, and the function that turns such an array back into the tree.

    If the leaves are consecutive views into one buffer (params from :func:`fnn.init`,
    grads from :func:`fnn.grad`, the result of :func:`pack`), the returned array is a
    view of that buffer: nothing is copied. Otherwise the leaves are copied into a new
    array. ``unravel(flat)`` always returns views into ``flat``. State leaves
    (:func:`state_field`) are not in ``flat``: ``unravel(flat)`` puts back the tree's own,
    and ``unravel(flat, state)`` views of a vector laid out as :func:`ravel_state`'s.

    Args:
        tree: a pytree whose leaves are arrays or scalars of one dtype.

    Returns:
        ``(flat, unravel)``; an empty tree gives ``flat.shape == (0,)``.

    Raises:
        DtypeError: leaves of different dtypes (the message lists them with their paths).

    >>> import numpy as np, fnn
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    >>> flat, unravel = fnn.tree.ravel(params)
    >>> flat.size, np.shares_memory(flat, params.layers[0].w)
    (26, True)
    >>> back = unravel(flat * 0)
    >>> float(back.layers[0].w.sum())
    0.0
    """
    raw: list = []
    mask: list = []
    s = _flatten(tree, raw, mask)
    arrays = _as_array_leaves(raw)
    dtype = _common_dtype(arrays, lambda: [p for p, _ in leaves_with_path(tree)])
    if True in mask:
        trainable = [a for a, m in zip(arrays, mask, strict=True) if not m]
        state = [a for a, m in zip(arrays, mask, strict=True) if m]
        flat = _flat_of(trainable, dtype)
        return flat, _Unravel(s, tuple(a.shape for a in trainable), dtype, tuple(mask), state)
    return _flat_of(arrays, dtype), _Unravel(s, tuple(a.shape for a in arrays), dtype)


def _flat_of(arrays: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """The arrays as one 1-D vector: the buffer they are consecutive views of, or a new copy."""
    total = sum(a.size for a in arrays)
    flat = _buffer_of(arrays, total) if arrays else None
    if flat is None:
        flat = np.empty(total, dtype)
        pos = 0
        for a in arrays:
            flat[pos : pos + a.size] = a.reshape(-1)
            pos += a.size
    return flat


def ravel_state(tree: Any) -> np.ndarray:
    """One 1-D array of the tree's state leaves (:func:`state_field`): free when they are packed.

    >>> import fnn
    >>> fnn.tree.ravel_state(fnn.init(fnn.random.key(0), fnn.mlp([3, 2]))).shape
    (0,)
    """
    raw: list = []
    mask: list = []
    _flatten(tree, raw, mask)
    arrays = _as_array_leaves(raw)
    dtype = _common_dtype(arrays, lambda: [p for p, _ in leaves_with_path(tree)])
    return _flat_of([a for a, m in zip(arrays, mask, strict=True) if m], dtype)


def state_mask(tree: Any) -> list[bool]:
    """For each leaf of the tree, in order, whether it is a state leaf (:func:`state_field`).

    >>> import fnn
    >>> p = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.BatchNorm()], in_dim=2))
    >>> fnn.tree.state_mask(p)
    [False, False, True, True, True]
    """
    mask: list = []
    _flatten(tree, [], mask)
    return mask


def has_state(tree: Any) -> bool:
    """Whether the tree holds state leaves (:func:`state_field`).

    >>> import fnn
    >>> fnn.tree.has_state(fnn.init(fnn.random.key(0), fnn.mlp([3, 2])))
    False
    """
    return True in state_mask(tree)


class _Unravel:
    """Turns a flat vector (and, for a tree with state, a state vector) back into a tree of views.

    See :func:`ravel`."""

    __slots__ = (
        "structure",
        "shapes",
        "sizes",
        "dtype",
        "size",
        "mask",
        "state_shapes",
        "state_size",
        "_state",
        "_slices",
        "_state_slices",
        "_build",
    )

    def __init__(
        self, structure: Structure, shapes: tuple, dtype: np.dtype, mask: tuple = (), state: Sequence[np.ndarray] = ()
    ) -> None:
        self.structure, self.shapes, self.dtype = structure, shapes, dtype
        self.sizes = tuple(math.prod(sh) for sh in shapes)
        self.size = sum(self.sizes)
        self.mask = mask
        self.state_shapes = tuple(a.shape for a in state)
        self.state_size = sum(a.size for a in state)
        self._state = tuple(state)  # the ravelled tree's own state leaves, put back by default
        self._slices = _slices(shapes)
        self._state_slices = _slices(self.state_shapes)
        self._build: Callable[[Callable[[], Any]], Any] | None = None

    def __call__(self, flat: np.ndarray, state: np.ndarray | None = None) -> Any:
        if type(flat) is not np.ndarray or flat.ndim != 1 or flat.shape[0] != self.size:
            got = getattr(flat, "shape", type(flat).__name__)
            raise ShapeError(f"unravel expects a 1-D array of {self.size} elements, got {got}")
        if flat.dtype != self.dtype:
            raise DtypeError(f"unravel expects dtype {self.dtype}, got {flat.dtype}")
        if self._build is None:
            self._build = _builder(self.structure)
        views = [flat[sl].reshape(shape) for sl, shape in self._slices]
        if self.mask:
            views = self._interleave(views, state)
        elif state is not None and state.size:
            raise ShapeError(f"unravel: this tree has no state leaves, got a state vector of {state.size} elements")
        return self._build(iter(views).__next__)

    def _interleave(self, views: list, state: np.ndarray | None) -> list:
        if state is None:
            kept = list(self._state)
        else:
            if type(state) is not np.ndarray or state.shape != (self.state_size,) or state.dtype != self.dtype:
                got = f"{getattr(state, 'shape', type(state).__name__)} {getattr(state, 'dtype', '')}"
                raise ShapeError(
                    f"unravel expects a state vector of {self.state_size} elements of {self.dtype}, got {got}"
                )
            kept = [state[sl].reshape(shape) for sl, shape in self._state_slices]
        trainable, states = iter(views), iter(kept)
        return [next(states) if m else next(trainable) for m in self.mask]

    def __repr__(self) -> str:
        return f"<unravel to {self.structure!r}>"


def _slices(shapes: tuple) -> tuple:
    bounds = [0, *itertools.accumulate(math.prod(sh) for sh in shapes)]
    return tuple(zip([slice(a, b) for a, b in itertools.pairwise(bounds)], shapes, strict=True))


class _Sealed:
    """The owner of a sealed array's memory, as NumPy sees it: an array interface marked read-only and no
    reference to the array whose memory it is (that one is kept alive by a finalizer, out of reach of
    ``.base``). NumPy refuses to make an array writeable again when its base is neither a writeable array
    nor a writeable buffer, so no view of a sealed array can be written."""

    __slots__ = ("__array_interface__", "__weakref__")
    __array_interface__: dict[str, Any]


def _keep_alive(_: Any) -> None:
    """The finalizer's callback: it does nothing but hold its argument until the sealed owner dies."""


def sealed(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``'s memory that cannot be made writeable again, nor can any view of it.

    ``a.flags.writeable = False`` alone does not freeze an array that owns its memory:
    ``view.base.flags.writeable = True`` undoes it. A sealed array's ``.base`` is an object
    with no way back to ``a``. Nothing is copied; whoever still holds ``a`` itself (fnn's
    epoch buffers, which write the next step's params) can write it.

    >>> import numpy as np, fnn
    >>> w = fnn.tree.sealed(np.zeros(3))[1:]
    >>> try:
    ...     w.base.flags.writeable = True
    ... except ValueError as e:
    ...     print(e)
    cannot set WRITEABLE flag to True of this array
    """
    if not a.flags.c_contiguous:
        raise ValueError(f"sealed takes a C-contiguous array, got one of shape {a.shape} and strides {a.strides}")
    owner = _Sealed()
    interface = dict(a.__array_interface__)
    interface["data"] = (interface["data"][0], True)
    owner.__array_interface__ = interface
    weakref.finalize(owner, _keep_alive, a)
    return np.asarray(owner)


def pack(tree: Any, *, writeable: bool = False) -> Any:
    """A copy of ``tree`` whose leaves are views into one new contiguous buffer (state leaves: a second one).

    Leaves become arrays of the tree's one dtype, read-only unless ``writeable``.
    :func:`ravel` (and :func:`ravel_state`) of the result is free.

    >>> import numpy as np, fnn
    >>> t = fnn.tree.pack((np.zeros(2), np.ones(3)))
    >>> flat, _ = fnn.tree.ravel(t)
    >>> np.shares_memory(flat, t[1]), t[0].flags.writeable
    (True, False)
    """
    flat, unravel = ravel(tree)
    flat = flat.copy() if writeable else sealed(flat.copy())
    if not unravel.mask:
        return unravel(flat)
    state = ravel_state(tree).copy()
    return unravel(flat, state if writeable else sealed(state))
