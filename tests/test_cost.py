"""Measured cost (core/pruning/cost.py): FLOPs by hand, and a study's cost table covering every
(method, sparsity), with structured models smaller and unstructured zeros not cheaper."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from core import store
from core.pruning.cost import count_flops, latency_ms, model_cost, read_cost_table
from core.store import StudyPaths
from core.study.run import run_study
from tests.test_study import _cfg, fake  # noqa: F401  (pytest fixture)


def test_flops_by_hand():
    """conv 1→2, 3×3 on 5×5 → 2×3×3 outputs: 2 · 9 · 18 = 324; linear 2→3: 2 · 6 = 12."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(2, 3))
    x = torch.randn(1, 1, 5, 5)
    assert count_flops(net, x) == (336, 336)
    with torch.no_grad():
        net[0].weight.view(-1)[:5] = 0
    assert count_flops(net, x) == (336, 336 - 2 * 9 * 5)   # zeros: dense FLOPs unchanged
    assert not net[0]._forward_hooks                        # no hooks left behind


def test_model_cost_row():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 2))
    row = model_cost(net, torch.randn(1, 1, 16, 16), torch.float16, latency=True)
    assert row["params"] == 4 * 9 + 4 + 4 * 2 + 2
    assert row["params_nonzero"] <= row["params"]
    assert row["size_bytes"] > 2 * row["params"]     # float16 values + safetensors header
    assert row["cpu_ms_b1"] > 0 and row["cpu_ms_per_image_b8"] > 0
    assert math.isnan(row["gpu_ms_b1"]) or torch.cuda.is_available()
    assert latency_ms(net, torch.randn(1, 1, 16, 16), max_repeats=3) > 0


def test_study_cost_table_for_every_method_and_sparsity(tmp_path, fake):  # noqa: F811
    out = tmp_path / "s"
    methods = ["l1_global", "channel_l1_global", "gmp_finetune"]
    cfg = _cfg(methods=methods, sparsities=[0, 50, 90],
               gradual={"finetune_steps": 3, "prune_every": 1})
    run_study(cfg, out, progress=False)
    paths = StudyPaths(out)
    assert store.verify(out) == []
    for m in methods:
        for s in (0, 1):
            p = store.open_npy(paths.predictions(m, s))
            assert p.shape[0] == 3 and np.isfinite(p.astype(np.float32)).all()
            meas = store.read_json(paths.measured_sparsity(m, s))["measured"]
            assert meas[0] == 0 and abs(meas[-1] - 0.9) < 0.02, (m, meas)
    cost = read_cost_table(out)
    assert cost is not None
    assert set(zip(cost["method"], cost["sparsity"], strict=True)) == \
        {(m, k) for m in methods for k in (0, 50, 90)}
    assert (cost["n_seeds"] == 2).all() and (cost["latency_seed"] == 0).all()
    assert (cost["cpu_ms_b1"] > 0).all()
    c = cost.set_index(["method", "sparsity"])
    dense = c.loc[("l1_global", 0)]
    for m in methods:   # the dense point is the same model for every method
        assert c.loc[(m, 0), "params"] == dense["params"]
        assert c.loc[(m, 0), "flops"] == dense["flops"]
    # unstructured: same size and dense FLOPs, fewer non-zero FLOPs
    for m in ("l1_global", "gmp_finetune"):
        assert c.loc[(m, 90), "params"] == dense["params"]
        assert c.loc[(m, 90), "flops"] == dense["flops"]
        assert c.loc[(m, 90), "flops_nonzero"] < 0.5 * dense["flops"]
        assert c.loc[(m, 90), "size_bytes"] == dense["size_bytes"]
    # structured: physically smaller and cheaper
    s90 = c.loc[("channel_l1_global", 90)]
    assert s90["params"] < 0.2 * dense["params"] and s90["flops"] < dense["flops"]
    assert s90["size_bytes"] < 0.3 * dense["size_bytes"]
    assert s90["measured_sparsity"] == pytest.approx(0.9, abs=0.02)
    assert isinstance(cost, pd.DataFrame)
