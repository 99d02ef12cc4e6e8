"""The fnn command end to end, in temporary directories, reading back what it wrote."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import fnn
from fnn.cli import main

TRAIN = ["train", "--data", "digits", "--layers", "32", "--batch-size", "32", "--quiet"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_evaluate_summary_end_to_end(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, _ = run(capsys, *TRAIN, "--epochs", "3", "--out", str(out_dir))
    assert code == 0 and "wrote" in out
    assert {p.name for p in out_dir.iterdir()} >= {"model.npz", "config.json", "history.json", "history.csv"}
    history = json.loads((out_dir / "history.json").read_text())
    assert len(history["loss"]) == 3 and set(history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    rows = (out_dir / "history.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,loss") and len(rows) == 4
    saved = fnn.load(out_dir / "model.npz")
    assert saved["state"].step > 0 and np.array_equal(saved["history"]["loss"], history["loss"])

    code, out, _ = run(capsys, "evaluate", str(out_dir))
    accuracy = float(out.split("accuracy: ")[1].split()[0])
    assert code == 0 and 0.5 < accuracy <= 1.0

    code, out, _ = run(capsys, "summary", str(out_dir))
    total = fnn.tree.ravel(saved["state"].params)[0].size
    assert code == 0 and f"Total params: {total:,}" in out


def test_resume_continues_bit_for_bit(tmp_path, capsys):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run(capsys, *TRAIN, "--epochs", "4", "--out", str(whole))[0] == 0
    assert run(capsys, *TRAIN, "--epochs", "2", "--out", str(parts))[0] == 0
    assert run(capsys, *TRAIN, "--epochs", "4", "--out", str(parts), "--resume")[0] == 0
    a, b = fnn.load(whole / "model.npz"), fnn.load(parts / "model.npz")
    fnn.tree.assert_equal(a["state"], b["state"])
    for k in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert np.array_equal(a["history"][k], b["history"][k]), k


def test_resume_run_dir_serves_the_first_start_and_every_restart_and_counts_the_runs_epochs(tmp_path, capsys):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    verbose = [a for a in TRAIN if a != "--quiet"]
    assert run(capsys, *TRAIN, "--epochs", "4", "--out", str(whole))[0] == 0
    code, out, _ = run(capsys, *verbose, "--epochs", "2", "--resume", str(parts))  # nothing there yet: a start
    assert code == 0 and [line.split()[1] for line in out.splitlines() if line.startswith("epoch")] == ["1/2", "2/2"]
    code, out, _ = run(capsys, *verbose, "--epochs", "4", "--resume", str(parts))
    assert code == 0 and [line.split()[1] for line in out.splitlines() if line.startswith("epoch")] == ["3/4", "4/4"]
    a, b = fnn.load(whole / "model.npz"), fnn.load(parts / "model.npz")
    fnn.tree.assert_equal(a["state"], b["state"])
    assert (
        json.loads((parts / "history.json").read_text())["val_loss"]
        == json.loads((whole / "history.json").read_text())["val_loss"]
    )


def test_a_killed_training_command_resumes_bit_for_bit(tmp_path, capsys):
    argv = [*TRAIN, "--epochs", "5", "--checkpoint-every", "1", "--resume", str(tmp_path / "killed")]
    with subprocess.Popen(
        [sys.executable, "-m", "fnn", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        try:  # wait until training is well inside its first epoch (41 steps), however slow the machine
            while proc.poll() is None and not any(
                s >= 10 for s, _ in fnn.io.list_checkpoints(tmp_path / "killed" / "checkpoints")
            ):
                time.sleep(0.005)
        finally:
            proc.send_signal(signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL and not (tmp_path / "killed" / "model.npz").exists()
    code, _, err = run(capsys, "evaluate", str(tmp_path / "killed"))
    assert code == 2 and "has not finished" in err
    assert run(capsys, *argv)[0] == 0
    assert run(capsys, *TRAIN, "--epochs", "5", "--out", str(tmp_path / "whole"))[0] == 0
    a, b = fnn.load(tmp_path / "whole" / "model.npz"), fnn.load(tmp_path / "killed" / "model.npz")
    fnn.tree.assert_equal(a["state"], b["state"])
    for k in ("loss", "val_loss", "accuracy", "val_accuracy"):
        assert np.array_equal(a["history"][k], b["history"][k]), k


def test_plot_is_written_as_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run(capsys, *TRAIN, "--epochs", "2", "--out", str(tmp_path / "r"))
    data = (tmp_path / "r" / "history.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_csv_data(tmp_path, capsys):
    x = fnn.random.normal(fnn.random.key(0), (120, 3))
    y = (x[:, 0] > 0).astype(int)
    path = tmp_path / "points.csv"
    path.write_text("a,b,c,label\n" + "".join(f"{r[0]},{r[1]},{r[2]},{t}\n" for r, t in zip(x, y, strict=True)))
    code, _, _ = run(
        capsys,
        "train",
        "--data",
        str(path),
        "--target",
        "label",
        "--layers",
        "8",
        "--epochs",
        "40",
        "--lr",
        "0.01",
        "--quiet",
        "--out",
        str(tmp_path / "r"),
    )
    assert code == 0
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "r"))
    assert code == 0 and float(out.split("accuracy: ")[1].split()[0]) > 0.8


@pytest.mark.parametrize(
    "argv",
    [
        ["dance"],
        ["train", "--out", "x"],
        ["train", "--data", "nope", "--out", "x"],
        ["train", "--data", "digits", "--layers", "a,b", "--out", "x"],
        ["train", "--data", "digits", "--epochs", "-1", "--out", "x"],
        ["train", "--data", "digits", "--optimizer", "adamm", "--out", "x"],
        ["train", "--data", "digits", "--batch-size", "0", "--out", "x"],
        ["train", "--data", "mnist:/nonexistent", "--out", "x"],
        ["evaluate", "/nonexistent/run"],
        ["train", "--data", "digits", "--lr", "fast", "--out", "x"],
        ["train", "--data", "digits"],
        ["train", "--data", "digits", "--out", "x", "--resume", "y"],
        ["train", "--data", "digits", "--out", "x", "--checkpoint-every", "0"],
        ["train", "--data", "digits", "--out", "x", "--checkpoint-every", "steps"],
    ],
)
def test_bad_arguments_give_one_line_and_exit_code_2(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("fnn: error: "), err


def test_refuses_to_overwrite_a_run_without_resume_or_to_resume_with_other_settings(tmp_path, capsys):
    run(capsys, *TRAIN, "--epochs", "1", "--out", str(tmp_path / "r"))
    code, _, err = run(capsys, *TRAIN, "--epochs", "1", "--out", str(tmp_path / "r"))
    assert code == 2 and "--resume" in err
    code, _, err = run(capsys, *TRAIN, "--epochs", "2", "--seed", "1", "--resume", str(tmp_path / "r"))
    assert code == 2 and "--seed 1" in err
    code, _, err = run(capsys, *TRAIN, "--epochs", "0", "--resume", str(tmp_path / "r"))
    assert code == 2 and "the run has done 1 epochs" in err


def test_python_dash_m_and_help(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fnn", "train", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--batch-size" in done.stdout and "--resume" in done.stdout
    done = subprocess.run([sys.executable, "-m", "fnn", "summary", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
