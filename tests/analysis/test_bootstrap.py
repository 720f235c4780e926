"""Weighted AP of bootstrap resamples = scikit-learn's AP on the explicitly resampled data;
percentile intervals; coverage of the 95% interval by simulation."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from sklearn.metrics import average_precision_score

from core.analysis import bootstrap as bs
from core.analysis import uncertainty as unc
from core.analysis.over_seeds import median_over_seeds, summarise_over_seeds
from core.metrics import average_precision, label_codes


def _sklearn_resampled(scores, labels, counts):
    """AP of every (model, class) on the data with image i repeated counts[i] times."""
    idx = np.repeat(np.arange(labels.shape[0]), counts)
    out = np.full(scores.shape[::2], np.nan)
    for m in range(scores.shape[0]):
        for c in range(labels.shape[1]):
            y = labels[idx, c]
            ok = ~np.isnan(y)
            if (y[ok] == 1).any():
                out[m, c] = average_precision_score(y[ok], scores[m, idx, c][ok])
    return out


def test_handworked_weighted_ap():
    # Scores 0.9 (pos, drawn twice), 0.8 (neg, once), 0.7 (pos, once), 0.6 (neg, not drawn).
    # Resampled list high → low: P P N P. Precision at the three positives' thresholds:
    #   t = 0.9: TP 2, FP 0 → 1 (two positives there), t = 0.7: TP 3, FP 1 → 3/4.
    # AP = (2·1 + 1·3/4) / 3 = 11/12.
    s = np.array([[[0.9], [0.8], [0.7], [0.6]]])
    codes = np.array([[[1], [0], [1], [0]]], dtype=np.int8)
    w = np.array([[2, 1], [1, 1], [1, 1], [0, 1]], dtype=np.uint8)
    ap = bs.weighted_ap(s, codes, w)
    assert ap[0, 0, 0, 0] == pytest.approx(11 / 12, abs=1e-15)
    # Unit weights: plain AP of P N P N = (1 + 2/3) / 2.
    assert ap[0, 0, 0, 1] == pytest.approx(5 / 6, abs=1e-15)


@pytest.mark.parametrize("rounding", [None, 1, 2])
def test_equals_sklearn_on_explicit_resamples(rounding):
    rng = np.random.default_rng(0 if rounding is None else rounding)
    n, c, m = 300, 5, 3
    y = (rng.random((n, c)) < np.array([0.4, 0.2, 0.1, 0.05, 0.02])).astype(float)
    y[:2] = [[1] * c, [0] * c]
    scores = (y + rng.normal(scale=0.8, size=(m, n, c))).astype(np.float32)
    if rounding is not None:
        scores = scores.round(rounding)          # heavy ties, within and across labels
    y[rng.random(y.shape) < 0.1] = np.nan         # unlabelled images are skipped
    codes = label_codes(y)[None]
    w = bs.resample_counts(n, 6, rng)
    got = bs.weighted_ap(scores, codes, w)
    for b in range(w.shape[1]):
        want = _sklearn_resampled(scores, y, w[:, b])
        np.testing.assert_allclose(got[:, 0, :, b], want, rtol=0, atol=1e-12)


def test_unit_weights_equal_core_metrics_on_float16():
    rng = np.random.default_rng(5)
    y = (rng.random((500, 4)) < 0.2).astype(float)
    y[0], y[1] = 1, 0
    scores = (1 / (1 + np.exp(-(2 * y + rng.normal(size=(2, 500, 4)))))).astype(np.float16)
    got = bs.weighted_ap(scores.astype(np.float32), label_codes(y)[None],
                         np.ones((500, 1), dtype=np.uint8))
    np.testing.assert_allclose(got[:, 0, :, 0], average_precision(scores, y), atol=1e-12)


def test_group_codes_restrict_to_a_subgroup():
    rng = np.random.default_rng(2)
    y = (rng.random((200, 3)) < 0.3).astype(float)
    scores = (y + rng.normal(size=(1, 200, 3))).astype(np.float32)
    mask = rng.random(200) < 0.4
    codes = label_codes(y)
    q = np.stack([codes, np.where(mask[:, None], codes, 2).astype(np.int8)])
    w = bs.resample_counts(200, 3, rng)
    got = bs.weighted_ap(scores, q, w)
    sub_scores = scores[:, mask]
    for b in range(3):
        want = _sklearn_resampled(sub_scores, y[mask], w[mask, b])
        np.testing.assert_allclose(got[:, 1, :, b], want, atol=1e-12)


def test_no_positive_drawn_is_nan_and_negative_zero_ties_positive_zero():
    s = np.array([[[0.0], [-0.0], [0.5]]], dtype=np.float32)
    codes = np.array([[[1], [0], [0]]], dtype=np.int8)
    w = np.array([[0, 1], [1, 1], [1, 1]], dtype=np.uint8)
    ap = bs.weighted_ap(s, codes, w)
    assert np.isnan(ap[0, 0, 0, 0])
    # −0.0 and +0.0 are one threshold: the positive ties with one negative below 0.5.
    assert ap[0, 0, 0, 1] == pytest.approx(average_precision_score([1, 0, 0], [0.0, -0.0, 0.5]))


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        bs.weighted_ap(np.full((1, 2, 1), np.nan), np.zeros((1, 2, 1), np.int8),
                       np.ones((2, 1), np.uint8))
    with pytest.raises(ValueError, match="weights"):
        bs.weighted_ap(np.zeros((1, 2, 1)), np.zeros((1, 2, 1), np.int8),
                       np.ones((3, 1), np.uint8))


def test_resample_counts_are_bootstrap_draws():
    rng = np.random.default_rng(0)
    w = bs.resample_counts(1000, 400, rng)
    assert w.shape == (1000, 400) and w.dtype == np.uint8
    assert (w.sum(axis=0) == 1000).all()                       # N draws per resample
    # Each multiplicity is Binomial(N, 1/N): mean 1, P(0) ≈ e⁻¹.
    assert w.mean() == pytest.approx(1.0, abs=1e-12)
    assert (w == 0).mean() == pytest.approx((1 - 1 / 1000) ** 1000, abs=0.01)


def test_interval_is_numpy_percentile_and_sparsity_interval_ranks_never_last():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 3))
    x[0, 0] = np.nan
    lo, hi, n = unc.interval(x, 0.9)
    assert n.tolist() == [999, 1000, 1000]
    assert lo[1] == np.percentile(x[:, 1], 5) and hi[2] == np.percentile(x[:, 2], 95)
    assert lo[0] == np.percentile(x[1:, 0], 5)
    first = np.array([[10.0], [20.0], [np.nan], [np.nan]] * 25)   # half never drop
    lo, hi = unc.sparsity_interval(first, 0.95)
    assert lo[0] == 10 and np.isnan(hi[0])


def test_over_drawn_seeds_is_the_median_of_the_drawn_seeds():
    plan = unc.make_plan(10, 3, n_boot=4, rng_seed=0)
    per_seed = np.arange(3 * 2 * 4, dtype=float).reshape(3, 2, 4)   # [K, X, B]
    got = unc.over_drawn_seeds(per_seed, plan)
    for b in range(4):
        want = np.median(per_seed[plan.seed_draws[b], :, b], axis=0)
        np.testing.assert_allclose(got[b], want)


def test_first_significant_drop_uses_the_upper_bound():
    upper = np.array([[0.0, 0.0], [-0.1, -0.3], [-0.25, -0.5]])
    assert unc.first_significant_drop(upper, [0, 50, 90]).tolist() == [90.0, 50.0]


def _true_ap(mu: float, prevalence: float) -> float:
    """Population AP for scores N(mu, 1) | positive, N(0, 1) | negative: E_pos[precision(s)]."""
    def precision(t):
        tp = prevalence * stats.norm.sf(t - mu)
        return tp / (tp + (1 - prevalence) * stats.norm.sf(t))
    return integrate.quad(lambda t: precision(t) * stats.norm.pdf(t - mu), -12, 12 + mu,
                          limit=200)[0]


@pytest.mark.slow
def test_coverage_of_the_95_percent_interval():
    """200 data sets with a known population AP: the percentile interval covers it 90–99%."""
    mu, prev, n, reps = 1.5, 0.3, 1500, 200
    truth = _true_ap(mu, prev)
    rng = np.random.default_rng(2026)
    plan = unc.make_plan(n, 1, n_boot=1000, rng_seed=7)
    covered = 0
    for _ in range(reps):
        y = (rng.random(n) < prev).astype(float)
        s = (rng.normal(size=n) + mu * y).astype(np.float32)
        ap = bs.weighted_ap(s[None, :, None], label_codes(y[:, None])[None], plan.weights)
        lo, hi, _ = unc.interval(ap[0, 0, 0], 0.95)
        covered += lo <= truth <= hi
    assert 0.90 <= covered / reps <= 0.99, covered


def test_fast_nan_median_and_percentiles_equal_numpy():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(50, 7, 3))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[0, :, 0] = np.nan                                     # all-NaN slices along axis 1
    a[:, 1, 1] = np.nan                                     # … and along axis 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # numpy warns on all-NaN slices
        want_med = np.nanmedian(a, axis=1)
        want = np.nanpercentile(a, [2.5, 97.5], axis=0)
    assert np.isnan(want_med[0, 0]) and np.isnan(want[0][1, 1])
    np.testing.assert_allclose(median_over_seeds(a, 1), want_med, equal_nan=True, atol=1e-12)
    # The bootstrap's median is the summary's up to the last bit: (lo + hi) / 2 here,
    # numpy's percentile interpolates hi − (hi − lo) / 2 (they differ in ~1 cell in 10).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = summarise_over_seeds(np.moveaxis(a, 1, 0)).median
    np.testing.assert_allclose(median_over_seeds(a, 1), summary, rtol=4e-15, atol=0)
    got = unc.nan_percentiles(a, [2.5, 97.5], axis=0)
    np.testing.assert_allclose(got, want, equal_nan=True, atol=1e-12)


def test_correlation_replicates_equal_scipy_row_by_row():
    from core.analysis import frequency as fq

    rng = np.random.default_rng(6)
    lf = np.log(rng.integers(5, 5000, 12).astype(float))
    lf[3] = np.nan                                        # a class without train positives
    first = rng.choice([5.0, 10, 20, 40, 60, np.nan], size=(40, 12))   # ties and "never"
    first[0, :] = 20.0                                    # constant: undefined
    first[1, 2:] = np.nan                                 # fewer than 3 points
    rel = rng.normal(size=(40, 12))
    got = unc.correlation_replicates(first, rel, lf)
    for b in range(40):
        for name, v in (("first_drop_vs_log_freq", first[b]), ("rel_ap_at_vs_log_freq",
                                                               rel[b])):
            want = fq.correlate(v, lf)
            for stat in ("r", "rho"):
                np.testing.assert_allclose(got[f"{name}.{stat}"][b], want[stat],
                                           equal_nan=True, atol=1e-12)


# ---- edges pinned (mutation run: benchmarks/mutation.py)
def test_resample_counts_refusals_and_chunks():
    for n, b in ((0, 5), (5, 0)):
        with pytest.raises(ValueError, match=rf"need at least one image and one resample "
                                             rf"\({n}, {b}\)"):
            bs.resample_counts(n, b, np.random.default_rng(0))
    # 100,000 images → 20 resamples per chunk: 45 resamples span three chunks
    w = bs.resample_counts(100_000, 45, np.random.default_rng(1))
    assert w.shape == (100_000, 45) and w.flags.c_contiguous and w.dtype == np.uint8
    assert (w.sum(axis=0, dtype=np.int64) == 100_000).all()
    assert (w == 0).mean() == pytest.approx(np.exp(-1), abs=0.005)
    # chunks are independent draws, not copies of one another
    assert not (w[:, 0] == w[:, 20]).all() and not (w[:, 20] == w[:, 40]).all()
    one = bs.resample_counts(1, 3, np.random.default_rng(2))
    assert one.tolist() == [[1, 1, 1]]


def test_score_keys_order_signed_zero_and_infinities():
    v = np.array([np.inf, 3.5, 1e-30, 0.0, -0.0, -1e-30, -2.0, -np.inf], dtype=np.float32)
    k = bs.score_keys(v)
    assert k.dtype == np.uint32
    assert (np.diff(k[[0, 1, 2, 3, 5, 6, 7]].astype(np.int64)) > 0).all()  # high score → small
    assert k[3] == k[4]
    rng = np.random.default_rng(3)
    x = (rng.normal(size=2000) * 10.0 ** rng.integers(-30, 30, 2000)).astype(np.float32)
    kx = bs.score_keys(x).astype(np.int64)
    order = np.argsort(kx, kind="stable")
    assert (np.diff(x[order].astype(np.float64)) <= 0).all()
    assert bs.score_keys(x.astype(np.float64)).tolist() == kx.tolist()     # float64 → float32


def test_large_multiplicities_flush_before_uint8_overflow():
    # weights up to 255: one staged negative lane would overflow without the flush
    rng = np.random.default_rng(9)
    n = 30
    y = (rng.random((n, 2)) < 0.3).astype(float)
    y[0], y[1] = 1, 0
    scores = (y + rng.normal(size=(2, n, 2))).astype(np.float32)
    w = rng.integers(0, 256, size=(n, 3)).astype(np.uint8)
    w[:, 2] = 255
    got = bs.weighted_ap(scores, label_codes(y)[None], w)
    for b in range(3):
        np.testing.assert_allclose(got[:, 0, :, b], _sklearn_resampled(scores, y, w[:, b]),
                                   rtol=0, atol=1e-12)
    w2 = np.full((n, 1), 9, np.uint8)                         # flush every 28 negatives
    np.testing.assert_allclose(bs.weighted_ap(scores, label_codes(y)[None], w2)[..., 0],
                               bs.weighted_ap(scores, label_codes(y)[None],
                                              np.ones((n, 1), np.uint8))[..., 0], atol=1e-12)


def test_weighted_ap_shape_refusals():
    with pytest.raises(ValueError, match=r"scores \(2, 1\) \[M, N, C\] and codes \(1, 2, 1\) "
                                         r"\[Q, N, C\] must share N and C"):
        bs.weighted_ap(np.zeros((2, 1)), np.zeros((1, 2, 1), np.int8), np.ones((2, 1)))
    with pytest.raises(ValueError, match="must share N and C"):
        bs.weighted_ap(np.zeros((1, 2, 1)), np.zeros((2, 1), np.int8), np.ones((2, 1)))
    with pytest.raises(ValueError, match="must share N and C"):
        bs.weighted_ap(np.zeros((1, 2, 1)), np.zeros((1, 3, 1), np.int8), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"weights \(2,\) must be \[N, B\] with N = 2"):
        bs.weighted_ap(np.zeros((1, 2, 1)), np.zeros((1, 2, 1), np.int8), np.ones(2))
    out = bs.weighted_ap(np.zeros((1, 2, 1)), np.array([[[2], [2]]], np.int8),
                         np.ones((2, 4), np.uint8))
    assert out.shape == (1, 1, 1, 4) and np.isnan(out).all()          # nothing labelled


def test_make_plan_levels_seeds_and_replicates():
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match=rf"level must be in \(0, 1\), got {bad}"):
            unc.make_plan(10, 2, n_boot=5, level=bad)
    plan = unc.make_plan(10, 1, n_boot=6, rng_seed=3, level=0.9)
    assert plan.n_boot == 6 and plan.rng_seed == 3 and plan.level == 0.9
    assert plan.seed_draws.shape == (6, 1) and (plan.seed_draws == 0).all()
    assert plan.seed_draws.dtype == np.int64 and plan.weights.shape == (10, 6)
    assert plan.replicates_of(0).tolist() == list(range(6))
    default = unc.make_plan(10, 3, n_boot=7)
    assert default.level == unc.DEFAULT_LEVEL == 0.95 and default.rng_seed == 0
    assert default.seed_draws.shape == (7, 3) and set(np.unique(default.seed_draws)) <= {0, 1, 2}
    for k in range(3):
        assert default.replicates_of(k).tolist() == [
            b for b in range(7) if k in default.seed_draws[b]]
    assert unc.make_plan(10, 3).n_boot == unc.DEFAULT_N_BOOT == 1000
    again = unc.make_plan(10, 3, n_boot=7)
    assert (again.weights == default.weights).all() and (again.seed_draws ==
                                                         default.seed_draws).all()


def test_seed_replicates_nan_where_not_drawn_and_point_is_plain_ap():
    rng = np.random.default_rng(4)
    y = (rng.random((50, 2)) < 0.4).astype(float)
    y[0], y[1] = 1, 0
    scores = (y + rng.normal(size=(3, 50, 2))).astype(np.float32)
    plan = unc.make_plan(50, 4, n_boot=30, rng_seed=1)
    codes = label_codes(y)[None]
    point, reps = unc.seed_replicates(scores, codes, plan, 2)
    assert reps.dtype == np.float32 and reps.shape == (3, 1, 2, 30)
    np.testing.assert_allclose(point[:, 0], average_precision(scores, y), atol=1e-12)
    drawn = plan.replicates_of(2)
    assert 0 < drawn.size < 30
    assert np.isnan(np.delete(reps, drawn, axis=-1)).all()
    full = bs.weighted_ap(scores, codes, plan.weights)
    np.testing.assert_allclose(reps[..., drawn], full[..., drawn].astype(np.float32))


def test_nan_helpers_edges():
    a = np.array([[np.nan, 1.0, 3.0, np.nan], [np.nan] * 4, [4.0, 1.0, 2.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        med = median_over_seeds(a, 1)
        mean = unc._nanmean(a, 1)
    assert med[0] == 2.0 and np.isnan(med[1]) and med[2] == 2.5
    assert mean[0] == 2.0 and np.isnan(mean[1]) and mean[2] == 2.5
    lo, hi = unc.nan_percentiles(a.T, [0, 100], axis=0)
    assert lo[0] == 1 and hi[0] == 3 and np.isnan(lo[1]) and lo[2] == 1 and hi[2] == 4
    one = unc.nan_percentiles(np.array([[np.nan], [7.0]]), [2.5, 50, 97.5])
    assert [x.tolist() for x in one] == [[7.0], [7.0], [7.0]]
    s, h, n = unc.interval(np.array([[1.0], [2.0], [3.0], [np.nan]]))   # default 95 %
    assert s[0] == pytest.approx(1.05) and h[0] == pytest.approx(2.95) and n.tolist() == [3]


def test_sparsity_interval_bounds_are_grid_values():
    first = np.array([[10.0], [20.0], [30.0], [40.0]] * 10)
    lo, hi = unc.sparsity_interval(first)
    assert lo.tolist() == [10.0] and hi.tolist() == [40.0]
    lo, hi = unc.sparsity_interval(first, 0.4)           # 30th and 70th percentiles
    assert lo.tolist() == [20.0] and hi.tolist() == [30.0]
    never = np.full((40, 1), np.nan)
    lo, hi = unc.sparsity_interval(never)
    assert np.isnan(lo[0]) and np.isnan(hi[0])


def test_over_drawn_seeds_single_seed_and_relative_axis():
    plan = unc.make_plan(10, 1, n_boot=3)
    per_seed = np.arange(6, dtype=np.float32).reshape(1, 2, 3)       # [K=1, X, B]
    got = unc.over_drawn_seeds(per_seed, plan)
    assert got.dtype == np.float64 and got.tolist() == [[0, 3], [1, 4], [2, 5]]
    v = np.array([[[2.0, 4.0], [1.0, 5.0]]])                         # [1, S=2, C=2]
    assert unc.relative(v, 1).tolist() == [[[0, 0], [-0.5, 0.25]]]
    assert unc.relative(np.moveaxis(v, 1, 2), 2).tolist() == [[[0, -0.5], [0, 0.25]]]
    assert unc.first_significant_drop(np.array([0.0, -0.205]), [0, 50]) == 50


def test_summarise_method_fields_by_hand():
    plan = unc.make_plan(10, 2, n_boot=2)
    plan.seed_draws = np.array([[0, 0], [1, 1]])
    points = np.array([[[0.5, 0.4], [0.25, 0.2]], [[0.6, 0.8], [0.3, 0.6]]])   # [K, S, C]
    reps = np.stack([points, points * 2], axis=-1)                              # [K, S, C, B]
    ci = unc.summarise_method(points, reps, plan)
    np.testing.assert_allclose(ci.ap, [[0.55, 0.6], [0.275, 0.4]])
    np.testing.assert_allclose(ci.rel[1], [-0.5, (-0.5 + -0.25) / 2])
    np.testing.assert_allclose(ci.map, [0.575, 0.3375])
    np.testing.assert_allclose(ci.ap_reps[0], points[0])             # replicate 0: seed 0 only
    np.testing.assert_allclose(ci.ap_reps[1], points[1] * 2)
    np.testing.assert_allclose(ci.map_reps, [[0.45, 0.225], [1.4, 0.9]])
    np.testing.assert_allclose(ci.rel_reps[1, 1], [-0.5, -0.25])


def test_rowwise_pearson_clips_and_marks_undefined():
    x = np.array([[1.0, 2, 3, np.nan], [1, 1, 1, 1], [1, 2, np.nan, np.nan],
                  [1, 2, 3, 4]])
    y = np.array([[2.0, 4, 6, 0], [1, 2, 3, 4], [1, 2, 3, 4], [4, 3, 2, 1]])
    r = unc._rowwise_pearson(x, y)
    assert r[0] == 1.0 and np.isnan(r[1]) and np.isnan(r[2]) and r[3] == -1.0
    assert np.isnan(unc._rowwise_pearson(y[3:], np.full((1, 4), 2.0))[0])


def test_sparsity_interval_is_inverted_cdf_at_the_exact_tails():
    # 119 replicates, distinct values: 2.5 % · 119 = 2.975 → the 3rd value,
    # 97.5 % · 119 = 116.025 → the 117th (the smallest with cumulative share ≥ q)
    first = np.arange(1.0, 120.0)[:, None]
    lo, hi = unc.sparsity_interval(first)
    assert lo.tolist() == [3.0] and hi.tolist() == [117.0]
    lo, hi = unc.sparsity_interval(np.array([[10.0], [20.0]]))   # never interpolated
    assert lo.tolist() == [10.0] and hi.tolist() == [20.0]


def test_first_significant_drop_passes_its_threshold_and_relative_is_float64():
    upper = np.array([0.0, -0.15, -0.3])
    assert unc.first_significant_drop(upper, [0, 50, 90], drop_percent=10) == 50
    assert unc.first_significant_drop(upper, [0, 50, 90]) == 90
    v = np.array([[0.3], [0.2]], dtype=np.float32)             # [S, C] float32 replicates
    rel = unc.relative(v, 0)
    want = (np.float64(np.float32(0.2)) - np.float64(np.float32(0.3))) / np.float64(
        np.float32(0.3))
    assert rel.dtype == np.float64 and rel[1, 0] == want


def test_rowwise_pearson_constant_rows_with_rounding_and_clipping():
    from core.analysis import frequency as fq
    # 0.1 three times has a mean that is not exactly 0.1: only the span test says "constant"
    x = np.array([[0.1, 0.1, 0.1, np.nan], [0.1, 0.2, 0.3, 0.5], [5.0, 6, 7, 8],
                  [1.0, 2, 3, 4], [0.1, 0.2, 0.4, np.nan]])
    y = np.array([[1.0, 2, 3, 4], [9.0, 1, 4, 2], [0.7, 0.7, 0.7, 0.7], [0.1, 0.2, 0.4, 0.3],
                  [0.3, 0.3, 0.3, 9.0]])
    got = unc._rowwise_pearson(x, y)
    for i in range(5):
        np.testing.assert_allclose(got[i], fq.correlate(x[i], y[i])["r"], equal_nan=True,
                                   atol=1e-12)
    assert np.isnan(got[0]) and np.isnan(got[2]) and np.isfinite(got[1])
    # r of x with 3x rounds past 1 in about a quarter of rows: clipped to exactly ±1
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2000, 7)) * 10.0 ** rng.integers(-3, 3, (2000, 1))
    up, down = unc._rowwise_pearson(z, 3 * z), unc._rowwise_pearson(z, -3 * z)
    assert up.max() == 1.0 and up.min() > 1 - 1e-12
    assert down.min() == -1.0 and down.max() < -1 + 1e-12


def test_resample_counts_one_resample_and_the_255_limit(monkeypatch):
    one = bs.resample_counts(5, 1, np.random.default_rng(0))
    assert one.shape == (5, 1) and one.dtype == np.uint8 and int(one.sum()) == 5
    peak = int(bs.resample_counts(40, 3, np.random.default_rng(2)).max())
    monkeypatch.setattr(bs, "_MAX_COUNT", peak)                  # exactly the peak: allowed
    assert int(bs.resample_counts(40, 3, np.random.default_rng(2)).max()) == peak
    monkeypatch.setattr(bs, "_MAX_COUNT", peak - 1)
    with pytest.raises(ValueError, match="^an image was drawn more than 255 times; use more "
                                         "images$"):
        bs.resample_counts(40, 3, np.random.default_rng(2))


def test_weighted_ap_edges_by_hand():
    def ap(s, y, w):
        s, y = np.asarray(s, float), np.asarray(y, float)
        return bs.weighted_ap(s[None, :, None], label_codes(y)[None, :, None],
                              np.asarray(w, np.uint8).reshape(len(s), -1))[0, 0, 0]

    assert ap([0.9, 0.5, 0.1], [1, 0, 0], [[1]] * 3).tolist() == [1.0]   # only positive on top
    assert np.isnan(ap([0.5], [0], [[1]])).all()                          # no positive at all
    # 299 negatives above the one positive: the staged uint8 sums must be flushed in time
    s, y = np.linspace(1, 0, 300), np.r_[np.zeros(299), 1.0]
    for mult in (1, 2):
        assert ap(s, y, np.full((300, 1), mult)).tolist() == pytest.approx([1 / 300])
    assert bs.weighted_ap(np.ones((1, 3, 1)), np.ones((1, 3, 1), np.int8),
                          np.ones((3, 0), np.uint8)).shape == (1, 1, 1, 0)   # no resample
    with pytest.raises(ValueError, match="^scores contain NaN: AP is undefined for those "
                                         "columns$"):
        bs.weighted_ap(np.full((1, 2, 1), np.nan), np.ones((1, 2, 1), np.int8),
                       np.ones((2, 1), np.uint8))


def test_weighted_ap_groups_with_no_positive_at_a_tie_end_do_not_stop_the_others():
    # image order by score: 0, 1, 2, 3. Group 0 lacks image 0 (code 2), group 1 lacks image 3.
    s = np.array([0.9, 0.6, 0.4, 0.2])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    codes = np.stack([label_codes(np.where([False, True, True, True], y, np.nan)),
                      label_codes(np.where([True, True, True, False], y, np.nan))])
    got = bs.weighted_ap(s[None, :, None], codes[:, :, None], np.ones((4, 1), np.uint8))
    assert got[0, 0, 0, 0] == pytest.approx(average_precision_score(y[1:], s[1:]))
    assert got[0, 1, 0, 0] == pytest.approx(average_precision_score(y[:3], s[:3]))
