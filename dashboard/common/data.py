"""Read-only access to one study folder for the dashboard. No Streamlit here.

Tables are read once per `StudyData` object (the app keeps one per study and manifest
state, see loaders.py); large arrays (predictions, per-image correlations) are memory-mapped,
so a paper-scale study costs what a page touches, not what the folder holds.
"""
from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from core import predictions
from core.data.base import ground_truth_columns
from core.store import StudyPaths, read_json, read_rows

# What each page needs; a study missing one of these is shown with a message naming it.
_NAMES = StudyPaths("")   # relative names (study folder "")
METRIC_TABLES = (_NAMES.metrics(StudyPaths.PER_CLASS).as_posix(),
                 _NAMES.metrics(StudyPaths.OVERALL).as_posix())
DATA_TABLES = (_NAMES.labels.as_posix(), _NAMES.class_counts.as_posix(),
               _NAMES.cooccurrence("eval").as_posix())   # the train co-occurrence is optional


class StudyData:
    def __init__(self, path):
        self.path = Path(path)
        self.key = str(self.path)   # cache key; loaders add the manifest state
        self.paths = StudyPaths(self.path)
        self.meta: dict = read_json(self.paths.study_json)
        cfg = self.meta.get("config") or {}
        self.config = cfg
        self.name: str = self.meta.get("name") or cfg.get("name") or self.path.name
        self.classes: list[str] = list(self.meta["classes"])
        self.sparsities: list[int] = [int(k) for k in self.meta.get("sparsities")
                                      or cfg.get("sparsities")]
        self.methods: list[str] = list(self.meta.get("methods") or cfg.get("methods"))
        self.seeds: list[int] = sorted(int(s) for s in self.meta.get("seeds") or cfg["seeds"])
        self.analysis_cfg: dict = dict(cfg.get("analysis") or {})
        # Grad-CAM prunes a shared model in place: one computation at a time per study.
        self.model_lock = threading.Lock()

    # ------------------------------------------------------------------ facts
    @property
    def dataset_name(self) -> str:
        d = self.meta.get("dataset")
        return (d.get("name") if isinstance(d, dict) else None) or \
            (self.config.get("dataset") or {}).get("name", "?")

    @property
    def model_name(self) -> str:
        return str(self.config.get("model") or (self.meta.get("model_spec") or {}).get("name"))

    def param(self, name: str, default):
        return type(default)(self.analysis_cfg.get(name, default))

    def missing(self, names) -> list[str]:
        return [n for n in names if not (self.path / n).is_file()]

    def missing_weights(self) -> list[int]:
        return [s for s in self.seeds if not self.paths.weights(s).is_file()]

    # ------------------------------------------------------------------ tables
    @functools.cached_property
    def labels(self) -> pd.DataFrame:
        df = read_rows(self.paths.labels)
        if "row" not in df:   # stored in row order without the column
            df = df.reset_index(drop=True)
            df["row"] = np.arange(len(df))
        return df

    @functools.cached_property
    def class_counts(self) -> pd.DataFrame:
        return pd.read_parquet(self.paths.class_counts)

    @functools.cached_property
    def dataset_info(self) -> dict:
        p = self.paths.dataset_json
        return read_json(p) if p.is_file() else {}

    @functools.cache  # noqa: B019  (one StudyData per study; it lives as long as the app)
    def cooccurrence(self, split: str) -> np.ndarray:
        """int64 [C, C] YᵀY of a split's labels (core.analysis.frequency.read_cooccurrence)."""
        from core.analysis.frequency import read_cooccurrence

        return read_cooccurrence(self.path, split)

    @functools.cached_property
    def per_class(self) -> pd.DataFrame:
        return pd.read_parquet(self.paths.metrics(StudyPaths.PER_CLASS))

    @functools.cached_property
    def overall(self) -> pd.DataFrame:
        return pd.read_parquet(self.paths.metrics(StudyPaths.OVERALL))

    def train_pos(self) -> np.ndarray:
        """Train positives per class, in class order, by the analysis' own definition
        (core.analysis.frequency.train_frequency: eval labels when there are no train
        counts, as in an imported release), so the pages and the stored tables agree."""
        from core.analysis.frequency import train_frequency

        y = self.labels[list(self.classes)].to_numpy(dtype=np.float64)
        return train_frequency(self.class_counts, self.classes, y)[0]

    # ------------------------------------------------------------------ arrays
    @functools.cached_property
    def prediction_encoding(self) -> predictions.Encoding:
        return predictions.study_encoding(self.meta)

    def predictions(self, method: str, seed: int) -> predictions.Stored:
        """The memory-mapped [S, N, C] grid; index it with `.scores(...)` (AP/AUC) or
        `.probabilities(...)` (averages, thresholds)."""
        return predictions.open_predictions(self.path, method, seed, self.prediction_encoding)

    def pie_corr(self, method: str) -> np.ndarray | None:
        """Stored float32 [S, N] per-image correlations (all seeds), or None if absent
        (core.analysis.pies.read_pie_corr, memory-mapped)."""
        from core.analysis.pies import read_pie_corr

        return read_pie_corr(self.path, method)

    @functools.cached_property
    def groundtruth_columns(self) -> list[str]:
        """The ground-truth columns the study's dataset declares (SynthCXR), in its order."""
        return ground_truth_columns(self.meta.get("dataset"), self.labels.columns)

    # ------------------------------------------------------------------ pixels
    @functools.cached_property
    def image_size(self) -> int:
        size = self.meta.get("image_size") or (self.meta.get("model_spec") or {}).get(
            "input_size") or 224
        return int(size)

    def cooccurrence_splits(self) -> list[str]:
        return [s for s in ("train", "eval") if self.paths.cooccurrence(s).is_file()]

    @property
    def has_images(self) -> bool:
        return isinstance(self.meta.get("image_source"), dict)

    @functools.cached_property
    def image_source(self):
        from core.data import source_from_description

        return source_from_description(self.meta["image_source"])

    def image(self, row: int) -> np.ndarray:
        """uint8 [H, W] of eval image `row`, at the model's input size (what it saw)."""
        if not self.has_images:
            raise FileNotFoundError("this study records no image source (study.json)")
        rows = self.labels.iloc[[int(row)]]
        return np.asarray(self.image_source.load(rows, self.image_size))[0]
