"""Laws of random search (same key, same configs, pinned for any machine; prefixes; bounds; names drawn apart) and the
progress display."""

import collections
import math
import sys

import pytest
import sweep_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from test_sweep import assert_rows_equal, direct_rows
from test_sweep_failures import FLAKY, GRID, SERIAL

import fnn
from fnn.errors import ConfigError
from fnn.sweep.space import Choice, Integer, LogUniform, Uniform, random_search

SPACE = {
    "lr": LogUniform(1e-4, 1e-1),
    "width": Integer(16, 128),
    "act": Choice(["relu", "tanh", "gelu"]),
    "dropout": Uniform(0.0, 0.5),
    "epochs": 10,
}


def test_the_same_key_gives_these_configs_on_every_machine():
    """Pinned values: a change of the drawing scheme, or a platform whose draws differ, fails here."""
    assert random_search(fnn.random.key(2026), SPACE, 3) == [
        {"lr": 0.07147858997722856, "width": 108, "act": "tanh", "dropout": 0.4018976842201333, "epochs": 10},
        {"lr": 0.0004351646457865687, "width": 67, "act": "gelu", "dropout": 0.4467036631325218, "epochs": 10},
        {"lr": 0.00014843634879628284, "width": 37, "act": "gelu", "dropout": 0.25460319220193606, "epochs": 10},
    ]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**40), st.integers(1, 12), st.integers(1, 12))
def test_a_shorter_search_is_the_start_of_a_longer_one(seed, m, n):
    short, long = (
        random_search(fnn.random.key(seed), SPACE, min(m, n)),
        random_search(fnn.random.key(seed), SPACE, max(m, n)),
    )
    assert long[: len(short)] == short
    assert random_search(fnn.random.key(seed + 1), SPACE, len(short)) != short


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**40))
def test_adding_a_dimension_leaves_the_others_as_they_were(seed):
    wider = {**SPACE, "momentum": Uniform(0.8, 0.99)}
    for a, b in zip(
        random_search(fnn.random.key(seed), SPACE, 5), random_search(fnn.random.key(seed), wider, 5), strict=True
    ):
        assert {k: b[k] for k in a} == a and list(b) == [*SPACE, "momentum"]


def test_draws_stay_in_their_ranges_and_cover_them():
    configs = random_search(fnn.random.key(7), SPACE, 3000)
    lr = [c["lr"] for c in configs]
    assert min(lr) >= 1e-4 and max(lr) < 1e-1
    logs = [math.log10(v) for v in lr]  # log-uniform: each decade about a third
    assert [sum(a <= v < a + 1 for v in logs) / len(logs) for a in (-4, -3, -2)] == pytest.approx([1 / 3] * 3, abs=0.04)
    widths = collections.Counter(c["width"] for c in configs)
    assert set(widths) == set(range(16, 129))  # both ends included
    acts = collections.Counter(c["act"] for c in configs)
    assert set(acts) == {"relu", "tanh", "gelu"} and min(acts.values()) > 900
    assert all(0.0 <= c["dropout"] < 0.5 and type(c["width"]) is int and c["epochs"] == 10 for c in configs)


def test_edges_of_the_draws():
    top = 2**64 - 1
    assert Uniform(0.0, 1.0).draw(top) < 1.0 and Uniform(0.0, 1.0).draw(0) == 0.0
    assert Uniform(1.0, 1.0 + 2**-52).draw(top) == 1.0  # rounding that would reach high stays below it
    assert LogUniform(1e-3, 1.0).draw(0) == 1e-3 and LogUniform(1e-3, 1.0).draw(top) < 1.0
    assert (Integer(-3, 3).draw(0), Integer(-3, 3).draw(top), Integer(5, 5).draw(top)) == (-3, 3, 5)
    assert Choice([[1, 2], [3]]).draw(0) == [1, 2]


