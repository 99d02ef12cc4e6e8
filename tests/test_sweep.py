"""Laws of fnn.sweep: a row is run(config, key(seed)), bit for bit, whatever runs it and whenever it finishes.

Executors under test are real: fnn's SerialExecutor, a ThreadPoolExecutor, the default process
pool with 1 and 2 workers, a ProcessPoolExecutor of the caller's, and a Dask LocalCluster (two
worker processes on the loopback). The run functions live in tests/sweep_runs.py, which the
worker processes import by name.
"""

import concurrent.futures as cf
import functools
import itertools
import math
import multiprocessing
import os
import statistics
import sys
import threading

import numpy as np
import pytest
import sweep_runs
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError, SweepError

DIGITS_GRID = {"lr": [1e-3, 1e-2], "dtype": ["float32", "float64"], "dropout": [0.0, 0.3]}


def assert_rows_equal(a, b):
    """Exact equality: same keys in the same order, same types, arrays equal in dtype, shape and bytes."""
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert list(x) == list(y), (i, list(x), list(y))
        for name in x:
            u, v = x[name], y[name]
            assert type(u) is type(v), (i, name, type(u), type(v))
            if isinstance(u, np.ndarray):
                assert u.dtype == v.dtype and u.shape == v.shape and u.tobytes() == v.tobytes(), (i, name)
            else:
                assert u == v or (u != u and v != v), (i, name, u, v)


def direct_rows(run, settings, seeds):
    """The definition, computed here without fnn.sweep."""
    return [
        {**config, "seed": seed, **run(dict(config), fnn.random.key(seed))} for config in settings for seed in seeds
    ]


def digits_settings():
    return [dict(zip(DIGITS_GRID, combo, strict=True)) for combo in itertools.product(*DIGITS_GRID.values())]


@pytest.fixture(scope="module")
def digits_rows():
    return direct_rows(sweep_runs.train_digits, digits_settings(), [0, 1])


class PermutingExecutor(cf.Executor):
    """Runs the submitted tasks on a thread of its own, in the given order, once all are submitted."""

    def __init__(self, order):
        self.order, self.calls, self.finished = list(order), [], []

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        self.calls.append((future, fn, args, kwargs))
        if len(self.calls) == len(self.order):
            self.thread = threading.Thread(target=self._run_all)
            self.thread.start()
        return future

    def _run_all(self):
        for i in self.order:
            future, fn, args, kwargs = self.calls[i]
            future.set_running_or_notify_cancel()
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as error:  # noqa: BLE001 - the future carries it, as every executor's does
                future.set_exception(error)
            self.finished.append(i)


# ---------------------------------------------------------------- the law


def test_serial_rows_are_the_definition_on_a_real_training_run(digits_rows):
    rows = fnn.sweep(sweep_runs.train_digits, DIGITS_GRID, 2, executor=fnn.SerialExecutor())
    assert_rows_equal(rows, digits_rows)
    assert {r["params"].dtype.name for r in rows} == {"float32", "float64"}
    losses = [r["loss"] for r in rows]
    assert len(set(losses)) == len(losses)  # every setting and seed trained a different network


@pytest.mark.parametrize(
    "make",
    [
        lambda: cf.ThreadPoolExecutor(2),
        lambda: cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")),
    ],
    ids=["threads", "caller's spawn pool"],
)
def test_rows_are_bitwise_the_same_on_any_executor(digits_rows, make):
    with make() as executor:
        rows = fnn.sweep(sweep_runs.train_digits, DIGITS_GRID, 2, executor=executor)
    assert_rows_equal(rows, digits_rows)


@pytest.mark.parametrize("workers", [1, 2])
def test_rows_are_bitwise_the_same_in_the_default_process_pool(digits_rows, workers):
    rows = fnn.sweep(sweep_runs.train_digits, DIGITS_GRID, [0, 1], max_workers=workers)
    assert_rows_equal(rows, digits_rows)


