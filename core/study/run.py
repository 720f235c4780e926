"""The study's coordinator: `run_study` prepares the folder, hands the unfinished units to an
executor (core/executors: it runs `seed_unit.execute_unit`, the function it is given), and
`finalize_study` writes the analysis and the manifest once every seed is done. See
core/study/__init__.py for the resume and locking rules."""
from __future__ import annotations

import time
from pathlib import Path

from core import lock, store
from core.analysis import analyze_study
from core.config import StudyConfig
from core.errors import ConfigError, StudyError, StudyLockedError
from core.executors import LocalExecutor, Unit
from core.pruning.cost import write_cost_table
from core.store import StudyPaths
from core.study.markers import say, unit_is_done
from core.study.prepare import check_config, check_not_foreign, prepare
from core.study.seed_unit import execute_unit
from core.threads import torch_threads
from core.train import resolve_device

__all__ = ["finalize_study", "run_study"]


def _checked_marker_files(paths: StudyPaths, markers: list[Path]) -> dict[str, dict]:
    """{file: {"sha256"}} of every file the markers list, each re-checked against its hash
    (StudyError naming the marker when one no longer matches)."""
    files: dict[str, dict] = {}
    for marker in markers:
        if not unit_is_done(paths, None, marker):
            raise StudyError(f"{marker}: its files changed after they were written; run the "
                             "study again to redo that unit")
        files.update({rel: {"sha256": sha}
                      for rel, sha in store.read_json(marker)["files"].items()})
    return files


def finalize_study(paths: StudyPaths, cfg: StudyConfig) -> bool:
    """Analysis and manifest.json, once every seed's unit is done.

    Under the study's exclusive lock. The manifest lists the files of the data and seed
    markers (re-checked) and the analysis tables just written, nothing else.

    Args:
        paths (StudyPaths): the study folder.
        cfg (StudyConfig): its config (which seeds must be done).

    Returns:
        bool: True when the study was finalised, False when seeds are still to run.
    """
    missing = [seed for seed in cfg.seeds if not unit_is_done(paths, seed)]
    if missing:
        say(f"not finalised: seed(s) {missing} still to run")
        return False
    with lock.study_lock(paths.root):
        store.clean_temp_files(paths.root)
        markers = [paths.data_marker] + [paths.unit_done(seed) for seed in cfg.seeds]
        checked = _checked_marker_files(paths, markers)
        say("analysing")
        with store.record_writes() as written:
            write_cost_table(paths.root, cfg.seeds)   # metrics/cost.parquet
            analyze_study(paths.root, log=lambda msg: say(f"  {msg}"))
        store.write_manifest(paths.root, {**checked, **written})
    return True


def run_study(cfg: StudyConfig, out_dir, progress: bool = True, only_seeds=None,
              finalize: bool = True, executor=None) -> Path:
    """Run (or resume) a study into `out_dir`.

    `train.threads` applies inside the call only (the caller's thread count comes back).

    Args:
        cfg (StudyConfig): the validated config.
        out_dir (str | Path): the study folder (created, or resumed when it holds the same
            config).
        progress (bool): show progress bars.
        only_seeds (Iterable[int] | None): run just these seeds of the config (to spread
            seeds over GPUs/machines).
        finalize (bool): write analysis and manifest when all seeds are done.
        executor (Executor | None): what runs the unfinished units (core.executors;
            default: this process).

    Returns:
        Path: the study folder.

    Raises:
        core.errors.StudyLockedError: another coordinator holds the folder (the executor's
            workers write without the lock: the coordinator holds it for them).
    """
    with torch_threads(cfg.train.threads or None):
        return _run_study(cfg, out_dir, progress, only_seeds, finalize, executor)


def _run_study(cfg: StudyConfig, out_dir, progress: bool, only_seeds, finalize: bool,
               executor) -> Path:
    check_config(cfg)
    if only_seeds is not None:
        unknown = sorted(set(only_seeds) - set(cfg.seeds))
        if unknown:
            raise ConfigError(f"only_seeds: {unknown} not among the config's seeds {cfg.seeds}")
    # local: the device is checked before any work; a Ray worker resolves its own
    executor = executor or LocalExecutor(resolve_device(cfg.train.device))
    out = Path(out_dir)
    check_not_foreign(out)
    t0 = time.perf_counter()
    # A subset run shares the folder with other subset runs (a scheduler's job array): it
    # takes the lock shared, and leaves finalisation to an exclusive hold afterwards.
    with lock.study_lock(out, shared=only_seeds is not None):
        if only_seeds is None and (out / store.STUDY_JSON).is_file():
            n = store.clean_temp_files(out)   # no other writer can be running: we hold it
            if n:
                say(f"removed {n} stale temp file(s) left by an interrupted run")
        paths = prepare(cfg, out, progress)[0]
        seeds = list(cfg.seeds if only_seeds is None else only_seeds)
        todo = []
        for seed in seeds:
            if unit_is_done(paths, seed):
                say(f"seed {seed}: already done, skipped")
            else:
                todo.append(Unit(cfg.to_dict(), str(paths.root), seed, progress))
        # a unit reopens the caches from the folder by itself: the same code wherever it runs
        executor.run(todo, execute_unit)
        if finalize and only_seeds is None and finalize_study(paths, cfg):
            say(f"study finished in {time.perf_counter() - t0:.1f} s: {paths.root}")
    if finalize and only_seeds is not None:
        try:
            done = finalize_study(paths, cfg)
        except StudyLockedError as exc:
            say(f"not finalised now: {exc}; the last run to finish finalises (or run "
                "the whole study again)")
            done = False
        if done:
            say(f"study finished in {time.perf_counter() - t0:.1f} s: {paths.root}")
    return paths.root
