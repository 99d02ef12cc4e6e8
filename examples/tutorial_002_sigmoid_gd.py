"""Tutorial 002 (Kodi), the fnn way: a sigmoid network trained by full-batch gradient descent.

The tutorial's procedural `init_parms` / forward / `backprop` / `update_parameters` loop,
"till the minimum value of cost", is fnn's `init`, `grad` and `opt_step` — params in,
params out — here written as the explicit loop, stopping when the cost stops falling.
Data: two interleaved half-moons, generated from a key.

Run: python examples/tutorial_002_sigmoid_gd.py
"""

import os

import numpy as np

import fnn


def moons(key, n):
    k_angle, k_noise, k_side = fnn.random.split(key, 3)
    t = fnn.random.uniform(k_angle, (n,), maxval=np.pi)
    side = fnn.random.bernoulli(k_side, 0.5, (n,))
    x = np.where(side[:, None], np.c_[1 - np.cos(t), 0.5 - np.sin(t)], np.c_[np.cos(t), np.sin(t)])
    return x + 0.1 * fnn.random.normal(k_noise, (n, 2)), side.astype(np.int64)


def main(max_iterations: int = 100 * int(os.environ.get("FNN_EPOCHS", "40"))) -> float:
    x, y = moons(fnn.random.key(0), 400)
    params = fnn.init(fnn.random.key(1), fnn.mlp([2, 16, 16, 1], hidden="sigmoid", output="sigmoid", dtype=np.float64))
    state = fnn.TrainState.create(params, fnn.optim.sgd(lr=1.0), key=fnn.random.key(2))
    previous = np.inf
    for i in range(max_iterations):
        cost, g = fnn.value_and_grad(state.params, (x, y), loss="binary_cross_entropy")
        if previous - cost < 1e-7:  # "till the minimum value of cost"
            break
        state, previous = fnn.opt_step(state, g), cost
        if i % 500 == 0:
            print(f"iteration {i:5d}  cost {cost:.4f}")
    accuracy = fnn.metrics.accuracy(y, fnn.apply(state.params, x))
    print(f"stopped after {state.step} gradient-descent steps: cost {cost:.4f}, training accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
