"""How precisely must predictions be stored? Per-class AP, ties and PIEs from each candidate
encoding vs float32, on simulated paper-scale model outputs.

    python benchmarks/bench_precision.py                      # 5 seeds × 20 × 21,081 × 20
    python benchmarks/bench_precision.py --seeds 30           # the paper's 30 seeds
    python benchmarks/bench_precision.py --demo               # demo scale: 2,004 × 15 classes
    python benchmarks/bench_precision.py --seeds 1 --images 3000 --no-write   # smoke run

Simulation (no real outputs are needed, nothing is downloaded):
- labels: one evaluation set of N images with NIH-CXR-LT's long tail — each class positive with
  its train prevalence from docs/paper_facts.md (88 … 44,625 of 78,506 images; No Finding = no
  other finding), so at N = 21,081 the rarest classes have ~20–40 positives. `--demo` uses the
  15 ChestX-ray14 classes of the demo with their prevalences (112,120 images).
- dense logits per seed: calibrated intercept logit(prevalence) + a per-image difficulty shared
  by classes and sparsities + seed noise + a class-dependent separation (d ∈ [1, 2.5]) of
  positives from negatives; rare classes sit at logits −7 … −4, confident "No Finding"
  positives at +1 … +4 — the range where float16 logits are coarse (spacing 2⁻⁸ in [4, 8)) and
  float16 probabilities saturate.
- pruning at k = 0, 5, …, 95 %: the signal fades as 1 − k^p (rare classes earlier: p from
  12 for the most frequent to 4 for the rarest, as in bench_analysis.py), outputs collapse
  towards a constant (spread × (1 − 0.9 k^(0.7p))), intercepts drift, and fresh noise grows —
  heavily pruned models give nearly constant outputs, where ties bite hardest.

For each candidate encoding (core.predictions.encode, decoded with core.predictions.Stored as
every reader does), against float32 logits:
- per-class AP (core.metrics, on the ranking-equivalent scores): max |ΔAP| over every (seed,
  sparsity, class), at dense only, the 99th percentile, cells with |ΔAP| > 1e-4, max |ΔAUC|;
- tie-collapsed pairs: image pairs (per seed, sparsity, class) whose float32 logits differ but
  whose stored values are equal — all pairs, and positive–negative pairs (the ones AP sees);
- PIE membership changes at the PIE sparsity (90 %), over the seed ensemble: paper PIEs (bottom
  5 % of per-image Spearman, core.analysis.pies) and population PIEs (majority vote ≥ 0.5);
- bytes per seed file.
The chosen encoding is the smallest that keeps max |ΔAP| ≤ 1e-4. A section of
benchmarks/RESULTS.md gets one row per candidate.
"""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_analysis import N_TRAIN, NIH_TRAIN_COUNTS  # noqa: E402
from results_md import append_to_section  # noqa: E402

from core import predictions  # noqa: E402
from core.analysis import pies  # noqa: E402
from core.metrics import per_class_metrics  # noqa: E402
from core.predictions import Encoding, Stored  # noqa: E402

SECTION = "## Prediction storage precision"
# docs/paper_facts.md: ChestX-ray14 counts of 112,120 images (the demo's 15 classes)
CXR14_COUNTS = {
    "No Finding": 60361, "Infiltration": 19894, "Effusion": 13317, "Atelectasis": 11559,
    "Nodule": 6331, "Mass": 5782, "Pneumothorax": 5302, "Consolidation": 4667,
    "Pleural Thickening": 3385, "Cardiomegaly": 2776, "Emphysema": 2516, "Edema": 2303,
    "Fibrosis": 1686, "Pneumonia": 1431, "Hernia": 227,
}
CXR14_TOTAL = 112120
CANDIDATES = {
    "float16 probability (before)": predictions.LEGACY,
    "float16 logit": Encoding("logit", "float16"),
    "float32 probability": Encoding("probability", "float32"),
    "float32 logit": predictions.DEFAULT,
}
SPARSITIES = list(range(0, 100, 5))
PIE_SPARSITY, PIE_PERCENTILE = 90, 5.0
TOLERANCE = 1e-4


# --------------------------------------------------------------------------- simulation
def make_labels(rng, n: int, counts: dict, total: int) -> tuple[np.ndarray, np.ndarray]:
    prev = np.array(list(counts.values()), dtype=np.float64) / total
    y = (rng.random((n, len(prev))) < prev).astype(np.float64)
    y[:, 0] = y[:, 1:].sum(axis=1) == 0          # No Finding = no other finding
    y[0, 1:], y[1, :] = 1, 0                     # every class has a positive and a negative
    y[0, 0] = 0
    return y, prev


