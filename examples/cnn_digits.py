"""A small CNN on the handwritten digits shipped with fnn, against the README tour's MLP on the same split.

The digits (1,797 8×8 images) become images of shape (8, 8, 1), channels last. The CNN reads
3×3 neighbourhoods with two convolutions, halves the resolution with a max pool, convolves
again, averages over the positions and drops a quarter of the 64 features in training; the MLP
is the README tour's ``fnn.mlp([64, 128, 10])`` trained the tour's way (its keys, Adam 1e-3,
batch 32, 20 epochs, early stopping on a validation tenth with patience 5). Both see the tour's
split (``train_test_split(key, x, y, test_size=0.25)``), and both test accuracies are printed.

Run: python examples/cnn_digits.py   (FNN_EPOCHS=3 for a quick run)
"""

import os
import time

import fnn
import fnn.data
import fnn.metrics

EPOCHS = os.environ.get("FNN_EPOCHS")


def cnn() -> fnn.Sequential:
    relu = fnn.Activation("relu")
    return fnn.Sequential(
        [
            fnn.Conv2D(32, 3, padding="same", init="he_uniform"),
            relu,
            fnn.Conv2D(32, 3, padding="same", init="he_uniform"),
            relu,
            fnn.MaxPool2D(2),  # 8×8 -> 4×4
            fnn.Conv2D(64, 3, padding="same", init="he_uniform"),
            relu,
            fnn.GlobalAvgPool(),  # (4, 4, 64) -> (64,)
            fnn.Dropout(0.25),
            fnn.Dense(10),
            fnn.Activation("softmax"),
        ],
        in_shape=(8, 8, 1),
    )


def train(spec, k_init, k_train, data, *, epochs, lr, patience):
    state = fnn.TrainState.create(fnn.init(k_init, spec), fnn.optim.adam(lr=lr), key=k_train)
    start = time.perf_counter()
    state, history = fnn.fit(
        state,
        data,
        epochs=epochs,
        batch_size=32,
        loss="cross_entropy",
        validation=0.1,
        early_stopping=fnn.EarlyStopping("val_loss", patience=patience),
        verbose=0,
    )
    return state, len(history["loss"]), time.perf_counter() - start


def main() -> tuple[float, float]:
    key = fnn.random.key(0)
    k_split, k_init, k_train = fnn.random.split(key, 3)  # the tour's keys: its split, its MLP
    x, y = fnn.data.load_digits()
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(k_split, x, y, test_size=0.25)
    images = lambda a: a.reshape(-1, 8, 8, 1)  # noqa: E731 - row-major pixels: rows of the image

    mlp, mlp_epochs, mlp_seconds = train(
        fnn.mlp([64, 128, 10], hidden="relu", output="softmax"),
        k_init,
        k_train,
        (x_train, y_train),
        epochs=int(EPOCHS or 20),
        lr=1e-3,
        patience=5,
    )
    mlp_accuracy = fnn.metrics.accuracy(y_test, fnn.apply(mlp.params, x_test))

    print(fnn.summary(cnn()))
    k_cnn_init, k_cnn_train = fnn.random.split(fnn.random.fold_in(key, 1))
    net, cnn_epochs, cnn_seconds = train(
        cnn(), k_cnn_init, k_cnn_train, (images(x_train), y_train), epochs=int(EPOCHS or 60), lr=2e-3, patience=8
    )
    cnn_accuracy = fnn.metrics.accuracy(y_test, fnn.apply(net.params, images(x_test)))

    print(
        f"MLP 64-128-10 (the README tour): test accuracy {mlp_accuracy:.4f} ({mlp_epochs} epochs, {mlp_seconds:.1f} s)"
    )
    print(
        f"CNN on 8×8×1 images:             test accuracy {cnn_accuracy:.4f} ({cnn_epochs} epochs, {cnn_seconds:.1f} s)"
    )
    return mlp_accuracy, cnn_accuracy


if __name__ == "__main__":
    main()
