"""The reader database: schema, validation, correction until submission, URLs, export."""
from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from core.reader import FormLocked, FormSpec, InputError, ReaderDB, ReaderDBError, make_forms
from core.reader.schema import SCHEMA_VERSION, parse_url, url_for
from tests.reader.conftest import candidates, enrol


@pytest.fixture
def db_form(tmp_path):
    db = ReaderDB(tmp_path / "reader" / "r.sqlite")
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_pie=3, n_non_pie=3, seed=1))
    [form_id] = db.add_form_set(plan.spec_record(), plan.forms)
    enrol(db, "Dr Lee", "Dr Ng", "A", "B")
    return db, form_id


def test_created_on_first_use_in_wal_with_version(tmp_path):
    path = tmp_path / "new" / "reader_study.sqlite"
    db = ReaderDB(path)
    assert path.is_file()
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()
    assert db.meta()["schema_version"] == str(SCHEMA_VERSION)
    ReaderDB(path)  # re-opening an existing database changes nothing
    assert db.integrity_ok()


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(ReaderDBError, match="newer"):
        ReaderDB(path)


def test_urls(tmp_path):
    p = tmp_path / "x.sqlite"
    assert parse_url(url_for(p)) == p.resolve()
    assert parse_url(f"sqlite:///{p}") == p
    assert parse_url(str(p)) == p
    assert parse_url("sqlite:///rel/x.sqlite") == Path("rel/x.sqlite")  # SQLAlchemy's form
    with pytest.raises(ReaderDBError, match="expected"):
        parse_url("sqlite:///:memory:")
    with pytest.raises(ReaderDBError, match="only sqlite"):
        parse_url("postgresql://host/db")
    db = ReaderDB(url_for(p))
    assert db.path == p.resolve()


def test_for_study_uses_study_paths(study):
    db = ReaderDB.for_study(study)
    assert db.path == (study / "reader" / "reader_study.sqlite").resolve()


@pytest.mark.parametrize("kwargs, message", [
    ({"quality": 0}, "quality"), ({"quality": 6}, "quality"), ({"difficulty": 9}, "difficulty"),
    ({"quality": 2.5}, "quality"), ({"quality": True}, "quality"), ({"quality": "x"}, "quality"),
    ({"agree": "maybe"}, "yes or no"), ({"agree": None}, "missing: agree"),
    ({"difficulty": None}, "missing: difficulty"), ({"comment": "x" * 5000}, "too long"),
])
def test_out_of_range_refused(db_form, kwargs, message):
    db, form_id = db_form
    item = db.blind_items(form_id)[0]
    answer = {"agree": True, "quality": 3, "difficulty": 2, **kwargs}
    with pytest.raises(InputError, match=message):
        db.save_answer("Dr Lee", item.item_id, **answer)
    assert db.all_answers().empty


def test_database_itself_refuses_out_of_range(db_form):
    """The CHECK constraints hold even for a writer that bypasses validate_answer."""
    db, form_id = db_form
    item = db.blind_items(form_id)[0]
    db.save_answer("A", item.item_id, True, 3, 3)
    with db.connect() as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("UPDATE answers SET quality = 7")


@pytest.mark.parametrize("name", ["", "   ", None])
def test_reader_name_required(db_form, name):
    db, form_id = db_form
    with pytest.raises(InputError, match="enter your name"):
        db.save_answer(name, db.blind_items(form_id)[0].item_id, True, 3, 3)


def test_progress_resume_correct_submit_lock(db_form):
    db, form_id = db_form
    items = db.blind_items(form_id)
    assert db.next_unrated("Dr Lee", form_id) == items[0]
    db.save_answer("Dr Lee", items[0].item_id, "yes", 4, 2, " first ")
    db.save_answer("dr lee", items[1].item_id, False, 2, 5)  # same reader, other spelling
    assert db.progress("Dr Lee", form_id) == (2, 6)
    assert db.next_unrated("DR LEE", form_id) == items[2]
    # correcting an earlier answer updates it in place
    db.save_answer("Dr Lee", items[0].item_id, False, 1, 1, "changed my mind")
    answers = db.all_answers()
    assert len(answers) == 2 and set(answers["reader"]) == {"Dr Lee"}
    first = answers.set_index("item_id").loc[items[0].item_id]
    assert (first["agree"], first["quality"], first["comment"], first["revisions"]) == \
        (0, 1, "changed my mind", 1)
    with pytest.raises(InputError, match="4 of 6 images are still unrated"):
        db.submit("Dr Lee", form_id)
    for it in items[2:]:
        db.save_answer("Dr Lee", it.item_id, True, 3, 3)
    assert db.next_unrated("Dr Lee", form_id) is None
    when = db.submit("Dr Lee", form_id)
    assert db.submitted("dr lee", form_id) == when
    with pytest.raises(FormLocked, match="already submitted"):
        db.save_answer("Dr Lee", items[0].item_id, True, 5, 5)
    with db.connect() as con, pytest.raises(sqlite3.IntegrityError, match="submitted"):
        con.execute("DELETE FROM answers")
    # another reader is not locked by Dr Lee's submission
    db.save_answer("Dr Ng", items[0].item_id, True, 5, 5)
    table = db.form_table().iloc[0]
    assert (table["started"], table["submitted"], table["readers_per_form"]) == (2, 1, 1)
    sessions = db.sessions().set_index("reader")
    assert sessions.loc["Dr Lee", "answered"] == 6 and sessions.loc["Dr Ng", "answered"] == 1


def test_unknown_item_refused(db_form):
    db, _ = db_form
    with pytest.raises(InputError, match="Unknown image"):
        db.save_answer("A", "nope", True, 3, 3)


def test_form_names_unique(db_form):
    db, _ = db_form
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_pie=2, n_non_pie=2))
    with pytest.raises(InputError, match="already used"):
        db.add_form_set(plan.spec_record(), plan.forms)
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_pie=2, n_non_pie=2),
                      first_number=2)
    db.add_form_set(plan.spec_record(), plan.forms)
    assert list(db.forms()["name"]) == ["Form 1", "Form 2"]
    assert len(db.form_sets()) == 2


def test_export_csv_has_every_answer(db_form):
    db, form_id = db_form
    for reader in ("A", "B"):
        for it in db.blind_items(form_id):
            db.save_answer(reader, it.item_id, True, 4, 2, "a, comment with \"quotes\"")
    frame = pd.read_csv(io.BytesIO(db.export_csv()))
    assert len(frame) == 12
    assert {"reader", "image_id", "is_pie", "agree", "quality", "difficulty", "comment",
            "method", "sparsity"} <= set(frame.columns)
    assert set(frame["comment"]) == {"a, comment with \"quotes\""}


def test_export_csv_is_spreadsheet_safe(db_form):
    db, form_id = db_form
    enrol(db, "=HYPERLINK(\"http://evil.example\")")
    for it in db.blind_items(form_id):
        db.save_answer("=HYPERLINK(\"http://evil.example\")", it.item_id, True, 4, 2,
                       "@SUM(A1:A2)")
    frame = pd.read_csv(io.BytesIO(db.export_csv()))
    assert set(frame["reader"]) == {"'=HYPERLINK(\"http://evil.example\")"}
    assert set(frame["comment"]) == {"'@SUM(A1:A2)"}
    assert frame["quality"].dtype.kind == "i"       # numbers stay numbers
