"""The paper check's rows exactly as a user sees them (issue 23): every column of F1–F7 on small
studies built to lack one thing each (classes, seeds, a grid point, train positives, eval
positives, findings, PIEs, a bootstrap, ground truth, reader answers), worked by hand or with
scipy, and the exact sentence saying why a finding cannot be computed.

Every bootstrap replicate here is the sample itself (all multiplicities 1, replicate curves
equal to the point curves), so each interval is the point value, n_boot is the replicate count
and the verdict is the sign rule on that point.
"""
from __future__ import annotations

import math
import re
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis import paper_check as pc
from core.analysis.paper_values import CLAIMS, VALUES

pytestmark = pytest.mark.filterwarnings("error")

NAN = math.nan
B = 4                                   # replicates
SEEDS = "images and seeds"
ONE_SEED = "images (one seed: seed-to-seed variation is not in the interval)"
PIE_SET = "images (PIE set as analysed)"
GT_NOTE = ("dataset ground truth (quality 0 poor – 1 excellent; label noise = the rendered "
           "findings differ from the label vector)")
UNDEFINED_AP = ("with an undefined AP (no positive in the evaluation split, or undefined "
                "predictions)")
PAPER_NOTE = {"F1": "", "F2": "", "F3": "", "F4": "",
              "F5": VALUES["F5"][0].derivation + "; " + VALUES["F5"][1].derivation,
              "F6": VALUES["F6"][0].derivation,
              "F7": VALUES["F7"][0].derivation + "; " + VALUES["F7"][1].derivation}


# ----------------------------------------------------------------------------- helpers
def _inputs(rows_or_y, classes, train, sparsities=(0, 50, 90, 95), seeds=2, gt=None,
            answers=None, note="", boot=True):
    """Labels (a list of each image's positive class indices, or a matrix), ln train
    positives of `train` (0 → NaN), all-ones multiplicities unless `boot` is False."""
    y = _matrix(rows_or_y, len(classes))
    y0 = np.nan_to_num(y)
    with np.errstate(divide="ignore"):
        lf = np.where(np.asarray(train) > 0, np.log(np.asarray(train, float)), np.nan)
    return pc.StudyInputs(classes=list(classes), sparsities=list(sparsities), log_freq=lf,
                          y=y, cooc=y0.T @ y0,
                          weights=np.ones((len(y), B), np.uint8) if boot else None,
                          level=0.95, n_seeds=seeds, pie_sparsity=90, pie_percentile=5.0,
                          ground_truth=gt, answers=answers, answers_note=note)


def _matrix(rows_or_y, c):
    if isinstance(rows_or_y, np.ndarray):
        return rows_or_y.astype(float)
    y = np.zeros((len(rows_or_y), c))
    for i, r in enumerate(rows_or_y):
        y[i, list(r)] = 1
    return y


def _reps(rel, boot=True):
    return np.repeat(np.asarray(rel, float)[None], B, 0) if boot else None


def _row(f, *, value=NAN, lo=NAN, hi=NAN, n_boot=0, verdict=pc.CANNOT, reason="", n=0,
         over=PIE_SET, value2=NAN, lo2=NAN, hi2=NAN, verdict2=pc.CANNOT, note="", method="m"):
    p1, p2 = VALUES[f]
    return {"method": method, "finding": f, "claim": CLAIMS[f], "statistic": p1.statistic,
            "paper_nih": p1.nih, "paper_mimic": p1.mimic, "paper_sign": p1.sign,
            "paper_source": p1.source, "paper_note": PAPER_NOTE[f], "value": value, "lo": lo,
            "hi": hi, "n": n, "n_boot": n_boot, "verdict": verdict, "reason": reason,
            "interval_over": over, "statistic2": p2.statistic, "paper_nih2": p2.nih,
            "paper_mimic2": p2.mimic, "value2": value2, "lo2": lo2, "hi2": hi2,
            "verdict2": verdict2, "note": note}


def _side(v, sign):
    """The verdict of the interval [v, v] (v ≠ 0): the sign rule."""
    return pc.HOLDS if (v > 0) == (sign > 0) else pc.OPPOSITE


