"""Dataset formats: one loader per format of label files, registered by name in `DATASETS`.

Each format's loader turns its files into the contract table of `core.data` (see
docs/ARCHITECTURE.md, "Data contract"); `load_dataset` then checks the table (unique ids,
known splits, no patient in two splits) and adds the label facts to the description.
Loaders never open image files: a summary of the labels needs no pixels, and image
problems are reported once, by `core.data.images.build_cache`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.data import chestxray14
from core.data.base import BASE_COLUMNS, Dataset, register_dataset, take_options
from core.data.images import FileSource
from core.data.labels import (
    label_like_columns,
    normalise_sex,
    normalise_split,
    parse_age,
    parse_labels,
    read_csv_text,
)
from core.errors import DuplicateIdError, LabelError

# Class order as in the paper's code (PruneCXR src/datasets.py); the study stores it.
NIH_CXR_LT_CLASSES = [
    "No Finding", "Infiltration", "Effusion", "Atelectasis", "Nodule", "Mass", "Consolidation",
    "Pneumothorax", "Pleural Thickening", "Cardiomegaly", "Emphysema", "Edema", "Fibrosis",
    "Subcutaneous Emphysema", "Pneumonia", "Tortuous Aorta", "Calcification of the Aorta",
    "Pneumoperitoneum", "Hernia", "Pneumomediastinum",
]
MIMIC_CXR_LT_CLASSES = [
    "Support Devices", "Lung Opacity", "Cardiomegaly", "Pleural Effusion", "Atelectasis",
    "Pneumonia", "Edema", "No Finding", "Enlarged Cardiomediastinum", "Consolidation",
    "Pneumothorax", "Fracture", "Calcification of the Aorta", "Tortuous Aorta",
    "Subcutaneous Emphysema", "Lung Lesion", "Pneumomediastinum", "Pneumoperitoneum",
    "Pleural Other",
]
NIH_FILE = "miccai2023_nih-cxr-lt_labels_{split}.csv"
MIMIC_FILE = "miccai2023_mimic-cxr-lt_labels_{split}.csv"
_FILE_SPLITS = ("train", "val", "test")
# MIMIC-CXR-JPG layout: files/p10/p10000032/s50414267/<dicom_id>.jpg; the patient folder is
# "p" + the 8-digit subject_id, directly above the study folder "s" + study_id.
_MIMIC_PATIENT = re.compile(r"(?:^|/)p(\d+)/s\d+/[^/]+$")


# --------------------------------------------------------------------------- helpers
def _part(ids, paths, split, patients, labels: pd.DataFrame, sex=None, age=None,
          view=None) -> pd.DataFrame:
    """Contract columns for the rows of `labels` (same index); `split` is a name or a Series."""
    index = labels.index
    column = lambda values, fill=np.nan: pd.Series(fill if values is None else values,
                                                   index=index)
    base = pd.DataFrame({
        "id": column(ids).astype(str),
        "path": column(paths).astype(str),
        "split": column(split),
        "patient_id": column(patients).astype(str),
        "sex": column(sex).astype(object),
        "age": column(age).astype(float),
        "view": column(view).astype(object),
    })
    return pd.concat([base, labels], axis=1)


def _check_unique_in_file(ids: pd.Series, path) -> None:
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        first = list(dict.fromkeys(dup))[:5]
        raise DuplicateIdError(f"{path}: {dup.nunique()} image id(s) appear more than once, "
                               f"e.g. {', '.join(first)}")


def _check_unique_across(parts: list[pd.DataFrame], files: list[Path]) -> None:
    seen: dict[str, Path] = {}
    clashes = []
    for part, f in zip(parts, files, strict=True):
        for i in part["id"]:
            if i in seen:
                clashes.append(f"{i} ({seen[i].name} and {f.name})")
            else:
                seen[i] = f
        if len(clashes) >= 5:
            break
    if clashes:
        raise DuplicateIdError(f"image id(s) listed in more than one label file: "
                               f"{', '.join(clashes[:5])}")


def _add_uncertain(total: dict, new: dict) -> None:
    for c, n in new.items():
        total[c] = total.get(c, 0) + n


def _jsonable(options: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()}


def _paper_files(label_dir, pattern: str) -> list[Path]:
    label_dir = Path(label_dir)
    if not label_dir.is_dir():
        raise FileNotFoundError(f"label_dir not found: {label_dir}")
    return [label_dir / pattern.format(split=s) for s in _FILE_SPLITS]


def _merge_cxr14_metadata(table: pd.DataFrame, option) -> tuple[pd.DataFrame, str]:
    """Fill sex/age/view from ChestX-ray14 metadata (NIH-CXR-LT ids are its image names)."""
    if option is False:
        return table, "ChestX-ray14 metadata not merged (metadata: false)"
    try:
        meta = chestxray14.read_metadata(None if option in (True, "auto") else option)
    except FileNotFoundError:
        if option == "auto":
            return table, "ChestX-ray14 metadata not found: sex, age and view unknown"
        raise
    meta = meta.set_index("id")[["sex", "age", "view"]]
    found = table["id"].isin(meta.index)
    for col in ("sex", "age", "view"):
        table[col] = table["id"].map(meta[col])
    return table, f"sex, age and view from ChestX-ray14 metadata for {int(found.sum())} images"


# --------------------------------------------------------------------------- formats
@register_dataset("nih-cxr-lt")
def read_nih_cxr_lt(options: dict, *, cfg) -> Dataset:
    """The paper's NIH-CXR-LT label files: `id`, 20 classes, `subj_id`; images in one folder.

    Args:
        options (dict): label_dir (required), image_root, metadata ("auto": merge
            ChestX-ray14's sex, age and view when available).
        cfg (StudyConfig | None): unused; the registry's loader signature.

    Returns:
        Dataset: the "nih-cxr-lt" dataset.

    Raises:
        ConfigError: for unknown or missing options.
        LabelError: for unreadable files, bad labels, or ids repeated within or across
            files.
    """
    opts = take_options("nih-cxr-lt", options, required=("label_dir",),
                        optional={"image_root": None, "metadata": "auto"})
    files = _paper_files(opts["label_dir"], NIH_FILE)
    parts, uncertain = [], {}
    for split, f in zip(_FILE_SPLITS, files, strict=True):
        raw = read_csv_text(f, ["id", "subj_id"])
        labels, unc = parse_labels(raw, NIH_CXR_LT_CLASSES, f)
        _check_unique_in_file(raw["id"], f)
        _add_uncertain(uncertain, unc)
        parts.append(_part(raw["id"], raw["id"], split, raw["subj_id"], labels))
    _check_unique_across(parts, files)
    table, note = _merge_cxr14_metadata(pd.concat(parts, ignore_index=True), opts["metadata"])
    return Dataset("nih-cxr-lt", list(NIH_CXR_LT_CLASSES), table, FileSource(opts["image_root"]),
                   {"options": _jsonable(opts), "label_files": [str(f) for f in files],
                    "uncertain_counts": uncertain, "notes": [note]})


def mimic_patient_ids(paths: pd.Series, file) -> pd.Series:
    """Patient (subject) id from MIMIC-CXR-JPG paths such as files/p10/p10000032/s5…/x.jpg.

    Args:
        paths (pd.Series): the image paths ("/" or "\\" separated).
        file (str | Path): the label file, named in the message.

    Returns:
        pd.Series: the ids without the "p" (e.g. "10000032").

    Raises:
        LabelError: when a path has no pXXXXXXXX/sXXXXXXXX folder.
    """
    found = paths.str.replace("\\", "/", regex=False).str.extract(_MIMIC_PATIENT)[0]
    if found.isna().any():
        bad = list(dict.fromkeys(paths[found.isna()]))[:3]
        raise LabelError(f"{file}: column 'path' has value(s) without a MIMIC-CXR patient "
                         f"folder (…/pXXXXXXXX/sXXXXXXXX/image.jpg), e.g. "
                         f"{', '.join(map(repr, bad))}")
    return found


@register_dataset("mimic-cxr-lt")
def read_mimic_cxr_lt(options: dict, *, cfg) -> Dataset:
    """The paper's MIMIC-CXR-LT label files: `path` (relative to the MIMIC-CXR-JPG root), 19
    classes; the patient id is the path's pXXXXXXXX folder (or `subject_id` if present).

    Args:
        options (dict): label_dir (required), image_root.
        cfg (StudyConfig | None): unused; the registry's loader signature.

    Returns:
        Dataset: the "mimic-cxr-lt" dataset; image ids are the DICOM ids (file stems).

    Raises:
        ConfigError: for unknown or missing options.
        LabelError: for unreadable files, bad labels, paths without a patient folder, or
            repeated ids.
    """
    opts = take_options("mimic-cxr-lt", options, required=("label_dir",),
                        optional={"image_root": None})
    files = _paper_files(opts["label_dir"], MIMIC_FILE)
    parts, uncertain = [], {}
    for split, f in zip(_FILE_SPLITS, files, strict=True):
        raw = read_csv_text(f, ["path"])
        labels, unc = parse_labels(raw, MIMIC_CXR_LT_CLASSES, f)
        _check_unique_in_file(raw["path"], f)
        _add_uncertain(uncertain, unc)
        if "subject_id" in raw.columns:
            patients = raw["subject_id"].str.removeprefix("p")
        else:
            patients = mimic_patient_ids(raw["path"], f)
        # the DICOM id (file stem) is unique in MIMIC-CXR and far shorter than the path
        ids = raw["path"].str.rsplit("/", n=1).str[-1].str.rsplit(".", n=1).str[0]
        view = raw["ViewPosition"].replace("", np.nan) if "ViewPosition" in raw else None
        parts.append(_part(ids, raw["path"], split, patients, labels, view=view))
    _check_unique_across(parts, files)
    table = pd.concat(parts, ignore_index=True)
    return Dataset("mimic-cxr-lt", list(MIMIC_CXR_LT_CLASSES), table,
                   FileSource(opts["image_root"]),
                   {"options": _jsonable(opts), "label_files": [str(f) for f in files],
                    "uncertain_counts": uncertain, "notes": []})


@register_dataset("chestx-ray14")
def read_chestx_ray14(options: dict, *, cfg) -> Dataset:
    """ChestX-ray14 metadata (shipped by torchxrayvision), split by patient with a fixed seed.

    Args:
        options (dict): image_root, metadata (None = torchxrayvision's file), seed,
            fractions.
        cfg (StudyConfig | None): unused; the registry's loader signature.

    Returns:
        Dataset: the "chestx-ray14" dataset (15 classes).

    Raises:
        ConfigError: for unknown or malformed options.
        FileNotFoundError: when the metadata file is not there.
    """
    opts = take_options("chestx-ray14", options,
                        optional={"image_root": None, "metadata": None, "seed": 0,
                                  "fractions": [0.7, 0.1, 0.2]})
    meta = chestxray14.read_metadata(opts["metadata"])
    split = chestxray14.split_by_patient(meta["patient_id"], tuple(opts["fractions"]),
                                         seed=int(opts["seed"]))
    classes = list(chestxray14.CLASSES)
    table = _part(meta["id"], meta["id"], pd.Series(split), meta["patient_id"], meta[classes],
                  sex=normalise_sex(meta["sex"]), age=meta["age"], view=meta["view"])
    path = opts["metadata"] or chestxray14.metadata_path()
    return Dataset("chestx-ray14", classes, table, FileSource(opts["image_root"]),
                   {"options": _jsonable(opts), "label_files": [str(path)],
                    "uncertain_counts": {c: 0 for c in classes},
                    "notes": [f"split by patient, seed {opts['seed']}, "
                              f"fractions {list(opts['fractions'])}"]})


@register_dataset("csv")
def read_csv_dataset(options: dict, *, cfg) -> Dataset:
    """Any CSV: an image-path column, class columns, and a split column or a patient column.

    Without `class_columns`, every column of 1/0/-1/blank not named in another option (or in
    `exclude_columns`) is a class; other numeric columns are listed in the notes.
    With `split_column` and `patient_column`, patients in two splits are an error; with only
    `patient_column`, images are split by patient (`fractions`, `seed`).

    Args:
        options (dict): path (required), image_root, image_column, class_columns,
            split_column, patient_column, id_column, sex_column, age_column, view_column,
            exclude_columns, fractions, seed.
        cfg (StudyConfig | None): unused; the registry's loader signature.

    Returns:
        Dataset: the "csv" dataset.

    Raises:
        ConfigError: for unknown or malformed options.
        LabelError: for neither split nor patient column, no class columns, bad labels,
            ages or splits, or repeated ids.
    """
    opts = take_options("csv", options, required=("path",), optional={
        "image_root": None, "image_column": "path", "class_columns": None, "split_column": None,
        "patient_column": None, "id_column": None, "sex_column": None, "age_column": None,
        "view_column": None, "exclude_columns": [], "fractions": [0.7, 0.1, 0.2], "seed": 0})
    f = Path(opts["path"])
    named = [opts[k] for k in ("image_column", "split_column", "patient_column", "id_column",
                               "sex_column", "age_column", "view_column") if opts[k]]
    if not opts["split_column"] and not opts["patient_column"]:
        raise LabelError(f"{f}: the csv format needs split_column (train/val/test per row) or "
                         "patient_column (to split by patient); give one with --option")
    raw = read_csv_text(f, named)
    classes = opts["class_columns"]
    notes = []
    if classes is None:
        classes, other = label_like_columns(raw, set(named) | set(opts["exclude_columns"]))
        if not classes:
            raise LabelError(f"{f}: no class columns found (columns of 1/0/-1/blank); name "
                             "them with class_columns")
        if other:
            notes.append(f"numeric column(s) {', '.join(other)} hold values other than "
                         "1/0/-1 and are not used as classes (name class_columns to choose)")
    elif isinstance(classes, str) or not isinstance(classes, list):
        raise LabelError(f"{f}: class_columns must be a list of column names, got {classes!r}")
    labels, uncertain = parse_labels(raw, list(classes), f)
    paths = raw[opts["image_column"]]
    ids = raw[opts["id_column"]] if opts["id_column"] else paths
    _check_unique_in_file(ids, f)
    if opts["patient_column"]:
        patients = raw[opts["patient_column"]]
    else:
        patients = ids
        notes.append("no patient column: each image counts as its own patient, so leakage "
                     "between splits cannot be checked")
    if opts["split_column"]:
        split = normalise_split(raw[opts["split_column"]], f, opts["split_column"])
    else:
        split = pd.Series(chestxray14.split_by_patient(patients, tuple(opts["fractions"]),
                                                       seed=int(opts["seed"])))
        notes.append(f"split by patient, seed {opts['seed']}, fractions "
                     f"{list(opts['fractions'])}")
    sex = normalise_sex(raw[opts["sex_column"]]) if opts["sex_column"] else None
    age = parse_age(raw[opts["age_column"]], f, opts["age_column"]) if opts["age_column"] else None
    view = raw[opts["view_column"]].replace("", np.nan) if opts["view_column"] else None
    table = _part(ids, paths, split, patients, labels, sex=sex, age=age, view=view)
    extra = [c for c in raw.columns if c not in set(named) | set(classes) | set(BASE_COLUMNS)]
    return Dataset("csv", list(classes), table, FileSource(opts["image_root"]),
                   {"options": _jsonable(opts), "label_files": [str(f)],
                    "uncertain_counts": uncertain, "notes": notes,
                    "ignored_columns": extra})

