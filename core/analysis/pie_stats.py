"""PIE statistics (docs/definitions.md): pure functions of (labels, classes, PIE mask).

The dashboard calls these on re-thresholded PIE sets, so they take the labels table (or a
[N, C] array) and a boolean mask and nothing else.

- `class_ratio`: per class, prevalence among PIEs ÷ prevalence among non-PIEs. Prevalence =
  positives / images labelled for that class in the group (NaN labels are left out of both).
- `findings_ratio`: the same ratio for the number of findings per image ("No Finding"
  excluded, NaN counted as absent), binned 0, 1, 2, 3, 4+; prevalence = share of the group.
- `groundtruth_comparison`: for the ground truth the dataset declares (SynthCXR: `label_noise`,
  `quality`), PIE vs non-PIE label-noise rate and mean quality with two-sided Mann-Whitney U —
  the ground-truth counterpart of the paper's reader study.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from core.data.stats import FINDING_BINS, finding_bin, findings_per_image, label_matrix


def _mask(pie_mask, n: int) -> np.ndarray:
    mask = np.asarray(pie_mask, dtype=bool)
    if mask.shape != (n,):
        raise ValueError(f"PIE mask shape {mask.shape}, expected ({n},)")
    return mask


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _prevalence(pos: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, pos / np.maximum(n, 1), np.nan)


def class_ratio(labels, classes, pie_mask) -> pd.DataFrame:
    """PIE:non-PIE prevalence ratio per class.

    Args:
        labels (pd.DataFrame or np.ndarray): labels table or float ``[N, C]`` (1 / 0 / NaN).
        classes (Sequence[str]): class order.
        pie_mask (array-like): bool ``[N]``, the PIEs.

    Returns:
        pd.DataFrame: one row per class: ``class``, ``n_pie``, ``n_nonpie`` (images labelled
        for the class), ``pos_pie``, ``pos_nonpie``, ``prev_pie``, ``prev_nonpie``,
        ``ratio`` = prev_pie / prev_nonpie (NaN if prev_nonpie is 0 or undefined).
    """
    y = label_matrix(labels, classes)
    mask = _mask(pie_mask, y.shape[0])
    labelled = ~np.isnan(y)
    pos = y == 1
    n_pie = labelled[mask].sum(axis=0)
    n_non = labelled[~mask].sum(axis=0)
    pos_pie = pos[mask].sum(axis=0)
    pos_non = pos[~mask].sum(axis=0)
    prev_pie = _prevalence(pos_pie, n_pie)
    prev_non = _prevalence(pos_non, n_non)
    return pd.DataFrame({
        "class": list(classes), "n_pie": n_pie.astype(np.int64), "n_nonpie": n_non.astype(np.int64),
        "pos_pie": pos_pie.astype(np.int64), "pos_nonpie": pos_non.astype(np.int64),
        "prev_pie": prev_pie, "prev_nonpie": prev_non, "ratio": _ratio(prev_pie, prev_non),
    })


def findings_ratio(labels, classes, pie_mask) -> pd.DataFrame:
    """PIE:non-PIE ratio of the share of images with 0, 1, 2, 3, 4+ findings
    (`core.data.stats.findings_per_image`: "No Finding" not counted).

    Args:
        labels (pd.DataFrame or np.ndarray): labels table or float ``[N, C]``.
        classes (Sequence[str]): class order.
        pie_mask (array-like): bool ``[N]``, the PIEs.

    Returns:
        pd.DataFrame: five rows: ``n_findings`` ("0" … "4+"), ``count_pie``,
        ``count_nonpie``, ``prev_pie``, ``prev_nonpie`` (share of the group), ``ratio``.
    """
    bins = finding_bin(findings_per_image(labels, classes))
    mask = _mask(pie_mask, bins.size)
    k = len(FINDING_BINS)
    count_pie = np.bincount(bins[mask], minlength=k)
    count_non = np.bincount(bins[~mask], minlength=k)
    prev_pie = _prevalence(count_pie, np.full(k, mask.sum()))
    prev_non = _prevalence(count_non, np.full(k, (~mask).sum()))
    return pd.DataFrame({
        "n_findings": list(FINDING_BINS), "count_pie": count_pie.astype(np.int64),
        "count_nonpie": count_non.astype(np.int64), "prev_pie": prev_pie,
        "prev_nonpie": prev_non, "ratio": _ratio(prev_pie, prev_non),
    })


def _mann_whitney(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan
    allv = np.concatenate([a, b])
    if np.ptp(allv) == 0:      # all values equal: no evidence of any difference
        return float(a.size * b.size / 2), 1.0
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    return float(res.statistic), float(res.pvalue)


def groundtruth_comparison(table: pd.DataFrame, pie_mask, columns: Sequence[str]) -> dict:
    """PIEs against non-PIEs on the ground-truth columns the dataset declares
    (`core.data.base.ground_truth_columns`), never on a column found by its name.

    Args:
        table (pd.DataFrame): one row per evaluation image, holding `columns`.
        pie_mask (np.ndarray): bool ``[N]``, True = PIE.
        columns (Sequence[str]): the declared ground-truth columns (`label_noise`, `quality`).

    Returns:
        dict: {column: {"rate_pie"/"mean_pie", "rate_nonpie"/"mean_nonpie", "n_pie",
        "n_nonpie", "u", "p"}} (a rate for 0/1 `label_noise`, a mean for `quality`; Mann-
        Whitney U and its two-sided p).
    """
    mask = _mask(pie_mask, len(table))
    out: dict = {}
    for column in columns:
        # label_noise is 0/1, so its mean is a rate; quality is a score with a mean
        stat = "rate" if column == "label_noise" else "mean"
        v = table[column].to_numpy(dtype=np.float64)
        a, b = v[mask & ~np.isnan(v)], v[~mask & ~np.isnan(v)]
        u, p = _mann_whitney(a, b)
        out[column] = {
            f"{stat}_pie": float(a.mean()) if a.size else math.nan,
            f"{stat}_nonpie": float(b.mean()) if b.size else math.nan,
            "n_pie": int(a.size), "n_nonpie": int(b.size), "u": u, "p": p,
        }
    return out
