"""How long the paper check takes to appear after the page's first render (issue 19: ≤ 0.5 s).

    python benchmarks/bench_paper_section.py [--trials 10] [--no-write]

The real app on the demo study, in headless Chromium, warm server, one new tab per trial.
An init script polls every animation frame from the navigation on and records, in page
time (performance.now(), zero = navigation start):
- first render: the page's title (h1) is on screen;
- paper check drawn: on the Paper check page, its answer table (finding, verdict, value,
  interval, paper's value) is on screen; on Overview, its paper-check sentence ("… of the
  paper's N findings …"), and separately the link to the Paper check page;
- last pixel: the script run is over and every chart and image is drawn (page_drawn).
The goal's number is "paper check drawn − first render". Navigation start → first render
is Streamlit's and the page's own start-up, reported beside it.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from page_drawn import page_drawn  # noqa: E402
from results_md import append_to_section  # noqa: E402

SECTION = "## Paper check: time to appear after the page's first render"
DEMO = ROOT / "artifacts" / "demo"

# Records the first frame at which each condition held (window.__pc_marks).
MARKS = """(() => {
  const marks = {};
  window.__pc_marks = marks;
  const visible = (el) => el && el.offsetParent !== null;
  const tick = () => {
    const now = performance.now();
    const h1 = document.querySelector('h1');
    if (!marks.first && visible(h1) && h1.textContent.trim()) marks.first = now;
    if (!marks.table) {   // the answer table: finding, verdict, value, interval, paper
      const t = document.querySelector('[data-testid="stMarkdownContainer"] table');
      if (visible(t) && /F7/.test(t.textContent)) marks.table = now;
    }
    if (!marks.sentence) {
      const md = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')];
      if (md.some(m => visible(m) && /of the paper's \\d+ findings/.test(m.textContent)))
        marks.sentence = now;
    }
    if (!marks.link) {
      if ([...document.querySelectorAll('a')].some(
            a => visible(a) && a.textContent.includes('Paper check: each finding')))
        marks.link = now;
    }
    if (!(marks.first && marks.table && marks.sentence && marks.link))
      requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""

PAGES = {"Paper check page (its answer table)": ("paper_check", "table"),
         "Overview (its paper-check sentence)": ("", "sentence"),
         "Overview (the link to the Paper check page)": ("", "link")}


def _trial(ctx, url: str, which: str) -> tuple[float, float, float]:
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function(page_drawn(f"if (!(window.__pc_marks || {{}}).{which}) return false;"),
                           polling="raf", timeout=120_000)
    done = page.evaluate("() => performance.now()")
    m = page.evaluate("() => window.__pc_marks")
    page.close()
    return m["first"] / 1000, m[which] / 1000, done / 1000


def _stats(xs):
    return statistics.median(xs), max(xs)


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    rows = []
    with serve([DEMO.parent]) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.add_init_script(MARKS)
        for label, (path, which) in PAGES.items():
            url = f"{base}/{path}?study={DEMO.name}"
            _trial(ctx, url, which)   # warm-up: the page's caches
            t = [_trial(ctx, url, which) for _ in range(args.trials)]
            gap = [b - a for a, b, _ in t]
            rows.append((label, _stats([a for a, _, _ in t]), _stats(gap),
                         _stats([c for _, _, c in t]), len(t)))
        browser.close()
    load1 = os.getloadavg()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"### {when} · {platform.machine()} {os.cpu_count()}-core CPU · load "
             f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} before, "
             f"{load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} after · demo study, warm server, "
             "new tab per trial, 1280×800", "",
             "| page | navigation → first render (median / max) | first render → paper check "
             "drawn (median / max) | navigation → last pixel (median / max) | trials | "
             "goal ≤ 0.5 s after first render |",
             "|---|---|---|---|---|---|"]
    for label, first, gap, done, n in rows:
        lines.append(f"| {label} | {first[0]:.3f} / {first[1]:.3f} s | {gap[0]:.3f} / "
                     f"{gap[1]:.3f} s | {done[0]:.3f} / {done[1]:.3f} s | {n} | "
                     f"{'met' if gap[0] <= 0.5 else 'not met'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        append_to_section(SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
