"""The reading room's speed goals, measured from the navigation or the key event itself
(part `viewer` of benchmarks/bench_browser.py; also runnable alone):

    python benchmarks/bench_viewer.py --trials 10            # appends to RESULTS.md
    python benchmarks/bench_viewer.py --trials 3 --no-write  # smoke run

Start events (never an in-page mark set later):
- first image painted / whole page: navigation start of a new tab (time 0 of the page's
  `performance.now()`, its time origin), on a warm server (one tab loaded first);
  "first image" = both panes' grey image painted (`window.__plv_first`), "whole page" = the
  script run over, every chart and <img> drawn, the gallery's thumbnails decoded and both
  panes' Grad-CAM overlays painted (`__plv_full`), timed in the page on each frame;
- next image: the `keydown` event of → (its `event.timeStamp`), to both panes of the next
  image painted with their overlays; at reading pace (1 s per image, the prefetcher on);
  and to the end of the server's reply drawn (the words and rank table under the panes:
  the panes themselves are drawn from the image sent ahead, before that reply);
- window/level and zoom per move: the `input` event of the W slider, or a `wheel` event on
  a pane (event → its handler's end = the script's work, and event → the next animation
  frame's callback, which also holds up to one frame of waiting for that frame), on the demo
  (512²) and on a 1024² CSV study of the two real radiographs upsampled;
- Streamlit's floor: the same "first paint" measurement on an app whose page is one title,
  served the same way, in the same run.
"""
from __future__ import annotations

import contextlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from page_drawn import page_drawn  # noqa: E402

# When the whole page is drawn: the script's run is over, charts and images are drawn, the
# viewer has both panes with overlays and the gallery its thumbnails. Records the time.
PAGE_DONE = page_drawn("if (!(window.__plv_full && window.__plg_drawn)) return false;",
                       mark="__vb_done")

