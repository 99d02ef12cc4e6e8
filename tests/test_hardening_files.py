"""Issue 16, the file side: forged and hostile files are FormatErrors within a memory budget, and writes clean up.

Each test reproduces one finding of ``reliability-findings.md`` (F5, F7, F8, F11-F14, F18, F19) with a
real file, a real FIFO or a real SIGKILLed process; the memory a load may use is measured with tracemalloc
(NumPy reports its array buffers to it).
"""

import gzip
import io as _pyio
import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import numpy.lib.format as npy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn import io
from fnn.errors import ConfigError, FormatError
from fnn.io import _files
from fnn.testing import layer_cases

MIB = 2**20
ROOT = pathlib.Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ helpers: craft and re-sign files


def raw_parts(path):
    """(header dict, arrays) of an fnn file, read without fnn's checks."""
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["__header__"].tobytes().decode("utf-8"))
        arrays = [npz[f"a{i}"] for i in range(len(header["arrays"]))]
    return header, arrays


def write_signed(path, header, arrays):
    """Write ``header`` and ``arrays`` as an fnn file whose checksum is right (what a tampering tool does)."""
    header = dict(header)
    header["arrays"] = [
        {"name": f"a{i}", "dtype": np.dtype(a.dtype).name if a.dtype.isnative else a.dtype.str, "shape": list(a.shape)}
        for i, a in enumerate(arrays)
    ]
    header["sha256"] = _files._checksum(header, arrays)
    with open(path, "wb") as f:
        _files._write_npz(f, _files._canonical(header), arrays)
    return pathlib.Path(path)


def resign(path, edit):
    """Apply ``edit(header, arrays) -> (header, arrays)`` to the file at ``path`` and re-sign it."""
    header, arrays = raw_parts(path)
    header, arrays = edit(header, arrays)
    return write_signed(path, header, arrays)


def peak_of(call):
    """(result or exception, peak traced bytes) of ``call()``."""
    tracemalloc.start()
    try:
        try:
            out = call()
        except Exception as e:  # noqa: BLE001 - the caller looks at what came back
            out = e
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def params_file(tmp_path, name="m.npz", sizes=(4, 8, 3)):
    return io.save(tmp_path / name, fnn.init(fnn.random.key(0), fnn.mlp(list(sizes))))


# ------------------------------------------------------------------ F5: one array referenced many times


