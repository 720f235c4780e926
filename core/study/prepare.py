"""Prepare a study folder: check the config and the folder, build the image caches once,
write the shared data/ files and study.json (the data unit). See core/study/__init__.py."""
from __future__ import annotations

import dataclasses
import subprocess
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

import core.data
from core import lock, models, predictions, store
from core.config import StudyConfig
from core.data import images, stats
from core.errors import ConfigError, PretrainedUnavailableError, StudyError
from core.store import StudyPaths
from core.study.markers import mark, now, say, unit_is_done

# Keys that change how a study runs but not what it computes: a study may be resumed (or its
# seeds spread over machines) with different values. Everything else must match study.json.
EXECUTION_KEYS = ("train.device", "train.num_workers", "train.threads", "predict_batch_size")

# --------------------------------------------------------------------------- checks
def code_version() -> str:
    """The version of the code a study was made with.

    Returns:
        str: "git:<git describe>" of the checkout this code runs from, else
        "prunelens <version>", else "unknown".
    """
    here = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=here,
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return "git:" + out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
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
    """Keys (dotted) whose values differ between a stored config and `cfg`.

    Execution keys are excluded, and the gradual section too unless either config runs
    gmp_finetune (it changes nothing otherwise, and older studies have no such keys).

    Args:
        stored (dict): the config stored in the study folder.
        cfg (StudyConfig): the config asked for now.

    Returns:
        list[str]: "key: <stored> in the folder, <now> now" per differing key.
    """
    a, b = _flatten(stored), _flatten(cfg.to_dict())
    keys = sorted((set(a) | set(b)) - set(EXECUTION_KEYS))
    if not any("gmp_finetune" in (c.get("methods") or []) for c in (stored, cfg.to_dict())):
        # the gradual section changes nothing unless gmp_finetune runs (and studies made
        # before it existed have no such keys)
        keys = [k for k in keys if not k.startswith("gradual.")]
    return [f"{k}: {a.get(k)!r} in the folder, {b.get(k)!r} now" for k in keys
            if a.get(k) != b.get(k)]


def image_size_of(cfg: StudyConfig) -> int:
    """The image side a study uses: the config's image_size, else the model's input size.

    Args:
        cfg (StudyConfig): the config.

    Returns:
        int: pixels per side.

    Raises:
        KeyError: for an unknown model.
    """
    return int(cfg.image_size or models.spec(cfg.model).input_size)


def check_config(cfg: StudyConfig) -> None:
    """Everything that can be checked before any work starts.

    Args:
        cfg (StudyConfig): the config.

    Raises:
        ConfigError: naming what is wrong (validation, an unknown architecture, pretrained
            weights that are not available).
    """
    cfg.validate()
    try:
        models.spec(cfg.model)
    except KeyError as exc:
        raise ConfigError(f"model: unknown architecture {cfg.model!r}") from exc
    if cfg.pretrained:
        try:
            models.check_pretrained(cfg.model)
        except PretrainedUnavailableError as exc:
            raise ConfigError(str(exc)) from exc


def check_not_foreign(root: Path) -> None:
    """Refuse a path that is a file, or a non-empty folder holding no study.

    Checked before the lock or anything else is created in it.

    Args:
        root (Path): the --out folder.

    Raises:
        StudyError: naming the folder.
    """
    if root.exists() and not root.is_dir():
        raise StudyError(f"{root} exists and is not a folder")
    if root.is_dir() and not (root / store.STUDY_JSON).is_file() and any(root.iterdir()):
        ours = {"cache", "data", "units", "models", "predictions"}
        if not any((root / n).exists() for n in ours):
            raise StudyError(f"{root} is not empty and is not a study folder; "
                             "choose an empty or new --out folder")


