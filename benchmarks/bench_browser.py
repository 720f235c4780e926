"""Page speed as a user sees it: the real app in headless Chromium, from the click (or key, or
page load) to the last pixel drawn, on the demo study.

    python benchmarks/bench_browser.py                  # ≥ 10 trials per measurement
    python benchmarks/bench_browser.py --trials 3 --no-write   # smoke run
    python benchmarks/bench_browser.py --parts viewer   # the reading room's goals, timed
        from the navigation or key event itself, with Streamlit's floor (bench_viewer.py)

`streamlit run dashboard/app.py` is started on a free port (several people benchmark on this
machine at once: a fixed port could time someone else's server) and driven
with playwright over Debian's chromium. What "done" means:
- a Streamlit rerun: the app's script state went `running` → `notRunning` after the action
  (a MutationObserver in the page timestamps it), every Vega chart has drawn its canvas/svg
  and every <img> is decoded; the time is taken in the page (performance.now()), so
  playwright's polling adds nothing but the frame it polls on (requestAnimationFrame);
- the Browse viewer: the viewer component's `window.__plv_drawn` carries the new image's
  token (it is set after the last canvas is painted), the gallery's `window.__plg_drawn`
  after every thumbnail has decoded, and the rerun is over;
- window/level: from the slider's input event to the end of the next animation frame.

Cold and warm:
- first render, cold: the first page load of a fresh server (Browse: imports, study
  verification, models), then every other page's first visit on that server (its tables and
  charts not yet cached); `--restarts` fresh servers (each costs tens of seconds on 2 cores);
- first render, warm: a new browser tab on the warm server (new session, caches warm);
- next image, cold: previous/next to images never shown, prefetch off (PRUNELENS_PREFETCH=0),
  so the display image and both Grad-CAMs are computed on the click; warm: next at reading
  pace (1 s on each image) with the prefetcher on, which is how the page is used;
  cached: stepping back over images already shown;
- gallery page: cold = a page of thumbnails not yet made, warm = a page seen before.
The machine is shared (other engineers' tests and benchmarks): the load average is recorded.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from page_drawn import page_drawn  # noqa: E402
from results_md import append_to_section  # noqa: E402

SECTION = "## Browser (Chromium, click to last pixel)"
PORT = None   # tools.screenshots.serve picks a free port

# Installed before an action: timestamps of the app's script-state changes.
OBSERVE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__bb = {states: []};
  if (window.__bbObs) window.__bbObs.disconnect();
  window.__bbObs = new MutationObserver(() => window.__bb.states.push(
    [app.getAttribute('data-test-script-state'), performance.now()]));
  window.__bbObs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# True (and records the time) when a rerun started after t0 has finished and drawn.
RERUN_DONE = """([t0, needViewer, oldToken, needGallery, oldGallery]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const st = (window.__bb || {states: []}).states;
  const ran = st.some(([s, t]) => s === 'running' && t >= t0);
  if (!ran && !needViewer && !needGallery) return false;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
    .filter(c => c.offsetParent !== null);
  if (!charts.every(c => c.querySelector('canvas, svg'))) return false;
  if (![...document.images].every(i => i.complete)) return false;
  if (needViewer && !(window.__plv_drawn && window.__plv_drawn.token !== oldToken
                      && window.__plv_drawn.t >= t0)) return false;
  if (needGallery && !(window.__plg_drawn && window.__plg_drawn.token !== oldGallery
                       && window.__plg_drawn.t >= t0)) return false;
  window.__bb_done = performance.now();
  return true;
}"""

LOADED = page_drawn()

# The Browse viewer's last pixel: since the two-pane viewer, the image and both panes'
# overlays (`__plv_full`); an older checkout (bench_browser_ab.py) marks `__plv_drawn` only,
# after image and overlays alike.
VIEWER_DONE = """() => (window.__plv_full || (window.__plv_drawn && !window.__plv_first))
                      && window.__plg_drawn"""

PAGES = {"overview": "", "classes": "classes", "forgettability": "forgettability",
         "pies": "pies", "who is hurt": "who_is_hurt", "paper check": "paper_check"}


def _stats(xs: list[float]) -> dict:
    return {"n": len(xs), "median": statistics.median(xs), "max": max(xs)} if xs else {}


def _browser(pw):
    from tools.screenshots import CHROMIUM, CHROMIUM_ARGS

    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _load(ctx, url: str, browse: bool, timeout: int = 120_000) -> float:
    """Open url in a new tab; seconds from navigation start to the last pixel."""
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function(LOADED, polling="raf", timeout=timeout)
    if browse:
        page.wait_for_function(VIEWER_DONE,
                               polling="raf", timeout=timeout)
        # the reading room sends the rest of the page in a second run, once its image is
        # painted: drawn means that run is over too
        page.wait_for_function(LOADED, polling="raf", timeout=timeout)
    t = page.evaluate("() => performance.now()") / 1000
    return t, page


def _act(page, action, viewer=False, gallery=False, timeout=120_000) -> float:
    """Run `action(page)` (which must set window.__pl_t0 in the page, or we set it just
    before) and wait until its rerun is drawn; seconds in page time."""
    old_v = page.evaluate("() => window.__plv_drawn ? window.__plv_drawn.token : null")
    old_g = page.evaluate("() => window.__plg_drawn ? window.__plg_drawn.token : null")
    page.evaluate(OBSERVE)
    page.evaluate("() => { window.__pl_t0 = performance.now(); }")
    action(page)
    t0 = page.evaluate("() => window.__pl_t0")
    page.wait_for_function(RERUN_DONE, arg=[t0, viewer, old_v, gallery, old_g],
                           polling="raf", timeout=timeout)
    return (page.evaluate("() => window.__bb_done") - t0) / 1000


def _viewer_button(page, cls: str):
    page.locator(f"button.{cls}").first.click()


def bench_browse(url: str, trials: int, pw) -> dict:
    out: dict = {}
    b = _browser(pw)
    try:
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        base = f"{url}/browse?study=demo"
        # first render, warm: new tabs on a warm server (first one warms it)
        _, p = _load(ctx, base, True)
        p.close()
        first = []
        for _ in range(trials):
            t, p = _load(ctx, base, True)
            first.append(t)
            p.close()
        out["first render, warm (new tab)"] = _stats(first)
        page = ctx.new_page()
        page.goto(base)
        page.wait_for_function(LOADED, polling="raf", timeout=120_000)
        page.wait_for_function(VIEWER_DONE,
                               polling="raf", timeout=120_000)
        # next image at reading pace (prefetch on where the server has it)
        nxt = []
        for _ in range(trials):
            page.wait_for_timeout(1000)
            nxt.append(_act(page, lambda p: p.keyboard.press("ArrowRight"), viewer=True))
        out["next image (→ key), reading pace"] = _stats(nxt)
        back = []
        for _ in range(trials):
            back.append(_act(page, lambda p: _viewer_button(p, "prev"), viewer=True))
        out["previous image, already shown"] = _stats(back)
        # window/level: input event → end of the next frame
        wl = []
        for i in range(max(trials, 10)):
            ms = page.evaluate("""(v) => new Promise((res) => {
              const root = [...document.querySelectorAll('*')].map(e => e.shadowRoot)
                .find(r => r && r.querySelector('.plv')) || document;
              const s = root.querySelector('input.wid');
              const t0 = performance.now();
              s.value = v; s.dispatchEvent(new Event('input', {bubbles: true}));
              requestAnimationFrame(() => res(performance.now() - t0));
            })""", 120 + (i % 2) * 60)
            wl.append(ms / 1000)
        out["window/level change"] = _stats(wl)
        # gallery pages: cold (not yet made) then warm (back over the same pages)
        cold, warm = [], []
        pages = page.evaluate("""() => {
          const r = [...document.querySelectorAll('*')].map(e => e.shadowRoot)
            .find(r => r && r.querySelector('.plg'));
          return r.querySelector('.info').textContent; }""")
        n_pages = int(pages.rsplit(" of ", 1)[1]) if " of " in pages else 1
        steps = min(trials, n_pages - 1)

        def gal(cls):
            def act(p):
                p.evaluate(f"""() => {{
                  const r = [...document.querySelectorAll('*')].map(e => e.shadowRoot)
                    .find(r => r && r.querySelector('.plg'));
                  r.querySelector('button.{cls}').click(); }}""")
            return act
        for _ in range(steps):
            cold.append(_act(page, gal("fwd"), gallery=True))
        for _ in range(steps):
            warm.append(_act(page, gal("back"), gallery=True))
        out["gallery page, new thumbnails"] = _stats(cold)
        out["gallery page, seen before"] = _stats(warm)
        out["gallery pages available"] = n_pages
    finally:
        b.close()
    return out


def bench_next_cold(url: str, trials: int, pw) -> dict:
    """Previous/next onto images never shown, prefetch off (server started with it off)."""
    b = _browser(pw)
    try:
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"{url}/browse?study=demo&show=all&sort=corr_desc")
        page.wait_for_function(LOADED, polling="raf", timeout=120_000)
        page.wait_for_function(VIEWER_DONE,
                               polling="raf", timeout=120_000)
        xs = [_act(page, lambda p: p.keyboard.press("ArrowRight"), viewer=True)
              for _ in range(trials)]
        return {"next image, never shown, no prefetch": _stats(xs)}
    finally:
        b.close()


def bench_pages(url: str, trials: int, pw, only=None) -> dict:
    out: dict = {}
    b = _browser(pw)
    try:
        ctx = b.new_context(viewport={"width": 1280, "height": 800})
        for name, path in PAGES.items():
            if only and path not in only and name not in only:
                continue
            try:   # one page timing out on a loaded machine must not lose the others
                out.update(_bench_page(ctx, url, name, path, trials))
            except Exception as exc:  # noqa: BLE001
                out.setdefault("_errors", []).append(
                    f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        b.close()
    return out


def _bench_page(ctx, url: str, name: str, path: str, trials: int) -> dict:
    out: dict = {}
    first = []
    _, p = _load(ctx, f"{url}/{path}?study=demo", False)   # warms this page
    p.close()
    for _ in range(trials):
        t, p = _load(ctx, f"{url}/{path}?study=demo", False)
        first.append(t)
        p.close()
    out[f"{name}: first render, warm (new tab)"] = _stats(first)
    page = ctx.new_page()
    page.goto(f"{url}/{path}?study=demo")
    page.wait_for_function(LOADED, polling="raf", timeout=120_000)
    # the sidebar's first slider (Chosen sparsity): click its thumb (just under its
    # value label) to focus it, then ← / → moves it one grid step (one rerun)
    label = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"] '
                         '[data-testid="stSliderThumbValue"]').first
    change = []
    for i in range(trials):
        key = "ArrowLeft" if i % 2 == 0 else "ArrowRight"
        label.scroll_into_view_if_needed()
        box = label.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 12)
        change.append(_act(page, lambda p, key=key: p.keyboard.press(key)))
    out[f"{name}: filter change (chosen sparsity)"] = _stats(change)
    page.close()
    return out


def bench_cold(trials: int, pw, restarts: int) -> dict:
    """Per fresh server: Browse first (the server's very first page: imports, study
    verification, models), then each other page's first visit on that server (its
    loaders and charts not yet cached)."""
    from tools.screenshots import serve

    xs: dict[str, list[float]] = {}
    for _ in range(restarts):
        with serve([ROOT / "artifacts"], port=PORT, timeout=120) as url:
            b = _browser(pw)
            try:
                ctx = b.new_context(viewport={"width": 1280, "height": 800})
                t, p = _load(ctx, f"{url}/browse?study=demo", True, timeout=300_000)
                xs.setdefault("browse: first render, cold (fresh server)", []).append(t)
                p.close()
                for name, path in PAGES.items():
                    t, p = _load(ctx, f"{url}/{path}?study=demo", False, timeout=300_000)
                    xs.setdefault(f"{name}: first render, cold (first visit, after Browse "
                                  "on a fresh server)", []).append(t)
                    p.close()
            finally:
                b.close()
    return {k: _stats(v) for k, v in xs.items()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=3, help="fresh servers for cold renders")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--parts", nargs="+", default=["cold", "browse", "pages", "next-cold"],
                    choices=["cold", "browse", "pages", "next-cold", "viewer"],
                    help="viewer: the reading room's goals from the navigation or key "
                         "event itself, with Streamlit's floor (benchmarks/bench_viewer.py)")
    ap.add_argument("--pages", nargs="+", default=None, metavar="PAGE",
                    help="the 'pages' part for these pages only (url path or name, e.g. "
                         "classes who_is_hurt; '' is Overview); default: all")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tools.screenshots import serve

    if not (ROOT / "artifacts" / "demo" / "manifest.json").is_file():
        raise SystemExit("the demo study (artifacts/demo) is needed")
    res: dict = {"load_before": os.getloadavg()}
    t = time.perf_counter()
    def part(name, fn, *a):
        # one failing part (a timeout on a loaded machine) must not lose the others
        try:
            res.setdefault(name, {}).update(fn(*a))
        except Exception as exc:  # noqa: BLE001
            res.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: "
                                                f"{str(exc).splitlines()[0]}")
        print(json.dumps({name: res.get(name)}, indent=1), flush=True)

    with sync_playwright() as pw:
        if "viewer" in args.parts:
            from bench_viewer import run as viewer_run

            part("viewer", viewer_run, args.trials, pw)
        if "cold" in args.parts:
            part("cold", bench_cold, args.trials, pw, args.restarts)
        if {"browse", "pages"} & set(args.parts):
            with serve([ROOT / "artifacts"], port=PORT, timeout=120) as url:
                if "browse" in args.parts:
                    part("browse", bench_browse, url, args.trials, pw)
                if "pages" in args.parts:
                    part("pages", bench_pages, url, args.trials, pw, args.pages)
        if "next-cold" in args.parts:
            os.environ["PRUNELENS_PREFETCH"] = "0"
            try:
                with serve([ROOT / "artifacts"], port=PORT, timeout=120) as url:
                    part("browse", bench_next_cold, url, args.trials, pw)
            finally:
                del os.environ["PRUNELENS_PREFETCH"]
    res["load_after"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - t
    print(json.dumps(res, indent=2))
    if not args.no_write:
        append_to_section(SECTION, "\n" + _markdown(res, args))
    return res


def _row(name: str, s: dict, target: str = "") -> str:
    return (f"| {name} | {s['median']:.3f} s | {s['max']:.3f} s | {s['n']} | {target} |"
            if s else f"| {name} | — | — | 0 | {target} |")


TARGETS = {"next image": "≤ 0.5 s", "previous image": "≤ 0.5 s", "window/level": "≤ 0.1 s",
           "gallery page": "≤ 1.5 s", "first render": "≤ 2 s", "filter change": "≤ 0.5 s"}


def _target(name: str) -> str:
    return next((v for k, v in TARGETS.items() if k in name), "")


def _markdown(res: dict, args) -> str:
    la = " ".join(f"{x:.1f}" for x in res["load_before"])
    lb = " ".join(f"{x:.1f}" for x in res["load_after"])
    rows = [_row(("browse: " if part == "browse" else "") + k, v, _target(k))
            for part in ("cold", "browse", "pages")
            for k, v in (res.get(part) or {}).items() if isinstance(v, dict)]
    if res.get("viewer"):   # its own goals (issue 20) and units (ms per move)
        from bench_viewer import markdown as viewer_rows

        rows += viewer_rows(res["viewer"])
    errs = res.get("errors", []) + [e for part in ("cold", "browse", "pages")
                                    for e in (res.get(part) or {}).get("_errors", [])]
    errors = "".join(f"\n- not measured: {e}" for e in errs)
    return (f"### {dt.date.today()} · {platform.machine()} CPU (2 cores) shared with other "
            f"engineers' jobs (load average {la} before, {lb} after), headless Chromium "
            f"1280×800, demo study\n\n"
            f"`python benchmarks/bench_browser.py --trials {args.trials} --restarts "
            f"{args.restarts} --parts {' '.join(args.parts)}"
            + (f" --pages {' '.join(args.pages)}" if args.pages else "")
            + f"` ({res['wall_s']:.0f} s). "
            "Times from the action to the last pixel drawn, measured in the page (see the "
            "script's docstring)."
            + (" Rows of the reading room (part `viewer`, benchmarks/bench_viewer.py): start "
               "= the navigation of a new tab (time 0 of the page's clock) or the key / input "
               "/ wheel event itself (its `event.timeStamp`), never an in-page mark set "
               "later. What else ran on the machine is in the load average above."
               if res.get("viewer") else "") + "\n\n"
            "| measurement | median | max | trials | target |\n|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n" + errors + ("\n" if errors else ""))


if __name__ == "__main__":
    main()
