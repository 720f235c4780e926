"""The one reader (and encoder) of stored model outputs: every module that needs predictions
goes through here, never through the .npy files directly.

What is stored, and why (measured in benchmarks/bench_precision.py, see RESULTS.md):
- studies made by PruneLens store float32 LOGITS (`{"kind": "logit", "dtype": "float32"}` in
  study.json under "predictions"). No 16-bit encoding keeps per-class AP within 1e-4 of
  float32 on paper-scale outputs: float16 probabilities and float16 logits both move AP by
  ~1e-3 (ties between a positive and a negative collapse) — float16 probabilities saturate
  near p = 1, float16 logits are coarse at large |logit|. Logits, not probabilities, because
  a float32 sigmoid saturates to exactly 1.0 past logit ≈ 17 and so invents ties.
- imported paper predictions (core/importer.py) are probabilities as released: float32.
- a study.json without "predictions" is a study made before this module: float16 sigmoid
  probabilities (`LEGACY`), still read correctly. The key is additive and defaulted, so the
  study schema stays version 1.

Two views of a stored grid [S, N, C] (sparsity, image, class):
- `read_scores`: float32 values that rank exactly as the stored outputs (the logits, or the
  stored probabilities) — compute AP/AUC on these;
- `read_probabilities`: float32 sigmoid probabilities (sigmoid in float64, then cast) — for
  anything that averages or thresholds outputs (PIE ensembles, majority votes, operating
  points).

Dense-model validation predictions (`models/seed-<s>/val_predictions.npy`, [Nval, C], same
encoding; rows = `data/val_labels.parquet` row) exist in studies run after they were added.
`read_val_probabilities` / `read_val_labels` return None for a study that has none (made
before, e.g. the demo shipped before this change, or imported: the release has no model) and
raise `PredictionFileError` when study.json says they were written but the file is gone.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from core import store
from core.errors import PredictionFileError
from core.store import StudyPaths

__all__ = ["Encoding", "LEGACY", "DEFAULT", "IMPORTED", "Stored",
           "study_encoding", "encode", "sigmoid", "open_predictions", "read_scores",
           "read_probabilities", "has_val_predictions", "read_val_probabilities",
           "read_val_labels"]

KINDS = ("logit", "probability")
DTYPES = ("float16", "float32")

@dataclass(frozen=True)
class Encoding:
    """How a study stores model outputs: `kind` "logit" or "probability", `dtype` "float16"
    or "float32" (ValueError on anything else)."""

    kind: str    # "logit" | "probability"
    dtype: str   # "float16" | "float32"

    def __post_init__(self):
        if self.kind not in KINDS or self.dtype not in DTYPES:
            raise ValueError(f"unknown prediction encoding kind={self.kind!r}, "
                             f"dtype={self.dtype!r} (kinds {KINDS}, dtypes {DTYPES})")

    def to_json(self) -> dict:
        return {"kind": self.kind, "dtype": self.dtype}

    @classmethod
    def from_json(cls, obj) -> Encoding:
        if not isinstance(obj, dict):
            raise ValueError(f"'predictions' must be an object, got {obj!r}")
        return cls(str(obj.get("kind")), str(obj.get("dtype")))


LEGACY = Encoding("probability", "float16")   # studies without a "predictions" record
DEFAULT = Encoding("logit", "float32")        # what new studies store
IMPORTED = Encoding("probability", "float32")  # the paper's released sigmoid outputs


# --------------------------------------------------------------------------- encoding
def sigmoid(x) -> np.ndarray:
    """float64 sigmoid (scipy's expit: no overflow for large |x|).

    Args:
        x (np.ndarray): logits, any float dtype and shape.

    Returns:
        np.ndarray: float64, `x`'s shape.

    Example:
        >>> sigmoid([0.0, 800.0, -800.0]).tolist()
        [0.5, 1.0, 0.0]
    """
    return expit(np.asarray(x, dtype=np.float64))


def encode(logits, encoding: Encoding = DEFAULT) -> np.ndarray:
    """Model logits → the array to store under `encoding`.

    Args:
        logits (np.ndarray): any float dtype, any shape (e.g. ``[S, N, C]``).
        encoding (Encoding): what to store (default: float32 logits).

    Returns:
        np.ndarray: `logits`' shape, in `encoding.dtype`: the logits themselves, or their
        sigmoid (computed in float64) for a probability encoding.
    """
    logits = np.asarray(logits)
    if encoding.kind == "logit":
        return logits.astype(encoding.dtype)
    return sigmoid(logits).astype(encoding.dtype)


def study_encoding(root_or_meta) -> Encoding:
    """The encoding of a study's prediction files (study.json "predictions"; absent = LEGACY).

    Args:
        root_or_meta (str | Path | dict): a study folder or its already-read study.json.

    Returns:
        Encoding: the recorded encoding.
    """
    if isinstance(root_or_meta, dict):
        meta, where = root_or_meta, store.STUDY_JSON
    else:
        path = StudyPaths(root_or_meta).study_json
        meta, where = store.read_json(path), str(path)
    rec = meta.get("predictions")
    if rec is None:
        return LEGACY
    try:
        return Encoding.from_json(rec)
    except ValueError as exc:
        raise PredictionFileError(f"{where}: {exc}") from exc


def encoding_record(encoding: Encoding, validation: bool) -> dict:
    """The study.json "predictions" value.

    Args:
        encoding (Encoding): the encoding of the stored grids.
        validation (bool): whether dense-model validation predictions were written (so a
            missing file is an error, not an old study).

    Returns:
        dict: {"kind", "dtype", "validation"}, JSON-able.
    """
    return {**encoding.to_json(), "validation": bool(validation)}


# --------------------------------------------------------------------------- reading
def _open(path: Path) -> np.ndarray:
    if not path.is_file():
        raise PredictionFileError(f"{path}: missing")
    return store.open_npy(path)   # a truncated or damaged file: UnreadableFile


@dataclass
class Stored:
    """One stored prediction file, memory-mapped, with its encoding.

    Index it lazily (`scores(k)`, `probabilities(k, rows)`) to touch only part of a
    paper-scale file."""

    path: Path
    encoding: Encoding
    raw: np.ndarray

    @property
    def shape(self) -> tuple:
        return self.raw.shape

    def check_dtype(self) -> None:
        if self.raw.dtype != np.dtype(self.encoding.dtype):
            raise PredictionFileError(
                f"{self.path}: dtype {self.raw.dtype}, study.json says {self.encoding.dtype}")

    def scores(self, *index) -> np.ndarray:
        """float32 ranking-equivalent scores of `raw[index]` (a memmap view when float32)."""
        part = self.raw[index] if index else self.raw
        return part if part.dtype == np.float32 else np.asarray(part, dtype=np.float32)

    def probabilities(self, *index) -> np.ndarray:
        """float32 sigmoid probabilities of `raw[index]`."""
        part = self.raw[index] if index else self.raw
        if self.encoding.kind == "probability":
            return np.asarray(part, dtype=np.float32)
        return sigmoid(part).astype(np.float32)


def _stored(root, path: Path, encoding: Encoding | None) -> Stored:
    enc = encoding or study_encoding(root)
    out = Stored(path, enc, _open(path))
    out.check_dtype()
    return out


def open_predictions(root, method: str, seed: int, encoding: Encoding | None = None) -> Stored:
    """The memory-mapped prediction grid of (method, seed).

    Args:
        root (str | Path): the study folder.
        method (str): the pruning method.
        seed (int): the seed.
        encoding (Encoding | None): the study's encoding (None: read from study.json).

    Returns:
        Stored: the grid ``[S, N, C]``, indexed lazily.
    """
    return _stored(root, StudyPaths(root).predictions(method, seed), encoding)


def read_scores(root, method: str, seed: int) -> np.ndarray:
    """Scores ranking exactly as the stored outputs: use for AP/AUC.

    Args:
        root (str | Path): the study folder.
        method (str): the pruning method.
        seed (int): the seed.

    Returns:
        np.ndarray: float32 ``[S, N, C]``.
    """
    return open_predictions(root, method, seed).scores()


def read_probabilities(root, method: str, seed: int) -> np.ndarray:
    """Sigmoid probabilities of a stored grid.

    Args:
        root (str | Path): the study folder.
        method (str): the pruning method.
        seed (int): the seed.

    Returns:
        np.ndarray: float32 ``[S, N, C]`` (computed in float64).
    """
    return open_predictions(root, method, seed).probabilities()


# --------------------------------------------------------------------------- validation
def has_val_predictions(root) -> bool:
    """Whether the study was made with dense-model validation predictions.

    Args:
        root (str | Path): the study folder.

    Returns:
        bool: True when study.json records them.
    """
    rec = store.read_json(StudyPaths(root).study_json).get("predictions")
    return isinstance(rec, dict) and bool(rec.get("validation"))


def _val_or_none(root, path: Path):
    if path.is_file():
        return path
    if has_val_predictions(root):
        raise PredictionFileError(f"{path}: missing (study.json says validation predictions "
                                  "were written; the study is incomplete or damaged)")
    return None


def read_val_probabilities(root, seed: int) -> np.ndarray | None:
    """Sigmoid outputs of a seed's dense model on the validation split.

    Args:
        root (str | Path): the study folder.
        seed (int): the seed.

    Returns:
        np.ndarray | None: float32 ``[Nval, C]``, rows as `read_val_labels`; None for a
        study without them (made before they existed, or imported).
    """
    path = _val_or_none(root, StudyPaths(root).val_predictions(seed))
    return None if path is None else _stored(root, path, None).probabilities()


def read_val_scores(root, seed: int) -> np.ndarray | None:
    """Ranking-equivalent scores of a seed's dense model on the validation split (AP/AUC).

    Args:
        root (str | Path): the study folder.
        seed (int): the seed.

    Returns:
        np.ndarray | None: float32 ``[Nval, C]``; None as `read_val_probabilities`.
    """
    path = _val_or_none(root, StudyPaths(root).val_predictions(seed))
    return None if path is None else _stored(root, path, None).scores()


def read_val_labels(root) -> pd.DataFrame | None:
    """data/val_labels.parquet sorted by `row`.

    Args:
        root (str | Path): the study folder.

    Returns:
        pd.DataFrame | None: row, id, patient_id, sex, age, view, class columns 1/0/NaN and
        the ground-truth columns if the dataset has them; None for a study without them.
    """
    path = _val_or_none(root, StudyPaths(root).val_labels)
    if path is None:
        return None
    return store.read_rows(path)
