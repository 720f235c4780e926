"""Is a study's reader database whole, and how the coordinator backs it up and restores it.

A study that had a database and lost it is named as such, from its record
(core/reader/record.py, `<study>/reader.json`).

`check` is what `python -m core verify` adds for the reader database: SQLite's
`integrity_check`, the schema version, and answers that point at existing images and
sessions; one line per problem, naming the file. It opens the file read-only.

`backup` and `restore` use SQLite's online backup API, so they are safe while readers
save answers: a backup is a consistent snapshot, and a restore replaces the live
database's pages under its lock. A restore first keeps what it replaces (a readable
database is backed up, a damaged one moved aside), so no restore loses anything.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.reader import connection
from core.reader.connection import DEFAULT_TIMEOUT_S
from core.reader.record import write_record
from core.reader.schema import SCHEMA_VERSION, ReaderDBError, ReaderDBUnavailable

CHECK_TIMEOUT_S = 5.0
RESTORE_HINT = "restore a backup with `python -m core reader-restore STUDY BACKUP`"


def _paths(study):
    from core.store import StudyPaths

    return StudyPaths(study)


def _rel(study, path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(study).resolve()).as_posix()
    except ValueError:
        return str(path)


def check_file(path) -> list[str]:
    """Problems of one reader database file, without the file name.

    Checks SQLite integrity, the schema version, orphan answers and foreign keys; the file
    is opened read-only.

    Args:
        path (str | Path): the database file.

    Returns:
        list[str]: one line per problem; empty when the file is whole.
    """
    path = Path(path)
    try:
        with connection.connect(path, CHECK_TIMEOUT_S, mode="ro") as con:
            rows = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
            if rows != ["ok"]:
                return [f"damaged: {rows[0]} ({len(rows)} integrity problem(s)); "
                        f"{RESTORE_HINT}"]
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                return [f"holds no reader-study tables (schema version 0); {RESTORE_HINT}"]
            if version > SCHEMA_VERSION:
                return [f"schema version {version} is newer than this PruneLens reads "
                        f"({SCHEMA_VERSION})"]
            problems = []
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("schema_version") != str(version):
                problems.append(f"schema version {version} but meta says "
                                f"{meta.get('schema_version')!r}; {RESTORE_HINT}")
            orphans = con.execute(
                "SELECT COUNT(*), MIN(a.item_id) FROM answers a WHERE NOT EXISTS (SELECT 1 "
                "FROM items i WHERE i.item_id = a.item_id AND i.form_id = a.form_id)"
            ).fetchone()
            if orphans[0]:
                problems.append(f"{orphans[0]} answer(s) refer to images in no form (first: "
                                f"item {orphans[1]!r}); {RESTORE_HINT}")
            broken = con.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = sorted({f"{r[0]} → {r[2]}" for r in broken})
                problems.append(f"{len(broken)} row(s) point at rows that do not exist "
                                f"({', '.join(tables)}); {RESTORE_HINT}")
            return problems
    except ReaderDBUnavailable as exc:
        return [f"{exc.reason}; {RESTORE_HINT}"]


def check(study) -> list[str]:
    """`verify`'s lines for the study's reader database.

    Args:
        study (str | Path): the study folder.

    Returns:
        list[str]: 'FILE: problem' lines; none when the study never had a database, one
        when the record says it had one and it is missing.
    """
    paths = _paths(study)
    name = _rel(study, paths.reader_db)
    if not paths.reader_db.is_file():
        if not paths.reader_record.is_file():
            return []
        return [f"{name}: missing, but {paths.reader_record.name} records that this study has a "
                f"reader database (its readers, answers and audit log); {RESTORE_HINT}"]
    return [f"{name}: {p}" for p in check_file(paths.reader_db)]


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _copy(src: Path, dest: Path, src_mode: str = "ro") -> None:
    """SQLite's online backup of `src` into `dest` (created or replaced page by page)."""
    with connection.connect(src, DEFAULT_TIMEOUT_S, mode=src_mode) as source, \
            connection.connect(dest, DEFAULT_TIMEOUT_S, mode="rwc") as target:
        source.backup(target)