class Simulator:
    """Logits [S, N, C] of one seed's dense and pruned models (see the module docstring)."""

    def __init__(self, y: np.ndarray, prev: np.ndarray, rng_seed: int = 0):
        rng = np.random.default_rng(rng_seed)
        n, c = y.shape
        self.y = y
        self.base = np.log(prev / (1 - prev))                       # calibrated intercept
        self.sep = rng.uniform(1.0, 2.5, c)                          # class-dependent
        self.difficulty = rng.standard_normal((n, 1)) * 0.5          # shared by classes
        logf = np.log(prev)
        hardness = (logf.max() - logf) / (logf.max() - logf.min())   # 0 common … 1 rare
        k = np.array(SPARSITIES, dtype=np.float64)[:, None] / 100
        power = (12 - 8 * hardness)[None, :]
        self.keep = 1 - k ** power                                   # [S, C] signal kept
        self.spread = 1 - 0.9 * k ** (0.7 * power)                   # outputs collapse
        self.drift = k ** power * rng.standard_normal(c)             # intercepts drift
        self.noise = 0.6 * k ** 2                                    # [S, 1] pruning noise

    def seed(self, seed: int) -> np.ndarray:
        r = np.random.default_rng(1000 + seed)
        n, c = self.y.shape
        trained = 0.9 * r.standard_normal((n, c)) + self.difficulty  # this seed's model
        signal = self.sep * (self.y - 0.5)
        out = np.empty((len(SPARSITIES), n, c), dtype=np.float32)
        for s in range(len(SPARSITIES)):
            x = (self.base + self.drift[s]
                 + self.spread[s] * (trained + self.keep[s] * signal)
                 + self.noise[s] * r.standard_normal((n, c)))
            out[s] = x
        return out


