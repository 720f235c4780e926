"""Missed findings: what pruning changes at the dense model's fixed operating thresholds.

A deployed model calls finding c when its probability >= t_c, with t_c chosen once for the
dense model on the validation split (core.analysis.thresholds) and then kept. For every
sparsity k, against the dense model's calls on the same images (same seed):

- missed_rate      = #(dense positive call → pruned negative call, truly positive) / #truly positive
                     (under-diagnosis that pruning adds);
- false_alarm_rate = #(dense negative → pruned positive, truly negative) / #truly negative;
- sensitivity      = #(pruned positive call, truly positive) / #truly positive;
- specificity      = #(pruned negative call, truly negative) / #truly negative;
- flip_rate        = #(pruned call ≠ dense call) / #labelled images.

"Truly" is the evaluation label (1 / 0; NaN images are skipped for that class). At k = 0 the
flip rates are 0 by definition. A class whose threshold is NaN (no positive or negative on the
validation split) gets NaN everywhere.
"""
from __future__ import annotations

import numpy as np

RATES = ("missed_rate", "false_alarm_rate", "sensitivity", "specificity", "flip_rate")
# one cell of missed.parquet and calibration.parquet: their summary over seeds
# (core.analysis.over_seeds.summary_table) is over the seed rows of one cell
CELL = ("method", "class", "sparsity")


def missed_findings(probs, labels, thresholds, dense_index: int = 0) -> dict[str, np.ndarray]:
    """Missed-finding rates of one seed's pruned models against its dense model.

    Args:
        probs (np.ndarray): float ``[S, N, C]`` probabilities of one seed, sparsity-major.
        labels (np.ndarray): ``[N, C]`` 1 / 0 / NaN (not labelled).
        thresholds (np.ndarray): ``[C]`` operating thresholds (a call is prob ≥ threshold).
        dense_index (int): the index along S of the dense model.

    Returns:
        dict[str, np.ndarray]: {rate: float64 ``[S, C]``} for each of `RATES`, plus
        ``n_pos`` and ``n_neg`` (int64 ``[C]``).

    Raises:
        ValueError: the shapes do not fit.
    """
    probs = np.asarray(probs, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.float64)
    t = np.asarray(thresholds, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[1:] != labels.shape or t.shape != (labels.shape[1],):
        raise ValueError(f"probs {probs.shape} [S, N, C], labels {labels.shape} [N, C] and "
                         f"thresholds {t.shape} [C] do not fit")
    pos = labels == 1
    neg = labels == 0
    n_pos = pos.sum(axis=0)
    n_neg = neg.sum(axis=0)
    # Compare in float64: a float32 threshold chosen on float32 probabilities stays exact.
    calls = probs.astype(np.float64) >= t            # [S, N, C]; NaN threshold → all False
    dense = calls[dense_index]
    flipped_off = dense & ~calls                      # positive → negative
    flipped_on = ~dense & calls                       # negative → positive
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "missed_rate": (flipped_off & pos).sum(axis=1) / n_pos,
            "false_alarm_rate": (flipped_on & neg).sum(axis=1) / n_neg,
            "sensitivity": (calls & pos).sum(axis=1) / n_pos,
            "specificity": (~calls & neg).sum(axis=1) / n_neg,
            "flip_rate": ((flipped_off | flipped_on) & (pos | neg)).sum(axis=1) / (n_pos + n_neg),
        }
    undefined = np.isnan(t)
    for k in RATES:
        out[k] = np.where(undefined, np.nan, out[k].astype(np.float64))
    out["n_pos"] = n_pos.astype(np.int64)
    out["n_neg"] = n_neg.astype(np.int64)
    return out
