"""Bootstrap confidence intervals for the forgetting analysis (percentile method).

Design (what is resampled, and why):
- Level 1, images: each replicate b draws the N evaluation images with replacement
  (`bootstrap.resample_counts`). The SAME draw is used for every sparsity, class, subgroup,
  seed and method, so a relative change (AP_k − AP_0) / AP_0 is computed on paired data and its
  interval reflects how much the change itself varies, not the two APs separately.
- Level 2, seeds (when there are several): replicate b also draws K seeds with replacement
  from the K trained seeds; its statistic is the median over the drawn seeds (with
  multiplicity) of the per-seed values under image draw b — the same "median over seeds" the
  point estimates use. Only seeds drawn in b need their APs under draw b, so each seed is
  evaluated on the ~63% of replicates that drew it.
- Interval: the 2.5th and 97.5th percentiles of the B replicate statistics (numpy's default
  linear interpolation), NaN replicates (e.g. a resample without positives) left out and
  counted. Sparsity-valued statistics (first drop) use the "inverted_cdf" percentile so a bound
  is a grid sparsity; "never drops" ranks above every sparsity.
- Point estimates are the statistics of the data as observed (all weights 1), i.e. the values
  of analysis/forgetting.parquet and class_summary.parquet.
- "First significant drop" of a class: the smallest sparsity > 0 whose upper bound of the
  relative AP change is below −drop_percent/100 (the drop is beyond chance at that level).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from core.analysis import bootstrap
from core.analysis import forgetting as fg
from core.analysis.over_seeds import median_over_seeds

DEFAULT_N_BOOT = 1000
DEFAULT_LEVEL = 0.95


@dataclass
class Plan:
    """The resampling shared by every statistic of one analysis run."""

    weights: np.ndarray      # uint8 [N, B] image multiplicities
    seed_draws: np.ndarray   # int64 [B, K] indices into the study's seeds
    rng_seed: int
    level: float = DEFAULT_LEVEL

    @property
    def n_boot(self) -> int:
        return int(self.weights.shape[1])

    def replicates_of(self, seed_index: int) -> np.ndarray:
        """Replicates whose seed draw contains this seed (the only ones that need it)."""
        return np.flatnonzero((self.seed_draws == seed_index).any(axis=1))


def make_plan(n_images: int, n_seeds: int, n_boot: int = DEFAULT_N_BOOT, rng_seed: int = 0,
              level: float = DEFAULT_LEVEL) -> Plan:
    """The resampling plan shared by every statistic of one analysis run.

    Args:
        n_images (int): N, evaluation images.
        n_seeds (int): K, the study's seeds (1 = no seed level).
        n_boot (int): B, replicates.
        rng_seed (int): seed of numpy's default_rng (the same plan for the same seed).
        level (float): interval level in (0, 1).

    Returns:
        Plan: ``weights`` uint8 ``[N, B]`` image multiplicities and ``seed_draws`` int64
        ``[B, K]`` (``[B, 1]`` of zeros with one seed).

    Raises:
        ValueError: when `level` is not in (0, 1).

    Example:
        >>> plan = make_plan(5, 3, n_boot=4)
        >>> plan.weights.shape, plan.seed_draws.shape, int(plan.weights.sum(axis=0)[0])
        ((5, 4), (4, 3), 5)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(rng_seed)
    weights = bootstrap.resample_counts(n_images, n_boot, rng)
    if n_seeds > 1:
        draws = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    else:
        draws = np.zeros((n_boot, 1), dtype=np.int64)
    return Plan(weights, draws.astype(np.int64), rng_seed, level)


def seed_replicates(scores, codes, plan: Plan, seed_index: int) -> tuple[np.ndarray, np.ndarray]:
    """AP of one seed, as observed and under every replicate that drew the seed.

    The point estimate is computed in the same call with one extra all-ones weight column.

    Args:
        scores (np.ndarray): float ``[S, N, C]`` that seed's scores.
        codes (np.ndarray): ``[Q, N, C]`` label codes (1/0/2, see bootstrap.weighted_ap).
        plan (Plan): the shared plan.
        seed_index (int): the seed's index among the study's seeds.

    Returns:
        tuple[np.ndarray, np.ndarray]: (point ``[S, Q, C]``, replicates float32
        ``[S, Q, C, B]``, NaN in replicates that did not draw this seed).
    """
    idx = plan.replicates_of(seed_index)
    n = plan.weights.shape[0]
    w = np.concatenate([plan.weights[:, idx], np.ones((n, 1), dtype=np.uint8)], axis=1)
    ap = bootstrap.weighted_ap(scores, codes, w)
    reps = np.full(ap.shape[:-1] + (plan.n_boot,), np.nan, dtype=np.float32)
    reps[..., idx] = ap[..., :-1]
    return ap[..., -1], reps


