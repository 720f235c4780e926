"""The browser components' code lives in dashboard/reading_room/static as .js/.css/.html
files: each is valid for what it is (JavaScript modules parsed by Node, where playwright ships
one), and none sets HTML from a string (study strings go through textContent only)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from dashboard.reading_room.viewer_component import VIEWER_JS

STATIC = Path(__file__).resolve().parents[2] / "dashboard" / "reading_room" / "static"
JS = sorted(STATIC.glob("*.js"))
# parts joined into the viewer's one module (viewer_component.VIEWER_JS): all but the last
# are plain declarations; the joined module is what the browser parses
PARTS = [STATIC / n for n in VIEWER_JS[:-1]]
MODULES = [p for p in JS if p not in PARTS]


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
    assert {"viewer.js", "viewer_draw.js", "viewer_keys.js", "viewer.css", "viewer.html",
            "viewer_cams.js", "viewer_ahead.js", "viewer_ready.js", "gallery.js",
            "gallery.css", "gallery.html"} <= names


def _parses(text: str, name: str, tmp_path) -> None:
    node = _node()
    if node is None:
        pytest.skip("no Node.js (playwright's driver ships one)")
    mod = tmp_path / (name + ".mjs")      # --check parses .mjs as an ES module
    mod.write_text(text)
    r = subprocess.run([node, "--check", str(mod)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_javascript_parses_as_a_module(path, tmp_path):
    _parses(path.read_text(), path.stem, tmp_path)
    assert "export default function" in path.read_text()


@pytest.mark.parametrize("path", PARTS, ids=lambda p: p.name)
def test_viewer_parts_parse_and_export_nothing(path, tmp_path):
    """A part declares functions and constants for the viewer's module; an export or an
    import there would break the joined module."""
    text = path.read_text()
    _parses(text, path.stem, tmp_path)
    assert "export " not in text and "import " not in text


def test_the_joined_viewer_module_parses_and_exports_the_component(tmp_path):
    from dashboard.reading_room.viewer_component import _static

    text = "\n".join(_static(n) for n in VIEWER_JS)
    _parses(text, "viewer_joined", tmp_path)
    assert text.count("export default function") == 1


@pytest.mark.parametrize("path", JS, ids=lambda p: p.name)
def test_every_javascript_file_is_under_500_lines(path):
    assert len(path.read_text().splitlines()) < 500, path.name


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
