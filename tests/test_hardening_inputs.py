"""Bad input at fnn's boundary (#16 F17, F5's sizes, F20; #13's shared validators): every case of
../shared/reviews/reliability-findings.md that raised a raw TypeError/ValueError/OverflowError/RecursionError from
inside fnn now raises an fnn error naming the argument, what was given and what was expected, before any work."""

import pathlib
import sys

import numpy as np
import pytest

import fnn
import fnn.data
from fnn.errors import ConfigError, FnnError, FormatError, ShapeError
from fnn.sweep.space import Choice, random_search

X, Y = fnn.data.load_digits()
X, Y = X[:120], Y[:120]
PARAMS = fnn.init(fnn.random.key(1), fnn.mlp([64, 16, 10]))
FIT = dict(epochs=1, batch_size=32, loss="cross_entropy", verbose=0)


def state():
    return fnn.TrainState.create(PARAMS, fnn.optim.adam(1e-3), key=fnn.random.key(2))


class Trained(Exception):
    """Raised by a callback: the call got as far as training."""


def never_trains(*_):
    raise Trained


def _generator():
    yield from X


def _deep(depth):
    root = cur = []
    for _ in range(depth):
        cur.append([])
        cur = cur[0]
    return root


def _itself():
    a = []
    a.append(a)
    return a


def _csv(tmp, content, **kw):
    path = tmp / "d.csv"
    path.write_bytes(content)
    return fnn.data.load_csv(path, **kw)


def _idx(tmp, ndim):
    path = tmp / "d.idx"
    path.write_bytes(bytes([0, 0, 8, ndim]) + (1).to_bytes(4, "big") * ndim + b"\0")
    return fnn.data.read_idx(path)


def _json_rate(tmp, rate):
    path = tmp / "m.json"
    spec = fnn.Sequential([fnn.Dense(3), fnn.Dropout(0.5)], in_shape=(4,))
    fnn.io.export_json(path, fnn.init(fnn.random.key(0), spec))
    path.write_text(path.read_text().replace('"rate": 0.5', f'"rate": {rate}'))
    return fnn.io.import_json(path)


def _loss(value):
    return lambda y_hat, y: value(y_hat)


_CALLS = {  # x or y given to each function that takes the data
    "fit": lambda data: fnn.fit(state(), data, callbacks=[never_trains], **FIT),
    "train_epoch": lambda data: fnn.train_epoch(state(), data, batch_size=32, loss="cross_entropy"),
    "batches": lambda data: list(fnn.batches(fnn.random.key(0), data, 32)),
    "evaluate": lambda data: fnn.evaluate(PARAMS, data, loss="cross_entropy"),
}
_BAD = {  # what: (value, words)
    "None": (lambda: None, ["must be an array with one row per sample, got None"]),
    "0-d": (lambda: np.float64(1.0), ["must be an array with one row per sample, got np.float64(1.0)"]),
    "a generator": (_generator, ["must be an array with one row per sample, got <generator"]),
    "a ragged list": (lambda: [[0.0] * 64, [0.0] * 63], ["one row per sample", "ragged list", "row 1 has 63"]),
}