@settings(max_examples=20, deadline=None)
@given(st.permutations(range(6)))
def test_rows_come_in_grid_order_whatever_order_the_work_finishes_in(order):
    grid = {"scale": [1.0, 10.0, 100.0]}
    executor = PermutingExecutor(order)
    rows = fnn.sweep(sweep_runs.draw, grid, [3, 5], executor=executor)
    executor.thread.join()
    assert executor.finished == list(order)
    assert_rows_equal(rows, direct_rows(sweep_runs.draw, [{"scale": s} for s in grid["scale"]], [3, 5]))


def finish_order(rows):
    return [i for _, i in sorted((r.pop("finished"), i) for i, r in enumerate(rows))]


SLOW_CONFIG = {"scale": 2.0, "delay": 0.2, "slowest": 3}  # seed s sleeps 0.2 * (3 - s) seconds
SLOW = {name: [value] for name, value in SLOW_CONFIG.items()}


def test_later_tasks_finishing_first_in_threads_and_processes():
    expected = direct_rows(sweep_runs.draw, [SLOW_CONFIG], range(4))
    with cf.ThreadPoolExecutor(2) as threads:
        rows = fnn.sweep(sweep_runs.draw_slowly, SLOW, 4, executor=threads)
    assert finish_order(rows) != list(range(4))  # seed 1 (0.4 s) finishes before seed 0 (0.6 s)
    assert_rows_equal(rows, expected)
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as processes:
        for _ in range(20):  # both workers up before the sweep starts
            if len(set(processes.map(sweep_runs.pid_after, [0.2, 0.2]))) == 2:
                break
        rows = fnn.sweep(sweep_runs.draw_slowly, SLOW, 4, executor=processes)
    assert finish_order(rows) != list(range(4))
    assert_rows_equal(rows, expected)
    rows = fnn.sweep(sweep_runs.draw_slowly, SLOW, 4, max_workers=2)
    finish_order(rows)  # the default pool starts its workers on demand: no promise on the order here
    assert_rows_equal(rows, expected)


# ---------------------------------------------------------------- a real Dask cluster


@pytest.fixture(scope="module")
def dask_executor():
    import dask
    from distributed import Client, LocalCluster

    # A task whose worker dies is retried once (Dask's default: 3 times), to keep the worker-death tests short.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client.get_executor()


def test_dask_cluster_rows_are_bitwise_the_same(dask_executor, digits_rows):
    rows = fnn.sweep(sweep_runs.train_digits, DIGITS_GRID, 2, executor=dask_executor)
    assert_rows_equal(rows, digits_rows)
    expected = direct_rows(sweep_runs.draw, [SLOW_CONFIG], range(4))
    rows = fnn.sweep(sweep_runs.draw_slowly, SLOW, 4, executor=dask_executor)
    finish_order(rows)
    assert_rows_equal(rows, expected)


def test_dask_workers_are_other_processes_that_import_run_by_name(dask_executor):
    rows = fnn.sweep(sweep_runs.where, [{}], 4, executor=dask_executor)
    assert os.getpid() not in {r["pid"] for r in rows}
    assert {(r["module_name"], r["module_file"]) for r in rows} == {("sweep_runs", sweep_runs.__file__)}
    assert dask_executor.submit(pow, 2, 3).result() == 8  # the caller's executor is still open


def test_dask_failure_names_config_and_seed(dask_executor):
    with pytest.raises(SweepError, match=r"config \{'bad_seed': 2\}, seed 2: ValueError: boom at seed 2") as info:
        fnn.sweep(sweep_runs.fail_on_seed, {"bad_seed": [2]}, 4, executor=dask_executor)
    assert isinstance(info.value.__cause__, ValueError) and info.value.seed == 2


