"""Reader-study storage: one SQLite database per study, in WAL mode.

Why SQLite in WAL mode: it is embedded (nothing to install or run), one file sits beside
the study (`StudyPaths.reader_db`), and WAL lets the researcher's results page read while
clinicians write. Several readers rating at once lose nothing because every write runs in
its own `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two writers
never deadlock on a lock upgrade) and waits up to `timeout` seconds for the lock
(`busy_timeout`) instead of failing. `synchronous=FULL` makes each saved answer durable
when `save_answer` returns: answers arrive at human speed, so the fsync costs nothing.
A killed app leaves at most an uncommitted transaction, which SQLite rolls back on the next
open; the file is never half-written.

The database is addressed by a URL in SQLAlchemy's form (`sqlite:////abs/path.sqlite`; a plain
path also works) so a later version can point it at a server database; only `sqlite` is
implemented.

The schema (tables, triggers, version) is in `core/reader/schema.py`.
Readers are registered by the coordinator (core/reader/access.py) and open their forms by a
link token; a name given to these methods is folded (NFKC + casefold) to the registered
spelling, which is what answers and sessions store.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.reader.access import AccessMixin, name_key
from core.reader.schema import (  # noqa: F401  (re-exported: part of db's API)
    FORM_SET_STATUSES,
    MIGRATIONS,
    RATING_RANGE,
    SCHEMA_SQL,
    SCHEMA_VERSION,
    ReaderDBError,
    parse_url,
    url_for,
)

DEFAULT_TIMEOUT_S = 30.0
QUESTIONS = ("agree", "quality", "difficulty")
MAX_NAME = 100
MAX_COMMENT = 2000


class InputError(ValueError):
    """Input refused with a message meant for the person who typed it."""


class FormLocked(InputError):
    """The reader already submitted this form; its answers can no longer change."""


@dataclass(frozen=True)
class BlindItem:
    """What a reader's screen may know about an image: nothing about PIE status."""

    item_id: str
    form_id: int
    position: int  # 1-based place in the form
    image_id: str
    row: int       # row of data/labels.parquet, to fetch labels and pixels


@dataclass(frozen=True)
class Answer:
    agree: bool
    quality: int
    difficulty: int
    comment: str = ""


def _run_script(con: sqlite3.Connection, script: str) -> None:
    # Statement by statement (not executescript, which commits): the whole migration is one
    # transaction, so a killed process leaves the old version intact.
    for stmt in script.split(";\n"):
        if stmt.strip():
            con.execute(stmt)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def clean_reader(name) -> str:
    """A reader name is required: strip it, collapse spaces, refuse empty or overlong."""
    text = " ".join(str(name or "").split())
    if not text:
        raise InputError("Please enter your name before rating (it keeps your answers apart "
                         "from other readers').")
    if len(text) > MAX_NAME:
        raise InputError(f"Reader name too long ({len(text)} characters, at most {MAX_NAME}).")
    return text


