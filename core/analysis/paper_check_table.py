"""The paper check's stored table: written by `analyze`, read by `python -m core paper-check`,
`report` and the dashboard; and the sentences pages use to cite the paper beside this study.

`analysis/paper_check.parquet` (StudyPaths.paper_check): one row per (method, finding F1–F7),
columns `core.analysis.paper_check.COLUMNS`. F7 from reader answers can change after the
analysis (clinicians keep reading), so `paper-check` recomputes that one row from the reader
database when it has answers, with the analysis's own bootstrap plan (same draws).
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pandas as pd

from core import store
from core.analysis import frequency as fq
from core.analysis import paper_check as pc
from core.analysis import uncertainty as unc
from core.analysis.paper_values import VALUES, fmt_value


# ----------------------------------------------------------------------------- writing
def reader_answers(root) -> tuple[pd.DataFrame | None, str]:
    """(first reads of every reader answer, "") or (None, why there are none). Never creates
    a reader database where there is none."""
    path = store.StudyPaths(root).reader_db
    if not path.is_file():
        return None, "the study has no reader study"
    try:
        from core.reader.db import ReaderDB
        from core.reader.stats import first_reads

        answers, _ = first_reads(ReaderDB.for_study(root).all_answers())
    except Exception as exc:   # a damaged or newer database must not stop the analysis
        return None, f"the reader database could not be read: {exc}"
    if answers.empty:
        return None, "the reader study has no answers yet"
    return answers, ""


def run(paths, labels: pd.DataFrame, y, classes, methods, seeds, sparsities, train_pos,
        cooc, rel_by_method: dict, pie_masks: dict, ground_truth, cfg, keep: dict) -> dict:
    """Compute the table for every method and write it; returns facts for params.json."""
    t0, c0 = time.perf_counter(), time.process_time()
    plan = keep.get("plan")
    answers, note = reader_answers(paths.root)
    gt = labels[list(ground_truth)].reset_index(drop=True) if ground_truth else None
    inp = pc.StudyInputs(
        classes=list(classes), sparsities=list(sparsities),
        log_freq=fq.log_frequency(train_pos), y=np.asarray(y, dtype=np.float64),
        cooc=np.asarray(cooc, dtype=np.float64),
        weights=None if plan is None else plan.weights,
        level=plan.level if plan is not None else cfg.ci_level, n_seeds=len(seeds),
        pie_sparsity=cfg.pie_sparsity, pie_percentile=cfg.pie_percentile,
        ground_truth=gt, answers=answers, answers_note=note)
    frames = [pc.check_method(inp, m, rel_by_method[m], keep.get("rel_reps", {}).get(m),
                              (pie_masks.get(m) or {}).get("paper")) for m in methods]
    table = pd.concat(frames, ignore_index=True) if frames else pc.empty_table()
    store.write_parquet(paths.paper_check, table)
    return {"rule": pc.RULE, "drop_percent": pc.DROP_PERCENT, "at_sparsity": pc.AT_SPARSITY,
            "pie_definition": "paper", "seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3)}


# ----------------------------------------------------------------------------- reading
def read_table(root) -> pd.DataFrame | None:
    p = store.StudyPaths(root).paper_check
    return pd.read_parquet(p) if p.is_file() else None


def default_method(methods) -> str:
    """The paper pruned by global L1 magnitude: that method when the study has it."""
    methods = list(methods)
    return "l1_global" if "l1_global" in methods else methods[0]


def refresh_reader_row(root, rows: pd.DataFrame, method: str) -> pd.DataFrame:
    """Rows of one method with F7 recomputed from the reader database's current answers,
    when F7 is not the dataset's ground truth and the database has answers for `method`."""
    f7 = rows["finding"] == "F7"
    if not f7.any() or str(rows.loc[f7, "note"].iloc[0]).startswith("dataset ground truth"):
        return rows
    answers, _ = reader_answers(root)
    if answers is None:
        return rows
    from core.analysis.study_inputs import load_study

    src = load_study(root)
    params = store.read_json(src["paths"].analysis(store.StudyPaths.PARAMS))
    ext = params.get("extended") or {}
    plan = unc.make_plan(len(src["y"]), len(params.get("seeds") or [0]),
                         int(ext.get("n_boot", unc.DEFAULT_N_BOOT)),
                         int(ext.get("bootstrap_seed", 0)),
                         float(ext.get("ci_level", unc.DEFAULT_LEVEL)))
    inp = pc.StudyInputs(classes=src["classes"], sparsities=params.get("sparsities", []),
                         log_freq=np.empty(0), y=src["y"], cooc=src["cooc"],
                         weights=plan.weights, level=plan.level, n_seeds=1,
                         pie_sparsity=0, pie_percentile=0.0, answers=answers)
    new = pc.reader_row(inp, method)
    if new is None:
        return rows
    out = pd.concat([rows[~f7], pd.DataFrame([new]).reindex(columns=rows.columns)],
                    ignore_index=True)
    return out.sort_values("finding", kind="stable").reset_index(drop=True)


