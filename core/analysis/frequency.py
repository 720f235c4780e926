"""Frequency and co-occurrence relations (docs/definitions.md).

- `correlate(x, y)`: Pearson r and Spearman ρ with p-values (scipy), NaN points dropped.
- `pair_statistics(M, variant)`: per class pair the "frequency" of each class and the IoU from the
  co-occurrence matrix M = YᵀY. Variant ``paper`` follows the reference code: frequency = column
  sum of M, IoU = M[a,b] / (colsum a + colsum b − M[a,b]). Variant ``plain``: frequency = M[a,a]
  (images with the class), IoU = M[a,b] / (M[a,a] + M[b,b] − M[a,b]) (true image-level IoU).
- `fcd_matrix(curves)`: forgettability curve dissimilarity = Euclidean distance between two
  classes' median forgetting curves (k > 0).
- `ols(y, X)`: least squares with intercept; coefficients, standard errors, t, p, R², F.
- `train_frequency(counts, classes, y)`: train positives per class and where they came from
  (the eval labels when the study has no train counts, e.g. an imported release) — the one
  definition the analysis and the dashboard both use.
- `class_exclusions(...)`: why a class is left out of a class-level correlation.
- `read_cooccurrence(root, split)`: the stored YᵀY, the one reader of it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from core.analysis import forgetting as fg

PAIR_VARIANTS = ("paper", "plain")
FREQ_FROM_COUNTS = "class_counts.train_pos"
FREQ_FROM_EVAL = "eval labels (no train counts in the study)"


def train_frequency(counts, classes, y) -> tuple[np.ndarray, str]:
    """Train positives per class: the one definition the analysis and the dashboard use.

    Args:
        counts (pd.DataFrame | None): data/class_counts.parquet (``class``, ``train_pos``).
        classes (Sequence[str]): class order.
        y (np.ndarray): the evaluation labels ``[N, C]`` (1 / 0 / NaN), used only when
            the study has no complete train counts (an imported release).

    Returns:
        tuple[np.ndarray, str]: float64 ``[C]`` positives and where they came from
        (FREQ_FROM_COUNTS or FREQ_FROM_EVAL).
    """
    if counts is not None and "train_pos" in counts and counts["train_pos"].notna().all():
        by = counts.set_index("class")["train_pos"]
        return by.reindex(list(classes)).to_numpy(dtype=np.float64), FREQ_FROM_COUNTS
    return (np.asarray(y, dtype=np.float64) == 1).sum(axis=0).astype(np.float64), FREQ_FROM_EVAL


def read_cooccurrence(root, split: str, y=None) -> np.ndarray:
    """The stored co-occurrence YᵀY of a split (data/cooccurrence_<split>.npy).

    Args:
        root (str | Path): the study folder.
        split (str): "train" or "eval".
        y (np.ndarray | None): the split's labels ``[N, C]`` (1 / 0 / NaN): when the file is
            absent, YᵀY is recomputed from them (NaN counted as 0,
            `core.data.stats.cooccurrence`); without them a missing file raises.

    Returns:
        np.ndarray: int64 ``[C, C]``; M[a, b] = images positive for both a and b.
    """
    from core import store
    from core.data.stats import cooccurrence

    path = store.StudyPaths(root).cooccurrence(split)
    if path.is_file() or y is None:
        return np.asarray(store.open_npy(path, mmap=False))
    return cooccurrence(y)


def class_exclusions(classes, values, log_freq, status=None, eval_pos=None,
                     missing: str = "undefined") -> dict[str, str]:
    """Why each class without a finite (value, log frequency) point is left out.

    Reasons in order: an undefined AP (reason from core.analysis.forgetting), then no train
    positives, then `missing`.

    Args:
        classes (Sequence[str]): the C class names.
        values (np.ndarray): float ``[C]`` the per-class statistic.
        log_freq (np.ndarray): float ``[C]`` ln train positives (NaN = none).
        status (np.ndarray | None): ``[C]`` first-drop status ('drops'/'never'/'undefined').
        eval_pos (np.ndarray | None): ``[C]`` eval positives, to say why an AP is undefined.
        missing (str): the reason for any other non-finite value (e.g. 'never drops').

    Returns:
        dict[str, str]: {class: reason}, only the excluded classes.
    """
    v = np.asarray(values, dtype=np.float64)
    lf = np.asarray(log_freq, dtype=np.float64)
    st = np.asarray(status) if status is not None else np.full(v.shape, "")
    why = (fg.undefined_reason(eval_pos) if eval_pos is not None
           else np.full(v.shape, fg.AP_UNDEFINED))
    out = {}
    for i, cls in enumerate(classes):
        if np.isfinite(v[i]) and np.isfinite(lf[i]):
            continue
        if st[i] == fg.UNDEFINED:
            out[str(cls)] = str(why[i])
        elif not np.isfinite(lf[i]):
            out[str(cls)] = "no train positives"
        else:
            out[str(cls)] = missing
    return out


def correlate(x, y) -> dict:
    """Pearson and Spearman correlation (scipy) over the points where both are finite.

    Args:
        x (array-like): float ``[n]``.
        y (array-like): float ``[n]``.

    Returns:
        dict: ``{"r", "p_r", "rho", "p_rho"}`` (float; NaN with fewer than 3 points or a
        constant variable) and ``"n"`` (int, the points used).

    Example:
        >>> res = correlate([1, 2, 3, np.nan], [2, 4, 7, 1])
        >>> res["n"], round(res["rho"], 3)
        (3, 1.0)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = {"r": math.nan, "p_r": math.nan, "rho": math.nan, "p_rho": math.nan, "n": int(ok.sum())}
    # Fewer than 3 points or a constant variable: the coefficients are undefined, not an error.
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    r, p_r = stats.pearsonr(x, y)
    rho, p_rho = stats.spearmanr(x, y)
    out.update(r=float(r), p_r=float(p_r), rho=float(rho), p_rho=float(p_rho))
    return out


