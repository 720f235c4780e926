"""The record that a study has a reader database: `<study>/reader.json`.

`<study>/reader/` is outside the manifest (it changes while clinicians read), so the
manifest cannot say that a study has a reader database, and nothing may re-seal a study it
did not write. This small file, also outside the manifest and outside `reader/` (deleting
that folder does not delete it), is written when the database is first created. From then
on a missing database is a stated problem (core/reader/health.py `check`, the pages), never
replaced by a new empty one. Deleting both the database and the record is the one way back
to "no reader study", and it is deliberate.
"""
from __future__ import annotations

from core.reader.connection import now


def has_record(study) -> bool:
    """Whether the study records that it has a reader database.

    Args:
        study (str | Path): the study folder.

    Returns:
        bool: True when the record file exists.
    """
    from core.store import StudyPaths

    return StudyPaths(study).reader_record.is_file()


def write_record(study) -> None:
    """Record (once) that this study has a reader database; an existing record is kept.

    Args:
        study (str | Path): the study folder.

    Returns:
        None
    """
    from core import store

    paths = store.StudyPaths(study)
    if paths.reader_record.is_file():
        return
    store.write_json(paths.reader_record, {
        "reader_database": paths.reader_db.relative_to(paths.root).as_posix(),
        "created": now(),
        "note": "This study has a reader-study database. If it is missing, restore a backup "
                "(python -m core reader-restore); PruneLens never replaces it with an empty "
                "one."})
