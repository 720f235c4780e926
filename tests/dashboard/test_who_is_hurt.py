"""The "Who is hurt" page (subgroups present / absent) and its chart builders."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.common.export import chart_bytes
from dashboard.study_pages import charts_hurt

PAGE = "study_pages/who_is_hurt.py"


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    return " ".join(parts)


def test_page_with_subgroups_shows_heatmap_tables_and_says_missed_is_absent(app_test,
                                                                            studies_root):
    at = app_test([studies_root], study="alpha")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    text = _texts(at)
    assert "Worst-hit group per class" in text and "PIE enrichment" in text
    assert "No subgroups" not in text
    # The fixture has no validation predictions: missed findings are absent, and said so.
    assert "validation split" in text and "has none" in text
    heat = [t for t in at.get("vega_lite_chart") if "subgroup" in str(t.proto.spec)]
    assert heat, "the subgroup heat map is drawn"


def test_page_without_metadata_says_subgroups_are_absent(app_test, studies_root):
    at = app_test([studies_root], study="beta")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    text = _texts(at)
    assert "No subgroups" in text and "Calibration" in " ".join(s.value for s in at.subheader)


def _sub_table():
    return pd.DataFrame({
        "method": "m", "attribute": ["sex", "sex", "age"], "group": ["F", "M", "80+"],
        "class": "A", "sparsity": 50, "ap": [0.5, 0.4, np.nan], "ap_lo": 0.3, "ap_hi": 0.6,
        "rel_ap": [-0.2, -3.0, np.nan], "rel_ap_lo": -0.3, "rel_ap_hi": -0.1,
        "n_images": 10, "n_pos": [8, 7, 1], "note": ["", "", "too few positives (< 5)"]})


def test_subgroup_heatmap_marks_few_positives_and_clips_colour():
    spec = charts_hurt.subgroup_heatmap(_sub_table(), ["A"], "t").to_dict()
    data = next(iter(spec["datasets"].values()))
    few = [r for r in data if r["subgroup"] == "age: 80+"][0]
    assert few["few"] is True and few["label"] == "few"
    clipped = [r for r in data if r["subgroup"] == "sex: M"][0]
    assert clipped["shown"] == -1.0 and clipped["rel_ap"] == -3.0   # tooltip keeps the truth
    tips = {t.get("title") for t in spec["layer"][1]["encoding"]["tooltip"]}
    assert {"95% CI low", "95% CI high"} <= tips


def test_rate_reliability_and_ci_curves_render_offline():
    summ = pd.DataFrame({"class": ["A", "A"], "sparsity": [0, 50], "median": [0.0, 0.2],
                         "q25": [0.0, 0.1], "q75": [0.0, 0.3], "n_seeds": [3, 3]})
    bins = pd.DataFrame({"sparsity": [0, 0, 50], "bin_lo": [0.0, 0.5, 0.0],
                         "bin_hi": [0.5, 1.0, 0.5], "count": [4, 0, 3],
                         "mean_prob": [0.2, np.nan, 0.3], "frac_pos": [0.25, np.nan, 0.0]})
    ci = pd.DataFrame({"method": "m", "sparsity": [0, 50], "map": [0.4, 0.3],
                       "map_lo": [0.35, 0.2], "map_hi": [0.45, 0.35]})
    for chart in (charts_hurt.rate_curves(summ, "missed_rate", "missed"),
                  charts_hurt.calibration_metric_curves(summ, "ece", "ECE"),
                  charts_hurt.reliability(bins, "r"), charts_hurt.ci_metric_curves(ci, "mAP"),
                  charts_hurt.subgroup_heatmap(_sub_table(), ["A"], "t")):
        chart.to_dict()
        assert chart_bytes(chart, "svg").startswith(b"<svg")
    rel = charts_hurt.reliability(bins, "r").to_dict()
    data = next(iter(rel["datasets"].values())) if "datasets" in rel else []
    assert all(r.get("count", 1) > 0 for r in data)            # empty bins are not drawn


def test_missed_findings_table_is_the_median_over_seeds_of_the_stored_rates(app_test):
    """On the demo (it has validation predictions): the page's 'At k%' table equals the
    median over seeds of missed.parquet's rates at the chosen sparsity, per class."""
    import pytest

    from core.analysis.missed import RATES
    from tests.dashboard.conftest import demo_studies

    studies = demo_studies()
    if not studies:
        pytest.skip("the demo study is not here")
    study = studies[0]
    at = app_test([study.parent], study=str(study), k="70")
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    (table,) = [t.value for t in at.dataframe if set(RATES) <= set(t.value.columns)]
    missed = pd.read_parquet(study / "analysis" / "missed.parquet")
    from dashboard.common.data import StudyData

    method = StudyData(study).methods[0]        # the page's default method
    m = missed[(missed["method"] == method) & (missed["sparsity"] == 70)]
    want = m.groupby("class")[list(RATES)].median()
    got = table.set_index("class")
    assert set(got.index) == set(want.index)
    np.testing.assert_allclose(got.loc[want.index, list(RATES)].to_numpy(float),
                               want.to_numpy(float), rtol=0, atol=1e-12)
