"""One page's warm first render, two versions of the app side by side: the fair comparison
on a shared machine, where whole runs drift by ±0.4 s from one hour to the next.

    git worktree add /tmp/before <commit>
    python benchmarks/bench_browser_ab.py /tmp/before . --path "browse?study=demo" --trials 14

Each checkout serves its own artifacts/ with its own code (`streamlit run <dir>/dashboard/
app.py`, both servers up for the whole run); every round opens one new tab on each, in
alternating order, and times navigation → last pixel exactly as bench_browser.py does
(its `_load`: the script finished, charts drawn, images decoded, and on Browse the viewer's
and the gallery's last pixel). Two warm-up tabs per server are not counted. Prints the
median, max and min per checkout and the ratio of the medians; writes nothing.

On Browse it also reports the first image painted (`window.__plv_first`, navigation → both
panes' image), and with `--next N` the next image: one tab per checkout, N presses of →
at reading pace (1 s per image), alternating between the checkouts, each timed from the
key's `event.timeStamp` to both panes painted with their overlays (`__plv_full`), as
bench_viewer.py does.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_browser as bb  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repos", nargs=2, type=Path, help="two checkouts (before, after)")
    ap.add_argument("--path", default="browse?study=demo", help="page path and query")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--next", type=int, default=0, metavar="N",
                    help="Browse: also N next-image steps per checkout (→ at reading pace)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tools.screenshots import serve

    browse = args.path.split("?")[0] == "browse"
    repos = [r.resolve() for r in args.repos]
    times: list[list[float]] = [[], []]
    firsts: list[list[float]] = [[], []]
    nexts: list[list[float]] = [[], []]
    with contextlib.ExitStack() as stack, sync_playwright() as pw:
        urls = [stack.enter_context(serve([r / "artifacts"], timeout=120, repo=r))
                for r in repos]
        b = bb._browser(pw)
        try:
            ctx = b.new_context(viewport={"width": 1280, "height": 800})
            for u in urls:
                for _ in range(2):
                    _, page = bb._load(ctx, f"{u}/{args.path}", browse)
                    page.close()
            for i in range(args.trials):
                for j in ((0, 1) if i % 2 == 0 else (1, 0)):
                    t, page = bb._load(ctx, f"{urls[j]}/{args.path}", browse)
                    if browse:
                        firsts[j].append(page.evaluate("() => window.__plv_first.t") / 1000)
                    page.close()
                    times[j].append(t)
            if browse and args.next:
                pages = [bb._load(ctx, f"{u}/{args.path}", True)[1] for u in urls]
                for i in range(args.next):
                    for j in ((0, 1) if i % 2 == 0 else (1, 0)):
                        nexts[j].append(_next(pages[j]))
        finally:
            b.close()
    def stats(t):
        return {"median": statistics.median(t), "max": max(t), "min": min(t), "n": len(t)}

    out = {str(r): stats(t) for r, t in zip(repos, times, strict=True)}
    rows = [("whole page", out)]
    if browse:
        rows.insert(0, ("first image", {str(r): stats(t) for r, t in zip(repos, firsts,
                                                                           strict=True)}))
    if nexts[0]:
        rows.append(("next image", {str(r): stats(t) for r, t in zip(repos, nexts,
                                                                      strict=True)}))
    for what, res in rows:
        for r, s in res.items():
            print(f"{what}: {r}: median {s['median']:.3f} s, max {s['max']:.3f} s, "
                  f"min {s['min']:.3f} s ({s['n']})")
        a, b_ = (res[str(r)]["median"] for r in repos)
        print(f"{what}: after / before (medians): {b_ / a:.2f}")
    print(f"load average {os.getloadavg()}")
    return {what: res for what, res in rows}


def _next(page) -> float:
    """One → at reading pace: seconds from the key event to both panes with overlays."""
    page.wait_for_timeout(1000)
    old = page.evaluate("() => window.__plv_full.token")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(old) => window.__plv_full && window.__plv_full.token !== old",
                           arg=old, polling="raf", timeout=180_000)
    return page.evaluate("() => window.__plv_full.t - window.__pl_t0") / 1000


if __name__ == "__main__":
    main()
