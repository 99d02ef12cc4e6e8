"""Tutorial 001 (Lazar), the fnn way: injected activations and losses, and the flat `update(old, grad)` optimizer.

The tutorial injects an activation, a loss (with its derivative) and an optimizer object
into its network, and packs the params into one vector for the optimizer. In fnn the
params already are one flat buffer; a loss is any `(y_hat, y) -> (value, d/dy_hat)`;
the optimizer object plugs in unchanged. Two tasks, as the tutorial describes:
MSE regression with an identity output, and softmax classification.

Run: python examples/tutorial_001_injected.py
"""

import os

import numpy as np

import fnn


def mse(y_hat, y):
    """An injected loss: value and derivative, as the tutorial passes them (mean over the batch)."""
    d = y_hat - y
    return np.mean(np.sum(d * d, axis=1)), 2 * d / len(d)


class MomentumSGD:
    """The tutorial's optimizer object: `update(old_params, gradient)` on the flat vector."""

    def __init__(self, lr=0.05, momentum=0.9):
        self.lr, self.momentum, self.velocity = lr, momentum, 0.0

    def update(self, old_params, gradient):
        self.velocity = self.momentum * self.velocity - self.lr * gradient
        return old_params + self.velocity


def regression(epochs):
    k = fnn.random.split(fnn.random.key(1), 3)
    x = fnn.random.uniform(k[0], (1000, 1), minval=-3, maxval=3)
    y = np.sin(x) + 0.1 * fnn.random.normal(k[1], (1000, 1))
    params = fnn.init(k[2], fnn.mlp([1, 32, 32, 1], hidden="tanh", output=None, dtype=np.float64))
    state = fnn.TrainState.create(params, MomentumSGD(lr=0.02), key=fnn.random.key(2))
    state, h = fnn.fit(state, (x, y), epochs=epochs, batch_size=32, loss=mse, verbose=0)
    grid = np.linspace(-3, 3, 7)[:, None]
    error = np.abs(fnn.apply(state.params, grid) - np.sin(grid)).max()
    print(
        f"regression sin(x): train MSE {h['loss'][0]:.3f} -> {h['loss'][-1]:.4f}; "
        f"max |f(x) - sin x| on a grid {error:.3f}"
    )


def classification(epochs):
    x, y = fnn.data.load_digits(dtype=np.float64)
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(3), x, y)
    params = fnn.init(fnn.random.key(4), fnn.mlp([64, 64, 10], hidden="relu", output="softmax", dtype=np.float64))
    state = fnn.TrainState.create(params, MomentumSGD(lr=0.05), key=fnn.random.key(5))
    state, h = fnn.fit(state, (x_train, y_train), epochs=epochs, batch_size=32, loss="cross_entropy", verbose=0)
    accuracy = fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test))
    print(f"softmax classification (digits): test accuracy {accuracy:.4f}")


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "30"))) -> None:
    regression(epochs)
    classification(epochs)


if __name__ == "__main__":
    main()
