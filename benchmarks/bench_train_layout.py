"""Training throughput of the demo's model on this CPU: layout × threads × processes.

Why the frequency experiment trains its two arms at once, one thread each, channels-last
(core/experiments/frequency.py). Four ways to use the machine's cores, measured one after
another in one run, on the demo's setting (smallcnn, 64 px, batch 128, flip + rotation,
Adam): full training steps (augmentation, forward, masked BCE, backward, step) on random
images, after warm-up steps.

- one process, torch's default thread count, default layout (what a study does);
- one process, default threads, channels-last;
- N processes at once, one thread each, default layout;
- N processes at once, one thread each, channels-last (the experiment's setting).

Reported: images per second summed over the processes, and each variant's ratio to the
first. Run it alone: other jobs on the machine change every row.

    python benchmarks/bench_train_layout.py [--steps 20] [--procs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = r"""
import json, sys, time, torch
threads, layout, steps = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
if threads:
    torch.set_num_threads(threads)
from core import models, train
torch.manual_seed(0)
cl = layout == "channels_last"
model = models.create("smallcnn", num_classes=15, pretrained=False)
if cl:
    model.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
gen = torch.Generator().manual_seed(0)
x = torch.randn(128, 1, 64, 64, generator=gen)
y = (torch.rand(128, 15, generator=gen) < 0.1).float()

def step():
    xb = train.augment_batch(x, gen, True, 15.0)
    if cl:
        xb = xb.contiguous(memory_format=torch.channels_last)
    loss = train.masked_bce_sum(model(xb), y) / y.numel()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()

for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    step()
print(json.dumps({"images_per_s": 128 * steps / (time.perf_counter() - t0),
                  "threads": torch.get_num_threads()}))
"""


def run(procs: int, threads: int, layout: str, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    ps = [subprocess.Popen([sys.executable, "-c", WORKER, str(threads), layout, str(steps)],
                           stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
          for _ in range(procs)]
    outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in ps]
    return {"procs": procs, "threads": outs[0]["threads"], "layout": layout,
            "images_per_s": sum(o["images_per_s"] for o in outs)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per process")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                    help="processes of the one-thread variants")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    rows = [run(1, 0, "default", args.steps), run(1, 0, "channels_last", args.steps),
            run(args.procs, 1, "default", args.steps),
            run(args.procs, 1, "channels_last", args.steps)]
    base = rows[0]["images_per_s"]
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {os.cpu_count()} CPUs · "
          f"load {tuple(round(v, 2) for v in load0)} → "
          f"{tuple(round(v, 2) for v in os.getloadavg())}")
    print("| processes × threads | layout | images/s (sum) | ratio to the first row |")
    print("|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['procs']} × {r['threads']} | {r['layout']} | {r['images_per_s']:.0f} | "
              f"{r['images_per_s'] / base:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
