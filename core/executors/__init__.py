"""Executors: what runs a study's units. One interface, two backends.

    executor.run(units: list[Unit], fn) -> {unit.key: fn's result}

`fn` is whatever the caller gives: the study gives `core.study.seed_unit.execute_unit` (a
pure function of the unit: it reopens the shared caches from the study folder, runs the seed
and writes its outputs atomically), so whatever runs a unit, its outputs are the same bytes.
Executors never import the study: they know units (core.executors.unit) and run `fn`.

- `local` (default): a loop in this process, exactly today's runner.
- `ray`: one Ray task per unit with `num_cpus`/`num_gpus`, bounded retries for lost
  workers, no retry of application errors; see `core.executors.ray_backend`.

The coordinator (core.study.run.run_study) prepares the inputs, holds the study lock and
finalises; executors and their workers never take the lock.
"""
from __future__ import annotations

from core.errors import ConfigError
from core.executors.local import LocalExecutor
from core.executors.unit import Unit

__all__ = ["Unit", "LocalExecutor", "add_arguments", "from_args"]

EXECUTORS = ("local", "ray")


def add_arguments(parser) -> None:
    """Add the executor options of `python -m core study|demo` to `parser`.

    Args:
        parser (argparse.ArgumentParser): the command's parser.
    """
    g = parser.add_argument_group("executor (where units run)")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: this process, one unit after another (default); "
                        "ray: one Ray task per unit")
    g.add_argument("--ray-address", default=None, metavar="auto|HOST:PORT",
                   help="Ray cluster to join (default: start a local instance sized to this "
                        "machine)")
    g.add_argument("--gpus-per-unit", type=float, default=None, metavar="F",
                   help="GPUs per unit (fractional packs several units on one GPU; default: "
                        "1 when the cluster has GPUs and train.device is not cpu, else 0)")
    g.add_argument("--cpus-per-unit", type=float, default=None, metavar="N",
                   help="CPUs per unit, also its torch thread count (default: train.threads "
                        "or 1)")


def from_args(args):
    """The executor the CLI options ask for.

    Args:
        args (argparse.Namespace): executor, ray_address, gpus_per_unit, cpus_per_unit,
            no_progress.

    Returns:
        RayExecutor | None: None means the local default.

    Raises:
        ConfigError: when Ray-only options are given with the local executor.
    """
    name = getattr(args, "executor", "local") or "local"
    ray_only = {"--ray-address": getattr(args, "ray_address", None),
                "--gpus-per-unit": getattr(args, "gpus_per_unit", None),
                "--cpus-per-unit": getattr(args, "cpus_per_unit", None)}
    if name == "local":
        given = [k for k, v in ray_only.items() if v is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply with --executor ray")
        return None
    from core.executors.ray_backend import RayExecutor

    return RayExecutor(address=args.ray_address, gpus_per_unit=args.gpus_per_unit,
                       cpus_per_unit=args.cpus_per_unit,
                       progress=not getattr(args, "no_progress", False))