def _point(f, value, value2, n, over, note="", boot=True):
    """A row whose statistics are defined: with replicates equal to the point, or none."""
    s1, s2 = VALUES[f][0].sign, VALUES[f][1].sign
    kw = {}
    if boot:
        kw = dict(lo=value, hi=value, n_boot=B, verdict=_side(value, s1))
        if np.isfinite(value2):
            kw.update(lo2=value2, hi2=value2, verdict2=_side(value2, s2))
    else:
        kw = dict(reason="no bootstrap replicates")
    return _row(f, value=value, value2=value2, n=n, over=over, note=note, **kw)


def _same(row, want, exact=False):
    assert list(row) == pc.COLUMNS
    for k in pc.COLUMNS:
        got, w = row[k], want[k]
        if isinstance(w, float):
            assert isinstance(got, float), (row["finding"], k, got)
            if math.isnan(w):
                assert math.isnan(got), (row["finding"], k, got)
            elif exact:
                assert got == w, (row["finding"], k, got, w)
            else:
                # replicate sums are float32 products (paper_check_stats.group_sums)
                assert got == pytest.approx(w, rel=1e-6, abs=1e-12), (row["finding"], k, got, w)
        else:
            assert got == w and type(got) is type(w), (row["finding"], k, got, w)


def _rows_equal(rows, wanted, frame=False):
    """`frame`: rows read back from a DataFrame, where a paper value None is NaN."""
    assert [r["finding"] for r in rows] == [w["finding"] for w in wanted]
    for r, w in zip(rows, wanted, strict=True):
        _same(r, {k: NAN if frame and v is None else v for k, v in w.items()})


def _corr(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    return stats.pearsonr(x[ok], y[ok])[0], stats.spearmanr(x[ok], y[ok])[0], int(ok.sum())


def _pair_x(rows, c, rel, sp):
    """FCD, |Δ ln frequency| and IoU^¼ of every pair a < b, by counting images (frequency of
    a = the labels of the images that have a: the co-occurrence column sum)."""
    freq = np.array([sum(len(r) for r in rows if a in r) for a in range(c)], float)
    curves = np.asarray(rel, float)[np.asarray(sp) > 0]
    fcd, dlf, iou4 = [], [], []
    for a, b in combinations(range(c), 2):
        inter = sum(1 for r in rows if a in r and b in r)
        union = freq[a] + freq[b] - inter
        fcd.append(math.sqrt(((curves[:, a] - curves[:, b]) ** 2).sum()))
        dlf.append(abs(math.log(freq[a]) - math.log(freq[b])) if freq[a] and freq[b] else NAN)
        iou4.append((inter / union) ** 0.25 if union else NAN)
    return np.array(fcd), np.array(dlf), np.array(iou4)


# ----------------------------------------------------------------------------- judge
def _judged(j, want):
    for k, w in zip(("value", "lo", "hi", "n_boot", "verdict", "reason"), want, strict=True):
        got = getattr(j, k)
        if isinstance(w, float):
            assert isinstance(got, float) and (math.isnan(got) if math.isnan(w) else
                                               got == pytest.approx(w)), (k, got)
        else:
            assert got == w and type(got) is type(w), (k, got)


def test_judge_says_exactly_why_and_takes_the_level():
    pv = VALUES["F1"][0]
    reps = np.linspace(0.1, 0.9, 101)
    _judged(pc.judge(pv, None, reps, 0.95),
            (NAN, NAN, NAN, 0, pc.CANNOT, "the statistic is undefined for this study"))
    _judged(pc.judge(pv, NAN, reps, 0.95, "a reason"), (NAN, NAN, NAN, 0, pc.CANNOT, "a reason"))
    _judged(pc.judge(pv, 0.5, None, 0.95),
            (0.5, NAN, NAN, 0, pc.CANNOT, "no bootstrap replicates"))
    _judged(pc.judge(pv, 0.5, np.full(3, np.nan), 0.95),
            (0.5, NAN, NAN, 0, pc.CANNOT, "no bootstrap replicate defines the statistic"))
    # a 50% interval: the 25th and 75th percentiles of 0.1 … 0.9
    _judged(pc.judge(pv, 0.5, reps, 0.5), (0.5, 0.3, 0.7, 101, pc.HOLDS, ""))


def test_the_multiplicities_reach_the_statistics_as_float32_or_not_at_all():
    inp = _inputs([[0]], ["A"], [1])
    assert inp.w32.dtype == np.float32 and inp.w32.tolist() == [[1.0] * B]
    assert _inputs([[0]], ["A"], [1], boot=False).w32 is None


# ----------------------------------------------------------------------------- F1–F4
# nine classes: A and C without an eval positive (undefined AP), B1, B2 and C without train
# positives, B1, D1, D2 never drop 20%; E1, E2, E3 first drop at 50, 90, 95
NINE = ["A", "B1", "B2", "C", "D1", "D2", "E1", "E2", "E3"]
NINE_REL = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0],
                     [np.nan, -0.05, -0.1, np.nan, -0.05, -0.02, -0.25, -0.1, -0.1],
                     [np.nan, -0.1, -0.3, np.nan, -0.1, -0.1, -0.3, -0.3, -0.15],
                     [np.nan, -0.15, -0.4, np.nan, -0.12, -0.19, -0.5, -0.6, -0.7]])
