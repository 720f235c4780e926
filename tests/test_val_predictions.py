"""Dense-model validation predictions: written by every unit (encoded as the study's
predictions), equal to a direct forward pass of the stored weights on the validation images,
listed in the unit marker; a unit finished before they existed gets them on resume from its
trained weights, without retraining and without redoing the grid."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.special import expit

from core import models, predictions, store
from core.store import StudyPaths
from core.study.run import run_study
from tests.test_study import CLASSES, _cfg, fake  # noqa: F401  (fake is a fixture)


def _direct_val_logits(paths: StudyPaths, seed: int, val_ids) -> np.ndarray:
    """The stored weights on the validation split, computed here from the dataset's own
    pixels (not the study's cache) in plain float32."""
    model, _ = models.load_model(paths.weights(seed))
    spec = models.spec("smallcnn")
    source_rows = _direct_val_logits.table.set_index("id").loc[list(val_ids)].reset_index()
    pixels = _direct_val_logits.source.load(source_rows, 32)
    with torch.inference_mode():
        return model(models.preprocess(torch.from_numpy(pixels), spec)).numpy()


def test_val_predictions_after_a_tiny_study(tmp_path, fake):  # noqa: F811
    out = tmp_path / "s"
    run_study(_cfg(), out, progress=False)
    paths = StudyPaths(out)
    study = store.read_json(paths.study_json)
    assert study["predictions"] == {"kind": "logit", "dtype": "float32", "validation": True}
    assert store.verify(out) == []

    labels = predictions.read_val_labels(out)
    val = fake.table[fake.table["split"] == "val"].reset_index(drop=True)
    assert labels["row"].tolist() == list(range(len(val)))
    assert labels["id"].tolist() == val["id"].tolist()
    assert {"patient_id", "sex", "age", "view", *CLASSES} <= set(labels.columns)
    pd.testing.assert_frame_equal(labels[CLASSES], val[CLASSES])

    _direct_val_logits.table, _direct_val_logits.source = fake.table, fake.source
    for seed in (0, 1):
        rel = paths.val_predictions(seed).relative_to(out).as_posix()
        assert rel in store.read_json(paths.unit_done(seed))["files"]
        want = _direct_val_logits(paths, seed, labels["id"])
        np.testing.assert_allclose(predictions.read_val_scores(out, seed), want, atol=1e-5)
        probs = predictions.read_val_probabilities(out, seed)
        assert probs.dtype == np.float32 and probs.shape == (len(val), len(CLASSES))
        np.testing.assert_allclose(probs, expit(want.astype(np.float64)), atol=1e-6)


def test_unit_finished_before_val_predictions_gets_them_on_resume(tmp_path, fake, capsys):  # noqa: F811
    """Turn a finished study into what an older version left (no encoding record, float16
    probabilities, no validation files, markers without them), then resume it."""
    out = tmp_path / "s"
    run_study(_cfg(), out, progress=False)
    paths = StudyPaths(out)
    meta = store.read_json(paths.study_json)
    del meta["predictions"]
    store.write_json(paths.study_json, meta)
    paths.val_labels.unlink()
    data_marker = out / "units" / "data.json"     # an older data unit: no val_labels listed
    marker = store.read_json(data_marker)
    files = {p: sha for p, sha in marker["files"].items() if "val_labels" not in p}
    files["study.json"] = store.sha256_file(paths.study_json)
    store.write_json(data_marker, {**marker, "files": files})
    for seed in (0, 1):
        for method in ("l1_global", "random"):
            logits = np.array(store.open_npy(paths.predictions(method, seed)))
            store.write_npy(paths.predictions(method, seed),
                            predictions.encode(logits, predictions.LEGACY))
        paths.val_predictions(seed).unlink()
        marker = store.read_json(paths.unit_done(seed))
        files = {p: sha for p, sha in marker["files"].items() if "val_predictions" not in p}
        for method in ("l1_global", "random"):
            rel = paths.predictions(method, seed).relative_to(out).as_posix()
            files[rel] = store.sha256_file(paths.predictions(method, seed))
        store.write_json(paths.unit_done(seed), {**marker, "files": files})
    assert predictions.read_val_probabilities(out, 0) is None      # an old study: no error
    grid_file = paths.predictions("random", 1)
    before, mtime = grid_file.read_bytes(), grid_file.stat().st_mtime_ns
    weights_mtime = paths.weights(1).stat().st_mtime_ns
    capsys.readouterr()

    run_study(_cfg(), out, progress=False)
    said = capsys.readouterr().out
    assert "seed 1: reusing trained weights" in said
    assert "seed 1: adding the dense model's validation predictions" in said
    assert "trained" not in said.replace("reusing trained weights", "")
    assert grid_file.stat().st_mtime_ns == mtime and grid_file.read_bytes() == before
    assert paths.weights(1).stat().st_mtime_ns == weights_mtime
    # the study keeps its own encoding: float16 probabilities, validation ones included
    assert "predictions" not in store.read_json(paths.study_json)
    val = store.open_npy(paths.val_predictions(1))
    assert val.dtype == np.float16
    labels = predictions.read_val_labels(out)
    _direct_val_logits.table, _direct_val_logits.source = fake.table, fake.source
    want = expit(_direct_val_logits(paths, 1, labels["id"]).astype(np.float64))
    np.testing.assert_allclose(predictions.read_val_probabilities(out, 1), want, atol=1e-3)
    assert store.verify(out) == []
    # and now the units are done: a further run skips them
    run_study(_cfg(), out, progress=False)
    assert "seed 0: already done" in capsys.readouterr().out