CASES = {
    # case: (call, error, words in the message)
    **{
        f"{fn}: {name} as {'xy'[i]}": (
            lambda fn=fn, make=make, i=i: _CALLS[fn]((make(), Y) if i == 0 else (X, make())),
            ShapeError,
            [f"{fn}: data[{i}] ({'xy'[i]})", *words],
        )
        for fn in _CALLS
        for name, (make, words) in _BAD.items()
        for i in (0, 1)
    },
    "callbacks=<a function>": (
        lambda: fnn.fit(state(), (X, Y), callbacks=never_trains, **FIT),
        ConfigError,
        ["fit: callbacks must be a list of callables", "callbacks=[never_trains]"],
    ),
    "callbacks=<a string>": (
        lambda: fnn.fit(state(), (X, Y), callbacks="never_trains", **FIT),
        ConfigError,
        ["fit: callbacks must be a list of callables", "'never_trains'"],
    ),
    **{
        f"custom loss returning {name}": (
            lambda value=value: fnn.fit(state(), (X, Y), **{**FIT, "loss": _loss(value)}),
            ConfigError,
            ["custom loss", "must return", *words],
        )
        for name, value, words in [
            ("None", lambda h: None, ["a pair (value, d value / d y_hat)", "got a NoneType"]),
            ("a bare value", lambda h: 1.0, ["a pair", "got a float"]),
            ("a string", lambda h: "ab", ["a pair", "got a str"]),
            ("an (n,) value", lambda h: np.zeros(len(h)), ["a pair", "got an array of shape (32,)"]),
            ("an (n,) value and its gradient", lambda h: (np.zeros(len(h)), h), ["one number", "shape (32,)"]),
            ("a string value", lambda h: ("a", h), ["one number", "'a' (str)"]),
            (
                "a gradient of strings",
                lambda h: (1.0, "abc"),
                ["the gradient a numeric array shaped like y_hat (32, 10)", "'abc'"],
            ),
        ]
    },
    "opt_step(params, grads)": (
        lambda: fnn.opt_step(PARAMS, PARAMS),
        ConfigError,
        ["opt_step expects a TrainState", "got SequentialParams as the state"],
    ),
    "EarlyStopping(3)": (
        lambda: fnn.EarlyStopping(3),
        ConfigError,
        ["EarlyStopping monitor", "got 3", "EarlyStopping(patience=3)"],
    ),
    "Dropout(10**400)": (
        lambda: fnn.Dropout(10**400),
        ConfigError,
        ["Dropout rate must be a number in [0, 1)", "got an integer of about 401 digits"],
    ),
    "Dropout(10**5000)": (
        lambda: fnn.Dropout(10**5000),
        ConfigError,
        ["Dropout rate must be a number", "about 5001 digits"],
    ),
    "Dropout(10**39)": (
        lambda: fnn.Dropout(10**39),
        ConfigError,
        ["Dropout rate must be a number in [0, 1)", "got 1000"],
    ),
    "import_json with rate 10**39": (
        lambda: _json_rate(TMP, 10**39),
        FormatError,
        ["at model.layers[1]", "Dropout rate must be a number in [0, 1)"],
    ),
    "import_json with rate 10**400": (
        lambda: _json_rate(TMP, 10**400),
        FormatError,
        ["Dropout rate", "got an integer of about 401 digits"],
    ),
    "load_csv of a non-UTF-8 file": (
        lambda: _csv(TMP, b"a,b\n1,\xff\xfe\n"),
        FormatError,
        ["d.csv: not UTF-8 text", "b'\\xff'", "iconv"],
    ),
    "load_csv with a 2-character delimiter": (
        lambda: _csv(TMP, b"a,b\n1,2\n", delimiter=";;"),
        ConfigError,
        ["load_csv: delimiter must be one character", "got ';;'"],
    ),
    "load_csv with a delimiter that is no string": (
        lambda: _csv(TMP, b"a,b\n1,2\n", delimiter=0),
        ConfigError,
        ["load_csv: delimiter must be one character", "got 0"],
    ),
    "load_csv with a field over 128 KB": (
        lambda: _csv(TMP, b"a,b\n1," + b"9" * 200_000 + b"\n"),
        FormatError,
        ["d.csv, line 2: not a CSV line fnn can read", "field larger than field limit"],
    ),
    "read_idx with 65 dimensions": (
        lambda: _idx(TMP, 65),
        FormatError,
        ["d.idx: IDX header gives 65 dimensions", "at most 64"],
    ),
    "save of a list nested 5,000 deep": (
        lambda: fnn.save(TMP / "d.npz", _deep(5000)),
        ConfigError,
        ["fnn.save: the tree is nested too deeply"],
    ),
    "save of a list that holds itself": (
        lambda: fnn.save(TMP / "s.npz", _itself()),
        ConfigError,
        ["fnn.save: the tree contains itself", "a list"],
    ),
    "save of a dict that holds itself deeper down": (
        lambda: fnn.save(TMP / "s.npz", (lambda d: (d.__setitem__("a", [1, d]), d)[1])({})),
        ConfigError,
        ["fnn.save: the tree contains itself", "a dict", "['a'][1]"],
    ),
    "save of 10**5000": (
        lambda: fnn.save(TMP / "h.npz", {"n": 10**5000}),
        ConfigError,
        ["fnn.save: the int at ['n']", "16,610 bits", "store it as an array or a string"],
    ),
    "fit with a SciPy sparse x": (
        lambda: fnn.fit(state(), (pytest.importorskip("scipy.sparse").csr_matrix(X), Y), **FIT),
        ConfigError,
        ["fit: data[0] (x) is a SciPy sparse csr_matrix of shape (120, 64)", "x.toarray()"],
    ),
    "apply to a SciPy sparse x": (
        lambda: fnn.apply(PARAMS, pytest.importorskip("scipy.sparse").csr_matrix(X)),
        ConfigError,
        ["apply: x is a SciPy sparse csr_matrix", "x.toarray()"],
    ),
    "fit with a torch tensor that requires grad": (
        lambda: fnn.fit(state(), (pytest.importorskip("torch").tensor(X).requires_grad_(True), Y), **FIT),
        ConfigError,
        ["fit: data[0] (x) is a torch tensor that requires grad", "x.detach().numpy()"],
    ),
    "apply to a torch tensor that requires grad": (
        lambda: fnn.apply(PARAMS, pytest.importorskip("torch").tensor(X).requires_grad_(True)),
        ConfigError,
        ["apply: x is a torch tensor that requires grad"],
    ),
}


