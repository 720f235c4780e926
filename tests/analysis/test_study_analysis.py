"""analyze_study / main_analyze / report on a small study written by the test."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from core import store
from core.analysis import analyze_study, main_analyze
from core.analysis.report import build_report, main_report
from tests.analysis.conftest import make_study

# The columns documented in docs/ARCHITECTURE.md, "Analysis tables" (the dashboard's contract).
COLUMNS = {
    "metrics/per_class.parquet": ["method", "seed", "sparsity", "class", "ap", "auc", "n_pos",
                                  "n_neg", "note"],
    "metrics/overall.parquet": ["method", "seed", "sparsity", "measured_sparsity", "map", "mauc"],
    "analysis/forgetting.parquet": ["method", "class", "sparsity", "ap_median", "ap_q25",
                                    "ap_q75", "auc_median", "rel_ap_median", "rel_ap_q25",
                                    "rel_ap_q75", "rel_auc_median", "n_seeds"],
    "analysis/class_summary.parquet": ["method", "class", "class_index", "train_pos",
                                       "log_train_freq", "eval_pos", "ap_dense_median",
                                       "auc_dense_median", "first_drop", "first_drop_status",
                                       "rel_ap_at"],
    "analysis/class_pairs.parquet": ["method", "variant", "class_a", "class_b", "fcd", "freq_a",
                                     "freq_b", "log_freq_diff", "iou", "iou4"],
    "analysis/pies.parquet": ["method", "row", "id", "corr", "pie_paper", "pie_population"],
    "analysis/pie_class_ratio.parquet": ["method", "definition", "class", "n_pie", "n_nonpie",
                                         "pos_pie", "pos_nonpie", "prev_pie", "prev_nonpie",
                                         "ratio"],
    "analysis/pie_findings_ratio.parquet": ["method", "definition", "n_findings", "count_pie",
                                            "count_nonpie", "prev_pie", "prev_nonpie", "ratio"],
}


def test_tables_match_the_documented_columns_and_sklearn(small_study):
    params = analyze_study(small_study.root)
    for rel, cols in COLUMNS.items():
        assert list(pd.read_parquet(small_study.root / rel).columns) == cols, rel
    per_class = pd.read_parquet(small_study.metrics_dir / "per_class.parquet")
    assert len(per_class) == 1 * 3 * 4 * 4            # methods × seeds × sparsities × classes
    labels = pd.read_parquet(small_study.labels).sort_values("row")
    pred = store.open_npy(small_study.predictions("l1_global", 1))
    for _, row in per_class[per_class["seed"] == 1].iterrows():
        s = [0, 50, 90, 95].index(row["sparsity"])
        c = params["classes"].index(row["class"])
        y = labels[row["class"]].to_numpy()
        ok = ~np.isnan(y)
        assert row["ap"] == pytest.approx(average_precision_score(y[ok], pred[s, ok, c]),
                                          abs=1e-9)
        assert row["auc"] == pytest.approx(roc_auc_score(y[ok], pred[s, ok, c]), abs=1e-9)
        assert row["n_pos"] == int((y[ok] == 1).sum())
    overall = pd.read_parquet(small_study.metrics_dir / "overall.parquet")
    assert overall["measured_sparsity"].iloc[1] == pytest.approx(0.501)
    pairs = pd.read_parquet(small_study.analysis_dir / "class_pairs.parquet")
    assert sorted(pairs["variant"].unique()) == ["paper", "plain"] and len(pairs) == 2 * 6
    corr = store.open_npy(small_study.analysis_dir / "pie_corr" / "l1_global.npy")
    assert corr.shape == (4, 60) and corr.dtype == np.float32
    gt = store.read_json(small_study.analysis_dir / "pie_groundtruth.json")
    assert set(gt["l1_global"]) == {"paper", "population"}
    assert set(gt["l1_global"]["paper"]) == {"label_noise", "quality"}
    for name in ("correlations.json", "regression.json", "params.json", "pie_groundtruth.json"):
        text = (small_study.analysis_dir / name).read_text()
        json.loads(text, parse_constant=lambda c, n=name: pytest.fail(f"{n}: {c}"))  # NaN→null
    reg = store.read_json(small_study.analysis_dir / "regression.json")
    assert reg["l1_global"]["paper"]["terms"] == ["intercept", "log_freq_diff", "iou4"]


def test_main_analyze_reseals_and_verifies(small_study, capsys):
    assert main_analyze(SimpleNamespace(study=str(small_study.root))) == 0
    assert store.verify(small_study.root) == []
    assert "PIEs" in capsys.readouterr().out
    assert not list(small_study.root.rglob("*.pkl"))


def test_class_without_positives_and_no_groundtruth(tmp_path):
    paths = make_study(tmp_path / "s", groundtruth=False, nan_fraction=0.0)
    labels = pd.read_parquet(paths.labels)
    labels["C"] = 0.0                                   # class C: no positives at all
    store.write_parquet(paths.labels, labels)
    analyze_study(paths.root)
    pc = pd.read_parquet(paths.metrics_dir / "per_class.parquet")
    c_rows = pc[pc["class"] == "C"]
    assert c_rows["ap"].isna().all() and (c_rows["note"] == "no positive labels").all()
    summary = pd.read_parquet(paths.analysis_dir / "class_summary.parquet").set_index("class")
    assert np.isnan(summary.loc["C", "first_drop"])
    # AP is undefined, so C cannot "never drop": the status and the reason say so
    assert summary.loc["C", "first_drop_status"] == "undefined"
    assert set(summary["first_drop_status"]) <= {"drops", "never", "undefined"}
    corrs = store.read_json(paths.analysis_dir / "correlations.json")["l1_global"]
    for name in ("first_drop_vs_log_freq", "rel_ap_at_vs_log_freq"):
        assert corrs[name]["excluded"]["C"] == "undefined (no positive in the evaluation split)"
    assert corrs["fcd_vs_iou4_paper"]["n_excluded"] == 3      # every pair with C
    assert store.read_json(paths.analysis_dir / "pie_groundtruth.json") == {}
    overall = pd.read_parquet(paths.metrics_dir / "overall.parquet")
    assert overall["map"].notna().all()                     # nanmean over the other classes


def test_missing_predictions_is_a_clear_error(small_study):
    small_study.predictions("l1_global", 2).unlink()
    with pytest.raises(FileNotFoundError, match="seed 2"):
        analyze_study(small_study.root)


def test_report_has_exactly_the_issue_keys(tmp_path, capsys):
    paths = make_study(tmp_path / "s", methods=("l1_global", "random"),
                       sparsities=(0, 20, 50, 90, 95))
    main_analyze(SimpleNamespace(study=str(paths.root)))
    rep = build_report(paths.root)
    # The issue-4 keys unchanged and first, then issue 13's (tests/analysis/test_beyond_paper.py),
    # then issue 19's paper check (tests/analysis/test_paper_check.py).
    assert list(rep) == ["schema_version", "classes", "sparsities", "methods", "seeds",
                         "n_eval_images", "overall", "classes_summary", "correlations", "pies",
                         "confidence_intervals", "subgroups", "missed_findings", "calibration",
                         "paper_check"]
    assert rep["n_eval_images"] == 60 and rep["methods"] == ["l1_global", "random"]
    for method in rep["methods"]:
        assert [set(o) for o in rep["overall"][method]] == [
            {"sparsity", "map_median", "mauc_median"}] * 5
        assert all(set(c) == {"class", "train_freq", "ap_dense_median", "first_drop_20",
                              "first_drop_20_status", "first_drop_20_text", "rel_ap_95"}
                   for c in rep["classes_summary"][method])
        assert set(rep["correlations"][method]) == {
            "first_drop_20_vs_log_freq", "rel_ap_95_vs_log_freq", "fcd_vs_log_freq_diff",
            "fcd_vs_iou4"}
        for c in rep["correlations"][method].values():
            assert set(c) == {"r", "p_r", "rho", "p_rho", "n"}
        p = rep["pies"][method]
        assert set(p) == {"definition", "sparsity", "percentile", "n", "ids", "class_ratio",
                          "n_findings_ratio", "cut_value", "n_tied_at_cut", "n_tied_pies"}
        assert p["n"] == len(p["ids"]) == 3 and p["sparsity"] == 90
        assert list(p["n_findings_ratio"]) == ["0", "1", "2", "3", "4+"]
    json.dumps(rep, allow_nan=False)                          # NaN became null
    # what the CLI prints, against numbers computed here from the raw predictions with
    # scikit-learn and scipy (not against build_report, which the CLI itself calls)
    want = _independent_summary(paths, "l1_global", seeds=(0, 1, 2),
                                sparsities=(0, 20, 50, 90, 95), pie_sparsity=90, pct=5.0)
    capsys.readouterr()
    assert main_report(SimpleNamespace(study=str(paths.root), json=True)) == 0
    printed = json.loads(capsys.readouterr().out)
    got_map = [o["map_median"] for o in printed["overall"]["l1_global"]]
    np.testing.assert_allclose(got_map, want["map_median"], rtol=1e-9)
    assert printed["pies"]["l1_global"]["ids"] == want["pie_ids"]
    assert main_report(SimpleNamespace(study=str(paths.root), json=False)) == 0
    text = capsys.readouterr().out
    assert "first 20% drop" in text
    assert "PIEs (paper, bottom 5% at 90% sparsity): 3 images" in text
    for k, m in zip((0, 20, 50, 90, 95), want["map_median"], strict=True):
        assert f"{k:>7}%  {m:>11.3f}" in text, (k, m)


def _independent_summary(paths, method, seeds, sparsities, pie_sparsity, pct) -> dict:
    """mAP medians over seeds (sklearn AP per class, NaN labels skipped) and the paper's
    PIE ids (scipy Spearman per image between seed-mean dense and pruned outputs, the
    ⌊pct % · N⌋ lowest, ties by row), from the stored labels and prediction files only."""
    from scipy.stats import spearmanr

    study = store.read_json(paths.study_json)
    labels = pd.read_parquet(paths.labels).sort_values("row").reset_index(drop=True)
    y = labels[study["classes"]].to_numpy(dtype=np.float64)
    preds = [np.load(paths.predictions(method, s)).astype(np.float64) for s in seeds]
    maps = np.empty((len(seeds), len(sparsities)))
    for i, p in enumerate(preds):
        for j in range(len(sparsities)):
            aps = [average_precision_score(y[~np.isnan(y[:, c]), c],
                                           p[j][~np.isnan(y[:, c]), c])
                   for c in range(y.shape[1])]
            maps[i, j] = np.mean(aps)
    dense = np.mean([p[0] for p in preds], axis=0)
    pruned = np.mean([p[list(sparsities).index(pie_sparsity)] for p in preds], axis=0)
    corr = np.array([spearmanr(a, b).statistic for a, b in zip(dense, pruned, strict=True)])
    n = int(pct / 100 * len(corr))
    rows = sorted(np.lexsort((np.arange(len(corr)), corr))[:n])   # NaN sorts last
    return {"map_median": np.median(maps, axis=0).tolist(),
            "pie_ids": labels["id"].iloc[rows].astype(str).tolist()}


def test_report_before_analysis_says_what_to_do(small_study):
    with pytest.raises(FileNotFoundError, match="analyze"):
        build_report(small_study.root)


def test_groundtruth_only_where_the_dataset_declares_it(tmp_path):
    # the labels carry columns called quality/label_noise, but the dataset does not declare
    # them as ground truth: no PIE ground-truth statistics may be computed from them
    paths = make_study(tmp_path / "s", groundtruth=True)
    study = store.read_json(paths.study_json)
    del study["dataset"]["ground_truth"]
    store.write_json(paths.study_json, study)
    analyze_study(paths.root)
    assert store.read_json(paths.analysis_dir / "pie_groundtruth.json") == {}
    study["dataset"]["ground_truth"] = ["quality"]
    store.write_json(paths.study_json, study)
    analyze_study(paths.root)
    gt = store.read_json(paths.analysis_dir / "pie_groundtruth.json")
    assert {d: set(v) for d, v in gt["l1_global"].items()} == {"paper": {"quality"},
                                                               "population": {"quality"}}