def test_dask_retries_a_lost_workers_task_and_a_task_that_keeps_killing_its_worker_is_an_error_row(
    dask_executor, tmp_path
):
    """The cluster reschedules the tasks of a worker that died (here: on the first attempt of one pair); a task
    whose every attempt kills its worker comes back as KilledWorker, which on_error="record" makes the pair's row.
    (Apart, one sweep each: Dask counts a worker's death against every task that worker held, so a pair beside
    one that kills its worker can be blamed too once deaths exceed allowed-failures, 1 here.)"""
    run = functools.partial(sweep_runs.dies_once, marks=str(tmp_path))
    grid = [{"scale": 1.0, "death": ""}, {"scale": 2.0, "death": "once"}, {"scale": 3.0, "death": ""}]
    rows = fnn.sweep(run, grid, 1, executor=dask_executor, on_error="record", store=tmp_path / "s.db")
    assert_rows_equal(rows, direct_rows(sweep_runs.counted, grid, [0]))
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".mark"] == ["2.0-0.mark"]  # it died once
    assert fnn.sweep(run, grid, 1, executor=dask_executor, on_error="record", store=tmp_path / "s.db") == rows
    rows = fnn.sweep(run, [{"scale": 4.0, "death": "always"}], 1, executor=dask_executor, on_error="record")
    assert rows[0]["status"] == "error" and rows[0]["error_type"] == "KilledWorker"


# ---------------------------------------------------------------- grid, seeds and rows


def test_dict_grid_order_is_key_order_with_the_last_key_fastest():
    rows = fnn.sweep(
        sweep_runs.draw, {"scale": [1.0, 2.0], "b": ["x", "y", "z"]}, [7, 3], executor=fnn.SerialExecutor()
    )
    assert [(r["scale"], r["b"], r["seed"]) for r in rows] == [
        (1.0, "x", 7),
        (1.0, "x", 3),
        (1.0, "y", 7),
        (1.0, "y", 3),
        (1.0, "z", 7),
        (1.0, "z", 3),
        (2.0, "x", 7),
        (2.0, "x", 3),
        (2.0, "y", 7),
        (2.0, "y", 3),
        (2.0, "z", 7),
        (2.0, "z", 3),
    ]
    assert list(rows[0]) == ["scale", "b", "seed", "total", "draws"]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True),
    st.lists(st.integers(0, 2**40), min_size=1, max_size=3, unique=True),
)
def test_list_grid_keeps_its_order_and_seeds_their_order(scales, seeds):
    grid = [{"scale": float(s)} for s in scales]
    rows = fnn.sweep(sweep_runs.draw, grid, seeds, executor=fnn.SerialExecutor())
    assert_rows_equal(rows, direct_rows(sweep_runs.draw, grid, seeds))
    assert all(type(r["seed"]) is int for r in rows)


def test_seeds_n_means_range_n():
    a = fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, 3, executor=fnn.SerialExecutor())
    b = fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, [0, 1, 2], executor=fnn.SerialExecutor())
    c = fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, np.arange(3), executor=fnn.SerialExecutor())
    assert_rows_equal(a, b)
    assert_rows_equal(a, c)


def test_run_gets_a_copy_of_the_config():
    rows = fnn.sweep(sweep_runs.mutates_config, {"scale": [1.0, 2.0]}, 2, executor=fnn.SerialExecutor())
    assert [r["scale"] for r in rows] == [1.0, 1.0, 2.0, 2.0]


def test_callable_objects_and_partials_travel_to_processes():
    import functools

    rows = fnn.sweep(sweep_runs.Scaled(3.0), {"scale": [1.0, 2.0]}, 1, max_workers=2)
    assert [r["value"] for r in rows] == [3.0, 6.0]
    rows = fnn.sweep(functools.partial(sweep_runs.draw), {"scale": [1.0]}, 2, max_workers=1)
    assert_rows_equal(rows, direct_rows(sweep_runs.draw, [{"scale": 1.0}], [0, 1]))


def test_default_pool_is_shut_down_and_a_given_executor_is_not():
    before = set(multiprocessing.active_children())
    fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, 2, max_workers=2)
    assert set(multiprocessing.active_children()) == before
    with cf.ThreadPoolExecutor(1) as executor:
        fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, 2, executor=executor)
        assert executor.submit(pow, 2, 3).result() == 8


