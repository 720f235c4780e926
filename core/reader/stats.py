"""Reader-study statistics: PIE vs non-PIE per question, agreement, ground truth.

All functions take the answers table of `ReaderDB.all_answers()` (one row per reader and
image: `reader`, `image_id`, `is_pie`, `agree` 0/1, `quality` 1–5, `difficulty` 1–5) and are
pure (frames in, frames out), so they are tested without a database or Streamlit.

PIE vs non-PIE: two-sided Mann-Whitney U and Kruskal-Wallis H (scipy), per reader and
pooled over readers. Pooled tests treat every answer as one observation, as the paper's
reader study did; per-reader rows show whether one reader drives the result.

Inter-reader agreement: Krippendorff's alpha — nominal for the yes/no question, ordinal
for the two 1–5 ratings. Chosen over Cohen's kappa (two raters only) and Fleiss' kappa (the
same number of raters for every image) because forms may be read by any number of readers,
some not finished; alpha uses every image read by at least two readers and, with two
raters and complete nominal data, is close to Scott's pi / Cohen's kappa. Observed pairwise
agreement is shown beside it for the yes/no question, since it is what people read first.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

QUESTIONS = {"agree": "Fully agrees with the label (1 = yes)",
             "quality": "Image quality (1 poor – 5 excellent)",
             "difficulty": "Diagnosis difficulty (1 very easy – 5 very difficult)"}
LEVELS = {"agree": "nominal", "quality": "ordinal", "difficulty": "ordinal"}
POOLED = "all readers (pooled)"
GROUPS = {True: "PIE", False: "non-PIE"}


# --------------------------------------------------------------------------- one read each
def first_reads(answers: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One answer per (reader, image): the reader's first saved read.

    Assignments refuse a form that shares an image with a reader's other forms (schema 2),
    so a repeat read can only come from a database made before that rule. Were it counted,
    one reader's opinion would weigh twice in the tests and, averaged, would become a value
    nobody gave (a yes and a no read as 0.5). The reader's first saved read is kept: it is
    the one made without having seen the image before.

    Args:
        answers (pd.DataFrame): reader answers (reader, image_id; ordered by saved, form_id,
            position when those columns exist, else by row order).

    Returns:
        tuple[pd.DataFrame, int]: (the kept answers in their original order, number of
        repeat reads dropped).
    """
    order = answers.sort_values(["saved", "form_id", "position"], kind="stable") \
        if {"saved", "form_id", "position"}.issubset(answers.columns) else answers
    kept = order.drop_duplicates(["reader", "image_id"], keep="first")
    return kept.sort_index(), int(len(answers) - len(kept))


