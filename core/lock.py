"""One coordinator per study folder: `study_lock(root)`.

The lock is `fcntl.flock` on `<study>/units/lock` (units/ is outside the manifest, so the lock
never makes a study fail `verify`). flock belongs to the open file, so the kernel releases it
when the holder exits in any way, SIGKILL included: a crashed coordinator never leaves a
stale lock behind, and nothing has to guess whether an old pid is still alive.

Who holds it is written beside it, one small JSON file per holder
(`units/lock.holders/<host>-<pid>-<n>.json`: host, pid, since), itself flock-ed by its
holder, so a record whose lock can be taken belongs to a dead process and is removed.

Modes:
- exclusive (default): a whole-study run, its finalisation, `core analyze`. Only under it
  are stale temp files removed: no other writer of the study can be running.
- shared: a `--seeds` run (a scheduler's job array runs several side by side on one folder);
  shared holders exclude an exclusive one and each other's clean-up, not each other.
Ray workers run units for a driver that holds the lock; they never take it.

The lock is re-entrant inside one process (finalisation called by a run that holds it).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import itertools
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from core.errors import StudyLockedError

LOCK_FILE = Path("units") / "lock"
HOLDERS_DIR = Path("units") / "lock.holders"

_held: dict[str, tuple[str, int]] = {}       # resolved root -> (mode, depth) in this process
_guard = threading.Lock()
_count = itertools.count()

def holders(root) -> list[dict]:
    """Live holders of a study's lock (records of dead processes are removed).

    Args:
        root (str | Path): the study folder.

    Returns:
        list[dict]: one record (host, pid, since, mode) per live holder.
    """
    d = Path(root) / HOLDERS_DIR
    out = []
    for rec in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            fd = os.open(rec, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:        # its holder is alive
                with contextlib.suppress(OSError, ValueError):
                    out.append(json.loads(rec.read_text()))
                continue
            with contextlib.suppress(FileNotFoundError):
                rec.unlink()               # its holder died without removing it
        finally:
            os.close(fd)
    return out


@contextlib.contextmanager
def study_lock(root, *, shared: bool = False) -> Iterator[None]:
    """Hold the study's coordinator lock for the block (re-entrant in one process).

    Args:
        root (str | Path): the study folder.
        shared (bool): a shared hold (a ``--seeds`` run) instead of an exclusive one.

    Returns:
        Iterator[None]: a context manager.

    Raises:
        StudyLockedError: if another process holds it (exclusive vs anything, or shared vs
            an exclusive holder), naming the holders.
    """
    root = Path(root)
    key = str(root.resolve())
    mode = "shared" if shared else "exclusive"
    with _guard:
        mine = _held.get(key)
        if mine is not None and (mine[0] == "exclusive" or shared):
            _held[key] = (mine[0], mine[1] + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                m, depth = _held[key]
                _held[key] = (m, depth - 1)
        return
    lock_path = root / LOCK_FILE
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    rec_fd, rec_path = -1, None
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StudyLockedError(root, holders(root)) from None
        holders(root)                      # drops the records of holders that died
        rec_path, rec_fd = _write_record(root, mode)
        with _guard:
            _held[key] = (mode, 1)
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)
    finally:
        if rec_path is not None:
            with contextlib.suppress(FileNotFoundError):
                rec_path.unlink()
        if rec_fd >= 0:
            os.close(rec_fd)
        os.close(fd)           # releases the flock


def _write_record(root: Path, mode: str) -> tuple[Path, int]:
    d = root / HOLDERS_DIR
    d.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname()
    path = d / f"{host}-{os.getpid()}-{next(_count)}.json"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)       # held until we remove it: a live record
    since = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    os.write(fd, json.dumps({"host": host, "pid": os.getpid(), "since": since,
                             "mode": mode}).encode())
    return path, fd


@contextlib.contextmanager
def setup_lock(root) -> Iterator[None]:
    """A short blocking exclusive lock around writing a study's shared inputs.

    Shared holders (``--seeds`` runs) starting together write data/ and study.json once; the
    others wait for it, then find them done.

    Args:
        root (str | Path): the study folder.

    Returns:
        Iterator[None]: a context manager.
    """
    path = Path(root) / "units" / "setup.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
