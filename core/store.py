"""The study store: folder layout, atomic writes, manifest, verification.

A study is one folder. Every file is written to a temporary name in the same folder
and renamed into place, so a killed process never leaves a half-written file under
its final name. `manifest.json` (size + sha256 of every file) is written last; a
study whose manifest does not verify is incomplete or corrupt and is never shown as
if it were fine.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import StudyNotVerified, UnreadableFile

# Version 1: first layout (study.json, data/, models/, predictions/, metrics/, analysis/).
# Still 1 after study.json gained "predictions" (the encoding of the prediction files, see
# core/predictions.py) and data/val_labels.parquet + models/seed-<s>/val_predictions.npy were
# added: both are additive, and a missing "predictions" key means the float16 probabilities
# every earlier version-1 study holds, so every reader of version 1 reads old and new studies.
# Version 2: measurements (timings, timestamps, latencies) moved out of the result files into
# files whose names contain "timings" (`is_measurement`), so two runs of one config write
# byte-identical result files. Version-1 studies (measurements inside results) stay readable.
SCHEMA_VERSION = 2
SUPPORTED_SCHEMA_VERSIONS = (1, 2)
# A file whose name contains this holds measurements of how a run went (seconds, dates,
# latencies): sealed and verified like every file, but not a result (see `is_measurement`).
MEASUREMENT_MARK = "timings"

MANIFEST = "manifest.json"
STUDY_JSON = "study.json"
# Folders that hold derived or mutable state rather than results: never listed in the
# manifest (the image cache is re-creatable; the reader-study database changes as
# clinicians rate images; units/ holds resume bookkeeping).
UNMANIFESTED_DIRS = ("cache", "reader", "units")
# Top-level files outside the manifest for the same reason: reader.json records that the
# study has a reader database (written when it is created, after the study was sealed).
UNMANIFESTED_FILES = ("reader.json",)
_TMP_PREFIX = ".tmp-"

# --------------------------------------------------------------------------- writes
# The files written (through atomic_write) inside `record_writes()` blocks of this context:
# {absolute path: {"size", "sha256"}} hashed from the temp file just before its rename, so a
# seal covers exactly the bytes PruneLens wrote. A ContextVar, not a global: another thread
# (another dashboard session, another test) writing at the same time is not recorded here.
_RECORDERS: contextvars.ContextVar[tuple[dict, ...]] = contextvars.ContextVar(
    "prunelens_write_recorders", default=())


@contextlib.contextmanager
def record_writes() -> Iterator[dict[str, dict]]:
    """Collect every file written by this code (in this thread) inside the block, for
    `write_manifest(root, written)`: the way to seal only what PruneLens itself just wrote.

    Returns:
        Iterator[dict[str, dict]]: a context manager yielding the mapping it fills,
        {absolute path: {"size", "sha256"}}.
    """
    written: dict[str, dict] = {}
    token = _RECORDERS.set(_RECORDERS.get() + (written,))
    try:
        yield written
    finally:
        _RECORDERS.reset(token)


def atomic_write(path: str | os.PathLike, write_fn) -> Path:
    """Call `write_fn(fileobj)` on a temp file beside `path`, fsync, then rename.

    Args:
        path (str | os.PathLike): the file to (re)place; its folder is created.
        write_fn (Callable[[BinaryIO], Any]): writes the content into the open temp file.

    Returns:
        Path: `path`. An OSError is re-raised naming the file being written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX + path.name + ".", dir=path.parent)
    recorders = _RECORDERS.get()
    try:
        with os.fdopen(fd, "wb") as fh:
            write_fn(fh)
            fh.flush()
            os.fsync(fh.fileno())
        entry = _entry(tmp) if recorders else None
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno is not None:
            # a full disk surfaces in fh.write without a file name (or names the temp file):
            # name the file being written, so the one-line CLI error says where
            raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from exc
        raise
    for rec in recorders:
        rec[str(path.resolve())] = entry
    return path


