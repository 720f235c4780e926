"""`python -m core experiment frequency --out DIR`: frequency vs visual difficulty.

Two studies ("arms") on the same SynthCXR subsample, model, seeds and pruning; they differ
only in SynthCXR's `signature_map`: `identity` draws every label column with its own finding's
signature, `reversed` with the signature of the finding at the mirrored frequency rank (the
rarest column gets the commonest finding's signature, and so on). Each signature is thus seen
at two frequencies, and `core.experiments.frequency_effect` measures what that changes.
The plan and its reasons are in docs/experiments.md.

Each arm is an ordinary study (core.study.run_study: resumable, verified, analysed). Seeds
run interleaved (seed 0 of both arms, then seed 1, …) so that an interrupted run leaves
paired seeds; re-running the same command resumes and recomputes the tables.

Speed: both arms train at once (`jobs` = 2 processes), each on one torch thread in the
channels-last layout. On a 2-core CPU that trains ~1.35× as many images per second as one
process on both cores in the default layout (benchmarks/RESULTS.md). Both settings are in
the arms' configs whatever `jobs` is, so a seed trains to the same bits however the units
are scheduled.
"""
from __future__ import annotations

import contextlib
import copy
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

from core import store
from core.config import DatasetConfig, StudyConfig, apply_override
from core.demo import DEMO_CONFIG, QUICK_CONFIG
from core.errors import ConfigError, StudyError

ARMS = ("identity", "reversed")
METHOD = "l1_global"   # the paper's one-shot global magnitude pruning
TABLE_FILES = ("frequency_arms.parquet", "frequency_effects.parquet", "experiment.json",
               "timing.json")
MANIFEST = "manifest.json"
# How each arm trains (see the module's doc): one thread per arm, two arms at once; the
# layout is part of what a seed computes, so it is fixed here, not by `jobs`.
EXECUTION = {"threads": 1, "channels_last_cpu": True}
JOBS = 2

# --quick: a tiny, tempered subsample so every finding has training positives (the map
# needs a frequency rank for each), 32 px, two short seeds; for tests and smoke runs.
QUICK_DATASET = {"seed": 0, "n_images": 900, "prevalence_power": 0.5,
                 "fractions": [0.6, 0.1, 0.3], "difficulty": 0.5}


def base_config(quick: bool = False, overrides: list[str] | None = None) -> dict:
    """The settings both arms share (plain dict in StudyConfig's schema), `--set` applied.

    Args:
        quick (bool): the small test configuration instead of the demo's data, model and
            training (with seeds 0, 1, 2).
        overrides (list[str] | None): ``--set KEY=VALUE`` items.

    Returns:
        dict: the configuration, one method (`METHOD`).

    Raises:
        ConfigError: for a dataset other than synthcxr, a signature_map set by hand, or a
            bad override.
    """
    if quick:
        data = copy.deepcopy(QUICK_CONFIG)
        data["dataset"]["options"] = dict(QUICK_DATASET)
        data["analysis"] = {"bootstrap": 200}
        data["sparsities"] = [0, 30, 60, 90, 95]   # keeps the test in tens of seconds
    else:
        data = copy.deepcopy(DEMO_CONFIG)   # the demo's data, model and training, unchanged
        data["seeds"] = [0, 1, 2]
    data["methods"] = [METHOD]
    data.setdefault("train", {}).update(EXECUTION)
    for item in overrides or []:
        apply_override(data, item)
    if data.get("dataset", {}).get("name") != "synthcxr":
        raise ConfigError("dataset.name: the frequency experiment needs synthcxr (it remaps "
                          "SynthCXR's signatures)")
    if "signature_map" in (data["dataset"].get("options") or {}):
        raise ConfigError("dataset.options.signature_map: set by the experiment's arms, "
                          "not by --set")
    return data


def train_positives(dataset: dict) -> dict[str, int]:
    """Training positives per finding of the SynthCXR table the arms share (labels only).

    Args:
        dataset (dict): the configuration's dataset section (options, eval_split).

    Returns:
        dict[str, int]: finding → training positives, for the 14 findings.
    """
    from core.data import load_dataset
    from core.data.stats import class_counts
    from core.data.synth_findings import FINDINGS

    ds = load_dataset(DatasetConfig(name="synthcxr", options=dict(dataset.get("options") or {}),
                                    eval_split=dataset.get("eval_split", "test")))
    counts = class_counts(ds.table, FINDINGS, {"train": "train"})
    return {str(c): int(n) for c, n in zip(counts["class"], counts["train_pos"], strict=True)}


