"""The study runner: shared data once, then one unit of work per seed, then finalisation.

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
  every file of `_data_files`, so a study begun before data/val_labels.parquet gets it);
- finalisation (analysis, then manifest.json last) runs once every seed of the config is
  done — seeds may be run by separate processes on separate GPUs or machines (`only_seeds`,
  `finalize=False`) and finalised by one last call. The manifest lists exactly the files the
  markers list (re-checked) plus the analysis just written: nothing else on disk is sealed;
- a run holds the study's lock (core.lock): exclusive for a whole-study run and for
  finalisation, shared for an `only_seeds` run, so job-array tasks run side by side but never
  beside a coordinator; stale temp files are only removed under the exclusive lock.
"""
from __future__ import annotations

import datetime as _dt
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core import lock, store
from core.config import StudyConfig
from core.errors import ConfigError, StudyError, StudyLockedError
from core.store import StudyPaths

# Keys that change how a study runs but not what it computes: a study may be resumed (or its
# seeds spread over machines) with different values. Everything else must match study.json.
EXECUTION_KEYS = ("train.device", "train.num_workers", "train.threads", "predict_batch_size")
_SPLIT_CACHES = ("train", "val", "eval")

# --------------------------------------------------------------------------- helpers
def _say(msg: str) -> None:
    print(msg, flush=True)


def code_version() -> str:
    """`git describe` of the checkout this code runs from, else the package version."""
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=here,
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return "git:" + out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return "prunelens " + version("prunelens")
    except Exception:  # not installed as a package: still a valid study
        return "unknown"


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and k != "options":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_differences(stored: dict, cfg: StudyConfig) -> list[str]:
    """Keys (dotted) whose values differ between a stored config and `cfg`, execution
    keys excluded."""
    a, b = _flatten(stored), _flatten(cfg.to_dict())
    keys = sorted((set(a) | set(b)) - set(EXECUTION_KEYS))
    if not any("gmp_finetune" in (c.get("methods") or []) for c in (stored, cfg.to_dict())):
        # the gradual section changes nothing unless gmp_finetune runs (and studies made
        # before it existed have no such keys)
        keys = [k for k in keys if not k.startswith("gradual.")]
    return [f"{k}: {a.get(k)!r} in the folder, {b.get(k)!r} now" for k in keys
            if a.get(k) != b.get(k)]


def image_size_of(cfg: StudyConfig) -> int:
    from core import models

    return int(cfg.image_size or models.spec(cfg.model).input_size)


def check_config(cfg: StudyConfig) -> None:
    """Everything that can be checked before any work starts (ConfigError names it)."""
    cfg.validate()
    from core import models

    try:
        models.spec(cfg.model)
    except KeyError as exc:
        raise ConfigError(f"model: unknown architecture {cfg.model!r}") from exc


def _check_not_foreign(root: Path) -> None:
    """Refuse a path that is a file, or a non-empty folder holding no study (before the lock
    or anything else is created in it)."""
    if root.exists() and not root.is_dir():
        raise StudyError(f"{root} exists and is not a folder")
    if root.is_dir() and not (root / store.STUDY_JSON).is_file() and any(root.iterdir()):
        ours = {"cache", "data", "units", "models", "predictions"}
        if not any((root / n).exists() for n in ours):
            raise StudyError(f"{root} is not empty and is not a study folder; "
                             "choose an empty or new --out folder")


def _check_folder(paths: StudyPaths, cfg: StudyConfig) -> None:
    root = paths.root
    _check_not_foreign(root)
    if paths.study_json.is_file():
        stored = store.read_json(paths.study_json)
        diffs = config_differences(stored.get("config", {}), cfg)
        if diffs:
            raise StudyError(
                f"{root} holds a study with a different config; refusing to mix results. "
                "Use another --out folder, or the same config. Differences:\n  "
                + "\n  ".join(diffs))


