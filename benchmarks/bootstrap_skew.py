"""Where a percentile bootstrap interval of AP sits around the point estimate, by rarity.

    python benchmarks/bootstrap_skew.py [--images 1000] [--boot 400] [--seed 0]

Simulated scores (positives shifted by one standard deviation), scikit-learn's
average_precision_score on materialised resamples: prints, per number of positives, the
full-data AP, the median resampled AP, the share of resamples above the full-data AP and the
95% percentile interval. docs/ARCHITECTURE.md ("Reading an interval") quotes its output.
"""
from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import average_precision_score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--boot", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.images
    print("positives  AP      median resampled AP  share above  95% interval   defined")
    for n_pos in (2, 5, 20, 100, 300):
        y = np.zeros(n)
        y[:n_pos] = 1
        s = rng.normal(0, 1, n) + y
        point = average_precision_score(y, s)
        reps = []
        for _ in range(args.boot):
            i = rng.integers(0, n, n)
            if y[i].any():  # no positive drawn: AP undefined, left out as the analysis does
                reps.append(average_precision_score(y[i], s[i]))
        r = np.asarray(reps)
        lo, hi = np.percentile(r, [2.5, 97.5])
        print(f"{n_pos:9d}  {point:.4f}  {np.median(r):19.4f}  {np.mean(r > point):11.2f}  "
              f"{lo:.4f}–{hi:.4f}  {len(r)}/{args.boot}")


if __name__ == "__main__":
    main()