def counts(path) -> dict[str, int]:
    """Rows in the reader database's main tables.

    Args:
        path (str | Path): the database file.

    Returns:
        dict[str, int]: readers, forms, answers, audit.

    Raises:
        ReaderDBUnavailable: when the file cannot be read.
    """
    with connection.connect(Path(path), CHECK_TIMEOUT_S, mode="ro") as con:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in ("readers", "forms", "answers", "audit")}


def describe(path) -> str:
    """The database's contents in words.

    Args:
        path (str | Path): the database file.

    Returns:
        str: '2 reader(s), 6 form(s), 40 answer(s), 11 audit event(s)'.
    """
    n = counts(path)
    return (f"{n['readers']} reader(s), {n['forms']} form(s), {n['answers']} answer(s), "
            f"{n['audit']} audit event(s)")


def backup(study, dest) -> Path:
    """Copy the study's reader database to `dest`, checked, never overwriting.

    Args:
        study (str | Path): the study folder.
        dest (str | Path): a new file, or a folder to put ``reader_study-<UTC time>.sqlite``
            in.

    Returns:
        Path: the backup file.

    Raises:
        ReaderDBError: when `dest` exists or the copy does not check.
    """
    from core.reader.db import ReaderDB

    src = ReaderDB.for_study(study, create=False).path
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / f"reader_study-{_stamp()}.sqlite"
    if dest.exists():
        raise ReaderDBError(f"{dest}: exists already; choose a new backup file name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".tmp-{dest.name}")
    tmp.unlink(missing_ok=True)
    try:
        _copy(src, tmp)
        problems = check_file(tmp)
        if problems:
            raise ReaderDBError(f"{dest}: the copy does not check: {problems[0]}")
        tmp.rename(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _move_aside(path: Path, label: str) -> Path:
    """Rename a database (and its -wal/-shm) out of the way, keeping it."""
    aside = path.with_name(f"{path.stem}.{label}-{_stamp()}{path.suffix}")
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.rename(Path(f"{aside}{suffix}"))
    path.rename(aside)
    return aside


def restore(study, source) -> tuple[Path | None, Path]:
    """Replace the study's reader database with the backup `source`, after checking it.

    What is replaced is kept first: a readable database is backed up next to it
    (``reader_study.before-restore-<time>.sqlite``), a damaged one is moved aside
    (``reader_study.damaged-<time>.sqlite``). A backup of an older schema is migrated.

    Args:
        study (str | Path): the study folder.
        source (str | Path): the backup file.

    Returns:
        tuple[Path | None, Path]: (the kept file or None, the database).

    Raises:
        ReaderDBError: when `source` is missing or does not check, or `study` is not a
            study folder.
    """
    from core.reader.db import ReaderDB

    source = Path(source)
    if not source.is_file():
        raise ReaderDBError(f"{source}: no such backup file")
    problems = check_file(source)
    if problems:
        raise ReaderDBError(f"{source}: not a usable reader database backup: {problems[0]}")
    if not _paths(study).study_json.is_file():
        raise ReaderDBError(f"{study}: not a study folder (no study.json)")
    live = _paths(study).reader_db
    kept = None
    if not live.is_file():
        # A deleted database's -wal/-shm would be replayed into the restored file.
        for suffix in ("-wal", "-shm"):
            side = Path(f"{live}{suffix}")
            if side.exists():
                side.rename(side.with_name(f"{side.name}.orphan-{_stamp()}"))
    elif check_file(live):
        kept = _move_aside(live, "damaged")
    else:
        kept = live.with_name(f"{live.stem}.before-restore-{_stamp()}{live.suffix}")
        _copy(live, kept)
    live.parent.mkdir(parents=True, exist_ok=True)
    # Into the live file when there is one: connections other sessions open afterwards
    # see the restored pages (the backup API holds the database's lock while it writes).
    _copy(source, live)
    with connection.connect(live, DEFAULT_TIMEOUT_S) as con:
        con.execute("PRAGMA journal_mode = WAL")
    ReaderDB(live, create=False)  # migrates a backup of an older schema
    write_record(study)
    return kept, live
