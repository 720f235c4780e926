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