def method_rows(root, method: str | None = None) -> tuple[str, pd.DataFrame]:
    """(method, its seven rows) of a verified, analysed study; F7 refreshed from readers."""
    store.require_verified(root)
    table = read_table(root)
    p = store.StudyPaths(root).paper_check
    if table is None:
        raise FileNotFoundError(f"{p} not found: the study was analysed before the paper "
                                f"check existed; run `python -m core analyze {root}`")
    methods = list(dict.fromkeys(table["method"].astype(str)))
    if method is None:
        method = default_method(methods)
    if method not in methods:
        raise ValueError(f"method {method!r} is not in this study's paper check; the study "
                         f"has: {', '.join(methods)}")
    rows = table[table["method"] == method].reset_index(drop=True)
    return method, refresh_reader_row(root, rows, method)


# ----------------------------------------------------------------------------- words
def num(v, digits: int = 2) -> str:
    """A value as printed on pages: true minus sign, '—' when undefined."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    v = float(v)
    return f"{v:.{digits}f}" if v >= 0 else f"−{-v:.{digits}f}"


def paper_part(finding: str) -> str:
    """'The paper found <claim> (r = 0.64, NIH-CXR-LT).'"""
    pv = VALUES[finding][0]
    claim = pc.CLAIMS[finding]
    if pv.nih is None:
        return f"The paper found {claim}."
    return f"The paper found {claim} ({pv.short} = {fmt_value(pv.nih)}, NIH-CXR-LT)."


def study_part(row) -> str:
    """'In this study: not shown (r = −0.24, 95% CI [−0.45, 0.18], n = 15).'"""
    if row["verdict"] == pc.CANNOT:
        return f"In this study: {pc.verdict_text(row)}."
    short = VALUES[row["finding"]][0].short
    return (f"In this study: {row['verdict']} ({short} = {num(row['value'])}, 95% CI "
            f"[{num(row['lo'])}, {num(row['hi'])}], n = {int(row['n'])}).")


def sentence(row) -> str:
    return f"{paper_part(row['finding'])} {study_part(row)}"


def summary_sentence(rows: pd.DataFrame, method: str) -> str:
    """One sentence: which of the paper's findings hold in this study (method)."""
    by = {v: [str(f) for f in rows.loc[rows["verdict"] == v, "finding"]] for v in pc.VERDICTS}

    def join(items):
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

    parts = []
    for v, one, many in ((pc.HOLDS, "holds", "hold"), (pc.NOT_SHOWN, "is not shown",
                                                         "are not shown"),
                         (pc.OPPOSITE, "goes the other way", "go the other way"),
                         (pc.CANNOT, "cannot be computed", "cannot be computed")):
        if by[v]:
            parts.append(f"{join(by[v])} {one if len(by[v]) == 1 else many}")
    head = f"In this study ({method}), of the paper's {len(rows)} findings:"
    if not parts:
        return head + " none is checked."
    return head + " " + "; ".join(parts) + "."


def records(rows: pd.DataFrame) -> list[dict]:
    from core.store import json_safe

    out = []
    for row in rows.to_dict(orient="records"):
        row["verdict_text"] = pc.verdict_text(row)
        out.append(json_safe(row))
    return out


def format_text(method: str, rows: pd.DataFrame, level: float = 0.95) -> str:
    lines = [f"Paper check · method {method} · {level:.0%} bootstrap intervals",
             f"Rule: {pc.RULE}.", ""]
    for _, r in rows.iterrows():
        lines.append(f"{r['finding']}  {r['claim']}")
        for suffix, stat, verdict in (("", r["statistic"], pc.verdict_text(r)),
                                      ("2", r["statistic2"], r["verdict2"])):
            paper = (f"paper {fmt_value(_opt(r['paper_nih' + suffix]))} (NIH-CXR-LT), "
                     f"{fmt_value(_opt(r['paper_mimic' + suffix]))} (MIMIC-CXR-LT)")
            here = (f"this study {num(r['value' + suffix])} [{num(r['lo' + suffix])}, "
                    f"{num(r['hi' + suffix])}]")
            lines.append(f"    {stat}: {paper}; {here} → {verdict}")
        lines.append(f"    n = {int(r['n'])} · interval over {r['interval_over']}"
                     + (f" · {r['note']}" if r["note"] else ""))
    return "\n".join(lines)


def _opt(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def main_paper_check(args) -> int:
    """`python -m core paper-check STUDY [--method M] [--json]`."""
    method, rows = method_rows(args.study, args.method)
    params = store.read_json(store.StudyPaths(args.study).analysis(store.StudyPaths.PARAMS))
    ext = params.get("extended") or {}
    level = float(ext.get("ci_level", unc.DEFAULT_LEVEL))
    if args.json:
        print(json.dumps({"study": str(args.study), "method": method, "rule": pc.RULE,
                          "level": level, "n_boot": ext.get("n_boot"),
                          "rows": records(rows)}, indent=2, ensure_ascii=False,
                         allow_nan=False))
    else:
        print(format_text(method, rows, level))
    return 0
