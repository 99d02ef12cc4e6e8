"""Wall time of one sweep (4 learning rates × 4 seeds of a digits MLP) on each kind of executor.

The store's cost per row too.

Executors: fnn.SerialExecutor (this process), the default process pool (2 workers, started
and shut down by the sweep, so its start-up is part of the time) and a Dask LocalCluster of
2 worker processes (1 thread each, loopback only; started once, its start-up reported apart;
its first sweep also pays for the workers' imports, so it is reported apart too). Each is
timed --repeat times, interleaved, and every run's rows are checked bitwise against the
serial ones. The 1-minute load average is printed before each run: on a shared machine,
other processes' work shows up in these times.

BLAS threads: the parent and the pool's workers use OpenBLAS's default (one thread per core),
Dask's workers one thread (distributed sets OPENBLAS_NUM_THREADS=1 for them). Run with
OPENBLAS_NUM_THREADS=1 in the environment to give every process one BLAS thread.

The store (--part store): a sweep of --rows trivial runs on fnn.SerialExecutor with and without
store= on --dir (default: a temporary directory), so that the difference is the store's cost
per row: encoding the row as JSON and one SQLite transaction (write-ahead log, fsync) per
finished pair; then a rerun that reads every row back. In fnn's process pool the driver commits
while the workers run the next pairs, so there the cost hides behind the runs.

Run: python benchmarks/sweep.py [--part executors|store|all] [--repeat 2] [--epochs 10] [--hidden 64]
                                [--rows 400] [--dir D]
"""

import argparse
import os
import pathlib
import tempfile
import time

import fnn
import fnn.data
import fnn.metrics


def run(config, key):
    x, y = fnn.data.load_digits()
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25)
    k_init, k_train = fnn.random.split(key)
    params = fnn.init(k_init, fnn.mlp([64, config["hidden"], 10]))
    state = fnn.TrainState.create(params, fnn.optim.adam(lr=config["lr"]), key=k_train)
    state, _ = fnn.fit(
        state, (x_train, y_train), epochs=config["epochs"], batch_size=32, loss="cross_entropy", verbose=0
    )
    return {
        "test_accuracy": fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test)),
        "params": fnn.tree.ravel(state.params)[0].copy(),
    }


def fingerprint(rows: list[dict]) -> list[tuple]:
    """What must be bitwise equal between executors: every config, seed and result, arrays as bytes."""
    return [(r["lr"], r["seed"], r["test_accuracy"], r["params"].dtype.str, r["params"].tobytes()) for r in rows]


def tiny(config, key):
    """A run that costs nothing, so that a sweep of it times the sweep's own work per row."""
    return {"value": config["i"] * 0.5, "seed_again": key.seed, "curve": [0.1, 0.2, 0.3]}


def store_overhead(rows: int, directory: str | None, repeat: int) -> None:
    grid = [{"i": i} for i in range(rows)]
    with tempfile.TemporaryDirectory(dir=directory) as d:
        plain, stored, reread = [], [], []
        for r in range(repeat):
            t0 = time.perf_counter()
            expected = fnn.sweep(tiny, grid, 1, executor=fnn.SerialExecutor())
            plain.append(time.perf_counter() - t0)
            path = pathlib.Path(d) / f"store-{r}.db"
            t0 = time.perf_counter()
            got = fnn.sweep(tiny, grid, 1, executor=fnn.SerialExecutor(), store=path)
            stored.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            again = fnn.sweep(tiny, grid, 1, executor=fnn.SerialExecutor(), store=path)
            reread.append(time.perf_counter() - t0)
            if not (got == expected == again):
                raise SystemExit("rows through the store differ from the rows without it")
        per_row = (min(stored) - min(plain)) / rows
        print(
            f"store on {d}: {rows} rows; without a store {min(plain) * 1e3:.1f} ms, "
            f"with one {min(stored) * 1e3:.1f} ms "
            f"({per_row * 1e3:.2f} ms a row: JSON and one committed transaction); a rerun reading every row back "
            f"{min(reread) * 1e3:.1f} ms ({min(reread) / rows * 1e6:.0f} us a row)"
        )


def load() -> str:
    return open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--part", choices=["executors", "store", "all"], default="all")
    ap.add_argument("--rows", type=int, default=400, help="rows of the store benchmark")
    ap.add_argument("--dir", default=None, help="where the store benchmark writes (default: a temporary directory)")
    args = ap.parse_args(argv)
    if args.part in ("store", "all"):
        store_overhead(args.rows, args.dir, args.repeat)
    if args.part == "store":
        return
    grid = {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "hidden": [args.hidden], "epochs": [args.epochs]}
    print(
        f"sweep: 4 settings × 4 seeds, 64-{args.hidden}-10 MLP, {args.epochs} epochs on 1,347 digits; "
        f"{os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dask = client.get_executor()
        print(f"Dask LocalCluster start-up: {time.perf_counter() - t0:.2f}s")
        executors = {
            "serial": lambda: fnn.sweep(run, grid, 4, executor=fnn.SerialExecutor()),
            "process pool (2)": lambda: fnn.sweep(run, grid, 4, max_workers=2),
            "Dask cluster (2)": lambda: fnn.sweep(run, grid, 4, executor=dask),
        }
        reference = None
        times: dict[str, list[float]] = {name: [] for name in executors}
        for r in range(args.repeat):
            for name, sweep in executors.items():
                before = load()
                t0 = time.perf_counter()
                rows = sweep()
                times[name].append(time.perf_counter() - t0)
                reference = reference or fingerprint(rows)
                same = fingerprint(rows) == reference
                print(
                    f"  run {r + 1} {name:<17} {times[name][-1]:6.2f}s  (load before {before}; rows identical: {same})"
                )
                if not same:
                    raise SystemExit(f"{name}: rows differ from the serial ones")
    serial = min(times["serial"])
    print("best of each:")
    for name, ts in times.items():
        print(f"  {name:<17} {min(ts):6.2f}s  ({serial / min(ts):.2f}× serial)")


if __name__ == "__main__":
    main()
