"""Laws of a sweep that loses nothing: the store, reruns, refusals, working directories, kills and interrupts.

Everything is real: SQLite files in temporary directories, fnn's own process pool, driving
processes killed with SIGKILL at random moments (tests/sweep_kill_child.py) and interrupted
with SIGINT. Runs are counted through the side channel of tests/test_sweep_failures.py.
"""

import collections
import contextlib
import functools
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import sweep_kill_child
import sweep_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sweep import assert_rows_equal, direct_rows
from test_sweep_failures import FLAKY, GRID, SERIAL, assert_gone, counting, expected_rows, read_log, starts

import fnn
from fnn.errors import ConfigError, FormatError, SweepError
from fnn.sweep import pair_dir, stored_rows
from fnn.sweep import store as sweep_store

CHILD = pathlib.Path(__file__).with_name("sweep_kill_child.py")


# ---------------------------------------------------------------- the store keeps the rows as they are


@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_rows_through_a_store_are_bitwise_the_rows_without_one(tmp_path, executor):
    kwargs = {"executor": SERIAL()} if executor == "serial" else {"max_workers": 2}
    with_store = fnn.sweep(sweep_runs.counted, GRID, [0, 5], store=tmp_path / "s.db", **kwargs)
    assert_rows_equal(with_store, fnn.sweep(sweep_runs.counted, GRID, [0, 5], **kwargs))
    assert_rows_equal(with_store, expected_rows(GRID, [0, 5]))
    assert_rows_equal(stored_rows(tmp_path / "s.db"), with_store)


def test_a_rerun_returns_the_stored_rows_and_runs_nothing(tmp_path):
    log, db = tmp_path / "log", tmp_path / "s.db"
    first = fnn.sweep(counting(log), GRID, 2, store=db, max_workers=2)
    assert sorted(starts(log)) == sorted(sweep_runs.pair_word(c, s) for c in GRID for s in range(2))
    again = fnn.sweep(counting(log), GRID, 2, store=db, max_workers=2)
    assert len(starts(log)) == 6  # nothing ran the second time
    assert_rows_equal(again, first)
    assert_rows_equal(again, expected_rows(GRID, range(2)))


def test_new_settings_and_seeds_run_only_the_new_pairs(tmp_path):
    log, db = tmp_path / "log", tmp_path / "s.db"
    fnn.sweep(counting(log), {"scale": [1.0, 2.0]}, [0, 1], store=db, executor=SERIAL())
    rows = fnn.sweep(counting(log), {"scale": [1.0, 2.0, 3.0]}, [0, 1, 2], store=db, executor=SERIAL())
    new = {sweep_runs.pair_word({"scale": c}, s) for c in (1.0, 2.0, 3.0) for s in range(3)} - {
        sweep_runs.pair_word({"scale": c}, s) for c in (1.0, 2.0) for s in range(2)
    }
    assert sorted(starts(log)[4:]) == sorted(new)  # 5 new pairs, each once
    assert_rows_equal(rows, expected_rows(GRID, range(3)))
    # the store's order is the latest grid's; a smaller grid returns only its own rows
    assert_rows_equal(
        fnn.sweep(counting(log), {"scale": [2.0]}, [1], store=db, executor=SERIAL()),
        expected_rows([{"scale": 2.0}], [1]),
    )
    assert len(starts(log)) == 9


@settings(max_examples=12, deadline=None)
@given(st.lists(st.booleans(), min_size=9, max_size=9), st.permutations(range(3)))
def test_a_sweep_over_a_partly_done_store_runs_exactly_the_missing_pairs(tmp_path_factory, done, order):
    """Law: whatever subset of pairs a store holds (left by earlier calls in any order), the sweep returns
    the rows of a fresh sweep and runs each missing pair once and no stored pair again."""
    d = tmp_path_factory.mktemp("partial")
    log, db = d / "log", d / "s.db"
    pairs = [(GRID[i], s) for i in range(3) for s in range(3)]
    for i in order:  # earlier calls: one per setting, with the seeds marked done, settings in any order
        seeds = [s for s in range(3) if done[3 * i + s]]
        if seeds:
            fnn.sweep(counting(log), [GRID[i]], seeds, store=db, executor=SERIAL())
    before = len(read_log(log))
    rows = fnn.sweep(counting(log), GRID, 3, store=db, executor=SERIAL())
    assert sorted(starts(log, before)) == sorted(
        sweep_runs.pair_word(c, s) for (c, s), d in zip(pairs, done, strict=True) if not d
    )
    assert len(starts(log)) == 9
    assert_rows_equal(rows, expected_rows(GRID, range(3)))