# ---------------------------------------------------------------- errors at the boundary


@pytest.mark.parametrize(
    "grid, message",
    [
        ({}, "grid is an empty dict"),
        ([], "grid is an empty list"),
        ({"lr": []}, r"grid\['lr'\] must be a non-empty list"),
        ({"lr": 0.1}, r"grid\['lr'\] must be a non-empty list of values, got 0.1"),
        ({"act": "relu"}, r"grid\['act'\] must be a non-empty list of values, got 'relu'"),
        ({1: [1]}, "keys must be strings"),
        ({"seed": [1, 2]}, "has a key 'seed'"),
        ([{"lr": 1}, 3], r"grid\[1\] must be a dict of settings, got int"),
        ([{"seed": 1}], r"grid\[0\] has a key 'seed'"),
        ("lr", "grid must be a dict of lists .* or a list of dicts .*, got str"),
        ({"lr": [0.1, 0.1]}, r"setting \{'lr': 0.1\} twice \(settings 0 and 1\)"),
        ([{"a": [1], "b": 2}, {"b": 2, "a": [1]}], "twice"),
    ],
)
def test_bad_grid(grid, message):
    with pytest.raises(ConfigError, match=message):
        fnn.sweep(sweep_runs.draw, grid, 2)


@pytest.mark.parametrize(
    "seeds, message",
    [
        (0, r"needs N ≥ 1, got 0"),
        (-2, r"needs N ≥ 1, got -2"),
        ([], "seeds is empty"),
        ([0, -1], r"seeds\[1\] must be a non-negative int, got -1"),
        ([0, 1.0], r"seeds\[1\] must be a non-negative int, got 1.0 \(float\)"),
        ([True], r"seeds\[0\] must be a non-negative int, got True \(bool\)"),
        ([3, 1, 3], r"seed 3 appears twice in seeds \(positions 0 and 2\)"),
        ({1, 2}, "seeds must be a list of non-negative ints or an int N"),
        (2.0, "seeds must be a list of non-negative ints or an int N .*got float"),
    ],
)
def test_bad_seeds(seeds, message):
    with pytest.raises(ConfigError, match=message):
        fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, seeds)


def test_bad_executor_and_max_workers():
    with pytest.raises(ConfigError, match=r"executor must be a concurrent.futures.Executor .*get_executor"):
        fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, 1, executor=object())
    with pytest.raises(ConfigError, match="max_workers sizes the default process pool"):
        fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, 1, executor=fnn.SerialExecutor(), max_workers=2)
    for bad in (0, 1.5, True):
        with pytest.raises(ConfigError, match="max_workers must be an int ≥ 1"):
            fnn.sweep(sweep_runs.draw, {"scale": [1.0]}, 1, max_workers=bad)


def test_run_that_is_not_callable():
    with pytest.raises(ConfigError, match=r"run must be a function run\(config, key\) -> dict, got str"):
        fnn.sweep("draw", {"scale": [1.0]}, 1, executor=fnn.SerialExecutor())


def local_runs():
    def nested(config, key):
        return {"value": config["scale"]}

    return [
        ("lambda", lambda config, key: {"value": config["scale"]}),
        ("nested", nested),
        ("nested in a module", sweep_runs.nested_run_factory()),
    ]


@pytest.mark.parametrize("name, run", local_runs(), ids=[n for n, _ in local_runs()])
def test_lambdas_and_nested_functions_are_refused_when_work_leaves_the_process(name, run):
    for executor in (
        None,
        cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")),
        PermutingExecutor([0]),
    ):
        with pytest.raises(
            ConfigError,
            match=r"lambda or a function defined inside another function; .*other processes.*SerialExecutor",
        ):
            fnn.sweep(run, {"scale": [1.0]}, 1, executor=executor)
        if executor is not None:
            executor.shutdown()
    with cf.ThreadPoolExecutor(1) as threads:  # in this process they are fine
        assert fnn.sweep(run, [{"scale": 1.0}], 1, executor=threads)[0] == {"scale": 1.0, "seed": 0, "value": 1.0}
    assert fnn.sweep(run, [{"scale": 1.0}], 1, executor=fnn.SerialExecutor())[0]["value"] == 1.0


