"""Warm a dashboard process before its first visitor: imports and the caches a first page fills.

A fresh Streamlit server imports nothing until a browser connects; the first visitor then
waits for pandas, pyarrow, altair, scipy and the pages' own modules to import, and for every
study under the roots to be verified against its manifest (sha256 of every file). A reader
opening a link on a just-started reading server waited 9–12 s for that. `warm` does it at
start-up instead (dashboard/serve.py calls it before the server listens), in the same
process whose caches the sessions then use:

- every module that app.py and each file in the rooms' folders (pages and their helpers)
  import (found from their import statements, so a new page's imports are warmed without a
  list to maintain);
- discovery and verification of every study under the roots (the same cached functions the
  pages call, so the sessions hit these entries);
- reading server: each study with a reader database, its labels (the reading page's
  StudyView) and the first image of each form; research server: each study's StudyData, the
  modules pages import inside functions (torch, PIL, …) and one image at each size Browse
  draws (a synthetic image source builds its noise textures once per size: seconds).

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
# the folders that hold pages (dashboard/common/ holds none; the pages import it)
ROOMS = ("study_pages", "reading_room", "reader_study")
_log = logging.getLogger(__name__)


def page_modules() -> list[str]:
    """Top-level imports of app.py and every page (sorted, no duplicates)."""
    names: set[str] = set()
    rooms = [p for room in ROOMS for p in sorted((DASHBOARD / room).glob("*.py"))]
    for path in [DASHBOARD / "app.py", *rooms]:
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
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context",
                 "streamlit.runtime.caching.cache_data_api"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*ScriptRunContext.*")
    _import_all(page_modules())
    timings["imports_s"] = time.perf_counter() - start

    step = time.perf_counter()
    from dashboard.common import loaders
    from dashboard.common.studies import study_roots, unreadable_files

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
                _warm_research(loaders.study_data(entry), entry)
        except Exception as exc:  # noqa: BLE001  (the page names it; the start must not fail)
            _log.warning("warm-up skipped %s: %s", entry.path, exc)
    timings["studies_s"] = time.perf_counter() - step
    timings["studies"] = float(len(entries))
    timings["total_s"] = time.perf_counter() - start
    return timings


# Modules the pages import inside functions (only when a page draws what needs them).
LAZY_MODULES = ("torch", "PIL.Image", "captum.attr", "core.prune", "core.explain",
                "core.predictions", "core.analysis.pies", "core.data.images")
MAX_WARM_IMAGES = 20


def _render_once(data, sizes) -> None:
    """Render one image of the study at each display size: a synthetic source builds its
    noise textures then (once per size and process: the slowest part of a first image)."""
    rows = data.labels.iloc[[0]]
    for size in sizes:
        try:
            data.image_source.load(rows, int(size))
        except Exception:  # noqa: BLE001  (no file, unknown source: the page falls back)
            return


def _warm_reading(study: Path) -> None:
    """A reading server: the study's reader database, its labels, and the first image of
    each form (what a reader's link opens on)."""
    from core.store import StudyPaths
    from dashboard.reader_study import reader_ui

    if not StudyPaths(study).reader_db.is_file():
        return
    db = reader_ui.open_reader_db(study, create=False)
    view = reader_ui.study_view(study)
    _render_once(view, (reader_ui.DISPLAY_SIZE,))
    for form_id in list(db.forms()["form_id"])[:MAX_WARM_IMAGES]:
        items = db.blind_items(int(form_id))
        if items:
            reader_ui.image(study, items[0].row)


def _warm_research(data, entry) -> None:
    """A research server: lazily imported modules (torch, captum: seconds), the image sizes
    Browse draws (its image, its thumbnails, the model's input for Grad-CAM), and the models
    Browse opens on (every seed's dense model, pruned with the study's first method at its
    PIE sparsity: Browse's defaults), in the page's own process-wide caches."""
    from dashboard.common import loaders
    from dashboard.reading_room.browse_loaders import DISPLAY_SYNTH, THUMB, _pruned_copy

    _import_all(LAZY_MODULES)
    _render_once(data, (DISPLAY_SYNTH, THUMB, data.image_size))
    if not data.methods:
        return
    for seed in data.seeds:
        if not data.paths.weights(seed).is_file():
            continue
        loaders._model(data, data.key, int(seed))
        _pruned_copy(data, data.key, int(seed), data.methods[0], int(entry.pie_sparsity))
