"""Analysis of a paper-scale study: PruneLens vs the reference approach.

    python benchmarks/bench_analysis.py                  # 30 seeds × 20 sparsities × 21,081 × 20
    python benchmarks/bench_analysis.py --seeds 2 --images 2000 --no-write   # smoke run
    python benchmarks/bench_analysis.py --legacy-float16   # as studies stored before float32

Setup (generated here in a temp folder): NIH-CXR-LT-shaped test labels — 21,081 images, the 20
classes with prevalences from the paper's train counts (No Finding = no other finding) — and
predictions of 30 seeds at 0, 5, …, 95% sparsity that degrade with sparsity, rare classes first,
as in the paper, stored as studies store them (float32 logits, core.predictions; or float16
probabilities with --legacy-float16, as studies made before that).

- ours: `core.analysis.analyze_study` in a fresh subprocess — every table of the study
  (per-class AP/AUC, forgetting, frequency/pair statistics, both PIE forms and their statistics,
  and beyond the paper: bootstrap CIs with B = 1,000 paired over sparsities and seeds as a second
  level, 8 subgroups (sex, 4 age bands, view) with CIs, missed findings, calibration), timed end
  to end with its peak resident memory (ru_maxrss of that process); the beyond-the-paper part
  is also reported on its own (analyze_study's extended.seconds; stored in analysis/timings.json).
- reference: what the paper's code does for the per-class metrics alone: scikit-learn
  `average_precision_score` and `roc_auc_score` per (seed, sparsity, class), on a subset of
  seeds, extrapolated linearly to all seeds (each seed costs the same); plus the paper's PIE
  correlations (pandas `corrwith(method="spearman", axis=1)`) at one sparsity, × 19.
- reference for the bootstrap: the straightforward loop — per replicate, materialise the
  resampled images and call `average_precision_score` per (seed, sparsity, class) — timed on a
  subsample (1 seed × 2 sparsities × 20 classes × a few replicates) and extrapolated to every AP
  the analysis computes (K × S × C × B for all images, the same again per subgroup attribute);
  our `bootstrap.weighted_ap` is run on the same replicates and compared.
Numbers are compared: max |ours − sklearn| over every (seed, sparsity, class) of the subset, and
max |ours − pandas| over the per-image correlations (ours are stored as float32). Times are wall
and CPU (user + sys): on a shared machine the CPU ratio is the stabler one. A row is added to
this benchmark's section of benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import predictions, store  # noqa: E402
from core.config import StudyConfig  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from results_md import append_to_section  # noqa: E402

SECTION = "## Analysis of a paper-scale study"
SECTION_EXT = "## Beyond the paper at paper scale: bootstrap CIs, subgroups, missed findings"
SECTION_PC = "## Paper check at paper scale (issue 19: ≤ 30 s added to analyze)"
NIH_TRAIN_COUNTS = {   # docs/paper_facts.md, NIH-CXR-LT train counts (of 78,506 images)
    "No Finding": 44625, "Infiltration": 12739, "Effusion": 7919, "Atelectasis": 7587,
    "Nodule": 4359, "Mass": 3689, "Consolidation": 2626, "Pneumothorax": 2432,
    "Pleural Thickening": 1998, "Cardiomegaly": 1590, "Emphysema": 1327, "Edema": 1283,
    "Fibrosis": 1138, "Subcutaneous Emphysema": 957, "Pneumonia": 806, "Tortuous Aorta": 598,
    "Calcification of the Aorta": 368, "Pneumoperitoneum": 214, "Hernia": 130,
    "Pneumomediastinum": 88,
}
N_TRAIN = 78506


def make_study(root: Path, n_seeds: int, n_images: int, rng_seed: int = 0,
               encoding: predictions.Encoding = predictions.DEFAULT) -> store.StudyPaths:
    rng = np.random.default_rng(rng_seed)
    classes = list(NIH_TRAIN_COUNTS)
    counts = np.array(list(NIH_TRAIN_COUNTS.values()), dtype=np.float64)
    prev = counts / N_TRAIN
    y = (rng.random((n_images, len(classes))) < prev).astype(np.float32)
    y[:, 0] = y[:, 1:].sum(axis=1) == 0
    y[0, :], y[1, :] = 1, 0      # every class has a positive and a negative, whatever N
    paths = store.StudyPaths(root)
    labels = pd.DataFrame({"id": [f"{i:08d}_000.png" for i in range(n_images)],
                           "split": "test", "row": np.arange(n_images)})
    for j, c in enumerate(classes):
        labels[c] = y[:, j]
    # NIH-CXR-LT gets sex, age and view from the ChestX-ray14 metadata: similar proportions.
    labels["sex"] = np.where(rng.random(n_images) < 0.56, "M", "F")
    labels["age"] = np.clip(rng.normal(47, 17, n_images).round(), 1, 95)
    labels["view"] = np.where(rng.random(n_images) < 0.6, "PA", "AP")
    store.write_parquet(paths.labels, labels)
    n_val = max(50, n_images * 12533 // 21081)        # the paper's val : test sizes
    yv = (rng.random((n_val, len(classes))) < prev).astype(np.float32)
    yv[0, :], yv[1, :] = 1, 0
    val = pd.DataFrame({"row": np.arange(n_val), "id": [f"v{i:08d}.png" for i in range(n_val)]})
    for j, c in enumerate(classes):
        val[c] = yv[:, j]
    store.write_parquet(paths.val_labels, val)
    store.write_parquet(paths.class_counts, pd.DataFrame(
        {"class": classes, "train_pos": counts.astype(np.int64),
         "train_neg": (N_TRAIN - counts).astype(np.int64), "train_nan": 0}))
    store.write_npy(paths.cooccurrence("eval"), (y.T @ y).astype(np.int64))
    sparsities = list(range(0, 100, 5))
    cfg = StudyConfig(name="bench", seeds=list(range(n_seeds)), methods=["l1_global"])
    store.write_json(paths.study_json, {
        "schema_version": store.SCHEMA_VERSION, "config": cfg.to_dict(), "classes": classes,
        "sparsities": sparsities, "methods": ["l1_global"], "seeds": list(range(n_seeds)),
        **({} if encoding == predictions.LEGACY else
           {"predictions": predictions.encoding_record(encoding, validation=True)})})
    # Separation shrinks with sparsity, steeply past ~70%; rarer classes break down earlier.
    logf = np.log(counts)
    hardness = (logf.max() - logf) / (logf.max() - logf.min())          # 0 common … 1 rare
    k = np.array(sparsities, dtype=np.float32)[:, None] / 100
    power = (12 - 8 * hardness)[None, :]                                  # rare: lower power
    signal = (1.2 * (1 - k ** power)).astype(np.float32)                  # [S, C]
    sign = (2 * y - 1).astype(np.float32)
    base = np.log(prev / (1 - prev)).astype(np.float32)
    for seed in range(n_seeds):
        r = np.random.default_rng(1000 + seed)
        noise = r.standard_normal((len(sparsities), n_images, len(classes)), dtype=np.float32)
        logits = base + signal[:, None, :] * sign[None] * 1.5 + noise
        store.write_npy(paths.predictions("l1_global", seed),
                        predictions.encode(logits, encoding))
        v = base + 1.8 * (2 * yv - 1) + r.standard_normal(yv.shape, dtype=np.float32)
        store.write_npy(paths.val_predictions(seed), predictions.encode(v, encoding))
        store.write_json(paths.measured_sparsity("l1_global", seed),
                         {"requested": sparsities, "measured": [s / 100 for s in sparsities]})
    return paths


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
t0 = time.perf_counter()
from core.analysis import analyze_study
params = analyze_study({study!r})
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": time.perf_counter() - t0, "cpu_s": use.ru_utime + use.ru_stime,
                  "maxrss_mb": use.ru_maxrss / 1024, "extended": params["extended"],
                  "paper_check": params.get("paper_check")}}))
"""


