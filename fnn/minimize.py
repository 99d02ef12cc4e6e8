"""Full-batch L-BFGS on the flat parameter vector, through ``scipy.optimize.minimize`` (optional extra).

As scikit-learn's MLP does with its packed coefficients, the whole data set's loss and
gradient (:func:`fnn.value_and_grad`) are handed to SciPy's L-BFGS-B as one function of
the flat vector. It is a separate entry point, not an optimizer for :func:`fnn.fit`:
L-BFGS needs the full-batch loss for its line search, and has no epochs or mini-batches.

Needs scipy: ``pip install 'fnn[lbfgs]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from fnn import tree
from fnn._checks import integer, real
from fnn.backprop import _check_batch, _check_l2, check_loss_output, value_and_grad_unchecked
from fnn.errors import ConfigError
from fnn.layers import SequentialParams
from fnn.losses import Loss
from fnn.losses import get as get_loss
from fnn.network import sample_out_shape

__all__ = ["minimize", "MinimizeResult"]


@attrs.frozen
class MinimizeResult:
    """What :func:`minimize` reports besides the params.

    Attributes:
        loss: the final loss (with the l2 term).
        loss_curve: the loss at each L-BFGS iteration (the starting point first).
        iterations, evaluations: L-BFGS iterations and loss/gradient evaluations.
        converged: SciPy's success flag; ``message`` its reason for stopping.
    """

    loss: float
    loss_curve: np.ndarray
    iterations: int
    evaluations: int
    converged: bool
    message: str


def _check_count(value: Any, what: str) -> int:
    return integer(value, f"minimize: {what}", minimum=1)


def minimize(
    params: SequentialParams,
    data: tuple[Any, Any],
    *,
    loss: Loss | Callable | str,
    l2: float = 0.0,
    maxiter: int = 200,
    tol: float = 1e-7,
    memory: int = 10,
) -> tuple[SequentialParams, MinimizeResult]:
    """Minimise the full-batch loss of ``params`` on ``data`` with L-BFGS-B.

    The loss and gradient are evaluated in the params' dtype (float32 stays float32); SciPy
    keeps its own iterate in float64, and the result is cast back to the params' dtype and
    packed into one read-only flat buffer. Deterministic: no randomness is involved.

    Args:
        params: the starting point, from :func:`fnn.init`.
        data: ``(x, y)``, all of it (no mini-batches).
        loss, l2: as in :func:`fnn.value_and_grad`.
        maxiter: most L-BFGS iterations.
        tol: stop when the relative reduction of the loss falls below ``tol`` (SciPy's ``ftol``),
            or the largest gradient entry below ``tol`` (``gtol``).
        memory: number of curvature pairs kept (SciPy's ``maxcor``).

    Returns:
        ``(params, result)`` with result a :class:`MinimizeResult`.

    Raises:
        ImportError: scipy is not installed.

    >>> import numpy as np, fnn
    >>> x = fnn.random.normal(fnn.random.key(0), (100, 3))
    >>> y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(int)
    >>> params = fnn.init(fnn.random.key(1), fnn.mlp([3, 2], dtype=np.float64))
    >>> params, result = fnn.minimize(params, (x, y), loss="cross_entropy", l2=1e-3)
    >>> bool(result.loss < result.loss_curve[0]), fnn.metrics.accuracy(y, fnn.apply(params, x)) > 0.95
    (True, True)
    """
    try:
        from scipy.optimize import minimize as scipy_minimize
    except ImportError as e:
        raise ImportError("fnn.minimize needs scipy: pip install 'fnn[lbfgs]'") from e
    x, y = _check_batch(params, data, "minimize")
    if params.members is not None:
        raise ConfigError(
            f"minimize: L-BFGS of a stack of {params.members} networks would share one line search and one "
            f"curvature estimate among them; minimize each of fnn.unstack(params) on its own"
        )
    if tree.has_state(params):
        raise ConfigError(
            "minimize: these params hold running statistics (BatchNorm); full-batch L-BFGS runs the network in "
            "inference mode, where they would stay at their initial values: train it with fnn.fit instead"
        )
    loss = get_loss(loss)
    check_loss_output(params, loss, "minimize")
    l2 = _check_l2(l2)
    maxiter = _check_count(maxiter, "maxiter")
    memory = _check_count(memory, "memory")
    tol = real(tol, "minimize: tol", low=0, high=1, low_open=True, high_open=True)
    if isinstance(loss, Loss):
        y = loss.targets(y, (x.shape[0], *sample_out_shape(params)), params.dtype)
    flat, unravel = tree.ravel(params)
    dtype = flat.dtype
    evaluations = [0]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        evaluations[0] += 1
        value, grads = value_and_grad_unchecked(
            unravel(theta.astype(dtype)), x, y, loss, l2, None, train=False, unravel=unravel
        )
        return float(value), tree.ravel(grads)[0].astype(np.float64)

    curve = [fun(flat.astype(np.float64))[0]]
    evaluations[0] = 0
    result = scipy_minimize(
        fun,
        flat.astype(np.float64),
        jac=True,
        method="L-BFGS-B",
        callback=lambda intermediate_result: curve.append(float(intermediate_result.fun)),
        options={"maxiter": maxiter, "ftol": tol, "gtol": tol, "maxcor": memory},
    )
    new = result.x.astype(dtype)
    new.flags.writeable = False
    info = MinimizeResult(
        loss=float(result.fun),
        loss_curve=np.asarray(curve),
        iterations=int(result.nit),
        evaluations=evaluations[0],
        converged=bool(result.success),
        message=str(result.message),
    )
    return unravel(new), info
