"""Reader-study storage: `ReaderDB`, one SQLite database per study, in WAL mode.

Why SQLite in WAL mode: it is embedded (nothing to install or run), one file sits beside
the study (`StudyPaths.reader_db`), and WAL lets the researcher's results page read while
clinicians write. Several readers rating at once lose nothing because every write runs in
its own `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two writers
never deadlock on a lock upgrade) and waits up to `timeout` seconds for the lock
(`busy_timeout`) instead of failing. `synchronous=FULL` makes each saved answer durable
when `save_answer` returns: answers arrive at human speed, so the fsync costs nothing.
A killed app leaves at most an uncommitted transaction, which SQLite rolls back on the next
open; the file is never half-written.

Who may read what: the coordinator registers a reader; PruneLens issues an unguessable token
(`secrets.token_urlsafe`, 256 bits) that goes into the reader's URL and is stored only as its
sha256, so the database alone cannot open anyone's form. A token is shown once, when it is
issued; re-issuing revokes the old link. Design integrity lives in the database, not in the
page: a trigger refuses to assign a reader a form that shares an image with one they already
have (so statistics never see a repeat read), answers need a registered reader assigned to
the form, and answers are refused once the form set is closed or archived. Nothing is ever
deleted; every coordinator action is appended to `audit` with its time.

The database is addressed by a URL in SQLAlchemy's form (`sqlite:////abs/path.sqlite`; a plain
path also works) so a later version can point it at a server database; only `sqlite` is
implemented. The schema (tables, triggers, version) is in core/reader/schema.py; opening
files and translating SQLite's failures in core/reader/connection.py; what people type is
checked in core/reader/inputs.py; the study's record of its database in
core/reader/record.py; verify, backup and restore in core/reader/health.py.
A name given to these methods is folded (NFKC + casefold) to the registered spelling, which
is what answers and sessions store.
"""
from __future__ import annotations

import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from core.reader import connection
from core.reader.connection import DEFAULT_TIMEOUT_S, now
from core.reader.inputs import (
    Answer,
    BlindItem,
    FormLocked,
    InputError,
    Reader,
    check_seconds,
    clean_reader,
    name_key,
    token_hash,
    validate_answer,
)
from core.reader.record import has_record, write_record
from core.reader.schema import FORM_SET_STATUSES, parse_url, url_for

TOKEN_BYTES = 32
COORDINATOR = "coordinator"


def _input_error(exc: sqlite3.IntegrityError) -> Exception:
    """The database's refusals (triggers) in words for the person who clicked."""
    text = str(exc)
    if "form already submitted" in text:
        return FormLocked("This form was already submitted; its answers are final.")
    if "form set closed" in text:
        return InputError("The coordinator has closed this form set: no more answers.")
    if "not assigned" in text:
        return InputError("This form is not assigned to you.")
    return exc


