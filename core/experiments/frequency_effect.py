"""What a signature loses when its label is rarer: the frequency experiment's statistics.

Inputs: the two verified arm studies (same labels, images, seeds; different signature maps).
Per arm and label column, the statistics `core analyze` reports (core.analysis.forgetting):
first k%-drop sparsity of the median-over-seeds relative AP curve, relative AP change at the
`at` sparsity, dense AP (median over seeds). They are re-indexed from label columns to
signatures: in the identity arm signature s sits on column s, in the reversed arm on the
column whose map value is s.

Per signature s: common arm = the arm where s's column has more training positives (f_common),
rare arm the other (f_rare); d_s = log10(f_common / f_rare); Δ_s = value(rare) − value(common).
"Per 10× rarer" is Δ_s / d_s, and pooled the least-squares slope through the origin
Σ d_s Δ_s / Σ d_s² over the signatures with a finite Δ_s.

Intervals: one bootstrap plan (core.analysis.uncertainty.make_plan: images, then seeds, with
replacement) is applied to BOTH arms, so every replicate compares the arms on the same images
and seeds (a paired bootstrap); percentile intervals, NaN replicates left out and counted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core import predictions, store
from core.analysis import forgetting as fg
from core.analysis import uncertainty as unc
from core.analysis.study_inputs import load_study
from core.data.synth_findings import FINDINGS
from core.metrics import label_codes

METRICS = ("first_drop", "rel_ap_at", "dense_ap")
POOLED = "pooled"


def arm_statistics(root, method: str, seeds, sparsities, plan: unc.Plan, y: np.ndarray,
                   drop_percent: float, at_sparsity: int) -> dict[str, tuple]:
    """Point values and bootstrap replicates of the experiment's metrics in one arm.

    Args:
        root (str | Path): the arm's study folder.
        method (str): the method.
        seeds (list[int]): the K seeds used.
        sparsities (list[int]): the grid (S).
        plan (Plan): the shared bootstrap plan.
        y (np.ndarray): float ``[N, C]`` eval labels.
        drop_percent (float): k of the first k%-drop.
        at_sparsity (int): the sparsity of the relative change.

    Returns:
        dict[str, tuple]: ``first_drop``, ``rel_ap_at``, ``dense_ap`` → (point ``[C]``,
        replicates ``[B, C]``), every label column.

    Raises:
        ValueError: when `at_sparsity` is not in the grid.
    """
    codes = label_codes(y)[None]                          # [1, N, C]: all images
    n_s, n_c = len(sparsities), y.shape[1]
    points = np.empty((len(seeds), n_s, n_c))
    reps = np.empty((len(seeds), n_s, n_c, plan.n_boot), dtype=np.float32)
    for i, seed in enumerate(seeds):
        scores = np.asarray(predictions.read_scores(root, method, seed), dtype=np.float32)
        p, r = unc.seed_replicates(scores, codes, plan, i)
        points[i], reps[i] = p[:, 0], r[:, 0]
    ci = unc.summarise_method(points, reps, plan)
    i_at = list(sparsities).index(at_sparsity)
    first_b = fg.first_drop_sparsity(np.moveaxis(ci.rel_reps, 0, -1), sparsities,
                                      drop_percent).T
    return {
        "first_drop": (fg.first_drop_sparsity(ci.rel, sparsities, drop_percent), first_b),
        "rel_ap_at": (ci.rel[i_at], ci.rel_reps[:, i_at, :]),
        "dense_ap": (ci.ap[0], ci.ap_reps[:, 0, :]),
    }


def columns_of_signatures(sig_map: dict[str, str] | None, classes) -> np.ndarray:
    """Index into `classes` of the label column each finding's signature is drawn on.

    Args:
        sig_map (dict[str, str] | None): {label column: finding}; None = identity.
        classes (Sequence[str]): the study's classes.

    Returns:
        np.ndarray: int ``[14]`` in `FINDINGS` order.
    """
    drawn_on = {f: f for f in FINDINGS} if sig_map is None else {
        sig: column for column, sig in sig_map.items()}
    return np.array([list(classes).index(drawn_on[finding]) for finding in FINDINGS])


def pooled_slope(delta: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Σ d·Δ / Σ d² over the finite Δ along the last axis (least squares through 0).

    Only points with d > 0 count.

    Args:
        delta (np.ndarray): float ``[..., P]`` differences.
        d (np.ndarray): float ``[P]`` log10 frequency ratios.

    Returns:
        np.ndarray: float64 ``[...]``; NaN where no point counts.

    Example:
        >>> float(pooled_slope(np.array([0.2, 0.4, np.nan]), np.array([1.0, 2.0, 1.0])))
        0.2
    """
    delta = np.asarray(delta, dtype=np.float64)
    ok = np.isfinite(delta) & np.isfinite(d) & (d > 0)
    num = np.where(ok, delta * d, 0.0).sum(axis=-1)
    den = np.where(ok, d * d, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _check_same(ident: dict, rev: dict) -> None:
    if ident["classes"] != rev["classes"]:
        raise ValueError("the two arms have different classes: not one experiment")
    if not np.array_equal(ident["y"], rev["y"], equal_nan=True):
        raise ValueError("the two arms have different evaluation labels: not one experiment")


def _train_pos(study: dict) -> np.ndarray:
    counts = study["counts"]
    if counts is None or "train_pos" not in counts:
        raise ValueError(f"{study['paths'].class_counts}: training counts missing")
    return counts.set_index("class")["train_pos"].reindex(study["classes"]).to_numpy(float)


def _require_units(root, seeds) -> None:
    """A study not yet finalised (no manifest): its data unit and these seeds' units must be
    done, every file they list matching its recorded sha256 (core.study's resume check)."""
    from core.study.markers import unit_is_done
    from core.study.prepare import data_files

    paths = store.StudyPaths(root)
    if not unit_is_done(paths, None, paths.data_marker, required=data_files(paths)):
        raise ValueError(f"{root}: its data files are not complete and verified")
    missing = [seed for seed in seeds if not unit_is_done(paths, seed)]
    if missing:
        raise ValueError(f"{root}: seed(s) {missing} not finished (or their files changed)")


def compute(identity_root, reversed_root, sig_map: dict[str, str], cfg,
            seeds: list[int] | None = None) -> dict:
    """Both arms verified, read and compared.

    Args:
        identity_root (str | Path): the identity arm's study.
        reversed_root (str | Path): the reversed arm's study.
        sig_map (dict[str, str]): the reversed arm's signature map.
        cfg (StudyConfig): the identity arm's config (seeds, sparsities, method, analysis).
        seeds (list[int] | None): a subset of the config's seeds, for a partial result from
            arms that are not finished (each used seed's files verified by its unit marker
            instead of the manifest).

    Returns:
        dict: ``arms`` (per arm and signature: metric values with bounds), ``effects``
        (per metric and signature, plus a pooled row: rare − common difference and its
        value per 10× rarer, with bounds) DataFrames, and ``summary``.

    Raises:
        StudyNotVerified: when an arm does not verify.
        ValueError: when the arms differ in data or training counts, or (with `seeds`)
            a used seed's files are not complete and verified.
    """
    for root in (identity_root, reversed_root):
        if seeds is None:
            store.require_verified(root)   # never compare predictions that fail verification
        else:
            _require_units(root, seeds)
    ident, rev = load_study(identity_root), load_study(reversed_root)
    _check_same(ident, rev)
    classes, y = ident["classes"], ident["y"]
    train_pos = _train_pos(ident)
    if not np.array_equal(train_pos, _train_pos(rev)):
        raise ValueError("the two arms have different training counts: not one experiment")
    seeds, sparsities = list(cfg.seeds if seeds is None else seeds), list(cfg.sparsities)
    a = cfg.analysis
    plan = unc.make_plan(len(y), len(seeds), a.bootstrap, a.bootstrap_seed, a.ci_level)
    stats = {arm: arm_statistics(root, cfg.methods[0], seeds, sparsities, plan, y,
                                 a.drop_percent, a.at_sparsity)
             for arm, root in (("identity", identity_root), ("reversed", reversed_root))}
    cols = {"identity": columns_of_signatures(None, classes),
            "reversed": columns_of_signatures(sig_map, classes)}
    f = {arm: train_pos[c] for arm, c in cols.items()}           # [14] per signature
    rare_is_rev = f["reversed"] < f["identity"]
    f_common = np.where(rare_is_rev, f["identity"], f["reversed"])
    f_rare = np.where(rare_is_rev, f["reversed"], f["identity"])
    d = np.log10(f_common / f_rare)
    eval_pos = (y == 1).sum(axis=0)
    arms_rows, effect_rows, pooled = [], [], {}
    for arm in ("identity", "reversed"):
        rare_here = rare_is_rev if arm == "reversed" else ~rare_is_rev
        frame = pd.DataFrame({
            "arm": arm, "signature": FINDINGS,
            "label_column": [classes[c] for c in cols[arm]],
            "train_pos": f[arm].astype(np.int64),
            "eval_pos": eval_pos[cols[arm]].astype(np.int64),
            "role": np.where(f_common == f_rare, "equal", np.where(rare_here, "rare", "common")),
        })
        for m in METRICS:
            point, reps = stats[arm][m]
            lo, hi = _bounds(m, reps[:, cols[arm]], plan.level)
            frame[m], frame[f"{m}_lo"], frame[f"{m}_hi"] = point[cols[arm]], lo, hi
        arms_rows.append(frame)
    for m in METRICS:
        val = {arm: stats[arm][m][0][cols[arm]] for arm in stats}            # [14]
        rep = {arm: stats[arm][m][1][:, cols[arm]].astype(np.float64) for arm in stats}
        common = np.where(rare_is_rev, val["identity"], val["reversed"])
        rare = np.where(rare_is_rev, val["reversed"], val["identity"])
        rep_common = np.where(rare_is_rev, rep["identity"], rep["reversed"])
        rep_rare = np.where(rare_is_rev, rep["reversed"], rep["identity"])
        delta, delta_b = rare - common, rep_rare - rep_common                # [14], [B, 14]
        with np.errstate(invalid="ignore", divide="ignore"):
            per, per_b = delta / d, delta_b / d
        dl, dh, n_b = unc.interval(delta_b, plan.level)
        pl, ph, _ = unc.interval(per_b, plan.level)
        effect_rows.append(pd.DataFrame({
            "metric": m, "signature": FINDINGS, "common_value": common, "rare_value": rare,
            "f_common": f_common.astype(np.int64), "f_rare": f_rare.astype(np.int64),
            "log10_ratio": d, "difference": delta, "difference_lo": dl, "difference_hi": dh,
            "per_10x": per, "per_10x_lo": pl, "per_10x_hi": ph, "n_boot": n_b}))
        slope, slope_b = float(pooled_slope(delta, d)), pooled_slope(delta_b, d)
        lo, hi, n = (float(v) for v in unc.interval(slope_b, plan.level))
        pooled[m] = {"per_10x": slope, "lo": float(lo), "hi": float(hi), "n_boot": int(n),
                     "n_signatures": int(np.isfinite(delta).sum())}
        effect_rows.append(pd.DataFrame({
            "metric": [m], "signature": [POOLED], "common_value": [np.nan],
            "rare_value": [np.nan], "f_common": [0], "f_rare": [0], "log10_ratio": [np.nan],
            "difference": [np.nan], "difference_lo": [np.nan], "difference_hi": [np.nan],
            "per_10x": [slope], "per_10x_lo": [lo], "per_10x_hi": [hi], "n_boot": [n]}))
    summary = {
        "pooled": pooled, "n_eval_images": int(len(y)), "seeds": seeds,
        "n_boot": plan.n_boot, "bootstrap_seed": plan.rng_seed, "ci_level": plan.level,
        "drop_percent": a.drop_percent, "at_sparsity": a.at_sparsity,
        "per_10x": "value in the rare arm minus value in the common arm, divided by "
                   "log10(f_common / f_rare) (training positives); pooled: "
                   "sum(d*delta) / sum(d^2) over signatures with a finite delta",
    }
    return {"arms": pd.concat(arms_rows, ignore_index=True),
            "effects": pd.concat(effect_rows, ignore_index=True), "summary": summary}


def _bounds(metric: str, reps: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-arm interval: grid sparsities for the first drop (never ranks last), else linear."""
    if metric == "first_drop":
        return unc.sparsity_interval(reps, level)
    lo, hi, _ = unc.interval(reps, level)
    return lo, hi
