"""Gradual magnitude pruning with fine-tuning (core/pruning/gradual.py): the cubic schedule,
masks that never un-prune, masked weights exactly zero through fine-tuning, and the study
runner storing its predictions like any method's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core import models, predictions, pruning
from core.config import StudyConfig
from core.errors import ConfigError
from core.predict import predict_grid
from core.pruning.gradual import GmpFinetune, cubic_sparsity, raise_masks


def test_cubic_schedule_by_hand():
    assert cubic_sparsity(0, 50, 0, 10) == 0
    assert cubic_sparsity(0, 50, 5, 10) == pytest.approx(50 - 50 * 0.5 ** 3)   # 43.75
    assert cubic_sparsity(20, 40, 9, 10) == pytest.approx(40 - 20 * 0.1 ** 3)
    assert cubic_sparsity(20, 40, 10, 10) == 40 and cubic_sparsity(20, 40, 3, 0) == 40


def test_raise_masks_keeps_pruned_weights_pruned():
    w = [torch.nn.Parameter(torch.tensor([0.5, -0.1, 2.0, 0.05])),
         torch.nn.Parameter(torch.tensor([[1.0, -3.0], [0.2, 0.01]]))]
    m = raise_masks(w, [torch.ones_like(p, dtype=torch.bool) for p in w], 3)
    assert m[0].tolist() == [True, False, True, False]           # 0.05, 0.01, -0.1 go
    assert m[1].tolist() == [[True, True], [True, False]]
    with torch.no_grad():   # a pruned weight that grew must not come back
        w[0][3] = 100.0
    m2 = raise_masks(w, m, 4)
    assert not m2[0][3] and not m2[0][1] and not m2[1][1, 1] and not m2[1][1, 0]
    with pytest.raises(ValueError, match="never un-prune"):
        raise_masks(w, m2, 2)


def _cfg(**gradual):
    return StudyConfig.from_dict({
        "model": "smallcnn", "seeds": [0], "methods": ["l1_global", "gmp_finetune"],
        "sparsities": [0, 30, 60], "analysis": {"at_sparsity": 60, "pie_sparsity": 60},
        "train": {"batch_size": 8, "lr": 1e-3, "rotation_degrees": 10.0, "device": "cpu"},
        "gradual": {"finetune_steps": 6, "lr": 1e-2, "prune_every": 2, "ramp": 0.5,
                    **gradual}})


def test_masks_never_unprune_and_stay_zero_during_finetuning():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    tx = rng.integers(0, 255, (40, 32, 32), dtype=np.uint8)
    ty = rng.integers(0, 2, (40, 3)).astype(np.float32)
    ty[::5, 1] = np.nan                       # unlabelled entries are skipped by the loss
    ex = rng.integers(0, 255, (10, 32, 32), dtype=np.uint8)
    model = models.create("smallcnn", 3).eval()
    dense = {k: v.clone() for k, v in model.state_dict().items()}
    zero_sets, at_grid = [], {}

    def zeros(net):
        return torch.cat([p.detach().reshape(-1) == 0 for _, p in pruning.prunable_parameters(net)])

    # Every forward pass of the fine-tuned copy (deepcopy keeps the hook): the set of zero
    # weights may only grow. Were masked weights not re-zeroed after each optimiser step,
    # Adam (lr 1e-2) would move them off zero and the set would shrink.
    model.register_forward_pre_hook(lambda mod, inp: zero_sets.append(zeros(mod)))

    def grab(method, k, measured, net):
        at_grid[k] = (measured, zeros(net))

    cfg = _cfg()
    training = pruning.TrainingData(tx, ty, config=cfg, device="cpu")
    grid = predict_grid(model, models.spec("smallcnn"), ex, ["gmp_finetune"], [0, 30, 60],
                        seed=0, device="cpu", batch_size=8, progress=False, amp=False,
                        on_model=grab, training=training)
    preds, measured = grid["gmp_finetune"]
    info = GmpFinetune().schedule(cfg)
    assert preds.shape == (3, 10, 3) and preds.dtype == predictions.DEFAULT.dtype
    assert np.isfinite(preds.astype(np.float32)).all()
    n_steps = 2 * 6
    assert len(zero_sets) >= n_steps
    for a, b in zip(zero_sets, zero_sets[1:], strict=False):
        assert bool((a & ~b).sum() == 0), "a pruned weight came back during fine-tuning"
    total = sum(p.numel() for _, p in pruning.prunable_parameters(model))
    for k in (30, 60):
        assert at_grid[k][1].sum() == pruning.n_to_prune(k, total)
        assert at_grid[k][0] == pytest.approx(k / 100, abs=1e-6)
    assert measured == [at_grid[k][0] for k in (0, 30, 60)] and measured[0] == 0
    assert bool((at_grid[30][1] & ~at_grid[60][1]).sum() == 0)
    # the fine-tuning changed the surviving weights; the dense model was not touched
    assert not np.array_equal(preds[1], preds[0])
    for k, v in model.state_dict().items():
        assert torch.equal(v, dense[k]), k
    assert info["finetune_steps"] == 6 and info["ramp_steps"] == 3


def test_gradual_config_is_checked():
    with pytest.raises(ConfigError, match="gradual.lr"):
        _cfg(lr=0)
    with pytest.raises(ConfigError, match="gradual.ramp"):
        _cfg(ramp=2.0)
    with pytest.raises(ConfigError, match="gradual.finetune_steps"):
        _cfg(finetune_steps=-1)
