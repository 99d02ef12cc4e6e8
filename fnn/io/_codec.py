"""The tree codec: a value as the JSON description a file's header holds, with its arrays set aside.

:func:`encode_tree` turns a pytree (see :mod:`fnn.tree`) into JSON and a list of
arrays; :func:`decode_tree` builds the value again from them. The tags of the JSON
are listed in the :mod:`fnn.io` docstring. Classes are found by the names they
were registered under (:func:`fnn.tree.register` for nodes, :func:`fnn.tree.value_class`
for values); nothing else can be named, and no module named in a file is imported.
How a class packs its leaves and which header ``kind`` it gives a file also come
from its registration (:func:`fnn.tree.save_info`), so this module knows no class of
fnn by name but one: a ``from_update`` optimizer, to say why it cannot be saved.

>>> import numpy as np, fnn
>>> from fnn.io import _codec
>>> encoded, arrays = _codec.encode_tree({"w": np.zeros(2, np.float32), "step": 3})
>>> encoded
{'dict': [['w', {'array': 0}], ['step', 3]]}
>>> _codec.decode_tree({"tree": encoded}, arrays, "<memory>")
{'w': array([0., 0.], dtype=float32), 'step': 3}
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import numpy as np

from fnn import optim, tree
from fnn.errors import ConfigError, DtypeError, FnnError, FormatError
from fnn.layers.base import layer_name

_INT_BITS = 14_000  # about 4,200 decimal digits: under Python's default limit on int-to-text conversion

ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: never object, string, void or datetime
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
# Messages said in more than one place.
_NEVER_IMPORTS = "fnn.load never imports a module a file names"
_REJECTED = "{cls} rejected the stored values: {error}: {message}"
_NOT_A_LIST = "a {kind} must hold a list, got {given}"


# ------------------------------------------------------------------ messages


def fail(where: str, message: str) -> FormatError:
    """The error for a file (or JSON export) at ``where`` that cannot be loaded."""
    return FormatError(f"cannot load {where}: {message}")


def short(value: Any) -> str:
    """``value`` as JSON, cut to 80 characters: what an error message shows of a bad part."""
    text = json.dumps(value) if not isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _where(path: str) -> str:
    return path or "<root>"


def check_keys(enc: Any, required: set[str], optional: set[str], where: str, at: str) -> dict:
    """``enc`` if it is a JSON object with the ``required`` keys and no others but ``optional``."""
    if type(enc) is not dict or not required <= set(enc) or not set(enc) <= required | optional:
        expected = f"an object with keys {sorted(required)}"
        raise fail(where, f"malformed header at {_where(at)}: expected {expected}, got {short(enc)}")
    return enc


# ------------------------------------------------------------------ classes a file may name


def _class_name(cls: type) -> str:
    """The name files give ``cls``: declared at registration, ``module:qualname`` by default."""
    return tree.save_info(cls).name


def _has_default(cls: type, name: str) -> bool:
    return attrs.fields_dict(cls)[name].default is not attrs.NOTHING


def _node_fields(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(children, static) field names of a registered node class."""
    return tree.node_fields(cls)


def _registered() -> dict[str, type]:
    """Registered node classes by their names in files; a later registration of the same name wins."""
    return {_class_name(cls): cls for cls in tree.registered_classes()}


def _value_classes() -> dict[str, type]:
    """The value classes (not pytree nodes) a file may name, declared with fnn.tree.value_class: the load allowlist."""
    return {_class_name(cls): cls for cls in tree.value_classes()}


# ------------------------------------------------------------------ encoding (save)


def dtype_name(dt: np.dtype) -> str:
    """``float32`` for native dtypes, the full descriptor (``>f4``) otherwise."""
    return dt.name if np.dtype(dt.name) == dt else dt.str


def _one_array_dtype(leaves: list) -> bool:
    return bool(leaves) and all(type(a) is np.ndarray for a in leaves) and len({a.dtype for a in leaves}) == 1