def test_the_store_is_sqlite_that_pandas_reads_and_the_summary_reads_it(tmp_path):
    import pandas as pd

    db = tmp_path / "s.db"
    rows = fnn.sweep(sweep_runs.counted, GRID, 3, store=db, executor=SERIAL())
    with contextlib.closing(sqlite3.connect(db)) as connection:
        frame = pd.read_sql(
            "SELECT seed, status, json_extract(row, '$.total') AS total, seconds, finished, config "
            "FROM rows JOIN grid USING (pair) ORDER BY position",
            connection,
        )
        meta = dict(connection.execute("SELECT key, value FROM meta"))
    assert frame["total"].tolist() == [r["total"] for r in rows]
    assert frame["seed"].tolist() == [0, 1, 2] * 3 and set(frame["status"]) == {"ok"}
    assert [json.loads(c) for c in frame["config"]] == [{"scale": r["scale"]} for r in rows]
    assert (frame["seconds"] >= 0).all() and frame["finished"].str.endswith("+00:00").all()
    assert meta["format"] == "fnn.sweep" and meta["run"] == "sweep_runs.counted"
    assert fnn.sweep_summary(db) == fnn.sweep_summary(rows)
    assert fnn.sweep_summary(str(db), as_frame=True).equals(fnn.sweep_summary(rows, as_frame=True))


def test_other_processes_read_the_store_while_the_sweep_writes_it(tmp_path):
    db = tmp_path / "s.db"
    reader = functools.partial(sweep_runs.reads_store, path=str(db))
    rows = fnn.sweep(reader, [{"wait": 0.0}, {"wait": 0.6}], 2, store=db, max_workers=2)
    # each run, in a worker process, counted the rows committed before it; the last ones saw some
    assert max(r["rows_seen"] for r in rows) >= 1
    assert len(stored_rows(db)) == 4


def test_results_a_store_cannot_keep_exactly_are_refused_by_name(tmp_path):
    db = tmp_path / "s.db"
    with pytest.raises(
        ConfigError,
        match=r"run sweep_runs.draw for config \{'scale': 1.0\}, seed 0: result\['draws'\] is a "
        r"numpy.ndarray .*JSON holds .*tolist\(\), or fnn.save",
    ):
        fnn.sweep(sweep_runs.draw, [{"scale": 1.0}], 1, store=db, executor=SERIAL())
    rows = fnn.sweep(sweep_runs.draw, [{"scale": 1.0}], 1, store=db, executor=SERIAL(), on_error="record")
    assert rows[0]["status"] == "error" and rows[0]["error_type"] == "ConfigError"
    assert "numpy.ndarray" in rows[0]["error_message"]


# ---------------------------------------------------------------- refusals and bad input, before any run


def test_a_store_of_another_run_function_is_refused(tmp_path):
    db = tmp_path / "s.db"
    fnn.sweep(sweep_runs.counted, GRID, 1, store=db, executor=SERIAL())
    with pytest.raises(ConfigError, match=r"belongs to the run function sweep_runs.counted, not sweep_runs.hangs"):
        fnn.sweep(sweep_runs.hangs, [{"sleep": 0.0}], 1, store=db, executor=SERIAL())


@pytest.mark.parametrize(
    "stored, given_",
    [
        ([{"scale": 1.0, "sleep": 0}], [{"scale": 1.0, "sleep": 0.0}]),  # 0 == 0.0, but a row would hold 0.0
        ([{"scale": 1.0, "sleep": 0}], [{"sleep": 0, "scale": 1.0}]),  # another key order: another row
        ([{"scale": 1.0, "sleep": 0}], [{"scale": 1.0, "sleep": False}]),  # False == 0
    ],
)
def test_a_pair_stored_with_its_config_written_another_way_is_refused(tmp_path, stored, given_):
    log, db = tmp_path / "log", tmp_path / "s.db"
    fnn.sweep(counting(log), stored, 1, store=db, executor=SERIAL())
    with pytest.raises(
        ConfigError, match=r"holds the config \{.*\} for seed 0 where this grid gives .*written another way"
    ):
        fnn.sweep(counting(log), given_, 1, store=db, executor=SERIAL())
    assert len(starts(log)) == 1


