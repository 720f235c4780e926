"""Prediction grid: PruneLens vs the reference loop, and vs bare forward passes.

    python benchmarks/bench_predict.py              # 3 seeds × 20 sparsities × 1,000 images
    python benchmarks/bench_predict.py --images 100 --seeds 1 --no-write   # smoke run

Setup: N evaluation images stored as 1024×1024 8-bit PNG files (random smooth images with
noise, ~600 kB each, generated here in a temp folder), the demo model (smallcnn, random
init per seed) at 64×64, l1_global pruning at 0, 5, …, 95%.

- reference: what the paper's code does, per (seed, sparsity): re-create the model, load the
  seed's weights, prune with torch.nn.utils.prune.global_unstructured (L1Unstructured, hooks),
  and predict through a torch DataLoader whose dataset opens, decodes and resizes every PNG.
- ours: decode the PNGs once into the uint8 cache (core.data.images.build_cache), then
  core.predict.predict_grid per seed (pixels preprocessed once, masks from one sort, pruned
  in place).
- bare: the forward passes alone: 60 models × N images on pre-decoded, preprocessed tensors,
  no pruning, no decoding — the practical limit on this machine.

Outputs are compared (max |ours − reference| over every seed, sparsity, image and class;
ours are float16). A results section is appended to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning (set before torch loads libgomp): on a
# shared 2-core machine spinning made every variant several times slower (see core.study).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.utils.prune as tprune  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import models  # noqa: E402
from core.data.images import FileSource, build_cache  # noqa: E402
from core.predict import predict_grid  # noqa: E402
from core.threads import flush_denormals  # noqa: E402

SPARSITIES = list(range(0, 100, 5))
CLASSES = 15
SIZE = 64
sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import RESULTS, append_to_section  # noqa: E402


# --------------------------------------------------------------------------- inputs
def make_png(path: Path, index: int, png_size: int) -> None:
    """A smooth random 'radiograph-like' image with mild noise (realistic PNG size)."""
    rng = np.random.default_rng(index)
    low = Image.fromarray((rng.random((12, 12)) * 255).astype(np.uint8))
    smooth = np.asarray(low.resize((png_size, png_size), Image.Resampling.BICUBIC), np.float32)
    img = np.clip(smooth + rng.normal(0, 3, smooth.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, format="PNG")


def make_images(root: Path, n: int, png_size: int) -> pd.DataFrame:
    root.mkdir(parents=True, exist_ok=True)
    names = [f"img{i:05d}.png" for i in range(n)]
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(lambda i: make_png(root / names[i], i, png_size), range(n)))
    return pd.DataFrame({"id": [f"img{i}" for i in range(n)], "path": names})


def make_weights(root: Path, seeds: int) -> list[Path]:
    paths = []
    for s in range(seeds):
        torch.manual_seed(s)
        model = models.create("smallcnn", CLASSES)
        p = root / f"seed-{s}.safetensors"
        models.save_model(p, model, {"architecture": "smallcnn",
                                     "classes": [f"c{i}" for i in range(CLASSES)]})
        paths.append(p)
    return paths


# --------------------------------------------------------------------------- reference
class PngDataset(torch.utils.data.Dataset):
    """Decodes and resizes one PNG per item, every time (the reference's data path)."""

    def __init__(self, root: Path, names: list[str], spec):
        self.root, self.names, self.spec = root, names, spec

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        with Image.open(self.root / self.names[i]) as im:
            img = im.convert("L").resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())
        return models.preprocess(x[None], self.spec)[0]


def reference(root: Path, names, weights, spec, batch_size, workers, n_models):
    """Returns ({(seed, sparsity): probs float32 [N, C]}, seconds)."""
    loader = torch.utils.data.DataLoader(PngDataset(root, names, spec), batch_size=batch_size,
                                         shuffle=False, num_workers=workers)
    out, done = {}, 0
    t0 = time.perf_counter()
    for s, w in enumerate(weights):
        for k in SPARSITIES:
            if done == n_models:
                break
            model, _ = models.load_model(w)  # re-created and re-loaded for every model
            params = [(m, "weight") for m in model.modules()
                      if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
            if k:
                tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured,
                                           amount=k / 100)
            probs = []
            with torch.inference_mode():
                for x in loader:
                    probs.append(torch.sigmoid(model(x)))
            out[(s, k)] = torch.cat(probs).numpy()
            done += 1
    return out, time.perf_counter() - t0


