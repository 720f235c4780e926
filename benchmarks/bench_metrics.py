"""Per-class AP + AUC of one paper-scale seed file, by storage dtype, side by side in one run.

    python benchmarks/bench_metrics.py [--sparsities 20] [--images 21081] [--classes 20]

One seed's grid (sparsities × images × classes) of simulated logits against long-tailed
labels, through `core.metrics.per_class_metrics` as float32 (compiled radix-sort walk, what
studies store), as float64 (numpy argsort path, which float32 took before), and as float16
probabilities (histogram path, legacy studies); scikit-learn's average_precision_score +
roc_auc_score on a few sparsities, extrapolated. Wall and CPU seconds, median of --repeats.
Results agree to 1e-12 (checked here, and by tests/test_metrics.py against scikit-learn).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.metrics import per_class_metrics  # noqa: E402


def _timed(fn, repeats: int):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsities", type=int, default=20)
    ap.add_argument("--images", type=int, default=21081)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sklearn-sparsities", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    s, n, c = args.sparsities, args.images, args.classes
    prev = np.geomspace(0.5, 0.001, c)
    y = (rng.random((n, c)) < prev).astype(np.float64)
    y[0], y[1] = 1.0, 0.0
    logits = (rng.normal(0, 1, (s, n, c)) + 1.5 * y).astype(np.float32)
    per_class_metrics(logits[:1, :64], y[:64])          # compile (cached on disk) first
    rows = []
    w32, c32, m32 = _timed(lambda: per_class_metrics(logits, y), args.repeats)
    rows.append(("float32 logits (compiled walk)", w32, c32))
    l64 = logits.astype(np.float64)
    w64, c64, m64 = _timed(lambda: per_class_metrics(l64, y), args.repeats)
    rows.append(("float64 (numpy argsort path)", w64, c64))
    p16 = (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float16)
    w16, c16, _ = _timed(lambda: per_class_metrics(p16, y), args.repeats)
    rows.append(("float16 probabilities (histogram)", w16, c16))
    from sklearn.metrics import average_precision_score, roc_auc_score
    k = args.sklearn_sparsities

    def sk():
        for i in range(k):
            for j in range(c):
                average_precision_score(y[:, j], logits[i, :, j])
                roc_auc_score(y[:, j], logits[i, :, j])
    wsk, csk, _ = _timed(sk, 1)
    rows.append((f"scikit-learn loop ({k} sparsities measured, × {s / k:g})", wsk * s / k,
                 csk * s / k))
    diff = max(np.nanmax(np.abs(m32.ap - m64.ap)), np.nanmax(np.abs(m32.auc - m64.auc)))
    print(f"{platform.machine()} {os.cpu_count()} CPUs, load {os.getloadavg()}, "
          f"{s} × {n} × {c}, median of {args.repeats}")
    print("| path | wall s | CPU s | wall vs float32 |")
    print("|---|---:|---:|---:|")
    for name, w, cpu in rows:
        print(f"| {name} | {w:.3f} | {cpu:.3f} | {w / w32:.1f}× |")
    print(f"max |float32 − float64 path| = {diff:.1e}")


if __name__ == "__main__":
    main()
