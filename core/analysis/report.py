"""`python -m core report STUDY [--json]`: a summary of an analysed study.

`build_report(study_dir)` returns the top-level keys of issue 4 (schema_version,
classes, sparsities, methods, seeds, n_eval_images, overall, classes_summary, correlations,
pies). `first_drop_20` (an integer percent, None = no drop; `first_drop_20_status` says
whether that is `never` or `undefined` — a class without positives in the evaluation split has
no AP to drop — and `first_drop_20_text` says it in words) and `rel_ap_95` use the paper's
fixed parameters (k = 20%, 95% sparsity), computed from the stored forgetting curves with the
same functions the analysis uses, so the report is paper-comparable whatever
`analysis.drop_percent` / `at_sparsity` the study used. The PIE entry uses the study's PIE
parameters (paper definition), stated in the entry, with the tie rule's counts
(`cut_value`, `n_tied_at_cut`, `n_tied_pies`; core.analysis.pies.cut_ties). After these
keys, unchanged, come those of issue 13 (report_beyond_paper.KEYS: confidence_intervals,
subgroups, missed_findings, calibration).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from core import store
from core.analysis import forgetting as fg
from core.analysis import frequency as fq
from core.analysis import pies, report_beyond_paper
from core.analysis.over_seeds import summary_table
from core.store import json_safe

_CORR_KEYS = ("r", "p_r", "rho", "p_rho", "n")


def _corr(res: dict | None) -> dict:
    res = res or {}
    return {k: res.get(k, 0 if k == "n" else math.nan) for k in _CORR_KEYS}


def build_report(study_dir) -> dict:
    """The report of an analysed study that verifies, as JSON-safe data.

    Args:
        study_dir (str | Path): the study folder.

    Returns:
        dict: classes, sparsities, methods, seeds, n_eval_images, and per method: overall
        (median mAP/mAUC by sparsity), classes_summary, correlations, pies; then the
        beyond-paper keys and ``paper_check``.

    Raises:
        StudyNotVerified: when the study does not verify.
        FileNotFoundError: when the study has not been analysed.
    """
    store.require_verified(study_dir)
    paths = store.StudyPaths(study_dir)
    if not paths.analysis(paths.PARAMS).is_file():
        raise FileNotFoundError(f"{paths.analysis(paths.PARAMS)} not found: run "
                                f"`python -m core analyze {study_dir}` first")
    study = store.read_json(paths.study_json)
    params = store.read_json(paths.analysis(paths.PARAMS))
    overall = pd.read_parquet(paths.metrics(paths.OVERALL))
    forgetting = pd.read_parquet(paths.analysis(paths.FORGETTING))
    summary = pd.read_parquet(paths.analysis(paths.CLASS_SUMMARY))
    pie_table = pd.read_parquet(paths.analysis(paths.PIES))
    cls_ratio = pd.read_parquet(paths.analysis(paths.PIE_CLASS_RATIO))
    fnd_ratio = pd.read_parquet(paths.analysis(paths.PIE_FINDINGS_RATIO))
    correlations = store.read_json(paths.analysis(paths.CORRELATIONS))
    classes = list(study["classes"])
    sparsities = [int(sparsity) for sparsity in study["sparsities"]]
    methods = list(study["methods"])
    variant = params.get("pair_variant", "paper")

    rep = {
        "schema_version": study.get("schema_version"), "classes": classes,
        "sparsities": sparsities, "methods": methods,
        "seeds": [int(seed) for seed in study["seeds"]],
        "n_eval_images": int(params["n_eval_images"]),
        "overall": {}, "classes_summary": {}, "correlations": {}, "pies": {},
    }
    for method in methods:
        om = overall[overall["method"] == method]
        med = {m: summary_table(om, m, ["sparsity"], sort=True).set_index("sparsity")["median"]
               for m in ("map", "mauc")}
        rep["overall"][method] = [
            {"sparsity": int(sparsity), "map_median": float(med["map"][sparsity]),
             "mauc_median": float(med["mauc"][sparsity])} for sparsity in med["map"].index]

        f = forgetting[forgetting["method"] == method]
        curve = (f.pivot(index="sparsity", columns="class", values="rel_ap_median")
                 .reindex(index=sparsities, columns=classes).to_numpy())
        first20 = fg.first_drop_sparsity(curve, sparsities, 20)
        rel95 = fg.rel_change_at(curve, sparsities, 95)
        cs = summary[summary["method"] == method].set_index("class").reindex(classes)
        status = fg.first_drop_status(first20, cs["ap_dense_median"])
        shown = fg.first_drop_text(status, first20, cs["eval_pos"])
        rep["classes_summary"][method] = [
            {"class": c, "train_freq": cs.loc[c, "train_pos"],
             "ap_dense_median": cs.loc[c, "ap_dense_median"],
             "first_drop_20": int(first20[i]) if np.isfinite(first20[i]) else None,
             "first_drop_20_status": str(status[i]), "first_drop_20_text": shown[i],
             "rel_ap_95": rel95[i]}
            for i, c in enumerate(classes)]
        logf = cs["log_train_freq"].to_numpy(dtype=np.float64)
        stored = correlations.get(method, {})
        rep["correlations"][method] = {
            "first_drop_20_vs_log_freq": _corr(fq.correlate(first20, logf)),
            "rel_ap_95_vs_log_freq": _corr(fq.correlate(rel95, logf)),
            "fcd_vs_log_freq_diff": _corr(stored.get(f"fcd_vs_log_freq_diff_{variant}")),
            "fcd_vs_iou4": _corr(stored.get(f"fcd_vs_iou4_{variant}")),
        }

        pt = pie_table[pie_table["method"] == method]
        cr = cls_ratio[(cls_ratio["method"] == method) & (cls_ratio["definition"] == "paper")]
        fr = fnd_ratio[(fnd_ratio["method"] == method) & (fnd_ratio["definition"] == "paper")]
        ids = pt.loc[pt["pie_paper"], "id"].astype(str).tolist()
        ties = pies.cut_ties(pt["corr"].to_numpy(), pt["pie_paper"].to_numpy())
        rep["pies"][method] = {
            "definition": "paper", "sparsity": int(params["pie_sparsity"]),
            "percentile": float(params["pie_percentile"]), "n": len(ids), "ids": ids,
            **ties,
            "class_ratio": dict(zip(cr["class"], cr["ratio"], strict=True)),
            "n_findings_ratio": dict(zip(fr["n_findings"], fr["ratio"], strict=True)),
        }
    # Beyond the paper: new keys after the paper's ones (core.analysis.report_beyond_paper).
    rep.update(report_beyond_paper.build(paths, params, methods, classes))
    rep["paper_check"] = _paper_check(study_dir, methods)
    return json_safe(rep)


def _paper_check(study_dir, methods) -> dict:
    """The paper check's rows per method (core.analysis.paper_check_table), or why absent."""
    from core.analysis import paper_check_table as pct

    table = pct.read_table(study_dir)
    if table is None:
        return {"available": False, "note": report_beyond_paper.NOT_ANALYSED}
    from core.analysis.paper_check import RULE

    return {"available": True, "rule": RULE, "methods": {
        m: pct.records(table[table["method"] == m]) for m in methods
        if (table["method"] == m).any()}}