def reversed_frequency_map(train_pos: dict[str, int]) -> dict[str, str]:
    """The reversed arm's signature map: rank r from the top ↔ rank r from the bottom.

    Findings are ranked by training positives, ties in ChestX-ray14's column order.

    Args:
        train_pos (dict[str, int]): finding → training positives.

    Returns:
        dict[str, str]: {label column: finding whose signature it gets}.

    Raises:
        ConfigError: when a finding has no training positive.

    Example:
        >>> from core.data.synth_findings import FINDINGS
        >>> m = reversed_frequency_map({f: 100 - i for i, f in enumerate(FINDINGS)})
        >>> m[FINDINGS[0]] == FINDINGS[-1], m[FINDINGS[-1]] == FINDINGS[0]
        (True, True)
    """
    from core.data.synth_findings import FINDINGS

    zero = [f for f in FINDINGS if train_pos.get(f, 0) < 1]
    if zero:
        raise ConfigError(f"dataset.options: finding(s) {', '.join(zero)} have no training "
                          "positive in this subsample; the frequency map needs every one "
                          "(use more images)")
    ranked = sorted(FINDINGS, key=lambda f: (-train_pos[f], FINDINGS.index(f)))
    return {column: ranked[len(ranked) - 1 - i] for i, column in enumerate(ranked)}


def arm_configs(base: dict, sig_map: dict[str, str]) -> dict[str, StudyConfig]:
    """One StudyConfig per arm.

    The identity arm's dataset options are the base's, unchanged (so its images are exactly
    the demo's); the reversed arm adds the signature map.

    Args:
        base (dict): `base_config`'s result.
        sig_map (dict[str, str]): the reversed arm's signature map.

    Returns:
        dict[str, StudyConfig]: arm name → config.
    """
    out = {}
    for arm in ARMS:
        data = copy.deepcopy(base)
        data["name"] = f"{base.get('name', 'demo')}-frequency-{arm}"
        if arm == "reversed":
            data["dataset"]["options"] = {**data["dataset"].get("options", {}),
                                          "signature_map": dict(sig_map)}
        out[arm] = StudyConfig.from_dict(data)
    return out


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_experiment(out_dir, quick: bool = False, overrides: list[str] | None = None,
                   progress: bool = True, log=print, jobs: int = JOBS) -> dict:
    """Run (or resume) both arms into out_dir/<arm>/, then write the result tables.

    Seeds are run interleaved (identity, reversed per seed), so an interrupted run leaves
    pairs; a unit already done is not retrained.

    Args:
        out_dir (str | Path): the experiment folder.
        quick (bool): the small test configuration.
        overrides (list[str] | None): ``--set KEY=VALUE`` items.
        progress (bool): show progress bars.
        log (Callable[[str], None]): progress lines.
        jobs (int): units trained at once, each in its own process (1: one after another
            in this process).

    Returns:
        dict: ``design``, ``timing``, and `frequency_effect.compute`'s arms, effects and
        summary.

    Raises:
        ConfigError: as `base_config` and `reversed_frequency_map`; jobs below 1.
        StudyError: when an arm's study fails.
    """
    from core.experiments import frequency_effect
    from core.study.run import run_study

    if jobs < 1:
        raise ConfigError(f"jobs: {jobs}; give 1 or more units at once")
    t0, c0, load0 = time.perf_counter(), time.process_time(), _load()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    base = base_config(quick, overrides)
    train_pos = train_positives(base["dataset"])
    sig_map = reversed_frequency_map(train_pos)
    cfgs = arm_configs(base, sig_map)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    units = _run_units(cfgs, out, jobs, progress, log)
    for arm in ARMS:   # all seeds done: analysis + manifest of each study
        t1 = time.perf_counter()
        run_study(cfgs[arm], out / arm, progress=progress)
        units.append({"arm": arm, "seed": None, "wall_s": round(time.perf_counter() - t1, 1)})
    t1 = time.perf_counter()
    result = frequency_effect.compute(out / "identity", out / "reversed", sig_map,
                                      cfgs["identity"])
    effect_s = time.perf_counter() - t1
    design = {
        "experiment": "frequency", "quick": bool(quick), "method": METHOD,
        "arms": {"identity": {"study": "identity", "signature_map": None},
                 "reversed": {"study": "reversed", "signature_map": sig_map}},
        "config": {k: v for k, v in cfgs["identity"].to_dict().items() if k != "name"},
        "train_pos": train_pos,
    }
    run = {
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
        "effect_s": round(effect_s, 1), "units": units,
        "load_before": load0, "load_after": _load(), "cpu_count": os.cpu_count(),
        "started_utc": started,
        "code_version": _code_version(),
        "seeds_trained": sum(1 for u in units if u["seed"] is not None
                             and not u["already_done"]),
        "jobs": int(jobs),
    }
    # a resumed run (e.g. tables recomputed) adds its own entry: the first run's time stays
    timing = {"runs": [*_earlier_runs(out), run]}
    write_tables(out, result, design, timing)
    return {"design": design, "timing": timing, **result}