# --------------------------------------------------------------------------- measures
def tie_pairs(values: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(pairs with equal values, of them positive–negative pairs) summed over the columns of
    `values` [M, N, C] (per model and class, over images)."""
    m, n, c = values.shape
    total = posneg = 0
    for j in range(c):
        order = np.argsort(values[:, :, j], axis=1)
        sv = np.take_along_axis(values[:, :, j], order, axis=1)
        sy = y[:, j][order]
        for i in range(m):
            edges = np.flatnonzero(sv[i, 1:] != sv[i, :-1]) + 1
            bounds = np.concatenate(([0], edges, [n]))
            length = np.diff(bounds).astype(np.int64)
            pos = np.add.reduceat(sy[i], bounds[:-1]).astype(np.int64)
            total += int((length * (length - 1) // 2).sum())
            posneg += int((pos * (length - pos)).sum())
    return total, posneg


def pie_sets(prob_sum_dense, prob_sum_pie, votes_dense, votes_pie, n_seeds):
    """(paper PIE mask, population PIE mask) from seed sums at dense and the PIE sparsity."""
    corr = pies.rowwise_spearman(prob_sum_dense / n_seeds, prob_sum_pie / n_seeds)
    paper = pies.select_bottom(corr, PIE_PERCENTILE)
    population = pies.population_pies(np.stack([votes_dense, votes_pie]), n_seeds)[1]
    return paper, population


def run(n_seeds: int, n_images: int, demo: bool, log=print) -> dict:
    counts, total = (CXR14_COUNTS, CXR14_TOTAL) if demo else (NIH_TRAIN_COUNTS, N_TRAIN)
    y, prev = make_labels(np.random.default_rng(0), n_images, counts, total)
    sim = Simulator(y, prev)
    names = ["float32 (reference)", *CANDIDATES]
    k_pie = SPARSITIES.index(PIE_SPARSITY)
    acc = {nm: {"dap": [], "dauc": [], "ties": 0, "posneg": 0, "sum0": 0.0, "sumk": 0.0,
                "v0": 0, "vk": 0, "bytes": 0} for nm in names}
    t_metrics = {"float16 histogram (before)": 0.0, "float32 sort (now)": 0.0}
    t0 = time.perf_counter()
    for seed in range(n_seeds):
        x = sim.seed(seed)
        ref = None
        for nm in names:
            enc = predictions.DEFAULT if nm == "float32 (reference)" else CANDIDATES[nm]
            stored = Stored(Path("simulated"), enc, predictions.encode(x, enc))
            scores = stored.scores()
            m = per_class_metrics(scores, y)
            a = acc[nm]
            if ref is None:
                ref = m
                ref_ties = tie_pairs(scores, y)
            else:
                a["dap"].append(np.abs(m.ap - ref.ap))
                a["dauc"].append(np.abs(m.auc - ref.auc))
                ties = tie_pairs(scores, y)
                a["ties"] += ties[0] - ref_ties[0]
                a["posneg"] += ties[1] - ref_ties[1]
            p0, pk = stored.probabilities(0), stored.probabilities(k_pie)
            a["sum0"] = a["sum0"] + p0.astype(np.float64)
            a["sumk"] = a["sumk"] + pk.astype(np.float64)
            a["v0"] = a["v0"] + (p0 >= pies.THRESHOLD)
            a["vk"] = a["vk"] + (pk >= pies.THRESHOLD)
            a["bytes"] = stored.raw.nbytes + 128          # + the .npy header
        legacy = predictions.encode(x, predictions.LEGACY)
        for label, arr in (("float16 histogram (before)", legacy), ("float32 sort (now)", x)):
            c0 = time.process_time()
            per_class_metrics(arr, y)
            t_metrics[label] += time.process_time() - c0
        log(f"seed {seed}: {time.perf_counter() - t0:.0f} s")
    ref_sets = pie_sets(acc[names[0]]["sum0"], acc[names[0]]["sumk"], acc[names[0]]["v0"],
                        acc[names[0]]["vk"], n_seeds)
    rows = []
    for nm in CANDIDATES:
        a = acc[nm]
        dap, dauc = np.stack(a["dap"]), np.stack(a["dauc"])
        sets = pie_sets(a["sum0"], a["sumk"], a["v0"], a["vk"], n_seeds)
        rows.append({
            "encoding": nm, "max_dap": float(np.nanmax(dap)),
            "max_dap_dense": float(np.nanmax(dap[:, 0])),
            "p99_dap": float(np.nanpercentile(dap, 99)),
            "cells_over": int((dap > TOLERANCE).sum()), "cells": int(np.isfinite(dap).sum()),
            "max_dauc": float(np.nanmax(dauc)), "ties": a["ties"], "posneg": a["posneg"],
            "pie_paper": int((sets[0] != ref_sets[0]).sum()),
            "pie_population": int((sets[1] != ref_sets[1]).sum()),
            "n_pie_paper": int(ref_sets[0].sum()), "n_pie_population": int(ref_sets[1].sum()),
            "bytes_per_seed": a["bytes"],
        })
    positives = (y == 1).sum(axis=0)
    return {"rows": rows, "n_seeds": n_seeds, "n_images": n_images, "n_classes": y.shape[1],
            "min_pos": int(positives.min()), "max_pos": int(positives.max()),
            "seconds": time.perf_counter() - t0,
            "metrics_cpu_s_per_seed": {k: v / n_seeds for k, v in t_metrics.items()}}


# --------------------------------------------------------------------------- report
PREAMBLE = ("Per-class AP / AUC, ties and PIEs from each stored encoding vs float32 logits, "
            "on simulated outputs (see benchmarks/bench_precision.py). Tolerance: max |ΔAP| "
            f"≤ {TOLERANCE:g}. Ties = image pairs (per seed, sparsity, class) whose float32 "
            "logits differ but stored values are equal (pos–neg: a positive tied with a "
            "negative). PIE changes: images whose membership differs from float32's at "
            f"{PIE_SPARSITY}% sparsity.\n")


def markdown(res: dict, machine: str) -> str:
    head = (f"\n### {dt.date.today().isoformat()} — {res['n_seeds']} seeds × {len(SPARSITIES)} "
            f"sparsities × {res['n_images']:,} images × {res['n_classes']} classes "
            f"(positives per class {res['min_pos']}–{res['max_pos']}); {machine}; "
            f"{res['seconds']:.0f} s\n\n"
            "| encoding | max \\|ΔAP\\| | dense max \\|ΔAP\\| | 99th pct \\|ΔAP\\| | "
            f"cells > {TOLERANCE:g} | max \\|ΔAUC\\| | tied pairs | pos–neg tied | "
            "paper PIE changes | population PIE changes | bytes / seed file |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['encoding']} | {r['max_dap']:.2e} | {r['max_dap_dense']:.2e} | "
        f"{r['p99_dap']:.2e} | {r['cells_over']:,} of {r['cells']:,} | {r['max_dauc']:.2e} | "
        f"{r['ties']:,} | {r['posneg']:,} | {r['pie_paper']} of {r['n_pie_paper']} | "
        f"{r['pie_population']} of {r['n_pie_population']} | {r['bytes_per_seed']:,} |\n"
        for r in res["rows"])
    ok = [r for r in res["rows"] if r["max_dap"] <= TOLERANCE]
    best = min(ok, key=lambda r: (r["bytes_per_seed"], r["max_dap"])) if ok else None
    t = res["metrics_cpu_s_per_seed"]
    tail = (f"\nSmallest encoding within {TOLERANCE:g}: "
            f"**{best['encoding'] if best else 'none'}**. AP/AUC of one seed file "
            "(core.metrics, CPU s): "
            + ", ".join(f"{k} {v:.2f}" for k, v in t.items()) + ".\n")
    return head + body + tail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--images", type=int, default=None,
                    help="evaluation images (default 21,081; 2,004 with --demo)")
    ap.add_argument("--demo", action="store_true",
                    help="the demo's scale: 15 ChestX-ray14 classes, 2,004 images")
    ap.add_argument("--no-write", action="store_true", help="print only; RESULTS.md untouched")
    ap.add_argument("--machine", default=f"{platform.machine()} {platform.system()}, "
                    "shared 2-core machine")
    args = ap.parse_args(argv)
    n = args.images or (2004 if args.demo else 21081)
    res = run(args.seeds, n, args.demo)
    text = markdown(res, args.machine)
    print(text)
    if not args.no_write:
        append_to_section(SECTION, text, PREAMBLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
