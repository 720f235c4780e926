"""The report's keys for the tables beyond the paper (core.analysis.beyond_paper).

Added after the paper's keys, never changing them: `confidence_intervals`, `subgroups`,
`missed_findings`, `calibration`. Each says `available: false` and why when the study was
analysed before these tables existed, or lacks what they need (metadata, validation
predictions), instead of failing or inventing numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core import store
from core.analysis import missed as ms
from core.analysis.over_seeds import summary_table

KEYS = ("confidence_intervals", "subgroups", "missed_findings", "calibration")
NOT_ANALYSED = "not in this study's analysis: run `python -m core analyze STUDY`"


def _read(path):
    return pd.read_parquet(path) if path.is_file() else None


def _records(frame: pd.DataFrame, columns) -> list[dict]:
    return [dict(zip(columns, row, strict=True)) for row in
            frame[list(columns)].itertuples(index=False, name=None)]


def build(paths: store.StudyPaths, params: dict, methods, classes) -> dict:
    """The report's beyond-the-paper keys, from the stored tables.

    Args:
        paths (StudyPaths): the study's paths.
        params (dict): analysis/params.json.
        methods (list[str]): the methods.
        classes (list[str]): the class names.

    Returns:
        dict: ``confidence_intervals``, ``subgroups``, ``missed_findings`` and
        ``calibration``, each with ``available`` (False with a ``note`` when the study lacks
        them).
    """
    ext = params.get("extended")
    if not ext or not paths.analysis(paths.CI_PER_CLASS).is_file():
        return {k: {"available": False, "note": NOT_ANALYSED} for k in KEYS}
    at = int(params.get("at_sparsity", 95))
    out = {}
    overall = _read(paths.analysis(paths.CI_OVERALL))
    summary = _read(paths.analysis(paths.CI_CLASS_SUMMARY))
    corr = store.read_json(paths.analysis(paths.CI_CORRELATIONS))
    out["confidence_intervals"] = {
        "available": True, "n_boot": ext["n_boot"], "level": ext["ci_level"],
        "method": ext["ci_method"], "at_sparsity": at,
        "overall": {m: _records(overall[overall["method"] == m],
                                ["sparsity", "map", "map_lo", "map_hi", "rel_map",
                                 "rel_map_lo", "rel_map_hi"]) for m in methods},
        "classes": {m: _records(summary[summary["method"] == m],
                                ["class", "first_drop", "first_drop_lo", "first_drop_hi",
                                 "first_significant_drop", "rel_ap_at", "rel_ap_at_lo",
                                 "rel_ap_at_hi"]) for m in methods},
        "correlations": corr,
    }
    worst = _read(paths.analysis(paths.SUBGROUP_WORST))
    pies = _read(paths.analysis(paths.SUBGROUP_PIES))
    groups = ext.get("subgroups") or []
    if groups:
        w = worst[worst["sparsity"] == at]
        out["subgroups"] = {
            "available": True, "groups": groups, "absent": ext.get("subgroups_absent", {}),
            "min_positives": ext.get("min_group_positives"), "at_sparsity": at,
            "worst_group": {m: _records(w[w["method"] == m],
                                        ["class", "attribute", "group", "rel_ap", "rel_ap_lo",
                                         "rel_ap_hi", "n_groups"]) for m in methods},
            "pie_enrichment": {m: _records(pies[(pies["method"] == m)
                                                & (pies["definition"] == "paper")],
                                           ["attribute", "group", "n_images", "n_pie",
                                            "enrichment"]) for m in methods},
        }
    else:
        out["subgroups"] = {"available": False, "note": "no sex, age or view in the "
                            "evaluation labels", "absent": ext.get("subgroups_absent", {})}
    missed = _read(paths.analysis(paths.MISSED))
    if missed is not None and len(missed):
        rates = ["missed_rate", "false_alarm_rate", "sensitivity", "specificity", "flip_rate"]
        med = None
        for r in rates:
            s = summary_table(missed, r, ms.CELL)[["method", "class", "sparsity", "median"]]
            s = s.rename(columns={"median": r})
            med = s if med is None else med.merge(s, on=["method", "class", "sparsity"])
        m_at = med[med["sparsity"] == at]
        out["missed_findings"] = {
            "available": True, "rule": ext.get("threshold_rule"), "at_sparsity": at,
            "statistic": "median over seeds",
            "classes": {m: _records(m_at[m_at["method"] == m],
                                    ["class", "missed_rate", "false_alarm_rate", "sensitivity",
                                     "specificity", "flip_rate"]) for m in methods},
        }
    else:
        out["missed_findings"] = {"available": False,
                                  "note": ext.get("thresholds_note") or "no thresholds"}
    cal = _read(paths.analysis(paths.CALIBRATION))
    per_seed = cal.groupby(["method", "sparsity", "seed"])[["ece", "brier"]].mean().reset_index()
    per = summary_table(per_seed, "ece", ["method", "sparsity"], sort=True)[
        ["method", "sparsity", "median"]].rename(columns={"median": "ece"})
    per["brier"] = summary_table(per_seed, "brier", ["method", "sparsity"], sort=True)["median"]
    out["calibration"] = {
        "available": True, "bins": ext.get("calibration_bins"),
        "statistic": "mean over classes, median over seeds",
        "overall": {m: _records(per[per["method"] == m], ["sparsity", "ece", "brier"])
                    for m in methods},
    }
    return out


def format_lines(rep: dict, method: str) -> list[str]:
    """A few readable lines per method for `core report` (the JSON has everything).

    Args:
        rep (dict): the report.
        method (str): the method.

    Returns:
        list[str]: lines, starting with an empty one.
    """
    lines = []
    ci = rep.get("confidence_intervals", {})
    if ci.get("available"):
        lines += ["", f"95% bootstrap intervals (B = {ci['n_boot']}): mAP by sparsity"]
        for o in ci["overall"][method]:
            lines.append(f"{o['sparsity']:>7}%  {_f(o['map'])} [{_f(o['map_lo'])}, "
                         f"{_f(o['map_hi'])}]")
        sig = [f"{c['class']} {int(c['first_significant_drop'])}%"
               for c in ci["classes"][method] if c["first_significant_drop"] is not None]
        lines.append("first significant 20% drop: " + (", ".join(sig) if sig else "none"))
    else:
        lines += ["", f"confidence intervals: {ci.get('note', 'absent')}"]
    for key in ("subgroups", "missed_findings"):
        part = rep.get(key, {})
        if not part.get("available"):
            lines.append(f"{key.replace('_', ' ')}: not available ({part.get('note', '')})")
    return lines


def _f(v) -> str:
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"
