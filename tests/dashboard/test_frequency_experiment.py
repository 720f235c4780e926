"""The "Frequency experiment" page: shipped tables, none, tampered, --quick, hostile strings;
its sentences and chart builder."""
from __future__ import annotations

import math
import shutil

import pandas as pd
import pytest

from core import store
from core.experiments import frequency as fx
from dashboard.common.export import chart_bytes
from dashboard.study_pages import experiment_data as ed
from dashboard.study_pages.charts_experiment import paired_dots
from tests.dashboard.conftest import REPO
from tests.dashboard.mdtext import elements, markdown_sources, plain

PAGE = "study_pages/frequency_experiment.py"
SHIPPED = REPO / "artifacts" / "frequency-experiment"


def _texts(at) -> str:
    return " ".join(plain(md) for _, md in markdown_sources(at))


def _open(app_test, monkeypatch, folder, studies_root):
    monkeypatch.setenv(ed.ENV, str(folder))
    at = app_test([studies_root])
    at.run()
    at.switch_page(PAGE).run()
    return at


def _copy(src, dst):
    dst.mkdir()
    for name in (*fx.TABLE_FILES, fx.MANIFEST):
        shutil.copy(src / name, dst / name)
    return dst


def _rewrite(folder, arms=None, effects=None, design=None):
    """Rewrite a copy's tables through the writer (so its manifest matches again)."""
    result = {"arms": arms if arms is not None else pd.read_parquet(
                  folder / "frequency_arms.parquet"),
              "effects": effects if effects is not None else pd.read_parquet(
                  folder / "frequency_effects.parquet")}
    exp = design or store.read_json(folder / "experiment.json")
    result["summary"] = exp.pop("results")
    fx.write_tables(folder, result, exp, store.read_json(folder / "timing.json"))


def test_shipped_tables_are_shown_with_the_pooled_answer(app_test, monkeypatch, studies_root):
    assert fx.verify_tables(SHIPPED) == [], "artifacts/frequency-experiment ships verified"
    at = _open(app_test, monkeypatch, SHIPPED, studies_root)
    assert not at.exception and not at.error
    assert at.title[0].value == "Frequency experiment"
    text = _texts(at)
    pooled = store.read_json(SHIPPED / "experiment.json")["results"]["pooled"]
    for metric in ed.METRIC_TITLES:
        assert plain(ed.pooled_sentence(pooled, metric)) in text
    p = pooled["first_drop"]
    assert f"{p['per_10x']:+.1f} points" in text and ed.verdict(p["lo"], p["hi"]) in text
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1 and "common arm" in str(charts[0].proto.spec)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 15
    at.radio(key="fe_metric").set_value("dense_ap").run()
    assert not at.exception and (at.dataframe[0].value["common_value"].notna().sum() == 14)


def test_no_tables_says_how_to_make_them(app_test, monkeypatch, studies_root, tmp_path):
    at = _open(app_test, monkeypatch, tmp_path / "none", studies_root)
    assert not at.exception and not at.error
    info = " ".join(plain(i.value) for i in at.info)
    assert "No frequency experiment results" in info and ed.PRODUCE in info
    assert not at.get("vega_lite_chart")


def test_tampered_tables_are_refused(app_test, monkeypatch, studies_root, tmp_path):
    copy = _copy(SHIPPED, tmp_path / "t")
    eff = pd.read_parquet(copy / "frequency_effects.parquet")
    eff.loc[0, "per_10x"] = -1e6
    eff.to_parquet(copy / "frequency_effects.parquet")     # behind the manifest's back
    at = _open(app_test, monkeypatch, copy, studies_root)
    assert not at.exception
    assert "do not match their manifest" in plain(at.error[0].value)
    assert not at.get("vega_lite_chart")


def test_quick_run_is_labelled_and_hostile_names_stay_text(app_test, monkeypatch,
                                                           studies_root, tmp_path):
    copy = _copy(SHIPPED, tmp_path / "q")
    hostile = "![x](http://evil.example/x.png) <b>Mass</b> [a](http://e.example)"
    arms = pd.read_parquet(copy / "frequency_arms.parquet")
    effects = pd.read_parquet(copy / "frequency_effects.parquet")
    arms["first_drop"] = float("nan")                     # every signature "never" drops
    for df in (arms, effects):
        df.loc[df["signature"] == "Mass", "signature"] = hostile
    design = store.read_json(copy / "experiment.json") | {"quick": True}
    _rewrite(copy, arms, effects, design)
    at = _open(app_test, monkeypatch, copy, studies_root)
    assert not at.exception and not at.error
    assert "--quick" in " ".join(w.value for w in at.warning)
    assert hostile in _texts(at)                          # shown, literally
    for where, md in markdown_sources(at):
        assert not elements(md) & {"img", "a", "b", "script"}, (where, md)