def _nanmean(a, axis):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def nan_percentiles(a, qs, axis: int = 0) -> list[np.ndarray]:
    """np.nanpercentile(a, q, axis, method="linear") for each q in `qs`, by one sort.

    The same interpolation (position (n − 1)·q/100 among the n finite values); numpy's
    version loops in Python over every slice that holds a NaN.

    Args:
        a (np.ndarray): float, any shape.
        qs (Sequence[float]): percentiles in [0, 100].
        axis (int): the axis reduced.

    Returns:
        list[np.ndarray]: one float64 array per q, `a`'s shape without `axis`; NaN where a
        slice has no finite value.

    Example:
        >>> [v.tolist() for v in nan_percentiles(np.array([1.0, np.nan, 3.0, 2.0]), [25, 50])]
        [1.5, 2.0]
    """
    s = np.sort(np.moveaxis(np.asarray(a, dtype=np.float64), axis, 0), axis=0)
    n = np.isfinite(s).sum(axis=0)
    out = []
    for q in qs:
        h = (np.maximum(n, 1) - 1) * (q / 100.0)
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        a_lo = np.take_along_axis(s, lo[None], axis=0)[0]
        a_hi = np.take_along_axis(s, hi[None], axis=0)[0]
        with np.errstate(invalid="ignore"):
            v = a_lo + (h - lo) * (a_hi - a_lo)
        out.append(np.where(n > 0, v, np.nan))
    return out


def over_drawn_seeds(per_seed: np.ndarray, plan: Plan) -> np.ndarray:
    """Median over each replicate's drawn seeds (with multiplicity).

    Args:
        per_seed (np.ndarray): float ``[K, ..., B]`` per-seed replicate values.
        plan (Plan): gives the seed draws ``[B, K]``.

    Returns:
        np.ndarray: float64 ``[B, ...]`` (with K = 1, the one seed's values).
    """
    n_seeds = per_seed.shape[0]
    moved = np.moveaxis(per_seed, -1, 0)                  # [B, K, ...]
    if n_seeds == 1:
        return moved[:, 0].astype(np.float64)
    b = np.arange(plan.n_boot)[:, None]
    return median_over_seeds(moved[b, plan.seed_draws], axis=1)   # [B, K_drawn, ...] → [B, ...]


def relative(values: np.ndarray, sparsity_axis: int) -> np.ndarray:
    """(v_k − v_0) / v_0 along `sparsity_axis`, as forgetting.relative_change does.

    Args:
        values (np.ndarray): float, any shape; index 0 on `sparsity_axis` = dense.
        sparsity_axis (int): the sparsity axis.

    Returns:
        np.ndarray: float64, the shape of `values`; NaN where undefined.
    """
    moved = np.moveaxis(np.asarray(values, dtype=np.float64), sparsity_axis, -2)
    return np.moveaxis(fg.relative_change(moved), -2, sparsity_axis)


