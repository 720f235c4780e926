"""Several readers at once lose nothing; a killed writer leaves a consistent database."""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from core.reader import FormSpec, ReaderDB, make_forms
from core.reader.schema import SCHEMA_VERSION
from tests.reader.conftest import candidates, enrol

REPO = Path(__file__).resolve().parents[2]


def _new_db(tmp_path, n_pie=20, n_non_pie=20):
    db = ReaderDB(tmp_path / "reader_study.sqlite")
    plan = make_forms(candidates(), FormSpec("l1_global", 90, n_pie=n_pie, n_non_pie=n_non_pie,
                                             seed=3))
    [form_id] = db.add_form_set(plan.spec_record(), plan.forms)
    enrol(db, *[f"thread reader {i}" for i in range(6)], *[f"process reader {i}" for i in range(4)],
          "victim", "next reader")
    return db, form_id


def _rate_all(url: str, reader: str, item_ids: list[str], quality: int) -> None:
    """One reader's session: every item saved, then every item corrected once."""
    db = ReaderDB(url)
    for item_id in item_ids:
        db.save_answer(reader, item_id, True, 1, 1)
    for item_id in item_ids:
        db.save_answer(reader, item_id, False, quality, 5, f"{reader} final")


def _check_complete(db: ReaderDB, readers: list[str], n_items: int, quality) -> None:
    answers = db.all_answers()
    assert len(answers) == len(readers) * n_items
    assert not answers.duplicated(["reader", "item_id"]).any()
    for reader in readers:
        mine = answers[answers["reader"] == reader]
        assert len(mine) == n_items
        assert (mine["quality"] == quality(reader)).all()
        assert (mine["comment"] == f"{reader} final").all()
        assert (mine["revisions"] == 1).all()
    assert db.integrity_ok()


def test_threads_saving_at_once(tmp_path):
    db, form_id = _new_db(tmp_path)
    ids = [it.item_id for it in db.blind_items(form_id)]
    readers = [f"thread reader {i}" for i in range(6)]
    threads = [threading.Thread(target=_rate_all, args=(db.url, r, ids, 1 + i % 5))
               for i, r in enumerate(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _check_complete(db, readers, len(ids), lambda r: 1 + int(r.split()[-1]) % 5)


def test_processes_saving_at_once(tmp_path):
    db, form_id = _new_db(tmp_path, n_pie=10, n_non_pie=10)
    ids = [it.item_id for it in db.blind_items(form_id)]
    readers = [f"process reader {i}" for i in range(4)]
    # fork: the children inherit the imports, so the test stays fast on a small machine.
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_rate_all, args=(db.url, r, ids, 1 + i % 5))
             for i, r in enumerate(readers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    _check_complete(db, readers, len(ids), lambda r: 1 + int(r.split()[-1]) % 5)


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from core.reader import ReaderDB
    db = ReaderDB(sys.argv[1])
    ids = sys.argv[3].split(",")
    for item_id in ids[:5]:
        db.save_answer("victim", item_id, True, 4, 2)      # committed
    if sys.argv[2] == "mid-transaction":
        with db.write() as con:                             # never committed
            for item_id in ids[5:]:
                con.execute("INSERT INTO answers (item_id, form_id, reader, agree, quality, "
                            "difficulty, saved) SELECT item_id, form_id, 'victim', 1, 1, 1, "
                            "'x' FROM items WHERE item_id = ?", (item_id,))
            print("ready", flush=True)
            time.sleep(60)
    else:                                                   # killed at a random moment
        print("ready", flush=True)
        for k in range(10**6):
            db.save_answer("victim", ids[5 + k % (len(ids) - 5)], True, 1 + k % 5, 3)
""")


@pytest.mark.parametrize("moment", ["mid-transaction", "while-saving"])
def test_killed_writer_leaves_consistent_db(tmp_path, moment):
    db, form_id = _new_db(tmp_path)
    ids = [it.item_id for it in db.blind_items(form_id)]
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, db.url, moment, ",".join(ids)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "ready"
        if moment == "while-saving":
            threading.Event().wait(0.3)  # let it commit (and be inside) a few transactions
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    survivor = ReaderDB(db.url)  # re-opening recovers (rolls back) the torn transaction
    assert survivor.integrity_ok()
    answers = survivor.all_answers().set_index("item_id")
    assert set(ids[:5]) <= set(answers.index)
    if moment == "mid-transaction":
        assert len(answers) == 5 and (answers["quality"] == 4).all()
    else:
        assert answers["quality"].between(1, 5).all() and len(answers) <= len(ids)
    # and the database still takes answers from other readers
    survivor.save_answer("next reader", ids[0], True, 3, 3)
    assert len(survivor.all_answers()) == len(answers) + 1


def _open(url: str) -> None:
    ReaderDB(url)


def test_processes_creating_the_database_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'reader_study.sqlite'}"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_open, args=(url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    db = ReaderDB(url)
    assert db.integrity_ok() and db.meta()["schema_version"] == str(SCHEMA_VERSION)
