"""The data contract: `Dataset`, `ImageSource`, the dataset-format registry and the table checks.

Kept apart from `core/data/__init__.py` so that format modules can import these names
without importing the package's registrations (no import cycle).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from core.errors import ConfigError, DuplicateIdError, LabelError, LeakageError
from core.registries import DATASETS

SPLITS = ("train", "val", "test")
# Columns every dataset table starts with, in this order; class columns follow.
BASE_COLUMNS = ("id", "path", "split", "patient_id", "sex", "age", "view")
# SynthCXR's facts about each image that no real dataset has (see `ground_truth_columns`).
SYNTHCXR_GROUND_TRUTH = ("label_noise", "quality")
# Every column name PruneLens itself puts next to the class columns (dataset table, stored
# labels with their `row`, SynthCXR's extra columns, reader-study views): a class of that name
# would overwrite it or be read as it, so such class names are refused when labels are read.
RESERVED_COLUMNS = ("row", *BASE_COLUMNS, "patient", "synth_index", *SYNTHCXR_GROUND_TRUTH,
                    "noise_detail")
# Key of `Dataset.description` (stored in study.json under "dataset") listing the table's
# ground-truth columns; only a dataset format that knows them declares them (SynthCXR does).
GROUND_TRUTH_KEY = "ground_truth"


# --------------------------------------------------------------------------- errors
# --------------------------------------------------------------------------- contract
@runtime_checkable
class ImageSource(Protocol):
    """How the pixels of a dataset's rows are obtained."""

    def load(self, rows: pd.DataFrame, size: int) -> np.ndarray:
        """uint8 grayscale images, shape [len(rows), size, size], in row order."""
        ...

    def describe(self) -> dict:
        """JSON-able description from which `source_from_description` re-creates the source."""
        ...


