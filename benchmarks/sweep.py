"""Wall time of one sweep (4 learning rates × 4 seeds of a digits MLP) on each kind of executor.

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

Run: python benchmarks/sweep.py [--repeat 2] [--epochs 10] [--hidden 64]
"""

import argparse
import os
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
    state, _ = fnn.fit(state, (x_train, y_train), epochs=config["epochs"], batch_size=32, loss="cross_entropy", verbose=0)
    return {"test_accuracy": fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test)),
            "params": fnn.tree.ravel(state.params)[0].copy()}


def fingerprint(rows: list[dict]) -> list[tuple]:
    """What must be bitwise equal between executors: every config, seed and result, arrays as bytes."""
    return [(r["lr"], r["seed"], r["test_accuracy"], r["params"].dtype.str, r["params"].tobytes()) for r in rows]


def load() -> str:
    return open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args(argv)
    grid = {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "hidden": [args.hidden], "epochs": [args.epochs]}
    print(f"sweep: 4 settings × 4 seeds, 64-{args.hidden}-10 MLP, {args.epochs} epochs on 1,347 digits; "
          f"{os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
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
                print(f"  run {r + 1} {name:<17} {times[name][-1]:6.2f}s  (load before {before}; rows identical: {same})")
                if not same:
                    raise SystemExit(f"{name}: rows differ from the serial ones")
    serial = min(times["serial"])
    print("best of each:")
    for name, ts in times.items():
        print(f"  {name:<17} {min(ts):6.2f}s  ({serial / min(ts):.2f}× serial)")


if __name__ == "__main__":
    main()
