"""Laws of persistence: load(save(x)) is x bit for bit, training continues identically, bad files raise FormatError."""

import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import attrs
import numpy as np
import numpy.lib.format as npy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn import io
from fnn.errors import ConfigError, DtypeError, FormatError, NonFiniteError
from fnn.io import _files
from fnn.testing import random_params, specs

DTYPES = [np.float32, np.float64]


def roundtrip(obj):
    with tempfile.TemporaryDirectory() as d:
        return io.load(io.save(pathlib.Path(d) / "x.npz", obj))


def problem(seed, dtype=np.float32, dropout=0.0, n=24):
    k = fnn.random.key(seed)
    x = fnn.random.normal(fnn.random.fold_in(k, 1), (n, 3), dtype=dtype)
    y = (x[:, 0] > x[:, 1]).astype(np.int64) + (x[:, 2] > 0.5)
    params = fnn.init(fnn.random.fold_in(k, 2), fnn.mlp([3, 5, 3], dropout=dropout, dtype=dtype))
    return params, x, y


def weight_mask(params):
    return fnn.tree.ravel(fnn.tree.map(lambda a: np.full(a.shape, a.ndim == 2), params))[0]


S = fnn.optim.schedules
# Builders: params -> optimizer (masks need the flat size). Every optimizer, schedule and transform class.
OPTIMIZERS = {
    "sgd": lambda p: fnn.optim.sgd(0.1),
    "sgd_wd_piecewise": lambda p: fnn.optim.sgd(S.piecewise_constant((2,), (0.1, 0.01)), weight_decay=0.01),
    "momentum_step_decay": lambda p: fnn.optim.momentum(S.step_decay(0.05, 2, 0.5)),
    "nesterov": lambda p: fnn.optim.nesterov(0.05),
    "adagrad": lambda p: fnn.optim.adagrad(0.1),
    "rmsprop": lambda p: fnn.optim.rmsprop(0.01),
    "rmsprop_centered_momentum": lambda p: fnn.optim.rmsprop(0.01, momentum=0.9, centered=True),
    "adadelta": lambda p: fnn.optim.adadelta(),
    "adam": lambda p: fnn.optim.adam(0.01),
    "plateau_adam": lambda p: fnn.optim.ReduceLROnPlateau(fnn.optim.adam(0.01), factor=0.5, patience=2),
    "adam_amsgrad_exp": lambda p: fnn.optim.adam(S.exponential_decay(0.01, 0.5, 3), amsgrad=True),
    "adamax_inverse_time": lambda p: fnn.optim.adamax(S.inverse_time_decay(0.01, 0.1)),
    "nadam_cosine": lambda p: fnn.optim.nadam(S.cosine_decay(0.01, 5)),
    "adamw_warmup_cosine": lambda p: fnn.optim.adamw(S.warmup_cosine_decay(0.0, 0.01, 2, 10)),
    "adam_linear_warmup_constant": lambda p: fnn.optim.adam(
        S.join_schedules((S.linear_warmup(0.0, 0.01, 2), S.constant(0.01)), (2,))
    ),
    "chain_clip": lambda p: fnn.optim.chain(
        fnn.optim.clip_by_global_norm(0.5), fnn.optim.clip_by_value(0.1), fnn.optim.adam(0.01)
    ),
    "chain_member_clip": lambda p: fnn.optim.chain(fnn.optim.clip_by_member_norm(0.5, p), fnn.optim.adam(0.01)),
    "chain_masked_decay": lambda p: fnn.optim.chain(
        fnn.optim.add_weight_decay(0.1, mask=weight_mask(p)), fnn.optim.sgd(0.1)
    ),
    "decoupled_masked": lambda p: fnn.optim.decoupled_weight_decay(fnn.optim.momentum(0.05), 0.1, mask=weight_mask(p)),
}


def classes_in(value, found):
    """Every attrs class reachable from a value object through its fields."""
    if attrs.has(type(value)):
        found.add(type(value))
        for f in attrs.fields(type(value)):
            classes_in(getattr(value, f.name), found)
    elif isinstance(value, (tuple, list)):
        for v in value:
            classes_in(v, found)
    return found


def test_the_optimizer_sweep_covers_every_saveable_class():
    params, _, _ = problem(0)
    used = set()
    for build in OPTIMIZERS.values():
        classes_in(build(params), used)
    exported = {
        getattr(m, n)
        for m in (fnn.optim, fnn.optim.schedules)
        for n in m.__all__
        if isinstance(getattr(m, n), type) and attrs.has(getattr(m, n)) and not fnn.tree.is_registered(getattr(m, n))
    }
    assert exported - used == {fnn.optim.FromUpdate}


# ------------------------------------------------------------------ round-trip laws


def assert_packed(params):
    flat, _ = fnn.tree.ravel(params)
    for leaf in fnn.tree.leaves(params):
        assert np.shares_memory(flat, leaf) and not leaf.flags.writeable
    assert not flat.flags.writeable


