"""Run functions for the sweep tests, in a module of their own so that worker processes can import them.

A process pool's workers get the test process's ``sys.path`` (spawn and forkserver send it
along), and so do a Dask LocalCluster's worker processes (its nannies start them the same
way); test_sweep.py checks that they really import this module rather than receive code.
"""

import os
import time

import numpy as np

import fnn
import fnn.data
from fnn.sweep import stored_rows


def train_digits(config, key):
    """A few epochs of a small MLP on (a slice of) the embedded digits: a real fnn training run."""
    k_split, k_init, k_train = fnn.random.split(key, 3)
    x, y = fnn.data.load_digits(dtype=config.get("dtype", "float32"))
    x_train, x_test, y_train, y_test = fnn.data.train_test_split(k_split, x[:600], y[:600], test_size=0.25)
    params = fnn.init(
        k_init,
        fnn.mlp(
            [64, config.get("hidden", 16), 10], dropout=config.get("dropout", 0.0), dtype=config.get("dtype", "float32")
        ),
    )
    state = fnn.TrainState.create(params, fnn.optim.adam(lr=config["lr"]), key=k_train)
    state, history = fnn.fit(
        state,
        (x_train, y_train),
        epochs=config.get("epochs", 2),
        batch_size=32,
        loss="cross_entropy",
        validation=0.2,
        verbose=0,
    )
    flat, _ = fnn.tree.ravel(state.params)
    return {
        "loss": float(history["loss"][-1]),
        "val_loss": history["val_loss"],
        "test_accuracy": fnn.metrics.accuracy(y_test, fnn.apply(state.params, x_test)),
        "params": flat.copy(),
    }


def draw(config, key):
    """Cheap: a few draws from the key, scaled by the config."""
    x = fnn.random.normal(key, (3,), std=config["scale"])
    return {"total": float(x.sum()), "draws": x}


def draw_slowly(config, key):
    """``draw`` after sleeping longer for smaller seeds, so that later tasks tend to finish first.

    ``finished`` (CLOCK_MONOTONIC, shared by every process on the machine) lets the test see
    the order the work finished in; it is the one result that differs between runs.
    """
    time.sleep(config["delay"] * (config["slowest"] - key.seed))
    return {**draw(config, key), "finished": time.monotonic_ns()}


def where(config, key):
    """Which process ran the task, and where this module came from there."""
    return {"pid": os.getpid(), "module_file": __file__, "module_name": __name__}


def pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


def fail_on_seed(config, key):
    if key.seed == config["bad_seed"]:
        raise ValueError(f"boom at seed {key.seed}")
    return {"ok": 1}


def returns_list(config, key):
    return [1, 2]


def returns_clash(config, key):
    return {"value": 1, config["clash"]: 2}


def mutates_config(config, key):
    config["scale"] = -1.0
    return {"value": float(np.float64(key.seed))}


def nested_run_factory():
    def nested(config, key):
        return {"value": config["scale"]}

    return nested


class Scaled:
    """A callable object: pickled as its class (by reference) and its fields."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, config, key):
        return {"value": self.factor * config["scale"]}


# ---------------------------------------------------------------- failures, side channels, kills


def note(log, *words):
    """Append one line to the side-channel file ``log`` (one write with O_APPEND: lines never interleave)."""
    if log is None:
        return
    line = " ".join(str(w) for w in words) + "\n"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def pair_word(config, seed):
    """A pair in one word, for the side channel: ``k=v,k=v/seed``."""
    return ",".join(f"{k}={config[k]}" for k in sorted(config)) + f"/{seed}"


def _draws(config, key):
    x = fnn.random.normal(key, (3,), std=config.get("scale", 1.0))
    return {"total": float(x.sum()), "draws": x.tolist()}


def counted(config, key, log=None):
    """``draw``'s results as JSON (a float and a list) after sleeping ``config["sleep"]`` seconds; notes start and
    end in ``log``."""
    note(log, "start", pair_word(config, key.seed), os.getpid())
    time.sleep(config.get("sleep", 0.0))
    result = _draws(config, key)
    note(log, "end", pair_word(config, key.seed), os.getpid())
    return result


def dies(config, key, log=None):
    """Like ``counted``, but the worker dies as ``config["death"]`` says: "exit", "segfault" or "" (none)."""
    note(log, "start", pair_word(config, key.seed), os.getpid())
    time.sleep(config.get("sleep", 0.0))
    if config["death"] == "exit":
        os._exit(3)
    if config["death"] == "segfault":
        import ctypes

        ctypes.string_at(0)
    if config["death"] == "raise":
        raise ValueError(f"boom for {config}")
    return _draws(config, key)


def dies_once(config, key, marks):
    """The worker dies on a pair's first attempt ("once": a file in ``marks`` remembers it), or on every attempt
    ("always"), or never (""); then ``counted``'s results."""
    mark = os.path.join(marks, f"{config['scale']}-{key.seed}.mark")
    if config["death"] == "always" or (config["death"] == "once" and not os.path.exists(mark)):
        open(mark, "w").close()
        os._exit(3)
    return _draws(config, key)


