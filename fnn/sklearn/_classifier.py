"""``MLPClassifier``: scikit-learn's multi-layer perceptron classifier, trained by fnn."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from fnn.errors import ConfigError
from fnn.sklearn._base import BaseMLP, Target, stochastic_solver
from fnn.sklearn._docs import ATTRIBUTES, PARAMETERS
from fnn.sklearn._params import CLASSIFIER_CONSTRAINTS

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = (
        """A multi-layer perceptron classifier, scikit-learn's ``MLPClassifier`` trained by fnn: binary,
    multiclass, multilabel.

    Class labels may be any sortable values (strings, ints, ...); ``classes_`` holds them
    sorted. Two classes train one logistic output (``out_activation_ == "logistic"``), more a
    softmax over the classes; a 0/1 indicator matrix y trains one logistic output per label, and
    the log-loss is summed over the labels (scikit-learn's objective).
"""
        + PARAMETERS
        + ATTRIBUTES
        + """        classes_: the class labels, sorted (for multilabel y: ``arange(n_labels)``).

    See Also:
        :class:`MLPRegressor`; :func:`fnn.fit` for the functional interface.

    >>> from sklearn.datasets import load_iris
    >>> from fnn.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((16,), learning_rate_init=0.01, max_iter=500, random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9), clf.predict_proba(X[:2]).shape, [w.shape for w in clf.coefs_]
    (True, (2, 3), [(4, 16), (16, 3)])
    """
    )

    _parameter_constraints: dict = CLASSIFIER_CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
        )

    def fit(
        self, X: Any, y: Any, sample_weight: Any = None, *, coefs_init: Any = None, intercepts_init: Any = None
    ) -> MLPClassifier:
        """Train on ``X`` (n_samples, n_features; dense or scipy.sparse) and labels ``y`` (n,), or a 0/1
        indicator (n, n_labels).

        Starts over, unless ``warm_start`` (y must then have the classes of the previous fit).

        Args:
            sample_weight: one non-negative weight per row (scikit-learn's meaning: the loss and the
                ``alpha`` penalty are divided by the weights' sum over each batch), or None.
            coefs_init, intercepts_init: the starting weights and biases (shaped as ``coefs_`` and
                ``intercepts_``) instead of the random ones, e.g. another model's ``coefs_`` and
                ``intercepts_``; only when the fit starts over.

        Returns:
            self.

        Raises:
            ValueError: invalid data or settings (InvalidParameterError for a constructor parameter);
                y with a single class; NonFiniteWeightsError when training diverges.
        """
        return self._fit(X, y, sample_weight, incremental=False, coefs_init=coefs_init, intercepts_init=intercepts_init)

    @available_if(stochastic_solver)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> MLPClassifier:
        """One epoch over ``X, y`` from the current state, optimizer state included (the first call starts one).

        Args:
            X, y, sample_weight: as for :meth:`fit`; y may hold any subset of the classes.
            classes: every class of the whole stream (e.g. ``np.unique(y_all)``): required on the
                first call unless y is a multilabel indicator; afterwards it must equal ``classes_``.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of ``classes_``; rows sum to 1.

        For multilabel y: (n_samples, n_labels), each label's own probability. The dtype is the params'.
        """
        p = self._outputs(X)
        if p.shape[1] == 1:
            return np.column_stack([1 - p[:, 0], p[:, 0]])
        return p

    def decision_function(self, X: Any) -> np.ndarray:
        """The logits, the output before its logistic or softmax (fnn's addition): (n_samples,) for two classes
        (> 0 means ``classes_[1]``), else (n_samples, n_classes) with the argmax at the predicted class
        (multilabel: > 0 where a label is predicted)."""
        z = self._logits(X)
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))``, computed from the logits so that it stays finite."""
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)])
        if self.out_activation_ == "logistic":
            return -np.logaddexp(0, -z)
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """The class of each row, ``classes_[argmax(predict_proba(X))]``; for multilabel y the 0/1 indicator
        (ints, as scikit-learn's)."""
        p = self._outputs(X)
        if self._multilabel:
            return (p > 0.5).astype(int)
        if p.shape[1] == 1:
            return self.classes_[(p[:, 0] > 0.5).astype(np.int64)]
        return self.classes_[np.argmax(p, axis=1)]

    def _target(self, y: np.ndarray, dtype: np.dtype, *, first: bool, incremental: bool, classes: Any) -> Target:
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ConfigError(
                "MLPClassifier: y must be class labels of shape (n,) or a 0/1 multilabel indicator (n, n_labels), "
                f"got {kind} targets of shape {y.shape}"
            )
        multilabel = kind == "multilabel-indicator"
        if not first and multilabel != self._multilabel:
            was = "a multilabel indicator" if self._multilabel else "class labels"
            raise ConfigError(f"MLPClassifier: y is {kind} but the model was fitted on {was}; set warm_start=False")
        if multilabel:
            return self._multilabel_target(y, dtype, first, classes)
        labels = self._labels(y, first, incremental, classes)
        codes = _codes(labels, y)
        fitted = {"classes_": labels, "_multilabel": False}
        if labels.size == 2:
            return Target(codes.astype(dtype)[:, None], "logistic", codes, fitted)
        return Target(np.eye(labels.size, dtype=dtype)[codes], "softmax", codes, fitted)

    def _labels(self, y: np.ndarray, first: bool, incremental: bool, classes: Any) -> np.ndarray:
        """``classes_`` for this call, with scikit-learn's rules (and messages) for partial_fit and warm_start."""
        if first:
            if incremental and classes is None:
                raise ConfigError(
                    "classes must be passed on the first call to partial_fit. (MLPClassifier: every class of the "
                    "stream, e.g. np.unique(y_all))"
                )
            labels = unique_labels(y if classes is None else np.asarray(classes))
            if labels.size < 2:
                raise ConfigError(f"MLPClassifier needs at least 2 classes to train, got 1 class: {labels.tolist()}")
            return labels
        labels = self.classes_
        present = unique_labels(y)
        if incremental:
            if classes is not None and not np.array_equal(unique_labels(np.asarray(classes)), labels):
                raise ConfigError(
                    f"`classes={np.asarray(classes).tolist()!r}` is not the same as on last call to partial_fit, "
                    f"was: {labels.tolist()!r}"
                )
            unknown = np.setdiff1d(present, labels)
            if unknown.size:
                raise ConfigError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {labels.tolist()}. 'y' has "
                    f"{present.tolist()} (the labels {unknown.tolist()} are not among the classes)"
                )
        elif set(present.tolist()) != set(labels.tolist()):
            raise ConfigError(
                "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
                f"Previously got {labels.tolist()}, `y` has {present.tolist()}"
            )
        return labels

    def _multilabel_target(self, y: np.ndarray, dtype: np.dtype, first: bool, classes: Any) -> Target:
        k = y.shape[1]
        if classes is not None and not np.array_equal(np.asarray(classes), np.arange(k)):
            raise ConfigError(
                f"MLPClassifier: for a multilabel y of {k} columns, classes must be range({k}), got {classes!r}"
            )
        if not first and k != self.classes_.size:
            raise ConfigError(f"MLPClassifier: y has {k} labels but the model was fitted on {self.classes_.size}")
        fitted = {"classes_": np.arange(k), "_multilabel": True}
        return Target(y.astype(dtype), "logistic", None, fitted)

    def _score_outputs(self, y: np.ndarray, p: np.ndarray, weights: np.ndarray | None, kind: str) -> float:
        """Accuracy of the outputs ``p`` against encoded targets (for logistic outputs, binary or multilabel:
        every label thresholded at 0.5, subset accuracy), weighted."""
        if kind == "logistic":
            return accuracy_score(y > 0.5, p > 0.5, sample_weight=weights)
        return accuracy_score(np.argmax(y, axis=1), np.argmax(p, axis=1), sample_weight=weights)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _codes(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The index of each label of ``y`` in the sorted ``classes``; ConfigError naming labels not among them."""
    idx = np.minimum(np.searchsorted(classes, y), classes.size - 1)
    unknown = classes[idx] != y
    if unknown.any():
        raise ConfigError(
            f"MLPClassifier: y has labels {unique_labels(y[unknown]).tolist()} that are not among the classes "
            f"{classes.tolist()}"
        )
    return idx.astype(np.int64)
