"""Cached loaders: the only place the dashboard touches Streamlit's caches.

- `st.cache_resource` for objects shared read-only by every session: one `StudyData` per
  study *and manifest state* (a re-sealed study is a new key, so it is re-read), and the
  dense models for Grad-CAM (browse_loaders.cam_maps, the one Grad-CAM path).
- `st.cache_data` for small derived tables, keyed by the study key and the filter values.
  Arguments starting with `_` are not hashed (the StudyData object); `key` stands for it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.common.data import StudyData
from dashboard.common.filters import Filters
from dashboard.common.studies import StudyEntry, find_studies, fingerprint, verify_study


# --------------------------------------------------------------------------- studies
@st.cache_data(ttl=15, show_spinner=False)
def discover(roots: tuple[str, ...]) -> list[StudyEntry]:
    """Studies under the roots; re-scanned every 15 s so a new study appears on its own."""
    from pathlib import Path

    return find_studies([Path(r) for r in roots])


@st.cache_data(show_spinner="Verifying the study's files against its manifest …",
               max_entries=32)
def _verify(path: str, fp: tuple) -> list[str]:
    return verify_study(path)


def verify(path) -> list[str]:
    """Manifest problems; re-hashed only when a file's size or mtime changed."""
    return _verify(str(path), fingerprint(path))


def _stamp(path) -> tuple:
    from core.store import MANIFEST

    st_ = (path / MANIFEST).stat()
    return (st_.st_size, st_.st_mtime_ns)


@st.cache_resource(show_spinner=False, max_entries=8)
def _study_data(path: str, stamp: tuple) -> StudyData:
    d = StudyData(path)
    d.key = f"{path}@{stamp[1]}"
    return d


def study_data(entry: StudyEntry) -> StudyData:
    return _study_data(str(entry.path), _stamp(entry.path))


# --------------------------------------------------------------------------- context
@dataclass
class Context:
    """What every page needs: the study, its data and the current filters."""
    entry: StudyEntry
    data: StudyData
    filters: Filters
    problems: list[str]

    @property
    def seeds(self) -> list[int]:
        return self.filters.seeds(self.data.seeds)

    @property
    def methods(self) -> list[str]:
        return [m for m in self.data.methods if m in self.filters.methods]

    @property
    def classes(self) -> list[str]:
        return [c for c in self.data.classes if c in self.filters.classes]


def page_context() -> Context:
    """The current study for a page, or an explanation on the page and a stop."""
    ctx = st.session_state.get("_ctx")
    if ctx is None:
        msg = st.session_state.get("_ctx_error") or "No study is open."
        st.error(msg, icon=":material/error:")
        st.stop()
    return ctx


# --------------------------------------------------------------------------- derived tables
# The tables of a seed selection are made by the recipes that wrote the stored tables
# (core.analysis.over_seeds, .class_tables, .pies), from the stored per-seed metrics: over
# all seeds they equal what `analyze` stored, over fewer what it would store for those.
def _cubes(d: StudyData, method: str, seeds) -> tuple[np.ndarray, np.ndarray]:
    from core.analysis.over_seeds import metric_cube

    return tuple(metric_cube(d.per_class, method, seeds, d.sparsities, d.classes, m)
                 for m in ("ap", "auc"))


@st.cache_data(show_spinner=False, max_entries=64)
def metric_summary(_d: StudyData, key: str, methods: tuple, seeds: tuple, metric: str
                   ) -> pd.DataFrame:
    """method, sparsity, metric, median, q25, q75, min, max, n_seeds of `metric` (map |
    mauc) over the seeds (core.analysis.over_seeds.summary_table)."""
    from core.analysis.over_seeds import summary_table

    overall = _d.overall[_d.overall["method"].isin(list(methods))]
    out = summary_table(overall, metric, ("method", "sparsity"), seeds, sort=True,
                        extremes=True)
    out.insert(2, "metric", metric)
    return out


@st.cache_data(show_spinner=False, max_entries=64)
def class_curves(_d: StudyData, key: str, methods: tuple, seeds: tuple, relative: bool
                 ) -> pd.DataFrame:
    """method, class, sparsity, median, q25, q75, n_seeds of AP (or its change relative to
    the same seed's dense model) over the seeds (core.analysis.class_tables.class_curves)."""
    from core.analysis.class_tables import CURVE_COLUMNS
    from core.analysis.class_tables import class_curves as curves

    frames = [curves(m, _d.sparsities, _d.classes, _cubes(_d, m, seeds)[0], relative)
              for m in methods]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=CURVE_COLUMNS)


@st.cache_data(show_spinner=False, max_entries=64)
def class_summary(_d: StudyData, key: str, method: str, seeds: tuple, drop: float, at: int
                  ) -> pd.DataFrame:
    """class_summary.parquet's rows for one method over the seeds, at these parameters
    (core.analysis.class_tables.class_summary), plus `first_drop_text` (what to show)."""
    from core.analysis import class_tables as ct
    from core.analysis.forgetting import first_drop_text

    ap, auc = _cubes(_d, method, seeds)
    y = _d.labels[list(_d.classes)].to_numpy(dtype=np.float64)
    s = ct.class_summary(method, _d.classes, _d.sparsities, ap, auc, _d.train_pos(),
                         ct.eval_positives(y), drop_percent=drop, at_sparsity=at)
    s["first_drop_text"] = first_drop_text(s["first_drop_status"], s["first_drop"],
                                           s["eval_pos"])
    return s