def test_a_function_whose_name_leads_elsewhere_is_refused():
    def impostor(config, key):
        return {}

    impostor.__qualname__ = "draw"  # as a decorator without functools.wraps would leave it, the other way round
    impostor.__module__ = "sweep_runs"
    with pytest.raises(ConfigError, match=r"run's name sweep_runs.draw does not lead back to it"):
        fnn.sweep(impostor, {"scale": [1.0]}, 1)


@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_failure_in_run_names_config_and_seed(executor):
    kwargs = {"executor": fnn.SerialExecutor()} if executor == "serial" else {"max_workers": 2}
    with pytest.raises(
        SweepError,
        match=r"run sweep_runs.fail_on_seed failed for config \{'bad_seed': 1\}, seed 1: "
        r"ValueError: boom at seed 1",
    ) as info:
        fnn.sweep(sweep_runs.fail_on_seed, [{"bad_seed": 9}, {"bad_seed": 1}], 3, **kwargs)
    assert (info.value.config, info.value.seed) == ({"bad_seed": 1}, 1)
    assert isinstance(info.value.__cause__, ValueError)


def test_serial_failure_stops_at_the_first_failing_task():
    calls = []

    def run(config, key):
        calls.append(key.seed)
        if key.seed == 1:
            raise KeyError("missing")
        return {}

    with pytest.raises(SweepError, match=r"seed 1: KeyError"):
        fnn.sweep(run, {"a": [1]}, 5, executor=fnn.SerialExecutor())
    assert calls == [0, 1]


def test_unimportable_run_module_is_a_clear_error_from_the_worker(tmp_path, monkeypatch):
    (tmp_path / "only_here.py").write_text("def run(config, key):\n    return {'x': 1}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import only_here

    # importable here, but the workers get this sys.path, which no longer leads to it
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    try:
        with pytest.raises(SweepError, match=r"ImportError: cannot import only_here.run in process \d+.*PYTHONPATH"):
            fnn.sweep(only_here.run, {"a": [1]}, 1, max_workers=1)
    finally:
        del sys.modules["only_here"]


@pytest.mark.parametrize(
    "run, grid, message",
    [
        (sweep_runs.returns_list, {"a": [1]}, r"must return a dict of results, got list for config \{'a': 1\}, seed 0"),
        (sweep_runs.returns_clash, {"clash": ["clash"]}, r"returned the key 'clash', which is already a config key"),
        (sweep_runs.returns_clash, {"clash": ["seed"]}, r"returned the key 'seed', which is already a row key"),
    ],
)
@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_bad_results_are_named(run, grid, message, executor):
    kwargs = {"executor": fnn.SerialExecutor()} if executor == "serial" else {"max_workers": 1}
    with pytest.raises(ConfigError, match=message):
        fnn.sweep(run, grid, 1, **kwargs)


def test_serial_executor_is_an_executor():
    with fnn.SerialExecutor() as ex:
        assert ex.submit(divmod, 7, 2).result() == (3, 1)
        assert isinstance(ex.submit(divmod, 1, 0).exception(), ZeroDivisionError)
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(divmod, 7, 2)


# ---------------------------------------------------------------- the summary


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=5), min_size=1, max_size=4))
def test_summary_is_the_sample_mean_and_std_per_setting(groups):
    rows = [
        {"setting": g, "seed": s, "acc": v, "name": "x", "flag": True}
        for g, values in enumerate(groups)
        for s, v in enumerate(values)
    ]
    summary = fnn.sweep_summary(rows)
    assert [s["setting"] for s in summary] == list(range(len(groups)))
    for s, values in zip(summary, groups, strict=True):
        assert list(s) == ["setting", "seeds", "acc_mean", "acc_std"]  # strings and bools are not summarized
        assert s["seeds"] == len(values)
        assert s["acc_mean"] == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
        assert s["acc_std"] == pytest.approx(statistics.stdev(values), rel=1e-9, abs=1e-6)
    population = fnn.sweep_summary(rows, ddof=0)
    for s, values in zip(population, groups, strict=True):
        assert s["acc_std"] == pytest.approx(statistics.pstdev(values), rel=1e-9, abs=1e-6)


