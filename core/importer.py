"""Import the paper's released predictions into a PruneLens study.

Input (as released with Holste et al.'s code): a folder of
``{dataset}_resnet50_seed-{s}_prune-{ratio}.pkl`` files — pickled pandas DataFrames, one float
column per class (sigmoid outputs, rows in the order of the test label CSV) plus a ``label``
column holding the image's positive classes joined by "|" — with the ratio as Python prints it
(``0`` for dense, then ``0.05``, ``0.1``, …, ``0.95``); and the test label CSV (``id`` or
``path``, one 0/1 column per class, optionally ``subj_id``).

Output: a study folder (study.json, data/, predictions/<method>/seed-<s>.npy: the released
sigmoid outputs at full float32 precision, `core.predictions.IMPORTED`; integer sparsity
percents, analysis tables, manifest). Pickles can execute arbitrary code when
they are read, so nothing is unpickled without ``--trust-pickles``. The study itself holds no
pickle. What the release does not contain is said in study.json: measured sparsity (null) and,
unless ``*_labels_train.csv`` lies beside the test CSV, train counts (class frequencies then
come from the test labels, see ``train_counts_source``).
"""
from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core import predictions, store
from core.analysis import analyze_study
from core.config import StudyConfig
from core.data.stats import findings_per_image
from core.errors import ReleaseError

FILE_RE = re.compile(r"^(?P<prefix>.+)_resnet50_seed-(?P<seed>\d+)_prune-(?P<ratio>\d+(?:\.\d+)?)"
                     r"\.pkl$")
PICKLE_WARNING = (
    "refusing to read {pred_dir}: the released predictions are Python pickles, and reading a "
    "pickle can execute arbitrary code. Re-run with --trust-pickles only for files you "
    "trust (e.g. the authors' release you downloaded yourself). The study written from them "
    "contains no pickles.")

def ratio_to_percent(text: str) -> int:
    """A release file's sparsity ratio as an integer percent.

    Args:
        text (str): the ratio as written in the file name.

    Returns:
        int: in 0–99.

    Raises:
        ReleaseError: when the ratio is off the integer-percent grid or out of range.

    Example:
        >>> ratio_to_percent("0"), ratio_to_percent("0.05"), ratio_to_percent("0.15000000000000002")
        (0, 5, 15)
    """
    value = float(text) * 100
    percent = round(value)
    if abs(value - percent) > 1e-6 or not 0 <= percent < 100:
        raise ReleaseError(f"sparsity ratio {text!r} is not an integer percent in 0–99")
    return int(percent)