@settings(max_examples=30)
@given(
    specs(max_depth=3, max_width=8, dropout=True, dtype=np.float32)
    | specs(max_depth=3, max_width=8, dropout=True, dtype=np.float64),
    st.integers(0, 2**32 - 1),
)
def test_params_round_trip_bitwise_into_one_read_only_buffer(spec, seed):
    params = random_params(fnn.random.key(seed), spec)
    back = roundtrip(params)
    fnn.tree.assert_equal(back, params)
    assert fnn.tree.structure(back) == fnn.tree.structure(params)
    assert back.dtype == spec.dtype and all(leaf.dtype == spec.dtype for leaf in fnn.tree.leaves(back))
    assert_packed(back)


@settings(max_examples=40)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(sorted(OPTIMIZERS)),
    st.integers(0, 3),
    st.sampled_from(DTYPES),
    st.booleans(),
)
def test_train_state_round_trips_and_training_continues_identically(seed, name, epochs, dtype, dropout):
    params, x, y = problem(seed, dtype, dropout=0.3 if dropout else 0.0)
    state = fnn.TrainState.create(params, OPTIMIZERS[name](params), key=fnn.random.key(seed))
    for _ in range(epochs):
        state, _ = fnn.train_epoch(state, (x, y), batch_size=7, loss="cross_entropy", l2=0.01)
    back = roundtrip(state)
    fnn.tree.assert_equal(back, state)  # leaves bitwise, and the static key, step and optimizer equal
    assert (back.key, back.step, back.optimizer) == (state.key, state.step, state.optimizer)
    assert type(back.step) is int and type(back.opt_state.count) is int
    assert_packed(back.params)
    assert all(not a.flags.writeable for a in fnn.tree.leaves(back.opt_state) if isinstance(a, np.ndarray))
    ours, m1 = fnn.train_epoch(state, (x, y), batch_size=7, loss="cross_entropy", l2=0.01)
    theirs, m2 = fnn.train_epoch(back, (x, y), batch_size=7, loss="cross_entropy", l2=0.01)
    fnn.tree.assert_equal(theirs, ours)
    assert np.array_equal(m1["step_loss"], m2["step_loss"])


def test_train_state_params_are_packed_on_load_even_if_saved_unpacked():
    params, _, _ = problem(1)
    loose = fnn.tree.map(np.copy, params)  # separate arrays, not views of one buffer
    state = fnn.TrainState.create(loose, fnn.optim.adam(), key=fnn.random.key(0))
    assert_packed(roundtrip(state).params)
    assert_packed(roundtrip(loose))


def test_a_packed_user_tree_is_packed_again_and_separate_arrays_stay_separate():
    packed = fnn.tree.pack({"a": np.arange(3.0), "b": (np.ones((2, 2)),)})
    back = roundtrip({"packed": packed, "loose": {"c": np.zeros(2), "d": np.ones(2)}})
    assert_packed(back["packed"])
    assert not np.shares_memory(back["loose"]["c"], back["loose"]["d"])
    fnn.tree.assert_equal(back["packed"], packed)


@settings(max_examples=20)
@given(
    st.dictionaries(
        st.sampled_from(["loss", "val_loss", "accuracy", "val_accuracy", "time"]),
        st.tuples(st.integers(1, 6), st.integers(0, 3)),
        min_size=1,
    ),
    st.integers(0, 2**32 - 1),
)
def test_histories_round_trip(shapes, seed):
    history = {}
    for i, (name, (epochs, k)) in enumerate(shapes.items()):
        shape = (epochs,) if k == 0 else (epochs, k)
        history[name] = fnn.random.normal(fnn.random.fold_in(fnn.random.key(seed), i), shape)
    history.setdefault("loss", np.array([np.nan, 1.0]))
    back = roundtrip(history)
    assert list(back) == list(history)  # insertion order kept
    fnn.tree.assert_equal(back, history)


def test_combined_payload_round_trips():
    params, x, y = problem(3)
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(3))
    state, history = fnn.fit(state, (x, y), epochs=2, batch_size=8, loss="cross_entropy", validation=0.25, verbose=0)
    payload = {"state": state, "history": history, "spec": fnn.mlp([3, 5, 3]), "epoch": 2, "stop": fnn.EarlyStopping()}
    back = roundtrip(payload)
    fnn.tree.assert_equal(back["state"], state)
    fnn.tree.assert_equal(back["history"], history)
    assert back["spec"] == payload["spec"] and back["stop"] == payload["stop"] and back["epoch"] == 2


