"""Structured channel pruning's measured speed: CPU latency per image of ResNet50 at 256 px.

One run times the dense model and `channel_l1_global` / `channel_l1_uniform` at 30 / 50 / 70 %
of prunable parameters removed, side by side, interleaved round by round (so a change in the
machine's load hits every model alike), and reports the median per model and the speed-up
over dense (ratio of medians), with the max of the rounds next to each median. Random
weights: latency depends on the shapes, not the values (denormals are flushed as in the
study's inference). Batch 1 (one image at a time) and batch 8 (per image). The load average
is read before and after: on a shared machine, run it under a lock file that every timing
run of the machine takes (LOCK below), so no two benchmarks overlap.

    flock LOCK python benchmarks/bench_structured.py [--rounds 7] [--no-write]
"""
from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.results_md import append_to_section  # noqa: E402
from core import models, pruning  # noqa: E402
from core.pruning.structured import prunable_count  # noqa: E402
from core.threads import flush_denormals  # noqa: E402

SECTION = "## Structured pruning: CPU latency of ResNet50 (256 px)"


def _time(net, x) -> float:
    with torch.inference_mode():
        t0 = time.perf_counter()
        net(x)
        return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    load_before = os.getloadavg()
    torch.manual_seed(0)
    dense = models.create("resnet50", 15).eval()
    x1 = torch.randn(1, 3, 256, 256)
    xb = torch.randn(args.batch, 3, 256, 256)
    nets = {("dense", 0): (dense, 0.0)}
    for method in ("channel_l1_global", "channel_l1_uniform"):
        with pruning.sequence(dense, method, [0, 30, 50, 70], seed=0, example_input=x1) as seq:
            for k, measured, net in seq:
                if k:
                    nets[(method, k)] = (copy.deepcopy(net).eval(), measured)
    times = {key: ([], []) for key in nets}
    with flush_denormals(torch.device("cpu")):
        for net, _ in nets.values():   # warm-up
            _time(net, x1)
            _time(net, xb)
        for _ in range(args.rounds):
            for key, (net, _) in nets.items():
                times[key][0].append(_time(net, x1))
                times[key][1].append(_time(net, xb) / args.batch)
    load_after = os.getloadavg()
    base1 = statistics.median(times[("dense", 0)][0])
    baseb = statistics.median(times[("dense", 0)][1])
    total = prunable_count(dense)
    lines = []
    for key, (net, measured) in nets.items():
        t1, tb = times[key]
        b1, bb = statistics.median(t1), statistics.median(tb)
        lines.append(f"| {key[0]} | {key[1]} | {measured:.3f} | {prunable_count(net) / 1e6:.2f} "
                     f"| {1000 * b1:.1f} / {1000 * max(t1):.1f} | {base1 / b1:.2f}× "
                     f"| {1000 * bb:.1f} / {1000 * max(tb):.1f} | {baseb / bb:.2f}× |")
    load = " / ".join(" ".join(f"{v:.2f}" for v in la) for la in (load_before, load_after))
    head = (f"### {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · "
            f"{platform.machine()} {platform.processor() or 'cpu'}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads\n\n"
            f"`python benchmarks/bench_structured.py --rounds {args.rounds} --batch "
            f"{args.batch}`: {args.rounds} interleaved rounds (trials) per model, batch 1 and "
            f"batch {args.batch}; dense prunable weights {total / 1e6:.2f}M. Load average "
            f"(1/5/15 min) before / after: {load}. Ratios are of medians measured side by "
            "side in this one run.\n\n| method | k % | measured fraction removed "
            "| prunable weights (M) | batch 1 ms/image median / max | speed-up "
            f"| batch {args.batch} ms/image median / max | speed-up |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|")
    body = head + "\n" + "\n".join(lines) + "\n"
    print(body)
    if not args.no_write:
        append_to_section(SECTION, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