def run_ours(study: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), study=str(study))],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_reference(paths: store.StudyPaths, seeds: list[int]
                  ) -> tuple[float, float, pd.DataFrame]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    study = store.read_json(paths.study_json)
    classes, sparsities = study["classes"], study["sparsities"]
    labels = pd.read_parquet(paths.labels).sort_values("row")
    rows = []
    t0, c0 = time.perf_counter(), time.process_time()
    for seed in seeds:
        pred = predictions.read_scores(paths.root, "l1_global", seed)
        for i, k in enumerate(sparsities):
            for j, c in enumerate(classes):
                y = labels[c].to_numpy()
                ok = ~np.isnan(y)
                rows.append((seed, k, c, average_precision_score(y[ok], pred[i, ok, j]),
                             roc_auc_score(y[ok], pred[i, ok, j])))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    frame = pd.DataFrame(rows, columns=["seed", "sparsity", "class", "ap_ref", "auc_ref"])
    return seconds, cpu, frame


def reference_pie_corr(paths: store.StudyPaths, seeds: list[int], sparsity_index: int
                       ) -> tuple[float, float, np.ndarray]:
    """The paper's per-image correlation at one sparsity: seed-mean, then pandas corrwith."""
    classes = store.read_json(paths.study_json)["classes"]
    t0, c0 = time.perf_counter(), time.process_time()
    stored = [predictions.open_predictions(paths.root, "l1_global", s) for s in seeds]
    dense = np.mean([p.probabilities(0).astype(np.float64) for p in stored], axis=0)
    sparse = np.mean([p.probabilities(sparsity_index).astype(np.float64) for p in stored],
                     axis=0)
    corr = pd.DataFrame(dense, columns=classes).corrwith(
        pd.DataFrame(sparse, columns=classes), method="spearman", axis=1).to_numpy()
    return time.perf_counter() - t0, time.process_time() - c0, corr


