"""The paper check's replicate statistics compute in the dtype they promise: correlations and
slopes in float64 whatever the input's dtype, weighted group sums in float32."""
from __future__ import annotations

import numpy as np

from core.analysis import paper_check_stats as pcs


def _xy():
    rng = np.random.default_rng(11)
    x = rng.random((4, 9)) * 3 + 0.1
    y = 0.7 * x + rng.normal(scale=0.3, size=x.shape)
    x[1, 2], y[2, 5] = np.nan, np.inf
    return x, y


def test_correlations_and_slopes_of_float32_input_are_those_of_its_float64_values():
    x, y = _xy()
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    x64, y64 = x32.astype(np.float64), y32.astype(np.float64)
    for a, b, a64, b64 in ((x32, y64, x64, y64), (x64, y32, x64, y64)):
        r, rho = pcs.corr_reps(a, b)
        r_want, rho_want = pcs.corr_reps(a64, b64)
        np.testing.assert_array_equal(r, r_want)
        np.testing.assert_array_equal(rho, rho_want)
        assert r.dtype == np.float64
    got = pcs.slope_reps(x32, y64)
    np.testing.assert_array_equal(got, pcs.slope_reps(x64, y64))
    assert got.dtype == np.float64 and np.isfinite(got).all()


def test_group_sums_multiply_in_float32():
    cols = np.array([[0.1, 0.2, 0.3], [1.0, 0.0, 1.0]])
    w = np.array([[1, 2], [0, 1], [3, 1]], np.float32)
    got = pcs.group_sums(cols, w)
    want = (cols.astype(np.float32) @ w).astype(np.float64)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, cols @ w.astype(np.float64))     # float64 would differ
