"""A 3-class, 6-image case worked out on paper: forgetting, first drop, FCD, pairs, PIEs, ratios.

Classes: No Finding (NF), Nodule, Hernia. Labels (rows = images 0..5):
    img0 1 0 0 | img1 1 0 0 | img2 0 1 0 | img3 0 1 1 | img4 0 1 0 | img5 0 0 1
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core import store
from core.analysis import analyze_study, pie_stats, pies
from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.config import AnalysisConfig, StudyConfig

CLASSES = ["No Finding", "Nodule", "Hernia"]
Y = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 1], [0, 1, 0], [0, 0, 1]], dtype=float)
SPARSITIES = [0, 50, 90]

# Relative AP change per seed (rows) at 50% and 90% for each class:
REL = {
    0: [[-0.10, -0.30], [-0.05, -0.10], [0.00, -0.25]],   # medians -0.05, -0.25 → drops at 90
    1: [[-0.30, -0.50], [-0.10, -0.40], [-0.25, -0.60]],  # medians -0.25, -0.50 → drops at 50
    2: [[0.10, -0.10], [0.00, -0.20], [0.05, -0.15]],     # medians  0.05, -0.15 → never
}


def ap_grid() -> np.ndarray:
    """AP [seed, sparsity, class] with AP_0 = 0.5 and AP_k = 0.5 · (1 + rel)."""
    ap = np.full((3, 3, 3), 0.5)
    for c, rows in REL.items():
        ap[:, 1:, c] = 0.5 * (1 + np.array(rows))
    return ap


def test_forgetting_curves_first_drop_and_rel_at():
    curves = fg.forgetting_curves(ap_grid())
    np.testing.assert_allclose(curves.median, [[0, 0, 0], [-0.05, -0.25, 0.05],
                                               [-0.25, -0.50, -0.15]], atol=1e-12)
    # Class 0 at 50%: values -0.10, -0.05, 0 → q25 -0.075, q75 -0.025 (linear interpolation).
    assert curves.q25[1, 0] == pytest.approx(-0.075)
    assert curves.q75[1, 0] == pytest.approx(-0.025)
    first = fg.first_drop_sparsity(curves.median, SPARSITIES, 20)
    assert first[0] == 90 and first[1] == 50 and math.isnan(first[2])
    np.testing.assert_allclose(fg.rel_change_at(curves.median, SPARSITIES, 90),
                               [-0.25, -0.5, -0.15])
    assert np.isnan(fg.rel_change_at(curves.median, SPARSITIES, 95)).all()
    # A 10% threshold: class 2 now drops at 90 (-0.15 < -0.10); class 0 still at 90.
    assert fg.first_drop_sparsity(curves.median, SPARSITIES, 10).tolist() == [90, 50, 90]


def test_fcd_by_hand():
    curves = fg.forgetting_curves(ap_grid()).median[1:]   # k > 0
    d = fq.fcd_matrix(curves)
    # c0 = (-.05, -.25), c1 = (-.25, -.5), c2 = (.05, -.15)
    assert d[0, 1] == pytest.approx(math.sqrt(0.2 ** 2 + 0.25 ** 2))   # 0.320156
    assert d[0, 2] == pytest.approx(math.sqrt(0.1 ** 2 + 0.1 ** 2))    # 0.141421
    assert d[1, 2] == pytest.approx(math.sqrt(0.3 ** 2 + 0.35 ** 2))   # 0.460977
    np.testing.assert_allclose(d, d.T)


def test_pair_statistics_both_variants():
    m = Y.T @ Y   # [[2,0,0],[0,3,1],[0,1,2]]
    paper = fq.pair_statistics(m, "paper")   # column sums 2, 4, 3
    assert list(zip(paper["a"], paper["b"], strict=True)) == [(0, 1), (0, 2), (1, 2)]
    np.testing.assert_allclose(paper["freq_a"], [2, 2, 4])
    np.testing.assert_allclose(paper["iou"], [0, 0, 1 / 6])   # 1 / (4 + 3 - 1)
    np.testing.assert_allclose(paper["log_freq_diff"],
                               [math.log(2), math.log(1.5), math.log(4 / 3)])
    plain = fq.pair_statistics(m, "plain")   # image counts 2, 3, 2
    np.testing.assert_allclose(plain["iou"], [0, 0, 0.25])   # 1 / (3 + 2 - 1)
    np.testing.assert_allclose(plain["iou4"], [0, 0, 0.25 ** 0.25])
    np.testing.assert_allclose(plain["log_freq_diff"], [math.log(1.5), 0, math.log(1.5)])


# Predictions [seed, sparsity, image, class] for the PIE case (sparsities 0 and 90).
DENSE = [[0.9, 0.5, 0.1], [0.9, 0.5, 0.1], [0.2, 0.8, 0.4],
         [0.1, 0.7, 0.6], [0.3, 0.6, 0.9], [0.3, 0.6, 0.9]]
SPARSE_SEED0 = [[0.8, 0.6, 0.2], [0.1, 0.5, 0.9], [0.2, 0.4, 0.8],
                [0.6, 0.7, 0.1], [0.5, 0.5, 0.5], [0.9, 0.3, 0.6]]
SPARSE_SEED1 = [[0.8, 0.6, 0.2], [0.1, 0.5, 0.9], [0.2, 0.8, 0.4],
                [0.6, 0.7, 0.1], [0.5, 0.5, 0.5], [0.9, 0.3, 0.6]]
PRED = np.array([[DENSE, SPARSE_SEED0], [DENSE, SPARSE_SEED1]], dtype=np.float16)
# Spearman(dense ensemble, 90% ensemble) per image, ranks across the 3 classes:
#   img0 same order → 1; img1 reversed → -1
#   img2 dense ranks (1,3,2); ensemble (0.2, 0.6, 0.6) → (1, 2.5, 2.5):
#        centred (-1,1,0)·(-1,.5,.5) = 1.5; norms² 2 and 1.5 → 1.5/√3 = 0.8660
#   img3 (1,3,2) vs (2,3,1): (-1,1,0)·(0,1,-1) = 1, norms² 2, 2 → 0.5
#   img4 ensemble constant (0.5, 0.5, 0.5) → undefined (NaN), never a PIE
#   img5 (1,2,3) vs (3,1,2): (-1,0,1)·(1,-1,0) = -1 → -0.5
CORR_90 = [1.0, -1.0, 1.5 / math.sqrt(3), 0.5, math.nan, -0.5]
# Bottom 34% of 6 images: ⌊2.04⌋ = 2 lowest → images 1 (-1) and 5 (-0.5).
PAPER_PIES = [1, 5]
# Population form, per seed ≥ 0.5 → 1, majority = both of 2 seeds:
#   img0 dense (1,1,0) sparse (1,1,0) same; img1 (1,1,0) vs (0,1,1) differ;
#   img2 (0,1,0) vs votes (0,1,1) → (0,0,0) differ; img3 (0,1,1) vs (1,1,0) differ;
#   img4 (0,1,1) vs (1,1,1) differ; img5 (0,1,1) vs (1,0,1) differ.
POPULATION_PIES = [1, 2, 3, 4, 5]


def test_pies_by_hand():
    ensemble = PRED.astype(np.float64).mean(axis=0)
    mask, corr = pies.paper_pies(ensemble, SPARSITIES[::2], pie_sparsity=90, percentile=34)
    np.testing.assert_allclose(corr[1], CORR_90, atol=1e-6)
    assert np.allclose(corr[0][[0, 1, 2, 3, 5]], 1.0)
    assert np.flatnonzero(mask).tolist() == PAPER_PIES
    votes = pies.threshold_votes(PRED)
    pop = pies.population_pies(votes, n_seeds=2)
    assert not pop[0].any()
    assert np.flatnonzero(pop[1]).tolist() == POPULATION_PIES


def test_cut_ties_by_hand():
    """Bottom 45% of 7 → ⌊3.15⌋ = 3 PIEs: -0.3 (row 6), -0.1 (row 1), then three images sit
    exactly on 0.2 (rows 0, 2, 4): row order makes row 0 the third PIE; rows 2 and 4 are
    tied with it and are not PIEs. The NaN image is never one."""
    corr = np.array([0.2, -0.1, 0.2, 0.5, 0.2, np.nan, -0.3])
    mask = pies.select_bottom(corr, 45)
    assert np.flatnonzero(mask).tolist() == [0, 1, 6]
    ties = pies.cut_ties(corr, mask)
    assert ties == {"cut_value": 0.2, "n_tied_at_cut": 3, "n_tied_pies": 1}
    assert pies.tie_text(ties).startswith("cut at correlation 0.2: 3 image(s) have exactly "
                                          "the cut value; 1 of them are PIEs")
    assert pies.cut_ties(corr, np.zeros(7, bool)) == {"cut_value": None, "n_tied_at_cut": 0,
                                                      "n_tied_pies": 0}


def test_pie_ratios_by_hand():
    mask = np.isin(np.arange(6), PAPER_PIES)
    labels = pd.DataFrame(Y, columns=CLASSES)
    cr = pie_stats.class_ratio(labels, CLASSES, mask).set_index("class")
    # NF: PIEs {1,5} → 1/2; non-PIEs {0,2,3,4} → 1/4 → 2.0
    # Nodule: 0/2 vs 3/4 → 0.0; Hernia: 1/2 vs 1/4 → 2.0
    np.testing.assert_allclose(cr["ratio"], [2.0, 0.0, 2.0])
    fr = pie_stats.findings_ratio(labels, CLASSES, mask).set_index("n_findings")
    # Findings per image (NF excluded): 0 0 1 2 1 1. PIEs: one 0, one 1 → 1/2, 1/2;
    # non-PIEs: 0 once, 1 twice, 2 once → 1/4, 2/4, 1/4.
    assert fr["count_pie"].tolist() == [1, 1, 0, 0, 0]
    assert fr["count_nonpie"].tolist() == [1, 2, 1, 0, 0]
    np.testing.assert_allclose(fr["ratio"], [2.0, 1.0, 0.0, np.nan, np.nan])


def test_end_to_end_on_the_handworked_study(tmp_path):
    """The same case through analyze_study: the stored PIE set is the one worked out above."""
    paths = store.StudyPaths(tmp_path / "hand")
    labels = pd.DataFrame({"id": [f"img{i}" for i in range(6)], "row": np.arange(6)})
    for j, c in enumerate(CLASSES):
        labels[c] = Y[:, j].astype(np.float32)
    store.write_parquet(paths.labels, labels)
    store.write_parquet(paths.class_counts, pd.DataFrame(
        {"class": CLASSES, "train_pos": [40, 30, 5], "train_neg": 0, "train_nan": 0}))
    store.write_npy(paths.cooccurrence("eval"), (Y.T @ Y).astype(np.int64))
    cfg = StudyConfig(seeds=[0, 1], methods=["l1_global"], sparsities=[0, 90],
                      analysis=AnalysisConfig(at_sparsity=90, pie_sparsity=90,
                                              pie_percentile=34.0))
    store.write_json(paths.study_json, {
        "schema_version": 1, "config": cfg.to_dict(), "classes": CLASSES,
        "sparsities": [0, 90], "methods": ["l1_global"], "seeds": [0, 1]})
    for seed in (0, 1):
        store.write_npy(paths.predictions("l1_global", seed), PRED[seed])
    params = analyze_study(paths.root)
    assert params["pies"]["l1_global"] == {"n_paper": 2, "n_population": 5,
                                           "n_undefined_corr": 1, "cut_value": -0.5,
                                           "n_tied_at_cut": 1, "n_tied_pies": 1}
    table = pd.read_parquet(paths.analysis_dir / "pies.parquet")
    assert table.loc[table["pie_paper"], "row"].tolist() == PAPER_PIES
    assert table.loc[table["pie_population"], "row"].tolist() == POPULATION_PIES
    corr = store.open_npy(paths.analysis_dir / "pie_corr" / "l1_global.npy")
    assert corr.dtype == np.float32 and corr.shape == (2, 6)
    np.testing.assert_allclose(corr[1], CORR_90, atol=1e-6)
    pop = store.open_npy(paths.analysis_dir / "pie_population" / "l1_global.npy")
    assert pop.dtype == np.uint8 and np.flatnonzero(pop[1]).tolist() == POPULATION_PIES


# ----------------------------------------------------------------------------- stored tables
def test_forgetting_table_and_curves_by_hand():
    from core.analysis import class_tables as ct
    ap = ap_grid()
    auc = ap + 0.3                                    # dense AUC 0.8
    t = ct.forgetting_table("m", SPARSITIES, CLASSES, ap, auc)
    assert t["sparsity"].tolist() == [0, 0, 0, 50, 50, 50, 90, 90, 90]
    assert t["class"].tolist() == CLASSES * 3 and (t["method"] == "m").all()
    r = t.iloc[3]                                     # sparsity 50, No Finding: rel −.1, −.05, 0
    assert r["ap_median"] == pytest.approx(0.475) and r["ap_q25"] == pytest.approx(0.4625)
    assert r["ap_q75"] == pytest.approx(0.4875) and r["auc_median"] == pytest.approx(0.775)
    assert r["rel_ap_median"] == pytest.approx(-0.05) and r["rel_ap_q25"] == pytest.approx(-0.075)
    assert r["rel_ap_q75"] == pytest.approx(-0.025)
    assert r["rel_auc_median"] == pytest.approx(-0.025 / 0.8)   # AUC 0.775 vs 0.8 per seed
    assert t["n_seeds"].tolist() == [3] * 9 and t["n_seeds"].dtype == np.int64
    assert t["sparsity"].dtype == np.int64
    rel = ct.class_curves("m", SPARSITIES, CLASSES, ap, relative=True)
    plain = ct.class_curves("m", SPARSITIES, CLASSES, ap, relative=False)
    assert list(rel.columns) == ct.CURVE_COLUMNS and (rel["method"] == "m").all()
    assert rel["class"].tolist() == CLASSES * 3
    assert rel["sparsity"].tolist() == t["sparsity"].tolist()
    for col, src in (("median", "rel_ap_median"), ("q25", "rel_ap_q25"), ("q75", "rel_ap_q75")):
        np.testing.assert_allclose(rel[col], t[src], rtol=0, atol=1e-15)
    for col, src in (("median", "ap_median"), ("q25", "ap_q25"), ("q75", "ap_q75")):
        np.testing.assert_allclose(plain[col], t[src], rtol=0, atol=1e-15)
    assert rel["n_seeds"].tolist() == [3] * 9


def test_class_summary_and_its_correlations_by_hand():
    from scipy import stats

    from core.analysis import class_tables as ct
    ap = ap_grid()
    assert ct.eval_positives(Y).tolist() == [2, 3, 2]
    e = ct.eval_positives([[1.0, np.nan], [1.0, 0.0]])
    assert e.tolist() == [2, 0] and e.dtype == np.int64
    s = ct.class_summary("m", CLASSES, SPARSITIES, ap, ap + 0.3, np.array([40, 30, 5]),
                         np.array([2, 3, 2]), drop_percent=20, at_sparsity=90)
    assert s["class"].tolist() == CLASSES and s["class_index"].tolist() == [0, 1, 2]
    assert (s["method"] == "m").all() and s["train_pos"].tolist() == [40, 30, 5]
    np.testing.assert_allclose(s["log_train_freq"], np.log([40, 30, 5]), rtol=0, atol=0)
    assert s["eval_pos"].tolist() == [2, 3, 2]
    np.testing.assert_allclose(s["ap_dense_median"], 0.5)
    np.testing.assert_allclose(s["auc_dense_median"], 0.8)
    # medians (see REL): No Finding −5 %, −25 %; Nodule −25 %, −50 %; Hernia +5 %, −15 %
    np.testing.assert_array_equal(s["first_drop"], [90.0, 50.0, np.nan])
    assert s["first_drop_status"].tolist() == ["drops", "drops", "never"]
    np.testing.assert_allclose(s["rel_ap_at"], [-0.25, -0.5, -0.15], atol=1e-15)
    other = ct.class_summary("m", CLASSES, SPARSITIES, ap, ap, [40, 30, 5], [2, 3, 2],
                             drop_percent=30, at_sparsity=50)
    np.testing.assert_array_equal(other["first_drop"], [np.nan, 90.0, np.nan])
    np.testing.assert_allclose(other["rel_ap_at"], [-0.05, -0.25, 0.05], atol=1e-15)
    corr = ct.class_correlations(s)
    fd, at = corr["first_drop_vs_log_freq"], corr["rel_ap_at_vs_log_freq"]
    assert fd["n"] == 2 and math.isnan(fd["r"]) and fd["excluded"] == {"Hernia": "never drops"}
    ref = stats.pearsonr([-0.25, -0.5, -0.15], np.log([40, 30, 5]))
    assert at["n"] == 3 and at["excluded"] == {}
    assert at["r"] == pytest.approx(ref[0], abs=1e-12) and at["p_r"] == pytest.approx(ref[1])
    assert at["rho"] == pytest.approx(-0.5)
    both = ct.class_correlations(other)
    assert both["rel_ap_at_vs_log_freq"]["rho"] == pytest.approx(-0.5)   # ranks (2, 1, 3)


def test_pair_table_its_correlations_and_regression_by_hand():
    from scipy import stats

    from core.analysis import class_tables as ct
    rel = fg.forgetting_curves(ap_grid()).median
    p = ct.pair_table("m", CLASSES, rel, SPARSITIES, (Y.T @ Y).astype(np.int64), "paper")
    assert p["class_a"].tolist() == ["No Finding", "No Finding", "Nodule"]
    assert p["class_b"].tolist() == ["Nodule", "Hernia", "Hernia"]
    assert (p["method"] == "m").all() and (p["variant"] == "paper").all()
    # FCD over 50 % and 90 %: √(.2² + .25²), √(.1² + .1²), √(.3² + .35²)
    np.testing.assert_allclose(p["fcd"], np.sqrt([0.1025, 0.02, 0.2125]), rtol=1e-12)
    # paper variant: frequency = column sums of YᵀY (2, 4, 3); Nodule∩Hernia 1 of 4 + 3 − 1
    assert p["freq_a"].tolist() == [2, 2, 4] and p["freq_b"].tolist() == [4, 3, 3]
    np.testing.assert_allclose(p["log_freq_diff"], [math.log(2), math.log(1.5),
                                                    math.log(4 / 3)], rtol=1e-12)
    np.testing.assert_allclose(p["iou"], [0, 0, 1 / 6], atol=1e-15)
    np.testing.assert_allclose(p["iou4"], [0, 0, (1 / 6) ** 0.25], atol=1e-15)
    # five made-up pairs (one with a NaN FCD) for the correlations and the fit
    pairs = pd.DataFrame({"fcd": [0.1, 0.4, 0.35, 0.8, np.nan, 0.6],
                          "log_freq_diff": [0.1, 0.5, 0.2, 1.0, 0.3, 0.9],
                          "iou4": [0.9, 0.5, 0.7, 0.1, 0.4, 0.2]})
    c = ct.pair_correlations(pairs)
    ok = pairs["fcd"].notna()
    for key, col in (("fcd_vs_log_freq_diff", "log_freq_diff"), ("fcd_vs_iou4", "iou4")):
        assert c[key]["n"] == 5 and c[key]["n_excluded"] == 1
        assert c[key]["r"] == pytest.approx(stats.pearsonr(pairs["fcd"][ok], pairs[col][ok])[0])
        assert c[key]["rho"] == pytest.approx(stats.spearmanr(pairs["fcd"][ok],
                                                              pairs[col][ok])[0])
    fit = ct.pair_regression(pairs)
    X = np.column_stack([np.ones(5), pairs.loc[ok, "log_freq_diff"], pairs.loc[ok, "iou4"]])
    coef = np.linalg.lstsq(X, pairs.loc[ok, "fcd"], rcond=None)[0]
    assert fit["terms"] == ["intercept", "log_freq_diff", "iou4"] and fit["n"] == 5
    np.testing.assert_allclose(fit["coef"], coef, rtol=1e-10)


def test_class_tables_name_why_a_class_is_left_out_and_use_every_positive_sparsity():
    from core.analysis import class_tables as ct
    ap = ap_grid()
    ap[:, :, 2] = np.nan                              # Hernia: no evaluation positive
    s = ct.class_summary("m", CLASSES, SPARSITIES, ap, ap, [40, 30, 5], [2, 3, 0],
                         drop_percent=20, at_sparsity=90)
    assert s["first_drop_status"].tolist() == ["drops", "drops", "undefined"]
    corr = ct.class_correlations(s)
    why = {"Hernia": "undefined (no positive in the evaluation split)"}
    assert corr["first_drop_vs_log_freq"]["excluded"] == why
    assert corr["rel_ap_at_vs_log_freq"]["excluded"] == why
    no95 = ct.class_summary("m", CLASSES, SPARSITIES, ap_grid(), ap_grid(), [40, 30, 5],
                            [2, 3, 2], drop_percent=20, at_sparsity=95)
    assert ct.class_correlations(no95)["rel_ap_at_vs_log_freq"]["excluded"] == \
        dict.fromkeys(CLASSES, "undefined")
    # a 1 % sparsity counts in the FCD like any other above 0; the plain variant's
    # frequencies are the diagonal of YᵀY (2, 3, 2)
    rel = fg.forgetting_curves(ap_grid()).median
    p = ct.pair_table("m", CLASSES, rel, [0, 1, 90], (Y.T @ Y).astype(np.int64), "plain")
    np.testing.assert_allclose(p["fcd"], np.sqrt([0.1025, 0.02, 0.2125]), rtol=1e-12)
    assert (p["variant"] == "plain").all()
    assert p["freq_a"].tolist() == [2, 2, 3] and p["freq_b"].tolist() == [3, 2, 2]
    np.testing.assert_allclose(p["iou"], [0, 0, 0.25], atol=1e-15)