@pytest.fixture(autouse=True)
def _tmp(tmp_path):
    global TMP
    TMP = tmp_path


@pytest.mark.parametrize("case", list(CASES))
def test_f17_each_bad_input_gets_an_fnn_error_naming_what_was_expected(case):
    call, error, words = CASES[case]
    with pytest.raises(error) as e:
        call()
    message = str(e.value)
    assert isinstance(e.value, FnnError)
    assert all(w in message for w in words), message
    assert len(message) < 400 and "Traceback" not in message


def test_f17_the_table_covers_the_findings():
    # 4 kinds of x/y (None, 0-d, a generator, a ragged list) x 2 (x, y) x 4 functions, and the listed one-offs
    assert len(CASES) >= 60


def test_f17_a_shared_subtree_is_no_cycle(tmp_path):
    shared = [np.ones(2)]
    back = fnn.load(fnn.save(tmp_path / "t.npz", {"a": shared, "b": shared}))
    assert np.array_equal(back["a"][0], back["b"][0])


def test_f17_a_tree_just_under_the_recursion_limit_still_saves(tmp_path):
    tree = _deep(sys.getrecursionlimit() // 10)
    assert fnn.load(fnn.save(tmp_path / "t.npz", tree)) == tree


# ------------------------------------------------------------------ F20


def test_f20_params_cannot_be_made_writeable_through_base(tmp_path):
    seen = []
    s = state()
    fitted, _ = fnn.fit(s, (X, Y), callbacks=[lambda e, st, logs: seen.append(st)], **{**FIT, "epochs": 2})
    g = fnn.grad(PARAMS, (X[:8], Y[:8]), loss="cross_entropy")
    trees = {
        "init": PARAMS,
        "fit": fitted.params,
        "a callback's state": seen[0].params,
        "load": fnn.load(fnn.save(tmp_path / "m.npz", fitted)).params,
        "opt_step": fnn.opt_step(s, g).params,
        "pack": fnn.tree.pack(PARAMS),
        "stack": fnn.init_many(fnn.random.split(fnn.random.key(0), 2), fnn.mlp([4, 2])),
    }
    for name, params in trees.items():
        for leaf in fnn.tree.leaves(params):
            for a in (leaf, leaf.base):
                with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
                    a.flags.writeable = True
        assert fnn.tree.leaves_are_packed(fnn.tree.leaves(params)), name  # ravel stays free
    diverged = fnn.TrainState.create(PARAMS, fnn.optim.sgd(1e30), key=fnn.random.key(2))
    with pytest.raises(fnn.errors.NonFiniteError) as e, np.errstate(over="ignore", invalid="ignore"):
        fnn.fit(diverged, (X, Y), **{**FIT, "epochs": 3})
    for leaf in fnn.tree.leaves((e.value.state.params, e.value.state.opt_state)):  # detached: sealed too
        if isinstance(leaf, np.ndarray):
            with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
                (leaf if leaf.base is None else leaf.base).flags.writeable = True
    before = fitted.params.layers[0].w.copy()
    fnn.fit(fitted, (X, Y), **FIT)  # a later fit reuses no memory a returned state holds
    assert np.array_equal(fitted.params.layers[0].w, before)


@pytest.mark.parametrize("call", ["fit", "train_epoch", "batches"])
@pytest.mark.parametrize("flag", ["shuffle", "drop_last"])
def test_f20_shuffle_and_drop_last_take_booleans_not_strings(call, flag):
    calls = {
        "fit": lambda **kw: fnn.fit(state(), (X, Y), callbacks=[never_trains], **FIT, **kw),
        "train_epoch": lambda **kw: fnn.train_epoch(state(), (X, Y), batch_size=32, loss="cross_entropy", **kw),
        "batches": lambda **kw: list(fnn.batches(fnn.random.key(0), (X, Y), 32, **kw)),
    }
    with pytest.raises(ConfigError, match=f"{call}: {flag} must be True or False, got 'False' \\(str\\)"):
        calls[call](**{flag: "False"})
    with pytest.raises(ConfigError, match=f"{flag} must be True or False, got 0 \\(int\\)"):
        calls[call](**{flag: 0})
    assert len(list(fnn.batches(fnn.random.key(0), (X, Y), 32, shuffle=np.False_))) == 4  # NumPy's bool is a bool


def test_f20_sklearn_refuses_what_sklearn_refuses_in_fit_and_one_class():
    pytest.importorskip("sklearn")
    from fnn.sklearn import MLPClassifier

    for params, words in [
        (dict(learning_rate_init=0), "'learning_rate_init' parameter"),
        (dict(momentum=2), "'momentum' parameter"),
        (dict(validation_fraction=1.5, early_stopping=True), "'validation_fraction' parameter"),
        (dict(shuffle="False"), "'shuffle' parameter"),
    ]:
        estimator = MLPClassifier(max_iter=1, **params)  # __init__ only stores, as scikit-learn requires
        with pytest.raises(ConfigError, match=words):
            estimator.fit(X[:40], Y[:40])
    with pytest.raises(ConfigError, match="at least 2 classes to train, got 1 class"):
        MLPClassifier(max_iter=1).fit(X[:10], np.zeros(10, int))


# ------------------------------------------------------------------ F5: absurd sizes, refused before allocating


def _sweep_run(config, key):
    return {"v": 1}


SIZES = {
    # case: (call, words); each would take terabytes (or the OOM killer) without the limit
    "init of mlp([10**6, 10**6])": (
        lambda: fnn.init(fnn.random.key(0), fnn.mlp([10**6, 10**6])),
        [
            "init: the params (1,000,001,000,000 weights",
            "need 3.6 TiB, over the limit max_bytes=8.0 GiB",
            "pass a larger max_bytes=",
        ],
    ),
    "init of --layers 1000000000": (
        lambda: fnn.init(fnn.random.key(0), fnn.mlp([4, 10**9, 3])),
        ["Dense(1000000000)", "need 29.8 GiB"],
    ),
    "init_many of 20,000 members": (
        lambda: fnn.init_many(fnn.random.split(fnn.random.key(0), 20_000), fnn.mlp([1000, 1000, 10])),
        ["init_many: the params of 20,000 networks (1,011,010 weights each", "need 75.3 GiB"],
    ),
    "split into 10**9 keys": (
        lambda: fnn.random.split(fnn.random.key(0), 10**9),
        ["fnn.random.split: 1,000,000,000 keys", "max_bytes="],
    ),
    "sweep with seeds=10**9": (
        lambda: fnn.sweep(_sweep_run, {"a": [1, 2]}, 10**9, executor=fnn.SerialExecutor()),
        ["sweep: 2 settings × seeds=1,000,000,000 (2,000,000,000 pairs", "need 1.9 TiB", "max_bytes"],
    ),
    "sweep with range(10**8) seeds": (
        lambda: fnn.sweep(_sweep_run, {"a": [1]}, range(10**8), executor=fnn.SerialExecutor()),
        ["sweep: 1 settings × 100,000,000 seeds", "need 95.4 GiB"],
    ),
    "one_hot with 10**10 classes": (
        lambda: fnn.data.one_hot(np.zeros(1000, int), 10**10),
        ["one_hot: 1,000 rows × 10,000,000,000 classes of float32", "need 36.4 TiB"],
    ),
}


@pytest.mark.parametrize("case", list(SIZES))
def test_f5_absurd_sizes_are_refused_at_once_naming_the_limit(case):
    import time
    import tracemalloc

    call, words = SIZES[case]
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ConfigError) as e:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert all(w in str(e.value) for w in words), str(e.value)
    assert peak < 50 * 2**20 and time.perf_counter() - start < 5  # refused before the work, not after


