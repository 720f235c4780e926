"""Helpers of the three reader-study pages: which study, its database, labels, pixels, charts.

The pages stay thin: they describe the screen; everything that can be tested without a
browser (labels in words, image fallback, chart builders) lives here or in core.reader.

Which study: inside the dashboard, the study opened in the sidebar (`loaders.page_context`
puts it in `st.session_state["_ctx"]`); a page run on its own (tests, or an app without a
study) falls back to the `study` URL parameter, then to a picker over the configured roots.
"""
from __future__ import annotations

import sys
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.reader import ReaderDB, ReaderDBError, label_words
from core.store import STUDY_JSON, StudyPaths, open_npy, read_json
from dashboard.common.data import StudyData
from dashboard.common.safe import md_escape

# Clinicians read at a size where small findings are visible; the demo's model input
# (e.g. 64 px) would be too small, so pixels are re-rendered or upscaled to this.
DISPLAY_SIZE = 512
# On the reading page the image is drawn this wide: with the questions beside it, one image
# fits one 1280×800 laptop screen without scrolling.
READ_IMAGE_PX = 520
GROUP_COLORS = alt.Scale(domain=["PIE", "non-PIE"], range=["#c0392b", "#2c7fb8"])
PAPER_MEANS = pd.DataFrame({  # Holste et al., reader study means (docs/paper_facts.md)
    "question": ["agree", "quality", "difficulty"],
    "PIE": [0.55, 3.70, 2.07], "non-PIE": [0.575, 3.85, 1.98]})


# --------------------------------------------------------------------------- study access
def current_study() -> Path | None:
    """The study the pages work on, or None after drawing an explanation."""
    ss = st.session_state
    if "_ctx" in ss:  # inside the dashboard app: the study opened in its sidebar
        if ss["_ctx"] is None:
            st.error(ss.get("_ctx_error") or "No study is open.", icon="⚠️")
            return None
        return Path(ss["_ctx"].data.path)
    from dashboard.common.studies import find_studies, study_roots

    param = st.query_params.get("study")
    if param and (Path(param) / STUDY_JSON).is_file():
        return Path(param)
    entries = [e for e in find_studies(study_roots(sys.argv)) if not e.error]
    named = [e for e in entries if param and e.name == param]
    if len(named) == 1:
        return Path(named[0].path)
    if param:
        from dashboard.common.filters import Miss, show_misses

        show_misses([Miss("study", param, "the study chosen below" if entries else "nothing")])
    if not entries:
        st.info("No study found. Run `python -m core demo` or point the dashboard at a folder "
                "of studies (`--roots DIR`).")
        return None
    chosen = st.selectbox("Study", entries, format_func=lambda e: e.label, key="rs_study")
    return Path(chosen.path)


def open_reader_db(study: Path, create: bool = True) -> ReaderDB:
    """The study's reader database (one object per study: it holds no connection, so sharing
    it between sessions is safe). Created only when `create` and the study never had one;
    ReaderDBError otherwise."""
    return _reader_db(str(Path(study).resolve()), bool(create))


@st.cache_resource(show_spinner=False, max_entries=16)
def _reader_db(path: str, create: bool) -> ReaderDB:
    return ReaderDB.for_study(path, create=create)


class GuardedDB:
    """A page's view of a ReaderDB: every call that raises ReaderDBError (the file is gone,
    damaged or locked) goes to `on_error`, which draws one line and stops the page, instead
    of a traceback; `after(name, result)` sees every successful call."""

    def __init__(self, db: ReaderDB, on_error, after=None):
        self._db, self._on_error, self._after = db, on_error, after

    def __getattr__(self, name: str):
        attr = getattr(self._db, name)
        if not callable(attr):
            return attr

        def guarded(*args, **kwargs):
            try:
                out = attr(*args, **kwargs)
            except ReaderDBError as exc:
                self._on_error(exc)
                raise  # on_error is meant to stop the page; never carry on without a result
            if self._after is not None:
                self._after(name, out)
            return out

        return guarded


