"""Gradual pruning with fine-tuning vs one-shot pruning on a study: what it costs, what it buys.

    python benchmarks/bench_gradual.py STUDY [--seeds 0,1] [--cache DIR] [--prepare-only]
                                             [--no-write]

The study must verify (store.require_verified) and hold `l1_global` and `gmp_finetune`.

Cost — measured here, side by side in one run, per seed: from the seed's stored dense
weights, the wall time of
- one-shot: `core.predict.predict_grid` for `l1_global` over the study's sparsity grid
  (prune, predict the evaluation split, at every grid point);
- gradual: `core.predict.predict_grid` for `gmp_finetune` with training data, same grid
  (fine-tune `gradual.finetune_steps` steps between grid points, predict at each),
with the study's own config, device, batch size, torch thread count and prediction
encoding, so it is the computation the study ran: the outputs are compared with the stored
prediction files. The cost rows the study measures for every model (core.pruning.cost) are left out
of both. The training and evaluation images are re-made once by the study's own loader and
cache builder (`core.data.load_dataset`, `core.study.prepare.ensure_cache`) into `--cache` (a
finished study keeps no image cache); that is untimed, and `--prepare-only` does just it.

Recovery — read from the study's stored metrics (metrics/overall.parquet and
metrics/per_class.parquet, all of its seeds, nothing recomputed): median mAP over seeds at
70% and 90% for one-shot `l1_global` and `gmp_finetune`, and per class the median AP of
each. Reported as measured, whatever it shows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (set before torch loads libgomp), as the
# study does (core.omp.passive_omp_threads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.results_md import append_to_section  # noqa: E402
from core import models, predictions, store  # noqa: E402
from core.config import StudyConfig  # noqa: E402
from core.store import StudyPaths  # noqa: E402

SECTION = "## Gradual pruning with fine-tuning vs one-shot"
ONE_SHOT, GRADUAL = "l1_global", "gmp_finetune"
AT = (70, 90)


def study_inputs(root: Path, cfg: StudyConfig, cache: Path) -> dict:
    """{split: (uint8 images, float32 labels)} for train and eval, made as the study made
    them, checked against the study's stored evaluation rows."""
    from core.data import load_dataset
    from core.study.prepare import ensure_cache, image_size_of

    size = image_size_of(cfg)
    dataset = load_dataset(cfg.dataset, image_size=size)
    scratch = StudyPaths(cache)
    out = {}
    for name, split in (("train", "train"), ("eval", cfg.dataset.eval_split)):
        rows = dataset.split(split)
        arr, skipped = ensure_cache(scratch, name, dataset, rows, size,
                                    cfg.dataset.skip_missing_images, progress=False)
        rows = rows[~rows["id"].isin(set(skipped))].reset_index(drop=True)
        out[name] = (arr, dataset.labels(rows))
        if name == "eval":
            stored = pd.read_parquet(root / "data" / "labels.parquet")
            if list(stored["id"]) != list(rows["id"]):
                raise SystemExit(f"{root}: the evaluation images re-made by today's loader are "
                                 "not the study's (data/labels.parquet ids differ); this code "
                                 "cannot reproduce the study")
    return out


