"""Laws of the summary table: a pure function of the params whose total is the size of the flat vector."""

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.errors import ConfigError
from fnn.layers import backward, forward, init_layer, out_dim
from fnn.summary import summary
from fnn.testing import specs


def table_rows(text):
    """The body rows of the table, split into their columns (layer details may contain spaces)."""
    lines = text.splitlines()
    body = lines[lines.index(next(line for line in lines if line.startswith("-"))) + 1 : -4]
    return [line.split(maxsplit=4) for line in body]


def total_of(text):
    line = next(row for row in text.splitlines() if row.startswith("Total params:"))
    return int(line.split()[2].replace(",", ""))


@settings(max_examples=40)
@given(
    specs(max_depth=4, max_width=40, dropout=True, dtype=np.float32)
    | specs(max_depth=4, max_width=40, dropout=True, dtype=np.float64),
    st.integers(0, 2**32 - 1),
)
def test_total_is_the_flat_size_and_rows_match_the_layers(spec, seed):
    params = fnn.init(fnn.random.key(seed), spec)
    before = fnn.tree.leaves(params)
    text = summary(params)
    assert summary(params) == text  # idempotent
    assert all(a is b for a, b in zip(fnn.tree.leaves(params), before, strict=True))
    flat, _ = fnn.tree.ravel(params)
    assert total_of(text) == flat.size
    if flat.nbytes < 1024:
        assert f"Total params: {flat.size:,} ({flat.nbytes:,} B)" in text
    else:
        assert f"({flat.nbytes / 1024:.2f} KB)" in text
    rows = table_rows(text)
    assert len(rows) == len(params.layers)
    x = np.zeros((1, spec.in_dim), spec.dtype)
    counted = 0
    for i, (row, layer) in enumerate(zip(rows, params.layers, strict=True)):
        index, name, shape_none, shape_rest, rest = row[0], row[1], row[2], row[3], row[4]
        x = forward(layer, x, None, False)[0]
        params_col, *details = rest.split(maxsplit=1)
        assert index == str(i) and f"{shape_none} {shape_rest}" == f"(None, {x.shape[1]})"
        if isinstance(layer, fnn.layers.DenseParams):
            fan_in, units = layer.w.shape
            expected = fan_in * units + (units if layer.b is not None else 0)  # pitfall 21: no bias, no bias count
            assert name == "Dense" and details == ["bias" if layer.b is not None else "no bias"]
        else:
            expected = 0
            assert name in ("Activation", "Dropout")
            assert details == ([layer.name] if name == "Activation" else [f"rate {layer.rate:g}"])
        assert int(params_col.replace(",", "")) == expected
        counted += expected
    assert counted == flat.size
    assert fnn.apply(params, np.zeros((2, spec.in_dim))).shape[1] == x.shape[1]


def test_large_counts_use_thousands_separators_and_units():
    params = fnn.init(fnn.random.key(0), fnn.mlp([784, 256, 10], dtype=np.float64))
    text = summary(params)
    assert "200,960" in text and "Total params: 203,530 (1.55 MB)" in text
    assert "Sequential: input (None, 784), float64" in text


def test_nested_sequential_is_expanded_and_counted_once():
    spec = fnn.Sequential(
        [fnn.Dense(6), fnn.Sequential([fnn.Dense(4, use_bias=False), fnn.Activation("tanh")]), fnn.Dense(2)], in_dim=3
    )
    params = fnn.init(fnn.random.key(0), spec)
    rows = [line.split() for line in summary(params).splitlines()[4:-4]]
    assert [r[0] for r in rows] == ["0", "1", "1.0", "1.1", "2"]
    assert rows[1][:4] == ["1", "Sequential", "(None,", "4)"] and rows[1][4:] == ["layers", "1.0-1.1"]
    assert rows[2][4] == "24" and rows[4][4] == "10"
    assert total_of(summary(params)) == fnn.tree.ravel(params)[0].size == 24 + 24 + 10


@attrs.frozen
class Scale:
    start: float = 1.0


@fnn.tree.register
@attrs.frozen
class ScaleParams:
    s: np.ndarray


@fnn.tree.register
@attrs.frozen
class ScaledTanh:
    a: float = fnn.tree.static_field(default=1.7159)
    b: float = fnn.tree.static_field(default=0.5)


out_dim.register(Scale, lambda spec, in_dim: in_dim)
init_layer.register(Scale, lambda spec, key, in_dim, dtype: ScaleParams(np.full(in_dim, spec.start, dtype)))
forward.register(ScaleParams, lambda node, x, key, train: (x * node.s, x))
backward.register(ScaleParams, lambda node, x, g, out, need: None)
out_dim.register(ScaledTanh, lambda spec, in_dim: in_dim)
init_layer.register(ScaledTanh, lambda spec, key, in_dim, dtype: spec)
forward.register(ScaledTanh, lambda node, x, key, train: (node.a * np.tanh(node.b * x), None))


def test_user_registered_layers_show_their_counts_and_settings():
    params = fnn.init(fnn.random.key(0), fnn.Sequential([fnn.Dense(5), Scale(), ScaledTanh()], in_dim=2))
    rows = [line.split(maxsplit=5) for line in summary(params).splitlines()[4:-4]]
    assert rows[1][:5] == ["1", "Scale", "(None,", "5)", "5"] and rows[1][5] == "s (5,)"
    assert rows[2][:5] == ["2", "ScaledTanh", "(None,", "5)", "0"] and rows[2][5] == "a=1.7159, b=0.5"
    assert total_of(summary(params)) == 15 + 5


def test_a_train_state_and_a_spec_are_summarised_like_their_params():
    spec = fnn.mlp([4, 3, 2], dropout=0.1)
    params = fnn.init(fnn.random.key(7), spec)
    state = fnn.TrainState.create(params, fnn.optim.adam(), key=fnn.random.key(1))
    assert summary(state) == summary(params) == summary(spec)


@pytest.mark.parametrize("bad", [None, {"w": np.zeros(2)}, fnn.Dense(3), np.zeros(3)])
def test_anything_else_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="summary expects"):
        summary(bad)


def test_a_spec_without_in_dim_is_a_config_error():
    with pytest.raises(ConfigError, match="in_dim"):
        summary(fnn.Sequential([fnn.Dense(3)]))
