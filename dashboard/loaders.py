"""Cached loaders: the only place the dashboard touches Streamlit's caches.

- `st.cache_resource` for objects shared read-only by every session: one `StudyData` per
  study *and manifest state* (a re-sealed study is a new key, so it is re-read), and the
  dense models for Grad-CAM.
- `st.cache_data` for small derived tables, keyed by the study key and the filter values.
  Arguments starting with `_` are not hashed (the StudyData object); `key` stands for it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import derive
from dashboard.data import StudyData
from dashboard.filters import Filters
from dashboard.studies import StudyEntry, find_studies, fingerprint, verify_study


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
@st.cache_data(show_spinner=False, max_entries=64)
def metric_summary(_d: StudyData, key: str, methods: tuple, seeds: tuple, metric: str
                   ) -> pd.DataFrame:
    return derive.metric_summary(_d.overall, methods, seeds, metric)


@st.cache_data(show_spinner=False, max_entries=64)
def class_curves(_d: StudyData, key: str, methods: tuple, seeds: tuple, relative: bool
                 ) -> pd.DataFrame:
    return derive.class_curves(_d.per_class, methods, seeds, _d.sparsities, _d.classes,
                               relative)


@st.cache_data(show_spinner=False, max_entries=64)
def class_summary(_d: StudyData, key: str, method: str, seeds: tuple, drop: float, at: int
                  ) -> pd.DataFrame:
    return derive.class_summary(_d.per_class, _d.train_pos(), method, seeds, _d.sparsities,
                                _d.classes, drop, at)


@st.cache_data(show_spinner=False, max_entries=64)
def pair_table(_d: StudyData, key: str, method: str, seeds: tuple, variant: str
               ) -> pd.DataFrame:
    return derive.pair_table(_d.per_class, _d.cooccurrence("eval"), method, seeds,
                             _d.sparsities, _d.classes, variant)


def ensemble(d: StudyData, method: str, seeds: Sequence[int], k_index: int,
             rows: slice | Sequence[int] = slice(None)) -> np.ndarray:
    """Mean sigmoid output over seeds at one sparsity index: float32 [rows, C]."""
    acc = None
    for s in seeds:
        part = d.predictions(method, s).probabilities(k_index, rows)
        acc = part if acc is None else acc + part
    return acc / max(len(seeds), 1)


@st.cache_data(show_spinner="Correlating dense and pruned ensembles …", max_entries=32)
def pie_corr(_d: StudyData, key: str, method: str, seeds: tuple, k: int) -> np.ndarray:
    """Per-image dense-vs-k Spearman correlation of the seed ensembles. The stored analysis
    array is used when every seed is selected; a narrower seed range is recomputed from the
    predictions with the analysis' own function."""
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


@st.cache_data(show_spinner="Computing Grad-CAM (dense and pruned) …", max_entries=128)
def gradcam(_d: StudyData, key: str, seed: int, method: str, k: int, row: int, cls: int,
            signed: bool = False):
    """CamPair for one image and class; cached, so revisiting an image is instant."""
    return compute_gradcam(_d, seed, method, k, row, cls, signed)


def compute_gradcam(d: StudyData, seed: int, method: str, k: int, row: int, cls: int,
                    signed: bool = False, image: np.ndarray | None = None):
    """`image`: the row's model-input pixels when the caller has them (an ensemble runs
    several models on one image)."""
    import contextlib

    import torch

    from core import models, pruning
    from core.explain import gradcam_dense_pruned
    from core.threads import torch_threads

    model, spec = _model(d, d.key, seed)
    pixels = d.image(row) if image is None else image
    x = models.preprocess(torch.from_numpy(np.ascontiguousarray(pixels))[None], spec)

    @contextlib.contextmanager
    def pruned():
        # the same pruning as the stored predictions: this method, this sparsity, this seed
        # (structured methods yield a smaller copy; unstructured prune `model` in place)
        with pruning.sequence(model, method, [k], seed=seed, example_input=x) as seq:
            for _, _, net in seq:
                yield net

    # One small image is too little work to split: on a busy 2-core machine, torch's
    # intra-op threads made a 16 ms Grad-CAM take up to 1.8 s (measured), so small inputs
    # run on one thread; paper-size inputs (ResNet50 at 256 px) keep torch's default.
    # torch_threads: sessions run in their own threads and overlap; it restores the count
    # the process had when the last of them leaves (a bare save/set/restore did not).
    with d.model_lock, torch_threads(1 if x.shape[-1] <= 128 else None):
        # the model is shared by all sessions and pruned in place: one at a time
        return gradcam_dense_pruned(model, spec.gradcam_layer, x, cls, pruned,
                                    relu=not signed)


# --------------------------------------------------------------------------- beyond the paper
@st.cache_data(show_spinner=False, max_entries=64)
def analysis_table(_d: StudyData, key: str, name: str) -> pd.DataFrame | None:
    """A table of analysis/ (`name`: a StudyPaths constant, e.g. CI_OVERALL), or None when
    the study lacks it (analysed before it existed): pages say so instead of failing."""
    p = _d.paths.analysis(name)
    return pd.read_parquet(p) if p.is_file() else None


@st.cache_data(show_spinner=False, max_entries=16)
def extended_params(_d: StudyData, key: str) -> dict:
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
    from core.analysis.missed import RATES, summarise_seeds

    missed = analysis_table(_d, key, _d.paths.MISSED)
    m = missed[(missed["method"] == method) & missed["class"].isin(classes)
               & missed["sparsity"].between(*krange)]
    curves = summarise_seeds(m, rate, list(seeds))
    at = pd.DataFrame({"class": list(classes)})
    mk = m[m["sparsity"] == k]
    for r in RATES:
        s = summarise_seeds(mk, r, list(seeds))
        at = at.merge(s[["class", "median"]].rename(columns={"median": r}), on="class",
                      how="left")
    return curves, at
