"""End to end: `streamlit run dashboard/app.py` in a subprocess, loaded in headless Chromium
(playwright driving the system browser; nothing is downloaded)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve, wait_rendered

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (installed by .ci/run: apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


def _nonblank(png: Path) -> float:
    from PIL import Image

    px = np.asarray(Image.open(png).convert("L"), dtype=np.float32)
    return float(px.std())


def test_app_renders_in_chromium_and_keeps_filters_across_pages(studies_root, tmp_path):
    with serve([studies_root], log_path=tmp_path / "streamlit.log") as url, \
            sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            # the first request of a fresh server is a deep link (a pasted URL): it must go
            # through app.py, not run the page file alone (why no page folder is named pages/)
            page.goto(f"{url}/classes?study=alpha&k=70")
            wait_rendered(page)
            main = page.locator('[data-testid="stMain"]')
            assert main.locator("h1").first.inner_text() == "Classes"
            assert "Change at 70%" in main.inner_text()
            sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
            assert "PruneLens" in sidebar and "Chosen sparsity" in sidebar
            shot = tmp_path / "classes.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 20_000 and _nonblank(shot) > 10
            # navigate like a user: the sidebar filters stay and still apply
            page.get_by_role("link", name="PIEs", exact=True).click()
            page.wait_for_url("**/pies**")
            wait_rendered(page)
            assert main.locator("h1").first.inner_text().startswith("PIEs")
            assert "k=70" in page.url and "pruned to 70%" in main.inner_text()
            assert "Filters" in page.locator('[data-testid="stSidebar"]').inner_text()
            page.get_by_role("link", name="Overview").click()
            wait_rendered(page)
            assert main.locator("h1").first.inner_text().startswith("Overview · alpha")
            page.screenshot(path=str(tmp_path / "overview.png"))
            assert _nonblank(tmp_path / "overview.png") > 10
        finally:
            browser.close()
