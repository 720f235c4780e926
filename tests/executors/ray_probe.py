"""A unit function for the placement test: records where Ray placed it, computes nothing.

A module of its own (not the test module) so that Ray workers can import it by name."""
from __future__ import annotations

import time

HOLD_SECONDS = 1.5  # long enough that units placed on one GPU id overlap


def hold_and_report(unit, *, device, threads, placement):
    time.sleep(HOLD_SECONDS)
    return {"seed": unit.seed, "skipped": False, "seconds": HOLD_SECONDS,
            "device": str(device), "threads": threads,
            "placement": {**placement, "end": time.time()}}