def test_a_second_driver_on_one_store_is_refused(tmp_path):
    db = tmp_path / "s.db"
    with sweep_store.open_store(db, "sweep_runs.counted"):
        with pytest.raises(
            ConfigError, match=rf"the store .*s.db is in use by another sweep \(process {os.getpid()}\)"
        ):
            fnn.sweep(sweep_runs.counted, GRID, 1, store=db, executor=SERIAL())
    fnn.sweep(sweep_runs.counted, GRID, 1, store=db, executor=SERIAL())  # released


def damaged_store(path):
    fnn.sweep(
        sweep_runs.counted,
        [{"scale": float(s), "pad": "x" * 3000} for s in range(30)],
        1,
        store=path,
        executor=SERIAL(),
    )
    data = bytearray(path.read_bytes())
    data[4096 * 3 : 4096 * 3 + 64] = b"\xff" * 64  # a page in the middle of the rows
    path.write_bytes(bytes(data))


def foreign_sqlite(path):
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE experiments (id INTEGER)")
        db.commit()


def newer_store(path):
    fnn.sweep(sweep_runs.counted, GRID, 1, store=path, executor=SERIAL())
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'format_version'")
        db.commit()


@pytest.mark.parametrize(
    "make, kwargs, error, message",
    [
        (
            None,
            {"store": "/nonexistent-dir/s.db"},
            ConfigError,
            r"in the directory '/nonexistent-dir', which does not exist",
        ),
        (lambda p: p.mkdir(), {}, ConfigError, r"is a directory; give the path of a file"),
        (
            lambda p: p.write_text("lr,loss\n0.1,2.0\n" * 100),
            {},
            FormatError,
            r"is not a sweep store: SQLite cannot read it",
        ),
        (foreign_sqlite, {}, FormatError, r"an SQLite database but not a sweep store \(its tables: experiments\)"),
        (damaged_store, {}, FormatError, r"damaged|cannot read"),
        (newer_store, {}, FormatError, r"store format version '99'; this fnn reads versions up to 1"),
        (None, {"store": 3}, ConfigError, r"store must be a file path"),
        (None, {"retry_failed": True, "store": None}, ConfigError, r"retry_failed=True .* needs store=PATH"),
        (None, {"retry_failed": 1}, ConfigError, r"retry_failed must be True or False"),
    ],
)
def test_bad_input_is_a_clear_error_before_any_run(tmp_path, make, kwargs, error, message):
    log, target = tmp_path / "log", tmp_path / "target"
    if make is not None:
        make(target)
    kwargs = {"store": target, "executor": SERIAL(), **kwargs}
    with pytest.raises(error, match=message):
        fnn.sweep(counting(log), GRID, 2, **kwargs)
    assert starts(log) == []
    if error is FormatError and make not in (damaged_store, newer_store):  # (those two were made by a sweep)
        assert not (tmp_path / "target.lock").exists()  # checked before the lock: nothing left beside the file


@pytest.mark.parametrize(
    "grid, message",
    [
        ([{"layers": (64, 32)}], r"setting 0's 'layers' is a tuple \(\(64, 32\)\).*use a list"),
        ([{"lr": np.float64(0.1)}], r"setting 0's 'lr' is a numpy.float64 .*float\(value\)"),
        ([{"lr": 0.1}, {"lr": np.float32(0.2)}], r"setting 1's 'lr' is a numpy.float32"),
        ([{"opt": {"name": "adam", 1: 2}}], r"setting 0's 'opt' has the key 1 \(int\)"),
        ([{"x": [1, {2, 3}]}], r"setting 0's 'x'\[1\] is a set"),
    ],
)
@pytest.mark.parametrize("option", ["store", "workdirs"])
def test_a_grid_json_cannot_hold_is_refused_before_any_run(tmp_path, grid, message, option):
    log = tmp_path / "log"
    run = counting(log) if option == "store" else functools.partial(sweep_runs.where_am_i, log=str(log))
    with pytest.raises(ConfigError, match=message):
        fnn.sweep(run, grid, 1, executor=SERIAL(), **{option: tmp_path / "target"})
    assert starts(log) == [] and not (tmp_path / "target").exists()