def _run_units(cfgs: dict[str, StudyConfig], out: Path, jobs: int, progress: bool,
               log) -> list[dict]:
    """Train every (seed, arm) unit not yet done, `jobs` at a time, in interleaved order
    (seed 0 of both arms, then seed 1, …): an interrupted run leaves pairs. Returns one
    timing entry per unit, in that order."""
    from core.study.markers import unit_is_done

    order = [(int(seed), arm) for seed in cfgs["identity"].seeds for arm in ARMS]
    done = {(seed, arm): (out / arm).is_dir()
            and unit_is_done(store.StudyPaths(out / arm), seed) for seed, arm in order}
    walls: dict[tuple[int, str], float] = {}
    if jobs == 1:
        for seed, arm in order:
            walls[seed, arm] = _train_unit(cfgs[arm].to_dict(), str(out / arm), seed, progress)
            log(f"{arm} seed {seed}: {walls[seed, arm]} s (load {_load()})")
    else:
        # spawn: a fork would copy this process's torch/OpenMP state into the children
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")
        with _no_main_rerun(), ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_train_unit, cfgs[arm].to_dict(), str(out / arm), seed,
                                   False): (seed, arm) for seed, arm in order}
            for fut, (seed, arm) in futures.items():   # submission order: pairs logged
                try:
                    walls[seed, arm] = fut.result()
                except Exception as exc:   # a failed unit stops the run, the others end first
                    for other in futures:
                        other.cancel()
                    if isinstance(exc, StudyError):
                        raise
                    raise StudyError(f"{arm} seed {seed}: {type(exc).__name__}: {exc}") from exc
                log(f"{arm} seed {seed}: {walls[seed, arm]} s (load {_load()})")
    return [{"arm": arm, "seed": seed, "already_done": bool(done[seed, arm]),
             "wall_s": walls[seed, arm], **_marker_time(out / arm, seed)}
            for seed, arm in order]


@contextlib.contextmanager
def _no_main_rerun():
    """Spawned workers re-run the parent's `__main__` file when it has no module spec
    (multiprocessing.spawn). The unit worker needs nothing from it, and the caller's main
    may be a script that must not run twice (a Streamlit page under AppTest, a notebook
    runner): hide its `__file__` while the pool starts its processes."""
    main = sys.modules.get("__main__")
    hide = main is not None and getattr(main, "__spec__", None) is None \
        and "__file__" in vars(main)
    saved = vars(main).pop("__file__") if hide else None
    try:
        yield
    finally:
        if hide:
            main.__file__ = saved


def _train_unit(cfg: dict, study: str, seed: int, progress: bool) -> float:
    """One arm's seed (a worker process's task, hence plain arguments); its wall seconds."""
    from core.omp import passive_omp_threads
    from core.study.run import run_study

    passive_omp_threads()
    t1 = time.perf_counter()
    run_study(StudyConfig.from_dict(cfg), study, progress=progress, only_seeds=[seed],
              finalize=False)
    return round(time.perf_counter() - t1, 1)