def amplification_file(path, references, nbytes=MIB):
    """A ~``nbytes`` file whose packed tuple refers to its one array ``references`` times (F5's bomb)."""
    a = np.zeros(nbytes // 4, np.float32)
    header = {
        "format": "fnn",
        "format_version": 1,
        "fnn_version": fnn.__version__,
        "kind": "tree",
        "fingerprint": {},
        "tree": {"tuple": [{"array": 0}] * references, "packed": True},
    }
    return write_signed(path, header, [a])


def test_f5_an_array_referenced_twice_is_refused(tmp_path):
    path = amplification_file(tmp_path / "bomb.npz", 2)
    with pytest.raises(FormatError, match="a0 .*more than once"):
        io.load(path)


def test_f5_amplification_file_loads_within_a_small_multiple_of_its_size(tmp_path):
    path = amplification_file(tmp_path / "bomb.npz", 200)
    size = path.stat().st_size
    out, peak = peak_of(lambda: io.load(path))
    assert isinstance(out, FormatError), out
    assert peak < 3 * size, f"{peak / MIB:.1f} MiB peak for a {size / MIB:.1f} MiB file"


def test_f5_a_real_file_still_loads_within_twice_its_size(tmp_path):
    params = fnn.init(fnn.random.key(0), fnn.mlp([256, 512, 256, 10]))
    path = io.save(tmp_path / "m.npz", params)
    out, peak = peak_of(lambda: io.load(path))
    assert fnn.tree.equal(out, params)
    assert peak < 2.5 * path.stat().st_size + MIB


# ------------------------------------------------------------------ F11: forged (zip64) sizes


def forged_size_file(path, member, shape, dtype):
    """An fnn file whose ``member`` has a .npy header declaring ``shape`` and a zip directory agreeing, but 16 bytes."""
    dtype = np.dtype(dtype)
    head = _pyio.BytesIO()
    npy.write_array_header_2_0(head, {"descr": npy.dtype_to_descr(dtype), "fortran_order": False, "shape": shape})
    forged = head.tell() + int(np.prod(shape, dtype=object)) * dtype.itemsize
    header = {
        "format": "fnn",
        "format_version": 1,
        "fnn_version": fnn.__version__,
        "kind": "tree",
        "fingerprint": {},
        "arrays": [{"name": "a0", "dtype": dtype.name, "shape": list(shape)}],
        "tree": {"array": 0},
        "sha256": "0" * 64,
    }
    text = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        if member == "__header__":
            zf.writestr("__header__.npy", head.getvalue() + b"\0" * 16)
        else:
            buf = _pyio.BytesIO()
            npy.write_array(buf, text, allow_pickle=False)
            zf.writestr("__header__.npy", buf.getvalue())
            zf.writestr("a0.npy", head.getvalue() + b"\0" * 16)
        info = zf.getinfo(member + ".npy")
        info.file_size = info.compress_size = forged  # the central directory now declares the forged size
    return pathlib.Path(path)


@pytest.mark.parametrize(
    "member, shape, dtype",
    [("a0", (2**34,), np.float64), ("a0", (10**6, 10**6), np.float32), ("__header__", (2**40,), np.uint8)],
)
def test_f11_forged_sizes_are_a_format_error_naming_the_limit(tmp_path, member, shape, dtype):
    path = forged_size_file(tmp_path / "forged.npz", member, shape, dtype)
    out, peak = peak_of(lambda: io.load(path))
    assert isinstance(out, FormatError), repr(out)
    assert "max_bytes" in str(out) or "bytes in the file" in str(out)
    assert peak < 4 * MIB


def test_f11_the_limit_is_a_keyword_and_refuses_before_reading(tmp_path):
    params = fnn.init(fnn.random.key(0), fnn.mlp([64, 64, 10]))
    path = io.save(tmp_path / "m.npz", params)
    with pytest.raises(FormatError, match=r"max_bytes=") as info:
        io.load(path, max_bytes=1000)
    assert "1000" in str(info.value)
    assert fnn.tree.equal(io.load(path, max_bytes=path.stat().st_size), params)
    assert fnn.tree.equal(io.load(path, max_bytes=None), params)
    assert io.MAX_BYTES >= 2**30
    with pytest.raises(ConfigError, match="max_bytes"):
        io.load(path, max_bytes=-1)
    ckpt = io.save_checkpoint(tmp_path / "run", params, step=1)
    with pytest.raises(FormatError, match=r"max_bytes="):
        io.load_checkpoint(ckpt.parent, max_bytes=1000)
    with pytest.raises(FormatError, match=r"max_bytes="):
        io.read_header(path, max_bytes=100)


# ------------------------------------------------------------------ F7 and F8: zip flags, FIFOs


def test_f7_an_encrypted_flag_in_the_directory_is_a_format_error(tmp_path):
    path = params_file(tmp_path)
    data = bytearray(path.read_bytes())
    data[data.find(b"PK\x01\x02") + 8] |= 1
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="encrypted"):
        io.load(path)
    with pytest.raises(FormatError):
        io.read_header(path)


@pytest.mark.parametrize("offset", range(0, 46))
def test_f7_any_bit_of_a_directory_entry_is_a_format_error_or_harmless(tmp_path, offset):
    params = fnn.init(fnn.random.key(0), fnn.mlp([3, 4, 2]))
    path = io.save(tmp_path / "m.npz", params)
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x01\x02")
    for bit in range(8):
        flipped = bytearray(data)
        flipped[start + offset] ^= 1 << bit
        path.write_bytes(bytes(flipped))
        try:
            back = io.load(path)
        except FormatError:
            continue
        assert fnn.tree.equal(back, params)


