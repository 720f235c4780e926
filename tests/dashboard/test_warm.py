"""The warm start (dashboard/warm.py): what it prepares, and that nothing stops a start."""
from __future__ import annotations

import os
import sys

from core.reader import ReaderDB
from dashboard.serve import split_args
from dashboard.warm import page_modules, warm
from tests.reader.conftest import build_study, reading_study, seal


def test_page_modules_are_read_from_the_pages_imports():
    mods = page_modules()
    assert {"streamlit", "altair", "dashboard.reader_study.reader_access",
            "dashboard.reader_study.reader_ui",
            "core.reader"} <= set(mods)
    assert mods == sorted(set(mods))


def test_split_args():
    assert split_args(["--server.port", "1", "--", "--reader-only"]) == (
        ["--server.port", "1"], ["--reader-only"])
    assert split_args(["--server.port", "1"]) == (["--server.port", "1"], [])


def test_warm_reading_server_survives_a_broken_database(tmp_path):
    root = tmp_path / "studies"
    reading_study(root / "good")
    bad = build_study(root / "bad", seed=1)
    ReaderDB.for_study(bad).path.write_bytes(os.urandom(4096))
    seal(bad)
    timings = warm(["--roots", str(root)], reader_only=True)
    assert timings["studies"] >= 2 and timings["total_s"] >= timings["imports_s"]
    assert "dashboard.reader_study.reader_ui" in sys.modules and "altair" in sys.modules
    assert (root / "bad" / "reader" / "reader_study.sqlite").stat().st_size == 4096
