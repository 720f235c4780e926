"""Executors without Ray: the unit function, the local backend and the CLI options."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from core import executors, store
from core.errors import ConfigError, StudyError
from core.executors import LocalExecutor, Unit
from core.executors.ray_backend import WORKER_NICENESS, RayExecutor, task_device
from core.store import StudyPaths
from core.study.prepare import prepare
from core.study.run import run_study
from core.study.seed_unit import execute_unit, open_data
from tests.test_study import _cfg, fake  # noqa: F401  (fixture)


def test_unit_cannot_see_study_folder_fails_at_once_naming_it(tmp_path):
    where = tmp_path / "not" / "mounted"
    with pytest.raises(StudyError, match="cannot see the study folder") as err:
        execute_unit(Unit(_cfg().to_dict(), str(where), 0))
    assert str(where) in str(err.value)
    assert not where.exists()  # nothing written there


def test_unit_reopens_its_inputs_from_the_folder(tmp_path, fake):  # noqa: F811
    paths, _, data = prepare(_cfg(), tmp_path / "s", progress=False)
    again = open_data(paths)
    for split, (x, y) in data.items():
        assert np.array_equal(again[split][0], x)
        assert np.array_equal(again[split][1], y, equal_nan=True)
    # a label file that does not match its cache is refused, naming both
    store.write_npy(paths.root / "cache" / "val_labels.npy", np.zeros((3, 3), np.float32))
    with pytest.raises(StudyError, match="val_images.npy: .* but 3 label rows"):
        open_data(paths)


def test_local_executor_is_the_default_and_skips_done_units(tmp_path, fake):  # noqa: F811
    out = tmp_path / "s"
    calls = []

    class Spy(LocalExecutor):
        def run(self, units, fn):
            calls.append([u.seed for u in units])
            return super().run(units, fn)

    run_study(_cfg(), out, progress=False, executor=Spy(torch.device("cpu")))
    run_study(_cfg(), out, progress=False, executor=Spy(torch.device("cpu")))
    assert calls == [[0, 1], []]
    assert store.verify(out) == []
    # a unit handed over again is idempotent: it sees its verified outputs and skips
    res = execute_unit(Unit(_cfg().to_dict(), str(out), 1))
    assert res["skipped"] is True
    assert "placement" not in store.read_json(StudyPaths(out).unit_done(0))  # local: none


def test_task_device_follows_assigned_gpus():
    cuda = torch.cuda.is_available()
    assert task_device("cpu", ["0"]) == "cpu"
    assert task_device("auto", []) == "cpu"
    assert task_device("auto", ["3"]) == ("cuda:0" if cuda else "cpu")  # fake ids: CPU
    if not cuda:
        with pytest.raises(ConfigError, match="got no usable GPU"):
            task_device("cuda", ["0"])


def _args(**kw):
    base = {"executor": "local", "ray_address": None, "gpus_per_unit": None,
            "cpus_per_unit": None, "no_progress": True}
    return argparse.Namespace(**{**base, **kw})


def test_cli_executor_options():
    assert executors.from_args(_args()) is None
    with pytest.raises(ConfigError, match="--gpus-per-unit only apply with --executor ray"):
        executors.from_args(_args(gpus_per_unit=0.5))
    ex = executors.from_args(_args(executor="ray", gpus_per_unit=0.5, cpus_per_unit=2))
    assert (ex.name, ex.gpus_per_unit, ex.cpus_per_unit) == ("ray", 0.5, 2)
    for bad in ({"gpus_per_unit": -1.0}, {"cpus_per_unit": 0.0}):
        with pytest.raises(ConfigError, match="per-unit"):
            executors.from_args(_args(executor="ray", **bad))


def test_ray_workers_are_as_nice_as_their_raylet(monkeypatch):
    # Ray's default starts workers 15 nice steps lower: starved on a shared machine
    monkeypatch.delenv(WORKER_NICENESS, raising=False)
    env = RayExecutor()._task_options(1.0, 0.0)["runtime_env"]["env_vars"]
    assert env[WORKER_NICENESS] == "0"
    monkeypatch.setenv(WORKER_NICENESS, "5")  # the user's own choice is kept
    assert RayExecutor()._task_options(1.0, 0.0)["runtime_env"]["env_vars"][WORKER_NICENESS] == "5"
