"""analyze_study's tables beyond the paper, checked against independent computations."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from core import store
from core.analysis import analyze_study
from core.analysis import beyond_paper as ext
from core.analysis.report import build_report, format_report
from core.config import AnalysisConfig

from .conftest import make_study

CFG = AnalysisConfig(at_sparsity=90, pie_sparsity=90, bootstrap=200)


def _analyze(paths, cfg=CFG) -> dict:
    """analyze_study and seal what it wrote, as `python -m core analyze` does."""
    base = store.require_verified(paths.root)
    with store.record_writes() as written:
        params = analyze_study(paths.root, analysis=cfg)
    store.write_manifest(paths.root, written, base=base)
    return params


def _with_metadata(paths, rng_seed=0):
    labels = pd.read_parquet(paths.labels)
    rng = np.random.default_rng(rng_seed)
    n = len(labels)
    labels["sex"] = np.where(rng.random(n) < 0.5, "M", "F")
    labels["age"] = rng.integers(20, 90, n).astype(float)
    labels.loc[3, "age"] = np.nan
    labels["view"] = np.where(rng.random(n) < 0.7, "PA", "AP")
    base = store.require_verified(paths.root)
    with store.record_writes() as written:
        store.write_parquet(paths.labels, labels)
    store.write_manifest(paths.root, written, base=base)
    return labels


def _fake_predictions(paths, val_seeds):
    """A core.predictions stand-in reading the test study's float16 files, plus val data."""
    rng = np.random.default_rng(9)
    classes = store.read_json(paths.study_json)["classes"]
    yv = (rng.random((80, len(classes))) < 0.3).astype(float)
    yv[0], yv[1] = 1, 0
    val = pd.DataFrame(yv, columns=classes)
    probs = {s: (1 / (1 + np.exp(-(2 * yv - 1 + rng.normal(size=yv.shape))))).astype(np.float32)
             for s in val_seeds}

    def read_val_probabilities(root, seed):   # as core.predictions: None when absent
        return probs.get(seed)

    def read(root, method, seed):
        return np.asarray(store.open_npy(paths.predictions(method, seed)), dtype=np.float32)

    return SimpleNamespace(read_scores=read, read_probabilities=read,
                           read_val_labels=lambda root: val,
                           read_val_probabilities=read_val_probabilities), yv, probs


def _use(monkeypatch, fake) -> None:
    """Serve the fake's predictions to beyond_paper and its validation data to the threshold
    recipe (core.analysis.thresholds reads them through core.predictions)."""
    from core import predictions

    monkeypatch.setattr(ext, "_predictions_module", lambda: fake)
    monkeypatch.setattr(predictions, "read_val_labels", fake.read_val_labels)
    monkeypatch.setattr(predictions, "read_val_probabilities", fake.read_val_probabilities)


@pytest.fixture
def study(tmp_path, monkeypatch):
    paths = make_study(tmp_path / "s", n_images=120, seeds=(0, 1, 2), sparsities=(0, 50, 90))
    labels = _with_metadata(paths)
    fake, yv, probs = _fake_predictions(paths, val_seeds=(0, 1))
    _use(monkeypatch, fake)
    params = _analyze(paths)
    return paths, labels, params, yv, probs


def _table(paths, name):
    return pd.read_parquet(paths.analysis_dir / name)


def test_point_estimates_equal_the_paper_tables(study):
    paths, *_ = study
    ci = _table(paths, "ci_per_class.parquet")
    fg = _table(paths, "forgetting.parquet")
    both = ci.merge(fg, on=["method", "class", "sparsity"])
    assert len(both) == len(ci) == len(fg)
    np.testing.assert_allclose(both["ap"], both["ap_median"], atol=1e-12)
    np.testing.assert_allclose(both["rel_ap"], both["rel_ap_median"], atol=1e-12)
    assert (both["ap_lo"] <= both["ap_hi"]).all() and (both["n_boot"] == 200).all()
    summary = _table(paths, "ci_class_summary.parquet").merge(
        _table(paths, "class_summary.parquet"), on=["method", "class"], suffixes=("", "_paper"))
    np.testing.assert_array_equal(summary["first_drop"], summary["first_drop_paper"])
    overall = _table(paths, "ci_overall.parquet")
    med = _table(paths, "../metrics/overall.parquet").groupby("sparsity")["map"].median()
    np.testing.assert_allclose(overall["map"], med.to_numpy(), atol=1e-12)


