"""Per-class operating thresholds for the dense model, chosen on the validation split.

A deployed classifier calls a finding at a fixed threshold; the missed-findings analysis
(core.analysis.missed) keeps the dense model's thresholds fixed and asks what pruning changes at
them. `choose_thresholds(probs, labels, rule)` returns one threshold per class:

- a prediction is positive iff ``score >= threshold``;
- the candidates are the distinct scores of the labelled images of that class, so the optimum
  is exact (the counts only change at a score; any threshold between two adjacent distinct
  scores gives the same calls as the higher one);
- ties: of several candidates with the same optimal value the HIGHEST threshold is taken (the
  most conservative of equal-scoring operating points, and what ``np.argmax`` picks from
  scikit-learn's ``roc_curve`` output, which lists thresholds high → low);
- NaN where the class has no positive or no negative among its labelled images (neither rule
  is defined), or where a labelled image has a NaN score.

Rules:
- ``"youden"`` (default): maximise J = sensitivity + specificity − 1 = TPR − FPR. J depends
  only on class-conditional rates, so the operating point does not move with the validation
  split's prevalence — a rare class gets a threshold that still catches its positives, which
  is what the missed-finding rates are about. F1 ignores true negatives and on a rare class
  tends to a high threshold with low sensitivity.
- ``"f1"``: maximise F1 = 2·TP / (2·TP + FP + FN) (the point of
  ``sklearn.metrics.precision_recall_curve`` with the largest 2PR/(P+R)).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

RULES = ("youden", "f1")
DEFAULT_RULE = "youden"


def _counts_at_thresholds(s: np.ndarray, y: np.ndarray):
    """Distinct scores high → low and TP, FP when calling ``score >= t`` at each."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    fp = np.arange(1, s.size + 1) - tp
    # The last element of every group of equal scores carries the counts of that threshold.
    end = np.ones(s.size, dtype=bool)
    end[:-1] = s[:-1] != s[1:]
    return s[end], tp[end], fp[end]


def _best_index(tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int, rule: str) -> int:
    """Index of the first (highest-threshold) optimum, compared exactly in integers.

    Floats would break ties at random: 2/3 − 0 and 1 − 1/3 differ in the last bit.
    """
    tp = tp.astype(np.int64)
    fp = fp.astype(np.int64)
    if rule == "youden":
        # J = TP/P − FP/N; P·N·J = TP·N − FP·P is an integer with the same order.
        return int(np.argmax(tp * n_neg - fp * n_pos))
    # F1 = 2TP / (2TP + FP + FN) = 2TP / (TP + FP + P) (0 when TP = 0, as sklearn's f1_score).
    # Rationals: pick candidates within float rounding of the maximum, then compare exactly.
    num, den = 2 * tp, tp + fp + n_pos
    f1 = num / den
    cand = np.flatnonzero(f1 >= f1.max() - 1e-9)
    best = int(cand[0])
    for i in cand[1:]:
        if int(num[i]) * int(den[best]) > int(num[best]) * int(den[i]):
            best = int(i)
    return best


def choose_thresholds(probs, labels, rule: str = DEFAULT_RULE) -> np.ndarray:
    """Per-class threshold maximising `rule` over the labelled images (module doc: ties go
    to the highest threshold; positive iff score >= threshold).

    Args:
        probs (np.ndarray): float ``[N, C]`` scores (probabilities or any monotone
            transform; the threshold is in the scores' units).
        labels (np.ndarray): ``[N, C]`` 1 / 0 / NaN (NaN = not labelled, skipped).
        rule (str): "youden" (default) or "f1".

    Returns:
        np.ndarray: float64 ``[C]``; NaN where a class has no positive or no negative, or
        a NaN score among its labelled images.

    Example:
        >>> choose_thresholds(np.array([[0.9], [0.7], [0.4], [0.2]]),
        ...                   np.array([[1.0], [1.0], [0.0], [0.0]])).tolist()
        [0.7]
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != labels.shape:
        raise ValueError(f"probs {probs.shape} and labels {labels.shape} must both be [N, C]")
    bad = ~(np.isnan(labels) | (labels == 0) | (labels == 1))
    if bad.any():
        raise ValueError(f"labels must be 1, 0 or NaN; found {np.unique(labels[bad])[:5]}")
    out = np.full(probs.shape[1], np.nan)
    for j in range(probs.shape[1]):
        keep = ~np.isnan(labels[:, j])
        s, y = probs[keep, j], labels[keep, j].astype(np.int64)
        n_pos = int(y.sum())
        n_neg = int(y.size - n_pos)
        if n_pos == 0 or n_neg == 0 or np.isnan(s).any():
            continue
        thr, tp, fp = _counts_at_thresholds(s, y)
        # The first maximum wins: thresholds run high → low, so ties go to the highest.
        out[j] = thr[_best_index(tp, fp, n_pos, n_neg, rule)]
    return out


def class_counts(labels) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per class among labelled images.

    Args:
        labels (np.ndarray): ``[N, C]`` 1 / 0 / NaN.

    Returns:
        tuple[np.ndarray, np.ndarray]: (positives, negatives), int64 ``[C]`` each.

    Example:
        >>> pos, neg = class_counts([[1, 0], [0, np.nan], [1, 1]])
        >>> pos.tolist(), neg.tolist()
        ([2, 1], [1, 1])
    """
    labels = np.asarray(labels, dtype=np.float64)
    return (labels == 1).sum(axis=0).astype(np.int64), (labels == 0).sum(axis=0).astype(np.int64)


