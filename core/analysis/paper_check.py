"""The paper check: which of the paper's headline findings hold in this study, and how sure.

Seven findings (core.analysis.paper_values: the paper's values and their sources). Each row
gives this study's value of the finding's statistic, its 95% percentile bootstrap interval,
n, and a verdict by one written rule (`RULE`, `verdict`):

- holds: the interval excludes 0 and lies on the paper's side of it;
- not shown: the interval includes 0;
- opposite: the interval excludes 0 on the other side;
- cannot be computed: the study lacks what the statistic needs; `reason` says what.

Statistics (docs/paper-check.md defines them with the paper's values):
F1 first 20%-drop sparsity vs ln train positives, F2 relative AP change at 95% vs ln train
positives (per class; Pearson r, Spearman ρ second), F3 FCD vs |Δ ln frequency|, F4 FCD vs
IoU^¼ (class pairs, the paper's variant: frequency = co-occurrence column sum), F5 mean
findings per image of PIEs − non-PIEs (second: slope of the PIE:non-PIE ratio on the findings
count 0…4+), F6 Spearman ρ of the per-class PIE:non-PIE ratio vs ln train positives (second:
Pearson r), F7 image quality of PIEs − non-PIEs (second: label noise / disagreement) from the
dataset's ground truth, else from the reader study's answers.

Intervals reuse the analysis's one bootstrap plan (core.analysis.uncertainty): F1–F4 take the
replicate forgetting curves (images and seeds resampled); F5–F7 take the same image
multiplicities and, in a study with several seeds, the same seed draws: each replicate's PIE
set is re-cut from its drawn seeds' ensembles (core.analysis.pie_resample), since PIEs are a
property of the seed ensemble. With one seed (or without the per-seed predictions) the PIE
set is held as analysed and only the images are resampled; `interval_over` says which. F7
from reader answers resamples the images only (the answers' PIE status is as read).
The point values are the analysis tables' own (the paper's fixed 20% and 95%, as `report`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis import paper_check_stats as pcs
from core.analysis import pie_resample as pr
from core.analysis import pie_stats
from core.analysis import uncertainty as unc
from core.analysis.paper_values import CLAIMS, VALUES, PaperValue
from core.data.stats import findings_per_image

HOLDS, NOT_SHOWN, OPPOSITE, CANNOT = "holds", "not shown", "opposite", "cannot be computed"
VERDICTS = (HOLDS, NOT_SHOWN, OPPOSITE, CANNOT)
RULE = ("holds: same sign as the paper and the 95% interval excludes 0; not shown: the "
        "interval includes 0; opposite: the interval excludes 0 with the other sign; cannot "
        "be computed: the study lacks what the statistic needs (the reason is given)")
DROP_PERCENT, AT_SPARSITY = 20, 95      # the paper's, whatever the study's analysis uses
NEEDS_READERS = "needs reader-study answers"

COLUMNS = ["method", "finding", "claim", "statistic", "paper_nih", "paper_mimic", "paper_sign",
           "paper_source", "paper_note", "value", "lo", "hi", "n", "n_boot", "verdict",
           "reason", "interval_over", "statistic2", "paper_nih2", "paper_mimic2", "value2",
           "lo2", "hi2", "verdict2", "note"]


def verdict(paper_sign: int, lo: float, hi: float) -> str:
    """The rule (`RULE`), on an interval [lo, hi] and the paper's sign.

    Args:
        paper_sign (int): +1 or −1, the sign of the paper's value.
        lo (float): lower end of the interval.
        hi (float): upper end of the interval.

    Returns:
        str: ``HOLDS``, ``NOT_SHOWN``, ``OPPOSITE``, or ``CANNOT`` when an end is not finite.

    Example:
        >>> verdict(-1, -0.6, -0.1), verdict(-1, -0.2, 0.3), verdict(1, -0.6, -0.1)
        ('holds', 'not shown', 'opposite')
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return CANNOT
    if lo <= 0 <= hi:
        return NOT_SHOWN
    return HOLDS if (1 if lo > 0 else -1) == int(paper_sign) else OPPOSITE


