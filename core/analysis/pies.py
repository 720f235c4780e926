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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

THRESHOLD = 0.5


class SeedEnsemble:
    """The seed ensemble: the mean over seeds of the sigmoid outputs, summed in float64 in
    the order the seeds are added and divided by their number at the end.

    `analyze` adds each seed's block of every sparsity during its single pass over the
    predictions; the dashboard adds the chosen seeds' blocks at one sparsity
    (`seed_ensemble`). Same arithmetic, so over the same seeds both give the same bits.

    Example:
        >>> e = SeedEnsemble((2, 3))
        >>> e.add(np.ones((2, 3), np.float32)); e.add(np.zeros((2, 3), np.float32))
        >>> e.mean().tolist()
        [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """

    def __init__(self, shape: tuple[int, ...]):
        self.total = np.zeros(shape, dtype=np.float64)
        self.n_seeds = 0

    def add(self, probs, index=None) -> None:
        """Add one seed's probabilities; `index` (e.g. a sparsity index) adds a part of it.
        With `index`, call `seed_done()` once per seed after its last part."""
        if index is None:
            self.total += probs
            self.n_seeds += 1
        else:
            self.total[index] += probs

    def seed_done(self) -> None:
        self.n_seeds += 1

    def mean(self) -> np.ndarray:
        """float64, the sum divided by the number of seeds (in place: call once)."""
        self.total /= self.n_seeds
        return self.total


def seed_ensemble(blocks: Iterable[np.ndarray]) -> np.ndarray:
    """Mean over seeds of per-seed probability blocks (`SeedEnsemble`), float64.

    Args:
        blocks (Iterable[np.ndarray]): one float array per seed, all the same shape, e.g.
            ``[N, C]`` sigmoid outputs at one sparsity (``Stored.probabilities(k)``).

    Returns:
        np.ndarray: float64, the shape of one block.
    """
    ens = None
    for block in blocks:
        if ens is None:
            ens = SeedEnsemble(np.shape(block))
        ens.add(block)
    if ens is None:
        raise ValueError("an ensemble needs at least one seed")
    return ens.mean()


