"""analyze_study: read a study's predictions once, compute every analysis, write the tables.

One pass per (method, seed) over the memory-mapped predictions [S, N, C] (read through
core.predictions: AP/AUC on its ranking-equivalent scores, PIEs on probabilities) feeds three
accumulators at once — per-class AP/AUC (core.metrics), the seed-ensemble sum for the paper's
PIEs and the per-class threshold votes for the population PIEs — so a paper-scale study (30 seeds
× 20 sparsities × 21,081 images × 20 classes) is read exactly once and stays well under 4 GB:
per method only the ensemble sum (float64, 67 MB) and the votes (uint16, 17 MB) are held, plus
each seed's probabilities at the dense and the PIE sparsity (float32, 2 × 51 MB per method, held
until the paper check, which re-ensembles them under the bootstrap's seed draws:
core.analysis.pie_resample).

Tables and their columns are documented in docs/ARCHITECTURE.md, "Analysis tables".
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pandas as pd

from core import predictions, store
from core.analysis import beyond_paper, pie_stats, pies
from core.analysis import class_tables as ct
from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis.study_inputs import load_study
from core.config import PAPER_AT_SPARSITY, PAPER_PIE_SPARSITY, AnalysisConfig, grid_default
from core.metrics import nanmean_classes, per_class_metrics
from core.store import json_safe

PIE_DEFINITIONS = ("paper", "population")


def analysis_config(study: dict, override: AnalysisConfig | None = None) -> AnalysisConfig:
    """The analysis settings of a study: `override`, else the study's config, grid-resolved.

    Unknown keys of the stored config are ignored; an ``at_sparsity`` or ``pie_sparsity``
    left out takes the paper's value, or the grid's nearest (grid_default).

    Args:
        study (dict): study.json (``config.analysis``, ``sparsities``).
        override (AnalysisConfig | None): used as is when given.

    Returns:
        AnalysisConfig: the settings.
    """
    if override is not None:
        return override
    raw = (study.get("config") or {}).get("analysis") or {}
    names = {f.name for f in dataclasses.fields(AnalysisConfig)}
    cfg = AnalysisConfig(**{k: v for k, v in raw.items() if k in names})
    grid = [int(sparsity) for sparsity in study.get("sparsities") or []]
    if cfg.at_sparsity is None:   # a config that left it out (StudyConfig resolves it too)
        cfg.at_sparsity = grid_default(grid, PAPER_AT_SPARSITY)
    if cfg.pie_sparsity is None:
        cfg.pie_sparsity = grid_default(grid, PAPER_PIE_SPARSITY)
    return cfg


# one definition, shared with the dashboard (dashboard/common/data.py calls it too)
train_frequency = fq.train_frequency


# ----------------------------------------------------------------------------- one method
def _measured(paths: store.StudyPaths, method: str, seed: int, n: int) -> np.ndarray:
    p = paths.measured_sparsity(method, seed)
    if not p.is_file():
        return np.full(n, np.nan)
    vals = store.read_json(p).get("measured") or [None] * n
    return np.array([math.nan if v is None else float(v) for v in vals], dtype=np.float64)


def scan_method(paths, method: str, seeds, y: np.ndarray, n_sparsities: int,
                keep_sparsities=()) -> dict:
    """Per-seed metrics, seed-ensemble mean and threshold votes of one method, in one pass.

    Args:
        paths (StudyPaths): the study's paths.
        method (str): the method.
        seeds (list[int]): the K seeds.
        y (np.ndarray): float ``[N, C]`` eval labels (1/0/NaN).
        n_sparsities (int): S.
        keep_sparsities (Sequence[int]): sparsity indices whose per-seed probabilities are
            kept (``seed_probs``).

    Returns:
        dict: ``ap``, ``auc`` float ``[K, S, C]``, ``notes`` object ``[K, S, C]``,
        ``measured`` float ``[K, S]`` measured sparsity, ``ensemble`` ``[S, N, C]`` mean
        probability over seeds, ``votes`` uint16 ``[S, N, C]``, ``n_pos`` and ``n_neg``
        ``[C]``, ``seed_probs`` {sparsity index: float32 ``[K, N, C]``} for `keep_sparsities`.

    Raises:
        FileNotFoundError: when a seed's predictions are missing.
        ValueError: when stored predictions are not ``[S, N, C]``.
    """
    n, c = y.shape
    ap = np.empty((len(seeds), n_sparsities, c))
    auc = np.empty_like(ap)
    notes = np.empty(ap.shape, dtype=object)
    measured = np.empty((len(seeds), n_sparsities))
    ens = pies.SeedEnsemble((n_sparsities, n, c))
    votes = np.zeros((n_sparsities, n, c), dtype=np.uint16)
    kept = {int(i): np.empty((len(seeds), n, c), dtype=np.float32) for i in keep_sparsities}
    n_pos = n_neg = None
    encoding = predictions.study_encoding(paths.root)
    for i, seed in enumerate(seeds):
        p = paths.predictions(method, seed)
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: the study is incomplete "
                                    f"(method {method}, seed {seed})")
        pred = predictions.open_predictions(paths.root, method, seed, encoding)
        if pred.shape != (n_sparsities, n, c):
            raise ValueError(f"{p}: shape {pred.shape}, expected {(n_sparsities, n, c)}")
        m = per_class_metrics(pred.scores(), y)
        ap[i], auc[i], notes[i] = m.ap, m.auc, m.note
        n_pos, n_neg = m.n_pos, m.n_neg
        for i_sparsity in range(n_sparsities):   # one sparsity at a time: small float64 temporaries
            block = pred.probabilities(i_sparsity)
            ens.add(block, index=i_sparsity)
            if i_sparsity in kept:
                kept[i_sparsity][i] = block
            votes[i_sparsity] += block >= pies.THRESHOLD
        ens.seed_done()
        measured[i] = _measured(paths, method, seed, n_sparsities)
    return {"ap": ap, "auc": auc, "notes": notes, "measured": measured, "ensemble": ens.mean(),
            "votes": votes, "n_pos": n_pos, "n_neg": n_neg, "seed_probs": kept}


def metric_tables(method, seeds, sparsities, classes, scan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics tables of one method from its scan.

    Args:
        method (str): the method.
        seeds (list[int]): the K seeds.
        sparsities (list[int]): the S sparsities.
        classes (list[str]): the C class names.
        scan (dict): `scan_method`'s result.

    Returns:
        tuple[pd.DataFrame, pd.DataFrame]: (per class: method, seed, sparsity, class, ap,
        auc, n_pos, n_neg, note — K·S·C rows; overall: method, seed, sparsity,
        measured_sparsity, map, mauc — K·S rows).
    """
    k, s, c = scan["ap"].shape
    grid = np.indices((k, s, c)).reshape(3, -1)
    per_class = pd.DataFrame({
        "method": method,
        "seed": np.asarray(seeds, dtype=np.int64)[grid[0]],
        "sparsity": np.asarray(sparsities, dtype=np.int64)[grid[1]],
        "class": np.asarray(classes, dtype=object)[grid[2]],
        "ap": scan["ap"].ravel(), "auc": scan["auc"].ravel(),
        "n_pos": scan["n_pos"][grid[2]], "n_neg": scan["n_neg"][grid[2]],
        "note": scan["notes"].ravel().astype(str),
    })
    g2 = np.indices((k, s)).reshape(2, -1)
    overall = pd.DataFrame({
        "method": method,
        "seed": np.asarray(seeds, dtype=np.int64)[g2[0]],
        "sparsity": np.asarray(sparsities, dtype=np.int64)[g2[1]],
        "measured_sparsity": scan["measured"].ravel(),
        "map": nanmean_classes(scan["ap"]).ravel(),
        "mauc": nanmean_classes(scan["auc"]).ravel(),
    })
    return per_class, overall