def _load_in_child(path, call="fnn.load(p)"):
    code = textwrap.dedent(f"""
        import sys, fnn, fnn.io, fnn.data
        p = sys.argv[1]
        try:
            {call}
        except fnn.errors.FormatError as e:
            print("FormatError", e)
    """)
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30, cwd=ROOT)


@pytest.mark.parametrize(
    "call",
    [
        "fnn.load(p)",
        "fnn.io.read_header(p)",
        "fnn.io.import_json(p)",
        "fnn.data.read_idx(p)",
        "fnn.io.load_checkpoint(p.rsplit('/', 1)[0], step=3)",
    ],
)
def test_f8_a_fifo_is_a_format_error_at_once(tmp_path, call):
    path = tmp_path / ("ckpt-000000000003.npz" if "step" in call else "f.npz")
    os.mkfifo(path)
    start = time.monotonic()
    done = _load_in_child(path, call)
    assert time.monotonic() - start < 20
    assert done.stdout.startswith("FormatError") and "not a regular file" in done.stdout, done.stdout + done.stderr


def test_f8_a_character_device_is_a_format_error():
    with pytest.raises(FormatError, match="not a regular file"):
        io.load("/dev/zero")


# ------------------------------------------------------------------ F12: IDX within bounds


def gzip_idx(path, shape, payload_bytes, dtype_code=0x08):
    """A gzip IDX whose header declares ``shape`` and whose stream inflates to ``payload_bytes`` of zeros."""
    head = bytes([0, 0, dtype_code, len(shape)]) + b"".join(int(n).to_bytes(4, "big") for n in shape)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunks = [comp.compress(head)]
    zeros = bytes(MIB)
    for _ in range(payload_bytes // MIB):
        chunks.append(comp.compress(zeros))
    chunks.append(comp.flush())
    pathlib.Path(path).write_bytes(b"".join(chunks))
    return pathlib.Path(path)


def test_f12_a_gzip_idx_that_inflates_past_its_header_stops_at_once(tmp_path):
    path = gzip_idx(tmp_path / "bomb.idx.gz", (10,), 64 * MIB)
    assert path.stat().st_size < MIB
    out, peak = peak_of(lambda: fnn.data.read_idx(path))
    assert isinstance(out, FormatError) and "left over" in str(out), out
    assert peak < 8 * MIB, f"{peak / MIB:.1f} MiB"


def test_f12_a_declared_size_beyond_the_limit_is_refused_before_inflating(tmp_path):
    path = gzip_idx(tmp_path / "big.idx.gz", (2**16, 2**16, 2), 32 * MIB)  # declares 8 GiB
    out, peak = peak_of(lambda: fnn.data.read_idx(path))
    assert isinstance(out, FormatError) and "max_bytes" in str(out), out
    assert peak < 2 * MIB
    small = gzip_idx(tmp_path / "small.idx.gz", (4 * MIB,), 4 * MIB)
    with pytest.raises(FormatError, match="max_bytes=1000"):
        fnn.data.read_idx(small, max_bytes=1000)
    assert fnn.data.read_idx(small).shape == (4 * MIB,)


def test_f12_a_raw_idx_declaring_more_than_the_file_holds_is_refused_without_allocating(tmp_path):
    path = tmp_path / "raw.idx"
    path.write_bytes(bytes([0, 0, 0x0E, 2]) + (2**20).to_bytes(4, "big") * 2 + bytes(64))
    out, peak = peak_of(lambda: fnn.data.read_idx(path, max_bytes=None))
    assert isinstance(out, FormatError) and "truncated" in str(out), out
    assert peak < MIB


def test_f12_idx_files_still_round_trip(tmp_path):
    a = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    for name in ("a.idx", "a.idx.gz"):
        fnn.data.write_idx(tmp_path / name, a)
        np.testing.assert_array_equal(fnn.data.read_idx(tmp_path / name), a)
    gz = tmp_path / "two.idx.gz"  # a multi-member gzip (cat a.gz b.gz) is one stream to gzip readers
    raw = (tmp_path / "a.idx").read_bytes()
    gz.write_bytes(gzip.compress(raw[:10]) + gzip.compress(raw[10:]))
    np.testing.assert_array_equal(fnn.data.read_idx(gz), a)


# ------------------------------------------------------------------ F13: load_csv numbers


@pytest.mark.parametrize("dtype, cell", [(np.float32, "1e39"), (np.float32, "-3.5e38"), (np.float16, "70000")])
def test_f13_a_value_that_overflows_the_dtype_is_refused_naming_line_and_column(tmp_path, dtype, cell):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,y\n1,2,0\n1,{cell},1\n")
    with pytest.raises(FormatError, match=r"line 3, column 2 \('b'\).*" + cell.replace("+", r"\+")):
        fnn.data.load_csv(path, dtype=dtype)


def test_f13_a_target_that_overflows_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,0.5\n2,1e39\n")
    with pytest.raises(FormatError, match=r"line 3, column 2"):
        fnn.data.load_csv(path)


NOT_PLAIN = ["1_000", "2\x00", "0x10", "١٢", "1e", "--1", "+-1", "nan", "inf", "Infinity", "1 2"]


@pytest.mark.parametrize("cell", NOT_PLAIN)
def test_f13_only_plain_decimal_numbers_are_numbers(tmp_path, cell):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,y\n1,2,0\n3,{cell},1\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 3, column 2"):
        fnn.data.load_csv(path)


def test_f13_a_first_line_with_a_non_plain_number_is_an_error_not_a_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1_000,2,0\n3,4,1\n")
    with pytest.raises(FormatError, match=r"line 1, column 1"):
        fnn.data.load_csv(path)


@pytest.mark.parametrize(
    "cell, value",
    [
        ("1", 1),
        ("-2.5", -2.5),
        ("+.5", 0.5),
        ("3.", 3),
        ("1E-3", 1e-3),
        (" 7 ", 7),
        ("6.02e+23", 6.02e23),
        ("3.4e38", 3.4e38),
        ("1e-50", 0),
    ],
)
def test_f13_plain_decimal_numbers_load(tmp_path, cell, value):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,y\n1,2,0\n3,{cell},1\n")
    x, y = fnn.data.load_csv(path)
    assert x[1, 1] == np.float32(value) and y.tolist() == [0, 1]


# ------------------------------------------------------------------ F14: re-signed tampering


def stack_file(tmp_path):
    spec = fnn.mlp([4, 5, 3])
    stack = fnn.stack([fnn.init(fnn.random.key(i), spec) for i in range(3)])
    return io.save(tmp_path / "stack.npz", stack)


def state_file(tmp_path, optimizer=None):
    params = fnn.init(fnn.random.key(0), fnn.mlp([4, 5, 3]))
    state = fnn.TrainState.create(params, optimizer or fnn.optim.adam(1e-3), key=fnn.random.key(1))
    return io.save(tmp_path / "state.npz", state)


def _node(tree_enc, *path):
    for p in path:
        tree_enc = tree_enc[p]
    return tree_enc


def _reshape(i, shape):
    def edit(header, arrays):
        arrays = list(arrays)
        arrays[i] = arrays[i].reshape(shape) if np.prod(shape) == arrays[i].size else np.zeros(shape, arrays[i].dtype)
        return header, arrays

    return edit


def _edit_tree(change):
    def edit(header, arrays):
        change(header["tree"])
        return header, arrays

    return edit


def _drop_members(t):
    del t["static"]["members"]


def _weight_none(header, arrays):
    layers = header["tree"]["children"]["layers"]["tuple"]
    layers[0]["children"].update(w=None, b={"array": 0})
    layers[2]["children"].update(w={"array": 1}, b={"array": 2})
    return header, [arrays[1], arrays[2], arrays[3]]


F14_PARAMS = {
    "weight gains an axis (4, 8) -> (1, 4, 8)": _reshape(0, (1, 4, 8)),
    "bias as a row (8,) -> (1, 8)": _reshape(1, (1, 8)),
    "weights that do not chain": _reshape(2, (7, 3)),
    "first weight wider than the input": _reshape(0, (5, 8)),
    "a bias of the wrong length": _reshape(3, (4,)),
    "a weight of rank 1": _reshape(0, (32,)),
    "the weight is None": lambda h, a: _weight_none(h, a),
    "in_shape changed": _edit_tree(lambda t: t["static"].update(in_shape={"tuple": [5]})),
    "members added": _edit_tree(lambda t: t["static"].update(members=4)),
}


@pytest.mark.parametrize("case", sorted(F14_PARAMS))
def test_f14_resigned_params_that_init_would_not_build_are_refused(tmp_path, case):
    path = resign(params_file(tmp_path, sizes=(4, 8, 3)), F14_PARAMS[case])
    with pytest.raises(FormatError, match=r"layers\[\d\]|in_shape|members|SequentialParams"):
        io.load(path)


def test_f14_a_stack_without_its_members_is_refused(tmp_path):
    path = resign(stack_file(tmp_path), _edit_tree(_drop_members))
    with pytest.raises(FormatError):
        io.load(path)


def test_f14_a_stack_whose_member_axis_differs_between_leaves_is_refused(tmp_path):
    path = resign(stack_file(tmp_path), _reshape(1, (3, 1, 5)))
    with pytest.raises(FormatError):
        io.load(path)


def _opt_state(t):
    return t["children"]["opt_state"]


F14_STATES = {
    "adam mu of the wrong length": _reshape(4, (10,)),
    "adam nu of another dtype": lambda h, a: (h, [*a[:5], a[5].astype(np.float64)]),
    "optimizer is a string": _edit_tree(lambda t: t["static"].update(optimizer="adam")),
    "count is None": _edit_tree(lambda t: _opt_state(t)["children"].update(count=None)),
    "count is a float": _edit_tree(lambda t: _opt_state(t)["children"].update(count=1e308)),
    "step is negative": _edit_tree(lambda t: t["static"].update(step=-3)),
    "step is a float": _edit_tree(lambda t: t["static"].update(step=2.5)),
    "key is an int": _edit_tree(lambda t: t["static"].update(key=7)),
}


@pytest.mark.parametrize("case", sorted(F14_STATES))
def test_f14_resigned_train_states_that_create_would_not_build_are_refused(tmp_path, case):
    path = state_file(tmp_path)
    header, _ = raw_parts(path)
    assert _opt_state(header["tree"])["node"].endswith("AdamState")
    path = resign(path, F14_STATES[case])
    with pytest.raises(FormatError):
        io.load(path)


@pytest.mark.parametrize("keys", [[1, "a"], [{"float": "nan"}, 1.0]])
def test_f14_a_dict_save_would_refuse_is_refused(tmp_path, keys):
    path = io.save(tmp_path / "d.npz", {i: np.zeros(1) for i in range(2)})
    path = resign(path, _edit_tree(lambda t: [pair.__setitem__(0, k) for pair, k in zip(t["dict"], keys, strict=True)]))
    with pytest.raises(FormatError):
        io.load(path)


def test_f14_untampered_files_of_every_kind_still_load(tmp_path):
    for path in (
        params_file(tmp_path),
        stack_file(tmp_path),
        state_file(tmp_path),
        state_file(tmp_path, fnn.optim.chain(fnn.optim.clip_by_global_norm(1.0), fnn.optim.adam(1e-3))),
    ):
        back = io.load(path)
        assert fnn.tree.equal(io.load(io.save(tmp_path / "again.npz", back)), back)


# ------------------------------------------------------------------ F18 and F19: temporary files, permissions


SAVER = textwrap.dedent("""
    import sys, numpy as np, fnn
    a = np.arange(2**20, dtype=np.float64)
    print("ready", flush=True)
    while True:
        fnn.save(sys.argv[1], {"a": a})
""")


def temporaries(directory):
    return sorted(p.name for p in pathlib.Path(directory).iterdir() if p.name.endswith(".tmp"))


def test_f18_temporaries_of_killed_saves_are_removed_by_the_next_save_and_load(tmp_path):
    target = tmp_path / "model.npz"
    for _ in range(6):
        with subprocess.Popen([sys.executable, "-c", SAVER, str(target)], stdout=subprocess.PIPE, cwd=ROOT) as child:
            child.stdout.readline()
            time.sleep(0.3)
            child.send_signal(signal.SIGKILL)
    leftovers = temporaries(tmp_path)
    old = time.time() - 2 * _files.STALE_GRACE  # an empty one (killed before its first byte) waits out the grace
    for name in leftovers:
        os.utime(tmp_path / name, (old, old))
    # a kill midway through a write is likely, not certain: make sure there is a fresh one to clean
    (tmp_path / ".model.npz.0123456789ab.tmp").write_bytes(b"PK\x03\x04 half a file")
    other = tmp_path / ".other.npz.0123456789ab.tmp"
    other.write_bytes(b"PK not ours to clean: another target's")
    io.load(target)
    assert temporaries(tmp_path) == [other.name], leftovers
    (tmp_path / ".model.npz.0123456789ab.tmp").write_bytes(b"PK\x03\x04 half a file")
    io.save(target, {"a": np.zeros(1)})
    assert temporaries(tmp_path) == [other.name]


WRITER = textwrap.dedent("""
    import sys, pathlib, fnn
    go = pathlib.Path(sys.argv[2])
    def write(f):
        f.write(b"first half of the bytes ")
        f.flush()
        print("writing", flush=True)
        while not go.exists():
            pass
        f.write(b"second half")
    fnn.io.atomic_write(sys.argv[1], write)
    print("done", flush=True)
""")


def test_f18_a_live_writers_temporary_is_never_removed(tmp_path):
    target, go = tmp_path / "model.npz", tmp_path / "go"
    io.save(target, {"a": np.zeros(2)})
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), str(go)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as child:
        try:
            assert child.stdout.readline() == "writing\n"
            live = temporaries(tmp_path)
            assert len(live) == 1
            old = time.time() - 3600  # even an old-looking file held by a live writer stays
            os.utime(tmp_path / live[0], (old, old))
            io.load(target)
            io.save(target, {"a": np.ones(2)})
            assert temporaries(tmp_path) == live
        finally:
            go.touch()
        assert child.stdout.readline() == "done\n"
        assert child.wait(timeout=30) == 0
    assert target.read_bytes() == b"first half of the bytes second half" and temporaries(tmp_path) == []