def validate_answer(agree, quality, difficulty, comment="") -> Answer:
    """Refuse missing or out-of-range answers with a message naming the question."""
    lo, hi = RATING_RANGE
    missing = [q for q, v in zip(QUESTIONS, (agree, quality, difficulty), strict=True)
               if v is None]
    if missing:
        raise InputError(f"Please answer every question (missing: {', '.join(missing)}).")
    if isinstance(agree, str):
        if agree.strip().lower() not in ("yes", "no"):
            raise InputError(f"Label agreement must be yes or no, got {agree!r}.")
        agree = agree.strip().lower() == "yes"
    if agree not in (0, 1, True, False):
        raise InputError(f"Label agreement must be yes or no, got {agree!r}.")
    out = {}
    for name, value, words in (("quality", quality, "1 (poor) – 5 (excellent)"),
                               ("difficulty", difficulty, "1 (very easy) – 5 (very difficult)")):
        try:
            ok = float(value) == int(value) and not isinstance(value, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok or not lo <= int(value) <= hi:
            raise InputError(f"Image {name} must be a whole number {words}; got {value!r}.")
        out[name] = int(value)
    comment = "" if comment is None else str(comment).strip()
    if len(comment) > MAX_COMMENT:
        raise InputError(f"Comment too long ({len(comment)} characters, at most {MAX_COMMENT}).")
    return Answer(bool(agree), out["quality"], out["difficulty"], comment)


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


class ReaderDB(AccessMixin):
    """The reader-study database of one study. Cheap to create; opens a connection per call
    so that it is safe to share between Streamlit sessions and threads."""

    def __init__(self, url: str | Path, timeout: float = DEFAULT_TIMEOUT_S):
        self.url = str(url) if "://" in str(url) else url_for(url)
        self.path = parse_url(self.url)
        self.timeout = float(timeout)
        self._ensure_schema()

    @classmethod
    def for_study(cls, study_root, timeout: float = DEFAULT_TIMEOUT_S) -> ReaderDB:
        from core.store import StudyPaths

        return cls(url_for(StudyPaths(study_root).reader_db), timeout=timeout)

    # ----------------------------------------------------------------- connections
    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: we issue BEGIN ourselves, so each write's transaction is
        # exactly the block we mean, never one Python's sqlite3 opened implicitly.
        con = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA synchronous = FULL")
            yield con
        finally:
            con.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed when the block ends, rolled back on error."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _ensure_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise ReaderDBError(f"{self.path}: could not switch to WAL mode (got {mode})")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version > SCHEMA_VERSION:
                raise ReaderDBError(f"{self.path}: reader database schema {version} is newer "
                                    f"than this PruneLens reads ({SCHEMA_VERSION})")
            con.execute("BEGIN IMMEDIATE")
            try:
                # Re-check under the write lock: another process may have created or
                # migrated it meanwhile.
                version = con.execute("PRAGMA user_version").fetchone()[0]
                if version == 0:
                    _run_script(con, SCHEMA_SQL)
                    con.executemany("INSERT INTO meta VALUES (?, ?)",
                                    [("schema_version", "1"), ("created", _now())])
                    version = 1
                for target in range(version + 1, SCHEMA_VERSION + 1):
                    _run_script(con, MIGRATIONS[target])
                    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                                (str(target),))
                    con.execute(f"PRAGMA user_version = {target}")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

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
                (_now(), spec["method"], int(spec["sparsity"]), spec["definition"],
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
        if seconds is not None and not (float(seconds) >= 0):
            raise InputError(f"seconds must be ≥ 0, got {seconds!r}")
        now = _now()
        try:
            with self.write() as con:
                reader = self._canonical(con, reader)
                row = con.execute("SELECT form_id FROM items WHERE item_id = ?",
                                  (item_id,)).fetchone()
                if row is None:
                    raise InputError(f"Unknown image {item_id!r}.")
                form_id = row[0]
                con.execute("INSERT INTO sessions (form_id, reader, started) VALUES (?,?,?) "
                            "ON CONFLICT DO NOTHING", (form_id, reader, now))
                con.execute(
                    "INSERT INTO answers (item_id, form_id, reader, agree, quality, difficulty,"
                    " comment, saved, seconds) VALUES (?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (item_id, reader) DO UPDATE SET agree = excluded.agree, "
                    "quality = excluded.quality, difficulty = excluded.difficulty, "
                    "comment = excluded.comment, saved = excluded.saved, "
                    "revisions = revisions + 1, "
                    "seconds = COALESCE(seconds, 0) + COALESCE(excluded.seconds, 0)",
                    (item_id, form_id, reader, int(ans.agree), ans.quality, ans.difficulty,
                     ans.comment, now, None if seconds is None else float(seconds)))
        except sqlite3.IntegrityError as exc:
            raise _input_error(exc) from None
        return ans

    @staticmethod
    def _canonical(con: sqlite3.Connection, reader) -> str:
        """The registered spelling of a reader's name (InputError if not registered)."""
        name = clean_reader(reader)
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
            now = _now()
            con.execute("UPDATE sessions SET submitted = ? WHERE form_id = ? AND reader = ?",
                        (now, int(form_id), reader))
        return now

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
