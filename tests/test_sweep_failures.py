"""Laws of a sweep whose runs fail: failures as rows, dead workers named by their own pair, timeouts.

Everything is real: fnn's own process pool, workers that call os._exit or segfault, runs that
never return. Runs are counted through a side channel: the run functions of tests/sweep_runs.py
append a line per start and end (with their pid) to a file, which the sweep knows nothing of.
"""

import concurrent.futures as cf
import functools
import multiprocessing
import os
import pathlib
import re
import time

import pytest
import sweep_runs
from test_sweep import assert_rows_equal, direct_rows

import fnn
from fnn.errors import ConfigError, SweepError

SERIAL = fnn.SerialExecutor


def read_log(log):
    """The side channel: (event, pair word, pid, the rest) per line."""
    if not pathlib.Path(log).exists():
        return []
    return [
        tuple(line.split()[:2]) + (int(line.split()[-1]), line.split()[2:-1])
        for line in pathlib.Path(log).read_text().splitlines()
    ]


def starts(log, since=0):
    return [pair for event, pair, _, _ in read_log(log)[since:] if event == "start"]


def alive(pid):
    """Whether ``pid`` runs (a zombie, ended but not yet reaped by its new parent, does not)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def assert_gone(pids, within=10.0):
    deadline = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [p for p in pids if alive(p)], "worker processes outlived their driver"


def counting(log):
    return functools.partial(sweep_runs.counted, log=str(log))


GRID = [{"scale": 1.0}, {"scale": 2.0}, {"scale": 3.0}]


def expected_rows(grid, seeds):
    return direct_rows(sweep_runs.counted, grid, seeds)


# ---------------------------------------------------------------- bad options, before any run


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"timeout": 0}, r"timeout must be a positive number of seconds"),
        ({"timeout": -1.0}, r"timeout must be a positive number"),
        ({"timeout": float("nan")}, r"timeout must be a positive number"),
        ({"timeout": True}, r"timeout must be a positive number"),
        ({"timeout": "5"}, r"timeout must be a positive number"),
        ({"timeout": 5, "executor": "serial"}, r"timeout= ends an overdue run by ending its worker"),
        ({"on_error": "ignore"}, r"on_error must be 'raise' .* or 'record'"),
    ],
)
def test_bad_options_are_clear_errors_before_any_run(tmp_path, kwargs, message):
    log = tmp_path / "log"
    kwargs = {**kwargs, "executor": SERIAL() if kwargs.get("executor") == "serial" else None}
    with pytest.raises(ConfigError, match=message):
        fnn.sweep(counting(log), GRID, 2, **kwargs)
    assert starts(log) == []


def test_a_config_key_that_a_failure_row_needs_is_refused_with_record():
    with pytest.raises(ConfigError, match=r"setting 0 has a key 'status', which on_error='record' uses"):
        fnn.sweep(sweep_runs.counted, [{"status": 1}], 1, executor=SERIAL(), on_error="record")


# ---------------------------------------------------------------- failures are rows


FLAKY = [{"scale": 1.0, "death": ""}, {"scale": 2.0, "death": "raise"}, {"scale": 3.0, "death": ""}]


def test_record_makes_a_failure_a_row_and_the_sweep_goes_on(tmp_path):
    rows = fnn.sweep(sweep_runs.dies, FLAKY, 2, executor=SERIAL(), on_error="record")
    assert [r.get("status") for r in rows] == [None, None, "error", "error", None, None]
    assert rows[2] == {
        "scale": 2.0,
        "death": "raise",
        "seed": 0,
        "status": "error",
        "error_type": "ValueError",
        "error_message": "boom for {'scale': 2.0, 'death': 'raise'}",
    }
    ok = [r for r in rows if "status" not in r]
    assert_rows_equal(ok, [r for r in direct_rows(sweep_runs.counted, [FLAKY[0], FLAKY[2]], range(2))])
    summary = fnn.sweep_summary(rows)
    assert [(s["scale"], s["seeds"], s["failed"]) for s in summary] == [(1.0, 2, 0), (2.0, 0, 2), (3.0, 2, 0)]
    assert "total_mean" in summary[0] and "total_mean" not in summary[1]


def test_raise_stops_at_the_first_failure_and_the_finished_rows_are_on_the_error():
    with pytest.raises(
        SweepError, match=r"failed for config \{'scale': 2.0, 'death': 'raise'\}, seed 0: ValueError"
    ) as info:
        fnn.sweep(sweep_runs.dies, FLAKY, 2, executor=SERIAL())
    assert (info.value.config, info.value.seed) == (FLAKY[1], 0)
    assert_rows_equal(info.value.rows, direct_rows(sweep_runs.counted, [FLAKY[0]], range(2)))


DEATHS = {
    "exit": r"the worker process running this pair exited with code 3",
    "segfault": r"the worker process running this pair was killed by SIGSEGV",
}


def test_a_dead_worker_fails_its_own_pair_and_the_pool_runs_the_rest(tmp_path):
    """F6 and F2: the pair whose worker died is the one reported, with its own config.

    Every other row comes back."""
    log = tmp_path / "log"
    grid = [{"i": i, "sleep": 0.1, "death": {2: "exit", 4: "segfault"}.get(i, "")} for i in range(6)]
    run = functools.partial(sweep_runs.dies, log=str(log))
    rows = fnn.sweep(run, grid, 1, max_workers=2, on_error="record")
    failed = [r["i"] for r in rows if r.get("status") == "error"]
    assert failed == [2, 4]
    for r in rows:
        if r["i"] in failed:
            assert r["error_type"] == "BrokenProcessPool" and re.fullmatch(DEATHS[r["death"]], r["error_message"])
    assert_rows_equal(
        [r for r in rows if r["i"] not in failed],
        direct_rows(sweep_runs.counted, [g for g in grid if g["i"] not in failed], [0]),
    )
    assert_gone([pid for _, _, pid, _ in read_log(log)])
    with pytest.raises(
        SweepError,
        match=r"failed for config \{'i': 2, 'sleep': 0.1, 'death': 'exit'\}, seed 0: "
        rf"BrokenProcessPool: {DEATHS['exit']}",
    ) as info:
        fnn.sweep(run, grid, 1, max_workers=2)
    assert info.value.config == grid[2] and [r["i"] for r in info.value.rows][:2] == [0, 1]


def test_what_cannot_travel_back_from_a_worker_fails_its_own_pair_with_its_message():
    """F20: an exception that cannot be rebuilt (or pickled) comes back as its type and message.

    Not as a dead worker."""
    grid = [{"what": "two-part error"}, {"what": "error holding a lock"}, {"what": "lock as a result"}]
    rows = fnn.sweep(sweep_runs.travels_badly, grid, 1, max_workers=2, on_error="record")
    assert [r["error_type"] for r in rows] == ["TwoPartError", "RuntimeError", "TypeError"]
    assert rows[0]["error_message"] == "the loss went wrong with the data"
    assert rows[1]["error_message"].startswith("('a lock inside', <unlocked _thread.lock")
    assert rows[2]["error_message"].startswith(
        "run returned a result that cannot be sent back to the sweep: TypeError: cannot pickle '_thread.lock' object"
    )
    with pytest.raises(
        SweepError, match=r"seed 0: TwoPartError: the loss went wrong with the data; the 0 rows"
    ) as info:
        fnn.sweep(sweep_runs.travels_badly, grid[:1], 1, max_workers=1)
    assert info.value.__cause__ is None


def test_a_worker_of_a_given_pool_that_dies_blames_no_single_pair(tmp_path):
    grid = [{"i": i, "sleep": 0.3, "death": "exit" if i == 1 else ""} for i in range(4)]
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(
            SweepError,
            match=r"a worker process of the given executor died .* while \d pairs were "
            r"running or queued, and the executor cannot tell which one it ran",
        ) as info:
            fnn.sweep(sweep_runs.dies, grid, 1, executor=pool, on_error="record")
    assert info.value.config is None and "'i': 1" in str(info.value)


def test_a_run_past_its_timeout_becomes_an_error_row_and_its_worker_is_ended(tmp_path):
    log = tmp_path / "log"
    run = functools.partial(sweep_runs.hangs, log=str(log))
    start = time.monotonic()
    rows = fnn.sweep(
        run, [{"sleep": 0.0}, {"sleep": 600.0}, {"sleep": 0.1}], [0, 1], max_workers=2, timeout=1.5, on_error="record"
    )
    took = time.monotonic() - start
    print(f"\ntimeout=1.5 s with two runs of 600 s: the sweep returned after {took:.2f} s")
    assert took < 60
    assert [r.get("error_type") for r in rows] == [None, None, "TimeoutError", "TimeoutError", None, None]
    assert rows[2]["error_message"] == "the run took longer than timeout=1.5 s, so its worker process was ended"
    assert [r["slept"] for r in rows if "slept" in r] == [0.0, 0.0, 0.1, 0.1]
    assert_gone([pid for event, pair, pid, _ in read_log(log) if pair.startswith("sleep=600.0")], within=2)
    with pytest.raises(SweepError, match=r"config \{'sleep': 600.0\}, seed 0: TimeoutError: the run took longer"):
        fnn.sweep(run, [{"sleep": 600.0}], 1, timeout=1.0)
