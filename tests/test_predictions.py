"""core.predictions: encodings round-trip, AP from the stored encoding stays within 1e-4 of
float32 (where float16 probabilities do not), studies without a "predictions" record (float16
probabilities) still read, and missing or damaged files are named."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from core import predictions, store
from core.errors import PredictionFileError, UnreadableFile
from core.metrics import average_precision
from core.predictions import DEFAULT, IMPORTED, LEGACY, Encoding
from core.store import StudyPaths


def _study(root, encoding: Encoding | None, grid: np.ndarray, validation: bool = False):
    """A minimal study folder: study.json (+ the encoding record) and one stored grid."""
    meta = {"schema_version": 1, "classes": ["a", "b"]}
    if encoding is not None:
        meta["predictions"] = predictions.encoding_record(encoding, validation)
    store.write_json(StudyPaths(root).study_json, meta)
    store.write_npy(StudyPaths(root).predictions("m", 0), grid)
    return root


def _logits(rng, shape):
    # wide range on purpose: float32's sigmoid is exactly 1.0 past ~17
    return (rng.standard_normal(shape) * 6).astype(np.float32)


@pytest.mark.parametrize("enc", [DEFAULT, IMPORTED, LEGACY, Encoding("logit", "float16")])
def test_encode_then_read_round_trips(tmp_path, enc):
    x = _logits(np.random.default_rng(0), (3, 50, 2))
    stored = predictions.encode(x, enc)
    assert stored.dtype == np.dtype(enc.dtype)
    _study(tmp_path, enc, stored)
    scores = predictions.read_scores(tmp_path, "m", 0)
    probs = predictions.read_probabilities(tmp_path, "m", 0)
    assert scores.dtype == probs.dtype == np.float32 and scores.shape == probs.shape == x.shape
    p64 = expit(x.astype(np.float64))
    if enc.kind == "logit":
        np.testing.assert_array_equal(scores, x.astype(enc.dtype).astype(np.float32))
        # probabilities: sigmoid in float64 of the stored logit, then cast
        np.testing.assert_array_equal(probs, expit(scores.astype(np.float64)).astype(np.float32))
    else:
        np.testing.assert_array_equal(scores, p64.astype(enc.dtype).astype(np.float32))
        np.testing.assert_array_equal(probs, scores)
    # ranking-equivalent: scores order exactly as the stored values
    assert (np.argsort(scores.ravel(), kind="stable")
            == np.argsort(stored.ravel(), kind="stable")).all()


def test_default_is_float32_logits_and_does_not_saturate(tmp_path):
    x = np.array([[[20.0, 30.0], [25.0, -40.0]]], dtype=np.float32)
    _study(tmp_path, DEFAULT, predictions.encode(x))
    scores = predictions.read_scores(tmp_path, "m", 0)
    assert len(np.unique(scores)) == 4                      # no ties
    assert (expit(x.astype(np.float32)) == 1.0).sum() == 3   # what float32 sigmoid would tie
    assert isinstance(predictions.read_scores(tmp_path, "m", 0), np.memmap)   # mmap, no copy


def test_sigmoid_is_float64_and_does_not_overflow():
    x = np.array([-800.0, -40, 0, 40, 800], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise"):
        got = predictions.sigmoid(x)
    assert got.dtype == np.float64
    # by hand: 1/(1+e^40) = 4.248354255291589e-18; 1 − that rounds to 1 in float64
    np.testing.assert_allclose(got, [0.0, 4.248354255291589e-18, 0.5, 1.0, 1.0], rtol=1e-12,
                               atol=0)


def _nih_like(rng, n):
    """Long-tailed labels (prevalence 0.2 % … 30 %) and class-dependent separation."""
    prev = np.geomspace(0.3, 0.002, 8)
    y = (rng.random((n, len(prev))) < prev).astype(np.float64)
    y[0], y[1] = 1, 0
    sep = np.linspace(2.0, 1.0, len(prev))
    x = np.log(prev / (1 - prev)) + 1.5 * rng.standard_normal(y.shape) + sep * (2 * y - 1)
    return x.astype(np.float32), y


def test_ap_from_stored_encoding_within_1e4_of_float32(tmp_path):
    """Paper-sized eval set: AP from the default encoding equals float32 AP; float16
    probabilities (the old encoding) miss 1e-4 on the same outputs, so the test can fail."""
    rng = np.random.default_rng(3)
    x, y = _nih_like(rng, 21081)
    ref = average_precision(x.astype(np.float64), y)
    _study(tmp_path / "new", DEFAULT, predictions.encode(x[None]))
    new = average_precision(predictions.read_scores(tmp_path / "new", "m", 0)[0], y)
    assert np.nanmax(np.abs(new - ref)) <= 1e-4
    _study(tmp_path / "old", LEGACY, predictions.encode(x[None], LEGACY))
    old = average_precision(predictions.read_scores(tmp_path / "old", "m", 0)[0], y)
    assert np.nanmax(np.abs(old - ref)) > 1e-4


def test_study_without_record_reads_as_float16_probabilities(tmp_path):
    """Studies made before the record (e.g. the shipped demo) hold float16 sigmoid outputs."""
    p = expit(_logits(np.random.default_rng(1), (2, 30, 2))).astype(np.float16)
    _study(tmp_path, None, p)
    assert predictions.study_encoding(tmp_path) == LEGACY
    np.testing.assert_array_equal(predictions.read_scores(tmp_path, "m", 0), p.astype(np.float32))
    np.testing.assert_array_equal(predictions.read_probabilities(tmp_path, "m", 0),
                                  p.astype(np.float32))
    stored = predictions.open_predictions(tmp_path, "m", 0)
    np.testing.assert_array_equal(stored.probabilities(1, [3, 0]), p[1, [3, 0]].astype(np.float32))
    # no validation predictions in such a study: None, not an error
    assert predictions.read_val_probabilities(tmp_path, 0) is None
    assert predictions.read_val_labels(tmp_path) is None


def test_missing_validation_files_of_a_study_that_has_them_are_named(tmp_path):
    _study(tmp_path, DEFAULT, np.zeros((1, 4, 2), np.float32), validation=True)
    with pytest.raises(PredictionFileError, match="val_predictions.npy: missing"):
        predictions.read_val_probabilities(tmp_path, 0)
    with pytest.raises(PredictionFileError, match="val_labels.parquet: missing"):
        predictions.read_val_labels(tmp_path)


def test_truncated_wrong_dtype_and_bad_record_are_named(tmp_path):
    root = _study(tmp_path, DEFAULT, np.zeros((2, 40, 2), np.float32))
    path = StudyPaths(root).predictions("m", 0)
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(UnreadableFile, match=r"seed-0\.npy: cannot read"):
        predictions.read_scores(root, "m", 0)
    store.write_npy(path, np.zeros((2, 40, 2), np.float16))
    with pytest.raises(PredictionFileError, match="dtype float16, study.json says float32"):
        predictions.read_scores(root, "m", 0)
    with pytest.raises(PredictionFileError, match=r"seed-3\.npy: missing"):
        predictions.read_scores(root, "m", 3)
    meta = store.read_json(StudyPaths(root).study_json)
    meta["predictions"] = {"kind": "odds", "dtype": "float32"}
    store.write_json(StudyPaths(root).study_json, meta)
    with pytest.raises(PredictionFileError, match="study.json.*unknown prediction encoding"):
        predictions.read_scores(root, "m", 0)
