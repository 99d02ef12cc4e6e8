"""Laws of fnn.optim.schedules: values equal the published formulas, decays decay,
warmups warm, counts are updates already applied, and bad arguments are ConfigErrors."""

from __future__ import annotations

import itertools
import json
import math

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn.optim as optim
from fnn.errors import ConfigError
from fnn.optim import schedules as S

EXACT = 1e-12  # relative: the test writes each formula independently, maybe in another order
LAWS = settings(max_examples=50, deadline=None)

rate = st.floats(0.0, 10.0)
steps = st.integers(1, 100)
counts = st.lists(st.integers(0, 1000), min_size=1, max_size=20)


def approx(x):
    return pytest.approx(x, rel=EXACT, abs=1e-300)


# ---------------------------------------------------------------- values = formulas


@LAWS
@given(v=rate, ks=counts)
def test_constant(v, ks):
    assert [S.constant(v)(k) for k in ks] == [v] * len(ks)


@LAWS
@given(init=rate, decay=st.floats(1e-3, 1.0), ts=steps, staircase=st.booleans(), ks=counts)
def test_exponential_decay_formula(init, decay, ts, staircase, ks):
    s = S.exponential_decay(init, decay, transition_steps=ts, staircase=staircase)
    for k in ks:
        exponent = math.floor(k / ts) if staircase else k / ts
        assert s(k) == approx(init * decay**exponent)


@LAWS
@given(init=rate, decay=st.floats(0.0, 10.0), ts=steps, staircase=st.booleans(), ks=counts)
def test_inverse_time_decay_formula(init, decay, ts, staircase, ks):
    s = S.inverse_time_decay(init, decay, transition_steps=ts, staircase=staircase)
    for k in ks:
        p = math.floor(k / ts) if staircase else k / ts
        assert s(k) == approx(init / (1 + decay * p))


@LAWS
@given(init=rate, size=steps, gamma=st.floats(0.0, 1.0), ks=counts)
def test_step_decay_formula(init, size, gamma, ks):
    s = S.step_decay(init, size, gamma)
    for k in ks:
        assert s(k) == approx(init * gamma ** math.floor(k / size))


@LAWS
@given(init=rate, decay_steps=steps, alpha=st.floats(0.0, 1.0), ks=counts)
def test_cosine_decay_formula(init, decay_steps, alpha, ks):
    s = S.cosine_decay(init, decay_steps, alpha)
    for k in ks:
        c = min(k, decay_steps)
        assert s(k) == approx(init * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * c / decay_steps)) + alpha))
    assert s(0) == approx(init)
    assert s(decay_steps) == approx(alpha * init)


@LAWS
@given(init=rate, peak=rate, warmup=steps, ks=counts)
def test_linear_warmup_formula(init, peak, warmup, ks):
    s = S.linear_warmup(init, peak, warmup)
    for k in ks:
        want = init + (peak - init) * min(k, warmup) / warmup  # cancels at the peak; the schedule returns it exactly
        assert s(k) == pytest.approx(want, rel=EXACT, abs=EXACT * max(init, peak))
    assert s(0) == init and s(warmup) == peak


@LAWS
@given(data=st.data(), ks=counts)
def test_piecewise_constant_uses_values_i_from_boundary_i_minus_1_on(data, ks):
    boundaries = sorted(data.draw(st.sets(st.integers(0, 500), max_size=5)))
    values = data.draw(st.lists(rate, min_size=len(boundaries) + 1, max_size=len(boundaries) + 1))
    s = S.piecewise_constant(boundaries, values)
    for k in ks:
        assert s(k) == values[sum(b <= k for b in boundaries)]
    for i, b in enumerate(boundaries):
        assert s(b) == values[i + 1]
        if b > 0 and (i == 0 or boundaries[i - 1] < b - 1):
            assert s(b - 1) == values[i]


