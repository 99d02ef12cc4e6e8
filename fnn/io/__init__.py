"""Saving and loading without pickle: one ``.npz`` per save, checkpoints, and a plain-JSON export.

**What can be saved.** ``save(path, obj)`` stores any pytree (see :mod:`fnn.tree`)
whose parts fnn can describe, and :func:`load` gives back the same kind of value,
bit for bit:

- params from :func:`fnn.init` (a ``SequentialParams``), or any tree of arrays;
- a :class:`fnn.TrainState` (params, optimizer state, key, step and optimizer);
- a history from :func:`fnn.fit` (a dict of str to 1-D or 2-D arrays);
- tuples, lists and dicts combining them (``{"state": state, "history": history}``).

Leaves may be arrays of a boolean or numeric dtype, NumPy scalars, Python
``int``/``float``/``bool``/``str`` (they come back with their type: an
optimizer's ``count`` stays an ``int``), and value objects: fnn's own (keys,
specs, optimizers, schedules, transforms, initializers, early-stopping rules) and
a user's, declared with :func:`fnn.tree.value_class`. Static fields hold the
same kinds of value plus tuples, lists, dicts and ``np.dtype``. An optimizer made
by :func:`fnn.optim.from_update` cannot be saved: its state lives in a user's
object, outside fnn.

**The file.** A zip archive of ``.npy`` members, uncompressed, that
``np.load(path, allow_pickle=False)`` reads without fnn:

- ``__header__``: a uint8 array of UTF-8 JSON (keys sorted) with ``format``
  (``"fnn"``), ``format_version``, ``fnn_version``, ``kind`` (``params``,
  ``train_state``, ``history`` or ``tree``), ``fingerprint`` (see
  :func:`fingerprint`; informational), ``arrays`` (the name, dtype and shape of
  each array member), ``tree`` (the encoded tree) and ``sha256``.
- ``a0``, ``a1``, ...: every array, in the order the encoding meets them
  (for params: layer by layer, weight before bias).

``sha256`` is the SHA-256 of the header without that field (as canonical JSON)
followed by each array's name, dtype, shape and bytes, so any change to a
value, static setting or array is detected. The tree encoding is JSON objects
with one tag each: ``{"tuple": [...]}``, ``{"list": [...]}``, ``{"dict": [[key,
value], ...]}``, ``null`` for ``None``, ``{"node": "module:Class", "children":
{...}, "static": {...}}`` for a registered node, ``{"array": i}`` for an array,
plain JSON for Python scalars and strings, ``{"float": "nan"}`` for a
non-finite float, ``{"dtype": "float32"}``, and ``{"attrs": "module:Class",
"fields": {...}}`` for a value object (``module:Class`` is the name the class
was registered under; see :func:`fnn.tree.save_info`). A node whose leaves shared
one flat buffer, or whose class is registered with ``packed=True`` (params) or
is a child its parent's class names in ``packed_children`` (a TrainState's
params), carries ``"packed": true`` and is loaded into one flat, read-only buffer
again, so ``fnn.tree.ravel`` of loaded params copies nothing.

**Loading runs no code.** Arrays are read with ``allow_pickle=False`` after
their ``.npy`` header is checked (a boolean or numeric dtype, the shape and
dtype the JSON header lists, the member's size). Class names in a file are
looked up only among the classes registered in this process with
:func:`fnn.tree.register` (nodes) or :func:`fnn.tree.value_class` (values, fnn's
own included): these are the load allowlist, and no module named in a file is ever
imported. Objects are rebuilt through their ``__init__``, so their validators
run again: a tampered value is an error, not a wrong model. A file that is
empty, truncated, corrupted, foreign, holds object arrays or a pickle, has a
header that disagrees with its arrays, fails the checksum, or was written by
a newer format version raises :class:`~fnn.errors.FormatError` saying which;
a missing file raises ``FileNotFoundError``.

**Loading is bounded.** A FIFO, a device or any other non-regular file is a
``FormatError`` at once (it is never read, so it cannot hang a load). Every size a file
declares (each zip directory entry, each ``.npy`` header) is checked against the file's
own size before NumPy allocates, each array may be referred to only once (no small file
unfolds into a large tree), and the members together must fit in ``max_bytes``
(:data:`MAX_BYTES`, 4 GiB, by default; ``load(path, max_bytes=N)`` or ``None`` raises it),
so a load's peak memory is at most about twice the file's size. A value class's
validators only see their own fields, so after building, every network and train state
is checked against what :func:`fnn.init` and ``TrainState.create`` would build for it
(leaf shapes and dtypes from the network's ``in_shape`` down, a stack's member axis, the
optimizer state ``optimizer.init`` makes): a tampered file whose checksum was recomputed
is a ``FormatError`` naming the leaf, not an inconsistent model.

**Writes are atomic.** Everything is encoded first; then a temporary file in the
target's directory is written, flushed, fsync'ed and renamed over the target,
and the directory is fsync'ed. On any error the temporary file is removed: the
target is either the old file or the complete new one, never half of one
(:func:`atomic_write` does this for any file: the JSON export, the command's
history files). The temporary file of a writer that was killed is removed by the next
save or load of the same path (only when provably stale: its writer's ``flock`` is
gone). Re-saving keeps the file's permission bits, and a read-only file is refused
(``ConfigError``), not replaced.

**The modules.** ``fnn.io._files`` holds the ``.npz`` file (:func:`save`,
:func:`load`, :func:`read_header`, :func:`fingerprint`, :func:`atomic_write`),
``fnn.io._codec`` the tree encoding inside its header, :mod:`fnn.io.checkpoints`
the checkpoint directories and :mod:`fnn.io.json_export` the JSON export; this
package re-exports their public names.

>>> import tempfile, numpy as np, fnn
>>> from fnn import io
>>> params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
>>> with tempfile.TemporaryDirectory() as d:
...     path = io.save(f"{d}/model.npz", params)
...     back = io.load(path)
>>> fnn.tree.equal(back, params), back.layers[0].w.dtype, back.layers[0].w.flags.writeable
(True, dtype('float32'), False)
"""

from fnn.io import checkpoints, json_export
from fnn.io._files import FORMAT, FORMAT_VERSION, MAX_BYTES, atomic_write, fingerprint, load, read_header, save
from fnn.io.checkpoints import (
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    recover_checkpoint,
    save_checkpoint,
)
from fnn.io.json_export import JSON_FORMAT, JSON_FORMAT_VERSION, JSON_MAX_BYTES, export_json, import_json

__all__ = [
    "save",
    "load",
    "read_header",
    "fingerprint",
    "save_checkpoint",
    "load_checkpoint",
    "latest_checkpoint",
    "list_checkpoints",
    "checkpoint_path",
    "recover_checkpoint",
    "export_json",
    "import_json",
    "atomic_write",
    "FORMAT",
    "FORMAT_VERSION",
    "JSON_FORMAT",
    "JSON_FORMAT_VERSION",
    "MAX_BYTES",
    "JSON_MAX_BYTES",
    "checkpoints",
    "json_export",
]
