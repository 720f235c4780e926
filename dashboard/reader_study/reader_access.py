"""Reader links: which study and reader a `?r=<token>` URL belongs to, and reader-only mode.

A reader never picks a study or types a name: the coordinator's link carries a token that
exactly one study's reader database knows (by its hash). The app looks it up in every study
under the dashboard's roots, so the link holds nothing but the token — no study name, no
form, nothing a reader could change to see something else.

`streamlit run dashboard/app.py -- --reader-only` serves reader links and nothing else: no
research page exists in that server, so no URL can reach one.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.reader import ReaderDB, ReaderDBError
from core.reader.connection import now
from core.reader.inputs import Reader, token_hash
from core.store import StudyPaths

_log = logging.getLogger(__name__)
TOKEN_PARAM = "r"
READER_ONLY_FLAG = "--reader-only"


def reader_only(argv=None) -> bool:
    return READER_ONLY_FLAG in (sys.argv[1:] if argv is None else argv)


def token_in_url() -> str | None:
    token = st.query_params.get(TOKEN_PARAM)
    return token or None


NOT_VALID = ("This reading link is not valid (it may have been replaced or stopped). "
             "Ask the study coordinator for your link.")


@dataclass(frozen=True)
class ReaderLink:
    study: Path
    reader: Reader


@dataclass(frozen=True)
class BrokenLink:
    """A link this server knew, whose study's reader database cannot be read now."""
    study: Path
    reader: Reader


@st.cache_resource(show_spinner=False)
def _memory() -> dict[str, dict]:
    """Server-wide: token hash → the study and reader it opened, and when that reader last
    saved. Used only when the database is unreadable, to tell the reader the right sentence
    (their link was good; their answers up to that time are saved); never to open a form."""
    return {}


def _remember(token: str, study: Path, reader: Reader, last_saved: str | None = None) -> None:
    entry = _memory().setdefault(token_hash(token), {})
    entry.update(study=str(study), reader=reader)
    if last_saved:
        entry["last_saved"] = max(last_saved, entry.get("last_saved") or "")


def unavailable_text(token: str | None) -> str:
    """The one sentence a reader sees when their database cannot be read or written."""
    saved = (_memory().get(token_hash(token)) or {}).get("last_saved") if token else None
    when = (f"were last saved at {saved[11:16]} UTC on {saved[:10]}" if saved
            else "are safe")
    return (f"This reading session cannot be saved right now; your answers so far {when}. "
            "Please tell the study coordinator and try again later.")


def _lookup(study: Path, token: str) -> Reader | None:
    # create=False: looking a token up never creates a database.
    return ReaderDB.for_study(study, create=False).reader_for_token(token)


def find_reader(token: str, roots) -> ReaderLink | BrokenLink | None:
    """The (study, reader) of a token among the studies under `roots`, or None.

    Only studies that verify against their manifest are searched: a reader is never shown
    images or labels from a damaged study. Each study's database fails alone: one that
    cannot be read is skipped (logged for the operator), so it never hides another study's
    readers. A token this server saw open a study whose database has since become
    unreadable gives a BrokenLink, so that reader is told their session cannot be saved."""
    from dashboard.common import loaders

    broken: list[Path] = []
    for entry in loaders.discover(tuple(str(r) for r in roots)):
        db_file = StudyPaths(entry.path).reader_db
        if entry.error or not (db_file.is_file() or StudyPaths(entry.path).reader_record.is_file()):
            continue
        try:
            reader = _lookup(Path(entry.path), token)
        except (ReaderDBError, OSError) as exc:
            _log.warning("reader database skipped while looking up a link: %s", exc)
            broken.append(Path(entry.path).resolve())
            continue
        if reader is None:
            continue
        if loaders.verify(entry.path):
            return None  # the reader's study does not verify: refuse, say nothing about it
        _remember(token, Path(entry.path), reader)
        return ReaderLink(Path(entry.path), reader)
    known = _memory().get(token_hash(token))
    if known and Path(known["study"]).resolve() in broken:
        return BrokenLink(Path(known["study"]), known["reader"])
    return None


def current_reader() -> ReaderLink | None:
    """The reader of this session's link, or None after drawing a refusal (no detail that
    would help guess a token or learn about the study)."""
    from dashboard.common.studies import study_roots

    token = token_in_url()
    link = find_reader(token, study_roots(sys.argv[1:])) if token else None
    if not isinstance(link, ReaderLink):
        st.title("Reading")
        if isinstance(link, BrokenLink):
            st.error(unavailable_text(token), icon=":material/sync_problem:")
        elif token:
            st.error(NOT_VALID, icon=":material/block:")
        else:
            st.info("Open the personal reading link your study coordinator sent you.",
                    icon=":material/link:")
        return None
    return link


def reading_db(link: ReaderLink):
    """The database of a reader's link (never created here), guarded: any call that finds it
    unreadable draws the one plain sentence and stops the page (a traceback would show server
    paths; the answers already saved are untouched). A successful save is remembered with its
    time, for that sentence."""
    from dashboard.reader_study import reader_ui

    token = token_in_url()

    def stop(exc: ReaderDBError):
        _log.warning("reader page stopped: %s", exc)
        st.error(unavailable_text(token), icon=":material/sync_problem:")
        st.stop()

    def remember(name: str, out) -> None:
        stamp = now() if name == "save_answer" else out if name == "last_saved" else None
        entry = _memory().get(token_hash(token)) if token else None
        if entry is not None and stamp:
            entry["last_saved"] = max(stamp, entry.get("last_saved") or "")

    try:
        raw = reader_ui.open_reader_db(link.study, create=False)
    except ReaderDBError as exc:
        stop(exc)
    db = reader_ui.GuardedDB(raw, on_error=stop, after=remember)
    db.last_saved(link.reader.name)  # so the sentence can name the time, should it be needed
    return db