def test_python_and_numpy_scalars_keep_their_types_and_values():
    value = {
        "int": 3,
        "big": 2**80,
        "float": 0.1,
        "neg_zero": -0.0,
        "nan": math.nan,
        "inf": -math.inf,
        "bool": True,
        "none": None,
        "str": "é ☃",
        "f32": np.float32(1.5),
        "i64": np.int64(-7),
        "b": np.bool_(True),
        "zero_d": np.array(2.0),
        "nested": (1, [2.0, (None, "x")]),
        "dtype": np.dtype("float16"),
        "key": fnn.random.fold_in(fnn.random.split(fnn.random.key(5))[1], 9),
        "int_keys": {7: "seven", 3: np.zeros(1)},
        "tuple_keys": {(1, "a"): 1.0, (0, "b"): 2},
    }
    back = roundtrip(value)
    assert list(back) == list(value)
    for k, v in value.items():
        b = back[k]
        assert type(b) is type(v), k
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(b)
        elif isinstance(v, float):
            assert b == v and math.copysign(1, b) == math.copysign(1, v), k
        elif isinstance(v, np.ndarray):
            assert b.shape == v.shape and b.dtype == v.dtype and b == v
        elif isinstance(v, dict):
            assert list(b) == list(v)
            fnn.tree.assert_equal(b, v)
        else:
            assert b == v, k


@pytest.mark.parametrize(
    "a",
    [
        np.arange(6, dtype=np.int8).reshape(2, 3),
        np.array([True, False]),
        np.arange(3, dtype=np.uint64),
        np.array([1 + 2j], np.complex64),
        np.arange(4, dtype=np.float16),
        np.arange(3, dtype=">f8"),
        np.zeros((0, 3), np.float32),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.arange(10.0)[::3],
    ],
    ids=lambda a: f"{a.dtype.str}{a.shape}",
)
def test_arrays_of_any_numeric_dtype_round_trip_exactly(a):
    back = roundtrip({"a": a})["a"]
    assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)
    assert not back.flags.writeable


def test_same_value_gives_the_same_bytes():
    params, _, _ = problem(4)
    with tempfile.TemporaryDirectory() as d:
        a = io.save(f"{d}/a.npz", params).read_bytes()
        b = io.save(f"{d}/b.npz", fnn.tree.map(np.copy, params)).read_bytes()
    assert a == b


def test_files_are_readable_by_numpy_alone_without_pickle(tmp_path):
    params, _, _ = problem(5)
    path = io.save(tmp_path / "p.npz", params)
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["__header__"].tobytes())
        arrays = {n: z[n] for n in z.files}
    assert header["format"] == "fnn" and header["kind"] == "params" and header["fnn_version"] == fnn.__version__
    assert header["fingerprint"]["numpy"] == np.__version__
    assert np.array_equal(arrays["a0"], params.layers[0].w) and np.array_equal(arrays["a1"], params.layers[0].b)
    assert [a["shape"] for a in header["arrays"]] == [[3, 5], [5], [5, 3], [3]]


def test_read_header_reports_the_kind(tmp_path):
    params, _, _ = problem(6)
    state = fnn.TrainState.create(params, fnn.optim.sgd(0.1), key=fnn.random.key(0))
    kinds = {}
    for name, obj in {
        "params": params,
        "train_state": state,
        "history": {"loss": np.ones(2)},
        "tree": (params,),
    }.items():
        kinds[name] = io.read_header(io.save(tmp_path / f"{name}.npz", obj))["kind"]
    assert kinds == {k: k for k in kinds}


# ------------------------------------------------------------------ what cannot be saved


def test_from_update_optimizer_cannot_be_saved_and_nothing_is_written(tmp_path):
    class Tutorial:
        def update(self, old, grad):
            return old - 0.1 * grad

    params, _, _ = problem(7)
    state = fnn.TrainState.create(params, Tutorial(), key=fnn.random.key(0))
    with pytest.raises(ConfigError, match="from_update.*state.params"):
        io.save(tmp_path / "s.npz", state)
    assert list(tmp_path.iterdir()) == []
    fnn.tree.assert_equal(roundtrip(state.params), params)  # the params alone can be


@pytest.mark.parametrize(
    "obj, error, where",
    [
        ({"f": lambda x: x}, ConfigError, r"\['f'\]"),
        ({"o": np.array([object()])}, DtypeError, "object"),
        ((np.array(["a"]),), DtypeError, r"\[0\]"),
        ({"s": {1, 2}}, ConfigError, "set"),
        ({1: np.zeros(1), "a": np.zeros(1)}, ConfigError, "cannot be sorted"),
    ],
)
def test_unsaveable_values_raise_before_any_file_exists(tmp_path, obj, error, where):
    target = tmp_path / "x.npz"
    target.write_bytes(b"old")
    with pytest.raises(error, match=where):
        io.save(target, obj)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"] and target.read_bytes() == b"old"


def test_an_unregistered_attrs_class_cannot_be_saved(tmp_path):
    @attrs.frozen
    class Mine:
        a: int = 1

    with pytest.raises(ConfigError, match="Mine.*fnn.tree.register"):
        io.save(tmp_path / "x.npz", {"m": Mine()})


# ------------------------------------------------------------------ what a file may name: registration


