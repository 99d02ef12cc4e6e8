"""Laws of the matrix-vector sums in fnn._reductions: the finiteness check answers as
np.isfinite(x).all() does, and row/column sums are sums whose stacked form is, member by member,
bit for bit the single one (what the stacked-network law rests on)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fnn._reductions import all_finite, column_sums, ones, row_sums

dtypes = st.sampled_from([np.float32, np.float64])


@st.composite
def arrays_with_extremes(draw):
    dtype = draw(dtypes)
    big = float(np.finfo(dtype).max)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=7))
    # small values, the extremes whose sums overflow, and NaN or ±inf
    elements = st.one_of(
        st.floats(-10, 10, width=32),
        st.sampled_from([big, -big, big / 2, 0.0]),
        st.sampled_from([np.nan, np.inf, -np.inf]),
    )
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    if x.ndim == 2 and draw(st.booleans()):
        x = x.T  # a strided view
    return x


@given(arrays_with_extremes())
def test_all_finite_is_isfinite_all(x):
    assert all_finite(x) == bool(np.isfinite(x).all())


@given(dtypes, st.integers(1, 4), st.integers(1, 40), st.integers(1, 12), st.integers(0, 2**32 - 1))
def test_sums_are_sums_and_stack_member_by_member(dtype, members, n, k, seed):
    a = np.random.default_rng(seed).standard_normal((members, n, k)).astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    rows = row_sums(a)
    cols = column_sums(a, np.empty((members, k), dtype))
    assert rows.shape == (members, n, 1) and rows.dtype == dtype and cols.dtype == dtype
    np.testing.assert_allclose(rows, a.astype(np.float64).sum(axis=-1, keepdims=True), rtol=rtol, atol=rtol * k)
    np.testing.assert_allclose(cols, a.astype(np.float64).sum(axis=-2), rtol=rtol, atol=rtol * n)
    for i in range(members):  # bitwise: a stack runs the product one network runs
        assert np.array_equal(rows[i], row_sums(a[i]))
        assert np.array_equal(cols[i], column_sums(a[i], np.empty(k, dtype)))


@given(st.integers(0, 2100), st.sampled_from([np.float16, np.float32, np.float64, np.longdouble, np.int64]))
def test_ones_are_read_only_ones_of_any_length_and_dtype(k, dtype):
    # short float ones are views of one constant; long ones, and other dtypes, new arrays
    v = ones(k, np.dtype(dtype))
    assert v.shape == (k,) and v.dtype == dtype and (v == 1).all()
    assert not v.flags.writeable
