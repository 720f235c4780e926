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