def test_a_users_value_class_saves_once_declared_and_loads_through_its_init(tmp_path):
    @attrs.frozen
    class Block:
        width: int = attrs.field(converter=int)

    with pytest.raises(ConfigError, match="Block.*fnn.tree.value_class"):
        io.save(tmp_path / "x.npz", {"b": Block(3)})
    fnn.tree.value_class(Block)
    assert roundtrip({"b": Block(3), "spec": fnn.mlp([2, 3])}) == {"b": Block(3), "spec": fnn.mlp([2, 3])}
    assert io.read_header(io.save(tmp_path / "x.npz", Block(3)))["tree"]["attrs"] == f"{__name__}:{Block.__qualname__}"


def test_a_declared_name_is_what_files_hold_so_a_class_can_move():
    @fnn.tree.value_class(name="my_lab.old_module:Rule")
    @attrs.frozen
    class Rule:
        k: int = 1

    @fnn.tree.register(name="my_lab.old_module:Box")
    @attrs.frozen
    class Box:
        a: object

    with tempfile.TemporaryDirectory() as d:
        path = io.save(pathlib.Path(d) / "x.npz", Box(Rule(2)))
        header = io.read_header(path)
        assert header["tree"]["node"] == "my_lab.old_module:Box"
        assert header["tree"]["children"]["a"]["attrs"] == "my_lab.old_module:Rule"
        assert io.load(path) == Box(Rule(2))


def test_fnn_files_keep_the_names_of_classes_that_moved():
    # EarlyStopping and the watches lived in fnn.fit when the format was fixed; files name them so
    assert fnn.tree.save_info(fnn.EarlyStopping).name == "fnn.fit:EarlyStopping"


def test_packing_and_kind_come_from_registration():
    @fnn.tree.register(packed=True, kind="bundle")
    @attrs.frozen
    class Bundle:
        a: object
        b: object

    @fnn.tree.register(packed_children=("inner",))
    @attrs.frozen
    class Holder:
        inner: object
        loose: object

    loose = Bundle(np.zeros(2), np.ones(3))  # two separate arrays: packed on load all the same
    back = roundtrip(loose)
    fnn.tree.assert_equal(back, loose)
    assert_packed(back)
    held = roundtrip(Holder({"w": np.zeros(2), "b": np.ones(2)}, (np.zeros(2), np.ones(2))))
    assert_packed(held.inner)
    assert not fnn.tree.leaves_are_packed(fnn.tree.leaves(held.loose))  # a child not named stays as it was
    with tempfile.TemporaryDirectory() as d:
        assert io.read_header(io.save(pathlib.Path(d) / "x.npz", loose))["kind"] == "bundle"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"name": "no_colon"}, "module:qualname"),
        ({"name": 3}, "module:qualname"),
        ({"kind": 1}, "kind"),
        ({"packed": 1}, "packed"),
        ({"packed_children": "a"}, "packed_children"),
        ({"packed_children": ("nope",)}, "packed_children"),
    ],
)
def test_malformed_registration_options_raise_type_error(options, message):
    @attrs.frozen
    class Node:
        a: object

    with pytest.raises(TypeError, match=message):
        fnn.tree.register(Node, **options)
    if set(options) == {"name"}:
        with pytest.raises(TypeError, match=message):
            fnn.tree.value_class(Node, **options)


def test_value_class_refuses_what_is_not_a_frozen_attrs_class():
    @attrs.define
    class Loose:
        a: int = 0

    with pytest.raises(TypeError, match="frozen"):
        fnn.tree.value_class(Loose)
    with pytest.raises(TypeError, match="attrs class"):
        fnn.tree.value_class(dict)


def test_every_fnn_value_class_is_declared():
    """The allowlist is the declarations: an exported spec, optimizer or schedule class that forgets its
    @value_class (or @register) cannot be loaded, so this names it."""
    exported = [
        getattr(m, n)
        for m in (fnn, fnn.layers, fnn.optim, fnn.optim.schedules, fnn.random, fnn.initializers)
        for n in m.__all__
    ]
    classes = {c for c in exported if isinstance(c, type) and attrs.has(c) and c is not fnn.optim.FromUpdate}
    undeclared = {c for c in classes if not (fnn.tree.is_registered(c) or c in fnn.tree.value_classes())}
    # a StackKey lives inside one forward pass, and a FromForward holds a function (fnn.save refuses it):
    # never in a file
    assert undeclared == {fnn.random.StackKey, fnn.layers.FromForward}, undeclared


