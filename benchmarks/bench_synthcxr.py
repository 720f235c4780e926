"""SynthCXR render rate (images/s, one process) at 64×64 and 256×256, and a sample grid.

    python benchmarks/bench_synthcxr.py [--n 4000] [--samples docs/img/synthcxr_samples.png]

Prints one markdown table row per size. "wall" is images per second of elapsed time (what a
user waits for, and what the ≥ 1,000 images/s requirement is about); "cpu" is per second of
this process's CPU time, which stays meaningful on a machine shared with other jobs.
Best of three runs, after one warm-up (texture banks are built once per size).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.chestxray14 import CLASSES  # noqa: E402
from core.data.synthcxr import load_synthcxr  # noqa: E402

ABBREV = {"No Finding": "", "Infiltration": "Inf", "Effusion": "Eff", "Atelectasis": "Atel",
          "Nodule": "Nod", "Mass": "Mass", "Pneumothorax": "Ptx", "Consolidation": "Cons",
          "Pleural Thickening": "PlTh", "Cardiomegaly": "Card", "Emphysema": "Emph",
          "Edema": "Edema", "Fibrosis": "Fib", "Pneumonia": "Pna", "Hernia": "Hern"}


def rate(source, rows, size: int, repeats: int = 3) -> tuple[float, float]:
    source.load(rows.iloc[:50], size)  # warm-up: texture bank, imports
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        source.load(rows, size)
        wall.append(len(rows) / (time.perf_counter() - t))
        cpu.append(len(rows) / (time.process_time() - c))
    return max(wall), max(cpu)


def pick_samples(table, n: int = 32, seed: int = 0):
    """One image of each finding (single-finding images first), the rest at random."""
    rng = np.random.default_rng(seed)
    test = table[table["split"] == "test"]
    chosen = []
    for c in CLASSES[1:]:
        has = test[(test[c] == 1) & ~test.index.isin(chosen)]
        single = has[has[CLASSES[1:]].sum(axis=1) == 1]
        pool = single if len(single) else has
        chosen.append(pool.index[rng.integers(len(pool))])
    rest = test.index[~test.index.isin(chosen)]
    chosen += list(rng.choice(rest, n - len(chosen), replace=False))
    return table.loc[sorted(chosen, key=lambda i: rng.random())]


def caption(row) -> str:
    labels = "+".join(ABBREV[c] for c in CLASSES[1:] if row[c] == 1) or "normal"
    noise = f" [{row['noise_detail']}]" if row["label_noise"] else ""
    return f"{labels} q{row['quality']:.2f} {row['view']}{noise}"


def sample_grid(ds, path: Path, n: int = 32, cols: int = 8) -> None:
    """32 samples: a panel at 64×64 (shown ×4, bilinear) above the same at 256×256."""
    from PIL import Image, ImageDraw

    rows = pick_samples(ds.table, n)
    tile, cap = 256, 14
    nrow = -(-n // cols)
    panels = []
    for size in (64, 256):
        ims = ds.source.load(rows, size)
        panel = Image.new("L", (cols * tile, nrow * (tile + cap) + 18), 0)
        draw = ImageDraw.Draw(panel)
        draw.text((4, 3), f"SynthCXR at {size}x{size}" + (" (upscaled x4)" if size == 64 else ""),
                  fill=255)
        for k, (im, (_, row)) in enumerate(zip(ims, rows.iterrows(), strict=True)):
            r, c = divmod(k, cols)
            x, y = c * tile, 18 + r * (tile + cap)
            panel.paste(Image.fromarray(im).resize((tile, tile), Image.BILINEAR), (x, y))
            draw.text((x + 2, y + tile + 1), caption(row)[:42], fill=230)
        panels.append(panel)
    grid = Image.new("L", (panels[0].width, sum(p.height for p in panels)), 0)
    grid.paste(panels[0], (0, 0))
    grid.paste(panels[1], (0, panels[0].height))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path, optimize=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="images timed at 64×64 (256: n/16)")
    ap.add_argument("--samples", type=Path, help="also write a PNG grid of 32 samples here")
    args = ap.parse_args()
    ds = load_synthcxr({"n_images": max(args.n, 2000)})
    rows = ds.table.sample(args.n, random_state=0)  # a realistic mix of findings
    date = datetime.date.today().isoformat()
    cpu_name = platform.processor() or platform.machine()
    print("| date | machine | size | images | wall images/s | cpu images/s |")
    print("|---|---|---|---|---|---|")
    for size, n in ((64, args.n), (256, max(args.n // 16, 50))):
        wall, cpu = rate(ds.source, rows.iloc[:n], size)
        print(f"| {date} | {os.cpu_count()}-core {cpu_name} | {size}×{size} | {n} | "
              f"{wall:,.0f} | {cpu:,.0f} |", flush=True)
    if args.samples:
        sample_grid(ds, args.samples)
        print(f"samples: {args.samples}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