def time_seed(root: Path, cfg: StudyConfig, data: dict, seed: int, device) -> dict:
    """Wall seconds of the one-shot grid and of the gradual regime from one seed's dense
    weights, and how far each output is from the stored predictions."""
    from core import pruning
    from core.predict import predict_grid

    paths = StudyPaths(root)
    spec = models.spec(cfg.model)
    encoding = predictions.study_encoding(root)
    model = models.load_model(paths.weights(seed), device)[0]
    ex = data["eval"][0]
    t0 = time.perf_counter()
    grid = predict_grid(model, spec, ex, [ONE_SHOT], cfg.sparsities, seed=seed, device=device,
                        batch_size=cfg.predict_batch_size, progress=False, amp=cfg.train.amp,
                        channels_last=cfg.train.channels_last, encoding=encoding)
    one_shot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    training = pruning.TrainingData(*data["train"], config=cfg, device=device)
    preds = predict_grid(model, spec, ex, [GRADUAL], cfg.sparsities, seed=seed, device=device,
                         batch_size=cfg.predict_batch_size, progress=False, amp=False,
                         encoding=encoding, training=training)[GRADUAL][0]
    info = pruning.get_method(GRADUAL).schedule(cfg)
    gradual_s = time.perf_counter() - t0

    def diff(method, got):
        stored = store.open_npy(paths.predictions(method, seed), mmap=False)
        return float(np.max(np.abs(stored.astype(np.float64) - got.astype(np.float64))))

    return {"seed": seed, "one_shot_s": one_shot_s, "gradual_s": gradual_s,
            "finetune_steps": info["finetune_steps"],
            "one_shot_diff": diff(ONE_SHOT, grid[ONE_SHOT][0]),
            "gradual_diff": diff(GRADUAL, preds)}


