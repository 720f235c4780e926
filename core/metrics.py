"""Vectorised per-class AP and AUC, equal to scikit-learn's, for whole prediction grids.

`per_class_metrics(scores, labels)` takes scores shaped ``[..., N, C]`` (any leading model
axes, e.g. sparsities) and labels ``[N, C]`` with 1 / 0 / NaN (NaN = not labelled, skipped for
that class) and returns AP and AUC for every (model, class).

Both follow scikit-learn exactly, ties included:
- AP = Σ_t (R_t − R_{t−1}) · P_t over the distinct score thresholds t, high to low — tied scores
  form one threshold (as `average_precision_score` via `precision_recall_curve`).
- AUC = the area under the ROC curve with tied scores as one point (as `roc_auc_score`), which
  equals the Mann-Whitney statistic with ties counted one half; computed in integers.

Three interchangeable paths give the same numbers:
- float16 scores (what studies made before core.predictions stored): a histogram over the
  16-bit patterns replaces the sort, so a whole [S, N, C] seed file is one `bincount` — no
  argsort at all. float16 has at most 65,536 values, and sigmoid outputs in [0, 1] use ~15,400
  of them.
- float32 scores (logits, what studies store now): a radix sort and one walk per (model,
  class) column in compiled, parallel code (`core.metrics_float32`).
- any other dtype (float64): one argsort per class over all models at once, ties grouped
  explicitly.
A class without positive (or without negative) labels gets NaN and a note saying why.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOTE_NO_POS = "no positive labels"
NOTE_NO_NEG = "no negative labels"
NOTE_NAN_PRED = "NaN predictions"

# Histogram bins per chunk in the float16 path: keeps the int64 temporaries (about 8 arrays of
# this many elements, plus the chunk's keys) near 100 MB whatever the score range; larger
# chunks measured no faster.
_HIST_CHUNK_BINS = 1_000_000


@dataclass
class ClassMetrics:
    """AP and AUC per (model, class); `note` is "" where the numbers are defined."""

    ap: np.ndarray      # float64 [..., C]
    auc: np.ndarray     # float64 [..., C]
    n_pos: np.ndarray   # int64 [C] positives among labelled images
    n_neg: np.ndarray   # int64 [C]
    note: np.ndarray    # str [..., C]

    @property
    def mean_ap(self) -> np.ndarray:
        return nanmean_classes(self.ap)

    @property
    def mean_auc(self) -> np.ndarray:
        return nanmean_classes(self.auc)


def nanmean_classes(values: np.ndarray) -> np.ndarray:
    """mAP / mAUC: the mean over the last (class) axis ignoring NaN.

    Args:
        values (np.ndarray): float ``[..., C]``.

    Returns:
        np.ndarray: float64 ``[...]``; NaN (no warning) where every class is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    count = finite.sum(axis=-1)
    total = np.where(finite, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def label_codes(labels) -> np.ndarray:
    """1/0/NaN labels → int8 codes 1 (positive), 0 (negative), 2 (not labelled).

    Args:
        labels (np.ndarray): any shape, values 1, 0 or NaN.

    Returns:
        np.ndarray: int8, `labels`' shape.

    Raises:
        ValueError: naming values other than 1, 0 and NaN.

    Example:
        >>> label_codes([[1, 0, np.nan]]).tolist()
        [[1, 0, 2]]
    """
    labels = np.asarray(labels, dtype=np.float64)
    bad = ~(np.isnan(labels) | (labels == 0) | (labels == 1))
    if bad.any():
        raise ValueError(f"labels must be 1, 0 or NaN; found {np.unique(labels[bad])[:5]}")
    codes = np.full(labels.shape, 2, dtype=np.int8)
    codes[labels == 1] = 1
    codes[labels == 0] = 0
    return codes


def per_class_metrics(scores, labels) -> ClassMetrics:
    """AP and AUC for every model and class of a prediction grid, equal to scikit-learn's
    `average_precision_score` and `roc_auc_score` (tied scores form one threshold).

    Args:
        scores (np.ndarray): ``[..., N, C]`` scores (float16 probabilities, float32
            logits or float64; any ranking-equivalent transform gives the same numbers),
            e.g. one seed's grid ``[S, N, C]``.
        labels (np.ndarray): ``[N, C]`` 1 / 0 / NaN; NaN images are skipped per class.

    Returns:
        ClassMetrics: ``ap``, ``auc`` float64 ``[..., C]`` (NaN where undefined), ``n_pos``,
        ``n_neg`` int64 ``[C]``, ``note`` str ``[..., C]`` ("" or why a value is NaN).

    Example:
        >>> m = per_class_metrics(np.array([[0.9], [0.2], [0.6], [0.4]]),
        ...                       np.array([[1.0], [0.0], [0.0], [1.0]]))
        >>> float(m.ap[0]), float(m.auc[0])
        (0.8333333333333333, 0.75)
    """
    scores = np.asarray(scores)
    codes = label_codes(labels)
    if codes.ndim != 2 or scores.shape[-2:] != codes.shape:
        raise ValueError(f"scores {scores.shape} do not end with labels' shape {codes.shape}")
    lead = scores.shape[:-2]
    n, c = codes.shape
    flat = scores.reshape((-1, n, c))
    n_pos = (codes == 1).sum(axis=0).astype(np.int64)
    n_neg = (codes == 0).sum(axis=0).astype(np.int64)
    if flat.dtype == np.float16:
        ap, auc, nan_pred = _metrics_float16(flat, codes)
    elif flat.dtype == np.float32:
        # loaded on first use: numba (compiling its kernels) is slow to import, and most
        # users of this module (the dashboard) never score a float32 grid
        from core.metrics_float32 import metrics_float32
        ap, auc, nan_pred = metrics_float32(flat, codes, n_pos, n_neg)
    else:
        ap, auc = _metrics_sorted(flat.astype(np.float64, copy=False), codes)
        nan_pred = np.isnan(flat).any(axis=1)
    note = np.full(ap.shape, "", dtype=object)
    note[nan_pred] = NOTE_NAN_PRED
    note[:, n_neg == 0] = NOTE_NO_NEG
    note[:, n_pos == 0] = NOTE_NO_POS
    undefined = note != ""
    ap[undefined] = np.nan
    auc[undefined] = np.nan
    return ClassMetrics(ap.reshape(lead + (c,)), auc.reshape(lead + (c,)), n_pos, n_neg,
                        note.astype(str).reshape(lead + (c,)))


def _from_histograms(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AP and AUC from per-threshold counts [..., T], thresholds ordered high → low.

    Both sums run over positives only (few, in a long-tailed dataset), so beyond the two
    cumulative sums no pass touches every bin.
    """
    lead, bins = pos.shape[:-1], pos.shape[-1]
    fp = np.cumsum(neg, axis=-1)
    tp = np.cumsum(pos, axis=-1)
    n_pos = tp[..., -1].reshape(-1)
    n_neg = fp[..., -1].reshape(-1)
    nz = np.flatnonzero(pos)
    col = nz // bins
    p = pos.reshape(-1)[nz].astype(np.float64)
    t = tp.reshape(-1)[nz]
    f = fp.reshape(-1)[nz]
    ncols = n_pos.size
    # Every positive sits at its threshold's precision: AP = Σ pos_t · prec_t / P.
    ap_sum = np.bincount(col, weights=p * (t / (t + f)), minlength=ncols)
    # A positive beats the negatives ranked strictly below it and half of those tied with it:
    # 2·Σ pos_t·((N − fp_t) + neg_t/2) is an integer, exact in float64 (< 2^53).
    twice = np.bincount(col, weights=p * (2 * (n_neg[col] - f) + neg.reshape(-1)[nz]),
                        minlength=ncols)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = ap_sum / n_pos
        auc = twice / (2.0 * n_pos * n_neg)
    return ap.reshape(lead), auc.reshape(lead)


def _build_key_table() -> np.ndarray:
    """uint16 bit pattern of a float16 → order-preserving key (−0 shares +0's key)."""
    bits = np.arange(1 << 16, dtype=np.int64)
    key = np.where(bits & 0x8000, 0xFFFF - bits, bits | 0x8000)
    key[0x8000] = 0x8000
    return key.astype(np.uint16)


_KEY_TABLE = _build_key_table()


def _float16_keys(scores: np.ndarray) -> np.ndarray:
    """Order-preserving uint16 keys of float16 values: one table lookup per value."""
    return np.take(_KEY_TABLE, np.ascontiguousarray(scores).view(np.uint16))


# Keys of −inf and +inf: a NaN's key lies outside this range, so the key range alone tells
# whether the (rarely needed) per-column NaN scan must run.
_KEY_NEG_INF, _KEY_POS_INF = 0x03FF, 0xFC00


def _metrics_float16(flat: np.ndarray, codes: np.ndarray):
    m, n, c = flat.shape
    ap = np.empty((m, c))
    auc = np.empty((m, c))
    if m == 0 or n == 0:
        return ap, auc, np.zeros((m, c), dtype=bool)
    pos_mask = codes == 1
    valid_mask = codes != 2
    all_valid = bool(valid_mask.all())
    class_off = np.arange(c, dtype=np.int64)
    keys_all = _float16_keys(flat)
    lo, hi = int(keys_all.min()), int(keys_all.max())
    bins = hi - lo + 1
    step = max(1, _HIST_CHUNK_BINS // (bins * c))
    for start in range(0, m, step):
        stop = min(m, start + step)
        # Bin of (model, class, key), highest score first: offset + (hi − key), in one pass.
        base = (np.arange(stop - start, dtype=np.int64)[:, None, None] * c + class_off) * bins
        idx = np.subtract(base + hi, keys_all[start:stop], dtype=np.int64)
        size = (stop - start) * c * bins
        pos = np.bincount(idx[:, pos_mask].ravel(), minlength=size)
        if all_valid:
            total = np.bincount(idx.ravel(), minlength=size)
        else:
            total = np.bincount(idx[:, valid_mask].ravel(), minlength=size)
        pos = pos.reshape(stop - start, c, bins)
        neg = total.reshape(stop - start, c, bins) - pos
        ap[start:stop], auc[start:stop] = _from_histograms(pos, neg)
    if lo < _KEY_NEG_INF or hi > _KEY_POS_INF:
        nan_pred = np.isnan(flat).any(axis=1)
    else:
        nan_pred = np.zeros((m, c), dtype=bool)
    return ap, auc, nan_pred


def _metrics_sorted(flat: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m, n, c = flat.shape
    ap = np.full((m, c), np.nan)
    auc = np.full((m, c), np.nan)
    for j in range(c):
        valid = codes[:, j] != 2
        if not valid.any() or m == 0:
            continue
        s = flat[:, valid, j]
        y = codes[valid, j].astype(np.int64)
        # high → low; no stable sort needed: ties are grouped below and every sum over a tie
        # group is order-free (quicksort measured 6× faster than stable on float64 here)
        order = np.argsort(-s, axis=1)
        s = np.take_along_axis(s, order, axis=1)
        ys = y[order]
        k = s.shape[1]
        pos_idx = np.arange(k)
        tp = np.cumsum(ys, axis=1)
        fp = (pos_idx + 1) - tp
        # Tied scores are one threshold: every member takes the counts at its group's end,
        # and "strictly above" is the count just before the group's start.
        is_end = np.ones_like(s, dtype=bool)
        is_end[:, :-1] = s[:, :-1] != s[:, 1:]
        end = np.minimum.accumulate(np.where(is_end, pos_idx, k)[:, ::-1], axis=1)[:, ::-1]
        is_start = np.ones_like(s, dtype=bool)
        is_start[:, 1:] = is_end[:, :-1]
        start = np.maximum.accumulate(np.where(is_start, pos_idx, 0), axis=1)
        tp_end = np.take_along_axis(tp, end, axis=1)
        fp_end = np.take_along_axis(fp, end, axis=1)
        tp_before = np.take_along_axis(tp, start, axis=1) - np.take_along_axis(ys, start, axis=1)
        n_pos = tp[:, -1]
        n_neg = fp[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = tp_end / np.maximum(tp_end + fp_end, 1)
            ap[:, j] = (ys * prec).sum(axis=1) / n_pos
            twice = ((1 - ys) * (tp_before + tp_end)).sum(axis=1)
            auc[:, j] = twice / (2.0 * n_pos * n_neg)
    return ap, auc


def average_precision(scores, labels) -> np.ndarray:
    """AP per class (NaN where undefined: no positive, or NaN scores).

    Args:
        scores (np.ndarray): float ``[..., N, C]``.
        labels (np.ndarray): ``[N, C]`` 1 / 0 / NaN.

    Returns:
        np.ndarray: float64 ``[..., C]``.
    """
    return per_class_metrics(scores, labels).ap


def roc_auc(scores, labels) -> np.ndarray:
    """ROC AUC per class (NaN where undefined: no positive or no negative, or NaN scores).

    Args:
        scores (np.ndarray): float ``[..., N, C]``.
        labels (np.ndarray): ``[N, C]`` 1 / 0 / NaN.

    Returns:
        np.ndarray: float64 ``[..., C]``.
    """
    return per_class_metrics(scores, labels).auc
