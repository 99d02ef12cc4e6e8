"""``fnn train --model``: CNNs from the shell, as real subprocesses in temporary directories.

The runs are saved, reloaded by ``fnn evaluate``/``predict``/``summary`` and resumed like the MLP's;
a spec that cannot be built is one line naming the item, exit code 2, and no run directory.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fnn
from fnn import _model_spec
from fnn.errors import ConfigError

ROOT = Path(fnn.__file__).resolve().parent.parent  # this checkout's fnn, whatever directory the command runs in
SMALL = "conv:4x3:same,relu,pool:2"  # 8×8×1 → 4×4×4: fast enough for a test
TRAIN = ["train", "--data", "digits", "--batch-size", "64", "--quiet"]


def fnn_cmd(cwd, *argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "fnn", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_a_cnn_run_trains_saves_and_is_reloaded_by_evaluate_predict_and_summary(tmp_path):
    done = fnn_cmd(tmp_path, *TRAIN, "--model", SMALL, "--epochs", "4", "--lr", "0.01", "--out", "run")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"] == SMALL
    layers = fnn.load(tmp_path / "run" / "model.npz")["state"].params.layers
    assert [type(layer).__name__ for layer in layers][:4] == ["Reshape", "Conv2DParams", "Activation", "MaxPool2D"]

    done = fnn_cmd(tmp_path, "evaluate", "run", "--json")
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    assert scores["split"] == "held-out test rows" and scores["accuracy"] > 0.8  # chance is 0.1

    done = fnn_cmd(tmp_path, "predict", "run", "--data", "digits", "--out", "p.csv")
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0].split(",")[:2] == ["label", "p_0"] and len(rows) == 1 + len(fnn.data.load_digits()[1])

    done = fnn_cmd(tmp_path, "summary", "run")
    assert done.returncode == 0 and "Conv2D" in done.stdout and "(None, 8, 8, 4)" in done.stdout, done.stdout


def test_the_cnn_preset_and_a_spec_resume_bit_for_bit_and_refuse_another_model(tmp_path):
    whole = fnn_cmd(tmp_path, *TRAIN, "--model", "cnn", "--epochs", "2", "--out", "whole")
    part = fnn_cmd(tmp_path, *TRAIN, "--model", "cnn", "--epochs", "1", "--out", "parts")
    rest = fnn_cmd(tmp_path, *TRAIN, "--model", "cnn", "--epochs", "2", "--resume", "parts")
    assert [d.returncode for d in (whole, part, rest)] == [0, 0, 0], (whole.stderr, part.stderr, rest.stderr)
    a, b = fnn.load(tmp_path / "whole" / "model.npz"), fnn.load(tmp_path / "parts" / "model.npz")
    fnn.tree.assert_equal(a["state"], b["state"])
    assert np.array_equal(a["history"]["val_loss"], b["history"]["val_loss"])

    other = fnn_cmd(tmp_path, *TRAIN, "--model", SMALL, "--epochs", "3", "--resume", "parts")
    assert other.returncode == 2 and "--model" in other.stderr and "'cnn'" in other.stderr, other.stderr


@pytest.mark.parametrize(
    "model, words",
    [
        ("conv:4", "expected NxN"),
        ("conv:4x3:valid", "options are :same and :sN"),
        ("conv:4x3:same:s2", "needs stride 1"),
        ("pool:x", "'pool:x'"),
        ("conv:4x9", "'conv:4x9' on samples of shape (8, 8, 1)"),  # the kernel is larger than the image
        ("input:7x7x1,conv:4x3", "holds 49 values, but --data digits has 64 features"),
        ("swirl", "is not one of"),
        (",", "must be mlp, cnn or"),
    ],
)
def test_a_spec_that_cannot_be_built_is_one_line_naming_the_item_and_writes_nothing(tmp_path, model, words):
    done = fnn_cmd(tmp_path, *TRAIN, "--model", model, "--epochs", "1", "--out", "run")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and words in done.stderr, done.stderr
    assert done.stderr.startswith("fnn: error: --model")
    assert not (tmp_path / "run").exists()


def test_a_csv_needs_the_shape_of_a_row():
    with pytest.raises(ConfigError, match=r"say the shape of a row first, e\.g\. 'input:HxWxC"):
        _model_spec.build("cnn", features=64, outputs=3, data="pixels.csv", dtype="float32")
    spec = _model_spec.build(
        "input:16x2,conv:3x5:s2,relu,globalmax", features=32, outputs=3, data="x.csv", dtype="float64"
    )
    assert [type(layer).__name__ for layer in spec.layers] == [
        "Reshape",
        "Conv1D",
        "Activation",
        "GlobalMaxPool",
        "Dense",
        "Activation",
    ]  # already flat: no Flatten
    assert fnn.output_shape(spec, batch=5) == (5, 3)


def test_mlp_is_the_default_and_a_regression_has_no_softmax():
    assert _model_spec.build("mlp", features=4, outputs=3, data="iris", dtype="float32", hidden=[8]).layers[
        -1
    ] == fnn.Activation("softmax")
    spec = _model_spec.build(
        "input:2x2x1,avgpool:2,dense:4,tanh,dropout:0.5,batchnorm",
        features=4,
        outputs=1,
        data="x.csv",
        dtype="float64",
        regression=True,
    )
    assert type(spec.layers[-1]).__name__ == "Dense" and fnn.output_shape(spec, batch=2) == (2, 1)
    assert [type(layer).__name__ for layer in spec.layers][2:4] == ["Flatten", "Dense"]  # dense:N flattens first


def test_dense_after_a_convolution_flattens_first_as_the_output_layer_does():
    spec = _model_spec.build(
        "input:12x3,conv:3x3,relu,dense:5,relu", features=36, outputs=2, data="x.csv", dtype="float64"
    )
    names = [type(layer).__name__ for layer in spec.layers]
    assert names[:5] == ["Reshape", "Conv1D", "Activation", "Flatten", "Dense"] and names.count("Flatten") == 1
