"""AP and AUC of float32 scores (what studies store now): one radix sort and one walk per column.

`core.metrics.per_class_metrics` sends float32 grids here. Per (model, class) column the
scores become order-preserving uint32 keys (`score_keys`, shared with the bootstrap), an LSD
radix argsort orders them high → low, and one walk over tie groups accumulates, for each
group holding positives, pos · TP/(TP+FP) (AP) and pos · (2·(negatives strictly below) +
negatives tied) (twice the AUC numerator, an exact integer) — the same sums as the float16
histogram path and scikit-learn, ties as one threshold. Columns run in parallel (numba
prange). numpy's argsort-and-cumsum path measured ~4× the CPU of the float16 histogram on
paper-scale seed files; this is the replacement for float32.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange


def score_keys(scores) -> np.ndarray:
    """Float scores → uint32 keys, larger score ↔ SMALLER key (walk order).

    Order-preserving for every finite float32 and ±inf; −0.0 and +0.0 get one key (they are
    the same threshold, as for scikit-learn). NaN must be excluded beforehand.

    Args:
        scores (np.ndarray): float ``[..., N, C]`` (cast to float32).

    Returns:
        np.ndarray: uint32, the shape of `scores`.

    Example:
        >>> k = score_keys(np.array([1.0, -0.0, 0.0, -2.0, np.inf]))
        >>> bool(k[4] < k[0] < k[1] == k[2] < k[3])
        True
    """
    s = np.asarray(scores, dtype=np.float32) + np.float32(0.0)   # −0.0 + 0.0 = +0.0
    u = s.view(np.uint32)
    asc = np.where(u & np.uint32(0x80000000), ~u, u | np.uint32(0x80000000))
    return (~asc).astype(np.uint32)


@njit(nogil=True, cache=True)
def _radix_argsort(keys, order, tmp, count):
    """Stable LSD radix argsort of uint32 `keys` (three 11-bit passes) into `order`."""
    n = keys.size
    for i in range(n):
        order[i] = i
    for shift in (0, 11, 22):
        count[:] = 0
        for i in range(n):
            count[((keys[order[i]] >> shift) & 0x7FF) + 1] += 1
        for d in range(1, count.size):
            count[d] += count[d - 1]
        for i in range(n):
            j = order[i]
            d = (keys[j] >> shift) & 0x7FF
            tmp[count[d]] = j
            count[d] += 1
        order[:] = tmp[:]


@njit(nogil=True, cache=True)
def sorted_column(keys, mi, ci):
    """One column of the keys and its walk order (radix argsort), compiled by numba.

    The per-task start of every column walk (here and core.analysis.bootstrap).

    Args:
        keys (np.ndarray): uint32 ``[M, N, C]`` (`score_keys`), contiguous.
        mi (int): the model index.
        ci (int): the class index.

    Returns:
        tuple[np.ndarray, np.ndarray]: (uint32 ``[N]`` column, int64 ``[N]`` order).
    """
    n = keys.shape[1]
    col = np.ascontiguousarray(keys[mi, :, ci])
    order = np.empty(n, np.int64)
    _radix_argsort(col, order, np.empty(n, np.int64), np.empty(2049, np.int64))
    return col, order


@njit(nogil=True, cache=True)
def _walk_column(order, keys, codes, n_pos, n_neg):
    """(AP, AUC) of one sorted column; codes 1 / 0 / 2 (positive / negative / unlabelled)."""
    n = order.size
    tp = 0
    fp = 0
    ap_sum = 0.0
    twice = 0
    i = 0
    while i < n:
        key = keys[order[i]]
        g_pos = 0
        g_neg = 0
        while i < n and keys[order[i]] == key:
            c = codes[order[i]]
            if c == 1:
                g_pos += 1
            elif c == 0:
                g_neg += 1
            i += 1
        tp += g_pos
        fp += g_neg
        if g_pos > 0:
            ap_sum += g_pos * (tp / (tp + fp))
            twice += g_pos * (2 * (n_neg - fp) + g_neg)
            if tp == n_pos:      # no positive below: nothing further can count
                break
    if n_pos == 0 or n_neg == 0:
        return np.nan, np.nan
    return ap_sum / n_pos, twice / (2.0 * n_pos * n_neg)


@njit(nogil=True, parallel=True, cache=True)
def _grid(keys, codes_t, n_pos, n_neg, ap, auc):
    """keys [M, N, C] uint32, codes_t [C, N] int8 → ap, auc [M, C]."""
    m, _, c = keys.shape
    for task in prange(m * c):
        mi = task // c
        ci = task % c
        col, order = sorted_column(keys, mi, ci)
        ap[mi, ci], auc[mi, ci] = _walk_column(order, col, codes_t[ci], n_pos[ci], n_neg[ci])


def metrics_float32(flat: np.ndarray, codes: np.ndarray, n_pos: np.ndarray,
                    n_neg: np.ndarray):
    """AP and ROC AUC of every (model, class) of float32 scores.

    Args:
        flat (np.ndarray): float32 ``[M, N, C]`` scores.
        codes (np.ndarray): int ``[N, C]`` label codes (1/0/2, core.metrics.label_codes).
        n_pos (np.ndarray): int64 ``[C]`` positives per class.
        n_neg (np.ndarray): int64 ``[C]`` negatives per class.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (ap, auc float64 ``[M, C]``, NaN where
        undefined; nan_pred bool ``[M, C]``: a NaN score in the column, reported as undefined
        by the caller).
    """
    m, n, c = flat.shape
    ap = np.full((m, c), np.nan)
    auc = np.full((m, c), np.nan)
    nan_pred = np.isnan(flat).any(axis=1)
    if m == 0 or n == 0:
        return ap, auc, nan_pred
    # A NaN score's column is reported as undefined by the caller; give it a key meanwhile.
    scores = np.where(np.isnan(flat), np.float32(0), flat) if nan_pred.any() else flat
    keys = score_keys(scores)
    codes_t = np.ascontiguousarray(codes.T.astype(np.int8))
    _grid(keys, codes_t, n_pos, n_neg, ap, auc)
    return ap, auc, nan_pred
