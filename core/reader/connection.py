"""Connections to a reader database file, and the one translation of SQLite's failures.

Every connection opens the file with `mode=rw`: a file that is gone is an error, never a
new empty database created by the act of reading it (SQLite's default). Only
`ensure_schema(..., create=True)` creates a file, and the study decides when that is allowed
(core/reader/record.py keeps the record that a study has a database).

Any failure of the file itself — not a database, damaged, gone, locked past the timeout —
becomes `ReaderDBUnavailable` (or `ReaderDBMissing`) naming the file in one line; the
database's own refusals (`sqlite3.IntegrityError` from CHECKs and triggers) pass through
unchanged for the caller to put into words.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.reader.schema import (
    MIGRATIONS,
    SCHEMA_SQL,
    SCHEMA_VERSION,
    ReaderDBError,
    ReaderDBMissing,
    ReaderDBUnavailable,
)

DEFAULT_TIMEOUT_S = 30.0


def now() -> str:
    """The current UTC time, as stored in the database.

    Returns:
        str: ISO 8601 to the second, e.g. '2026-12-07T20:54:57+00:00'.
    """
    return datetime.now(UTC).isoformat(timespec="seconds")


def unavailable(path: Path, exc: BaseException) -> ReaderDBUnavailable:
    """SQLite's error about the file, in words (one line, naming the file).

    Args:
        path (Path): the database file.
        exc (BaseException): the sqlite3 or pandas error.

    Returns:
        ReaderDBUnavailable: `ReaderDBMissing` when the file is gone, else one saying it is
        not a database, damaged, busy, without its tables, or unusable.
    """
    text = str(exc.__cause__ or exc) if isinstance(exc, pd.errors.DatabaseError) else str(exc)
    low = text.lower()
    if not Path(path).exists():
        return ReaderDBMissing(path, "is missing (deleted or moved)")
    if "not a database" in low:
        return ReaderDBUnavailable(path, "is not a SQLite database (overwritten or damaged)")
    if "malformed" in low or "corrupt" in low:
        return ReaderDBUnavailable(path, f"is damaged ({text})")
    if "locked" in low or "busy" in low:
        return ReaderDBUnavailable(path, "is busy (another writer held it past the timeout)")
    if "no such table" in low or "no such column" in low:
        return ReaderDBUnavailable(path, f"has lost its tables ({text})")
    return ReaderDBUnavailable(path, f"cannot be used ({text})")


def _is_integrity(exc: BaseException) -> bool:
    cause = exc.__cause__ if isinstance(exc, pd.errors.DatabaseError) else exc
    return isinstance(cause, sqlite3.IntegrityError)


@contextmanager
def connect(path: Path, timeout: float, mode: str = "rw") -> Iterator[sqlite3.Connection]:
    """One connection, its failures translated by `unavailable`.

    Foreign keys on, synchronous FULL, busy timeout = `timeout`; transactions are explicit
    (isolation_level None). Closed when the block ends.

    Args:
        path (Path): the database file.
        timeout (float): seconds to wait for a lock.
        mode (str): SQLite URI mode, ``"rw"``, ``"ro"`` or ``"rwc"``.

    Returns:
        Iterator[sqlite3.Connection]: a context manager yielding the connection.

    Raises:
        ReaderDBUnavailable: for any database error but an integrity error (re-raised).
    """
    path = Path(path)
    try:
        # isolation_level=None: we issue BEGIN ourselves, so each write's transaction is
        # exactly the block we mean, never one Python's sqlite3 opened implicitly.
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True,
                              timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise unavailable(path, exc) from exc
    try:
        con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = FULL")
        yield con
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
        if _is_integrity(exc):
            raise
        raise unavailable(path, exc) from exc
    finally:
        con.close()


@contextmanager
def write(path: Path, timeout: float) -> Iterator[sqlite3.Connection]:
    """One IMMEDIATE transaction: committed when the block ends, rolled back on error.

    Args:
        path (Path): the database file.
        timeout (float): seconds to wait for the write lock.

    Returns:
        Iterator[sqlite3.Connection]: a context manager yielding the connection.

    Raises:
        ReaderDBUnavailable: as `connect`.
    """
    with connect(path, timeout) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            if con.in_transaction:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the file itself failed: the original error says how
            raise
        con.execute("COMMIT")


def _run_script(con: sqlite3.Connection, script: str) -> None:
    # Statement by statement (not executescript, which commits): the whole migration is one
    # transaction, so a killed process leaves the old version intact.
    for stmt in script.split(";\n"):
        if stmt.strip():
            con.execute(stmt)


def ensure_schema(path: Path, timeout: float, create: bool) -> None:
    """Bring the file to SCHEMA_VERSION: create it (only when `create`), or migrate it.

    Args:
        path (Path): the database file.
        timeout (float): seconds to wait for a lock.
        create (bool): create a missing or empty file.

    Raises:
        ReaderDBMissing: without `create`, when the file is missing.
        ReaderDBUnavailable: without `create`, when the file holds no schema (version 0).
        ReaderDBError: when the schema is newer than this code reads, or WAL mode fails.
    """
    path = Path(path)
    if not create and not path.is_file():
        raise ReaderDBMissing(path, "is missing (deleted or moved)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path, timeout, mode="rwc" if create else "rw") as con:
        # The version first: switching to WAL writes the file's header, and a file that is
        # not ours (empty, replaced) must be left exactly as it was found.
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ReaderDBError(f"{path}: reader database schema {version} is newer "
                                f"than this PruneLens reads ({SCHEMA_VERSION})")
        if version == 0 and not create:
            raise ReaderDBUnavailable(path, "holds no reader-study tables (schema version 0)")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise ReaderDBError(f"{path}: could not switch to WAL mode (got {mode})")
        if version == SCHEMA_VERSION:
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: another process may have created or
            # migrated it meanwhile.
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                _run_script(con, SCHEMA_SQL)
                con.executemany("INSERT INTO meta VALUES (?, ?)",
                                [("schema_version", "1"), ("created", now())])
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
