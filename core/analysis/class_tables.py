"""Per-class and class-pair tables from per-seed AP/AUC: the recipes behind forgetting.parquet,
class_summary.parquet, class_pairs.parquet and correlations.json.

`analyze` calls these over all of a study's seeds and writes the results; the dashboard
calls the same functions over the seeds a user chose (`metric_cube` turns the stored
`metrics/per_class.parquet` back into the per-seed arrays). So a page over all seeds shows
what `analyze` stored, and a page over a seed subset shows what `analyze` would have
stored for those seeds. Definitions: docs/definitions.md.

Inputs are per-seed arrays ``ap``/``auc`` float ``[seeds, S, C]`` (S sparsities of the grid,
index 0 dense; C classes in the study's order).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis.over_seeds import summarise_over_seeds

CURVE_COLUMNS = ["method", "class", "sparsity", "median", "q25", "q75", "n_seeds"]


def forgetting_table(method: str, sparsities: Sequence[int], classes: Sequence[str],
                     ap: np.ndarray, auc: np.ndarray) -> pd.DataFrame:
    """The rows of forgetting.parquet for one method: per (class, sparsity) the summary over
    seeds of AP, AUC and of their change relative to the same seed's dense model.

    Args:
        method (str): the pruning method (written into every row).
        sparsities (Sequence[int]): the grid, integer percent, starting with 0.
        classes (Sequence[str]): class order.
        ap (np.ndarray): float ``[seeds, S, C]`` per-seed AP.
        auc (np.ndarray): float ``[seeds, S, C]`` per-seed AUC.

    Returns:
        pd.DataFrame: ``method``, ``class``, ``sparsity``, ``ap_median``, ``ap_q25``,
        ``ap_q75``, ``auc_median``, ``rel_ap_median``, ``rel_ap_q25``, ``rel_ap_q75``,
        ``rel_auc_median``, ``n_seeds`` (seeds with a finite relative AP change); one row
        per (sparsity, class), sparsity-major.
    """
    ap_sum = summarise_over_seeds(ap)
    rel = fg.forgetting_curves(ap)
    rel_auc = fg.forgetting_curves(auc)
    auc_sum = summarise_over_seeds(auc)
    n_sparsities, n_classes = rel.median.shape
    i_sparsity, i_class = np.indices((n_sparsities, n_classes)).reshape(2, -1)
    return pd.DataFrame({
        "method": method, "class": np.asarray(classes, dtype=object)[i_class],
        "sparsity": np.asarray(sparsities, dtype=np.int64)[i_sparsity],
        "ap_median": ap_sum.median.ravel(), "ap_q25": ap_sum.q25.ravel(),
        "ap_q75": ap_sum.q75.ravel(), "auc_median": auc_sum.median.ravel(),
        "rel_ap_median": rel.median.ravel(), "rel_ap_q25": rel.q25.ravel(),
        "rel_ap_q75": rel.q75.ravel(), "rel_auc_median": rel_auc.median.ravel(),
        "n_seeds": rel.n_seeds.ravel().astype(np.int64),
    })


def class_curves(method: str, sparsities: Sequence[int], classes: Sequence[str],
                 per_seed: np.ndarray, relative: bool) -> pd.DataFrame:
    """One metric's curve per class in long form: its summary over seeds at each sparsity,
    or (``relative``) the summary of its per-seed change relative to the dense model.

    Args:
        method (str): the pruning method.
        sparsities (Sequence[int]): the grid, integer percent.
        classes (Sequence[str]): class order.
        per_seed (np.ndarray): float ``[seeds, S, C]``, e.g. AP.
        relative (bool): summarise (v_k − v_0) / v_0 per seed instead of v_k.

    Returns:
        pd.DataFrame: CURVE_COLUMNS, one row per (sparsity, class). Over all seeds and
        with AP, ``median``/``q25``/``q75`` equal forgetting.parquet's ``rel_ap_*``
        (relative) or ``ap_*`` columns.
    """
    fc = fg.forgetting_curves(per_seed) if relative else summarise_over_seeds(per_seed)
    sparsity_grid, class_grid = np.meshgrid(np.asarray(sparsities), np.arange(len(classes)),
                                            indexing="ij")
    return pd.DataFrame({
        "method": method, "class": np.asarray(classes, dtype=object)[class_grid.ravel()],
        "sparsity": sparsity_grid.ravel(), "median": fc.median.ravel(), "q25": fc.q25.ravel(),
        "q75": fc.q75.ravel(), "n_seeds": fc.n_seeds.ravel(),
    })


def eval_positives(y) -> np.ndarray:
    """Positives per class among the evaluation labels.

    Args:
        y (np.ndarray): ``[N, C]`` 1 / 0 / NaN.

    Returns:
        np.ndarray: int64 ``[C]``.

    Example:
        >>> eval_positives([[1, 0], [1, np.nan], [0, 1]]).tolist()
        [2, 1]
    """
    return (np.asarray(y, dtype=np.float64) == 1).sum(axis=0).astype(np.int64)


def class_summary(method: str, classes: Sequence[str], sparsities: Sequence[int],
                  ap: np.ndarray, auc: np.ndarray, train_pos, eval_pos, *,
                  drop_percent: float, at_sparsity: int) -> pd.DataFrame:
    """The rows of class_summary.parquet for one method.

    Args:
        method (str): the pruning method.
        classes (Sequence[str]): class order.
        sparsities (Sequence[int]): the grid, integer percent, starting with 0.
        ap (np.ndarray): float ``[seeds, S, C]`` per-seed AP.
        auc (np.ndarray): float ``[seeds, S, C]`` per-seed AUC.
        train_pos (array-like): train positives per class
            (`core.analysis.frequency.train_frequency`).
        eval_pos (array-like): int evaluation positives per class (`eval_positives`).
        drop_percent (float): the first-drop threshold in percent (paper: 20).
        at_sparsity (int): the sparsity of ``rel_ap_at`` (paper: 95).

    Returns:
        pd.DataFrame: ``method``, ``class``, ``class_index``, ``train_pos``,
        ``log_train_freq``, ``eval_pos``, ``ap_dense_median``, ``auc_dense_median``,
        ``first_drop`` (NaN = no drop), ``first_drop_status`` (drops | never |
        undefined), ``rel_ap_at``; one row per class.
    """
    rel = fg.forgetting_curves(ap).median
    ap_dense = summarise_over_seeds(ap).median[0]
    first = fg.first_drop_sparsity(rel, sparsities, drop_percent)
    return pd.DataFrame({
        "method": method, "class": list(classes), "class_index": np.arange(len(classes)),
        "train_pos": train_pos, "log_train_freq": fq.log_frequency(train_pos),
        "eval_pos": eval_pos,
        "ap_dense_median": ap_dense, "auc_dense_median": summarise_over_seeds(auc).median[0],
        "first_drop": first,
        "first_drop_status": fg.first_drop_status(first, ap_dense),
        "rel_ap_at": fg.rel_change_at(rel, sparsities, at_sparsity),
    })


def class_correlations(summary: pd.DataFrame) -> dict:
    """The class-level entries of correlations.json for one method's `class_summary`.

    First drop and relative AP change at the chosen sparsity, each against log train
    frequency (Pearson and Spearman, `core.analysis.frequency.correlate`), with the classes
    left out named and why (`frequency.class_exclusions`: an undefined AP is never
    reported as 'never drops').

    Args:
        summary (pd.DataFrame): `class_summary`'s table (or the same columns).

    Returns:
        dict: ``{"first_drop_vs_log_freq": {r, p_r, rho, p_rho, n, excluded},
        "rel_ap_at_vs_log_freq": {…}}``.
    """
    out = {}
    logf = summary["log_train_freq"].to_numpy()
    for name, col, why in (("first_drop_vs_log_freq", "first_drop", "never drops"),
                           ("rel_ap_at_vs_log_freq", "rel_ap_at", "undefined")):
        v = summary[col].to_numpy(dtype=np.float64)
        res = fq.correlate(v, logf)
        res["excluded"] = fq.class_exclusions(summary["class"], v, logf,
                                              summary["first_drop_status"],
                                              summary["eval_pos"], missing=why)
        out[name] = res
    return out


def pair_table(method: str, classes: Sequence[str], rel_median: np.ndarray,
               sparsities: Sequence[int], cooc, variant: str) -> pd.DataFrame:
    """The rows of class_pairs.parquet for one method and pair variant.

    Args:
        method (str): the pruning method.
        classes (Sequence[str]): class order.
        rel_median (np.ndarray): float ``[S, C]``, the forgetting curves (median over seeds of
            the relative AP change, `forgetting.forgetting_curves(ap).median`).
        sparsities (Sequence[int]): the grid; FCD uses every sparsity > 0.
        cooc (np.ndarray): ``[C, C]`` co-occurrence YᵀY of the evaluation labels.
        variant (str): "paper" or "plain" (`frequency.pair_statistics`).

    Returns:
        pd.DataFrame: ``method``, ``variant``, ``class_a``, ``class_b``, ``fcd``,
        ``freq_a``, ``freq_b``, ``log_freq_diff``, ``iou``, ``iou4``; one row per
        unordered pair a < b in class order.
    """
    positive = np.asarray(sparsities) > 0
    fcd = fq.fcd_matrix(np.asarray(rel_median)[positive])
    st = fq.pair_statistics(cooc, variant)
    a, b = st["a"], st["b"]
    return pd.DataFrame({
        "method": method, "variant": variant,
        "class_a": np.asarray(classes, dtype=object)[a],
        "class_b": np.asarray(classes, dtype=object)[b], "fcd": fcd[a, b],
        "freq_a": st["freq_a"], "freq_b": st["freq_b"],
        "log_freq_diff": st["log_freq_diff"], "iou": st["iou"], "iou4": st["iou4"],
    })


def pair_correlations(pairs: pd.DataFrame) -> dict:
    """FCD against |Δ log frequency| and against IoU^¼ over one variant's pairs.

    Args:
        pairs (pd.DataFrame): `pair_table`'s rows of one method and variant.

    Returns:
        dict: ``{"fcd_vs_log_freq_diff": {r, p_r, rho, p_rho, n, n_excluded},
        "fcd_vs_iou4": {…}}`` (``n_excluded``: pairs with a NaN). correlations.json
        stores them with the variant appended (``fcd_vs_iou4_paper``).
    """
    d = pairs["fcd"].to_numpy(dtype=np.float64)
    out = {}
    for key, col in (("fcd_vs_log_freq_diff", "log_freq_diff"), ("fcd_vs_iou4", "iou4")):
        res = fq.correlate(d, pairs[col].to_numpy(dtype=np.float64))
        res["n_excluded"] = int(d.size - res["n"])
        out[key] = res
    return out


def pair_regression(pairs: pd.DataFrame) -> dict:
    """regression.json's entry for one variant: OLS fcd ~ 1 + log_freq_diff + iou4.

    Args:
        pairs (pd.DataFrame): the pair table (columns `fcd`, `log_freq_diff`, `iou4`).

    Returns:
        dict: `core.analysis.frequency.ols`'s result for those columns.
    """
    return fq.ols(pairs["fcd"].to_numpy(dtype=np.float64),
                  np.column_stack([pairs["log_freq_diff"].to_numpy(dtype=np.float64),
                                   pairs["iou4"].to_numpy(dtype=np.float64)]),
                  ["log_freq_diff", "iou4"])
