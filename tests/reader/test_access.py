"""Readers, link tokens, assignments, form-set status and the audit log (schema 2)."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from core.reader import FormSpec, InputError, ReaderDB, make_forms
from core.reader.inputs import name_key, token_hash
from core.reader.schema import SCHEMA_SQL, SCHEMA_VERSION
from core.reader.stats import agreement, compare_groups, first_reads
from tests.reader.conftest import candidates


@pytest.fixture
def db(tmp_path):
    db = ReaderDB(tmp_path / "r.sqlite")
    # two "shared" forms: the same six images in two orders
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_pie=3, n_non_pie=3, seed=1,
                                             n_forms=2, image_overlap="shared"))
    db.add_form_set(plan.spec_record(), plan.forms)
    # a third form with other images
    plan = make_forms(candidates(seed=5), FormSpec("l1_global", 90, n_pie=2, n_non_pie=2,
                                                   seed=9), first_number=3)
    db.add_form_set(plan.spec_record(), plan.forms)
    return db


def test_token_opens_only_its_reader_and_is_stored_hashed(db):
    lee, t_lee = db.add_reader("Dr Lee")
    ng, t_ng = db.add_reader("Dr Ng")
    assert len(t_lee) >= 40 and t_lee != t_ng
    assert db.reader_for_token(t_lee) == lee and db.reader_for_token(t_ng) == ng
    for made_up in ("", "x" * 43, t_lee[:-1] + ("A" if t_lee[-1] != "A" else "B"), None, 42):
        assert db.reader_for_token(made_up) is None
    with db.connect() as con:
        stored = [r[0] for r in con.execute("SELECT token_hash FROM readers ORDER BY reader_id")]
        dump = "\n".join(con.iterdump())
    assert stored == [token_hash(t_lee), token_hash(t_ng)]
    assert t_lee not in dump and t_ng not in dump  # the link cannot be read off the database
    new = db.reissue_token(lee.reader_id)
    assert db.reader_for_token(t_lee) is None and db.reader_for_token(new) == lee
    db.revoke_reader(ng.reader_id)
    assert db.reader_for_token(t_ng) is None


@pytest.mark.parametrize("first, second", [
    ("Ärztin Öz", "ärztin öz"), ("Dr Ben", "  dr   ben "), ("Ｄｒ Ｌｅｅ", "dr lee"),
    ("Straße", "STRASSE"),
])
def test_one_name_one_reader(db, first, second):
    assert name_key(first) == name_key(second)
    db.add_reader(first)
    with pytest.raises(InputError, match="already registered"):
        db.add_reader(second)


def test_typed_name_of_an_unregistered_reader_cannot_answer(db):
    item = db.blind_items(1)[0]
    with pytest.raises(InputError, match="not a registered reader"):
        db.save_answer("Dr Ben", item.item_id, True, 3, 3)
    assert db.all_answers().empty


def test_answers_need_an_assignment_even_bypassing_python(db):
    lee, _ = db.add_reader("Dr Lee")
    item = db.blind_items(1)[0]
    with pytest.raises(InputError, match="not assigned"):
        db.save_answer("Dr Lee", item.item_id, True, 3, 3)
    db.assign(lee.reader_id, 1)
    db.save_answer("dr lee", item.item_id, True, 3, 3, seconds=4.5)
    db.save_answer("DR LEE", item.item_id, False, 2, 3, seconds=1.5)
    row = db.all_answers().iloc[0]
    assert (row["reader"], row["agree"], row["seconds"], row["revisions"]) == \
        ("Dr Lee", 0, 6.0, 1)
    with db.connect() as con, pytest.raises(sqlite3.IntegrityError, match="not assigned"):
        con.execute("INSERT INTO sessions VALUES (3, 'Dr Lee', 'now', NULL)")
        con.execute("INSERT INTO answers (item_id, form_id, reader, agree, quality, "
                    "difficulty, saved) VALUES (?, 3, 'Dr Lee', 1, 1, 1, 'now')",
                    (db.blind_items(3)[0].item_id,))


def test_a_reader_is_never_assigned_two_forms_sharing_an_image(db):
    lee, _ = db.add_reader("Dr Lee")
    db.assign(lee.reader_id, 1)
    db.assign(lee.reader_id, 1)  # assigning again is a no-op
    with pytest.raises(InputError, match="shares images"):
        db.assign(lee.reader_id, 2)
    db.assign(lee.reader_id, 3)  # other images: fine
    ng, _ = db.add_reader("Dr Ng")
    db.assign(ng.reader_id, 2)   # another reader may read the shared images
    assert db.assignments()[["reader", "form_id"]].values.tolist() == \
        [["Dr Lee", 1], ["Dr Lee", 3], ["Dr Ng", 2]]
    assert list(db.forms_of(lee.reader_id)["form_id"]) == [1, 3]
    with db.connect() as con, pytest.raises(sqlite3.IntegrityError, match="already assigned"):
        con.execute("INSERT INTO assignments VALUES (?, 2, 'now')", (lee.reader_id,))


def test_closed_sets_take_no_answers_and_archive_is_final(db):
    lee, _ = db.add_reader("Dr Lee")
    db.assign(lee.reader_id, 1)
    items = db.blind_items(1)
    db.save_answer("Dr Lee", items[0].item_id, True, 3, 3)
    db.set_status(1, "closed")
    with pytest.raises(InputError, match="closed"):
        db.save_answer("Dr Lee", items[1].item_id, True, 3, 3)
    with pytest.raises(InputError, match="closed"):
        db.save_answer("Dr Lee", items[0].item_id, False, 3, 3)  # no corrections either
    db.set_status(1, "open")
    db.save_answer("Dr Lee", items[1].item_id, True, 3, 3)
    db.set_status(1, "archived")
    assert db.forms_of(lee.reader_id).empty  # archived forms leave the reader's list
    with pytest.raises(InputError, match="archiving is final"):
        db.set_status(1, "open")
    assert len(db.all_answers()) == 2  # kept for the results
    with db.connect() as con:
        for table in ("form_sets", "forms", "items", "audit"):
            with pytest.raises(sqlite3.IntegrityError):
                con.execute(f"DELETE FROM {table}")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            con.execute("UPDATE audit SET actor = 'someone else'")


def test_every_coordinator_action_is_recorded_with_a_time(db):
    lee, _ = db.add_reader("Dr Lee")
    db.assign(lee.reader_id, 1)
    db.reissue_token(lee.reader_id)
    db.set_status(2, "closed")
    log = db.audit_log()
    assert list(log["action"]) == ["add_form_set", "add_form_set", "add_reader", "assign",
                                   "reissue_token", "set_status"]
    assert pd.to_datetime(log["at"]).notna().all()
    assert '"to": "closed"' in log["detail"].iloc[-1]


def test_version_1_database_is_migrated_and_repeat_reads_count_once(tmp_path):
    """A database from before schema 2, where one reader read the same image on two forms
    (a yes and a no): after migration nothing is lost, and statistics use one read each."""
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    for stmt in SCHEMA_SQL.split(";\n"):
        if stmt.strip():
            con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO form_sets VALUES (1, 't', 'l1_global', 90, 'paper', 5, 1, 1, 2, 1,"
                " 0, 0, 'shared', '{}')")
    for form in (1, 2):
        con.execute("INSERT INTO forms VALUES (?, 1, ?, 2)", (form, f"Form {form}"))
        for pos, (image, pie) in enumerate((("a", 1), ("b", 0)), start=1):
            con.execute("INSERT INTO items VALUES (?,?,?,?,?,?,NULL)",
                        (f"i{form}{image}", form, pos, image, pos, pie))
    answers = [("Dr A", 1, "a", 1, "t1"), ("Dr A", 1, "b", 1, "t2"),
               ("Dr A", 2, "a", 0, "t3"), ("Dr A", 2, "b", 1, "t4"),
               ("Dr B", 1, "a", 1, "t1"), ("Dr B", 1, "b", 0, "t2")]
    for reader, form, image, agree, saved in answers:
        con.execute("INSERT OR IGNORE INTO sessions VALUES (?, ?, 't0', NULL)", (form, reader))
        con.execute("INSERT INTO answers (item_id, form_id, reader, agree, quality, difficulty,"
                    " saved) VALUES (?,?,?,?,3,3,?)", (f"i{form}{image}", form, reader, agree,
                                                       saved))
    con.close()
    db = ReaderDB(path)
    assert db.meta()["schema_version"] == str(SCHEMA_VERSION) and db.integrity_ok()
    raw = db.all_answers()
    assert len(raw) == 6 and set(db.form_sets()["status"]) == {"open"}
    kept, dropped = first_reads(raw)
    assert dropped == 2 and len(kept) == 4
    assert kept.loc[kept["reader"] == "Dr A", "form"].tolist() == ["Form 1", "Form 1"]
    pooled = compare_groups(raw).query("question == 'agree' and reader.str.startswith('all')")
    assert (pooled["n_pie"].item(), pooled["n_non_pie"].item()) == (2, 2)
    # alpha on real answers: Dr A's first reads (yes, yes) vs Dr B's (yes, no), nominal.
    # Coincidences: image a → (1,1) twice; image b → (1,0),(0,1); n = 4, n_1 = 3, n_0 = 1:
    # D_o = 2/4, D_e = 2·3·1/(4·3) = 1/2 → alpha = 1 − (1/2)/(1/2) = 0.
    alpha = agreement(raw).query("question == 'agree' and images == 'all images'")
    assert alpha["alpha"].item() == pytest.approx(0.0)
    assert alpha["observed_agreement"].item() == pytest.approx(0.5)
