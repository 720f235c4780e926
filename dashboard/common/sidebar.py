"""The sidebar: which study is open (and whether it verifies), then the shared filters.

`open_study()` leaves a `loaders.Context` in `st.session_state["_ctx"]` for the pages, or,
when the study cannot be shown, `None` and a message naming the problem in `"_ctx_error"`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from dashboard.common import loaders
from dashboard.common.data import DATA_TABLES, METRIC_TABLES
from dashboard.common.filters import (
    ALL_FILTERS,
    P_STUDY,
    Miss,
    link_params,
    set_params,
    show_misses,
    sidebar_filters,
)
from dashboard.common.safe import md_code, md_escape
from dashboard.common.studies import (
    DEFAULT_ROOT,
    ENV_VAR,
    StudyEntry,
    classify,
    study_roots,
    unreadable_files,
)

HOW_TO_ADD = (f"Create the demo with `python -m core demo --out artifacts/demo`, or point the "
              f"dashboard at other folders with `{ENV_VAR}=DIR{os.pathsep}DIR…` "
              "or `streamlit run dashboard/app.py -- --roots DIR …`.")


def _url_name(entry: StudyEntry, entries: list[StudyEntry]) -> str:
    """A study's name in links: its name when unique among the studies found, else its path."""
    same = [e for e in entries if e.name == entry.name]
    return entry.name if len(same) == 1 else entry.key


def _initial_index(entries: list[StudyEntry]) -> int:
    wanted = st.query_params.get(P_STUDY)
    for i, e in enumerate(entries):
        if wanted and wanted in (e.name, e.key):
            return i
    for i, e in enumerate(entries):   # the shipped demo first, else the first sealed study
        if e.path == (DEFAULT_ROOT / "demo").resolve() and e.has_manifest:
            return i
    return next((i for i, e in enumerate(entries) if e.has_manifest and not e.error), 0)


def _fail(message: str) -> None:
    st.session_state["_ctx"] = None
    st.session_state["_ctx_error"] = message


def open_study(filters: tuple[str, ...] = ALL_FILTERS) -> None:
    """Study picker, verification and the `filters` the page uses (readers' links never
    come here: app.py serves them the reading page alone)."""
    ss = st.session_state
    link_params()   # remember the link this session started from, before anything rewrites it
    roots = study_roots(sys.argv[1:])
    entries = loaders.discover(tuple(str(r) for r in roots))
    sb = st.sidebar
    sb.markdown("### :material/biotech: PruneLens")
    missing_roots = [r for r in roots[1:] if not r.is_dir()]
    for r in missing_roots:
        sb.warning(f"Study root not found: {md_code(r)}")
    if not entries:
        _fail("No study found under " + ", ".join(md_code(r) for r in roots) + ". " + HOW_TO_ADD)
        return
    keys = [e.key for e in entries]
    if ss.get("study_pick") not in keys:
        first = entries[_initial_index(entries)]
        ss["study_pick"] = first.key
        wanted = st.query_params.get(P_STUDY)
        if wanted and wanted not in (first.name, first.key):
            show_misses([Miss("study", wanted, first.name)])
    by_key = {e.key: e for e in entries}
    key = sb.selectbox("Study", keys, key="study_pick", format_func=lambda k: by_key[k].label,
                       help="Every study found under: " + ", ".join(map(md_code, roots)))
    entry = by_key[key]
    sb.caption(f"**{md_escape(entry.dataset)}** · model **{md_escape(entry.model)}** · seeds "
               f"{_seed_text(entry.seeds)} · methods "
               f"{md_escape(', '.join(entry.methods) or '?')}")
    with sb.expander(f"All studies ({len(entries)})"):
        # a list, not st.dataframe: the data grid's code and canvas would load on every
        # page's first render for this one small, usually folded-away table
        st.markdown("\n".join(
            f"- **{md_escape(e.name)}** · {md_escape(e.dataset)} · {md_escape(e.model)} · "
            f"{len(e.seeds)} seed(s) · methods {md_escape(', '.join(e.methods) or '?')} · "
            f"{'sealed' if e.has_manifest else 'not sealed'} · {md_code(e.path)}"
            for e in entries))
    set_params({P_STUDY: _url_name(entry, entries)})

    if entry.error:
        _fail(f"**{md_escape(entry.name)}** ({md_code(entry.path)}) cannot be opened: "
              f"{md_escape(entry.error)}.")
        return
    problems = loaders.verify(entry.path)
    if problems:
        kind = classify(problems)
        head = ("is **incomplete**: it has no manifest, so it was not finished or is still "
                "running" if kind == "incomplete" else
                f"**does not verify** against its manifest ({len(problems)} problem(s)); "
                "files were changed, truncated or removed after the study was sealed")
        listing = "\n".join(f"- {md_code(p)}" for p in problems[:25])
        more = f"\n- … and {len(problems) - 25} more" if len(problems) > 25 else ""
        _fail(f"Study **{md_escape(entry.name)}** ({md_code(entry.path)}) {head}. It is not "
              f"shown, because its numbers could be wrong.\n\n{listing}{more}\n\nCheck it "
              f"with {md_code(f'python -m core verify {entry.path}')}; re-run or resume the "
              "study to repair it.")
        return
    unreadable = unreadable_files(entry.path)
    if unreadable:
        _fail(f"Study **{md_escape(entry.name)}** ({md_code(entry.path)}) has file(s) that "
              "cannot be read; it is not shown:\n\n"
              + "\n".join(f"- {md_code(p)}" for p in unreadable[:25])
              + "\n\nRe-run or resume the study to rewrite them.")
        return
    data = loaders.study_data(entry)
    missing = data.missing(METRIC_TABLES + DATA_TABLES)
    if missing:
        _fail(f"Study **{md_escape(entry.name)}** verifies but lacks tables the dashboard "
              "reads: " + ", ".join(md_code(m) for m in missing)
              + f". Compute them with {md_code(f'python -m core analyze {entry.path}')}.")
        return
    no_w = data.missing_weights()
    if no_w:
        sb.info(f"No model weights for seed(s) {_seed_text(no_w)}: everything is shown "
                "except Grad-CAM for those seeds.", icon=":material/info:")
    filters = sidebar_filters(entry, shown=filters)
    ss["_ctx"] = loaders.Context(entry=entry, data=data, filters=filters, problems=[])
    ss["_ctx_error"] = None


def _seed_text(seeds) -> str:
    seeds = sorted(seeds)
    if not seeds:
        return "?"
    if len(seeds) > 3 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]} ({len(seeds)})"
    return ", ".join(map(str, seeds))


def reader_pages(folder: Path | None = None) -> list[Path]:
    """The reader-study pages, where that feature is installed (the app works without)."""
    here = folder or Path(__file__).resolve().parents[1] / "reader_study"
    return [p for p in (here / "reader_setup.py", here / "reader_people.py",
                        here / "reader_results.py") if p.is_file()]
