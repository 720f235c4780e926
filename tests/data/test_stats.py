"""Label statistics against hand-worked answers and numpy cross-checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.stats import (
    class_counts,
    cooccurrence,
    finding_bin,
    findings_full_histogram,
    findings_histogram,
    findings_per_image,
    image_labels_in_words,
    is_no_finding,
    label_counts,
    labels_in_words,
)

NAN = np.nan
CLASSES = ["No Finding", "A", "B"]
# five images; worked by hand below
Y = np.array([
    [1, 0, 0],
    [0, 1, 1],
    [0, 1, NAN],
    [NAN, 0, 1],
    [0, 1, 1],
], dtype=np.float32)


def test_label_counts_by_hand():
    c = label_counts(Y)
    assert c["pos"].tolist() == [1, 3, 3]
    assert c["neg"].tolist() == [3, 2, 1]
    assert c["nan"].tolist() == [1, 0, 1]
    assert all(v.dtype == np.int64 for v in c.values())


def test_cooccurrence_by_hand_nan_is_zero():
    m = cooccurrence(Y)
    assert m.dtype == np.int64
    # A&B together in images 1 and 4; B alone in 3; image 2's NaN B is not counted
    assert m.tolist() == [[1, 0, 0],
                          [0, 3, 2],
                          [0, 2, 3]]


def test_cooccurrence_matches_numpy_on_random_labels():
    rng = np.random.default_rng(0)
    y = rng.choice([0.0, 1.0, NAN], size=(2000, 20), p=[0.7, 0.2, 0.1])
    binary = np.nan_to_num(y, nan=0.0).astype(np.int64)
    assert np.array_equal(cooccurrence(y), binary.T @ binary)
    assert np.array_equal(np.diag(cooccurrence(y)), label_counts(y)["pos"])


def test_findings_per_image_excludes_no_finding():
    assert findings_per_image(Y, CLASSES).tolist() == [0, 2, 1, 1, 2]
    other = ["A", "B", "C"]            # no "no finding" class: every positive counts
    assert findings_per_image(Y, other).tolist() == [1, 2, 1, 1, 2]
    with pytest.raises(ValueError, match="3 classes"):
        findings_per_image(Y[:, :2], CLASSES)


def test_findings_histograms():
    counts = np.array([0, 0, 1, 2, 3, 4, 5, 7, 0])
    h = findings_histogram(counts)
    assert list(h.index) == ["0", "1", "2", "3", "4+"]
    assert h.tolist() == [3, 1, 1, 1, 3]
    assert findings_histogram(counts, top=2).tolist() == [3, 1, 5]
    assert findings_full_histogram(counts).tolist() == [3, 1, 1, 1, 1, 1, 0, 1]
    assert findings_histogram(np.array([], dtype=int)).tolist() == [0, 0, 0, 0, 0]


def test_class_counts_per_split_and_store_prefixes():
    table = pd.DataFrame(Y, columns=CLASSES)
    table["split"] = ["train", "train", "train", "test", "val"]
    out = class_counts(table, CLASSES)
    assert out["class"].tolist() == CLASSES
    assert out["train_pos"].tolist() == [1, 2, 1]
    assert out["train_neg"].tolist() == [2, 1, 1]
    assert out["train_nan"].tolist() == [0, 0, 1]
    assert out["test_nan"].tolist() == [1, 0, 0]
    named = class_counts(table, CLASSES, {"train": "train", "eval": "test"})
    assert list(named.columns) == ["class", "train_pos", "train_neg", "train_nan",
                                   "eval_pos", "eval_neg", "eval_nan"]
    assert named["eval_pos"].tolist() == [0, 0, 1]
    empty = class_counts(table, CLASSES, ["nowhere"])
    assert empty["nowhere_pos"].tolist() == [0, 0, 0]


@pytest.mark.parametrize("name", ["No Finding", "No_Finding", "no finding", " NO FINDING ",
                                  "No  Finding", "no_finding"])
def test_every_spelling_of_no_finding_is_one_class(name):
    # one rule for the dataset summary, the PIE statistics, the gallery and the reader forms
    assert is_no_finding(name)
    classes = [name, "Effusion", "Mass"]
    y = np.array([[1, 0, 0], [0, 1, 1], [1, 1, NAN], [0, 0, 0]], dtype=np.float64)
    assert findings_per_image(y, classes).tolist() == [0, 2, 1, 0]
    assert labels_in_words(y, classes) == ["No Finding", "Effusion, Mass", "Effusion",
                                           "No Finding"]
    table = pd.DataFrame(y, columns=classes)
    assert findings_per_image(table, classes).tolist() == [0, 2, 1, 0]
    assert image_labels_in_words(table.iloc[1], classes) == "Effusion, Mass"


@pytest.mark.parametrize("name", ["Nodule", "Finding", "No Findings", "NoFinding", "Not Found"])
def test_other_names_are_findings(name):
    assert not is_no_finding(name)
    assert findings_per_image(np.array([[1.0, 1.0]]), [name, "Mass"]).tolist() == [2]
    assert labels_in_words(np.array([[1.0, 0.0]]), [name, "Mass"]) == [name]


def test_labels_in_words_keeps_names_as_typed():
    classes = ["Pleural_Thickening", "=HYPERLINK(x)", "*bold*"]
    y = np.array([[1, 1, 1], [NAN, NAN, NAN]], dtype=np.float64)
    assert labels_in_words(y, classes) == ["Pleural_Thickening, =HYPERLINK(x), *bold*",
                                           "No Finding"]
    assert finding_bin(np.array([0, 3, 4, 9])).tolist() == [0, 3, 4, 4]


def test_counts_and_matrices_keep_their_declared_dtypes_on_int_input():
    y_int = np.array([[1, 0], [1, 1], [0, 0]])          # int labels, as a 0/1 table may be
    frame = pd.DataFrame(y_int, columns=["A", "B"])
    from core.data.stats import label_matrix
    for got in (label_matrix(frame, ["A", "B"]), label_matrix(y_int, ["A", "B"])):
        assert got.dtype == np.float64 and got.tolist() == [[1, 0], [1, 1], [0, 0]]
    full = findings_full_histogram([0, 2, 2, 5])
    assert full.dtype == np.int64 and full.tolist() == [1, 0, 2, 0, 0, 1]
    hist = findings_histogram([0, 2, 2, 5])
    assert hist.dtype == np.int64 and hist.name == "images"


def test_counts_read_back_as_floats_are_binned_like_ints():
    # a findings column read back from a table with missing rows is float
    assert findings_full_histogram(np.array([0.0, 1.0, 1.0])).tolist() == [1, 2]
    assert findings_histogram(np.array([0.0, 1.0, 6.0])).tolist() == [1, 1, 0, 0, 1]


def test_a_missing_label_given_as_none_counts_as_nan():
    c = label_counts([[1.0, None], [0.0, 1.0]])
    assert c["pos"].tolist() == [1, 1] and c["neg"].tolist() == [1, 0]
    assert c["nan"].tolist() == [0, 1]


def test_label_arrays_that_are_not_two_dimensional_are_refused_by_name():
    with pytest.raises(ValueError, match=r"labels must be \[n, C\], got shape \(3,\)"):
        label_counts([1, 0, 1])
    with pytest.raises(ValueError, match=r"labels must be \[n, C\], got shape \(3,\)"):
        cooccurrence([1, 0, 1])


def test_without_classes_every_image_reads_no_finding():
    assert labels_in_words(np.zeros((2, 0)), []) == ["No Finding", "No Finding"]