def verdict_text(row) -> str:
    """The verdict of one row in words, with the reason when it cannot be computed.

    Args:
        row (Mapping): a row of the paper-check table (``verdict``, ``reason``).

    Returns:
        str: 'holds', …, or 'cannot be computed: <reason>'.

    Example:
        >>> verdict_text({"verdict": CANNOT, "reason": "no PIEs"})
        'cannot be computed: no PIEs'
    """
    v = str(row["verdict"])
    return f"{v}: {row['reason']}" if v == CANNOT and row.get("reason") else v


@dataclass
class Judged:
    """One statistic judged: point value, interval, replicates used, verdict and reason.

    Attributes:
        value (float): the point value (NaN when undefined).
        lo (float): lower end of the interval (NaN when there is none).
        hi (float): upper end of the interval (NaN when there is none).
        n_boot (int): replicates that define the statistic.
        verdict (str): one of `VERDICTS`.
        reason (str): why it cannot be computed; "" otherwise.
    """
    value: float
    lo: float
    hi: float
    n_boot: int
    verdict: str
    reason: str


def judge(pv: PaperValue, value: float, reps, level: float, why: str = "") -> Judged:
    """Point value and replicates → interval and verdict.

    Args:
        pv (PaperValue): the paper's value (its ``sign`` decides the verdict).
        value (float | None): the point value; None or NaN = undefined.
        reps (np.ndarray | None): float ``[B]`` replicate values; None = no bootstrap.
        level (float): interval level, e.g. 0.95.
        why (str): the reason given when the point value is undefined.

    Returns:
        Judged: ``CANNOT`` with a reason when the value is undefined, there are no replicates,
        or no replicate defines the statistic; otherwise the percentile interval and the
        verdict by `verdict`.
    """
    value = float(value) if value is not None else math.nan
    if not math.isfinite(value):
        return Judged(math.nan, math.nan, math.nan, 0, CANNOT, why or "the statistic is "
                      "undefined for this study")
    if reps is None:
        return Judged(value, math.nan, math.nan, 0, CANNOT, "no bootstrap replicates")
    lo, hi, n_boot = unc.interval(np.asarray(reps, dtype=np.float64), level)
    lo, hi, n_boot = float(lo), float(hi), int(n_boot)
    if n_boot == 0:
        return Judged(value, math.nan, math.nan, 0, CANNOT,
                      "no bootstrap replicate defines the statistic")
    return Judged(value, lo, hi, n_boot, verdict(pv.sign, lo, hi), "")


# ----------------------------------------------------------------------------- inputs
@dataclass
class StudyInputs:
    """What the check needs of one study (shared by its methods)."""

    classes: list
    sparsities: list
    log_freq: np.ndarray              # ln train positives per class (NaN if 0)
    y: np.ndarray                     # eval labels [N, C] (1/0/NaN), row order
    cooc: np.ndarray                  # eval co-occurrence YᵀY [C, C]
    weights: np.ndarray | None        # plan multiplicities uint8 [N, B]
    level: float
    n_seeds: int
    pie_sparsity: int
    pie_percentile: float
    ground_truth: pd.DataFrame | None = None   # declared ground-truth columns, row order
    answers: pd.DataFrame | None = None        # reader answers (first reads), or None
    answers_note: str = ""                     # why there are none, when there are none

    def __post_init__(self):
        self._w32 = None if self.weights is None else np.asarray(self.weights, np.float32)

    @property
    def w32(self):
        return self._w32


def _corr_reason(x, y, unit: str, what: str, other: str) -> str:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    n = int(ok.sum())
    if n < 3:
        count = f"{n} {unit}(es)" if unit.endswith("s") else f"{n} {unit}(s)"  # class(es)
        return f"{count} with a defined {what} and {other} (at least 3 needed)"
    if np.ptp(x[ok]) == 0:
        return f"the {what} is the same for every {unit}"
    if np.ptp(y[ok]) == 0:
        return f"the {other} is the same for every {unit}"
    return ""


