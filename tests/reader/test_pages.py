"""The reader pages, run with Streamlit's AppTest on a tiny study."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.reader import FormSpec, ReaderDB, forms_from_study
from dashboard.common.studies import ENV_VAR
from tests.dashboard.mdtext import plain
from tests.reader.conftest import build_study, enrol, seal

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "reader_study"
# Words that would tell a reader how an image was chosen.
FORBIDDEN = ("pie", "l1_global", "random", "correlat", "sparsity", "pruned", "pruning",
             "population", "percentile", "img0", "is_pie", "method")


def _page(name: str, study: Path) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=30)
    at.query_params["study"] = str(study)
    return at


def _with_forms(study, **kw):
    db = ReaderDB.for_study(study)
    spec = FormSpec("l1_global", 90, percentile=25, **{"n_pie": 3, "n_non_pie": 3, **kw})
    plan = forms_from_study(study, spec)
    db.add_form_set(plan.spec_record(), plan.forms)
    return db


def _screen_text(at: AppTest) -> str:
    """Everything the page sent to the browser: every element's message, serialised."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def _data_text(at: AppTest) -> str:
    """What the page sent, less the shared viewer's static code (the same JS, CSS and HTML
    for every image and reader, so it cannot tell one image from another) and the pixels'
    base64 (random letters that spell anything)."""
    import re

    text = re.sub(r'(js|css|html)_content: "(?:[^"\\]|\\.)*"', "", _screen_text(at))
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "data:image/png", text)


def _answer(at: AppTest, agree="Yes", quality=4, difficulty=2, comment=""):
    at.radio[0].set_value(agree)
    at.radio[1].set_value(quality)
    at.radio[2].set_value(difficulty)
    at.text_area[0].input(comment)
    next(b for b in at.button if b.label == "Save and next").click()
    return at.run()