def _refuse_code(node: Any, static: tuple[str, ...], path: str) -> None:
    """A ConfigError naming the layer if a static field of ``node`` holds a function.

    (e.g. fnn.layers.from_forward's)."""
    for n in static:
        v = getattr(node, n)
        if callable(v) and not isinstance(v, type) and not attrs.has(type(v)):
            raise ConfigError(
                f"fnn.save: cannot save {layer_name(node)} at {_where(path)}: "
                f"its static field {n!r} holds the function {getattr(v, '__qualname__', type(v).__name__)}, "
                f"and functions are not data (fnn files hold no code, "
                f"and loading never imports a module a file names). "
                f"Save its arrays alone, fnn.tree.ravel(params)[0], and load them into the unravel of params "
                f"your code builds again: fnn.tree.ravel(fnn.init(key, spec))[1](flat)"
            )


class _Encoder:
    """Turns a tree into its JSON description, collecting the arrays it meets."""

    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []
        self.registered = _registered()
        self.values = _value_classes()
        # The classes a file can name: each the holder of its name (not one shadowed by a later registration).
        self.nameable = {*self.registered.values(), *self.values.values()}

    def array(self, a: Any, path: str) -> int:
        a = np.asarray(a)
        if a.dtype.kind not in ARRAY_KINDS:
            raise DtypeError(
                f"fnn.save: the array at {_where(path)} has dtype {a.dtype}; fnn files hold only boolean and "
                f"numeric arrays (no object, string, structured or datetime dtypes)"
            )
        self.arrays.append(a if a.flags.c_contiguous else a.copy(order="C"))
        return len(self.arrays) - 1

    def tree(self, node: Any, path: str, *, inside_packed: bool = False, force_pack: bool = False) -> Any:
        t = type(node)
        if node is None:
            return None
        if t is not tuple and t is not list and t is not dict and not tree.is_registered(t):
            return self.leaf(node, path)
        if t is dict:
            try:
                sorted(node)
            except TypeError:
                kinds = sorted({type(k).__name__ for k in node})
                raise ConfigError(
                    f"fnn.save: the dict at {_where(path)} has keys that cannot be sorted ({', '.join(kinds)}); "
                    f"a pytree's dict keys must be of one comparable type"
                ) from None
        packed = False
        if not inside_packed:
            leaves = tree.leaves(node)
            forced = force_pack or (tree.is_registered(t) and tree.save_info(t).packed)
            packed = (forced and _one_array_dtype(leaves)) or tree.leaves_are_packed(leaves)
        inner = inside_packed or packed
        if t is tuple or t is list:
            out: dict = {t.__name__: [self.tree(c, f"{path}[{i}]", inside_packed=inner) for i, c in enumerate(node)]}
        elif t is dict:
            out = {
                "dict": [
                    [self.static(k, f"{path} (a key)"), self.tree(v, f"{path}[{k!r}]", inside_packed=inner)]
                    for k, v in node.items()
                ]
            }
        else:
            out = self.node(node, path, inner)
        if packed:
            out["packed"] = True
        return out

    def node(self, node: Any, path: str, inside: bool) -> dict:
        cls = type(node)
        name = _class_name(cls)
        if self.registered.get(name) is not cls:
            raise ConfigError(
                f"fnn.save: the {cls.__qualname__} node at {_where(path)} shares its name {name} with a class "
                f"registered later, so it could not be found again on load"
            )
        children, static = _node_fields(cls)
        _refuse_code(node, static, path)
        # Children declared packed (a TrainState's params) are packed on load even if they were not on save.
        pack = tree.save_info(cls).packed_children
        return {
            "node": name,
            "children": {
                n: self.tree(getattr(node, n), f"{path}.{n}", inside_packed=inside, force_pack=n in pack)
                for n in children
            },
            "static": {n: self.static(getattr(node, n), f"{path}.{n}") for n in static},
        }

    def leaf(self, x: Any, path: str) -> Any:
        if isinstance(x, np.ndarray):
            return {"array": self.array(x, path)}
        return self.static(x, path)

    def static(self, v: Any, path: str) -> Any:
        t = type(v)
        if t is int and v.bit_length() > _INT_BITS:
            raise ConfigError(
                f"fnn.save: the int at {_where(path)} has {v.bit_length():,} bits, more than the {_INT_BITS:,} a file "
                f"keeps (Python turns at most 4,300 digits into text); store it as an array or a string"
            )
        if v is None or t is bool or t is int or t is str:
            return v
        if t is float:
            return v if math.isfinite(v) else {"float": repr(v)}
        if isinstance(v, np.ndarray):
            return {"array": self.array(v, path)}
        if isinstance(v, np.generic):
            return {"array": self.array(v, path), "scalar": True}
        if isinstance(v, np.dtype):
            if v.kind not in ARRAY_KINDS:
                raise DtypeError(f"fnn.save: the dtype {v} at {_where(path)} is not boolean or numeric")
            return {"dtype": dtype_name(v)}
        if t is tuple or t is list:
            return {t.__name__: [self.static(x, f"{path}[{i}]") for i, x in enumerate(v)]}
        if t is dict:
            pairs = [[self.static(k, f"{path} (a key)"), self.static(x, f"{path}[{k!r}]")] for k, x in v.items()]
            return {"dict": pairs}
        if isinstance(v, optim.FromUpdate):
            raise ConfigError(
                f"fnn.save: cannot save the optimizer at {_where(path)}: it is fnn.optim.from_update({v.obj!r}), "
                f"whose state lives inside your object, outside fnn, so it could not be restored. Save the params "
                f"alone (state.params), or train with a built-in optimizer such as fnn.optim.momentum"
            )
        if t in self.nameable:
            fields = {f.alias: self.static(getattr(v, f.name), f"{path}.{f.name}") for f in attrs.fields(t) if f.init}
            return {"attrs": _class_name(t), "fields": fields}
        raise ConfigError(
            f"fnn.save: cannot save the {t.__qualname__} at {_where(path)}: a file holds arrays, numbers, strings, "
            f"None, tuples, lists, dicts, NumPy dtypes, fnn's own keys, specs, optimizers and schedules, and "
            f"attrs classes registered with fnn.tree.register (nodes) or fnn.tree.value_class (values)"
        )


