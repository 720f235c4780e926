"""The summary over seeds: median, quartiles and count of a per-seed value.

Every "median over seeds" the project shows or stores is computed here, on arrays
(`summarise_over_seeds`) or on a per-seed table (`summary_table`, which pivots the table
into an array and calls the former), so a stored table, the report and the dashboard's
table over a seed subset cannot disagree on how the median, the quartiles (linear
interpolation, as `numpy.nanpercentile`) or the count of finite values are made.
NaN values (a class without positives, a seed without the row) are left out per cell.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class SeedSummary:
    """Median and interquartile range over seeds, each shaped like one seed's values
    (e.g. ``[S, C]``, sparsity × class), and the number of seeds with a finite value.

    Attributes:
        median (np.ndarray): float64, NaN where no seed has a finite value.
        q25 (np.ndarray): float64 first quartile.
        q75 (np.ndarray): float64 third quartile.
        n_seeds (np.ndarray): int, seeds with a finite value.
    """

    median: np.ndarray
    q25: np.ndarray
    q75: np.ndarray
    n_seeds: np.ndarray


def summarise_over_seeds(per_seed) -> SeedSummary:
    """Median and quartiles over the first (seed) axis, NaN-aware.

    Args:
        per_seed (np.ndarray): float ``[seeds, ...]``, e.g. AP ``[seeds, S, C]``.

    Returns:
        SeedSummary: arrays shaped ``per_seed.shape[1:]``.

    Example:
        >>> s = summarise_over_seeds([[0.2, np.nan], [0.4, 0.5], [0.9, np.nan]])
        >>> s.median.tolist(), s.q25.tolist(), s.n_seeds.tolist()
        ([0.4, 0.5], [0.30000000000000004, 0.5], [3, 1])
    """
    per_seed = np.asarray(per_seed, dtype=np.float64)
    with warnings.catch_warnings():
        # All-NaN columns (a class without positives) are expected: they stay NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        q25, median, q75 = np.nanpercentile(per_seed, [25, 50, 75], axis=0)
    return SeedSummary(median, q25, q75, np.isfinite(per_seed).sum(axis=0))


def median_over_seeds(per_seed, axis: int = 0) -> np.ndarray:
    """NaN-aware median along the seed axis, by one sort (all-NaN → NaN, no warning).

    The median `summarise_over_seeds` reports, without the quartiles, up to the last bit
    ((lo + hi) / 2 here; numpy's percentile interpolates hi − (hi − lo) / 2; each keeps its
    own so stored tables do not change), fast on the bootstrap's
    ``[B, K, S, C]`` replicate arrays: numpy's nanmedian goes through masked arrays for small
    axes and measured ~10× slower there. NaN sorts last, so the median of the n finite values
    sits at positions (n − 1) // 2 and n // 2.

    Args:
        per_seed (np.ndarray): float values with seeds along `axis`.
        axis (int): the seed axis.

    Returns:
        np.ndarray: float64, `per_seed`'s shape without `axis`.

    Example:
        >>> median_over_seeds([[0.2, np.nan], [0.4, 0.5], [0.9, np.nan]]).tolist()
        [0.4, 0.5]
    """
    s = np.sort(np.moveaxis(np.asarray(per_seed, dtype=np.float64), axis, -1), axis=-1)
    n = np.isfinite(s).sum(axis=-1, keepdims=True)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0), axis=-1)
    hi = np.take_along_axis(s, np.maximum(n // 2, 0), axis=-1)
    with np.errstate(invalid="ignore"):
        return np.where(n > 0, (lo + hi) / 2, np.nan)[..., 0]


def metric_cube(per_class: pd.DataFrame, method: str, seeds: Sequence[int],
                sparsities: Sequence[int], classes: Sequence[str], metric: str = "ap"
                ) -> np.ndarray:
    """One metric of `metrics/per_class.parquet` as an array for the chosen seeds.

    Args:
        per_class (pd.DataFrame): rows (method, seed, sparsity, class, ap, auc, …).
        method (str): the pruning method.
        seeds (Sequence[int]): the seeds, in the order of the first axis.
        sparsities (Sequence[int]): the sparsity grid (integer percent), second axis.
        classes (Sequence[str]): the class order, third axis.
        metric (str): the column, "ap" or "auc".

    Returns:
        np.ndarray: float64 ``[len(seeds), len(sparsities), len(classes)]``, NaN where the
        table has no row (e.g. a seed the study lacks).
    """
    out = np.full((len(seeds), len(sparsities), len(classes)), np.nan)
    df = per_class[(per_class["method"] == method) & per_class["seed"].isin(list(seeds))]
    si = pd.Index(list(seeds)).get_indexer(df["seed"])
    ki = pd.Index(list(sparsities)).get_indexer(df["sparsity"])
    ci = pd.Index(list(classes)).get_indexer(df["class"])
    ok = (si >= 0) & (ki >= 0) & (ci >= 0)
    out[si[ok], ki[ok], ci[ok]] = df[metric].to_numpy(dtype=np.float64)[ok]
    return out


def summary_table(table: pd.DataFrame, value: str, keys: Sequence[str],
                  seeds: Sequence[int] | None = None, *, sort: bool = False,
                  extremes: bool = False) -> pd.DataFrame:
    """The summary over seeds of one column of a per-seed table (overall.parquet,
    missed.parquet, calibration.parquet: one row per seed and key).

    Args:
        table (pd.DataFrame): has a ``seed`` column, the `keys` columns and `value`.
        value (str): the column to summarise.
        keys (Sequence[str]): the columns that name one cell, e.g. ("method", "sparsity").
        seeds (Sequence[int] | None): the seeds to summarise over (None = all in `table`).
        sort (bool): cells sorted by `keys` (True) or in order of first appearance.
        extremes (bool): add ``min`` and ``max`` over the seeds.

    Returns:
        pd.DataFrame: `keys`, ``median``, ``q25``, ``q75`` (, ``min``, ``max``),
        ``n_seeds`` (seeds with a finite value), one row per cell.

    Example:
        >>> t = pd.DataFrame({"seed": [0, 1, 0, 1], "k": [0, 0, 5, 5],
        ...                   "map": [0.8, 0.6, 0.5, np.nan]})
        >>> summary_table(t, "map", ["k"])[["k", "median", "n_seeds"]].values.tolist()
        [[0.0, 0.7, 2.0], [5.0, 0.5, 1.0]]
    """
    keys = list(keys)
    df = table if seeds is None else table[table["seed"].isin(list(seeds))]
    cells = df.groupby(keys, sort=sort).ngroup().to_numpy()
    seed_ids = pd.Index(sorted(pd.unique(df["seed"])))
    n_cells = int(cells.max()) + 1 if len(cells) else 0
    cube = np.full((len(seed_ids), n_cells), np.nan)
    cube[seed_ids.get_indexer(df["seed"]), cells] = df[value].to_numpy(dtype=np.float64)
    s = summarise_over_seeds(cube) if len(seed_ids) else SeedSummary(*[np.empty(0)] * 4)
    labels = df[keys].groupby(cells, sort=True).first().reset_index(drop=True)
    out = labels.assign(median=s.median, q25=s.q25, q75=s.q75)
    if extremes:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = out.assign(min=np.nanmin(cube, axis=0) if n_cells else [],
                             max=np.nanmax(cube, axis=0) if n_cells else [])
    return out.assign(n_seeds=np.asarray(s.n_seeds, dtype=np.int64))
