"""Laws of fnn.metrics: one prediction rule, accuracy agrees with the confusion matrix and with
top-1, invariance to monotone transforms, errors at the boundary."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fnn
from fnn.data import one_hot
from fnn.errors import ConfigError, DtypeError, NonFiniteError, ShapeError
from fnn.metrics import (
    METRICS,
    accuracy,
    confusion_matrix,
    get,
    mae,
    mse,
    predict_labels,
    top_k_accuracy,
)


def frozen(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


@st.composite
def labelled_outputs(draw, min_k=2, integral=False):
    """(labels (n,), outputs (n, k)) with n >= 1 and k >= min_k."""
    n, k = draw(st.integers(1, 30)), draw(st.integers(min_k, 6))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    elements = st.integers(-50, 50).map(float) if integral else st.floats(-10, 10)
    y_hat = draw(hnp.arrays(np.float64, (n, k), elements=elements))
    return frozen(labels), frozen(y_hat)


@given(
    st.integers(2, 8).flatmap(lambda k: st.lists(st.integers(0, k - 1), min_size=1, max_size=30).map(lambda y: (k, y)))
)
def test_accuracy_of_the_one_hot_truth_is_one(case):
    k, labels = case
    y = np.array(labels)
    assert accuracy(y, one_hot(y, k)) == 1.0
    assert accuracy(one_hot(y, k), one_hot(y, k)) == 1.0  # targets (n, k) too


@given(st.integers(2, 20).flatmap(lambda n: st.permutations(range(n))))
def test_accuracy_of_a_shuffled_prediction_is_the_fraction_of_fixed_points(perm):
    n = len(perm)
    y = np.arange(n)
    assert accuracy(y, one_hot(perm, n)) == np.mean(np.array(perm) == y)


@given(
    labelled_outputs(integral=True), st.sampled_from([lambda a: 2 * a + 1, lambda a: a**3, lambda a: np.exp(a / 10)])
)
def test_accuracy_is_invariant_to_monotone_transforms_of_the_outputs(case, f):
    y, y_hat = case
    shifted = y_hat + np.arange(y_hat.shape[0])[:, None]  # a different shift per row
    for transformed in (f(y_hat), shifted):
        assert accuracy(y, transformed) == accuracy(y, y_hat)
        assert np.array_equal(predict_labels(transformed), predict_labels(y_hat))
        assert top_k_accuracy(y, transformed, k=2) == top_k_accuracy(y, y_hat, k=2)


@given(labelled_outputs())
def test_confusion_matrix_sums_to_n_and_its_trace_is_accuracy(case):
    y, y_hat = case
    n, k = y_hat.shape
    pred = predict_labels(y_hat)
    c = confusion_matrix(y, pred, k)
    assert c.shape == (k, k) and c.dtype == np.int64
    assert c.sum() == n and np.trace(c) / n == accuracy(y, y_hat)
    assert np.array_equal(c.sum(axis=1), np.bincount(y, minlength=k))  # rows are the truth
    assert np.array_equal(c.sum(axis=0), np.bincount(pred, minlength=k))


@given(labelled_outputs(integral=True))
def test_top_1_is_accuracy_and_top_k_grows_to_one(case):
    y, y_hat = case
    k = y_hat.shape[1]
    assert top_k_accuracy(y, y_hat, k=1) == accuracy(y, y_hat)  # ties included (integral outputs)
    scores = [top_k_accuracy(y, y_hat, k=j) for j in range(1, k + 2)]
    assert scores == sorted(scores) and scores[-2] == scores[-1] == 1.0


def test_prediction_rules_and_their_documented_ties_and_threshold():
    assert predict_labels([[3.0, 1.0, 3.0]]).tolist() == [0]  # first of tied maxima
    assert predict_labels([[0.49], [0.5], [0.51]]).tolist() == [0, 1, 1]  # y_hat >= 0.5 is class 1
    assert predict_labels([[-0.1], [0.0]], threshold=0.0).tolist() == [0, 1]  # logits
    assert predict_labels(np.array([[1, 2]], np.int32)).dtype == np.int64


def test_binary_accuracy_accepts_labels_and_column_targets():
    y_hat = np.array([[0.9], [0.2], [0.6], [0.4]])
    for y in ([1, 0, 0, 1], np.array([[1.0], [0.0], [0.0], [1.0]]), np.array([True, False, False, True])):
        assert accuracy(y, y_hat) == 0.5
    assert accuracy([1, 0, 1, 0], y_hat) == 1.0
    assert accuracy([0.8, 0.1, 0.7, 0.3], y_hat) == 1.0  # soft targets: class 1 when >= 0.5
    assert accuracy([1, 0, 1, 0], y_hat - 0.5, threshold=0.0) == 1.0


def test_accuracy_accepts_probability_targets_and_integral_float_labels():
    y_hat = np.array([[0.7, 0.3], [0.4, 0.6]])
    assert accuracy(np.array([[0.6, 0.4], [0.1, 0.9]]), y_hat) == 1.0
    assert accuracy(np.array([0.0, 1.0]), y_hat) == 1.0
    assert isinstance(accuracy([0, 0], y_hat), float)


@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)), elements=st.floats(-100, 100)), st.data()
)
def test_mse_and_mae_are_the_means_of_squared_and_absolute_errors(y_hat, data):
    y = data.draw(hnp.arrays(np.float64, y_hat.shape, elements=st.floats(-100, 100)))
    assert np.isclose(mse(frozen(y), frozen(y_hat)), np.mean((y_hat - y) ** 2))
    assert np.isclose(mse(y, y_hat), fnn.losses.mse(y_hat, y))
    assert np.isclose(mae(y, y_hat), np.mean(np.abs(y_hat - y)))
    assert isinstance(mse(y, y_hat), float) and isinstance(mae(y, y_hat), float)
    if y_hat.shape[1] == 1:
        assert mse(y[:, 0], y_hat) == mse(y, y_hat) == mse(y[:, 0], y_hat[:, 0])


def test_float32_errors_are_averaged_in_float64():
    y_hat = np.full((1000, 1), 0.1, np.float32)
    assert mae(np.zeros(1000, np.float32), y_hat) == float(np.float32(0.1))


def test_the_registry_and_get():
    assert set(METRICS) == {"accuracy", "mse", "mae"}
    y, y_hat = np.array([0, 1]), np.array([[0.9, 0.1], [0.3, 0.7]])
    for name, metric in METRICS.items():
        assert get(name) is metric
        assert isinstance(metric(y if name == "accuracy" else one_hot(y), y_hat), float)
    custom = lambda y_true, y_hat: 0.0  # noqa: E731
    assert get(custom) is custom
    with pytest.raises(ConfigError, match="unknown metric 'acc'; valid names: accuracy, mse, mae"):
        get("acc")
    with pytest.raises(ConfigError, match="callable"):
        get(3)


Y_HAT = np.array([[0.9, 0.1], [0.3, 0.7]])


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: accuracy([0, 1], np.array([0.9, 0.3])), ShapeError, "y_hat[:, None]"),
        (lambda: accuracy([], np.zeros((0, 2))), ShapeError, "n, k >= 1"),
        (lambda: accuracy([0, 2], Y_HAT), ConfigError, "[0, 1] for 2 classes"),
        (lambda: accuracy([0, 0.5], Y_HAT), ConfigError, "integers"),
        (lambda: accuracy([0, 1, 1], Y_HAT), ShapeError, "(2,) (labels) or (2, 2) (targets)"),
        (lambda: accuracy(np.eye(3)[:2], Y_HAT), ShapeError, "got (2, 3)"),
        (lambda: accuracy([0, 1], np.array([[np.nan, 1.0], [0.0, 1.0]])), NonFiniteError, "row 0, column 0"),
        (lambda: accuracy(np.array([[np.inf, 0], [0, 1]]), Y_HAT), NonFiniteError, "y_true"),
        (lambda: accuracy([0, 2], np.array([[0.1], [0.9]])), ConfigError, "[0, 1]"),
        (lambda: accuracy([0, 1, 1], np.array([[0.1], [0.9]])), ShapeError, "accuracy: y_true"),
        (lambda: accuracy(["a", "b"], Y_HAT), DtypeError, "y_true must be numeric"),
        (lambda: accuracy([0, 1], np.array([["a"], ["b"]])), DtypeError, "y_hat must be numeric"),
        (lambda: predict_labels(np.zeros((2, 2, 2))), ShapeError, "predict_labels"),
        (lambda: top_k_accuracy([0, 1], Y_HAT, k=0), ConfigError, "positive integer"),
        (lambda: top_k_accuracy([0, 1], Y_HAT, k=1.0), ConfigError, "positive integer"),
        (lambda: top_k_accuracy([0, 1], np.array([[0.1], [0.9]]), k=1), ShapeError, "at least 2 columns"),
        (lambda: confusion_matrix([0, 1], [0]), ShapeError, "2 and 1"),
        (lambda: confusion_matrix([[0, 1]], [0, 1]), ShapeError, "(n,)"),
        (lambda: confusion_matrix([0, -1], [0, 1]), ConfigError, "non-negative"),
        (lambda: confusion_matrix([0, 3], [0, 1], 3), ConfigError, "[0, 2] for 3 classes"),
        (lambda: mse([1.0, 2.0, 3.0], Y_HAT), ShapeError, "mse: y_true"),
        (lambda: mae(np.zeros((2, 3)), np.zeros((2, 2, 1))), ShapeError, "mae"),
    ],
)
def test_bad_input_is_rejected_with_a_message_naming_it(call, error, words):
    with pytest.raises(error) as e:
        call()
    assert words in str(e.value)


def test_confusion_matrix_infers_its_size_from_both_sides():
    assert confusion_matrix([0, 0], [0, 2]).shape == (3, 3)
    assert confusion_matrix([2], [0]).tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0]]
    assert confusion_matrix([], []).shape == (0, 0)
    assert confusion_matrix([0], [0], 4).shape == (4, 4)


def test_metrics_of_sequence_outputs_count_every_position():
    y_hat = fnn.random.uniform(fnn.random.key(0), (3, 4, 5))
    labels = fnn.random.generator(fnn.random.key(1)).integers(0, 5, (3, 4))
    assert accuracy(labels, y_hat) == accuracy(labels.reshape(-1), y_hat.reshape(-1, 5))
    targets = fnn.random.normal(fnn.random.key(2), (3, 4, 5))
    assert mse(targets, y_hat) == mse(targets.reshape(-1, 5), y_hat.reshape(-1, 5))