def test_sentences_follow_the_rule():
    assert ed.verdict(-3, -1).startswith("an effect of frequency, negative")
    assert ed.verdict(1, 3).startswith("an effect of frequency, positive")
    assert ed.verdict(-1, 2).startswith("no effect of frequency shown")
    assert ed.verdict(math.nan, 1).startswith("cannot be judged")
    s = ed.pooled_sentence({"first_drop": {"per_10x": -12.34, "lo": -20.0, "hi": -2.5,
                                           "n_signatures": 12}}, "first_drop")
    assert s.startswith("Pooled over 12 signatures, a label 10× rarer changes the first "
                        "20%-drop sparsity (%) by -12.3 points (95% paired bootstrap CI "
                        "-20.0 to -2.5;")
    assert s.endswith("an effect of frequency, negative.")
    assert "n/a" in ed.pooled_sentence({}, "dense_ap")


def test_paired_dot_chart_builds_and_renders():
    arms = pd.read_parquet(SHIPPED / "frequency_arms.parquet")
    effects = pd.read_parquet(SHIPPED / "frequency_effects.parquet")
    df = ed.dot_frame(arms, effects, "rel_ap_at")
    assert len(df) == 28 and set(df["role"]) == {"common", "rare"}
    top = df.iloc[0]["signature"]
    eff = effects[(effects["metric"] == "rel_ap_at") & (effects["signature"] != "pooled")]
    assert top == eff.sort_values("log10_ratio", ascending=False).iloc[0]["signature"]
    chart = paired_dots(df, "relative AP change at 95% sparsity")
    chart.to_dict()   # validates against Vega-Lite's schema
    assert chart_bytes(chart, "svg").startswith(b"<svg")


@pytest.mark.parametrize("metric", list(ed.METRIC_TITLES))
def test_dot_frame_values_are_the_arms_table(metric):
    arms = pd.read_parquet(SHIPPED / "frequency_arms.parquet")
    effects = pd.read_parquet(SHIPPED / "frequency_effects.parquet")
    df = ed.dot_frame(arms, effects, metric).set_index(["signature", "arm"])
    a = arms.set_index(["signature", "arm"]).loc[df.index]
    assert df["value"].equals(a[metric]) and df["lo"].equals(a[f"{metric}_lo"])


def test_short_answer_gives_the_pooled_numbers_and_the_verdict():
    design = {"results": {"seeds": [0, 1, 2], "pooled": {
        "first_drop": {"per_10x": -7.25, "lo": -12.0, "hi": -2.5},
        "rel_ap_at": {"per_10x": -0.1234, "lo": -0.2, "hi": 0.05}}}}
    s = ed.short_answer(design)
    assert s.startswith("Its answer (3 seeds per arm")
    assert "by -7.2 points (95% CI -12.0 to -2.5)" in s   # -7.25 rounds half to even
    assert "by -0.123 (-0.200 to +0.050)" in s
    assert s.endswith("On the first drop: an effect of frequency, negative.")
    design["partial"] = {"planned_seeds": [0, 1, 2], "seeds_used": [0]}
    design["results"]["seeds"] = [0]
    assert ed.short_answer(design).startswith("Its answer (1 seed of 3 planned per arm")
    assert ed.short_answer({"results": {"pooled": {}}}) is None


def test_demo_pages_carry_the_shipped_answer(app_test, monkeypatch):
    from tests.dashboard.conftest import demo_studies

    studies = demo_studies()
    if not studies:
        pytest.skip("no shipped demo study")
    monkeypatch.setenv(ed.ENV, str(SHIPPED))
    at = app_test([studies[0].parent], study=str(studies[0]))
    at.run()
    want = plain(ed.short_answer(store.read_json(SHIPPED / "experiment.json")))
    for page in ("study_pages/overview.py", "study_pages/forgettability.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert want in [plain(c.value) for c in at.caption], page


def test_shipped_page_gives_each_units_training_time(app_test, monkeypatch, studies_root):
    """The page gives the units' own times (from their markers, in timing.json) whether
    the shipped run trained them or resumed them, never a resumed run's seconds as if it
    had trained."""
    at = _open(app_test, monkeypatch, SHIPPED, studies_root)
    run = store.read_json(SHIPPED / "timing.json")["runs"][-1]
    captions = " ".join(plain(c.value) for c in at.caption)
    for u in (u for u in run["units"] if u["seed"] is not None):
        assert f"{u['arm']} seed {u['seed']}: {u['seconds']:.0f} s" in captions
    assert "0 seed trainings" not in captions
