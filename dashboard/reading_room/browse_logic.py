"""What the Browse page shows, as pure pandas/numpy (tested without Streamlit).

- the gallery: one row per evaluation image with its PIE score, findings and SynthCXR ground
  truth; filtered and sorted into the order that previous/next walk;
- the rank table: classes ranked by the dense model with the pruned model's rank and
  probability beside, the largest movers flagged, and each model's calls at the dense
  model's operating thresholds (kept fixed for the pruned model, as a deployed model would);
- the plain-words explanation of why an image is (or is not) a PIE;
- the Grad-CAM class shown first for an image.

Nothing here re-implements a definition: correlations, PIE masks and finding counts come
from `core.analysis` (the functions that wrote the study's tables).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.analysis.pies import image_table

WHICH = {"pies": "PIEs", "nonpies": "non-PIEs", "all": "all images"}
SORTS = {"pie": "PIE score (most changed first)",
         "corr_desc": "correlation (least changed first)",
         "findings": "number of findings (most first)",
         "quality": "image quality (worst first)",
         "noise": "label noise first"}
GROUNDTRUTH_SORTS = ("quality", "noise")     # only for studies with SynthCXR ground truth
FINDING_FILTERS = ("any", "0", "1", "2", "3", "4+")
N_MOVERS = 3                                 # rank movers highlighted per image


def gallery_table(labels: pd.DataFrame, classes: Sequence[str], corr: np.ndarray,
                  pie_mask: np.ndarray, ground_truth: Sequence[str] = ()) -> pd.DataFrame:
    """row, id, corr, pie, n_findings (int, 'No Finding' not counted), labels (text), and
    the `ground_truth` columns the dataset declares; in evaluation-row order: the PIE image
    table of core.analysis.pies.image_table (the PIEs page lists the same table's PIEs)."""
    return image_table(labels, classes, corr, pie_mask, ground_truth)


def gallery_order(table: pd.DataFrame, *, which: str = "pies", disease: str | None = None,
                  findings: str = "any", sort: str = "pie",
                  labels: pd.DataFrame | None = None) -> np.ndarray:
    """Evaluation rows in gallery order: filtered by PIE status (`which`), by one positive
    `disease` (needs `labels`), by finding count ('0'…'3', '4+'), then sorted. Ties (and
    NaN correlations, which go last) keep evaluation-row order, so the order is stable."""
    keep = np.ones(len(table), dtype=bool)
    if which == "pies":
        keep &= table["pie"].to_numpy()
    elif which == "nonpies":
        keep &= ~table["pie"].to_numpy()
    elif which != "all":
        raise ValueError(f"which: {which!r}; allowed: {', '.join(WHICH)}")
    if disease:
        if labels is None or disease not in labels:
            raise ValueError(f"unknown disease {disease!r}")
        keep &= labels[disease].to_numpy(dtype=np.float64) == 1
    if findings != "any":
        if findings not in FINDING_FILTERS:
            raise ValueError(f"findings: {findings!r}; allowed: {', '.join(FINDING_FILTERS)}")
        n = table["n_findings"].to_numpy()
        keep &= (n >= 4) if findings == "4+" else (n == int(findings))
    sub = table[keep]
    corr = sub["corr"].to_numpy(dtype=np.float64)
    nan_last = np.where(np.isfinite(corr), 0, 1)
    if sort == "pie":
        keys = (corr, nan_last)
    elif sort == "corr_desc":
        keys = (-corr, nan_last)
    elif sort == "findings":
        keys = (corr, nan_last, -sub["n_findings"].to_numpy())
    elif sort == "quality" and "quality" in sub:
        keys = (corr, nan_last, sub["quality"].to_numpy(dtype=np.float64))
    elif sort == "noise" and "label_noise" in sub:
        keys = (corr, nan_last, ~sub["label_noise"].to_numpy(dtype=bool))
    else:
        raise ValueError(f"sort: {sort!r} is not available for this study")
    # np.lexsort sorts by the last key first; NaN correlations sort after finite ones
    order = np.lexsort(tuple(np.nan_to_num(k, nan=np.inf) if k.dtype.kind == "f" else k
                             for k in keys))
    return sub["row"].to_numpy(dtype=np.int64)[order]


def neighbours(order: np.ndarray, row: int) -> tuple[int | None, int | None, int | None]:
    """(position of `row` in `order` or None, previous row, next row). A row outside the
    order (reached by search) has no previous and starts the walk at the order's first."""
    hits = np.flatnonzero(np.asarray(order) == row)
    if not len(hits):
        return None, None, (int(order[0]) if len(order) else None)
    i = int(hits[0])
    prev_ = int(order[i - 1]) if i > 0 else None
    next_ = int(order[i + 1]) if i + 1 < len(order) else None
    return i, prev_, next_


def find_image(labels: pd.DataFrame, text: str) -> int | None:
    """Evaluation row of an image id (exact, then case-insensitive); None if absent."""
    text = str(text).strip()
    if not text:
        return None
    ids = labels["id"].astype(str)
    hit = np.flatnonzero(ids.to_numpy() == text)
    if not len(hit):
        hit = np.flatnonzero(ids.str.lower().to_numpy() == text.lower())
    return int(labels["row"].iloc[hit[0]]) if len(hit) else None


def ranks(p: np.ndarray) -> np.ndarray:
    """1 = highest probability; ties share the order of the class list (stable)."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(-p, kind="stable")
    out = np.empty(len(p), dtype=np.int64)
    out[order] = np.arange(1, len(p) + 1)
    return out


def rank_table(dense: np.ndarray, pruned: np.ndarray, y: np.ndarray, classes: Sequence[str],
               thresholds: np.ndarray | None = None, n_movers: int = N_MOVERS
               ) -> pd.DataFrame:
    """One row per class, ordered by the dense model's rank.

    Columns: class, label ('positive' / 'negative' / 'not labelled'), dense_rank, dense_p,
    pruned_rank, pruned_p, rank_change (dense_rank − pruned_rank: > 0 = moved up after
    pruning), mover (among the `n_movers` largest |rank_change|, non-zero, or a changed
    call), and with thresholds: threshold, dense_call, pruned_call (bool; NaN threshold →
    no call, shown as None)."""
    dense = np.asarray(dense, dtype=np.float64)
    pruned = np.asarray(pruned, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    rd, rp = ranks(dense), ranks(pruned)
    change = rd - rp
    label = np.where(np.isnan(y), "not labelled", np.where(y == 1, "positive", "negative"))
    out = pd.DataFrame({"class": list(classes), "label": label, "dense_rank": rd,
                        "dense_p": dense, "pruned_rank": rp, "pruned_p": pruned,
                        "rank_change": change})
    big = np.argsort(-np.abs(change), kind="stable")[:n_movers]
    mover = np.zeros(len(classes), dtype=bool)
    mover[big] = change[big] != 0
    if thresholds is not None:
        t = np.asarray(thresholds, dtype=np.float64)
        ok = np.isfinite(t)
        dc, pc = dense >= t, pruned >= t
        out["threshold"] = t
        out["dense_call"] = pd.array(np.where(ok, dc, False), dtype="boolean")
        out["pruned_call"] = pd.array(np.where(ok, pc, False), dtype="boolean")
        out.loc[~ok, ["dense_call", "pruned_call"]] = pd.NA
        mover |= ok & (dc != pc)
    out["mover"] = mover
    return out.sort_values("dense_rank", kind="stable").reset_index(drop=True)


def default_cam_class(dense: np.ndarray, pruned: np.ndarray, y: np.ndarray,
                      classes: Sequence[str]) -> str:
    """The class Grad-CAM explains first: of the image's positive findings, the one whose
    probability pruning changed most; with none positive, the dense model's top class.
    (Grad-CAM keeps only evidence *for* a class, so an unlikely class is a poor first view.)"""
    change = np.abs(np.asarray(pruned, dtype=np.float64) - np.asarray(dense, dtype=np.float64))
    pos = np.flatnonzero(np.asarray(y, dtype=np.float64) == 1)
    if len(pos):
        return classes[int(pos[np.argmax(change[pos])])]
    return classes[int(np.argmax(np.asarray(dense, dtype=np.float64)))]


def ordinal(n: int) -> str:
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def explain(table: pd.DataFrame, corr: float, is_pie: bool, cut: float | None, k: int,
            method: str, percentile: float, n_images: int, rule: str | None) -> list[str]:
    """The rank table in words: PIE status, the largest movers, the calls that change.
    Class names come from the study: the page shows these strings as literal text."""
    out = []
    pie = ("a PIE" if is_pie else "not a PIE")
    if np.isfinite(corr):
        cut_txt = f" (PIEs: the {percentile:g}% of {n_images:,} images with the lowest, " \
                  f"at or below {cut:.3f})" if cut is not None and np.isfinite(cut) else ""
        out.append(f"This image is {pie}: pruning to {k}% with {method} changed the order of "
                   f"its findings; the agreement between the dense and the pruned ranking "
                   f"(Spearman correlation) is {corr:.3f}, where 1 is the same order{cut_txt}.")
    else:
        out.append(f"This image is {pie}: its correlation is undefined (a constant "
                   "prediction), so it is never counted as a PIE.")
    movers = table[table["mover"] & (table["rank_change"] != 0)]
    movers = movers.reindex(movers["rank_change"].abs().sort_values(ascending=False,
                                                                     kind="stable").index)
    parts = []
    for _, r in movers.head(N_MOVERS).iterrows():
        verb = "rose" if r["rank_change"] > 0 else "fell"
        parts.append(f"{r['class']} {verb} from {ordinal(r['dense_rank'])} to "
                     f"{ordinal(r['pruned_rank'])} (probability {r['dense_p']:.2f} → "
                     f"{r['pruned_p']:.2f})")
    if parts:
        out.append("Largest movers: " + "; ".join(parts) + ".")
    else:
        out.append("No class changed rank.")
    if "dense_call" in table and rule:
        dc = table["dense_call"].fillna(False).to_numpy(dtype=bool)
        pc = table["pruned_call"].fillna(False).to_numpy(dtype=bool)
        names = table["class"].to_numpy()

        def listing(mask):
            return ", ".join(names[mask]) or "none"

        out.append(f"At the dense model's operating thresholds ({rule} rule, chosen on the "
                   f"validation split and kept for the pruned model) the dense model calls "
                   f"{listing(dc)} positive; the pruned model calls {listing(pc)}.")
        lost, gained = dc & ~pc, pc & ~dc
        if lost.any() or gained.any():
            out.append("Pruning " + " and ".join(
                s for s in (f"drops {listing(lost)}" if lost.any() else "",
                            f"adds {listing(gained)}" if gained.any() else "") if s) + ".")
        else:
            out.append("Pruning changes none of these calls.")
    return out