def pie_analysis(method, labels, classes, sparsities, scan, cfg, n_seeds,
                 ground_truth=()) -> dict:
    """PIEs of one method under both definitions (paper, population) and their statistics.

    Args:
        method (str): the method.
        labels (pd.DataFrame): eval labels in row order (``id`` column or index).
        classes (list[str]): the C class names.
        sparsities (list[int]): the S sparsities.
        scan (dict): `scan_method`'s result (``ensemble``, ``votes``).
        cfg (AnalysisConfig): pie_sparsity and pie_percentile.
        n_seeds (int): seeds behind the votes.
        ground_truth (Sequence[str]): the label columns the dataset declares as ground truth.

    Returns:
        dict: ``corr`` ``[S, N]``, ``population`` uint8 ``[S, N]``, ``table`` (one row per
        image: row, id, corr, pie_paper, pie_population), ``class_ratio`` and
        ``findings_ratio`` tables for both definitions, ``groundtruth`` {definition: …}, and
        ``info`` (PIE counts and ties).

    Raises:
        ValueError: when ``cfg.pie_sparsity`` is not in `sparsities`.
    """
    i_pie = list(sparsities).index(cfg.pie_sparsity)
    corr = pies.ensemble_correlations(scan["ensemble"])
    population = pies.population_pies(scan["votes"], n_seeds)
    cut = pies.pie_cut(corr[i_pie], cfg.pie_percentile)
    masks = {"paper": cut.mask, "population": population[i_pie]}
    ids = labels["id"].astype(str) if "id" in labels else labels.index.astype(str)
    table = pd.DataFrame({"method": method, "row": np.arange(len(labels), dtype=np.int64),
                          "id": ids.to_numpy(dtype=object), "corr": corr[i_pie].astype(np.float64),
                          "pie_paper": masks["paper"], "pie_population": masks["population"]})
    cls, fnd, gt = [], [], {}
    for definition, mask in masks.items():
        t = pie_stats.class_ratio(labels, classes, mask)
        t.insert(0, "definition", definition)
        t.insert(0, "method", method)
        cls.append(t)
        f = pie_stats.findings_ratio(labels, classes, mask)
        f.insert(0, "definition", definition)
        f.insert(0, "method", method)
        fnd.append(f)
        g = pie_stats.groundtruth_comparison(labels, mask, ground_truth)
        if g:
            gt[definition] = g
    info = {"n_paper": int(masks["paper"].sum()), "n_population": int(masks["population"].sum()),
            "n_undefined_corr": int(np.isnan(corr[i_pie]).sum()),
            **cut.ties()}
    return {"corr": corr, "population": population.astype(np.uint8), "table": table,
            "class_ratio": pd.concat(cls, ignore_index=True),
            "findings_ratio": pd.concat(fnd, ignore_index=True), "groundtruth": gt,
            "info": info}