class ReaderDB:
    """The reader-study database of one study. Cheap to create; opens a connection per call
    so that it is safe to share between Streamlit sessions and threads.

    `create`: make the file when it does not exist (False: a missing file is
    `ReaderDBMissing`). A study's database is opened with `for_study`, which allows creating
    it only when the study never had one."""

    def __init__(self, url: str | Path, timeout: float = DEFAULT_TIMEOUT_S,
                 create: bool = True):
        self.url = str(url) if "://" in str(url) else url_for(url)
        self.path = parse_url(self.url)
        self.timeout = float(timeout)
        connection.ensure_schema(self.path, self.timeout, create=create)

    @classmethod
    def for_study(cls, study_root, timeout: float = DEFAULT_TIMEOUT_S,
                  create: bool = True) -> ReaderDB:
        """The study's database (`<study>/reader/reader_study.sqlite`). Created only when
        `create` and the study has no record of ever having one; a study that had one and
        lost it gets `ReaderDBMissing`, never a silent new empty database."""
        from core.store import StudyPaths

        path = StudyPaths(study_root).reader_db
        had_one = has_record(study_root)
        db = cls(url_for(path), timeout=timeout, create=create and not had_one)
        if not had_one:
            write_record(study_root)
        return db

    # ----------------------------------------------------------------- connections
    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        with connection.connect(self.path, self.timeout) as con:
            yield con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed when the block ends, rolled back on error."""
        with connection.write(self.path, self.timeout) as con:
            yield con

    def meta(self) -> dict[str, str]:
        with self.connect() as con:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as con:
            con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE "
                        "SET value = excluded.value", (key, str(value)))

    def integrity_ok(self) -> bool:
        with self.connect() as con:
            return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # ----------------------------------------------------------------- forms
    def add_form_set(self, spec: dict, forms: list) -> list[int]:
        """Store a batch of forms (core.reader.forms.Form) made from one spec, atomically."""
        names = [f.name for f in forms]
        with self.write() as con:
            taken = {r[0] for r in con.execute("SELECT name FROM forms")}
            clash = sorted(taken.intersection(names))
            if clash:
                raise InputError(f"Form name(s) already used: {', '.join(clash)}")
            cur = con.execute(
                "INSERT INTO form_sets (created, method, sparsity, definition, percentile, "
                "n_pie, n_non_pie, n_forms, readers_per_form, seed, match_findings, "
                "image_overlap, spec_json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (now(), spec["method"], int(spec["sparsity"]), spec["definition"],
                 spec.get("percentile"), int(spec["n_pie"]), int(spec["n_non_pie"]),
                 int(spec["n_forms"]), int(spec["readers_per_form"]), int(spec["seed"]),
                 int(bool(spec["match_findings"])), spec["image_overlap"],
                 json.dumps(spec, sort_keys=True)))
            set_id = cur.lastrowid
            ids = []
            for form in forms:
                cur = con.execute("INSERT INTO forms (set_id, name, n_items) VALUES (?,?,?)",
                                  (set_id, form.name, len(form.items)))
                ids.append(cur.lastrowid)
                con.executemany(
                    "INSERT INTO items VALUES (?,?,?,?,?,?,?)",
                    [(it.item_id, cur.lastrowid, it.position, it.image_id, int(it.row),
                      int(bool(it.is_pie)), None if it.n_findings is None else int(it.n_findings))
                     for it in form.items])
            self._audit(con, "add_form_set", {"set_id": set_id, "forms": ids,
                                              "spec": spec})
        return ids

    def form_sets(self) -> pd.DataFrame:
        """Researcher view of every form set (with its spec)."""
        with self.connect() as con:
            return pd.read_sql_query("SELECT * FROM form_sets ORDER BY set_id", con)

    def forms(self) -> pd.DataFrame:
        """Forms a reader may pick: id, name, size. Nothing about how images were chosen."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT form_id, name, n_items FROM forms ORDER BY form_id", con)

    def form_table(self) -> pd.DataFrame:
        """Researcher view of the forms: set, planned readers, readers started / submitted."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT f.form_id, f.name AS form, f.set_id, f.n_items, fs.readers_per_form, "
                "(SELECT COUNT(*) FROM sessions s WHERE s.form_id = f.form_id) AS started, "
                "(SELECT COUNT(*) FROM sessions s WHERE s.form_id = f.form_id "
                " AND s.submitted IS NOT NULL) AS submitted "
                "FROM forms f JOIN form_sets fs USING (set_id) ORDER BY f.form_id", con)

    def blind_items(self, form_id: int) -> list[BlindItem]:
        with self.connect() as con:
            rows = con.execute("SELECT item_id, form_id, position, image_id, row FROM items "
                               "WHERE form_id = ? ORDER BY position", (int(form_id),))
            return [BlindItem(*r) for r in rows.fetchall()]

    def items(self) -> pd.DataFrame:
        """Researcher view: every item with its PIE flag and form set."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT i.*, f.name AS form, f.set_id FROM items i JOIN forms f USING (form_id) "
                "ORDER BY form_id, position", con)

    # ----------------------------------------------------------------- answers
    def save_answer(self, reader, item_id: str, agree, quality, difficulty,
                    comment: str = "", seconds: float | None = None) -> Answer:
        """Validate and commit one answer (insert, or correct an earlier one).

        `reader` is a registered reader's name (any spelling that folds to it); the item's
        form must be assigned to them and its form set open. `seconds`: time spent on the
        image since it was shown, added to what earlier saves recorded."""
        ans = validate_answer(agree, quality, difficulty, comment)
        seconds = check_seconds(seconds)
        stamp = now()
        try:
            with self.write() as con:
                reader = self._canonical(con, reader)
                row = con.execute("SELECT form_id FROM items WHERE item_id = ?",
                                  (item_id,)).fetchone()
                if row is None:
                    raise InputError(f"Unknown image {item_id!r}.")
                form_id = row[0]
                con.execute("INSERT INTO sessions (form_id, reader, started) VALUES (?,?,?) "
                            "ON CONFLICT DO NOTHING", (form_id, reader, stamp))
                con.execute(
                    "INSERT INTO answers (item_id, form_id, reader, agree, quality, difficulty,"
                    " comment, saved, seconds) VALUES (?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (item_id, reader) DO UPDATE SET agree = excluded.agree, "
                    "quality = excluded.quality, difficulty = excluded.difficulty, "
                    "comment = excluded.comment, saved = excluded.saved, "
                    "revisions = revisions + 1, "
                    "seconds = COALESCE(seconds, 0) + COALESCE(excluded.seconds, 0)",
                    (item_id, form_id, reader, int(ans.agree), ans.quality, ans.difficulty,
                     ans.comment, stamp, seconds))
        except sqlite3.IntegrityError as exc:
            raise _input_error(exc) from None
        return ans

    @staticmethod
    def _canonical(con: sqlite3.Connection, reader) -> str:
        """The registered spelling of a reader's name (InputError if not registered)."""
        name = clean_reader(reader, strict=False)
        row = con.execute("SELECT name FROM readers WHERE name_key = ?",
                          (name_key(name),)).fetchone()
        if row is None:
            raise InputError(f"{name!r} is not a registered reader of this study; readers "
                             "open their forms through the link the coordinator sent them.")
        return row[0]

    def _canonical_or_none(self, reader) -> str | None:
        with self.connect() as con:
            try:
                return self._canonical(con, reader)
            except InputError:
                return None

    def answers_of(self, reader, form_id: int) -> dict[str, Answer]:
        reader = self._canonical_or_none(reader)
        if reader is None:
            return {}
        with self.connect() as con:
            rows = con.execute("SELECT item_id, agree, quality, difficulty, comment FROM answers "
                               "WHERE reader = ? AND form_id = ?", (reader, int(form_id)))
            return {r[0]: Answer(bool(r[1]), r[2], r[3], r[4]) for r in rows.fetchall()}

    def next_unrated(self, reader, form_id: int) -> BlindItem | None:
        done = self.answers_of(reader, form_id)
        return next((it for it in self.blind_items(form_id) if it.item_id not in done), None)

    def progress(self, reader, form_id: int) -> tuple[int, int]:
        """(answered, total) for one reader on one form."""
        return len(self.answers_of(reader, form_id)), len(self.blind_items(form_id))

    def submitted(self, reader, form_id: int) -> str | None:
        """When the reader submitted the form (ISO time), or None."""
        reader = self._canonical_or_none(reader)
        with self.connect() as con:
            row = con.execute("SELECT submitted FROM sessions WHERE reader = ? AND form_id = ?",
                              (reader, int(form_id))).fetchone()
        return row[0] if row else None

    def last_saved(self, reader) -> str | None:
        """When the reader's most recent answer was committed (ISO time, UTC), or None."""
        reader = self._canonical_or_none(reader)
        with self.connect() as con:
            row = con.execute("SELECT MAX(saved) FROM answers WHERE reader = ?",
                              (reader,)).fetchone()
        return row[0] if row else None

    def submit(self, reader, form_id: int) -> str:
        """Lock a reader's answers on a form; refused while any image is unrated or the
        form set is not open."""
        with self.write() as con:
            reader = self._canonical(con, reader)
            status = con.execute("SELECT fs.status FROM forms f JOIN form_sets fs USING "
                                 "(set_id) WHERE f.form_id = ?", (int(form_id),)).fetchone()
            if status is not None and status[0] != "open":
                raise InputError(f"This form's set is {status[0]}: no more answers.")
            total = con.execute("SELECT COUNT(*) FROM items WHERE form_id = ?",
                                (int(form_id),)).fetchone()[0]
            done = con.execute("SELECT COUNT(*) FROM answers WHERE form_id = ? AND reader = ?",
                               (int(form_id), reader)).fetchone()[0]
            if total == 0:
                raise InputError(f"Form {form_id} does not exist or has no images.")
            if done < total:
                raise InputError(f"{total - done} of {total} images are still unrated; "
                                 "rate them all before submitting.")
            row = con.execute("SELECT submitted FROM sessions WHERE form_id = ? AND reader = ?",
                              (int(form_id), reader)).fetchone()
            if row[0] is not None:
                return row[0]
            stamp = now()
            con.execute("UPDATE sessions SET submitted = ? WHERE form_id = ? AND reader = ?",
                        (stamp, int(form_id), reader))
        return stamp

    def sessions(self) -> pd.DataFrame:
        """Every (form, reader) with answered count and submission time."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT s.form_id, f.name AS form, s.reader, s.started, s.submitted, "
                "(SELECT COUNT(*) FROM answers a WHERE a.form_id = s.form_id "
                " AND a.reader = s.reader) AS answered, f.n_items "
                "FROM sessions s JOIN forms f USING (form_id) ORDER BY s.form_id, s.reader",
                con)

    def all_answers(self) -> pd.DataFrame:
        """Researcher view: every answer joined with its item, form and form set."""
        with self.connect() as con:
            frame = pd.read_sql_query(
                "SELECT a.reader, f.name AS form, a.form_id, f.set_id, i.position, a.item_id, "
                "i.image_id, i.row, i.is_pie, i.n_findings, a.agree, a.quality, a.difficulty, "
                "a.comment, a.saved, a.revisions, a.seconds, s.submitted, fs.method, "
                "fs.sparsity, fs.definition, fs.percentile, fs.status "
                "FROM answers a JOIN items i USING (item_id) JOIN forms f ON f.form_id = "
                "a.form_id JOIN form_sets fs ON fs.set_id = f.set_id JOIN sessions s ON "
                "s.form_id = a.form_id AND s.reader = a.reader "
                "ORDER BY a.form_id, a.reader, i.position", con)
        frame["is_pie"] = frame["is_pie"].astype(bool)
        frame["agree"] = frame["agree"].astype(int)
        return frame

    def export_csv(self) -> bytes:
        """Every answer as CSV (UTF-8), one row per (reader, image); spreadsheet-safe, as
        reader names and comments are typed by people."""
        from core.textsafe import spreadsheet_safe

        return spreadsheet_safe(self.all_answers()).to_csv(index=False).encode("utf-8")

    # ----------------------------------------------------------------- audit
    @staticmethod
    def _audit(con: sqlite3.Connection, action: str, detail: dict,
               actor: str = COORDINATOR) -> None:

        con.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?,?,?,?)",
                    (now(), str(actor), action, json.dumps(detail, sort_keys=True,
                                                            ensure_ascii=False)))

    def audit_log(self) -> pd.DataFrame:
        with self.connect() as con:
            return pd.read_sql_query("SELECT * FROM audit ORDER BY event_id", con)

    # ----------------------------------------------------------------- readers
    def add_reader(self, name, actor: str = COORDINATOR) -> tuple[Reader, str]:
        """Register a reader; returns (reader, link token). The token is not stored (only
        its hash): show it to the coordinator now, it cannot be recovered later."""

        name = clean_reader(name)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.write() as con:
            clash = con.execute("SELECT name FROM readers WHERE name_key = ?",
                                (name_key(name),)).fetchone()
            if clash:
                raise InputError(f"A reader named {clash[0]!r} is already registered "
                                 "(names are compared ignoring case, accents' composition "
                                 "and spacing).")
            cur = con.execute("INSERT INTO readers (name, name_key, token_hash, created) "
                              "VALUES (?,?,?,?)", (name, name_key(name), token_hash(token),
                                                   now()))
            reader = Reader(int(cur.lastrowid), name)
            self._audit(con, "add_reader", {"reader_id": reader.reader_id, "name": name},
                        actor)
        return reader, token

    def reissue_token(self, reader_id: int, actor: str = COORDINATOR) -> str:
        """A new link for a reader; the old link stops working at once."""

        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.write() as con:
            cur = con.execute("UPDATE readers SET token_hash = ?, revoked = NULL "
                              "WHERE reader_id = ?", (token_hash(token), int(reader_id)))
            if cur.rowcount != 1:
                raise InputError(f"No reader with id {reader_id}.")
            self._audit(con, "reissue_token", {"reader_id": int(reader_id)}, actor)
        return token

    def revoke_reader(self, reader_id: int, actor: str = COORDINATOR) -> None:
        """Stop a reader's link (their saved answers stay)."""

        with self.write() as con:
            con.execute("UPDATE readers SET revoked = ? WHERE reader_id = ?",
                        (now(), int(reader_id)))
            self._audit(con, "revoke_reader", {"reader_id": int(reader_id)}, actor)

    def reader_for_token(self, token) -> Reader | None:
        """The reader a link token belongs to, or None (unknown, malformed or revoked)."""
        if not isinstance(token, str) or not 20 <= len(token) <= 200:
            return None
        wanted = token_hash(token)
        with self.connect() as con:
            row = con.execute("SELECT reader_id, name, token_hash FROM readers "
                              "WHERE token_hash = ? AND revoked IS NULL", (wanted,)).fetchone()
        if row is None or not hmac.compare_digest(row[2], wanted):
            return None
        return Reader(int(row[0]), row[1])

    def readers(self) -> pd.DataFrame:
        """Coordinator view: reader_id, name, created, revoked, forms assigned."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT r.reader_id, r.name, r.created, r.revoked, "
                "(SELECT COUNT(*) FROM assignments a WHERE a.reader_id = r.reader_id) AS forms "
                "FROM readers r ORDER BY r.reader_id", con)

    # ----------------------------------------------------------------- assignments
    def assign(self, reader_id: int, form_id: int, actor: str = COORDINATOR) -> None:
        """Give a reader a form; refused when it shares an image with one of their forms."""

        try:
            with self.write() as con:
                if con.execute("SELECT 1 FROM assignments WHERE reader_id = ? AND form_id = ?",
                               (int(reader_id), int(form_id))).fetchone():
                    return
                known = con.execute("SELECT (SELECT COUNT(*) FROM readers WHERE reader_id = ?),"
                                    " (SELECT COUNT(*) FROM forms WHERE form_id = ?)",
                                    (int(reader_id), int(form_id))).fetchone()
                if known != (1, 1):
                    raise InputError(f"Unknown reader {reader_id} or form {form_id}.")
                con.execute("INSERT INTO assignments VALUES (?,?,?)",
                            (int(reader_id), int(form_id), now()))
                self._audit(con, "assign", {"reader_id": int(reader_id),
                                            "form_id": int(form_id)}, actor)
        except sqlite3.IntegrityError as exc:
            if "image already assigned" in str(exc):
                raise InputError(
                    f"Form {form_id} shares images with a form this reader already has; a "
                    "reader reads each image once (repeat reads would count twice).") from None
            raise

    def assignments(self) -> pd.DataFrame:
        """Coordinator view: one row per (reader, form) with progress and submission."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT a.reader_id, r.name AS reader, a.form_id, f.name AS form, f.set_id, "
                "fs.status, a.assigned, f.n_items, "
                "(SELECT COUNT(*) FROM answers x WHERE x.form_id = a.form_id "
                " AND x.reader = r.name) AS answered, s.submitted "
                "FROM assignments a JOIN readers r USING (reader_id) "
                "JOIN forms f ON f.form_id = a.form_id JOIN form_sets fs ON fs.set_id = f.set_id "
                "LEFT JOIN sessions s ON s.form_id = a.form_id AND s.reader = r.name "
                "ORDER BY a.reader_id, a.form_id", con)

    def forms_of(self, reader_id: int) -> pd.DataFrame:
        """What a reader's own page may list: their forms (id, name, size, open or not)."""
        with self.connect() as con:
            return pd.read_sql_query(
                "SELECT f.form_id, f.name, f.n_items, fs.status = 'open' AS open "
                "FROM assignments a JOIN forms f ON f.form_id = a.form_id "
                "JOIN form_sets fs ON fs.set_id = f.set_id "
                "WHERE a.reader_id = ? AND fs.status != 'archived' ORDER BY f.form_id",
                con, params=(int(reader_id),))

    # ----------------------------------------------------------------- form-set status
    def set_status(self, set_id: int, status: str, actor: str = COORDINATOR) -> None:
        """open ⇄ closed (no more answers while closed) → archived (final; hidden from
        readers, kept for results)."""

        if status not in FORM_SET_STATUSES:
            raise InputError(f"status {status!r}; allowed: {', '.join(FORM_SET_STATUSES)}")
        try:
            with self.write() as con:
                row = con.execute("SELECT status FROM form_sets WHERE set_id = ?",
                                  (int(set_id),)).fetchone()
                if row is None:
                    raise InputError(f"No form set {set_id}.")
                if row[0] == status:
                    return
                con.execute("UPDATE form_sets SET status = ? WHERE set_id = ?",
                            (status, int(set_id)))
                self._audit(con, "set_status", {"set_id": int(set_id), "from": row[0],
                                                "to": status}, actor)
        except sqlite3.IntegrityError as exc:
            if "archived" in str(exc):
                raise InputError(f"Form set {set_id} is archived; archiving is final.") \
                    from None
            raise
