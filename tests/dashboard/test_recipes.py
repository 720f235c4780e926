"""The dashboard's tables are the core recipes' tables: over all seeds they equal what
`analyze` stored, and over a seed subset they equal what `analyze` stores for a study of
just those seeds (the same study folder re-analysed with its seed list cut down)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from core.analysis import analyze_study
from core.analysis import class_tables as ct
from core.analysis.pies import pie_cut, select_bottom
from dashboard.common import loaders
from dashboard.common.data import StudyData

SUBSET = (0, 2)


@pytest.fixture(scope="module")
def alpha(studies_root) -> StudyData:
    d = StudyData(studies_root / "alpha")
    d.key = "recipes-alpha"
    return d


@pytest.fixture(scope="module")
def subset(studies_root, tmp_path_factory) -> StudyData:
    """alpha with only the SUBSET seeds in study.json, analysed by `analyze` itself."""
    root = tmp_path_factory.mktemp("subset") / "alpha-subset"
    shutil.copytree(studies_root / "alpha", root)
    meta = json.loads((root / "study.json").read_text())
    meta["seeds"] = list(SUBSET)
    (root / "study.json").write_text(json.dumps(meta))
    analyze_study(root)
    d = StudyData(root)
    d.key = "recipes-subset"
    return d


def _table(d: StudyData, name: str) -> pd.DataFrame:
    return pd.read_parquet(d.paths.analysis_dir / name)


def _correlations(d: StudyData) -> dict:
    return json.loads((d.paths.analysis_dir / "correlations.json").read_text())


def _params(d: StudyData) -> dict:
    return json.loads((d.paths.analysis_dir / "params.json").read_text())


@pytest.mark.parametrize("which", ["all", "subset"])
def test_class_summary_and_correlations_equal_what_analyze_stores(alpha, subset, which):
    ref_study = alpha if which == "all" else subset
    seeds = tuple(alpha.seeds) if which == "all" else SUBSET
    params = _params(ref_study)
    stored = _table(ref_study, "class_summary.parquet")
    corr = _correlations(ref_study)
    for method in alpha.methods:
        s = loaders.class_summary(alpha, alpha.key, method, seeds,
                                  float(params["drop_percent"]), params["at_sparsity"])
        ref = stored[stored["method"] == method].reset_index(drop=True)
        pd.testing.assert_frame_equal(s[list(ref.columns)], ref, check_dtype=False)
        assert s["first_drop_text"].notna().all()
        ours = ct.class_correlations(s)
        for name in ("first_drop_vs_log_freq", "rel_ap_at_vs_log_freq"):
            for key in ("r", "p_r", "rho", "p_rho", "n", "excluded"):
                theirs = corr[method][name][key]
                assert ours[name][key] == (np.nan if theirs is None else theirs) or (
                    theirs is None and np.isnan(ours[name][key])), (method, name, key)


@pytest.mark.parametrize("which", ["all", "subset"])
def test_curves_and_pairs_equal_what_analyze_stores(alpha, subset, which):
    ref_study = alpha if which == "all" else subset
    seeds = tuple(alpha.seeds) if which == "all" else SUBSET
    forgetting = _table(ref_study, "forgetting.parquet")
    for relative, prefix in ((True, "rel_ap"), (False, "ap")):
        curves = loaders.class_curves(alpha, alpha.key, tuple(alpha.methods), seeds, relative)
        m = curves.merge(forgetting, on=["method", "class", "sparsity"], validate="1:1")
        assert len(m) == len(forgetting) == len(curves)
        for stat in ("median", "q25", "q75"):
            np.testing.assert_array_equal(m[stat], m[f"{prefix}_{stat}"])
        if relative:
            np.testing.assert_array_equal(m["n_seeds_x"], m["n_seeds_y"])
    stored = _table(ref_study, "class_pairs.parquet")
    corr = _correlations(ref_study)
    for method in alpha.methods:
        for variant in ("paper", "plain"):
            p = loaders.pair_table(alpha, alpha.key, method, seeds, variant)
            ref = stored[(stored["method"] == method) & (stored["variant"] == variant)]
            pd.testing.assert_frame_equal(p[list(ref.columns)], ref.reset_index(drop=True))
            assert p["pair"].iloc[0] == f"{p['class_a'].iloc[0]} – {p['class_b'].iloc[0]}"
            for key, res in ct.pair_correlations(p).items():
                theirs = corr[method][f"{key}_{variant}"]
                assert res["n"] == theirs["n"] and res["n_excluded"] == theirs["n_excluded"]
                assert res["rho"] == pytest.approx(theirs["rho"], abs=0, nan_ok=True)


@pytest.mark.parametrize("which", ["all", "subset"])
def test_pie_correlations_cut_and_ties_equal_what_analyze_stores(alpha, subset, which):
    """Recomputed from the predictions (seeds in another order, so the stored array is not
    simply returned): the same bits as the stored pie_corr, the same PIEs and ties."""
    ref_study = alpha if which == "all" else subset
    seeds = tuple(alpha.seeds) if which == "all" else SUBSET
    params = _params(ref_study)
    k, pct = params["pie_sparsity"], params["pie_percentile"]
    ki = alpha.sparsities.index(k)
    pies = _table(ref_study, "pies.parquet")
    for method in alpha.methods:
        ours = loaders.pie_corr(alpha, alpha.key, method, tuple(reversed(seeds)), k)
        stored = np.asarray(ref_study.pie_corr(method))
        np.testing.assert_array_equal(ours, stored[ki])
        cut = pie_cut(ours, pct)
        ref = pies[pies["method"] == method].sort_values("row")
        np.testing.assert_array_equal(cut.mask, ref["pie_paper"].to_numpy())
        info = params["pies"][method]
        assert cut.ties() == {key: info[key] for key in ("cut_value", "n_tied_at_cut",
                                                         "n_tied_pies")}


def test_metric_summary_is_the_median_over_the_chosen_seeds(alpha):
    full = loaders.metric_summary(alpha, alpha.key, tuple(alpha.methods), tuple(alpha.seeds),
                                  "map")
    two = loaders.metric_summary(alpha, alpha.key, tuple(alpha.methods), SUBSET, "map")
    assert (full["n_seeds"] == 3).all() and (two["n_seeds"] == 2).all()
    assert list(two.columns) == ["method", "sparsity", "metric", "median", "q25", "q75",
                                 "min", "max", "n_seeds"]
    ov = alpha.overall[alpha.overall["seed"].isin(SUBSET)]
    for (method, k), g in ov.groupby(["method", "sparsity"]):
        row = two[(two["method"] == method) & (two["sparsity"] == k)].iloc[0]
        assert row["median"] == pytest.approx(np.median(g["map"]), abs=1e-15)
        assert row["min"] == g["map"].min() and row["max"] == g["map"].max()
    assert not np.allclose(full["median"], two["median"])


def test_metric_cube_of_an_unknown_seed_is_nan(alpha):
    from core.analysis.over_seeds import metric_cube

    cube = metric_cube(alpha.per_class, alpha.methods[0], [0, 99], alpha.sparsities,
                       alpha.classes)
    assert np.isnan(cube[1]).all() and np.isfinite(cube[0]).any()


def test_pie_list_filters_and_orders(alpha):
    from core.analysis.pies import image_table, pie_list

    d = alpha
    corr = np.linspace(-1, 1, len(d.labels))
    mask = select_bottom(corr, 20)
    table = pie_list(image_table(d.labels, d.classes, corr, mask, ["quality"]), d.labels)
    assert len(table) == mask.sum() and table["corr"].is_monotonic_increasing
    assert list(table.columns) == ["row", "id", "corr", "labels", "n_findings", "quality"]
    assert set(table["n_findings"]) <= {"0", "1", "2", "3", "4+"}
    only = pie_list(image_table(d.labels, d.classes, corr, mask), d.labels, ["Hernia"])
    assert all("Hernia" in s for s in only["labels"]) and len(only) < len(table)
    assert "label_noise" not in only     # in the labels, but not passed as declared


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


def test_the_subset_study_differs_from_the_full_one(alpha, subset):
    # so the subset comparisons above compare numbers that depend on the seeds chosen
    full, part = (_table(d, "forgetting.parquet")["rel_ap_median"] for d in (alpha, subset))
    assert not np.allclose(full, part, equal_nan=True)
    assert not np.array_equal(np.asarray(alpha.pie_corr(alpha.methods[0])),
                              np.asarray(subset.pie_corr(alpha.methods[0])))
