"""Chart builders without Streamlit: valid Vega-Lite, the right encodings, stats on the chart,
and export to SVG/PNG offline."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard.common import charts
from dashboard.common.export import chart_bytes, csv_bytes, slug


def _spec(chart) -> dict:
    return chart.to_dict()          # validates against the Vega-Lite schema


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_long_tail_log_scale_sorted_and_zero_counts_named():
    df = pd.DataFrame({"class": ["A", "B", "C"], "images": [5, 500, 0]})
    spec = _spec(charts.long_tail(df))
    assert spec["encoding"]["x"]["scale"]["type"] == "log"
    assert spec["encoding"]["y"]["sort"] == ["B", "A"]
    assert "none: C" in spec["title"]


def test_metric_curves_band_and_range():
    summary = pd.DataFrame({"method": "m", "sparsity": [0, 50, 90], "metric": "map",
                            "median": [.3, .25, .1], "q25": [.29, .2, .05],
                            "q75": [.31, .27, .12], "min": [.28, .1, 0],
                            "max": [.32, .3, .2], "n_seeds": 3})
    iqr = _spec(charts.metric_curves(summary, "mAP", "iqr", (0, 50)))
    area = iqr["layer"][0]["encoding"]
    assert area["y"]["field"] == "q25" and area["y2"]["field"] == "q75"
    assert iqr["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 50]
    rng = _spec(charts.metric_curves(summary, "mAP", "range"))
    assert rng["layer"][0]["encoding"]["y"]["field"] == "min"


def test_class_curves_relative_has_zero_rule_and_legend_highlight():
    curves = pd.DataFrame({"method": ["a", "a", "b", "b"], "class": ["X", "X", "X", "X"],
                           "sparsity": [0, 90, 0, 90], "median": [0, -.5, 0, -.2],
                           "q25": [0, -.6, 0, -.3], "q75": [0, -.4, 0, -.1], "n_seeds": 3})
    spec = _spec(charts.class_curves(curves, "rel", relative=True))
    assert spec["layer"][0]["mark"]["type"] == "rule"
    assert any(p.get("bind") == "legend" for p in spec["params"])
    assert "strokeDash" in spec["layer"][-1]["encoding"]       # two methods → dashes
    one = _spec(charts.class_curves(curves[curves.method == "a"], "AP", relative=False))
    assert "strokeDash" not in one["layer"][-1]["encoding"]


def test_stat_scatter_prints_r_rho_p_on_the_chart():
    df = pd.DataFrame({"class": list("ABCDE"), "x": [1, 2, 3, 4, np.nan],
                       "y": [1.0, 2.1, 2.9, 4.2, 3]})
    stats = {"r": 0.99, "p_r": 0.0004, "rho": 1.0, "p_rho": 0.0, "n": 4}
    spec = _spec(charts.stat_scatter(df, "x", "y", "X", "Y", stats))
    text = json.dumps(spec, ensure_ascii=False)
    assert "r = 0.99 (p < 0.001)" in text and "ρ = 1.00" in text and "n = 4" in text
    assert any("regression" in json.dumps(layer.get("transform", [])) for layer in spec["layer"])
    # the point with a missing x is left out of the plotted data
    assert len(spec["datasets"][spec["layer"][0]["data"]["name"]]) == 4
    undefined = charts.stats_text({"r": float("nan"), "n": 2})
    assert "r = n/a" in undefined


def test_labelled_scatter_names_points_and_highlights_a_selection():
    df = pd.DataFrame({"class": list("ABC"), "x": [1.0, 2, 3], "y": [3.0, 1, 2],
                       "selected": [True, False, False]})
    spec = _spec(charts.labelled_scatter(df, "x", "y", "X", "Y", {"n": 3}, highlight="selected"))
    assert spec["layer"][-1]["mark"]["type"] == "text"
    assert spec["layer"][0]["encoding"]["opacity"]["condition"]["test"] == "datum.selected"


def test_pair_scatter_hover_names_the_pair():
    df = pd.DataFrame({"pair": ["A – B", "A – C", "B – C"], "iou4": [.1, .5, .3],
                       "fcd": [1.0, .2, .5]})
    spec = _spec(charts.stat_scatter(df, "iou4", "fcd", "IoU", "FCD", {"n": 3}, label="pair"))
    assert spec["layer"][0]["encoding"]["tooltip"][0]["field"] == "pair"


def test_heatmap_keeps_class_order_and_counts():
    m = np.array([[5, 1, 0], [1, 3, 2], [0, 2, 9]])
    spec = _spec(charts.heatmap(m, ["c", "a", "b"], "t"))
    grey, cells = spec["layer"]
    assert cells["encoding"]["x"]["sort"] == ["c", "a", "b"]
    assert cells["encoding"]["color"]["scale"]["type"] == "log"
    assert cells["transform"] == [{"filter": "datum.count > 0"}]   # zeros stay grey
    data = spec["datasets"][(grey.get("data") or spec["data"])["name"]]
    assert len(data) == 9 and {d["count"] for d in data} == {0, 1, 2, 3, 5, 9}


def test_ratio_and_groundtruth_charts():
    r = pd.DataFrame({"class": ["A", "B", "C"], "ratio": [3.0, 0.5, np.nan]})
    spec = _spec(charts.ratio_bars(r, "class", "t"))
    data = spec["datasets"][spec["layer"][0]["data"]["name"]]
    assert [d["over"] for d in data] == ["more common in PIEs", "less common in PIEs",
                                         "undefined"]
    gt = {"label_noise": {"rate_pie": .2, "rate_nonpie": .05, "n_pie": 10, "n_nonpie": 190,
                          "p": .01},
          "quality": {"mean_pie": .4, "mean_nonpie": .6, "n_pie": 10, "n_nonpie": 190, "p": .2}}
    assert len(_spec(charts.groundtruth_bars(gt))["datasets"]) == 1
    hist = _spec(charts.corr_histogram(np.array([.1, .5, np.nan, .9]), .2, "t"))
    assert hist["layer"][1]["mark"]["type"] == "rule"


@pytest.mark.parametrize("fmt,magic", [("svg", b"<svg"), ("png", b"\x89PNG")])
def test_export_svg_png_offline(fmt, magic):
    df = pd.DataFrame({"class": ["A", "B"], "images": [10, 1000]})
    out = chart_bytes(charts.long_tail(df), fmt)
    assert out.lstrip()[:4] == magic and len(out) > 500
    with pytest.raises(ValueError):
        chart_bytes(charts.long_tail(df), "gif")


def test_csv_and_slug():
    assert csv_bytes(pd.DataFrame({"a": [1, 2]})) == b"a\n1\n2\n"
    assert slug("class pairs / paper: l1") == "class_pairs_paper_l1"
