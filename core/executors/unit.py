"""A unit of work: the data an executor hands to the function it was given.

A unit is (config, study folder, seed): everything the function needs, nothing from the
process that submitted it. The study gives its executor `core.study.seed_unit.execute_unit`,
which reopens the shared image caches and labels from the folder, runs the seed and writes
every output atomically, so running a unit twice, or on another machine, gives the same
files. Executors know units and folders, never the study's code.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from core.errors import StudyError
from core.store import STUDY_JSON


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
    """The study folder, when this host can see it.

    A worker on a machine without the shared filesystem must fail at once, not hang.

    Args:
        root (str | Path): the study folder.

    Returns:
        Path: `root`.

    Raises:
        StudyError: naming the folder and this host when study.json is not there.
    """
    root = Path(root)
    if not (root / STUDY_JSON).is_file():
        raise StudyError(f"{socket.gethostname()}: cannot see the study folder {root} "
                         f"({STUDY_JSON} is not there); every machine that runs units must "
                         "see it at this same path (a shared filesystem)")
    return root


def preload(modules) -> int:
    """Import `modules` into this process: a worker's warm-up.

    The caller names what its units import (core.study.seed_unit.UNIT_MODULES).

    Args:
        modules (Iterable[str]): module names.

    Returns:
        int: this process's pid.
    """
    import importlib
    import os

    for name in modules:
        importlib.import_module(name)
    return os.getpid()
