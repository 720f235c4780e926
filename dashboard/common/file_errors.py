"""A page whose data file turns out unreadable says so in one line, never a traceback.

The study is checked before any page runs (manifest, then every array's header:
studies.unreadable_files), so this is the backstop for what only reading finds: a table
that verifies against a re-sealed manifest but is not a table, a file removed while the
server runs. The line names the file (core's errors carry its path)."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from core.errors import StoreError
from dashboard.common.safe import md_escape

_log = logging.getLogger(__name__)


def _file_errors() -> tuple[type[BaseException], ...]:
    import pyarrow as pa

    return StoreError, OSError, pa.ArrowException


def one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return " ".join(str(exc).split())


@contextmanager
def file_errors_in_one_line() -> Iterator[None]:
    try:
        yield
    except _file_errors() as exc:
        _log.warning("page stopped on an unreadable file: %s", exc)
        st.error(f"This page cannot be shown: a file of the study cannot be read. "
                 f"{md_escape(one_line(exc))}", icon=":material/broken_image:")