def scan_release(pred_dir, dataset: str) -> dict[int, dict[int, Path]]:
    """The release's prediction files for one dataset, with a complete grid.

    Args:
        pred_dir (str | Path): the release folder.
        dataset (str): the file-name prefix ("nih-cxr-lt" or "mimic-cxr-lt").

    Returns:
        dict[int, dict[int, Path]]: {seed: {sparsity percent: file}}.

    Raises:
        FileNotFoundError: when the folder does not exist.
        ReleaseError: for no matching file, a seed missing sparsities, no dense predictions,
            or only dense ones.
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise FileNotFoundError(f"prediction folder {pred_dir} does not exist")
    grid: dict[int, dict[int, Path]] = {}
    prefixes = set()
    for p in sorted(pred_dir.iterdir()):
        m = FILE_RE.match(p.name)
        if not m:
            continue
        prefixes.add(m["prefix"])
        if m["prefix"] != dataset:
            continue
        grid.setdefault(int(m["seed"]), {})[ratio_to_percent(m["ratio"])] = p
    if not grid:
        found = f" (found prefixes: {', '.join(sorted(prefixes))})" if prefixes else ""
        raise ReleaseError(f"no {dataset}_resnet50_seed-*_prune-*.pkl files in {pred_dir}{found}")
    sparsities = sorted(set().union(*(g.keys() for g in grid.values())))
    incomplete = {seed: sorted(set(sparsities) - set(files)) for seed, files in grid.items()
                  if set(files) != set(sparsities)}
    if incomplete:
        raise ReleaseError(f"seeds with missing sparsities: {incomplete}")
    if sparsities[0] != 0:
        raise ReleaseError("no dense predictions (prune-0) in the release folder")
    if len(sparsities) < 2:
        raise ReleaseError("only dense predictions in the release folder: nothing to compare")
    return grid


def read_labels(path, classes: list[str]) -> pd.DataFrame:
    """The test label CSV as a study labels table.

    Blanks and −1 become NaN ("not labelled").

    Args:
        path (str | Path): the CSV.
        classes (list[str]): the class columns.

    Returns:
        pd.DataFrame: id, path, split ("test"), patient_id, the classes (float32 1/0/NaN),
        row.

    Raises:
        ReleaseError: when a class column is missing.
    """
    raw = pd.read_csv(path)
    missing = [c for c in classes if c not in raw]
    if missing:
        raise ReleaseError(f"{path}: no column for classes {missing}")
    key = "id" if "id" in raw else "path" if "path" in raw else None
    out = pd.DataFrame({
        "id": raw[key].astype(str) if key else [f"row-{i}" for i in range(len(raw))],
        "path": raw["path"].astype(str) if "path" in raw else
        (raw["id"].astype(str) if "id" in raw else ""),
        "split": "test",
        "patient_id": raw["subj_id"].astype(str) if "subj_id" in raw else "",
    })
    for c in classes:
        v = pd.to_numeric(raw[c], errors="coerce").astype(np.float32)
        out[c] = v.where(v.isin([0.0, 1.0]))      # blanks / −1 → NaN ("not labelled")
    out["row"] = np.arange(len(out), dtype=np.int64)
    return out


def _label_strings(labels: pd.DataFrame, classes: list[str]) -> list[str]:
    y = labels[classes].to_numpy() == 1
    names = np.asarray(classes, dtype=object)
    return ["|".join(names[row]) for row in y]


def _counts(y: np.ndarray | None, c: int, prefix: str) -> dict:
    if y is None:
        return {f"{prefix}_{k}": np.full(c, np.nan) for k in ("pos", "neg", "nan")}
    return {f"{prefix}_pos": (y == 1).sum(0), f"{prefix}_neg": (y == 0).sum(0),
            f"{prefix}_nan": np.isnan(y).sum(0)}


def _sibling(labels_path: Path, split: str) -> Path | None:
    name = labels_path.name
    if "test" not in name:
        return None
    p = labels_path.with_name(name.replace("test", split))
    return p if p.is_file() else None


def import_release(pred_dir, labels_path, dataset: str, out, method: str = "l1_global",
                   trust_pickles: bool = False, log=print) -> Path:
    """Write a study from a release folder.

    The manifest lists exactly the files this import wrote (store.record_writes).

    Args:
        pred_dir (str | Path): the release's prediction folder (pickles).
        labels_path (str | Path): the test label CSV.
        dataset (str): "nih-cxr-lt" or "mimic-cxr-lt".
        out (str | Path): the new study folder.
        method (str): the release's pruning method.
        trust_pickles (bool): must be True: pickles can run code when read.
        log (Callable[[str], None]): progress lines.

    Returns:
        Path: the study folder.

    Raises:
        PermissionError: without `trust_pickles`.
        ReleaseError: for a bad release, a non-empty `out`, or labels that do not match.
    """
    with store.record_writes() as written:
        out = _write_study(pred_dir, labels_path, dataset, out, method, trust_pickles, log)
    store.write_manifest(out, written)
    return out


def _write_study(pred_dir, labels_path, dataset: str, out, method: str, trust_pickles: bool,
                 log) -> Path:
    if not trust_pickles:
        raise PermissionError(PICKLE_WARNING.format(pred_dir=pred_dir))
    out, labels_path = Path(out), Path(labels_path)
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} exists and is not empty; choose a new study folder")
    grid = scan_release(pred_dir, dataset)
    seeds = sorted(grid)
    sparsities = sorted(grid[seeds[0]])
    first = pd.read_pickle(grid[seeds[0]][0])
    classes = [c for c in first.columns if c != "label"]
    labels = read_labels(labels_path, classes)
    n, c = len(labels), len(classes)
    if len(first) != n:
        raise ReleaseError(f"predictions have {len(first)} rows, {labels_path} has {n}")
    if "label" in first:   # the release stores the true labels: use them to prove row order
        bad = int((first["label"].fillna("").astype(str).to_numpy()
                   != np.asarray(_label_strings(labels, classes), dtype=object)).sum())
        if bad:
            raise ReleaseError(f"{bad} of {n} rows' `label` column disagrees with {labels_path}: "
                               "are these the test labels of the same dataset, in order?")
    paths = store.StudyPaths(out)
    log(f"importing {len(seeds)} seed(s) × {len(sparsities)} sparsities × {n} images × "
        f"{c} classes as method {method!r}")
    for seed in seeds:
        pred = np.empty((len(sparsities), n, c), dtype=predictions.IMPORTED.dtype)
        for i, sparsity in enumerate(sparsities):
            frame = (first if (seed, sparsity) == (seeds[0], 0)
                     else pd.read_pickle(grid[seed][sparsity]))
            if not set(classes) <= set(frame.columns):
                raise ReleaseError(f"{grid[seed][sparsity].name}: class columns differ from the "
                                   "first file's")
            if len(frame) != n:
                raise ReleaseError(f"{grid[seed][sparsity].name}: {len(frame)} rows, "
                                   f"expected {n}")
            # Full precision, as released: float16 would move per-class AP by ~1e-3
            # (benchmarks/bench_precision.py).
            pred[i] = frame[classes].to_numpy(dtype=np.float32)
        store.write_npy(paths.predictions(method, seed), pred)
        store.write_json(paths.measured_sparsity(method, seed),
                         {"requested": sparsities, "measured": [None] * len(sparsities),
                          "note": "imported: the release does not record measured sparsity"})

    y_eval = labels[classes].to_numpy(dtype=np.float64)
    split_y, sources = {}, {}
    for split in ("train", "val"):
        sib = _sibling(labels_path, split)
        split_y[split] = (read_labels(sib, classes)[classes].to_numpy(dtype=np.float64)
                          if sib else None)
        sources[split] = sib.name if sib else None
    counts = pd.DataFrame({"class": classes, **_counts(split_y["train"], c, "train"),
                           **_counts(split_y["val"], c, "val"), **_counts(y_eval, c, "eval")})
    store.write_parquet(paths.class_counts, counts)
    store.write_parquet(paths.labels, labels)
    for split, y in (("eval", y_eval), ("train", split_y["train"])):
        if y is not None:
            y0 = np.nan_to_num(y, nan=0.0)
            store.write_npy(paths.cooccurrence(split), (y0.T @ y0).astype(np.int64))
    freq_note = (f"train labels from {sources['train']}" if sources["train"] else
                 "unknown: the release has no train labels beside the test CSV; class "
                 "frequencies are taken from the test labels")
    n_findings = np.minimum(findings_per_image(y_eval, classes), 5)
    store.write_json(paths.dataset_json, {
        "splits": {"test": {"images": n, "patients": int(labels["patient_id"].nunique())}},
        "findings_per_image": {str(k) if k < 5 else "5+": int((n_findings == k).sum())
                               for k in range(6)}})
    cfg = StudyConfig(name=f"{dataset} (imported)", seeds=seeds, methods=[method],
                      sparsities=sparsities)
    cfg.dataset.name = dataset
    # The paper's parameters where the release has them, else the nearest the grid allows.
    if cfg.analysis.at_sparsity not in sparsities:
        cfg.analysis.at_sparsity = sparsities[-1]
    if cfg.analysis.pie_sparsity not in sparsities:
        cfg.analysis.pie_sparsity = max(x for x in sparsities if x <= 90) or sparsities[-1]
    store.write_json(paths.study_json, {
        "schema_version": store.SCHEMA_VERSION, "config": cfg.to_dict(), "classes": classes,
        "sparsities": sparsities, "methods": [method], "seeds": seeds,
        "dataset": {"name": dataset, "eval_split": "test", "n_eval_images": n,
                    "label_file": labels_path.name, "train_counts_source": freq_note},
        "train_counts_source": freq_note,
        "imported_from": {"kind": "PruneCXR release", "pred_dir": str(pred_dir),
                          "files": len(seeds) * len(sparsities), "measured_sparsity": None},
        # the release has no model, so no validation predictions
        "predictions": predictions.encoding_record(predictions.IMPORTED, validation=False),
    })
    store.write_json(paths.timings, {"created": datetime.now(UTC).isoformat(timespec="seconds")})
    analyze_study(out, log=lambda msg: log(f"  {msg}"))
    return out


def main_import(args) -> int:
    """`python -m core import-paper PRED_DIR --labels CSV --out STUDY --trust-pickles`.

    The method is guessed from the folder name ("rand" → random) unless given.

    Args:
        args (argparse.Namespace): pred_dir, labels, dataset, method, out, trust_pickles.

    Returns:
        int: 0, or 2 after printing why pickles were not trusted.
    """
    method = getattr(args, "method", None)
    if not method:   # the release keeps L1 and random pruning in separate folders
        method = "random" if "rand" in Path(args.pred_dir).name.lower() else "l1_global"
    try:
        out = import_release(args.pred_dir, args.labels, args.dataset, args.out, method=method,
                             trust_pickles=bool(args.trust_pickles))
    except PermissionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"study written to {out}; open it in the dashboard or run "
          f"`python -m core report {out}`")
    return 0
