"""The study runner, split by job: shared data once, then one unit of work per seed, then
finalisation.

    prepare.py    check the config and the folder, build the image caches, write data/ and
                  study.json (`prepare`)
    seed_unit.py  one seed's unit: train → predict every method → mark (`run_unit`), and
                  `execute_unit`, the function an executor is given to run a unit
    markers.py    the units' bookkeeping both sides use (`unit_is_done`, `mark`)
    run.py        the coordinator: `run_study` hands the units to an executor, then
                  `finalize_study` (analysis + manifest)

The executors (core/executors) run the function they are given and never import the study.
The command-line entries (`python -m core study|demo`) are in core/cli.py.

Layout and resume rules are in docs/ARCHITECTURE.md ("The study store", "Units of work and
resume"). In short:
- every file is written atomically (temp + rename), so after a SIGKILL a file either exists
  whole or not at all; stale temp files are removed at the start of a run;
- the image caches (cache/) are complete when their `.json` key file exists and matches the
  dataset, image size and row ids (the key is written after the .npy);
- study.json is written after the data/ files, so its existence means they are complete;
  it also pins the config: a folder holding a study with a different config is refused;
- a seed is done when units/seed-<s>.json exists, lists the dense model's validation
  predictions and the sha256 of every file it lists still matches; anything else is redone.
  units/seed-<s>.trained.json marks the trained weights alone, so a run killed while
  predicting does not train again; a unit finished before validation predictions existed
  (its marker verifies but does not list them) gets only those added, from its weights;
- the data/ files and study.json are one more unit, marked by units/data.json (it must list
  every file of `prepare.data_files`, so a study begun before data/val_labels.parquet gets it);
- finalisation (analysis, then manifest.json last) runs once every seed of the config is
  done — seeds may be run by separate processes on separate GPUs or machines (`only_seeds`,
  `finalize=False`) and finalised by one last call. The manifest lists exactly the files the
  markers list (re-checked) plus the analysis just written: nothing else on disk is sealed;
- a run holds the study's lock (core.lock): exclusive for a whole-study run and for
  finalisation, shared for an `only_seeds` run, so job-array tasks run side by side but never
  beside a coordinator; stale temp files are only removed under the exclusive lock.
"""
from __future__ import annotations

from core.study.prepare import (
    EXECUTION_KEYS,
    check_config,
    code_version,
    config_differences,
    ensure_cache,
    image_size_of,
    prepare,
)
from core.study.run import finalize_study, run_study
from core.study.seed_unit import execute_unit, open_data, run_unit

__all__ = ["EXECUTION_KEYS", "check_config", "code_version", "config_differences",
           "ensure_cache", "execute_unit", "finalize_study", "image_size_of", "open_data",
           "prepare", "run_study", "run_unit"]