def file_kind(obj: Any) -> str:
    for cls in type(obj).__mro__:  # the kind a registered class declares (params, train_state), as isinstance would
        kind = tree.save_info(cls).kind if tree.is_registered(cls) else None
        if kind is not None:
            return kind
    if type(obj) is dict and obj and all(type(k) is str and isinstance(v, np.ndarray) for k, v in obj.items()):
        return "history"
    return "tree"


def encode_tree(obj: Any) -> tuple[Any, list[np.ndarray]]:
    """(the JSON description of ``obj``, the arrays it refers to by index); raises before anything is written."""
    encoder = _Encoder()
    try:
        return encoder.tree(obj, ""), encoder.arrays
    except RecursionError:
        raise ConfigError(_too_deep(obj)) from None


def _too_deep(obj: Any) -> str:
    """Why a tree could not be encoded without exhausting Python's recursion limit: it contains itself, or how deep."""
    ancestors: set[int] = set()  # the containers on the path from the root to the node (a shared one is no cycle)
    stack: list = [(obj, "", False)]
    while stack:
        node, path, leaving = stack.pop()
        if leaving:
            ancestors.discard(id(node))
            continue
        if not isinstance(node, (list, tuple, dict)):
            continue
        if id(node) in ancestors:
            return (
                f"fnn.save: the tree contains itself (a {type(node).__name__} that holds itself, at "
                f"{_where(path)}); a file describes trees, not cycles"
            )
        ancestors.add(id(node))
        stack.append((node, path, True))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, f"{path}[{k!r}]", False) for k, child in items)
    return (
        f"fnn.save: the tree is nested too deeply to encode (deeper than Python's recursion limit, "
        f"{sys.getrecursionlimit()} frames); a file describes trees of modest depth: flatten the nesting"
    )


# ------------------------------------------------------------------ decoding (load)


def parse_dtype(value: Any, where: str, at: str) -> np.dtype:
    """The boolean or numeric dtype a header names at ``at``."""
    if type(value) is not str:
        raise fail(where, f"malformed header at {at}: a dtype name must be a string, got {short(value)}")
    try:
        dt = np.dtype(value)
    except TypeError:
        raise fail(where, f"malformed header at {at}: unknown dtype {value!r}") from None
    if dt.kind not in ARRAY_KINDS:
        raise fail(where, f"malformed header at {at}: dtype {value!r} is not boolean or numeric")
    return dt