def tables_from_finished_seeds(out_dir, quick: bool = False,
                               overrides: list[str] | None = None) -> dict:
    """`--partial`: the tables from the seeds BOTH arms have finished (paired), nothing run.

    For an experiment that could not finish; experiment.json says which seeds were used.

    Args:
        out_dir (str | Path): the experiment folder.
        quick (bool): the small test configuration.
        overrides (list[str] | None): ``--set KEY=VALUE`` items.

    Returns:
        dict: as `run_experiment`, with ``design["partial"]``.

    Raises:
        ConfigError: when no seed is finished in both arms.
    """
    from core.experiments import frequency_effect
    from core.study.markers import unit_is_done

    t0, load0 = time.perf_counter(), _load()
    base = base_config(quick, overrides)
    train_pos = train_positives(base["dataset"])
    sig_map = reversed_frequency_map(train_pos)
    cfgs = arm_configs(base, sig_map)
    out = Path(out_dir)
    seeds = [seed for seed in cfgs["identity"].seeds
             if all((out / arm).is_dir() and unit_is_done(store.StudyPaths(out / arm), seed)
                    for arm in ARMS)]
    if not seeds:
        raise ConfigError(f"{out}: no seed is finished in both arms yet; nothing to compare")
    result = frequency_effect.compute(out / "identity", out / "reversed", sig_map,
                                      cfgs["identity"], seeds=seeds)
    design = {
        "experiment": "frequency", "quick": bool(quick), "method": METHOD,
        "partial": {"planned_seeds": list(cfgs["identity"].seeds), "seeds_used": seeds},
        "arms": {"identity": {"study": "identity", "signature_map": None},
                 "reversed": {"study": "reversed", "signature_map": sig_map}},
        "config": {k: v for k, v in cfgs["identity"].to_dict().items() if k != "name"},
        "train_pos": train_pos,
    }
    units = [{"arm": arm, "seed": seed, **_marker_time(out / arm, seed)}
             for seed in seeds for arm in ARMS]
    run = {"wall_s": round(time.perf_counter() - t0, 1), "partial": True, "seeds_trained": 0,
           "units": units,
           "load_before": load0, "load_after": _load(), "cpu_count": os.cpu_count(),
           "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "code_version": _code_version()}
    timing = {"runs": [*_earlier_runs(out), run]}
    write_tables(out, result, design, timing)
    return {"design": design, "timing": timing, **result}


def _marker_time(study: Path, seed: int) -> dict:
    """The unit's own training time and end, as its marker recorded them: a resumed run
    (or one whose first invocation ended before writing timing.json) still says how long
    each seed took to train. Called only for units already known done (run_study returned
    for the seed, or unit_is_done said so), so the marker is read, not re-verified."""
    marker = store.read_json(store.StudyPaths(study).unit_done(seed))
    return {k: marker.get(k) for k in ("seconds", "finished")}


def _earlier_runs(out: Path) -> list[dict]:
    try:
        return list(store.read_json(out / "timing.json").get("runs", []))
    except (OSError, ValueError, AttributeError):
        return []


def _code_version() -> str:
    from core.study.prepare import code_version

    return code_version()


def write_tables(out: Path, result: dict, design: dict, timing: dict) -> None:
    """The four result files, then manifest.json with their sha256 (written last).

    Args:
        out (Path): the experiment folder.
        result (dict): `frequency_effect.compute`'s result.
        design (dict): the experiment's design (experiment.json).
        timing (dict): the runs' timings (timing.json).
    """
    store.write_parquet(out / "frequency_arms.parquet", result["arms"])
    store.write_parquet(out / "frequency_effects.parquet", result["effects"])
    store.write_json(out / "experiment.json", {**design, "results": result["summary"]})
    store.write_json(out / "timing.json", timing)
    store.write_json(out / MANIFEST, {"files": {
        name: {"sha256": store.sha256_file(out / name), "bytes": (out / name).stat().st_size}
        for name in TABLE_FILES}})


def verify_tables(folder) -> list[str]:
    """Problems with an experiment folder's result tables.

    Args:
        folder (str | Path): the experiment folder.

    Returns:
        list[str]: one line per problem (missing or unreadable manifest, a file missing,
        unlisted or modified); [] when they match manifest.json.
    """
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [f"{manifest}: missing"]
    try:
        files = store.read_json(manifest)["files"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        return [f"{manifest}: unreadable ({exc})"]
    problems = []
    for name in TABLE_FILES:
        path = folder / name
        entry = files.get(name) if isinstance(files, dict) else None
        if entry is None:
            problems.append(f"{name}: not in the manifest")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif store.sha256_file(path) != entry.get("sha256"):
            problems.append(f"{name}: modified (sha256 differs from the manifest)")
    return problems


def main_frequency(args) -> int:
    """`python -m core experiment frequency`: run, then print the pooled effects.

    Args:
        args (argparse.Namespace): ``out``, ``quick``, ``set``, ``no_progress``, ``partial``,
            ``jobs``.

    Returns:
        int: 0, or 2 after printing a StudyError.
    """
    from core.errors import StudyError
    from core.omp import passive_omp_threads

    passive_omp_threads()
    try:
        if getattr(args, "partial", False):
            res = tables_from_finished_seeds(args.out, quick=args.quick, overrides=args.set)
        else:
            res = run_experiment(args.out, quick=args.quick, overrides=args.set,
                                 progress=not args.no_progress, jobs=args.jobs)
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t = res["timing"]["runs"][-1]
    used = res["design"].get("partial", {}).get("seeds_used")
    if used is not None:
        print(f"PARTIAL result from seed(s) {used} of {res['design']['partial']['planned_seeds']}")
    print(f"frequency experiment finished in {t['wall_s']:.0f} s (load {t['load_before']} "
          f"→ {t['load_after']}): {args.out}")
    for metric, p in res["summary"]["pooled"].items():
        print(f"  {metric}: {_fmt(p['per_10x'])} per 10× rarer "
              f"[95% CI {_fmt(p['lo'])}, {_fmt(p['hi'])}]")
    return 0


def _fmt(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.3f}"
