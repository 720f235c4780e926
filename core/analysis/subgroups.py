"""Who is hurt: per-subgroup forgetting (sex, age band, view) and PIE enrichment.

Groups come from the evaluation labels' `sex`, `age` and `view` columns (the data contract:
SynthCXR and chestx-ray14 carry them; NIH-CXR-LT gets them by joining its ids to the
ChestX-ray14 metadata; `csv` through `sex_column` / `age_column` / `view_column`). An attribute
whose column is absent or entirely missing is skipped and named in `absent`; images with a
missing value are in no group of that attribute.

- Age bands: AGE_BANDS (years, left-closed), chosen so every band of NIH-CXR-LT's test split
  holds thousands of images.
- A (group, class) needs at least `min_positives` positive labelled images (default 5): with
  fewer, AP moves by a large step when one image changes rank, so it is reported as "too few
  positives" (values NaN), never as a number.
- Worst group per (class, sparsity): the group (over all attributes) with the most negative
  relative AP change among the groups with enough positives.
- PIE enrichment of a group: (PIEs in group / images in group) / (PIEs / images); > 1 means
  the group holds more than its share of PIEs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

ATTRIBUTES = ("sex", "age", "view")
AGE_BANDS = ((0, 40, "<40"), (40, 60, "40-59"), (60, 80, "60-79"), (80, np.inf, "80+"))
DEFAULT_MIN_POSITIVES = 5
NOTE_FEW = "too few positives"


def define_groups(labels: pd.DataFrame) -> tuple[list[tuple[str, str, np.ndarray]], dict]:
    """The subgroups of the evaluation set, by sex, age band and view.

    Age bands are <40, 40-59, 60-79, 80+ (non-numeric ages are missing); other attributes
    give one group per distinct non-empty value, sorted.

    Args:
        labels (pd.DataFrame): eval labels in row order (columns sex, age, view where present).

    Returns:
        tuple[list[tuple[str, str, np.ndarray]], dict[str, str]]: ([(attribute, group, bool
        mask ``[N]``)], {absent attribute: why}).
    """
    groups, absent = [], {}
    for attr in ATTRIBUTES:
        if attr not in labels.columns:
            absent[attr] = "no column in the evaluation labels"
            continue
        col = labels[attr]
        if attr == "age":
            age = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            if not np.isfinite(age).any():
                absent[attr] = "all values missing"
                continue
            for lo, hi, name in AGE_BANDS:
                mask = (age >= lo) & (age < hi)
                if mask.any():
                    groups.append((attr, name, mask))
            continue
        text = col.astype("string")
        present = text.notna() & (text.str.strip() != "")
        if not present.any():
            absent[attr] = "all values missing"
            continue
        for value in sorted(text[present].unique()):
            groups.append((attr, str(value), (text == value).fillna(False).to_numpy(dtype=bool)))
    return groups, absent


def group_codes(codes: np.ndarray, groups) -> np.ndarray:
    """Label codes for all images and for each group (images outside a group → 2, unlabelled).

    Args:
        codes (np.ndarray): int8 ``[N, C]`` label codes (1/0/2).
        groups (list[tuple[str, str, np.ndarray]]): `define_groups`' groups.

    Returns:
        np.ndarray: ``[1 + G, N, C]``: all images, then each group.
    """
    out = [codes]
    for _, _, mask in groups:
        out.append(np.where(mask[:, None], codes, np.int8(2)).astype(np.int8))
    return np.stack(out)


def positives(codes_q: np.ndarray) -> np.ndarray:
    """Positive labelled images per (group, class).

    Args:
        codes_q (np.ndarray): ``[Q, N, C]`` label codes (`group_codes`).

    Returns:
        np.ndarray: int64 ``[Q, C]``.
    """
    return (codes_q == 1).sum(axis=1).astype(np.int64)


def worst_groups(table: pd.DataFrame) -> pd.DataFrame:
    """Per (method, class, sparsity > 0) the group with the lowest `rel_ap`.

    Rows with a note (too few positives) or an undefined `rel_ap` do not count.

    Args:
        table (pd.DataFrame): the subgroup table (method, class, sparsity, attribute, group,
            rel_ap, rel_ap_lo, rel_ap_hi, note).

    Returns:
        pd.DataFrame: method, class, sparsity, attribute, group, rel_ap, rel_ap_lo,
        rel_ap_hi, n_groups (groups that counted); empty with those columns when none does.
    """
    ok = table[(table["note"] == "") & table["rel_ap"].notna() & (table["sparsity"] > 0)]
    if ok.empty:
        return pd.DataFrame(columns=["method", "class", "sparsity", "attribute", "group",
                                     "rel_ap", "rel_ap_lo", "rel_ap_hi", "n_groups"])
    keys = ["method", "class", "sparsity"]
    idx = ok.groupby(keys, sort=False)["rel_ap"].idxmin()
    worst = ok.loc[idx, keys + ["attribute", "group", "rel_ap", "rel_ap_lo", "rel_ap_hi"]]
    counts = ok.groupby(keys, sort=False).size().rename("n_groups").reset_index()
    return worst.merge(counts, on=keys).reset_index(drop=True)


def pie_enrichment(groups, pie_mask: np.ndarray) -> pd.DataFrame:
    """Per group: images, PIEs, PIE rate and enrichment vs the whole evaluation set.

    Args:
        groups (list[tuple[str, str, np.ndarray]]): `define_groups`' groups.
        pie_mask (np.ndarray): bool ``[N]`` PIE mask.

    Returns:
        pd.DataFrame: attribute, group, n_images, n_pie, pie_rate, enrichment (rate / overall
        rate; NaN when the group is empty or there is no PIE).
    """
    pie_mask = np.asarray(pie_mask, dtype=bool)
    overall = pie_mask.mean() if pie_mask.size else np.nan
    rows = []
    for attr, name, mask in groups:
        n = int(mask.sum())
        k = int((pie_mask & mask).sum())
        rate = k / n if n else np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            enrich = rate / overall if overall > 0 else np.nan
        rows.append((attr, name, n, k, rate, enrich))
    return pd.DataFrame(rows, columns=["attribute", "group", "n_images", "n_pie", "pie_rate",
                                       "enrichment"])
