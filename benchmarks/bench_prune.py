"""Pruning ResNet50 at the 19 non-zero sparsities (5, 10, …, 95 %): PruneLens vs the reference.

    python benchmarks/bench_prune.py                    # CPU, distinct weight magnitudes
    python benchmarks/bench_prune.py --weights kaiming  # torchvision's init: tied magnitudes
    python benchmarks/bench_prune.py --device cuda --no-write

- reference (what the paper's code does, per sparsity): re-create ResNet50, load the dense
  state dict, `torch.nn.utils.prune.global_unstructured(..., L1Unstructured, amount=k/100)`
  over every Conv2d/Linear weight, `prune.remove`.
- ours: one `core.pruning.pruned_sequence` over all 19 sparsities (one sort of the magnitudes,
  masks applied in place, dense weights restored at the end), setup and restore included.

Only the pruning work is timed; the checks run outside the clock. At every sparsity our masks
(`masks_for`) must equal the reference's `weight_mask`s and our pruned weights must be bit for
bit the reference's (both compared by sha256), and the dense weights must come back exactly.

Weights: `distinct` fills the Conv/Linear weights with distinct float32 magnitudes (log-spread
over 8 octaves, random signs), so no sparsity falls on a tie; `kaiming` keeps torchvision's
init, whose float32 magnitudes tie at some thresholds (and hold a few exact zeros), where
torch's own topk must decide (`topk fallbacks` column).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils import prune as tprune

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import models, pruning  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from results_md import RESULTS, append_to_section  # noqa: E402

SECTION = "## Pruning ResNet50 at 19 sparsities"
HEADER = ("| machine | date | weights | reference s | ours s | ratio | masks identical "
          "| topk fallbacks |\n|---|---|---|---:|---:|---:|---|---|")
SPARSITIES = list(range(5, 100, 5))


def fill_distinct(model: torch.nn.Module, seed: int = 0) -> None:
    """Distinct magnitudes by construction: distinct float32 bit patterns in [2^-10, 2^-2)."""
    named = pruning.prunable_parameters(model)
    n = sum(p.numel() for _, p in named)
    gen = torch.Generator().manual_seed(seed)
    span = 8 << 23                      # 8 octaves × 2^23 mantissas ≥ 23.5M weights
    offsets = torch.randperm(span, generator=gen)[:n].to(torch.int32)
    mags = (offsets + 0x3A800000).view(torch.float32)          # 0x3A800000 = 2^-10
    signs = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    flat, start = mags * signs, 0
    with torch.no_grad():
        for _, p in named:
            p.copy_(flat[start:start + p.numel()].view(p.shape))
            start += p.numel()


def digest(masks) -> str:
    """sha256 of the concatenated boolean keep-masks (True = kept)."""
    flat = torch.cat([m.detach().reshape(-1).bool().cpu() for m in masks])
    return hashlib.sha256(np.packbits(flat.numpy()).tobytes()).hexdigest()


def weights_digest(params) -> str:
    """sha256 of the weights' bits (negative zeros included)."""
    flat = torch.cat([p.detach().reshape(-1).cpu() for p in params])
    return hashlib.sha256(flat.numpy().tobytes()).hexdigest()


def reference(state: dict, device: str) -> tuple[float, dict[int, str], dict[int, str]]:
    timed, digests, wdigests = 0.0, {}, {}
    for k in SPARSITIES:
        t0 = time.perf_counter()
        model = models.create("resnet50", 20)
        model.load_state_dict(state)
        model.to(device)
        mods = dict(model.named_modules())
        pairs = [(mods[n.rpartition(".")[0]], "weight")
                 for n, _ in pruning.prunable_parameters(model)]
        tprune.global_unstructured(pairs, pruning_method=tprune.L1Unstructured, amount=k / 100)
        _sync(device)
        timed += time.perf_counter() - t0
        digests[k] = digest(m.weight_mask for m, _ in pairs)     # outside the clock
        t0 = time.perf_counter()
        for m, name in pairs:
            tprune.remove(m, name)
        _sync(device)
        timed += time.perf_counter() - t0
        wdigests[k] = weights_digest(m.weight for m, _ in pairs)   # outside the clock
        print(f"  reference {k:2d}%: {timed:6.1f} s so far", flush=True)
    return timed, digests, wdigests


def ours(model: torch.nn.Module, device: str) -> tuple[float, dict[int, str], list[int]]:
    """Time the sequence; digest the pruned weights at each sparsity outside the clock."""
    params = [p for _, p in pruning.prunable_parameters(model)]
    seq = pruning.pruned_sequence(model, "l1_global", SPARSITIES)
    it, timed, wdigests = iter(seq), 0.0, {}
    while True:
        t0 = time.perf_counter()
        try:
            k, measured = next(it)        # prunes in place (the first call also sorts)
        except StopIteration:             # the last call restores the dense weights
            _sync(device)
            timed += time.perf_counter() - t0
            break
        _sync(device)
        timed += time.perf_counter() - t0
        wdigests[k] = weights_digest(params)
    return timed, wdigests, seq.fallback_sparsities


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads (torch {torch.__version__})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    ap.add_argument("--weights", choices=["distinct", "kaiming"], default="distinct")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = models.create("resnet50", 20)
    if args.weights == "distinct":
        fill_distinct(model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.to(args.device)
    n = sum(p.numel() for _, p in pruning.prunable_parameters(model))
    print(f"ResNet50: {n:,} prunable weights, {args.weights} magnitudes, {args.device}")

    print("reference: per sparsity re-create, load, global_unstructured, remove")
    ref_s, ref_masks, ref_weights = reference(state, args.device)
    print("ours: one pruned_sequence over all 19 sparsities")
    dense_bits = weights_digest(p for _, p in pruning.prunable_parameters(model))
    our_s, our_weights, fallbacks = ours(model, args.device)
    restored = weights_digest(p for _, p in pruning.prunable_parameters(model)) == dense_bits
    restored &= all(torch.equal(v.cpu(), state[k]) for k, v in model.state_dict().items())
    # The masks themselves (dense zeros included), from the same plan, outside the clock.
    masks = pruning.masks_for(model, "l1_global", SPARSITIES)
    same_masks = all(digest(masks[k].values()) == ref_masks[k] for k in SPARSITIES)
    same_weights = our_weights == ref_weights
    identical = same_masks and same_weights
    ratio = ref_s / our_s
    print(f"reference {ref_s:.1f} s, ours {our_s:.2f} s, {ratio:.0f}× faster; masks identical "
          f"at every sparsity: {same_masks}; pruned weights bit-identical: {same_weights}; "
          f"dense weights restored bit-exactly: {restored}; "
          f"sparsities decided by topk (ties): {fallbacks or 'none'}")
    row = (f"| {machine(args.device)} | {dt.date.today()} | {args.weights} | {ref_s:.1f} "
           f"| {our_s:.2f} | {ratio:.0f}× | {'yes' if identical else 'NO'} "
           f"| {', '.join(map(str, fallbacks)) or 'none'} |")
    print(row)
    if not args.no_write:
        append_to_section(SECTION, row,
                          preamble=f"`python benchmarks/bench_prune.py`\n\n{HEADER}")
        print(f"appended to {RESULTS}")
    return 0 if identical and restored else 1


if __name__ == "__main__":
    sys.exit(main())