def _fmt(v, spec: str = ".3f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec) if isinstance(v, (int, float)) and spec else str(v)




def format_report(rep: dict) -> str:
    """The report as readable text tables.

    Args:
        rep (dict): `build_report`'s result.

    Returns:
        str: the text, one block per method.
    """
    out = [f"study: {len(rep['classes'])} classes, {len(rep['methods'])} method(s), "
           f"{len(rep['seeds'])} seed(s), {rep['n_eval_images']} eval images, "
           f"sparsities {rep['sparsities']} (schema {rep['schema_version']})"]
    for method in rep["methods"]:
        out += ["", f"== {method} ==", "sparsity  mAP(median)  mAUC(median)"]
        out += [f"{o['sparsity']:>7}%  {_fmt(o['map_median']):>11}  {_fmt(o['mauc_median']):>12}"
                for o in rep["overall"][method]]
        width = max(len(c) for c in rep["classes"])
        out += ["", f"{'class':<{width}}  train_freq  AP dense  first 20% drop  rel AP @95%"]
        for row in rep["classes_summary"][method]:
            out.append(f"{row['class']:<{width}}  {_fmt(row['train_freq'], '.0f'):>10}  "
                       f"{_fmt(row['ap_dense_median']):>8}  "
                       f"{row['first_drop_20_text']:>14}  "
                       f"{_fmt(row['rel_ap_95']):>11}")
        out += ["", "relation                       r      p(r)     rho   p(rho)   n"]
        for name, c in rep["correlations"][method].items():
            out.append(f"{name:<28} {_fmt(c['r'], '.2f'):>5} {_fmt(c['p_r'], '.2g'):>8} "
                       f"{_fmt(c['rho'], '.2f'):>7} {_fmt(c['p_rho'], '.2g'):>8} {c['n']:>3}")
        p = rep["pies"][method]
        out += ["", f"PIEs ({p['definition']}, bottom {p['percentile']:g}% at "
                    f"{p['sparsity']}% sparsity): {p['n']} images",
                pies.tie_text(p),
                "PIE:non-PIE prevalence by class: " + ", ".join(
                    f"{k} {_fmt(v, '.2f')}" for k, v in p["class_ratio"].items()),
                "PIE:non-PIE by number of findings: " + ", ".join(
                    f"{k}: {_fmt(v, '.2f')}" for k, v in p["n_findings_ratio"].items())]
        out += report_beyond_paper.format_lines(rep, method)
        out += _paper_check_lines(rep, method)
    return "\n".join(out)


def _paper_check_lines(rep: dict, method: str) -> list[str]:
    pcheck = rep.get("paper_check") or {}
    if not pcheck.get("available"):
        return ["", f"paper check: {pcheck.get('note', 'absent')}"]
    rows = pcheck["methods"].get(method) or []
    out = ["", "paper check (rule: " + pcheck["rule"] + ")"]
    for r in rows:
        out.append(f"  {r['finding']} {r['statistic']}: paper {_fmt(r['paper_nih'], '.2f')} "
                   f"(NIH-CXR-LT); this study {_fmt(r['value'], '.2f')} "
                   f"[{_fmt(r['lo'], '.2f')}, {_fmt(r['hi'], '.2f')}], n = {r['n']} → "
                   f"{r['verdict_text']}")
    return out


def main_report(args) -> int:
    """`python -m core report STUDY [--json]`: print the report.

    Args:
        args (argparse.Namespace): ``study`` and optionally ``json``.

    Returns:
        int: exit status 0; errors of `build_report` propagate.
    """
    rep = build_report(args.study)
    if getattr(args, "json", False):
        print(json.dumps(rep, indent=2, allow_nan=False))
    else:
        print(format_report(rep))
    return 0