def test_f18_an_empty_temporary_is_left_for_a_grace_period(tmp_path):
    """A temporary is created, then locked: an empty unlocked one may be a writer between the two."""
    target = tmp_path / "model.npz"
    fresh = tmp_path / ".model.npz.00000000000a.tmp"
    stale = tmp_path / ".model.npz.00000000000b.tmp"
    fresh.touch()
    stale.touch()
    old = time.time() - 3600
    os.utime(stale, (old, old))
    io.save(target, {"a": np.zeros(1)})
    assert temporaries(tmp_path) == [fresh.name]


def test_f18_the_helper_for_checkpoint_directories(tmp_path):
    run = tmp_path / "run"
    io.save_checkpoint(run, {"a": np.zeros(1)}, step=1)
    mine = run / ".ckpt-000000000002.npz.0123456789ab.tmp"
    mine.write_bytes(b"PK killed")
    foreign = run / ".notes.txt.0123456789ab.tmp"
    foreign.write_bytes(b"PK")
    removed = _files.remove_stale_temporaries(run, r"ckpt-\d{12,}\.npz")
    assert removed == [mine] and temporaries(run) == [foreign.name]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604])
def test_f19_resaving_keeps_the_permission_bits(tmp_path, mode):
    path = params_file(tmp_path)
    os.chmod(path, mode)
    io.save(path, {"a": np.zeros(1)})
    assert stat.S_IMODE(path.stat().st_mode) == mode
    io.atomic_write(path, lambda f: f.write(b"x"))
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_f19_a_read_only_file_is_not_replaced(tmp_path):
    path = params_file(tmp_path)
    before = path.read_bytes()
    os.chmod(path, 0o444)
    with pytest.raises(ConfigError, match="read-only"):
        io.save(path, {"a": np.zeros(1)})
    assert path.read_bytes() == before and temporaries(tmp_path) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_f19_a_new_file_takes_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = io.save(tmp_path / "new.npz", {"a": np.zeros(1)})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_f18_recovering_a_checkpoint_directory_leaves_a_live_writers_checkpoint_alone(tmp_path):
    """The F3 symptom on the file side: a second resume deleted the live run's temporary checkpoint."""
    run, go = tmp_path / "run", tmp_path / "go"
    io.save_checkpoint(run, {"a": np.zeros(1)}, step=1)
    target = io.checkpoint_path(run, 2)
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), str(go)], stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as child:
        try:
            assert child.stdout.readline() == "writing\n"
            live = temporaries(run)
            path, value = io.recover_checkpoint(run)
            assert path.name == "ckpt-000000000001.npz" and temporaries(run) == live and len(live) == 1
        finally:
            go.touch()
        assert child.stdout.readline() == "done\n"
        assert child.wait(timeout=30) == 0
    assert target.read_bytes() == b"first half of the bytes second half"


