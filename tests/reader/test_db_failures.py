"""Reader databases fail alone and loudly, and lose nothing (issue 22, items 1 and 2).

A damaged database in one study never touches another study's links; a reader whose
database breaks mid-session sees one plain sentence, never a traceback; a database that
went missing is never replaced by an empty one; `core verify` names the problem; the
coordinator's backup/restore round-trips every answer."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.cli import main as cli
from core.reader import (
    FormSpec,
    ReaderDB,
    ReaderDBMissing,
    ReaderDBUnavailable,
    forms_from_study,
    health,
    record,
)
from dashboard.common.studies import ENV_VAR
from tests.dashboard.mdtext import plain
from tests.reader.conftest import build_study, enrol, seal

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "reader_study"
SENTENCE = "This reading session cannot be saved right now; your answers so far"
NOT_VALID = "This reading link is not valid"


def _study_with_reader(root: Path, name: str, reader: str = "Dr Lee") -> tuple[Path, str]:
    study = build_study(root / name)
    db = ReaderDB.for_study(study)
    plan = forms_from_study(study, FormSpec("l1_global", 90, percentile=25, n_pie=3,
                                            n_non_pie=3))
    db.add_form_set(plan.spec_record(), plan.forms)
    token = enrol(db, reader)[reader]
    seal(study)
    return study, token


def _page(root: Path, token: str, monkeypatch) -> AppTest:
    monkeypatch.setenv(ENV_VAR, str(root))
    at = AppTest.from_file(str(PAGES / "reader_read.py"), default_timeout=30)
    at.query_params["r"] = token
    return at


def _texts(at: AppTest) -> list[str]:
    return [e.value for e in (*at.error, *at.warning, *at.info, *at.success)]


def _one_sentence(at: AppTest, start: str) -> str:
    assert not at.exception, [e.value for e in at.exception]
    hits = [t for t in _texts(at) if t.startswith(start)]
    assert len(hits) == 1, _texts(at)
    return hits[0]


def _random_bytes(path: Path) -> None:
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        side.unlink(missing_ok=True)
    path.write_bytes(os.urandom(16_384))


def _delete(path: Path) -> None:
    for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        side.unlink(missing_ok=True)


def _answer(at: AppTest, comment: str = "") -> AppTest:
    at.radio[0].set_value("Yes")
    at.radio[1].set_value(4)
    at.radio[2].set_value(2)
    at.text_area[0].input(comment)
    next(b for b in at.button if b.label == "Save and next").click()
    return at.run()


@pytest.mark.parametrize("damage", ["random bytes", "empty file"])
def test_a_damaged_database_in_one_study_leaves_another_studys_links_working(
        tmp_path, monkeypatch, damage):
    root = tmp_path / "studies"
    broken, _ = _study_with_reader(root, "a-broken", "Dr Ash")
    _, token = _study_with_reader(root, "b-fine")
    db_file = ReaderDB.for_study(broken).path
    _random_bytes(db_file) if damage == "random bytes" else db_file.write_bytes(b"")

    at = _page(root, token, monkeypatch).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.radio) == 3 and any(b.label == "Save and next" for b in at.button)
    made_up = _page(root, "x" * 43, monkeypatch).run()
    assert _one_sentence(made_up, NOT_VALID)
    assert not made_up.radio
    # the damaged study's database was not "repaired" into an empty one by the lookups
    assert db_file.stat().st_size == (16_384 if damage == "random bytes" else 0)


@pytest.mark.parametrize("damage", [_delete, _random_bytes], ids=["deleted", "corrupted"])
def test_damage_mid_session_gives_one_sentence_and_verify_names_it(
        tmp_path, monkeypatch, damage, capsys):
    root = tmp_path / "studies"
    study, token = _study_with_reader(root, "s")
    at = _answer(_page(root, token, monkeypatch).run())
    assert not at.exception and ReaderDB.for_study(study).all_answers().shape[0] == 1
    db_file = ReaderDB.for_study(study).path

    damage(db_file)
    at = _answer(at)                          # the next Save
    text = _one_sentence(at, SENTENCE)
    assert "were last saved at" in text and " UTC" in text
    reload = _page(root, token, monkeypatch).run()  # a reload of the same link
    assert _one_sentence(reload, SENTENCE)
    assert not reload.radio

    # never a new empty database: the study has a record that it had one
    assert not (db_file.exists() and db_file.stat().st_size == 0)
    if damage is _delete:
        assert not db_file.exists()
        with pytest.raises(ReaderDBMissing):
            ReaderDB.for_study(study)
        assert not db_file.exists()
    capsys.readouterr()
    assert cli(["verify", str(study)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("1 problem(s)")
    assert out[1].strip().startswith("reader/reader_study.sqlite: ")
    assert ("missing" if damage is _delete else "not a SQLite database") in out[1]


def test_a_study_that_never_had_a_database_gets_one_and_a_record(tmp_path):
    study = build_study(tmp_path / "s")
    seal(study)
    assert not record.has_record(study)
    with pytest.raises(ReaderDBMissing):
        ReaderDB.for_study(study, create=False)
    assert not (study / "reader" / "reader_study.sqlite").exists()  # create=False made none
    db = ReaderDB.for_study(study)
    assert db.path.is_file() and record.has_record(study)
    assert health.check(study) == []
    assert cli(["verify", str(study)]) == 0   # reader.json stays outside the manifest


def test_verify_names_answers_to_missing_images_and_a_newer_schema(tmp_path, capsys):
    study, _ = _study_with_reader(tmp_path, "s")
    path = ReaderDB.for_study(study).path
    with sqlite3.connect(path) as con:  # a writer that bypasses every check
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("DROP TRIGGER answers_assigned_insert")
        con.execute("INSERT INTO sessions VALUES (1, 'Dr Lee', 'x', NULL)")
        con.execute("INSERT INTO answers (item_id, form_id, reader, agree, quality, difficulty,"
                    " saved) VALUES ('ghost', 1, 'Dr Lee', 1, 3, 3, 'x')")
    problems = health.check(study)
    assert len(problems) == 2, problems
    assert "1 answer(s) refer to images in no form (first: item 'ghost')" in problems[0]
    assert "answers → items" in problems[1]
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA user_version = 99")
    assert health.check(study) == ["reader/reader_study.sqlite: schema version 99 is newer "
                                   "than this PruneLens reads (2)"]


def test_backup_and_restore_round_trip(tmp_path, capsys):
    study, token = _study_with_reader(tmp_path, "s")
    db = ReaderDB.for_study(study)
    item = db.blind_items(1)[0]
    db.save_answer("Dr Lee", item.item_id, True, 4, 2, "first", seconds=3.5)
    before = db.all_answers()
    backup = tmp_path / "backups" / "one.sqlite"
    assert cli(["reader-backup", str(study), str(backup)]) == 0
    assert "1 reader(s), 1 form(s), 1 answer(s)" in capsys.readouterr().out
    assert cli(["reader-backup", str(study), str(backup)]) == 2   # never overwrites a backup

    db.save_answer("Dr Lee", db.blind_items(1)[1].item_id, False, 2, 5)  # after the backup
    _random_bytes(db.path)
    with pytest.raises(ReaderDBUnavailable):
        db.all_answers()
    assert cli(["reader-restore", str(study), str(backup)]) == 0
    out = capsys.readouterr().out
    assert "damaged-" in out           # what it replaced is kept, not deleted
    kept = list(db.path.parent.glob("reader_study.damaged-*.sqlite"))
    assert len(kept) == 1 and kept[0].stat().st_size == 16_384
    restored = ReaderDB.for_study(study)
    assert restored.all_answers().drop(columns=[]).equals(before)
    assert restored.reader_for_token(token).name == "Dr Lee"
    assert cli(["verify", str(study)]) == 0

    # restoring over a readable database backs that one up first (nothing is lost)
    restored.save_answer("Dr Lee", restored.blind_items(1)[2].item_id, True, 3, 3)
    assert cli(["reader-restore", str(study), str(backup)]) == 0
    safety = list(db.path.parent.glob("reader_study.before-restore-*.sqlite"))
    assert len(safety) == 1 and ReaderDB(safety[0], create=False).all_answers().shape[0] == 2
    assert ReaderDB.for_study(study).all_answers().shape[0] == 1


def test_restore_refuses_a_damaged_backup(tmp_path, capsys):
    study, _ = _study_with_reader(tmp_path, "s")
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(os.urandom(8192))
    before = ReaderDB.for_study(study).all_answers()
    assert cli(["reader-restore", str(study), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a usable reader database backup" in err[0]
    assert ReaderDB.for_study(study).all_answers().equals(before)


@pytest.mark.parametrize("page", ["reader_setup.py", "reader_people.py", "reader_results.py"])
@pytest.mark.parametrize("damage", [_delete, _random_bytes], ids=["deleted", "corrupted"])
def test_coordinator_pages_name_a_broken_database_in_one_line(tmp_path, page, damage):
    study, _ = _study_with_reader(tmp_path, "s")
    db_file = ReaderDB.for_study(study).path
    damage(db_file)
    at = AppTest.from_file(str(PAGES / page), default_timeout=30)
    at.query_params["study"] = str(study)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [plain(e.value) for e in at.error]
    assert len(errors) == 1 and "reader_study.sqlite" in errors[0], errors
    assert "reader-restore" in errors[0]
    assert not db_file.exists() or db_file.stat().st_size == 16_384   # left as found
