"""Metrics users bring (functions, (name, fn) pairs, scikit-learn's), fnn.evaluate, and accuracy of labels."""

import functools

import numpy as np
import pytest
import sklearn.metrics as skm

import fnn
import fnn.data
from fnn.errors import ConfigError, ShapeError

X, Y = fnn.data.load_digits()
XB, YB = X[Y < 2], Y[Y < 2]  # a binary problem
FIT = dict(epochs=2, batch_size=64, loss="cross_entropy", verbose=0)


def state(spec=None, members=None):
    spec = spec or fnn.mlp([64, 16, 10])
    params = (
        fnn.init_many(fnn.random.split(fnn.random.key(1), members), spec)
        if members
        else fnn.init(fnn.random.key(1), spec)
    )
    return fnn.TrainState.create(params, fnn.optim.adam(1e-2), key=fnn.random.key(2))


def macro_f1(y_true, y_hat):
    return skm.f1_score(y_true, y_hat.argmax(axis=1), average="macro")


def test_metrics_users_bring_land_in_the_history_by_name():
    metrics = [
        "accuracy",
        macro_f1,
        ("top3", lambda y, p: fnn.metrics.top_k_accuracy(y, p, k=3)),
        functools.partial(skm.f1_score, average="weighted"),
        "precision_macro",
        skm.balanced_accuracy_score,
    ]
    s, h = fnn.fit(state(), (X, Y), validation=0.2, metrics=metrics, **FIT)
    names = ["accuracy", "macro_f1", "top3", "f1_score", "precision_macro", "balanced_accuracy_score"]
    assert set(h) == {"loss", "val_loss", "time", *names, *("val_" + n for n in names)}
    # each equals the metric computed by hand on the final params, over the same validation rows
    _, x_val, _, y_val = fnn.data.train_test_split(fnn.random.key(0), X, Y, test_size=0.2)
    ev = fnn.evaluate(s, (X, Y), metrics=metrics)
    labels = fnn.predict(s.params, X)
    assert ev["macro_f1"] == skm.f1_score(Y, labels, average="macro")
    assert ev["f1_score"] == skm.f1_score(Y, labels, average="weighted")
    assert ev["precision_macro"] == skm.precision_score(Y, labels, average="macro", zero_division=0)
    assert ev["balanced_accuracy_score"] == skm.balanced_accuracy_score(Y, labels)


def test_scores_metrics_get_scores_and_two_classes_the_positive_column():
    s, h = fnn.fit(
        state(fnn.mlp([64, 8, 2])),
        (XB, YB),
        validation=0.25,
        metrics=[skm.roc_auc_score, "roc_auc", skm.log_loss],
        **FIT,
    )
    p = fnn.apply(s.params, XB)
    ev = fnn.evaluate(s, (XB, YB), metrics=[skm.roc_auc_score, skm.log_loss])
    assert ev["roc_auc_score"] == skm.roc_auc_score(YB, p[:, 1]) and np.isclose(
        ev["log_loss"], skm.log_loss(YB, p[:, 1])
    )
    assert np.array_equal(h["roc_auc"], h["roc_auc_score"])
    multi = fnn.evaluate(state(), (X, Y), metrics=["roc_auc_ovr"])
    assert multi["roc_auc_ovr"] == skm.roc_auc_score(Y, fnn.apply(state().params, X), multi_class="ovr")


def test_regression_metrics_get_values():
    y = X[:, :1] @ np.ones(1) + 0.5
    s = state(fnn.mlp([64, 8, 1], output=None))
    ev = fnn.evaluate(s, (X, y), loss="mse", metrics=[skm.r2_score, "r2", "mae"])
    y_hat = fnn.apply(s.params, X)[:, 0]
    assert ev["r2_score"] == ev["r2"] == skm.r2_score(y, y_hat)
    assert np.isclose(ev["mae"], skm.mean_absolute_error(y, y_hat))


def test_a_custom_metric_fails_before_training_not_after_an_epoch():  # finding 129
    epochs = []
    with pytest.raises(ConfigError, match=r"has no name for the history.*\('my_metric', fn\)"):
        fnn.fit(state(), (X, Y), metrics=["accuracy", lambda t, h: 0.0], callbacks=[lambda *a: epochs.append(a)], **FIT)

    def broken(y_true, y_hat):
        raise KeyError("boom")

    with pytest.raises(
        ConfigError, match=r"fit: metric 'broken' raised KeyError on the training data, before training"
    ):
        fnn.fit(state(), (X, Y), metrics=[broken], callbacks=[lambda *a: epochs.append(a)], **FIT)
    with pytest.raises(ConfigError, match=r"metric 'f1_score' raised ValueError.*'f1_macro'.*average='macro'"):
        fnn.fit(state(), (X, Y), metrics=[skm.f1_score], callbacks=[lambda *a: epochs.append(a)], **FIT)
    with pytest.raises(ConfigError, match=r"returned 'fine'.*one number"):
        fnn.fit(state(), (X, Y), metrics=[("verdict", lambda t, h: "fine")], **FIT)
    assert epochs == []


