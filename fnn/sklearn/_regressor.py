"""``MLPRegressor``: scikit-learn's multi-layer perceptron regressor, trained by fnn."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if

from fnn.errors import ConfigError
from fnn.sklearn._base import BaseMLP, Target, stochastic_solver
from fnn.sklearn._docs import ATTRIBUTES, PARAMETERS
from fnn.sklearn._params import REGRESSOR_CONSTRAINTS

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = (
        """A multi-layer perceptron regressor, scikit-learn's ``MLPRegressor`` trained by fnn.

    ``loss="squared_error"`` (identity output, half the squared error) or ``"poisson"`` (an
    exponential output and half the Poisson deviance, for targets >= 0). y may be 1-D (n,) or
    2-D (n, n_outputs); as in scikit-learn, ``predict`` returns (n,) when there is one output,
    and the training gradient is that of the loss summed over the outputs.

    Parameters: ``loss`` first (scikit-learn's order), then as :class:`MLPClassifier`.
"""
        + PARAMETERS
        + ATTRIBUTES
        + """
    See Also:
        :class:`MLPClassifier`; :func:`fnn.fit` for the functional interface.

    >>> import numpy as np
    >>> from fnn.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 64)[:, None]
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    >>> reg = reg.partial_fit(X, 2 * X[:, 0]).partial_fit(X, 2 * X[:, 0])
    >>> reg.predict(X[:3]).shape, len(reg.loss_curve_), reg.state_.step
    ((3,), 2, 2)
    """
    )

    _y_numeric = True
    _parameter_constraints: dict = REGRESSOR_CONSTRAINTS

    def __init__(
        self,
        loss="squared_error",
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
        self.loss = loss
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
    ) -> MLPRegressor:
        """Train on ``X`` (n_samples, n_features; dense or scipy.sparse) and targets ``y`` (n,) or (n, n_outputs).

        Starts over, unless ``warm_start``. ``sample_weight``, ``coefs_init`` and ``intercepts_init`` as
        for :meth:`MLPClassifier.fit`.

        Returns:
            self.

        Raises:
            ValueError: invalid data or settings (InvalidParameterError for a constructor parameter);
                NonFiniteWeightsError when training diverges.
        """
        return self._fit(X, y, sample_weight, incremental=False, coefs_init=coefs_init, intercepts_init=intercepts_init)

    @available_if(stochastic_solver)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``X, y`` from the current state, optimizer state included (the first call starts one).

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predictions: (n_samples,) for one output, else (n_samples, n_outputs); in the params' dtype."""
        out = self._outputs(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def _target(self, y: np.ndarray, dtype: np.dtype, *, first: bool, incremental: bool, classes: Any) -> Target:
        y2 = (y[:, None] if y.ndim == 1 else y).astype(dtype)
        if self.loss == "poisson" and y2.size and y2.min() < 0:
            raise ConfigError(
                f"MLPRegressor: loss='poisson' needs targets y >= 0 (a log link), got a minimum of {y2.min()}"
            )
        return Target(y2, "exp" if self.loss == "poisson" else "identity", None, {})

    def _score_outputs(self, y: np.ndarray, out: np.ndarray, weights: np.ndarray | None, kind: str) -> float:
        """R² of the outputs against the targets, averaged over the outputs, weighted."""
        return r2_score(y, out, sample_weight=weights)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
