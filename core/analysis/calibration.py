"""Calibration of the predicted probabilities vs sparsity: ECE, Brier score, reliability bins.

- Bins: `n_bins` equal-width bins on [0, 1]: bin i holds probabilities in [i/n, (i+1)/n), the
  last bin also 1.0 (equal width keeps bins comparable across sparsities and models; equal-mass
  bins would move with the prediction distribution, which is what pruning changes).
- ECE = Σ_bins (n_bin / n) · |mean probability in bin − fraction positive in bin| over the
  labelled images of a class (NaN labels skipped); 0 for a perfectly calibrated model.
- Brier = mean over labelled images of (p − y)² (equals sklearn.metrics.brier_score_loss).
Both per (model, class); NaN where a class has no labelled image.
"""
from __future__ import annotations

import numpy as np

DEFAULT_BINS = 10


def reliability(probs, labels, n_bins: int = DEFAULT_BINS) -> dict[str, np.ndarray]:
    """Per-bin counts of a reliability diagram, for every model and class.

    Bins are equal-width on [0, 1] (p = 1 falls in the last bin); unlabelled (NaN) entries
    are left out.

    Args:
        probs (np.ndarray): float ``[M, N, C]`` probabilities of M models.
        labels (np.ndarray): float ``[N, C]`` labels (1/0/NaN).
        n_bins (int): bins (>= 1).

    Returns:
        dict[str, np.ndarray]: ``count``, ``sum_prob``, ``sum_pos``, float64
        ``[M, C, n_bins]`` each.

    Raises:
        ValueError: when n_bins < 1 or the shapes do not match.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if probs.ndim != 3 or probs.shape[1:] != labels.shape:
        raise ValueError(f"probs {probs.shape} must be [M, N, C] with labels {labels.shape}")
    m, n, c = probs.shape
    labelled = ~np.isnan(labels)
    b = np.clip(np.floor(probs * n_bins), 0, n_bins - 1).astype(np.int64)
    idx = (np.arange(m)[:, None, None] * c + np.arange(c)) * n_bins + b   # [M, N, C]
    keep = np.broadcast_to(labelled, probs.shape)
    flat = idx[keep]
    size = m * c * n_bins
    count = np.bincount(flat, minlength=size)
    sum_prob = np.bincount(flat, weights=probs[keep], minlength=size)
    y = np.broadcast_to(np.nan_to_num(labels), probs.shape)
    sum_pos = np.bincount(flat, weights=y[keep], minlength=size)
    shape = (m, c, n_bins)
    return {"count": count.reshape(shape).astype(np.float64),
            "sum_prob": sum_prob.reshape(shape), "sum_pos": sum_pos.reshape(shape)}


def ece_from_bins(bins: dict[str, np.ndarray]) -> np.ndarray:
    """Expected calibration error from reliability bins: Σ_bins |Σp − Σy| / n.

    Args:
        bins (dict[str, np.ndarray]): `reliability`'s result (possibly summed over seeds).

    Returns:
        np.ndarray: float64 ``[M, C]``; NaN where no image is labelled.
    """
    count = bins["count"]
    total = count.sum(axis=-1)
    gap = np.abs(bins["sum_prob"] - bins["sum_pos"])   # = n_bin · |mean p − fraction positive|
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, gap.sum(axis=-1) / total, np.nan)


def expected_calibration_error(probs, labels, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """ECE per (model, class), with equal-width bins.

    Args:
        probs (np.ndarray): float ``[M, N, C]`` probabilities.
        labels (np.ndarray): float ``[N, C]`` labels (1/0/NaN).
        n_bins (int): bins (>= 1).

    Returns:
        np.ndarray: float64 ``[M, C]``; NaN where no image is labelled.

    Raises:
        ValueError: as `reliability`.

    Example:
        >>> expected_calibration_error(np.array([[[0.9], [0.8], [0.2]]]),
        ...                            np.array([[1.0], [0.0], [0.0]]), n_bins=2).round(3).tolist()
        [[0.3]]
    """
    return ece_from_bins(reliability(probs, labels, n_bins))


def brier(probs, labels) -> np.ndarray:
    """Brier score per (model, class): mean (p − y)² over the labelled images.

    Args:
        probs (np.ndarray): float ``[M, N, C]`` (or ``[N, C]``) probabilities.
        labels (np.ndarray): float ``[N, C]`` labels (1/0/NaN).

    Returns:
        np.ndarray: float64 ``[M, C]`` (or ``[C]``); NaN where no image is labelled.

    Example:
        >>> brier(np.array([[0.9], [0.2]]), np.array([[1.0], [np.nan]])).round(3).tolist()
        [0.01]
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    labelled = ~np.isnan(labels)
    sq = np.where(labelled, (probs - np.nan_to_num(labels)) ** 2, 0.0)
    n = labelled.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, sq.sum(axis=-2) / n, np.nan)
