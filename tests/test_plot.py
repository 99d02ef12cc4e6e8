"""The history plot is a real PNG of non-trivial size, with one panel per quantity."""

import numpy as np
import pytest

import fnn

plot = pytest.importorskip("fnn.plot")
pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def trained_history():
    x, y = fnn.data.load_digits()
    state = fnn.TrainState.create(fnn.init(fnn.random.key(0), fnn.mlp([64, 32, 10])), fnn.optim.adam(3e-3),
                                  key=fnn.random.key(1))
    return fnn.fit(state, (x[:600], y[:600]), epochs=4, batch_size=32, loss="cross_entropy", validation=0.2, verbose=0)[1]


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
    history = fnn.fit(state, (x[:300], y[:300]), epochs=3, batch_size=32, loss="cross_entropy", validation=0.2, verbose=0)[1]
    path = tmp_path / "stack.png"
    fig = plot.history(history, path=path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert all(len(ax.get_lines()) == 2 * 3 for ax in fig.axes)  # train and validation, 3 members each
    assert [[t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes] == [["train", "validation"]] * 2
    plt.close(fig)
