"""The paired bootstrap: one image draw per replicate, shared by every sparsity (and seed), so
a relative change is computed on paired data. Identical scores at every sparsity must then
change by exactly 0 in every replicate, with an interval of width 0."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis import uncertainty as unc
from core.metrics import label_codes


def _identical_over_sparsity(n_seeds=3, n_sparsities=4, n=80, c=3, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    y = (rng.random((n, c)) < 0.3).astype(float)
    y[0], y[1] = 1, 0
    codes = label_codes(y)[None]                                  # Q = 1: all images
    plan = unc.make_plan(n, n_seeds, n_boot=200, rng_seed=7)
    points, reps = [], []
    for k in range(n_seeds):
        one = (y + rng.normal(size=(n, c))).astype(np.float32)  # differs between seeds
        scores = np.repeat(one[None], n_sparsities, axis=0)       # same at every sparsity
        p, r = unc.seed_replicates(scores, codes, plan, k)
        points.append(p[:, 0])
        reps.append(r[:, 0])
    return plan, np.stack(points), np.stack(reps)


def test_each_replicate_uses_one_draw_for_every_sparsity():
    plan, points, reps = _identical_over_sparsity()
    # per seed and replicate, every sparsity has the very same AP (NaN where not drawn)
    np.testing.assert_array_equal(reps, np.broadcast_to(reps[:, :1], reps.shape))
    assert np.isfinite(reps).any(axis=-1).all()


def test_identical_scores_give_zero_relative_change_in_every_replicate():
    plan, points, reps = _identical_over_sparsity()
    ci = unc.summarise_method(points, reps, plan)
    assert ci.rel_reps.shape == (plan.n_boot, 4, 3)
    assert (ci.rel_reps[:, 1:] == 0).all()          # exactly 0, every replicate, no NaN
    assert (ci.rel[1:] == 0).all()
    lo, hi, n = unc.interval(ci.rel_reps, plan.level)
    assert (lo[1:] == 0).all() and (hi[1:] == 0).all() and (n[1:] == plan.n_boot).all()
    # the AP itself does vary over replicates: the zero width comes from the pairing
    ap_lo, ap_hi, _ = unc.interval(ci.ap_reps, plan.level)
    assert (ap_hi - ap_lo > 0.01).all()


def test_make_plan_draws_seeds_from_two_seeds_on():
    plan = unc.make_plan(6, 2, n_boot=200, rng_seed=4)
    assert plan.seed_draws.shape == (200, 2) and plan.seed_draws.dtype == np.int64
    assert set(np.unique(plan.seed_draws).tolist()) == {0, 1}
    one = unc.make_plan(6, 1, n_boot=5)
    assert one.seed_draws.tolist() == [[0]] * 5


def test_over_drawn_seeds_medians_each_replicates_draw():
    plan = unc.make_plan(4, 2, n_boot=50, rng_seed=1)
    per_seed = np.stack([np.full((1, 50), 1.0), np.full((1, 50), 3.0)])   # [K=2, S=1, B]
    got = unc.over_drawn_seeds(per_seed, plan)                          # [B, 1]
    want = [float(np.median(per_seed[d, 0, b])) for b, d in enumerate(plan.seed_draws)]
    assert got[:, 0].tolist() == want and {1.0, 2.0, 3.0} <= set(want)


def test_nan_percentiles_in_float64_one_finite_value_and_quiet_infinities():
    import warnings

    # float32 input interpolated in float64: 1 + (2^24 + 1)/2, which float32 cannot hold
    a = np.array([1.0, 2.0 ** 24 + 2], np.float32)
    assert unc.nan_percentiles(a, [50])[0] == 8388609.5 == np.percentile(a.astype(float), 50)
    # one finite value is every percentile, the 100th included
    assert [float(v) for v in unc.nan_percentiles(np.array([np.nan, 3.0, np.nan]),
                                                  [0, 50, 100])] == [3.0, 3.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # inf − inf inside: no warning, NaN out
        v = unc.nan_percentiles(np.array([[np.inf, 1.0], [np.inf, 2.0]]), [50])[0]
    assert np.isnan(v[0]) and v[1] == 1.5


def test_interval_over_another_axis():
    s = np.array([[1.0, 2.0, 3.0, np.nan], [4.0, 4.0, 8.0, 8.0]])
    lo, hi, n = unc.interval(s, level=0.5, axis=1)
    assert lo.tolist() == [1.5, 4.0] and hi.tolist() == [2.5, 8.0] and n.tolist() == [3, 4]


def test_rowwise_pearson_constant_over_the_kept_points_is_nan():
    from scipy import stats

    # row 0: x is 0.1 at its three kept points (its fourth point has no y); row 1: y is 0.1
    # at its kept points. 0.1 + 0.1 + 0.1 ≠ 0.3, so only the range check makes them NaN.
    x = np.array([[0.1, 0.1, 0.1, 9.0], [0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 3.0, 4.0]])
    y = np.array([[1.0, 2.0, 3.0, np.nan], [0.1, 0.1, 0.1, np.nan], [0.0, 3.0, 2.0, 9.0]])
    r = unc._rowwise_pearson(x, y)
    assert np.isnan(r[0]) and np.isnan(r[1])
    assert r[2] == pytest.approx(stats.pearsonr(x[2], y[2])[0], abs=1e-12)


def test_median_over_seeds_with_one_finite_seed_one_seed_and_float32_input():
    """One finite value is its own median; a cell without one is NaN (also with a single
    seed); float32 values are taken in float64 before the halving."""
    from core.analysis.over_seeds import median_over_seeds

    got = median_over_seeds(np.array([[0.3, np.nan], [np.nan, np.nan]]), 0)
    assert got[0] == 0.3 and np.isnan(got[1])
    one = median_over_seeds(np.array([[np.nan, 0.5]]), 0)
    assert np.isnan(one[0]) and one[1] == 0.5
    f32 = median_over_seeds(np.array([[0.1], [0.2]], dtype=np.float32), 0)
    assert f32.dtype == np.float64
    assert f32[0] == (np.float64(np.float32(0.1)) + np.float64(np.float32(0.2))) / 2
