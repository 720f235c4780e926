"""Beyond the paper: confidence intervals, subgroups, missed findings and calibration tables.

`run(...)` is called once by `analyze_study` after the paper's tables; it reads every seed's
predictions once more through core.predictions (ranking scores for AP, probabilities for
thresholds and calibration) and writes the tables listed in docs/ARCHITECTURE.md ("Beyond the
paper"). It returns the JSON-able facts that go into analysis/params.json under "extended"
(the stored key keeps the name it has in every analysed study).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from core import store
from core.analysis import calibration as cal
from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis import missed as ms
from core.analysis import subgroups as sg
from core.analysis import thresholds as th
from core.analysis import uncertainty as unc
from core.analysis.over_seeds import median_over_seeds
from core.metrics import label_codes
from core.store import StudyPaths, json_safe

TABLES = (StudyPaths.CI_PER_CLASS, StudyPaths.CI_OVERALL, StudyPaths.CI_CLASS_SUMMARY,
          StudyPaths.CI_CORRELATIONS, StudyPaths.SUBGROUPS, StudyPaths.SUBGROUP_WORST,
          StudyPaths.SUBGROUP_PIES, StudyPaths.THRESHOLDS, StudyPaths.MISSED,
          StudyPaths.CALIBRATION, StudyPaths.CALIBRATION_BINS)

SUB_COLUMNS = ["method", "attribute", "group", "class", "sparsity", "ap", "ap_lo", "ap_hi",
               "rel_ap", "rel_ap_lo", "rel_ap_hi", "n_images", "n_pos", "note"]


# ----------------------------------------------------------------------------- inputs
def _predictions_module():
    # core.predictions (the one reader of stored predictions) is being added in parallel;
    # until it is in this tree, read the float16 store directly (same values, same order).
    try:
        from core import predictions
    except ImportError:
        return None
    return predictions


def read_scores(root, method: str, seed: int) -> np.ndarray:
    """One seed's stored scores, ranking exactly as stored (for AP).

    Args:
        root (str | Path): the study folder.
        method (str): the method.
        seed (int): the seed.

    Returns:
        np.ndarray: float32 ``[S, N, C]``.
    """
    mod = _predictions_module()
    if mod is None:
        return np.asarray(store.open_npy(store.StudyPaths(root).predictions(method, seed)),
                          dtype=np.float32)
    return np.asarray(mod.read_scores(root, method, seed), dtype=np.float32)


def read_probabilities(root, method: str, seed: int) -> np.ndarray:
    """One seed's stored sigmoid probabilities.

    Args:
        root (str | Path): the study folder.
        method (str): the method.
        seed (int): the seed.

    Returns:
        np.ndarray: float32 ``[S, N, C]``.
    """
    mod = _predictions_module()
    if mod is None:
        return read_scores(root, method, seed)   # the float16 store holds sigmoid outputs
    return np.asarray(mod.read_probabilities(root, method, seed), dtype=np.float32)


# ----------------------------------------------------------------------------- tables
def _grid_frame(method, sparsities, classes, **arrays) -> pd.DataFrame:
    n_sparsities, n_classes = len(sparsities), len(classes)
    i_sparsity, i_class = np.indices((n_sparsities, n_classes)).reshape(2, -1)
    return pd.DataFrame({"method": method, "class": np.asarray(classes, dtype=object)[i_class],
                         "sparsity": np.asarray(sparsities, dtype=np.int64)[i_sparsity],
                         **{k: np.asarray(v, dtype=np.float64).ravel() for k, v in
                            arrays.items()}})


def ci_tables(method, classes, sparsities, ci: unc.MethodCI, plan, log_freq, cfg) -> dict:
    """The interval tables of one method over all images.

    Args:
        method (str): the method, written into each row.
        classes (list[str]): the C class names.
        sparsities (list[int]): the grid (S).
        ci (MethodCI): the method's points and replicates.
        plan (Plan): the shared bootstrap plan (its level is used).
        log_freq (np.ndarray): float ``[C]`` ln train positives.
        cfg (StudyConfig): gives drop_percent and at_sparsity.

    Returns:
        dict: ``per_class`` (AP and relative AP with bounds per sparsity and class),
        ``overall`` (mAP and relative mAP with bounds per sparsity), ``summary`` (first drop,
        its bounds, first significant drop, relative AP at ``at_sparsity`` with bounds, per
        class) as DataFrames, and ``corr`` {name: r, rho with bounds, n}.

    Raises:
        ValueError: when ``cfg.at_sparsity`` is not in `sparsities`.
    """
    level = plan.level
    ap_lo, ap_hi, n_ap = unc.interval(ci.ap_reps, level)
    rel_lo, rel_hi, _ = unc.interval(ci.rel_reps, level)
    per_class = _grid_frame(method, sparsities, classes, ap=ci.ap, ap_lo=ap_lo, ap_hi=ap_hi,
                            rel_ap=ci.rel, rel_ap_lo=rel_lo, rel_ap_hi=rel_hi, n_boot=n_ap)
    rel_map_reps = unc.relative(ci.map_reps[:, :, None], 1)[:, :, 0]
    rel_map = unc.relative(ci.map[:, None], 0)[:, 0]
    m_lo, m_hi, _ = unc.interval(ci.map_reps, level)
    rm_lo, rm_hi, _ = unc.interval(rel_map_reps, level)
    overall = pd.DataFrame({"method": method, "sparsity": np.asarray(sparsities, np.int64),
                            "map": ci.map, "map_lo": m_lo, "map_hi": m_hi, "rel_map": rel_map,
                            "rel_map_lo": rm_lo, "rel_map_hi": rm_hi})
    drop = cfg.drop_percent
    first = fg.first_drop_sparsity(ci.rel, sparsities, drop)
    first_b = fg.first_drop_sparsity(np.moveaxis(ci.rel_reps, 0, -1), sparsities, drop).T
    f_lo, f_hi = unc.sparsity_interval(first_b, level)
    i_at = list(sparsities).index(cfg.at_sparsity)
    at_b = ci.rel_reps[:, i_at, :]
    a_lo, a_hi, _ = unc.interval(at_b, level)
    summary = pd.DataFrame({
        "method": method, "class": list(classes), "first_drop": first, "first_drop_lo": f_lo,
        "first_drop_hi": f_hi,
        "first_significant_drop": unc.first_significant_drop(rel_hi, sparsities, drop),
        "rel_ap_at": ci.rel[i_at], "rel_ap_at_lo": a_lo, "rel_ap_at_hi": a_hi})
    corr = {}
    reps = unc.correlation_replicates(first_b, at_b, log_freq)
    for name, values in (("first_drop_vs_log_freq", first), ("rel_ap_at_vs_log_freq",
                                                               ci.rel[i_at])):
        point = fq.correlate(values, log_freq)
        entry = {"n": point["n"]}
        for stat in ("r", "rho"):
            lo, hi, n_def = unc.interval(reps[f"{name}.{stat}"], level)
            entry.update({stat: point[stat], f"{stat}_lo": lo, f"{stat}_hi": hi,
                          f"{stat}_n_boot": n_def})
        corr[name] = entry
    return {"per_class": per_class, "overall": overall, "summary": summary, "corr": corr}


def subgroup_table(method, classes, sparsities, groups, points, reps, n_pos_q, plan,
                   min_pos) -> pd.DataFrame:
    """Rows per (attribute, group, class, sparsity) for the groups 1..G.

    Values of cells with fewer than `min_pos` positives are NaN with a note.

    Args:
        method (str): the method.
        classes (list[str]): the C class names.
        sparsities (list[int]): the grid (S).
        groups (list[tuple[str, str, np.ndarray]]): the G groups.
        points (np.ndarray): float ``[K, S, 1 + G, C]`` per-seed AP.
        reps (np.ndarray): float32 ``[K, S, 1 + G, C, B]`` per-seed replicate AP.
        n_pos_q (np.ndarray): int ``[1 + G, C]`` positives per group and class.
        plan (Plan): the shared bootstrap plan.
        min_pos (int): fewest positives for a value.

    Returns:
        pd.DataFrame: `SUB_COLUMNS` (empty when there is no group).
    """
    frames = []
    for qi, (attr, name, mask) in enumerate(groups, start=1):
        ap = median_over_seeds(points[:, :, qi], 0)
        rel = median_over_seeds(unc.relative(points[:, :, qi], 1), 0)
        ap_b = unc.over_drawn_seeds(reps[:, :, qi], plan)
        rel_b = unc.over_drawn_seeds(unc.relative(reps[:, :, qi], 1), plan)
        ap_lo, ap_hi, _ = unc.interval(ap_b, plan.level)
        rel_lo, rel_hi, _ = unc.interval(rel_b, plan.level)
        f = _grid_frame(method, sparsities, classes, ap=ap, ap_lo=ap_lo, ap_hi=ap_hi,
                        rel_ap=rel, rel_ap_lo=rel_lo, rel_ap_hi=rel_hi)
        f.insert(1, "attribute", attr)
        f.insert(2, "group", name)
        f["n_images"] = int(mask.sum())
        npos = np.tile(n_pos_q[qi], len(sparsities))
        f["n_pos"] = npos
        few = npos < min_pos
        f["note"] = np.where(few, f"{sg.NOTE_FEW} (< {min_pos})", "")
        f.loc[few, ["ap", "ap_lo", "ap_hi", "rel_ap", "rel_ap_lo", "rel_ap_hi"]] = np.nan
        frames.append(f)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SUB_COLUMNS)


# ----------------------------------------------------------------------------- driver
def run(paths, labels: pd.DataFrame, y: np.ndarray, classes, methods, seeds, sparsities,
        train_pos, pie_masks: dict, cfg, log=None, keep: dict | None = None) -> dict:
    """Compute and write every table of this module; returns facts for params.json.

    Args:
        paths (StudyPaths): the study's paths.
        labels (pd.DataFrame): eval labels in row order.
        y (np.ndarray): float ``[N, C]`` labels (1/0/NaN).
        classes (list[str]): the C class names.
        methods (list[str]): the methods.
        seeds (list[int]): the seeds (K).
        sparsities (list[int]): the grid (S).
        train_pos (np.ndarray): ``[C]`` train positives.
        pie_masks (dict[str, dict[str, np.ndarray]]): method → {definition: bool ``[N]``}.
        cfg (StudyConfig): bootstrap, thresholds, calibration and subgroup settings.
        log (Callable[[str], None] | None): progress messages.
        keep (dict | None): receives the bootstrap plan (``"plan"``) and each method's
            replicate forgetting curves (``"rel_reps"``: {method: ``[B, S, C]``}) for the
            paper check, which reuses them instead of drawing its own.

    Returns:
        dict: facts for params.json (bootstrap, subgroups, thresholds, calibration, seconds).
    """
    log = log or (lambda msg: None)
    t0, c0 = time.perf_counter(), time.process_time()
    root = paths.root
    codes = label_codes(y)
    groups, absent = sg.define_groups(labels)
    codes_q = sg.group_codes(codes, groups)
    n_pos_q = sg.positives(codes_q)
    plan = unc.make_plan(len(y), len(seeds), cfg.bootstrap, cfg.bootstrap_seed, cfg.ci_level)
    log_freq = fq.log_frequency(train_pos)
    thr, thr_note = th.seed_thresholds(root, seeds, classes, cfg.threshold_rule)
    thr_by_seed = {seed: g.set_index("class")["threshold"].reindex(classes).to_numpy()
                   for seed, g in thr.groupby("seed")} if len(thr) else {}
    out = {k: [] for k in ("per_class", "overall", "summary", "sub", "pies", "missed", "cal",
                           "bins")}
    corr, seconds = {}, {"bootstrap": 0.0, "missed_calibration": 0.0}
    n_s, n_c, q = len(sparsities), len(classes), codes_q.shape[0]
    for method in methods:
        log(f"{method}: bootstrap (B = {plan.n_boot}, {q - 1} subgroups)")
        points = np.empty((len(seeds), n_s, q, n_c))
        reps = np.empty((len(seeds), n_s, q, n_c, plan.n_boot), dtype=np.float32)
        bins = None
        for i, seed in enumerate(seeds):
            t1 = time.perf_counter()
            points[i], reps[i] = unc.seed_replicates(read_scores(root, method, seed), codes_q,
                                                     plan, i)
            t2 = time.perf_counter()
            probs = read_probabilities(root, method, seed)
            rb = cal.reliability(probs, y, cfg.calibration_bins)
            bins = rb if bins is None else {k: bins[k] + rb[k] for k in bins}
            out["cal"].append(_grid_frame(method, sparsities, classes, ece=cal.ece_from_bins(rb),
                                          brier=cal.brier(probs, y)).assign(seed=int(seed)))
            if seed in thr_by_seed:
                rates = ms.missed_findings(probs, y, thr_by_seed[seed])
                f = _grid_frame(method, sparsities, classes,
                                **{k: rates[k] for k in ms.RATES}).assign(seed=int(seed))
                f["threshold"] = np.tile(thr_by_seed[seed], n_s)
                out["missed"].append(f)
            seconds["bootstrap"] += t2 - t1
            seconds["missed_calibration"] += time.perf_counter() - t2
        ci = unc.summarise_method(points[:, :, 0], reps[:, :, 0], plan)
        if keep is not None:
            keep["plan"] = plan
            keep.setdefault("rel_reps", {})[method] = ci.rel_reps
        tabs = ci_tables(method, classes, sparsities, ci, plan, log_freq, cfg)
        out["per_class"].append(tabs["per_class"])
        out["overall"].append(tabs["overall"])
        out["summary"].append(tabs["summary"])
        corr[method] = tabs["corr"]
        out["sub"].append(subgroup_table(method, classes, sparsities, groups, points, reps,
                                         n_pos_q, plan, cfg.min_group_positives))
        for definition, mask in pie_masks.get(method, {}).items():
            pe = sg.pie_enrichment(groups, mask)
            pe.insert(0, "definition", definition)
            pe.insert(0, "method", method)
            out["pies"].append(pe)
        out["bins"].append(_bins_frame(method, sparsities, classes, bins))
        del points, reps
    _write(paths, out, corr, thr)
    sub = pd.concat(out["sub"], ignore_index=True) if out["sub"] else pd.DataFrame()
    return {
        "n_boot": plan.n_boot, "bootstrap_seed": plan.rng_seed, "ci_level": plan.level,
        "ci_method": "percentile; images resampled with the same draw for every sparsity, "
                     "class, subgroup, seed and method; seeds resampled as a second level "
                     "(median over the drawn seeds)",
        "seed_level": len(seeds) > 1,
        "subgroups": [{"attribute": a, "group": g, "n_images": int(m.sum())}
                      for a, g, m in groups],
        "subgroups_absent": absent, "min_group_positives": cfg.min_group_positives,
        "n_subgroup_rows_too_few": int((sub.get("note", pd.Series(dtype=str)) != "").sum()),
        "threshold_rule": cfg.threshold_rule, "thresholds_note": thr_note,
        "missed_findings": bool(thr_by_seed), "calibration_bins": cfg.calibration_bins,
        "seconds": {k: round(v, 3) for k, v in
                    {**seconds, "total": time.perf_counter() - t0,
                     "total_cpu": time.process_time() - c0}.items()},
    }


def _bins_frame(method, sparsities, classes, bins) -> pd.DataFrame:
    n_sparsities, n_classes, nb = bins["count"].shape
    i_sparsity, i_class, i_bin = np.indices((n_sparsities, n_classes, nb)).reshape(3, -1)
    count = bins["count"].ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = bins["sum_prob"].ravel() / count
        frac_pos = bins["sum_pos"].ravel() / count
    return pd.DataFrame({"method": method,
                         "sparsity": np.asarray(sparsities, np.int64)[i_sparsity],
                         "class": np.asarray(classes, dtype=object)[i_class], "bin": i_bin,
                         "bin_lo": i_bin / nb, "bin_hi": (i_bin + 1) / nb, "count": count.astype(
                             np.int64), "mean_prob": mean_prob, "frac_pos": frac_pos})


def _write(paths, out, corr, thr) -> None:

    def cat(key, columns=None):
        frames = out[key]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    store.write_parquet(paths.analysis(paths.CI_PER_CLASS), cat("per_class"))
    store.write_parquet(paths.analysis(paths.CI_OVERALL), cat("overall"))
    store.write_parquet(paths.analysis(paths.CI_CLASS_SUMMARY), cat("summary"))
    store.write_json(paths.analysis(paths.CI_CORRELATIONS), json_safe(corr))
    sub = cat("sub", SUB_COLUMNS)
    store.write_parquet(paths.analysis(paths.SUBGROUPS), sub)
    store.write_parquet(paths.analysis(paths.SUBGROUP_WORST), sg.worst_groups(sub))
    store.write_parquet(paths.analysis(paths.SUBGROUP_PIES),
                        cat("pies", ["method", "definition", "attribute", "group", "n_images",
                                     "n_pie", "pie_rate", "enrichment"]))
    store.write_parquet(paths.analysis(paths.THRESHOLDS), thr)
    store.write_parquet(paths.analysis(paths.MISSED),
                        cat("missed", ["method", "class", "sparsity", *ms.RATES, "seed",
                                       "threshold"]))
    store.write_parquet(paths.analysis(paths.CALIBRATION), cat("cal"))
    store.write_parquet(paths.analysis(paths.CALIBRATION_BINS), cat("bins"))
