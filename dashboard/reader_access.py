"""Reader links: which study and reader a `?r=<token>` URL belongs to, and reader-only mode.

A reader never picks a study or types a name: the coordinator's link carries a token that
exactly one study's reader database knows (by its hash). The app looks it up in every study
under the dashboard's roots, so the link holds nothing but the token — no study name, no
form, nothing a reader could change to see something else.

`streamlit run dashboard/app.py -- --reader-only` serves reader links and nothing else: no
research page exists in that server, so no URL can reach one.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.reader import ReaderDB
from core.reader.access import Reader
from core.store import StudyPaths

TOKEN_PARAM = "r"
READER_ONLY_FLAG = "--reader-only"


def reader_only(argv=None) -> bool:
    return READER_ONLY_FLAG in (sys.argv[1:] if argv is None else argv)


def token_in_url() -> str | None:
    token = st.query_params.get(TOKEN_PARAM)
    return token or None


@dataclass(frozen=True)
class ReaderLink:
    study: Path
    reader: Reader


def find_reader(token: str, roots) -> ReaderLink | None:
    """The (study, reader) of a token among the studies under `roots`, or None.

    Only studies that verify against their manifest are searched: a reader is never shown
    images or labels from a damaged study."""
    from dashboard import loaders

    for entry in loaders.discover(tuple(str(r) for r in roots)):
        db_file = StudyPaths(entry.path).reader_db
        if entry.error or not db_file.is_file():
            continue
        reader = ReaderDB.for_study(entry.path).reader_for_token(token)
        if reader is None:
            continue
        if loaders.verify(entry.path):
            return None  # the reader's study does not verify: refuse, say nothing about it
        return ReaderLink(Path(entry.path), reader)
    return None


def current_reader() -> ReaderLink | None:
    """The reader of this session's link, or None after drawing a refusal (no detail that
    would help guess a token or learn about the study)."""
    from dashboard.studies import study_roots

    token = token_in_url()
    link = find_reader(token, study_roots(sys.argv[1:])) if token else None
    if link is None:
        st.title("Reading")
        if token:
            st.error("This reading link is not valid (it may have been replaced or stopped). "
                     "Ask the study coordinator for your link.", icon=":material/block:")
        else:
            st.info("Open the personal reading link your study coordinator sent you.",
                    icon=":material/link:")
    return link