def _coordinator_stop(exc: ReaderDBError):
    st.error(md_escape(str(exc)), icon=":material/sync_problem:")
    st.stop()


def reader_db(study: Path) -> GuardedDB:
    """The coordinator pages' database: created on first use when the study never had one;
    one that is missing, damaged or locked is named in one line (with how to restore it)."""
    try:
        return GuardedDB(open_reader_db(study), on_error=_coordinator_stop)
    except ReaderDBError as exc:
        _coordinator_stop(exc)


REOPEN_POLL_S = 5.0


@st.fragment(run_every=REOPEN_POLL_S)
def rerun_when_open(db, reader_id: int, form_id: int) -> None:
    """While a reader's form set is closed, look every few seconds whether the coordinator
    reopened it, and then rerun the page: Save is enabled again without a reload (a closed
    page has no widget the reader could use to trigger a rerun)."""
    forms = db.forms_of(reader_id)
    row = forms[forms["form_id"] == int(form_id)]
    if not row.empty and bool(row["open"].iloc[0]):
        st.rerun(scope="app")


class StudyView(StudyData):
    """A study as the reader pages see it: the dashboard's StudyData (study.json, labels
    in row order, image source) plus the PIE settings the analysis recorded."""

    def __init__(self, study: Path):
        super().__init__(study)
        params_path = self.paths.analysis(self.paths.PARAMS)
        self.params: dict = read_json(params_path) if params_path.is_file() else {}
        grid = self.params.get("sparsities") or self.sparsities
        self.pie_sparsities = [int(k) for k in grid if int(k) > 0]
        self.default_sparsity = int(self.params.get("pie_sparsity",
                                                    self.analysis_cfg.get("pie_sparsity", 90)))
        self.default_percentile = float(self.params.get(
            "pie_percentile", self.analysis_cfg.get("pie_percentile", 5.0)))

    @property
    def has_pie_analysis(self) -> bool:
        return bool(self.params) and any(self.pie_corr(m) is not None for m in self.methods)

    def label_text(self, row: int) -> str:
        return label_words(self.labels.loc[int(row)], self.classes)

    def display_image(self, row: int, size: int = DISPLAY_SIZE) -> np.ndarray | None:
        """uint8 [H, W] of eval image `row`: re-rendered/decoded at `size` from the study's
        image source, else the eval cache (upscaled), else None."""
        rows = self.labels.loc[[int(row)]]
        try:
            return np.asarray(self.image_source.load(rows, size), dtype=np.uint8)[0]
        except Exception:  # missing files, unknown source kind, …: try the cache
            pass
        try:
            img = np.asarray(open_npy(self.paths.eval_cache)[int(row)])
        except (OSError, ValueError, IndexError):
            return None
        from dashboard.common.imaging import upscale

        return upscale(img, size)


def study_view(study: Path) -> StudyView:
    """Cached per study and labels-file state (a re-analysed study is re-read)."""
    stamp = StudyPaths(study).labels.stat().st_mtime_ns
    return _study_view(str(Path(study).resolve()), stamp)


@st.cache_resource(show_spinner=False, max_entries=8)
def _study_view(path: str, stamp: int) -> StudyView:
    return StudyView(Path(path))


def image(study: Path, row: int) -> np.ndarray | None:
    """Display pixels of eval image `row` (cached per study state and row)."""
    path = Path(study).resolve()
    return _display_image(str(path), StudyPaths(path).labels.stat().st_mtime_ns, int(row))


@st.cache_data(show_spinner=False, max_entries=256)
def _display_image(path: str, stamp: int, row: int) -> np.ndarray | None:
    return _study_view(path, stamp).display_image(row)


def compact_layout() -> None:
    """The reading screen: no app header (a reader needs no app menu, and it would cover the
    top of the page) and less empty space, so one image and its questions fit a 1280×800
    screen. Constant CSS, no data in it."""
    st.html("<style>header[data-testid='stHeader']{display:none}"
            ".block-container{padding-top:1rem;padding-bottom:0.5rem}"
            "h1{padding-top:0}</style>")