# ----------------------------------------------------------------------------- driver
def analyze_study(study_dir, analysis: AnalysisConfig | None = None, log=None) -> dict:
    """Compute and write every metrics/ and analysis/ table of a study; returns a summary.

    Does not re-seal the manifest (main_analyze does), so a caller that writes more files
    seals once at the end.

    Args:
        study_dir (str | Path): the study folder.
        analysis (AnalysisConfig | None): settings overriding the study's.
        log (Callable[[str], None] | None): progress messages.

    Returns:
        dict: the parameters written to analysis/params.json, with the timing fields.

    Raises:
        ValueError: when at_sparsity or pie_sparsity is not in the grid, or the grid does
            not start with 0.
        FileNotFoundError: when predictions are missing.
    """
    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    src = load_study(study_dir)
    paths, study, classes, labels, y = (src[k] for k in
                                        ("paths", "study", "classes", "labels", "y"))
    sparsities = [int(sparsity) for sparsity in study["sparsities"]]
    methods = list(study["methods"])
    seeds = [int(seed) for seed in study["seeds"]]
    cfg = analysis_config(study, analysis)
    for key in ("at_sparsity", "pie_sparsity"):
        if getattr(cfg, key) not in sparsities:
            raise ValueError(f"analysis.{key} = {getattr(cfg, key)} is not one of the study's "
                             f"sparsities {sparsities}")
    if sparsities[0] != 0:
        raise ValueError(f"sparsities {sparsities} must start with 0 (dense)")
    train_pos, freq_source = train_frequency(src["counts"], classes, y)
    dataset = study.get("dataset") if isinstance(study.get("dataset"), dict) else {}
    study_freq_note = study.get("train_counts_source") or dataset.get("train_counts_source")
    if study_freq_note:
        freq_source = f"{freq_source} ({study_freq_note})"

    per_class, overall, forget, summary, pairs = [], [], [], [], []
    cls_ratio, fnd_ratio, pie_rows = [], [], []
    correlations, regression, groundtruth, pie_info, pie_masks = {}, {}, {}, {}, {}
    rel_by_method = {}   # median-over-seeds forgetting curves, for the paper check
    seed_probs = {}      # per-seed dense and PIE-sparsity probabilities, for the paper check
    i_pie = sparsities.index(cfg.pie_sparsity)
    for method in methods:
        log(f"{method}: reading {len(seeds)} seed(s)")
        scan = scan_method(paths, method, seeds, y, len(sparsities),
                           keep_sparsities=(0, i_pie) if len(seeds) > 1 else ())
        pc, ov = metric_tables(method, seeds, sparsities, classes, scan)
        per_class.append(pc)
        overall.append(ov)
        forget.append(ct.forgetting_table(method, sparsities, classes, scan["ap"], scan["auc"]))
        cs = ct.class_summary(method, classes, sparsities, scan["ap"], scan["auc"], train_pos,
                              ct.eval_positives(y), drop_percent=cfg.drop_percent,
                              at_sparsity=cfg.at_sparsity)
        summary.append(cs)
        correlations[method] = ct.class_correlations(cs)
        regression[method] = {}
        rel_median = fg.forgetting_curves(scan["ap"]).median
        rel_by_method[method] = rel_median
        for variant in fq.PAIR_VARIANTS:
            pt = ct.pair_table(method, classes, rel_median, sparsities, src["cooc"], variant)
            pairs.append(pt)
            correlations[method].update({f"{key}_{variant}": res for key, res in
                                         ct.pair_correlations(pt).items()})
            regression[method][variant] = ct.pair_regression(pt)
        log(f"{method}: PIEs")
        pa = pie_analysis(method, labels, classes, sparsities, scan, cfg, len(seeds),
                          src["ground_truth"])
        if len(seeds) > 1:
            seed_probs[method] = (scan["seed_probs"][0], scan["seed_probs"][i_pie])
        del scan
        store.write_npy(paths.pie_array(paths.PIE_CORR, method), pa["corr"])
        store.write_npy(paths.pie_array(paths.PIE_POPULATION, method),
                        pa["population"])
        pie_rows.append(pa["table"])
        cls_ratio.append(pa["class_ratio"])
        fnd_ratio.append(pa["findings_ratio"])
        groundtruth[method] = pa["groundtruth"]
        pie_info[method] = pa["info"]
        pie_masks[method] = {d: pa["table"][f"pie_{d}"].to_numpy(dtype=bool)
                             for d in PIE_DEFINITIONS}

    store.write_parquet(paths.metrics(paths.PER_CLASS), pd.concat(per_class, ignore_index=True))
    store.write_parquet(paths.metrics(paths.OVERALL), pd.concat(overall, ignore_index=True))
    store.write_parquet(paths.analysis(paths.FORGETTING), pd.concat(forget, ignore_index=True))
    store.write_parquet(paths.analysis(paths.CLASS_SUMMARY), pd.concat(summary, ignore_index=True))
    store.write_parquet(paths.analysis(paths.CLASS_PAIRS), pd.concat(pairs, ignore_index=True))
    store.write_parquet(paths.analysis(paths.PIES), pd.concat(pie_rows, ignore_index=True))
    store.write_parquet(paths.analysis(paths.PIE_CLASS_RATIO),
                        pd.concat(cls_ratio, ignore_index=True))
    store.write_parquet(paths.analysis(paths.PIE_FINDINGS_RATIO),
                        pd.concat(fnd_ratio, ignore_index=True))
    store.write_json(paths.analysis(paths.CORRELATIONS), json_safe(correlations))
    store.write_json(paths.analysis(paths.REGRESSION), json_safe(regression))
    store.write_json(paths.analysis(paths.PIE_GROUNDTRUTH),
                     json_safe({k: v for k, v in groundtruth.items() if v}))
    # Beyond the paper: CIs, subgroups, missed findings, calibration (own module, own tables).
    keep: dict = {}
    ext = beyond_paper.run(paths, labels, y, classes, methods, seeds, sparsities, train_pos,
                       pie_masks, cfg, log=log, keep=keep)
    # Does the paper hold here? F1–F7 on the same bootstrap draws (core.analysis.paper_check).
    from core.analysis import paper_check_table

    log("paper check")
    checked = paper_check_table.run(paths, labels, y, classes, methods, seeds, sparsities,
                                    train_pos, src["cooc"], rel_by_method, pie_masks,
                                    src["ground_truth"], cfg, keep, seed_probs=seed_probs)
    del keep, seed_probs
    params = {
        **dataclasses.asdict(cfg), "extended": ext, "paper_check": checked,
        "sparsities": sparsities, "methods": methods,
        "seeds": seeds, "classes": classes, "n_eval_images": int(len(labels)),
        "freq_source": freq_source,
        "pie_cut": "floor(pie_percentile/100 * N) images with the lowest finite correlation "
                   "at pie_sparsity, ties by row order; NaN correlations are never PIEs",
        "pie_ties": "images whose correlation equals the cut value (the highest PIE "
                    "correlation) are PIEs in row order until the count N is reached; "
                    "pies.<method>.n_tied_at_cut counts them all, n_tied_pies those that "
                    "are PIEs",
        "majority_rule": "per seed score >= 0.5 -> 1; population label 1 when more than half "
                         "of the seeds say 1",
        "pies": pie_info, "seconds": round(time.perf_counter() - t0, 3),
    }
    # params.json is a result (what was computed, from what); how long it took is a
    # measurement: analysis/timings.json. The returned dict keeps both.
    stored = {k: v for k, v in params.items() if k != "seconds"}
    stored["extended"] = {k: v for k, v in ext.items() if k != "seconds"}
    clock = ("seconds", "cpu_seconds")
    stored["paper_check"] = {k: v for k, v in checked.items() if k not in clock}
    store.write_json(paths.analysis(paths.PARAMS), json_safe(stored))
    store.write_json(paths.analysis_timings, json_safe(
        {"seconds": params["seconds"], "extended_seconds": ext.get("seconds"),
         "paper_check_seconds": {k: checked[k] for k in clock if k in checked}}))
    return params
