"""Label statistics as pure functions: arrays or tables in, counts out.

Labels are float arrays with 1.0 / 0.0 / NaN (NaN = not labelled). A NaN is never a
positive: co-occurrence and findings-per-image count it as 0, as the paper's code does
on its 0/1 tables.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

NO_FINDING = "No Finding"
FINDING_BINS = ("0", "1", "2", "3", "4+")


def label_counts(y) -> dict[str, np.ndarray]:
    """Per-class positives, negatives and NaN of a [n, C] label matrix (int64 each)."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be [n, C], got shape {y.shape}")
    return {"pos": (y == 1).sum(0).astype(np.int64),
            "neg": (y == 0).sum(0).astype(np.int64),
            "nan": np.isnan(y).sum(0).astype(np.int64)}


def class_counts(table: pd.DataFrame, classes: Sequence[str],
                 splits: Sequence[str] | Mapping[str, str] = ("train", "val", "test"),
                 ) -> pd.DataFrame:
    """One row per class: `class`, then `<prefix>_pos`, `_neg`, `_nan` per split.

    `splits` is a list of split names (used as prefixes) or a mapping prefix -> split name,
    e.g. {"train": "train", "val": "val", "eval": "test"} for the study store's columns.
    """
    mapping = dict(splits) if isinstance(splits, Mapping) else {s: s for s in splits}
    out = pd.DataFrame({"class": list(classes)})
    for prefix, split in mapping.items():
        y = table.loc[table["split"] == split, list(classes)].to_numpy(dtype=np.float64)
        for kind, counts in label_counts(y.reshape(-1, len(classes))).items():
            out[f"{prefix}_{kind}"] = counts
    return out


def cooccurrence(y) -> np.ndarray:
    """M = YᵀY (int64 [C, C]) with NaN counted as 0: M[a, b] = images positive for a and b."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be [n, C], got shape {y.shape}")
    binary = (y == 1).astype(np.float64)
    # float64 BLAS is exact for integer counts below 2**53 and much faster than int matmul
    return np.rint(binary.T @ binary).astype(np.int64)


def findings_per_image(y, classes: Sequence[str], exclude: Sequence[str] = (NO_FINDING,),
                       ) -> np.ndarray:
    """Number of positive findings of each image (int64), `No Finding` not counted."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != len(classes):
        raise ValueError(f"labels {y.shape} do not match {len(classes)} classes")
    keep = [i for i, c in enumerate(classes) if c not in set(exclude)]
    return (y[:, keep] == 1).sum(1).astype(np.int64)


def findings_histogram(counts, top: int = 4) -> pd.Series:
    """Images per number of findings in bins 0, 1, …, top-1, "top+" (the paper's 0–3, 4+)."""
    counts = np.asarray(counts, dtype=np.int64)
    full = np.bincount(counts, minlength=top + 1)
    labels = [str(i) for i in range(top)] + [f"{top}+"]
    values = np.append(full[:top], full[top:].sum()).astype(np.int64)
    return pd.Series(values, index=labels, name="images")


def findings_full_histogram(counts) -> np.ndarray:
    """Images with exactly 0, 1, 2, … findings (int64; index = number of findings)."""
    return np.bincount(np.asarray(counts, dtype=np.int64)).astype(np.int64)
