"""Issue 16's command-line findings (../shared/reviews/reliability-findings.md F10, F16, and F3/F4 for
``fnn train``): every case is one line on stderr and a documented exit code, never a traceback; each runs
``python -m fnn`` as a real subprocess in a temporary directory."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest

import fnn
from fnn import cli

ROOT = pathlib.Path(__file__).parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}  # this fnn
TRAIN = ["train", "--data", "digits", "--layers", "16", "--epochs", "2", "--batch-size", "64", "--quiet"]


def fnn_cmd(*args, cwd, stdout=subprocess.PIPE, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "fnn", *map(str, args)],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def one_line(done, code, *words):
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, (done.returncode, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("fnn: error: "), done.stderr
    assert "Traceback" not in done.stderr and all(w in lines[0] for w in words), lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished run directory, copied by each case that damages one."""
    where = tmp_path_factory.mktemp("trained")
    done = fnn_cmd(*TRAIN, "--out", "run", cwd=where)
    assert done.returncode == 0, done.stderr
    return where / "run"


def copy_of(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def latin1_csv(path):
    path.write_bytes("a,b,label\n1,2,caf\xe9\n3,4,th\xe9\n".encode("latin-1"))
    return path


def test_out_is_a_file_or_under_a_file(tmp_path):  # F16
    (tmp_path / "f").write_text("x")
    one_line(fnn_cmd(*TRAIN, "--out", "f", cwd=tmp_path), cli.USAGE, "--out f", "is a file")
    one_line(fnn_cmd(*TRAIN, "--out", "f/run", cwd=tmp_path), cli.USAGE, "--out f/run", "f is a file")


def test_a_csv_that_is_not_utf8(tmp_path, trained):  # F16: train and evaluate
    latin1_csv(tmp_path / "latin1.csv")
    one_line(fnn_cmd(*TRAIN, "--data", "latin1.csv", "--out", "r", cwd=tmp_path), cli.USAGE, "latin1.csv", "UTF-8")
    assert not (tmp_path / "r").exists()
    one_line(fnn_cmd("evaluate", trained, "--data", "latin1.csv", cwd=tmp_path), cli.USAGE, "latin1.csv", "UTF-8")


@pytest.mark.parametrize("damage", ["[]", "{}", "directory", "latin1", "not json", '{"data": "digits"}'])
@pytest.mark.parametrize("command", ["evaluate", "summary", "resume"])
def test_a_damaged_config_json(tmp_path, trained, damage, command):  # F16
    run = copy_of(trained, tmp_path)
    config = run / cli.CONFIG
    config.unlink()
    if damage == "directory":
        config.mkdir()
    elif damage == "latin1":
        config.write_bytes('{"data": "caf\xe9"}'.encode("latin-1"))
    else:
        config.write_text(damage)
    argv = [*TRAIN, "--resume", "run"] if command == "resume" else [command, "run"]
    one_line(fnn_cmd(*argv, cwd=tmp_path), cli.USAGE, "config.json")


@pytest.mark.parametrize(
    "damage", ["plain params", "no scaler", "history without loss", "bit flip", "encrypted flag", "not a zip"]
)
@pytest.mark.parametrize("command", ["evaluate", "summary", "predict"])
def test_a_damaged_model_file(tmp_path, trained, damage, command):  # F16 (and F7 through the command)
    run = copy_of(trained, tmp_path)
    model = run / cli.MODEL
    saved = fnn.load(model)
    if damage == "plain params":
        fnn.save(model, saved["state"].params)
    elif damage == "no scaler":
        fnn.save(model, {k: v for k, v in saved.items() if k != "scaler"})
    elif damage == "history without loss":
        fnn.save(model, {**saved, "history": {k: v for k, v in saved["history"].items() if k != "loss"}})
    elif damage in ("bit flip", "encrypted flag"):  # one bit of the zip's central directory (F7's RuntimeError)
        data = bytearray(model.read_bytes())
        at = data.rfind(b"PK\x01\x02") + (10 if damage == "bit flip" else 8)
        data[at] ^= 0x01
        model.write_bytes(bytes(data))
    else:
        model.write_bytes(b"not a zip at all")
    argv = [command, "run"] + (["--data", "digits"] if command == "predict" else [])
    done = fnn_cmd(*argv, cwd=tmp_path)
    one_line(done, cli.USAGE, "model.npz")


def test_a_full_disk_is_one_line(tmp_path, trained):  # F16: ENOSPC
    done = subprocess.run(
        f"{shlex_python()} -m fnn predict run --data digits > /dev/full",
        shell=True,
        cwd=trained.parent,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=240,
    )
    one_line(done, cli.FAILED, "No space left on device")
    mount = tmp_path / "small"
    mount.mkdir()
    if (
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=120k", "tmpfs", str(mount)], capture_output=True).returncode
        != 0
    ):
        pytest.skip("no tmpfs mount here (needs root): the /dev/full case ran")
    try:
        done = fnn_cmd(*TRAIN, "--out", mount / "run", cwd=tmp_path)
        one_line(done, cli.FAILED, "No space left on device")
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def shlex_python():
    import shlex

    return shlex.quote(sys.executable)


def test_a_closed_pipe_does_not_stop_training(tmp_path):  # F10
    script = (
        f"{shlex_python()} -m fnn train --data digits --layers 16 --epochs 6 --batch-size 64 --out runs/p "
        f"| head -n 1; exit ${{PIPESTATUS[0]}}"
    )
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=240, env=ENV)
    assert done.returncode == 0 and done.stdout.startswith("epoch 1/6"), done.stderr
    assert done.stderr == "", done.stderr
    assert len(fnn.load(tmp_path / "runs/p/model.npz")["history"]["loss"]) == 6


def test_a_second_train_into_a_live_run_is_refused_with_its_own_exit_code(tmp_path):  # F3, F4 through the command
    argv = [
        sys.executable,
        "-m",
        "fnn",
        "train",
        "--data",
        "digits",
        "--layers",
        "256,256",
        "--epochs",
        "5000",
        "--batch-size",
        "16",
        "--out",
        "run",
        "--quiet",
    ]
    first = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 120
        while not fnn.io.list_checkpoints(tmp_path / "run" / cli.CHECKPOINTS):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.05)
        # a new run into a started one is refused as before; the same command with --resume finds it live
        one_line(fnn_cmd(*argv[3:], cwd=tmp_path), cli.USAGE, "already holds a run")
        one_line(fnn_cmd(*argv[3:], "--resume", cwd=tmp_path), cli.BUSY, "run", f"process {first.pid}")
        assert first.poll() is None
    finally:
        first.kill()
        first.communicate()
    config = json.loads((tmp_path / "run" / cli.CONFIG).read_text())
    assert config["layers"] == "256,256"  # the live run's config.json is its own


def test_exit_codes_are_documented():
    for text in (cli.__doc__, cli.EPILOG):
        for code in (cli.USAGE, cli.FAILED, cli.DIVERGED, cli.BUSY, cli.INTERRUPTED):
            assert f"{code} " in text, (code, text)