def test_subgroup_ap_equals_sklearn_on_the_group(study):
    paths, labels, params, *_ = study
    sub = _table(paths, "subgroups.parquet")
    classes = store.read_json(paths.study_json)["classes"]
    row = sub[(sub["attribute"] == "sex") & (sub["group"] == "F") & (sub["note"] == "")].iloc[0]
    c, k = classes.index(row["class"]), [0, 50, 90].index(row["sparsity"])
    mask = (labels["sex"] == "F").to_numpy()
    y = labels[row["class"]].to_numpy()[mask]
    ok = ~np.isnan(y)
    aps = [average_precision_score(y[ok], np.asarray(store.open_npy(
        paths.predictions("l1_global", s)))[k, mask, c][ok].astype(np.float64))
        for s in (0, 1, 2)]
    assert row["ap"] == pytest.approx(np.median(aps), abs=1e-12)
    few = sub[sub["n_pos"] < 5]
    assert (few["note"] != "").all() and few["ap"].isna().all()
    groups = {(g["attribute"], g["group"]) for g in params["extended"]["subgroups"]}
    assert {("sex", "F"), ("sex", "M"), ("view", "AP"), ("view", "PA")} <= groups
    pies = _table(paths, "subgroup_pies.parquet")
    assert set(pies["definition"]) == {"paper", "population"}


def test_thresholds_and_missed_findings(study):
    paths, labels, params, yv, probs = study
    from core.analysis.thresholds import choose_thresholds

    classes = store.read_json(paths.study_json)["classes"]
    thr = _table(paths, "thresholds.parquet")
    assert sorted(thr["seed"].unique()) == [0, 1]          # seed 2 has no val predictions
    np.testing.assert_array_equal(thr[thr["seed"] == 1]["threshold"],
                                  choose_thresholds(probs[1], yv))
    assert "seeds [2]" in params["extended"]["thresholds_note"]
    missed = _table(paths, "missed.parquet")
    dense = missed[missed["sparsity"] == 0]
    assert (dense["flip_rate"] == 0).all() and (dense["missed_rate"] == 0).all()
    # Sensitivity at 90% for seed 0, class B, computed here directly.
    t = thr[(thr["seed"] == 0) & (thr["class"] == "B")]["threshold"].item()
    p = np.asarray(store.open_npy(paths.predictions("l1_global", 0)))[2, :, classes.index("B")]
    y = labels["B"].to_numpy()
    want = ((p.astype(np.float64) >= t) & (y == 1)).sum() / (y == 1).sum()
    got = missed[(missed["seed"] == 0) & (missed["class"] == "B") & (missed["sparsity"] == 90)]
    assert got["sensitivity"].item() == pytest.approx(want)


def test_report_has_the_new_keys(study):
    paths, *_ = study
    rep = build_report(paths.root)
    for key in ("confidence_intervals", "subgroups", "missed_findings", "calibration"):
        assert rep[key]["available"] is True, key
    assert rep["confidence_intervals"]["n_boot"] == 200
    json.dumps(rep, allow_nan=False)
    assert "bootstrap intervals" in format_report(rep)


def test_without_metadata_or_validation_predictions_says_so(tmp_path, monkeypatch):
    paths = make_study(tmp_path / "s", sparsities=(0, 50, 90))
    fake, *_ = _fake_predictions(paths, val_seeds=())
    _use(monkeypatch, fake)
    params = _analyze(paths)
    assert params["extended"]["subgroups"] == []
    assert set(params["extended"]["subgroups_absent"]) == {"sex", "age", "view"}
    assert _table(paths, "subgroups.parquet").empty
    assert _table(paths, "missed.parquet").empty
    rep = build_report(paths.root)
    assert rep["subgroups"]["available"] is False
    assert rep["missed_findings"] == {"available": False,
                                      "note": "no validation predictions in the study"}
    assert rep["confidence_intervals"]["available"] is True


def test_report_of_a_study_analysed_before_these_tables(tmp_path, monkeypatch):
    paths = make_study(tmp_path / "s", sparsities=(0, 50, 90))
    monkeypatch.setattr(ext, "run", lambda *a, **k: {})       # as the analysis was before
    _analyze(paths)
    assert not (paths.analysis_dir / "ci_per_class.parquet").exists()
    rep = build_report(paths.root)
    for key in ("confidence_intervals", "subgroups", "missed_findings", "calibration"):
        assert rep[key]["available"] is False and "analyze" in rep[key]["note"]