def test_f5_the_cli_refuses_layers_1000000000_in_one_line(tmp_path):
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fnn",
            "train",
            "--data",
            "iris",
            "--layers",
            "1000000000",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=pathlib.Path(fnn.__file__).parent.parent,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Dense(1000000000)" in done.stderr and "max_bytes" in done.stderr


def test_f5_the_limit_is_a_keyword_that_raises_it():
    spec = fnn.mlp([64, 64, 10])
    with pytest.raises(ConfigError, match="over the limit max_bytes=1.0 KiB"):
        fnn.init(fnn.random.key(0), spec, max_bytes=1024)
    small = fnn.init(fnn.random.key(0), spec, max_bytes=None)
    assert fnn.tree.equal(small, fnn.init(fnn.random.key(0), spec))  # the check changes nothing it lets through
    with pytest.raises(ConfigError, match="max_bytes must be a number of bytes > 0 or None, got -1"):
        fnn.init(fnn.random.key(0), spec, max_bytes=-1)
    rows = fnn.sweep(_sweep_run, {"a": [1]}, 3, executor=fnn.SerialExecutor(), max_bytes=3 * 1024)
    assert [r["seed"] for r in rows] == [0, 1, 2]
    with pytest.raises(ConfigError, match="3 pairs of ~1024 bytes"):
        fnn.sweep(_sweep_run, {"a": [1]}, 3, executor=fnn.SerialExecutor(), max_bytes=3 * 1024 - 1)


