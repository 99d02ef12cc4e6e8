"""BatchNorm's running statistics: state in the params that only training changes, purely.

The torch equality of outputs, gradients and running statistics is in tests/test_torch_parity.py;
the registry laws (gradients, stack member law in both modes, save/load, float32) in
tests/test_layer_laws.py. This file states the model-state design's own rules.
"""

import numpy as np
import pytest

import fnn
from fnn.errors import ConfigError
from fnn.summary import summary


def net(dtype=np.float64, momentum=0.1, dropout=0.0):
    layers = [fnn.Dense(8), fnn.BatchNorm(momentum=momentum), fnn.Activation("relu")]
    if dropout:
        layers.append(fnn.Dropout(dropout))
    return fnn.Sequential([*layers, fnn.Dense(3), fnn.Activation("softmax")], in_dim=4, dtype=dtype)


def data(n=48, dtype=np.float64):
    x = (fnn.random.normal(fnn.random.key(0), (n, 4)) * 3 + 1).astype(dtype)
    return x, (x[:, 0] > 1).astype(int) + (x[:, 1] > 1)


def stats(params):
    bn = params.layers[1]
    return np.array(bn.mean), np.array(bn.var), float(bn.count)


def test_a_hand_written_grad_opt_step_loop_updates_the_statistics_purely():
    params = fnn.init(fnn.random.key(1), net())
    x, y = data()
    state = fnn.TrainState.create(params, fnn.optim.adam(1e-2), key=fnn.random.key(2))
    before = stats(state.params)
    grads = fnn.grad(state.params, (x[:16], y[:16]), loss="cross_entropy")
    new = fnn.opt_step(state, grads)
    assert all(
        np.array_equal(a, b) for a, b in zip(stats(state.params), before, strict=True)
    )  # the old state is unchanged
    pre = fnn.apply(params, x[:16], train=False)
    hidden = x[:16] @ params.layers[0].w + params.layers[0].b
    assert np.allclose(new.params.layers[1].mean, 0.1 * hidden.mean(axis=0) + 0.9 * before[0], rtol=1e-13)
    assert np.allclose(new.params.layers[1].var, 0.1 * hidden.var(axis=0, ddof=1) + 0.9 * before[1], rtol=1e-13)
    assert stats(new.params)[2] == 1.0
    assert np.array_equal(pre, fnn.apply(params, x[:16]))


def test_the_optimizer_never_sees_the_statistics():
    params = fnn.init(fnn.random.key(1), net())
    flat, _ = fnn.tree.ravel(params)
    state_size = fnn.tree.ravel_state(params).size
    assert state_size == 2 * 8 + 1  # mean and var of 8 channels, and the count
    assert flat.size + state_size == sum(np.size(a) for a in fnn.tree.leaves(params))
    x, y = data()
    grads = fnn.grad(params, (x, y), loss="cross_entropy")
    # whatever the optimizer does (a huge weight decay here), the statistics follow the batch rule alone
    for optimizer in (fnn.optim.adamw(1e-2, weight_decay=0.9), fnn.optim.sgd(10.0), fnn.optim.adam(1e-3)):
        s = fnn.opt_step(fnn.TrainState.create(params, optimizer, key=fnn.random.key(0)), grads)
        assert np.array_equal(fnn.tree.ravel_state(s.params), fnn.tree.ravel_state(grads))
    assert fnn.l2_penalty(params, 1.0) == pytest.approx(
        0.5 * sum(float(np.vdot(w, w)) for (w,) in fnn.layers.weight_leaves(params))
    )
    assert not any(np.shares_memory(w, params.layers[1].var) for (w,) in fnn.layers.weight_leaves(params))


def test_inference_uses_the_running_statistics_and_training_the_batchs():
    params = fnn.init(fnn.random.key(1), fnn.Sequential([fnn.BatchNorm()], in_dim=2, dtype=np.float64))
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    assert np.allclose(fnn.apply(params, x), x / np.sqrt(1 + 1e-5))  # running mean 0, var 1
    assert np.allclose(fnn.apply(params, x, train=True), [[-1, -1], [1, 1]], atol=1e-4)


def test_training_on_one_value_per_channel_is_refused():
    params = fnn.init(fnn.random.key(1), net())
    with pytest.raises(
        ConfigError, match=r"BatchNorm\(8\) in training mode needs more than one value per channel, got 1"
    ):
        fnn.grad(params, (np.ones((1, 4)), np.array([0])), loss="cross_entropy")
    fnn.grad(params, (np.ones((1, 4)), np.array([0])), loss="cross_entropy", train=False)  # inference is fine
    with pytest.raises(ConfigError, match="momentum must be a number in"):
        fnn.BatchNorm(momentum=1.5)


