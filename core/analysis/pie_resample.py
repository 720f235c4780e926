"""PIE sets under the bootstrap's seed draws, and the PIE statistics on them (F5–F7).

The paper's PIEs are a property of the seed ensemble (core.analysis.pies): the bottom p% of
images by the Spearman correlation, across classes, of the dense and the pruned ensemble at the
PIE sparsity. So an interval that resamples seeds must re-cut the PIEs in every replicate:

- replicate b draws the seeds of the analysis's one bootstrap plan (`uncertainty.Plan`,
  ``seed_draws[b]``, the draw F1–F4 use); a seed drawn m times counts m times, so the
  replicate's ensemble is Σ_k m_bk · p_k / K in float64 (products and partial sums of small
  integer multiples of one value are exact: identical seeds give exactly their common
  prediction, and then exactly the analysed PIE set);
- the per-image Spearman is computed from average ranks (ties averaged, NaN for a constant
  row or a row with NaN), the same exact arithmetic as `pies.rowwise_spearman`;
- the PIEs are re-cut over the N images by `pies.select_bottom`'s rule: ⌊p/100 · N⌋ lowest
  finite correlations, ties by row order, NaN never a PIE;
- the statistics then weigh every image by the replicate's image multiplicities
  (``Plan.weights[:, b]``), as the images-only intervals do, with the replicate's PIE set.

Speed (paper scale: 30 seeds × 21,081 images × 20 classes, B = 1,000): one numba kernel, images
in parallel, computes every replicate's two ensembles and their rank correlation for one image
while its K × C blocks stay in cache (no [B, N, C] ensemble is ever held); the cut is a
partition per replicate.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from core.analysis import pies

CHUNK = 128     # replicates per kernel call: [CHUNK, N] float64 correlations (22 MB at paper scale)


def seed_multiplicities(seed_draws, n_seeds: int) -> np.ndarray:
    """How often each seed is drawn in each replicate.

    Args:
        seed_draws (np.ndarray): int ``[B, K']`` seed indices per replicate
            (`uncertainty.Plan.seed_draws`).
        n_seeds (int): K, the study's seeds.

    Returns:
        np.ndarray: int64 ``[B, K]``; each row sums to K'.

    Raises:
        ValueError: when a draw is outside 0 … K − 1.

    Example:
        >>> seed_multiplicities(np.array([[0, 0, 2], [1, 2, 0]]), 3).tolist()
        [[2, 0, 1], [1, 1, 1]]
    """
    draws = np.asarray(seed_draws, dtype=np.int64)
    if draws.size and (draws.min() < 0 or draws.max() >= n_seeds):
        raise ValueError(f"seed draws outside 0 … {n_seeds - 1}")
    counts = np.zeros((draws.shape[0], n_seeds), dtype=np.int64)
    np.add.at(counts, (np.arange(draws.shape[0])[:, None], draws), 1)
    return counts


@njit(nogil=True, cache=True)
def _spearman_row(xr, yr, tx, ty):
    """Spearman of two rows from average ranks: 2·rank − C − 1 = #below + #at-or-below − C,
    exact half-integers as in pies.rowwise_spearman (the same bits); NaN for a constant row
    or a row with NaN. `tx`, `ty`: int32 scratch of length C."""
    c = xr.shape[0]
    tx[:] = 0
    ty[:] = 0
    bad = False
    for j in range(c):
        xj = xr[j]
        yj = yr[j]
        bad |= np.isnan(xj) | np.isnan(yj)
        for a in range(c):      # vectorised over a: the rank counts of every class at once
            tx[a] += np.int32(xj < xr[a]) + np.int32(xj <= xr[a])
            ty[a] += np.int32(yj < yr[a]) + np.int32(yj <= yr[a])
    num = 0.0
    sx = 0.0
    sy = 0.0
    for a in range(c):
        rx = 0.5 * (tx[a] - c)
        ry = 0.5 * (ty[a] - c)
        num += rx * ry
        sx += rx * rx
        sy += ry * ry
    den = np.sqrt(sx * sy)
    if bad or not den > 0:
        return np.nan
    return min(1.0, max(-1.0, num / den))


@njit(nogil=True, parallel=True, cache=True)
def _replicate_corr(dense, pruned, seeds, mult, n_drawn):
    """[R, N] correlations; dense/pruned float32 [N, K, C] (one image's K × C block stays in
    cache for all R replicates); replicate r sums mult[r, t] × seed seeds[r, t] for
    t < n_drawn[r], in seed order, in float64, then divides by the number of draws."""
    n, k, c = dense.shape
    r_count = seeds.shape[0]
    out = np.empty((r_count, n))
    for i in prange(n):
        ed = np.empty(c)
        ep = np.empty(c)
        tx = np.empty(c, np.int32)
        ty = np.empty(c, np.int32)
        bd = dense[i].astype(np.float64)        # converted once for all R replicates
        bp = pruned[i].astype(np.float64)
        for r in range(r_count):
            ed[:] = 0.0
            ep[:] = 0.0
            total = 0
            for t in range(n_drawn[r]):
                s = seeds[r, t]
                m = mult[r, t]
                total += m
                for j in range(c):
                    ed[j] += m * bd[s, j]
                    ep[j] += m * bp[s, j]
            for j in range(c):
                ed[j] /= total
                ep[j] /= total
            out[r, i] = _spearman_row(ed, ep, tx, ty)
    return out


def _check(dense, pruned):
    if np.ndim(dense) != 3 or np.shape(dense) != np.shape(pruned):
        raise ValueError(f"need dense and pruned probabilities [K, N, C] of one shape; got "
                         f"{np.shape(dense)} and {np.shape(pruned)}")


def _image_major(probs) -> np.ndarray:
    """[K, N, C] → float32 [N, K, C]: each image's seeds × classes block contiguous."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(probs, dtype=np.float32), 1, 0))


def _corr_chunk(dense_nkc, pruned_nkc, counts) -> np.ndarray:
    if (counts.sum(axis=1) <= 0).any():
        raise ValueError("every replicate must draw at least one seed")
    order = np.argsort(counts == 0, axis=1, kind="stable")     # drawn seeds first, in order
    seeds = np.ascontiguousarray(order, dtype=np.int64)
    mult = np.ascontiguousarray(np.take_along_axis(counts, order, axis=1), dtype=np.int64)
    n_drawn = (counts > 0).sum(axis=1).astype(np.int64)
    return _replicate_corr(dense_nkc, pruned_nkc, seeds, mult, n_drawn)


def replicate_correlations(dense, pruned, counts) -> np.ndarray:
    """Per-image Spearman of the dense vs the pruned ensemble of every replicate's seeds.

    A replicate's ensemble is Σ_k m_k · p_k / Σ_k m_k in float64, summed over the drawn seeds
    in seed order (products and partial sums of small integer multiples of one value are
    exact, so identical seeds give exactly their common prediction; all multiplicities 1
    give `pies.SeedEnsemble`'s sum). A NaN probability of a seed makes the image's
    correlation NaN in the replicates that draw that seed, and only in those.

    Args:
        dense (np.ndarray): float ``[K, N, C]`` each seed's dense probabilities.
        pruned (np.ndarray): float ``[K, N, C]`` each seed's probabilities at the PIE
            sparsity.
        counts (np.ndarray): int ``[B, K]`` seed multiplicities (`seed_multiplicities`).

    Returns:
        np.ndarray: float64 ``[B, N]``; NaN where an ensemble row is constant or has NaN.

    Raises:
        ValueError: when the shapes disagree or a replicate draws no seed.
    """
    _check(dense, pruned)
    k = np.shape(dense)[0]
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 2 or counts.shape[1] != k:
        raise ValueError(f"need counts [B, {k}], got {counts.shape}")
    return _corr_chunk(_image_major(dense), _image_major(pruned), counts)


def bottom_masks(corr_b, percentile: float) -> np.ndarray:
    """`pies.select_bottom` on every row: the ⌊p/100 · N⌋ lowest finite correlations, ties
    by row order, NaN never a PIE.

    Args:
        corr_b (np.ndarray): float ``[B, N]`` per-image correlations per replicate.
        percentile (float): p, in (0, 100).

    Returns:
        np.ndarray: bool ``[B, N]``.

    Raises:
        ValueError: when `percentile` is outside (0, 100) or `corr_b` is not 2-D.

    Example:
        >>> bottom_masks(np.array([[0.9, 0.1, np.nan, 0.1, 0.5]]), 40).tolist()
        [[False, True, False, True, False]]
    """
    corr_b = np.asarray(corr_b, dtype=np.float64)
    if corr_b.ndim != 2:
        raise ValueError(f"need [B, N] correlations, got shape {corr_b.shape}")
    if not 0 < percentile < 100:
        raise ValueError(f"percentile {percentile} outside (0, 100)")
    finite = np.isfinite(corr_b)
    n = pies.cut_size(corr_b.shape[1], percentile)
    mask = finite.copy()                      # rows with at most n finite: all of them
    full = finite.sum(axis=1) > n
    if n > 0 and full.any():
        vals = np.where(finite[full], corr_b[full], np.inf)
        kth = np.partition(vals, n - 1, axis=1)[:, n - 1:n]       # the n-th lowest
        below = vals < kth
        tied = vals == kth                    # first ones in row order fill the count
        need = n - below.sum(axis=1, keepdims=True)
        mask[full] = below | (tied & (np.cumsum(tied, axis=1) <= need))
    elif n == 0:
        mask[:] = False
    return mask


def replicate_pies(dense, pruned, seed_draws, percentile: float,
                   chunk: int = CHUNK) -> np.ndarray:
    """The PIE set of every bootstrap replicate: its seeds' ensembles, re-cut.

    Args:
        dense (np.ndarray): float ``[K, N, C]`` each seed's dense probabilities.
        pruned (np.ndarray): float ``[K, N, C]`` each seed's probabilities at the PIE
            sparsity.
        seed_draws (np.ndarray): int ``[B, K]`` the plan's seed draws.
        percentile (float): PIEs are the bottom `percentile` %.
        chunk (int): replicates per kernel call (bounds memory at ``chunk × N`` float64).

    Returns:
        np.ndarray: bool ``[N, B]`` (the layout of the plan's image weights).

    Raises:
        ValueError: as `seed_multiplicities`, `replicate_correlations`, `bottom_masks`.
    """
    _check(dense, pruned)
    k, n, c = np.shape(dense)
    counts = seed_multiplicities(seed_draws, k)
    dense_nkc, pruned_nkc = _image_major(dense), _image_major(pruned)
    step = max(1, int(chunk))
    out = np.empty((n, counts.shape[0]), dtype=bool)
    for start in range(0, counts.shape[0], step):
        part = counts[start:start + step]
        corr = _corr_chunk(dense_nkc, pruned_nkc, part)
        out[:, start:start + part.shape[0]] = bottom_masks(corr, percentile).T
    return out


# ----------------------------------------------------------------------------- statistics
PIES_AS_ANALYSED = "images (PIE set as analysed)"
PIES_ONE_SEED = "images (one seed: PIE set as analysed)"
PIES_RECUT = "images and seeds (PIEs re-cut from each replicate's seed ensemble)"


def interval_over(n_seeds: int, pie_reps) -> str:
    """What an F5–F7 interval resamples, in words (the paper check's ``interval_over``).

    Args:
        n_seeds (int): the study's seeds.
        pie_reps (np.ndarray | None): the replicate PIE sets, or None.

    Returns:
        str: `PIES_RECUT` with replicate PIE sets; `PIES_ONE_SEED` for a one-seed study;
        else `PIES_AS_ANALYSED`.

    Example:
        >>> interval_over(1, None) == PIES_ONE_SEED, interval_over(3, None) == PIES_AS_ANALYSED
        (True, True)
    """
    if pie_reps is not None:
        return PIES_RECUT
    return PIES_ONE_SEED if int(n_seeds) == 1 else PIES_AS_ANALYSED


def pie_weights(weights32, pie_reps) -> tuple[np.ndarray, np.ndarray] | None:
    """(PIE, non-PIE) image multiplicities of every replicate's own PIE set.

    Args:
        weights32 (np.ndarray | None): float32 ``[N, B]`` image multiplicities.
        pie_reps (np.ndarray | None): bool ``[N, B]`` replicate PIE sets.

    Returns:
        tuple[np.ndarray, np.ndarray] | None: `split_weights`, or None when either is None.

    Raises:
        ValueError: when the two shapes differ (not the same bootstrap plan).
    """
    if weights32 is None or pie_reps is None:
        return None
    if np.shape(pie_reps) != np.shape(weights32):
        raise ValueError(f"replicate PIE sets {np.shape(pie_reps)} do not match the image "
                         f"draws {np.shape(weights32)}: not the same bootstrap plan")
    return split_weights(pie_reps, weights32)


def split_weights(pie_b, weights32) -> tuple[np.ndarray, np.ndarray]:
    """Image multiplicities of each replicate's PIEs and non-PIEs.

    Args:
        pie_b (np.ndarray): bool ``[N, B]`` the replicate PIE sets (or ``[N]``: one set for
            every replicate).
        weights32 (np.ndarray): float32 ``[N, B]`` image multiplicities.

    Returns:
        tuple[np.ndarray, np.ndarray]: float32 ``[N, B]`` each (PIE, non-PIE); they add up to
        `weights32`.
    """
    w = np.asarray(weights32, dtype=np.float32)
    pie_b = np.asarray(pie_b, dtype=bool)
    if pie_b.ndim == 1:
        pie_b = pie_b[:, None]
    w_pie = np.where(pie_b, w, np.float32(0))
    return w_pie, w - w_pie


def _sums(columns, w) -> np.ndarray:
    return (np.asarray(columns, dtype=np.float32) @ w).astype(np.float64)


def findings_reps(counts, w_pie, w_non, n_bins: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Mean findings of PIEs − non-PIEs and the PIE:non-PIE ratio per findings bin, per replicate.

    The statistics of `paper_check_stats.findings_reps` with a PIE set per replicate.

    Args:
        counts (np.ndarray): ``[N]`` findings per image.
        w_pie (np.ndarray): float32 ``[N, B]`` PIE multiplicities (`split_weights`).
        w_non (np.ndarray): float32 ``[N, B]`` non-PIE multiplicities.
        n_bins (int): findings bins 0 … n_bins − 1 (the last = n_bins − 1 or more).

    Returns:
        tuple[np.ndarray, np.ndarray]: (difference float64 ``[B]``, NaN where a group is
        empty; ratio float64 ``[B, n_bins]``, NaN where the non-PIE prevalence is 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    bins = np.minimum(counts, n_bins - 1).astype(np.int64)
    cols = np.zeros((n_bins + 2, counts.size), dtype=np.float32)
    cols[bins, np.arange(counts.size)] = 1.0
    cols[n_bins] = 1.0
    cols[n_bins + 1] = counts
    sp, sn = _sums(cols, w_pie), _sums(cols, w_non)
    n_pie, n_non = sp[n_bins], sn[n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = sp[n_bins + 1] / n_pie - sn[n_bins + 1] / n_non
        prev_non = sn[:n_bins] / n_non
        ratio = np.where(prev_non > 0, (sp[:n_bins] / n_pie) / prev_non, np.nan)
    return np.where((n_pie > 0) & (n_non > 0), diff, np.nan), ratio.T


def class_ratio_reps(y, w_pie, w_non) -> np.ndarray:
    """PIE:non-PIE prevalence ratio per class and replicate (`pie_stats.class_ratio`).

    Args:
        y (np.ndarray): float ``[N, C]`` labels (0/1/NaN); prevalence among the labelled.
        w_pie (np.ndarray): float32 ``[N, B]`` PIE multiplicities.
        w_non (np.ndarray): float32 ``[N, B]`` non-PIE multiplicities.

    Returns:
        np.ndarray: float64 ``[B, C]``; NaN where the non-PIE prevalence is 0 or a group has
        no labelled image.
    """
    y = np.asarray(y, dtype=np.float64)
    cols = np.concatenate([y == 1, ~np.isnan(y)], axis=1).T
    c = y.shape[1]
    sp, sn = _sums(cols, w_pie), _sums(cols, w_non)
    with np.errstate(invalid="ignore", divide="ignore"):
        prev_p = np.where(sp[c:] > 0, sp[:c] / sp[c:], np.nan)
        prev_n = np.where(sn[c:] > 0, sn[:c] / sn[c:], np.nan)
        ratio = np.where(prev_n > 0, prev_p / prev_n, np.nan)
    return ratio.T


def mean_diff_reps(values, w_pie, w_non) -> np.ndarray:
    """Mean of `values` over PIEs − over non-PIEs, per replicate; NaN values left out.

    Args:
        values (np.ndarray): float ``[N]``.
        w_pie (np.ndarray): float32 ``[N, B]`` PIE multiplicities, rows matching `values`.
        w_non (np.ndarray): float32 ``[N, B]`` non-PIE multiplicities.

    Returns:
        np.ndarray: float64 ``[B]``; NaN where a group is empty.
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    cols = np.stack([ok, np.where(ok, v, 0.0)])
    sp, sn = _sums(cols, w_pie), _sums(cols, w_non)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sp[1] / sp[0] - sn[1] / sn[0]
    return np.where((sp[0] > 0) & (sn[0] > 0), out, np.nan)