@settings(max_examples=80, deadline=None)
@given(case=layer_cases(), members=st.sampled_from([None, 2]))
def test_f14_every_layer_init_builds_loads_alone_in_a_stack_and_in_a_state(case, members):
    """No false alarm: what init and TrainState.create build passes the consistency check, for every fnn layer."""
    spec, in_shape = case
    net = fnn.Sequential([spec], in_shape=in_shape)
    params = fnn.init(fnn.random.key(0), net)
    if members is not None:
        if not fnn.layers.stackable(params):
            return
        params = fnn.stack([fnn.init(fnn.random.key(i), net) for i in range(members)])
    with tempfile.TemporaryDirectory() as d:
        assert fnn.tree.equal(io.load(io.save(f"{d}/p.npz", params)), params)
        if fnn.tree.leaves(params):
            state = fnn.TrainState.create(params, fnn.optim.adam(1e-3), key=fnn.random.key(1))
            assert fnn.tree.equal(io.load(io.save(f"{d}/s.npz", state)), state)


def test_f14_a_layer_without_leaves_must_be_what_init_builds(tmp_path):
    """Found by the slow fuzz run: a Flatten whose in_shape was set back to None (a spec, not an init's node)."""
    spec = fnn.Sequential([fnn.Conv1D(3, 2), fnn.Flatten(), fnn.Dense(2)], in_shape=(5, 2))
    path = io.save(tmp_path / "conv.npz", fnn.init(fnn.random.key(0), spec))
    path = resign(path, _edit_tree(lambda t: t["children"]["layers"]["tuple"][1]["static"].update(in_shape=None)))
    with pytest.raises(FormatError, match=r"layers\[1\]: init builds Flatten\(in_shape=\(4, 3\)\)"):
        io.load(path)


