"""The reader database's schema and address; bump SCHEMA_VERSION when it changes.

Schema (version 1; `PRAGMA user_version` and `meta.schema_version` both hold it):
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
"""
from __future__ import annotations

from pathlib import Path

# Version 1: first schema (meta, form_sets, forms, items, sessions, answers).
SCHEMA_VERSION = 1
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


class ReaderDBError(RuntimeError):
    """The reader-study database cannot be used (bad URL, newer schema, …)."""


def url_for(path) -> str:
    """The URL of a database file (absolute: `sqlite:////abs/path`)."""
    return f"sqlite:///{Path(path).resolve()}"


def parse_url(url: str | Path) -> Path:
    """The file of a URL in SQLAlchemy's form — `sqlite:///relative/path`,
    `sqlite:////absolute/path` — or of a plain path."""
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
