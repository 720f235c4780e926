"""Scale-out with Ray: overhead vs the local executor, fake-GPU placement, paper-scale projection.

    python benchmarks/bench_scale.py                       # all parts → benchmarks/RESULTS.md
    python benchmarks/bench_scale.py --reps 1 --no-write   # smoke run

1. Overhead: the quick demo study (`python -m core demo --quick`: 2 seeds, 600 SynthCXR
   images, smallcnn at 32×32, one torch thread) run in this process with `--executor local`
   and with `--executor ray` on a Ray instance of **one CPU** (the same resources: units one
   after another, one thread each), alternating local/ray/ray/local… so that load drift on a
   shared machine hits both alike. Every study starts from an empty folder (caches, units,
   analysis, manifest). Ray's start-up (`ray.init`) is timed separately. Predictions are
   compared byte for byte with the first local run. Then `python -m core demo --quick
   --executor ray` once as a user runs it (its own local Ray instance), followed by `verify`.
2. Placement: a Ray instance declaring 4 GPUs (and 8 CPUs) on this CPU-only machine, 8 real
   units (the quick demo with 8 seeds, 1 epoch, sparsities 0/50/90/95, `train.device=auto`) at
   `--gpus-per-unit 0.5 --cpus-per-unit 1`; each unit's marker records the GPU ids Ray gave
   it, its device and its start/end times.
3. Projection for a paper-scale study on 1/4/8/32 GPUs from the H100 throughputs measured by
   bench_predict.py (in RESULTS.md) and the per-unit overhead measured in 1.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see core.study.passive_omp_threads
# Nothing leaves the machine; no auth token written to the home folder for a local instance.
for _k, _v in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
               "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}.items():
    os.environ.setdefault(_k, _v)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ray  # noqa: E402
from results_md import append_to_section  # noqa: E402

import core.predict  # noqa: E402, F401  (torch and the pipeline loaded before any timing)
import core.train  # noqa: E402, F401
from core import store  # noqa: E402
from core.demo import demo_config  # noqa: E402
from core.executors.ray_backend import RayExecutor  # noqa: E402
from core.store import StudyPaths  # noqa: E402
from core.study import run_study  # noqa: E402

SECTION = "## Scale-out with Ray"

# Paper scale (PAPER_FACTS / issue 10) and the H100 throughputs of RESULTS.md
# ("Prediction grid and training on CUDA", bench_predict.py --cuda, 2026-11-25).
PAPER = {"seeds": 30, "epochs": 60, "train_images": 78_506, "eval_images": 21_081,
         "methods": 2, "sparsities": 20}
H100_TRAIN_IMG_S = 2832   # ResNet50 256×256, batch 256, AMP bf16, val pass included
H100_GRID_IMG_S = 9234    # prediction grid, l1_global, pruning included, fp16 autocast


def _predictions(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.glob("predictions/*/*.npy"))}


def _quiet_run(cfg, out, executor=None) -> float:
    t0 = time.perf_counter()
    run_study(cfg, out, progress=False, executor=executor)
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- 1. overhead
def overhead(work: Path, reps: int) -> dict:
    cfg = demo_config(quick=True)
    t0 = time.perf_counter()
    ray.init(num_cpus=1, num_gpus=0, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    # the worker process's own start-up (a fresh interpreter importing torch and the
    # pipeline), paid once per worker: timed apart, like ray.init
    warm = RayExecutor(cpus_per_unit=1, progress=False).warm_up(1)
    walls = {"local": [], "ray": []}
    ref = None
    identical = True
    try:
        for i in range(reps):
            for kind in (("local", "ray") if i % 2 == 0 else ("ray", "local")):
                out = work / f"{kind}-{i}"
                ex = RayExecutor(cpus_per_unit=1, progress=False) if kind == "ray" else None
                walls[kind].append(_quiet_run(cfg, out, ex))
                if store.verify(out):
                    raise SystemExit(f"{out}: does not verify")
                preds = _predictions(out)
                ref = ref if ref is not None else preds
                identical &= preds == ref and len(preds) == 4
    finally:
        ray.shutdown()
    # as a user runs it: its own local Ray instance (sized to the machine), then verify
    out = work / "cli"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "core", "demo", "--quick", "--out", str(out),
                          "--executor", "ray", "--no-progress"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    cli_wall = time.perf_counter() - t0
    ver = subprocess.run([sys.executable, "-m", "core", "verify", str(out)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    identical &= _predictions(out) == ref
    return {"startup": startup, "warm": warm, "walls": walls, "identical": identical,
            "cli_wall": cli_wall,
            "cli_rc": run.returncode, "verify": ver.stdout.strip() or ver.stderr.strip(),
            "cli_tail": run.stdout[-2000:] + run.stderr[-2000:]}


# --------------------------------------------------------------------------- 2. placement
def placement(work: Path) -> dict:
    cfg = demo_config(quick=True, overrides=["seeds=[0,1,2,3,4,5,6,7]", "train.epochs=1",
                                             "sparsities=[0,50,90,95]", "train.device=auto"])
    ray.init(num_cpus=8, num_gpus=4, include_dashboard=False, log_to_driver=False)
    out = work / "placement"
    try:
        wall = _quiet_run(cfg, out, RayExecutor(gpus_per_unit=0.5, cpus_per_unit=1,
                                                 progress=False))
    finally:
        ray.shutdown()
    units = []
    for s in cfg.seeds:
        p = store.read_json(StudyPaths(out).unit_done(s))["placement"]
        units.append({"seed": s, "gpu_ids": p["gpu_ids"], "device": p["device"],
                      "start": p["start"], "end": p["end"]})
    t0 = min(u["start"] for u in units)
    peak = {}  # most units running at once per GPU id (checked at every start)
    for u in units:
        for g in u["gpu_ids"]:
            n = sum(g in v["gpu_ids"] and v["start"] <= u["start"] < v["end"] for v in units)
            peak[g] = max(peak.get(g, 0), n)
    return {"wall": wall, "units": units, "t0": t0, "peak": peak,
            "all_saw_ids": all(len(u["gpu_ids"]) == 1 for u in units),
            "all_cpu": all(u["device"] == "cpu" for u in units)}


# --------------------------------------------------------------------------- 3. projection
def projection(per_unit_overhead: float, startup: float) -> list[dict]:
    train = PAPER["epochs"] * PAPER["train_images"] / H100_TRAIN_IMG_S
    grid = PAPER["methods"] * PAPER["sparsities"] * PAPER["eval_images"] / H100_GRID_IMG_S
    unit = train + grid + per_unit_overhead
    rows = []
    for gpus in (1, 4, 8, 32):
        rounds = math.ceil(PAPER["seeds"] / gpus)
        rows.append({"gpus": gpus, "rounds": rounds, "unit_s": unit,
                     "wall_s": rounds * unit + startup,
                     "busy": PAPER["seeds"] / (rounds * gpus)})
    return rows


# --------------------------------------------------------------------------- report
def _hm(s: float) -> str:
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min" if s >= 3600 else \
        f"{s / 60:.1f} min"


def markdown(ov: dict, pl: dict, proj: list[dict]) -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lw, rw = ov["walls"]["local"], ov["walls"]["ray"]
    ml, mr = statistics.median(lw), statistics.median(rw)
    lines = [
        f"### {dt.date.today()} · {platform.machine()} {os.cpu_count()}-core CPU shared with "
        f"other jobs (load avg {load} at the end), Python {platform.python_version()}, "
        f"ray {ray.__version__}",
        "",
        "`python benchmarks/bench_scale.py`. No GPU machine was lent to this session: the "
        "ResNet50 2-seed `--gpus-per-unit 0.5` vs 1.0 comparison on one GPU is not measured.",
        "",
        "**Overhead** — quick demo (2 seeds), whole study from an empty folder, same resources "
        "(local: one process, one thread; Ray: an instance of 1 CPU, `--cpus-per-unit 1`), "
        "alternated in one run:",
        "",
        "| executor | wall per study, each run | median |",
        "|---|---|---:|",
        f"| local | {', '.join(f'{w:.1f} s' for w in lw)} | {ml:.1f} s |",
        f"| ray (start-up excluded) | {', '.join(f'{w:.1f} s' for w in rw)} | {mr:.1f} s |",
        "",
        f"Ray / local (medians): **{mr / ml:.2f}×** (goal ≤ 1.10×). Ray start-up, apart: "
        f"`ray.init` of a local instance {ov['startup']:.1f} s, then its worker process "
        f"starting and importing torch + the pipeline {ov['warm']:.1f} s (once per worker; "
        f"the local runs import them in this process before timing). Predictions "
        "byte-identical to the first local run in every run: "
        f"**{'yes' if ov['identical'] else 'NO'}**. "
        f"`python -m core demo --quick --executor ray` as a user runs it (own Ray instance "
        f"sized to the machine, 2 units in parallel): {ov['cli_wall']:.1f} s including "
        f"start-up, exit {ov['cli_rc']}, then `verify`: {ov['verify']!r}.",
        "",
        "**Placement** — Ray instance declaring 4 GPUs and 8 CPUs on this CPU-only machine; 8 "
        "real units (quick demo, 8 seeds, 1 epoch, sparsities 0/50/90/95, `train.device=auto`) at "
        f"`--gpus-per-unit 0.5 --cpus-per-unit 1`: {pl['wall']:.1f} s. Every unit saw one GPU "
        f"id: **{'yes' if pl['all_saw_ids'] else 'NO'}**; ran on the CPU (no CUDA behind the "
        f"ids): **{'yes' if pl['all_cpu'] else 'NO'}**; most units at once per id: "
        + ", ".join(f"GPU {g}: {n}" for g, n in sorted(pl["peak"].items()))
        + " (limit 2).",
        "",
        "| seed | GPU ids | device | start s | end s |",
        "|---:|---|---|---:|---:|",
    ]
    for u in pl["units"]:
        lines.append(f"| {u['seed']} | {','.join(u['gpu_ids'])} | {u['device']} | "
                     f"{u['start'] - pl['t0']:.1f} | {u['end'] - pl['t0']:.1f} |")
    per_unit = (mr - ml) / 2
    p0 = proj[0]
    lines += [
        "",
        "**Projection, paper scale** (30 seeds ResNet50, 78,506 training images × 60 epochs, "
        "then 2 methods × 20 sparsities × 21,081 test images), one unit per GPU "
        "(`--gpus-per-unit 1`). Rests on: H100 training 2,832 img/s and prediction grid "
        f"9,234 img/s (bench_predict.py --cuda above), so one unit = "
        f"{PAPER['epochs'] * PAPER['train_images'] / H100_TRAIN_IMG_S:,.0f} s training + "
        f"{PAPER['methods'] * PAPER['sparsities'] * PAPER['eval_images'] / H100_GRID_IMG_S:,.0f}"
        f" s grid + {max(per_unit, 0):.1f} s Ray overhead per unit measured above = "
        f"{_hm(p0['unit_s'])}; plus {ov['startup'] + ov['warm']:.0f} s start-up. Assumes all "
        "60 epochs (early stopping only shortens it), each GPU as fast as the measured H100 "
        "alone, and a shared filesystem that keeps up; excludes decoding the image caches "
        "once and the analysis (7.3 s at this scale, above).",
        "",
        "| GPUs | rounds of units | wall (projected) | GPUs busy |",
        "|---:|---:|---:|---:|",
    ]
    for r in proj:
        lines.append(f"| {r['gpus']} | {r['rounds']} | {_hm(r['wall_s'])} | "
                     f"{100 * r['busy']:.0f}% |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2, help="local/ray pairs (default 2)")
    ap.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        ov = overhead(work, args.reps)
        if ov["cli_rc"] != 0:
            print(ov["cli_tail"], file=sys.stderr)
        pl = placement(work)
    ml, mr = statistics.median(ov["walls"]["local"]), statistics.median(ov["walls"]["ray"])
    text = markdown(ov, pl, projection(max((mr - ml) / 2, 0.0), ov["startup"] + ov["warm"]))
    print(text)
    if not args.no_write:
        append_to_section(SECTION, "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