def test_summary_of_a_real_sweep(digits_rows):
    summary = fnn.sweep_summary(digits_rows)
    assert [tuple(s[k] for k in DIGITS_GRID) for s in summary] == [tuple(c.values()) for c in digits_settings()]
    assert list(summary[0]) == [
        *DIGITS_GRID,
        "seeds",
        "loss_mean",
        "loss_std",
        "test_accuracy_mean",
        "test_accuracy_std",
    ]
    by_lr = fnn.sweep_summary(digits_rows, by="lr")
    assert [(s["lr"], s["seeds"]) for s in by_lr] == [(1e-3, 8), (1e-2, 8)]
    assert "dropout_mean" not in by_lr[0]  # config keys are never summarized as results
    assert by_lr[1]["loss_mean"] == pytest.approx(statistics.fmean(r["loss"] for r in digits_rows if r["lr"] == 1e-2))


def test_summary_with_one_seed_and_unhashable_settings():
    rows = [
        {"layers": [64, 32], "seed": 0, "loss": 1.0},
        {"layers": [64, 16], "seed": 0, "loss": 2.0},
        {"layers": [64, 32], "seed": 1, "loss": 3.0},
    ]
    summary = fnn.sweep_summary(rows)
    assert [(s["layers"], s["seeds"], s["loss_mean"]) for s in summary] == [([64, 32], 2, 2.0), ([64, 16], 1, 2.0)]
    assert math.isnan(summary[1]["loss_std"])
    assert fnn.sweep_summary(rows, ddof=0)[1]["loss_std"] == 0.0


def test_summary_as_frame():
    import pandas as pd

    rows = [{"lr": 0.1, "seed": s, "loss": float(s)} for s in range(3)]
    frame = fnn.sweep_summary(rows, as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("records") == fnn.sweep_summary(rows)


def test_summary_as_frame_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` sees when it is not installed
    with pytest.raises(ImportError, match="needs pandas: pip install pandas"):
        fnn.sweep_summary([{"lr": 0.1, "seed": 0, "loss": 1.0}], as_frame=True)


@pytest.mark.parametrize(
    "rows, kwargs, message",
    [
        ([], {}, "rows must be a non-empty list of dicts"),
        ([3], {}, r"rows\[0\] must be a dict, got int"),
        ([{"lr": 1, "loss": 2}], {}, r"rows\[0\] has no 'seed' key.*pass by="),
        ([{"lr": 1, "seed": 0}], {"by": ["width"]}, r"rows\[0\] has no key 'width'"),
        ([{"lr": 1, "seed": 0}], {"by": 3}, "by must be a key name or a list of key names"),
        ([{"lr": 1, "seed": 0}], {"ddof": -1}, "ddof must be an int ≥ 0"),
        ([{"seeds": 1, "seed": 0}], {}, "the setting has a key 'seeds'"),
        ([{"loss_mean": 1, "seed": 0, "loss": 2.0}], {}, "summary column 'loss_mean' clashes"),
    ],
)
def test_bad_summary_input(rows, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fnn.sweep_summary(rows, **kwargs)


def test_summary_by_without_seed_key():
    rows = [{"lr": 0.1, "loss": 1.0}, {"lr": 0.1, "loss": 3.0}]
    assert fnn.sweep_summary(rows, by="lr") == [{"lr": 0.1, "seeds": 2, "loss_mean": 2.0, "loss_std": math.sqrt(2.0)}]
