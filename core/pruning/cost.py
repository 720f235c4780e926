"""What a sparsity buys: measured cost of every (method, sparsity) model of a study.

Measured on the very models whose predictions are stored (the study calls `Collector` from
the prediction loop and from the gradual regime), one row per (method, seed, sparsity):

- `params`: parameters the model holds (every tensor of `parameters()`); structured pruning
  makes this smaller, unstructured pruning does not (its zeros are stored);
- `params_nonzero`: of those, how many are not exactly zero;
- `flops`: floating-point operations per image of one forward pass, counted by
  `torch.utils.flop_counter.FlopCounterMode` (a multiply-add counts 2). Zero weights are
  multiplied like any other on dense hardware, so unstructured sparsity does NOT lower this;
- `flops_nonzero`: `flops` minus the multiply-adds of zero Conv2d/Linear weights: what an
  ideal sparse kernel would do. Not a measurement of any real kernel — labelled as such;
- `size_bytes`: bytes of the model's weights serialised as the study stores weights
  (safetensors in `weights_dtype`), zeros included: a structured model is really smaller;
- latency (only on the first seed's unit, the others' are NaN; median of repeated timed
  forward passes after warm-up, in milliseconds): `cpu_ms_b1` one image at a time,
  `cpu_ms_per_image_b8` a batch of 8 divided by 8, and the same two on the GPU (`gpu_*`)
  when the study runs on CUDA (NaN otherwise). CPU timings use torch's thread count at the
  time; on a shared machine they carry its load (the study records nothing about the load).

Rows are stored per seed in `models/seed-<s>/cost.json` (counts, results) and
`models/seed-<s>/predict_timings.json` (latency, a measurement: a rerun measures other
milliseconds, so it never sits in a result file); `write_cost_table` aggregates them into
`metrics/cost.parquet` (one row per (method, sparsity): medians over seeds, `n_seeds`) and
`metrics/cost_timings.parquet` (the latency of the seed that measured it). `read_cost_table`
joins the two (and reads a schema-1 study's cost.parquet, latency inside, as it is).
"""
from __future__ import annotations

import copy
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from core import store
from core.threads import flush_denormals

__all__ = ["COLUMNS", "Collector", "count_flops", "latency_ms", "model_cost",
           "read_cost_table", "write_cost_table"]

COLUMNS = ["method", "sparsity", "measured_sparsity", "params", "params_nonzero", "flops",
           "flops_nonzero", "size_bytes", "cpu_ms_b1", "cpu_ms_per_image_b8", "gpu_ms_b1",
           "gpu_ms_per_image_b8", "latency_seed", "n_seeds"]
_LATENCY = ["cpu_ms_b1", "cpu_ms_per_image_b8", "gpu_ms_b1", "gpu_ms_per_image_b8"]
# metrics/cost.parquet (results) and metrics/cost_timings.parquet (measurements)
RESULT_COLUMNS = [c for c in COLUMNS if c not in (*_LATENCY, "latency_seed")]
TIMING_COLUMNS = ["method", "sparsity", "latency_seed", *_LATENCY]
BATCH = 8
_BUDGET_S = 0.4      # timed seconds per (model, batch size): bounds the cost of big models


