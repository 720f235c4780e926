"""Forgetting curves (docs/definitions.md): pure functions, arrays in, arrays out.

- Relative change of a metric at sparsity k, per seed: (AP_k − AP_0) / AP_0.
- Forgetting curve of a class: the median of that over seeds, for each k (> 0).
- First k%-drop sparsity: the smallest sparsity > 0 whose median relative change is below
  −k/100 (paper: k = 20); NaN when it never happens ("never", not an error).
"""
from __future__ import annotations

import numpy as np

from core.analysis.over_seeds import SeedSummary, summarise_over_seeds

# The summary over seeds lives in one place (over_seeds); a forgetting curve is one of them.
ForgettingCurves = SeedSummary


def relative_change(values: np.ndarray, dense_index: int = 0) -> np.ndarray:
    """Change relative to the dense model, per seed: (v_k − v_0) / v_0.

    Args:
        values (np.ndarray): float ``[..., S, C]`` (e.g. AP ``[seeds, S, C]``), the
            sparsity axis second to last.
        dense_index (int): the index of the dense model on that axis.

    Returns:
        np.ndarray: float64, the shape of `values`; NaN where v_0 is 0 or NaN.

    Example:
        >>> relative_change(np.array([[0.5], [0.4], [0.1]])).ravel().tolist()
        [0.0, -0.19999999999999996, -0.8]
    """
    values = np.asarray(values, dtype=np.float64)
    dense = values[..., dense_index:dense_index + 1, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (values - dense) / dense
    # AP_0 = 0 cannot happen when positives exist (AP > 0); a 0/0 or x/0 is undefined.
    rel[~np.isfinite(rel)] = np.nan
    return rel


def forgetting_curves(ap: np.ndarray) -> ForgettingCurves:
    """The forgetting curves: the relative AP change per seed, summarised over seeds.

    Args:
        ap (np.ndarray): float ``[seeds, S, C]``, sparsity index 0 = dense.

    Returns:
        ForgettingCurves: ``median``, ``q25``, ``q75`` float64 ``[S, C]`` and ``n_seeds``.
        The curve of class c is ``median[k > 0, c]``.
    """
    return summarise_over_seeds(relative_change(ap))


def first_drop_sparsity(median_rel: np.ndarray, sparsities, drop_percent: float = 20
                        ) -> np.ndarray:
    """The first k%-drop sparsity: the smallest sparsity > 0 whose median relative change is
    below −drop_percent/100. NaN medians (undefined AP) never count as a drop.

    Args:
        median_rel (np.ndarray): float ``[S, C]`` (or ``[S]``), the forgetting curves.
        sparsities (Sequence[int]): the grid, integer percent, one per row.
        drop_percent (float): k (paper: 20).

    Returns:
        np.ndarray: float ``[C]`` (or a scalar), a sparsity, or NaN = never drops.

    Example:
        >>> first_drop_sparsity(np.array([[0.0, 0.0], [-0.1, -0.3], [-0.25, -0.5]]),
        ...                     [0, 50, 90]).tolist()
        [90.0, 50.0]
    """
    median_rel = np.asarray(median_rel, dtype=np.float64)
    sparsities = np.asarray(sparsities)
    if median_rel.shape[0] != sparsities.size:
        raise ValueError(f"{median_rel.shape[0]} curve points for {sparsities.size} sparsities")
    with np.errstate(invalid="ignore"):
        dropped = (median_rel < -drop_percent / 100.0) & (sparsities > 0).reshape(
            (-1,) + (1,) * (median_rel.ndim - 1))
    any_drop = dropped.any(axis=0)
    first = np.argmax(dropped, axis=0)
    return np.where(any_drop, sparsities[first].astype(np.float64), np.nan)


def rel_change_at(median_rel: np.ndarray, sparsities, at: int = 95) -> np.ndarray:
    """The curves' value at sparsity `at`.

    Args:
        median_rel (np.ndarray): float ``[S, C]``.
        sparsities (Sequence[int]): the grid.
        at (int): the sparsity (paper: 95).

    Returns:
        np.ndarray: float ``[C]``; NaN for every class when `at` is not in the grid.
    """
    median_rel = np.asarray(median_rel, dtype=np.float64)
    hits = np.flatnonzero(np.asarray(sparsities) == at)
    if hits.size == 0:
        return np.full(median_rel.shape[1:], np.nan)
    return median_rel[hits[0]]


# A class whose AP is undefined cannot "never drop": there is nothing to drop from. Pages,
# report and correlations take the status from here instead of reading NaN as "never".
DROPS, NEVER, UNDEFINED = "drops", "never", "undefined"
NO_POSITIVE = "undefined (no positive in the evaluation split)"
AP_UNDEFINED = "undefined (AP is undefined)"


def first_drop_status(first_drop, ap_dense) -> np.ndarray:
    """Per class: 'drops', 'never' or 'undefined'.

    'drops': first_drop is a sparsity; 'undefined': the dense AP is NaN (no positive in
    the evaluation split, or NaN predictions), so no drop can be measured; 'never': AP
    defined, never below the threshold on the grid.

    Args:
        first_drop (np.ndarray): float ``[C]`` first-drop sparsity, NaN = none.
        ap_dense (np.ndarray): float ``[C]`` dense AP.

    Returns:
        np.ndarray: str ``[C]``, one of DROPS, NEVER, UNDEFINED.

    Example:
        >>> first_drop_status([45.0, np.nan, np.nan], [0.3, 0.2, np.nan]).tolist()
        ['drops', 'never', 'undefined']
    """
    first = np.asarray(first_drop, dtype=np.float64)
    dense = np.asarray(ap_dense, dtype=np.float64)
    return np.where(np.isfinite(first), DROPS, np.where(np.isfinite(dense), NEVER, UNDEFINED))


def undefined_reason(eval_pos) -> np.ndarray:
    """Why a class's AP is undefined, from its evaluation positives.

    Args:
        eval_pos (np.ndarray): int ``[C]`` positives per class in the evaluation split.

    Returns:
        np.ndarray: str ``[C]``: NO_POSITIVE where there are none, else AP_UNDEFINED.
    """
    return np.where(np.asarray(eval_pos, dtype=np.float64) == 0, NO_POSITIVE, AP_UNDEFINED)


def first_drop_text(status, first_drop, eval_pos) -> list[str]:
    """What to print for each class's first drop: '45%', 'never' or the undefined reason.

    Args:
        status (np.ndarray): ``[C]`` from `first_drop_status`.
        first_drop (np.ndarray): float ``[C]`` first-drop sparsity, NaN = none.
        eval_pos (np.ndarray): int ``[C]`` evaluation positives (for the reason).

    Returns:
        list[str]: one text per class.
    """
    reasons = undefined_reason(eval_pos)
    return [f"{int(f)}%" if st == DROPS else "never" if st == NEVER else str(r)
            for st, f, r in zip(np.asarray(status), np.asarray(first_drop, dtype=np.float64),
                                reasons, strict=True)]