# --------------------------------------------------------------------------- data
def ensure_cache(paths: StudyPaths, split: str, dataset, rows, size: int,
                 skip_missing: bool, progress: bool):
    """(uint8 memmap [n, size, size], skipped ids) for a split, decoded once.

    A cache is reused when its sidecar (written after the array) carries the key of exactly
    these rows, source and size, and the array has the expected shape; else it is rebuilt.
    """
    from core.data import images

    npy = getattr(paths, f"{split}_cache")
    if images.cache_is_current(npy, dataset.source, rows, size):
        skipped = list(images.read_cache_info(npy).get("skipped_ids", []))
        arr = images.open_cache(npy)
        if arr.shape == (len(rows) - len(skipped), size, size):
            return arr, skipped
    _say(f"caching {len(rows)} {split} images at {size}×{size} → {npy}")
    return images.build_cache(dataset.source, rows, size, npy, skip_missing=skip_missing,
                              progress=progress)


def _cache_labels(paths: StudyPaths, split: str) -> Path:
    """float32 [n, C] labels of the rows in a split's image cache, in cache order."""
    return getattr(paths, f"{split}_cache").with_name(f"{split}_labels.npy")


def _write_cache_labels(paths: StudyPaths, split: str, labels: np.ndarray) -> None:
    # Beside the cache so that a unit can reopen its inputs from the folder alone (a Ray
    # worker on another machine has no dataset object); rewritten only when it changed, so
    # concurrent `--seeds` runs never replace a file a unit is reading with other bytes.
    path = _cache_labels(paths, split)
    labels = np.ascontiguousarray(labels, dtype=np.float32)
    if path.is_file():
        old = store.open_npy(path, mmap=False)
        if old.shape == labels.shape and np.array_equal(old, labels, equal_nan=True):
            return
    store.write_npy(path, labels)


def open_data(paths: StudyPaths) -> dict:
    """{split: (uint8 memmap [n, H, W], float32 labels [n, C])} reopened from the study
    folder that `prepare` filled: what a unit needs, without the dataset."""
    from core.data import images

    data = {}
    for split in _SPLIT_CACHES:
        npy, lab = getattr(paths, f"{split}_cache"), _cache_labels(paths, split)
        if not (npy.is_file() and lab.is_file()):
            raise StudyError(f"{npy.parent}: the {split} image cache or its labels are missing; "
                             "run the study command once (it prepares them) before its units")
        arr, y = images.open_cache(npy), store.open_npy(lab, mmap=False)
        if len(arr) != len(y):
            raise StudyError(f"{npy}: {len(arr)} cached images but {len(y)} label rows in "
                             f"{lab.name}; rerun the study command to rebuild the cache")
        data[split] = (arr, y)
    return data


def _kept(rows: pd.DataFrame, skipped) -> pd.DataFrame:
    if not skipped:
        return rows
    return rows[~rows["id"].astype(str).isin(set(skipped))].reset_index(drop=True)


def _data_files(paths: StudyPaths) -> list[Path]:
    return [paths.labels, paths.val_labels, paths.class_counts, paths.cooccurrence("train"),
            paths.cooccurrence("eval"), paths.dataset_json, paths.study_json]


def _data_marker(paths: StudyPaths) -> Path:
    return paths.root / "units" / "data.json"


def _write_data(paths: StudyPaths, dataset, rows: dict[str, pd.DataFrame]) -> None:
    from core.data import stats

    classes = dataset.classes
    labels = rows["eval"].copy()
    labels.insert(0, "row", np.arange(len(labels), dtype=np.int64))
    store.write_parquet(paths.labels, labels)
    # validation rows (kept images) + `row` = index into models/seed-<s>/val_predictions.npy
    val = rows["val"].reset_index(drop=True).copy()
    val.insert(0, "row", np.arange(len(val), dtype=np.int64))
    store.write_parquet(paths.val_labels, val)
    counts = pd.DataFrame({"class": classes})
    for name, frame in rows.items():  # kept rows: skipped images are not counted
        for kind, n in stats.label_counts(frame[classes].to_numpy(np.float32)).items():
            counts[f"{name}_{kind}"] = n
    store.write_parquet(paths.class_counts, counts)
    for name in ("train", "eval"):
        y = rows[name][classes].to_numpy(dtype=np.float32)
        store.write_npy(paths.cooccurrence(name), stats.cooccurrence(y))
    info = {}
    for name, frame in rows.items():
        y = frame[classes].to_numpy(dtype=np.float32)
        hist = stats.findings_histogram(stats.findings_per_image(y, classes))
        info[name] = {"images": int(len(frame)), "patients": int(frame["patient_id"].nunique()),
                      "findings_per_image": {k: int(v) for k, v in hist.items()}}
    store.write_json(paths.dataset_json, {"splits": info})