# --------------------------------------------------------------------------- charts
def with_paper_means(table: pd.DataFrame) -> pd.DataFrame:
    """The PIE vs non-PIE table with the paper's means beside each question's rows."""
    ref = PAPER_MEANS.rename(columns={"PIE": "paper_mean_pie", "non-PIE": "paper_mean_non_pie"})
    return table.merge(ref, on="question", how="left")


def means_chart(table: pd.DataFrame) -> alt.FacetChart:
    """Mean answer of PIEs and non-PIEs per question: bars pooled, points per reader, and a
    tick at the paper's mean."""
    from core.reader.stats import POOLED

    long = table.melt(id_vars=["question", "reader"], value_vars=["mean_pie", "mean_non_pie"],
                      var_name="group", value_name="mean")
    long["group"] = long["group"].map({"mean_pie": "PIE", "mean_non_pie": "non-PIE"})
    paper = PAPER_MEANS.melt(id_vars="question", var_name="group", value_name="mean")
    paper["reader"] = "paper (Holste et al.)"
    long = pd.concat([long, paper[paper["question"].isin(table["question"])]],
                     ignore_index=True)
    x = alt.X("group:N", title=None, sort=["PIE", "non-PIE"], axis=alt.Axis(labelAngle=0))
    tip = ["reader", "group", alt.Tooltip("mean:Q", format=".3f")]
    # One data set with filters per layer: a faceted layer chart cannot carry its own data.
    bars = alt.Chart().mark_bar().encode(
        x=x, y=alt.Y("mean:Q", title="mean answer"), tooltip=tip,
        color=alt.Color("group:N", scale=GROUP_COLORS, legend=None),
    ).transform_filter(alt.datum.reader == POOLED)
    is_reader = (alt.datum.reader != POOLED) & (alt.datum.reader != "paper (Holste et al.)")
    dots = alt.Chart().mark_point(filled=True, color="black", size=40).encode(
        x=x, y="mean:Q", tooltip=tip).transform_filter(is_reader)
    ticks = alt.Chart().mark_tick(color="#555", thickness=2, size=30).encode(
        x=x, y="mean:Q", tooltip=tip).transform_filter(
        alt.datum.reader == "paper (Holste et al.)")
    return alt.layer(bars, dots, ticks, data=long).properties(width=150, height=220).facet(
        column=alt.Column("question:N", title=None, sort=list(table["question"].unique())),
    ).resolve_scale(y="independent")


def distribution_chart(dist: pd.DataFrame, title: str) -> alt.Chart:
    """Share of each answer value within PIEs and within non-PIEs (side by side); the
    question's scale goes into a subtitle so the title is never cut."""
    name, _, scale = title.partition(" (")
    return alt.Chart(dist, title=alt.TitleParams(name, subtitle=scale.rstrip(")"))).mark_bar(
    ).encode(
        x=alt.X("value:O", title="answer", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("group:N", sort=["PIE", "non-PIE"]),
        y=alt.Y("share:Q", title="share of answers", axis=alt.Axis(format="%")),
        color=alt.Color("group:N", scale=GROUP_COLORS, title=None,
                        legend=alt.Legend(orient="bottom")),
        tooltip=["group", "value", "count", alt.Tooltip("share:Q", format=".1%")],
    ).properties(width=180, height=200)


def distributions_chart(charts: list[alt.Chart]) -> alt.HConcatChart:
    """The per-question distribution charts side by side as one chart: a compound chart keeps
    its own size (Streamlit squeezed single charts in columns to a ~45 px plot)."""
    return alt.hconcat(*charts).resolve_scale(x="independent")


def form_set_label(row) -> str:
    pct = f" bottom {row['percentile']:g}%" if row["definition"] == "paper" else ""
    return (f"Set {row['set_id']}: {row['method']} at {row['sparsity']}% · {row['definition']}"
            f"{pct} · {row['n_forms']} form(s) of {row['n_pie']}+{row['n_non_pie']}")
