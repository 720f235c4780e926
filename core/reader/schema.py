"""The reader database's schema and address; bump SCHEMA_VERSION when it changes.

A new database is created at version 1 (SCHEMA_SQL) and brought up to date by the same
MIGRATIONS an old database goes through, so there is one path to every version.

Version 1 (`PRAGMA user_version` and `meta.schema_version` both hold the version):
  meta(key, value)                       schema_version, created, study
  form_sets(set_id, created, method, sparsity, definition, percentile, n_pie, n_non_pie,
            n_forms, readers_per_form, seed, match_findings, image_overlap, spec_json)
  forms(form_id, set_id, name, n_items)
  items(item_id, form_id, position, image_id, row, is_pie, n_findings)
      item_id is an opaque random token: the only handle a reader's screen ever holds.
  sessions(form_id, reader, started, submitted)   one per (form, reader); submitted locks it
  answers(item_id, form_id, reader, agree, quality, difficulty, comment, saved, revisions)
      one row per (item, reader); re-saving updates it (UPSERT) until the session is
      submitted, after which triggers refuse any change, whoever writes.

Version 2 (readers, assignments, form-set status, audit log, time per image):
  readers(reader_id, name, name_key UNIQUE, token_hash UNIQUE, created, revoked)
      name_key is the name folded (NFKC, casefold, spaces collapsed), so "Ärztin Öz" and
      " ärztin  öz " are one reader; the reader's link token is stored only as its sha256.
  assignments(reader_id, form_id, assigned)   a trigger refuses a form that shares an image
      with a form the reader already has, so no reader can read an image twice.
  form_sets.status ∈ open | closed | archived: answers are refused unless open; archived is
      final; form sets, forms, items and the audit log can never be deleted.
  answers.seconds: time the reader spent on the image before saving (summed over saves).
  audit(event_id, at, actor, action, detail)  append-only record of every coordinator action.
  Answers need a registered, unrevoked reader assigned to the item's form (trigger).
"""
from __future__ import annotations

from pathlib import Path

# Version 1: first schema (meta, form_sets, forms, items, sessions, answers).
# Version 2: readers with hashed link tokens, assignments, form-set status, audit log.
SCHEMA_VERSION = 2
FORM_SET_STATUSES = ("open", "closed", "archived")
RATING_RANGE = (1, 5)

SCHEMA_SQL = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE form_sets (
    set_id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    method TEXT NOT NULL,
    sparsity INTEGER NOT NULL,
    definition TEXT NOT NULL,
    percentile REAL,
    n_pie INTEGER NOT NULL,
    n_non_pie INTEGER NOT NULL,
    n_forms INTEGER NOT NULL,
    readers_per_form INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    match_findings INTEGER NOT NULL,
    image_overlap TEXT NOT NULL,
    spec_json TEXT NOT NULL
);
CREATE TABLE forms (
    form_id INTEGER PRIMARY KEY,
    set_id INTEGER NOT NULL REFERENCES form_sets(set_id),
    name TEXT NOT NULL UNIQUE,
    n_items INTEGER NOT NULL
);
CREATE TABLE items (
    item_id TEXT PRIMARY KEY,
    form_id INTEGER NOT NULL REFERENCES forms(form_id),
    position INTEGER NOT NULL,
    image_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    is_pie INTEGER NOT NULL CHECK (is_pie IN (0, 1)),
    n_findings INTEGER,
    UNIQUE (form_id, position),
    UNIQUE (form_id, image_id),
    UNIQUE (item_id, form_id)
);
CREATE TABLE sessions (
    form_id INTEGER NOT NULL REFERENCES forms(form_id),
    reader TEXT NOT NULL COLLATE NOCASE,
    started TEXT NOT NULL,
    submitted TEXT,
    PRIMARY KEY (form_id, reader)
);
CREATE TABLE answers (
    item_id TEXT NOT NULL,
    form_id INTEGER NOT NULL,
    reader TEXT NOT NULL COLLATE NOCASE,
    agree INTEGER NOT NULL CHECK (agree IN (0, 1)),
    quality INTEGER NOT NULL CHECK (quality BETWEEN {RATING_RANGE[0]} AND {RATING_RANGE[1]}),
    difficulty INTEGER NOT NULL
        CHECK (difficulty BETWEEN {RATING_RANGE[0]} AND {RATING_RANGE[1]}),
    comment TEXT NOT NULL DEFAULT '',
    saved TEXT NOT NULL,
    revisions INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, reader),
    FOREIGN KEY (item_id, form_id) REFERENCES items(item_id, form_id),
    FOREIGN KEY (form_id, reader) REFERENCES sessions(form_id, reader)
);
CREATE TRIGGER answers_locked_insert BEFORE INSERT ON answers
WHEN EXISTS (SELECT 1 FROM sessions s WHERE s.form_id = NEW.form_id
             AND s.reader = NEW.reader AND s.submitted IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'form already submitted'); END;
CREATE TRIGGER answers_locked_update BEFORE UPDATE ON answers
WHEN EXISTS (SELECT 1 FROM sessions s WHERE s.form_id = OLD.form_id
             AND s.reader = OLD.reader AND s.submitted IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'form already submitted'); END;
