"""End to end, the reading room in headless Chromium: open Browse PIEs, click a thumbnail,
press → three times, change window/level; the URL, the image, the rank table and the
Grad-CAM captions must agree with each other and with the study's stored predictions."""
from __future__ import annotations

import base64
import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve, wait_rendered

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (installed by .ci/run: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

# the image and both panes' Grad-CAM overlays drawn for a new image
VIEWER_DRAWN = "(old) => window.__plv_full && window.__plv_full.token !== old"
SETTLED = """() => document.querySelector('[data-testid="stApp"]')
                .getAttribute('data-test-script-state') === 'notRunning'"""


@contextmanager
def _browse(studies_root, tmp_path, setup=None):
    """Browse PIEs of the fixture study `alpha` in a new 1280×800 Chromium page, drawn: the
    viewer with both panes' overlays, and the gallery. `setup(page)` runs before the page
    opens the link."""
    with serve([studies_root], log_path=tmp_path / "streamlit.log") as url, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            if setup is not None:
                setup(page)
            page.goto(f"{url}/browse?study=alpha&show=all")
            wait_rendered(page)
            page.wait_for_function("() => window.__plv_full && window.__plg_drawn",
                                   timeout=120_000)
            yield page
        finally:
            browser.close()


def _token(page):
    return page.evaluate("() => window.__plv_full ? window.__plv_full.token : null")


# Set before an action: whether the app's script has run since (the viewer draws a next
# image it was sent ahead at once, so "not running" alone can be the state before the rerun
# that brings the words and rank table has even started).
WATCH_RUNS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__ran = false;
  if (window.__runObs) window.__runObs.disconnect();
  window.__runObs = new MutationObserver(() => {
    if (app.getAttribute('data-test-script-state') === 'running') window.__ran = true; });
  window.__runObs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RAN_AND_SETTLED = "() => window.__ran && (" + SETTLED + ")()"


def _after(page, old, action):
    page.evaluate(WATCH_RUNS)
    action()
    page.wait_for_function(VIEWER_DRAWN, arg=old, timeout=120_000)
    page.wait_for_function(RAN_AND_SETTLED, timeout=120_000)
    page.wait_for_timeout(300)   # the rank table and captions of the same rerun


def _image_id(url: str) -> str:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(url).query)["image"][0]


