"""Packaging: `pip install -e .` gives core and dashboard with their runtime pins and a
`prunelens` command that is `python -m core`; test tools stay out of the runtime set."""
from __future__ import annotations

import importlib
import importlib.metadata
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_ONLY = ("playwright", "pytest", "pytest-timeout", "ruff", "import-linter", "grimp")


def _pins(path: Path) -> list[str]:
    """The requirement lines of a requirements file, comments and blanks dropped."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _name(pin: str) -> str:
    return pin.split("==", 1)[0].strip().lower().replace("_", "-")


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_pyproject_pins_are_the_requirements_files(project):
    assert sorted(project["project"]["dependencies"]) == sorted(_pins(REPO / "requirements.txt"))
    assert sorted(project["project"]["optional-dependencies"]["test"]) == sorted(
        _pins(REPO / "requirements-test.txt"))


def test_runtime_requirements_hold_no_test_tool(project):
    runtime = {_name(p) for p in _pins(REPO / "requirements.txt")}
    assert not runtime & set(TEST_ONLY), runtime & set(TEST_ONLY)
    test = {_name(p) for p in _pins(REPO / "requirements-test.txt")}
    assert set(TEST_ONLY) <= test
    assert {"streamlit", "torch", "numpy"} <= runtime      # the dashboard's own needs


def test_packages_are_core_and_dashboard(project):
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {"core", "dashboard"} <= set(include)
    assert project["tool"]["setuptools"]["package-data"]["dashboard"] == ["static/*"]
    assert (REPO / "dashboard" / "static" / "prunelens.png").is_file()
    # the browser components' files, read at run time by reading_room/viewer_component.py
    assert project["tool"]["setuptools"]["package-data"]["dashboard.reading_room"] == ["static/*"]
    assert (REPO / "dashboard" / "reading_room" / "static" / "viewer.js").is_file()


def test_console_entry_point_is_cores_main(project):
    from core import cli

    target = project["project"]["scripts"]["prunelens"]
    module, attr = target.split(":")
    assert getattr(importlib.import_module(module), attr) is cli.main


def _installed_script():
    try:
        eps = importlib.metadata.entry_points(group="console_scripts", name="prunelens")
    except importlib.metadata.PackageNotFoundError:   # pragma: no cover
        return None
    return next(iter(eps), None)


@pytest.mark.skipif(_installed_script() is None,
                    reason="prunelens is not installed here (`pip install -e .`; .ci/run does)")
def test_installed_prunelens_runs_cores_main():
    from core import cli

    assert _installed_script().load() is cli.main
    exe = Path(sys.executable).with_name("prunelens")     # the script pip wrote
    exe = str(exe) if exe.is_file() else shutil.which("prunelens")
    assert exe, "the prunelens entry point is installed but its script is not on PATH"
    ours = subprocess.run([exe, "study", "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    theirs = subprocess.run([sys.executable, "-m", "core", "study", "--help"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    assert "--config" in ours.stdout
    assert ours.stdout == theirs.stdout
