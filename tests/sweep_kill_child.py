"""The sweep that tests/test_sweep_store.py kills with SIGKILL (or interrupts) and runs again: a real driving process.

    python tests/sweep_kill_child.py KIND STORE LOG [WORKDIRS]

runs ``fnn.sweep`` of the KIND's run function and grid (``SWEEPS``; ``store:N`` is the store
sweep with N settings) with ``store=STORE`` in fnn's default process pool of 2 workers; the
run notes in the side-channel file LOG every start and end (with its pid), so the test counts
runs without asking the sweep. The same command line serves the first start and every rerun.
Interrupted (SIGINT), it prints ``interrupted NS`` (CLOCK_MONOTONIC nanoseconds) as the
sweep's KeyboardInterrupt reaches it. ``sweep_of(KIND)`` gives the test the very same run
function, grid and seeds.
"""

import functools
import sys
import time

import sweep_runs

import fnn


def store_grid(settings):
    """Cheap pairs of 0.05-0.15 s each: kills land before, between and during commits."""
    return [{"scale": float(s), "sleep": (0.05, 0.1, 0.15)[s % 3]} for s in range(settings)]


SWEEPS = {
    "store": (sweep_runs.counted, store_grid(4), 3),  # 12 pairs
    # 4 pairs of a real fit that checkpoints every epoch into the pair's working directory
    "workdirs": (sweep_runs.fit_resumable, [{"lr": lr, "epochs": 4} for lr in (0.01, 0.03)], 2),
    # 2 pairs that end at once, then 2 that would run for a minute: Ctrl-C arrives during those
    "interrupt": (sweep_runs.counted, [{"scale": 1.0, "sleep": 0.0}, {"scale": 2.0, "sleep": 60.0}], 2),
}


def sweep_of(kind, log=None):
    """The run function (noting into ``log``), the grid and the seeds of the sweep ``kind``."""
    kind, _, settings = kind.partition(":")
    run, grid, seeds = SWEEPS[kind]
    return functools.partial(run, log=log), store_grid(int(settings)) if settings else grid, seeds


if __name__ == "__main__":
    kind, store, log = sys.argv[1:4]
    run, grid, seeds = sweep_of(kind, log)
    workdirs = sys.argv[4] if len(sys.argv) > 4 else None
    try:
        rows = fnn.sweep(run, grid, seeds, store=store, max_workers=2, workdirs=workdirs)
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic_ns()}", flush=True)  # CLOCK_MONOTONIC: the test's clock too
        raise
    print(f"done {len(rows)}", flush=True)