def _study_json(cfg, dataset, spec, size, skipped, previous: dict | None = None) -> dict:
    """study.json; `previous` = the one in the folder, whose prediction encoding is kept (its
    prediction files are in it: no record = float16 probabilities, see core.predictions)."""
    import dataclasses

    from core import predictions

    if previous is None:
        record = {"predictions": predictions.encoding_record(predictions.DEFAULT, True)}
    else:
        record = {k: previous[k] for k in ("predictions",) if k in previous}
    return {
        "schema_version": store.SCHEMA_VERSION,
        "name": cfg.name,
        "config": cfg.to_dict(),
        "classes": list(dataset.classes),
        "sparsities": list(cfg.sparsities),
        "methods": list(cfg.methods),
        "seeds": list(cfg.seeds),
        "image_size": size,
        "dataset": dataset.description,
        "image_source": dataset.source.describe(),
        "model_spec": dataclasses.asdict(spec),
        "skipped_images": {k: len(v) for k, v in skipped.items()},
        "skipped_image_ids": {k: v[:100] for k, v in skipped.items()},
        "code_version": code_version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **record,
    }


# --------------------------------------------------------------------------- units
def _verified_files(paths: StudyPaths, marker: Path) -> list[str] | None:
    """The files a marker lists when every one still has its recorded sha256, else None."""
    if not marker.is_file():
        return None
    try:
        files = store.read_json(marker)["files"]
    except (ValueError, KeyError, TypeError):
        return None
    for rel, sha in files.items():
        p = paths.root / rel
        if not p.is_file() or store.sha256_file(p) != sha:
            return None
    return list(files)


def _rel(paths: StudyPaths, path: Path) -> str:
    return path.relative_to(paths.root).as_posix()


def unit_is_done(paths: StudyPaths, seed: int | None, marker: Path | None = None,
                 required: list[Path] = ()) -> bool:
    """True when the marker exists, every file it lists has its recorded sha256 and it lists
    `required`; a seed's unit marker (the default) must list the validation predictions."""
    files = _verified_files(paths, marker or paths.unit_done(seed))
    if files is None:
        return False
    if marker is None:
        required = [*required, paths.val_predictions(seed)]
    return all(_rel(paths, p) in files for p in required)


def _mark(paths: StudyPaths, marker: Path, seed: int | None, files: list[Path],
          extra: dict) -> None:
    listed = {p.relative_to(paths.root).as_posix(): store.sha256_file(p) for p in files}
    store.write_json(marker, {"seed": seed, "files": listed, **extra,
                              "finished": _dt.datetime.now(_dt.UTC).isoformat(
                                  timespec="seconds")})


def _trained_marker(paths: StudyPaths, seed: int) -> Path:
    return paths.unit_done(seed).with_name(f"seed-{seed}.trained.json")