def _left_out(rel, first, log_freq, what: str) -> str:
    """'left out: 2 classes never drop 20%; …' for the class-level rows."""
    undefined = ~np.isfinite(np.asarray(rel, dtype=np.float64)[0])
    no_train = ~np.isfinite(log_freq)
    parts = []
    if undefined.any():
        parts.append(f"{int(undefined.sum())} with an undefined AP (no positive in the "
                     "evaluation split, or undefined predictions)")
    if (no_train & ~undefined).any():
        parts.append(f"{int((no_train & ~undefined).sum())} without train positives")
    if first is not None:
        never = ~undefined & ~no_train & ~np.isfinite(first)
        if never.any():
            parts.append(f"{int(never.sum())} that {what}")
    return ("classes left out: " + "; ".join(parts)) if parts else ""


def _row(method, finding, j1: Judged, j2: Judged | None, n: int, over: str,
         note: str = "") -> dict:
    p1, p2 = VALUES[finding]
    return {
        "method": method, "finding": finding, "claim": CLAIMS[finding],
        "statistic": p1.statistic, "paper_nih": p1.nih, "paper_mimic": p1.mimic,
        "paper_sign": p1.sign, "paper_source": p1.source,
        "paper_note": "; ".join(d for d in (p1.derivation, p2.derivation) if d),
        "value": j1.value, "lo": j1.lo, "hi": j1.hi, "n": int(n), "n_boot": j1.n_boot,
        "verdict": j1.verdict, "reason": j1.reason, "interval_over": over,
        "statistic2": p2.statistic, "paper_nih2": p2.nih, "paper_mimic2": p2.mimic,
        "value2": j2.value if j2 else math.nan, "lo2": j2.lo if j2 else math.nan,
        "hi2": j2.hi if j2 else math.nan,
        "verdict2": (j2.verdict if j2 else CANNOT), "note": note,
    }


# ----------------------------------------------------------------------------- F1–F4
def forgetting_rows(inp: StudyInputs, method: str, rel, rel_reps) -> list[dict]:
    """F1, F2 (classes) and F3, F4 (class pairs) of one method.

    Args:
        inp (StudyInputs): the study's inputs.
        method (str): the method's name, written into each row.
        rel (np.ndarray): float ``[S, C]`` median relative AP change (the point curves).
        rel_reps (np.ndarray | None): float ``[B, S, C]`` replicate curves; None = no bootstrap.

    Returns:
        list[dict]: four rows (F1, F2, F3, F4) keyed by `COLUMNS`.

    Raises:
        ValueError: when `rel_reps` and ``inp.weights`` have different replicate counts
            (not the same bootstrap plan).
    """
    sp, lf, lvl = inp.sparsities, np.asarray(inp.log_freq, dtype=np.float64), inp.level
    over = "images and seeds" if inp.n_seeds > 1 else "images (one seed: seed-to-seed " \
                                                       "variation is not in the interval)"
    c = len(inp.classes)
    if rel_reps is not None and inp.weights is not None and \
            np.shape(rel_reps)[0] != np.shape(inp.weights)[1]:
        raise ValueError(f"{np.shape(rel_reps)[0]} replicate curves for "
                         f"{np.shape(inp.weights)[1]} image draws: not the same bootstrap plan")
    first = fg.first_drop_sparsity(rel, sp, DROP_PERCENT)
    at = fg.rel_change_at(rel, sp, AT_SPARSITY)
    reps = {}
    if rel_reps is not None:
        first_b, at_b = pcs.class_level_reps(rel_reps, sp, DROP_PERCENT, AT_SPARSITY)
        reps["F1"] = pcs.corr_reps(first_b, lf[None, :])
        reps["F2"] = pcs.corr_reps(at_b, lf[None, :])
    rows = []
    for f, values, what in (("F1", first, f"first {DROP_PERCENT}%-drop sparsity"),
                            ("F2", at, f"AP change at {AT_SPARSITY}%")):
        point = fq.correlate(values, lf)
        if f == "F2" and AT_SPARSITY not in sp:
            why = f"{AT_SPARSITY}% sparsity is not in the study's grid {list(sp)}"
        elif c < 3:
            why = f"the study has {c} class(es); a correlation needs at least 3"
        else:
            why = _corr_reason(values, lf, "class", what, "train frequency")
        r_b, rho_b = reps.get(f, (None, None))
        note = _left_out(rel, first if f == "F1" else None, lf,
                         f"never drop {DROP_PERCENT}%")
        rows.append(_row(method, f, judge(VALUES[f][0], point["r"], r_b, lvl, why),
                         judge(VALUES[f][1], point["rho"], rho_b, lvl, why),
                         point["n"], over, note))
    # class pairs, the paper's variant (frequency = co-occurrence column sum)
    st = fq.pair_statistics(inp.cooc, "paper")
    fcd = fq.fcd_matrix(np.asarray(rel)[np.asarray(sp) > 0])[st["a"], st["b"]] if c > 1 \
        else np.empty(0)
    if rel_reps is not None and c > 1 and inp.w32 is not None:
        fcd_b = pcs.fcd_reps(rel_reps, sp)
        x_b = pcs.pair_x_reps(pcs.cooccurrence_reps(inp.y, inp.w32))
        reps["F3"] = pcs.corr_reps(fcd_b, x_b["log_freq_diff"])
        reps["F4"] = pcs.corr_reps(fcd_b, x_b["iou4"])
    for f, key, other in (("F3", "log_freq_diff", "|Δ log frequency|"),
                          ("F4", "iou4", "IoU^¼")):
        x = st[key] if c > 1 else np.empty(0)
        point = fq.correlate(fcd, x)
        if c < 3:
            why = f"the study has {c} class(es): {c * (c - 1) // 2} class pair(s), at least 3 " \
                  "needed"
        else:
            why = _corr_reason(fcd, x, "class pair", "FCD", other)
        r_b, rho_b = reps.get(f, (None, None))
        n_bad = int(fcd.size - point["n"])
        note = f"{n_bad} pair(s) left out (a class without a defined curve or frequency)" \
            if n_bad else ""
        rows.append(_row(method, f, judge(VALUES[f][0], point["r"], r_b, lvl, why),
                         judge(VALUES[f][1], point["rho"], rho_b, lvl, why),
                         point["n"], over, note))
    return rows


