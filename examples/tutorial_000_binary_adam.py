"""Tutorial 000, the fnn way: binary classification with sigmoid, BCE, L2, dropout and Adam with decay.

The tutorial ("Neural Network from scratch", seed 000) declared dropout (`keep_prob`) and
learning-rate decay (`decay_rate`) but never used them, fixed Adam's timestep at t=2,
took `log` of probabilities unclipped, and laid data out as features × samples. Here all
of it works: rows are samples, BCE is fused with the sigmoid and computed from logits,
L2 is `l2=`, dropout is a layer, the decay is a schedule, and Adam counts its own steps.
Data: scikit-learn's breast-cancer set (569 rows, 30 features), standardised on the
training rows only. Needs the sklearn extra.

Run: python examples/tutorial_000_binary_adam.py
"""

import os

import fnn


def main(epochs: int = int(os.environ.get("FNN_EPOCHS", "60"))) -> float:
    k_split, k_init, k_train = fnn.random.split(fnn.random.key(0), 3)
    x, y = fnn.data.load_sklearn("breast_cancer")
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(k_split, x, y, test_size=0.25)
    x_train, x_test, _ = fnn.data.standardize(x_train, x_test)

    spec = fnn.mlp([30, 32, 16, 1], hidden="relu", output="sigmoid", dropout=0.2)
    decay = fnn.optim.schedules.exponential_decay(
        2e-3, decay_rate=0.5, transition_steps=20 * 12
    )  # halve every 20 epochs
    state = fnn.TrainState.create(fnn.init(k_init, spec), fnn.optim.adam(lr=decay), key=k_train)
    state, history = fnn.fit(
        state,
        (x_train, y_train),
        epochs=epochs,
        batch_size=32,
        loss=fnn.losses.binary_cross_entropy,
        l2=1e-3,
        validation=0.15,
        verbose=2,
    )

    p = fnn.apply(state.params, x_test)[:, 0]
    accuracy = fnn.metrics.accuracy(y_test, p[:, None])
    print(f"learning rate now {decay(state.step):.2e} after {state.step} Adam steps")
    print(f"test accuracy {accuracy:.4f}; test BCE {float(fnn.losses.binary_cross_entropy(p, y_test)):.4f}")
    return accuracy


if __name__ == "__main__":
    main()
