"""First page on a just-started server, in headless Chromium: `streamlit run` vs the warm start.

    python benchmarks/bench_cold_start.py                    # 3 fresh servers per variant
    python benchmarks/bench_cold_start.py --trials 1 --no-write

For each trial a fresh server is started (a copy of the demo study with a reader database, one
form set and one reader), and as soon as it answers /_stcore/health a new Chromium tab opens:
- reader: the reader's link on a `--reader-only` server, until the reading screen is drawn
  (three questions, the Save button, the image painted by the viewer);
- browse: the Browse page on a normal server, until the script is idle, every chart and
  image is drawn and the viewer has painted.
A second tab then opens the same page on that server (the floor: no start-up cost left).
The time is the page's own clock (performance.now(), from navigation start), so neither
playwright's polling nor the server's start-up is in it; how long the start-up itself took
(until /_stcore/health answered) is recorded beside it. "plain" is
`streamlit run dashboard/app.py`; "warm" is `python -m dashboard.serve` (dashboard/warm.py).
The machine is shared by eight engineers: the load average is recorded before and after.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from page_drawn import page_drawn  # noqa: E402
from results_md import append_to_section  # noqa: E402

SECTION = "## Cold start: first page on a fresh server (Chromium)"

READER_DRAWN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelectorAll('[role="radiogroup"]').length < 3) return false;
  if (![...document.querySelectorAll('button')].some(b => b.innerText.includes('Save')))
    return false;
  if (document.querySelector('.plv') && !window.__plv_drawn) return false;
  if (![...document.images].every(i => i.complete)) return false;
  return true;
}"""

BROWSE_DRAWN = page_drawn(
    "if (document.querySelector('.plv') && !window.__plv_drawn) return false;")


def reader_study(tmp: Path) -> tuple[Path, str]:
    """A copy of the demo with one form set and one reader; (root, the reader's token)."""
    from core.reader import FormSpec, ReaderDB, forms_from_study

    root = tmp / "studies"
    study = root / "demo"
    shutil.copytree(ROOT / "artifacts" / "demo", study)
    db = ReaderDB.for_study(study)
    plan = forms_from_study(study, FormSpec("l1_global", 90, n_pie=5, n_non_pie=5))
    db.add_form_set(plan.spec_record(), plan.forms)
    reader, token = db.add_reader("Bench Reader")
    db.assign(reader.reader_id, int(db.forms()["form_id"].iloc[0]))
    return root, token


def one(pw, root: Path, token: str, kind: str, warm: bool, log: Path) -> dict:
    from tools.screenshots import CHROMIUM, CHROMIUM_ARGS, serve

    app_args = ["--reader-only"] if kind == "reader" else []
    t0 = time.perf_counter()
    with serve([root], timeout=300, log_path=log, app_args=app_args, warm=warm) as url:
        started = time.perf_counter() - t0
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            target = f"{url}/?r={token}" if kind == "reader" else f"{url}/browse?study=demo"
            page.goto(target, timeout=300_000)
            page.wait_for_function(READER_DRAWN if kind == "reader" else BROWSE_DRAWN,
                                   polling="raf", timeout=300_000)
            first = page.evaluate("() => performance.now()") / 1000
            # the floor: the same page in a second tab of this now-warm server (browser,
            # network and script time without any start-up cost)
            again = browser.new_page(viewport={"width": 1280, "height": 800})
            again.goto(target, timeout=300_000)
            again.wait_for_function(READER_DRAWN if kind == "reader" else BROWSE_DRAWN,
                                    polling="raf", timeout=300_000)
            second = again.evaluate("() => performance.now()") / 1000
        finally:
            browser.close()
    return {"first_page_s": first, "second_tab_s": second, "server_start_s": started}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--kinds", nargs="+", default=["reader", "browse"],
                    choices=["reader", "browse"])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    res: dict = {"load_before": os.getloadavg(), "trials": args.trials}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        root, token = reader_study(Path(tmp))
        for kind in args.kinds:
            for trial in range(args.trials):
                for warm in (False, True):   # alternate, so drift hits both alike
                    name = f"{kind} {'warm' if warm else 'plain'}"
                    r = one(pw, root, token, kind, warm, Path(tmp) / f"{kind}{warm}.log")
                    res.setdefault(name, []).append(r)
                    print(name, trial, json.dumps(r), flush=True)
    res["load_after"] = os.getloadavg()
    if not args.no_write:
        append_to_section(SECTION, _markdown(res, args))
    return res


def _markdown(res: dict, args) -> str:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"{when}, {platform.node()} ({os.cpu_count()} CPU cores, shared by eight "
             f"engineers working at once), load average before "
             f"{res['load_before'][0]:.1f} / after {res['load_after'][0]:.1f}. "
             f"`python benchmarks/bench_cold_start.py --trials {args.trials}`: each trial a "
             "fresh server, first page timed in the page from navigation start.", "",
             "| first page on a fresh server | median | max | trials | second tab, same "
             "server (median) | server start (median) | goal |",
             "|---|---|---|---|---|---|---|"]
    for name, rows in res.items():
        if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
            continue
        first = [r["first_page_s"] for r in rows]
        start = [r["server_start_s"] for r in rows]
        second = [r["second_tab_s"] for r in rows]
        lines.append(f"| {name} | {statistics.median(first):.2f} s | {max(first):.2f} s | "
                     f"{len(rows)} | {statistics.median(second):.2f} s | "
                     f"{statistics.median(start):.1f} s | ≤ 3 s |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
