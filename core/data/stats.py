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
    """Per-class positives, negatives and NaN of a label matrix.

    Args:
        y (np.ndarray): ``[n, C]`` labels (1/0/NaN).

    Returns:
        dict[str, np.ndarray]: ``pos``, ``neg``, ``nan``, int64 ``[C]`` each.

    Raises:
        ValueError: when `y` is not 2-D.

    Example:
        >>> {k: v.tolist() for k, v in label_counts([[1, 0], [np.nan, 1], [0, 1]]).items()}
        {'pos': [1, 2], 'neg': [1, 1], 'nan': [1, 0]}
    """
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

    Args:
        table (pd.DataFrame): the dataset table (split and the class columns).
        classes (Sequence[str]): the class columns.
        splits (Sequence[str] | Mapping[str, str]): split names (used as prefixes) or a
            mapping prefix → split name, e.g. {"train": "train", "val": "val", "eval": "test"}
            for the study store's columns.

    Returns:
        pd.DataFrame: class and three int64 columns per split.
    """
    mapping = dict(splits) if isinstance(splits, Mapping) else {s: s for s in splits}
    out = pd.DataFrame({"class": list(classes)})
    for prefix, split in mapping.items():
        y = table.loc[table["split"] == split, list(classes)].to_numpy(dtype=np.float64)
        for kind, counts in label_counts(y.reshape(-1, len(classes))).items():
            out[f"{prefix}_{kind}"] = counts
    return out


def cooccurrence(y) -> np.ndarray:
    """Co-occurrence M = YᵀY with NaN counted as 0: M[a, b] = images positive for a and b.

    Args:
        y (np.ndarray): ``[n, C]`` labels (1/0/NaN).

    Returns:
        np.ndarray: int64 ``[C, C]``, symmetric; the diagonal = positives per class.

    Raises:
        ValueError: when `y` is not 2-D.

    Example:
        >>> cooccurrence([[1, 1], [1, np.nan], [0, 1]]).tolist()
        [[2, 1], [1, 2]]
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"labels must be [n, C], got shape {y.shape}")
    binary = (y == 1).astype(np.float64)
    # float64 BLAS is exact for integer counts below 2**53 and much faster than int matmul
    return np.rint(binary.T @ binary).astype(np.int64)


def is_no_finding(name: str) -> bool:
    """Whether a class name is the "no finding" class, in any of its spellings.

    The one rule for every count and text that leaves that class out: case, underscores and
    runs of spaces do not matter ("No Finding", "No_Finding", "no  finding", " NO FINDING ").

    Args:
        name (str): a class name as the dataset spells it.

    Returns:
        bool: True for the "no finding" class.

    Example:
        >>> is_no_finding("No_Finding"), is_no_finding("Nodule")
        (True, False)
    """
    return " ".join(str(name).replace("_", " ").split()).lower() == "no finding"