NINE_REL[0, [0, 3]] = np.nan
NINE_TRAIN = [40, 0, 0, 0, 30, 20, 50, 25, 10]


def _nine_images():
    defined = [1, 2, 4, 5, 6, 7, 8]
    rows = [[j] for k, j in enumerate(defined) for _ in range(k + 1)]
    return rows + [[2, 6], [4, 7, 8]]


def test_f1_to_f4_name_every_class_left_out_and_why():
    rows = _nine_images()
    inp = _inputs(rows, NINE, NINE_TRAIN)
    out = pc.forgetting_rows(inp, "m", NINE_REL, _reps(NINE_REL))
    lf = inp.log_freq
    first = np.array([np.nan, np.nan, 90, np.nan, np.nan, np.nan, 50, 90, 95])
    r1, rho1, n1 = _corr(first, lf)
    r2, rho2, n2 = _corr(NINE_REL[3], lf)
    assert (n1, n2) == (3, 5)                      # E1-E3; D1, D2, E1-E3
    fcd, dlf, iou4 = _pair_x(rows, 9, NINE_REL, [0, 50, 90, 95])
    r3, rho3, n3 = _corr(fcd, dlf)
    r4, rho4, n4 = _corr(fcd, iou4)
    assert (n3, n4) == (21, 21)                    # the pairs of the 7 classes with a curve
    left = f"classes left out: 2 {UNDEFINED_AP}; 2 without train positives"
    pairs = "15 pair(s) left out (a class without a defined curve or frequency)"
    _rows_equal(out, [
        _point("F1", r1, rho1, 3, SEEDS, left + "; 2 that never drop 20%"),
        _point("F2", r2, rho2, 5, SEEDS, left),
        _point("F3", r3, rho3, 21, SEEDS, pairs),
        _point("F4", r4, rho4, 21, SEEDS, pairs)])


FOUR_SP = [0, 1, 50, 90]                  # 1%: a sparsity whose changes enter the FCD
FOUR_REL = np.array([[0, 0, 0, 0], [-0.01, -0.05, 0.0, -0.02], [-0.1, -0.25, -0.1, -0.3],
                     [-0.3, -0.4, -0.22, -0.5]])
FOUR_ROWS = [[0]] * 4 + [[1]] * 3 + [[2]] * 2 + [[3], [0, 1], [0, 2, 3]]


def test_one_seed_a_grid_without_95_and_nothing_left_out():
    inp = _inputs(FOUR_ROWS, list("ABCD"), [40, 30, 20, 10], FOUR_SP, seeds=1)
    out = pc.forgetting_rows(inp, "m", FOUR_REL, _reps(FOUR_REL))
    r1, rho1, _ = _corr([90, 50, 90, 50], inp.log_freq)
    fcd, dlf, iou4 = _pair_x(FOUR_ROWS, 4, FOUR_REL, FOUR_SP)
    r3, rho3, _ = _corr(fcd, dlf)
    r4, rho4, _ = _corr(fcd, iou4)
    _rows_equal(out, [
        _point("F1", r1, rho1, 4, ONE_SEED),
        _row("F2", reason="95% sparsity is not in the study's grid [0, 1, 50, 90]", n=0,
             over=ONE_SEED),
        _point("F3", r3, rho3, 6, ONE_SEED),
        _point("F4", r4, rho4, 6, ONE_SEED)])
    # a class whose AP is undefined at one pruned sparsity only (1%) keeps a dense AP: it is
    # not "undefined", and its curve still drops 20% (at 50%)
    rel = FOUR_REL.copy()
    rel[1, 1] = np.nan
    f1 = pc.forgetting_rows(inp, "m", rel, _reps(rel))[0]
    assert (f1["note"], f1["n"]) == ("", 4)


