"""A tiny study folder with just what the reader study reads: study.json, the eval labels
(with SynthCXR's ground-truth columns), the PIE analysis arrays and an eval image cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import store
from core.store import StudyPaths

CLASSES = ["No Finding", "Effusion", "Nodule", "Pleural_Thickening"]
SPARSITIES = [0, 50, 90]
N_IMAGES = 80


def build_study(root, n: int = N_IMAGES, seed: int = 0, with_analysis: bool = True,
                no_pies: bool = False):
    rng = np.random.default_rng(seed)
    paths = StudyPaths(root)
    findings = (rng.random((n, len(CLASSES) - 1)) < 0.25).astype(np.float32)
    findings[0, 0] = np.nan  # one "not labelled" value, as real label tables have
    labels = pd.DataFrame({"id": [f"img{i:04d}" for i in range(n)], "split": "test",
                           "row": np.arange(n)})
    labels["No Finding"] = (np.nan_to_num(findings).sum(1) == 0).astype(np.float32)
    for j, c in enumerate(CLASSES[1:]):
        labels[c] = findings[:, j]
    labels["quality"] = rng.random(n)
    labels["label_noise"] = rng.random(n) < 0.2
    store.write_json(paths.study_json, {
        "schema_version": store.SCHEMA_VERSION, "name": "tiny", "classes": CLASSES,
        "sparsities": SPARSITIES, "methods": ["l1_global", "random"], "seeds": [0, 1],
        "image_size": 32, "image_source": {"kind": "none-in-tests"},
        "dataset": {"name": "tiny", "ground_truth": ["label_noise", "quality"]}})
    store.write_parquet(paths.labels, labels)
    store.write_npy(paths.eval_cache, rng.integers(0, 256, (n, 32, 32), dtype=np.uint8))
    if with_analysis:
        store.write_json(paths.analysis_dir / "params.json", {
            "sparsities": SPARSITIES, "pie_sparsity": 90, "pie_percentile": 5.0,
            "methods": ["l1_global", "random"]})
        for method in ("l1_global", "random"):
            corr = rng.uniform(-0.5, 1.0, (len(SPARSITIES), n)).astype(np.float32)
            corr[0] = 1.0
            pop = (rng.random((len(SPARSITIES), n)) < (0 if no_pies else 0.3)).astype(np.uint8)
            pop[0] = 0
            store.write_npy(paths.analysis_dir / "pie_corr" / f"{method}.npy", corr)
            store.write_npy(paths.analysis_dir / "pie_population" / f"{method}.npy", pop)
    return root


def seal(root) -> None:
    """Seal a fixture study: this test wrote every file in it."""
    store.write_manifest(root, [p for p in Path(root).rglob("*") if p.is_file()])


@pytest.fixture
def study(tmp_path):
    return build_study(tmp_path / "study")


def reading_study(root, reader: str = "Dr Lee"):
    """A sealed fixture study with one small form set (2 PIEs + 2 non-PIEs at 90%) and one
    enrolled reader, assigned to it. Returns (study, db, {reader: link token})."""
    from core.reader import FormSpec, ReaderDB, forms_from_study

    study = build_study(root)
    db = ReaderDB.for_study(study)
    plan = forms_from_study(study, FormSpec("l1_global", 90, percentile=25, n_pie=2,
                                            n_non_pie=2))
    db.add_form_set(plan.spec_record(), plan.forms)
    tokens = enrol(db, reader)
    seal(study)
    return study, db, tokens


def candidates(n_pie: int = 50, n_non: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_pie + n_non
    return pd.DataFrame({"image_id": [f"im{i}" for i in range(n)], "row": np.arange(n),
                         "is_pie": np.arange(n) < n_pie,
                         "n_findings": rng.integers(0, 6, n)})


def enrol(db, *names: str, forms=None) -> dict[str, str]:
    """Register readers (schema 2: answers need a registered, assigned reader) and assign
    them `forms` (default: every form); returns {name: link token}. Names already
    registered are only assigned."""
    known = dict(zip(db.readers()["name"], db.readers()["reader_id"], strict=True))
    tokens = {}
    form_ids = list(db.forms()["form_id"]) if forms is None else list(forms)
    for name in names:
        if name in known:
            reader_id = known[name]
        else:
            reader, tokens[name] = db.add_reader(name)
            reader_id = reader.reader_id
        for form_id in form_ids:
            db.assign(reader_id, form_id)
    return tokens
