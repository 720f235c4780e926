"""The Ray executor: one Ray task per unit, scheduled by resources, retried when lost.

- Placement: each task asks for `num_cpus` and `num_gpus` (fractional GPUs pack several
  small models on one card). Inside the task the device is the GPU Ray assigned (Ray sets
  CUDA_VISIBLE_DEVICES to it, so it is `cuda:0` there) when torch can use CUDA, else the
  CPU; torch runs `floor(num_cpus)` threads, so tasks sharing a machine do not
  oversubscribe it. GPU tasks get a fresh worker process each (`max_calls=1`): CUDA state,
  once created, stays bound to the GPU of the task that created it.
- Faults: a lost worker or node (SIGKILL, OOM kill, node death) is retried up to
  `max_retries` times; the unit resumes from its verified outputs (trained weights are
  reused). Application errors (bad config or data) are not retried
  (`retry_exceptions=False`): the driver cancels the other units and raises StudyError
  with that unit's error on one line.
- Code and data: workers import `core` from the same checkout as the driver (its folder
  is put on their PYTHONPATH) and read/write the study folder at the driver's path; both
  must be visible on every node (a shared filesystem). A worker that cannot see the study
  folder fails at once naming it (core.executors.unit.check_study_folder).
- Priority: workers run as nice as their raylet (Ray's default is 15 steps nicer, which
  starves units on a machine shared with other jobs); `RAY_worker_niceness` in the driver's
  environment overrides it.
- Output: a unit's own lines go to units/seed-<s>.log in the study folder; the driver
  shows one progress bar over units and one line per finished unit.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import sys
import time
from pathlib import Path

from core.errors import ConfigError, StudyError
from core.executors.unit import Unit, check_study_folder, preload
from core.store import StudyPaths

# Repository root: workers put it on their path so `import core` finds the same code.
_CODE_ROOT = str(Path(__file__).resolve().parents[2])
DEFAULT_MAX_RETRIES = 2
WORKER_NICENESS = "RAY_worker_niceness"  # Ray's setting: nice steps of a worker below its raylet


def task_device(config_device: str, gpu_ids) -> str:
    """The torch device of a unit given the GPU ids Ray assigned to its task.

    The first visible GPU when there is one and torch can use CUDA, else the CPU (torch is
    imported only to check that).

    Args:
        config_device (str): the config's ``train.device`` ("cpu", "auto", "cuda…").
        gpu_ids (Sequence): the GPU ids Ray assigned.

    Returns:
        str: "cpu" or "cuda:0" (Ray narrowed CUDA_VISIBLE_DEVICES to the assigned GPUs).

    Raises:
        ConfigError: when the config asks for CUDA and the task got no usable GPU.
    """
    if config_device == "cpu":
        return "cpu"
    import torch

    if gpu_ids and torch.cuda.is_available():
        return "cuda:0"  # Ray narrowed CUDA_VISIBLE_DEVICES to the assigned GPU(s)
    if config_device.startswith("cuda"):
        raise ConfigError(f"train.device={config_device!r} but this unit got no usable GPU "
                          f"(Ray GPU ids {list(gpu_ids)}, CUDA available: "
                          f"{torch.cuda.is_available()}); set --gpus-per-unit or device auto")
    return "cpu"


def _ray_unit(fn, unit: Unit, cpus: float) -> dict:
    """Body of the Ray task: placement, threads, log file, then the unit itself."""
    import ray

    root = check_study_folder(unit.root)  # before anything is written there
    unit = dataclasses.replace(unit, progress=False)  # the driver shows the one progress bar
    ids = [str(i) for i in ray.get_gpu_ids()]
    placement = {"executor": "ray", "host": socket.gethostname(), "pid": os.getpid(),
                 "node_id": ray.get_runtime_context().get_node_id(), "gpu_ids": ids,
                 "num_cpus": cpus, "niceness": os.nice(0), "start": time.time()}
    log = StudyPaths(root).unit_log(unit.key)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", buffering=1) as fh, contextlib.redirect_stdout(fh):
        # one header per attempt: a retried unit shows each one
        print(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} on {placement['host']} "
              f"(pid {placement['pid']}, GPU ids {ids or 'none'})")
        device = task_device(str(unit.config.get("train", {}).get("device", "auto")), ids)
        placement["device"] = device
        return fn(unit, device=device, threads=max(1, math.floor(cpus)), placement=placement)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class RayExecutor:
    """Units as Ray tasks on the cluster at `address` (None: a local instance sized to this
    machine, started and shut down here; an already-initialised Ray is used as it is)."""

    name = "ray"

    def __init__(self, address: str | None = None, gpus_per_unit: float | None = None,
                 cpus_per_unit: float | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
                 progress: bool = True, env_vars: dict | None = None):
        for flag, v in (("--gpus-per-unit", gpus_per_unit), ("--cpus-per-unit", cpus_per_unit)):
            if v is not None and not (v >= 0 and math.isfinite(v)):
                raise ConfigError(f"{flag}: {v} (must be a number ≥ 0)")
        if cpus_per_unit is not None and cpus_per_unit <= 0:
            raise ConfigError(f"--cpus-per-unit: {cpus_per_unit} (must be > 0)")
        self.address, self.max_retries, self.progress = address, int(max_retries), progress
        self.gpus_per_unit, self.cpus_per_unit = gpus_per_unit, cpus_per_unit
        self.env_vars = dict(env_vars or {})
        self.startup_seconds: float | None = None  # ray.init time, when started here

    # ------------------------------------------------------------------ connection
    def _connect(self) -> bool:
        """Initialise Ray unless it already is; True when this call started it."""
        import ray

        if ray.is_initialized():
            return False
        # Nothing leaves the machine unless the user asks for it (Ray's usage statistics
        # would be sent from a local instance by default).
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        t0 = time.perf_counter()
        for attempt in (1, 2):
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=True)
                else:
                    ray.init(include_dashboard=False, log_to_driver=True)
                break
            except Exception as exc:  # Ray raises plain Exception on a start-up timeout
                # Ray gives a new raylet 30 s to register, too short on an overloaded
                # machine: one more try, then one line instead of Ray's traceback
                ray.shutdown()
                if attempt == 2:
                    where = self.address or "a local instance"
                    raise StudyError(_one_line(f"cannot start or join Ray ({where}): "
                                               f"{type(exc).__name__}: {exc}")) from exc
        self.startup_seconds = time.perf_counter() - t0
        return True

    def resources(self, cfg_device: str, threads: int | None) -> tuple[float, float]:
        """(cpus, gpus) asked per unit, defaults resolved against the cluster."""
        import ray

        gpus = self.gpus_per_unit
        if gpus is None:
            has = ray.cluster_resources().get("GPU", 0) > 0
            gpus = 1.0 if has and cfg_device != "cpu" else 0.0
        cpus = self.cpus_per_unit if self.cpus_per_unit is not None else float(threads or 1)
        return float(cpus), float(gpus)

    def _check_fits(self, cpus: float, gpus: float) -> None:
        """StudyError unless one live node can hold a unit (Ray would wait forever)."""
        import ray

        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not any(r.get("CPU", 0) >= cpus and r.get("GPU", 0) >= gpus for r in nodes):
            have = "; ".join(f"{r.get('CPU', 0):g} CPU, {r.get('GPU', 0):g} GPU" for r in nodes)
            raise StudyError(f"no node of the Ray cluster can hold a unit of {cpus:g} CPU and "
                             f"{gpus:g} GPU (nodes: {have or 'none'}); lower --cpus-per-unit "
                             "or --gpus-per-unit")

    def _task_options(self, cpus: float, gpus: float) -> dict:
        path = os.pathsep.join(p for p in (_CODE_ROOT, os.environ.get("PYTHONPATH")) if p)
        env = {"PYTHONPATH": path,
               "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
               # Ray starts each worker 15 nice steps below its raylet, so on a machine shared
               # with other jobs a unit got a sliver of the CPU that the same unit run locally
               # gets (bench_scale.py, 2 cores at load 10-24: Ray 1.86x the local wall). 0:
               # as nice as the raylet, i.e. as the command that started a local instance (or
               # `ray start` on a cluster), like Ray's own job supervisor sets it.
               WORKER_NICENESS: os.environ.get(WORKER_NICENESS, "0"),
               **self.env_vars}
        return {"num_cpus": cpus, "num_gpus": gpus, "max_retries": self.max_retries,
                "retry_exceptions": False, "runtime_env": {"env_vars": env},
                "max_calls": 1 if gpus > 0 else 0}

    def warm_up(self, n: int, modules, cpus: float = 1.0) -> float:
        """Start `n` CPU workers and import `modules` in them (unit.preload; the study's are
        core.study.seed_unit.UNIT_MODULES); returns the seconds taken, so a measurement of
        units excludes worker start-up. Only for CPU units: a GPU unit gets a fresh worker
        anyway. Ray must be initialised."""
        import ray

        t0 = time.perf_counter()
        task = ray.remote(**self._task_options(cpus, 0.0))(preload)
        ray.get([task.remote(modules) for _ in range(n)])
        return time.perf_counter() - t0

    # ------------------------------------------------------------------ run
    def run(self, units, fn) -> dict:
        if not units:
            return {}
        import ray

        started = self._connect()
        try:
            return self._run(list(units), fn, ray)
        finally:
            if started:
                ray.shutdown()

    def _run(self, units, fn, ray) -> dict:
        from tqdm import tqdm

        train = units[0].config.get("train", {})
        cpus, gpus = self.resources(str(train.get("device", "auto")), train.get("threads"))
        self._check_fits(cpus, gpus)
        task = ray.remote(**self._task_options(cpus, gpus))(_ray_unit)
        pending = {task.remote(fn, u, cpus): u for u in units}
        results = {}
        bar = tqdm(total=len(units), unit="unit", desc=f"units ({cpus:g} CPU, {gpus:g} GPU each)",
                   disable=not self.progress, file=sys.stderr)
        try:
            while pending:
                [ref], _ = ray.wait(list(pending), num_returns=1)
                unit = pending.pop(ref)
                try:
                    res = ray.get(ref)
                except Exception as err:
                    for other in pending:
                        with contextlib.suppress(Exception):
                            ray.cancel(other)
                    raise self._failure(unit, err) from err
                results[unit.key] = res
                bar.update(1)
                bar.write(self._line(unit, res))
        finally:
            bar.close()
        return results

    def _line(self, unit: Unit, res: dict) -> str:
        if res.get("skipped"):
            return f"seed {unit.seed}: already done"
        p = res.get("placement") or {}
        gpu = f", GPU {','.join(p['gpu_ids'])}" if p.get("gpu_ids") else ""
        return (f"seed {unit.seed}: done in {res['seconds']:.1f} s on {p.get('host')} "
                f"({res.get('device')}{gpu})")

    def _failure(self, unit: Unit, err: Exception) -> Exception:
        import ray.exceptions as rx

        if isinstance(err, rx.RayTaskError):
            cause = getattr(err, "cause", None) or err
            msg = f"{type(cause).__name__}: {cause}"
            if isinstance(cause, ModuleNotFoundError):
                msg += f" (is the project checked out at {_CODE_ROOT} on every node?)"
        else:
            msg = (f"{type(err).__name__} (its worker was lost, retried "
                   f"{self.max_retries} times): {str(err).strip().splitlines()[0]}")
        return StudyError(_one_line(f"seed {unit.seed} failed: {msg}"))
