"""The history plot is a real PNG of non-trivial size, with one panel per quantity."""

import numpy as np
import pytest

import fnn

plot = pytest.importorskip("fnn.plot")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def trained_history():
    x, y = fnn.data.load_digits()
    state = fnn.TrainState.create(
        fnn.init(fnn.random.key(0), fnn.mlp([64, 32, 10])), fnn.optim.adam(3e-3), key=fnn.random.key(1)
    )
    return fnn.fit(state, (x[:600], y[:600]), epochs=4, batch_size=32, loss="cross_entropy", validation=0.2, verbose=0)[
        1
    ]


def test_history_png_is_real(tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "history.png"
    fig = plot.history(trained_history(), path=path, title="digits")
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 20_000
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert all(len(ax.get_lines()) == 2 for ax in fig.axes)  # train and validation
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    plt.close(fig)


def test_bad_histories():
    with pytest.raises(fnn.errors.ShapeError, match="lengths"):
        plot.history({"loss": np.ones(3), "val_loss": np.ones(2)})
    with pytest.raises(fnn.errors.ConfigError, match="nothing to plot"):
        plot.history({"time": np.ones(3)})


def test_a_stacked_history_plots_one_line_per_member_and_one_legend_entry_per_curve(tmp_path):
    import matplotlib.pyplot as plt

    x, y = fnn.data.load_digits()
    stacked = fnn.init_many(fnn.random.split(fnn.random.key(0), 3), fnn.mlp([64, 16, 10]))
    state = fnn.TrainState.create(stacked, fnn.optim.adam(3e-3), key=fnn.random.key(1))
    history = fnn.fit(
        state, (x[:300], y[:300]), epochs=3, batch_size=32, loss="cross_entropy", validation=0.2, verbose=0
    )[1]
    path = tmp_path / "stack.png"
    fig = plot.history(history, path=path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert all(len(ax.get_lines()) == 2 * 3 for ax in fig.axes)  # train and validation, 3 members each
    assert [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes] == [["train", "validation"]] * 2
    plt.close(fig)


def test_short_runs_get_whole_epoch_ticks_and_the_png_the_umasks_permissions(tmp_path):
    import os
    import stat

    import matplotlib.pyplot as plt

    history = {"loss": np.linspace(1.0, 0.1, 7), "val_loss": np.linspace(1.1, 0.3, 7)}
    umask = os.umask(0o022)
    try:
        fig = plot.history(history, path=tmp_path / "new" / "h.png")
    finally:
        os.umask(umask)
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 7]
    assert ticks and all(float(t).is_integer() for t in ticks)  # not 2.5, 7.5, ...
    assert stat.S_IMODE((tmp_path / "new" / "h.png").stat().st_mode) == 0o644  # mkstemp made it 0600
    plt.close(fig)


def test_the_kept_epoch_is_marked_and_the_loss_may_be_on_a_log_scale(tmp_path):
    import matplotlib.pyplot as plt

    history = {
        "loss": np.geomspace(3.0, 0.002, 12),
        "val_loss": np.geomspace(3.1, 0.01, 12),
        "accuracy": np.linspace(0.1, 0.9, 12),
    }
    fig = plot.history(history, best_epoch=9, log_scale=True, loss_name="mse")
    loss, accuracy = fig.axes
    assert loss.get_yscale() == "log" and accuracy.get_yscale() == "linear" and loss.get_title() == "loss (mse)"
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["train", "validation", "best epoch 9 (kept)"]
    assert any(list(line.get_xdata()) == [9, 9] for line in accuracy.get_lines())  # in every panel
    plt.close(fig)
    stack = {"loss": np.ones((5, 3)), "val_loss": np.arange(15.0).reshape(5, 3)}
    fig = plot.history(stack, best_epoch=[1, 2, 5])
    points = fig.axes[0].get_lines()[-1]
    assert points.get_xdata().tolist() == [1, 2, 5] and points.get_ydata().tolist() == [0.0, 4.0, 14.0]
    plt.close(fig)
    with pytest.raises(fnn.errors.ConfigError, match=r"best_epoch must be an epoch in \[1, 5\]"):
        plot.history(stack, best_epoch=6)
    with pytest.raises(fnn.errors.ConfigError, match="log_scale needs a positive loss"):
        plot.history({"loss": np.array([1.0, 0.0])}, log_scale=True)