def run_unit(cfg: StudyConfig, paths: StudyPaths, classes, data: dict, seed: int,
             device, progress: bool, placement: dict | None = None) -> dict:
    """One seed: train (or reuse verified trained weights) → predict every method → mark.

    `placement` (where the unit ran: executor, host, GPU ids, start time) is recorded in
    the unit's marker, never in a result file, so it cannot change what a unit computes."""
    import torch

    from core import models, predictions
    from core.predict import predict_dense, predict_grid
    from core.train import train_seed

    spec = models.spec(cfg.model)
    t0 = time.perf_counter()
    trained = _trained_marker(paths, seed)
    if unit_is_done(paths, seed, trained):
        _say(f"seed {seed}: reusing trained weights")
        model = models.load_model(paths.weights(seed))[0]
        info = store.read_json(trained).get("info", {})
    else:
        (tx, ty), (vx, vy) = data["train"], data["val"]
        model, history, info = train_seed(cfg, classes, tx, ty, vx, vy, seed, device, progress)
        meta = {"architecture": cfg.model, "classes": list(classes), "seed": seed,
                "input_size": image_size_of(cfg), "best_epoch": info["best_epoch"],
                "best_val_loss": info["best_val_loss"]}
        dtype = getattr(torch, cfg.weights_dtype)
        if dtype != torch.float32:
            models.round_weights_(model, dtype)  # predictions use exactly the stored weights
        models.save_model(paths.weights(seed), model, meta, dtype=dtype)
        store.write_json(paths.model_meta(seed), {**meta, "spec": _spec_dict(spec),
                                                  "training": info})
        store.write_parquet(paths.history(seed), history)
        _mark(paths, trained, seed,
              [paths.weights(seed), paths.model_meta(seed), paths.history(seed)],
              {"info": info})
        _say(f"seed {seed}: trained {info['epochs_run']} epochs, best epoch "
             f"{info['best_epoch']} (val loss {info['best_val_loss']:.4f}) in "
             f"{info['seconds']:.1f} s")
        _test_kill_point()
    # The study's encoding, not today's default: a study begun by an older version keeps its
    # own (study.json has no "predictions" record → float16 probabilities).
    encoding = predictions.study_encoding(paths.root)
    earlier = _verified_files(paths, paths.unit_done(seed))
    val_path = paths.val_predictions(seed)
    if earlier is not None:   # grid done before validation predictions existed: keep it
        _say(f"seed {seed}: adding the dense model's validation predictions")
        outputs = [paths.root / rel for rel in earlier if rel != _rel(paths, val_path)]
    else:
        ex, _ = data["eval"]
        from core import cost, prune

        # cost of every pruned model, measured where it is used; latency on the first seed
        costs = cost.Collector(models.preprocess(torch.from_numpy(np.array(ex[:1])), spec),
                               cfg.weights_dtype, latency=seed == cfg.seeds[0])
        # regimes (gradual pruning) fine-tune with training data: run here, not in predict_grid
        regimes = [m for m in cfg.methods if prune.method_kind(m) == "regime"]
        grid = predict_grid(model, spec, ex, [m for m in cfg.methods if m not in regimes],
                            cfg.sparsities, seed, device, cfg.predict_batch_size, progress,
                            amp=cfg.train.amp, channels_last=cfg.train.channels_last,
                            on_model=costs, encoding=encoding)
        for method in regimes:
            from core.regimes import run_regime

            preds, measured, rinfo = run_regime(method, cfg, model, *data["train"], ex,
                                                cfg.sparsities, seed, device,
                                                cfg.predict_batch_size, progress, costs,
                                                method, encoding=encoding)
            grid[method] = (preds, measured)
            info = {**info, f"{method}_seconds": rinfo["seconds"]}
            _say(f"seed {seed}: {method} in {rinfo['seconds']:.1f} s")
        outputs = [paths.weights(seed), paths.model_meta(seed), paths.history(seed)]
        for method, (preds, measured) in grid.items():
            store.write_npy(paths.predictions(method, seed), preds)
            store.write_json(paths.measured_sparsity(method, seed), {
                "method": method, "seed": seed, "sparsities": list(cfg.sparsities),
                "measured": measured})
            outputs += [paths.predictions(method, seed), paths.measured_sparsity(method, seed)]
        outputs.append(costs.write(paths.model_dir(seed) / "cost.json", seed))
    # Dense model on the validation split: operating thresholds are chosen there, not on
    # the evaluation images.
    val_logits = predict_dense(model, spec, data["val"][0], seed, device,
                               cfg.predict_batch_size, amp=cfg.train.amp,
                               channels_last=cfg.train.channels_last)
    store.write_npy(val_path, predictions.encode(val_logits, encoding))
    outputs.append(val_path)
    seconds = time.perf_counter() - t0
    extra = {"seconds": seconds, "training": info}
    if placement is not None:
        extra["placement"] = {**placement, "end": time.time()}
    _mark(paths, paths.unit_done(seed), seed, outputs, extra)
    _say(f"seed {seed}: done in {seconds:.1f} s")
    return info