def rank_rows(a: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, ties averaged (scipy.stats.rankdata 'average').

    Args:
        a (np.ndarray): numeric, any shape.

    Returns:
        np.ndarray: float64, the shape of `a`.

    Example:
        >>> rank_rows(np.array([[3.0, 1.0, 3.0, 2.0]])).tolist()
        [[3.5, 1.0, 3.5, 2.0]]
    """
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
    """Spearman correlation of each row of x with the same row of y (ties averaged), as
    scipy.stats.spearmanr.

    Args:
        x (np.ndarray): float ``[..., C]``, e.g. the dense ensemble ``[N, C]``.
        y (np.ndarray): float, broadcastable to `x`, e.g. a pruned ensemble ``[N, C]``.

    Returns:
        np.ndarray: float64 ``[...]``; NaN for a constant row or a row containing NaN.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    return _spearman_from(_centred_ranks(x), _centred_ranks(y))


def ensemble_correlations(ensemble: np.ndarray) -> np.ndarray:
    """Per-image Spearman between the dense ensemble (index 0) and each sparsity's ensemble.

    Args:
        ensemble (np.ndarray): float ``[S, N, C]``, the seed ensemble at every sparsity.

    Returns:
        np.ndarray: float32 ``[S, N]`` (row 0 is dense vs dense), stored as
        analysis/pie_corr/<method>.npy.
    """
    ensemble = np.asarray(ensemble, dtype=np.float64)
    out = np.empty(ensemble.shape[:2], dtype=np.float32)
    dense = _centred_ranks(ensemble[0])           # ranked once, compared S times
    for s in range(ensemble.shape[0]):   # one sparsity at a time keeps temporaries small
        out[s] = _spearman_from(dense, _centred_ranks(ensemble[s]))
    return out


def cut_size(n_images: int, percentile: float) -> int:
    """The number of PIEs: ⌊p/100 · N⌋.

    The epsilon keeps e.g. 5% of 20 at exactly 1 despite binary floats.

    Args:
        n_images (int): N.
        percentile (float): p, in percent.

    Returns:
        int: the cut size.

    Example:
        >>> cut_size(20, 5.0), cut_size(39, 5.0)
        (1, 1)
    """
    return int(math.floor(percentile * n_images / 100.0 + 1e-9))


def select_bottom(corr, percentile: float = 5.0) -> np.ndarray:
    """The paper's PIEs: the n = ⌊p/100 · N⌋ images with the lowest finite correlation,
    ties broken by row order (see the module doc); NaN is never a PIE.

    Args:
        corr (array-like): float ``[N]``, one correlation per image.
        percentile (float): p, in (0, 100).

    Returns:
        np.ndarray: bool ``[N]``.

    Example:
        >>> select_bottom([0.9, 0.1, np.nan, 0.1, 0.5], 40).tolist()
        [False, True, False, True, False]
    """
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
    """How the PIE cut meets ties.

    n_tied_at_cut > n_tied_pies means images with the cut value are left out only by row
    order; the PIE count stays the paper's N.

    Args:
        corr (np.ndarray): float ``[N]`` per-image correlations.
        mask (np.ndarray): bool ``[N]`` PIE mask.

    Returns:
        dict: ``cut_value`` (the highest PIE correlation, None without PIEs),
        ``n_tied_at_cut`` (images with exactly that correlation) and ``n_tied_pies`` (those of
        them that are PIEs).

    Example:
        >>> cut_ties(np.array([0.1, 0.2, 0.2, 0.9]), np.array([True, True, False, False]))
        {'cut_value': 0.2, 'n_tied_at_cut': 2, 'n_tied_pies': 1}
    """
    corr = np.asarray(corr, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return {"cut_value": None, "n_tied_at_cut": 0, "n_tied_pies": 0}
    cut = float(corr[mask].max())
    tied = corr == cut
    return {"cut_value": cut, "n_tied_at_cut": int(tied.sum()),
            "n_tied_pies": int((tied & mask).sum())}


@dataclass
class PieCut:
    """The paper's PIEs at one sparsity and how the cut meets ties (`pie_cut`).

    Attributes:
        mask (np.ndarray): bool ``[N]``, the PIEs.
        cut_value (float | None): the highest PIE correlation (None without PIEs).
        n_tied_at_cut (int): images whose correlation equals the cut value.
        n_tied_pies (int): those of them that are PIEs (the first in row order).
    """

    mask: np.ndarray
    cut_value: float | None
    n_tied_at_cut: int
    n_tied_pies: int

    def ties(self) -> dict:
        """{cut_value, n_tied_at_cut, n_tied_pies}, as params.json's pies entry stores it."""
        return {"cut_value": self.cut_value, "n_tied_at_cut": self.n_tied_at_cut,
                "n_tied_pies": self.n_tied_pies}


def pie_cut(corr, percentile: float) -> PieCut:
    """The PIE cut with its ties: `select_bottom` and `cut_ties` in one call.

    Args:
        corr (np.ndarray): float ``[N]``, per-image dense-vs-pruned correlation at one
            sparsity (a row of pie_corr; NaN = undefined, never a PIE).
        percentile (float): PIEs are the bottom `percentile` % (paper: 5).

    Returns:
        PieCut: the mask and the tie counts.

    Example:
        >>> c = pie_cut(np.array([0.1, 0.3, 0.1, 0.9, np.nan, 0.5, 0.7, 0.8, 0.6, 0.2]), 20)
        >>> c.mask.nonzero()[0].tolist(), c.cut_value, c.n_tied_at_cut, c.n_tied_pies
        ([0, 2], 0.1, 2, 2)
    """
    mask = select_bottom(corr, percentile)
    return PieCut(mask, **cut_ties(corr, mask))


def tie_text(ties: dict) -> str:
    """`cut_ties` in words (the report and the PIEs page say the same).

    Args:
        ties (dict): the result of `cut_ties`.

    Returns:
        str: one sentence; "no PIEs, so no cut" without a cut value.
    """
    if ties.get("cut_value") is None:
        return "no PIEs, so no cut"
    return (f"cut at correlation {ties['cut_value']:.4g}: {ties['n_tied_at_cut']:,} image(s) "
            f"have exactly the cut value; {ties['n_tied_pies']:,} of them are PIEs (ties "
            "broken by row order, keeping the paper's count)")


def paper_pies(ensemble: np.ndarray, sparsities, pie_sparsity: int = 90,
               percentile: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """The paper's PIEs: bottom `percentile` % of images by ensemble correlation at one sparsity.

    Args:
        ensemble (np.ndarray): float ``[S, N, C]`` seed-ensemble predictions, index 0 = dense.
        sparsities (Sequence[int]): the grid, one per S.
        pie_sparsity (int): the sparsity that defines PIEs (paper: 90).
        percentile (float): percent of images that are PIEs (paper: 5).

    Returns:
        tuple[np.ndarray, np.ndarray]: (PIE mask bool ``[N]``, correlations ``[S, N]``).

    Raises:
        ValueError: when `pie_sparsity` is not in `sparsities`.
    """
    corr = ensemble_correlations(ensemble)
    i_pie = list(sparsities).index(pie_sparsity)
    return select_bottom(corr[i_pie], percentile), corr


def threshold_votes(predictions: np.ndarray, threshold: float = THRESHOLD) -> np.ndarray:
    """Number of seeds voting 1 per (…, class).

    Args:
        predictions (np.ndarray): float ``[seeds, ...]`` probabilities.
        threshold (float): a prediction >= threshold votes 1.

    Returns:
        np.ndarray: uint16 ``[...]``, `predictions`' shape without the seed axis.

    Example:
        >>> threshold_votes(np.array([[0.7, 0.2], [0.4, 0.6], [0.9, 0.1]])).tolist()
        [2, 1]
    """
    return (np.asarray(predictions) >= threshold).sum(axis=0, dtype=np.uint16)


def majority(votes: np.ndarray, n_seeds: int) -> np.ndarray:
    """Majority label: more than half of the seeds vote 1 (a tie counts as 0).

    Args:
        votes (np.ndarray): integer ``[...]`` votes (`threshold_votes`).
        n_seeds (int): seeds that voted.

    Returns:
        np.ndarray: bool, the shape of `votes`.

    Example:
        >>> majority(np.array([0, 1, 2]), 2).tolist()
        [False, False, True]
    """
    return 2 * np.asarray(votes, dtype=np.int64) > n_seeds


def population_pies(votes: np.ndarray, n_seeds: int) -> np.ndarray:
    """Population PIEs (after Hooker et al.): the majority-vote label vector at a sparsity
    differs from the dense one in any class.

    Args:
        votes (np.ndarray): uint ``[S, N, C]``, seeds whose output is ≥ 0.5.
        n_seeds (int): the number of seeds voting.

    Returns:
        np.ndarray: bool ``[S, N]`` (row 0 is all False).
    """
    maj = majority(votes, n_seeds)
    return (maj != maj[:1]).any(axis=-1)


def image_table(labels: pd.DataFrame, classes: Sequence[str], corr, pie_mask,
                ground_truth: Sequence[str] = ()) -> pd.DataFrame:
    """One row per evaluation image with its PIE score: the table behind the PIE list and
    the Browse gallery.

    Args:
        labels (pd.DataFrame): the evaluation labels in row order (``row``, ``id``, one
            column per class, ground-truth columns).
        classes (Sequence[str]): class order.
        corr (np.ndarray): float ``[N]``, the correlation at the chosen sparsity.
        pie_mask (np.ndarray): bool ``[N]``, the PIEs (`pie_cut(...).mask`).
        ground_truth (Sequence[str]): the ground-truth columns the dataset declares
            (`core.data.base.ground_truth_columns`), copied as they are.

    Returns:
        pd.DataFrame: ``row``, ``id``, ``corr``, ``pie``, ``n_findings`` (int,
        `core.data.stats.findings_per_image`), ``labels`` (text,
        `core.data.stats.labels_in_words`), then `ground_truth`; in row order.
    """
    from core.data.stats import findings_per_image, labels_in_words

    out = pd.DataFrame({
        "row": (labels["row"].to_numpy(dtype=np.int64) if "row" in labels
                else np.arange(len(labels), dtype=np.int64)),
        "id": labels["id"].astype(str).to_numpy(),
        "corr": np.asarray(corr, dtype=np.float64),
        "pie": np.asarray(pie_mask, dtype=bool),
        "n_findings": findings_per_image(labels, classes),
        "labels": labels_in_words(labels, classes),
    })
    for col in ground_truth:
        out[col] = labels[col].to_numpy()
    return out


def pie_list(table: pd.DataFrame, labels: pd.DataFrame, diseases: Sequence[str] = ()
             ) -> pd.DataFrame:
    """The PIEs of an `image_table`, lowest correlation first (ties in row order).

    Args:
        table (pd.DataFrame): an image table (``row``, ``id``, ``corr``, ``labels``,
            ``n_findings``, ``pie``, ground-truth columns).
        labels (pd.DataFrame): eval labels in row order (class columns, 1/0/NaN).
        diseases (Sequence[str]): keep only PIEs positive for any of these; empty = all PIEs.

    Returns:
        pd.DataFrame: ``row``, ``id``, ``corr``, ``labels``, ``n_findings`` (str bin "0" …
        "4+"), then the table's ground-truth columns.
    """
    from core.data.stats import FINDING_BINS, finding_bin

    keep = table["pie"].to_numpy(dtype=bool, copy=True)
    if len(diseases):
        keep &= (labels[list(diseases)].to_numpy(dtype=np.float64) == 1).any(axis=1)
    sub = table[keep].drop(columns="pie")
    sub = sub.assign(n_findings=np.asarray(FINDING_BINS, dtype=object)[
        finding_bin(sub["n_findings"].to_numpy())])
    first = ["row", "id", "corr", "labels", "n_findings"]
    sub = sub[first + [c for c in sub.columns if c not in first]]
    return sub.sort_values(["corr", "row"], kind="stable").reset_index(drop=True)


def read_pie_corr(root, method: str) -> np.ndarray | None:
    """The stored per-image correlations of one method (analysis/pie_corr/<method>.npy).

    Args:
        root (str | Path): the study folder.
        method (str): the method.

    Returns:
        np.ndarray | None: float32 ``[S, N]`` memory-mapped, or None when the study has none.
    """
    from core import store

    p = store.StudyPaths(root).pie_array(store.StudyPaths.PIE_CORR, method)
    return store.open_npy(p) if p.is_file() else None
