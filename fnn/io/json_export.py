"""A network as plain JSON, readable without fnn: :func:`export_json` and :func:`import_json`.

The export knows the layers of an MLP (Dense, Activation, Dropout and nested
Sequential on flat samples) and writes every weight exactly, so the import gives
back the same bits; :func:`fnn.io.save` stores any network.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import numpy as np

from fnn import tree
from fnn._checks import check_max_bytes, open_regular
from fnn._version import __version__
from fnn.errors import ConfigError, FormatError, NonFiniteError
from fnn.io._codec import fail, short
from fnn.io._files import atomic_write, too_large
from fnn.layers import Activation, DenseParams, Dropout, SequentialParams
from fnn.layers.sequential import float_dtype
from fnn.network import NOT_PARAMS

JSON_FORMAT = "fnn.json"
JSON_FORMAT_VERSION = 1
"""The version of the JSON export this fnn writes and reads."""

_WIDTHS_DIFFER = "in_dim is {in_dim} but the previous layer outputs {width}"


def _finite_list(a: np.ndarray, at: str) -> list:
    if not np.isfinite(a).all():
        raise NonFiniteError(f"export_json: {at} holds NaN or infinity, which JSON cannot represent")
    # tolist gives Python floats exactly equal to the values (float32 ones included); json
    # writes each with repr, the shortest text that reads back to the same float64.
    return a.tolist()


def _export_node(node: Any, at: str) -> dict:
    if isinstance(node, SequentialParams):
        return {
            "type": "Sequential",
            "in_dim": int(node.in_dim),
            "dtype": np.dtype(node.dtype).name,
            "layers": [_export_node(layer, f"{at}.layers[{i}]") for i, layer in enumerate(node.layers)],
        }
    if isinstance(node, DenseParams):
        if node.w.ndim != 2:
            raise ConfigError(
                f"export_json: {at} has weights of shape {node.w.shape}; expected (in, units) "
                f"(stacked params are not supported)"
            )
        return {
            "type": "Dense",
            "in_dim": int(node.w.shape[0]),
            "units": int(node.w.shape[1]),
            "use_bias": node.b is not None,
            "weights": _finite_list(node.w, f"{at}.w"),
            "bias": None if node.b is None else _finite_list(node.b, f"{at}.b"),
        }
    if isinstance(node, Activation):
        return {"type": "Activation", "name": node.name}
    if isinstance(node, Dropout):
        return {"type": "Dropout", "rate": node.rate}
    raise ConfigError(
        f"export_json: {at} is a {type(node).__name__}; the JSON export knows Dense, Activation, Dropout and "
        f"nested Sequential layers (use fnn.save for other layers)"
    )


def export_json(path: str | os.PathLike, params: SequentialParams) -> pathlib.Path:
    """Write a network's architecture and weights as plain JSON, readable without fnn; atomically.

    The document is ``{"format": "fnn.json", "format_version": 1, "fnn_version": ...,
    "model": {"type": "Sequential", "in_dim", "dtype", "layers": [...]}}`` where each layer
    is ``{"type": "Dense", "in_dim", "units", "use_bias", "weights", "bias"}`` (weights as
    nested lists of shape (in_dim, units), rows are inputs: ``y = x @ weights + bias``),
    ``{"type": "Activation", "name"}``, ``{"type": "Dropout", "rate"}`` or a nested
    Sequential. Numbers are written exactly (float32 values too), so :func:`import_json`
    gives back the same bits.

    Args:
        path: the file to write.
        params: from :func:`fnn.init` (Dense, Activation, Dropout and Sequential layers).

    Returns:
        ``path`` as a :class:`pathlib.Path`.

    Raises:
        ConfigError: a layer the JSON export does not know (use :func:`save`).
        NonFiniteError: a weight is NaN or infinite (JSON has no such numbers).

    >>> import json, tempfile, fnn
    >>> from fnn import io
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2], dropout=0.5))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     doc = json.loads(io.export_json(f"{d}/model.json", params).read_text())
    ...     back = io.import_json(f"{d}/model.json")
    >>> [layer["type"] for layer in doc["model"]["layers"]], doc["model"]["dtype"]
    (['Dense', 'Activation', 'Dropout', 'Dense', 'Activation'], 'float32')
    >>> fnn.tree.equal(back, params)
    True
    """
    if not isinstance(params, SequentialParams):
        hint = " (pass state.params)" if type(params).__name__ == "TrainState" else ""
        raise ConfigError(NOT_PARAMS.format(where="export_json", given=type(params).__name__) + hint)
    doc = {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "fnn_version": __version__,
        "model": _export_node(params, "model"),
    }
    text = (json.dumps(doc, allow_nan=False) + "\n").encode("utf-8")
    path = pathlib.Path(os.fspath(path))
    atomic_write(path, lambda f: f.write(text))
    return path


class _JsonImporter:
    """Rebuilds params from a JSON export, checking every part."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, at: str, message: str) -> FormatError:
        return fail(self.where, f"at {at}: {message}")

    def keys(self, layer: Any, required: set[str], at: str) -> dict:
        if type(layer) is not dict or set(layer) != required:
            got = sorted(layer) if type(layer) is dict else short(layer)
            raise self.fail(at, f"expected an object with keys {sorted(required)}, got {got}")
        return layer

    def size(self, value: Any, at: str) -> int:
        if type(value) is not int or value < 1:
            raise self.fail(at, f"expected an integer >= 1, got {short(value)}")
        return value

    def numbers(self, value: Any, shape: tuple[int, ...], dtype: np.dtype, at: str) -> np.ndarray:
        rows = value if len(shape) == 2 else [value]
        width = shape[-1]
        ok = type(value) is list and (len(shape) == 1 or len(value) == shape[0])
        ok = ok and all(type(r) is list and len(r) == width and all(type(x) in (int, float) for x in r) for r in rows)
        if not ok:
            raise self.fail(at, f"expected numbers in nested lists of shape {shape}")
        try:
            a = np.array(value, dtype=np.float64)
        except OverflowError:
            raise self.fail(at, "a number is too large for float64") from None
        with np.errstate(over="ignore"):
            a = a.astype(dtype)
        if not np.isfinite(a).all():
            raise self.fail(at, f"a number is NaN, infinite or out of the {dtype} range")
        return a

    def sequential(self, layer: Any, width: int | None, dtype: np.dtype | None, at: str) -> SequentialParams:
        self.keys(layer, {"type", "in_dim", "dtype", "layers"}, at)
        in_dim = self.size(layer["in_dim"], f"{at}.in_dim")
        if width is not None and in_dim != width:
            raise self.fail(at, _WIDTHS_DIFFER.format(in_dim=in_dim, width=width))
        try:
            dt = float_dtype(layer["dtype"]) if type(layer["dtype"]) is str else None
        except ConfigError:
            dt = None
        if dt is None or (dtype is not None and dt != dtype):
            expected = "float32 or float64" if dtype is None else dtype.name
            raise self.fail(at, f"dtype must be {expected}, got {short(layer['dtype'])}")
        if type(layer["layers"]) is not list:
            raise self.fail(at, f"layers must be a list, got {short(layer['layers'])}")
        nodes, width = [], in_dim
        for i, child in enumerate(layer["layers"]):
            node, width = self.layer(child, width, dt, f"{at}.layers[{i}]")
            nodes.append(node)
        return SequentialParams(tuple(nodes), in_shape=(in_dim,))

    def layer(self, layer: Any, width: int, dtype: np.dtype, at: str) -> tuple[Any, int]:
        kind = layer.get("type") if type(layer) is dict else None
        if kind == "Sequential":
            node = self.sequential(layer, width, dtype, at)
            return node, self.width_after(node, width)
        if kind == "Dense":
            self.keys(layer, {"type", "in_dim", "units", "use_bias", "weights", "bias"}, at)
            in_dim, units = self.size(layer["in_dim"], f"{at}.in_dim"), self.size(layer["units"], f"{at}.units")
            if in_dim != width:
                raise self.fail(at, _WIDTHS_DIFFER.format(in_dim=in_dim, width=width))
            if type(layer["use_bias"]) is not bool or (layer["bias"] is None) == layer["use_bias"]:
                raise self.fail(at, "use_bias must be true with a bias list, or false with bias null")
            w = self.numbers(layer["weights"], (in_dim, units), dtype, f"{at}.weights")
            b = None if layer["bias"] is None else self.numbers(layer["bias"], (units,), dtype, f"{at}.bias")
            return DenseParams(w, b), units
        if kind in ("Activation", "Dropout"):
            field = "name" if kind == "Activation" else "rate"
            self.keys(layer, {"type", field}, at)
            value = layer[field]
            if kind == "Dropout" and type(value) not in (int, float):
                raise self.fail(at, f"rate must be a number, got {short(value)}")
            try:
                return (Activation(value) if kind == "Activation" else Dropout(value)), width
            except ConfigError as e:
                raise self.fail(at, str(e)) from None
        raise self.fail(at, f"unknown layer type {short(kind)}; expected Dense, Activation, Dropout or Sequential")

    @staticmethod
    def width_after(node: SequentialParams, width: int) -> int:
        for layer in node.layers:
            if isinstance(layer, DenseParams):
                width = layer.w.shape[1]
            elif isinstance(layer, SequentialParams):
                width = _JsonImporter.width_after(layer, width)
        return width


