"""The run that tests/test_resume.py kills with SIGKILL and restarts: a small, real training run.

    python tests/crash_resume_child.py RUN_DIR OUT_FILE STEPS

prints ``ready`` once set up, then fits with ``resume=RUN_DIR`` (checkpointing every STEPS
optimizer steps) and saves ``{"state", "history"}`` to OUT_FILE. The same command line serves the
first start and every restart. ``setup()`` gives the test the very same state, data and settings.
"""

import sys

import numpy as np

import fnn

ROWS, EPOCHS = 600, 12


def setup() -> tuple[fnn.TrainState, tuple[np.ndarray, np.ndarray], dict]:
    """The starting state, the data and fit's keyword arguments (dropout, Adam, validation, early stopping)."""
    x, y = fnn.data.load_digits()
    x, y = x[:ROWS], y[:ROWS]
    spec = fnn.mlp([64, 32, 10], dropout=0.2)
    k_init, k_train = fnn.random.split(fnn.random.key(6))
    state = fnn.TrainState.create(fnn.init(k_init, spec), fnn.optim.adam(0.01), key=k_train)
    kwargs = dict(
        epochs=EPOCHS,
        batch_size=16,
        loss="cross_entropy",
        validation=0.2,
        verbose=0,
        early_stopping=fnn.EarlyStopping("val_loss", patience=EPOCHS),
    )
    return state, (x, y), kwargs


if __name__ == "__main__":
    run_dir, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    state, data, kwargs = setup()
    print("ready", flush=True)
    state, history = fnn.fit(state, data, resume=run_dir, checkpoint_every=steps, **kwargs)
    fnn.save(out, {"state": state, "history": history})
