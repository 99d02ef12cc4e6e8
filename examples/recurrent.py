"""Recurrent layers on generated sequences: GRU and LSTM against an MLP, padding, ids, and a clipped stack.

1. **Patterns that move in time.** Each sequence has 16 to 40 steps of noise with one of 10
   short motifs added at a random time; the task is to name the motif. Sequences are padded
   to 40 steps with ``mask_value=0.0`` (the noise is never exactly 0), so the recurrent layers
   skip the padding. An MLP on the flattened padded input must learn every motif at every
   position; a GRU or LSTM reads the sequence in order and can recognise a motif wherever it
   is (test accuracy after 20 epochs: MLP 0.733, bidirectional GRU(6) 0.856, GRU(32) 0.934,
   LSTM(32) 0.895). Also checked: a padded sequence gets the output it gets alone, unpadded.
2. **Ids.** ``Embedding`` followed by a ``GRU`` on integer token sequences: the task of
   ``examples/sequences.py`` (is token 3 somewhere before token 5?).
3. **A stack of 4 seeds** of that network trained at once with each member's gradient
   clipped by its own norm (``fnn.optim.clip_by_member_norm``), the clip of RNN training.

Run: python examples/recurrent.py   (FNN_EPOCHS=3 for a quick run)
"""

import os

import numpy as np

import fnn

T, MOTIF, CLASSES = 40, 8, 10
EPOCHS = int(os.environ.get("FNN_EPOCHS", 20))


def moving_patterns(key, n, motifs):
    """(x (n, T, 1) right-padded with zeros, labels (n,), lengths (n,)): noise plus a motif at a random time."""
    k_len, k_class, k_pos, k_noise = fnn.random.split(key, 4)
    gen = fnn.random.generator
    lengths = gen(k_len).integers(2 * MOTIF, T + 1, n)
    labels = gen(k_class).integers(0, CLASSES, n)
    starts = (gen(k_pos).random(n) * (lengths - MOTIF + 1)).astype(int)
    x = fnn.random.normal(k_noise, (n, T, 1), std=0.5)
    for i in range(n):
        x[i, starts[i] : starts[i] + MOTIF, 0] += motifs[labels[i]]
        x[i, lengths[i] :] = 0.0  # padding: every feature equals the mask value
    return x, labels, lengths


def fit_and_score(name, spec, train, test, *, batch_size=64, lr=3e-3):
    state = fnn.TrainState.create(fnn.init(fnn.random.key(7), spec), fnn.optim.adam(lr), key=fnn.random.key(8))
    state, history = fnn.fit(state, train, epochs=EPOCHS, batch_size=batch_size, loss="cross_entropy", verbose=0)
    accuracy = fnn.metrics.accuracy(test[1], fnn.apply(state.params, test[0]))
    print(f"{name:<44} train loss {history['loss'][-1]:.3f}, test accuracy {accuracy:.3f}")
    return state.params, accuracy