def test_three_classes_whose_statistic_or_frequency_is_the_same_for_all():
    """Three classes, the same train and eval frequency, no co-occurrence: each first drops at
    50%; F2 has no spread in frequency, F3 none in |Δ ln frequency| (0), F4 none in IoU (0)."""
    rel = np.array([[0, 0, 0], [-0.3, -0.25, -0.21], [-0.5, -0.4, -0.6], [-0.6, -0.7, -0.8]])
    inp = _inputs([[0], [1], [2]] * 2, list("ABC"), [20, 20, 20])
    out = pc.forgetting_rows(inp, "m", rel, _reps(rel))
    _rows_equal(out, [
        _row("F1", reason="the first 20%-drop sparsity is the same for every class", n=3,
             over=SEEDS),
        _row("F2", reason="the train frequency is the same for every class", n=3, over=SEEDS),
        _row("F3", reason="the |Δ log frequency| is the same for every class pair", n=3,
             over=SEEDS),
        _row("F4", reason="the IoU^¼ is the same for every class pair", n=3, over=SEEDS)])


def test_class_pairs_whose_fcd_is_the_same_or_undefined():
    """Three classes of unlike frequency: the same curve for all (every FCD 0), then one
    class without a curve (one pair left with an FCD)."""
    rows = [[0]] * 3 + [[1]] * 2 + [[2], [0, 1]]
    rel = np.repeat(np.array([[0], [-0.3], [-0.5], [-0.6]]), 3, axis=1)
    inp = _inputs(rows, list("ABC"), [30, 20, 10])
    f3, f4 = pc.forgetting_rows(inp, "m", rel, _reps(rel))[2:]
    same = "the FCD is the same for every class pair"
    _same(f3, _row("F3", reason=same, n=3, over=SEEDS))
    _same(f4, _row("F4", reason=same, n=3, over=SEEDS))
    rel[1:, 2] = np.nan
    f3 = pc.forgetting_rows(inp, "m", rel, _reps(rel))[2]
    _same(f3, _row("F3", reason="1 class pair(s) with a defined FCD and |Δ log frequency| (at "
                                "least 3 needed)", n=1, over=SEEDS,
                   note="2 pair(s) left out (a class without a defined curve or frequency)"))


def test_fewer_than_three_classes_with_a_first_drop():
    rel = np.array([[0, 0, 0, 0], [-0.1, -0.25, -0.05, -0.1], [-0.3, -0.4, -0.1, -0.12],
                    [-0.4, -0.5, -0.15, -0.18]])
    inp = _inputs(FOUR_ROWS, list("ABCD"), [40, 30, 20, 10])
    f1 = pc.forgetting_rows(inp, "m", rel, _reps(rel))[0]
    _same(f1, _row("F1", reason="2 class(es) with a defined first 20%-drop sparsity and train "
                                "frequency (at least 3 needed)", n=2, over=SEEDS,
                   note="classes left out: 2 that never drop 20%"))


@pytest.mark.parametrize("c", [1, 2])
def test_one_or_two_classes_say_how_many_pairs(c):
    rel = np.array([[0, 0], [-0.3, -0.1], [-0.5, -0.2], [-0.6, -0.3]])[:, :c]
    inp = _inputs([[0], [0], [c - 1], list(range(c))], list("AB")[:c], [20, 10][:c])
    why = f"the study has {c} class(es); a correlation needs at least 3"
    pairs = f"the study has {c} class(es): {c - 1} class pair(s), at least 3 needed"
    _rows_equal(pc.forgetting_rows(inp, "m", rel, _reps(rel)), [
        _row("F1", reason=why, n=c, over=SEEDS), _row("F2", reason=why, n=c, over=SEEDS),
        _row("F3", reason=pairs, n=c - 1, over=SEEDS),
        _row("F4", reason=pairs, n=c - 1, over=SEEDS)])


def test_replicate_curves_of_another_plan_are_refused():
    inp = _inputs(FOUR_ROWS, list("ABCD"), [40, 30, 20, 10], FOUR_SP)
    reps = np.repeat(FOUR_REL[None], B - 1, 0)
    with pytest.raises(ValueError, match=re.escape(
            f"{B - 1} replicate curves for {B} image draws: not the same bootstrap plan")):
        pc.forgetting_rows(inp, "m", FOUR_REL, reps)