def log_frequency(counts) -> np.ndarray:
    """Natural log of counts; NaN (not −inf) for a zero count, so it drops out of fits.

    Args:
        counts (array-like): float or int ``[C]``.

    Returns:
        np.ndarray: float64 ``[C]``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(counts)
    out[~np.isfinite(out)] = np.nan
    return out


def pair_index(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """All unordered class pairs a < b in class order (as itertools.combinations).

    Args:
        n_classes (int): C.

    Returns:
        tuple[np.ndarray, np.ndarray]: (a, b), int ``[C(C−1)/2]`` each.

    Example:
        >>> [x.tolist() for x in pair_index(3)]
        [[0, 0, 1], [1, 2, 2]]
    """
    a, b = np.triu_indices(n_classes, k=1)
    return a, b


def pair_statistics(cooc, variant: str = "paper") -> dict:
    """Frequency and IoU of every class pair from the co-occurrence matrix.

    Args:
        cooc (np.ndarray): ``[C, C]`` M = YᵀY of the evaluation labels.
        variant (str): "paper" (frequency = column sum of M, as the reference code) or
            "plain" (frequency = M[a, a]); see docs/definitions.md.

    Returns:
        dict: arrays over the ``C·(C−1)/2`` pairs a < b in class order: ``a``, ``b`` (class
        indices), ``freq_a``, ``freq_b``, ``log_freq_diff`` (|ln freq_a − ln freq_b|),
        ``iou``, ``iou4`` (= iou^(1/4)).
    """
    m = np.asarray(cooc, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"co-occurrence matrix must be square, got {m.shape}")
    if variant == "paper":
        freq = m.sum(axis=0)
    elif variant == "plain":
        freq = np.diag(m).copy()
    else:
        raise ValueError(f"pair variant {variant!r}; allowed: {', '.join(PAIR_VARIANTS)}")
    a, b = pair_index(m.shape[0])
    inter = m[a, b]
    union = freq[a] + freq[b] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan)
    log_f = log_frequency(freq)
    return {
        "a": a, "b": b, "freq_a": freq[a], "freq_b": freq[b],
        "log_freq_diff": np.abs(log_f[a] - log_f[b]),
        "iou": iou, "iou4": iou ** 0.25,
    }


def fcd_matrix(curves: np.ndarray) -> np.ndarray:
    """Forgettability curve dissimilarity: Euclidean distance between class curves.

    Args:
        curves (np.ndarray): float ``[K, C]``, the forgetting curves at the K sparsities > 0.

    Returns:
        np.ndarray: float64 ``[C, C]``, symmetric, 0 on the diagonal; NaN for a class with
        any NaN point (it has no defined curve).

    Example:
        >>> fcd_matrix(np.array([[0.0, -0.3], [-0.4, -0.7]]))[0, 1].round(6)
        np.float64(0.424264)
    """
    c = np.asarray(curves, dtype=np.float64).T
    diff = c[:, None, :] - c[None, :, :]
    return np.sqrt((diff ** 2).sum(axis=-1))


def ols(y, X, names: list[str] | None = None) -> dict:
    """Ordinary least squares y ~ 1 + X with the usual normal-theory inference.

    Rows with a NaN anywhere are dropped. Undefined (n <= terms, rank-deficient) → NaN.

    Args:
        y (np.ndarray): float ``[n]`` response.
        X (np.ndarray): float ``[n]`` or ``[n, p]`` predictors.
        names (list[str] | None): predictor names; default x1 … xp.

    Returns:
        dict: ``n``, ``terms`` (intercept first), ``coef``, ``se``, ``t``, ``p`` (two-sided
        t-tests, n − p − 1 degrees of freedom; lists), ``r2``, ``adj_r2``, ``f``, ``p_f``.

    Example:
        >>> fit = ols(np.array([1.0, 3.0, 5.0, 7.1]), np.array([0.0, 1.0, 2.0, 3.0]))
        >>> fit["terms"], [round(c, 2) for c in fit["coef"]]
        (['intercept', 'x1'], [0.98, 2.03])
    """
    y = np.asarray(y, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    names = list(names) if names else [f"x{i + 1}" for i in range(X.shape[1])]
    terms = ["intercept"] + names
    ok = np.isfinite(y) & np.isfinite(X).all(axis=1)
    y, X = y[ok], X[ok]
    n, k = X.shape[0], X.shape[1] + 1
    nan = [math.nan] * k
    out = {"n": int(n), "terms": terms, "coef": nan, "se": nan, "t": nan, "p": nan,
           "r2": math.nan, "adj_r2": math.nan, "f": math.nan, "p_f": math.nan}
    if n <= k:
        return out
    A = np.column_stack([np.ones(n), X])
    coef, _, rank, _ = np.linalg.lstsq(A, y, rcond=None)
    if rank < k:
        return out
    resid = y - A @ coef
    rss = float(resid @ resid)
    tss = float(((y - y.mean()) ** 2).sum())
    dof = n - k
    sigma2 = rss / dof
    cov = sigma2 * np.linalg.inv(A.T @ A)
    se = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = coef / se
    p = 2 * stats.t.sf(np.abs(t), dof)
    r2 = 1 - rss / tss if tss > 0 else math.nan
    adj = 1 - (1 - r2) * (n - 1) / dof if tss > 0 else math.nan
    f = ((tss - rss) / (k - 1)) / sigma2 if sigma2 > 0 and tss > 0 else math.nan
    p_f = float(stats.f.sf(f, k - 1, dof)) if np.isfinite(f) else math.nan
    out.update(coef=coef.tolist(), se=se.tolist(), t=t.tolist(), p=p.tolist(),
               r2=float(r2), adj_r2=float(adj), f=float(f), p_f=p_f)
    return out
