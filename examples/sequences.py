"""Layers on per-sample shapes: a sequence classifier from Embedding, LayerNorm, Residual and Concat.

The task (generated, no download): sequences of 12 token ids out of 20; the label is 1 when
token 3 occurs somewhere before token 5, else 0. The network embeds each id, normalises,
refines every position with a residual block (a time-distributed Dense acts on the last
axis), pools the positions with a user-written layer (`MeanOverTime`, registered from this
script with shapes and capabilities, and checked by the same laws as fnn's own layers),
and reads the result with two branches concatenated.

Recurrent layers (GRU, LSTM, an Embedding followed by a GRU on this same task, padding, a
clipped stack): examples/recurrent.py.

Run: python examples/sequences.py   (FNN_EPOCHS=3 for a quick run)
"""

import os

import attrs
import numpy as np

import fnn
from fnn.layers import backward, forward, init_node, out_shape, stackable, uses_key
from fnn.testing import check_layer_laws

T, VOCAB = 12, 20


# ---- a user's layer on shapes: the mean over the time axis, (T, d) -> (d,) -----------------
@fnn.tree.register
@attrs.frozen
class MeanOverTime:
    """Average the samples over their first axis; parameter-free (the spec is its own node)."""


@out_shape.register
def _(spec: MeanOverTime, in_shape):
    return tuple(in_shape[1:])


@init_node.register
def _(spec: MeanOverTime, key, in_shape, dtype):
    return spec


@forward.register
def _(node: MeanOverTime, x, key, train):
    return x.mean(axis=-2), x.shape[-2]  # axis -2 is time, in one network and in a stack alike


@backward.register
def _(node: MeanOverTime, steps, g, out, need_input_grad):
    if not need_input_grad:
        return None
    return np.repeat(g[..., None, :] / steps, steps, axis=-2)


uses_key.register(MeanOverTime, lambda node: False)
stackable.register(MeanOverTime, lambda node: True)  # per member it does what one network does


def data(key, n):
    ids = fnn.random.generator(key).integers(0, VOCAB, (n, T))
    first3 = np.where((ids == 3).any(axis=1), (ids == 3).argmax(axis=1), T)
    last5 = np.where((ids == 5).any(axis=1), T - 1 - (ids[:, ::-1] == 5).argmax(axis=1), -1)
    return ids, (first3 < last5).astype(int)


def main() -> None:
    laws = check_layer_laws(MeanOverTime(), in_shape=(T, 4))
    print(
        f"MeanOverTime obeys fnn's layer laws: gradient error {laws['gradient_error']:.1e}, stackable {laws['stacked']}"
    )

    spec = fnn.Sequential(
        [
            fnn.Embedding(VOCAB, 16),
            fnn.LayerNorm(),
            fnn.Residual([fnn.Dense(32), fnn.Activation("gelu"), fnn.Dense(16)]),
            fnn.Concat([fnn.Flatten(), [MeanOverTime(), fnn.Dense(16)]]),
            fnn.Dense(32),
            fnn.Activation("relu"),
            fnn.Dense(2),
            fnn.Activation("softmax"),
        ],
        in_shape=(T,),
    )
    k_data, k_test, k_init, k_train = fnn.random.split(fnn.random.key(0), 4)
    x, y = data(k_data, 4000)
    x_test, y_test = data(k_test, 1000)
    params = fnn.init(k_init, spec)
    print(fnn.summary(params))
    epochs = int(os.environ.get("FNN_EPOCHS", 15))
    state = fnn.TrainState.create(params, fnn.optim.adam(3e-3), key=k_train)
    state, history = fnn.fit(
        state, (x, y), epochs=epochs, batch_size=64, loss="cross_entropy", validation=0.1, verbose=0
    )
    print(
        f"{epochs} epochs: loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f}, "
        f"val accuracy {history['val_accuracy'][-1]:.3f}"
    )
    print(
        f"test accuracy {fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test)):.3f} "
        f"(always guessing the majority class: {max(np.mean(y_test), 1 - np.mean(y_test)):.3f})"
    )

    # The same network, 4 seeds as one stack: (n, T) ids are data, never read as a stack.
    stack = fnn.init_many(fnn.random.split(k_init, 4), spec)
    stacked = fnn.TrainState.create(stack, fnn.optim.adam(3e-3), key=k_train)
    stacked, h = fnn.fit(stacked, (x, y), epochs=min(epochs, 3), batch_size=64, loss="cross_entropy", verbose=0)
    print(f"4 seeds stacked, {min(epochs, 3)} epochs: accuracy per member {np.round(h['accuracy'][-1], 3).tolist()}")


if __name__ == "__main__":
    main()