@pytest.mark.parametrize(
    "metrics, words",
    [
        ("accuracy", ["a sequence of names", "the string 'accuracy'"]),
        (["acc"], ["unknown metric 'acc'", "did you mean 'accuracy'"]),
        ([("loss", macro_f1)], ["the history's own keys", "'loss'"]),
        ([("val_f1", macro_f1)], ["does not start with 'val_'"]),
        ([macro_f1, ("macro_f1", macro_f1)], ["two metrics are named 'macro_f1'"]),
        ([skm.confusion_matrix], ["does not know what scikit-learn's confusion_matrix takes"]),
        ([3], ["metric must be a name", "got 3"]),
    ],
)
def test_bad_metrics_are_named(metrics, words):
    with pytest.raises(ConfigError) as e:
        fnn.fit(state(), (X, Y), metrics=metrics, **FIT)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_a_stack_gets_one_value_per_member():
    s, h = fnn.fit(state(members=3), (X, Y), validation=0.2, metrics=["accuracy", macro_f1, "f1_macro"], **FIT)
    assert h["val_macro_f1"].shape == (2, 3) and np.array_equal(h["val_macro_f1"], h["val_f1_macro"])
    ev = fnn.evaluate(s, (X, Y), loss="cross_entropy", metrics=["accuracy", macro_f1])
    assert {k: v.shape for k, v in ev.items()} == {"loss": (3,), "accuracy": (3,), "macro_f1": (3,)}
    for k, member in enumerate(fnn.unstack(s.params)):
        one = fnn.evaluate(member, (X, Y), loss="cross_entropy", metrics=["accuracy", macro_f1])
        assert all(ev[name][k] == one[name] for name in one)


def test_evaluate_is_what_fit_records_as_its_validation():
    x_tr, x_val, y_tr, y_val = fnn.data.train_test_split(fnn.random.key(3), X, Y, test_size=0.25)
    s, h = fnn.fit(state(), (x_tr, y_tr), validation=(x_val, y_val), l2=1e-3, **FIT)
    ev = fnn.evaluate(s, (x_val, y_val), loss="cross_entropy", l2=1e-3)
    assert ev == {"loss": h["val_loss"][-1], "accuracy": h["val_accuracy"][-1]}  # bit for bit
    chunked = fnn.evaluate(s.params, (x_val, y_val), loss="cross_entropy", l2=1e-3, batch_size=7)
    assert np.isclose(chunked["loss"], ev["loss"], rtol=1e-6) and chunked["accuracy"] == ev["accuracy"]
    weighted = fnn.evaluate(s, (x_val, y_val), loss="cross_entropy", sample_weight=np.ones(len(y_val)))
    assert np.isclose(weighted["loss"], fnn.evaluate(s, (x_val, y_val), loss="cross_entropy")["loss"], rtol=1e-6)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: fnn.evaluate(state(), (X, Y)), ConfigError, ["nothing to evaluate", "loss="]),
        (lambda: fnn.evaluate(state().params, (X, Y), metrics=[]), ConfigError, ["nothing to evaluate", "loss="]),
        (lambda: fnn.evaluate(X, (X, Y), loss="cross_entropy"), ConfigError, ["evaluate expects params", "TrainState"]),
        (
            lambda: fnn.evaluate(state(fnn.mlp([64, 10], output=None)), (X, Y), loss="cross_entropy"),
            ConfigError,
            ["evaluate: loss 'cross_entropy' takes probabilities", "cross_entropy_from_logits"],
        ),
        (
            lambda: fnn.evaluate(state(), (X, Y[:-1]), loss="cross_entropy"),
            ShapeError,
            ["evaluate: x and y", "1797 and 1796"],
        ),
        (lambda: fnn.evaluate(state(), (X, Y), loss="cross_entropy", batch_size=0), ConfigError, ["batch_size"]),
    ],
)
def test_evaluate_says_what_is_wrong(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)


# ------------------------------------------------------------------ accuracy of labels (findings 50, 51, 55)


def test_accuracy_of_labels_against_labels():
    params = state().params
    labels = fnn.predict(params, X)
    assert (
        fnn.metrics.accuracy(Y, labels)
        == fnn.metrics.accuracy(Y, fnn.apply(params, X))
        == skm.accuracy_score(Y, labels)
    )
    assert fnn.metrics.accuracy(Y, labels.astype(float)) == skm.accuracy_score(Y, labels)
    assert fnn.metrics.accuracy(fnn.data.one_hot(Y, 10), labels) == skm.accuracy_score(Y, labels)
    # arguments swapped (outputs first): the same classes are compared, so the same number
    assert fnn.metrics.accuracy(fnn.apply(params, X), Y) == skm.accuracy_score(Y, labels)
    with pytest.raises(ShapeError, match=r"read as predicted labels.*not whole numbers.*y_hat\[:, None\]"):
        fnn.metrics.accuracy(Y, fnn.apply(params, X)[:, 0])


def test_metrics_of_a_stacks_output_say_how_to_score_members():
    stack = state(members=4).params
    with pytest.raises(ShapeError) as e:
        fnn.metrics.accuracy(Y, fnn.apply(stack, X))
    assert all(w in str(e.value) for w in ["accuracy", "stack of 4 networks", "for member in y_hat", "fnn.evaluate"])
    per_member = fnn.evaluate(stack, (X, Y), metrics=["accuracy"])["accuracy"]
    assert per_member.tolist() == [fnn.metrics.accuracy(Y, m) for m in fnn.apply(stack, X)]