def recovery(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(median mAP per method at 0/70/90 %, per-class median AP at 70/90 %, seeds) from the
    stored metrics."""
    overall = pd.read_parquet(root / "metrics" / "overall.parquet")
    per_class = pd.read_parquet(root / "metrics" / "per_class.parquet")
    ks = (0, *AT)
    missing = [k for k in ks if k not in set(overall["sparsity"])]
    if missing:
        raise SystemExit(f"{root}: no stored metrics at sparsity {missing}")
    o = overall[overall["method"].isin([ONE_SHOT, GRADUAL]) & overall["sparsity"].isin(ks)]
    summary = (o.groupby(["method", "sparsity"])["map"].median().unstack("method")
               [[ONE_SHOT, GRADUAL]])
    summary["gain"] = summary[GRADUAL] - summary[ONE_SHOT]
    pc = per_class[per_class["method"].isin([ONE_SHOT, GRADUAL])
                   & per_class["sparsity"].isin(ks)]
    med = pc.groupby(["class", "method", "sparsity"], sort=False)["ap"].median().unstack(
        ["method", "sparsity"])
    n_pos = pc[pc["sparsity"] == 0].groupby("class", sort=False)["n_pos"].median()
    order = list(dict.fromkeys(per_class["class"]))   # the study's class order
    rows = []
    for cls in order:
        r = {"class": cls, "eval positives": int(n_pos.get(cls, -1)),
             "dense AP": med.loc[cls, (ONE_SHOT, 0)]}
        for k in AT:
            r[f"one-shot {k}%"] = med.loc[cls, (ONE_SHOT, k)]
            r[f"gmp {k}%"] = med.loc[cls, (GRADUAL, k)]
        rows.append(r)
    return summary, pd.DataFrame(rows), int(overall["seed"].nunique())


def _f(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.3f}"


def report(root: Path, cfg: StudyConfig, runs: list[dict], threads: int, device,
           load: tuple, summary: pd.DataFrame, classes: pd.DataFrame, n_seeds: int) -> str:
    ratio = [r["gradual_s"] / r["one_shot_s"] for r in runs]
    head = (f"### {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} "
            f"{platform.processor() or 'cpu'}, {os.cpu_count()} cores, torch "
            f"{torch.__version__}, {threads} torch thread(s), device {device}\n\n"
            f"`python benchmarks/bench_gradual.py {root}` — study `{cfg.name}` ({cfg.model} "
            f"at {cfg.image_size or models.spec(cfg.model).input_size} px, "
            f"{len(cfg.sparsities)} sparsities {cfg.sparsities[0]}–{cfg.sparsities[-1]}%, "
            f"gradual: {cfg.gradual.finetune_steps} fine-tuning steps between grid points, "
            f"batch {cfg.gradual.batch_size or cfg.train.batch_size}, lr {cfg.gradual.lr}; "
            f"prediction batch {cfg.predict_batch_size}). Load average (1/5/15 min) before / "
            f"after: {' '.join(f'{v:.2f}' for v in load[0])} / "
            f"{' '.join(f'{v:.2f}' for v in load[1])}.\n\n"
            "**Cost** — wall time from the seed's stored dense weights, one-shot then gradual, "
            "in this one run (cost measurement of each model excluded from both):\n\n"
            "| seed | one-shot `l1_global` grid s | `gmp_finetune` s | ratio | "
            "max \\|Δ\\| vs stored predictions (one-shot / gradual) |\n"
            "|---:|---:|---:|---:|---|\n")
    head += "".join(f"| {r['seed']} | {r['one_shot_s']:.1f} | {r['gradual_s']:.1f} | "
                    f"{r['gradual_s'] / r['one_shot_s']:.1f}× | {r['one_shot_diff']:.3g} / "
                    f"{r['gradual_diff']:.3g} |\n" for r in runs)
    if len(runs) > 1:
        head += f"\nMedian ratio over seeds: **{statistics.median(ratio):.1f}×**.\n"
    s = summary
    head += (f"\n**What it recovers** — median over the study's {n_seeds} seeds, from its "
             "stored metrics:\n\n| sparsity | one-shot `l1_global` mAP | `gmp_finetune` mAP "
             "| gmp − one-shot |\n|---:|---:|---:|---:|\n")
    head += "".join(f"| {k}% | {_f(s.loc[k, ONE_SHOT])} | {_f(s.loc[k, GRADUAL])} | "
                    f"{s.loc[k, 'gain']:+.3f} |\n" for k in s.index)
    for k in AT:
        g, o = classes[f"gmp {k}%"], classes[f"one-shot {k}%"]
        both = g.notna() & o.notna()   # a class with no evaluation positive has no AP
        head += (f"\nAt {k}%: `gmp_finetune`'s median AP is above one-shot's for "
                 f"{int((g[both] > o[both]).sum())} of the {int(both.sum())} classes with an AP.")
    head += ("\n\nPer class (median AP over seeds; evaluation positives per class):\n\n| class "
             "| eval positives | dense AP | " + " | ".join(f"one-shot {k}% | gmp {k}%"
                                                        for k in AT) + " |\n"
             "|---|---:|---:|" + "---:|" * (2 * len(AT)) + "\n")
    for _, r in classes.iterrows():
        cells = [_f(r["dense AP"])] + [_f(r[f"{m} {k}%"]) for k in AT
                                       for m in ("one-shot", "gmp")]
        head += f"| {r['class']} | {r['eval positives']} | " + " | ".join(cells) + " |\n"
    return head


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path)
    ap.add_argument("--seeds", default="", help="comma-separated (default: the first seed)")
    ap.add_argument("--cache", type=Path, default=None,
                    help="where the re-made training/evaluation images are cached (reused "
                         "across runs; default: a temporary folder)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="only make the image cache (untimed), then stop")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from core.omp import passive_omp_threads
    from core.threads import torch_threads
    from core.train import resolve_device

    passive_omp_threads()
    root = args.study.resolve()
    store.require_verified(root)
    cfg = StudyConfig.from_dict(store.read_json(root / "study.json")["config"], validate=False)
    for m in (ONE_SHOT, GRADUAL):
        if m not in cfg.methods:
            raise SystemExit(f"{root}: the study has no {m!r} (methods: {cfg.methods})")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()] or [cfg.seeds[0]]
    device = resolve_device(cfg.train.device)
    with tempfile.TemporaryDirectory(prefix="bench_gradual_") as tmp:
        data = study_inputs(root, cfg, args.cache or Path(tmp))
        if args.prepare_only:
            return 0
        load_before = os.getloadavg()
        with torch_threads(cfg.train.threads):
            threads = torch.get_num_threads()
            runs = [time_seed(root, cfg, data, s, device) for s in seeds]
        load_after = os.getloadavg()
    summary, classes, n_seeds = recovery(root)
    body = report(args.study, cfg, runs, threads, device, (load_before, load_after), summary,
                  classes, n_seeds)
    print(body)
    if not args.no_write:
        append_to_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
