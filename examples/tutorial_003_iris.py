"""Tutorial 003 (layer objects), the fnn way: Iris with ReLU, softmax and SGD on a 2/3 split.

The notebook's `shuffle_data` never shuffled: Iris is sorted by class, so its "test"
third held one class only and its accuracy meant nothing. Here the split is shuffled and
stratified (every class in both parts), the scaling is fitted on the training rows only,
and the network is the tutorial's FC(4, 3) → ReLU → FC(3, 3) → softmax. Needs the sklearn extra.

Run: python examples/tutorial_003_iris.py
"""

import os

import numpy as np

import fnn


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "300"))) -> float:
    x, y = fnn.data.load_sklearn("iris")
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=1 / 3)
    print("test rows per class:", np.bincount(y_test).tolist())
    x_train, x_test, _ = fnn.data.standardize(x_train, x_test)
    spec = fnn.Sequential([fnn.Dense(3), fnn.Activation("relu"), fnn.Dense(3), fnn.Activation("softmax")], in_dim=4)
    state = fnn.TrainState.create(fnn.init(fnn.random.key(1), spec), fnn.optim.sgd(lr=0.05), key=fnn.random.key(2))
    state, history = fnn.fit(state, (x_train, y_train), epochs=epochs, batch_size=50, loss="cross_entropy", verbose=0)
    accuracy = fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test))
    print(
        f"loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f} over {epochs} epochs; test accuracy {accuracy:.4f}"
    )
    return accuracy


if __name__ == "__main__":
    main()
