"""The estimators' parameters: scikit-learn's constraints, fnn's additions, and the checks of fit's arguments.

The constraints are the installed scikit-learn's own objects
(``MLPClassifier._parameter_constraints``), checked by scikit-learn's validator, so a value
scikit-learn rejects is rejected here with the same message (``The 'momentum' parameter of
MLPClassifier must be a float in the range [0.0, 1.0]. Got 2 instead.``) and an exception of
its class, ``InvalidParameterError``.
fnn's additions (any fnn optimizer as ``solver``, any fnn activation, an fnn schedule as
``learning_rate_init``, a NumPy ``Generator`` as ``random_state``) are ``Hidden``
constraints: accepted, but left out of those messages, which therefore read as
scikit-learn's.

>>> from fnn.sklearn import MLPClassifier
>>> try:
...     MLPClassifier(learning_rate_init=0).fit([[0.0], [1.0]], [0, 1])
... except InvalidParameterError as e:
...     print(e)
The 'learning_rate_init' parameter of MLPClassifier must be a float in the range (0.0, inf). Got 0 instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier as _SklearnClassifier
from sklearn.neural_network import MLPRegressor as _SklearnRegressor
from sklearn.utils._param_validation import Hidden, StrOptions, validate_parameter_constraints
from sklearn.utils._param_validation import InvalidParameterError as _SklearnInvalidParameterError

from fnn import optim
from fnn._checks import is_integer
from fnn.errors import ConfigError, NonFiniteError
from fnn.layers.activations import NAMES as _FNN_ACTIVATIONS

__all__ = [
    "InvalidParameterError",
    "NonFiniteWeightsError",
    "CLASSIFIER_CONSTRAINTS",
    "REGRESSOR_CONSTRAINTS",
    "SKLEARN_SOLVERS",
    "check_parameters",
    "hidden_sizes",
    "seed_from",
]


class InvalidParameterError(ConfigError, _SklearnInvalidParameterError):
    """A constructor parameter out of its range: scikit-learn's ``InvalidParameterError`` (a ValueError
    and a TypeError) and fnn's :class:`~fnn.errors.ConfigError`, so ``except`` clauses written for
    either catch it."""


class NonFiniteWeightsError(NonFiniteError, ValueError):
    """Training diverged (the loss or the weights became NaN or infinite).

    A ``ValueError``, as scikit-learn raises for "Solver produced non-finite parameter weights",
    and fnn's :class:`~fnn.errors.NonFiniteError`; ``.state`` is the last state with finite
    weights."""


SKLEARN_SOLVERS = ("lbfgs", "sgd", "adam")
_PARAMETERS = (
    "hidden_layer_sizes",
    "activation",
    "solver",
    "alpha",
    "batch_size",
    "learning_rate",
    "learning_rate_init",
    "power_t",
    "max_iter",
    "shuffle",
    "random_state",
    "tol",
    "verbose",
    "warm_start",
    "momentum",
    "nesterovs_momentum",
    "early_stopping",
    "validation_fraction",
    "beta_1",
    "beta_2",
    "epsilon",
    "n_iter_no_change",
    "max_fun",
)
# fnn's additions to scikit-learn's constraints: accepted, and left out of its messages
_ADDITIONS = {
    "activation": [Hidden(StrOptions(set(_FNN_ACTIVATIONS) - {"softmax", "log_softmax"}))],
    "solver": [Hidden(StrOptions(set(optim.OPTIMIZERS)))],
    "learning_rate_init": [Hidden(callable)],
    "random_state": [Hidden(np.random.Generator)],
}


def _constraints(sklearn_class: type, names: tuple) -> dict:
    """scikit-learn's own constraint objects for ``names`` (so its messages come out the same, word for word),
    with fnn's additions."""
    theirs = sklearn_class._parameter_constraints  # type: ignore[attr-defined]  # scikit-learn's estimators have it
    return {name: [*theirs[name], *_ADDITIONS.get(name, [])] for name in names}


# the installed scikit-learn's; loss="poisson" is 1.7's, so scikit-learn 1.6 gets 1.7's constraint for it
CLASSIFIER_CONSTRAINTS: dict = _constraints(_SklearnClassifier, _PARAMETERS)
REGRESSOR_CONSTRAINTS: dict = {
    "loss": _SklearnRegressor._parameter_constraints.get("loss", [StrOptions({"squared_error", "poisson"})]),
    **_constraints(_SklearnRegressor, _PARAMETERS),
}


def check_parameters(estimator: Any) -> None:
    """Check ``estimator.get_params()`` against its ``_parameter_constraints``, as scikit-learn's ``fit`` does.

    Raises:
        InvalidParameterError: scikit-learn's message, naming the parameter, what it must be and the value.
    """
    try:
        validate_parameter_constraints(
            estimator._parameter_constraints, estimator.get_params(deep=False), caller_name=type(estimator).__name__
        )
    except _SklearnInvalidParameterError as error:
        raise InvalidParameterError(str(error)) from None


def hidden_sizes(value: Any, owner: str) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a tuple of ints (scikit-learn's: an int, or an array-like of ints > 0).

    >>> hidden_sizes(5, "MLPClassifier"), hidden_sizes([4, 3], "MLPClassifier")
    ((5,), (4, 3))
    """
    sizes = [value] if not hasattr(value, "__iter__") else list(value)
    for i, s in enumerate(sizes):
        if not is_integer(s) or s <= 0:
            raise ConfigError(
                f"{owner}: hidden_layer_sizes must be > 0, got {sizes} (entry {i} is {s!r}; expected positive integers)"
            )
    return tuple(int(s) for s in sizes)


def seed_from(random_state: Any) -> int:
    """The integer seed of a fit: ``random_state`` itself, fresh entropy for None, or one draw from a NumPy RNG.

    A ``RandomState`` or ``Generator`` gives one integer drawn from it at each fit (scikit-learn's
    convention for deriving seeds); None draws 32 bits from the operating system (no global RNG), so
    that ``random_state=seed_`` is a value scikit-learn's constraint accepts.

    >>> seed_from(7), seed_from(np.random.RandomState(0)) == seed_from(np.random.RandomState(0))
    (7, True)
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    return int(random_state)