CREATE TRIGGER answers_locked_delete BEFORE DELETE ON answers
WHEN EXISTS (SELECT 1 FROM sessions s WHERE s.form_id = OLD.form_id
             AND s.reader = OLD.reader AND s.submitted IS NOT NULL)
BEGIN SELECT RAISE(ABORT, 'form already submitted'); END;
"""


_RAISE_UNLESS_OPEN = """
WHEN (SELECT fs.status FROM forms f JOIN form_sets fs ON fs.set_id = f.set_id
      WHERE f.form_id = NEW.form_id) != 'open'
BEGIN SELECT RAISE(ABORT, 'form set closed'); END"""

# MIGRATIONS[v] takes a database at version v - 1 to version v (statements split on ";\n").
MIGRATIONS = {2: f"""
CREATE TABLE readers (
    reader_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked TEXT
);
CREATE TABLE assignments (
    reader_id INTEGER NOT NULL REFERENCES readers(reader_id),
    form_id INTEGER NOT NULL REFERENCES forms(form_id),
    assigned TEXT NOT NULL,
    PRIMARY KEY (reader_id, form_id)
);
CREATE TRIGGER assignments_no_shared_image BEFORE INSERT ON assignments
WHEN EXISTS (SELECT 1 FROM assignments a JOIN items x ON x.form_id = a.form_id
             JOIN items y ON y.image_id = x.image_id
             WHERE a.reader_id = NEW.reader_id AND y.form_id = NEW.form_id)
BEGIN SELECT RAISE(ABORT, 'image already assigned to this reader'); END;
CREATE TABLE audit (
    event_id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
ALTER TABLE form_sets ADD COLUMN status TEXT NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'closed', 'archived'));
CREATE TRIGGER form_sets_archived_final BEFORE UPDATE OF status ON form_sets
WHEN OLD.status = 'archived' AND NEW.status != 'archived'
BEGIN SELECT RAISE(ABORT, 'an archived form set stays archived'); END;
CREATE TRIGGER form_sets_never_deleted BEFORE DELETE ON form_sets
BEGIN SELECT RAISE(ABORT, 'form sets are archived, never deleted'); END;
CREATE TRIGGER forms_never_deleted BEFORE DELETE ON forms
BEGIN SELECT RAISE(ABORT, 'forms are archived, never deleted'); END;
CREATE TRIGGER items_never_deleted BEFORE DELETE ON items
BEGIN SELECT RAISE(ABORT, 'items are archived, never deleted'); END;
ALTER TABLE answers ADD COLUMN seconds REAL;
CREATE TRIGGER answers_open_insert BEFORE INSERT ON answers {_RAISE_UNLESS_OPEN};
CREATE TRIGGER answers_open_update BEFORE UPDATE ON answers {_RAISE_UNLESS_OPEN};
CREATE TRIGGER answers_assigned_insert BEFORE INSERT ON answers
WHEN NOT EXISTS (SELECT 1 FROM assignments a JOIN readers r ON r.reader_id = a.reader_id
                 WHERE r.name = NEW.reader AND a.form_id = NEW.form_id AND r.revoked IS NULL)
BEGIN SELECT RAISE(ABORT, 'reader not assigned to this form'); END
"""}


class ReaderDBError(RuntimeError):
    """The reader-study database cannot be used (bad URL, newer schema, …)."""


class ReaderDBUnavailable(ReaderDBError):
    """The database file cannot be read or written right now: not a database, damaged,
    locked past the timeout, or gone. Nothing was written by the call that raised it."""

    def __init__(self, path, reason: str):
        self.path, self.reason = Path(path), str(reason)
        super().__init__(f"{self.path}: reader database {self.reason}; restore the last backup "
                         "with `python -m core reader-restore STUDY BACKUP`")


class ReaderDBMissing(ReaderDBUnavailable):
    """The study had a reader database (its record says so) and the file is gone: never
    replaced by a new empty one, which would hide the loss of every answer."""


def url_for(path) -> str:
    """The URL of a database file.

    Args:
        path (str | Path): the file.

    Returns:
        str: ``sqlite:///`` + the absolute path (so ``sqlite:////abs/path``).
    """
    return f"sqlite:///{Path(path).resolve()}"


def parse_url(url: str | Path) -> Path:
    """The file of a URL in SQLAlchemy's form, or of a plain path.

    Args:
        url (str | Path): ``sqlite:///relative/path``, ``sqlite:////absolute/path``, or a
            path.

    Returns:
        Path: the file.

    Raises:
        ReaderDBError: for another scheme, in-memory or an empty path.

    Example:
        >>> parse_url("sqlite:///rel/reader.db").as_posix(), parse_url("sqlite:////abs/x").as_posix()
        ('rel/reader.db', '/abs/x')
    """
    text = str(url)
    if "://" not in text:
        return Path(text)
    scheme, rest = text.split("://", 1)
    if scheme != "sqlite":
        raise ReaderDBError(f"database URL {text!r}: only sqlite:/// is supported so far")
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        raise ReaderDBError(f"database URL {text!r}: expected sqlite:///path/to/file.sqlite")
    # After "sqlite://", one slash starts the path: "/rel" → "rel", "//abs" → "/abs".
    return Path(rest[1:])
