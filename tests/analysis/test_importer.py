"""core.importer on a release folder in the paper's format, written by the test itself."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core import predictions, store
from core.analysis.report import build_report
from core.errors import ReleaseError
from core.importer import import_release, main_import, ratio_to_percent

CLASSES = ["No Finding", "Effusion", "Nodule", "Hernia"]
N = 40


def _labels(rng) -> pd.DataFrame:
    y = (rng.random((N, len(CLASSES))) < [0.5, 0.3, 0.2, 0.1]).astype(int)
    y[0], y[1] = 1, 0
    frame = pd.DataFrame({"id": [f"{i:08d}_000.png" for i in range(N)]})
    for j, c in enumerate(CLASSES):
        frame[c] = y[:, j]
    frame["subj_id"] = np.arange(N) // 2
    return frame


def write_release(root, seeds=(0, 1), rng_seed=0):
    """Pickled DataFrames named as the paper's code names them (printed float ratios)."""
    rng = np.random.default_rng(rng_seed)
    pred_dir, label_dir = root / "nih-cxr-lt_L1-prune_preds", root / "labels"
    pred_dir.mkdir(parents=True)
    label_dir.mkdir()
    labels = _labels(rng)
    labels.to_csv(label_dir / "miccai2023_nih-cxr-lt_labels_test.csv", index=False)
    y = labels[CLASSES].to_numpy()
    truth = ["|".join(np.array(CLASSES)[row == 1]) for row in y]
    frames = {}
    for seed in seeds:
        for ratio in np.array(range(0, 100, 5)) / 100:
            noise = 0.2 + 3 * ratio
            p = 1 / (1 + np.exp(-(2 * y - 1 + noise * rng.normal(size=y.shape))))
            frame = pd.DataFrame(p.astype(np.float32), columns=CLASSES)
            frame["label"] = truth
            name = ratio if ratio != 0 else int(ratio)   # '0' for dense, as the reference
            frame.to_pickle(pred_dir / f"nih-cxr-lt_resnet50_seed-{seed}_prune-{name}.pkl")
            frames[seed, int(round(ratio * 100))] = frame
    frames[0, 0].to_pickle(pred_dir / "nih-cxr-lt_resnet50_seed-0_prune-0_val.pkl")  # ignored
    return pred_dir, label_dir / "miccai2023_nih-cxr-lt_labels_test.csv", frames


def _args(pred_dir, labels, out, trust):
    return SimpleNamespace(pred_dir=str(pred_dir), labels=str(labels), dataset="nih-cxr-lt",
                           out=str(out), trust_pickles=trust)


def test_ratio_parsing():
    assert [ratio_to_percent(t) for t in ("0", "0.05", "0.1", "0.15000000000000002", "0.95")] \
        == [0, 5, 10, 15, 95]
    with pytest.raises(ReleaseError):
        ratio_to_percent("0.333")


def test_refuses_without_trust_and_reads_nothing(tmp_path, monkeypatch, capsys):
    pred_dir, labels, _ = write_release(tmp_path)
    monkeypatch.setattr(pd, "read_pickle", lambda *a, **k: pytest.fail("unpickled"))
    assert main_import(_args(pred_dir, labels, tmp_path / "study", False)) == 2
    assert "execute arbitrary code" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()


def test_import_builds_a_verified_study(tmp_path, capsys):
    pred_dir, labels, frames = write_release(tmp_path)
    out = tmp_path / "study"
    assert main_import(_args(pred_dir, labels, out, True)) == 0
    assert store.verify(out) == []
    assert not list(out.rglob("*.pkl"))
    study = store.read_json(out / "study.json")
    assert study["sparsities"] == list(range(0, 100, 5))
    assert study["seeds"] == [0, 1] and study["methods"] == ["l1_global"]
    assert study["classes"] == CLASSES
    assert "unknown" in study["train_counts_source"]
    paths = store.StudyPaths(out)
    assert study["predictions"] == {"kind": "probability", "dtype": "float32",
                                    "validation": False}
    pred = predictions.read_scores(out, "l1_global", 1)    # full precision, as released
    assert pred.dtype == np.float32 and pred.shape == (20, N, len(CLASSES))
    np.testing.assert_array_equal(pred[3], frames[1, 15][CLASSES].to_numpy())
    np.testing.assert_array_equal(predictions.read_probabilities(out, "l1_global", 1), pred)
    assert predictions.read_val_probabilities(out, 0) is None     # the release has no model
    assert predictions.read_val_labels(out) is None
    table = pd.read_parquet(paths.labels)
    assert table["row"].tolist() == list(range(N)) and table["id"][0] == "00000000_000.png"
    assert table["patient_id"][3] == "1"
    counts = pd.read_parquet(paths.class_counts)
    assert counts["train_pos"].isna().all() and counts["eval_pos"].tolist() == \
        table[CLASSES].sum().astype(int).tolist()
    params = store.read_json(paths.analysis_dir / "params.json")
    assert params["freq_source"].startswith("eval labels")
    assert build_report(out)["pies"]["l1_global"]["n"] == 2      # ⌊5% of 40⌋
    overall = pd.read_parquet(paths.metrics_dir / "overall.parquet")
    assert overall["measured_sparsity"].isna().all()


def test_train_labels_beside_the_test_csv_give_train_counts(tmp_path):
    pred_dir, labels, _ = write_release(tmp_path)
    train = _labels(np.random.default_rng(5))
    train.to_csv(labels.with_name(labels.name.replace("test", "train")), index=False)
    out = import_release(pred_dir, labels, "nih-cxr-lt", tmp_path / "s", trust_pickles=True,
                         log=lambda m: None)
    counts = pd.read_parquet(store.StudyPaths(out).class_counts)
    assert counts["train_pos"].tolist() == train[CLASSES].sum().tolist()
    assert store.StudyPaths(out).cooccurrence("train").is_file()


def test_misaligned_labels_and_incomplete_grid_are_errors(tmp_path):
    pred_dir, labels, _ = write_release(tmp_path)
    frame = pd.read_csv(labels)
    frame.iloc[::-1].to_csv(tmp_path / "shuffled_test.csv", index=False)
    with pytest.raises(ReleaseError, match="disagrees"):
        import_release(pred_dir, tmp_path / "shuffled_test.csv", "nih-cxr-lt", tmp_path / "a",
                       trust_pickles=True, log=lambda m: None)
    (pred_dir / "nih-cxr-lt_resnet50_seed-1_prune-0.5.pkl").unlink()
    with pytest.raises(ReleaseError, match="missing sparsities"):
        import_release(pred_dir, labels, "nih-cxr-lt", tmp_path / "b", trust_pickles=True,
                       log=lambda m: None)
    with pytest.raises(ReleaseError, match="no mimic-cxr-lt"):
        import_release(pred_dir, labels, "mimic-cxr-lt", tmp_path / "c", trust_pickles=True,
                       log=lambda m: None)