def count_flops(net: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """FLOPs per image of one forward pass, and those without zero-weight multiply-adds.

    Counted by torch's FlopCounterMode; each zero weight of a Conv2d or Linear saves 2 FLOPs
    per output position.

    Args:
        net (nn.Module): the model.
        x (torch.Tensor): a batch-1 input ``[1, C, H, W]`` on the model's device.

    Returns:
        tuple[int, int]: (FLOPs, FLOPs without zero-weight multiply-adds).
    """
    from torch.utils.flop_counter import FlopCounterMode

    spatial: dict[nn.Module, int] = {}

    def hook(mod, inp, out):
        spatial[mod] = int(np.prod(out.shape[2:])) if out.dim() > 2 else 1

    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.inference_mode(), FlopCounterMode(display=False) as mode:
            net(x)
    finally:
        for h in handles:
            h.remove()
    total = int(mode.get_total_flops())
    saved = 0
    for m in layers:
        zeros = int(m.weight.numel() - torch.count_nonzero(m.weight.detach()))
        saved += 2 * spatial.get(m, 0) * zeros
    return total, total - saved


def latency_ms(net: nn.Module, x: torch.Tensor, max_repeats: int = 15) -> float:
    """Median wall time of one forward pass of `x` in ms, after two warm-up passes.

    The number of repeats adapts to the model (at most `_BUDGET_S` seconds of timing, at
    least 3 passes), so ResNet50 on a CPU is not timed for minutes per grid point.

    Args:
        net (nn.Module): the model, on `x`'s device.
        x (torch.Tensor): the input batch.
        max_repeats (int): the most timed passes.

    Returns:
        float: milliseconds.
    """
    cuda = x.device.type == "cuda"
    times = []
    with torch.inference_mode():
        for _ in range(2):
            net(x)
        if cuda:
            torch.cuda.synchronize(x.device)
        while len(times) < max_repeats:
            t0 = time.perf_counter()
            net(x)
            if cuda:
                torch.cuda.synchronize(x.device)
            times.append(time.perf_counter() - t0)
            if len(times) >= 3 and sum(times) > _BUDGET_S:
                break
    return 1000 * statistics.median(times)


def _size_bytes(net: nn.Module, dtype: torch.dtype) -> int:
    from safetensors.torch import save

    state = {k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu())
             .contiguous() for k, v in net.state_dict().items()}
    return len(save(state))


def model_cost(net: nn.Module, example: torch.Tensor, weights_dtype: torch.dtype,
               latency: bool) -> dict:
    """One row of cost for `net` (see the module docstring).

    Args:
        net (nn.Module): the (pruned) model; its train/eval mode is restored.
        example (torch.Tensor): one input image ``[1, C, H, W]`` on the model's device.
        weights_dtype (torch.dtype): the dtype the weights are stored in (for the size).
        latency (bool): also time CPU (and, on CUDA, GPU) passes at batch 1 and 8.

    Returns:
        dict: params, params_nonzero, flops, flops_nonzero, size_bytes, and the latency
        columns (NaN when not timed).
    """
    was_training = net.training
    net.eval()
    try:
        params = [p.detach() for p in net.parameters()]
        row = {"params": int(sum(p.numel() for p in params)),
               "params_nonzero": int(sum(int(torch.count_nonzero(p)) for p in params))}
        row["flops"], row["flops_nonzero"] = count_flops(net, example)
        row["size_bytes"] = _size_bytes(net, weights_dtype)
        row.update({k: math.nan for k in _LATENCY})
        if latency:
            cpu_net = net if example.device.type == "cpu" else copy.deepcopy(net).cpu()
            xc = example.detach().float().cpu()
            # denormal activations run on a slow path on x86 (core.threads.flush_denormals):
            # flushed, as the study's own inference does
            with flush_denormals(torch.device("cpu")):
                row["cpu_ms_b1"] = latency_ms(cpu_net, xc)
                row["cpu_ms_per_image_b8"] = latency_ms(cpu_net, xc.repeat(BATCH, 1, 1, 1)) / BATCH
            if example.device.type == "cuda":
                xg = example.detach().float()
                row["gpu_ms_b1"] = latency_ms(net, xg)
                row["gpu_ms_per_image_b8"] = latency_ms(net, xg.repeat(BATCH, 1, 1, 1)) / BATCH
    finally:
        net.train(was_training)
    return row


