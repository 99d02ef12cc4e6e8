"""Sample and class weights: weighted means as scikit-learn and PyTorch define them, in the losses,
value_and_grad, train_epoch and fit, with the laws the unweighted path keeps (explicit loop, stacks, resume)."""

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.utils.class_weight import compute_class_weight

import fnn
import fnn.data
import fnn.testing
from fnn.errors import ConfigError, ShapeError

X, Y = fnn.data.load_digits(dtype=np.float64)
X, Y = X[:300], Y[:300]
W = fnn.random.uniform(fnn.random.key(9), (300,)) * 2


def state(spec=None, key=1, opt=None):
    spec = spec or fnn.mlp([64, 16, 10], dtype=np.float64)
    return fnn.TrainState.create(
        fnn.init(fnn.random.key(key), spec), opt or fnn.optim.adam(1e-2), key=fnn.random.key(2)
    )


def test_weighted_losses_equal_scikit_learns_weighted_means():
    p = fnn.apply(state().params, X)
    assert np.isclose(
        fnn.losses.cross_entropy(p, Y, sample_weight=W), log_loss(Y, p, sample_weight=W, labels=range(10))
    )
    y_hat, y = fnn.random.normal(fnn.random.key(0), (300, 3)), fnn.random.normal(fnn.random.key(1), (300, 3))
    assert np.isclose(fnn.losses.mse(y_hat, y, sample_weight=W), mean_squared_error(y, y_hat, sample_weight=W))
    q = 1 / (1 + np.exp(-y_hat[:, 0]))
    b = (y[:, 0] > 0).astype(float)
    assert np.isclose(fnn.losses.binary_cross_entropy(q, b, sample_weight=W), log_loss(b, q, sample_weight=W))


def test_balanced_class_weights_are_scikit_learns():
    y = np.array([0, 0, 0, 1, 2, 2])
    expected = compute_class_weight("balanced", classes=np.unique(y), y=y)
    w = fnn.losses.cross_entropy.weights(y, (6, 3), np.dtype(np.float64), class_weight="balanced")
    assert np.allclose(w, expected[y])
    # a dict: the classes it leaves out weigh 1; times the sample weights
    w = fnn.losses.cross_entropy.weights(
        y, (6, 3), np.dtype(np.float64), class_weight={2: 3.0}, sample_weight=np.arange(6)
    )
    assert w.tolist() == [0, 1, 2, 3, 12, 15]


def test_weights_of_ones_are_the_plain_mean_and_zero_weights_drop_rows():
    s = state()
    v1, g1 = fnn.value_and_grad(s.params, (X, Y), loss="cross_entropy", sample_weight=np.ones(300))
    v0, g0 = fnn.value_and_grad(s.params, (X, Y), loss="cross_entropy")
    assert np.isclose(v1, v0, rtol=1e-12) and np.allclose(fnn.tree.ravel(g1)[0], fnn.tree.ravel(g0)[0], atol=1e-14)
    keep = W > 1
    vw, gw = fnn.value_and_grad(s.params, (X, Y), loss="cross_entropy", sample_weight=np.where(keep, 2.0, 0.0))
    vk, gk = fnn.value_and_grad(s.params, (X[keep], Y[keep]), loss="cross_entropy")
    assert np.isclose(vw, vk, rtol=1e-12) and np.allclose(fnn.tree.ravel(gw)[0], fnn.tree.ravel(gk)[0], atol=1e-14)
    assert fnn.testing.check_grads(s.params, (X[:20], Y[:20]), loss="cross_entropy") < 1e-6


