"""Dashboard speed on a paper-scale study: first render of each page, filter changes, memory,
and Grad-CAM of one image (dense + pruned) with the demo model on the CPU.

    python benchmarks/bench_dashboard.py                 # 30 seeds × 20 sparsities × 21,081 × 20
    python benchmarks/bench_dashboard.py --seeds 3 --images 3000 --no-write   # smoke run

The study is made by the analysis benchmark's generator (`bench_analysis.make_study`),
analysed with `core.analysis.analyze_study` and sealed. Pages are driven with Streamlit's
AppTest in a fresh subprocess, so its peak resident memory (ru_maxrss) is the dashboard's:
- first render: the first run of each page in that process (cold caches); the very first
  run also verifies the study (sha256 of every file), reported on its own line;
- filter change: a rerun after changing one value (sidebar filter or page control).
Grad-CAM runs on a SynthCXR demo study with weights (artifacts/demo, else --gradcam-study,
else a `python -m core demo --quick` made here): cold (model load included), warm (another
image, model cached) and a repeat (served from the cache).
Targets (issue 5): first render ≤ 3 s, filter change ≤ 0.5 s, peak ≤ 2 GB, Grad-CAM ≤ 1 s.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STREAMLIT_LOGGER_LEVEL", "error")   # no "no runtime" warnings
sys.path.insert(0, str(ROOT / "benchmarks"))

from results_md import append_to_section  # noqa: E402

SECTION = "## Dashboard"

# Runs in a fresh interpreter: AppTest over the study, timings and peak memory as JSON.
CHILD = r'''
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
os.environ["STREAMLIT_LOGGER_LEVEL"] = "error"
os.environ["PRUNELENS_STUDY_ROOTS"] = {parent!r}
import logging
from streamlit.testing.v1 import AppTest
logging.getLogger("streamlit").setLevel(logging.ERROR)
for _n in ("streamlit.runtime.scriptrunner_utils.script_run_context",
           "streamlit.runtime.caching.cache_data_api"):
    logging.getLogger(_n).setLevel(logging.ERROR)

def timed(fn):
    t = time.perf_counter(); fn(); return time.perf_counter() - t

def rerun(at):                      # see tests/dashboard/test_app.py: rerun()
    at._finished_page_script_hash = ""
    at.run()

def check(at, where):
    if not at.title:
        raise SystemExit(f"{{where}}: nothing rendered")
    if at.exception or at.error:
        problems = [e.value for e in at.exception] + [e.value for e in at.error]
        raise SystemExit(f"{{where}}: {{problems}}")

def set_filter(at, key, value):    # sidebar filters of a page reached by switch_page
    at.session_state[key] = value
    at.session_state["_keep_" + key] = value
    at.run()

out = {{"first": {{}}, "change": {{}}}}
at = AppTest.from_file({app!r}, default_timeout=120)
at.query_params["study"] = {study!r}
out["first"]["overview (incl. verification)"] = timed(at.run); check(at, "overview")
at2 = AppTest.from_file({app!r}, default_timeout=120)
at2.query_params["study"] = {study!r}
out["first"]["overview"] = timed(at2.run); check(at2, "overview 2")
at.sidebar.select_slider(key="f_k").set_value(70)
out["change"]["overview: chosen sparsity"] = timed(lambda: rerun(at)); check(at, "k")
at.sidebar.slider(key="f_seeds").set_value((0, {half}))
out["change"]["overview: seed range"] = timed(lambda: rerun(at)); check(at, "seeds")
at.radio(key="ov_band").set_value("range")
out["change"]["overview: band"] = timed(lambda: rerun(at)); check(at, "band")
for page in ("classes", "forgettability", "pies"):
    a = AppTest.from_file({app!r}, default_timeout=120)
    a.query_params["study"] = {study!r}
    a.run()
    out["first"][page] = timed(lambda: a.switch_page(f"study_pages/{{page}}.py").run())
    check(a, page)
    out["change"][f"{{page}}: chosen sparsity"] = timed(lambda: set_filter(a, "f_k", 80))
    check(a, page + " k")
    out["change"][f"{{page}}: diseases"] = timed(
        lambda: set_filter(a, "f_classes", ["Hernia", "Effusion", "Mass"]))
    check(a, page + " classes")
    if page == "classes":
        a.radio(key="cl_mode").set_value("abs")
        out["change"]["classes: absolute AP"] = timed(a.run)
    if page == "forgettability":
        a.radio(key="fg_variant").set_value("plain")
        out["change"]["forgettability: pair variant"] = timed(a.run)
    if page == "pies":
        a.slider(key="pie_pct").set_value(10.0)
        out["change"]["pies: percentile"] = timed(a.run)
        out["change"]["pies: seed range (PIEs recomputed)"] = timed(
            lambda: set_filter(a, "f_seeds", (0, {half})))
    check(a, page + " page control")
use = resource.getrusage(resource.RUSAGE_SELF)
out["peak_mb"] = use.ru_maxrss / 1024
print("RESULT " + json.dumps(out))
'''


def paper_study(parent: Path, seeds: int, images: int) -> Path:
    from bench_analysis import make_study

    from core import store
    from core.analysis import analyze_study

    root = parent / "paper-scale"
    t = time.perf_counter()
    with store.record_writes() as written:   # seal exactly what was written here
        make_study(root, seeds, images)
        analyze_study(root)
    store.write_manifest(root, written)
    mb = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20
    print(f"study made, analysed and sealed in {time.perf_counter() - t:.0f} s: {seeds} seeds × "
          f"{images:,} images, {mb:.0f} MB on disk", flush=True)
    return root


def run_pages(study: Path) -> dict:
    seeds = sorted(json.loads((study / "study.json").read_text())["seeds"])
    half = seeds[max(len(seeds) // 2 - 1, 0)]      # the seed range filter keeps half the seeds
    code = CHILD.format(root=str(ROOT), parent=str(study.parent), study=study.name, half=half,
                        app=str(ROOT / "dashboard" / "app.py"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"page run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def gradcam_study(arg: str | None, tmp: Path) -> Path:
    for cand in (arg, ROOT / "artifacts" / "demo"):
        if cand and (Path(cand) / "manifest.json").is_file():
            return Path(cand)
    out = tmp / "quick-demo"
    subprocess.run([sys.executable, "-m", "core", "demo", "--quick", "--out", str(out),
                    "--no-progress"], cwd=ROOT, check=True, capture_output=True)
    return out


def run_gradcam(study: Path) -> dict:
    import logging

    import streamlit  # noqa: F401  (its loggers exist once imported)

    # cached loaders used outside a Streamlit server warn "no runtime" on every call
    for name in ("streamlit.runtime.caching.cache_data_api",
                 "streamlit.runtime.caching.cache_resource_api"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from dashboard.common.data import StudyData
    from dashboard.reading_room import browse_loaders as bl

    d = StudyData(study)
    k = 90 if 90 in d.sparsities else d.sparsities[-1]
    method, seed = d.methods[0], d.seeds[0]
    res = {"study": f"{d.name} ({d.model_name}, {d.image_size}×{d.image_size})"}
    t = time.perf_counter()
    import captum.attr  # noqa: F401  (library import, once per server: reported on its own)
    res["import_s"] = time.perf_counter() - t
    t = time.perf_counter()
    # the page's one Grad-CAM path: the seed's model and its pruned copy, kept
    bl.cam_maps(d, (seed,), method, k, 0, 1)
    res["cold_s"] = time.perf_counter() - t
    times = []
    for row in range(1, 31):
        t = time.perf_counter()
        bl.cam_maps(d, (seed,), method, k, row, row % len(d.classes))
        times.append(time.perf_counter() - t)
    res["warm_s"] = sorted(times)[len(times) // 2]
    res["warm_max_s"] = max(times)
    bl.cam_maps(d, (seed,), method, k, 3, 1)
    t = time.perf_counter()
    bl.cam_maps(d, (seed,), method, k, 3, 1)
    res["cached_s"] = time.perf_counter() - t
    return res


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--images", type=int, default=21081)
    ap.add_argument("--gradcam-study", default=None, help="a study with SmallCNN weights")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--tmp", default=None, help="parent folder of the temporary study")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        study = paper_study(Path(tmp), args.seeds, args.images)
        pages = run_pages(study)
        cam = run_gradcam(gradcam_study(args.gradcam_study, Path(tmp)))
    res = {"pages": pages, "gradcam": cam, "load_avg": " ".join(f"{x:.1f}"
                                                                for x in os.getloadavg())}
    print(json.dumps(res, indent=2))
    if not args.no_write:
        append_to_section(SECTION, "\n" + _markdown(res, args))
    return res


def _markdown(res: dict, args) -> str:
    p, c = res["pages"], res["gradcam"]
    first = " · ".join(f"{k} {v:.2f} s" for k, v in p["first"].items())
    worst = max(p["change"].items(), key=lambda kv: kv[1])
    rows = "\n".join(f"| {k} | {v:.2f} s |" for k, v in p["change"].items())
    return (f"### {dt.date.today()} · {platform.machine()} CPU shared with other jobs (load avg "
            f"{res['load_avg']}), Python {platform.python_version()}\n\n"
            f"`python benchmarks/bench_dashboard.py` — study: {args.seeds} seeds × 20 "
            f"sparsities × {args.images:,} images × 20 classes (bench_analysis generator), "
            f"pages driven by AppTest in one fresh process. The generated study has one "
            f"method and no pixels or weights: the PIE viewer there shows predictions only; "
            f"Grad-CAM is timed on the demo study below.\n\n"
            f"- first render (target ≤ 3 s): {first}\n"
            f"- filter change (target ≤ 0.5 s): worst {worst[0]} {worst[1]:.2f} s\n"
            f"- peak memory of the dashboard process (target ≤ 2 GB): {p['peak_mb']:.0f} MB\n"
            f"- Grad-CAM dense + pruned, one image, CPU (target ≤ 1 s), {c['study']}: first "
            f"call {c['cold_s']:.2f} s (model load and its pruned copy; torch/captum import "
            f"{c['import_s']:.1f} s before it, once per server), then median "
            f"{c['warm_s'] * 1000:.0f} ms (max {c['warm_max_s'] * 1000:.0f} ms over 30 images), "
            f"from the cache {c['cached_s'] * 1000:.1f} ms\n\n"
            f"| filter change | time |\n|---|---:|\n{rows}\n")


if __name__ == "__main__":
    main()
