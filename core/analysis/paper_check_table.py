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
from core.analysis import pie_resample
from core.analysis import uncertainty as unc
from core.analysis.paper_values import VALUES, fmt_value


# ----------------------------------------------------------------------------- writing
def reader_answers(root) -> tuple[pd.DataFrame | None, str]:
    """The first read of every reader answer of a study; never creates a reader database.

    Args:
        root (str | Path): the study folder.

    Returns:
        tuple[pd.DataFrame | None, str]: (first reads, "") or (None, why there are none: no
        reader study, an unreadable database, or no answers yet). Never raises on a damaged
        database.
    """
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
        cooc, rel_by_method: dict, pie_masks: dict, ground_truth, cfg, keep: dict,
        seed_probs: dict | None = None) -> dict:
    """Compute the paper-check table for every method and write it (StudyPaths.paper_check).

    Args:
        paths (StudyPaths): the study's paths.
        labels (pd.DataFrame): eval labels in row order (ground-truth columns read from it).
        y (np.ndarray): float ``[N, C]`` eval labels (1/0/NaN), row order.
        classes (list[str]): the C class names.
        methods (list[str]): the methods, one table block each.
        seeds (list[int]): the study's seeds (their count decides what the interval covers).
        sparsities (list[int]): the sparsity grid.
        train_pos (np.ndarray): ``[C]`` train positives per class.
        cooc (np.ndarray): ``[C, C]`` eval co-occurrence counts.
        rel_by_method (dict[str, np.ndarray]): method → float ``[S, C]`` median relative AP
            change.
        pie_masks (dict[str, dict]): method → {"paper": bool ``[N]`` PIE mask, …}.
        ground_truth (list[str] | None): declared ground-truth columns of `labels`.
        cfg (StudyConfig): gives ci_level, pie_sparsity and pie_percentile.
        keep (dict): the bootstrap's ``plan`` and per-method ``rel_reps`` ``[B, S, C]``,
            either may be absent.
        seed_probs (dict[str, tuple] | None): method → (dense, PIE-sparsity) per-seed
            probabilities float32 ``[K, N, C]``; with several seeds and a plan, F5–F7 re-cut
            the PIEs in every replicate (core.analysis.pie_resample). None or a missing
            method = the PIE set as analysed.

    Returns:
        dict: facts for params.json (rule, drop_percent, at_sparsity, pie_definition,
        seconds, cpu_seconds).
    """
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
    frames = []
    for m in methods:
        pie = (pie_masks.get(m) or {}).get("paper")
        probs = (seed_probs or {}).get(m)
        pie_reps = None
        if plan is not None and len(seeds) > 1 and probs is not None and pie is not None:
            pie_reps = pie_resample.replicate_pies(probs[0], probs[1], plan.seed_draws,
                                                   cfg.pie_percentile)
        frames.append(pc.check_method(inp, m, rel_by_method[m],
                                      keep.get("rel_reps", {}).get(m), pie, pie_reps))
    table = pd.concat(frames, ignore_index=True) if frames else pc.empty_table()
    store.write_parquet(paths.paper_check, table)
    return {"rule": pc.RULE, "drop_percent": pc.DROP_PERCENT, "at_sparsity": pc.AT_SPARSITY,
            "pie_definition": "paper", "seconds": round(time.perf_counter() - t0, 3),
            "cpu_seconds": round(time.process_time() - c0, 3)}


# ----------------------------------------------------------------------------- reading
def read_table(root) -> pd.DataFrame | None:
    """The stored paper-check table.

    Args:
        root (str | Path): the study folder.

    Returns:
        pd.DataFrame | None: the table, or None when the study has none.
    """
    p = store.StudyPaths(root).paper_check
    return pd.read_parquet(p) if p.is_file() else None


def default_method(methods) -> str:
    """The method shown by default: the paper pruned by global L1 magnitude.

    Args:
        methods (Iterable[str]): the study's methods (at least one).

    Returns:
        str: ``"l1_global"`` when the study has it, else the first method.

    Example:
        >>> default_method(["random", "l1_global"]), default_method(["random"])
        ('l1_global', 'random')
    """
    methods = list(methods)
    return "l1_global" if "l1_global" in methods else methods[0]


