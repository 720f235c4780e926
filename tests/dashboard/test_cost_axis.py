"""The equal-cost x-axis of Overview/Classes: cost columns merged per (method, sparsity)
from the study's cost table, charts drawn on them, the choice in the URL."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from dashboard.common import charts
from dashboard.study_pages import charts_hurt
from dashboard.study_pages.cost_axis import (
    AXES,
    NO_TABLE,
    domain,
    latency_note,
    missing_note,
    with_cost,
)

CLASSES = "study_pages/classes.py"


def _summary(methods=("a", "b"), ks=(0, 50)) -> pd.DataFrame:
    rows = [{"method": m, "sparsity": k, "median": 0.5 - k / 500, "q25": 0.1, "q75": 0.6,
             "min": 0.0, "max": 0.7, "n_seeds": 3} for m in methods for k in ks]
    return pd.DataFrame(rows)


def _data(spec: dict) -> list[dict]:
    return [r for ds in spec.get("datasets", {}).values() for r in ds]


def test_flops_and_latency_come_from_the_cost_table_not_from_sparsity():
    # 'a' is unstructured (its FLOPs do not fall); 'b' is channel pruning, where 50% of the
    # weights removed leaves 25% of the FLOPs (both layers of a channel pair shrink): a
    # recomputation from sparsity would give 50%.
    cost = pd.DataFrame({"method": ["a", "a", "b", "b"], "sparsity": [0, 50, 0, 50],
                         "flops": [200.0, 200.0, 200.0, 50.0],
                         "cpu_ms_b1": [2.0, 2.1, 2.0, 0.8]})
    m = with_cost(_summary(), cost)
    assert m["flops_pct"].tolist() == [100.0, 100.0, 100.0, 25.0]
    assert m["cpu_ms_b1"].tolist() == [2.0, 2.1, 2.0, 0.8]       # as stored
    assert m["median"].tolist() == _summary()["median"].tolist()   # rows unchanged
    # no cost table: NaN columns, the chart leaves such rows out
    assert math.isnan(with_cost(_summary(), None)["flops_pct"].iloc[0])
    # a method without a 0% row: the dense model is any method's 0% row (same weights)
    no_zero = cost[~((cost["method"] == "b") & (cost["sparsity"] == 0))]
    assert with_cost(_summary(), no_zero)["flops_pct"].tolist()[-1] == 25.0
    # a (method, sparsity) missing from the table stays NaN and is named on the page
    part = with_cost(_summary(ks=(0, 50, 90)), cost)
    assert part[part["sparsity"] == 90]["flops_pct"].isna().all()
    assert missing_note(with_cost(_summary(("a", "c")), cost), "flops").endswith(
        "for: c — left out of the chart.")
    assert missing_note(m, "sparsity") is None
    assert domain(cost, ["a", "b"], "flops") == [25.0, 100.0]
    assert domain(cost, ["a"], "latency") == [2.0, 2.1]
    assert domain(cost, ["a"], "sparsity") is None and domain(None, ["a"], "flops") is None
    # the same dense model timed once per method: its spread is the table's own noise
    assert latency_note(cost).startswith("Measurement noise: the dense model, timed once per "
                                         "method (2 times, the same weights), took 2.00–2.00 ms")
    assert latency_note(cost[cost["method"] == "a"]) is None and latency_note(None) is None


def test_charts_plot_cost_with_unit_in_tooltips_and_bars_for_bands():
    cost = pd.DataFrame({"method": ["a", "a", "b", "b"], "sparsity": [0, 50, 0, 50],
                         "flops": [200.0, 200.0, 200.0, 50.0],
                         "cpu_ms_b1": [2.0, 2.1, 2.0, 0.8]})
    m = with_cost(_summary(), cost)
    for build in (lambda x: charts.metric_curves(m, "mAP", "iqr", None, x),
                  lambda x: charts_hurt.ci_metric_curves(
                      m.rename(columns={"median": "map", "q25": "map_lo", "q75": "map_hi"}),
                      "mAP", None, x),
                  lambda x: charts.class_curves(m.assign(**{"class": "A"}), "AP", False,
                                                "IQR", x, [0.0, 3.0])):
        for key in ("flops", "latency"):
            col, title = AXES[key]
            spec = build(AXES[key]).to_dict()
            text = json.dumps(spec)
            assert f'"field": "{col}"' in text and title in text
            tips = [t for layer in spec["layer"]
                    for t in layer.get("encoding", {}).get("tooltip", [])]
            assert {"field": col, "type": "quantitative", "title": title,
                    "format": ".3~g"} in tips                      # the unit in the tooltip
            marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict)
                     else layer["mark"] for layer in spec["layer"]]
            assert "rule" in marks and "area" not in marks         # band: a bar per point
            line = next(la for la in spec["layer"] if "order" in la.get("encoding", {}))
            assert line["encoding"]["order"]["field"] == "sparsity"
        # the points carry the table's numbers
        rows = _data(build(AXES["flops"]).to_dict())
        assert {(r["method"], r["sparsity"], r["flops_pct"]) for r in rows} >= {
            ("b", 50, 25.0), ("a", 50, 100.0)}
    fixed = charts.class_curves(m.assign(**{"class": "A"}), "AP", False, "IQR",
                                AXES["latency"], [0.0, 3.0]).to_dict()
    assert '"domain": [0.0, 3.0]' in json.dumps(fixed)
    # default stays sparsity with an area band
    plain = json.dumps(charts.metric_curves(_summary(), "mAP").to_dict())
    assert "sparsity (% of weights removed)" in plain and '"area"' in plain


@pytest.fixture(scope="module")
def cost_study(tmp_path_factory):
    """A real (tiny) study run by core.study: its cost table is the one the study writes."""
    import core.data
    from core.study.run import run_study
    from tests.test_study import _cfg, _fake_dataset

    root = tmp_path_factory.mktemp("costroot")
    ds = _fake_dataset()
    old = core.data.load_dataset
    core.data.load_dataset = lambda cfg, image_size=None: ds
    try:
        run_study(_cfg(name="costs", methods=["l1_global", "channel_l1_global"], seeds=[0],
                       sparsities=[0, 50, 90]), root / "costs", progress=False)
    finally:
        core.data.load_dataset = old
    return root


def _chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _chart_rows(at) -> list[dict]:
    """Every row of every chart's data (Streamlit sends it as Arrow, apart from the spec)."""
    import pyarrow as pa

    return [r for c in at.get("vega_lite_chart") for d in c.proto.datasets
            for r in pa.ipc.open_stream(d.data.data).read_pandas().to_dict("records")]