@st.cache_data(show_spinner=False, max_entries=64)
def pair_table(_d: StudyData, key: str, method: str, seeds: tuple, variant: str
               ) -> pd.DataFrame:
    """class_pairs.parquet's rows for one method and variant over the seeds
    (core.analysis.class_tables.pair_table), plus `pair` ("A – B", the chart's label)."""
    from core.analysis.class_tables import pair_table as pairs
    from core.analysis.forgetting import forgetting_curves

    rel = forgetting_curves(_cubes(_d, method, seeds)[0]).median
    p = pairs(method, _d.classes, rel, _d.sparsities, _d.cooccurrence("eval"), variant)
    p["pair"] = [f"{a} – {b}" for a, b in zip(p["class_a"], p["class_b"], strict=True)]
    return p


def ensemble(d: StudyData, method: str, seeds: Sequence[int], k_index: int,
             rows: slice | Sequence[int] = slice(None)) -> np.ndarray:
    """The seed ensemble at one sparsity index: float64 [rows, C], the mean sigmoid output
    over the seeds (core.analysis.pies.seed_ensemble, as `analyze` makes it)."""
    from core.analysis.pies import seed_ensemble

    return seed_ensemble(d.predictions(method, s).probabilities(k_index, rows) for s in seeds)


@st.cache_data(show_spinner="Correlating dense and pruned ensembles …", max_entries=32)
def pie_corr(_d: StudyData, key: str, method: str, seeds: tuple, k: int) -> np.ndarray:
    """Per-image dense-vs-k Spearman correlation of the seed ensembles, float32 [N]. The
    stored analysis array is used when every seed is selected; a narrower seed range is
    recomputed from the predictions with the analysis' own functions (same bits as the
    stored array would have for those seeds)."""
    from core.analysis.pies import rowwise_spearman

    ki = _d.sparsities.index(k)
    stored = _d.pie_corr(method)
    if stored is not None and tuple(seeds) == tuple(_d.seeds):
        return np.asarray(stored[ki], dtype=np.float32)
    dense = ensemble(_d, method, seeds, 0)
    pruned = ensemble(_d, method, seeds, ki)
    return rowwise_spearman(dense, pruned).astype(np.float32)


@st.cache_data(show_spinner=False, max_entries=256)
def image(_d: StudyData, key: str, row: int) -> np.ndarray:
    return _d.image(row)


# 8: an ensemble's Grad-CAM (Browse page) runs up to 8 models; fewer would reload every image
@st.cache_resource(show_spinner="Loading the model …", max_entries=8)
def _model(_d: StudyData, key: str, seed: int):
    from core import models

    model, meta = models.load_model(_d.paths.weights(seed))
    spec = models.ModelSpec.from_dict(meta["spec"]) if "spec" in meta else \
        models.spec(meta["architecture"])
    return model, spec


# --------------------------------------------------------------------------- beyond the paper
@st.cache_data(show_spinner=False, max_entries=64)
def analysis_table(_d: StudyData, key: str, name: str) -> pd.DataFrame | None:
    """A table of analysis/ (`name`: a StudyPaths constant, e.g. CI_OVERALL), or None when
    the study lacks it (analysed before it existed): pages say so instead of failing."""
    p = _d.paths.analysis(name)
    return pd.read_parquet(p) if p.is_file() else None


@st.cache_data(show_spinner=False, max_entries=16)
def beyond_paper_params(_d: StudyData, key: str) -> dict:
    """params.json → extended (what the beyond-the-paper analysis did), {} if absent."""
    from core.store import read_json

    p = _d.paths.analysis(_d.paths.PARAMS)
    return (read_json(p).get("extended") or {}) if p.is_file() else {}


@st.cache_data(show_spinner=False, max_entries=64)
def missed_views(_d: StudyData, key: str, method: str, classes: tuple, seeds: tuple,
                 krange: tuple, k: int, rate: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Who is hurt's missed-finding views: (the median-over-seeds curves of `rate` over the
    sparsity range, every rate at sparsity k per class). Cached: pandas' merges and group
    medians were most of the page's script time on every filter change."""
    from core.analysis.missed import CELL, RATES
    from core.analysis.over_seeds import summary_table

    missed = analysis_table(_d, key, _d.paths.MISSED)
    m = missed[(missed["method"] == method) & missed["class"].isin(classes)
               & missed["sparsity"].between(*krange)]
    curves = summary_table(m, rate, CELL, list(seeds))
    at = pd.DataFrame({"class": list(classes)})
    mk = m[m["sparsity"] == k]
    for r in RATES:
        s = summary_table(mk, r, CELL, list(seeds))
        at = at.merge(s[["class", "median"]].rename(columns={"median": r}), on="class",
                      how="left")
    return curves, at