# ------------------------------------------------------------------ atomic writes


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "p.npz"
    target.write_bytes(b"old contents")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        io.save(target, problem(8)[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"] and target.read_bytes() == b"old contents"


def test_a_failure_midway_through_writing_leaves_no_partial_file(tmp_path, monkeypatch):
    calls = []
    real = npy.write_array

    def write_then_fail(fp, array, **kw):
        calls.append(1)
        if len(calls) == 3:
            fp.write(b"half an array")
            raise KeyboardInterrupt
        return real(fp, array, **kw)

    monkeypatch.setattr(npy, "write_array", write_then_fail)
    with pytest.raises(KeyboardInterrupt):
        io.save(tmp_path / "p.npz", problem(8)[0])
    assert list(tmp_path.iterdir()) == []


def test_save_writes_the_exact_name_and_honours_the_umask(tmp_path):
    path = io.save(tmp_path / "weights.bin", {"a": np.zeros(1)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"] and path == tmp_path / "weights.bin"
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_makes_a_missing_directory_and_atomic_write_names_it(tmp_path):  # finding 65
    path = io.save(tmp_path / "run" / "deeper" / "p.npz", {"a": np.zeros(1)})
    assert io.load(path)["a"].tolist() == [0.0]
    with pytest.raises(FileNotFoundError, match=r"cannot write .*/no/p\.json: the directory .*/no does not exist") as e:
        io.atomic_write(tmp_path / "no" / "p.json", lambda f: f.write(b"{}"))
    assert ".tmp" not in str(e.value)
    with pytest.raises(ConfigError):  # an object that cannot be saved makes no directory
        io.save(tmp_path / "never" / "p.npz", {"f": len})
    assert not (tmp_path / "never").exists()


# ------------------------------------------------------------------ bad files


def saved(tmp_path, obj=None):
    obj = problem(9)[0] if obj is None else obj
    return io.save(tmp_path / "good.npz", obj)


def members(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def npy_bytes(a):
    import io as stdio

    buf = stdio.BytesIO()
    npy.write_array(buf, a, allow_pickle=True)  # some tests write hostile files on purpose
    return buf.getvalue()


def file_arrays(path):
    with np.load(path, allow_pickle=False) as z:
        return [z[f"a{i}"] for i in range(len(z.files) - 1)]


def header_of(raw_members):
    import io as stdio

    a = npy.read_array(stdio.BytesIO(raw_members["__header__.npy"]))
    return json.loads(a.tobytes())


def rewrite(path, raw_members, *, header=None, compression=zipfile.ZIP_STORED, fix_checksum=False, arrays=None):
    raw = dict(raw_members)
    if header is not None:
        if fix_checksum:
            header = dict(header, sha256=_files._checksum(header, arrays))
        raw["__header__.npy"] = npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in raw.items():
            z.writestr(name, data)
    return path


def _without(obj, name):
    if isinstance(obj, dict):
        return {k: _without(v, name) for k, v in obj.items() if k != name}
    if isinstance(obj, list):
        return [_without(v, name) for v in obj]
    return obj


def test_files_written_before_a_static_field_existed_load_with_its_default(tmp_path):
    """``SequentialParams.members`` (stacks) came later: a file without it is one network."""
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 5, 2]))
    path = io.save(tmp_path / "p.npz", params)
    raw = members(path)
    header = header_of(raw)
    old = _without(header, "members")
    assert old != header and '"members"' not in json.dumps(old)
    back = io.load(rewrite(tmp_path / "old.npz", raw, header=old, fix_checksum=True, arrays=file_arrays(path)))
    assert back.members is None and fnn.tree.equal(back, params)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "nothing.npz")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"hello, world\n", "not a .npz"),
        (b"\x93NUMPY\x01\x00", "not a .npz"),
        (b"PK\x03\x04junk", "truncated, corrupted"),
    ],
    ids=["empty", "text", "npy", "zip-magic-only"],
)
def test_foreign_bytes_raise_format_error(tmp_path, content, message):
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        io.load(path)


def test_a_zip_that_is_not_an_npz_and_a_plain_npz_raise_format_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    np.savez(tmp_path / "plain.npz", w=np.zeros(3))
    for name in ("notes.zip", "plain.npz"):
        with pytest.raises(FormatError, match="no __header__"):
            io.load(tmp_path / name)


@settings(max_examples=60)
@given(st.floats(0, 1, exclude_max=True))
def test_a_truncated_file_raises_format_error(fraction):
    with tempfile.TemporaryDirectory() as d:
        path = io.save(pathlib.Path(d) / "p.npz", problem(10)[0])
        data = path.read_bytes()
        path.write_bytes(data[: int(fraction * len(data))])
        with pytest.raises(FormatError):
            io.load(path)


@settings(max_examples=40)
@given(st.integers(0, 2**31), st.integers(1, 255))
def test_a_flipped_byte_inside_an_array_raises_format_error(position, xor):
    params = problem(11)[0]
    with tempfile.TemporaryDirectory() as d:
        path = io.save(pathlib.Path(d) / "p.npz", params)
        data = bytearray(path.read_bytes())
        w = params.layers[0].w.tobytes()
        start = bytes(data).find(w)
        assert start > 0
        data[start + position % len(w)] ^= xor
        path.write_bytes(bytes(data))
        with pytest.raises(FormatError):
            io.load(path)


def test_a_consistent_zip_with_a_changed_array_fails_the_checksum(tmp_path):
    params = problem(12)[0]
    path = saved(tmp_path, params)
    raw = members(path)
    w = np.array(params.layers[0].w)
    w[0, 0] += 1
    raw["a0.npy"] = npy_bytes(w)
    with pytest.raises(FormatError, match="checksum mismatch"):
        io.load(rewrite(path, raw))


