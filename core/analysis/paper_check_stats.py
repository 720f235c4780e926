"""The paper check's statistics under the bootstrap replicates (pure array functions).

Every function takes the replicate inputs the analysis already has — the relative AP changes
of each replicate (`uncertainty.MethodCI.rel_reps`, medians over the replicate's drawn seeds)
and the image multiplicities `W` [N, B] of the plan shared by every interval — and returns one
value per replicate [B]. The point estimates are computed by core.analysis.paper_check from
the analysis tables' own functions; these functions only give the spread.

Weighted sums over images are one matrix product with `W` (float32: every sum of integer
multiplicities stays below 2^24, so it is exact).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis import uncertainty as unc


def corr_reps(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r and Spearman ρ per row over the columns where both are finite.

    NaN as fq.correlate gives it (fewer than 3 points, a constant variable). Spearman =
    Pearson on average ranks of the kept points (as scipy.stats.spearmanr).

    Args:
        x (np.ndarray): float ``[B, P]`` (broadcastable with `y`).
        y (np.ndarray): float ``[B, P]`` (broadcastable with `x`).

    Returns:
        tuple[np.ndarray, np.ndarray]: (r, ρ), float64 ``[B]`` each.

    Raises:
        ValueError: when the broadcast arrays are not 2-D.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if x.ndim != 2:
        raise ValueError(f"need [B, P] arrays, got {x.shape}")
    if x.shape[1] == 0:
        return np.full(x.shape[0], np.nan), np.full(x.shape[0], np.nan)
    ok = np.isfinite(x) & np.isfinite(y)
    xv, yv = np.where(ok, x, np.nan), np.where(ok, y, np.nan)
    r = unc._rowwise_pearson(xv, yv)
    rho = unc._rowwise_pearson(rankdata(xv, axis=1, nan_policy="omit"),
                               rankdata(yv, axis=1, nan_policy="omit"))
    return r, rho


def slope_reps(x, y) -> np.ndarray:
    """Least-squares slope of y on x per row, over the finite points.

    Args:
        x (np.ndarray): float ``[P]`` or ``[B, P]``.
        y (np.ndarray): float ``[B, P]``.

    Returns:
        np.ndarray: float64 ``[B]``; NaN with fewer than 3 points or no spread in x.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    ok = np.isfinite(x) & np.isfinite(y)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = np.where(ok, x, 0.0).sum(axis=1) / n
        my = np.where(ok, y, 0.0).sum(axis=1) / n
        dx = np.where(ok, x - mx[:, None], 0.0)
        dy = np.where(ok, y - my[:, None], 0.0)
        sxx = (dx * dx).sum(axis=1)
        slope = (dx * dy).sum(axis=1) / sxx
    return np.where((n >= 3) & (sxx > 0), slope, np.nan)


# ----------------------------------------------------------------------------- F1, F2
def class_level_reps(rel_reps, sparsities, drop_percent: float = 20, at: int = 95
                     ) -> tuple[np.ndarray, np.ndarray]:
    """First drop and relative change at `at` of every replicate's curves.

    The same definitions as the point estimate (fg.first_drop_sparsity, fg.rel_change_at).

    Args:
        rel_reps (np.ndarray): float ``[B, S, C]`` median relative AP change per replicate.
        sparsities (Sequence[int]): the grid, one per S.
        drop_percent (float): k of the k%-drop (paper: 20).
        at (int): the sparsity of the relative change (paper: 95).

    Returns:
        tuple[np.ndarray, np.ndarray]: (first drop, relative change at `at`), float64
        ``[B, C]`` each; NaN = never drops / `at` not in the grid.
    """
    reps = np.asarray(rel_reps, dtype=np.float64)
    first = fg.first_drop_sparsity(np.moveaxis(reps, 0, -1), sparsities, drop_percent).T
    hits = np.flatnonzero(np.asarray(sparsities) == at)
    at_b = reps[:, hits[0], :] if hits.size else np.full(first.shape, np.nan)
    return first, at_b


# ----------------------------------------------------------------------------- F3, F4
def cooccurrence_reps(y, weights32) -> np.ndarray:
    """Co-occurrence counts M_b = Yᵀ diag(w_b) Y for every replicate b.

    NaN labels count as 0, as in the stored co-occurrence table.

    Args:
        y (np.ndarray): float ``[N, C]`` labels (0/1/NaN).
        weights32 (np.ndarray): float32 ``[N, B]`` image multiplicities.

    Returns:
        np.ndarray: float64 ``[B, C, C]``, symmetric.
    """
    y0 = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0).astype(np.float32)
    c = y0.shape[1]
    ia, ib = np.triu_indices(c)
    flat = weights32.T @ (y0[:, ia] * y0[:, ib])          # [B, C(C+1)/2]
    m = np.zeros((flat.shape[0], c, c), dtype=np.float64)
    m[:, ia, ib] = flat
    m[:, ib, ia] = flat
    return m


def pair_x_reps(m_b) -> dict[str, np.ndarray]:
    """The paper variant's |Δ log frequency| and IoU^¼ per replicate and class pair.

    fq.pair_statistics with variant 'paper', row by row; pairs (a < b) in fq.pair_index order.

    Args:
        m_b (np.ndarray): float ``[B, C, C]`` co-occurrence counts (cooccurrence_reps).

    Returns:
        dict[str, np.ndarray]: ``log_freq_diff`` and ``iou4``, float64 ``[B, P]`` each
        (P = C(C−1)/2; IoU NaN where the union is empty).
    """
    freq = m_b.sum(axis=1)                                  # column sums, [B, C]
    a, b = fq.pair_index(m_b.shape[1])
    inter = m_b[:, a, b]
    union = freq[:, a] + freq[:, b] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan)
    log_f = fq.log_frequency(freq)
    return {"log_freq_diff": np.abs(log_f[:, a] - log_f[:, b]), "iou4": iou ** 0.25}


