"""Warm a dashboard process before its first visitor: imports and the caches a first page fills.

A fresh Streamlit server imports nothing until a browser connects; the first visitor then
waits for pandas, pyarrow, altair, scipy and the pages' own modules to import, and for every
study under the roots to be verified against its manifest (sha256 of every file). A reader
opening a link on a just-started reading server waited 9–12 s for that. `warm` does it at
start-up instead (dashboard/serve.py calls it before the server listens), in the same
process whose caches the sessions then use:

- every module that app.py and each page in dashboard/views/ import (found from their
  import statements, so a new page's imports are warmed without a list to maintain);
- discovery and verification of every study under the roots (the same cached functions the
  pages call, so the sessions hit these entries);
- reading server: each study with a reader database, its labels and image source (the
  reading page's StudyView); research server: each study's StudyData.

Nothing here may fail the start: a study that cannot be read is left for its page to name.
"""
from __future__ import annotations

import ast
import importlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parent
_log = logging.getLogger(__name__)


def page_modules() -> list[str]:
    """Top-level imports of app.py and every page (sorted, no duplicates)."""
    names: set[str] = set()
    for path in [DASHBOARD / "app.py", *sorted((DASHBOARD / "views").glob("*.py"))]:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return sorted(names)


def _import_all(names: Sequence[str]) -> int:
    done = 0
    for name in names:
        try:
            importlib.import_module(name)
            done += 1
        except ImportError:
            pass  # `from pkg import function`: the name is not a module; pkg is imported
    return done


def warm(argv: Sequence[str], reader_only: bool) -> dict[str, float]:
    """Import and fill caches for the app started with app arguments `argv`; returns the
    seconds each step took (logged, and read by benchmarks)."""
    import warnings

    timings: dict[str, float] = {}
    start = time.perf_counter()
    # Outside a session Streamlit warns once per cached call ("missing ScriptRunContext");
    # the calls still fill the process-wide caches the sessions use.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)
    warnings.filterwarnings("ignore", message=".*ScriptRunContext.*")
    _import_all(page_modules())
    timings["imports_s"] = time.perf_counter() - start

    step = time.perf_counter()
    from dashboard import loaders
    from dashboard.studies import study_roots, unreadable_files

    roots = tuple(str(r) for r in study_roots(list(argv)))
    entries = loaders.discover(roots)
    for entry in entries:
        if entry.error:
            continue
        try:
            if loaders.verify(entry.path) or unreadable_files(entry.path):
                continue
            if reader_only:
                _warm_reading(entry.path)
            else:
                loaders.study_data(entry)
        except Exception as exc:  # noqa: BLE001  (the page names it; the start must not fail)
            _log.warning("warm-up skipped %s: %s", entry.path, exc)
    timings["studies_s"] = time.perf_counter() - step
    timings["studies"] = float(len(entries))
    timings["total_s"] = time.perf_counter() - start
    return timings


def _warm_reading(study: Path) -> None:
    from core.store import StudyPaths
    from dashboard import reader_ui

    if not StudyPaths(study).reader_db.is_file():
        return
    reader_ui.open_reader_db(study, create=False)
    reader_ui.study_view(study)