class _Decoder:
    """Rebuilds a tree from its JSON description and the file's arrays."""

    def __init__(self, arrays: list[np.ndarray], where: str) -> None:
        self.arrays = arrays
        self.used: set[int] = set()  # save writes every array once; a second reference could unfold a small file
        self.where = where
        self.registered = _registered()
        self.values = {**self.registered, **_value_classes()}

    def fail(self, at: str, message: str) -> FormatError:
        return fail(self.where, f"at {_where(at)} in the header: {message}")

    def tree(self, enc: Any, at: str) -> Any:
        if enc is None:
            return None
        if type(enc) is dict:
            packed = enc.get("packed", False)
            if packed is not False and packed is not True:
                raise self.fail(at, f"'packed' must be true or false, got {short(packed)}")
            if "tuple" in enc or "list" in enc:
                kind = "tuple" if "tuple" in enc else "list"
                items = check_keys(enc, {kind}, {"packed"}, self.where, at)[kind]
                if type(items) is not list:
                    raise self.fail(at, _NOT_A_LIST.format(kind=kind, given=short(items)))
                built = [self.tree(c, f"{at}[{i}]") for i, c in enumerate(items)]
                return self.packed(tuple(built) if kind == "tuple" else built, packed, at)
            if "dict" in enc:
                pairs = check_keys(enc, {"dict"}, {"packed"}, self.where, at)["dict"]
                return self.packed(self.dict(pairs, at, self.tree), packed, at)
            if "node" in enc:
                check_keys(enc, {"node", "children", "static"}, {"packed"}, self.where, at)
                return self.packed(self.node(enc, at), packed, at)
        return self.static(enc, at)

    def packed(self, node: Any, packed: bool, at: str) -> Any:
        if not packed:
            return node
        leaves = tree.leaves(node)
        if not _one_array_dtype(leaves):
            raise self.fail(at, "a packed node must hold arrays of one dtype")
        return tree.pack(node)

    def dict(self, pairs: Any, at: str, value: Callable[[Any, str], Any]) -> dict:
        if type(pairs) is not list or not all(type(p) is list and len(p) == 2 for p in pairs):
            raise self.fail(at, f"a dict must hold a list of [key, value] pairs, got {short(pairs)}")
        out = {}
        for k, v in pairs:
            key = self.static(k, f"{at} (a key)")
            if key in out:
                raise self.fail(at, f"the key {key!r} appears twice")
            out[key] = value(v, f"{at}[{key!r}]")
        if value != self.tree:  # a static dict (a setting) may hold any keys
            return out
        try:
            sorted(out)  # as fnn.save requires: the keys of a pytree's dict are of one comparable kind
        except TypeError:
            kinds = sorted({type(k).__name__ for k in out})
            raise self.fail(
                at, f"a dict's keys cannot be sorted ({', '.join(kinds)}); fnn.save never writes such keys"
            ) from None
        if any(type(k) is float and k != k for k in out):
            raise self.fail(at, "a dict key is NaN, which no lookup can find")
        return out

    def node(self, enc: Mapping[str, Any], at: str) -> Any:  # (Mapping: the method dict shadows the type here)
        name = enc["node"]
        cls = self.registered.get(name) if type(name) is str else None
        if cls is None:
            raise self.fail(
                at,
                f"the node class {short(name)} is not registered with fnn.tree.register in this process; import "
                f"the module that defines it before loading ({_NEVER_IMPORTS})",
            )
        children, static = _node_fields(cls)
        kids, statics = enc["children"], enc["static"]
        if type(statics) is dict:
            statics = {n: self.static(v, f"{at}.{n}") for n, v in statics.items()}
            migrate = getattr(cls, "migrate_static", None)  # a class that renamed a static field says how
            if migrate is not None:
                statics = migrate(statics)
            # a static field added since the file was written takes its default
            static = tuple(n for n in static if n in statics or not _has_default(cls, n))
        names = [sorted(x) if type(x) is dict else x for x in (kids, statics)]
        if names != [sorted(children), sorted(static)]:
            raise self.fail(
                at,
                f"{cls.__qualname__} has children {sorted(children)} and static fields {sorted(static)} in this "
                f"process, but the file gives {short(names[0])} and {short(names[1])}",
            )
        values = {n: self.tree(kids[n], f"{at}.{n}") for n in children}
        values.update({n: statics[n] for n in static})
        return self.construct(cls, values, at)

    def construct(self, cls: type, values: Mapping[str, Any], at: str) -> Any:
        by_name = {f.name: f for f in attrs.fields(cls)}
        try:
            kwargs = {by_name[n].alias: v for n, v in values.items() if by_name[n].init}
            return cls(**kwargs)
        except (FnnError, ValueError, TypeError, KeyError) as e:
            raise self.fail(at, _REJECTED.format(cls=cls.__qualname__, error=type(e).__name__, message=e)) from e

    def array(self, enc: Mapping[str, Any], at: str) -> Any:
        check_keys(enc, {"array"}, {"scalar"}, self.where, at)
        i, scalar = enc["array"], enc.get("scalar", False)
        if type(i) is not int or not 0 <= i < len(self.arrays) or scalar not in (True, False):
            raise self.fail(at, f"bad array reference {short(enc)} (the file has {len(self.arrays)} arrays)")
        if i in self.used:
            raise self.fail(
                at,
                f"array a{i} is referred to more than once; fnn.save writes each array once (a file that "
                f"refers to one array many times would load as many copies of it)",
            )
        self.used.add(i)
        a = self.arrays[i]
        if scalar:
            if a.ndim != 0:
                raise self.fail(at, f"a NumPy scalar needs a 0-d array, but a{i} has shape {a.shape}")
            return a[()]
        return a

    def static(self, enc: Any, at: str) -> Any:
        t = type(enc)
        if enc is None or t is bool or t is int or t is str or t is float:
            return enc
        if t is not dict:
            raise self.fail(at, f"unexpected value {short(enc)}")
        if "array" in enc:
            return self.array(enc, at)
        if "float" in enc:
            text = check_keys(enc, {"float"}, set(), self.where, at)["float"]
            if text not in _NON_FINITE:
                raise self.fail(at, f"a tagged float must be 'nan', 'inf' or '-inf', got {short(text)}")
            return _NON_FINITE[text]
        if "dtype" in enc:
            return parse_dtype(check_keys(enc, {"dtype"}, set(), self.where, at)["dtype"], self.where, at)
        if "tuple" in enc or "list" in enc:
            kind = "tuple" if "tuple" in enc else "list"
            items = check_keys(enc, {kind}, set(), self.where, at)[kind]
            if type(items) is not list:
                raise self.fail(at, _NOT_A_LIST.format(kind=kind, given=short(items)))
            built = [self.static(x, f"{at}[{i}]") for i, x in enumerate(items)]
            return tuple(built) if kind == "tuple" else built
        if "dict" in enc:
            return self.dict(check_keys(enc, {"dict"}, set(), self.where, at)["dict"], at, self.static)
        if "attrs" in enc:
            check_keys(enc, {"attrs", "fields"}, set(), self.where, at)
            name, fields = enc["attrs"], enc["fields"]
            cls = self.values.get(name) if type(name) is str else None
            if cls is None:
                raise self.fail(
                    at,
                    f"the class {short(name)} is neither declared with fnn.tree.value_class nor registered with "
                    f"fnn.tree.register in this process ({_NEVER_IMPORTS})",
                )
            if type(fields) is not dict:
                raise self.fail(at, f"fields must be an object, got {short(fields)}")
            aliases = {f.alias: f for f in attrs.fields(cls) if f.init}
            unknown = set(fields) - set(aliases)
            if unknown:
                raise self.fail(at, f"{cls.__qualname__} has no fields {sorted(unknown)}")
            try:
                return cls(**{k: self.static(v, f"{at}.{k}") for k, v in fields.items()})
            except FormatError:
                raise
            except (FnnError, ValueError, TypeError) as e:
                raise self.fail(at, _REJECTED.format(cls=cls.__qualname__, error=type(e).__name__, message=e)) from e
        raise self.fail(at, f"unexpected value {short(enc)}")


def decode_tree(header: dict, arrays: list[np.ndarray], where: str) -> Any:
    """The value the ``tree`` of a file's ``header`` describes, built from the file's ``arrays``.

    Raises:
        FormatError: the tree is malformed, or names a class this process does not know.
    """
    decoder = _Decoder(arrays, where)
    try:
        value = decoder.tree(header["tree"], "")
        unused = sorted(set(range(len(arrays))) - decoder.used)
        if unused:
            raise fail(where, f"the header lists arrays it never refers to: {', '.join(f'a{i}' for i in unused[:5])}")
        return value
    except FormatError:
        raise
    except (LookupError, TypeError, ValueError, AttributeError, RecursionError, FnnError) as e:
        raise fail(where, f"malformed tree in the header ({type(e).__name__}: {e})") from e
