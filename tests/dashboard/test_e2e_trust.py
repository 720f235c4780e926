"""The page as a trust boundary, in a real browser (issue 9 items 16-18): on a study whose
class names, image ids, study name, reader name and comments are Markdown, HTML and
spreadsheet formulas, every page shows them as literal text, nothing on the page points to
another host, every request the browser makes goes to the app's own address, and the CSV
download is spreadsheet-safe. The app is started as README says (its settings come from
.streamlit/config.toml in the working directory)."""
from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import quote, urlsplit

import pandas as pd
import pytest

from tests.dashboard.fixture_study import (
    HOSTILE_CLASSES,
    HOSTILE_STUDY_NAME,
    hostile_image_id,
    hostile_token_file,
)
from tests.dashboard.test_hostile import _label_lines
from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve, wait_rendered

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (installed by .ci/run: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

# every page's url path; "reading" is the reader's own link (?r=token)
PAGES = ["", "classes", "forgettability", "pies", "who_is_hurt", "paper_check", "browse",
         "reader_setup", "reader_people", "reader_results", "reading"]


def _foreign_references(page, own: str) -> list[str]:
    """src/href of every image, link, icon, frame, script or stylesheet not on `own`."""
    urls = page.evaluate("""() => [...document.querySelectorAll(
        'img[src], link[href], script[src], iframe[src], a[href], source[src], image')]
        .map(e => e.getAttribute('src') || e.getAttribute('href') ||
                  e.getAttribute('xlink:href') || '')
        .map(u => { try { return new URL(u, location.href).href } catch (e) { return u } })""")
    return [u for u in urls if urlsplit(u).scheme not in ("data", "blob", "javascript", "")
            and urlsplit(u).netloc != own]


def test_hostile_study_stays_literal_and_no_request_leaves_the_app(hostile_root, tmp_path):
    study = hostile_root / "hostile"
    with serve([hostile_root], log_path=tmp_path / "streamlit.log") as url, \
            sync_api.sync_playwright() as pw:
        own = urlsplit(url).netloc
        requests: list[str] = []
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800},
                                          accept_downloads=True)
            # record everything; let only the app's own address through (a request to any
            # other host is a failure, and must not wait on a network that is not there)
            context.on("request", lambda r: requests.append(r.url))
            context.route("**/*", lambda route: route.continue_()
                          if urlsplit(route.request.url).netloc == own else route.abort())
            page = context.new_page()
            page.on("websocket", lambda ws: requests.append(ws.url))
            main = page.locator('[data-testid="stMain"]')
            shown = {}
            token = hostile_token_file(study).read_text()
            for path in PAGES:
                if path == "reading":   # no title on the reading view: wait for its label
                    page.goto(f"{url}/?r={token}")
                    page.get_by_text("Label:").wait_for(timeout=60_000)
                    page.wait_for_selector('[data-testid="stApp"]'
                                           '[data-test-script-state="notRunning"]')
                    page.wait_for_timeout(800)
                else:
                    page.goto(f"{url}/{path}?study={quote(str(study))}"
                              f"&image={quote(hostile_image_id(0))}")
                    wait_rendered(page)
                # U+2060 (word joiner, invisible) keeps web addresses in names from linking
                shown[path] = main.inner_text().replace("\u2060", "")
                if path == "browse":   # the rank table (st.html) as the browser shows it
                    cells = page.locator("table.pl-rank tbody tr td:first-child")
                    shown["rank table"] = [c.lstrip("●? ") for c in cells.all_inner_texts()]
                assert "Traceback" not in shown[path] and "Error" not in shown[path][:200], path
                assert not _foreign_references(page, own), (path, _foreign_references(page, own))
                page.screenshot(path=str(tmp_path / f"hostile_{path or 'overview'}.png"))
            # the CSV download of a table of class names
            page.goto(f"{url}/classes?study={quote(str(study))}")
            wait_rendered(page)
            # tables offer no export of their own (it would write cells unescaped) ...
            table = main.locator('[data-testid="stDataFrame"]').first
            table.hover()
            assert page.get_by_role("button", name="Download as CSV").count() == 0
            # ... only PruneLens's CSV button
            with page.expect_download() as dl:
                buttons = main.locator('[data-testid="stDownloadButton"] button')
                buttons.filter(has_text="CSV").first.click()
            csv = Path(dl.value.path()).read_text(encoding="utf-8")
        finally:
            browser.close()

    outside = [u for u in requests if urlsplit(u).netloc != own]
    assert not outside, f"requests to other hosts: {outside}"
    assert main is not None and len(requests) > 10      # the recording did record
    assert shown[""].startswith(f"Overview · {HOSTILE_STUDY_NAME}")
    # image row 0 is positive for every class: Browse names all 18 findings, literally
    # ("No Finding" is not a finding: core.data.stats.labels_in_words)
    assert "Labels: " + ", ".join(c for c in HOSTILE_CLASSES if c != "No Finding") in \
        shown["browse"]
    assert f"{hostile_image_id(0)} · " in shown["browse"]
    assert sorted(shown["rank table"]) == sorted(HOSTILE_CLASSES)
    label_line = shown["reading"].split("Label:", 1)[1].strip().splitlines()[0]
    assert label_line in _label_lines(study), label_line
    assert label_line != "No Finding"      # the fixture leaves an image with findings to read
    # the researcher's results: the reader's name and comment are data, not markup
    table = pd.read_csv(io.StringIO(csv))
    cells = [str(v) for v in table.to_numpy().ravel()] + list(table.columns)
    assert not [c for c in cells if c.startswith(("=", "+", "@"))]
    assert "'=HYPERLINK" in csv and "'-1+2" in csv and "'@cmd" in csv


def test_app_settings_come_from_the_repository_config():
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    cfg = tomllib.loads((repo / ".streamlit" / "config.toml").read_text())
    assert cfg["browser"]["gatherUsageStats"] is False
    assert cfg["client"]["toolbarMode"] == "viewer"
    assert cfg["server"]["headless"] is True
    assert cfg["client"]["disableDataExport"] is True
