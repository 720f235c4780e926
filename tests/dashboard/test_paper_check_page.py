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
        for s in _sentences(text):
            if CITES.search(s) and not BESIDE.search(text):
                out.append(s)
    return out


def _render(at, page):
    at.switch_page(page).run()
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    return at


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