class TwoPartError(Exception):
    """An exception that pickles but cannot be unpickled: its __init__ takes two arguments, its args hold one."""

    def __init__(self, a, b):
        super().__init__(f"{a} went wrong with {b}")


def travels_badly(config, key):
    """Raises what cannot travel back to the driver, or returns it, as ``config["what"]`` says."""
    import threading

    if config["what"] == "two-part error":
        raise TwoPartError("the loss", "the data")
    if config["what"] == "error holding a lock":
        raise RuntimeError("a lock inside", threading.Lock())
    return {"lock": threading.Lock()}


def hangs(config, key, log=None):
    """Sleeps ``config["sleep"]`` seconds (a run that does not return in time when that is long)."""
    note(log, "start", pair_word(config, key.seed), os.getpid())
    time.sleep(config["sleep"])
    return {"slept": config["sleep"]}


# ---------------------------------------------------------------- stores and working directories


def fails_while(config, key, flag, log=None):
    """``counted``'s results, except for scale 1.0 while the file ``flag`` exists: then RuntimeError."""
    note(log, "start", pair_word(config, key.seed), os.getpid())
    if config["scale"] == 1.0 and os.path.exists(flag):
        raise RuntimeError(f"{flag} exists")
    return _draws(config, key)


def reads_store(config, key, path):
    """After ``config["wait"]`` seconds, how many rows the store at ``path`` holds, read from this worker process."""
    time.sleep(config["wait"])
    return {"rows_seen": len(stored_rows(path))}


def where_am_i(config, key, workdir, log=None):
    """The working directory the sweep gave this pair."""
    note(log, "start", pair_word(config, key.seed), os.getpid())
    return {"workdir": os.fspath(workdir)}


def fit_resumable(config, key, workdir, log=None):
    """A small real fit that checkpoints every epoch into ``workdir`` and resumes from it; notes each epoch in ``log``.

    Returns the per-epoch losses and a SHA-256 of the final params' bytes: JSON, so a store keeps them.
    """
    import hashlib

    note(log, "start", pair_word(config, key.seed), os.getpid())
    k_split, k_init, k_train = fnn.random.split(key, 3)
    x, y = fnn.data.load_digits()
    x, y = x[:160], y[:160]
    params = fnn.init(k_init, fnn.mlp([64, 16, 10]))
    state = fnn.TrainState.create(params, fnn.optim.adam(lr=config["lr"]), key=k_train)

    def epoch_done(epoch, state, logs):
        note(log, "epoch", pair_word(config, key.seed), epoch, os.getpid())
        time.sleep(0.05)

    state, history = fnn.fit(
        state,
        (x, y),
        epochs=config["epochs"],
        batch_size=24,
        loss="cross_entropy",
        verbose=0,
        split_key=k_split,
        resume=workdir,
        callbacks=[epoch_done],
    )
    flat, _ = fnn.tree.ravel(state.params)
    note(log, "end", pair_word(config, key.seed), os.getpid())
    return {"loss": [float(v) for v in history["loss"]], "params_sha256": hashlib.sha256(flat.tobytes()).hexdigest()}


def reads_a_main_global(config, key):
    """A run reading a global a script sets under ``if __name__ == "__main__":`` (case 131): workers never set it."""
    if config["i"] == 1:
        return {"v": DATA}  # noqa: F821 - undefined in the workers, on purpose
    return {"v": config["i"]}