def test_f5_import_json_refuses_a_file_over_its_limit_before_reading(tmp_path):
    params = fnn.init(fnn.random.key(0), fnn.mlp([8, 8, 2]))
    path = io.export_json(tmp_path / "m.json", params)
    with pytest.raises(FormatError, match=r"max_bytes=100 .*fnn.io.import_json\(\.\.\., max_bytes="):
        io.import_json(path, max_bytes=100)
    assert fnn.tree.equal(io.import_json(path), params) and io.JSON_MAX_BYTES < io.MAX_BYTES


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root may give a file away")
def test_f19_resaving_as_root_keeps_owner_group_and_mode(tmp_path):
    path = params_file(tmp_path)
    os.chown(path, 1234, 2345)
    os.chmod(path, 0o640)
    io.save(path, {"a": np.ones(1)})
    st_ = path.stat()
    assert (st_.st_uid, st_.st_gid, stat.S_IMODE(st_.st_mode)) == (1234, 2345, 0o640)


def test_f5_the_json_header_may_take_a_sixteenth_of_the_limit(tmp_path):
    """json.loads builds several times its text in Python objects: the header has a tighter share."""
    path = io.save(tmp_path / "t.npz", {"numbers": list(range(20_000))})
    with zipfile.ZipFile(path) as zf:
        header_bytes = zf.getinfo("__header__.npy").file_size
    with pytest.raises(FormatError, match=r"JSON header .*1/16 of max_bytes"):
        io.load(path, max_bytes=header_bytes * 8)
    assert io.load(path, max_bytes=header_bytes * 16)["numbers"][-1] == 19_999


