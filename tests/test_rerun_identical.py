"""Two runs of one config write byte-identical result files; only measurement files
(`*timings*`) and, through their entries, manifest.json differ. Local vs Ray: see
tests/executors/test_executor_ray.py (marked `ray`)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core import store
from core.cli import main as cli_main
from core.compare import compare_studies
from core.study.run import run_study
from tests.test_study import _cfg


def _tiny(**kw):
    # one thread: torch's CPU kernels may sum in another order with more threads
    return _cfg(train={"epochs": 2, "batch_size": 32, "lr": 1e-3, "device": "cpu",
                       "threads": 1},
                methods=["l1_global", "channel_l1_global", "gmp_finetune"],
                gradual={"finetune_steps": 2, "prune_every": 1},
                analysis={"at_sparsity": 90, "pie_sparsity": 90, "bootstrap": 20}, **kw)


def result_and_measurement_files(root: Path) -> tuple[list[str], list[str]]:
    """(result files, measurement files) the study's manifest lists."""
    listed = sorted(store.read_json(root / store.MANIFEST)["files"])
    return ([r for r in listed if not store.is_measurement(r)],
            [r for r in listed if store.is_measurement(r)])


def assert_results_identical(a: Path, b: Path) -> list[str]:
    """cmp every result file of two studies; returns the files whose bytes differ."""
    results_a, measured_a = result_and_measurement_files(a)
    assert (results_a, measured_a) == result_and_measurement_files(b)
    for rel in results_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    return [rel for rel in [*measured_a, store.MANIFEST]
            if (a / rel).read_bytes() != (b / rel).read_bytes()]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    import core.data
    from tests.test_study import _fake_dataset

    with pytest.MonkeyPatch.context() as mp:
        ds = _fake_dataset()
        mp.setattr(core.data, "load_dataset", lambda cfg, image_size=None: ds)
        root = tmp_path_factory.mktemp("rerun")
        a, b = root / "a", root / "b"
        run_study(_tiny(), a, progress=False)
        run_study(_tiny(), b, progress=False)
    return a, b


def test_two_runs_have_byte_identical_result_files(two_runs):
    a, b = two_runs
    assert store.verify(a) == [] and store.verify(b) == []
    results, measured = result_and_measurement_files(a)
    # every kind of result is compared, and every measurement has its own file
    for rel in ("study.json", "models/seed-0/weights.safetensors", "models/seed-0/model.json",
                "models/seed-0/history.parquet", "models/seed-0/cost.json",
                "metrics/cost.parquet", "metrics/per_class.parquet", "analysis/params.json",
                "analysis/forgetting.parquet", "predictions/gmp_finetune/seed-1.npy",
                "models/seed-1/val_predictions.npy"):
        assert rel in results, rel
    assert {"timings.json", "models/seed-0/train_timings.json",
            "models/seed-0/predict_timings.json", "metrics/cost_timings.parquet",
            "analysis/timings.json"} <= set(measured)
    differing = assert_results_identical(a, b)
    # the runs really measured different times: what differs is measurements (and the
    # manifest's entries for them), never a result
    assert "models/seed-0/train_timings.json" in differing
    assert set(differing) <= {*measured, store.MANIFEST}


def test_measurements_are_out_of_the_results(two_runs):
    a, _ = two_runs
    study = store.read_json(a / "study.json")
    assert "created" not in study and study["schema_version"] == 2
    assert "created" in store.read_json(a / "timings.json")
    training = store.read_json(a / "models/seed-0/model.json")["training"]
    assert "seconds" not in training and "train_images_per_s" not in training
    timings = store.read_json(a / "models/seed-0/train_timings.json")
    assert timings["seconds"] > 0 and len(timings["epoch_seconds"]) == 2
    import pandas as pd

    assert list(pd.read_parquet(a / "models/seed-0/history.parquet").columns) == \
        ["epoch", "train_loss", "val_loss", "lr"]
    assert "seconds" not in store.read_json(a / "analysis/params.json")
    assert "seconds" not in store.read_json(a / "analysis/params.json")["extended"]
    cost = pd.read_parquet(a / "metrics/cost.parquet")
    assert not any(c.endswith("_ms_b1") for c in cost.columns)
    from core.pruning.cost import read_cost_table

    joined = read_cost_table(a)     # the dashboard's view: latency joined back
    assert (joined["cpu_ms_b1"] > 0).all() and (joined["latency_seed"] == 0).all()
    regimes = store.read_json(a / "models/seed-0/predict_timings.json")["regime_seconds"]
    assert regimes["gmp_finetune"] > 0


def test_compare_command(two_runs, tmp_path, capsys):
    a, b = two_runs
    assert cli_main(["compare", str(a), str(b)]) == 0
    assert capsys.readouterr().out.startswith("identical: ")
    # a study whose result differs (resealed, so it verifies): named, exit 3
    c = tmp_path / "c"
    shutil.copytree(b, c)
    rel = "analysis/params.json"
    params = store.read_json(c / rel)
    params["pie_percentile"] = 4.0
    store.write_json(c / rel, params)
    store.write_manifest(c, [c / rel], base=store.read_json(c / store.MANIFEST))
    assert compare_studies(a, c)[0] == [f"{rel}: differs"]
    assert cli_main(["compare", str(a), str(c)]) == 3
    assert f"{rel}: differs" in capsys.readouterr().out
    # a damaged study is refused as by every reader: exit 1, the problem named
    (c / "metrics/overall.parquet").write_bytes(b"x")
    assert cli_main(["compare", str(a), str(c)]) == 1
    assert "metrics/overall.parquet" in capsys.readouterr().err