def test_stored_rows_of_what_is_not_a_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="there is no store at"):
        stored_rows(tmp_path / "missing.db")
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(FormatError, match="empty SQLite database, not a sweep store"):
        stored_rows(tmp_path / "empty.db")
    foreign_sqlite(tmp_path / "other.db")
    with pytest.raises(FormatError, match="not a sweep store"):
        fnn.sweep_summary(tmp_path / "other.db")


# ---------------------------------------------------------------- failures in a store


def test_raise_keeps_the_finished_rows_in_the_store_and_on_the_error(tmp_path):
    log, db = tmp_path / "log", tmp_path / "s.db"
    run = functools.partial(sweep_runs.dies, log=str(log))
    with pytest.raises(
        SweepError, match=r"failed for config \{'scale': 2.0, 'death': 'raise'\}, seed 0: ValueError"
    ) as info:
        fnn.sweep(run, FLAKY, 2, store=db, executor=SERIAL())
    assert (info.value.config, info.value.seed) == (FLAKY[1], 0)
    assert_rows_equal(info.value.rows, direct_rows(sweep_runs.counted, [FLAKY[0]], range(2)))
    assert_rows_equal(stored_rows(db), info.value.rows)  # the failure itself is not stored with "raise"
    rows = fnn.sweep(run, FLAKY, 2, store=db, executor=SERIAL(), on_error="record")
    assert len(starts(log)) == 3 + 4  # the two stored pairs did not run again
    assert [r.get("status") for r in rows] == [None, None, "error", "error", None, None]


def test_failed_pairs_are_run_again_only_when_asked(tmp_path):
    log, db, flag = tmp_path / "log", tmp_path / "s.db", tmp_path / "broken"
    flag.touch()
    run = functools.partial(sweep_runs.fails_while, flag=str(flag), log=str(log))
    first = fnn.sweep(run, GRID, 2, store=db, executor=SERIAL(), on_error="record")
    assert [r.get("status") for r in first] == ["error"] * 2 + [None] * 4  # scale 1.0 fails while the flag exists
    flag.unlink()
    assert fnn.sweep(run, GRID, 2, store=db, executor=SERIAL(), on_error="record") == first
    with pytest.raises(
        SweepError,
        match=r"holds a failure of run sweep_runs.fails_while for config \{'scale': 1.0\}, "
        r"seed 0 \(RuntimeError: .*\) and 1 more; pass retry_failed=True",
    ) as info:
        fnn.sweep(run, GRID, 2, store=db, executor=SERIAL())
    assert len(info.value.rows) == 4
    assert len(starts(log)) == 6  # neither rerun ran anything
    rows = fnn.sweep(run, GRID, 2, store=db, executor=SERIAL(), retry_failed=True)
    assert sorted(starts(log)[6:]) == sorted(sweep_runs.pair_word(GRID[0], s) for s in range(2))
    assert_rows_equal(rows, direct_rows(sweep_runs.counted, GRID, range(2)))
    assert_rows_equal(stored_rows(db), rows)


# ---------------------------------------------------------------- working directories


