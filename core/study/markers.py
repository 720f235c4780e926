"""The units' bookkeeping, used by the coordinator and by every unit alike.

A marker (core.store.StudyPaths: `unit_done`, `trained_marker`, `data_marker`) is a JSON file
listing the files a unit wrote with their sha256; the unit counts as done only while every
one of them still has that hash. Markers live under units/, outside the manifest.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path

from core import store
from core.store import StudyPaths

__all__ = ["mark", "now", "say", "spec_dict", "unit_is_done", "verified_files"]


def say(msg: str) -> None:
    """One progress line of the study (flushed: units may run in other processes).

    Args:
        msg (str): the line.
    """
    print(msg, flush=True)


def verified_files(paths: StudyPaths, marker: Path) -> list[str] | None:
    """The files a marker lists, when every one still has its recorded sha256.

    Args:
        paths (StudyPaths): the study folder.
        marker (Path): a unit or data marker.

    Returns:
        list[str] | None: the listed files (relative paths); None when the marker is
        missing, unreadable or a file changed.
    """
    if not marker.is_file():
        return None
    try:
        files = store.read_json(marker)["files"]
    except (ValueError, KeyError, TypeError):
        return None
    for rel, sha in files.items():
        p = paths.root / rel
        if not p.is_file() or store.sha256_file(p) != sha:
            return None
    return list(files)


def unit_is_done(paths: StudyPaths, seed: int | None, marker: Path | None = None,
                 required: list[Path] = ()) -> bool:
    """Whether a unit of work is done and its files unchanged.

    Args:
        paths (StudyPaths): the study folder.
        seed (int | None): the seed whose unit marker is meant (None with `marker`).
        marker (Path | None): another marker (e.g. the data marker) instead of the seed's.
        required (list[Path]): files the marker must list; a seed's unit marker (the
            default) must list the validation predictions.

    Returns:
        bool: True when the marker exists, every file it lists has its recorded sha256
        and it lists `required`.
    """
    files = verified_files(paths, marker or paths.unit_done(seed))
    if files is None:
        return False
    if marker is None:
        required = [*required, paths.val_predictions(seed)]
    return all(paths.rel(p) in files for p in required)


def now() -> str:
    """The time now, UTC, to the second (markers and timings files only: never a result).

    Returns:
        str: ISO 8601, e.g. "2026-12-07T20:00:00+00:00".
    """
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def mark(paths: StudyPaths, marker: Path, seed: int | None, files: list[Path],
         extra: dict) -> None:
    """Write `marker` listing `files` with their sha256 (hashed now), `extra` and the time.

    Args:
        paths (StudyPaths): the study folder.
        marker (Path): the marker file to write.
        seed (int | None): the unit's seed (None for the data marker).
        files (list[Path]): the files the unit wrote.
        extra (dict): JSON-able facts to record beside them.
    """
    listed = {paths.rel(p): store.sha256_file(p) for p in files}
    store.write_json(marker, {"seed": seed, "files": listed, **extra, "finished": now()})


def spec_dict(spec) -> dict:
    """A model spec (dataclass or mapping) as a plain dict for JSON.

    Args:
        spec (ModelSpec | Mapping): the spec.

    Returns:
        dict: its fields.
    """
    return dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else dict(spec)
