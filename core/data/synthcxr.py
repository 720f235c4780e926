"""SynthCXR, the embedded demo dataset: real ChestX-ray14 labels, rendered radiographs.

Labels, patient ids, age, sex and view are the real ones from the ChestX-ray14 metadata that
torchxrayvision ships (112,120 images, the real long tail and co-occurrences), split by patient.
Pixels are procedural chest radiographs (`core.data.synth_render`) with one visual signature per
finding. Two facts no real dataset has are stored per image as ground truth:

- ``quality`` (0 poor – 1 excellent): drives the image's contrast, noise and blur;
- ``label_noise``: the drawn findings differ from the label vector by one finding, dropped or
  added (``noise_detail`` says which), in about ``noise_rate`` of the images.

Everything about an image is a function of (seed, synth_index) and its row's labels, so
`SynthSource.load` renders the same pixels in the study runner and in the dashboard.
"""
from __future__ import annotations

import warnings
import zlib

import numpy as np
import pandas as pd

from core.data.base import GROUND_TRUTH_KEY, SYNTHCXR_GROUND_TRUTH, Dataset, take_options
from core.data.chestxray14 import CLASSES, read_metadata, split_by_patient
from core.data.synth_base import Streams
from core.data.synth_findings import FINDINGS
from core.data.synth_render import RENDER_VERSION, render
from core.errors import ConfigError

# Real ChestX-ray14 image counts per finding (FINDINGS order): an added noisy finding is drawn
# with these weights, so label noise does not change the long tail's shape.
_PREVALENCE = np.array([19894, 13317, 11559, 6331, 5782, 5302, 4667, 3385, 2776, 2516, 2303,
                        1686, 1431, 227], dtype=np.float64)

OPTIONS = {
    "seed": 0,            # rendering, label noise, quality, subsampling and split all follow it
    "n_images": None,     # None: all 112,120; else whole patients at random until about n
    # None: the subsample keeps the real prevalences. A number α in (0, 1]: images are drawn
    # so that class counts follow about count^α (rare classes kept more often, order kept);
    # see `_subsample_tempered`.
    "prevalence_power": None,
    "fractions": [0.7, 0.1, 0.2],  # train / val / test, by patient
    "noise_rate": 0.04,   # fraction of images whose drawn findings differ from their labels
    "difficulty": 1.0,    # >1 fainter, smaller signatures; <1 stronger (see synth_findings)
    "metadata_path": None,  # None: the file torchxrayvision ships
    # None: each label column is drawn with its own finding's signature. A mapping
    # {label column: finding} draws that finding's signature wherever the column is positive
    # (labels, frequencies and co-occurrences unchanged); see `check_signature_map`.
    "signature_map": None,
}

NOTE = ("SynthCXR: real ChestX-ray14 label vectors, patients, age, sex and view; procedurally "
        "rendered images (not real radiographs). quality and label_noise are ground truth.")


# --------------------------------------------------------------------------- ground truth
def image_quality(seed: int, synth_index, ap) -> np.ndarray:
    """Quality in [0.02, 1] per image; AP (often bedside) films are worse on average.

    Args:
        seed (int): the dataset seed.
        synth_index (np.ndarray): int ``[n]`` SynthCXR indices (one random stream each).
        ap (np.ndarray): bool ``[n]`` AP view.

    Returns:
        np.ndarray: float ``[n]``.
    """
    R = Streams(seed, synth_index, "quality")
    q = R.normal("q", 0.68, 0.17) - 0.08 * np.asarray(ap, dtype=bool)
    return np.clip(q, 0.02, 1.0)


def label_noise(seed: int, synth_index, findings, rate: float):
    """The findings to draw, given the labelled ones.

    With probability `rate` per image one finding is dropped (one of its positives, if any,
    half the time) or added (an absent one, weighted by real prevalence).

    Args:
        seed (int): the dataset seed.
        synth_index (np.ndarray): int ``[n]`` SynthCXR indices.
        findings (np.ndarray): ``[n, 14]`` labels in FINDINGS order (NaN = 0).
        rate (float): probability of a change per image.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (drawn bool ``[n, 14]``, flag bool
        ``[n]``, detail str ``[n]``, e.g. "dropped Effusion").
    """
    Y = np.nan_to_num(np.asarray(findings, dtype=np.float64)) > 0.5
    n = len(Y)
    R = Streams(seed, synth_index, "label_noise")
    flag = R.u("flag") < rate
    has = Y.any(axis=1)
    drop = flag & has & (R.u("op") < 0.5)
    add = flag & ~drop
    weights = np.where(drop[:, None], Y, np.where(add[:, None], ~Y * _PREVALENCE, 0.0))
    cum = np.cumsum(weights, axis=1)
    pick = (cum > (R.u("which") * cum[:, -1])[:, None]).argmax(axis=1)
    drawn = Y.copy()
    rows = np.flatnonzero(flag)
    drawn[rows, pick[rows]] = ~Y[rows, pick[rows]]
    detail = np.full(n, "", dtype=object)
    names = np.array(FINDINGS, dtype=object)
    detail[drop] = "dropped " + names[pick[drop]]
    detail[add] = "added " + names[pick[add]]
    return drawn, flag, detail