def test_train_epoch_with_weights_equals_the_explicit_loop_bitwise():
    s = state()
    cw = {0: 3.0, 7: 0.5}
    got, m = fnn.train_epoch(
        s, (X, Y), batch_size=64, loss="cross_entropy", shuffle=False, sample_weight=W, class_weight=cw
    )
    w = fnn.losses.cross_entropy.weights(Y, (300, 10), np.dtype(np.float64), sample_weight=W, class_weight=cw)
    loop, values = s, []
    for start in range(0, 300, 64):
        rows = slice(start, start + 64)
        v, g = fnn.value_and_grad(loop.params, (X[rows], Y[rows]), loss="cross_entropy", sample_weight=w[rows])
        loop, values = fnn.opt_step(loop, g), values + [float(v)]
    fnn.tree.assert_equal(got, loop)
    assert m["step_loss"].tolist() == values


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "binary_cross_entropy", "huber"])
def test_member_k_of_a_weighted_stack_is_network_k_bitwise(loss):
    output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss)
    spec = fnn.mlp([64, 8, 10], output=output, dtype=np.float64)
    y = Y if loss == "cross_entropy" else fnn.data.one_hot(Y, 10)
    keys = fnn.random.split(fnn.random.key(5), 3)
    stack = fnn.TrainState.create(fnn.init_many(keys, spec), fnn.optim.adam(1e-2), key=fnn.random.key(2))
    kw = dict(epochs=2, batch_size=50, loss=loss, verbose=0, sample_weight=W)
    stacked, h = fnn.fit(stack, (X, y), **kw)
    for k, key in enumerate(keys):
        alone, hk = fnn.fit(
            fnn.TrainState.create(fnn.init(key, spec), fnn.optim.adam(1e-2), key=fnn.random.key(2)), (X, y), **kw
        )
        fnn.tree.assert_equal(fnn.unstack(stacked.params)[k], alone.params)
        assert np.array_equal(h["loss"][:, k], hk["loss"])


def test_fit_with_weights_learns_what_they_say_and_keeps_them_with_the_training_rows():
    # class 3 weighs 0: the network never learns it
    s, h = fnn.fit(
        state(),
        (X, Y),
        epochs=15,
        batch_size=32,
        loss="cross_entropy",
        verbose=0,
        class_weight={3: 0.0},
        validation=0.2,
    )
    predicted = fnn.predict(s.params, X)
    assert (predicted[Y == 3] == 3).mean() < 0.2 and (predicted[Y != 3] == Y[Y != 3]).mean() > 0.85
    s2, h2 = fnn.fit(
        state(), (X, Y), epochs=2, batch_size=32, loss="cross_entropy", verbose=0, class_weight={3: 1.0}, validation=0.2
    )
    s3, h3 = fnn.fit(state(), (X, Y), epochs=2, batch_size=32, loss="cross_entropy", verbose=0, validation=0.2)
    assert np.allclose(h2["loss"], h3["loss"], rtol=1e-12)  # weights of 1: the plain mean, up to rounding


def test_resume_records_the_weights(tmp_path):
    kw = dict(batch_size=64, loss="cross_entropy", verbose=0, resume=tmp_path / "run")
    fnn.fit(state(), (X, Y), epochs=1, sample_weight=W, **kw)
    with pytest.raises(ConfigError, match="weights differs"):
        fnn.fit(state(), (X, Y), epochs=2, sample_weight=W * 2, **kw)
    with pytest.raises(ConfigError, match="weights differs"):
        fnn.fit(state(), (X, Y), epochs=2, **kw)
    whole = fnn.fit(state(), (X, Y), epochs=2, batch_size=64, loss="cross_entropy", verbose=0, sample_weight=W)[0]
    fnn.tree.assert_equal(fnn.fit(state(), (X, Y), epochs=2, sample_weight=W, **kw)[0], whole)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(sample_weight=np.ones(299)), ShapeError, ["sample_weight of shape (300,)", "(299,)"]),
        (dict(sample_weight=-W), ConfigError, ["sample_weight must be finite numbers ≥ 0"]),
        (dict(sample_weight=np.full(300, np.nan)), ConfigError, ["finite numbers ≥ 0"]),
        (dict(class_weight={10: 2.0}), ConfigError, ["class_weight has the key 10", "0..9"]),
        (dict(class_weight={1: -1.0}), ConfigError, ["class_weight[1] must be a finite number ≥ 0"]),
        (dict(class_weight="balance"), ConfigError, ["'balanced'", "'balance'"]),
        (
            dict(class_weight={1: 2.0}, loss="mse", y=fnn.data.one_hot(Y, 10)),
            ConfigError,
            ["class_weight needs class labels", "sample_weight"],
        ),
        (dict(sample_weight=W, loss=lambda p, y: (0.0, np.zeros_like(p))), ConfigError, ["need an fnn.losses loss"]),
    ],
)
def test_bad_weights_are_refused_before_training(kwargs, error, words):
    kwargs = {"loss": "cross_entropy", "y": Y, **kwargs}
    y = kwargs.pop("y")
    with pytest.raises(error) as e:
        fnn.fit(state(), (X, y), epochs=1, batch_size=32, verbose=0, **kwargs)
    assert all(w in str(e.value) for w in words), str(e.value)