def write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` atomically (`atomic_write`).

    Args:
        path (str | os.PathLike): the file.
        data (bytes): its whole content.

    Returns:
        Path: `path`.
    """
    return atomic_write(path, lambda fh: fh.write(data))


def write_json(path, obj: Any) -> Path:
    """Write `obj` as JSON to `path` atomically: indented, keys in the order given, UTF-8.

    Args:
        path (str | os.PathLike): the file.
        obj (Any): JSON-able (pass tables through `json_safe` first).

    Returns:
        Path: `path`.
    """
    text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=True, default=_json_default)
    return write_bytes(path, (text + "\n").encode())


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def json_safe(obj):
    """NaN/inf → None (JSON null), numpy scalars → Python, recursively: what every JSON table
    of a study is passed through before `write_json`.

    Args:
        obj (Any): dicts, lists, tuples, numpy arrays and scalars, Python numbers and text.

    Returns:
        Any: the same structure with JSON-able values (tuples and arrays become lists).

    Example:
        >>> json_safe({"ap": np.float32(0.5), "never": float("nan"), 1: [np.int64(2)]})
        {'ap': 0.5, 'never': None, '1': [2]}
    """
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def read_json(path) -> Any:
    """Read a JSON file.

    Args:
        path (str | os.PathLike): the file.

    Returns:
        Any: the parsed value.
    """
    with open(path) as fh:
        return json.load(fh)


def write_parquet(path, frame: pd.DataFrame) -> Path:
    """Write a table as parquet to `path` atomically (index dropped).

    Args:
        path (str | os.PathLike): the file.
        frame (pd.DataFrame): the table.

    Returns:
        Path: `path`.
    """
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return write_bytes(path, buf.getvalue())


def write_npy(path, array: np.ndarray) -> Path:
    """Write a plain .npy (never pickled objects) so readers can np.load(mmap_mode='r').

    Args:
        path (str | os.PathLike): the file.
        array (np.ndarray): a numeric array (object arrays are refused by numpy here).

    Returns:
        Path: `path`.
    """
    array = np.asarray(array)
    if array.dtype == object:
        raise TypeError("object arrays would need pickle; store numbers only")
    return atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))

def read_rows(path) -> pd.DataFrame:
    """A study table with one row per image and a `row` column in row order.

    data/labels.parquet and data/val_labels.parquet: `row` i is index i of the prediction
    arrays. The one reader of that order; a table without `row` (never written so) is
    returned as stored.

    Args:
        path (str | os.PathLike): the parquet table.

    Returns:
        pd.DataFrame: sorted by `row`, index reset.

    Raises:
        UnreadableFile: (a ValueError) naming the file when `row` is not 0..N-1.
    """
    df = pd.read_parquet(path)
    if "row" not in df.columns:
        return df
    df = df.sort_values("row", kind="stable").reset_index(drop=True)
    if not np.array_equal(df["row"].to_numpy(), np.arange(len(df))):
        raise UnreadableFile(f"{path}: column `row` is not 0..N-1")
    return df


def open_npy(path, mmap: bool = True) -> np.ndarray:
    """np.load of a plain .npy (memory-mapped by default).

    Args:
        path (str | os.PathLike): the file.
        mmap (bool): memory-map it read-only (False: read it into memory).

    Returns:
        np.ndarray: the stored array.

    Raises:
        UnreadableFile: naming a damaged file (numpy's own message, e.g. "mmap length is
            greater than file size", does not say which file).
    """
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise UnreadableFile(f"{path}: cannot read ({exc})") from exc


def clean_temp_files(root) -> int:
    """Remove temp files left by a killed writer.

    Args:
        root (str | os.PathLike): the study folder.

    Returns:
        int: how many were removed.
    """
    n = 0
    for p in Path(root).rglob(_TMP_PREFIX + "*"):
        if p.is_file():
            p.unlink()
            n += 1
    return n


# --------------------------------------------------------------------------- manifest
def sha256_file(path, chunk: int = 1 << 22) -> str:
    """The SHA-256 of a file, read in chunks: the one hashing path of the study store.

    Args:
        path (str | os.PathLike): the file.
        chunk (int): bytes per read.

    Returns:
        str: the hex digest.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _entry(path) -> dict:
    return {"size": os.stat(path).st_size, "sha256": sha256_file(path)}


def _study_files(root: Path) -> Iterable[Path]:
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root)
        if rel.parts[0] in UNMANIFESTED_DIRS + UNMANIFESTED_FILES or rel.name == MANIFEST:
            continue
        if rel.name.startswith(_TMP_PREFIX):
            continue
        yield p


def _manifested_name(root: Path, path) -> str | None:
    """`path` relative to the study (posix), or None when it is not a manifested file
    (outside the study, under cache/ reader/ units/, a temp file, the manifest itself)."""
    p = Path(path)
    p = p if p.is_absolute() else root / p
    try:
        rel = p.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    if (not rel.parts or rel.parts[0] in UNMANIFESTED_DIRS + UNMANIFESTED_FILES
            or rel.name == MANIFEST
            or rel.name.startswith(_TMP_PREFIX)):
        return None
    return rel.as_posix()


def write_manifest(root, written: Mapping[str, dict] | Iterable, *,
                   base: Mapping | None = None) -> dict:
    """Seal a study: write manifest.json (last, atomically).

    It lists every file of `base` (a manifest that has just been verified, carried over as
    it is, never re-hashed from disk) and of `written`. Nothing else on disk is ever listed:
    a stray file added after the study was sealed stays out of the manifest, so `verify`
    keeps reporting it. Paths outside the study or in its unmanifested folders (cache/,
    reader/, units/) are ignored.

    Args:
        root (str | os.PathLike): the study folder.
        written (Mapping[str, dict] | Iterable): the files PruneLens itself has just
            written or checked: {path: {"size", "sha256"}} (what `record_writes()`
            collected, or hashes a unit marker recorded and that were re-checked), or paths
            (hashed now).
        base (Mapping | None): a verified manifest (`require_verified`'s return value).

    Returns:
        dict: the manifest written.
    """
    root = Path(root)
    files: dict[str, dict] = {}
    if base is not None:
        files.update({rel: {"size": int(m["size"]), "sha256": str(m["sha256"])}
                      for rel, m in base["files"].items()})
    items = (written.items() if isinstance(written, Mapping)
             else ((p, None) for p in written))
    for path, entry in items:
        rel = _manifested_name(root, path)
        if rel is None:
            continue
        if entry is None:
            entry = _entry(root / rel)
        elif "size" not in entry:     # a marker's checked sha256: the size is stat's
            entry = {"size": (root / rel).stat().st_size, "sha256": entry["sha256"]}
        files[rel] = {"size": int(entry["size"]), "sha256": str(entry["sha256"])}
    study = read_json(root / STUDY_JSON)
    manifest = {"schema_version": study.get("schema_version"),
                "files": dict(sorted(files.items()))}
    write_json(root / MANIFEST, manifest)
    return manifest


def require_verified(root, check_hashes: bool = True) -> dict:
    """The study's manifest when the folder verifies. Every command that reads a study calls
    this first.

    Args:
        root (str | os.PathLike): the study folder.
        check_hashes (bool): also re-hash every file (False: sizes only).

    Returns:
        dict: the manifest.

    Raises:
        StudyNotVerified: naming every problem by file.
    """
    problems = verify(root, check_hashes=check_hashes)
    if problems:
        raise StudyNotVerified(root, problems)
    return read_json(Path(root) / MANIFEST)


@dataclass
class Problem:
    """One reason a study folder does not verify: the file (relative path) and what is
    wrong with it."""

    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def verify(root, check_hashes: bool = True) -> list[Problem]:
    """Every problem found in a study folder; an empty list means it verifies.

    Args:
        root (str | os.PathLike): the study folder.
        check_hashes (bool): also re-hash every file (False: sizes only).

    Returns:
        list[Problem]: (file, problem) pairs.
    """
    root = Path(root)
    if not root.is_dir():
        return [Problem(str(root), "study folder does not exist")]
    problems: list[Problem] = []
    study_path = root / STUDY_JSON
    if not study_path.is_file():
        problems.append(Problem(STUDY_JSON, "missing"))
    else:
        try:
            version = read_json(study_path).get("schema_version")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            problems.append(Problem(STUDY_JSON, f"unreadable ({exc})"))
            version = None
        else:
            if version not in SUPPORTED_SCHEMA_VERSIONS:
                problems.append(Problem(
                    STUDY_JSON,
                    f"unknown schema_version {version!r} (this PruneLens reads "
                    f"{', '.join(map(str, SUPPORTED_SCHEMA_VERSIONS))})",
                ))
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        problems.append(Problem(MANIFEST, "missing: the study is incomplete "
                                          "(it was not finished or is still running)"))
        return problems
    try:
        manifest = read_json(manifest_path)
        listed = manifest["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        problems.append(Problem(MANIFEST, f"unreadable ({exc})"))
        return problems
    for rel, meta in sorted(listed.items()):
        p = root / rel
        if not p.is_file():
            problems.append(Problem(rel, "missing"))
            continue
        size = p.stat().st_size
        if size != meta["size"]:
            kind = "truncated" if size < meta["size"] else "grown"
            problems.append(Problem(rel, f"{kind}: {size} bytes, manifest says {meta['size']}"))
        elif check_hashes and sha256_file(p) != meta["sha256"]:
            problems.append(Problem(rel, "modified: sha256 differs from the manifest"))
    for p in _study_files(root):
        rel = p.relative_to(root).as_posix()
        if rel not in listed:
            problems.append(Problem(rel, "not in the manifest (added after the study was sealed)"))
    for p in root.rglob("*"):
        if p.suffix in (".pkl", ".pickle"):
            problems.append(Problem(p.relative_to(root).as_posix(), "pickle files are not allowed"))
    return problems


def is_measurement(rel: str) -> bool:
    """Whether a study file holds measurements rather than results.

    Args:
        rel (str): the file's path relative to the study folder.

    Returns:
        bool: True for a measurement file (how long, when, how fast: `*timings*`), False
        for a result file, which depends only on the config, the data, the code and the
        kind of device.

    Example:
        >>> is_measurement("analysis/timings.json"), is_measurement("analysis/params.json")
        (True, False)
    """
    return MEASUREMENT_MARK in rel.rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- layout
class StudyPaths:
    """Names of every file, table, marker and journal in a study folder, in one place.

    Nothing else in core/ or dashboard/ writes a study file's name (tests/test_store_names.py
    greps for it). Tables of metrics/ and analysis/ are named by the constants below and
    reached with `metrics(name)` / `analysis(name)`; the constants are what the dashboard's
    loaders take as a table's name.
    """

    # metrics/: per-class and overall metrics of every (method, seed, sparsity); cost
    PER_CLASS = "per_class.parquet"
    OVERALL = "overall.parquet"
    COST = "cost.parquet"
    # analysis/: the paper's tables (core.analysis.study_analysis)
    PARAMS = "params.json"
    FORGETTING = "forgetting.parquet"
    CLASS_SUMMARY = "class_summary.parquet"
    CLASS_PAIRS = "class_pairs.parquet"
    PIES = "pies.parquet"
    PIE_CLASS_RATIO = "pie_class_ratio.parquet"
    PIE_FINDINGS_RATIO = "pie_findings_ratio.parquet"
    CORRELATIONS = "correlations.json"
    REGRESSION = "regression.json"
    PIE_GROUNDTRUTH = "pie_groundtruth.json"
    # analysis/: beyond the paper (core.analysis.beyond_paper)
    CI_PER_CLASS = "ci_per_class.parquet"
    CI_OVERALL = "ci_overall.parquet"
    CI_CLASS_SUMMARY = "ci_class_summary.parquet"
    CI_CORRELATIONS = "ci_correlations.json"
    SUBGROUPS = "subgroups.parquet"
    SUBGROUP_WORST = "subgroup_worst.parquet"
    SUBGROUP_PIES = "subgroup_pies.parquet"
    THRESHOLDS = "thresholds.parquet"
    MISSED = "missed.parquet"
    CALIBRATION = "calibration.parquet"
    CALIBRATION_BINS = "calibration_bins.parquet"
    # analysis/<folder>/<method>.npy: per-image arrays of the PIE analysis
    PIE_CORR = "pie_corr"
    PIE_POPULATION = "pie_population"
    # the split caches a unit reopens (cache/<split>_images.npy + <split>_labels.npy)
    SPLIT_CACHES = ("train", "val", "eval")

    def __init__(self, root):
        self.root = Path(root)

    study_json = property(lambda self: self.root / STUDY_JSON)
    manifest = property(lambda self: self.root / MANIFEST)
    labels = property(lambda self: self.root / "data" / "labels.parquet")
    val_labels = property(lambda self: self.root / "data" / "val_labels.parquet")
    class_counts = property(lambda self: self.root / "data" / "class_counts.parquet")
    dataset_json = property(lambda self: self.root / "data" / "dataset.json")
    eval_cache = property(lambda self: self.cache("eval"))
    train_cache = property(lambda self: self.cache("train"))
    val_cache = property(lambda self: self.cache("val"))

    def rel(self, path) -> str:
        """`path` relative to the study folder, posix (how manifests and markers list it)."""
        return Path(path).relative_to(self.root).as_posix()

    def cache(self, split: str) -> Path:
        """uint8 [n, H, W] decoded images of a split (train | val | eval); its key file sits
        beside it (core.data.images)."""
        return self.root / "cache" / f"{split}_images.npy"

    def cache_labels(self, split: str) -> Path:
        """float32 [n, C] labels of the rows in a split's image cache, in cache order."""
        return self.root / "cache" / f"{split}_labels.npy"

    def cooccurrence(self, split: str) -> Path:
        """C×C int64 YᵀY of the split's labels (NaN counted as 0); split in train|eval."""
        return self.root / "data" / f"cooccurrence_{split}.npy"

    def model_dir(self, seed: int) -> Path:
        return self.root / "models" / f"seed-{seed}"

    def weights(self, seed: int) -> Path:
        return self.model_dir(seed) / "weights.safetensors"

    def model_meta(self, seed: int) -> Path:
        return self.model_dir(seed) / "model.json"

    def history(self, seed: int) -> Path:
        return self.model_dir(seed) / "history.parquet"

    def cost_json(self, seed: int) -> Path:
        """One seed's measured cost rows (core.pruning.cost), aggregated into metrics/cost."""
        return self.model_dir(seed) / "cost.json"

    # measurements (is_measurement): never read by any result
    timings = property(lambda self: self.root / "timings.json")   # when the study was created
    cost_timings = property(lambda self: self.root / "metrics" / "cost_timings.parquet")
    analysis_timings = property(lambda self: self.root / "analysis" / "timings.json")

    def train_timings(self, seed: int) -> Path:
        """Seconds of training, per epoch and in all, images per second."""
        return self.model_dir(seed) / "train_timings.json"

    def predict_timings(self, seed: int) -> Path:
        """Latency of every pruned model (first seed), seconds of the regimes."""
        return self.model_dir(seed) / "predict_timings.json"

    def predictions(self, method: str, seed: int) -> Path:
        """[sparsity, image, class] model outputs; read them with core.predictions only
        (the encoding is in study.json "predictions")."""
        return self.root / "predictions" / method / f"seed-{seed}.npy"

    def val_predictions(self, seed: int) -> Path:
        """[image, class] dense-model outputs on the validation split (core.predictions)."""
        return self.model_dir(seed) / "val_predictions.npy"

    def measured_sparsity(self, method: str, seed: int) -> Path:
        return self.root / "predictions" / method / f"seed-{seed}.sparsity.json"

    # ------------------------------------------------------------------ units/ (resume)
    @property
    def units_dir(self) -> Path:
        return self.root / "units"

    def unit_done(self, seed: int) -> Path:
        """A seed's unit marker: its files and their sha256, written when the unit is done."""
        return self.units_dir / f"seed-{seed}.json"

    def trained_marker(self, seed: int) -> Path:
        """Marks a seed's trained weights alone (a unit killed while predicting resumes)."""
        return self.units_dir / f"seed-{seed}.trained.json"

    @property
    def data_marker(self) -> Path:
        """Marks the data/ files and study.json (one more unit)."""
        return self.units_dir / "data.json"

    def unit_log(self, key: str) -> Path:
        """A unit's own output lines when it runs elsewhere (the Ray executor)."""
        return self.units_dir / f"{key}.log"

    @property
    def analyze_journal(self) -> Path:
        """Written before `analyze` replaces tables, removed after the seal (core.analysis)."""
        return self.units_dir / "analyze.pending.json"

    # ------------------------------------------------------------------ tables
    @property
    def metrics_dir(self) -> Path:
        return self.root / "metrics"

    @property
    def analysis_dir(self) -> Path:
        return self.root / "analysis"

    def metrics(self, name: str) -> Path:
        """metrics/<name>, name one of PER_CLASS, OVERALL, COST."""
        return self.metrics_dir / name

    def analysis(self, name: str) -> Path:
        """analysis/<name>, name one of the analysis table constants above."""
        return self.analysis_dir / name

    def pie_array(self, folder: str, method: str) -> Path:
        """analysis/<folder>/<method>.npy, folder PIE_CORR (float [N] correlation per image)
        or PIE_POPULATION (uint8 [N] population PIE flags)."""
        return self.analysis_dir / folder / f"{method}.npy"

    @property
    def paper_check(self) -> Path:
        """The paper check's table (core.analysis.paper_check): one row per method × finding."""
        return self.analysis_dir / "paper_check.parquet"

    @property
    def reader_db(self) -> Path:
        return self.root / "reader" / "reader_study.sqlite"

    @property
    def reader_record(self) -> Path:
        """Written when the study's reader database is created: from then on a missing
        database is a stated problem, never replaced by a new empty one."""
        return self.root / "reader.json"