def test_a_header_whose_shape_or_dtype_disagrees_with_the_array_raises(tmp_path):
    path = saved(tmp_path)
    raw = members(path)
    h = header_of(raw)
    h["arrays"][0]["shape"] = [5, 3]
    with pytest.raises(FormatError, match=r"a0: the header says dtype float32, shape \(5, 3\)"):
        io.load(rewrite(path, raw, header=h))
    h = header_of(raw)
    h["arrays"][2]["dtype"] = "float64"
    with pytest.raises(FormatError, match="a2: the header says dtype float64"):
        io.load(rewrite(path, raw, header=h))


def test_an_edited_static_value_fails_the_checksum_and_a_consistent_bad_value_fails_validation(tmp_path):
    params = problem(13)[0]
    state = fnn.TrainState.create(params, fnn.optim.adam(0.01), key=fnn.random.key(0))
    path = saved(tmp_path, state)
    raw = members(path)
    h = header_of(raw)
    h["tree"]["static"]["optimizer"]["fields"]["lr"] = -1.0
    with pytest.raises(FormatError, match="checksum mismatch"):
        io.load(rewrite(path, raw, header=h))
    arrays = file_arrays(path)  # recompute the checksum, as a forger would
    with pytest.raises(FormatError, match="Adam rejected the stored values.*lr"):
        io.load(rewrite(path, raw, header=h, fix_checksum=True, arrays=arrays))


def test_a_newer_format_version_says_so(tmp_path):
    path = saved(tmp_path)
    raw = members(path)
    h = header_of(raw)
    h["format_version"] = io.FORMAT_VERSION + 1
    h["fnn_version"] = "9.0"
    with pytest.raises(FormatError, match=r"written by a newer fnn \(format version 2, fnn 9.0\).*upgrade"):
        io.load(rewrite(path, raw, header=h))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda h: h.update(format="keras"), "not an fnn file"),
        (lambda h: h.update(format_version="1"), "format_version"),
        (lambda h: h.pop("tree"), "malformed tree"),
        (lambda h: h.update(arrays={}), "'arrays' must be a list"),
        (lambda h: h["arrays"][0].update(name="w"), "named 'w'"),
        (lambda h: h["arrays"][0].update(dtype="object"), "not boolean or numeric"),
        (lambda h: h["arrays"][0].update(dtype="nonsense"), "unknown dtype"),
        (lambda h: h.update(tree={"tuple": [{"array": 99}]}), "bad array reference"),
        (lambda h: h.update(tree={"weird": 1}), "unexpected value"),
        (
            lambda h: h.update(tree={"node": "fnn.layers.dense:DenseParams", "children": {}, "static": {}}),
            "has children",
        ),
    ],
    ids=[
        "format",
        "version-type",
        "no-tree",
        "arrays-type",
        "array-name",
        "object-dtype",
        "bad-dtype",
        "bad-ref",
        "bad-tag",
        "fields",
    ],
)
def test_malformed_headers_raise_format_error(tmp_path, edit, message):
    path = saved(tmp_path)
    raw = members(path)
    h = header_of(raw)
    edit(h)
    arrays = file_arrays(path)
    with pytest.raises(FormatError, match=message):
        io.load(rewrite(path, raw, header=h, fix_checksum=True, arrays=arrays))


def test_a_header_that_is_not_json_raises(tmp_path):
    path = saved(tmp_path)
    raw = members(path)
    raw["__header__.npy"] = npy_bytes(np.frombuffer(b"{not json", np.uint8))
    with pytest.raises(FormatError, match="not valid JSON"):
        io.load(rewrite(path, raw))


def test_class_names_in_a_file_are_never_imported(tmp_path):
    path = saved(tmp_path, {"a": np.zeros(2)})
    raw = members(path)
    module = "fnn_test_never_imported_module"
    for tree in (
        {"node": f"{module}:Evil", "children": {}, "static": {}},
        {"dict": [["a", {"attrs": "os:system", "fields": {"command": "touch hacked"}}]]},
        {"dict": [["a", {"attrs": f"{module}:Evil", "fields": {}}]]},
    ):
        h = dict(header_of(raw), tree=tree)
        with pytest.raises(FormatError, match="never imports"):
            io.load(rewrite(path, raw, header=h, fix_checksum=True, arrays=[np.zeros(2)]))
        assert module not in sys.modules
    assert not (pathlib.Path.cwd() / "hacked").exists()


class Booby:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_pickle_inside_is_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    hostile = np.array([Booby(marker)], dtype=object)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a0=hostile)  # numpy's default writer pickles object arrays
    path = saved(tmp_path, {"a": np.zeros(1)})
    raw = members(path)
    raw["a0.npy"] = npy_bytes(hostile)
    inside = rewrite(tmp_path / "inside.npz", raw)
    with pytest.raises(FormatError, match="no __header__"):
        io.load(foreign)
    with pytest.raises(FormatError, match="object.*pickle"):
        io.load(inside)
    assert not marker.exists()
    # The files really are booby-trapped: unpickling them on purpose runs the payload.
    with np.load(inside, allow_pickle=True) as z:
        z["a0"]
    assert marker.exists()