# ----------------------------------------------------------------------------- from a study
THRESHOLD_COLUMNS = ["seed", "class", "rule", "threshold", "n_pos", "n_neg"]


def validation_labels(root, classes) -> tuple[np.ndarray | None, str]:
    """The validation labels in the row order of the validation predictions.

    Args:
        root (str | Path): the study folder.
        classes (Sequence[str]): the class order.

    Returns:
        tuple[np.ndarray | None, str]: (float64 ``[Nval, C]`` 1 / 0 / NaN, "") or (None,
        why not): a study made before they were stored, or an imported one, has none.
    """
    from core import predictions

    val = predictions.read_val_labels(root)
    if val is None:
        return None, "no validation labels in the study"
    missing = [c for c in classes if c not in val.columns]
    if missing:
        return None, f"validation labels lack classes {missing}"
    if "row" in val.columns:
        val = val.sort_values("row", kind="stable")
    return val[list(classes)].to_numpy(dtype=np.float64), ""


def seed_thresholds(root, seeds, classes, rule: str = DEFAULT_RULE
                    ) -> tuple[pd.DataFrame, str]:
    """thresholds.parquet: each seed's dense model's thresholds on the validation split.

    Args:
        root (str | Path): the study folder.
        seeds (Sequence[int]): the seeds, in the order of the rows.
        classes (Sequence[str]): class order.
        rule (str): "youden" or "f1" (`choose_thresholds`).

    Returns:
        tuple[pd.DataFrame, str]: the table (THRESHOLD_COLUMNS, one row per seed and class)
        and a note: "" or why some or all seeds have none (then the table lacks them).
    """
    from core import predictions

    y, note = validation_labels(root, classes)
    if y is None:
        return pd.DataFrame(columns=THRESHOLD_COLUMNS), note
    n_pos, n_neg = class_counts(y)
    frames, absent = [], []
    for seed in seeds:
        probs = predictions.read_val_probabilities(root, seed)
        if probs is None or np.shape(probs) != y.shape:
            absent.append(seed)
            continue
        t = choose_thresholds(np.asarray(probs, dtype=np.float64), y, rule)
        frames.append(pd.DataFrame({"seed": int(seed), "class": classes, "rule": rule,
                                    "threshold": t, "n_pos": n_pos, "n_neg": n_neg}))
    if not frames:
        return pd.DataFrame(columns=THRESHOLD_COLUMNS), "no validation predictions in the study"
    note = f"no validation predictions for seeds {absent}" if absent else ""
    return pd.concat(frames, ignore_index=True), note


def selection_thresholds(root, seeds, classes, rule: str = DEFAULT_RULE
                         ) -> tuple[np.ndarray | None, str]:
    """Thresholds of a model selection: one seed's dense model, or the seed ensemble (the
    mean of the seeds' validation probabilities, as its test predictions are that mean).

    For one seed this equals that seed's rows of thresholds.parquet (`seed_thresholds`).

    Args:
        root (str | Path): the study folder.
        seeds (Sequence[int]): the selection.
        classes (Sequence[str]): class order.
        rule (str): "youden" or "f1".

    Returns:
        tuple[np.ndarray | None, str]: float64 ``[C]`` (NaN = undefined for that class) and
        "", or (None, why not) when the study lacks validation predictions or labels.
    """
    from core import predictions
    from core.analysis.pies import seed_ensemble

    y, note = validation_labels(root, classes)
    per_seed = [predictions.read_val_probabilities(root, seed) for seed in seeds]
    if y is None or any(p is None for p in per_seed):   # a study made before they existed
        return None, ("this study has no validation predictions of the dense model; a study "
                      "made by this version stores them (models/seed-N/val_predictions.npy)")
    probs = seed_ensemble(per_seed)
    if y.shape != probs.shape:
        return None, (f"validation labels {y.shape} and predictions {probs.shape} differ in "
                      "shape")
    return choose_thresholds(probs, y, rule=rule), ""