def interval(samples: np.ndarray, level: float = DEFAULT_LEVEL, axis: int = 0
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Percentile bounds over `axis`, NaN-aware (linear interpolation, as numpy).

    Args:
        samples (np.ndarray): float replicate values, replicates on `axis`.
        level (float): interval level, e.g. 0.95 → 2.5th and 97.5th percentiles.
        axis (int): the replicate axis.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (lower, upper, number of finite
        replicates), each `samples`' shape without `axis`.

    Example:
        >>> lo, hi, n = interval(np.array([1.0, 2.0, 3.0, np.nan]), level=0.5)
        >>> float(lo), float(hi), int(n)
        (1.5, 2.5, 3)
    """
    tail = (1 - level) / 2 * 100
    finite = np.isfinite(samples).sum(axis=axis)
    lo, hi = nan_percentiles(samples, [tail, 100 - tail], axis=axis)
    return lo, hi, finite


def sparsity_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of a first-drop sparsity over replicates (axis 0); NaN = never drops.

    "Never" ranks above every sparsity, so an upper bound of NaN means the drop may not
    happen within the grid at this level. Percentiles by "inverted_cdf", so a bound is a
    grid sparsity.

    Args:
        samples (np.ndarray): float ``[B, ...]`` first-drop sparsities, NaN = never.
        level (float): interval level.

    Returns:
        tuple[np.ndarray, np.ndarray]: (lower, upper), `samples`' shape without axis 0.
    """
    tail = (1 - level) / 2 * 100
    ranked = np.where(np.isnan(samples), np.inf, samples)
    lo, hi = np.percentile(ranked, [tail, 100 - tail], axis=0, method="inverted_cdf")
    return np.where(np.isinf(lo), np.nan, lo), np.where(np.isinf(hi), np.nan, hi)


def first_significant_drop(rel_upper: np.ndarray, sparsities, drop_percent: float = 20
                           ) -> np.ndarray:
    """Smallest sparsity > 0 whose upper CI bound of relative change is below −drop_percent/100.

    Args:
        rel_upper (np.ndarray): float ``[S, C]`` upper bounds of the relative AP change.
        sparsities (Sequence[int]): the grid, one per row.
        drop_percent (float): k (paper: 20).

    Returns:
        np.ndarray: float ``[C]``, a sparsity or NaN = no significant drop.

    Raises:
        ValueError: when the rows and the grid differ in length.
    """
    return fg.first_drop_sparsity(rel_upper, sparsities, drop_percent)


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r per row over the columns where both are finite; NaN as fq.correlate gives
    it (fewer than 3 points or a constant variable)."""
    ok = np.isfinite(x) & np.isfinite(y)
    n = ok.sum(axis=1)
    x0, y0 = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = x0.sum(axis=1, keepdims=True) / n[:, None]
        my = y0.sum(axis=1, keepdims=True) / n[:, None]
        dx, dy = np.where(ok, x - mx, 0.0), np.where(ok, y - my, 0.0)
        sxx, syy = (dx * dx).sum(axis=1), (dy * dy).sum(axis=1)
        r = (dx * dy).sum(axis=1) / np.sqrt(sxx * syy)
    # A variable constant over the points (ptp 0) has no correlation (as fq.correlate).
    span_x = np.where(ok, x, -np.inf).max(axis=1) - np.where(ok, x, np.inf).min(axis=1)
    span_y = np.where(ok, y, -np.inf).max(axis=1) - np.where(ok, y, np.inf).min(axis=1)
    bad = (n < 3) | ~(span_x > 0) | ~(span_y > 0)
    return np.where(bad, np.nan, np.clip(r, -1.0, 1.0))


def correlation_replicates(first_drop_b: np.ndarray, rel_at_b: np.ndarray, log_freq
                           ) -> dict[str, np.ndarray]:
    """Pearson r and Spearman ρ with ln frequency per replicate, over the classes finite in it.

    Equal to fq.correlate row by row (tested), vectorised: Spearman is Pearson on average
    ranks of the kept points.

    Args:
        first_drop_b (np.ndarray): float ``[B, C]`` first-drop sparsity per replicate.
        rel_at_b (np.ndarray): float ``[B, C]`` relative AP change at the fixed sparsity.
        log_freq (np.ndarray): float ``[C]`` ln train positives.

    Returns:
        dict[str, np.ndarray]: ``first_drop_vs_log_freq.r``/``.rho`` and
        ``rel_ap_at_vs_log_freq.r``/``.rho``, float64 ``[B]`` each.
    """
    from scipy.stats import rankdata

    out = {}
    lf = np.asarray(log_freq, dtype=np.float64)
    for name, values in (("first_drop_vs_log_freq", first_drop_b),
                         ("rel_ap_at_vs_log_freq", rel_at_b)):
        v = np.asarray(values, dtype=np.float64)
        y = np.broadcast_to(lf, v.shape)
        ok = np.isfinite(v) & np.isfinite(y)
        xv, yv = np.where(ok, v, np.nan), np.where(ok, y, np.nan)
        out[f"{name}.r"] = _rowwise_pearson(xv, yv)
        rx = rankdata(xv, axis=1, nan_policy="omit")
        ry = rankdata(yv, axis=1, nan_policy="omit")
        out[f"{name}.rho"] = _rowwise_pearson(rx, ry)
    return out


@dataclass
class MethodCI:
    """Point estimates and replicate statistics of one method (all images, Q index 0)."""

    ap: np.ndarray            # [S, C] median over seeds
    ap_reps: np.ndarray       # [B, S, C]
    rel: np.ndarray           # [S, C]
    rel_reps: np.ndarray      # [B, S, C]
    map: np.ndarray           # [S]
    map_reps: np.ndarray      # [B, S]


def summarise_method(points: np.ndarray, reps: np.ndarray, plan: Plan) -> MethodCI:
    """Point estimates and replicate statistics of one method: medians over (drawn) seeds.

    Args:
        points (np.ndarray): float ``[K, S, C]`` per-seed AP.
        reps (np.ndarray): float ``[K, S, C, B]`` per-seed replicate AP (NaN = not drawn).
        plan (Plan): the shared plan.

    Returns:
        MethodCI: AP and relative change ``[S, C]`` / ``[B, S, C]``, mAP ``[S]`` / ``[B, S]``.
    """
    rel_seed = relative(points, 1)                          # [K, S, C]
    rel_reps_seed = relative(reps, 1)                       # [K, S, C, B]
    map_seed = _nanmean(points, axis=2)                     # [K, S]
    map_reps_seed = _nanmean(reps, axis=2)                  # [K, S, B]
    return MethodCI(
        ap=median_over_seeds(points, 0), ap_reps=over_drawn_seeds(reps, plan),
        rel=median_over_seeds(rel_seed, 0), rel_reps=over_drawn_seeds(rel_reps_seed, plan),
        map=median_over_seeds(map_seed, 0), map_reps=over_drawn_seeds(map_reps_seed, plan))
