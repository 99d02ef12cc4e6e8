"""A real run that tests/test_hardening_runs.py starts twice into one directory, and SIGKILLs.

    python tests/runs_lock_child.py checkpoint|resume RUN_DIR LR PAUSE OUT_FILE

waits for a line on standard input (so that a test can start two at the same instant), then fits a
small network with ``checkpoint=RUN_DIR`` or ``resume=RUN_DIR`` (checkpointing every step), printing
``epoch N`` after each epoch and pausing PAUSE seconds there (a negative PAUSE: after epoch 1, until a
second line on standard input, so that the run is live for as long as the test needs), then saves
``{"state", "history"}`` to OUT_FILE. A refused start prints ``refused: <message>`` and exits 3.
"""

import sys
import time

import numpy as np

import fnn

EPOCHS = 6


def setup(lr: float) -> tuple[fnn.TrainState, tuple[np.ndarray, np.ndarray], dict]:
    x = fnn.random.normal(fnn.random.key(0), (64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    state = fnn.TrainState.create(
        fnn.init(fnn.random.key(1), fnn.mlp([4, 8, 2])), fnn.optim.adam(lr), key=fnn.random.key(2)
    )
    return state, (x, y), dict(epochs=EPOCHS, batch_size=16, loss="cross_entropy", verbose=0, checkpoint_every=1)


if __name__ == "__main__":
    mode, run_dir, lr, pause, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    state, data, kwargs = setup(lr)

    def slowly(epoch, state, logs):
        print(f"epoch {epoch}", flush=True)
        if pause < 0 and epoch == 1:  # held live until the test says go on
            sys.stdin.readline()
        else:
            time.sleep(max(pause, 0))

    sys.stdin.readline()
    try:
        state, history = fnn.fit(state, data, callbacks=[slowly], **{mode: run_dir}, **kwargs)
    except fnn.errors.ConfigError as e:
        print(f"refused: {e}", flush=True)
        sys.exit(3)
    fnn.save(out, {"state": state, "history": history})