def _check_folder(paths: StudyPaths, cfg: StudyConfig) -> None:
    root = paths.root
    check_not_foreign(root)
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
    """One split's image cache, decoded once.

    A cache is reused when its sidecar (written after the array) carries the key of exactly
    these rows, source and size, and the array has the expected shape; else it is rebuilt.

    Args:
        paths (StudyPaths): the study's paths.
        split (str): "train", "val" or "eval".
        dataset (Dataset): the dataset (its source).
        rows (pd.DataFrame): the split's rows.
        size (int): the image side.
        skip_missing (bool): leave out missing or unreadable images.
        progress (bool): show a progress bar.

    Returns:
        tuple[np.memmap, list[str]]: (uint8 ``[n, size, size]``, skipped ids).

    Raises:
        MissingImagesError: for missing images unless `skip_missing`.
    """
    npy = paths.cache(split)
    if images.cache_is_current(npy, dataset.source, rows, size):
        skipped = list(images.read_cache_info(npy).get("skipped_ids", []))
        arr = images.open_cache(npy)
        if arr.shape == (len(rows) - len(skipped), size, size):
            return arr, skipped
    say(f"caching {len(rows)} {split} images at {size}×{size} → {npy}")
    return images.build_cache(dataset.source, rows, size, npy, skip_missing=skip_missing,
                              progress=progress)


def _write_cache_labels(paths: StudyPaths, split: str, labels: np.ndarray) -> None:
    # Beside the cache so that a unit can reopen its inputs from the folder alone (a Ray
    # worker on another machine has no dataset object); rewritten only when it changed, so
    # concurrent `--seeds` runs never replace a file a unit is reading with other bytes.
    path = paths.cache_labels(split)
    labels = np.ascontiguousarray(labels, dtype=np.float32)
    if path.is_file():
        old = store.open_npy(path, mmap=False)
        if old.shape == labels.shape and np.array_equal(old, labels, equal_nan=True):
            return
    store.write_npy(path, labels)


def _kept(rows: pd.DataFrame, skipped) -> pd.DataFrame:
    if not skipped:
        return rows
    return rows[~rows["id"].astype(str).isin(set(skipped))].reset_index(drop=True)


def data_files(paths: StudyPaths) -> list[Path]:
    """The files of the data unit (its marker must list every one).

    Args:
        paths (StudyPaths): the study's paths.

    Returns:
        list[Path]: labels, val labels, class counts, both co-occurrences, dataset.json,
        study.json, timings.
    """
    return [paths.labels, paths.val_labels, paths.class_counts, paths.cooccurrence("train"),
            paths.cooccurrence("eval"), paths.dataset_json, paths.study_json, paths.timings]


def _write_data(paths: StudyPaths, dataset, rows: dict[str, pd.DataFrame]) -> None:
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
        **record,
    }   # when it was created: timings.json (a result never depends on when it ran)


def prepare(cfg: StudyConfig, out_dir, progress: bool = True):
    """Check, load the dataset, build caches and write the shared data/ files and study.json.

    The data files are written under a blocking setup lock, unless their marker checks.

    Args:
        cfg (StudyConfig): the config.
        out_dir (str | Path): the study folder.
        progress (bool): show progress bars.

    Returns:
        tuple[StudyPaths, Dataset, dict]: (paths, dataset, {split: (uint8 images memmap
        ``[n, S, S]``, float32 labels ``[n, C]``)}).

    Raises:
        ConfigError: for a bad config or a split without (readable) images.
        StudyError: when the folder is foreign or holds a study of another config.
    """
    check_config(cfg)
    paths = StudyPaths(out_dir)
    _check_folder(paths, cfg)
    size = image_size_of(cfg)
    # looked up on the package at call time: tests substitute a dataset there
    dataset = core.data.load_dataset(cfg.dataset, image_size=size)
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
    for name in StudyPaths.SPLIT_CACHES:
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
        if not unit_is_done(paths, None, paths.data_marker, data_files(paths)):
            previous = (store.read_json(paths.study_json) if paths.study_json.is_file()
                        else None)
            _write_data(paths, dataset, rows)
            store.write_json(paths.study_json, _study_json(
                cfg, dataset, models.spec(cfg.model), size, skipped, previous))
            store.write_json(paths.timings, {"created": now()})
            mark(paths, paths.data_marker, None, data_files(paths), {})
    return paths, dataset, data