def _progress(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def _reader_page(study: Path, token: str | None, monkeypatch) -> AppTest:
    """The Read page as a reader's link opens it: nothing in the URL but the token."""
    monkeypatch.setenv(ENV_VAR, str(study.parent))
    seal(study)  # readers are only served from studies that verify
    at = AppTest.from_file(str(PAGES / "reader_read.py"), default_timeout=30)
    if token is not None:
        at.query_params["r"] = token
    return at


@pytest.mark.parametrize("token", [None, "", "made-up-token-made-up-token-0000000000000"])
def test_reading_needs_a_valid_link(study, monkeypatch, token):
    db = _with_forms(study)
    enrol(db, "Dr Lee")
    at = _reader_page(study, token, monkeypatch).run()
    assert not at.exception
    assert not at.radio and "data:image" not in _screen_text(at)  # no questions, no image
    shown = (at.error[0].value if token else at.info[0].value).lower()
    assert ("not valid" if token else "personal reading link") in shown


def test_run_through_a_form_resume_correct_submit(study, monkeypatch):
    db = _with_forms(study)
    token = enrol(db, "Dr Lee")["Dr Lee"]
    n = 6
    at = _reader_page(study, token, monkeypatch).run()
    assert _progress(at) == f"Image 1 of {n} · 0 rated"
    assert at.query_params["i"] == "1"
    assert at.markdown[1].value.startswith("**Label:** ")
    # the shared viewer got the pixels (from the eval cache: the fixture has no real source)
    assert _screen_text(at).count("data:image/png;base64,") == 1
    # a missing answer is refused with a message, nothing is stored
    next(b for b in at.button if b.label == "Save and next").click().run()
    assert "Please answer every question" in at.error[0].value
    assert db.all_answers().empty
    at = _answer(at, "No", 2, 5, "blurry")
    assert _progress(at) == f"Image 2 of {n} · 1 rated"
    at = _answer(at, "Yes", 4, 1)
    saved = db.all_answers()
    assert len(saved) == 2 and saved.iloc[0]["comment"] == "blurry"
    assert (saved["seconds"] >= 0).all()  # time on each image is recorded

    # A reload (a new session with the same link) resumes where the reader was.
    again = _reader_page(study, token, monkeypatch)
    again.query_params["form"], again.query_params["i"] = at.query_params["form"], \
        at.query_params["i"]
    at = again.run()
    assert _progress(at) == f"Image 3 of {n} · 2 rated"
    # Go back to image 1: the earlier answer is shown and can be corrected.
    next(b for b in at.button if b.label == "◀ Previous").click().run()
    next(b for b in at.button if b.label == "◀ Previous").click().run()
    assert at.radio[0].value == "No" and at.radio[1].value == 2 and at.radio[2].value == 5
    at = _answer(at, "Yes", 3, 3, "fine after all")
    first = db.all_answers().set_index("position").loc[1]
    assert (first["agree"], first["quality"], first["comment"]) == (1, 3, "fine after all")
    assert not [b for b in at.button if b.label == "Submit form"]
    while True:
        done = int(_progress(at).split(" · ")[1].split()[0])
        if done == n:
            break
        at = _answer(at)
    assert len(db.all_answers()) == n
    at.checkbox[0].check().run()
    next(b for b in at.button if b.label == "Submit form").click().run()
    assert "submitted" in at.success[0].value
    assert db.submitted("Dr Lee", 1)
    assert not at.radio  # a submitted form shows no questions any more
    assert not at.exception


def test_a_second_reader_neither_sees_nor_changes_the_first_readers_answers(study,
                                                                            monkeypatch):
    db = _with_forms(study, n_forms=2, image_overlap="shared")
    tokens = enrol(db, "Dr Lee", forms=[1]) | enrol(db, "Dr Ng", forms=[2])
    at = _answer(_reader_page(study, tokens["Dr Lee"], monkeypatch).run(), "No", 1, 5, "lee")
    mine = db.all_answers()
    at = _reader_page(study, tokens["Dr Ng"], monkeypatch).run()
    assert _progress(at).endswith("0 rated") and at.radio[0].value is None
    # Dr Ng cannot open Dr Lee's form by editing the URL: it is not one of theirs
    at.query_params["form"] = "1"
    at.run()
    assert at.query_params["form"] == "2"
    _answer(at, "Yes", 5, 1, "ng")
    after = db.all_answers()
    assert len(after) == 2
    pd.testing.assert_frame_equal(after[after["reader"] == "Dr Lee"].reset_index(drop=True),
                                  mine.reset_index(drop=True))


def test_reading_page_reveals_nothing_about_pies(study, monkeypatch):
    db = _with_forms(study, n_forms=2)
    token = enrol(db, "Reader One")["Reader One"]
    at = _reader_page(study, token, monkeypatch).run()
    texts = []
    for form in (1, 2):
        at.selectbox(key="rs_form_pick").set_value(form).run()
        for _ in range(6):
            texts.append(_data_text(at).lower())
            at = _answer(at)
    text = "\n".join(texts)
    assert "label:" in text and "do you fully agree with the label?" in text
    leaks = [w for w in (*FORBIDDEN, "tiny") if w in text]
    assert not leaks, f"reading page shows {leaks}"
    assert set(at.query_params) == {"r", "form", "i"}
    assert not at.exception


def test_readers_page_links_assignments_and_status(study):
    db = _with_forms(study, n_forms=2, image_overlap="shared")
    at = _page("reader_people.py", study).run()
    assert not at.exception
    at.text_input(key="rs_new_reader").input("Ärztin Öz")
    next(b for b in at.button if b.label == "Add reader").click().run()
    token = at.code[0].value.split("?r=")[1]
    assert db.reader_for_token(token).name == "Ärztin Öz"
    at.text_input(key="rs_new_reader").input("ärztin  öz")
    next(b for b in at.button if b.label == "Add reader").click().run()
    assert "already registered" in at.error[0].value
    at.multiselect(key="rs_assign_forms").set_value([1, 2]).run()
    next(b for b in at.button if b.label == "Assign").click().run()
    assert "shares images" in at.error[0].value  # form 2 repeats form 1's images
    assert db.assignments()["form_id"].tolist() == [1]
    next(b for b in at.button if b.label == "Close").click().run()
    assert db.form_sets()["status"].tolist() == ["closed"]
    assert list(db.audit_log()["action"]) == ["add_form_set", "add_reader", "assign",
                                              "set_status"]


def test_setup_page_creates_forms(study):
    at = _page("reader_setup.py", study).run()
    assert not at.exception
    assert "PIEs" in at.info[0].value
    at.number_input(key="rs_percentile").set_value(25.0)
    at.number_input(key="rs_npie").set_value(4)
    at.number_input(key="rs_nnon").set_value(4)
    at.number_input(key="rs_nforms").set_value(2)
    at.run()
    next(b for b in at.button if b.label == "Create forms").click().run()
    assert "Form 1, Form 2" in plain(at.success[0].value)   # shown text, not its Markdown
    next(b for b in at.button if b.label == "Create forms").click().run()
    assert "Form 3, Form 4" in plain(at.success[0].value)  # numbering continues
    db = ReaderDB.for_study(study)
    assert len(db.forms()) == 4 and len(db.form_sets()) == 2
    assert db.items().groupby("form_id")["is_pie"].sum().tolist() == [4, 4, 4, 4]
    # asking for more PIEs than exist is refused with a message
    at.number_input(key="rs_npie").set_value(500).run()
    next(b for b in at.button if b.label == "Create forms").click().run()
    assert "only" in at.error[0].value and len(db.forms()) == 4


def test_setup_page_without_pies_says_so(tmp_path):
    bare = build_study(tmp_path / "bare", with_analysis=False)
    at = _page("reader_setup.py", bare).run()
    assert not at.exception
    assert "no PIEs" in at.warning[0].value


@pytest.mark.parametrize("with_answers", [False, True])
def test_results_page(study, with_answers):
    db = _with_forms(study, n_forms=1)
    enrol(db, "A", "B")
    if with_answers:
        for reader, q in (("A", 2), ("B", 4)):
            for it in db.blind_items(1):
                db.save_answer(reader, it.item_id, q == 2, q, 6 - q, "note" if q == 2 else "")
    at = _page("reader_results.py", study).run()
    assert not at.exception
    assert at.get("download_button")
    if not with_answers:
        assert "No answers yet" in at.info[0].value
        return
    headers = [h.value for h in at.subheader]
    assert "PIE vs non-PIE" in headers and "Inter-reader agreement" in headers
    assert any("ground truth" in h for h in headers)  # the fixture has SynthCXR columns
    assert at.dataframe[0].value["reader"].iloc[0] == "all readers (pooled)"
