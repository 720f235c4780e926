"""Reader links end to end: a reading server (`--reader-only`) in headless Chromium."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from core.reader import FormSpec, ReaderDB, forms_from_study
from tests.reader.conftest import build_study, enrol, reading_study, seal
from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (installed by .ci/run: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

# Anything that would tell a reader which images are PIEs or how they were chosen.
FORBIDDEN = ("is_pie", "pie", "l1_global", "sparsity", "correlat", "percentile", "img0",
             "population", "pruned", "pruning")


def _settled(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=60_000)
    page.wait_for_timeout(500)


def test_reader_links_in_chromium(tmp_path):
    root = tmp_path / "studies"
    study = build_study(root / "tiny")
    db = ReaderDB.for_study(study)
    plan = forms_from_study(study, FormSpec("l1_global", 90, percentile=25, n_pie=3,
                                            n_non_pie=3, n_forms=2))
    db.add_form_set(plan.spec_record(), plan.forms)
    tokens = enrol(db, "Dr Lee", forms=[1]) | enrol(db, "Dr Ng", forms=[2])
    seal(study)
    with serve([root], log_path=tmp_path / "streamlit.log", app_args=["--reader-only"]) as url, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/?r={tokens['Dr Lee']}")
            page.wait_for_selector('[role="radiogroup"]', timeout=60_000)
            _settled(page)
            # pixels as base64 are random letters that can spell anything: not text
            html = re.sub(r"data:image/\w+;base64,[a-z0-9+/=]+", "", page.content().lower())
            assert not [w for w in FORBIDDEN if w in html], "the page's HTML names PIEs"
            assert page.locator('[data-testid="stSidebar"]').count() == 0
            assert page.locator('[data-testid="stSidebarNav"]').count() == 0
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            # (Streamlit's own "skip to content" anchor points into this same page)
            others = [h for h in hrefs if h.startswith(url) and urlparse(h).path not in ("", "/")]
            assert not others, f"links to other pages: {others}"
            page.screenshot(path=str(tmp_path / "read.png"))
            # the whole reading screen (image, label, questions, save) fits 1280×800
            save = page.get_by_role("button", name="Save and next")
            box = save.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 800

            # keyboard answers: Y, 4 (quality), 2 (difficulty), Enter (save and next)
            page.mouse.click(5, 400)  # focus the page, not a widget
            for key in ("y", "4", "2", "Enter"):
                page.keyboard.press(key)
            page.wait_for_function(
                "() => document.body.innerText.includes('1 rated')", timeout=30_000)
            _settled(page)
            saved = db.all_answers()
            assert saved[["reader", "agree", "quality", "difficulty"]].values.tolist() == \
                [["Dr Lee", 1, 4, 2]]
            assert "i=2" in page.url

            # the second reader's link: their own (empty) form, nothing of Dr Lee's
            other = browser.new_page(viewport={"width": 1280, "height": 800})
            other.goto(f"{url}/?r={tokens['Dr Ng']}&form=1")
            other.wait_for_selector('[role="radiogroup"]', timeout=60_000)
            _settled(other)
            body = other.locator("body").inner_text()
            assert "0 rated" in body and "form=2" in other.url
            assert not other.locator('input[type="radio"]:checked').count()

            # a made-up token, and a research page asked of a reading server: refused
            for path in ("/?r=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "/classes"):
                other.goto(url + path)
                _settled(other)
                text = other.locator('[data-testid="stMain"]').inner_text()
                assert "reading link" in text and not other.locator('[role="radiogroup"]').count()
            assert len(db.all_answers()) == 1
        finally:
            browser.close()


def test_a_reopened_form_set_enables_save_without_a_reload(tmp_path):
    """The coordinator closes the form set, the reader's page (loaded while closed) shows
    Save disabled; the coordinator reopens it and the same page, untouched, enables Save."""
    from dashboard.reader_study.reader_ui import REOPEN_POLL_S

    root = tmp_path / "studies"
    _, db, tokens = reading_study(root / "tiny")
    token = tokens["Dr Lee"]
    db.set_status(1, "closed")
    with serve([root], log_path=tmp_path / "streamlit.log", app_args=["--reader-only"]) as url, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/?r={token}")
            page.wait_for_selector('[role="radiogroup"]', timeout=60_000)
            _settled(page)
            save = page.get_by_role("button", name="Save and next")
            assert save.is_disabled()
            db.set_status(1, "open")
            page.wait_for_function(
                "() => [...document.querySelectorAll('button')].some(b => "
                "b.innerText.includes('Save and next') && !b.disabled)",
                timeout=int((REOPEN_POLL_S * 3 + 20) * 1000))
            assert "closed this form" not in page.inner_text("body")
        finally:
            browser.close()