# --------------------------------------------------------------------------- PIE vs non-PIE
def group_test(pie, non_pie) -> dict:
    """Means and two-sided Mann-Whitney U / Kruskal-Wallis tests of two samples.

    Non-finite values are left out.

    Args:
        pie (array-like): float answers on PIEs.
        non_pie (array-like): float answers on non-PIEs.

    Returns:
        dict: n_pie, n_non_pie, mean_pie, mean_non_pie, diff, u, p_mannwhitney, h,
        p_kruskal, note; NaN where undefined (an empty group, or Kruskal-Wallis on samples
        that are all the same value), with the reason in ``note``.
    """
    a = np.asarray(pie, dtype=float)
    b = np.asarray(non_pie, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    out = {"n_pie": len(a), "n_non_pie": len(b),
           "mean_pie": a.mean() if len(a) else np.nan,
           "mean_non_pie": b.mean() if len(b) else np.nan,
           "u": np.nan, "p_mannwhitney": np.nan, "h": np.nan, "p_kruskal": np.nan, "note": ""}
    out["diff"] = out["mean_pie"] - out["mean_non_pie"]
    if not len(a) or not len(b):
        out["note"] = "a group has no answers"
        return out
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    out["u"], out["p_mannwhitney"] = float(res.statistic), float(res.pvalue)
    if np.unique(np.concatenate([a, b])).size < 2:
        out["note"] = "every answer is the same: Kruskal-Wallis undefined"
        return out
    res = stats.kruskal(a, b)
    out["h"], out["p_kruskal"] = float(res.statistic), float(res.pvalue)
    return out


def compare_groups(answers: pd.DataFrame, questions=tuple(QUESTIONS)) -> pd.DataFrame:
    """PIEs vs non-PIEs per question: one row per (question, reader) plus a pooled row.

    Each (reader, image) counts once (`first_reads`).

    Args:
        answers (pd.DataFrame): reader answers (reader, image_id, is_pie and the questions).
        questions (Iterable[str]): the question columns compared.

    Returns:
        pd.DataFrame: question, reader (`POOLED` for all), and `group_test`'s fields.
    """
    answers, _ = first_reads(answers)
    rows = []
    for q in questions:
        scopes = [(POOLED, answers)] + [(r, g) for r, g in answers.groupby("reader", sort=True)]
        for reader, frame in scopes:
            pie = frame["is_pie"].astype(bool)
            res = group_test(frame.loc[pie, q], frame.loc[~pie, q])
            rows.append({"question": q, "reader": reader, **res})
    cols = ["question", "reader", "n_pie", "n_non_pie", "mean_pie", "mean_non_pie", "diff",
            "u", "p_mannwhitney", "h", "p_kruskal", "note"]
    return pd.DataFrame(rows, columns=cols)


def distributions(answers: pd.DataFrame, question: str) -> pd.DataFrame:
    """Count and share of each answer value within PIEs and within non-PIEs.

    Args:
        answers (pd.DataFrame): reader answers (is_pie and `question`).
        question (str): ``"agree"`` (values 0, 1) or a 1–5 rating.

    Returns:
        pd.DataFrame: group ('PIE' / 'non-PIE'), value, count, share (NaN for an empty group).
    """
    answers, _ = first_reads(answers)
    values = [0, 1] if question == "agree" else [1, 2, 3, 4, 5]
    rows = []
    for flag, name in GROUPS.items():
        sub = answers.loc[answers["is_pie"].astype(bool) == flag, question]
        counts = sub.value_counts()
        for v in values:
            n = int(counts.get(v, 0))
            rows.append({"group": name, "value": v, "count": n,
                         "share": n / len(sub) if len(sub) else np.nan})
    return pd.DataFrame(rows, columns=["group", "value", "count", "share"])


# --------------------------------------------------------------------------- agreement
def krippendorff_alpha(data, level: str = "nominal") -> float:
    """Krippendorff's alpha of a [raters, units] array (NaN = not rated).

    Coincidence-matrix form (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"):
    alpha = 1 − (n − 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, over units with ≥ 2 ratings.

    Args:
        data (np.ndarray): float ``[raters, units]``, NaN = not rated.
        level (str): ``"nominal"`` or ``"ordinal"`` (the distance δ²).

    Returns:
        float: alpha; NaN when fewer than two values occur (no disagreement is possible to
        measure) or fewer than two pairable ratings.

    Raises:
        ValueError: when `data` is not 2-D.

    Example:
        >>> krippendorff_alpha([[1, 1, 2, 2], [1, 1, 2, 2]])
        1.0
    """
    x = np.asarray(data, dtype=float)
    if x.ndim != 2:
        raise ValueError("expected a [raters, units] array")
    values = np.unique(x[np.isfinite(x)])
    if values.size < 2:
        return float("nan")
    index = {v: i for i, v in enumerate(values)}
    o = np.zeros((values.size, values.size))
    for unit in x.T:
        vals = unit[np.isfinite(unit)]
        m = vals.size
        if m < 2:
            continue
        counts = np.zeros(values.size)
        for v in vals:
            counts[index[v]] += 1
        # Ordered pairs of different raters within the unit, each weighted 1/(m − 1).
        o += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = o.sum(1)
    n = n_c.sum()
    if n < 2:
        return float("nan")
    d2 = _delta2(values, n_c, level)
    expected = (np.outer(n_c, n_c) * d2).sum()
    if expected == 0:
        return float("nan")
    return float(1.0 - (n - 1) * (o * d2).sum() / expected)


def _delta2(values: np.ndarray, n_c: np.ndarray, level: str) -> np.ndarray:
    k = values.size
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "interval":
        return np.subtract.outer(values, values) ** 2
    if level == "ordinal":
        d = np.zeros((k, k))
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        for c in range(k):
            for g in range(c, k):
                # Σ_{c ≤ i ≤ g} n_i − (n_c + n_g)/2: distance in ranks between the two values.
                d[c, g] = d[g, c] = (cum[g + 1] - cum[c] - (n_c[c] + n_c[g]) / 2) ** 2
        return d
    raise ValueError(f"level {level!r}; allowed: nominal, ordinal, interval")


def reliability_matrix(answers: pd.DataFrame, question: str) -> pd.DataFrame:
    """[reader, image] table of one question's answers as given.

    Each cell is one real answer: repeat reads are dropped first (`first_reads`), never
    averaged into a value nobody gave.

    Args:
        answers (pd.DataFrame): reader answers (reader, image_id, `question`).
        question (str): the question column.

    Returns:
        pd.DataFrame: index reader, columns image_id; NaN = not read by that reader.
    """
    answers, _ = first_reads(answers)
    return answers.pivot(index="reader", columns="image_id", values=question)


def pairwise_agreement(matrix: pd.DataFrame) -> float:
    """Share of agreeing (reader, reader) pairs over images read by ≥ 2 readers.

    Args:
        matrix (pd.DataFrame): `reliability_matrix`'s result.

    Returns:
        float: in [0, 1]; NaN when no image has two readers.
    """
    agree = total = 0.0
    for col in matrix.columns:
        v = matrix[col].dropna().to_numpy()
        m = v.size
        if m < 2:
            continue
        same = sum(int((v == x).sum()) - 1 for x in v)  # ordered pairs with equal values
        agree += same / (m - 1)
        total += m
    return agree / total if total else float("nan")


def agreement(answers: pd.DataFrame) -> pd.DataFrame:
    """Krippendorff's alpha per question, over all images and within PIEs / non-PIEs.

    Args:
        answers (pd.DataFrame): reader answers (reader, image_id, is_pie, the questions).

    Returns:
        pd.DataFrame: question, images (scope), level, alpha, observed_agreement (agree
        only), n_images_multi_read, n_readers; NaN where no image has two readers.
    """
    rows = []
    scopes = [("all images", answers)] + [
        (GROUPS[f], answers[answers["is_pie"].astype(bool) == f]) for f in (True, False)]
    for q in QUESTIONS:
        for scope, frame in scopes:
            mat = reliability_matrix(frame, q) if len(frame) else pd.DataFrame()
            multi = int((mat.notna().sum(axis=0) >= 2).sum()) if len(mat) else 0
            rows.append({
                "question": q, "images": scope, "level": LEVELS[q],
                "alpha": krippendorff_alpha(mat.to_numpy(), LEVELS[q]) if multi else np.nan,
                "observed_agreement": pairwise_agreement(mat) if multi and q == "agree"
                else np.nan,
                "n_images_multi_read": multi, "n_readers": int(len(mat))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- ground truth
def has_groundtruth(declared) -> bool:
    """Whether the dataset declares both ground-truth columns the comparison needs.

    Args:
        declared (Iterable[str]): `core.data.base.ground_truth_columns(study["dataset"],
            labels.columns)`.

    Returns:
        bool: True when both label_noise and quality are declared.
    """
    return {"label_noise", "quality"}.issubset(declared)


def groundtruth(answers: pd.DataFrame, labels: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Readers' answers against SynthCXR's known label noise and image quality.

    Args:
        answers (pd.DataFrame): reader answers (reader, image_id, is_pie, agree, quality,
            difficulty).
        labels (pd.DataFrame): eval labels with id, label_noise and quality.

    Returns:
        dict[str, pd.DataFrame]: ``noise`` (agreement with the label on images whose label
        is known to be noisy vs clean, with Mann-Whitney p), ``quality`` (Spearman ρ between
        rated quality — and rated difficulty — and the true quality, per reader and pooled),
        and ``sample`` (true label-noise rate and mean true quality of the PIEs and non-PIEs
        that were read).
    """
    answers, _ = first_reads(answers)
    truth = labels[["id", "label_noise", "quality"]].rename(
        columns={"id": "image_id", "quality": "true_quality"})
    truth = truth.assign(image_id=truth["image_id"].astype(str),
                         label_noise=truth["label_noise"].astype(bool))
    df = answers.merge(truth, on="image_id", how="inner")
    noise_rows, q_rows = [], []
    scopes = [(POOLED, df)] + [(r, g) for r, g in df.groupby("reader", sort=True)]
    for reader, frame in scopes:
        noisy = frame["label_noise"]
        res = group_test(frame.loc[noisy, "agree"], frame.loc[~noisy, "agree"])
        noise_rows.append({"reader": reader, "n_noisy": res["n_pie"], "n_clean": res["n_non_pie"],
                           "agree_rate_noisy": res["mean_pie"],
                           "agree_rate_clean": res["mean_non_pie"],
                           "p_mannwhitney": res["p_mannwhitney"]})
        for q in ("quality", "difficulty"):
            rho, p = _spearman(frame[q], frame["true_quality"])
            q_rows.append({"reader": reader, "rating": q, "n": len(frame), "rho_vs_true_quality":
                           rho, "p": p})
    sample = []
    per_image = df.drop_duplicates("image_id")
    for flag, name in GROUPS.items():
        sub = per_image[per_image["is_pie"].astype(bool) == flag]
        sample.append({"group": name, "n_images": len(sub),
                       "label_noise_rate": sub["label_noise"].mean() if len(sub) else np.nan,
                       "mean_true_quality": sub["true_quality"].mean() if len(sub) else np.nan})
    return {"noise": pd.DataFrame(noise_rows), "quality": pd.DataFrame(q_rows),
            "sample": pd.DataFrame(sample)}


def _spearman(a, b) -> tuple[float, float]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.unique(a[ok]).size < 2 or np.unique(b[ok]).size < 2:
        return float("nan"), float("nan")
    res = stats.spearmanr(a[ok], b[ok])
    return float(res.statistic), float(res.pvalue)
