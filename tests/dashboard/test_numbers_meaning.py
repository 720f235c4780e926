"""What the numbers mean, the same in core and on the pages (issue 9, items 12, 13, 15):
an undefined AP is never "never drops"; the dashboard's frequencies come from the analysis'
own function (imported studies too); the PIE cut states its ties."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core import store
from core.analysis import analyze_study
from core.analysis.class_tables import class_correlations
from core.analysis.report import build_report, format_report
from dashboard.common import loaders
from dashboard.common.data import StudyData
from tests.dashboard.fixture_study import make_study
from tests.dashboard.mdtext import plain

UNDEF = "undefined (no positive in the evaluation split)"


@pytest.fixture(scope="module")
def no_hernia(tmp_path_factory):
    """The fixture study, with no Hernia positive left in the evaluation split."""
    root = make_study(tmp_path_factory.mktemp("nh") / "nohernia", seal=False, analyze=False,
                      weights=False, n_images=60)
    paths = store.StudyPaths(root)
    labels = pd.read_parquet(paths.labels)
    labels["Hernia"] = labels["Hernia"].where(labels["Hernia"] != 1, 0.0)
    store.write_parquet(paths.labels, labels)
    analyze_study(root)
    store.write_manifest(root, [p for p in root.rglob("*") if p.is_file()])  # test's files
    return root


def test_undefined_ap_in_tables_report_and_dashboard(no_hernia):
    a = store.StudyPaths(no_hernia).analysis_dir
    cs = pd.read_parquet(a / "class_summary.parquet")
    assert set(cs.loc[cs["class"] == "Hernia", "first_drop_status"]) == {"undefined"}
    assert "undefined" not in set(cs.loc[cs["class"] != "Hernia", "first_drop_status"])
    corr = json.loads((a / "correlations.json").read_text())
    for method in corr:
        assert corr[method]["first_drop_vs_log_freq"]["excluded"]["Hernia"] == UNDEF
        assert corr[method]["rel_ap_at_vs_log_freq"]["excluded"]["Hernia"] == UNDEF
    rep = build_report(no_hernia)
    for rows in rep["classes_summary"].values():
        row = next(r for r in rows if r["class"] == "Hernia")
        assert row["first_drop_20"] is None and row["first_drop_20_status"] == "undefined"
        assert row["first_drop_20_text"] == UNDEF
        assert all(r["first_drop_20_status"] in ("drops", "never") for r in rows
                   if r["class"] != "Hernia")
    hernia_lines = [x for x in format_report(rep).splitlines() if x.startswith("Hernia ")]
    assert hernia_lines and all(UNDEF in x and "never" not in x for x in hernia_lines)
    d = StudyData(no_hernia)
    d.key = "numbers-nohernia"
    for method in d.methods:
        s = loaders.class_summary(d, d.key, method, tuple(d.seeds), 20.0, 95).set_index("class")
        ref = cs[cs["method"] == method].set_index("class").loc[d.classes]
        assert list(s["first_drop_status"]) == list(ref["first_drop_status"])
        assert s.loc["Hernia", "first_drop_text"] == UNDEF
        rel = class_correlations(s.reset_index())
        assert rel["first_drop_vs_log_freq"]["excluded"] == corr[method][
            "first_drop_vs_log_freq"]["excluded"]


def test_classes_and_forgettability_pages_say_undefined(app_test, no_hernia):
    at = app_test([no_hernia.parent], study="nohernia")
    at.run()
    at.switch_page("study_pages/classes.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    cols = [c for c in table.columns if c.startswith(("first 20% drop",
                                                      "first significant 20% drop"))]
    assert len(cols) == 2, table.columns          # the median's and the CI's first drop
    for col in cols:
        assert set(table.loc[table["class"] == "Hernia", col]) == {UNDEF}, col
        assert UNDEF not in set(table.loc[table["class"] != "Hernia", col])
    at.switch_page("study_pages/forgettability.py").run()
    assert not at.exception
    captions = " ".join(plain(c.value) for c in at.caption)   # as shown: names are escaped
    assert f"Hernia ({UNDEF})" in captions and "Hernia (never" not in captions


def test_pies_page_states_the_ties_at_the_cut(app_test, no_hernia):
    at = app_test([no_hernia.parent], study="nohernia")
    at.run()
    at.switch_page("study_pages/pies.py").run()
    assert not at.exception
    text = " ".join(c.value for c in at.caption)
    assert "image(s) have exactly the cut value;" in text and "of them are PIEs (ties" in text


def test_imported_study_dashboard_frequencies_equal_the_stored_ones(tmp_path):
    """An imported release has no train counts: core falls back to the eval labels; the
    dashboard must use that same function (it used to show n = 0 points)."""
    from core.importer import import_release
    from tests.analysis.test_importer import write_release

    pred_dir, labels, _ = write_release(tmp_path)
    out = import_release(pred_dir, labels, "nih-cxr-lt", tmp_path / "study",
                         trust_pickles=True, log=lambda m: None)
    assert store.verify(out) == []
    d = StudyData(out)
    d.key = "numbers-imported"
    a = d.paths.analysis_dir
    stored = pd.read_parquet(a / "class_summary.parquet")
    corr = json.loads((a / "correlations.json").read_text())
    params = json.loads((a / "params.json").read_text())
    assert params["freq_source"].startswith("eval labels")
    for method in d.methods:
        ref = stored[stored["method"] == method].set_index("class").loc[d.classes]
        s = loaders.class_summary(d, d.key, method, tuple(d.seeds),
                                  float(params["drop_percent"]), params["at_sparsity"])
        np.testing.assert_array_equal(s["train_pos"], ref["train_pos"])
        np.testing.assert_allclose(s["log_train_freq"], ref["log_train_freq"])
        rel = class_correlations(s)
        for name in ("first_drop_vs_log_freq", "rel_ap_at_vs_log_freq"):
            assert rel[name]["n"] == corr[method][name]["n"]
            assert rel[name]["excluded"] == corr[method][name]["excluded"]
        assert rel["rel_ap_at_vs_log_freq"]["n"] == len(d.classes) > 0