@pytest.mark.parametrize("optimizer", [fnn.optim.adam(1e-2), fnn.optim.sgd(0.1), fnn.optim.momentum(0.05)])
def test_train_epoch_equals_the_explicit_loop_with_statistics(optimizer):
    """The fused epoch (two rotating buffers with Adam) equals grad + opt_step step by step, statistics included."""
    x, y = data(50)
    state = fnn.TrainState.create(fnn.init(fnn.random.key(1), net()), optimizer, key=fnn.random.key(2))
    fused, _ = fnn.train_epoch(state, (x, y), batch_size=8, loss="cross_entropy")
    manual = state
    perm = fnn.random.fold_in(fnn.random.fold_in(state.key, fnn.train.SHUFFLE), state.step)
    for xb, yb in fnn.batches(perm, (x, y), 8):
        manual = fnn.opt_step(manual, fnn.grad(manual.params, (xb, yb), loss="cross_entropy"))
    assert fnn.tree.equal(fused.params, manual.params) and fnn.tree.equal(fused.opt_state, manual.opt_state)
    assert stats(fused.params)[2] == 7.0


def test_fit_two_plus_two_equals_four_and_stacks_keep_their_own_statistics():
    x, y = data(40, np.float32)
    spec = net(np.float32, dropout=0.2)
    start = fnn.TrainState.create(fnn.init(fnn.random.key(1), spec), fnn.optim.adam(1e-2), key=fnn.random.key(2))
    four, _ = fnn.fit(start, (x, y), epochs=4, batch_size=8, loss="cross_entropy", verbose=0)
    two, _ = fnn.fit(start, (x, y), epochs=2, batch_size=8, loss="cross_entropy", verbose=0)
    two, _ = fnn.fit(two, (x, y), epochs=2, batch_size=8, loss="cross_entropy", verbose=0)
    assert fnn.tree.equal(four.params, two.params) and stats(four.params)[2] == 20.0

    spec = net(np.float32)
    keys = fnn.random.split(fnn.random.key(5), 3)
    stack = fnn.TrainState.create(fnn.init_many(keys, spec), fnn.optim.adam(1e-2), key=fnn.random.key(2))
    stack, _ = fnn.fit(stack, (x, y), epochs=2, batch_size=8, loss="cross_entropy", verbose=0)
    for k, key in enumerate(keys):
        alone = fnn.TrainState.create(fnn.init(key, spec), fnn.optim.adam(1e-2), key=fnn.random.key(2))
        alone, _ = fnn.fit(alone, (x, y), epochs=2, batch_size=8, loss="cross_entropy", verbose=0)
        assert fnn.tree.equal(fnn.stacked.member(stack.params, k), alone.params)


def test_early_stopping_restores_the_statistics_with_the_params(tmp_path):
    x, y = data(60)
    seen = {}
    state = fnn.TrainState.create(fnn.init(fnn.random.key(1), net()), fnn.optim.adam(0.05), key=fnn.random.key(2))
    best, history = fnn.fit(
        state,
        (x, y),
        epochs=12,
        batch_size=8,
        loss="cross_entropy",
        verbose=0,
        validation=0.3,
        early_stopping=fnn.EarlyStopping("val_loss", patience=2, restore_best=True),
        callbacks=[lambda epoch, s, logs: seen.update({epoch: s.params})],
        checkpoint=tmp_path / "run",
    )
    epoch = int(np.nanargmin(history["val_loss"])) + 1
    assert fnn.tree.equal(best.params, seen[epoch])
    resumed = fnn.load(fnn.io.latest_checkpoint(tmp_path / "run"))
    assert fnn.tree.has_state(resumed.state.params)


def test_summary_counts_the_statistics_as_non_trainable():
    text = summary(fnn.init(fnn.random.key(1), net()))
    assert "Total params: 100 (800 B)" in text and "Non-trainable params: 17 (136 B)" in text
    assert "momentum 0.1 = weight of the new batch" in text


def test_minimize_refuses_params_with_running_statistics():
    x, y = data()
    with pytest.raises(ConfigError, match="running statistics"):
        fnn.minimize(fnn.init(fnn.random.key(1), net()), (x, y), loss="cross_entropy")
