"""Who may read what: registered readers, their link tokens, assignments, form-set status and
the coordinator's audit log (reader database schema version 2, see core/reader/schema.py).

Identity is a link, not a typed name. The coordinator registers a reader; PruneLens issues an
unguessable token (`secrets.token_urlsafe`, 256 bits) that goes into the reader's URL and is
stored only as its sha256, so the database alone cannot open anyone's form. A token is shown
once, when it is issued; re-issuing revokes the old link.

Design integrity lives in the database, not in the page: a trigger refuses to assign a reader
a form that shares an image with one they already have (so statistics never see a repeat
read), answers need a registered reader assigned to the form, and answers are refused once the
form set is closed or archived. Nothing is ever deleted; every coordinator action is appended
to `audit` with its time.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import unicodedata
from dataclasses import dataclass

import pandas as pd

from core.reader.schema import FORM_SET_STATUSES

TOKEN_BYTES = 32
COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Reader:
    reader_id: int
    name: str


def name_key(name: str) -> str:
    """The form under which two spellings of one name are the same reader: Unicode-normalised
    (NFKC), case-folded (so "Ärztin Öz" = "ärztin öz", which SQLite's NOCASE does not do) and
    with runs of white space collapsed."""
    return " ".join(unicodedata.normalize("NFKC", str(name)).casefold().split())


def token_hash(token: str) -> str:
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()


class AccessMixin:
    """Reader, assignment, status and audit methods of `core.reader.db.ReaderDB`."""

    # ----------------------------------------------------------------- audit
    @staticmethod
    def _audit(con: sqlite3.Connection, action: str, detail: dict,
               actor: str = COORDINATOR) -> None:
        from core.reader.db import _now

        con.execute("INSERT INTO audit (at, actor, action, detail) VALUES (?,?,?,?)",
                    (_now(), str(actor), action, json.dumps(detail, sort_keys=True,
                                                            ensure_ascii=False)))

    def audit_log(self) -> pd.DataFrame:
        with self.connect() as con:
            return pd.read_sql_query("SELECT * FROM audit ORDER BY event_id", con)

    # ----------------------------------------------------------------- readers
    def add_reader(self, name, actor: str = COORDINATOR) -> tuple[Reader, str]:
        """Register a reader; returns (reader, link token). The token is not stored (only
        its hash): show it to the coordinator now, it cannot be recovered later."""
        from core.reader.db import InputError, _now, clean_reader

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
                                                   _now()))
            reader = Reader(int(cur.lastrowid), name)
            self._audit(con, "add_reader", {"reader_id": reader.reader_id, "name": name},
                        actor)
        return reader, token

    def reissue_token(self, reader_id: int, actor: str = COORDINATOR) -> str:
        """A new link for a reader; the old link stops working at once."""
        from core.reader.db import InputError

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
        from core.reader.db import _now

        with self.write() as con:
            con.execute("UPDATE readers SET revoked = ? WHERE reader_id = ?",
                        (_now(), int(reader_id)))
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
        from core.reader.db import InputError, _now

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
                            (int(reader_id), int(form_id), _now()))
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
        from core.reader.db import InputError

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