# --------------------------------------------------------------------------- ours / bare
def ours_cache(root: Path, rows: pd.DataFrame, cache_path: Path):
    t0 = time.perf_counter()
    cache, _ = build_cache(FileSource(root), rows, SIZE, cache_path, progress=False)
    return cache, time.perf_counter() - t0


def ours_grid(cache, weight, spec, batch_size, seed: int):
    """(predictions of one seed, seconds): weights loaded, all 20 sparsities predicted."""
    t0 = time.perf_counter()
    model, _ = models.load_model(weight)
    grid = predict_grid(model, spec, cache, ["l1_global"], SPARSITIES, seed=seed, device="cpu",
                        batch_size=batch_size, progress=False)
    return grid["l1_global"][0], time.perf_counter() - t0


def bare(x, model, batch_size) -> float:
    """The forward passes alone on preprocessed tensors (20 per model, N images each)."""
    t0 = time.perf_counter()
    # same denormal setting as predict_grid, so the two differ only by what predict_grid adds
    with torch.inference_mode(), flush_denormals(torch.device("cpu")):
        for _ in SPARSITIES:
            for i in range(0, len(x), batch_size):
                model(x[i:i + batch_size])
    return time.perf_counter() - t0


def warm_up(spec, batch_size: int) -> None:
    """One throw-away forward pass: oneDNN picks and JITs its kernels on the first call,
    which would otherwise be charged to whichever variant runs first."""
    model = models.create("smallcnn", CLASSES).eval()
    with torch.inference_mode():
        model(torch.zeros(batch_size, spec.in_chans, SIZE, SIZE))


# --------------------------------------------------------------------------- CUDA
def cuda_bench(n_eval: int = 2048, n_train: int = 4096, batch_size: int = 256) -> dict:
    """ResNet50 at 256×256 on the GPU: prediction-grid and training throughput (images/s)."""
    from core.config import StudyConfig
    from core.train import train_seed

    dev = torch.device("cuda")
    rng = np.random.default_rng(0)
    c, size = 20, 256
    spec = models.spec("resnet50")
    ev = rng.integers(0, 256, (n_eval, size, size), dtype=np.uint8)
    torch.manual_seed(0)
    model = models.create("resnet50", c)
    # warm-up: cuDNN autotuning, allocator
    predict_grid(model, spec, ev[:256], ["l1_global"], [0, 50], seed=0, device=dev,
                 batch_size=batch_size, progress=False, channels_last=True)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    grid = predict_grid(model, spec, ev, ["l1_global"], SPARSITIES, seed=0, device=dev,
                        batch_size=batch_size, progress=False, channels_last=True)
    torch.cuda.synchronize()
    t_grid = time.perf_counter() - t0
    cpu_dense = None
    if n_eval >= 64:  # AMP outputs vs float32 on the same GPU, dense model, 64 images
        fp32 = predict_grid(model, spec, ev[:64], ["l1_global"], [0], seed=0, device=dev,
                            batch_size=64, progress=False, amp=False)
        cpu_dense = float(np.abs(fp32["l1_global"][0][0].astype(np.float32)
                                 - grid["l1_global"][0][0, :64].astype(np.float32)).max())
    tx = rng.integers(0, 256, (n_train, size, size), dtype=np.uint8)
    ty = (rng.random((n_train, c)) < 0.1).astype(np.float32)
    cfg = StudyConfig.from_dict({"model": "resnet50", "train": {
        "epochs": 2, "batch_size": batch_size, "patience": 5, "device": "cuda",
        "num_workers": 4}}, validate=False)
    _, hist, info = train_seed(cfg, classes=[f"c{i}" for i in range(c)], train_images=tx,
                               train_labels=ty, val_images=tx[:512], val_labels=ty[:512],
                               seed=0, device=dev, progress=False)
    # epoch 2 excludes the first epoch's autotuning and allocator warm-up
    t_epoch2 = float(hist["seconds"].iloc[-1])
    return {"card": torch.cuda.get_device_name(0), "torch": torch.__version__,
            "amp_dtype": info["amp_dtype"], "grid_images": n_eval,
            "grid_models": len(SPARSITIES), "grid_s": round(t_grid, 2),
            "grid_images_per_s": round(n_eval * len(SPARSITIES) / t_grid),
            "amp_vs_fp32_max_abs_diff": cpu_dense,
            "train_images": n_train, "train_epoch_s": round(t_epoch2, 2),
            "train_images_per_s": round(n_train / t_epoch2),
            "batch_size": batch_size}


