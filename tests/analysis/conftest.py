"""A small synthetic study written with core.store helpers, shared by the analysis tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import store
from core.config import StudyConfig


def make_study(root, *, seal=True, **kw):
    """Write study.json, labels, class counts, co-occurrence and predictions under `root`;
    with `seal`, a manifest listing exactly those files (as a finished, unanalysed study)."""
    with store.record_writes() as written:
        paths = _write_study(root, **kw)
    if seal:
        store.write_manifest(root, written)
    return paths


def _write_study(root, *, n_images=60, classes=("No Finding", "A", "B", "C"), seeds=(0, 1, 2),
                 sparsities=(0, 50, 90, 95), methods=("l1_global",), rng_seed=0,
                 groundtruth=True, nan_fraction=0.05):
    rng = np.random.default_rng(rng_seed)
    classes = list(classes)
    c = len(classes)
    paths = store.StudyPaths(root)
    y = (rng.random((n_images, c)) < np.linspace(0.5, 0.1, c)).astype(np.float32)
    y[:, 0] = (y[:, 1:].sum(axis=1) == 0)
    y[rng.random(y.shape) < nan_fraction] = np.nan
    y[0, :] = 1.0           # every class has positives and negatives
    y[1, :] = 0.0
    labels = pd.DataFrame({"id": [f"img{i:04d}.png" for i in range(n_images)],
                           "split": "test", "row": np.arange(n_images)})
    for j, name in enumerate(classes):
        labels[name] = y[:, j]
    if groundtruth:
        labels["quality"] = rng.random(n_images)
        labels["label_noise"] = rng.random(n_images) < 0.1
    store.write_parquet(paths.labels, labels)
    y0 = np.nan_to_num(y)
    counts = pd.DataFrame({"class": classes, "train_pos": (y0.sum(0) * 10 + 3).astype(np.int64),
                           "train_neg": 100, "train_nan": 0})
    store.write_parquet(paths.class_counts, counts)
    store.write_npy(paths.cooccurrence("eval"), (y0.T @ y0).astype(np.int64))
    cfg = StudyConfig(seeds=list(seeds), methods=list(methods), sparsities=list(sparsities))
    study = {"schema_version": store.SCHEMA_VERSION, "config": cfg.to_dict(),
             "classes": classes, "sparsities": list(sparsities), "methods": list(methods),
             "seeds": list(seeds),
             "dataset": {"name": "test",
                         **({"ground_truth": ["label_noise", "quality"]} if groundtruth else {})}}
    store.write_json(paths.study_json, study)
    for method in methods:
        for seed in seeds:
            noise = np.linspace(0.1, 3.0, len(sparsities))[:, None, None]
            logits = 2 * (np.nan_to_num(y, nan=0.5) - 0.5) + noise * rng.normal(
                size=(len(sparsities), n_images, c))
            pred = (1 / (1 + np.exp(-logits))).astype(np.float16)
            store.write_npy(paths.predictions(method, seed), pred)
            store.write_json(paths.measured_sparsity(method, seed),
                             {"requested": list(sparsities),
                              "measured": [s / 100 + 0.001 for s in sparsities]})
    return paths


@pytest.fixture
def small_study(tmp_path):
    return make_study(tmp_path / "study")