# ------------------------------------------------------------ F14: a re-signed checkpoint of another run


def _fit_run(run, resume=False, **kw):
    x = fnn.random.normal(fnn.random.key(0), (24, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    s = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([3, 4, 2])), fnn.optim.adam(0.01), key=fnn.random.key(2)
    )
    where = {"resume": run} if resume else {"checkpoint": run}
    return fnn.fit(s, (x, y), batch_size=8, loss="cross_entropy", verbose=0, **where, **kw)


def _resign_newest(run, edit):
    """The newest checkpoint of ``run`` changed by ``edit`` and saved again by fnn.save (so its checksum holds)."""
    path = fnn.io.latest_checkpoint(run)
    fnn.io.save(path, edit(fnn.io.load(path)))
    return path


@pytest.mark.parametrize("step", [7, 9, 0])
def test_f14_a_checkpoint_whose_step_does_not_follow_from_its_epoch_and_position_is_refused(tmp_path, step):
    run = tmp_path / "run"
    _fit_run(run, epochs=2, checkpoint_every=4)  # 3 batches an epoch; the newest: step 6, epoch 2
    import attrs

    path = _resign_newest(run, lambda c: attrs.evolve(c, state=attrs.evolve(c.state, step=step)))
    with pytest.raises(FormatError) as e:
        _fit_run(run, resume=True, epochs=3, checkpoint_every=4)
    words = [str(path), f"its step {step}", "epoch 2", "3 batches an epoch", "start at step 0", "step 6"]
    assert all(w in str(e.value) for w in words), str(e.value)


