"""Pruning-identified exemplars (PIEs), both definitions, as pure functions.

Paper form (Holste et al.): at each sparsity average the sigmoid outputs over all seeds (the
ensemble); per image, the Spearman correlation across classes between the dense ensemble and the
k-sparse ensemble; PIEs are the images in the bottom p% of that correlation at k (90%, 5%).

The cut (`select_bottom`): n = ⌊p/100 · N⌋ images with the lowest correlation, as the reference
code's ``argsort(corrs)[:int(0.05 * N)]`` (bottom 5% of 21,081 → 1,054). Ties at the cut are
broken by row order (stable sort), so the count stays the paper's N; `cut_ties` counts the
images sitting exactly on the cut and how many of them are PIEs. An image whose correlation
is undefined (NaN: its class scores are all equal in one ensemble, so it has no ranking) is
never a PIE — it is counted as such.

Population form (after Hooker et al., adapted to multi-label): each seed's outputs are
thresholded at 0.5 (score ≥ 0.5 → 1); per class, the population's label is the majority over
seeds (more than half of the seeds; a tie is 0); an image is a PIE at sparsity k when the dense
population's majority label vector differs from the k-sparse population's in any class.
"""
from __future__ import annotations

import math

import numpy as np

THRESHOLD = 0.5


def rank_rows(a: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, ties averaged (scipy.stats.rankdata 'average')."""
    a = np.asarray(a)
    order = np.argsort(a, axis=-1, kind="stable")
    s = np.take_along_axis(a, order, axis=-1)
    c = a.shape[-1]
    idx = np.arange(c)
    is_start = np.ones(s.shape, dtype=bool)
    is_start[..., 1:] = s[..., 1:] != s[..., :-1]
    is_end = np.ones(s.shape, dtype=bool)
    is_end[..., :-1] = is_start[..., 1:]
    start = np.maximum.accumulate(np.where(is_start, idx, 0), axis=-1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(is_end, idx, c), -1), axis=-1), -1)
    ranks = np.empty(s.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=-1)
    return ranks


def _centred_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ranks − row mean, row sum of squares, row has NaN) — one side of a Spearman."""
    r = rank_rows(x)
    r -= r.mean(axis=-1, keepdims=True)
    return r, (r * r).sum(axis=-1), np.isnan(x).any(axis=-1)


def _spearman_from(a, b) -> np.ndarray:
    (rx, sx, nx), (ry, sy, ny) = a, b
    num = (rx * ry).sum(axis=-1)
    den = np.sqrt(sx * sy)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    r = np.clip(r, -1.0, 1.0)
    r[nx | ny] = np.nan
    return r


def rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of x with the same row of y (last axis), as
    scipy.stats.spearmanr; NaN for a constant row or a row containing NaN."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    return _spearman_from(_centred_ranks(x), _centred_ranks(y))


def ensemble_correlations(ensemble: np.ndarray) -> np.ndarray:
    """Per-image Spearman between the dense ensemble (index 0) and each sparsity's ensemble.

    `ensemble` [S, N, C] (mean over seeds of sigmoid outputs) → float32 [S, N].
    """
    ensemble = np.asarray(ensemble, dtype=np.float64)
    out = np.empty(ensemble.shape[:2], dtype=np.float32)
    dense = _centred_ranks(ensemble[0])           # ranked once, compared S times
    for s in range(ensemble.shape[0]):   # one sparsity at a time keeps temporaries small
        out[s] = _spearman_from(dense, _centred_ranks(ensemble[s]))
    return out


def cut_size(n_images: int, percentile: float) -> int:
    """⌊p/100 · N⌋ (the epsilon keeps e.g. 5% of 20 at exactly 1 despite binary floats)."""
    return int(math.floor(percentile * n_images / 100.0 + 1e-9))


def select_bottom(corr, percentile: float = 5.0) -> np.ndarray:
    """Boolean mask of the bottom `percentile` % images by correlation (see module doc)."""
    corr = np.asarray(corr, dtype=np.float64)
    if corr.ndim != 1:
        raise ValueError(f"expected one correlation per image, got shape {corr.shape}")
    if not 0 < percentile < 100:
        raise ValueError(f"percentile {percentile} outside (0, 100)")
    finite = np.isfinite(corr)
    n = min(cut_size(corr.size, percentile), int(finite.sum()))
    order = np.argsort(np.where(finite, corr, np.inf), kind="stable")
    mask = np.zeros(corr.size, dtype=bool)
    mask[order[:n]] = True
    return mask


def cut_ties(corr, mask) -> dict:
    """How the PIE cut meets ties: {cut_value: the highest PIE correlation (None without
    PIEs), n_tied_at_cut: images with exactly that correlation, n_tied_pies: those of them
    that are PIEs (the first in row order)}. n_tied_at_cut > n_tied_pies means images with the
    cut value are left out only by row order; the PIE count stays the paper's N."""
    corr = np.asarray(corr, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return {"cut_value": None, "n_tied_at_cut": 0, "n_tied_pies": 0}
    cut = float(corr[mask].max())
    tied = corr == cut
    return {"cut_value": cut, "n_tied_at_cut": int(tied.sum()),
            "n_tied_pies": int((tied & mask).sum())}


def tie_text(ties: dict) -> str:
    """`cut_ties` in words (the report and the PIEs page say the same)."""
    if ties.get("cut_value") is None:
        return "no PIEs, so no cut"
    return (f"cut at correlation {ties['cut_value']:.4g}: {ties['n_tied_at_cut']:,} image(s) "
            f"have exactly the cut value; {ties['n_tied_pies']:,} of them are PIEs (ties "
            "broken by row order, keeping the paper's count)")


def paper_pies(ensemble: np.ndarray, sparsities, pie_sparsity: int = 90,
               percentile: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """(PIE mask [N], correlations [S, N]) for an ensemble [S, N, C] over `sparsities`."""
    corr = ensemble_correlations(ensemble)
    k = list(sparsities).index(pie_sparsity)
    return select_bottom(corr[k], percentile), corr


def threshold_votes(predictions: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Number of seeds voting 1 per (…, class): `predictions` [seeds, ...] → uint16 [...]."""
    return (np.asarray(predictions) >= threshold).sum(axis=0, dtype=np.uint16)


def majority(votes: np.ndarray, n_seeds: int) -> np.ndarray:
    """Majority label: more than half of the seeds (a tie counts as 0)."""
    return 2 * np.asarray(votes, dtype=np.int64) > n_seeds


def population_pies(votes: np.ndarray, n_seeds: int) -> np.ndarray:
    """`votes` [S, N, C] (seeds voting 1) → bool [S, N]: majority vector differs from dense."""
    maj = majority(votes, n_seeds)
    return (maj != maj[:1]).any(axis=-1)
