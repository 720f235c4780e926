"""Display tables derived from the study store under the current filters. Pure pandas/numpy.

The analysis tables in a study are computed over all seeds at the study's parameters. The
dashboard lets a user narrow the seeds or move the chosen sparsity, so it re-derives the
small per-class tables from `metrics/per_class.parquet` with the *same* functions the
analysis uses (`core.analysis.forgetting`, `.frequency`, `.pies`, `.pie_stats`); nothing
here re-implements a definition. With all seeds and the study's parameters the results
equal the stored analysis tables (tested).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.analysis.forgetting import (
    first_drop_sparsity,
    first_drop_status,
    first_drop_text,
    forgetting_curves,
    rel_change_at,
    summarise_over_seeds,
)
from core.analysis.frequency import (
    class_exclusions,
    correlate,
    fcd_matrix,
    log_frequency,
    pair_statistics,
)
from core.analysis.pie_stats import finding_bin, n_findings


def ap_cube(per_class: pd.DataFrame, method: str, seeds: Sequence[int],
            sparsities: Sequence[int], classes: Sequence[str], metric: str = "ap") -> np.ndarray:
    """float64 [len(seeds), len(sparsities), len(classes)] of one metric; NaN where absent."""
    out = np.full((len(seeds), len(sparsities), len(classes)), np.nan)
    df = per_class[(per_class["method"] == method) & per_class["seed"].isin(list(seeds))]
    si = pd.Index(list(seeds)).get_indexer(df["seed"])
    ki = pd.Index(list(sparsities)).get_indexer(df["sparsity"])
    ci = pd.Index(list(classes)).get_indexer(df["class"])
    ok = (si >= 0) & (ki >= 0) & (ci >= 0)
    out[si[ok], ki[ok], ci[ok]] = df[metric].to_numpy(dtype=np.float64)[ok]
    return out


def metric_summary(overall: pd.DataFrame, methods: Sequence[str], seeds: Sequence[int],
                   metric: str) -> pd.DataFrame:
    """method, sparsity, median, q25, q75, min, max, n_seeds of `metric` (map | mauc)."""
    df = overall[overall["method"].isin(list(methods)) & overall["seed"].isin(list(seeds))]
    g = df.groupby(["method", "sparsity"], sort=True)[metric]
    out = pd.DataFrame({
        "median": g.median(), "q25": g.quantile(0.25), "q75": g.quantile(0.75),
        "min": g.min(), "max": g.max(), "n_seeds": g.count(),
    }).reset_index()
    out.insert(2, "metric", metric)
    return out


def class_curves(per_class: pd.DataFrame, methods: Sequence[str], seeds: Sequence[int],
                 sparsities: Sequence[int], classes: Sequence[str], relative: bool,
                 metric: str = "ap") -> pd.DataFrame:
    """method, class, sparsity, median, q25, q75, n_seeds — the median over seeds of the
    metric (or of its relative change to the same seed's dense model) with its IQR."""
    frames = []
    for m in methods:
        cube = ap_cube(per_class, m, seeds, sparsities, classes, metric)
        fc = forgetting_curves(cube) if relative else summarise_over_seeds(cube)
        k, c = np.meshgrid(np.asarray(sparsities), np.arange(len(classes)), indexing="ij")
        frames.append(pd.DataFrame({
            "method": m, "class": np.asarray(classes, dtype=object)[c.ravel()],
            "sparsity": k.ravel(), "median": fc.median.ravel(), "q25": fc.q25.ravel(),
            "q75": fc.q75.ravel(), "n_seeds": fc.n_seeds.ravel(),
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["method", "class", "sparsity", "median", "q25", "q75", "n_seeds"])


def class_summary(per_class: pd.DataFrame, train_pos: Sequence[float], method: str,
                  seeds: Sequence[int], sparsities: Sequence[int], classes: Sequence[str],
                  drop_percent: float, at: int) -> pd.DataFrame:
    """class, train_pos, log_train_freq, eval_pos, ap_dense_median, first_drop (NaN = no
    drop), first_drop_status (drops | never | undefined: AP undefined, e.g. no positive in
    the evaluation split), first_drop_text (what to show), rel_ap_at (median relative AP
    change at sparsity `at`) for one method. `train_pos` comes from StudyData.train_pos()
    (core.analysis.frequency.train_frequency)."""
    cube = ap_cube(per_class, method, seeds, sparsities, classes)
    fc = forgetting_curves(cube)
    dense = summarise_over_seeds(cube[:, :1, :]).median[0]
    first = first_drop_sparsity(fc.median, sparsities, drop_percent)
    status = first_drop_status(first, dense)
    rows = per_class[per_class["method"] == method]
    eval_pos = (rows.groupby("class")["n_pos"].max().reindex(list(classes))
                .to_numpy(dtype=np.float64))   # n_pos is a property of the labels
    return pd.DataFrame({
        "class": list(classes), "train_pos": np.asarray(train_pos, dtype=np.float64),
        "log_train_freq": log_frequency(train_pos), "eval_pos": eval_pos,
        "ap_dense_median": dense, "first_drop": first, "first_drop_status": status,
        "first_drop_text": first_drop_text(status, first, eval_pos),
        "rel_ap_at": rel_change_at(fc.median, sparsities, at),
    })


def frequency_relations(summary: pd.DataFrame) -> dict:
    """Pearson/Spearman of log train frequency with first drop and with rel. change at k;
    `excluded`: {class: reason} as in correlations.json (core.analysis.frequency)."""
    out = {}
    for key, col, why in (("first_drop", "first_drop", "never drops"),
                          ("rel_ap_at", "rel_ap_at", "undefined")):
        res = correlate(summary["log_train_freq"], summary[col])
        res["excluded"] = class_exclusions(summary["class"], summary[col],
                                           summary["log_train_freq"],
                                           summary["first_drop_status"], summary["eval_pos"],
                                           missing=why)
        out[key] = res
    return out


def pair_table(per_class: pd.DataFrame, cooc: np.ndarray, method: str, seeds: Sequence[int],
               sparsities: Sequence[int], classes: Sequence[str], variant: str
               ) -> pd.DataFrame:
    """One row per class pair: class_a, class_b, pair, fcd, freq_a, freq_b, log_freq_diff,
    iou, iou4. FCD uses the whole forgetting curve (every sparsity > 0 of the grid)."""
    cube = ap_cube(per_class, method, seeds, sparsities, classes)
    median = forgetting_curves(cube).median
    nonzero = np.asarray(sparsities) > 0
    fcd = fcd_matrix(median[nonzero])
    st = pair_statistics(cooc, variant)
    names = np.asarray(classes, dtype=object)
    a, b = st["a"], st["b"]
    return pd.DataFrame({
        "class_a": names[a], "class_b": names[b],
        "pair": [f"{x} – {y}" for x, y in zip(names[a], names[b], strict=True)],
        "fcd": fcd[a, b], "freq_a": st["freq_a"], "freq_b": st["freq_b"],
        "log_freq_diff": st["log_freq_diff"], "iou": st["iou"], "iou4": st["iou4"],
    })


def pair_relations(pairs: pd.DataFrame) -> dict:
    return {"log_freq_diff": correlate(pairs["log_freq_diff"], pairs["fcd"]),
            "iou4": correlate(pairs["iou4"], pairs["fcd"])}


def positives_text(labels: pd.DataFrame, classes: Sequence[str]) -> pd.Series:
    """'Effusion, Mass' per image (NaN labels left out; none positive → 'none')."""
    y = labels[list(classes)].to_numpy(dtype=np.float64) == 1
    names = np.asarray(classes, dtype=object)
    return pd.Series([", ".join(names[r]) or "none" for r in y], index=labels.index)


def pie_table(labels: pd.DataFrame, classes: Sequence[str], corr: np.ndarray,
              pie_mask: np.ndarray, diseases: Sequence[str] = (),
              ground_truth: Sequence[str] = ()) -> pd.DataFrame:
    """PIEs (rows of `pie_mask`), lowest correlation first: row, id, corr, labels,
    n_findings, and the declared `ground_truth` columns (StudyData.groundtruth_columns).
    `diseases`: keep PIEs with any of these positive (empty = all)."""
    idx = np.flatnonzero(pie_mask)
    sub = labels.iloc[idx]
    out = pd.DataFrame({"row": sub["row"].to_numpy() if "row" in sub else idx,
                        "id": sub["id"].astype(str).to_numpy(), "corr": np.asarray(corr)[idx],
                        "labels": positives_text(sub, classes).to_numpy(),
                        "n_findings": finding_bin(n_findings(sub, classes)).astype(int)})
    out["n_findings"] = out["n_findings"].map(lambda n: "4+" if n >= 4 else str(n))
    for col in ground_truth:
        out[col] = sub[col].to_numpy()
    if diseases and set(diseases) != set(classes):
        keep = (sub[list(diseases)].to_numpy(dtype=np.float64) == 1).any(axis=1)
        out = out[keep]
    return out.sort_values(["corr", "row"], kind="stable").reset_index(drop=True)
