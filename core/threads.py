"""Scoped changes of torch's intra-op thread count.

`torch.set_num_threads` is not a local setting: it changes the calling thread's OpenMP
count *and* the count every thread started later begins with. The dashboard runs each
session in its own thread, so two sessions that each "save, set 1, restore" in overlapping
order could leave the process on one thread for good (B saves A's 1, A restores, B restores
the 1). `torch_threads(n)` keeps one process-wide saved value: the first block to enter
saves it, the last block to leave restores it; inside, each thread sets its own count.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_lock = threading.Lock()
_active = 0                 # blocks inside torch_threads, over all threads
_saved: int | None = None   # the count before the first of them entered


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with `n` torch threads (None or < 1: leave the count alone); the count
    is restored on exit, also when the block raises, and also when blocks of several
    threads overlap in any order."""
    global _active, _saved
    if n is None or n < 1:
        yield
        return
    with _lock:
        if _active == 0:
            _saved = torch.get_num_threads()
        _active += 1
        mine = torch.get_num_threads()
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            # the last block out puts back what the process had; an earlier one only its own
            torch.set_num_threads(_saved if _active == 0 else mine)
