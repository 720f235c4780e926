"""Datasets by name: label tables, image sources and the checks every table passes.

    ds = load_dataset(DatasetConfig(name="nih-cxr-lt", options={"label_dir": …}))

Dataset formats (the loader of each, by name in `DATASETS`) live in `core.data.formats` (and
`core.data.synthcxr`, imported only when used);
the data contract is in docs/ARCHITECTURE.md ("Data contract").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.config import DatasetConfig
from core.data import formats as _formats  # noqa: F401  (registers the file formats)
from core.data.base import (
    BASE_COLUMNS,
    DATASETS,
    SPLITS,
    Dataset,
    ImageSource,
    check_table,
    describe_labels,
    register_dataset,
)
from core.errors import ConfigError, DuplicateIdError, LabelError, LeakageError, MissingImagesError


@register_dataset("synthcxr")
def _read_synthcxr(options: dict, *, cfg: DatasetConfig) -> Dataset:
    # imported lazily: the renderer is not needed to read real label files
    from core.data.synthcxr import load_synthcxr

    return load_synthcxr(options, cfg=cfg)


def load_dataset(cfg: DatasetConfig, *, image_size: int | None = None) -> Dataset:
    """Read the dataset `cfg.name` with `cfg.options`, check its table, describe its labels.

    Args:
        cfg (DatasetConfig): a registered dataset format (`DATASETS`) and its options.
        image_size (int | None): only recorded in the description (sources take the size
            per call).

    Returns:
        Dataset: the checked table (one row per image: `BASE_COLUMNS`, then one float32
        column per class, NaN = not labelled), its classes, image source and description.

    Raises:
        ConfigError: unknown dataset name, eval split or option.
        LabelError: the label files break the data contract (a subclass names the rule).
    """
    if cfg.name not in DATASETS:
        raise ConfigError(f"dataset.name: unknown value {cfg.name!r}; allowed: "
                          f"{', '.join(sorted(DATASETS))}")
    if cfg.eval_split not in ("val", "test"):
        raise ConfigError(f"dataset.eval_split: {cfg.eval_split!r}; allowed: val, test")
    ds = DATASETS[cfg.name](dict(cfg.options or {}), cfg=cfg)
    table = ds.table.reset_index(drop=True)
    check_table(table, ds.classes, where=f"dataset {cfg.name!r}")
    for col in ("id", "path", "split", "patient_id"):
        table[col] = table[col].astype(str)
    for col in ("sex", "view"):  # text with missing values (NaN), parquet-friendly
        table[col] = table[col].astype(pd.StringDtype(na_value=np.nan))
    table["age"] = table["age"].astype(float)
    for c in ds.classes:
        table[c] = table[c].astype(np.float32)
    extra = [c for c in table.columns if c not in (*BASE_COLUMNS, *ds.classes)]
    ds.table = table[[*BASE_COLUMNS, *ds.classes, *extra]]
    ds.description = {
        "name": ds.name,
        **ds.description,
        **describe_labels(ds.table, ds.classes, cfg.eval_split),
        "source": ds.source.describe(),
        "image_size": image_size,
    }
    return ds


def source_from_description(desc: dict, image_root=None) -> ImageSource:
    """Re-create the image source that `ImageSource.describe()` described.

    Args:
        desc (dict): the stored description (study.json "dataset" → "source").
        image_root (str | Path | None): replaces a stored folder (the study may be opened
            on another machine).

    Returns:
        ImageSource: a `FileSource` or a `SynthSource`.

    Raises:
        ValueError: the description's kind is unknown.
    """
    kind = desc.get("kind") if isinstance(desc, dict) else None
    if kind == "files":
        from core.data.images import FileSource

        return FileSource.from_description(desc, image_root=image_root)
    if kind == "synthcxr":
        from core.data.synthcxr import SynthSource

        return SynthSource.from_description(desc)
    raise ValueError(f"unknown image source kind {kind!r}; known: files, synthcxr")


# Names this package had when "reader" meant a dataset format too; "reader" now means only the
# reader study's human reader. Old plugin code keeps working, with a DeprecationWarning.
_RENAMED = {"READERS": "DATASETS", "register_reader": "register_dataset"}


def __getattr__(name: str):
    if name in _RENAMED:
        import warnings

        warnings.warn(f"core.data.{name} is now core.data.{_RENAMED[name]}", DeprecationWarning,
                      stacklevel=2)
        return globals()[_RENAMED[name]]
    raise AttributeError(f"module 'core.data' has no attribute {name!r}")


__all__ = [
    "Dataset", "ImageSource", "DATASETS", "SPLITS", "register_dataset", "load_dataset",
    "source_from_description", "LabelError", "DuplicateIdError", "LeakageError",
    "MissingImagesError",
]
