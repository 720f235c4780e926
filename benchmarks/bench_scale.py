"""Scale-out with Ray: overhead vs the local executor, fake-GPU placement, paper-scale projection.

    python benchmarks/bench_scale.py                       # all parts → benchmarks/RESULTS.md
    python benchmarks/bench_scale.py --reps 1 --no-write   # smoke run
    python benchmarks/bench_scale.py --parts overhead --reps 6          # overhead alone, ~5 min
    python benchmarks/bench_scale.py --parts overhead --busy 2 --busy-niceness 5 \
        [--ray-worker-niceness 15]     # on cores made busy the same way every time

1. Overhead: the quick demo study (`python -m core demo --quick`: 2 seeds, 600 SynthCXR
   images, smallcnn at 32×32, one torch thread) run in this process with `--executor local`
   and with `--executor ray` on a Ray instance of **one CPU** (the same resources: units one
   after another, one thread each), alternating local/ray/ray/local… so that load drift on a
   shared machine hits both alike. Every study starts from an empty folder (caches, units,
   analysis, manifest). Ray's start-up is timed separately: `ray.init`, then the worker's
   warm-up (process start + `core.executors.unit.preload`, which this process also runs
   before any timing). Each side reports the time inside its units, the torch thread count
   and the process niceness its units ran at (void when something reniced it). Predictions are
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
import contextlib
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

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see core.omp.passive_omp_threads
# Nothing leaves the machine; no auth token written to the home folder for a local instance.
for _k, _v in {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
               "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}.items():
    os.environ.setdefault(_k, _v)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import ray  # noqa: E402
from results_md import append_to_section  # noqa: E402

import core.analysis.study_analysis  # noqa: E402, F401  (the driver's finalising, both sides)
from core import store  # noqa: E402
from core.demo import demo_config  # noqa: E402
from core.executors import LocalExecutor  # noqa: E402
from core.executors.ray_backend import WORKER_NICENESS, RayExecutor  # noqa: E402
from core.executors.unit import preload  # noqa: E402
from core.store import StudyPaths  # noqa: E402
from core.study.run import run_study  # noqa: E402
from core.study.seed_unit import UNIT_MODULES  # noqa: E402
from core.train import resolve_device  # noqa: E402

SECTION = "## Scale-out with Ray"

# The same modules a Ray worker's warm-up imports (RayExecutor.warm_up), loaded here before
# any timing: neither side pays imports inside its timed runs.
preload(UNIT_MODULES)

# Paper scale (docs/paper_facts.md / issue 10) and the H100 throughputs of RESULTS.md
# ("Prediction grid and training on CUDA", bench_predict.py --cuda, 2026-11-25).
PAPER = {"seeds": 30, "epochs": 60, "train_images": 78_506, "eval_images": 21_081,
         "methods": 2, "sparsities": 20}
H100_TRAIN_IMG_S = 2832   # ResNet50 256×256, batch 256, AMP bf16, val pass included
H100_GRID_IMG_S = 9234    # prediction grid, l1_global, pruning included, fp16 autocast


def _predictions(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.glob("predictions/*/*.npy"))}


class _Recording:
    """An executor that keeps what its units returned (in-unit seconds, torch threads)."""

    def __init__(self, inner):
        self.inner, self.results = inner, {}

    def run(self, units, fn) -> dict:
        self.results = self.inner.run(units, fn)
        return self.results


def _quiet_run(cfg, out, executor=None) -> float:
    t0 = time.perf_counter()
    run_study(cfg, out, progress=False, executor=executor)
    return time.perf_counter() - t0


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


@contextlib.contextmanager
def busy_loops(n: int, niceness: int):
    """`n` processes spinning at `niceness` for the duration of the block: other jobs on a
    shared machine, made the same for every run. Killed (by their own pids) on exit."""
    code = f"import os; os.nice({int(niceness)})\nwhile True: pass"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


# --------------------------------------------------------------------------- 1. overhead
def overhead(work: Path, reps: int, niceness: str | None = None) -> dict:
    cfg = demo_config(quick=True)
    t0 = time.perf_counter()
    ray.init(num_cpus=1, num_gpus=0, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t0
    # the worker process's own start-up (a fresh interpreter importing torch and the
    # pipeline), paid once per worker: timed apart, like ray.init
    # niceness: RAY_worker_niceness for the Ray side (None: the executor's default)
    env = {} if niceness is None else {WORKER_NICENESS: niceness}
    warm = RayExecutor(cpus_per_unit=1, progress=False, env_vars=env).warm_up(1, UNIT_MODULES)
    walls = {"local": [], "ray": []}
    in_units = {"local": [], "ray": []}  # sum over units of the time inside execute_unit
    threads = {"local": set(), "ray": set()}  # torch.get_num_threads() inside each unit
    nice0 = os.nice(0)
    nice = {"local": {nice0}, "ray": set()}  # the process niceness a unit ran at
    ref = None
    identical = True
    try:
        for i in range(reps):
            for kind in (("local", "ray") if i % 2 == 0 else ("ray", "local")):
                out = work / f"{kind}-{i}"
                ex = _Recording(RayExecutor(cpus_per_unit=1, progress=False, env_vars=env)
                                if kind == "ray"
                                else LocalExecutor(resolve_device(cfg.train.device)))
                walls[kind].append(_quiet_run(cfg, out, ex))
                in_units[kind].append(sum(r["seconds"] for r in ex.results.values()))
                threads[kind] |= {r["torch_threads"] for r in ex.results.values()}
                if kind == "ray":
                    nice["ray"] |= {r["placement"]["niceness"] for r in ex.results.values()}
                else:  # checked after each run too: someone may renice a running benchmark
                    nice["local"].add(os.nice(0))
                print(f"{kind} {i}: {walls[kind][-1]:.1f} s, in units "
                      f"{in_units[kind][-1]:.1f} s, load {_load()}", file=sys.stderr)
                if store.verify(out):
                    raise SystemExit(f"{out}: does not verify")
                preds = _predictions(out)
                ref = ref if ref is not None else preds
                identical &= preds == ref and len(preds) == 4
    finally:
        ray.shutdown()
    # Ray puts a worker RAY_worker_niceness steps below its raylet, here this process
    expect_ray = min(19, nice0 + int(env.get(WORKER_NICENESS, 0)))
    reniced = len(nice["local"]) > 1 or nice["ray"] != {expect_ray}
    return {"startup": startup, "warm": warm, "walls": walls, "in_units": in_units,
            "reniced": reniced,
            "threads": threads, "nice": nice, "identical": identical, "ref": ref}


def cli_run(work: Path, ref: dict) -> dict:
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
    return {"identical": _predictions(out) == ref, "cli_wall": cli_wall,
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


def _header(parts, load_before: str) -> list[str]:
    return [
        f"### {dt.date.today()} · {platform.machine()} {os.cpu_count()}-core CPU shared with "
        f"other jobs (load avg {load_before} before, {_load()} after), Python "
        f"{platform.python_version()}, ray {ray.__version__}",
        "",
        f"`python benchmarks/bench_scale.py {' '.join(sys.argv[1:])}`. No GPU machine was lent "
        "to this session: the ResNet50 2-seed `--gpus-per-unit 0.5` vs 1.0 comparison on one "
        "GPU is not measured.",
        ""]


def overhead_md(ov: dict) -> list[str]:
    lw, rw = ov["walls"]["local"], ov["walls"]["ray"]
    ml, mr = statistics.median(lw), statistics.median(rw)
    ul, ur = statistics.median(ov["in_units"]["local"]), statistics.median(ov["in_units"]["ray"])

    def runs(xs):
        return ", ".join(f"{x:.1f} s" for x in xs)

    def thr(kind):
        return ", ".join(str(t) for t in sorted(ov["threads"][kind]))

    def nic(kind):
        return ", ".join(str(t) for t in sorted(ov["nice"][kind]))

    return [
        "**Overhead** — quick demo (2 seeds), whole study from an empty folder, same resources "
        "(local: one process, one thread; Ray: an instance of 1 CPU, `--cpus-per-unit 1`), "
        "alternated in one run"
        + (f", while {ov['busy'][0]} busy-loop process(es) at niceness {ov['busy'][1]} "
           f"competed for the {os.cpu_count()} cores" if ov.get("busy", (0,))[0] else "")
        + ". *In units*: the time inside the units (train + prediction "
        "grid, summed over both seeds); the rest of a run is preparing the caches, scheduling "
        "and finalising.",
        "",
        "| executor | wall per study, each run | median | in units, each run | median | "
        "torch threads in a unit | process niceness of a unit |",
        "|---|---|---:|---|---:|---|---|",
        f"| local | {runs(lw)} | {ml:.1f} s | {runs(ov['in_units']['local'])} | {ul:.1f} s | "
        f"{thr('local')} | {nic('local')} |",
        f"| ray (start-up excluded) | {runs(rw)} | {mr:.1f} s | {runs(ov['in_units']['ray'])} | "
        f"{ur:.1f} s | {thr('ray')} | {nic('ray')} |",
        "",
        *(["**Void: a process of this benchmark was reniced while it ran (niceness column); "
            "the two sides did not run at the priority they started with.**", ""]
          if ov["reniced"] else []),
        f"Ray / local (medians of wall): **{mr / ml:.2f}×** (goal ≤ 1.10×); in units "
        f"{ur / ul:.2f}×. Ray start-up, apart (counted once, not in the walls above): "
        f"`ray.init` of a local instance {ov['startup']:.1f} s, then `RayExecutor.warm_up`: "
        f"its one worker process starting and importing torch + every module a unit uses "
        f"(`core.executors.unit.preload`) {ov['warm']:.1f} s, once per worker, reused by "
        "every unit after. The local side imports the same modules in this process before "
        "timing; anything else a first unit pays (torch's first-call set-up) is inside the "
        "first run of each side. Predictions byte-identical to the first local run in every run: "
        f"**{'yes' if ov['identical'] else 'NO'}**.",
        ""]


def cli_md(cli: dict) -> list[str]:
    return [
        f"`python -m core demo --quick --executor ray` as a user runs it (own Ray instance "
        f"sized to the machine, 2 units in parallel): {cli['cli_wall']:.1f} s including "
        f"start-up, exit {cli['cli_rc']}, then `verify`: {cli['verify']!r}; predictions "
        f"identical to the local run: **{'yes' if cli['identical'] else 'NO'}**.",
        ""]


def placement_md(pl: dict) -> list[str]:
    lines = [
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
    return lines + [""]


def projection_md(ov: dict) -> list[str]:
    ml, mr = statistics.median(ov["walls"]["local"]), statistics.median(ov["walls"]["ray"])
    per_unit = max((mr - ml) / 2, 0.0)
    proj = projection(per_unit, ov["startup"] + ov["warm"])
    lines = [
        "**Projection, paper scale** (30 seeds ResNet50, 78,506 training images × 60 epochs, "
        "then 2 methods × 20 sparsities × 21,081 test images), one unit per GPU "
        "(`--gpus-per-unit 1`). Rests on: H100 training 2,832 img/s and prediction grid "
        f"9,234 img/s (bench_predict.py --cuda above), so one unit = "
        f"{PAPER['epochs'] * PAPER['train_images'] / H100_TRAIN_IMG_S:,.0f} s training + "
        f"{PAPER['methods'] * PAPER['sparsities'] * PAPER['eval_images'] / H100_GRID_IMG_S:,.0f}"
        f" s grid + {per_unit:.1f} s Ray overhead per unit measured above = "
        f"{_hm(proj[0]['unit_s'])}; plus {ov['startup'] + ov['warm']:.0f} s start-up. Assumes "
        "all 60 epochs (early stopping only shortens it), each GPU as fast as the measured H100 "
        "alone, and a shared filesystem that keeps up; excludes decoding the image caches "
        "once and the analysis (7.3 s at this scale, above).",
        "",
        "| GPUs | rounds of units | wall (projected) | GPUs busy |",
        "|---:|---:|---:|---:|",
    ]
    for r in proj:
        lines.append(f"| {r['gpus']} | {r['rounds']} | {_hm(r['wall_s'])} | "
                     f"{100 * r['busy']:.0f}% |")
    return lines + [""]


PARTS = ("overhead", "cli", "placement", "projection")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2, help="local/ray pairs (default 2)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help=f"comma-separated, of {', '.join(PARTS)} (default all; cli and "
                         "projection need overhead)")
    ap.add_argument("--ray-worker-niceness", default=None, metavar="N",
                    help="RAY_worker_niceness for the overhead part's Ray workers (default: "
                         "the executor's, 0; Ray's own default is 15)")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="during the overhead part, N busy-loop processes compete for the CPU "
                         "(a shared machine made reproducible; default 0)")
    ap.add_argument("--busy-niceness", type=int, default=0, metavar="K",
                    help="their niceness (default 0)")
    ap.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or ({"cli", "projection"} & set(parts) and "overhead" not in parts):
        ap.error(f"--parts: {args.parts!r} (of {', '.join(PARTS)}; cli and projection need "
                 "overhead)")
    load_before = _load()
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        if "overhead" in parts:
            with busy_loops(args.busy, args.busy_niceness):
                ov = overhead(work, args.reps, args.ray_worker_niceness)
            ov["busy"] = (args.busy, args.busy_niceness)
            lines += overhead_md(ov)
        if "cli" in parts:
            cli = cli_run(work, ov["ref"])
            if cli["cli_rc"] != 0:
                print(cli["cli_tail"], file=sys.stderr)
            lines += cli_md(cli)
        if "placement" in parts:
            lines += placement_md(placement(work))
        if "projection" in parts:
            lines += projection_md(ov)
    text = "\n".join(_header(parts, load_before) + lines)
    print(text)
    if not args.no_write:
        append_to_section(SECTION, "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