def test_compressed_extra_or_missing_members_raise(tmp_path):
    path = saved(tmp_path)
    raw = members(path)
    with pytest.raises(FormatError, match="compressed"):
        io.load(rewrite(tmp_path / "c.npz", raw, compression=zipfile.ZIP_DEFLATED))
    with pytest.raises(FormatError, match=r"unexpected \['extra.npy'\]"):
        io.load(rewrite(tmp_path / "e.npz", {**raw, "extra.npy": npy_bytes(np.zeros(1))}))
    without = {k: v for k, v in raw.items() if k != "a3.npy"}
    with pytest.raises(FormatError, match=r"missing \['a3.npy'\]"):
        io.load(rewrite(tmp_path / "m.npz", without))


def test_a_member_larger_than_its_npy_header_announces_raises(tmp_path):
    path = saved(tmp_path)
    raw = members(path)
    raw["a1.npy"] = raw["a1.npy"] + b"\x00" * 8
    with pytest.raises(FormatError, match="announces"):
        io.load(rewrite(path, raw))


# ------------------------------------------------------------------ checkpoints


def test_checkpoint_names_latest_and_junk(tmp_path):
    assert io.latest_checkpoint(tmp_path / "missing") is None and io.list_checkpoints(tmp_path / "missing") == []
    for step in (3, 12, 1):
        io.save_checkpoint(tmp_path, {"step": step}, step=step)
    for junk in (".ckpt-000000000099.npz.abc123.tmp", "ckpt-99.npz", "ckpt-000000000099.npz.bak", "notes.txt"):
        (tmp_path / junk).write_text("junk")
    (tmp_path / "ckpt-000000000100.npz").mkdir()
    assert [s for s, _ in io.list_checkpoints(tmp_path)] == [1, 3, 12]
    assert io.latest_checkpoint(tmp_path) == tmp_path / "ckpt-000000000012.npz"
    assert io.load_checkpoint(tmp_path) == {"step": 12} and io.load_checkpoint(tmp_path, step=3) == {"step": 3}
    with pytest.raises(FileNotFoundError):
        io.load_checkpoint(tmp_path, step=4)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        io.load_checkpoint(tmp_path / "empty")


def test_keep_deletes_the_oldest_after_writing_and_never_the_new_one(tmp_path):
    for step in range(6):
        io.save_checkpoint(tmp_path / "run", {"s": step}, step=step, keep=3)
    assert [s for s, _ in io.list_checkpoints(tmp_path / "run")] == [3, 4, 5]
    io.save_checkpoint(tmp_path / "run", {"s": 1}, step=1, keep=2)  # an older step is still kept
    assert [s for s, _ in io.list_checkpoints(tmp_path / "run")] == [1, 4, 5]


