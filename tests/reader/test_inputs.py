"""Reader input hygiene (issue 22, item 6): names, seconds, over-long comments, reopening."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.reader import InputError, ReaderDB
from core.reader.inputs import MAX_COMMENT, check_seconds, clean_reader, clip_comment
from dashboard.common.studies import ENV_VAR
from tests.dashboard.mdtext import plain
from tests.reader.conftest import reading_study

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "reader_study"


@pytest.mark.parametrize("name", [
    "\u200b", "\u202e", "\u00ad", "\x00", "Reader\u200bA", "Dr\u202eLee", "Dr\u00adLee",
    "Dr\x00Lee", "\u2066Dr Lee\u2069", "\u3164", "Dr\ufe0fLee", "\ue000Dr",
    " \u200b ", "---", "\u0301",
])
def test_invisible_control_or_format_names_are_refused(name):
    with pytest.raises(InputError):
        clean_reader(name)


@pytest.mark.parametrize(("typed", "stored"), [
    ("  Dr   Lee ", "Dr Lee"),
    ("ｒｅａｄｅｒ\u3000Ａ", "reader A"),       # full-width letters and space: NFKC
    ("Dr\u00a0Lee", "Dr Lee"),                  # no-break space is a space
    ("Dr\tLee\u2028", "Dr Lee"),               # any white space: one space, ends stripped
    ("ﬁona", "fiona"),                          # the ligature's letters
    ("Ärztin Öz", "Ärztin Öz"),
    ("O'Brien-Smith", "O'Brien-Smith"),
])
def test_names_are_nfkc_normalised(typed, stored):
    assert clean_reader(typed) == stored


def test_a_look_alike_name_is_one_reader_or_refused(tmp_path):
    db = ReaderDB(tmp_path / "r.sqlite")
    db.add_reader("Reader A")
    with pytest.raises(InputError, match="U\\+200B"):
        db.add_reader("Reader\u200bA")
    with pytest.raises(InputError, match="already registered"):
        db.add_reader("ｒｅａｄｅｒ\u3000Ａ")
    assert db.readers()["name"].tolist() == ["Reader A"]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, -1, "inf", "nan", "abc",
                                 True, [1]])
def test_seconds_must_be_finite_and_not_negative(bad):
    with pytest.raises(InputError, match="finite number ≥ 0"):
        check_seconds(bad)


def test_seconds_inf_is_never_stored(tmp_path):
    _, db, _ = reading_study(tmp_path / "s")
    item = db.blind_items(1)[0].item_id
    with pytest.raises(InputError):
        db.save_answer("Dr Lee", item, True, 3, 3, seconds=float("inf"))
    assert db.all_answers().empty
    db.save_answer("Dr Lee", item, True, 3, 3, seconds="2.5")
    assert db.all_answers()["seconds"].tolist() == [2.5]
    assert check_seconds(0) == 0.0 and check_seconds(None) is None


def test_clip_comment():
    assert clip_comment("  short ") == ("short", False)
    text, clipped = clip_comment("é" * (MAX_COMMENT + 500))
    assert clipped and text == "é" * MAX_COMMENT
    assert clip_comment("x" * MAX_COMMENT) == ("x" * MAX_COMMENT, False)


def _reading(tmp_path, monkeypatch):
    root = tmp_path / "studies"
    _, db, tokens = reading_study(root / "s")
    token = tokens["Dr Lee"]
    monkeypatch.setenv(ENV_VAR, str(root))
    at = AppTest.from_file(str(PAGES / "reader_read.py"), default_timeout=30)
    at.query_params["r"] = token
    return db, at.run()


def test_an_over_long_paste_keeps_its_first_2000_characters_and_says_so(tmp_path,
                                                                          monkeypatch):
    db, at = _reading(tmp_path, monkeypatch)
    paste = "".join(chr(ord("a") + i % 26) for i in range(MAX_COMMENT + 750))
    at.radio[0].set_value("No")
    at.radio[1].set_value(3)
    at.radio[2].set_value(4)
    at.text_area[0].input(paste)
    next(b for b in at.button if b.label == "Save and next").click()
    at = at.run()
    assert not at.exception
    assert db.all_answers()["comment"].tolist() == [paste[:MAX_COMMENT]]
    said = [plain(w.value) for w in at.warning]
    assert any("first 2,000 were kept" in w for w in said), said