# ----------------------------------------------------------------------------- all seven
# ten images, PIEs 0-2; one finding at most per image; class C has no train positives
TEN_CLASSES = ["No Finding", "A", "B", "C"]
TEN_ROWS = [[1], [2], [3], [1], [1], [2], [0], [0], [3], [1]]
TEN_PIE = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
TEN_TRAIN = [100, 40, 20, 0]
TEN_REL = np.array([[0, 0, 0, 0], [-0.1, -0.25, -0.05, -0.3], [-0.3, -0.4, -0.1, -0.4],
                    [-0.4, -0.5, -0.5, -0.5]])
TEN_GT = pd.DataFrame({
    "quality": [0.2, 0.4, 0.3, 0.8, 0.9, 0.7, np.nan, 0.8, 0.6, 0.9],
    # a ground-truth column with gaps (pandas: object)
    "label_noise": pd.Series([True, None, False, False, False, True, False, False, None,
                              False], dtype=object)})


@pytest.mark.parametrize("boot", [True, False])
@pytest.mark.parametrize("mask", ["bool", "int"])
def test_check_method_every_row_of_a_study_with_ground_truth(boot, mask):
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, gt=TEN_GT, boot=boot)
    pie = TEN_PIE if mask == "bool" else TEN_PIE.astype(np.int64)      # 0/1 read as a mask
    df = pc.check_method(inp, "m", TEN_REL, _reps(TEN_REL, boot), pie)
    lf = inp.log_freq
    r1, rho1, _ = _corr([90, 50, 95, 50], lf)
    r2, rho2, _ = _corr(TEN_REL[3], lf)
    fcd, dlf, _ = _pair_x(TEN_ROWS, 4, TEN_REL, [0, 50, 90, 95])
    r3, rho3, _ = _corr(fcd, dlf)
    # class ratios by hand: No Finding 0 / (2/7), A (1/3) / (3/7), B and C (1/3) / (1/7)
    r6, rho6, _ = _corr([0, 7 / 9, 7 / 3, 7 / 3], lf)
    assert rho6 == pytest.approx(-1.0)
    no_train = "classes left out: 1 without train positives"
    want = [
        _point("F1", r1, rho1, 3, SEEDS, no_train, boot),
        _point("F2", r2, rho2, 3, SEEDS, no_train, boot),
        _point("F3", r3, rho3, 6, SEEDS, "", boot),
        _row("F4", reason="the IoU^¼ is the same for every class pair", n=6, over=SEEDS),
        # mean findings 3/3 − 5/7; the ratio per findings count has 2 defined bins: no slope
        _point("F5", 1 - 5 / 7, NAN, 10, PIE_SET, "3 PIEs, 7 non-PIEs", boot),
        _point("F6", rho6, r6, 3, PIE_SET,
               "1 class(es) left out (no non-PIE positive, or no train positives)", boot),
        # quality 0.3 − 4.7/6; label noise 1/2 − 1/6 (9 images with a quality, 8 a noise)
        _point("F7", 0.3 - 4.7 / 6, 0.5 - 1 / 6, 9, PIE_SET, GT_NOTE, boot)]
    assert list(df.columns) == pc.COLUMNS
    _rows_equal(df.to_dict(orient="records"), want, frame=True)


# ----------------------------------------------------------------------------- F5, F6
def test_without_any_finding_f5_and_f6_say_why():
    classes = ["No Finding", "A", "B"]
    y = np.zeros((6, 3))
    y[[0, 1, 3, 4], 0] = 1
    inp = _inputs(y, classes, [30, 20, 10])
    out = pc.pie_rows(inp, "m", np.array([True, True, False, False, False, False]))
    _rows_equal(out, [
        _row("F5", reason="no image has a finding (every label is 'No Finding' or negative)",
             n=6, note="2 PIEs, 4 non-PIEs"),
        _row("F6", reason="1 class(es) with a defined PIE:non-PIE ratio and train frequency "
                          "(at least 3 needed)", n=1,
             note="2 class(es) left out (no non-PIE positive, or no train positives)")])


def test_f6_with_two_classes():
    inp = _inputs([[0], [1], [0, 1], [1]], ["A", "B"], [20, 10])
    f5, f6 = pc.pie_rows(inp, "m", np.array([True, False, False, False]))
    # findings 1 (PIE) vs 1, 2, 1; ratio per findings count: bins 1 and 2 only
    _same(f5, _point("F5", 1 - 4 / 3, NAN, 4, PIE_SET, "1 PIEs, 3 non-PIEs"))
    _same(f6, _row("F6", reason="the study has 2 class(es); a correlation needs at least 3",
                   n=2))


