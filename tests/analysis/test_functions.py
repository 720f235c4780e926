"""Cross-checks of the analysis functions against scipy on random data, and edge cases."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis import pie_stats, pies
from core.data.stats import findings_per_image


def test_rank_rows_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(200, 20)).astype(np.float64)
    np.testing.assert_allclose(pies.rank_rows(a), stats.rankdata(a, axis=1))


def test_rowwise_spearman_matches_scipy_on_float16_ties():
    rng = np.random.default_rng(1)
    x = rng.random((300, 20)).astype(np.float16).astype(np.float64)
    y = (x + rng.normal(scale=0.3, size=x.shape)).round(1)   # heavy ties
    x[5] = 0.25                                              # constant row
    got = pies.rowwise_spearman(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # scipy warns on the constant row
        want = np.array([stats.spearmanr(x[i], y[i])[0] for i in range(len(x))])
    assert np.isnan(got[5]) and np.isnan(want[5])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_rowwise_spearman_nan_row():
    x = np.array([[0.1, np.nan, 0.3], [0.1, 0.2, 0.3]])
    assert np.isnan(pies.rowwise_spearman(x, x)[0])
    assert pies.rowwise_spearman(x, x)[1] == pytest.approx(1.0)


def test_select_bottom_paper_count_ties_and_nan():
    corr = np.linspace(-1, 1, 21081)
    assert pies.select_bottom(corr, 5.0).sum() == 1054   # the paper's 1,054 PIEs
    assert pies.cut_size(20, 5.0) == 1
    c = np.array([0.5, np.nan, 0.1, 0.1, 0.1, 0.9, np.nan, 0.2, 0.3, 0.4])
    # 30% of 10 → 3 lowest finite values; ties (three 0.1) broken by row order.
    assert np.flatnonzero(pies.select_bottom(c, 30)).tolist() == [2, 3, 4]
    assert np.flatnonzero(pies.select_bottom(c, 20)).tolist() == [2, 3]
    # More PIEs asked for than finite correlations: NaN rows stay out.
    assert pies.select_bottom(c, 99).sum() == 8
    with pytest.raises(ValueError):
        pies.select_bottom(c, 0)


def test_population_majority_tie_is_zero():
    votes = np.array([[[2, 1, 0]], [[2, 2, 1]]], dtype=np.uint16)   # [S=2, N=1, C=3], 4 seeds
    assert pies.majority(votes, 4)[0, 0].tolist() == [False, False, False]
    assert pies.population_pies(votes, 4).tolist() == [[False], [False]]
    assert pies.population_pies(votes, 3).tolist() == [[False], [True]]


def test_correlate_matches_scipy_and_drops_nan():
    rng = np.random.default_rng(2)
    x = rng.normal(size=30)
    y = x + rng.normal(size=30)
    y[3] = np.nan
    res = fq.correlate(x, y)
    ok = ~np.isnan(y)
    r, p = stats.pearsonr(x[ok], y[ok])
    rho, p_rho = stats.spearmanr(x[ok], y[ok])
    assert res["n"] == 29
    assert res["r"] == pytest.approx(r) and res["p_r"] == pytest.approx(p)
    assert res["rho"] == pytest.approx(rho) and res["p_rho"] == pytest.approx(p_rho)
    assert math.isnan(fq.correlate([1, 2, 3], [5, 5, 5])["r"])
    assert fq.correlate([1, 2], [1, 2])["n"] == 2


def test_ols_single_predictor_matches_linregress():
    rng = np.random.default_rng(3)
    x = rng.random(40)
    y = 1.5 - 2.0 * x + rng.normal(scale=0.3, size=40)
    fit = fq.ols(y, x, ["x"])
    ref = stats.linregress(x, y)
    assert fit["coef"] == pytest.approx([ref.intercept, ref.slope])
    assert fit["se"][1] == pytest.approx(ref.stderr)
    assert fit["se"][0] == pytest.approx(ref.intercept_stderr)
    assert fit["p"][1] == pytest.approx(ref.pvalue)
    assert fit["r2"] == pytest.approx(ref.rvalue ** 2)
    assert fit["p_f"] == pytest.approx(ref.pvalue)   # F = t² with one predictor


def test_ols_two_predictors_by_hand():
    # y = 1 + 2·x1 − x2 exactly on 4 points plus a residual pattern orthogonal to [1, x1, x2]:
    # X = [1,0,0; 1,1,0; 1,0,1; 1,1,1], e = (1,−1,−1,1)·0.1 (orthogonal to every column).
    x1 = np.array([0, 1, 0, 1.0])
    x2 = np.array([0, 0, 1, 1.0])
    e = np.array([1, -1, -1, 1]) * 0.1
    y = 1 + 2 * x1 - x2 + e
    fit = fq.ols(y, np.column_stack([x1, x2]), ["x1", "x2"])
    assert fit["coef"] == pytest.approx([1, 2, -1])
    # RSS = 0.04, dof = 1, σ² = 0.04; (AᵀA)⁻¹ diagonal = (3/4, 1, 1) → se = (√.03, .2, .2)
    assert fit["se"] == pytest.approx([math.sqrt(0.03), 0.2, 0.2])
    assert fit["t"][1] == pytest.approx(10.0)
    assert fit["p"][1] == pytest.approx(2 * stats.t.sf(10.0, 1))
    tss = ((y - y.mean()) ** 2).sum()
    assert fit["r2"] == pytest.approx(1 - 0.04 / tss)
    assert fq.ols(y[:3], np.column_stack([x1, x2])[:3])["n"] == 3
    assert math.isnan(fq.ols(y[:3], np.column_stack([x1, x2])[:3])["r2"])   # no dof left


def test_ols_fit_statistics_when_the_total_sum_of_squares_is_below_one():
    # the two-predictor example above scaled by 1/10: TSS = 0.0504, RSS = 0.0004, k = 3, n = 4
    x = np.array([[0, 0], [1, 0], [0, 1], [1, 1.0]])
    y = (1 + 2 * x[:, 0] - x[:, 1] + np.array([1, -1, -1, 1]) * 0.1) / 10
    fit = fq.ols(y, x)
    assert fit["terms"] == ["intercept", "x1", "x2"]
    assert fit["r2"] == pytest.approx(125 / 126)                   # 1 − 0.0004/0.0504
    assert fit["adj_r2"] == pytest.approx(1 - (1 / 126) * 3 / 1)   # (n − 1)/dof = 3
    assert fit["f"] == pytest.approx((0.05 / 2) / 0.0004)          # 62.5
    assert fit["p_f"] == pytest.approx(stats.f.sf(62.5, 2, 1))


def test_ols_exact_fit_and_constant_response_are_quiet():
    # y = 1 + 2x exactly: RSS = 0, so σ² = 0, every se is 0 and F is undefined
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fq.ols(np.array([1, 3, 5, 7.0]), np.array([0, 1, 2, 3.0]))
        flat = fq.ols(np.zeros(5), np.arange(5.0))               # TSS = 0 and 0/0 t values
    assert fit["coef"] == pytest.approx([1, 2]) and fit["se"] == [0.0, 0.0]
    assert fit["t"] == [math.inf, math.inf] and fit["r2"] == 1.0 and fit["adj_r2"] == 1.0
    assert math.isnan(fit["f"]) and math.isnan(fit["p_f"])
    assert all(math.isnan(v) for v in flat["t"] + [flat["r2"], flat["adj_r2"], flat["f"]])


def test_relative_change_and_first_drop_edge_cases():
    ap = np.array([[[0.5, np.nan], [0.25, np.nan]]])     # one seed, 2 sparsities, 2 classes
    rel = fg.relative_change(ap)
    assert rel[0, 1, 0] == -0.5 and np.isnan(rel[0, 1, 1])
    curves = fg.forgetting_curves(ap)
    first = fg.first_drop_sparsity(curves.median, [0, 50], 20)
    assert first[0] == 50 and np.isnan(first[1])
    with pytest.raises(ValueError):
        fg.first_drop_sparsity(curves.median, [0, 50, 90])


def test_pie_stats_nan_labels_and_groundtruth():
    labels = pd.DataFrame({"No_Finding": [1, 0, 0, np.nan], "A": [0, 1, np.nan, 1],
                           "label_noise": [False, True, True, False],
                           "quality": [0.9, 0.2, 0.3, 0.8]})
    mask = np.array([False, True, True, False])
    cr = pie_stats.class_ratio(labels, ["No_Finding", "A"], mask).set_index("class")
    # A: PIEs labelled only row 1 (pos) → 1/1; non-PIEs rows 0 (neg), 3 (pos) → 1/2 → ratio 2
    assert cr.loc["A", "n_pie"] == 1 and cr.loc["A", "ratio"] == 2.0
    assert cr.loc["No_Finding", "ratio"] == 0.0
    # "No_Finding" is recognised as No Finding: findings are A only, NaN counted as absent.
    assert findings_per_image(labels, ["No_Finding", "A"]).tolist() == [0, 1, 0, 1]
    gt = pie_stats.groundtruth_comparison(labels, mask, ["label_noise", "quality"])
    assert gt["label_noise"]["rate_pie"] == 1.0 and gt["label_noise"]["rate_nonpie"] == 0.0
    assert gt["quality"]["mean_pie"] == pytest.approx(0.25)
    ref = stats.mannwhitneyu([0.2, 0.3], [0.9, 0.8], alternative="two-sided")
    assert gt["quality"]["u"] == ref.statistic and gt["quality"]["p"] == pytest.approx(ref.pvalue)
    # only what the dataset declares: present columns that are not declared are not used
    assert pie_stats.groundtruth_comparison(labels, mask, []) == {}
    assert list(pie_stats.groundtruth_comparison(labels, mask, ["quality"])) == ["quality"]


# ---- PIE definitions pinned at their edges (mutation run: benchmarks/mutation.py)
def test_rowwise_spearman_against_scipy_constant_and_nan_rows():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 7)).round(1)
    y = rng.normal(size=(5, 7)).round(1)
    x[1] = 3.0                                  # constant row: undefined
    y[2, 3] = np.nan                            # a NaN: undefined
    y[3] = -x[3]                                # perfectly reversed: exactly −1 after clipping
    got = pies.rowwise_spearman(x, y)
    assert np.isnan(got[1]) and np.isnan(got[2]) and got[3] == -1.0
    for i in (0, 4):
        assert got[i] == pytest.approx(stats.spearmanr(x[i], y[i])[0], abs=1e-12)
    one = pies.rowwise_spearman(x[:1], x)                   # one row against every row
    assert one[0] == 1.0 and one[4] == pytest.approx(stats.spearmanr(x[0], x[4])[0])
    assert pies.rank_rows(np.array([3, 1, 3, 2])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_ensemble_correlations_dense_row_is_one_and_float32():
    rng = np.random.default_rng(6)
    ens = rng.random((3, 4, 5))
    ens[2, 1] = 0.5                                   # constant image at sparsity 2
    corr = pies.ensemble_correlations(ens)
    assert corr.dtype == np.float32 and corr.shape == (3, 4)
    assert (corr[0] == 1).all() and np.isnan(corr[2, 1])
    for s in (1, 2):
        for i in (0, 3):
            want = stats.spearmanr(ens[0, i], ens[s, i])[0]
            assert corr[s, i] == pytest.approx(want, abs=1e-6)


def test_cut_size_and_select_bottom_edges():
    assert pies.cut_size(20, 5) == 1 and pies.cut_size(21081, 5) == 1054
    assert pies.cut_size(19, 5) == 0 and pies.cut_size(100, 99.5) == 99
    corr = np.array([0.3, np.nan, 0.1, 0.1, 0.9] + [0.8] * 15)       # N = 20
    assert np.flatnonzero(pies.select_bottom(corr)).tolist() == [2]   # default 5 %: 1 image
    assert np.flatnonzero(pies.select_bottom(corr, 15)).tolist() == [0, 2, 3]
    # NaN is never a PIE, even when the cut would reach it
    assert pies.select_bottom(np.array([np.nan, np.nan, 0.2, 0.1]), 75).tolist() == [
        False, False, True, True]
    with pytest.raises(ValueError, match=r"one correlation per image, got shape \(2, 2\)"):
        pies.select_bottom(np.zeros((2, 2)))
    for bad in (0, 100, -1):
        with pytest.raises(ValueError, match=f"percentile {bad} outside"):
            pies.select_bottom(corr, bad)
    assert pies.select_bottom(corr, 99.9).sum() == 19                 # all finite ones


def test_cut_ties_and_tie_text_exactly():
    corr = np.array([0.1, 0.2, 0.2, 0.2, 0.9])
    mask = np.array([True, True, False, False, False])
    t = pies.cut_ties(corr, mask)
    assert t == {"cut_value": 0.2, "n_tied_at_cut": 3, "n_tied_pies": 1}
    assert pies.tie_text(t) == ("cut at correlation 0.2: 3 image(s) have exactly the cut "
                                "value; 1 of them are PIEs (ties broken by row order, keeping "
                                "the paper's count)")
    assert pies.tie_text({"cut_value": 0.123456, "n_tied_at_cut": 1234,
                          "n_tied_pies": 1000}).startswith(
        "cut at correlation 0.1235: 1,234 image(s) have exactly the cut value; 1,000 of them")
    none = pies.cut_ties(corr, np.zeros(5, bool))
    assert none == {"cut_value": None, "n_tied_at_cut": 0, "n_tied_pies": 0}
    assert pies.tie_text(none) == "no PIEs, so no cut" and pies.tie_text({}) == (
        "no PIEs, so no cut")


def test_paper_pies_defaults_and_population_votes():
    rng = np.random.default_rng(8)
    ens = rng.random((3, 50, 6))
    mask, corr = pies.paper_pies(ens, [0, 90, 95])
    assert corr.shape == (3, 50) and mask.sum() == 2                 # 5 % of 50 at 90 %
    assert mask.tolist() == pies.select_bottom(corr[1], 5.0).tolist()
    assert pies.paper_pies(ens, [0, 50, 90], percentile=10)[0].tolist() == \
        pies.select_bottom(corr[2], 10).tolist()
    assert pies.paper_pies(ens, [0, 50, 95], pie_sparsity=50)[0].sum() == 2
    preds = np.array([[0.5, 0.49], [0.7, 0.2], [0.1, 0.9]])          # 3 seeds × 2 classes
    votes = pies.threshold_votes(preds)
    assert votes.tolist() == [2, 1] and votes.dtype == np.uint16      # 0.5 counts as a vote
    assert pies.threshold_votes(preds, 0.6).tolist() == [1, 1]
    assert pies.majority(np.array([2, 1, 3]), 4).tolist() == [False, False, True]  # tie → 0
    assert pies.majority(np.array([2]), 3).tolist() == [True]
    v = np.array([[[2, 0], [1, 1]], [[2, 0], [2, 1]], [[0, 0], [1, 1]]])     # [S, N, C], 3 seeds
    assert pies.population_pies(v, 3).tolist() == [[False, False], [False, True],
                                                   [True, False]]


def test_class_ratio_array_input_counts_and_refusals():
    y = np.array([[1, 0], [0, np.nan], [1, 1], [np.nan, 0], [0, 0]])
    mask = np.array([True, True, False, False, False])
    cr = pie_stats.class_ratio(y, ["A", "B"], mask)
    assert cr.values.tolist() == [
        ["A", 2, 2, 1, 1, 0.5, 0.5, 1.0],
        ["B", 1, 3, 0, 1, 0.0, pytest.approx(1 / 3), 0.0]]
    assert cr["n_pie"].dtype == np.int64 and cr["pos_nonpie"].dtype == np.int64
    # no PIE labelled for a class: its prevalence and ratio are undefined (silently)
    with np.errstate(all="raise"):
        cr = pie_stats.class_ratio(y, ["A", "B"], np.array([False, True, False, False, False]))
    assert np.isnan(cr.loc[1, "prev_pie"]) and np.isnan(cr.loc[1, "ratio"])
    # non-PIE prevalence 0 → ratio undefined
    cr = pie_stats.class_ratio(np.array([[1.0], [0.0]]), ["A"], np.array([True, False]))
    assert cr.loc[0, "prev_nonpie"] == 0 and np.isnan(cr.loc[0, "ratio"])
    with pytest.raises(ValueError, match=r"labels \(5, 2\) do not match 3 classes"):
        pie_stats.class_ratio(y, ["A", "B", "C"], mask)
    with pytest.raises(ValueError, match=r"labels \(2,\) do not match 2 classes"):
        pie_stats.class_ratio(np.zeros(2), ["A", "B"], mask[:2])
    with pytest.raises(ValueError, match=r"PIE mask shape \(4,\), expected \(5,\)"):
        pie_stats.class_ratio(y, ["A", "B"], mask[:4])


def test_findings_ratio_bins_and_no_finding_spellings():
    from core.data.stats import finding_bin, is_no_finding
    assert is_no_finding(" No_Finding ") and is_no_finding("no finding")
    assert not is_no_finding("Finding")
    assert finding_bin(np.array([0, 3, 4, 9])).tolist() == [0, 3, 4, 4]
    classes = ["no finding", "A", "B", "C", "D", "E"]
    y = np.array([[1, 0, 0, 0, 0, 0],          # 0 findings (No Finding excluded)
                  [0, 1, np.nan, 0, 0, 0],     # 1 (NaN absent)
                  [0, 1, 1, 1, 1, 1],          # 5 → "4+"
                  [0, 1, 1, 1, 1, 0],          # 4 → "4+"
                  [0, 1, 1, 0, 0, 0]])         # 2
    mask = np.array([False, False, True, True, False])
    fr = pie_stats.findings_ratio(y, classes, mask)
    assert fr["n_findings"].tolist() == ["0", "1", "2", "3", "4+"]
    assert fr["count_pie"].tolist() == [0, 0, 0, 0, 2]
    assert fr["count_nonpie"].tolist() == [1, 1, 1, 0, 0]
    assert fr["count_pie"].dtype == np.int64 and fr["count_nonpie"].dtype == np.int64
    assert fr["prev_pie"].tolist() == [0, 0, 0, 0, 1]
    assert fr["prev_nonpie"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0, 0])
    assert fr["ratio"].tolist()[:3] == [0, 0, 0] and np.isnan(fr["ratio"].iloc[4])
    # without PIEs every PIE prevalence is undefined
    none = pie_stats.findings_ratio(y, classes, np.zeros(5, bool))
    assert np.isnan(none["prev_pie"]).all() and none["count_pie"].tolist() == [0] * 5


def test_groundtruth_comparison_edges():
    table = pd.DataFrame({"label_noise": [1, 0, 1, 1], "quality": [0.5, 0.5, 0.5, np.nan]})
    mask = np.array([True, False, False, True])
    gt = pie_stats.groundtruth_comparison(table, mask, ["label_noise", "quality"])
    assert gt["label_noise"] == {"rate_pie": 1.0, "rate_nonpie": 0.5, "n_pie": 2,
                                 "n_nonpie": 2,
                                 "u": stats.mannwhitneyu([1, 1], [0, 1]).statistic,
                                 "p": pytest.approx(stats.mannwhitneyu([1, 1], [0, 1]).pvalue)}
    # all values equal: U = n_a·n_b / 2, p = 1 (no evidence of a difference)
    assert gt["quality"] == {"mean_pie": 0.5, "mean_nonpie": 0.5, "n_pie": 1, "n_nonpie": 2,
                             "u": 1.0, "p": 1.0}
    empty = pie_stats.groundtruth_comparison(table, np.zeros(4, bool), ["quality"])["quality"]
    assert np.isnan(empty["mean_pie"]) and empty["n_pie"] == 0
    assert np.isnan(empty["u"]) and np.isnan(empty["p"]) and empty["mean_nonpie"] == 0.5
    with pytest.raises(ValueError, match="PIE mask shape"):
        pie_stats.groundtruth_comparison(table, mask[:3], ["quality"])


def test_rowwise_spearman_on_3d_arrays_and_two_columns():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(2, 3, 5)).round(1)
    y = rng.normal(size=(2, 3, 5)).round(1)
    got = pies.rowwise_spearman(x, y)
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert got[i, j] == pytest.approx(stats.spearmanr(x[i, j], y[i, j])[0], abs=1e-12)
    # two classes: the centred ranks are ±0.5, so the denominator is 0.5 (below 1)
    two = pies.rowwise_spearman(np.array([[0.1, 0.9], [0.1, 0.9]]),
                                np.array([[0.2, 0.8], [0.8, 0.2]]))
    assert two.tolist() == [1.0, -1.0]


def test_cut_ties_mask_of_zeros_and_ones_and_majority_of_small_ints():
    corr = [0.1, 0.2, 0.2, 0.9]
    assert pies.cut_ties(corr, [1, 1, 0, 0]) == {"cut_value": 0.2, "n_tied_at_cut": 2,
                                                 "n_tied_pies": 1}
    # votes in a narrow integer type must not overflow when doubled
    assert pies.majority(np.array([200, 100], dtype=np.uint8), 300).tolist() == [True, False]


def test_select_bottom_default_small_percentiles_and_bool_mask():
    corr = np.linspace(0, 1, 50)
    mask = pies.select_bottom(corr)                       # 5 % of 50 = 2 (6 % would be 3)
    assert mask.dtype == np.bool_ and np.flatnonzero(mask).tolist() == [0, 1]
    assert pies.select_bottom(np.linspace(0, 1, 200), 0.5).sum() == 1     # below 1 % is valid


def test_pie_stats_columns_dtypes_int_masks_and_quiet_empty_groups():
    import warnings
    y = np.array([[1, 0], [0, np.nan], [1, 1], [np.nan, 0], [0, 0]])
    cr = pie_stats.class_ratio(y, ["A", "B"], [1, 1, 0, 0, 0])          # a 0/1 int mask
    assert list(cr.columns) == ["class", "n_pie", "n_nonpie", "pos_pie", "pos_nonpie",
                                "prev_pie", "prev_nonpie", "ratio"]
    assert cr["n_pie"].tolist() == [2, 1] and cr["pos_pie"].tolist() == [1, 0]
    for col in ("n_pie", "n_nonpie", "pos_pie", "pos_nonpie"):
        assert cr[col].dtype == np.int64, col
    table = pd.DataFrame({"quality": [0.1, 0.9, 0.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")                        # no mean of an empty slice
        gt = pie_stats.groundtruth_comparison(table, np.ones(3, bool), ["quality"])
    assert np.isnan(gt["quality"]["mean_nonpie"]) and gt["quality"]["n_pie"] == 3
    # one non-PIE is enough for the test
    one = pie_stats.groundtruth_comparison(table, np.array([True, True, False]),
                                           ["quality"])["quality"]
    ref = stats.mannwhitneyu([0.1, 0.9], [0.5], alternative="two-sided")
    assert one["u"] == ref.statistic and one["p"] == pytest.approx(ref.pvalue)


def test_groundtruth_comparison_without_pies_is_nan_and_quiet():
    table = pd.DataFrame({"label_noise": [0.0, 1.0, 1.0], "quality": [0.5, np.nan, 0.25]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # no "mean of empty slice"
        gt = pie_stats.groundtruth_comparison(table, [False] * 3, ["label_noise", "quality"])
    assert math.isnan(gt["label_noise"]["rate_pie"]) and gt["label_noise"]["n_pie"] == 0
    assert gt["label_noise"]["rate_nonpie"] == pytest.approx(2 / 3)
    assert math.isnan(gt["quality"]["mean_pie"]) and gt["quality"]["mean_nonpie"] == 0.375
