"""Citing the paper on a page: always with this study's value and verdict beside it.

Pages never state one of the paper's findings as fact above a chart of this study. Where a page
cites the paper, it calls `cite(d, finding, method)`, which gives one Markdown string of two
sentences: the paper's finding with its value, then "In this study: <verdict> (<value>, 95% CI
[…], n)" from the study's stored paper check (core.analysis.paper_check). Without that table
(a study analysed before it existed) the second sentence says how to get it.

Every string here passes through `safe.md_escape`: method names come from the study.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis import paper_check_table as pct
from dashboard.common.safe import md_escape

PAGE = "study_pages/paper_check.py"
EXPERIMENT_PAGE = "study_pages/frequency_experiment.py"
EXPERIMENT_DOC = "docs/experiments.md"
NOT_ANALYSED = ("In this study: not checked yet (the study was analysed before the paper "
                "check existed; run python -m core analyze STUDY).")


@st.cache_data(show_spinner=False, max_entries=16)
def table(_d, key: str) -> pd.DataFrame | None:
    """The stored paper check (all methods), None when the study has none."""
    return pct.read_table(_d.path)


@st.cache_data(show_spinner=False, max_entries=32, ttl=60)   # readers keep answering
def method_rows(_d, key: str, method: str) -> pd.DataFrame | None:
    """One method's seven rows, F7 refreshed from the reader study's answers when it has
    any (clinicians keep reading after the analysis)."""
    t = table(_d, key)
    if t is None or not (t["method"] == method).any():
        return None
    rows = t[t["method"] == method].reset_index(drop=True)
    if _d.paths.reader_db.is_file():
        rows = pct.refresh_reader_row(_d.path, rows, method)
    return rows


def cite(d, finding: str, method: str) -> str:
    """'The paper found … (r = 0.64, NIH-CXR-LT). In this study: … (…)' as Markdown."""
    rows = method_rows(d, d.key, method)
    if rows is None:
        return md_escape(f"{pct.paper_part(finding)} {NOT_ANALYSED}")
    row = rows[rows["finding"] == finding].iloc[0]
    return md_escape(f"{pct.paper_part(finding)} {pct.study_part(row)} (Method {method}, "
                     "all seeds.)")


def chart_aside(corr: dict, shown: int, at: int) -> str:
    """The sentence beside a chart drawn at another sparsity than the paper check's row."""
    def num(x):
        return "n/a" if x is None or x != x else f"{x:.2f}"
    return (f"The right-hand chart is at {shown}% sparsity, where r = {num(corr.get('r'))}, "
            f"ρ = {num(corr.get('rho'))} (n = {corr.get('n', 0)}); the sentence above is at "
            f"{at}%. Choose {at}% in the sidebar to see the chart the paper check measures.")


def summary(d, method: str) -> str | None:
    """One sentence: which of the paper's findings hold here (Markdown), None without a
    paper check."""
    rows = method_rows(d, d.key, method)
    return None if rows is None else md_escape(pct.summary_sentence(rows, method))


def default_method(d) -> str:
    return pct.default_method(d.methods)


def link_to_check(container=st) -> None:
    container.page_link(PAGE, label="Paper check: each finding, its interval and verdict",
                        icon=":material/fact_check:")


def _experiment_answer() -> str | None:
    """The shipped experiment's pooled answer in one sentence; None when absent or when its
    tables fail their manifest (the experiment page says why)."""
    from dashboard.study_pages import experiment_data as ed

    exp = ed.load(ed.folder())
    return ed.short_answer(exp.design) if isinstance(exp, ed.Experiment) else None


def why_pointer(d, container=st) -> None:
    """For a SynthCXR study: where the frequency-vs-difficulty experiment answers why some
    findings do not hold — its dashboard page when the app has it, else its document."""
    if str(d.dataset_name).lower() != "synthcxr":
        return
    lead = ("Why the others may not hold here: the frequency experiment separates class "
            "frequency from how hard each finding's signature is to see.")
    container.caption(lead)
    answer = _experiment_answer()
    if answer:
        container.caption(md_escape(answer))
    if (Path(__file__).resolve().parents[1] / EXPERIMENT_PAGE).is_file():
        try:
            container.page_link(EXPERIMENT_PAGE, label="Frequency experiment: the answer",
                                icon=":material/science:")
            return
        except Exception:   # the page file exists but is not in this app's navigation yet
            pass
    container.caption(f"Its command and result: {EXPERIMENT_DOC} in the repository.")
