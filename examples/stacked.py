"""K seeds in one pass: eight digits MLPs trained together as one stack, then checked against one alone.

``fnn.init_many`` draws eight networks (member k is ``fnn.init(keys[k], spec)``) into one
params tree whose leaves have a leading axis of 8. ``fit`` trains all eight on the same
batches, each matrix product batched over the members, with per-member validation and
early stopping; the history's entries are (epochs, 8). The script prints each seed's test
accuracy, their mean and spread, the time against training the eight one after another,
and checks the law: member 3 is bit for bit the network trained alone from keys[3].

Run: python examples/stacked.py            (FNN_EPOCHS=3 for a quick run)
"""

import os
import time

import numpy as np

import fnn
import fnn.data
import fnn.metrics

EPOCHS = int(os.environ.get("FNN_EPOCHS", "60"))
K = 8


def main() -> None:
    x, y = fnn.data.load_digits()
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25)
    spec = fnn.mlp([64, 64, 10])
    keys = fnn.random.split(fnn.random.key(1), K)  # one key per seed
    train_key = fnn.random.key(2)  # the batches' order, shared by all members
    opt = fnn.optim.adam(3e-3)
    kw = dict(
        epochs=EPOCHS,
        batch_size=32,
        loss="cross_entropy",
        validation=0.1,
        verbose=0,
        early_stopping=fnn.EarlyStopping("val_loss", patience=3),
    )

    start = time.perf_counter()
    state = fnn.TrainState.create(fnn.init_many(keys, spec), opt, key=train_key)
    state, history = fnn.fit(state, (x_train, y_train), **kw)
    stacked_seconds = time.perf_counter() - start

    predictions = fnn.predict(state.params, x_test)  # (K, n): each member's labels
    accuracy = np.array([fnn.metrics.accuracy(y_test, p) for p in fnn.predict_proba(state.params, x_test)])
    epochs_run = (~np.isnan(history["val_loss"])).sum(axis=0)  # a member stops early: NaN after
    for k in range(K):
        print(
            f"seed {k}: {epochs_run[k]:2d} epochs, best val_loss {np.nanmin(history['val_loss'][:, k]):.4f}, "
            f"test accuracy {accuracy[k]:.4f}"
        )
    print(f"test accuracy over {K} seeds: mean {accuracy.mean():.4f}, std {accuracy.std(ddof=1):.4f}")
    agree = (predictions == predictions[0]).all(axis=0).mean()
    print(f"test rows on which all {K} seeds agree: {agree:.3f}")

    start = time.perf_counter()
    singles = []
    for k in range(K):
        alone = fnn.TrainState.create(fnn.init(keys[k], spec), opt, key=train_key)
        singles.append(fnn.fit(alone, (x_train, y_train), **kw)[0])
    sequential_seconds = time.perf_counter() - start
    print(
        f"{K} networks stacked: {stacked_seconds:.2f} s; one after another: {sequential_seconds:.2f} s "
        f"({sequential_seconds / stacked_seconds:.1f}× slower)"
    )

    members = fnn.unstack(state.params)
    same = all(fnn.tree.equal(members[k], singles[k].params) for k in range(K))
    print(f"every member bitwise equal to its network trained alone: {same}")
    if not same:
        raise SystemExit("the stacking law failed")


if __name__ == "__main__":
    main()
