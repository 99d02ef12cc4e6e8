"""A from-scratch tutorial's optimizer, unchanged, training an fnn network.

Dorian Lazar's tutorial (../shared/seeds/001) injects an optimizer object with
`update(old_params, gradient) -> new_params` working on one flattened parameter
vector. fnn's params already live in one flat buffer, so such an object plugs in
directly (`fnn.optim.from_update`, applied for you by `TrainState.create`).

Run: python examples/tutorial_optimizer.py
"""

import os

import numpy as np

import fnn


class SGD:
    """Written as the tutorial writes it: velocity kept as an attribute, params in, params out."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.velocity = None

    def update(self, old_params, gradient):
        if self.velocity is None:
            self.velocity = np.zeros_like(old_params)
        self.velocity = self.momentum * self.velocity - self.lr * gradient
        return old_params + self.velocity


def train(optimizer, epochs):
    x, y = fnn.data.load_digits(dtype=np.float64)
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(fnn.random.key(0), x, y, test_size=0.25)
    params = fnn.init(fnn.random.key(1), fnn.mlp([64, 64, 10], dtype=np.float64))
    state = fnn.TrainState.create(params, optimizer, key=fnn.random.key(2))
    state, history = fnn.fit(state, (x_train, y_train), epochs=epochs, batch_size=32, loss="cross_entropy", verbose=0)
    return state, history, fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test))


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "15"))) -> None:
    tutorial, h1, acc1 = train(SGD(lr=0.05, momentum=0.9), epochs)
    builtin, h2, acc2 = train(fnn.optim.momentum(0.05, momentum=0.9), epochs)
    gap = np.abs(fnn.tree.ravel(tutorial.params)[0] - fnn.tree.ravel(builtin.params)[0]).max()
    print(f"tutorial SGD object : final loss {h1['loss'][-1]:.4f}, test accuracy {acc1:.4f}")
    print(f"fnn.optim.momentum  : final loss {h2['loss'][-1]:.4f}, test accuracy {acc2:.4f}")
    # The tutorial's v = μv − lr·g; p += v and PyTorch's v = μv + g; p −= lr·v are the same
    # rule for a constant lr; they differ only in rounding.
    print(f"largest parameter difference after {epochs} epochs: {gap:.2e}")


if __name__ == "__main__":
    main()
