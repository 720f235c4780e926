"""Missed findings, calibration and subgroups: hand-worked cases and scikit-learn cross-checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, confusion_matrix

from core.analysis import calibration as cal
from core.analysis import missed as ms
from core.analysis import subgroups as sg


def test_missed_findings_handworked():
    # One class, threshold 0.5; labels 1 1 1 0 0 0.
    # dense : 0.9 0.6 0.2 | 0.7 0.1 0.3 → calls 1 1 0 | 1 0 0
    # pruned: 0.4 0.6 0.8 | 0.2 0.9 0.3 → calls 0 1 1 | 0 1 0
    # missed: positive→negative among truly positive = image 0 → 1/3
    # false alarm: negative→positive among truly negative = image 4 → 1/3
    # sensitivity 2/3, specificity 2/3, flips: images 0, 2, 3, 4 → 4/6
    probs = np.array([[0.9, 0.6, 0.2, 0.7, 0.1, 0.3],
                      [0.4, 0.6, 0.8, 0.2, 0.9, 0.3]])[:, :, None]
    y = np.array([1, 1, 1, 0, 0, 0], dtype=float)[:, None]
    r = ms.missed_findings(probs, y, np.array([0.5]))
    assert r["missed_rate"][:, 0].tolist() == [0, pytest.approx(1 / 3)]
    assert r["false_alarm_rate"][:, 0].tolist() == [0, pytest.approx(1 / 3)]
    assert r["sensitivity"][:, 0].tolist() == [pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert r["specificity"][:, 0].tolist() == [pytest.approx(2 / 3), pytest.approx(2 / 3)]
    assert r["flip_rate"][:, 0].tolist() == [0, pytest.approx(4 / 6)]


def test_missed_findings_vs_sklearn_confusion_matrix_and_nan():
    rng = np.random.default_rng(0)
    y = (rng.random((400, 3)) < 0.3).astype(float)
    probs = rng.random((4, 400, 3)).astype(np.float32)
    y[rng.random(y.shape) < 0.1] = np.nan
    t = np.array([0.3, 0.5, np.nan])
    r = ms.missed_findings(probs, y, t)
    for k in range(4):
        for c in range(2):
            ok = ~np.isnan(y[:, c])
            tn, fp, fn, tp = confusion_matrix(y[ok, c], probs[k, ok, c] >= t[c],
                                              labels=[0, 1]).ravel()
            assert r["sensitivity"][k, c] == pytest.approx(tp / (tp + fn))
            assert r["specificity"][k, c] == pytest.approx(tn / (tn + fp))
    assert np.isnan(r["missed_rate"][:, 2]).all()       # no threshold → undefined


def test_calibration_handworked_and_brier_vs_sklearn():
    # 2 bins. Bin [0, .5): p = .1, .3 with y = 0, 1 → mean p .2, frac 0.5, gap .3, n 2
    # Bin [.5, 1]: p = .8, 1.0 with y = 1, 1 → mean .9, frac 1, gap .1, n 2
    # ECE = (2·.3 + 2·.1) / 4 = 0.2
    probs = np.array([[0.1, 0.3, 0.8, 1.0]])[:, :, None]
    y = np.array([0, 1, 1, 1], dtype=float)[:, None]
    assert cal.expected_calibration_error(probs, y, 2)[0, 0] == pytest.approx(0.2)
    rng = np.random.default_rng(1)
    p = rng.random((3, 200, 2))
    yy = (rng.random((200, 2)) < 0.4).astype(float)
    yy[5, 1] = np.nan
    got = cal.brier(p, yy)
    for m in range(3):
        for c in range(2):
            ok = ~np.isnan(yy[:, c])
            assert got[m, c] == pytest.approx(brier_score_loss(yy[ok, c], p[m, ok, c]))


def test_ece_matches_a_direct_loop():
    rng = np.random.default_rng(3)
    p = rng.random((2, 300, 2))
    y = (rng.random((300, 2)) < p[0]).astype(float)
    got = cal.expected_calibration_error(p, y, 10)
    for m in range(2):
        for c in range(2):
            e = 0.0
            b = np.minimum((p[m, :, c] * 10).astype(int), 9)
            for i in range(10):
                sel = b == i
                if sel.any():
                    e += sel.sum() / 300 * abs(p[m, sel, c].mean() - y[sel, c].mean())
            assert got[m, c] == pytest.approx(e)


def test_define_groups_bands_missing_and_absent():
    labels = pd.DataFrame({"sex": ["M", "F", None, "M"], "age": [30, 45.0, np.nan, 85],
                           "view": [None, None, None, None]})
    groups, absent = sg.define_groups(labels)
    names = [(a, g, m.tolist()) for a, g, m in groups]
    assert ("sex", "F", [False, True, False, False]) in names
    assert ("sex", "M", [True, False, False, True]) in names
    assert ("age", "<40", [True, False, False, False]) in names
    assert ("age", "80+", [False, False, False, True]) in names
    assert absent == {"view": "all values missing"}
    _, absent = sg.define_groups(pd.DataFrame({"x": [1]}))
    assert set(absent) == {"sex", "age", "view"}


def test_pie_enrichment_and_worst_group():
    groups = [("sex", "M", np.array([1, 1, 0, 0], bool)), ("sex", "F", np.array([0, 0, 1, 1],
                                                                                   bool))]
    pe = sg.pie_enrichment(groups, np.array([1, 0, 0, 0], bool))
    # overall PIE rate 1/4; M: 1/2 → enrichment 2; F: 0 → 0.
    assert pe["enrichment"].tolist() == [2.0, 0.0]
    table = pd.DataFrame({"method": "m", "class": "A", "sparsity": 50,
                          "attribute": ["sex", "sex", "age"], "group": ["M", "F", "<40"],
                          "rel_ap": [-0.1, -0.4, -0.9], "rel_ap_lo": np.nan,
                          "rel_ap_hi": np.nan,
                          "note": ["", "", "too few positives (< 5)"]})
    worst = sg.worst_groups(table)
    assert worst[["group", "rel_ap", "n_groups"]].values.tolist() == [["F", -0.4, 2]]


# ---- every branch pinned by hand (mutation run: benchmarks/mutation.py)
def test_missed_findings_counts_dense_index_nan_labels_and_silence():
    # class 0: labels 1 1 0 NaN; class 1: no positive; class 2: threshold NaN
    y = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [np.nan, 0, 0]])
    probs = np.array([[[0.9, 0.2, 0.5], [0.4, 0.7, 0.5], [0.6, 0.1, 0.5], [0.9, 0.1, 0.5]],
                      [[0.9, 0.2, 0.5], [0.6, 0.2, 0.5], [0.1, 0.9, 0.5], [0.1, 0.1, 0.5]]],
                     dtype=np.float32)
    t = np.array([0.5, 0.5, np.nan])
    with np.errstate(all="raise"):
        r = ms.missed_findings(probs, y, t, dense_index=1)
    assert r["n_pos"].tolist() == [2, 0, 2] and r["n_neg"].tolist() == [1, 4, 2]
    assert r["n_pos"].dtype == np.int64 and r["n_neg"].dtype == np.int64
    # dense = model 1: class 0 calls 1 1 0 (0); model 0 calls 1 0 1 (1).
    # image 1 (pos) flips off → missed 1/2; image 2 (neg) flips on → false alarm 1/1;
    # the unlabelled image 3 flips too but does not count: flip rate 2/3.
    assert r["missed_rate"][:, 0].tolist() == [0.5, 0.0]
    assert r["false_alarm_rate"][:, 0].tolist() == [1.0, 0.0]
    assert r["sensitivity"][:, 0].tolist() == [0.5, 1.0]
    assert r["specificity"][:, 0].tolist() == [0.0, 1.0]
    assert r["flip_rate"][:, 0].tolist() == [2 / 3, 0.0]
    # class 1: rates over positives are undefined (0/0), silently; over negatives defined
    assert np.isnan(r["missed_rate"][:, 1]).all() and np.isnan(r["sensitivity"][:, 1]).all()
    assert r["false_alarm_rate"][:, 1].tolist() == [0.25, 0.0]
    assert r["specificity"][:, 1].tolist() == [0.75, 0.75]
    for k in ms.RATES:
        assert np.isnan(r[k][:, 2]).all() and r[k].dtype == np.float64
    # the threshold is compared in float64: a probability just below it is not a call
    below = np.nextafter(np.float32(0.5), np.float32(0))
    r2 = ms.missed_findings(np.array([[[0.9], [below]]], dtype=np.float32),
                            np.array([[1.0], [0.0]]), np.array([float(below) + 1e-12]))
    assert r2["specificity"][0, 0] == 1.0


def test_missed_findings_refuses_shapes_that_do_not_fit():
    y = np.zeros((4, 2))
    for probs, t in ((np.zeros((4, 2)), np.zeros(2)), (np.zeros((1, 3, 2)), np.zeros(2)),
                     (np.zeros((1, 4, 2)), np.zeros(3))):
        with pytest.raises(ValueError, match=r"probs .* \[S, N, C\], labels \(4, 2\) \[N, C\] "
                                             r"and thresholds .* \[C\] do not fit"):
            ms.missed_findings(probs, y, t)


def test_summary_over_seeds_median_quartiles_count_and_seed_filter():
    from core.analysis.over_seeds import summary_table
    table = pd.DataFrame({"method": "m", "class": ["A"] * 4 + ["B"] * 4, "sparsity": 50,
                          "seed": [0, 1, 2, 3] * 2,
                          "missed_rate": [0.1, 0.2, 0.4, np.nan, 1.0, 2.0, 3.0, 4.0]})
    keys = ("method", "class", "sparsity")
    out = summary_table(table, "missed_rate", keys).set_index("class")
    assert out.loc["A", "median"] == 0.2 and out.loc["A", "n_seeds"] == 3
    assert out.loc["A", "q25"] == pytest.approx(0.15) and out.loc["A", "q75"] == pytest.approx(0.3)
    assert out.loc["B", "median"] == 2.5 and out.loc["B", "n_seeds"] == 4
    assert list(out.reset_index()["class"]) == ["A", "B"]
    sub = summary_table(table, "missed_rate", keys, seeds=[2, 3]).set_index("class")
    assert sub.loc["B", "median"] == 3.5 and sub.loc["A", "n_seeds"] == 1
    by_class = summary_table(table, "missed_rate", ("class",))
    assert list(by_class.columns) == ["class", "median", "q25", "q75", "n_seeds"]


def test_reliability_bins_edges_clipping_and_refusals():
    # 4 bins: 0.25 opens bin 1, 1.0 sits in the last bin, below 0 / above 1 are clipped
    probs = np.array([[[0.25], [0.2499], [1.0], [-0.5], [1.5], [0.6]]])
    y = np.array([[1.0], [0.0], [1.0], [0.0], [np.nan], [1.0]])
    b = cal.reliability(probs, y, 4)
    assert b["count"][0, 0].tolist() == [2, 1, 1, 1] and b["count"].dtype == np.float64
    assert b["sum_prob"][0, 0].tolist() == [0.2499 - 0.5, 0.25, 0.6, 1.0]
    assert b["sum_pos"][0, 0].tolist() == [0, 1, 1, 1]
    d = cal.reliability(probs, y)                              # default: 10 bins
    assert d["count"].shape == (1, 1, cal.DEFAULT_BINS) == (1, 1, 10)
    with pytest.raises(ValueError, match="n_bins must be >= 1, got 0"):
        cal.reliability(probs, y, 0)
    assert cal.reliability(probs, y, 1)["count"][0, 0].tolist() == [5]
    with pytest.raises(ValueError, match=r"probs \(6, 1\) must be \[M, N, C\] with labels"):
        cal.reliability(probs[0], y)
    with pytest.raises(ValueError, match=r"must be \[M, N, C\] with labels \(5, 1\)"):
        cal.reliability(probs, y[:5])


def test_ece_and_brier_undefined_without_labels_and_multi_model_layout():
    probs = np.array([[[0.2, 0.9], [0.7, 0.1]], [[0.4, 0.5], [0.9, 0.3]]])   # [M=2, N=2, C=2]
    y = np.array([[1.0, np.nan], [0.0, np.nan]])
    with np.errstate(all="raise"):
        ece = cal.expected_calibration_error(probs, y)
        br = cal.brier(probs, y)
    assert np.isnan(ece[:, 1]).all() and np.isnan(br[:, 1]).all()
    # model 1, class 0, 10 bins: p .4 (y 1) in bin 4, p .9 (y 0) in bin 9: ECE (.6 + .9) / 2
    assert ece[1, 0] == pytest.approx(0.75) and ece[0, 0] == pytest.approx((0.8 + 0.7) / 2)
    assert br[1, 0] == pytest.approx((0.36 + 0.81) / 2)
    assert br[0, 0] == pytest.approx((0.64 + 0.49) / 2)


def test_define_groups_band_edges_blank_text_and_order():
    labels = pd.DataFrame({"sex": [" ", "M", "F", ""], "age": ["39.9", "40", 60, 80],
                           "view": ["PA", "AP", "PA", None]})
    groups, absent = sg.define_groups(labels)
    assert absent == {}
    assert [(a, g, m.tolist()) for a, g, m in groups] == [
        ("sex", "F", [False, False, True, False]), ("sex", "M", [False, True, False, False]),
        ("age", "<40", [True, False, False, False]), ("age", "40-59", [False, True, False, False]),
        ("age", "60-79", [False, False, True, False]), ("age", "80+", [False, False, False, True]),
        ("view", "AP", [False, True, False, False]), ("view", "PA", [True, False, True, False])]
    blank = pd.DataFrame({"sex": [" ", ""], "age": ["n/a", None], "view": [None, None]})
    assert sg.define_groups(blank) == ([], {"sex": "all values missing",
                                            "age": "all values missing",
                                            "view": "all values missing"})
    _, absent = sg.define_groups(pd.DataFrame({"age": [50]}))
    assert absent == {"sex": "no column in the evaluation labels",
                      "view": "no column in the evaluation labels"}


def test_group_codes_and_positives():
    codes = np.array([[1, 0], [0, 2], [1, 1]], dtype=np.int8)
    groups = [("sex", "M", np.array([True, False, True])), ("sex", "F", np.array([False, True,
                                                                                  False]))]
    q = sg.group_codes(codes, groups)
    assert q.dtype == np.int8 and q.shape == (3, 3, 2)
    assert q[0].tolist() == codes.tolist()
    assert q[1].tolist() == [[1, 0], [2, 2], [1, 1]] and q[2].tolist() == [[2, 2], [0, 2], [2, 2]]
    pos = sg.positives(q)
    assert pos.tolist() == [[2, 1], [2, 1], [0, 0]] and pos.dtype == np.int64


def test_worst_groups_empty_ties_and_dense_rows_and_enrichment_edges():
    cols = ["method", "class", "sparsity", "attribute", "group", "rel_ap", "rel_ap_lo",
            "rel_ap_hi", "n_groups"]
    empty = sg.worst_groups(pd.DataFrame({"method": ["m"], "class": ["A"], "sparsity": [0],
                                          "attribute": ["sex"], "group": ["M"],
                                          "rel_ap": [-0.5], "rel_ap_lo": [np.nan],
                                          "rel_ap_hi": [np.nan], "note": [""]}))
    assert empty.empty and list(empty.columns) == cols
    table = pd.DataFrame({"method": "m", "class": ["A", "A", "A", "B", "A"],
                          "sparsity": [50, 50, 90, 50, 50], "attribute": "sex",
                          "group": ["M", "F", "M", "M", "X"],
                          "rel_ap": [-0.2, -0.3, -0.5, np.nan, -0.9],
                          "rel_ap_lo": [-0.4, -0.5, -0.6, np.nan, -1.0],
                          "rel_ap_hi": [0.0, -0.1, -0.4, np.nan, -0.8],
                          "note": ["", "", "", "", "too few positives"]})
    worst = sg.worst_groups(table)
    assert list(worst.columns) == cols
    assert worst.values.tolist() == [["m", "A", 50, "sex", "F", -0.3, -0.5, -0.1, 2],
                                     ["m", "A", 90, "sex", "M", -0.5, -0.6, -0.4, 1]]
    groups = [("sex", "M", np.array([True, True, False])), ("sex", "none", np.zeros(3, bool))]
    pe = sg.pie_enrichment(groups, np.array([False, False, False]))
    assert list(pe.columns) == ["attribute", "group", "n_images", "n_pie", "pie_rate",
                                "enrichment"]
    assert pe["n_images"].tolist() == [2, 0] and pe["n_pie"].tolist() == [0, 0]
    assert pe["pie_rate"].iloc[0] == 0 and np.isnan(pe["pie_rate"].iloc[1])
    assert np.isnan(pe["enrichment"]).all()                    # no PIE at all: undefined
    pe = sg.pie_enrichment(groups, np.array([1, 0, 1]))
    assert pe["n_pie"].tolist() == [1, 0]
    assert pe["enrichment"].iloc[0] == pytest.approx(0.5 / (2 / 3))
    assert sg.pie_enrichment([], np.array([], bool)).empty


def test_calls_are_made_on_float32_probabilities_and_at_the_threshold():
    # stored probabilities are float32: 0.2999999999 rounds to float32(0.3) = 0.3000000119
    y = np.array([[1.0], [0.0]])
    r = ms.missed_findings(np.array([[[0.2999999999], [0.1]]]), y, np.array([0.3]))
    assert r["sensitivity"][0, 0] == 1.0
    r = ms.missed_findings(np.array([[[0.5], [0.1]]], dtype=np.float32), y, np.array([0.5]))
    assert r["sensitivity"][0, 0] == 1.0                 # score == threshold is a call


def test_summary_over_seeds_keeps_first_appearance_order():
    from core.analysis.over_seeds import summary_table
    table = pd.DataFrame({"method": "m", "class": ["B", "A", "B", "A"], "sparsity": 50,
                          "seed": [0, 0, 1, 1], "missed_rate": [1.0, 2.0, 3.0, 4.0]})
    out = summary_table(table, "missed_rate", ("method", "class", "sparsity"))
    assert out["class"].tolist() == ["B", "A"] and out["median"].tolist() == [2.0, 3.0]


def test_ece_and_brier_with_a_single_labelled_image():
    probs = np.array([[[0.25], [0.9]]])
    y = np.array([[1.0], [np.nan]])
    assert cal.expected_calibration_error(probs, y)[0, 0] == pytest.approx(0.75)
    assert cal.brier(probs, y)[0, 0] == pytest.approx(0.5625)


def test_worst_groups_order_one_percent_and_quiet_empty_enrichment():
    import warnings
    table = pd.DataFrame({"method": "m", "class": ["B", "B", "A", "A"],
                          "sparsity": [1, 1, 1, 1], "attribute": "sex",
                          "group": ["M", "F", "M", "F"], "rel_ap": [-0.1, -0.2, -0.4, -0.3],
                          "rel_ap_lo": np.nan, "rel_ap_hi": np.nan, "note": ""})
    worst = sg.worst_groups(table)                     # 1 % is a pruned sparsity
    assert worst[["class", "group", "n_groups"]].values.tolist() == [["B", "F", 2],
                                                                     ["A", "M", 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sg.pie_enrichment([], np.array([], bool)).empty