@pytest.mark.parametrize(
    "kwargs", [{"step": -1}, {"step": 1.0}, {"step": True}, {"step": 1, "keep": 0}, {"step": 1, "keep": 2.5}]
)
def test_bad_checkpoint_arguments_raise_config_error(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        io.save_checkpoint(tmp_path, {"a": 1}, **kwargs)
    assert list(tmp_path.iterdir()) == []


RESUME = """
import sys, numpy as np, fnn
from fnn import io
payload = io.load_checkpoint(sys.argv[1])
state, _ = fnn.train_epoch(payload["state"], (payload["x"], payload["y"]), batch_size=5, loss="cross_entropy")
io.save(sys.argv[2], state)
"""


def test_resume_in_a_fresh_process_continues_bit_for_bit(tmp_path):
    params, x, y = problem(14, dropout=0.2)
    state = fnn.TrainState.create(params, fnn.optim.nadam(0.01), key=fnn.random.key(14))
    state, _ = fnn.train_epoch(state, (x, y), batch_size=5, loss="cross_entropy")
    io.save_checkpoint(tmp_path / "run", {"state": state, "x": x, "y": y}, step=state.step)
    subprocess.run([sys.executable, "-c", RESUME, str(tmp_path / "run"), str(tmp_path / "out.npz")], check=True)
    expected, _ = fnn.train_epoch(state, (x, y), batch_size=5, loss="cross_entropy")
    fnn.tree.assert_equal(io.load(tmp_path / "out.npz"), expected)


# ------------------------------------------------------------------ JSON export


def nested_params(dtype=np.float32):
    spec = fnn.Sequential(
        [
            fnn.Dense(4),
            fnn.Sequential([fnn.Dense(3, use_bias=False), fnn.Activation("tanh"), fnn.Dropout(0.25)]),
            fnn.Dense(2),
            fnn.Activation("softmax"),
        ],
        in_dim=5,
        dtype=dtype,
    )
    return random_params(fnn.random.key(0), spec)


@settings(max_examples=30)
@given(
    specs(max_depth=3, max_width=8, dropout=True, dtype=np.float32)
    | specs(max_depth=3, max_width=8, dropout=True, dtype=np.float64),
    st.integers(0, 2**32 - 1),
)
def test_json_export_round_trips_bitwise(spec, seed):
    params = random_params(fnn.random.key(seed), spec)
    with tempfile.TemporaryDirectory() as d:
        back = io.import_json(io.export_json(pathlib.Path(d) / "m.json", params))
    fnn.tree.assert_equal(back, params)
    assert back.dtype == params.dtype
    assert_packed(back)


@pytest.mark.parametrize("dtype", DTYPES)
def test_json_export_is_plain_json_with_nested_layers(tmp_path, dtype):
    params = nested_params(dtype)
    doc = json.loads(io.export_json(tmp_path / "m.json", params).read_text())
    model = doc["model"]
    assert (doc["format"], doc["format_version"], model["dtype"], model["in_dim"]) == (
        "fnn.json",
        1,
        np.dtype(dtype).name,
        5,
    )
    inner = model["layers"][1]
    assert [layer["type"] for layer in inner["layers"]] == ["Dense", "Activation", "Dropout"]
    assert inner["layers"][0]["bias"] is None and inner["layers"][0]["use_bias"] is False
    assert inner["layers"][2]["rate"] == 0.25 and inner["layers"][1]["name"] == "tanh"
    assert np.array_equal(np.array(model["layers"][0]["weights"], dtype), params.layers[0].w)
    fnn.tree.assert_equal(io.import_json(tmp_path / "m.json"), params)


def json_doc(tmp_path):
    return json.loads(io.export_json(tmp_path / "m.json", nested_params()).read_text())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.update(format="keras"), "not an fnn JSON export"),
        (lambda d: d.update(format_version=2), "newer fnn"),
        (
            lambda d: d["model"]["layers"][0].update(weights=[[1.0]]),
            r"model.layers\[0\].weights: expected numbers in nested lists of shape \(5, 4\)",
        ),
        (lambda d: d["model"]["layers"][0]["weights"][0].__setitem__(0, "1.0"), "expected numbers"),
        (lambda d: d["model"]["layers"][0]["weights"][0].__setitem__(0, True), "expected numbers"),
        (lambda d: d["model"]["layers"][0]["bias"].__setitem__(0, 1e300), "out of the float32 range"),
        (lambda d: d["model"]["layers"][2].update(in_dim=4), "previous layer outputs 3"),
        (lambda d: d["model"]["layers"][1]["layers"][1].update(name="swish"), "unknown activation 'swish'"),
        (lambda d: d["model"]["layers"][1]["layers"][2].update(rate=1.5), "rate"),
        (lambda d: d["model"]["layers"][3].update(type="Conv2D"), "unknown layer type"),
        (lambda d: d["model"]["layers"][0].update(use_bais=True), "expected an object with keys"),
        (lambda d: d["model"]["layers"][1].update(dtype="float64"), "dtype must be float32"),
        (lambda d: d["model"]["layers"][0].update(use_bias=False), "use_bias"),
        (lambda d: d.update(model=[]), "expected a Sequential"),
    ],
    ids=[
        "format",
        "version",
        "shape",
        "string",
        "bool",
        "overflow",
        "width",
        "activation",
        "rate",
        "type",
        "key",
        "dtype",
        "bias",
        "model",
    ],
)
def test_bad_json_exports_raise_format_error(tmp_path, edit, message):
    doc = json_doc(tmp_path)
    edit(doc)
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=message):
        io.import_json(tmp_path / "bad.json")


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"format": "fnn.json", "format_version": 1, "model": NaN}'])
def test_non_json_or_foreign_json_raises_format_error(tmp_path, text):
    (tmp_path / "x.json").write_text(text)
    with pytest.raises(FormatError):
        io.import_json(tmp_path / "x.json")


def test_nan_in_json_numbers_is_refused(tmp_path):
    text = io.export_json(tmp_path / "m.json", nested_params()).read_text()
    doc = json.loads(text)
    doc["model"]["layers"][0]["weights"][0][0] = float("nan")
    (tmp_path / "nan.json").write_text(json.dumps(doc))  # json.dumps writes the non-standard NaN token
    with pytest.raises(FormatError, match="NaN"):
        io.import_json(tmp_path / "nan.json")


def test_export_refuses_non_finite_weights_and_unknown_layers(tmp_path):
    params = nested_params()
    bad = fnn.tree.pack(fnn.tree.map(lambda a: np.where(a == a.flat[0], np.inf, a).astype(a.dtype), params))
    with pytest.raises(NonFiniteError, match=r"model.layers\[0\].w"):
        io.export_json(tmp_path / "m.json", bad)

    @fnn.tree.register
    @attrs.frozen
    class Odd:
        s: np.ndarray

    odd = fnn.layers.SequentialParams((Odd(np.ones(2, np.float32)),), in_dim=2)
    with pytest.raises(ConfigError, match="Odd.*fnn.save"):
        io.export_json(tmp_path / "m.json", odd)
    with pytest.raises(ConfigError, match="SequentialParams"):
        io.export_json(tmp_path / "m.json", {"w": np.ones(2)})
    assert list(tmp_path.iterdir()) == []