def reference_bootstrap(paths: store.StudyPaths, n_rep: int, sparsity_indices: list[int]
                        ) -> dict:
    """The straightforward bootstrap loop on a subsample, and ours on the same replicates."""
    from sklearn.metrics import average_precision_score

    from core.analysis import bootstrap, subgroups
    from core.analysis.uncertainty import make_plan
    from core.metrics import label_codes

    study = store.read_json(paths.study_json)
    classes = study["classes"]
    labels = pd.read_parquet(paths.labels).sort_values("row")
    y = labels[classes].to_numpy(dtype=np.float64)
    plan = make_plan(len(y), len(study["seeds"]), n_boot=n_rep, rng_seed=1)
    pred = np.asarray(store.open_npy(paths.predictions("l1_global", 0)))[sparsity_indices]
    pred = pred.astype(np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    ref = np.full((len(sparsity_indices), len(classes), n_rep), np.nan)
    for b in range(n_rep):
        idx = np.repeat(np.arange(len(y)), plan.weights[:, b])
        for i in range(len(sparsity_indices)):
            for j in range(len(classes)):
                yy = y[idx, j]
                ok = ~np.isnan(yy)
                if (yy[ok] == 1).any():   # a resample without positives: AP undefined
                    ref[i, j, b] = average_precision_score(yy[ok], pred[i, idx, j][ok])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    ours = bootstrap.weighted_ap(pred, label_codes(y)[None], plan.weights)[:, 0]
    groups, _ = subgroups.define_groups(labels)
    n_attr = len({a for a, _, _ in groups})
    return {"per_ap_s": seconds / ref.size, "per_ap_cpu_s": cpu / ref.size, "n_ap": ref.size,
            "max_diff": float(np.nanmax(np.abs(ours - ref))), "n_attributes": n_attr}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--images", type=int, default=21081)
    ap.add_argument("--reference-seeds", type=int, default=3,
                    help="seeds the sklearn reference runs on (then extrapolated)")
    ap.add_argument("--boot-reference", type=int, default=5,
                    help="replicates the straightforward bootstrap loop runs (then extrapolated)")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    ap.add_argument("--tmp", default=None, help="parent folder of the temporary study")
    ap.add_argument("--legacy-float16", action="store_true",
                    help="store float16 probabilities, as studies made before float32 logits")
    ap.add_argument("--ours-only", action="store_true",
                    help="time our analysis (and its paper check) only, no sklearn references; "
                         "writes only the paper check's row")
    args = ap.parse_args(argv)
    if args.ours_only:
        return _ours_only(args)
    ref_seeds = list(range(min(args.reference_seeds, args.seeds)))
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        t0 = time.perf_counter()
        encoding = predictions.LEGACY if args.legacy_float16 else predictions.DEFAULT
        paths = make_study(Path(tmp) / "study", args.seeds, args.images, encoding=encoding)
        gen = time.perf_counter() - t0
        print(f"generated {args.seeds} seeds × 20 sparsities × {args.images} × 20 in {gen:.1f} s",
              flush=True)
        ours = run_ours(paths.root)
        print(f"ours: {ours['seconds']:.1f} s wall, {ours['cpu_s']:.1f} s CPU, peak "
              f"{ours['maxrss_mb']:.0f} MB", flush=True)
        ref_s, ref_cpu, ref = run_reference(paths, ref_seeds)
        scale = args.seeds / len(ref_seeds)
        per_class = pd.read_parquet(paths.metrics_dir / "per_class.parquet")
        both = ref.merge(per_class, on=["seed", "sparsity", "class"])
        assert len(both) == len(ref)
        diff = float(max((both["ap"] - both["ap_ref"]).abs().max(),
                         (both["auc"] - both["auc_ref"]).abs().max()))
        k = store.read_json(paths.study_json)["sparsities"].index(90)
        pie_s, pie_cpu, pie_ref = reference_pie_corr(paths, list(range(args.seeds)), k)
        ours_corr = store.open_npy(paths.analysis_dir / "pie_corr" / "l1_global.npy")[k]
        pie_diff = float(np.nanmax(np.abs(ours_corr - pie_ref)))
        boot = reference_bootstrap(paths, args.boot_reference, [0, k])
        n_boot = ours["extended"]["n_boot"]
        # Every AP the analysis computes: all images, then each attribute's groups (which
        # together hold every image once), for every seed, sparsity, class and replicate.
        n_ap_all = args.seeds * 20 * 20 * n_boot * (1 + boot["n_attributes"])
        boot_ref_s = boot["per_ap_s"] * n_ap_all
        boot_ref_cpu = boot["per_ap_cpu_s"] * n_ap_all
    # Wall time on a shared 2-core machine depends on what else runs; CPU time (user + sys of
    # the process) much less, so both are reported and the speed-up is given for both.
    ext_s = ours["extended"]["seconds"]
    # Section 1 compares the paper's tables: the beyond-the-paper part (timed inside the same
    # run, wall and CPU) is taken out; section 2 reports it.
    paper_s = ours["seconds"] - ext_s["total"]
    paper_cpu = ours["cpu_s"] - ext_s.get("total_cpu", 0.0)
    res = {"seeds": args.seeds, "images": args.images, "ours_s": paper_s,
           "ours_cpu_s": paper_cpu, "peak_mb": ours["maxrss_mb"],
           "all_s": ours["seconds"], "all_cpu_s": ours["cpu_s"],
           "ref_seeds": len(ref_seeds), "ref_metrics_s": ref_s * scale,
           "ref_metrics_cpu_s": ref_cpu * scale, "ref_pie_s": 19 * pie_s,
           "ref_pie_cpu_s": 19 * pie_cpu,
           # against our paper tables alone, as the reference computes only those
           "speedup_metrics_wall": ref_s * scale / paper_s,
           "speedup_metrics_cpu": ref_cpu * scale / paper_cpu,
           "speedup_all_cpu": (ref_cpu * scale + 19 * pie_cpu) / paper_cpu,
           "max_diff": diff, "pie_diff": pie_diff, "load_avg": _load(),
           "extended_s": ours["extended"]["seconds"], "n_boot": n_boot,
           "subgroups": len(ours["extended"]["subgroups"]),
           "missed_findings": ours["extended"]["missed_findings"],
           "boot_ref_s": boot_ref_s, "boot_ref_cpu_s": boot_ref_cpu,
           "boot_ref_n_ap": boot["n_ap"], "boot_max_diff": boot["max_diff"],
           "speedup_boot_wall": boot_ref_s / ext_s["bootstrap"],
           "speedup_ext_cpu": boot_ref_cpu / ext_s.get("total_cpu", float("nan"))}
    print(json.dumps(res, indent=2))
    if not args.no_write:
        header = ("| date | machine | study | ours, all tables: wall (CPU) | peak RSS | "
                  "reference: sklearn AP+AUC per (seed, sparsity, class): wall (CPU) | "
                  "+ paper PIE correlations (CPU) | speed-up: metrics wall / metrics CPU / "
                  "all CPU | max \\|Δ\\| AP/AUC | max \\|Δ\\| PIE corr |\n"
                  "|---|---|---|---|---|---|---|---|---|---|")
        row = (f"| {dt.date.today()} | {platform.machine()} {_cpus()}-core CPU shared with "
               f"other jobs (load avg {res['load_avg']}), Python {platform.python_version()} | "
               f"{args.seeds} seeds × 20 sparsities × {args.images:,} images × 20 classes, "
               f"{encoding.dtype} {encoding.kind}s | "
               f"{res['ours_s']:.1f} s ({res['ours_cpu_s']:.1f} s) | "
               f"{res['peak_mb']:.0f} MB | {res['ref_metrics_s']:.0f} s "
               f"({res['ref_metrics_cpu_s']:.0f} s), measured on {len(ref_seeds)} seeds × "
               f"{scale:g} | +{res['ref_pie_cpu_s']:.0f} s (1 sparsity measured × 19) | "
               f"{res['speedup_metrics_wall']:.0f}× / {res['speedup_metrics_cpu']:.0f}× / "
               f"{res['speedup_all_cpu']:.0f}× | {diff:.1e} | {pie_diff:.1e} |")
        append_to_section(SECTION, row, preamble=header)
        ext = res["extended_s"]
        missed = "yes" if res["missed_findings"] else "no (no validation predictions read)"
        header2 = ("| date | machine | study | all tables incl. beyond the paper: wall (CPU) | "
                   "peak RSS | beyond the paper: total / bootstrap APs / missed + calibration "
                   "(wall) | straightforward sklearn bootstrap loop, extrapolated: wall (CPU) | "
                   "speed-up: bootstrap wall / all beyond-the-paper CPU | max \\|Δ\\| AP of "
                   "resamples vs sklearn |\n|---|---|---|---|---|---|---|---|---|")
        row2 = (f"| {dt.date.today()} | {platform.machine()} {_cpus()}-core CPU shared with "
                f"other engineers' jobs (load avg {res['load_avg']}), Python "
                f"{platform.python_version()} | {args.seeds} seeds × 20 sparsities × "
                f"{args.images:,} images × 20 classes, B = {n_boot}, {res['subgroups']} "
                f"subgroups, missed findings {missed} | {res['all_s']:.1f} s "
                f"({res['all_cpu_s']:.1f} s) | "
                f"{res['peak_mb']:.0f} MB | {ext['total']:.1f} s / {ext['bootstrap']:.1f} s / "
                f"{ext['missed_calibration']:.1f} s; CPU {ext.get('total_cpu', float('nan')):.1f} s"
                f" | {res['boot_ref_s']:.0f} s "
                f"({res['boot_ref_cpu_s']:.0f} s), {res['boot_ref_n_ap']} APs measured | "
                f"{res['speedup_boot_wall']:.0f}× / {res['speedup_ext_cpu']:.0f}× | "
                f"{res['boot_max_diff']:.1e} |")
        append_to_section(SECTION_EXT, row2, preamble=header2)
        _paper_check_row(args, ours, res["load_avg"])
    return res


def _paper_check_row(args, ours: dict, load_before: str) -> None:
    """One row of SECTION_PC: the paper check's share of the analysis it runs inside."""
    pc = ours.get("paper_check") or {}
    header = ("| date | machine | study | analyze, all tables: wall (CPU) | paper check inside "
              "it: wall (CPU) | share of analyze wall | goal ≤ 30 s |\n"
              "|---|---|---|---|---|---|---|")
    row = (f"| {dt.date.today()} | {platform.machine()} {_cpus()}-core CPU shared with other "
           f"engineers' jobs (load avg {load_before} before, {_load()} after), Python "
           f"{platform.python_version()} | {args.seeds} seeds × 20 sparsities × "
           f"{args.images:,} images × 20 classes, 1 method, B = "
           f"{ours['extended']['n_boot']} | {ours['seconds']:.1f} s ({ours['cpu_s']:.1f} s) | "
           f"{pc.get('seconds', float('nan')):.1f} s ({pc.get('cpu_seconds', float('nan')):.1f}"
           f" s) | {pc.get('seconds', float('nan')) / ours['seconds']:.1%} | "
           f"{'met' if pc.get('seconds', 1e9) <= 30 else 'NOT met'} |")
    append_to_section(SECTION_PC, row, preamble=header)


def _ours_only(args) -> dict:
    load_before = _load()
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        encoding = predictions.LEGACY if args.legacy_float16 else predictions.DEFAULT
        paths = make_study(Path(tmp) / "study", args.seeds, args.images, encoding=encoding)
        ours = run_ours(paths.root)
    print(json.dumps({k: ours[k] for k in ("seconds", "cpu_s", "maxrss_mb", "paper_check")},
                     indent=2))
    if not args.no_write:
        _paper_check_row(args, ours, load_before)
    return ours


def _load() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
