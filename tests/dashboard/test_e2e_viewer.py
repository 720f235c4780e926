"""End to end, the reading room's two panes in headless Chromium, on REAL radiographs (a CSV
study of the two ChestX-ray14 files in tests/data/real-cxr): both panes carry their Grad-CAM
overlay, aligned with the image; zoom and window/level move both canvases; the lock unlinks
them; every key of the table does what it says; typing in a text field triggers none; narrow
screens stack the panes. The reader study's Read page has the keys but no model panes."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest

from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve, wait_rendered

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (installed by .ci/run: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = """(() => [...document.querySelectorAll('*')].map(e => e.shadowRoot)
            .find(r => r && r.querySelector('.plv')))()"""
FULL = "(old) => window.__plv_full && window.__plv_full.token !== old"


def _state(page) -> dict:
    """The viewer's state as the user would see it: views, layout, panes, transforms."""
    return page.evaluate(f"""() => {{
      const r = {ROOT}, S = window.__plv;
      return {{v0: Object.assign({{}}, S.v[0]), v1: Object.assign({{}}, S.v[1]),
        linked: S.linked, layout: S.layout, token: S.D.token,
        cls: S.D.cams ? S.D.cams.cls : null, help: !r.querySelector('.help').hidden,
        kinds: [...r.querySelectorAll('.pane')].map(p => p.dataset.k),
        transforms: [...r.querySelectorAll('.stage')].map(s => s.style.transform)}}; }}""")


def _pixels(page, cls: str, pane: int, channel: int = 0) -> np.ndarray:
    flat = page.evaluate(f"""([cls, i, ch]) => {{
      const c = {ROOT}.querySelectorAll('.pane')[i].querySelector('canvas.' + cls);
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return [c.width, c.height, Array.from(d.filter((_, j) => j % 4 === ch))]; }}""",
                         [cls, pane, channel])
    return np.asarray(flat[2], dtype=np.uint8).reshape(flat[1], flat[0])