def test_each_pair_gets_its_own_working_directory_the_same_on_every_rerun(tmp_path):
    root = tmp_path / "runs"
    rows = fnn.sweep(sweep_runs.where_am_i, GRID, 2, workdirs=root, max_workers=2)
    for row in rows:
        config = {"scale": row["scale"]}
        assert row["workdir"] == os.fspath(pair_dir(root, config, row["seed"]))
        assert json.loads((pathlib.Path(row["workdir"]) / "pair.json").read_text()) == {
            "config": config,
            "seed": row["seed"],
        }
    assert len({r["workdir"] for r in rows}) == 6 and sorted(p.name for p in root.iterdir()) == sorted(
        pathlib.Path(r["workdir"]).name for r in rows
    )
    assert fnn.sweep(sweep_runs.where_am_i, GRID, 2, workdirs=root, executor=SERIAL()) == rows
    with pytest.raises(ConfigError, match=r"is called as run\(config, key, workdir\) \(workdirs= adds"):
        fnn.sweep(sweep_runs.draw, GRID, 1, workdirs=root, executor=SERIAL())
    with pytest.raises(ConfigError, match=r"is called as run\(config, key\) \(a third argument.*workdirs=DIR\)"):
        fnn.sweep(sweep_runs.where_am_i, GRID, 1, executor=SERIAL())
    (tmp_path / "file").write_text("x")
    for bad, message in (
        (tmp_path / "file", "is a file"),
        ("/nonexistent-dir/runs", "which does not exist"),
        (3, "path"),
    ):
        with pytest.raises(ConfigError, match=f"workdirs.*{message}"):
            fnn.sweep(sweep_runs.where_am_i, GRID, 1, executor=SERIAL(), workdirs=bad)


# ---------------------------------------------------------------- killing the driver


KILLS = int(os.environ.get("FNN_SWEEP_KILLS", "5"))  # more for a local stress run: FNN_SWEEP_KILLS=50
STORE_SWEEP = "store" if KILLS <= 5 else f"store:{2 * KILLS}"  # a stress run needs a grid that outlasts its kills


def launch(kind, db, log, *extra, **kwargs):
    return subprocess.Popen(
        [sys.executable, str(CHILD), kind, str(db), str(log), *map(str, extra)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def committed(kind, db):
    """The pair words of the rows the store holds (read as any other process would)."""
    if not db.exists():
        return set()
    _, grid, seeds = sweep_kill_child.sweep_of(kind)
    stored = {(json.dumps({k: r[k] for k in grid[0]}), r["seed"]) for r in stored_rows(db)}
    return {sweep_runs.pair_word(c, s) for c in grid for s in range(seeds) if (json.dumps(c), s) in stored}


def kill_at_random(proc, log, offset, rng):
    """SIGKILL ``proc`` at a random moment: in a third of the cases any time from its start (start-up, store
    open, pool start), else some time after its first run started."""
    if rng.random() < 1 / 3:
        time.sleep(rng.uniform(0.0, 1.5))
    else:
        deadline = time.monotonic() + 60
        while len(read_log(log)) <= offset and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))
    proc.send_signal(signal.SIGKILL)  # a no-op if it has finished


def drive_until_done(kind, db, log, rng, kills, extra=(), before_each=None):
    """Start the driver, kill it ``kills`` times at random moments, then rerun it until it completes.

    Checks after every generation that no pair stored before it started was run in it, and that
    no worker of a killed driver outlives it. Returns (kills that landed, reruns after the last kill, by moment).
    """
    landed, reruns, gen = 0, 0, 0
    where = collections.Counter()
    while True:
        before, offset = committed(kind, db), len(read_log(log))
        state = before_each() if before_each else None
        with launch(kind, db, log, *extra) as proc:
            if landed < kills:
                kill_at_random(proc, log, offset, rng)
            _, err = proc.communicate(timeout=300)
        new = read_log(log)[offset:]
        assert_gone({pid for _, _, pid, _ in new})
        again = {pair for event, pair, _, _ in new if event == "start"} & before
        assert not again, f"generation {gen}: finished pairs {sorted(again)} ran again"
        yield gen, new, state
        gen += 1
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err
        if landed < kills:
            landed += 1
            after = committed(kind, db)
            where[
                "before any run"
                if not new
                else "with no row committed"
                if after == before
                else "after some rows were committed"
            ] += 1
        else:
            reruns += 1
    print(f"\n{kind}: {landed} kills ({dict(where)}), {gen - landed} more runs of the driver to complete")