def fcd_reps(rel_reps, sparsities) -> np.ndarray:
    """FCD of every class pair (a < b) per replicate (fq.fcd_matrix row by row).

    Args:
        rel_reps (np.ndarray): float ``[B, S, C]`` relative AP changes.
        sparsities (Sequence[int]): the grid; only sparsities > 0 enter the distance.

    Returns:
        np.ndarray: float64 ``[B, P]``, P = C(C−1)/2.
    """
    reps = np.asarray(rel_reps, dtype=np.float64)[:, np.asarray(sparsities) > 0, :]
    a, b = fq.pair_index(reps.shape[2])
    diff = reps[:, :, a] - reps[:, :, b]                    # [B, S', P]
    return np.sqrt((diff ** 2).sum(axis=1))


# ----------------------------------------------------------------------------- F5, F6, F7
def group_sums(columns, weights32) -> np.ndarray:
    """Weighted sums Σ_n w_b[n] · columns[k][n] for every row k and replicate b.

    Args:
        columns (np.ndarray): ``[K, N]`` (bool or numeric; cast to float32).
        weights32 (np.ndarray): float32 ``[N, B]`` image multiplicities.

    Returns:
        np.ndarray: float64 ``[K, B]``.
    """
    cols = np.asarray(columns, dtype=np.float32)
    return (cols @ weights32).astype(np.float64)


def findings_reps(counts, pie, weights32, n_bins: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Mean findings of PIEs − non-PIEs, and the PIE:non-PIE ratio per findings bin.

    Counts are binned 0 … n_bins−1 ("4+" = the last) for the ratio, as
    pie_stats.findings_ratio; the mean uses the counts themselves.

    Args:
        counts (np.ndarray): ``[N]`` findings per image.
        pie (np.ndarray): bool ``[N]``, True = PIE.
        weights32 (np.ndarray): float32 ``[N, B]`` image multiplicities.
        n_bins (int): number of findings bins.

    Returns:
        tuple[np.ndarray, np.ndarray]: (mean difference float64 ``[B]``, NaN where a group
        is empty; ratio float64 ``[B, n_bins]``, NaN where the non-PIE prevalence is 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    pie = np.asarray(pie, dtype=bool)
    bins = np.minimum(counts, n_bins - 1).astype(np.int64)
    onehot = np.zeros((2 * n_bins + 4, counts.size), dtype=np.float32)
    onehot[bins + n_bins * (~pie), np.arange(counts.size)] = 1.0
    onehot[2 * n_bins] = pie
    onehot[2 * n_bins + 1] = ~pie
    onehot[2 * n_bins + 2] = counts * pie
    onehot[2 * n_bins + 3] = counts * ~pie
    s = group_sums(onehot, weights32)
    n_pie, n_non = s[2 * n_bins], s[2 * n_bins + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = s[2 * n_bins + 2] / n_pie - s[2 * n_bins + 3] / n_non
        prev_pie = s[:n_bins] / n_pie
        prev_non = s[n_bins:2 * n_bins] / n_non
        ratio = np.where(prev_non > 0, prev_pie / prev_non, np.nan)
    return np.where((n_pie > 0) & (n_non > 0), diff, np.nan), ratio.T


def class_ratio_reps(y, pie, weights32) -> np.ndarray:
    """PIE:non-PIE prevalence ratio per class and replicate (pie_stats.class_ratio).

    Prevalence is taken among the images labelled (not NaN) for the class.

    Args:
        y (np.ndarray): float ``[N, C]`` labels (0/1/NaN).
        pie (np.ndarray): bool ``[N]``, True = PIE.
        weights32 (np.ndarray): float32 ``[N, B]`` image multiplicities.

    Returns:
        np.ndarray: float64 ``[B, C]``; NaN where the non-PIE prevalence is 0 or a group
        has no labelled image.
    """
    y = np.asarray(y, dtype=np.float64)
    pie = np.asarray(pie, dtype=bool)[:, None]
    labelled, pos = ~np.isnan(y), y == 1
    cols = np.concatenate([pos & pie, labelled & pie, pos & ~pie, labelled & ~pie], axis=1).T
    s = group_sums(cols, weights32)                         # [4C, B]
    c = y.shape[1]
    pos_p, n_p, pos_n, n_n = s[:c], s[c:2 * c], s[2 * c:3 * c], s[3 * c:]
    with np.errstate(invalid="ignore", divide="ignore"):
        prev_p = np.where(n_p > 0, pos_p / n_p, np.nan)
        prev_n = np.where(n_n > 0, pos_n / n_n, np.nan)
        ratio = np.where(prev_n > 0, prev_p / prev_n, np.nan)
    return ratio.T


def mean_diff_reps(values, pie, weights32) -> np.ndarray:
    """Mean of `values` over PIEs − over non-PIEs, per replicate.

    Args:
        values (np.ndarray): float ``[N]``; NaN values are left out.
        pie (np.ndarray): bool ``[N]``, True = PIE.
        weights32 (np.ndarray): float32 ``[N, B]``, rows matching `values`.

    Returns:
        np.ndarray: float64 ``[B]``; NaN where a group is empty.
    """
    v = np.asarray(values, dtype=np.float64)
    pie = np.asarray(pie, dtype=bool)
    ok = np.isfinite(v)
    v0 = np.where(ok, v, 0.0)
    s = group_sums(np.stack([ok & pie, ok & ~pie, v0 * (ok & pie), v0 * (ok & ~pie)]),
                   weights32)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = s[2] / s[0] - s[3] / s[1]
    return np.where((s[0] > 0) & (s[1] > 0), out, np.nan)
