"""The benchmark scripts still run (tiny sizes, no timing asserted): speed goals live in the scripts'
tables, never in tests. benchmarks/epoch.py also checks, before timing, that its hand-written
reference computes fnn's loss, gradient and Adam step (it exits non-zero if not)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[1]


def run(*args):
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr  # progress and the reference check go to stderr


def test_epoch_benchmark_runs_and_its_reference_agrees_with_fnn():
    out = run(
        "benchmarks/epoch.py",
        "--quick",
        "--rows",
        "2000",
        "--only",
        "floor,numpy,fnn",
        "--batches",
        "32",
        "--tiny-reps",
        "2",
    )
    assert "hand-written reference = fnn" in out
    assert "| 32 |" in out and "| tiny 16-16-16-10, 32 |" in out
    assert "16-16-16-10 batch 32 rep 2/2" in out  # the tiny row's own repetitions


def test_epoch_benchmark_profile_runs_and_breaks_the_epoch_down():
    out = run("benchmarks/epoch.py", "--profile", "32", "--rows", "2000", "--reps", "1", "--top", "1")
    assert "### Where fnn's epoch goes, batch 32" in out
    assert "plain SGD in place of Adam" in out  # the optimizer's share, measured inside the epoch


def test_stacked_benchmark_runs():
    out = run("benchmarks/stacked.py", "--quick", "--epochs", "1")
    assert "| batch | hidden H | K |" in out and "| 32 | 64 | 8 |" in out


def test_cnn_benchmark_runs_both_nets_and_measures_memory():
    out = run("benchmarks/cnn.py", "--quick", "--rows", "256", "--batch", "128")
    assert "| LeNet 28×28×1, 2 steps |" in out and "| 1-D CNN 40×1, 2 steps |" in out
    assert "fnn: window matrices (batch 128)" in out and "| LeNet 28×28×1 | " in out