def test_f5_the_estimate_is_a_lower_bound_of_the_real_size():
    specs = [
        fnn.mlp([784, 256, 128, 10]),
        fnn.Sequential([fnn.Conv2D(8, 3), fnn.Flatten(), fnn.Dense(10)], in_shape=(28, 28, 1)),
        fnn.Sequential([fnn.Embedding(100, 8), fnn.LSTM(16), fnn.Dense(3)], in_shape=(5,)),
    ]
    for spec in specs:
        estimate, _ = fnn.network.estimated_weights(spec)
        real = fnn.tree.ravel(fnn.init(fnn.random.key(0), spec))[0].size
        assert 0.4 * real <= estimate <= real, (spec, estimate, real)


# ------------------------------------------------------------------ #13: one rule, written once


MODULES = [
    "data",
    "fit",
    "train",
    "resume",
    "backprop",
    "sweep/_grid",
    "sweep/space",
    "sweep/summary",
    "sweep/_progress",
    "sklearn/_params",
    "layers/conv",
    "layers/recurrent",
    "layers/dense",
]


@pytest.mark.parametrize("module", MODULES)
def test_13_argument_checks_use_the_shared_validators(module):
    import re

    text = (pathlib.Path(fnn.__file__).parent / f"{module}.py").read_text()
    hand_written = re.findall(
        r"isinstance\(\w+, bool\)|isinstance\(\w+, \(bool, np\.bool_\)\)|np\.integer\)\)"
        r"|numbers\.(?:Integral|Real)",
        text,
    )
    assert hand_written == [], f"fnn/{module}.py checks by hand: {hand_written} (use fnn._checks)"


