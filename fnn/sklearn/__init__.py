"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, trained by fnn: a drop-in for scikit-learn 1.6+.

An optional extra (``pip install fnn[sklearn]``); ``import fnn`` does not load it. Both
estimators take every constructor parameter of scikit-learn's own, with the same names,
order, defaults and meanings, so ``MLPClassifier(**sk.get_params())`` builds the fnn
estimator of a scikit-learn one; a value scikit-learn rejects is rejected with its message
and exception class (``InvalidParameterError``). They follow scikit-learn's conventions
(the constructor only stores its arguments; ``fit`` returns ``self``; fitted attributes end
in ``_``) and pass ``sklearn.utils.estimator_checks``.

**The same training.** The objective is scikit-learn's: log-loss (softmax over the classes,
or a logistic output per label, summed over the labels), half the squared error or half the
Poisson deviance (summed over the outputs in the gradient), weighted by ``sample_weight``,
plus ``alpha / (2 S) * Σ w²`` over the weight matrices, ``S`` each batch's length or weight
sum. ``solver="sgd"`` (momentum, Nesterov's, ``learning_rate`` ``constant``/``invscaling``/
``adaptive``) and ``"adam"`` are scikit-learn's update rules written as fnn optimizers;
``"lbfgs"`` hands SciPy's L-BFGS-B the same function and options (``max_iter``, ``max_fun``,
``gtol=tol``). The epoch loop, its stopping rules (``tol``, ``n_iter_no_change``, which may be
``np.inf``), its warnings and verbose lines are scikit-learn's. So, started from the same
weights on the same batches, the two take the same steps up to rounding: pass scikit-learn's
(or any) starting weights as ``fit(X, y, coefs_init=..., intercepts_init=...)``, and
``shuffle=False`` for the same batches. Sparse X (scipy.sparse CSR/CSC) is accepted wherever
scikit-learn accepts it; batches are densified one at a time.

**What fnn does differently, on purpose.**

- *Randomness* comes from fnn keys, not NumPy's ``RandomState``: the same distributions
  (scikit-learn's Glorot-uniform weights and biases, ``sqrt(2 / ...)`` for ``logistic``), but
  other draws, shuffles and validation splits. ``random_state`` is the seed: an int ``s`` gives
  the root key ``fnn.random.key(s)``; None draws fresh entropy from the operating system;
  a ``RandomState`` or ``Generator`` gives one integer drawn from it at each fit. The seed used
  is ``seed_``. Three keys derive from it, ``k_init, k_train, k_split =
  fnn.random.split(fnn.random.key(seed_), 3)``: the initial weights (drawn in float64 and
  cast, so float32 and float64 data start from the same weights), the :class:`fnn.TrainState`'s
  key (which shuffles each epoch by its step), and the ``early_stopping`` split.
- *Continuing keeps the optimizer state.* ``warm_start=True`` continues from ``state_``
  (params, optimizer state, key, step, the current rate), where scikit-learn's warm start
  resets Adam's moments and SGD's velocity. So ``fit`` with ``max_iter=a`` and then
  ``max_iter=b`` gives, bit for bit, one fit of ``a + b`` epochs (when ``tol`` stops neither
  and without ``early_stopping``), and k ``partial_fit`` calls on the same data give the first
  k epochs of ``fit``. A changed ``learning_rate_init`` (or other hyperparameter of the same
  solver) applies from the next epoch; another solver restarts the optimizer state.
- *Divergence stops at once.* A batch whose loss is NaN or infinite ends training: without
  ``early_stopping`` the fit raises :class:`NonFiniteWeightsError` (a ``ValueError``, as
  scikit-learn's "Solver produced non-finite parameter weights", which it raises after
  ``max_iter`` epochs) and leaves the estimator unchanged; with it, the best epoch's model is
  kept, as scikit-learn keeps it, with a ``ConvergenceWarning``.
- *Read-only results.* ``coefs_`` and ``intercepts_`` are read-only views of the fitted
  params; ``predict_log_proba`` is computed from the logits, so it stays finite where
  probabilities round to 0 (the loss itself is computed as scikit-learn computes it, from
  probabilities clipped to ``[eps, 1 - eps]``: it is the function its L-BFGS sees).
- *Stricter inputs.* Negative sample weights, Poisson targets below 0 and a single class are
  errors (scikit-learn trains on them: with a loss of NaN for the Poisson case, and for one
  class a model that always predicts it); a batch whose weights sum to 0 is skipped (there
  scikit-learn divides by that 0).
  ``partial_fit`` does not exist for ``solver="lbfgs"``, for the regressor too.
- *Additions.* Any fnn optimizer as ``solver``, any fnn activation, an fnn schedule as
  ``learning_rate_init``, ``decision_function`` (the logits) on the classifier, a
  ``loss_curve_`` for L-BFGS, a multiclass ``early_stopping`` split stratified as scikit-learn
  documents (its code stratifies binary targets only), and ``state_``, ``params_``, ``seed_``.

**Dtype.** The network computes in X's float dtype: float32 data trains float32 params and
predicts float32; float64 (and integer) data uses float64, as scikit-learn does. Later
``partial_fit`` or warm-start data is cast to the dtype of the first fit.

>>> import numpy as np
>>> from fnn.sklearn import MLPClassifier
>>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 25)
>>> y = np.array(["no", "yes", "yes", "no"] * 25)
>>> clf = MLPClassifier((16,), activation="tanh", learning_rate_init=0.05, random_state=0).fit(X, y)
>>> clf.predict([[0.0, 1.0], [1.0, 1.0]]).tolist(), clf.n_iter_ < clf.max_iter
(['yes', 'no'], True)
>>> clf.predict_proba([[0.0, 1.0]]).shape, clf.state_.step == clf.n_iter_
((1, 2), True)
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        f"fnn.sklearn needs scikit-learn >= 1.6 ({error}); install it with: pip install 'fnn[sklearn]'"
    ) from error

from fnn.sklearn._classifier import MLPClassifier
from fnn.sklearn._params import InvalidParameterError, NonFiniteWeightsError
from fnn.sklearn._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "InvalidParameterError", "NonFiniteWeightsError"]