def part_one():
    print("1. Patterns that move in time: 10 motifs of 8 steps at a random time in 16-40 steps of noise")
    motifs = 2 * np.sin(np.linspace(0, np.pi, MOTIF)) * fnn.random.normal(fnn.random.key(1), (CLASSES, MOTIF))
    train = moving_patterns(fnn.random.key(2), 4000, motifs)[:2]
    x_test, y_test, lengths = moving_patterns(fnn.random.key(3), 2000, motifs)
    test = (x_test, y_test)

    mlp = fnn.Sequential(
        [
            fnn.Flatten(),
            fnn.Dense(128),
            fnn.Activation("relu"),
            fnn.Dense(128),
            fnn.Activation("relu"),
            fnn.Dense(CLASSES),
            fnn.Activation("softmax"),
        ],
        in_shape=(T, 1),
    )
    bigru = fnn.Sequential(
        [
            fnn.GRU(6, return_sequences=True, bidirectional=True, mask_value=0.0),
            fnn.Flatten(),
            fnn.Dense(CLASSES),
            fnn.Activation("softmax"),
        ],
        in_shape=(T, 1),
    )  # benchmarks/rnn.py's (b)
    gru = fnn.Sequential([fnn.GRU(32, mask_value=0.0), fnn.Dense(CLASSES), fnn.Activation("softmax")], in_shape=(T, 1))
    lstm = fnn.Sequential(
        [fnn.LSTM(32, mask_value=0.0), fnn.Dense(CLASSES), fnn.Activation("softmax")], in_shape=(T, 1)
    )
    # The MLP at its best of lr 1e-3, 3e-3 and 1e-2 (0.717, 0.733, 0.711 after 20 epochs); the recurrent ones at 1e-2.
    _, acc_mlp = fit_and_score("MLP 40-128-128-10 on the flattened input", mlp, train, test, lr=3e-3)
    _, acc_bigru = fit_and_score("bidirectional GRU(6) -> Flatten -> Dense(10)", bigru, train, test, lr=1e-2)
    _, acc_gru = fit_and_score("GRU(32), last state -> Dense(10)", gru, train, test, lr=1e-2)
    p_lstm, acc_lstm = fit_and_score("LSTM(32), last state -> Dense(10)", lstm, train, test, lr=1e-2)
    print(fnn.summary(p_lstm))

    # Padding changes nothing: each of the first 5 test sequences alone, unpadded, gets the same output.
    worst = 0.0
    for i in range(5):
        alone = fnn.tree.pack(fnn.layers.SequentialParams(p_lstm.layers, in_shape=(int(lengths[i]), 1)))
        worst = max(
            worst,
            float(
                np.abs(fnn.apply(alone, x_test[i : i + 1, : lengths[i]]) - fnn.apply(p_lstm, x_test[i : i + 1])).max()
            ),
        )
    print(f"padded against unpadded, 5 sequences: largest output difference {worst:.1e} (float32)\n")
    return acc_mlp, acc_bigru, acc_gru, acc_lstm


def token_order(key, n, steps=12, vocab=20):
    """examples/sequences.py's task: ids (n, steps); label 1 when token 3 occurs before a later token 5."""
    ids = fnn.random.generator(key).integers(0, vocab, (n, steps))
    first3 = np.where((ids == 3).any(axis=1), (ids == 3).argmax(axis=1), steps)
    last5 = np.where((ids == 5).any(axis=1), steps - 1 - (ids[:, ::-1] == 5).argmax(axis=1), -1)
    return ids, (first3 < last5).astype(int)


def part_two_and_three():
    print("2. Ids: Embedding(20, 8) -> GRU(32) -> Dense(2) on 'is token 3 before a token 5?' (12 ids)")
    spec = fnn.Sequential([fnn.Embedding(20, 8), fnn.GRU(32), fnn.Dense(2), fnn.Activation("softmax")], in_shape=(12,))
    train, test = token_order(fnn.random.key(4), 4000), token_order(fnn.random.key(5), 1000)
    _, accuracy = fit_and_score("Embedding -> GRU(32) -> Dense(2)", spec, train, test)
    print(f"(always guessing the majority class: {max(np.mean(test[1]), 1 - np.mean(test[1])):.3f})\n")

    print("3. The same network, 4 seeds as one stack, each member's gradient clipped to norm 1 by its own norm")
    stack = fnn.init_many(fnn.random.split(fnn.random.key(6), 4), spec)
    opt = fnn.optim.chain(fnn.optim.clip_by_member_norm(1.0, stack), fnn.optim.adam(3e-3))
    state = fnn.TrainState.create(stack, opt, key=fnn.random.key(8))
    state, _ = fnn.fit(state, train, epochs=EPOCHS, batch_size=64, loss="cross_entropy", verbose=0)
    members = [fnn.metrics.accuracy(test[1], out) for out in fnn.apply(state.params, test[0])]
    print(f"test accuracy per member: {', '.join(f'{a:.3f}' for a in members)}")
    return accuracy


def main() -> None:
    acc_mlp, acc_bigru, acc_gru, acc_lstm = part_one()
    part_two_and_three()
    print(
        f"\nmoving patterns, test accuracy: MLP {acc_mlp:.3f}, bidirectional GRU(6) {acc_bigru:.3f}, "
        f"GRU(32) {acc_gru:.3f}, LSTM(32) {acc_lstm:.3f} (chance 0.100)"
    )


if __name__ == "__main__":
    main()