# ----------------------------------------------------------------------------- F5–F7
def _pie_reason(inp: StudyInputs, pie) -> str:
    if pie is None:
        return "the study has no PIE table"
    n_pie = int(np.sum(pie))
    if n_pie == 0:
        return (f"no PIEs (bottom {inp.pie_percentile:g}% of {len(pie):,} images at "
                f"{inp.pie_sparsity}% sparsity is 0 images)")
    if n_pie == len(pie):
        return "every image is a PIE: nothing to compare them with"
    return ""


def pie_rows(inp: StudyInputs, method: str, pie, pie_reps=None) -> list[dict]:
    """F5 and F6 of one method, from its PIE mask (paper definition).

    Args:
        inp (StudyInputs): the study's inputs.
        method (str): the method's name, written into each row.
        pie (np.ndarray | None): bool ``[N]`` PIE mask in eval-row order; None = no PIE table.
        pie_reps (np.ndarray | None): bool ``[N, B]`` each replicate's PIE set
            (`pie_resample.replicate_pies`, the plan's seed draws); None = the PIE set as
            analysed in every replicate (images resampled only).

    Returns:
        list[dict]: two rows (F5, F6) keyed by `COLUMNS`; both ``CANNOT`` with the reason
        when there is no PIE table, no PIE, or only PIEs.

    Raises:
        ValueError: when `pie_reps` does not match the plan's image draws.
    """
    lvl, w = inp.level, inp.w32
    over = pr.interval_over(inp.n_seeds, pie_reps)
    why = _pie_reason(inp, pie)
    rows = []
    p5, p5b = VALUES["F5"]
    if why:
        j = judge(p5, math.nan, None, lvl, why)
        rows.append(_row(method, "F5", j, j, 0, over))
        p6 = VALUES["F6"][0]
        j = judge(p6, math.nan, None, lvl, why)
        rows.append(_row(method, "F6", j, j, 0, over))
        return rows
    pie = np.asarray(pie, dtype=bool)
    counts = findings_per_image(inp.y, inp.classes)
    diff = counts[pie].mean() - counts[~pie].mean()
    ratio = pie_stats.findings_ratio(inp.y, inp.classes, pie)["ratio"].to_numpy(np.float64)
    xbins = np.arange(ratio.size, dtype=np.float64)
    slope = pcs.slope_reps(xbins, ratio[None, :])[0]
    diff_b = ratio_b = None
    split = pr.pie_weights(w, pie_reps)
    if split is not None:
        diff_b, ratio_b = pr.findings_reps(counts, *split, ratio.size)
    elif w is not None:
        diff_b, ratio_b = pcs.findings_reps(counts, pie, w, ratio.size)
    why5 = "no image has a finding (every label is 'No Finding' or negative)" \
        if counts.max() == 0 else ""
    why5b = why5 or (f"{int(np.isfinite(ratio).sum())} findings-count bin(s) with a defined "
                     "ratio (at least 3 needed)")
    rows.append(_row(method, "F5", judge(p5, diff if not why5 else math.nan, diff_b, lvl, why5),
                     judge(p5b, slope, None if ratio_b is None else
                           pcs.slope_reps(xbins, ratio_b), lvl, why5b),
                     int(pie.size), over,
                     f"{int(pie.sum()):,} PIEs, {int((~pie).sum()):,} non-PIEs"))
    cr = pie_stats.class_ratio(inp.y, inp.classes, pie)["ratio"].to_numpy(np.float64)
    lf = np.asarray(inp.log_freq, dtype=np.float64)
    point = fq.correlate(cr, lf)
    r_b = rho_b = None
    if split is not None:
        r_b, rho_b = pcs.corr_reps(pr.class_ratio_reps(inp.y, *split), lf[None, :])
    elif w is not None:
        r_b, rho_b = pcs.corr_reps(pcs.class_ratio_reps(inp.y, pie, w), lf[None, :])
    c = len(inp.classes)
    why6 = (f"the study has {c} class(es); a correlation needs at least 3" if c < 3 else
            _corr_reason(cr, lf, "class", "PIE:non-PIE ratio", "train frequency"))
    n_bad = int(c - point["n"])
    note = f"{n_bad} class(es) left out (no non-PIE positive, or no train positives)" \
        if n_bad else ""
    p6, p6b = VALUES["F6"]
    rows.append(_row(method, "F6", judge(p6, point["rho"], rho_b, lvl, why6),
                     judge(p6b, point["r"], r_b, lvl, why6), point["n"], over, note))
    return rows