def test_pages_plot_against_the_study_cost_table(app_test, cost_study):
    from core.pruning.cost import read_cost_table

    cost = read_cost_table(cost_study / "costs")
    assert cost is not None
    dense = cost.set_index(["method", "sparsity"])["flops"]
    want = 100 * dense[("channel_l1_global", 50)] / dense[("channel_l1_global", 0)]
    assert want < 90                         # channel pruning really removes FLOPs
    for x in ("flops", "latency"):
        for band in ("iqr", "ci"):
            at = app_test([cost_study], study="costs", x=x, band=band)
            at.run()
            assert not at.exception, at.exception
            radio = at.radio(key="ov_x")
            assert radio.options == ["sparsity", "remaining FLOPs", "CPU latency"]
            assert radio.value == x
            col = AXES[x][0]
            assert any(f'"field": "{col}"' in json.dumps(s) for s in _chart_specs(at))
            rows = [r for r in _chart_rows(at) if col in r]
            assert rows, "the accuracy chart is drawn on the cost axis"
            noted = any(c.value.startswith("Measurement noise") for c in at.caption)
            assert noted == (x == "latency")
            if x == "flops":
                got = {(r["method"], r["sparsity"]): r["flops_pct"] for r in rows}
                assert got[("channel_l1_global", 50)] == pytest.approx(want)
                assert got[("l1_global", 90)] == pytest.approx(100.0)   # zeros still cost
        at.switch_page(CLASSES).run()
        assert not at.exception, at.exception
        assert at.radio(key="cl_x").value == x                         # carried over
        assert at.query_params["x_axis"] in (x, [x])
        assert any(AXES[x][0] in json.dumps(s) for s in _chart_specs(at))
        at.radio(key="cl_x").set_value("sparsity").run()                # back via the radio
        assert not at.exception and at.query_params["x_axis"] in ("sparsity", ["sparsity"])


def test_study_without_cost_table_offers_sparsity_only_and_says_why(app_test, studies_root):
    at = app_test([studies_root], study="alpha", x="flops")
    at.run()
    assert not at.exception, at.exception
    keys = [r.key for r in at.radio]
    assert "ov_x" not in keys
    assert NO_TABLE in [c.value for c in at.caption]
    at.switch_page(CLASSES).run()
    assert not at.exception and "cl_x" not in [r.key for r in at.radio]
    assert NO_TABLE in [c.value for c in at.caption]


def test_opening_line_says_how_the_study_prunes():
    from dashboard.study_pages.cost_axis import how_pruned

    assert how_pruned(["l1_global", "random"]) == (
        ": one-shot methods set weights to zero, no retraining")
    both = how_pruned(["gmp_finetune", "channel_l1_global", "l1_global"])
    assert both.index("one-shot") < both.index("channel") < both.index("gradual")
    assert how_pruned(["not_a_method"]) == ""
