"""The browser components' code lives in dashboard/reading_room/static as .js/.css/.html
files: each is valid for what it is (JavaScript modules parsed by Node, where playwright ships
one), and none sets HTML from a string (study strings go through textContent only)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "reading_room" / "static"
JS = sorted(STATIC.glob("*.js"))


def _node() -> str | None:
    try:
        from playwright._impl._driver import compute_driver_executable
    except ImportError:
        return shutil.which("node")
    found = compute_driver_executable()
    node = found[0] if isinstance(found, tuple) else found
    return node if node and Path(node).is_file() else shutil.which("node")


def test_the_components_files_are_there():
    names = {p.name for p in STATIC.iterdir()}
    assert {"viewer.js", "viewer.css", "viewer.html", "viewer_cams.js", "gallery.js",
            "gallery.css", "gallery.html"} <= names


@pytest.mark.parametrize("path", JS, ids=lambda p: p.name)
def test_javascript_parses_as_a_module(path, tmp_path):
    node = _node()
    if node is None:
        pytest.skip("no Node.js (playwright's driver ships one)")
    mod = tmp_path / (path.stem + ".mjs")      # --check parses .mjs as an ES module
    mod.write_text(path.read_text())
    r = subprocess.run([node, "--check", str(mod)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "export default function" in path.read_text()


@pytest.mark.parametrize("path", JS, ids=lambda p: p.name)
def test_no_html_from_strings(path):
    text = path.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in text, f"{path.name} uses {sink}"


@pytest.mark.parametrize("path", sorted(STATIC.glob("*.css")), ids=lambda p: p.name)
def test_css_braces_balance(path):
    text = path.read_text()
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, path.name
    assert depth == 0, path.name