def _groundtruth_row(inp: StudyInputs, method: str, pie, pie_reps=None) -> dict:
    gt = inp.ground_truth
    p1, p2 = VALUES["F7"]
    w = inp.w32
    split = pr.pie_weights(w, pie_reps)
    over = pr.interval_over(inp.n_seeds, pie_reps)
    js, n = [], 0
    for column, pv in (("quality", p1), ("label_noise", p2)):
        if column not in gt:
            js.append(judge(pv, math.nan, None, inp.level,
                            f"the dataset declares no {column.replace('_', ' ')} ground truth"))
            continue
        v = gt[column].to_numpy(dtype=np.float64)
        ok = np.isfinite(v)
        a, b = v[ok & pie], v[ok & ~pie]
        point = a.mean() - b.mean() if a.size and b.size else math.nan
        n = max(n, int(ok.sum()))
        reps = pr.mean_diff_reps(v, *split) if split is not None else \
            pcs.mean_diff_reps(v, pie, w) if w is not None else None
        js.append(judge(pv, point, reps, inp.level,
                        f"no PIE or no non-PIE has a {column.replace('_', ' ')} value"))
    return _row(method, "F7", js[0], js[1], n, over,
                "dataset ground truth (quality 0 poor – 1 excellent; label noise = the "
                "rendered findings differ from the label vector)")


def _reader_row(inp: StudyInputs, method: str, answers: pd.DataFrame) -> dict:
    p1, p2 = VALUES["F7"]
    rows = answers["row"].to_numpy(dtype=np.int64)
    pie = answers["is_pie"].to_numpy(dtype=bool)
    w = inp.w32[rows] if inp.w32 is not None else None
    js = []
    for values, pv in ((answers["quality"].to_numpy(dtype=np.float64), p1),
                       (1.0 - answers["agree"].to_numpy(dtype=np.float64), p2)):
        ok = np.isfinite(values)
        a, b = values[ok & pie], values[ok & ~pie]
        point = a.mean() - b.mean() if a.size and b.size else math.nan
        reps = pcs.mean_diff_reps(values, pie, w) if w is not None else None
        js.append(judge(pv, point, reps, inp.level,
                        "the reader study has no answers for PIEs or none for non-PIEs"))
    n_img = answers["row"].nunique()
    # the reader column is optional (reader_row's contract): without it, no reader count
    by = f" by {answers['reader'].nunique()} reader(s)" if "reader" in answers else ""
    return _row(method, "F7", js[0], js[1], len(answers),
                "images (each image's answers resampled together)",
                f"reader study: {len(answers):,} answers on {n_img:,} images{by}; quality "
                "1–5, disagreement = not fully agreeing with the label")