def _decode(url: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def _press(page, key: str, wait_ms: int = 150) -> None:
    page.keyboard.press(key)
    page.wait_for_timeout(wait_ms)


def _full(page, old, action, timeout=180_000):
    action()
    page.wait_for_function(FULL, arg=old, timeout=timeout)


@pytest.fixture(scope="module")
def pw():
    """One playwright for the module (a second sync one cannot start beside it)."""
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def room(real_root, tmp_path_factory, pw):
    """Browse on the real-radiograph study, in one Chromium tab shared by this module's
    tests (each leaves the viewer as it found it: linked, reset, side by side)."""
    from PIL import Image

    from tests.dashboard.fixture_study import REAL_CXR

    log = tmp_path_factory.mktemp("room") / "streamlit.log"
    with serve([real_root], log_path=log, timeout=120) as url:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/browse?study=real&show=all")
            wait_rendered(page, 180_000)
            page.wait_for_function("() => window.__plv_full", timeout=180_000)
            file = page.evaluate(f"() => {ROOT}.querySelector('.meta').textContent")
            name = file.split(" · ")[0].split("#")[0] + ".png"
            real = np.asarray(Image.open(REAL_CXR / name).convert("L"))
            yield page, real, file
        finally:
            browser.close()


def test_both_panes_carry_their_overlay_aligned_with_the_radiograph(room):
    from PIL import Image

    page, real, _ = room
    s = _state(page)
    assert s["kinds"] == ["dense", "pruned"] and s["linked"] and s["layout"] == "side"
    # both panes draw the radiograph itself at 512² and carry an overlay
    for i in (0, 1):
        np.testing.assert_array_equal(_pixels(page, "base", i), real)
    alpha = [_pixels(page, "ovl", i, channel=3) for i in (0, 1)]
    assert all(a.shape == (512, 512) for a in alpha)
    assert all(a.max() > 0 for a in alpha), "each pane has its Grad-CAM overlay"
    # one colour scale: the brighter map reaches the full opacity (0.6), the other
    # stays at its share; both from the maps the server sent
    maps = page.evaluate("() => window.__plv.pendingCams.maps")
    m = {k: _decode(maps[k]) for k in ("dense", "pruned")}
    assert max(m["dense"].max(), m["pruned"].max()) == 255
    # alignment: the overlay is the map stretched over the image, not shifted,
    # flipped or transposed (Chromium's smoothing ≈ bilinear)
    for a, k in zip(alpha, ("dense", "pruned"), strict=True):
        up = np.asarray(Image.fromarray(m[k]).resize((512, 512), Image.BILINEAR),
                        dtype=np.float64)
        want = 0.6 * np.sqrt(up / 255) * 255
        assert np.corrcoef(want.ravel(), a.ravel().astype(float))[0, 1] > 0.97
        assert np.abs(want - a).mean() < 6


def test_zoom_window_level_invert_flips_move_both_panes_and_the_lock_unlinks(room):
    from dashboard.common.imaging import window_level

    page, real, _ = room
    s = _state(page)
    t0 = s["transforms"]
    assert t0[0] == t0[1]
    # zoom moves both canvases
    _press(page, "z")
    s = _state(page)
    assert s["v0"]["zoom"] == 2 and s["transforms"][0] == s["transforms"][1] != t0[0]
    _press(page, "+")
    assert _state(page)["v0"]["zoom"] == 4
    _press(page, "-")
    assert _state(page)["v0"]["zoom"] == 2
    # window/level: a preset key moves both panes, pixels as dashboard.common.imaging's
    _press(page, "2")
    want = window_level(real, 85, 150)
    for i in (0, 1):
        assert np.abs(_pixels(page, "base", i).astype(int) - want).max() <= 1
    # a drag on one pane moves the window of both
    box = page.locator(".plv .pane .box").first.bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 80, steps=4)
    page.mouse.up()
    s = _state(page)
    assert (s["v0"]["level"], s["v0"]["width"]) == (95, 190)
    assert np.array_equal(_pixels(page, "base", 0), _pixels(page, "base", 1))
    assert np.abs(_pixels(page, "base", 1).astype(int)
                  - window_level(real, 95, 190)).max() <= 1
    # I inverts both; H and V flip both; Space resets everything
    _press(page, "i")
    assert np.abs(_pixels(page, "base", 1).astype(int)
                  - (255 - window_level(real, 95, 190).astype(int))).max() <= 1
    _press(page, "h")
    _press(page, "v")
    s = _state(page)
    assert s["v0"]["fh"] and s["v0"]["fv"] and s["transforms"][0] == s["transforms"][1]
    assert "scale(-" in s["transforms"][0] and ", -" in s["transforms"][0]
    _press(page, " ")
    s = _state(page)
    assert (s["v0"]["zoom"], s["v0"]["level"], s["v0"]["width"], s["v0"]["invert"],
            s["v0"]["fh"], s["v0"]["fv"]) == (1, 128, 256, False, False, False)
    assert s["transforms"] == t0
    np.testing.assert_array_equal(_pixels(page, "base", 1), real)
    # the lock unlinks: a zoom then moves only the pane under the pointer
    page.locator(".plv button.lock").click()
    page.mouse.move(box["x"] + 50, box["y"] + 50)
    _press(page, "z")
    s = _state(page)
    assert not s["linked"] and s["v0"]["zoom"] == 2 and s["v1"]["zoom"] == 1
    assert s["transforms"][0] != s["transforms"][1]
    page.locator(".plv button.lock").click()      # linked again: right follows left
    s = _state(page)
    assert s["linked"] and s["transforms"][0] == s["transforms"][1]
    _press(page, " ")


def test_layouts_keys_help_and_gradcam_class(room):
    page, _, _ = room
    # D cycles the layouts: image | signed difference, one image, back
    _press(page, "d")
    assert _state(page)["kinds"] == ["image", "diff"]
    assert _pixels(page, "ovl", 1, channel=3).max() > 0, "the difference is drawn"
    _press(page, "d")
    assert _state(page)["kinds"] == ["image"]
    _press(page, "d")
    assert _state(page)["kinds"] == ["dense", "pruned"]
    # ? shows the keys, again hides them
    _press(page, "?")
    s = _state(page)
    assert s["help"]
    help_text = page.locator(".plv .help").inner_text()
    for k in ("← →", "Z", "I", "1–5", "Space", "H / V", "C", "D", "?"):
        assert k in help_text, k
    _press(page, "?")
    assert not _state(page)["help"]
    # C: the next Grad-CAM class, computed on the server, painted on both panes
    old_cls = _state(page)["cls"]
    page.keyboard.press("c")
    page.wait_for_function("(c) => window.__plv.D.cams && window.__plv.D.cams.cls "
                           "&& window.__plv.D.cams.cls !== c", arg=old_cls,
                           timeout=180_000)
    assert _state(page)["cls"] != old_cls