def label_matrix(labels, classes: Sequence[str]) -> np.ndarray:
    """The label matrix of a labels table (class columns picked by name) or an array.

    Args:
        labels (pd.DataFrame | np.ndarray): a table with the class columns, or ``[N, C]``.
        classes (Sequence[str]): the class names.

    Returns:
        np.ndarray: float64 ``[N, C]``.

    Raises:
        ValueError: when an array is not ``[N, len(classes)]``.
    """
    if isinstance(labels, pd.DataFrame):
        return labels[list(classes)].to_numpy(dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != len(classes):
        raise ValueError(f"labels {y.shape} do not match {len(classes)} classes")
    return y


def findings_per_image(labels, classes: Sequence[str]) -> np.ndarray:
    """Positive findings of each image: "No Finding" (any spelling) not counted, NaN = absent.

    The one definition behind the dataset summary, the PIE statistics by number of
    findings, the gallery's finding filter and the reader forms' matching.

    Args:
        labels (pd.DataFrame or np.ndarray): a labels table with one column per class, or
            a float array ``[N, C]`` with 1 / 0 / NaN (NaN = not labelled).
        classes (Sequence[str]): the class names, in the column order of `labels`.

    Returns:
        np.ndarray: int64 ``[N]``, the number of positive classes per image.

    Example:
        >>> findings_per_image([[1, 0, 1], [0, 1, float("nan")]], ["No_Finding", "A", "B"])
        array([1, 1])
    """
    y = label_matrix(labels, classes)
    keep = [i for i, c in enumerate(classes) if not is_no_finding(c)]
    return (y[:, keep] == 1).sum(1).astype(np.int64)


def finding_bin(counts) -> np.ndarray:
    """Findings per image → bin index of FINDING_BINS: 0, 1, 2, 3 stay, 4 and more → 4.

    Args:
        counts (np.ndarray): int ``[N]`` findings per image.

    Returns:
        np.ndarray: int ``[N]`` in 0 … 4.

    Example:
        >>> finding_bin([0, 3, 4, 9]).tolist()
        [0, 3, 4, 4]
    """
    return np.minimum(np.asarray(counts), len(FINDING_BINS) - 1)


def labels_in_words(labels, classes: Sequence[str]) -> list[str]:
    """Each image's labels in words: its positive classes, as the dataset spells them,
    in class order, joined by ", "; "No Finding" when no other class is positive.

    The "no finding" class itself (any spelling, `is_no_finding`) is never listed: an
    image positive only for it, or for nothing, reads "No Finding". Names are not
    rewritten (a name is shown as typed wherever it appears), NaN labels are not positive.

    Args:
        labels (pd.DataFrame or np.ndarray): labels table or float ``[N, C]`` (1 / 0 / NaN).
        classes (Sequence[str]): the class names, in the column order of `labels`.

    Returns:
        list[str]: one string per image.

    Example:
        >>> labels_in_words([[0, 1, 1], [1, 0, 0]], ["No Finding", "Effusion", "Mass"])
        ['Effusion, Mass', 'No Finding']
    """
    y = label_matrix(labels, classes) == 1
    keep = np.array([not is_no_finding(c) for c in classes], dtype=bool)
    names = np.asarray(list(classes), dtype=object)
    return [", ".join(names[row & keep]) or NO_FINDING for row in y]


def image_labels_in_words(row, classes: Sequence[str]) -> str:
    """`labels_in_words` of one image.

    Args:
        row (Mapping): class name → 1 / 0 / NaN (a table row).
        classes (Sequence[str]): the class names.

    Returns:
        str: the positive classes joined by ", ", or "No Finding".
    """
    return labels_in_words(np.array([[row[c] for c in classes]], dtype=np.float64),
                           classes)[0]


def findings_histogram(counts, top: int = 4) -> pd.Series:
    """Images per number of findings in bins 0, 1, …, top-1, "top+" (the paper's 0–3, 4+).

    Args:
        counts (np.ndarray): int ``[N]`` findings per image (≥ 0).
        top (int): the first number pooled into "top+".

    Returns:
        pd.Series: int64, index "0" … "top+", name "images".

    Example:
        >>> findings_histogram([0, 0, 1, 5, 4]).tolist()
        [2, 1, 0, 0, 2]
    """
    counts = np.asarray(counts, dtype=np.int64)
    full = np.bincount(counts, minlength=top + 1)
    labels = [str(i) for i in range(top)] + [f"{top}+"]
    values = np.append(full[:top], full[top:].sum()).astype(np.int64)
    return pd.Series(values, index=labels, name="images")


def findings_full_histogram(counts) -> np.ndarray:
    """Images with exactly 0, 1, 2, … findings.

    Args:
        counts (np.ndarray): int ``[N]`` findings per image (≥ 0).

    Returns:
        np.ndarray: int64 ``[max + 1]``; index = number of findings.
    """
    return np.bincount(np.asarray(counts, dtype=np.int64)).astype(np.int64)
