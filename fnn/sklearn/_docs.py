"""The parameter and attribute sections both estimators' docstrings share."""

__all__ = ["PARAMETERS", "ATTRIBUTES"]

PARAMETERS = """
    Parameters (scikit-learn's, with its names, order, defaults and meanings; fnn's additions are marked):
        hidden_layer_sizes: the hidden layers' widths, an int or an array-like of ints >= 1; default (100,).
        activation: of the hidden layers: ``identity``, ``logistic``, ``tanh``, ``relu`` (default);
            fnn's addition: any other fnn activation (``sigmoid``, ``gelu``, ``elu``, ...).
        solver: ``"adam"`` (default) and ``"sgd"``, scikit-learn's update rules exactly; ``"lbfgs"``,
            SciPy's L-BFGS-B on the full batch. fnn's addition: the name of any other fnn optimizer
            (``fnn.optim.OPTIMIZERS``: ``rmsprop``, ``nadam``, ...), with ``lr=learning_rate_init``.
        alpha: L2 penalty ``alpha / (2 S) * Σ w²`` on the weight matrices, ``S`` the batch's length (or the
            sum of its sample weights); default 1e-4.
        batch_size: rows per mini-batch, or ``"auto"`` for ``min(200, n_samples)``; a larger one is clipped.
        learning_rate: for ``solver="sgd"``: ``"constant"`` (default), ``"invscaling"``
            (``learning_rate_init / (t + 1) ** power_t`` after t training rows, updated each epoch)
            or ``"adaptive"`` (divided by 5 each time the loss, or validation score, stalls).
        learning_rate_init: the initial rate (> 0); default 1e-3. fnn's addition: an
            :mod:`fnn.optim.schedules` schedule (with ``learning_rate="constant"``).
        power_t: the exponent of ``"invscaling"``; default 0.5.
        max_iter: the most epochs (L-BFGS: iterations) one ``fit`` runs (``partial_fit`` runs one); default 200.
        shuffle: a new order each epoch (drawn from the state's key and step); default True.
        random_state: the seed: None (fresh entropy), an int >= 0, a numpy RandomState (fnn: or Generator).
        tol: the least improvement of the loss (or validation score) that counts; L-BFGS's ``gtol``.
        verbose: print each epoch's loss (and validation score).
        warm_start: ``fit`` continues from ``state_`` instead of starting over; unlike scikit-learn, the
            optimizer state (Adam's moments, SGD's velocity, the current rate) carries over too.
        momentum, nesterovs_momentum: for ``solver="sgd"`` (``momentum`` also for fnn's ``momentum``,
            ``nesterov``); momentum in [0, 1].
        early_stopping: hold out ``validation_fraction`` of the rows (stratified for class labels), stop
            on their score (accuracy, or R²) and keep the best epoch's model.
        validation_fraction: in [0, 1), with ``early_stopping``; default 0.1.
        beta_1, beta_2, epsilon: Adam's (also the ``b1``, ``b2``, ``eps`` of fnn's Adam family).
        n_iter_no_change: epochs without an improvement of ``tol`` tolerated (``np.inf``: never stop on
            it); default 10.
        max_fun: the most loss evaluations of ``solver="lbfgs"``; default 15000.
"""

ATTRIBUTES = """
    Attributes (scikit-learn's, with its meanings, and fnn's state):
        coefs_, intercepts_: the weight matrices (fan_in, fan_out) and bias vectors, layer by layer:
            read-only views of ``params_``.
        loss_: the last epoch's loss (penalty included); L-BFGS: the final loss.
        loss_curve_: each epoch's loss, over every call of a warm-started or partial fit (L-BFGS, fnn's
            addition: the loss after each iteration of this fit).
        best_loss_: the least of ``loss_curve_`` (None with ``early_stopping``; absent for L-BFGS).
        validation_scores_, best_validation_score_: with ``early_stopping``, each epoch's score and the
            best (else None; absent for L-BFGS).
        n_iter_: the epochs (L-BFGS: iterations) of the last call; t_: the training rows seen (L-BFGS: 0).
        n_layers_, n_outputs_, out_activation_ (``softmax``, ``logistic``, ``identity``, ``exp``),
        n_features_in_, feature_names_in_: as in scikit-learn.
        state_: the :class:`fnn.TrainState`: params, optimizer state, key and step.
        params_: the fnn network up to the output activation (``fnn.apply(est.params_, X)`` is the logits).
        seed_: the integer seed all of this model's randomness derives from.
"""
