"""fnn in one screen: train an MLP on the handwritten digits shipped with fnn, then test it.

The data set (1,797 8×8 images, 10 classes) is embedded in the package, so this runs
offline with fnn's core dependencies only. Everything random comes from explicit keys:
run it twice and every number printed is the same (up to the timings).

It writes the trained state and its history to a checkpoint, and a plot of the
learning curves, into FNN_OUT (default runs/quickstart), then loads the checkpoint
back and checks that it predicts exactly what the trained network predicts.

Run: python examples/quickstart.py        (FNN_EPOCHS=3 for a quick smoke run)
"""

import os
import pathlib
import time

import numpy as np

import fnn
import fnn.data
import fnn.metrics


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "40"))) -> float:
    root = fnn.random.key(0)
    k_split, k_init, k_train = fnn.random.split(root, 3)

    x, y = fnn.data.load_digits()  # float32 pixels in [0, 1], int64 labels 0..9
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(k_split, x, y, test_size=0.25)  # stratified
    print(f"digits: {len(x_train)} training and {len(x_test)} test rows, {x.shape[1]} features, 10 classes")

    spec = fnn.mlp([64, 128, 64, 10], hidden="relu", output="softmax", dropout=0.1)
    params = fnn.init(k_init, spec)  # frozen pytree, read-only leaves in one flat buffer
    state = fnn.TrainState.create(params, fnn.optim.adam(lr=2e-3), key=k_train)

    start = time.perf_counter()
    state, history = fnn.fit(
        state,
        (x_train, y_train),
        epochs=epochs,
        batch_size=32,
        loss=fnn.losses.cross_entropy,
        validation=0.1,
        early_stopping=fnn.EarlyStopping("val_loss", patience=5),
        verbose=1,
    )
    seconds = time.perf_counter() - start

    accuracy = fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test))
    best = int(np.argmin(history["val_loss"])) + 1
    print(f"trained {len(history['loss'])} epochs in {seconds:.1f}s (best validation loss at epoch {best})")
    print(f"test accuracy: {accuracy:.4f}")

    out = pathlib.Path(os.environ.get("FNN_OUT", "runs/quickstart"))
    out.mkdir(parents=True, exist_ok=True)
    fnn.save(out / "checkpoint.npz", {"state": state, "history": history})  # .npz + JSON header, no pickle
    restored = fnn.load(out / "checkpoint.npz")["state"]
    same = np.array_equal(fnn.apply(restored.params, x_test), fnn.apply(state.params, x_test))
    print(f"checkpoint: {out / 'checkpoint.npz'} (reloaded, identical predictions: {same})")
    try:
        from fnn import plot

        plot.history(history, path=out / "history.png", title="digits, 64-128-64-10")
        print(f"plot: {out / 'history.png'}")
    except ImportError:
        print("plot skipped: pip install 'fnn[plot]' for matplotlib")
    return accuracy


if __name__ == "__main__":
    main()
