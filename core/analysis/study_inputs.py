"""What every analysis of a study starts from: study.json, the labels in row order, the class
counts and the evaluation co-occurrence (`load_study`). Its own module so that the table
writers (study_analysis, paper_check_table, the experiments) share it without importing
each other."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core import store
from core.analysis import frequency as fq
from core.data.base import ground_truth_columns

__all__ = ["load_study"]


def load_study(study_dir) -> dict:
    """What every analysis of a study folder starts from.

    Args:
        study_dir (str | Path): the study folder.

    Returns:
        dict: "paths" (StudyPaths), "study" (study.json), "classes" (list[str]), "labels"
        (pd.DataFrame sorted by `row`), "y" (float64 ``[N, C]``, 1 / 0 / NaN), "counts"
        (class counts table or None), "cooc" (float64 ``[C, C]`` eval co-occurrence) and
        "ground_truth" (the declared ground-truth columns).

    Raises:
        FileNotFoundError: not a study folder.
        ValueError: the labels lack a class column.
    """
    paths = store.StudyPaths(study_dir)
    if not paths.study_json.is_file():
        raise FileNotFoundError(f"{paths.study_json} not found: not a study folder")
    study = store.read_json(paths.study_json)
    classes = list(study["classes"])
    labels = store.read_rows(paths.labels)
    missing = [c for c in classes if c not in labels]
    if missing:
        raise ValueError(f"{paths.labels}: no column for classes {missing}")
    y = labels[classes].to_numpy(dtype=np.float64)
    counts = pd.read_parquet(paths.class_counts) if paths.class_counts.is_file() else None
    cooc = np.asarray(fq.read_cooccurrence(paths.root, "eval", y), dtype=np.float64)
    return {"paths": paths, "study": study, "classes": classes, "labels": labels, "y": y,
            "counts": counts, "cooc": cooc,
            "ground_truth": ground_truth_columns(study.get("dataset"), labels.columns)}
