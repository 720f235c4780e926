"""ChestX-ray14 metadata as shipped by the torchxrayvision package, and patient-level splits.

The file is located without importing torchxrayvision (whose import pulls in scikit-image
and takes seconds); only its data folder is read.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.labels import read_csv_checked  # the header checks every label CSV gets

METADATA_NAME = "Data_Entry_2017_v2020.csv.gz"
# The 14 findings of ChestX-ray14 plus No Finding, ordered by frequency (real counts).
CLASSES = [
    "No Finding", "Infiltration", "Effusion", "Atelectasis", "Nodule", "Mass", "Pneumothorax",
    "Consolidation", "Pleural Thickening", "Cardiomegaly", "Emphysema", "Edema", "Fibrosis",
    "Pneumonia", "Hernia",
]
_SOURCE_NAMES = {"Pleural_Thickening": "Pleural Thickening"}


def metadata_path() -> Path:
    """The ChestX-ray14 metadata CSV that torchxrayvision ships.

    Returns:
        Path: the file.

    Raises:
        FileNotFoundError: when torchxrayvision or the file is not installed.
    """
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "ChestX-ray14 metadata needs the torchxrayvision package "
            "(pip install -r requirements.txt); it ships " + METADATA_NAME)
    path = Path(spec.submodule_search_locations[0]) / "data" / METADATA_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found in the installed torchxrayvision")
    return path


def read_metadata(path: str | Path | None = None) -> pd.DataFrame:
    """ChestX-ray14 metadata, one row per image.

    Args:
        path (str | Path | None): the CSV; None = `metadata_path()`.

    Returns:
        pd.DataFrame: id, patient_id, age, sex, view and a 0/1 float32 column per class of
        `CLASSES`.

    Raises:
        ValueError: when a required source column is missing.
        LabelError: as `read_csv_checked`.
    """
    path = Path(path) if path is not None else metadata_path()
    raw = read_csv_checked(path)
    required = ["Image Index", "Finding Labels", "Patient ID", "Patient Age",
                "Patient Gender", "View Position"]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    findings = raw["Finding Labels"].fillna("").str.split("|")
    out = pd.DataFrame({
        "id": raw["Image Index"].astype(str),
        "patient_id": raw["Patient ID"].astype(str),
        "age": raw["Patient Age"].astype(float),
        "sex": raw["Patient Gender"].astype(str),
        "view": raw["View Position"].astype(str),
    })
    names = findings.map(lambda fs: {_SOURCE_NAMES.get(f, f) for f in fs})
    for cls in CLASSES:
        out[cls] = names.map(lambda s, c=cls: c in s).astype(np.float32)
    return out


def split_by_patient(patient_ids, fractions=(0.7, 0.1, 0.2), seed: int = 0,
                     names=("train", "val", "test")) -> np.ndarray:
    """Assign every image a split so that no patient appears in two splits.

    Patients are shuffled with a fixed seed and cut by cumulative *image* counts, so the
    image fractions come out close to the requested ones even when patients have many images.

    Args:
        patient_ids (array-like): ``[n]`` patient ids (compared as text).
        fractions (Sequence[float]): one share per split, summing to 1.
        seed (int): the shuffle's seed.
        names (Sequence[str]): the split names.

    Returns:
        np.ndarray: object ``[n]`` split name per image.

    Raises:
        ValueError: when `fractions` and `names` differ in length or do not sum to 1.
    """
    if len(fractions) != len(names) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions {fractions} must have {len(names)} entries summing to 1")
    pids = pd.Series(np.asarray(patient_ids).astype(str))
    counts = pids.value_counts(sort=False)
    order = np.random.default_rng(seed).permutation(len(counts))
    patients = counts.index.to_numpy()[order]
    cum = np.cumsum(counts.to_numpy()[order]) / len(pids)
    edges = np.cumsum(fractions)[:-1]
    which = np.searchsorted(edges, cum, side="left")
    # a patient goes to the split in which its last image lands (so the one whose images
    # cross an edge goes to the later split; one ending exactly on an edge, to the earlier)
    which = np.minimum(which, len(names) - 1)
    mapping = dict(zip(patients, np.asarray(names)[which], strict=True))
    return pids.map(mapping).to_numpy()
