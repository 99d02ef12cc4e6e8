"""The command line's cases of ../shared/reviews/ux-findings.md §4.9 and §6, each run as `python -m fnn` in a
temporary directory: one-line errors, exit codes of their own, nothing left behind by a failed run, Ctrl-C,
broken pipes, predict, evaluate --json, regression, class names in CSV files, and the plot."""

import json
import signal
import stat
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import fnn
import fnn.data

TRAIN = ["train", "--data", "digits", "--layers", "16", "--epochs", "2", "--batch-size", "32", "--quiet"]


def fnn_cmd(*args, cwd, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "fnn", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def one_line_error(done, *words):
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fnn: error: "), done.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr


def digits_csv(path, names=True, regression=False, rows=None):
    x, y = fnn.data.load_digits()
    x, y = (x, y) if rows is None else (x[:rows], y[:rows])
    if regression:
        target = [f"{v:.6g}" for v in x[:, 20] * 0.5 + x[:, 30] * 0.25 + 0.1]
    else:
        target = ["abcdefghij"[k] if names else str(k) for k in y]
    header = ",".join([*(f"p{i}" for i in range(64)), "label"])
    path.write_text(
        header
        + "\n"
        + "".join(",".join([*(f"{v:g}" for v in row), t]) + "\n" for row, t in zip(x, target, strict=True))
    )
    return path


def test_version_and_a_bare_command(tmp_path):  # C31, C32
    done = fnn_cmd("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"fnn {fnn.__version__}"
    done = fnn_cmd(cwd=tmp_path)
    assert done.returncode == 2 and "usage: fnn" in done.stderr and "train" in done.stderr and "predict" in done.stderr


@pytest.mark.parametrize(
    "bad, words",
    [
        (["--batch-size", "0"], ["--batch-size must be ≥ 1, got 0"]),  # C11
        (["--batch-size", "5000"], ["--batch-size must be in [1, 1294]", "got 5000"]),  # C12
        (["--validation", "1.5"], ["--validation must be a fraction in [0, 1)", "got 1.5"]),  # C13
        (
            ["--validation", "0", "--patience", "5"],
            ["--patience stops on the validation loss", "--validation 0"],
        ),  # C14
    ],
)
def test_a_failed_train_leaves_nothing_that_blocks_the_corrected_command(bad, words, tmp_path):
    done = fnn_cmd(*TRAIN, *bad, "--out", "runs/x", cwd=tmp_path)
    assert done.returncode == 2
    one_line_error(done, *words)
    assert not (tmp_path / "runs" / "x").exists()
    assert fnn_cmd(*TRAIN, "--out", "runs/x", "--resume", cwd=tmp_path).returncode == 0


def test_a_regression_csv_with_cross_entropy_says_to_pass_loss_mse_and_writes_nothing(tmp_path):  # C22
    digits_csv(tmp_path / "regress.csv", regression=True, rows=300)
    done = fnn_cmd("train", "--data", "regress.csv", "--target", "label", "--out", "runs/r", cwd=tmp_path)
    assert done.returncode == 2
    one_line_error(done, "holds real numbers", "--loss mse")
    assert not (tmp_path / "runs").exists()
    done = fnn_cmd(
        "train",
        "--data",
        "regress.csv",
        "--target",
        "label",
        "--loss",
        "mse",
        "--layers",
        "16",
        "--epochs",
        "30",
        "--lr",
        "0.01",
        "--batch-size",
        "16",
        "--quiet",
        "--out",
        "runs/r",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    scores = json.loads(fnn_cmd("evaluate", "runs/r", "--json", cwd=tmp_path).stdout)
    assert (
        set(scores) >= {"loss", "mse", "mae", "rows"}
        and np.isclose(scores["mse"], scores["loss"], rtol=1e-5)
        and scores["mae"] < 2
    )
    done = fnn_cmd("predict", "runs/r", "--data", "regress.csv", cwd=tmp_path)  # to standard output
    rows = done.stdout.splitlines()
    assert done.returncode == 0 and rows[0] == "prediction" and len(rows) == 301


def test_a_divergence_is_one_line_with_its_own_exit_code_and_nothing_kept(tmp_path):  # C18
    done = fnn_cmd(
        "train",
        "--data",
        "digits",
        "--lr",
        "1e6",
        "--optimizer",
        "sgd",
        "--epochs",
        "5",
        "--out",
        "runs/div",
        cwd=tmp_path,
    )
    assert done.returncode == 3
    one_line_error(
        done, "training diverged in epoch 1", "the loss became", "nothing was kept in runs/div", "lower --lr"
    )
    assert not (tmp_path / "runs" / "div").exists()
    assert fnn_cmd(*TRAIN, "--optimizer", "sgd", "--lr", "0.01", "--out", "runs/div", cwd=tmp_path).returncode == 0


def test_ctrl_c_prints_how_to_resume_and_exits_130(tmp_path):  # C19
    argv = ["train", "--data", "digits", "--layers", "16", "--epochs", "500", "--batch-size", "8", "--out", "runs/int"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fnn", *argv], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        while proc.poll() is None and not any(
            s > 0 for s, _ in fnn.io.list_checkpoints(tmp_path / "runs/int/checkpoints")
        ):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fnn: interrupted in epoch "), err
    command = "fnn train --data digits --layers 16 --epochs 500 --batch-size 8 --out runs/int --resume"
    assert lines[0].endswith(f"continue it with: {command}") and "Traceback" not in err
    epoch = int(lines[0].split("interrupted in epoch ")[1].split(";")[0])
    resumed = (
        fnn_cmd(*command.split()[1:], cwd=tmp_path)
        if False
        else fnn_cmd(*[a if a != "500" else str(epoch) for a in command.split()[1:]], "--quiet", cwd=tmp_path)
    )
    assert resumed.returncode == 0, resumed.stderr


def test_a_closed_pipe_does_not_stop_training(tmp_path):
    train = f"{sys.executable} -m fnn train --data digits --layers 16 --epochs 6 --batch-size 64 --out runs/p"
    script = f"{train} | head -n 1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("epoch 1/6") and "Broken pipe" not in done.stderr and "Traceback" not in done.stderr
    assert len(fnn.load(tmp_path / "runs/p/model.npz")["history"]["loss"]) == 6


def test_class_names_in_a_csv_predict_and_evaluate(tmp_path):  # C20, and §6's predict and --json
    digits_csv(tmp_path / "named.csv")
    done = fnn_cmd(
        "train",
        "--data",
        "named.csv",
        "--target",
        "label",
        "--layers",
        "32",
        "--epochs",
        "15",
        "--quiet",
        "--out",
        "runs/n",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "runs/n/config.json").read_text())["classes"] == list("abcdefghij")
    scores = json.loads(fnn_cmd("evaluate", "runs/n", "--json", cwd=tmp_path).stdout)
    assert scores["accuracy"] > 0.9 and scores["split"] == "held-out test rows"
    done = fnn_cmd("predict", "runs/n", "--data", "named.csv", "--out", "out/predictions.csv", cwd=tmp_path)
    assert done.returncode == 0 and "wrote out/predictions.csv: 1797 predictions" in done.stdout
    rows = (tmp_path / "out/predictions.csv").read_text().splitlines()
    assert rows[0] == "label," + ",".join(f"p_{c}" for c in "abcdefghij") and len(rows) == 1798
    predicted = [r.split(",")[0] for r in rows[1:]]
    truth = [line.rsplit(",", 1)[1] for line in (tmp_path / "named.csv").read_text().splitlines()[1:]]
    assert np.mean([p == t for p, t in zip(predicted, truth, strict=True)]) > 0.9
    # the features alone (no target column) predict the same
    lines = (tmp_path / "named.csv").read_text().splitlines()
    (tmp_path / "features.csv").write_text("".join(line.rsplit(",", 1)[0] + "\n" for line in lines))
    done = fnn_cmd("predict", "runs/n", "--data", "features.csv", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.splitlines() == rows
    # a class the run never saw
    (tmp_path / "other.csv").write_text(lines[0] + "\n" + lines[1].rsplit(",", 1)[0] + ",zebra\n")
    one_line_error(
        fnn_cmd("evaluate", "runs/n", "--data", "other.csv", cwd=tmp_path), "'zebra'", "never saw", "a, b, c"
    )


def test_the_plot_is_a_png_others_can_read_with_the_kept_epoch(tmp_path):
    script = (
        f"umask 022; {sys.executable} -m fnn train --data digits --layers 16 --epochs 40 --batch-size 32 --lr 0.01 "
        f"--patience 2 --quiet --out runs/es"
    )
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "history.png" in done.stdout.splitlines()[-1]
    png = tmp_path / "runs/es/history.png"
    assert stat.S_IMODE(png.stat().st_mode) == 0o644  # as any file the umask allows (it was 0600)
    data = png.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (1000, 380) and len(data) > 20_000
    summary = fnn_cmd("summary", "runs/es", cwd=tmp_path).stdout.splitlines()[-1]
    history = fnn.load(tmp_path / "runs/es/model.npz")["history"]
    best = int(np.nanargmin(history["val_loss"])) + 1
    assert (
        f"early stopping kept epoch {best}: " in summary and f"val_loss {history['val_loss'][best - 1]:.4f}" in summary
    )


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--data", "missing.csv", "--out", "r"], ["--data missing.csv: no such file"]),  # C8
        (["evaluate", "runs/nonexistent"], ["runs/nonexistent does not exist"]),  # C26
    ],
)
def test_one_line_errors_that_say_what_is_wrong(argv, words, tmp_path):
    done = fnn_cmd(*argv, cwd=tmp_path)
    assert done.returncode == 2
    one_line_error(done, *words)


def test_a_file_for_a_run_directory_and_another_data_set(tmp_path):  # C27, C29
    assert fnn_cmd(*TRAIN, "--out", "runs/d", cwd=tmp_path).returncode == 0
    one_line_error(
        fnn_cmd("summary", "runs/d/model.npz", cwd=tmp_path),
        "runs/d/model.npz is a file",
        "pass its run directory, runs/d",
    )
    pytest.importorskip("sklearn")
    one_line_error(
        fnn_cmd("evaluate", "runs/d", "--data", "iris", cwd=tmp_path),
        "--data iris has 4 features, but the run was trained on 64 (digits)",
    )
