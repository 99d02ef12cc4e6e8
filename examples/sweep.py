"""A seeded sweep that loses nothing: Adam's learning rate × 3 seeds on the digits, kept in a store as it goes.

``run`` trains one 64-64-10 MLP for one (config, seed) pair. It is defined at the top level
of this file, so the worker processes import it by name (they re-import this script, which
is why the work starts under ``if __name__ == "__main__"``). The test split is the same for
every run; the seed drives the initial weights, the shuffling and the dropout masks.

The sweep keeps every finished row in an SQLite store and gives each pair a working
directory of its own, in which ``fit(..., resume=workdir)`` checkpoints after every epoch.
So if the sweep is interrupted (Ctrl-C, a kill, a reboot), running this script again
returns the rows that were done, continues each unfinished run from its last checkpoint,
and gives rows bit for bit equal to an uninterrupted sweep's. The script shows it: it runs
the same sweep a second time (nothing runs: every row comes from the store), then in this
process into a fresh store, and checks that the rows are identical. With
``on_error="record"``, a pair that fails (an exception in ``run``, its worker dying) becomes
a row with ``status="error"`` instead of ending the sweep. Arrays do not go into rows (a store keeps JSON):
the trained params go into the pair's working directory, with ``fnn.save``.

Run: python examples/sweep.py            (FNN_EPOCHS=3 for a quick run; FNN_OUT=DIR keeps the store there)
     python examples/sweep.py --dask     (on a local Dask cluster: pip install 'fnn[dask]')
"""

import os
import pathlib
import sys
import tempfile
import time

import fnn
import fnn.data
import fnn.metrics
from fnn.sweep.space import LogUniform, random_search


def run(config: dict, key: fnn.random.Key, workdir: pathlib.Path) -> dict:
    x, y = fnn.data.load_digits()
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25)
    k_init, k_train = fnn.random.split(key)
    params = fnn.init(k_init, fnn.mlp([64, 64, 10], dropout=0.1))
    state = fnn.TrainState.create(params, fnn.optim.adam(lr=config["lr"]), key=k_train)
    # resume=workdir: the first call starts the run, a call after an interruption continues it
    state, history = fnn.fit(
        state,
        (x_train, y_train),
        epochs=config["epochs"],
        batch_size=32,
        loss="cross_entropy",
        verbose=0,
        resume=workdir / "checkpoints",
    )
    fnn.save(workdir / "params.npz", state.params)
    return {
        "train_loss": float(history["loss"][-1]),
        "test_accuracy": fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test)),
    }


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "15")), on_dask: bool = "--dask" in sys.argv[1:]) -> list:
    out = pathlib.Path(os.environ.get("FNN_OUT") or tempfile.mkdtemp(prefix="fnn-sweep-"))
    grid = {"lr": [3e-4, 1e-3, 3e-3], "epochs": [epochs]}
    kept = dict(store=out / "sweep.db", workdirs=out / "runs", on_error="record")
    start = time.perf_counter()
    if on_dask:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            rows = fnn.sweep(run, grid, seeds=3, executor=client.get_executor(), **kept)
        where = "a Dask LocalCluster of 2 worker processes"
    else:
        rows = fnn.sweep(run, grid, seeds=3, progress=True, best=("test_accuracy", "max"), **kept)
        where = f"fnn's process pool ({os.cpu_count()} CPUs)"
    seconds = time.perf_counter() - start
    print(
        f"{len(rows)} runs ({len(grid['lr'])} learning rates × 3 seeds, {epochs} epochs each) on {where}: "
        f"{seconds:.2f}s; rows in {kept['store']}"
    )
    for row in rows:
        if row.get("status") == "error":
            print(f"  lr {row['lr']:<7g} seed {row['seed']}  failed: {row['error_type']}: {row['error_message']}")
        else:
            print(
                f"  lr {row['lr']:<7g} seed {row['seed']}  train loss {row['train_loss']:.4f}  "
                f"test accuracy {row['test_accuracy']:.4f}"
            )

    summary = fnn.sweep_summary(kept["store"])  # per learning rate, read from the store (any process can)
    print("summary:")
    for s in summary:
        print(
            f"  lr {s['lr']:<7g} test accuracy {s['test_accuracy_mean']:.4f} ± {s['test_accuracy_std']:.4f} "
            f"(train loss {s['train_loss_mean']:.4f} ± {s['train_loss_std']:.4f}, {s['seeds']} seeds)"
        )

    start = time.perf_counter()
    again = fnn.sweep(run, grid, seeds=3, **kept)
    print(
        f"the same call again: {time.perf_counter() - start:.2f}s (every row from the store); "
        f"identical: {again == rows}"
    )
    start = time.perf_counter()
    fresh = fnn.sweep(
        run,
        grid,
        seeds=3,
        executor=fnn.SerialExecutor(),
        store=out / "serial.db",
        workdirs=out / "serial-runs",
        on_error="record",
    )
    same = fresh == rows and all(
        type(u) is type(v)
        for a, b in zip(fresh, rows, strict=True)
        for u, v in zip(a.values(), b.values(), strict=True)
    )
    print(
        f"the same sweep in this process, into a fresh store: {time.perf_counter() - start:.2f}s; rows bit for bit "
        f"identical: {same}"
    )

    # A random search is a grid like any other: 4 learning rates drawn log-uniformly, the same on any machine.
    drawn = random_search(fnn.random.key(0), {"lr": LogUniform(1e-4, 1e-2), "epochs": epochs}, 4)
    print("random search, 4 learning rates from key 0:", ", ".join(f"{c['lr']:.3g}" for c in drawn))
    return summary


if __name__ == "__main__":
    main()