def reader_row(inp: StudyInputs, method: str) -> dict | None:
    """F7 from the reader study's answers for `method`.

    Args:
        inp (StudyInputs): the study's inputs (``answers`` with columns row, is_pie, quality,
            agree, and optionally method and reader).
        method (str): keeps only that method's answers when ``answers`` has a method column.

    Returns:
        dict | None: the F7 row keyed by `COLUMNS`, or None when there are no usable answers.
    """
    a = inp.answers
    if a is None or a.empty or not {"row", "is_pie", "quality", "agree"} <= set(a.columns):
        return None
    if "method" in a.columns:
        a = a[a["method"].astype(str) == str(method)]
    a = a[(a["row"] >= 0) & (a["row"] < len(inp.y))]
    return _reader_row(inp, method, a) if len(a) else None


def f7_row(inp: StudyInputs, method: str, pie, pie_reps=None) -> dict:
    """F7: from the dataset's ground truth where it declares one, else reader answers.

    Args:
        inp (StudyInputs): the study's inputs.
        method (str): the method's name.
        pie (np.ndarray | None): bool ``[N]`` PIE mask in eval-row order.
        pie_reps (np.ndarray | None): bool ``[N, B]`` replicate PIE sets for the
            ground-truth statistics (as `pie_rows`); reader answers keep their PIE status.

    Returns:
        dict: the F7 row keyed by `COLUMNS`; ``CANNOT`` with the reason (no PIEs, or
        `NEEDS_READERS`) when neither source serves.
    """
    p1 = VALUES["F7"][0]
    gt = inp.ground_truth
    if gt is not None and {"quality", "label_noise"} & set(gt.columns):
        why = _pie_reason(inp, pie)
        if not why:
            return _groundtruth_row(inp, method, np.asarray(pie, dtype=bool), pie_reps)
        j = judge(p1, math.nan, None, inp.level, why)
        return _row(method, "F7", j, j, 0, pr.interval_over(inp.n_seeds, pie_reps))
    row = reader_row(inp, method)
    if row is not None:
        return row
    why = NEEDS_READERS + (f" ({inp.answers_note})" if inp.answers_note else "")
    j = judge(p1, math.nan, None, inp.level, why)
    return _row(method, "F7", j, j, 0, "reader answers")


# ----------------------------------------------------------------------------- one method
def check_method(inp: StudyInputs, method: str, rel, rel_reps, pie,
                 pie_reps=None) -> pd.DataFrame:
    """The seven rows (F1–F7) of one method.

    Args:
        inp (StudyInputs): the study's inputs.
        method (str): the method's name.
        rel (np.ndarray): float ``[S, C]`` median relative AP change.
        rel_reps (np.ndarray | None): float ``[B, S, C]`` replicate curves; None = no bootstrap.
        pie (np.ndarray | None): bool ``[N]`` PIE mask; None = no PIE table.
        pie_reps (np.ndarray | None): bool ``[N, B]`` replicate PIE sets (`pie_rows`).

    Returns:
        pd.DataFrame: 7 rows, columns `COLUMNS`.

    Raises:
        ValueError: as `forgetting_rows` and `pie_rows`.
    """
    rows = forgetting_rows(inp, method, rel, rel_reps)
    rows += pie_rows(inp, method, pie, pie_reps)
    rows.append(f7_row(inp, method, pie, pie_reps))
    return pd.DataFrame(rows, columns=COLUMNS)


def empty_table() -> pd.DataFrame:
    """An empty paper-check table.

    Returns:
        pd.DataFrame: no rows, columns `COLUMNS`.
    """
    return pd.DataFrame(columns=COLUMNS)

