"""A unit of work as a pure function of (config, study folder, seed).

A unit needs nothing from the process that submitted it: it checks it can see the study
folder, reopens the shared image caches and labels that `core.study.prepare` wrote there,
and runs `core.study.run_unit`, which writes every output atomically and marks the unit
done. Running it twice, or on another machine, gives the same files.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Unit:
    """One seed of a study: train → predict every method and sparsity."""

    config: dict          # StudyConfig.to_dict() of this run (execution keys included)
    root: str             # the study folder, at the path every worker sees it
    seed: int
    progress: bool = False

    @property
    def key(self) -> str:
        return f"seed-{self.seed}"


def check_study_folder(root) -> Path:
    """The study folder, or StudyError naming it and this host when it is not visible here
    (a worker on a machine without the shared filesystem must fail at once, not hang)."""
    from core.errors import StudyError
    from core.store import STUDY_JSON

    root = Path(root)
    if not (root / STUDY_JSON).is_file():
        raise StudyError(f"{socket.gethostname()}: cannot see the study folder {root} "
                         f"({STUDY_JSON} is not there); every machine that runs units must "
                         "see it at this same path (a shared filesystem)")
    return root


# What a unit imports on its way (most of it lazily, inside functions): loaded at once by
# `preload`, so that a worker's start-up can be paid, and timed, before its first unit.
UNIT_MODULES = ("torch", "core.study", "core.train", "core.predict", "core.prune", "core.cost",
                "core.models", "core.predictions", "core.data.images", "core.regimes",
                "safetensors.torch", "torch.utils.flop_counter", "tqdm.auto")


def preload() -> int:
    """Import every module of UNIT_MODULES into this process; returns its pid. Architectures
    or methods with their own packages (torchvision models, torch_pruning) still load on
    first use."""
    import importlib
    import os

    for name in UNIT_MODULES:
        importlib.import_module(name)
    return os.getpid()


def execute_unit(unit: Unit, *, device=None, threads: int | None = None,
                 placement: dict | None = None) -> dict:
    """Run `unit` (skipped when already done); returns what the driver reports about it.

    `device`: a torch device or None (the config's `train.device`); `threads`: torch
    threads for the unit (None: unchanged); `placement`: recorded in the unit's marker."""
    import time

    from core import store, study
    from core.config import StudyConfig
    from core.store import StudyPaths
    from core.threads import torch_threads
    from core.train import resolve_device

    root = check_study_folder(unit.root)
    paths = StudyPaths(root)
    result = {"seed": unit.seed, "placement": placement}
    if study.unit_is_done(paths, unit.seed):
        return {**result, "skipped": True, "seconds": 0.0, "device": None}
    cfg = StudyConfig.from_dict(unit.config)
    classes = store.read_json(paths.study_json)["classes"]
    data = study.open_data(paths)
    device = device if device is not None else resolve_device(cfg.train.device)
    t0 = time.perf_counter()
    with torch_threads(threads):
        import torch

        n_threads = torch.get_num_threads()  # what the unit really runs with (benchmarks)
        study.run_unit(cfg, paths, classes, data, unit.seed, device, unit.progress, placement)
    return {**result, "skipped": False, "seconds": time.perf_counter() - t0,
            "device": str(device), "torch_threads": n_threads}
