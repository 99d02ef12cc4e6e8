"""scikit-learn's MLP objective, as a loss on the network's last pre-activation (its logits).

scikit-learn (``BaseMultilayerPerceptron._backprop``) pairs each output activation with its
canonical loss, so the error at the output's pre-activation ``z`` is always
``delta = w * (out(z) - y) / S``, with ``w`` the sample weights (1 without them) and ``S``
their sum over the batch (its length without them). The gradient is that of the loss
**summed over the outputs** (labels, or regression targets), averaged over the samples. The
value reported (``loss_curve_``) is the same sum, except for the squared error, where
scikit-learn reports the mean over the outputs (``squared_loss``: ``.mean()`` over axis 1)
while still stepping on the sum; that is kept here, as it is what its ``loss_curve_``, its
``tol`` and its L-BFGS line search see. ``alpha`` enters as fnn's ``l2 = alpha / S``: a
penalty ``alpha / (2 S) * Σ w²`` over the weight matrices and ``alpha / S * W`` in their
gradients.

The value is computed as scikit-learn's ``LOSS_FUNCTIONS`` compute it, from the output
probabilities clipped to ``[eps, 1 - eps]`` (so a label's loss never exceeds ``-log(eps)``), in
the same order of sums: it is the function scikit-learn's L-BFGS line search sees, bounded
and rounded where it saturates as there. (``predict_log_proba``, which users read, is
computed from the logits instead.) The gradient, as there, is not clipped.

>>> import numpy as np
>>> z = np.array([[0.0, 0.0], [2.0, -1.0]]); y = np.array([[1.0, 0.0], [0.0, 1.0]])
>>> value, delta = objective("softmax", z, y, None, 2.0)
>>> round(float(value), 4), delta.sum(axis=1).round(12).tolist()
(1.8709, [0.0, 0.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnn.layers.activations import sigmoid, softmax

__all__ = ["OUTPUTS", "objective", "output"]

# scikit-learn's out_activation_ names, each with its loss (the canonical link)
OUTPUTS = ("softmax", "logistic", "identity", "exp")


def output(kind: str, z: np.ndarray) -> np.ndarray:
    """The output activation ``kind`` (an ``out_activation_`` name) applied to the logits ``z``.

    >>> import numpy as np
    >>> output("logistic", np.array([[0.0]])), output("exp", np.array([[0.0]]))
    (array([[0.5]]), array([[1.]]))
    """
    if kind == "softmax":
        return softmax(z)
    if kind == "logistic":
        return sigmoid(z)
    if kind == "exp":
        return np.exp(z)
    return z


def _elementwise(kind: str, z: np.ndarray, p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each sample's and output's loss (n, k), as scikit-learn's ``LOSS_FUNCTIONS`` compute it from ``p = out(z)``.

    For the log-losses that means probabilities clipped to ``[eps, 1 - eps]`` (``eps`` of the dtype) before
    their logarithm, so a label's loss never exceeds ``-log(eps)`` (36 in float64).
    """
    if kind in ("softmax", "logistic"):
        eps = np.finfo(p.dtype).eps
        p = np.clip(p, eps, 1 - eps)
        if kind == "softmax":
            return -(y * np.log(p))
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    if kind == "exp":  # half the Poisson deviance: xlogy(y, y / p) - y + p
        return np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / p), 0) - y + p
    d = y - p
    return 0.5 * (d * d)


def objective(
    kind: str, z: np.ndarray, y: np.ndarray, weights: np.ndarray | None, total: float
) -> tuple[Any, np.ndarray]:
    """scikit-learn's loss (without the penalty) and its gradient with respect to the logits ``z``.

    A loss in fnn's callable form ``(y_hat, y) -> (value, d value / d y_hat)`` once ``kind``,
    ``weights`` and ``total`` are bound (``functools.partial``).

    Args:
        kind: the output activation: ``softmax``, ``logistic``, ``identity`` or ``exp``.
        z: the logits (n, k). y: the targets (n, k) in z's dtype (one-hot or 0/1 for classes).
        weights: the sample weights (n,), or None for ones.
        total: the normaliser ``S``: the weights' sum over the batch (its length without them);
            for a chunk of a full batch, the full batch's.

    Returns:
        ``(value, delta)``: the loss as scikit-learn reports it (the weighted average over the
        samples of each output's loss, summed over the outputs, or for ``identity`` averaged) and
        ``w * (out(z) - y) / S`` (the gradient of the sum over the outputs).
    """
    p = output(kind, z)
    losses = _elementwise(kind, z, p, y)
    if weights is not None:
        losses *= weights[:, None]
    per_output = losses.sum(axis=0) / total  # np.average(..., weights=w, axis=0), as scikit-learn's losses
    value = per_output.mean() if kind == "identity" else per_output.sum()
    delta = p - y
    if weights is not None:
        delta *= weights[:, None]
    delta /= delta.dtype.type(total)
    return value, delta
