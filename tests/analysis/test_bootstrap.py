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
    np.testing.assert_allclose(unc._nanmedian(a, 1), want_med, equal_nan=True, atol=1e-12)
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
