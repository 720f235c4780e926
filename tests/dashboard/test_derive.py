"""The dashboard's re-derived tables equal the stored analysis at the study's parameters,
and respond to the filters (seeds, sparsity, diseases)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.analysis.pies import select_bottom
from dashboard import derive, loaders
from dashboard.data import StudyData


@pytest.fixture(scope="module")
def alpha(studies_root) -> StudyData:
    return StudyData(studies_root / "alpha")


def _analysis(d: StudyData, name: str) -> pd.DataFrame:
    return pd.read_parquet(d.paths.analysis_dir / name)


def test_curves_and_class_summary_equal_the_stored_analysis(alpha):
    d = alpha
    curves = derive.class_curves(d.per_class, d.methods, d.seeds, d.sparsities, d.classes, True)
    stored = _analysis(d, "forgetting.parquet")
    m = curves.merge(stored, on=["method", "class", "sparsity"])
    assert len(m) == len(stored) == len(curves)
    np.testing.assert_allclose(m["median"], m["rel_ap_median"], equal_nan=True)
    np.testing.assert_allclose(m["q25"], m["rel_ap_q25"], equal_nan=True)
    cs = _analysis(d, "class_summary.parquet")
    corr = json.loads((d.paths.analysis_dir / "correlations.json").read_text())
    for method in d.methods:
        s = derive.class_summary(d.per_class, d.train_pos(), method, d.seeds, d.sparsities,
                                 d.classes, 20, 95)
        ref = cs[cs["method"] == method].set_index("class").loc[d.classes]
        np.testing.assert_allclose(s["first_drop"], ref["first_drop"], equal_nan=True)
        np.testing.assert_allclose(s["rel_ap_at"], ref["rel_ap_at"], equal_nan=True)
        np.testing.assert_allclose(s["log_train_freq"], ref["log_train_freq"])
        rel = derive.frequency_relations(s)
        for ours, theirs in (("first_drop", "first_drop_vs_log_freq"),
                             ("rel_ap_at", "rel_ap_at_vs_log_freq")):
            for key in ("r", "rho", "p_r", "n"):
                assert rel[ours][key] == pytest.approx(corr[method][theirs][key], nan_ok=True)


@pytest.mark.parametrize("variant", ["paper", "plain"])
def test_pairs_equal_the_stored_analysis(alpha, variant):
    d = alpha
    corr = json.loads((d.paths.analysis_dir / "correlations.json").read_text())
    stored = _analysis(d, "class_pairs.parquet")
    for method in d.methods:
        p = derive.pair_table(d.per_class, d.cooccurrence("eval"), method, d.seeds,
                              d.sparsities, d.classes, variant)
        ref = stored[(stored["method"] == method) & (stored["variant"] == variant)]
        assert list(p["class_a"]) == list(ref["class_a"])
        for col in ("fcd", "log_freq_diff", "iou4"):
            np.testing.assert_allclose(p[col], ref[col], equal_nan=True, rtol=1e-9)
        rel = derive.pair_relations(p)
        assert rel["iou4"]["rho"] == pytest.approx(corr[method][f"fcd_vs_iou4_{variant}"]["rho"])
        assert p["pair"].iloc[0] == f"{p['class_a'].iloc[0]} – {p['class_b'].iloc[0]}"


def test_seed_filter_changes_the_tables(alpha):
    d = alpha
    full = derive.metric_summary(d.overall, d.methods, d.seeds, "map")
    two = derive.metric_summary(d.overall, d.methods, d.seeds[:2], "map")
    assert (full["n_seeds"] == 3).all() and (two["n_seeds"] == 2).all()
    assert not np.allclose(full["median"], two["median"])
    cube = derive.ap_cube(d.per_class, d.methods[0], [0, 99], d.sparsities, d.classes)
    assert np.isnan(cube[1]).all() and np.isfinite(cube[0]).any()   # unknown seed → NaN


def test_pie_correlations_stored_and_recomputed_agree(alpha):
    d = alpha
    d.key = "test-alpha"
    method, k = d.methods[0], 90
    stored = loaders.pie_corr(d, d.key, method, tuple(d.seeds), k)
    recomputed = loaders.pie_corr(d, d.key, method, tuple(reversed(d.seeds)), k)
    np.testing.assert_allclose(stored, recomputed, atol=1e-5)
    pies = _analysis(d, "pies.parquet")
    ref = pies[pies["method"] == method].sort_values("row")["pie_paper"].to_numpy()
    mask = select_bottom(stored, d.param("pie_percentile", 5.0))
    assert (mask == ref).all()
    one_seed = loaders.pie_corr(d, d.key, method, (d.seeds[0],), k)
    assert not np.allclose(one_seed, stored, atol=1e-3)


def test_pie_table_filters_and_orders(alpha):
    d = alpha
    corr = np.linspace(-1, 1, len(d.labels))
    mask = select_bottom(corr, 20)
    table = derive.pie_table(d.labels, d.classes, corr, mask, ground_truth=["quality"])
    assert len(table) == mask.sum() and table["corr"].is_monotonic_increasing
    assert {"quality", "labels", "n_findings"} <= set(table.columns)
    assert "label_noise" not in table  # in the labels, but not passed as declared
    only = derive.pie_table(d.labels, d.classes, corr, mask, ["Hernia"])
    assert all("Hernia" in s for s in only["labels"]) and len(only) < len(table)
    assert derive.positives_text(d.labels.iloc[[0]], d.classes).iloc[0] == ", ".join(d.classes)


def test_groundtruth_columns_are_the_declared_ones(alpha, tmp_path):
    from tests.dashboard.fixture_study import make_study

    assert alpha.groundtruth_columns == ["label_noise", "quality"]
    # same labels (quality/label_noise columns present), nothing declared: no ground truth
    root = make_study(tmp_path / "undeclared", n_images=40, seeds=(0,), methods=("l1_global",),
                      sparsities=(0, 90), weights=False, analyze=False, seal=False)
    study = json.loads((root / "study.json").read_text())
    study["dataset"].pop("ground_truth")
    (root / "study.json").write_text(json.dumps(study))
    d = StudyData(root)
    assert {"quality", "label_noise"} <= set(d.labels.columns)
    assert d.groundtruth_columns == []