def _decode(data_url: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_browse_click_next_window_level_agree(studies_root, tmp_path):
    from dashboard.common.data import StudyData
    from dashboard.common.imaging import window_level

    d = StudyData(studies_root / "alpha")
    with _browse(studies_root, tmp_path) as page:
        assert page.locator("h1").first.inner_text() == "Browse PIEs"
        # the reading room's sidebar: the chosen sparsity and the seeds, not the research
        # pages' disease, method and sparsity-range filters
        side = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "Chosen sparsity" in side and "Seeds" in side
        assert not any(w in side for w in ("Diseases", "Methods", "Sparsity range")), side
        thumbs = page.locator(".plg .t img")
        ids = [thumbs.nth(i).get_attribute("alt") for i in range(thumbs.count())]
        assert len(ids) >= 8
        # the first load's history entries: test_browse_first_load_is_one_history_entry
        before = page.evaluate("history.length")
        # click the third thumbnail: it opens in the viewer and in the URL
        _after(page, _token(page), lambda: page.locator(".plg .t").nth(2).click())
        assert _image_id(page.url) == ids[2]
        assert page.evaluate("history.length") <= before + 1
        # → three times walks the gallery order
        for _ in range(3):
            _after(page, _token(page), lambda: page.keyboard.press("ArrowRight"))
        assert _image_id(page.url) == ids[5]
        assert page.locator(".plg .t.sel img").get_attribute("alt") == ids[5]
        row = int(np.flatnonzero(d.labels["id"].astype(str) == ids[5])[0])

        # the image drawn is that row's image (the fixture's files are 32 px PNGs)
        assert page.evaluate("() => [window.__plv.D.w, window.__plv.D.h]") == \
            [d.image_size, d.image_size]
        # window/level in the browser, no rerun: the canvas equals dashboard.common.imaging's
        before_runs = page.evaluate("() => performance.getEntriesByType('resource').length")
        page.evaluate("""() => {
          const r = [...document.querySelectorAll('*')].map(e => e.shadowRoot)
            .find(r => r && r.querySelector('.plv'));
          const set = (cls, v) => { const s = r.querySelector(cls); s.value = v;
            s.dispatchEvent(new Event('input', {bubbles: true})); };
          set('input.lvl', 100); set('input.wid', 60); }""")
        shown = np.asarray(page.evaluate("""() => {
          const r = [...document.querySelectorAll('*')].map(e => e.shadowRoot)
            .find(r => r && r.querySelector('.plv'));
          const c = r.querySelector('.pane canvas.base');
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          return Array.from(px.filter((_, i) => i % 4 === 0)); }"""), dtype=np.uint8)
        raw = d.image(row)
        expected = window_level(raw, 100, 60).ravel()
        assert shown.shape == expected.shape
        assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1
        assert page.evaluate("() => performance.getEntriesByType('resource').length") \
            == before_runs, "window/level fetched something"

        # the rank table names this image's classes in the dense ensemble's order, with
        # the stored predictions' probabilities; the captions use the same numbers
        k = d.param("pie_sparsity", 90)
        ki = d.sparsities.index(k)
        stored = [d.predictions("l1_global", s) for s in d.seeds]
        dense = np.mean([p.probabilities(0, row).astype(np.float64) for p in stored], axis=0)
        pruned = np.mean([p.probabilities(ki, row).astype(np.float64) for p in stored],
                         axis=0)
        table = page.locator("table.pl-rank").first
        rows = table.locator("tbody tr")
        assert rows.count() == len(d.classes)
        first = rows.nth(0).locator("td, th").all_inner_texts()
        top = int(np.argmax(dense))
        assert first[0].lstrip("●? ").strip() == d.classes[top]
        assert f"{dense[top]:.2f}" in first
        # the two panes' captions: the class and each model's probability of it
        caps = page.locator(".plv .pcap").all_inner_texts()
        assert len(caps) == 2
        main_text = page.locator('[data-testid="stMain"]').inner_text()
        assert ids[5] in main_text
        cls = caps[0].split("Grad-CAM of ", 1)[1].split(" · P", 1)[0]
        c = d.classes.index(cls)
        assert f"P = {dense[c]:.2f}" in caps[0] and f"P = {pruned[c]:.2f}" in caps[1]
        # under each pane, that model's top finding and its probability
        finds = page.locator(".plv .finds").all_inner_texts()
        assert d.classes[int(np.argmax(dense))] in finds[0].splitlines()[1]
        assert f"P {dense.max():.2f}" in finds[0]
        assert f"P {pruned.max():.2f}" in finds[1]
        # the Grad-CAM class is a positive finding of *this* image (or its top class)
        y = d.labels.iloc[row][d.classes].to_numpy(dtype=float)
        assert y[c] == 1 or (not (y == 1).any() and c == top)
        page.screenshot(path=str(tmp_path / "browse.png"))


def test_browse_first_load_is_one_history_entry(studies_root, tmp_path):
    """One browser history entry per load, not one per URL parameter written (the first run
    writes a dozen): the new tab's blank page, the link, the run's URL; and that URL keeps
    the sidebar's filters, so a copied link reopens the same view."""
    with _browse(studies_root, tmp_path) as page:
        page.wait_for_function(SETTLED, timeout=120_000)
        assert page.evaluate("history.length") <= 3, "Back would walk half-written URLs"
        assert "k=" in page.url and "seeds=" in page.url, page.url


def _url_arrives_late(page) -> dict:
    """Make the race of a loaded machine happen every time: the server's messages, from its
    first URL change on, are held back until the browser asks for another run (Browse's
    viewer asks once the first image is painted), so the browser asks with the link's URL
    while the server has already sent the one with the sidebar's filters. (If the browser
    asked before that URL was even sent, the race happened by itself: nothing is held.)"""
    import re

    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    seen: dict = {"held": None, "asked": []}   # asked: each run's query, the page load's first

    def route(ws):
        server = ws.connect_to_server()

        def from_server(m):
            if seen["held"] is None and len(seen["asked"]) < 2 and isinstance(m, bytes) \
                    and ForwardMsg.FromString(m).WhichOneof("type") == "page_info_changed":
                seen["held"] = []
            if seen["held"] is not None:
                seen["held"].append(m)
            else:
                ws.send(m)

        def from_page(m):
            server.send(m)
            if isinstance(m, bytes):
                back = BackMsg.FromString(m)
                if back.WhichOneof("type") == "rerun_script":
                    seen["asked"].append(back.rerun_script.query_string)
                    held, seen["held"] = seen["held"] or [], None
                    for h in held:
                        ws.send(h)

        server.on_message(from_server)
        ws.on_message(from_page)

    page.route_web_socket(re.compile(r"/_stcore/stream"), route)
    return seen


def test_browse_first_load_keeps_its_url_when_the_browser_asks_before_it_arrives(
        studies_root, tmp_path):
    """The first load's URL, when the viewer's second run is asked for before the first
    run's URL has reached the browser (what a loaded machine did now and then): still one
    history entry, still the sidebar's filters."""
    routed = []
    with _browse(studies_root, tmp_path,
                 setup=lambda page: routed.append(_url_arrives_late(page))) as page:
        page.wait_for_function(SETTLED, timeout=120_000)
        page.wait_for_timeout(500)
        asked = routed[0]["asked"]
        # the race happened: the browser asked for the second run with the link's URL
        assert len(asked) >= 2 and "k=" not in asked[1] and "image=" not in asked[1], asked
        assert "k=" in page.url and "seeds=" in page.url, page.url
        assert page.evaluate("history.length") <= 3, "Back would walk half-written URLs"