FLOOR_DONE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (!document.querySelector('h1')) return false;
  window.__vb_done = window.__vb_done || performance.now();
  return true;
}"""

# Before a key: timestamps of the app's script-state changes (as bench_browser.py's OBSERVE).
OBSERVE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__vb_states = []; window.__vb_reply = null;
  if (window.__vbObs) window.__vbObs.disconnect();
  window.__vbObs = new MutationObserver(() => window.__vb_states.push(
    [app.getAttribute('data-test-script-state'), performance.now()]));
  window.__vbObs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
# The rerun the key caused is over and drawn (records the time once).
REPLY_DONE = page_drawn(
    "if (!window.__vb_states.some(([s, t]) => s === 'running' && t >= window.__pl_t0)) "
    "return false;", mark="__vb_reply")

# One move: set the W slider (or wheel on the first pane) and time the handler and the frame.
MOVE = """([kind, i]) => new Promise((res) => {
  const r = [...document.querySelectorAll('*')].map(e => e.shadowRoot)
    .find(r => r && r.querySelector('.plv'));
  let ev, target;
  if (kind === 'wl') {
    target = r.querySelector('input.wid'); target.value = 150 + (i % 2) * 60;
    ev = new Event('input', {bubbles: true});
  } else {
    target = r.querySelector('.pane .box');
    ev = new WheelEvent('wheel', {deltaY: i % 2 ? 100 : -100, bubbles: true,
                                  cancelable: true});
  }
  const t0 = ev.timeStamp;
  target.dispatchEvent(ev);
  const t1 = performance.now();
  requestAnimationFrame(() => res([t1 - t0, performance.now() - t0]));
})"""

APP_FLOOR = '''import streamlit as st

st.title("Empty page")
'''


def _stats(xs: list[float]) -> dict:
    return {"n": len(xs), "median": statistics.median(xs), "max": max(xs)} if xs else {}


@contextlib.contextmanager
def floor_repo():
    """A checkout-shaped folder whose dashboard/app.py is one title (Streamlit's own cost)."""
    tmp = Path(tempfile.mkdtemp(prefix="prunelens-floor-"))
    try:
        (tmp / "dashboard").mkdir()
        (tmp / "dashboard" / "app.py").write_text(APP_FLOOR)
        shutil.copytree(ROOT / ".streamlit", tmp / ".streamlit")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def real_1024_root():
    """A root holding `real1024`: the CSV study of the two real radiographs, their files
    upsampled to 1024² (the goal's image size for a window/level or zoom move)."""
    import numpy as np
    from PIL import Image

    from tests.dashboard.fixture_study import REAL_CXR, REAL_FILES, make_real_csv_study

    tmp = Path(tempfile.mkdtemp(prefix="prunelens-1024-"))
    try:
        images = tmp / "images"
        images.mkdir()
        for name in REAL_FILES:
            img = Image.open(REAL_CXR / name).convert("L").resize((1024, 1024),
                                                                   Image.BICUBIC)
            Image.fromarray(np.asarray(img)).save(images / name)
        (tmp / "root").mkdir()
        make_real_csv_study(tmp / "root" / "real1024", image_root=images, n_images=12)
        yield tmp / "root"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _new_tab(ctx, url: str, done: str, timeout: int = 180_000) -> tuple[dict, object]:
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function(done, polling="raf", timeout=timeout)
    t = page.evaluate("""() => ({done: window.__vb_done,
      first: window.__plv_first ? window.__plv_first.t : null})""")
    return t, page


def first_paint(ctx, url: str, trials: int) -> dict:
    """New tabs on a warm server: navigation → first image, → whole page (seconds)."""
    _, p = _new_tab(ctx, url, PAGE_DONE)      # warms the server for this page
    p.close()
    first, whole = [], []
    for _ in range(trials):
        t, p = _new_tab(ctx, url, PAGE_DONE)
        first.append(t["first"] / 1000)
        whole.append(t["done"] / 1000)
        p.close()
    return {"first image painted (navigation → both panes' image)": _stats(first),
            "whole page (navigation → overlays, rank table, gallery drawn)": _stats(whole)}


def floor(ctx, url: str, trials: int) -> dict:
    _, p = _new_tab(ctx, url, FLOOR_DONE)
    p.close()
    xs = []
    for _ in range(trials):
        t, p = _new_tab(ctx, url, FLOOR_DONE)
        xs.append(t["done"] / 1000)
        p.close()
    return {"Streamlit's floor: an empty page (navigation → its title drawn)": _stats(xs)}


def next_image(ctx, url: str, trials: int) -> dict:
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function(PAGE_DONE, polling="raf", timeout=180_000)
    xs, rest = [], []
    for _ in range(trials):
        page.wait_for_timeout(1000)             # reading pace: the prefetcher has a second
        old = page.evaluate("() => window.__plv_full.token")
        page.evaluate(OBSERVE)
        page.keyboard.press("ArrowRight")
        page.wait_for_function("(old) => window.__plv_full && window.__plv_full.token !== old",
                               arg=old, polling="raf", timeout=180_000)
        xs.append(page.evaluate("() => window.__plv_full.t - window.__pl_t0") / 1000)
        # the panes come from the image sent ahead; the words and rank table under them
        # come with the server's reply: timed too, to the end of that run's drawing
        page.wait_for_function(REPLY_DONE, polling="raf", timeout=180_000)
        rest.append(page.evaluate("() => window.__vb_reply - window.__pl_t0") / 1000)
    page.close()
    return {"next image (→ keydown → both panes with overlays)": _stats(xs),
            "next image: the rest of the room (→ keydown → the server's reply drawn: words, "
            "rank table)": _stats(rest)}


def moves(ctx, url: str, trials: int, label: str) -> dict:
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function("() => window.__plv_full", polling="raf", timeout=180_000)
    size = page.evaluate("() => [window.__plv.D.w, window.__plv.D.h]")
    out = {}
    for kind, name in (("wl", "window/level"), ("zoom", "zoom (wheel)")):
        work, frame = [], []
        for i in range(max(trials, 20)):
            a, b = page.evaluate(MOVE, [kind, i])
            work.append(a / 1000)
            frame.append(b / 1000)
        tag = f"{name} per move, {label} {size[0]}×{size[1]}, both panes"
        out[f"{tag}: event → handler done"] = _stats(work)
        out[f"{tag}: event → next frame"] = _stats(frame)
    page.close()
    return out


def run(trials: int, pw, port: int | None = None) -> dict:
    """Every measurement of this file; one server per app, all in this run."""
    from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve

    out: dict = {}
    b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        with real_1024_root() as big, \
                serve([ROOT / "artifacts", big], port=port, timeout=180) as url:
            browse = f"{url}/browse?study=demo"
            out.update(first_paint(ctx, browse, trials))
            out.update(next_image(ctx, browse, trials))
            out.update(moves(ctx, browse, trials, "demo"))
            out.update(moves(ctx, f"{url}/browse?study=real1024&show=all", trials,
                             "real radiograph"))
        with floor_repo() as repo, serve([], timeout=120, repo=repo) as url:
            out.update(floor(ctx, url, trials))
    finally:
        b.close()
    return out


GOALS = {"first image": "≤ 1.0 s", "whole page": "≤ 2.0 s", "next image": "≤ 0.3 s",
         "per move": "≤ 16 ms"}


def markdown(res: dict) -> list[str]:
    rows = []
    for k, s in res.items():
        if not isinstance(s, dict) or not s:
            continue
        goal = next((v for g, v in GOALS.items() if g in k), "")
        ms = "per move" in k
        f = (lambda x: f"{x * 1000:.1f} ms") if ms else (lambda x: f"{x:.3f} s")
        rows.append(f"| {k} | {f(s['median'])} | {f(s['max'])} | {s['n']} | {goal} |")
    return rows


def main(argv=None) -> dict:
    import argparse
    import datetime as dt
    import json
    import os
    import platform

    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results_md import append_to_section

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    with sync_playwright() as pw:
        res = run(args.trials, pw)
    load1 = os.getloadavg()
    print(json.dumps(res, indent=1))
    if not args.no_write:
        la = " ".join(f"{x:.1f}" for x in load0)
        lb = " ".join(f"{x:.1f}" for x in load1)
        append_to_section(
            "## Browser (Chromium, click to last pixel)",
            f"\n### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · reading room, "
            f"two panes · {platform.machine()} CPU, 2 cores (load average {la} before, "
            f"{lb} after: other jobs on the machine show there), "
            "headless Chromium 1280×800, warm server\n\n"
            f"`python benchmarks/bench_viewer.py --trials {args.trials}` "
            "(= `bench_browser.py --parts viewer`). Start: the navigation of a new tab, or "
            "the key / input / wheel event itself (`event.timeStamp`); end: the last pixel "
            "(see the script's docstring).\n\n"
            "| measurement | median | max | trials | goal |\n|---|---|---|---|---|\n"
            + "\n".join(markdown(res)) + "\n")
    return res


if __name__ == "__main__":
    main()