def test_sigkill_the_driver_at_random_moments_and_rerun_until_complete(tmp_path):
    """The law: the final rows are an uninterrupted sweep's, bitwise, and no finished pair ever ran twice."""
    db, log = tmp_path / "s.db", tmp_path / "log"
    rng = np.random.default_rng(20261202)  # kill moments: seeded, so that a failure can be replayed
    generations = list(drive_until_done(STORE_SWEEP, db, log, rng, KILLS))
    run, grid, seeds = sweep_kill_child.sweep_of(STORE_SWEEP)
    expected = fnn.sweep(sweep_runs.counted, grid, seeds, executor=SERIAL())
    assert_rows_equal(stored_rows(db), expected)
    runs = collections.Counter(starts(log))
    assert set(runs) == {sweep_runs.pair_word(c, s) for c in grid for s in range(seeds)}
    print(
        f"store law: {len(generations)} driver processes, {sum(runs.values())} runs for {len(runs)} pairs "
        f"(pairs run more than once: {sum(n > 1 for n in runs.values())}, each killed before its row was committed)"
    )
    before = len(read_log(log))
    assert_rows_equal(
        fnn.sweep(functools.partial(sweep_runs.counted, log=str(log)), grid, seeds, store=db, executor=SERIAL()),
        expected,
    )
    assert len(read_log(log)) == before  # complete: a rerun runs nothing


def newest_epochs(root, grid, seeds):
    """The epoch of each pair's newest checkpoint in its working directory (0 if none yet)."""
    out = {}
    for config in grid:
        for seed in range(seeds):
            directory = pair_dir(root, config, seed)
            found = fnn.io.latest_checkpoint(directory) if directory.is_dir() else None
            out[sweep_runs.pair_word(config, seed)] = fnn.io.load_checkpoint(directory).epoch if found else 0
    return out


def test_runs_resume_from_their_checkpoints_when_the_driver_is_killed(tmp_path):
    """The kill law with fit(resume=workdir) inside run: each unfinished run goes on from its newest checkpoint."""
    db, log, root = tmp_path / "s.db", tmp_path / "log", tmp_path / "runs"
    rng = np.random.default_rng(17)
    run, grid, seeds = sweep_kill_child.sweep_of("workdirs")
    resumed = 0
    for gen, new, epochs_before in drive_until_done(
        "workdirs", db, log, rng, 3, extra=(root,), before_each=lambda: newest_epochs(root, grid, seeds)
    ):
        first = {}
        for event, pair, _, rest in new:
            if event == "epoch":
                first.setdefault(pair, int(rest[0]))
        for pair, epoch in first.items():
            assert epoch == epochs_before[pair] + 1, (gen, pair, epoch, epochs_before[pair])
            resumed += epochs_before[pair] > 0
    reference = fnn.sweep(sweep_runs.fit_resumable, grid, seeds, workdirs=tmp_path / "reference", executor=SERIAL())
    assert_rows_equal(stored_rows(db), reference)
    epochs = collections.Counter(pair for event, pair, _, _ in read_log(log) if event == "epoch")
    print(
        f"workdirs law: {resumed} runs went on from a checkpoint; {sum(epochs.values())} epochs trained for "
        f"{len(grid) * seeds * grid[0]['epochs']} in the sweep"
    )


def test_ctrl_c_ends_the_workers_and_returns_at_once_with_the_store_consistent(tmp_path):
    db, log = tmp_path / "s.db", tmp_path / "log"
    with launch("interrupt", db, log, start_new_session=True) as proc:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            events = read_log(log)
            if sum(e == "end" for e, *_ in events) == 2 and sum(e == "start" for e, *_ in events) == 4:
                break  # the two quick pairs are done, the two slow ones run
            time.sleep(0.01)
        time.sleep(0.2)
        sent = time.monotonic_ns()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        out, err = proc.communicate(timeout=60)
        ended = time.monotonic_ns()
    raised = int(out.split()[-1]) if out.startswith("interrupted") else None
    print(
        f"\nCtrl-C: KeyboardInterrupt out of fnn.sweep {(raised - sent) / 1e9:.3f} s after SIGINT, process ended "
        f"after {(ended - sent) / 1e9:.3f} s"
    )
    assert raised is not None and "KeyboardInterrupt" in err, (out, err)
    assert (raised - sent) / 1e9 < 2.0
    assert_gone({pid for _, _, pid, _ in read_log(log)}, within=2)
    with contextlib.closing(sqlite3.connect(db)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert_rows_equal(stored_rows(db), direct_rows(sweep_runs.counted, [{"scale": 1.0, "sleep": 0.0}], range(2)))