def test_configs_are_distinct_and_a_space_too_small_is_an_error():
    configs = random_search(fnn.random.key(0), {"act": Choice(["relu", "tanh"]), "depth": Integer(1, 2)}, 4)
    assert sorted((c["act"], c["depth"]) for c in configs) == [("relu", 1), ("relu", 2), ("tanh", 1), ("tanh", 2)]
    with pytest.raises(ConfigError, match=r"gave 4 distinct configs, fewer than n=5: the space has too few"):
        random_search(fnn.random.key(0), {"act": Choice(["relu", "tanh"]), "depth": Integer(1, 2)}, 5)


def test_a_random_search_is_a_grid_for_the_sweep_and_its_store(tmp_path):
    configs = random_search(fnn.random.key(3), {"scale": LogUniform(0.1, 10.0), "tag": Choice(["a", "b"])}, 4)
    rows = fnn.sweep(sweep_runs.counted, configs, 2, store=tmp_path / "s.db", executor=SERIAL())
    assert_rows_equal(rows, direct_rows(sweep_runs.counted, configs, [0, 1]))
    again = random_search(fnn.random.key(3), {"scale": LogUniform(0.1, 10.0), "tag": Choice(["a", "b"])}, 6)
    assert_rows_equal(
        fnn.sweep(sweep_runs.counted, again, 2, store=tmp_path / "s.db", executor=SERIAL())[:8], rows
    )  # a longer search reuses the stored rows of the shorter one


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Uniform(1.0, 1.0), r"Uniform needs low < high"),
        (lambda: Uniform(0.0, float("inf")), r"Uniform.high must be a finite number"),
        (lambda: LogUniform(0.0, 1.0), r"LogUniform needs 0 < low < high"),
        (lambda: LogUniform("a", 1.0), r"LogUniform.low must be a finite number"),
        (lambda: Integer(3, 2), r"Integer needs low <= high"),
        (lambda: Integer(1.5, 2), r"Integer.low must be an int, got 1.5"),
        (lambda: Choice([]), r"Choice needs at least one value"),
        (lambda: random_search(0, SPACE, 2), r"key must be an fnn.random.Key"),
        (lambda: random_search(fnn.random.key(0), {}, 2), r"space must be a non-empty dict"),
        (lambda: random_search(fnn.random.key(0), {"seed": Integer(0, 9)}, 2), r"has a key 'seed'"),
        (lambda: random_search(fnn.random.key(0), {1: Integer(0, 9)}, 2), r"keys must be strings"),
        (lambda: random_search(fnn.random.key(0), SPACE, 0), r"n must be an int ≥ 1, got 0"),
        (lambda: random_search(fnn.random.key(0), SPACE, 2.0), r"n must be an int ≥ 1, got 2.0"),
    ],
)
def test_bad_spaces(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


# ---------------------------------------------------------------- progress


def test_progress_shows_counts_and_the_best_result(capsys):
    rows = fnn.sweep(
        sweep_runs.dies, FLAKY, 2, executor=SERIAL(), on_error="record", progress=True, best=("total", "max")
    )
    err = capsys.readouterr().err
    best = max((r for r in rows if "total" in r), key=lambda r: r["total"])
    assert "6/6" in err and "2 failed, 0 remaining" in err
    assert f"best total {best['total']:.6g} ({{'scale': {best['scale']}, 'death': ''}}, seed {best['seed']})" in err


def test_progress_without_tqdm_is_a_line_per_pair(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fnn.sweep(sweep_runs.counted, GRID, 1, executor=SERIAL(), progress=True, best=("total", "min"))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"sweep: {i}/3 finished" for i in (1, 2, 3)]
    assert lines[-1].startswith("sweep: 3/3 finished, 0 failed, 0 remaining, best total ")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"best": ("loss", "min")}, r"best= names the result the progress display reports; pass progress=True too"),
        ({"best": ("loss", "lowest"), "progress": True}, r"best must be a \(result name, 'min' or 'max'\) pair"),
        ({"best": "loss", "progress": True}, r"best must be a \(result name, 'min' or 'max'\) pair"),
        ({"progress": "yes"}, r"progress must be True or False"),
    ],
)
def test_bad_progress_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        fnn.sweep(sweep_runs.counted, GRID, 1, executor=SERIAL(), **kwargs)
