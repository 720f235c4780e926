"""Scoped changes of process-wide torch settings: the intra-op thread count, one-thread loops
of small CPU ops (`one_cpu_thread`), denormal flushing (`flush_denormals`).

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
    """Run the block with `n` torch threads; the count is restored on exit, also when the
    block raises, and also when blocks of several threads overlap in any order.

    Args:
        n (int | None): threads for the block; None or < 1 leaves the count alone.

    Returns:
        Iterator[None]: a context manager.

    Example:
        >>> import torch
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
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


@contextmanager
def one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run a loop of per-layer CPU copies on one thread, restoring the thread count after.

    Measured on the shared 2-core CPU this project targets: ResNet50's 54 per-layer copies
    took 14 ms on one thread but 60–500 ms on two whenever other processes were running,
    because each parallel op waits for a descheduled OpenMP thread. Copies are memory bound,
    so one thread loses little on an idle machine; the few whole-model ops keep every thread.
    The thread count is process-wide, so it is scoped (`torch_threads`) and restored before
    any caller code runs. Used by unstructured and structured pruning (core.pruning).

    Args:
        device (torch.device): where the copies run; only "cpu" changes the thread count.

    Returns:
        Iterator[None]: a context manager.
    """
    with torch_threads(1 if device.type == "cpu" else None):
        yield


@contextmanager
def flush_denormals(device: torch.device) -> Iterator[None]:
    """Treat denormal floats as zero on the CPU for the duration.

    Trained (and pruned) models produce activations in the denormal range, which x86 CPUs
    compute on a slow path: a trained demo model ran 6–7× slower than a freshly initialised
    one until denormals were flushed. Values below 1e-38 do not change any sigmoid output.
    The flag is global, so it is switched off again after (torch's default). Used by
    training, prediction and cost measurement alike.

    Args:
        device (torch.device): only "cpu" sets the flag.

    Returns:
        Iterator[None]: a context manager.
    """
    on = device.type == "cpu" and torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if on:
            torch.set_flush_denormal(False)