def test_text_fields_swallow_keys_arrows_walk_narrow_screens_stack(room, tmp_path):
    page, _, file = room
    # typing in a text field triggers none of the keys
    before = _state(page)
    field = page.get_by_placeholder("e.g. ", exact=False).first
    field.click()
    page.keyboard.type("zihvd2?c ")
    page.wait_for_timeout(500)
    after = _state(page)
    for k in ("v0", "layout", "help", "token", "transforms", "cls", "kinds"):
        assert after[k] == before[k], k
    field.fill("")
    page.locator("h1").first.click()
    # → and ← walk the gallery: a new image, both panes with overlays
    old = page.evaluate("() => window.__plv_full.token")
    _full(page, old, lambda: page.keyboard.press("ArrowRight"))
    s = _state(page)
    assert s["token"] != old and s["kinds"] == ["dense", "pruned"]
    assert _pixels(page, "ovl", 0, channel=3).max() > 0
    old = s["token"]
    _full(page, old, lambda: page.keyboard.press("ArrowLeft"))
    assert page.evaluate(f"() => {ROOT}.querySelector('.meta').textContent") == file
    # a narrow screen stacks the panes, and they still zoom together
    page.set_viewport_size({"width": 1000, "height": 900})
    page.wait_for_timeout(500)
    boxes = [page.locator(".plv .pane .box").nth(i).bounding_box() for i in (0, 1)]
    assert boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
    assert abs(boxes[0]["x"] - boxes[1]["x"]) < 2
    _press(page, "z")
    s = _state(page)
    assert s["v0"]["zoom"] == 2 and s["transforms"][0] == s["transforms"][1]
    page.screenshot(path=str(tmp_path / "narrow.png"))


def test_read_page_has_the_viewer_keys_but_no_model_panes(hostile_root, tmp_path, pw):
    from tests.dashboard.fixture_study import hostile_token_file

    token = hostile_token_file(hostile_root / "hostile").read_text()
    with serve([hostile_root], log_path=tmp_path / "streamlit.log", timeout=120) as url:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/?r={token}")
            page.get_by_text("Label:").wait_for(timeout=180_000)   # no title on this page
            page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                                   timeout=180_000)
            page.wait_for_function("() => window.__plv_full", timeout=180_000)
            s = _state(page)
            # one pane, the image: no dense/pruned panes, no findings, no Grad-CAM, no lock
            assert s["kinds"] == ["image"] and s["cls"] is None
            html = page.evaluate(f"() => {ROOT}.querySelector('.plv').innerText")
            assert "dense" not in html and "pruned" not in html and "Grad-CAM" not in html
            assert not page.locator(".plv .finds").count()
            assert page.locator(".plv button.lock").is_hidden()
            # the viewer keys: zoom, invert, flips, presets on shift+digit, reset, help
            _press(page, "z")
            _press(page, "i")
            _press(page, "h")
            s = _state(page)
            assert s["v0"]["zoom"] == 2 and s["v0"]["invert"] and s["v0"]["fh"]
            _press(page, "Shift+Digit2")
            assert (_state(page)["v0"]["level"], _state(page)["v0"]["width"]) == (85, 150)
            # a plain digit stays an answer (quality), not a preset: the form's key wins
            _press(page, "Digit4", 400)
            assert (_state(page)["v0"]["level"], _state(page)["v0"]["width"]) == (85, 150)
            checked = page.locator('[data-testid="stForm"] input[type="radio"]:checked')
            assert checked.count() >= 1
            _press(page, "d")      # difficulty target on this page: the layout stays
            assert _state(page)["kinds"] == ["image"]
            # Space on the focused radio button is the radio's own; a click on the image
            # gives the keys back to the viewer (and, without a drag, changes nothing)
            page.locator(".plv .pane .box").first.click()
            assert (_state(page)["v0"]["level"], _state(page)["v0"]["width"]) == (85, 150)
            _press(page, " ")
            s = _state(page)
            assert (s["v0"]["zoom"], s["v0"]["invert"], s["v0"]["fh"]) == (1, False, False)
            _press(page, "?")
            help_text = page.locator(".plv .help").inner_text()
            assert "Z" in help_text and "Grad-CAM" not in help_text and "layout" not in help_text
            assert "shift+1–5" in help_text
            # the comment box swallows the keys
            _press(page, "?")
            page.locator("textarea").first.click()
            page.keyboard.type("zih")
            page.wait_for_timeout(300)
            s = _state(page)
            assert (s["v0"]["zoom"], s["v0"]["invert"], s["v0"]["fh"]) == (1, False, False)
        finally:
            browser.close()
