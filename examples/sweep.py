"""A seeded sweep: Adam's learning rate × 3 seeds on the digits, in a process pool or on a Dask cluster.

``run`` trains one 64-64-10 MLP for one (config, seed) pair and returns its numbers; it is
defined at the top level of this file, so the worker processes import it by name (they
re-import this script, which is why the work starts under ``if __name__ == "__main__"``).
The test split is the same for every run; the seed drives the initial weights, the
shuffling and the dropout masks. The summary gives each learning rate's mean and standard
deviation across seeds. Every row is a function of (config, seed) alone, so the script
runs the sweep a second time in this process and checks that the rows are bit for bit
the same.

Run: python examples/sweep.py            (FNN_EPOCHS=3 for a quick run)
     python examples/sweep.py --dask     (on a local Dask cluster: pip install 'fnn[dask]')
"""

import os
import sys
import time

import numpy as np

import fnn
import fnn.data
import fnn.metrics


def run(config: dict, key: fnn.random.Key) -> dict:
    x, y = fnn.data.load_digits()
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25)
    k_init, k_train = fnn.random.split(key)
    params = fnn.init(k_init, fnn.mlp([64, 64, 10], dropout=0.1))
    state = fnn.TrainState.create(params, fnn.optim.adam(lr=config["lr"]), key=k_train)
    state, history = fnn.fit(state, (x_train, y_train), epochs=config["epochs"], batch_size=32,
                             loss="cross_entropy", verbose=0)
    return {
        "train_loss": float(history["loss"][-1]),
        "test_accuracy": fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test)),
        "params": fnn.tree.ravel(state.params)[0].copy(),
    }


def same_rows(a: list[dict], b: list[dict]) -> bool:
    def same(u, v):
        if isinstance(u, np.ndarray):
            return u.dtype == v.dtype and u.tobytes() == v.tobytes()
        return type(u) is type(v) and u == v

    return len(a) == len(b) and all(x.keys() == y.keys() and all(same(x[k], y[k]) for k in x) for x, y in zip(a, b))


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "15")), on_dask: bool = "--dask" in sys.argv[1:]) -> list:
    grid = {"lr": [3e-4, 1e-3, 3e-3], "epochs": [epochs]}
    start = time.perf_counter()
    if on_dask:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            rows = fnn.sweep(run, grid, seeds=3, executor=client.get_executor())
        where = "a Dask LocalCluster of 2 worker processes"
    else:
        rows = fnn.sweep(run, grid, seeds=3)  # a local process pool, one worker per CPU
        where = f"the default process pool ({os.cpu_count()} CPUs)"
    seconds = time.perf_counter() - start
    print(f"{len(rows)} runs ({len(grid['lr'])} learning rates × 3 seeds, {epochs} epochs each) on {where}: {seconds:.2f}s")
    for row in rows:
        print(f"  lr {row['lr']:<7g} seed {row['seed']}  train loss {row['train_loss']:.4f}  test accuracy {row['test_accuracy']:.4f}")

    summary = fnn.sweep_summary(rows)  # per learning rate: mean and sample std (ddof=1) across seeds
    print("summary:")
    for s in summary:
        print(f"  lr {s['lr']:<7g} test accuracy {s['test_accuracy_mean']:.4f} ± {s['test_accuracy_std']:.4f} "
              f"(train loss {s['train_loss_mean']:.4f} ± {s['train_loss_std']:.4f}, {s['seeds']} seeds)")

    start = time.perf_counter()
    again = fnn.sweep(run, grid, seeds=3, executor=fnn.SerialExecutor())
    print(f"the same sweep in this process: {time.perf_counter() - start:.2f}s; rows bit for bit identical: "
          f"{same_rows(rows, again)}")
    return summary


if __name__ == "__main__":
    main()