@dataclass
class Dataset:
    """A loaded dataset: its classes, one table of every image, and where the pixels come from.

    Attributes:
        name (str): the registry name.
        classes (list[str]): the one owner of class order.
        table (pd.DataFrame): one row per image, all splits (RangeIndex).
        source (ImageSource): how pixels are obtained.
        description (dict): JSON-able facts: options, counts, NaN counts, skipped images,
            notes.
    """
    name: str                 # registry name
    classes: list[str]        # the one owner of class order
    table: pd.DataFrame       # one row per image, all splits (RangeIndex)
    source: ImageSource       # how pixels are obtained
    description: dict         # JSON-able facts: options, counts, nan counts, skipped images, notes

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split, keeping the original row order (index reset)."""
        return self.table[self.table["split"] == name].reset_index(drop=True)

    def labels(self, rows: pd.DataFrame | None = None) -> np.ndarray:
        """float32 [n, C] label matrix (NaN = not labelled) in class order."""
        rows = self.table if rows is None else rows
        return rows[self.classes].to_numpy(dtype=np.float32)


DatasetLoader = Callable[..., Dataset]  # loader(options: dict, *, cfg: DatasetConfig) -> Dataset


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    """Decorator adding a dataset format's loader to `DATASETS` (core.registries) under `name`.

    Args:
        name (str): the registry name.

    Returns:
        Callable[[DatasetLoader], DatasetLoader]: the decorator (returns the loader).
    """

    def deco(fn: DatasetLoader) -> DatasetLoader:
        return DATASETS.register(name, fn)

    return deco


# --------------------------------------------------------------------------- options
def take_options(dataset: str, options: dict, required: tuple[str, ...] = (),
                 optional: dict | None = None) -> dict:
    """Dataset options with defaults filled in; unknown or missing keys name the allowed ones.

    Args:
        dataset (str): the dataset name, named in messages.
        options (dict): the options given.
        required (tuple[str, ...]): keys that must be given (not None or "").
        optional (dict | None): other allowed keys with their defaults.

    Returns:
        dict: the defaults updated by `options`.

    Raises:
        ConfigError: for a non-mapping, an unknown or missing key, or a shared option of
            the wrong shape (paths, seeds, fractions).
    """
    optional = optional or {}
    allowed = sorted(set(required) | set(optional))
    if not isinstance(options, dict):
        raise ConfigError(f"dataset.options: expected a mapping for dataset {dataset!r}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"dataset.options: unknown option(s) {', '.join(unknown)} for dataset "
                          f"{dataset!r}; allowed: {', '.join(allowed)}")
    missing = [k for k in required if options.get(k) in (None, "")]
    if missing:
        raise ConfigError(f"dataset.options: dataset {dataset!r} needs {', '.join(missing)} "
                          f"(e.g. --option {missing[0]}=…)")
    for key, value in options.items():
        _check_option(dataset, key, value)
    return {**optional, **options}


def _check_option(dataset: str, key: str, value) -> None:
    """The shape of the options every dataset format shares (a format checks its own others): paths
    and column names are text, seeds non-negative integers, fractions three shares summing
    to 1. ConfigError names the option and what is allowed."""
    if key == "fractions":
        ok = (isinstance(value, list | tuple) and len(value) == 3
              and all(isinstance(f, int | float) and not isinstance(f, bool)
                      and math.isfinite(f) and f >= 0 for f in value)
              and abs(sum(value) - 1) <= 1e-6)
        allowed = "three non-negative numbers (train, val, test) summing to 1"
    elif key == "seed":
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        allowed = "a non-negative integer"
    elif key.endswith("_columns"):
        ok = value is None or (isinstance(value, list)
                               and all(isinstance(v, str) for v in value))
        allowed = "a list of column names"
    elif key == "metadata":
        ok = value is None or isinstance(value, bool | str | os.PathLike)
        allowed = "auto, true, false or a path"
    elif key in _PATH_OPTIONS or key.endswith("_column"):
        ok = value is None or isinstance(value, str | os.PathLike)
        allowed = "a path or column name (text)"
    else:
        return
    if not ok:
        raise ConfigError(f"dataset.options.{key}: expected {allowed} for dataset {dataset!r}, "
                          f"got {value!r}")


_PATH_OPTIONS = ("image_root", "label_dir", "path", "metadata_path")


# --------------------------------------------------------------------------- checks
def check_table(table: pd.DataFrame, classes: list[str], where: str = "dataset") -> None:
    """Contract checks every dataset format's table passes: columns, unique ids, splits, no
    leakage.

    Args:
        table (pd.DataFrame): the table.
        classes (list[str]): the class columns.
        where (str): named in messages.

    Raises:
        LabelError: for missing columns, bad class names or unknown split names.
        DuplicateIdError: for repeated image ids.
        LeakageError: for a patient in more than one split.
    """
    missing = [c for c in (*BASE_COLUMNS, *classes) if c not in table.columns]
    if missing:
        raise LabelError(f"{where}: table lacks column(s) {', '.join(missing)}")
    check_class_names(classes, where)
    check_unique_ids(table["id"], where)
    bad = sorted(set(table["split"].astype(str)) - set(SPLITS))
    if bad:
        raise LabelError(f"{where}: unknown split name(s) {', '.join(map(repr, bad))}; "
                         f"allowed: {', '.join(SPLITS)}")
    check_no_leakage(table, where)


def check_class_names(classes, where: str) -> None:
    """Class names are non-empty text, unique, and none is one of `RESERVED_COLUMNS`.

    Args:
        classes (Sequence[str]): the class names.
        where (str): named in messages.

    Raises:
        LabelError: naming the bad, repeated or reserved names.
    """
    bad = [c for c in classes if not isinstance(c, str) or not c.strip()]
    if bad:
        raise LabelError(f"{where}: class names must be non-empty text, got "
                         f"{', '.join(map(repr, bad))}")
    dup = sorted({c for c in classes if list(classes).count(c) > 1})
    if dup:
        raise LabelError(f"{where}: duplicate class name(s) {', '.join(map(repr, dup))}")
    clash = [c for c in classes if c.strip() in RESERVED_COLUMNS]
    if clash:
        raise LabelError(f"{where}: class name(s) {', '.join(map(repr, clash))} clash with "
                         f"PruneLens's own column names ({', '.join(RESERVED_COLUMNS)}); "
                         "rename the column (or leave it out with exclude_columns)")


def ground_truth_columns(description, columns) -> list[str]:
    """The ground-truth columns the dataset declares that `columns` holds, in declared order.

    Ground truth is what a dataset says it knows, never a column that happens to be called
    `quality`. Studies written by the SynthCXR format before it declared its ground truth get
    SynthCXR's known columns.

    Args:
        description (dict | Any): `Dataset.description` (study.json's "dataset"); a
            non-dict counts as empty.
        columns (Iterable[str]): the columns present.

    Returns:
        list[str]: the declared columns that are present.

    Example:
        >>> ground_truth_columns({"name": "synthcxr"}, ["id", "quality", "label_noise"])
        ['label_noise', 'quality']
    """
    description = description if isinstance(description, dict) else {}
    declared = description.get(GROUND_TRUTH_KEY)
    if declared is None and description.get("name") == "synthcxr":
        declared = SYNTHCXR_GROUND_TRUTH
    present = set(columns)
    return [c for c in (declared or ()) if isinstance(c, str) and c in present]


def check_unique_ids(ids: pd.Series, where: str) -> None:
    """Refuse image ids that appear more than once.

    Args:
        ids (pd.Series): the image ids.
        where (str): named in the message.

    Raises:
        DuplicateIdError: with up to five examples.
    """
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        first = list(dict.fromkeys(dup.astype(str)))[:5]
        raise DuplicateIdError(f"{where}: {dup.nunique()} image id(s) appear more than once, "
                               f"e.g. {', '.join(first)}")


def check_no_leakage(table: pd.DataFrame, where: str) -> None:
    """Refuse a patient whose images lie in more than one split (label leakage).

    Args:
        table (pd.DataFrame): the table (patient_id, split).
        where (str): named in the message.

    Raises:
        LeakageError: with up to five examples.
    """
    per_patient = table.groupby("patient_id", sort=False)["split"].nunique()
    leaked = per_patient[per_patient > 1]
    if len(leaked):
        examples = []
        for pid in leaked.index[:5]:
            splits = sorted(set(table.loc[table["patient_id"] == pid, "split"]))
            examples.append(f"{pid} ({'/'.join(splits)})")
        raise LeakageError(f"{where}: {len(leaked)} patient(s) appear in more than one split "
                           f"(label leakage), e.g. {', '.join(examples)}")


def describe_labels(table: pd.DataFrame, classes: list[str], eval_split: str) -> dict:
    """JSON-able label facts for `Dataset.description`.

    Classes without positives or negatives on the evaluation split are recorded, not raised:
    their AP/AUC are undefined and reported as missing downstream.

    Args:
        table (pd.DataFrame): the table (split, patient_id and the classes).
        classes (list[str]): the class columns.
        eval_split (str): the evaluation split.

    Returns:
        dict: classes, n_images, n_patients, splits (images, patients), eval_split,
        nan_counts, classes_without_positives, classes_without_negatives.
    """
    splits = {}
    for s in SPLITS:
        rows = table[table["split"] == s]
        splits[s] = {"images": int(len(rows)), "patients": int(rows["patient_id"].nunique())}
    y = table[classes].to_numpy(dtype=np.float32)
    ev = table["split"].to_numpy() == eval_split
    y_eval = y[ev]
    # Recorded, not raised: AP/AUC of such a class are undefined on the eval split and
    # downstream code reports them as missing instead of crashing.
    no_pos = [c for c, n in zip(classes, (y_eval == 1).sum(0), strict=True) if n == 0]
    no_neg = [c for c, n in zip(classes, (y_eval == 0).sum(0), strict=True) if n == 0]
    return {
        "classes": list(classes),
        "n_images": int(len(table)),
        "n_patients": int(table["patient_id"].nunique()),
        "splits": splits,
        "eval_split": eval_split,
        "nan_counts": {c: int(n) for c, n in zip(classes, np.isnan(y).sum(0), strict=True)},
        "classes_without_positives": no_pos,
        "classes_without_negatives": no_neg,
    }
