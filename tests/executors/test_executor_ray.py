"""The Ray executor on a local Ray instance (one per module: start-up takes seconds).

The instance declares 4 CPUs and 4 GPUs on whatever machine runs the tests: the GPUs are
fake (no CUDA here), so units see Ray's GPU ids and still run on the CPU. The driver side
uses the tiny fake dataset of tests/test_study.py; workers never need it, because a unit
reopens its inputs from the study folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import core.data
from core import store
from core.compare import compare_studies
from core.errors import StudyError
from core.executors import Unit
from core.executors.ray_backend import RayExecutor
from core.store import StudyPaths
from core.study.run import run_study
from tests.test_rerun_identical import assert_results_identical, result_and_measurement_files
from tests.test_study import _cfg, _fake_dataset

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

# Set for the tests' own Ray instance only: no usage statistics, no token file written to
# the home folder, no `uv run` environment propagation, worker logs not deduplicated.
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_DEDUP_LOGS": "0"}


@pytest.fixture(scope="module")
def local_ray():
    with pytest.MonkeyPatch.context() as mp:
        for k, v in RAY_ENV.items():
            mp.setenv(k, v)
        if ray.is_initialized():
            ray.shutdown()
        for attempt in (1, 2, 3):
            try:  # Ray gives its raylet 30 s to register: too short on an overloaded machine
                ray.init(num_cpus=4, num_gpus=4, include_dashboard=False, log_to_driver=False)
                break
            except Exception:
                ray.shutdown()
                if attempt == 3:
                    raise
        try:
            yield ray
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def fake_data():
    with pytest.MonkeyPatch.context() as mp:
        ds = _fake_dataset()
        mp.setattr(core.data, "load_dataset", lambda cfg, image_size=None: ds)
        yield ds


def _tiny(**kw):
    # one thread everywhere: torch's CPU kernels may sum in another order with more threads
    return _cfg(train={"epochs": 1, "batch_size": 32, "lr": 1e-3, "device": "cpu",
                       "threads": 1}, **kw)


@pytest.fixture(scope="module")
def local_study(tmp_path_factory, fake_data):
    out = tmp_path_factory.mktemp("local") / "s"
    run_study(_tiny(), out, progress=False)
    return out


def _predictions(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.glob("predictions/*/*.npy"))}


def test_ray_study_is_byte_identical_to_local(tmp_path, local_ray, local_study):
    out = tmp_path / "s"
    ex = RayExecutor(cpus_per_unit=1, progress=False)
    run_study(_tiny(), out, progress=False, executor=ex)
    ref = _predictions(local_study)
    assert len(ref) == 4 and _predictions(out) == ref
    assert store.verify(out) == []
    # every result file, not only predictions: cmp'd byte for byte (measurements, *timings*,
    # may differ, and the manifest through their entries)
    differing = assert_results_identical(local_study, out)
    assert set(differing) <= {*result_and_measurement_files(out)[1], store.MANIFEST}
    assert compare_studies(local_study, out)[0] == []
    marker = store.read_json(StudyPaths(out).unit_done(0))
    assert marker["placement"]["executor"] == "ray"
    assert marker["placement"]["device"] == "cpu" and marker["placement"]["gpu_ids"] == []
    # as nice as this process, which started the raylet (Ray's own default: 15 steps nicer)
    assert marker["placement"]["niceness"] == os.nice(0)
    assert (out / "units" / "seed-0.log").read_text().count("seed 0: done") == 1


def test_worker_killed_mid_unit_is_retried_and_identical(tmp_path, local_ray, local_study):
    out, flag = tmp_path / "s", tmp_path / "killed-once"
    ex = RayExecutor(cpus_per_unit=1, progress=False, max_retries=2,
                     env_vars={"PRUNELENS_TEST_KILL_AFTER_TRAINING": str(flag)})
    run_study(_tiny(seeds=[0]), out, progress=False, executor=ex, finalize=False)
    assert flag.exists()  # the worker really was SIGKILLed after writing trained weights
    log = (out / "units" / "seed-0.log").read_text()
    assert log.count("--- ") == 2 and "reusing trained weights" in log  # second attempt
    ref = {k: v for k, v in _predictions(local_study).items() if k.endswith("seed-0.npy")}
    assert len(ref) == 2 and _predictions(out) == ref


def test_application_error_is_not_retried_and_stops_in_one_line(tmp_path, local_ray,
                                                                fake_data):
    # train.device=cuda with no GPU per unit: valid for the driver, refused in the worker
    out = tmp_path / "s"
    cfg = _cfg(train={"epochs": 1, "batch_size": 32, "device": "cuda", "threads": 1})
    ex = RayExecutor(gpus_per_unit=0, progress=False, max_retries=3)
    with pytest.raises(StudyError) as err:
        run_study(cfg, out, progress=False, executor=ex)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("seed ") and "failed: ConfigError:" in msg
    assert "got no usable GPU" in msg
    # one attempt only (each attempt writes one header line to its unit's log)
    logs = [p.read_text() for p in (out / "units").glob("seed-*.log")]
    assert logs and all(text.count("--- ") == 1 for text in logs)
    assert not list(out.glob("units/seed-*.json"))


def test_fake_gpu_placement(tmp_path, local_ray):
    """8 units at 0.5 GPU on 4 declared GPUs: each sees one id, at most 2 share an id at
    any moment."""
    from tests.executors import ray_probe

    root = tmp_path / "s"
    root.mkdir()
    store.write_json(root / "study.json", {"name": "placement"})  # the folder check passes
    # device cpu keeps torch out of these 8 fresh workers (its import is what costs here);
    # (fake ids under device auto → CPU: test_task_device_follows_assigned_gpus)
    cfg = _cfg(train={"device": "cpu"}).to_dict()
    units = [Unit(cfg, str(root), s) for s in range(8)]
    ex = RayExecutor(gpus_per_unit=0.5, cpus_per_unit=0.5, progress=False)
    res = ex.run(units, ray_probe.hold_and_report)
    assert sorted(res) == sorted(u.key for u in units)
    spans = []
    for r in res.values():
        p = r["placement"]
        assert len(p["gpu_ids"]) == 1, p  # half a GPU: exactly one id
        assert r["device"] == "cpu" and r["threads"] == 1
        spans.append((p["gpu_ids"][0], p["start"], p["end"]))
    assert {g for g, _, _ in spans} <= {"0", "1", "2", "3"}
    # never more than two units on one id at once: check at every unit's start
    for gpu, start, _ in spans:
        assert sum(g == gpu and a <= start < b for g, a, b in spans) <= 2, spans


def test_second_coordinator_is_refused_before_any_unit(tmp_path, local_ray, fake_data):
    """The Ray driver is the coordinator: while another process holds the study's lock, a
    Ray run of the same folder stops with the holder named, and no unit starts."""
    import subprocess
    import sys

    from core.errors import StudyLockedError

    out = tmp_path / "s"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from core.lock import study_lock\n"
         f"with study_lock({str(out)!r}):\n print('held', flush=True); sys.stdin.read()"],
        cwd=Path(__file__).resolve().parents[2], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StudyLockedError, match=f"pid {holder.pid}"):
            run_study(_tiny(), out, progress=False, executor=RayExecutor(progress=False))
    finally:
        holder.communicate("", timeout=60)
    assert not list(out.glob("units/seed-*"))
