"""Training loop: NaN-masked loss, augmentation, real best-weights copy, determinism."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core import models, train
from core.config import StudyConfig


def _cfg(**train_kw) -> StudyConfig:
    t = {"epochs": 2, "batch_size": 32, "lr": 1e-3, "patience": 5, "device": "cpu"}
    t.update(train_kw)
    return StudyConfig.from_dict({"model": "smallcnn", "image_size": 32, "train": t},
                                 validate=False)


def _data(n: int, c: int, size: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    y = (rng.random((n, c)) < 0.3).astype(np.float32)
    y[rng.random((n, c)) < 0.2] = np.nan
    return x, y


CLASSES = ["a", "b", "c"]


def test_masked_bce_matches_hand_computation():
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, -3.0, 0.5]])
    targets = torch.tensor([[1.0, float("nan"), 0.0], [float("nan"), 1.0, float("nan")]])

    def bce(z, y):  # -[y log σ(z) + (1-y) log(1-σ(z))]
        s = 1 / (1 + math.exp(-z))
        return -(y * math.log(s) + (1 - y) * math.log(1 - s))

    expected = [bce(0.0, 1), bce(-1.0, 0), bce(-3.0, 1)]
    total, count = train.masked_bce(logits, targets)
    assert count == 3
    assert float(total) == pytest.approx(sum(expected), rel=1e-6)
    assert float(total) / count == pytest.approx(np.mean(expected), rel=1e-6)


def test_masked_bce_gives_no_gradient_to_unlabelled_entries():
    logits = torch.zeros(4, 2, requires_grad=True)
    targets = torch.tensor([[1.0, float("nan")]] * 4)
    total, count = train.masked_bce(logits, targets)
    (total / count).backward()
    assert torch.all(logits.grad[:, 1] == 0)
    assert torch.all(logits.grad[:, 0] != 0)
    assert torch.isfinite(logits.grad).all()


def test_augment_flip_only_is_exact_and_seeded():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4)
    gen = torch.Generator().manual_seed(3)
    flips = torch.rand(2, generator=torch.Generator().manual_seed(3)) < 0.5
    out = train.augment_batch(x, gen, hflip=True, degrees=0.0)
    for i in range(2):
        want = x[i].flip(-1) if flips[i] else x[i]
        assert torch.allclose(out[i], want, atol=1e-5)
    again = train.augment_batch(x, torch.Generator().manual_seed(3), True, 0.0)
    assert torch.equal(out, again)


def test_augment_rotation_fills_corners_with_black_value():
    x = torch.full((1, 1, 16, 16), 5.0)
    # a generator whose first draws give a clearly non-zero angle
    gen = torch.Generator().manual_seed(0)
    out = train.augment_batch(x, gen, hflip=False, degrees=45.0, fill=-2.0)
    assert out[0, 0, 8, 8] == pytest.approx(5.0, abs=1e-4)  # centre unchanged
    corner = out[0, 0, 0, 0].item()
    assert -2.0 - 1e-4 <= corner < 5.0  # rotated-in area takes the fill value
    assert out.min().item() >= -2.0 - 1e-4


def test_copy_state_is_a_real_copy():
    model = models.create("smallcnn", num_classes=3, pretrained=False)
    saved = train.copy_state(model)
    ref = model.state_dict()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    name = next(n for n, _ in model.named_parameters())
    assert not torch.equal(saved[name], ref[name])  # the live state moved, the copy did not
    assert saved[name].data_ptr() != ref[name].data_ptr()


def test_train_keeps_best_weights_and_stops_early(monkeypatch):
    """Scripted val losses: best at epoch 2, patience 2 → stops after epoch 4 with the
    weights of epoch 2 (not those of the last epoch)."""
    losses = iter([1.0, 0.5, 0.9, 0.8, 0.7, 0.6])
    snapshots = []

    def fake_eval(model, *a, **k):
        snapshots.append(train.copy_state(model))
        return next(losses)

    monkeypatch.setattr(train, "evaluate_loss", fake_eval)
    x, y = _data(64, 3)
    cfg = _cfg(epochs=6, patience=2, lr=1e-2)
    model, hist, info = train.train_seed(cfg, CLASSES, x, y, x[:16], y[:16], seed=0,
                                         device="cpu", progress=False)
    assert list(hist["epoch"]) == [1, 2, 3, 4]
    assert info["best_epoch"] == 2 and info["stopped_early"]
    assert info["best_val_loss"] == 0.5
    final = model.state_dict()
    for k, v in final.items():
        assert torch.equal(v, snapshots[1][k]), k
    assert any(not torch.equal(final[k], snapshots[3][k]) for k in final)
    assert set(hist.columns) >= {"epoch", "train_loss", "val_loss", "seconds", "lr"}


def test_same_seed_same_weights_other_seed_differs():
    x, y = _data(96, 3)
    cfg = _cfg(epochs=2)
    runs = [train.train_seed(cfg, CLASSES, x, y, x[:32], y[:32], seed=s, device="cpu",
                             progress=False)[0].state_dict() for s in (7, 7, 8)]
    for k in runs[0]:
        assert torch.equal(runs[0][k], runs[1][k]), k
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])


def test_train_history_losses_are_finite_and_val_matches_weights():
    x, y = _data(96, 3, seed=1)
    cfg = _cfg(epochs=2)
    model, hist, info = train.train_seed(cfg, CLASSES, x, y, x[:40], y[:40], seed=0,
                                         device="cpu", progress=False)
    assert np.isfinite(hist[["train_loss", "val_loss"]].to_numpy()).all()
    spec = models.spec("smallcnn")
    again = train.evaluate_loss(model, x[:40], y[:40], spec, torch.device("cpu"), 256)
    assert again == pytest.approx(info["best_val_loss"], rel=1e-5)
    assert not model.training


def test_train_rejects_empty_val():
    x, y = _data(8, 3)
    with pytest.raises(ValueError, match="val"):
        train.train_seed(_cfg(), CLASSES, x, y, x[:0], y[:0], seed=0, device="cpu",
                         progress=False)