def refresh_reader_row(root, rows: pd.DataFrame, method: str) -> pd.DataFrame:
    """Rows of one method with F7 recomputed from the reader database's current answers.

    F7 is left as stored when it comes from the dataset's ground truth, or when the database
    has no answers for `method`. The analysis's own bootstrap plan is rebuilt (same draws).

    Args:
        root (str | Path): the study folder.
        rows (pd.DataFrame): the method's stored rows (columns `paper_check.COLUMNS`).
        method (str): the method.

    Returns:
        pd.DataFrame: the rows, F7 replaced when refreshed, sorted by finding.
    """
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
    """The seven rows of one method of a verified, analysed study, F7 refreshed from readers.

    Args:
        root (str | Path): the study folder.
        method (str | None): the method; None = `default_method`.

    Returns:
        tuple[str, pd.DataFrame]: (the method, its rows).

    Raises:
        StudyNotVerified: when the study does not verify.
        FileNotFoundError: when the study was analysed before the paper check existed.
        ValueError: when `method` is not in the table.
    """
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
    """A value as printed on pages: true minus sign, '—' when undefined.

    Args:
        v (float | None): the value.
        digits (int): decimals.

    Returns:
        str: the formatted value.

    Example:
        >>> num(-0.244), num(0.5, 1), num(float("nan"))
        ('−0.24', '0.5', '—')
    """
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    v = float(v)
    return f"{v:.{digits}f}" if v >= 0 else f"−{-v:.{digits}f}"


def paper_part(finding: str) -> str:
    """The sentence that cites the paper's finding.

    Args:
        finding (str): ``"F1"`` … ``"F7"``.

    Returns:
        str: 'The paper found <claim> (r = 0.64, NIH-CXR-LT).' (no value when the paper
        gives none).

    Raises:
        KeyError: for an unknown finding.
    """
    pv = VALUES[finding][0]
    claim = pc.CLAIMS[finding]
    if pv.nih is None:
        return f"The paper found {claim}."
    return f"The paper found {claim} ({pv.short} = {fmt_value(pv.nih)}, NIH-CXR-LT)."


def study_part(row) -> str:
    """The sentence that gives this study's value and verdict for one row.

    Args:
        row (Mapping): a row of the table (finding, verdict, reason, value, lo, hi, n).

    Returns:
        str: 'In this study: not shown (r = −0.24, 95% CI [−0.45, 0.18], n = 15).', or the
        reason when it cannot be computed.
    """
    if row["verdict"] == pc.CANNOT:
        return f"In this study: {pc.verdict_text(row)}."
    short = VALUES[row["finding"]][0].short
    return (f"In this study: {row['verdict']} ({short} = {num(row['value'])}, 95% CI "
            f"[{num(row['lo'])}, {num(row['hi'])}], n = {int(row['n'])}).")


def sentence(row) -> str:
    """The paper's finding and this study's, in one line.

    Args:
        row (Mapping): a row of the table.

    Returns:
        str: `paper_part` and `study_part` joined by a space.
    """
    return f"{paper_part(row['finding'])} {study_part(row)}"


def summary_sentence(rows: pd.DataFrame, method: str) -> str:
    """One sentence: which of the paper's findings hold in this study.

    Args:
        rows (pd.DataFrame): the method's rows (finding, verdict).
        method (str): the method, named in the sentence.

    Returns:
        str: e.g. 'In this study (l1_global), of the paper's 7 findings: F1 and F2 hold; …'.
    """
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
    """The rows as JSON-safe records, each with ``verdict_text`` added.

    Args:
        rows (pd.DataFrame): the method's rows.

    Returns:
        list[dict]: one dict per row; NaN as None (store.json_safe).
    """
    from core.store import json_safe

    out = []
    for row in rows.to_dict(orient="records"):
        row["verdict_text"] = pc.verdict_text(row)
        out.append(json_safe(row))
    return out


def format_text(method: str, rows: pd.DataFrame, level: float = 0.95) -> str:
    """The rows as the plain text `python -m core paper-check` prints.

    Args:
        method (str): the method, named in the heading.
        rows (pd.DataFrame): the method's rows.
        level (float): the interval level, named in the heading.

    Returns:
        str: a heading, the rule, and three to four lines per finding.
    """
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
    """`python -m core paper-check STUDY [--method M] [--json]`: print the check.

    Args:
        args (argparse.Namespace): ``study``, ``method`` (None = default) and ``json``.

    Returns:
        int: exit status 0; errors of `method_rows` propagate.
    """
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