def _test_kill_point() -> None:
    """Fault injection for the executor tests: when PRUNELENS_TEST_KILL_AFTER_TRAINING names
    a flag file that does not exist yet, create it and SIGKILL this process — right after a
    unit's trained weights are written, once (the retried attempt finds the flag)."""
    flag = os.environ.get("PRUNELENS_TEST_KILL_AFTER_TRAINING")
    if flag and not os.path.exists(flag):
        Path(flag).touch()
        os.kill(os.getpid(), 9)


def _spec_dict(spec) -> dict:
    import dataclasses

    return dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else dict(spec)


# --------------------------------------------------------------------------- runner
def prepare(cfg: StudyConfig, out_dir, progress: bool = True):
    """Check, load the dataset, build caches and write the shared data/ files and study.json.

    Returns (paths, dataset, {split: (images memmap, labels float32)})."""
    from core import models
    from core.data import load_dataset

    check_config(cfg)
    paths = StudyPaths(out_dir)
    _check_folder(paths, cfg)
    size = image_size_of(cfg)
    dataset = load_dataset(cfg.dataset, image_size=size)
    rows = {"train": dataset.split("train"), "val": dataset.split("val"),
            "eval": dataset.split(cfg.dataset.eval_split)}
    for name, frame in rows.items():
        if len(frame) == 0:
            split = cfg.dataset.eval_split if name == "eval" else name
            raise ConfigError(f"dataset {cfg.dataset.name!r} has no {split!r} images "
                              f"(needed for {'evaluation' if name == 'eval' else name}); "
                              "check dataset.options and dataset.eval_split")
    paths.root.mkdir(parents=True, exist_ok=True)
    data, skipped = {}, {}
    for name in _SPLIT_CACHES:
        arr, skipped[name] = ensure_cache(paths, name, dataset, rows[name], size,
                                          cfg.dataset.skip_missing_images, progress)
        rows[name] = _kept(rows[name], skipped[name])
        if len(rows[name]) == 0:
            raise ConfigError(f"no readable {name} images left after skipping missing ones")
        data[name] = (arr, dataset.labels(rows[name]))
        _write_cache_labels(paths, name, data[name][1])
    # data/ + study.json are a unit of their own: written (again) unless their marker checks,
    # so the seal can list them as files this code wrote and verified, never "what is there".
    # Under a blocking lock: two `--seeds` runs starting on a new folder write them once.
    with lock.setup_lock(paths.root):
        if not unit_is_done(paths, None, _data_marker(paths), _data_files(paths)):
            previous = (store.read_json(paths.study_json) if paths.study_json.is_file()
                        else None)
            _write_data(paths, dataset, rows)
            store.write_json(paths.study_json, _study_json(
                cfg, dataset, models.spec(cfg.model), size, skipped, previous))
            _mark(paths, _data_marker(paths), None, _data_files(paths), {})
    return paths, dataset, data


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
    markers (re-checked) and the analysis tables just written, nothing else."""
    missing = [s for s in cfg.seeds if not unit_is_done(paths, s)]
    if missing:
        _say(f"not finalised: seed(s) {missing} still to run")
        return False
    from core.analysis import analyze_study  # an ImportError is a broken install: raise it
    from core.cost import write_cost_table

    with lock.study_lock(paths.root):
        store.clean_temp_files(paths.root)
        markers = [_data_marker(paths)] + [paths.unit_done(s) for s in cfg.seeds]
        checked = _checked_marker_files(paths, markers)
        _say("analysing")
        with store.record_writes() as written:
            write_cost_table(paths.root, cfg.seeds)   # metrics/cost.parquet
            analyze_study(paths.root, log=lambda msg: _say(f"  {msg}"))
        store.write_manifest(paths.root, {**checked, **written})
    return True


def run_study(cfg: StudyConfig, out_dir, progress: bool = True, only_seeds=None,
              finalize: bool = True, executor=None) -> Path:
    """Run (or resume) a study into `out_dir`; returns the study folder.

    `only_seeds`: run just these seeds of the config (to spread seeds over GPUs/machines);
    `finalize`: write analysis and manifest when all seeds are done;
    `executor`: what runs the unfinished units (core.executors; default: this process).
    Raises core.StudyLockedError when another coordinator holds the folder; the
    executor's workers write without it (the coordinator holds it for them).
    `train.threads` applies inside the call only (the caller's thread count comes back).
    """
    from core.threads import torch_threads

    with torch_threads(cfg.train.threads or None):
        return _run_study(cfg, out_dir, progress, only_seeds, finalize, executor)


def _run_study(cfg: StudyConfig, out_dir, progress: bool, only_seeds, finalize: bool,
               executor) -> Path:
    from core.executors import LocalExecutor, Unit, execute_unit
    from core.train import resolve_device

    check_config(cfg)
    if only_seeds is not None:
        unknown = sorted(set(only_seeds) - set(cfg.seeds))
        if unknown:
            raise ConfigError(f"only_seeds: {unknown} not among the config's seeds {cfg.seeds}")
    # local: the device is checked before any work; a Ray worker resolves its own
    executor = executor or LocalExecutor(resolve_device(cfg.train.device))
    out = Path(out_dir)
    _check_not_foreign(out)
    t0 = time.perf_counter()
    # A subset run shares the folder with other subset runs (a scheduler's job array): it
    # takes the lock shared, and leaves finalisation to an exclusive hold afterwards.
    with lock.study_lock(out, shared=only_seeds is not None):
        if only_seeds is None and (out / store.STUDY_JSON).is_file():
            n = store.clean_temp_files(out)   # no other writer can be running: we hold it
            if n:
                _say(f"removed {n} stale temp file(s) left by an interrupted run")
        paths = prepare(cfg, out, progress)[0]
        seeds = list(cfg.seeds if only_seeds is None else only_seeds)
        todo = []
        for seed in seeds:
            if unit_is_done(paths, seed):
                _say(f"seed {seed}: already done, skipped")
            else:
                todo.append(Unit(cfg.to_dict(), str(paths.root), seed, progress))
        # a unit reopens the caches from the folder by itself: the same code wherever it runs
        executor.run(todo, execute_unit)
        if finalize and only_seeds is None and finalize_study(paths, cfg):
            _say(f"study finished in {time.perf_counter() - t0:.1f} s: {paths.root}")
    if finalize and only_seeds is not None:
        try:
            done = finalize_study(paths, cfg)
        except StudyLockedError as exc:
            _say(f"not finalised now: {exc}; the last run to finish finalises (or run "
                 "the whole study again)")
            done = False
        if done:
            _say(f"study finished in {time.perf_counter() - t0:.1f} s: {paths.root}")
    return paths.root


# --------------------------------------------------------------------------- CLI
def passive_omp_threads() -> None:
    """Let idle OpenMP threads sleep instead of spinning, unless the user chose otherwise.

    On a CPU shared with other jobs, spinning threads burn the time slices their partners
    need: measured on the 2-core machine next to one busy process, pruning + prediction with
    2 threads ran 7–40× slower than with 1, and as fast as expected with PASSIVE. libgomp
    reads the variable when torch is loaded, so this only acts before the first torch import.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _seed_args(args):
    seeds = getattr(args, "seeds", None)
    if isinstance(seeds, str):
        seeds = [int(s) for s in seeds.split(",") if s.strip()]
    return seeds, not getattr(args, "no_finalize", False)


def main_study(args) -> int:
    from core import executors

    passive_omp_threads()
    cfg = StudyConfig.load(args.config, args.set)
    out = Path(args.out) if args.out else Path("studies") / cfg.name
    seeds, finalize = _seed_args(args)
    try:
        run_study(cfg, out, progress=not args.no_progress, only_seeds=seeds, finalize=finalize,
                  executor=executors.from_args(args))
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main_demo(args) -> int:
    from core import executors
    from core.demo import demo_config

    passive_omp_threads()
    cfg = demo_config(quick=args.quick, overrides=args.set)
    seeds, finalize = _seed_args(args)
    try:
        run_study(cfg, Path(args.out), progress=not args.no_progress, only_seeds=seeds,
                  finalize=finalize, executor=executors.from_args(args))
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
