"""Thresholds read from a study: validation_labels, seed_thresholds (thresholds.parquet) and
selection_thresholds (one seed or the seed ensemble), on a 6-image study written by hand.

Hand-worked (labels 1 / 0 / NaN, scores exact in float32):
  class A, labels 1 1 0 1 0 0
    seed 0: .875 .75 .625 .5 .375 .25   Youden: J(.75) = 2/3 = J(.5) → the higher, .75;
                                        F1(.75) = 4/5 < F1(.5) = 6/7 → .5
    seed 1: .75 .875 .5 .625 .25 .375   separates the classes → .625 by either rule
    mean:   .8125 .8125 .5625 .5625 .3125 .3125
                                        Youden: J(.8125) = 2/3 = J(.5625) → .8125;
                                        F1(.8125) = 4/5 < F1(.5625) = 6/7 → .5625
  class B, labels 0 NaN 1 0 0 1 (image 1 unlabelled: skipped)
    seed 0 → .625, seed 1 → .5, mean → .625 (each separates the classes)
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_curve

from core import predictions, store
from core.analysis import thresholds as th
from core.store import StudyPaths

CLASSES = ["A", "B"]
Y = np.array([[1, 0], [1, np.nan], [0, 1], [1, 0], [0, 0], [0, 1]])
P = {0: np.array([[.875, .25], [.75, .5], [.625, .75], [.5, .125], [.375, .375],
                  [.25, .625]], np.float32),
     1: np.array([[.75, .375], [.875, .125], [.5, .5], [.625, .25], [.25, .125],
                  [.375, .625]], np.float32)}
NO_VAL = ("this study has no validation predictions of the dense model; a study made by this "
          "version stores them (models/seed-N/val_predictions.npy)")


def _study(root, labels=Y, probs=None, *, extra=None):
    """study.json (float32 probabilities, validation files optional), data/val_labels.parquet
    stored in reverse row order, models/seed-N/val_predictions.npy."""
    paths = StudyPaths(root)
    for p in (paths.study_json, paths.val_labels):
        p.parent.mkdir(parents=True, exist_ok=True)
    store.write_json(paths.study_json, {"predictions": {"kind": "probability",
                                                        "dtype": "float32",
                                                        "validation": False}})
    if labels is not None:
        df = pd.DataFrame(labels, columns=CLASSES)
        df.insert(0, "row", np.arange(len(df)))
        df.insert(1, "id", [f"v{i}" for i in range(len(df))])
        store.write_parquet(paths.val_labels, df.iloc[::-1])
    for seed, p in {**(P if probs is None else probs), **(extra or {})}.items():
        paths.val_predictions(seed).parent.mkdir(parents=True, exist_ok=True)
        store.write_npy(paths.val_predictions(seed), p)
    return root


def _sklearn_youden(s, y):
    """Highest threshold of the largest TPR − FPR on sklearn's ROC curve (exact in counts)."""
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    p, n = int(y.sum()), int((1 - y).sum())
    j = (np.rint(tpr * p) * n - np.rint(fpr * n) * p)[1:]
    return thr[1:][int(np.argmax(j))]


def test_validation_labels_in_class_order_rows_sorted_and_refusals(tmp_path, monkeypatch):
    root = _study(tmp_path / "s")
    y, note = th.validation_labels(root, ["B", "A"])
    assert note == "" and y.dtype == np.float64
    np.testing.assert_array_equal(y, Y[:, ::-1])
    assert th.validation_labels(root, ["A", "C", "D"]) == (
        None, "validation labels lack classes ['C', 'D']")
    assert th.validation_labels(_study(tmp_path / "none", labels=None), CLASSES) == (
        None, "no validation labels in the study")
    # a reader handing rows out of order (and integer columns): sorted by `row`, float64
    shuffled = pd.DataFrame({"row": [2, 0, 1], "A": [1, 0, 1], "B": [0, 0, 1]})
    monkeypatch.setattr(predictions, "read_val_labels", lambda root: shuffled)
    y, note = th.validation_labels(root, CLASSES)
    assert note == "" and y.dtype == np.float64
    assert y.tolist() == [[0, 0], [1, 1], [1, 0]]


def test_seed_thresholds_handworked_absent_and_misshapen_seeds(tmp_path):
    root = _study(tmp_path / "s", extra={3: np.zeros((5, 2), np.float32)})
    # seed 2 has no file, seed 3 the wrong number of rows: both left out and named
    table, note = th.seed_thresholds(root, [0, 2, 1, 3], CLASSES)
    assert note == "no validation predictions for seeds [2, 3]"
    assert list(table.columns) == th.THRESHOLD_COLUMNS
    assert table.index.tolist() == [0, 1, 2, 3]
    assert table["seed"].tolist() == [0, 0, 1, 1] and table["seed"].dtype == np.int64
    assert table["class"].tolist() == CLASSES * 2
    assert table["rule"].tolist() == ["youden"] * 4                     # the default rule
    assert table["threshold"].tolist() == [.75, .625, .625, .5]
    assert table["n_pos"].tolist() == [3, 2, 3, 2] and table["n_neg"].tolist() == [3, 3] * 2
    # seed 0's class A against scikit-learn's ROC curve
    assert _sklearn_youden(P[0][:, 0].astype(np.float64), Y[:, 0]) == .75
    f1, note = th.seed_thresholds(root, [1, 0], CLASSES, "f1")
    assert note == "" and f1["seed"].tolist() == [1, 1, 0, 0]
    assert f1["rule"].tolist() == ["f1"] * 4
    assert f1["threshold"].tolist() == [.625, .5, .5, .625]


def test_seed_thresholds_without_labels_or_predictions(tmp_path):
    for i, (labels, probs, why) in enumerate([
            (None, None, "no validation labels in the study"),
            (Y, {}, "no validation predictions in the study")]):
        table, note = th.seed_thresholds(_study(tmp_path / str(i), labels, probs), [0, 1],
                                         CLASSES)
        assert note == why
        assert table.empty and list(table.columns) == th.THRESHOLD_COLUMNS


def test_selection_thresholds_one_seed_and_the_ensemble(tmp_path):
    root = _study(tmp_path / "s")
    for seed in (0, 1):
        thr, note = th.selection_thresholds(root, [seed], CLASSES)
        rows, _ = th.seed_thresholds(root, [seed], CLASSES)
        assert note == "" and thr.tolist() == rows["threshold"].tolist()
    assert th.selection_thresholds(root, [0, 1], CLASSES)[0].tolist() == [.8125, .625]
    assert th.selection_thresholds(root, [1, 0], CLASSES, "f1")[0].tolist() == [.5625, .625]


def test_selection_thresholds_refusals(tmp_path):
    root = _study(tmp_path / "s", extra={3: np.zeros((5, 2), np.float32)})
    assert th.selection_thresholds(root, [0, 2], CLASSES) == (None, NO_VAL)   # seed 2 absent
    assert th.selection_thresholds(_study(tmp_path / "nolabels", labels=None), [0],
                                   CLASSES) == (None, NO_VAL)
    assert th.selection_thresholds(root, [3], CLASSES) == (
        None, "validation labels (6, 2) and predictions (5, 2) differ in shape")


@pytest.mark.parametrize("rule", ["youden", "f1"])
def test_selection_of_one_seed_equals_choose_thresholds_on_its_file(tmp_path, rule):
    root = _study(tmp_path / "s")
    want = th.choose_thresholds(P[1].astype(np.float64), Y, rule)
    np.testing.assert_array_equal(th.selection_thresholds(root, [1], CLASSES, rule)[0], want)
