"""choose_thresholds: hand-worked answers and the optimum found by scikit-learn's curves."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve, roc_curve

from core.analysis.thresholds import choose_thresholds


def test_handworked_youden_and_f1_with_tie_rule():
    # Scores high → low, labels 1 1 0 1 0 0 (P = 3, N = 3). Calling score >= t:
    #   t    TP FP   J = TP/3 − FP/3   F1 = 2TP/(TP + FP + 3)
    #  0.9   1  0    1/3               2/4 = 0.5
    #  0.8   2  0    2/3               4/5 = 0.8
    #  0.7   2  1    1/3               4/6
    #  0.6   3  1    2/3               6/7 ≈ 0.857
    #  0.5   3  2    1/3               6/8
    #  0.4   3  3    0                 6/9
    # J ties at 0.8 and 0.6 → the higher, 0.8. F1's maximum is at 0.6.
    s = np.array([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4]])
    y = np.array([[1], [1], [0], [1], [0], [0]], dtype=float)
    assert choose_thresholds(s, y, "youden").tolist() == [0.8]
    assert choose_thresholds(s, y, "f1").tolist() == [0.6]
    assert choose_thresholds(s, y).tolist() == [0.8]       # youden is the default


def test_tied_scores_are_one_threshold_and_nan_labels_skipped():
    # The two 0.5s go together: at t = 0.5 TP = 1, FP = 1 → J = 1 − 1/2 = 0.5; at 0.3 J = 0.
    # The NaN-labelled 0.99 is not an image of this class, so not a candidate.
    s = np.array([[0.5], [0.5], [0.3], [0.99]])
    y = np.array([[1], [0], [0], [np.nan]])
    assert choose_thresholds(s, y, "youden").tolist() == [0.5]


def test_undefined_classes_are_nan():
    s = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, np.nan], [0.7, 0.8, 0.9]])
    y = np.array([[1, 0, 1], [1, 0, 0], [1, 1, 1]], dtype=float)
    t = choose_thresholds(s, y)
    assert np.isnan(t[0])            # no negatives
    assert t[1] == 0.8               # defined
    assert np.isnan(t[2])            # a labelled image has a NaN score
    assert np.isnan(choose_thresholds(s, np.full_like(y, np.nan))).all()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="rule"):
        choose_thresholds(np.zeros((2, 1)), np.zeros((2, 1)), "accuracy")
    with pytest.raises(ValueError, match="labels"):
        choose_thresholds(np.zeros((2, 1)), np.array([[2.0], [0.0]]))
    with pytest.raises(ValueError, match="shape|\\[N, C\\]"):
        choose_thresholds(np.zeros((2, 2)), np.zeros((2, 1)))


def _sklearn_youden(s, y):
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    p, n = int(y.sum()), int((1 - y).sum())
    # Exact J from sklearn's rates (P·N·J = TP·N − FP·P): float J would tie-break at random.
    tp, fp = np.rint(tpr * p).astype(np.int64), np.rint(fpr * n).astype(np.int64)
    j = (tp * n - fp * p)[1:]             # index 0 is the "+inf: nothing called" point
    return thr[1:][int(np.argmax(j))]     # thresholds high → low: argmax takes the highest


def _sklearn_f1(s, y):
    prec, rec, thr = precision_recall_curve(y, s)
    p = int(y.sum())
    best, best_t = Fraction(-1), None
    for pr, rc, t in zip(prec[:-1], rec[:-1], thr, strict=True):  # last point has no threshold
        tp = round(rc * p)
        called = round(tp / pr) if tp else None
        f1 = Fraction(2 * tp, called + p) if tp else Fraction(0)
        if f1 > best or (f1 == best and t > best_t):   # ties → the highest threshold
            best, best_t = f1, t
    return best_t


@pytest.mark.parametrize("rounding", [None, 1, 2])
def test_matches_sklearn_curves_on_random_data(rounding):
    rng = np.random.default_rng(3 if rounding is None else rounding)
    n, c = 120, 6
    y = (rng.random((n, c)) < np.linspace(0.05, 0.5, c)).astype(float)
    y[0], y[1] = 1, 0
    s = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(scale=1.5, size=(n, c)))))
    if rounding is not None:
        s = s.round(rounding)              # heavy ties
    y[rng.random(y.shape) < 0.1] = np.nan
    y[0], y[1] = 1, 0
    for rule, ref in (("youden", _sklearn_youden), ("f1", _sklearn_f1)):
        got = choose_thresholds(s, y, rule)
        for j in range(c):
            keep = ~np.isnan(y[:, j])
            assert got[j] == pytest.approx(ref(s[keep, j], y[keep, j]), abs=0), (rule, j)


# ---- edges pinned (mutation run: benchmarks/mutation.py)
def test_refusals_say_what_is_wrong():
    from core.analysis.thresholds import RULES
    with pytest.raises(ValueError, match=r"rule must be one of \('youden', 'f1'\), got "
                                         r"'accuracy'"):
        choose_thresholds(np.zeros((2, 1)), np.zeros((2, 1)), "accuracy")
    assert RULES == ("youden", "f1")
    with pytest.raises(ValueError, match=r"labels must be 1, 0 or NaN; found \[-1\.  2\.\]"):
        choose_thresholds(np.zeros((3, 1)), np.array([[2.0], [-1.0], [1.0]]))
    with pytest.raises(ValueError, match=r"probs \(2, 2\) and labels \(2, 1\) must both be "
                                         r"\[N, C\]"):
        choose_thresholds(np.zeros((2, 2)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match=r"probs \(2,\) and labels \(2,\) must both be"):
        choose_thresholds(np.zeros(2), np.zeros(2))


def test_f1_ties_go_to_the_highest_threshold_and_zero_tp_is_zero():
    # labels 1 0 0 1 (P = 2) at scores .9 .8 .7 .6: F1 at .9 = 2/3, at .6 = 4/6 = 2/3 → .9
    s = np.array([[0.9], [0.8], [0.7], [0.6]])
    y = np.array([[1], [0], [0], [1]], dtype=float)
    assert choose_thresholds(s, y, "f1").tolist() == [0.9]
    # the positive scores lowest: F1 2/(1 + 3 + 1)... only at the bottom threshold
    s2 = np.array([[0.9], [0.8], [0.1]])
    y2 = np.array([[0], [0], [1]], dtype=float)
    assert choose_thresholds(s2, y2, "f1").tolist() == [0.1]
    assert choose_thresholds(s2, y2, "youden").tolist() == [0.1]


def test_f1_exact_comparison_among_near_ties():
    # F1 = 2TP / (TP + FP + P); two operating points 1e-10 apart must be ordered exactly.
    # P = 100000. At the top: TP = 50000, FP = 0 → 100000/150000 = 2/3.
    # Lower: TP = 99999, FP = 50000 → 199998/249999 = 2/3 + 2/749997 ≈ 2/3 + 2.7e-6 (larger).
    from core.analysis.thresholds import _best_index
    tp = np.array([50000, 99999])
    fp = np.array([0, 50000])
    assert _best_index(tp, fp, 100000, 60000, "f1") == 1
    # exactly equal F1 (2/3 both): the first (highest threshold) wins
    assert _best_index(np.array([2, 4]), np.array([0, 4]), 4, 10, "f1") == 0
    # within 1e-9 but not equal: 2·a/(a+b) pairs that differ by ~1e-11 — the exact larger wins
    tp = np.array([10 ** 9, 10 ** 9 + 1])
    fp = np.array([0, 1])
    p = 2 * 10 ** 9
    f1 = 2 * tp / (tp + fp + p)          # 2/3 and 2/3 + 2/(9e9 + 6): the second is larger
    assert 0 < f1[1] - f1[0] < 1e-9
    assert _best_index(tp, fp, p, 10, "f1") == 1
    assert _best_index(tp[::-1].copy(), fp[::-1].copy(), p, 10, "f1") == 0
    # Youden in integers: TP·N − FP·P
    assert _best_index(np.array([1, 3]), np.array([0, 2]), 3, 3, "youden") == 0


def test_counts_at_thresholds_and_class_counts():
    from core.analysis.thresholds import _counts_at_thresholds, class_counts
    s = np.array([0.2, 0.9, 0.5, 0.5, 0.1])
    y = np.array([0, 1, 1, 0, 1])
    thr, tp, fp = _counts_at_thresholds(s, y)
    assert thr.tolist() == [0.9, 0.5, 0.2, 0.1]
    assert tp.tolist() == [1, 2, 2, 3] and fp.tolist() == [0, 1, 2, 2]
    pos, neg = class_counts(np.array([[1, 0], [0, np.nan], [1, 1]]))
    assert pos.tolist() == [2, 1] and neg.tolist() == [1, 1]
    assert pos.dtype == np.int64 and neg.dtype == np.int64


def test_bad_label_message_lists_at_most_five_values():
    y = np.array([[2.0], [3.0], [4.0], [5.0], [6.0], [7.0], [1.0]])
    with pytest.raises(ValueError) as err:
        choose_thresholds(np.zeros((7, 1)), y)
    assert str(err.value) == "labels must be 1, 0 or NaN; found [2. 3. 4. 5. 6.]"