def patient_keys(patient_ids) -> np.ndarray:
    """Integer key per patient id: the number itself (ChestX-ray14), else a CRC32 of the text.

    CRC keys are offset by 2^40 so they cannot meet a numeric id.

    Args:
        patient_ids (array-like): ``[n]`` ids.

    Returns:
        np.ndarray: int64 ``[n]``.
    """
    s = pd.Series(np.asarray(patient_ids)).astype(str)
    num = pd.to_numeric(s, errors="coerce")
    crc = s.map(lambda t: zlib.crc32(t.encode()) + (1 << 40))
    return np.where(num.notna(), num.fillna(0), crc).astype(np.int64)


# --------------------------------------------------------------------------- signature map
def check_signature_map(value, key: str = "dataset.options.signature_map") -> dict | None:
    """A checked signature map: None for the identity, else {label column: finding} in full.

    Keys are label columns, values the finding whose signature is drawn for them; columns
    left out keep their own signature. The whole map must be a permutation of the 14
    findings ("No Finding" has no signature and is never remapped). An identity map,
    given in full or in part, is returned as None so it describes exactly today's data.

    Args:
        value (dict | None): the option's value.
        key (str): the option's name, for messages.

    Returns:
        dict | None: the full map, or None.

    Raises:
        ConfigError: for a non-mapping, an unknown finding or "No Finding", or a map that is
            not a permutation.

    Example:
        >>> check_signature_map({"Nodule": "Nodule"}) is None
        True
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: a mapping {{label column: finding}} or null, got {value!r}")
    bad = [str(v) for pair in value.items() for v in pair if v not in FINDINGS]
    if bad:
        what = ("'No Finding' has no signature and cannot be remapped" if "No Finding" in bad
                else f"unknown finding(s) {', '.join(repr(b) for b in sorted(set(bad)))}")
        raise ConfigError(f"{key}: {what}; allowed: {', '.join(FINDINGS)}")
    full = {f: value.get(f, f) for f in FINDINGS}
    drawn_twice = sorted({v for v in full.values() if list(full.values()).count(v) > 1})
    if drawn_twice:
        raise ConfigError(f"{key}: not a permutation: {', '.join(drawn_twice)} would be drawn "
                          "for two label columns (every finding's signature exactly once)")
    return None if all(k == v for k, v in full.items()) else full


def drawn_signatures(drawn_labels: np.ndarray, signature_map: dict | None) -> np.ndarray:
    """The signatures to draw (FINDINGS order) from the drawn label columns.

    Args:
        drawn_labels (np.ndarray): bool ``[n, 14]`` drawn label columns.
        signature_map (dict | None): `check_signature_map`'s result; None = identity.

    Returns:
        np.ndarray: bool ``[n, 14]``.
    """
    if signature_map is None:
        return drawn_labels
    out = np.zeros_like(drawn_labels)
    for j, column in enumerate(FINDINGS):
        out[:, FINDINGS.index(signature_map[column])] = drawn_labels[:, j]
    return out


# --------------------------------------------------------------------------- image source
class SynthSource:
    """Renders rows of a SynthCXR table (needs synth_index, patient_id, view, sex, findings)."""

    kind = "synthcxr"

    def __init__(self, seed: int = 0, difficulty: float = 1.0, noise_rate: float = 0.04,
                 signature_map: dict | None = None):
        self.seed, self.difficulty, self.noise_rate = int(seed), float(difficulty), noise_rate
        self.signature_map = check_signature_map(signature_map, "signature_map")

    def load(self, rows: pd.DataFrame, size: int) -> np.ndarray:
        missing = [c for c in ("synth_index", "patient_id", "view", "sex", *FINDINGS)
                   if c not in rows.columns]
        if missing:
            raise ValueError(f"SynthCXR rows lack column(s) {', '.join(missing)}")
        idx = rows["synth_index"].to_numpy(dtype=np.int64)
        ap = rows["view"].astype(str).to_numpy() == "AP"
        drawn, _, _ = label_noise(self.seed, idx, rows[FINDINGS].to_numpy(), self.noise_rate)
        return render(self.seed, idx, patient_keys(rows["patient_id"]), ap,
                      rows["sex"].astype(str).to_numpy() == "F",
                      drawn_signatures(drawn, self.signature_map),
                      image_quality(self.seed, idx, ap), int(size), self.difficulty)

    def describe(self) -> dict:
        out = {"kind": self.kind, "seed": self.seed, "difficulty": self.difficulty,
               "noise_rate": self.noise_rate, "render_version": RENDER_VERSION}
        if self.signature_map is not None:  # absent for the identity: today's description
            out["signature_map"] = dict(self.signature_map)
        return out

    @classmethod
    def from_description(cls, desc: dict) -> SynthSource:
        if desc.get("kind") != cls.kind:
            raise ValueError(f"not a SynthCXR source description: kind {desc.get('kind')!r}")
        version = desc.get("render_version", RENDER_VERSION)
        if version != RENDER_VERSION:
            warnings.warn(f"SynthCXR images were rendered by renderer version {version}; this "
                          f"code renders version {RENDER_VERSION}, so re-rendered images differ "
                          "from those the study's models saw", stacklevel=2)
        return cls(seed=desc.get("seed", 0), difficulty=desc.get("difficulty", 1.0),
                   noise_rate=desc.get("noise_rate", OPTIONS["noise_rate"]),
                   signature_map=desc.get("signature_map"))


# --------------------------------------------------------------------------- the format
def _check(opts: dict) -> dict:
    seed = opts["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"dataset.options.seed: a non-negative integer, got {seed!r}")
    n = opts["n_images"]
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ConfigError(f"dataset.options.n_images: a positive integer or null, got {n!r}")
    a = opts["prevalence_power"]
    if a is not None and (not isinstance(a, int | float) or isinstance(a, bool)
                          or not 0 < a <= 1):
        raise ConfigError(f"dataset.options.prevalence_power: a number in (0, 1] or null, "
                          f"got {a!r}")
    if a is not None and n is None:
        raise ConfigError("dataset.options.prevalence_power needs n_images (the subsample "
                          "size it tempers)")
    fr = opts["fractions"]
    if (not isinstance(fr, list | tuple) or len(fr) != 3
            or any(not isinstance(f, int | float) or f < 0 for f in fr)
            or abs(sum(fr) - 1) > 1e-6):
        raise ConfigError(f"dataset.options.fractions: three non-negative numbers (train, val, "
                          f"test) summing to 1, got {fr!r}")
    if (not isinstance(opts["noise_rate"], int | float) or isinstance(opts["noise_rate"], bool)
            or not 0 <= opts["noise_rate"] <= 0.5):
        raise ConfigError(f"dataset.options.noise_rate: a number in 0–0.5, got "
                          f"{opts['noise_rate']!r}")
    d = opts["difficulty"]
    if not isinstance(d, int | float) or isinstance(d, bool) or not 0.1 <= d <= 10:
        raise ConfigError(f"dataset.options.difficulty: a number in 0.1–10, got {d!r}")
    return {**opts, "fractions": [float(f) for f in fr], "noise_rate": float(opts["noise_rate"]),
            "difficulty": float(d), "signature_map": check_signature_map(opts["signature_map"])}


def _subsample(meta: pd.DataFrame, n_images: int, seed: int) -> pd.DataFrame:
    """Whole patients in a seeded random order until about n_images (never splits a patient)."""
    counts = meta["patient_id"].value_counts(sort=False)
    order = np.random.default_rng([seed, 0x5B]).permutation(len(counts))
    cum = np.cumsum(counts.to_numpy()[order])
    keep = counts.index.to_numpy()[order[: int(np.searchsorted(cum, n_images)) + 1]]
    return meta[meta["patient_id"].isin(set(keep))]


def tempered_inclusion(findings: np.ndarray, n_images: int, power: float) -> np.ndarray:
    """Inclusion probability per image so that class counts follow about count^power.

    A class with n_c images gets rate K · n_c^(power-1) (≤ 1), and an image is kept with the
    rate of its rarest positive class ("No Finding" counts as a class), so each class keeps
    about K · n_c^power of its images; co-occurring findings come along with the rare ones,
    so common classes end a little above that. K is set by bisection so that the expected
    number of images is `n_images`. Counts stay ordered like the source's as long as
    power > 0.

    Args:
        findings (np.ndarray): ``[n, C]`` labels (> 0.5 = positive).
        n_images (int): the expected number of images kept.
        power (float): α in (0, 1].

    Returns:
        np.ndarray: float ``[n]`` in [0, 1]; all 0 when no image has a positive.
    """
    Y = np.asarray(findings) > 0.5
    n_c = Y.sum(axis=0).astype(np.float64)
    rate_c = np.where(n_c > 0, np.maximum(n_c, 1.0) ** (power - 1.0), 0.0)
    rate = np.where(Y, rate_c[None, :], 0.0).max(axis=1)
    if not rate.any():
        return np.zeros(len(Y))
    lo, hi = 0.0, 1.0 / rate[rate > 0].min()
    for _ in range(60):  # expected count is monotone in K
        k = (lo + hi) / 2
        if np.minimum(1.0, k * rate).sum() < n_images:
            lo = k
        else:
            hi = k
    return np.minimum(1.0, hi * rate)


def _subsample_tempered(meta: pd.DataFrame, n_images: int, power: float, seed: int
                        ) -> pd.DataFrame:
    """About n_images images drawn with `tempered_inclusion` (seeded, image by image).

    Images, not whole patients, are drawn, so a patient may keep only some of their images;
    the train/val/test split is made afterwards by patient, so no patient spans two splits.
    """
    p = tempered_inclusion(meta[CLASSES].to_numpy(), n_images, power)
    u = np.random.default_rng([seed, 0x5B, 1]).random(len(meta))
    return meta[u < p]


def build_table(opts: dict) -> pd.DataFrame:
    """The SynthCXR table for checked options (see `OPTIONS`).

    Args:
        opts (dict): checked options.

    Returns:
        pd.DataFrame: id, path (""), split, patient_id, sex, age, view, the 15 classes
        (float32), synth_index, quality, label_noise, noise_detail.

    Raises:
        ConfigError: when n_images exceeds the metadata's images.
    """
    meta = read_metadata(opts["metadata_path"])
    meta["synth_index"] = np.arange(len(meta), dtype=np.int64)
    if opts["n_images"] is not None and opts["n_images"] > len(meta):
        raise ConfigError(f"dataset.options.n_images: {opts['n_images']} is more than the "
                          f"{len(meta):,} images SynthCXR has (one per ChestX-ray14 label "
                          f"vector); allowed: 1–{len(meta)}, or null for all of them")
    if opts["n_images"] is not None and opts["prevalence_power"] is not None:
        meta = _subsample_tempered(meta, opts["n_images"], float(opts["prevalence_power"]),
                                   opts["seed"]).reset_index(drop=True)
    elif opts["n_images"] is not None and opts["n_images"] < len(meta):
        meta = _subsample(meta, opts["n_images"], opts["seed"]).reset_index(drop=True)
    seed = opts["seed"]
    idx = meta["synth_index"].to_numpy()
    ap = meta["view"].to_numpy() == "AP"
    _, flag, detail = label_noise(seed, idx, meta[FINDINGS].to_numpy(), opts["noise_rate"])
    table = pd.DataFrame({
        "id": "synth-" + meta["id"].str.replace(".png", "", regex=False),
        "path": "",
        "split": split_by_patient(meta["patient_id"], tuple(opts["fractions"]), seed),
        "patient_id": meta["patient_id"].astype(str),
        "sex": meta["sex"], "age": meta["age"].astype(float), "view": meta["view"],
    })
    for c in CLASSES:
        table[c] = meta[c].astype(np.float32)
    table["synth_index"] = idx
    table["quality"] = image_quality(seed, idx, ap)
    table["label_noise"] = flag
    table["noise_detail"] = detail.astype(str)
    return table


def load_synthcxr(options: dict, *, cfg=None) -> Dataset:
    """The `synthcxr` format's loader.

    Args:
        options (dict | None): as in `OPTIONS` (unknown keys are rejected).
        cfg (StudyConfig | None): unused; the registry's loader signature.

    Returns:
        Dataset: the ChestX-ray14 classes, the table, a SynthSource and the description
        (declaring quality and label_noise as ground truth).

    Raises:
        ConfigError: for unknown or malformed options.
    """
    opts = _check(take_options("synthcxr", dict(options or {}), optional=dict(OPTIONS)))
    table = build_table(opts)
    source = SynthSource(opts["seed"], opts["difficulty"], opts["noise_rate"],
                         opts["signature_map"])
    described = {k: v for k, v in opts.items()   # the identity map leaves today's description
                 if not (k == "signature_map" and v is None)}
    description = {
        "options": {**described, "metadata_path": None if opts["metadata_path"] is None
                    else str(opts["metadata_path"])},
        "render_version": RENDER_VERSION,
        "label_noise_images": int(table["label_noise"].sum()),
        "mean_quality": round(float(table["quality"].mean()), 4),
        GROUND_TRUTH_KEY: list(SYNTHCXR_GROUND_TRUTH),
        "notes": [NOTE],
    }
    return Dataset(name="synthcxr", classes=list(CLASSES), table=table, source=source,
                   description=description)
