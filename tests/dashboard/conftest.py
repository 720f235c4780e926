"""Fixture studies for the dashboard tests: two with different class lists, built once."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dashboard.fixture_study import (
    CLASSES_A,
    CLASSES_B,
    make_hostile_csv_study,
    make_real_csv_study,
    make_study,
)

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "app.py")
# the shipped demo study (the quick demo is exercised end to end by tests/test_study.py)
DEMO_DIRS = [REPO / "artifacts" / "demo"]


@pytest.fixture(scope="session")
def studies_root(tmp_path_factory) -> Path:
    """A root holding `alpha` (6 CXR classes, weights, SynthCXR-style ground truth) and
    `beta` (4 other classes, other seeds, no weights, no ground truth, no sex/age/view)."""
    root = tmp_path_factory.mktemp("studies")
    make_study(root / "alpha", classes=CLASSES_A)
    make_study(root / "beta", classes=CLASSES_B, seeds=(3, 4), methods=("l1_global",),
               sparsities=(0, 30, 60, 90), groundtruth=False, weights=False, n_images=60,
               rng_seed=1, metadata=False)
    return root


@pytest.fixture(scope="session")
def hostile_root(tmp_path_factory) -> Path:
    """A root holding `hostile`: 19 classes, image ids, study name, reader name and comments
    that are Markdown, HTML and spreadsheet formulas (issue 9: the page is a trust boundary)."""
    root = tmp_path_factory.mktemp("hostile")
    make_hostile_csv_study(root / "hostile")
    return root


@pytest.fixture(scope="session")
def real_root(tmp_path_factory) -> Path:
    """A root holding `real`: a CSV study (the `csv` dataset) of the two real ChestX-ray14
    radiographs in tests/data/real-cxr, repeated, with SmallCNN weights (Grad-CAM runs)."""
    root = tmp_path_factory.mktemp("real")
    make_real_csv_study(root / "real")
    return root


@pytest.fixture
def app_test(monkeypatch):
    """AppTest factory: app(roots, *, held=False, **query) → a not-yet-run AppTest of
    dashboard/app.py."""
    from streamlit.testing.v1 import AppTest

    def make(roots, *, held=False, **query):
        monkeypatch.setenv("PRUNELENS_STUDY_ROOTS", os.pathsep.join(map(str, roots)))
        at = AppTest.from_file(APP, default_timeout=60)
        if not held:
            # Browse sends a session's first image alone and the rest once the browser says
            # it painted it (viewer_ready), which no browser does here: start as if it had.
            # held=True keeps that first run (tests/dashboard/test_viewer.py).
            at.session_state["br_full"] = True
        for k, v in query.items():
            at.query_params[k] = v
        return at

    return make


def demo_studies() -> list[Path]:
    """The shipped demo study, made by `python -m core demo` (skipped where absent)."""
    return [d for d in DEMO_DIRS if (d / "manifest.json").is_file()]