def test_known_values():
    assert [S.piecewise_constant((2, 4), (1.0, 0.1, 0.01))(k) for k in range(6)] == [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    assert S.cosine_decay(2.0, 10)(5) == pytest.approx(1.0)
    assert S.exponential_decay(0.1, 0.5)(3) == pytest.approx(0.0125)
    assert S.inverse_time_decay(1.0, 1.0, transition_steps=10)(10) == 0.5
    assert [S.step_decay(1.0, 3, 0.1)(k) for k in (0, 2, 3, 6)] == pytest.approx([1.0, 1.0, 0.1, 0.01])


@LAWS
@given(first=steps, ks=counts, data=st.data())
def test_join_restarts_each_schedule_at_its_boundary(first, ks, data):
    second = first + data.draw(steps)
    a, b, c = S.linear_warmup(0.0, 1.0, 7), S.cosine_decay(1.0, 50), S.constant(0.01)
    s = S.join_schedules((a, b, c), (first, second))
    for k in ks:
        want = a(k) if k < first else b(k - first) if k < second else c(k - second)
        assert s(k) == want


@LAWS
@given(init=rate, peak=rate, warmup=st.integers(0, 50), more=steps, frac=st.floats(0.0, 1.0), ks=counts)
def test_warmup_cosine_decay_is_warmup_then_cosine(init, peak, warmup, more, frac, ks):
    end = frac * peak
    total = warmup + more
    s = S.warmup_cosine_decay(init, peak, warmup, total, end_value=end)
    for k in ks:
        if k < warmup:
            want = init + (peak - init) * k / warmup
        else:
            c = min(k - warmup, more)
            want = end + (peak - end) * 0.5 * (1 + math.cos(math.pi * c / more))
        assert s(k) == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert s(warmup) == pytest.approx(peak)
    assert s(total) == pytest.approx(end, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- shape of the curves


def _non_increasing(s, n):
    values = [s(k) for k in range(n)]
    return all(b <= a for a, b in itertools.pairwise(values))


@LAWS
@given(
    init=rate,
    decay=st.floats(1e-3, 1.0),
    ts=steps,
    staircase=st.booleans(),
    alpha=st.floats(0.0, 1.0),
    gamma=st.floats(0.0, 1.0),
)
def test_decays_never_increase(init, decay, ts, staircase, alpha, gamma):
    for s in (
        S.exponential_decay(init, decay, ts, staircase),
        S.inverse_time_decay(init, decay, ts, staircase),
        S.step_decay(init, ts, gamma),
        S.cosine_decay(init, ts, alpha),
    ):
        assert _non_increasing(s, 3 * ts + 5), s


@LAWS
@given(init=rate, peak=rate, warmup=steps)
def test_warmup_moves_monotonically_towards_peak(init, peak, warmup):
    values = [S.linear_warmup(init, peak, warmup)(k) for k in range(warmup + 5)]
    sign = 1 if peak >= init else -1
    assert all(sign * (b - a) >= 0 for a, b in itertools.pairwise(values))


@LAWS
@given(
    factory=st.sampled_from(["exp", "inv", "step", "cos", "warm", "wcos", "piece"]),
    init=rate,
    peak=rate,
    n=steps,
    frac=st.floats(0.0, 1.0),
    ks=counts,
)
def test_every_valid_schedule_gives_finite_non_negative_python_floats(factory, init, peak, n, frac, ks):
    s = {
        "exp": lambda: S.exponential_decay(init, frac or 1.0, n),
        "inv": lambda: S.inverse_time_decay(init, frac, n),
        "step": lambda: S.step_decay(init, n, frac),
        "cos": lambda: S.cosine_decay(init, n, frac),
        "warm": lambda: S.linear_warmup(init, peak, n),
        "wcos": lambda: S.warmup_cosine_decay(init, peak, n, 2 * n, frac * peak),
        "piece": lambda: S.piecewise_constant((n,), (init, peak)),
    }[factory]()
    for k in ks:
        v = s(k)
        assert type(v) is float and math.isfinite(v) and v >= 0


# ---------------------------------------------------------------- the count


def test_an_optimizer_calls_its_schedule_with_updates_already_applied():
    s = S.piecewise_constant((1, 2), (0.5, 0.25, 0.0))
    opt = optim.sgd(s)
    p = np.array([4.0])
    state = opt.init(p)
    seen = []
    for _ in range(4):
        p, state = opt.update(p, np.array([1.0]), state)
        seen.append(float(p[0]))
    assert seen == [3.5, 3.25, 3.25, 3.25]  # the first update used s(0) = 0.5


# ---------------------------------------------------------------- saveable, frozen, comparable

ALL = [
    S.constant(0.1),
    S.exponential_decay(0.1, 0.9, 10, True),
    S.inverse_time_decay(0.1, 0.5),
    S.piecewise_constant([10, 20], [0.1, 0.01, 0.001]),
    S.step_decay(0.1, 5),
    S.cosine_decay(0.1, 100, 0.1),
    S.linear_warmup(0.0, 0.1, 10),
    S.warmup_cosine_decay(0.0, 0.1, 10, 100, 0.001),
    S.join_schedules([S.constant(0.1), S.constant(0.01)], [5]),
]


@pytest.mark.parametrize("s", ALL, ids=lambda s: type(s).__name__)
def test_schedules_hold_plain_data_and_are_json_saveable(s):
    data = attrs.asdict(s)
    assert json.loads(json.dumps(data)) == json.loads(json.dumps(data))

    def plain(x):
        if isinstance(x, dict):
            return all(plain(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return all(plain(v) for v in x)
        return type(x) in (int, float, bool)

    assert plain(data)
    for field in attrs.fields(type(s)):
        value = getattr(s, field.name)
        assert not isinstance(value, (list, np.ndarray, np.generic))


@pytest.mark.parametrize("s", ALL, ids=lambda s: type(s).__name__)
def test_schedules_are_frozen_hashable_and_compare_by_value(s):
    assert s == attrs.evolve(s)
    assert hash(s) == hash(attrs.evolve(s))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.x = 1


def test_sequences_become_tuples():
    s = S.piecewise_constant([1, 2], [3, 2, 1])
    assert s.boundaries == (1, 2) and s.values == (3.0, 2.0, 1.0)
    assert s == S.piecewise_constant((1, 2), (3.0, 2.0, 1.0))


# ---------------------------------------------------------------- bad arguments

BAD = [
    (S.constant, (-0.1,), "constant: value", "-0.1"),
    (S.constant, (math.inf,), "constant: value", "inf"),
    (S.exponential_decay, (-1.0, 0.5), "exponential_decay: init_value", "-1.0"),
    (S.exponential_decay, (1.0, 0.0), "exponential_decay: decay_rate", "(0, 1]"),
    (S.exponential_decay, (1.0, 1.5), "exponential_decay: decay_rate", "1.5"),
    (S.exponential_decay, (1.0, 0.5, 0), "exponential_decay: transition_steps", ">= 1"),
    (S.exponential_decay, (1.0, 0.5, 1.5), "exponential_decay: transition_steps", "1.5"),
    (S.exponential_decay, (1.0, 0.5, 1, "no"), "exponential_decay: staircase", "'no'"),
    (S.inverse_time_decay, (1.0, -0.5), "inverse_time_decay: decay_rate", "-0.5"),
    (S.piecewise_constant, ((2, 1), (1.0, 0.5, 0.1)), "piecewise_constant: boundaries", "strictly increasing"),
    (S.piecewise_constant, ((1,), (1.0,)), "piecewise_constant: expected 0 boundaries", "1"),
    (S.piecewise_constant, ((1,), (1.0, -0.5)), "piecewise_constant: values", "-0.5"),
    (S.piecewise_constant, ((-1,), (1.0, 0.5)), "piecewise_constant: boundaries", ">= 0"),
    (S.step_decay, (1.0, 0), "step_decay: step_size", ">= 1"),
    (S.step_decay, (1.0, 5, 1.5), "step_decay: gamma", "[0, 1]"),
    (S.cosine_decay, (1.0, 10, 1.5), "cosine_decay: alpha", "[0, 1]"),
    (S.cosine_decay, (1.0, 0), "cosine_decay: decay_steps", ">= 1"),
    (S.linear_warmup, (-0.1, 1.0, 10), "linear_warmup: init_value", "-0.1"),
    (S.linear_warmup, (0.0, 1.0, 0), "linear_warmup: warmup_steps", ">= 1"),
    (S.join_schedules, ((S.constant(1.0),), (5,)), "join_schedules: expected 0 boundaries", "1"),
    (S.join_schedules, ((S.constant(1.0), 0.5), (5,)), "join_schedules: schedules", "0.5"),
    (S.join_schedules, ((S.constant(1.0), S.constant(1.0)), (5.5,)), "join_schedules: boundaries", "5.5"),
    (S.warmup_cosine_decay, (0.0, 1.0, 10, 10), "warmup_cosine_decay: decay_steps", "> warmup_steps=10"),
    (S.warmup_cosine_decay, (0.0, 1.0, -1, 10), "warmup_cosine_decay: warmup_steps", ">= 0"),
    (S.warmup_cosine_decay, (0.0, 1.0, 5, 10, 2.0), "warmup_cosine_decay: end_value", "[0, peak_value=1.0]"),
    (S.warmup_cosine_decay, (-1.0, 1.0, 5, 10), "warmup_cosine_decay: init_value", "-1.0"),
]


@pytest.mark.parametrize(("factory", "args", "start", "fragment"), BAD, ids=lambda x: getattr(x, "__name__", None))
def test_bad_arguments_are_config_errors_naming_the_argument(factory, args, start, fragment):
    with pytest.raises(ConfigError) as info:
        factory(*args)
    assert str(info.value).startswith(start)
    assert fragment in str(info.value)