class Collector:
    """`on_model` callback for predict_grid / the regimes: one cost row per pruned model."""

    def __init__(self, example: torch.Tensor, weights_dtype: str, latency: bool):
        self.example, self.latency = example, latency
        self.dtype = getattr(torch, weights_dtype)
        self.rows: list[dict] = []

    def __call__(self, method: str, sparsity: int, measured: float, net: nn.Module) -> None:
        dev = next(net.parameters()).device
        row = model_cost(net, self.example.to(dev).float(), self.dtype, self.latency)
        self.rows.append({"method": method, "sparsity": int(sparsity),
                          "measured_sparsity": float(measured), **row})

    def write(self, path: Path, timings: Path, seed: int,
              regime_seconds: dict | None = None) -> list[Path]:
        """`path` (cost.json: counts) and `timings` (latency rows, regime seconds)."""
        def plain(r: dict, keys) -> dict:
            return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in r.items() if k in keys}

        counts = [plain(r, set(r) - set(_LATENCY)) for r in self.rows]
        latency = [plain(r, {"method", "sparsity", *_LATENCY}) for r in self.rows]
        store.write_json(path, {"seed": int(seed), "rows": counts})
        store.write_json(timings, {"seed": int(seed), "latency_measured": self.latency,
                                   "batch": BATCH, "latency": latency,
                                   "regime_seconds": dict(regime_seconds or {})})
        return [path, timings]


def _seed_rows(paths, seed: int) -> pd.DataFrame | None:
    """One seed's cost rows, latency columns from its predict_timings.json (schema 1: in
    cost.json itself)."""
    f = paths.cost_json(seed)
    if not f.is_file():
        return None
    df = pd.DataFrame(json.loads(f.read_text())["rows"])
    t = paths.predict_timings(seed)
    if t.is_file():
        lat = pd.DataFrame(json.loads(t.read_text())["latency"])
        df = df.drop(columns=[c for c in _LATENCY if c in df]).merge(
            lat, on=["method", "sparsity"], how="left")
    for c in _LATENCY:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float) if c in df else math.nan
    return df.assign(seed=int(seed))


def write_cost_table(root, seeds) -> Path | None:
    """Write metrics/cost.parquet and metrics/cost_timings.parquet from every seed's records.

    Medians over seeds per (method, sparsity); latency from the first seed that has it.

    Args:
        root (str | Path): the study folder.
        seeds (Iterable[int]): the seeds.

    Returns:
        Path | None: the cost table's path; None when no seed has a cost.json (e.g.
        imported studies, which have no models).
    """
    paths = store.StudyPaths(root)
    frames = [f for f in (_seed_rows(paths, seed) for seed in seeds) if f is not None]
    if not frames:
        return None
    df = pd.concat(frames, ignore_index=True)
    out = []
    for (method, sparsity), g in df.groupby(["method", "sparsity"], sort=False):
        row = {"method": method, "sparsity": int(sparsity), "n_seeds": int(len(g))}
        for c in ["measured_sparsity", "params", "params_nonzero", "flops", "flops_nonzero",
                  "size_bytes"]:
            row[c] = float(g[c].median())
        timed = g[g["cpu_ms_b1"].notna()]
        row["latency_seed"] = int(timed["seed"].iloc[0]) if len(timed) else -1
        for c in _LATENCY:
            row[c] = float(timed[c].iloc[0]) if len(timed) else math.nan
        out.append(row)
    table = pd.DataFrame(out)
    path = paths.metrics(paths.COST)
    store.write_parquet(path, table[RESULT_COLUMNS])
    store.write_parquet(paths.cost_timings, table[TIMING_COLUMNS])
    return path


def read_cost_table(root) -> pd.DataFrame | None:
    """The cost table: metrics/cost.parquet joined with the latency of cost_timings.parquet.

    A schema-1 study has the latency inside cost.parquet; missing columns are filled
    (NaN, latency_seed −1).

    Args:
        root (str | Path): the study folder.

    Returns:
        pd.DataFrame | None: columns `COLUMNS`; None when the study has no cost table.
    """
    paths = store.StudyPaths(root)
    path = paths.metrics(paths.COST)
    if not path.is_file():
        return None
    table = pd.read_parquet(path)
    timings = paths.cost_timings
    if "cpu_ms_b1" not in table and timings.is_file():
        table = table.merge(pd.read_parquet(timings), on=["method", "sparsity"], how="left")
    for c in COLUMNS:
        if c not in table:
            table[c] = -1 if c == "latency_seed" else math.nan
    return table[COLUMNS]