JSON_MAX_BYTES = 256 * 2**20
"""The default ``max_bytes`` of :func:`import_json`: 256 MiB of JSON text.

Parsed JSON takes several times its text in Python objects (a float is 24 bytes plus its
list slot, for about 10 characters of text), so the limit is lower than :data:`MAX_BYTES`;
256 MiB of text holds about 15 million weights.
"""


def import_json(path: str | os.PathLike, *, max_bytes: int | None = JSON_MAX_BYTES) -> SequentialParams:
    """Params from a file written by :func:`export_json`: the recorded dtype, one flat read-only buffer.

    Every part is checked: layer types and keys, widths that chain, weights of the
    right shape holding only finite numbers, activation names and dropout rates.

    Args:
        path: a JSON export.
        max_bytes: the largest file read, :data:`JSON_MAX_BYTES` (256 MiB) by default, or
            ``None`` for no limit; checked before anything is read.

    Returns:
        A ``SequentialParams`` whose ``fnn.tree.ravel`` copies nothing.

    Raises:
        FileNotFoundError: there is no such file.
        FormatError: the file is not valid JSON, not an fnn JSON export, too new, or
            inconsistent (the message gives the place, ``model.layers[2].weights``), larger
            than ``max_bytes``, or not a regular file (a FIFO, a device).

    See Also:
        :func:`export_json`, :func:`load`.

    >>> import tempfile, numpy as np, fnn
    >>> from fnn import io
    >>> params = fnn.init(fnn.random.key(0), fnn.mlp([2, 2], dtype=np.float64))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     back = io.import_json(io.export_json(f"{d}/m.json", params))
    >>> back.dtype, fnn.tree.equal(back, params), np.shares_memory(fnn.tree.ravel(back)[0], back.layers[0].w)
    (dtype('float64'), True, True)
    """
    where = os.fspath(path)
    max_bytes = check_max_bytes(max_bytes)
    with open_regular(where, where) as f:  # a FIFO or a device is a FormatError, not a hang
        size = os.fstat(f.fileno()).st_size
        if max_bytes is not None and size > max_bytes:
            raise too_large(where, "the JSON file", size, max_bytes, "fnn.io.import_json")
        raw = f.read()
    if raw.startswith(b"PK\x03\x04"):  # a zip: what fnn.save writes
        raise fail(where, "it is an .npz file (as fnn.save writes), not a JSON export: read it with fnn.load(path)")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise fail(where, f"not a JSON file ({e})") from None
    if type(doc) is not dict or doc.get("format") != JSON_FORMAT:
        got = doc.get("format") if type(doc) is dict else type(doc).__name__
        raise fail(where, f"not an fnn JSON export: its format is {got!r}, expected {JSON_FORMAT!r}")
    version = doc.get("format_version")
    if type(version) is not int or version < 1:
        raise fail(where, f"format_version is {version!r}, expected an integer >= 1")
    if version > JSON_FORMAT_VERSION:
        raise fail(
            where,
            f"it was written by a newer fnn (JSON format version {version}); this fnn reads versions up to "
            f"{JSON_FORMAT_VERSION}: upgrade fnn to load it",
        )
    model = doc.get("model")
    if type(model) is not dict or model.get("type") != "Sequential":
        raise fail(where, "at model: expected a Sequential layer")
    try:
        params = _JsonImporter(where).sequential(model, None, None, "model")
    except RecursionError as e:
        raise fail(where, f"layers nested too deeply ({e})") from None
    return tree.pack(params)