def test_f14_a_stopped_run_whose_best_state_came_back_still_resumes(tmp_path):
    """Early stopping restores an earlier epoch's params (and step): that checkpoint is no forgery."""
    run = tmp_path / "run"
    x = fnn.random.normal(fnn.random.key(0), (40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    s = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([3, 4, 2])), fnn.optim.sgd(2.0), key=fnn.random.key(2)
    )
    kw = dict(
        batch_size=8,
        loss="cross_entropy",
        verbose=0,
        validation=0.25,
        checkpoint=run,
        early_stopping=fnn.EarlyStopping(patience=1),
    )
    done, h = fnn.fit(s, (x, y), epochs=40, **kw)
    assert len(h["loss"]) < 40 and done.step < len(h["loss"]) * 4  # it stopped, and restored an earlier state
    again, h2 = fnn.fit(s, (x, y), epochs=40, resume=run, **{k: v for k, v in kw.items() if k != "checkpoint"})
    fnn.tree.assert_equal(again, done)


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.float32])
def test_f14_a_checkpoint_history_of_another_dtype_is_refused(tmp_path, dtype):
    run = tmp_path / "run"
    _fit_run(run, epochs=2)

    path = fnn.io.latest_checkpoint(run)
    history = [k for k, v in fnn.io.load(path).history.items()]
    # the history's arrays are the file's float64 ones of 2 entries (the params and Adam's moments are float32)
    resign(
        path,
        lambda header, arrays: (
            header,
            [a.astype(dtype) if a.dtype == np.float64 and a.shape == (2,) else a for a in arrays],
        ),
    )
    assert history and raw_parts(path)[1]  # the file still holds them, now of another dtype
    with pytest.raises(FormatError, match=r"history.*float64"):
        fnn.io.load(path)
