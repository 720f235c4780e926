"""The OpenMP wait policy of this process, set before torch is first imported.

A leaf that imports nothing (least of all torch): the study and experiment commands call it
first thing.
"""
from __future__ import annotations

import os
import sys

__all__ = ["passive_omp_threads"]


def passive_omp_threads() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    On a CPU shared with other jobs, spinning threads burn the time slices their partners
    need: measured on the 2-core machine next to one busy process, pruning + prediction with
    2 threads ran 7–40× slower than with 1, and as fast as expected with PASSIVE. libgomp
    reads the variable when torch is loaded, so this only acts before the first torch import
    (which is why the CLI imports the study inside its command, after calling this).
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
