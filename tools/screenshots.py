"""Screenshots of every page from the real app in headless Chromium (README, e2e test).

    python -m tools.screenshots --roots artifacts --study demo --out docs/img
    python -m tools.screenshots --study demo --pages browse --width 1280 --height 800 \
        --viewport --suffix _1280x800        # what a user sees first, at a laptop's size

Starts `streamlit run dashboard/app.py` on a free port, opens each page with playwright
driving the system Chromium (never a downloaded browser), waits until the script has
finished and the charts are drawn, and saves `<out>/<page>.png`.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# url path → file name; "" is the default page (Overview)
PAGES = {"": "overview", "classes": "classes", "forgettability": "forgettability",
         "browse": "browse", "pies": "pies", "paper_check": "paper_check",
         "frequency_experiment": "frequency_experiment"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(roots: Sequence[str | os.PathLike], port: int | None = None,
          timeout: float = 60, log_path: Path | None = None,
          app_args: Sequence[str] = (), repo: Path = REPO,
          warm: bool = False) -> Iterator[str]:
    """Run the app in a subprocess; yields its base URL once /_stcore/health answers.
    `app_args` go to app.py after the roots (e.g. `--reader-only`); `repo`: the checkout
    whose app runs (another one to compare versions, benchmarks/bench_browser_ab.py)."""
    port = port or free_port()
    # Everything else (no usage statistics, viewer toolbar, headless) comes from the
    # repository's .streamlit/config.toml, read from the working directory as for a user.
    # warm: started as `python -m dashboard.serve` (imports and caches before it listens).
    head = ([sys.executable, "-m", "dashboard.serve"] if warm else
            [sys.executable, "-m", "streamlit", "run", str(repo / "dashboard" / "app.py")])
    cmd = [*head, "--server.port", str(port), "--server.address", "127.0.0.1",
           "--server.fileWatcherType", "none", "--", "--roots", *map(str, roots), *app_args]
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    env = {**os.environ, "PRUNELENS_STUDY_ROOTS": ""}
    proc = subprocess.Popen(cmd, cwd=repo, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            log.close()


def wait_rendered(page, timeout_ms: int = 60_000) -> None:
    """Until the script run is over and every chart has drawn (Vega renders after it)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout_ms)
    page.wait_for_selector("h1", timeout=timeout_ms)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                 .filter(c => c.offsetParent !== null)   // charts in hidden tabs wait
                 .every(c => c.querySelector('canvas, svg'))""", timeout=timeout_ms)
    # Browse PIEs draws in the browser after the run: its components mark the last pixel
    # (the viewer's __plv_full: the image and, where there are any, the Grad-CAM overlays)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stMain"] *') ||
                 [...document.querySelectorAll('*')].map(e => e.shadowRoot).filter(r => r)
                   .every(r => (!r.querySelector('.plv') || window.__plv_full)
                            && (!r.querySelector('.plg') || window.__plg_drawn))""",
        timeout=timeout_ms)
    page.wait_for_timeout(800)   # images and chart animations settle


def shoot(url: str, out: Path, query: str = "", pages: dict[str, str] = PAGES,
          width: int = 1500, height: int = 1000, full_page: bool = True) -> dict[str, Path]:
    """Screenshot each page; returns {name: png path}. Raises if Chromium is absent."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    shots = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            for path, name in pages.items():
                page.goto(f"{url}/{path}{'?' + query if query else ''}")
                wait_rendered(page)
                if full_page:
                    # Streamlit scrolls inside its main container, not the document, so a
                    # "full page" shot needs a viewport as tall as that container's content.
                    tall = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
                        '[data-testid="stMain"], [data-testid="stSidebarContent"]')]
                        .map(e => e.scrollHeight))""")
                    page.set_viewport_size({"width": width, "height": min(max(height, tall + 40),
                                                                          8000)})
                    wait_rendered(page)
                target = out / f"{name}.png"
                page.screenshot(path=str(target))
                page.set_viewport_size({"width": width, "height": height})
                shots[name] = target
        finally:
            browser.close()
    return shots


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--roots", nargs="+", default=[str(REPO / "artifacts")])
    p.add_argument("--study", default="", help="study name or folder to open")
    p.add_argument("--query", default="", help="extra URL query, e.g. 'k=95&pie_method=random'")
    p.add_argument("--out", default=str(REPO / "docs" / "img"))
    p.add_argument("--width", type=int, default=1500)
    p.add_argument("--height", type=int, default=1000)
    p.add_argument("--viewport", action="store_true",
                   help="only what fits the window (what a user sees first), not the whole page")
    p.add_argument("--suffix", default="", help="added to each file name, e.g. _1280")
    p.add_argument("--port", type=int, default=None, help="default: a free port")
    p.add_argument("--pages", nargs="+", choices=list(PAGES.values()),
                   default=list(PAGES.values()))
    args = p.parse_args(argv)
    pages = {path: name + args.suffix for path, name in PAGES.items() if name in args.pages}
    query = "&".join(q for q in (f"study={args.study}" if args.study else "", args.query) if q)
    with serve(args.roots, port=args.port) as url:
        for name, path in shoot(url, Path(args.out), query, pages, width=args.width,
                                height=args.height, full_page=not args.viewport).items():
            print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