# ----------------------------------------------------------------------------- F7
@pytest.mark.parametrize("pie, reason", [
    (None, "the study has no PIE table"),
    (np.zeros(10, bool), "no PIEs (bottom 5% of 10 images at 90% sparsity is 0 images)")])
def test_ground_truth_without_a_usable_pie_set(pie, reason):
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, gt=TEN_GT[["quality"]])
    _same(pc.f7_row(inp, "m", pie), _row("F7", reason=reason))


def test_ground_truth_without_a_value_on_one_side():
    only_nan = pd.DataFrame({"quality": [np.nan] * 10})
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, gt=only_nan)
    why = "no PIE or no non-PIE has a quality value"
    _same(pc.f7_row(inp, "m", TEN_PIE), _row("F7", reason=why, n=0, note=GT_NOTE))
    no_pie_value = pd.DataFrame({"quality": [np.nan] * 3 + [0.5] * 7})
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, gt=no_pie_value)
    _same(pc.f7_row(inp, "m", TEN_PIE), _row("F7", reason=why, n=7, note=GT_NOTE))


def test_ground_truth_columns_that_are_not_f7s_ask_for_readers():
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, gt=pd.DataFrame({"age": range(10)}),
                  note="the study has no reader study")
    _same(pc.f7_row(inp, "m", TEN_PIE),
          _row("F7", reason="needs reader-study answers (the study has no reader study)",
               over="reader answers"))


# answers on images 0, 1 (PIEs) and 3, 4; rows -1 and 10 are outside the study, one answer
# skipped both questions, one is another method's
ANSWERS = pd.DataFrame({
    "reader": ["r1", "r1", "r2", "r2", "r1", "r2", "r1", "r2", "r1"],
    "row": [0.0, 1.0, 0.0, 3.0, 4.0, 4.0, -1.0, 10.0, 3.0],
    "is_pie": [1, 1, 1, 0, 0, 0, 1, 0, 0],
    "quality": pd.Series([2, 3, 4, 4, 5, None, 1, 1, 1], dtype=object),
    "agree": pd.Series([0, 1, 0, 1, 1, None, 0, 1, 0], dtype=object),
    "method": ["m"] * 8 + ["other"]})
READER_NOTE = ("reader study: 6 answers on 4 images{} ; quality 1–5, disagreement = not fully "
               "agreeing with the label")
READER_OVER = "images (each image's answers resampled together)"


@pytest.mark.parametrize("boot", [True, False])
def test_f7_from_reader_answers_exactly(boot):
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, answers=ANSWERS, boot=boot)
    # quality 3 (PIEs: 2, 3, 4) − 4.5 (4, 5); disagreement 2/3 (1, 0, 1) − 0 (0, 0): the
    # statistic is the mean of 1 − agree itself, to the last bit
    want = _point("F7", -1.5, 2 / 3, 6, READER_OVER,
                  READER_NOTE.format(" by 2 reader(s)").replace(" ;", ";"), boot)
    row = pc.f7_row(inp, "m", TEN_PIE)
    _same(row, want, exact=True)


def test_reader_answers_without_reader_or_method_columns():
    """reader_row's contract: method and reader are optional columns."""
    a = ANSWERS[ANSWERS["method"] == "m"][["row", "is_pie", "quality", "agree"]]
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, answers=a)
    want = _point("F7", -1.5, 2 / 3, 6, READER_OVER, READER_NOTE.format("").replace(" ;", ";"))
    _same(pc.f7_row(inp, "m", TEN_PIE), want)


def test_reader_answers_on_one_side_or_without_a_question():
    one_sided = ANSWERS.assign(is_pie=1)
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, answers=one_sided)
    note = READER_NOTE.format(" by 2 reader(s)").replace(" ;", ";")
    _same(pc.f7_row(inp, "m", TEN_PIE),
          _row("F7", reason="the reader study has no answers for PIEs or none for non-PIEs",
               n=6, over=READER_OVER, note=note))
    no_agree = ANSWERS.drop(columns="agree")
    inp = _inputs(TEN_ROWS, TEN_CLASSES, TEN_TRAIN, answers=no_agree)
    assert pc.reader_row(inp, "m") is None
    _same(pc.f7_row(inp, "m", TEN_PIE),
          _row("F7", reason="needs reader-study answers", over="reader answers"))