INTEGERS = {  # an integer argument of each module: NumPy's integers pass, bools and floats do not
    "fit epochs": lambda v: fnn.fit(state(), (X, Y), **{**FIT, "epochs": v}, callbacks=[never_trains]),
    "batch_size": lambda v: fnn.train_epoch(state(), (X, Y), batch_size=v, loss="cross_entropy"),
    "checkpoint_every": lambda v: fnn.fit(
        state(), (X, Y), checkpoint=TMP / "ck", checkpoint_every=v, callbacks=[never_trains], **FIT
    ),
    "sweep max_workers": lambda v: fnn.sweep(_sweep_run, {"a": [1]}, 1, max_workers=v),
    "random_search n": lambda v: random_search(fnn.random.key(0), {"a": Choice([1, 2])}, v),
    "random.split num": lambda v: fnn.random.split(fnn.random.key(0), v),
    "sweep_summary ddof": lambda v: fnn.sweep_summary(
        [{"a": 1, "seed": 0, "v": 1.0}, {"a": 1, "seed": 1, "v": 2.0}], ddof=v
    ),
    "one_hot num_classes": lambda v: fnn.data.one_hot([0, 1], v),
    "train_test_split test_size": lambda v: fnn.data.train_test_split(fnn.random.key(0), X, Y, test_size=v),
}


@pytest.mark.parametrize("name", list(INTEGERS))
def test_13_every_integer_argument_follows_one_rule(name):
    call = INTEGERS[name]
    for bad in (True, np.True_):
        with pytest.raises(ConfigError, match=r"True"):
            call(bad)
    try:
        call(np.int64(2))
    except Trained:
        pass


@pytest.mark.parametrize("make", [lambda v: fnn.Dense(3, use_bias=v), lambda v: fnn.Conv1D(3, 2, use_bias=v)])
def test_13_use_bias_is_one_check(make):
    with pytest.raises(ConfigError, match=r"use_bias must be True or False, got 1 \(int\)"):
        make(1)
    assert make(np.False_).use_bias is False


@pytest.mark.parametrize("label", ["0", "cat"])
def test_f20_the_cli_refuses_a_csv_of_one_class(tmp_path, label):
    import subprocess

    data = tmp_path / "one.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i + 1},{label}\n" for i in range(6)))
    done = subprocess.run(
        [sys.executable, "-m", "fnn", "train", "--data", str(data), "--epochs", "1", "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=pathlib.Path(fnn.__file__).parent.parent,
    )
    assert done.returncode == 2, done.stderr
    expected = repr(0 if label == "0" else label)
    assert f"holds one class ({expected}) in all 6 rows: a classifier needs at least 2 classes" in done.stderr
    assert not (tmp_path / "run" / "model.npz").exists()


# ------------------------------------------------------------------ F20's smaller points


@pytest.mark.parametrize("where", ["", ".", "dir"])
def test_f20_save_to_a_directory_or_nothing_names_the_file_it_needs(tmp_path, monkeypatch, where):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot save to .*fnn.save writes one file: give its path, e.g. "):
        fnn.save(where, PARAMS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]  # no temporary file left behind


def test_f20_negative_soft_targets_are_refused():
    y = np.full((len(X), 10), 0.1, np.float32)
    y[7, 3] = -1.0
    with pytest.raises(
        ConfigError,
        match=r"cross_entropy: soft targets are probabilities, each ≥ 0 .* got -1 at "
        r"index \(7, 3\)",
    ):
        fnn.fit(state(), (X, y), callbacks=[never_trains], **FIT)
    fnn.fit(state(), (X, np.abs(y)), **FIT)  # soft targets that are probabilities train


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:UserWarning")  # 2 iterations, on purpose
def test_f20_big_endian_float32_trains_the_float32_network_of_native_float32():
    pytest.importorskip("sklearn")
    from fnn.sklearn import MLPClassifier

    x = X[:60].astype(np.float32)
    y = Y[:60] % 2
    native = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(x, y)
    swapped = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(x.astype(">f4"), y)
    assert swapped.coefs_[0].dtype == np.float32
    assert np.array_equal(swapped.predict_proba(x.astype(">f4")), native.predict_proba(x))
