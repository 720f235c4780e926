"""A 19-class CSV study with hostile names (Markdown image, HTML, formula, Streamlit
directives, unicode, comma) renders every page with the names as literal text (issue 9
items 16/17). Here through AppTest: every string Streamlit would render as Markdown is
rendered by a CommonMark parser and may hold no image, link or HTML; the browser itself is
checked by test_e2e.py."""
from __future__ import annotations

import io

import pandas as pd
import pytest

from tests.dashboard.fixture_study import (
    HOSTILE_CLASSES,
    HOSTILE_READER,
    HOSTILE_STUDY_NAME,
    hostile_image_id,
    hostile_token_file,
)
from tests.dashboard.htmltable import parse, rank_table
from tests.dashboard.mdtext import elements, html_sources, markdown_sources, plain

# What the dashboard's own HTML (st.html) may contain: layout and a table, never an element
# that loads, links or runs anything.
HTML_TAGS = {"style", "div", "table", "thead", "tbody", "tr", "th", "td"}

pytest.importorskip("markdown_it")
pytestmark = pytest.mark.slow

PAGES = ["study_pages/overview.py", "study_pages/classes.py", "study_pages/forgettability.py",
         "study_pages/pies.py",
         "study_pages/who_is_hurt.py", "study_pages/paper_check.py",
         "reading_room/browse.py", "reader_study/reader_setup.py", "reader_study/reader_people.py",
         "reader_study/reader_results.py"]


def _check(at, page: str) -> str:
    """Every Markdown string of the page renders without image, link or HTML; returns the
    page's Markdown text as shown."""
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    shown = []
    for where, md in markdown_sources(at):
        bad = elements(md) & {"img", "a", "script", "b", "i", "h1", "h2", "table"}
        if where == "Heading.body":
            bad -= {"h1", "h2"}
        assert not bad, f"{page}: {where} renders {bad}: {md!r}"
        assert ":red[" not in md and "$x^2$" not in md or "\\" in md, (page, where, md)
        shown.append(plain(md))
    for body in html_sources(at):
        tags = parse(body).tags
        assert tags <= HTML_TAGS, f"{page}: st.html draws {tags - HTML_TAGS}: {body[:300]!r}"
    return "\n".join(shown)


def test_every_page_shows_hostile_names_as_literal_text(app_test, hostile_root):
    at = app_test([hostile_root], study=str(hostile_root / "hostile"),
                  image=hostile_image_id(0))
    at.run()
    text = {"study_pages/overview.py": _check(at, "first run")}
    for page in PAGES:
        at.switch_page(page).run()
        text[page] = _check(at, page)
    assert f"Overview · {HOSTILE_STUDY_NAME}" in text["study_pages/overview.py"]
    # image row 0 is positive for every class: Browse's label line names all 18 findings,
    # literally ("No Finding" is not a finding: core.data.stats.labels_in_words)
    browse = text["reading_room/browse.py"]
    assert f"{hostile_image_id(0)} · " in browse
    assert "Labels: " + ", ".join(c for c in HOSTILE_CLASSES if c != "No Finding") in browse
    at.switch_page("reading_room/browse.py").run()
    findings = {f.lstrip("●? ") for f in rank_table(at)["finding"]}
    assert findings == set(HOSTILE_CLASSES), "the rank table names every class, literally"
    # the clinician's reading view (reached by the reader's own link): the label line names
    # the classes as typed, nothing else
    reading = app_test([hostile_root], r=hostile_token_file(hostile_root / "hostile")
                       .read_text())
    reading.run()
    read = _check(reading, "reading view")
    assert "Label: " in read
    line = read.split("Label: ", 1)[1].split("\n", 1)[0]
    assert line in _label_lines(hostile_root / "hostile") and line != "No Finding", line


def _label_lines(study) -> set[str]:
    """Every label line the reading view could show for this study, in plain words."""
    from core.reader import label_words
    from core.store import StudyPaths

    labels = pd.read_parquet(StudyPaths(study).labels)
    return {label_words(row, list(HOSTILE_CLASSES)) for _, row in labels.iterrows()}


def test_csv_exports_of_hostile_names_are_spreadsheet_safe(hostile_root):
    from core.reader import ReaderDB
    from dashboard.common.export import csv_bytes

    answers = pd.read_csv(io.BytesIO(ReaderDB.for_study(hostile_root / "hostile").export_csv()))
    assert set(answers["reader"]) == {"'" + HOSTILE_READER}
    assert answers["comment"].str.startswith("'@").all()
    table = pd.DataFrame({"class": list(HOSTILE_CLASSES), "delta": -0.5})
    raw = csv_bytes(table).decode()
    back = pd.read_csv(io.StringIO(raw))
    assert back["delta"].tolist() == [-0.5] * len(HOSTILE_CLASSES)
    for cell in back["class"]:
        assert not cell.startswith(("=", "+", "-", "@")), cell
    assert "'=HYPERLINK" in raw and "'-1+2" in raw and "'@cmd" in raw
    assert back["class"].str.removeprefix("'").tolist() == list(HOSTILE_CLASSES)
