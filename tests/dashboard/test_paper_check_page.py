"""The Paper check page, and honest pages: no sentence that cites one of the paper's findings
stands without this study's value and verdict beside it (issue 19 §1, §3)."""
from __future__ import annotations

import re

import pytest

from core.analysis import paper_check_table as pct
from tests.dashboard.conftest import demo_studies
from tests.dashboard.mdtext import markdown_sources, plain

PAGES = ["study_pages/overview.py", "study_pages/classes.py", "study_pages/forgettability.py",
         "study_pages/pies.py", "study_pages/who_is_hurt.py", "study_pages/paper_check.py"]
# a sentence citing the paper's result: "the paper found/finds/reports/shows … " or a paper
# value written as a statistic (r = 0.64)
CITES = re.compile(r"\bpaper\b.*\b(found|finds|find|reports?|shows?|showed|holds?)\b|"
                   r"\bpaper\b.*\b(r|ρ)\s*=", re.IGNORECASE)
BESIDE = re.compile(r"In this study( \([^)]*\))?(: |, of the paper's \d+ findings: )"
                    r"(.*\b)?(holds?|not shown|opposite|go(es)? the other way|"
                    r"cannot be computed|not checked)")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if s]


def _unbacked(at) -> list[str]:
    """Sentences citing the paper whose element does not give this study's verdict."""
    out = []
    for _, source in markdown_sources(at):
        text = plain(source)
        if source.lstrip().startswith("|"):
            # a Markdown table cites the paper only in a column beside this study's value
            # and verdict: its header must have both
            header = source.lstrip().splitlines()[0]
            if "paper" in header and not ("this study" in header and "verdict" in header):
                out.append(header)
            continue
        for s in _sentences(text):
            if CITES.search(s) and not BESIDE.search(text):
                out.append(s)
    return out


def _render(at, page):
    at.switch_page(page).run()
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    return at


def test_the_checker_catches_a_paper_column_without_this_studys(monkeypatch):
    import tests.dashboard.test_paper_check_page as me

    bare = "| finding | paper, NIH-CXR-LT |\n|---|---|\n| F1 | 0.64 |"
    ok = "| finding | verdict | this study | paper, NIH-CXR-LT |\n|---|---|---|---|\n" \
         "| F1 | not shown | −0.24 | 0.64 |"
    monkeypatch.setattr(me, "markdown_sources", lambda at: [(None, bare)])
    assert _unbacked(None)
    monkeypatch.setattr(me, "markdown_sources", lambda at: [(None, ok)])
    assert not _unbacked(None)


def test_the_checker_catches_a_bare_citation():
    text = "The paper found rarer classes forgotten earlier (r = 0.64)."
    assert CITES.search(text) and not BESIDE.search(text)
    ok = text + " In this study: not shown (r = −0.24, 95% CI [−0.45, 0.18], n = 15)."
    assert BESIDE.search(ok)


@pytest.mark.parametrize("study", demo_studies(), ids=lambda p: p.name)
def test_demo_pages_cite_the_paper_only_beside_this_study(app_test, study):
    at = app_test([study.parent], study=str(study))
    at.run()
    for page in PAGES:
        _render(at, page)
        assert not _unbacked(at), f"{page}: {_unbacked(at)}"


@pytest.mark.parametrize("study", demo_studies(), ids=lambda p: p.name)
def test_demo_overview_and_forgettability_say_which_findings_hold(app_test, study):
    at = app_test([study.parent], study=str(study))
    at.run()
    rows = pct.read_table(study)
    rows = rows[rows["method"] == pct.default_method(rows["method"].unique())]
    expected = pct.summary_sentence(rows, pct.default_method(rows["method"].unique()))
    for page in ("study_pages/overview.py", "study_pages/forgettability.py"):
        _render(at, page)
        shown = [plain(m.value) for m in at.markdown]
        assert expected in shown, page
        captions = " ".join(plain(c.value) for c in at.caption)
        assert "frequency experiment" in captions.lower(), page


@pytest.mark.parametrize("study", demo_studies(), ids=lambda p: p.name)
def test_paper_check_page_shows_the_stored_rows_and_the_rule(app_test, study):
    at = app_test([study.parent], study=str(study))
    at.run()
    _render(at, "study_pages/paper_check.py")
    assert at.title[0].value == "Paper check"
    md = " ".join(plain(m.value) for m in at.markdown)
    assert "holds: same sign as the paper and the 95% interval excludes 0" in md
    frame = at.dataframe[0].value
    stored = pct.read_table(study)
    stored = stored[stored["method"] == "l1_global"]
    assert list(frame["finding"]) == list(stored["finding"])
    assert list(frame["verdict"]) == [pct.pc.verdict_text(r) for _, r in stored.iterrows()]
    assert list(frame["this study"]) == [pct.num(v) for v in stored["value"]]


def test_pages_on_fixture_studies_cite_only_beside_this_study(app_test, studies_root):
    at = app_test([studies_root], study="alpha")
    at.run()
    for page in PAGES:
        _render(at, page)
        assert not _unbacked(at), f"{page}: {_unbacked(at)}"


def test_a_study_without_the_table_says_so(app_test, studies_root, tmp_path):
    import shutil

    from core import store

    root = tmp_path / "old"
    shutil.copytree(studies_root / "beta", root / "beta")
    p = store.StudyPaths(root / "beta").paper_check
    p.unlink()
    m = store.read_json(store.StudyPaths(root / "beta").manifest)
    m["files"] = {k: v for k, v in m["files"].items() if not k.endswith("paper_check.parquet")}
    store.write_json(store.StudyPaths(root / "beta").manifest, m)
    at = app_test([root], study="beta")
    at.run()
    _render(at, "study_pages/paper_check.py")
    assert any("analysed before the paper check" in i.value for i in at.info)
    for page in ("study_pages/forgettability.py", "study_pages/pies.py"):
        _render(at, page)
        assert not _unbacked(at), page
        text = " ".join(plain(c.value) for c in at.caption)
        assert "In this study: not checked yet" in text


@pytest.mark.parametrize("study", demo_studies(), ids=lambda p: p.name)
def test_forgettability_says_what_its_own_chart_shows_when_off_the_checked_sparsity(
        app_test, study):
    """The F2 sentence is at the analysed sparsity (95%); the chart under it follows the
    sidebar. Away from 95% the page gives the chart's own r beside it; at 95% it needs none."""
    from core import store

    paths = store.StudyPaths(study)
    at_sp = int(store.read_json(paths.analysis(paths.PARAMS)).get("at_sparsity", 95))
    other = 50 if at_sp != 50 else 60
    for k, expect_aside in ((other, True), (at_sp, False)):
        at = app_test([study.parent], study=str(study), k=str(k))
        at.run()
        _render(at, "study_pages/forgettability.py")
        captions = [plain(c.value) for c in at.caption]
        aside = [c for c in captions if c.startswith("The right-hand chart is at")]
        assert bool(aside) == expect_aside, (k, captions)
        if expect_aside:
            assert f"is at {k}% sparsity" in aside[0] and f"at {at_sp}%" in aside[0]


def test_chart_aside_states_the_charts_own_correlation():
    from dashboard.study_pages.paper_text import chart_aside

    s = chart_aside({"r": 0.4213, "rho": -0.05, "n": 14}, 90, 95)
    assert "at 90% sparsity, where r = 0.42, ρ = -0.05 (n = 14)" in s
    assert "Choose 95% in the sidebar" in s
    assert "r = n/a" in chart_aside({"r": float("nan"), "rho": None, "n": 2}, 90, 95)