def append_cuda_results(r: dict) -> None:
    grid = (f"prediction grid: {r['grid_models']} sparsities × {r['grid_images']} images, "
            "l1_global (pruning included)")
    train = (f"training (epoch 2 of {r['train_images']} images: BCE + Adam, flip/rotation "
             "on the GPU, val pass included)")
    text = "\n".join([
        "", f"`python benchmarks/bench_predict.py --cuda` — {dt.date.today().isoformat()}, card: "
        f"**{r['card']}** (torch {r['torch']}, autocast {r['amp_dtype']} for training and "
        "float16 for prediction, channels-last), "
        f"ResNet50 at 256×256, 20 classes, batch {r['batch_size']}, random pixels.", "",
        "| | images/s |", "|---|---:|",
        f"| {grid} | {r['grid_images_per_s']} |",
        f"| {train} | {r['train_images_per_s']} |", "",
        "Float16 autocast vs float32 outputs of the dense (random-init) model, 64 images: "
        f"max |Δ sigmoid| = {r['amp_vs_fp32_max_abs_diff']:.1e}.", ""])
    append_to_section("## Prediction grid and training on CUDA", text)
    print(f"appended to {RESULTS}")


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--png-size", type=int, default=1024)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="reference DataLoader workers (default: one per core)")
    p.add_argument("--ref-models", type=int, default=0,
                   help="time only this many reference models and extrapolate (0 = all)")
    p.add_argument("--repeats", type=int, default=2,
                   help="time predict_grid and the bare passes this many times, keep the best "
                        "(the machine is shared; the reference is timed once)")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the reference loop (quick check of ours vs bare)")
    p.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    p.add_argument("--cuda", action="store_true",
                   help="ResNet50 prediction-grid and training throughput on the GPU")
    p.add_argument("--json-out", help="also write the results as JSON here")
    p.add_argument("--append-cuda", metavar="JSON",
                   help="append the CUDA section from a --cuda --json-out file and exit")
    args = p.parse_args(argv)
    if args.append_cuda:
        append_cuda_results(json.loads(Path(args.append_cuda).read_text()))
        return 0
    if args.cuda:
        res = cuda_bench()
        print(json.dumps(res, indent=2))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(res))
        if not args.no_write:
            append_cuda_results(res)
        return 0

    spec = models.spec("smallcnn")
    n_models = args.seeds * len(SPARSITIES)
    n_ref = args.ref_models or n_models
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        rows = make_images(tmp / "png", args.images, args.png_size)
        weights = make_weights(tmp, args.seeds)
        mb = sum(f.stat().st_size for f in (tmp / "png").iterdir()) / 1e6
        print(f"{args.images} PNGs ({mb:.0f} MB) made in {time.perf_counter() - t0:.1f} s",
              flush=True)

        warm_up(spec, args.batch_size)
        cache, t_cache = ours_cache(tmp / "png", rows, tmp / "cache.npy")
        x = models.preprocess(torch.from_numpy(np.array(cache)), spec)
        loaded = [models.load_model(w)[0] for w in weights]
        # Interleaved per seed and best-of per seed: the machine is shared, and load spikes
        # from other jobs last seconds, so both variants see the same conditions.
        grid_s = [float("inf")] * len(weights)
        bare_s = [float("inf")] * len(weights)
        got = {}
        for _ in range(args.repeats):
            for s, w in enumerate(weights):
                got[s], t = ours_grid(cache, w, spec, args.batch_size, s)
                grid_s[s] = min(grid_s[s], t)
                bare_s[s] = min(bare_s[s], bare(x, loaded[s], args.batch_size))
        t_grid, t_bare = sum(grid_s), sum(bare_s)
        t_ours = t_cache + t_grid
        print(f"ours: cache {t_cache:.1f} s + grid {t_grid:.1f} s = {t_ours:.1f} s; "
              f"bare forward passes {t_bare:.1f} s", flush=True)
        if args.no_reference:
            print(json.dumps({"grid_s": t_grid, "bare_s": t_bare,
                              "grid_over_bare": t_grid / t_bare}))
            return 0
        ref, t_ref = reference(tmp / "png", list(rows["path"]), weights, spec,
                               args.batch_size, args.workers, n_ref)
        t_ref_full = t_ref * n_models / n_ref
        print(f"reference: {t_ref:.1f} s for {n_ref} models"
              + (f" → {t_ref_full:.1f} s for {n_models}" if n_ref < n_models else ""),
              flush=True)
        diff = max(float(np.abs(got[s][SPARSITIES.index(k)].astype(np.float32) - v).max())
                   for (s, k), v in ref.items())
        del cache

    res = {
        "images": args.images, "seeds": args.seeds, "sparsities": len(SPARSITIES),
        "png_size": args.png_size, "batch_size": args.batch_size, "ref_workers": args.workers,
        "reference_s": round(t_ref_full, 1), "reference_models_timed": n_ref,
        "ours_s": round(t_ours, 1), "ours_cache_s": round(t_cache, 1),
        "ours_grid_s": round(t_grid, 1), "bare_s": round(t_bare, 1), "repeats": args.repeats,
        "speedup": round(t_ref_full / t_ours, 1),
        "grid_over_bare": round(t_grid / t_bare, 3),
        "max_abs_diff": diff,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }
    print(json.dumps(res, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(res))
    if not args.no_write:
        append_results(res)
    return 0


def append_results(r: dict) -> None:
    cpu = platform.processor() or platform.machine()
    n_models = r["seeds"] * r["sparsities"]
    extrap = ("" if r["reference_models_timed"] == n_models else
              f" (timed on {r['reference_models_timed']} models, extrapolated)")
    ref = (f"reference: per model re-create + load + `torch.nn.utils.prune` hooks + "
           f"DataLoader decoding the PNGs ({r['ref_workers']} workers){extrap}")
    text = "\n".join([
        "", f"`python benchmarks/bench_predict.py` — {dt.date.today().isoformat()}, machine: "
        f"2-core CPU ({cpu}, {r['threads']} torch threads, torch {r['torch']}), shared with "
        f"other jobs. {r['seeds']} seeds × {r['sparsities']} sparsities (l1_global) × "
        f"{r['images']} evaluation images stored as {r['png_size']}×{r['png_size']} PNG "
        f"files; smallcnn (random init) at 64×64, batch {r['batch_size']}.", "",
        "| | seconds |", "|---|---:|",
        f"| {ref} | {r['reference_s']} |",
        f"| ours: decode once into the uint8 cache | {r['ours_cache_s']} |",
        f"| ours: `predict_grid`, all {n_models} models (per seed best of {r['repeats']}) "
        f"| {r['ours_grid_s']} |",
        f"| **ours total** | **{r['ours_s']}** |",
        f"| bare forward passes on pre-decoded tensors, {n_models} models (per seed best of "
        f"{r['repeats']}) | {r['bare_s']} |",
        "",
        f"Speed-up over the reference: **{r['speedup']}×**. `predict_grid` / bare forward "
        f"passes: **{r['grid_over_bare']}** (the one-time decode is left out of this ratio: it "
        "is paid once per study, not per model). Same outputs: max |ours − reference| = "
        f"{r['max_abs_diff']:.1e} over every seed, sparsity, image and class (ours are stored "
        "as float16).", ""])
    append_to_section("## Prediction grid", text)
    print(f"appended to {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
