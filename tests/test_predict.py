"""Prediction grid: shapes, dense row = plain inference, same as the hook-based reference,
NaN/inf outputs reported with (method, seed, sparsity) and never returned."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

from core import models, prune
from core.predict import NonFiniteOutputError, predict_grid

SPARSITIES = [0, 30, 60, 90]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = models.create("smallcnn", num_classes=4, pretrained=False).eval()
    spec = models.spec("smallcnn")
    images = np.random.default_rng(0).integers(0, 256, (50, 32, 32), dtype=np.uint8)
    return model, spec, images


def _dense_probs(model, spec, images):
    with torch.inference_mode():
        x = models.preprocess(torch.from_numpy(images), spec)
        return torch.sigmoid(model(x)).numpy()


def test_grid_shapes_dtype_and_dense_row(setup):
    model, spec, images = setup
    before = copy.deepcopy(model.state_dict())
    out = predict_grid(model, spec, images, ["l1_global", "random"], SPARSITIES, seed=3,
                       device="cpu", batch_size=16, progress=False)
    assert set(out) == {"l1_global", "random"}
    for preds, measured in out.values():
        assert preds.shape == (len(SPARSITIES), 50, 4) and preds.dtype == np.float16
        assert len(measured) == len(SPARSITIES)
        assert measured[0] == 0.0
        assert all(abs(m - k / 100) < 0.01 for m, k in zip(measured, SPARSITIES, strict=True))
        # sparsity 0 is the dense model
        np.testing.assert_allclose(preds[0], _dense_probs(model, spec, images), atol=1e-3)
    # pruning was undone: dense weights are back
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_grid_is_deterministic_and_batch_size_free(setup):
    model, spec, images = setup
    a = predict_grid(model, spec, images, ["random"], SPARSITIES, 5, "cpu", 50, False)
    b = predict_grid(model, spec, images, ["random"], SPARSITIES, 5, "cpu", 50, False)
    c = predict_grid(model, spec, images, ["random"], SPARSITIES, 5, "cpu", 7, False)
    assert np.array_equal(a["random"][0], b["random"][0])
    np.testing.assert_allclose(a["random"][0].astype(np.float32),
                               c["random"][0].astype(np.float32), atol=2e-3)


def test_l1_global_grid_matches_torch_prune_reference(setup):
    """The reference approach: copy the model, prune with torch's hooks, predict."""
    model, spec, images = setup
    ours = predict_grid(model, spec, images, ["l1_global"], SPARSITIES, 0, "cpu", 64,
                        False)["l1_global"][0]
    for i, k in enumerate(SPARSITIES):
        ref = copy.deepcopy(model)
        params = [(m, "weight") for m in ref.modules()
                  if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
        if k:
            tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured,
                                       amount=k / 100)
        np.testing.assert_allclose(ours[i].astype(np.float32),
                                   _dense_probs(ref, spec, images), atol=1e-3)


class _Fragile(torch.nn.Module):
    """Finite when dense; divides by a tiny weight that L1 pruning zeroes first."""

    def __init__(self, size: int, classes: int):
        super().__init__()
        self.lin = torch.nn.Linear(size * size, classes)
        self.den = torch.nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.lin.weight.fill_(0.5)
            self.den.weight.fill_(1e-3)

    def forward(self, x):
        return self.lin(x.mean(1).flatten(1)) / self.den(torch.ones(len(x), 1))


def test_non_finite_outputs_raise_with_method_seed_sparsity(setup):
    _, spec, images = setup
    model = _Fragile(32, 4)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(NonFiniteOutputError) as err:
        predict_grid(model, spec, images, ["l1_global"], [0, 5, 50], seed=7, device="cpu",
                     batch_size=64, progress=False)
    assert (err.value.method, err.value.seed, err.value.sparsity) == ("l1_global", 7, 5)
    assert "method=l1_global" in str(err.value) and "seed=7" in str(err.value)
    assert "sparsity=5%" in str(err.value)
    for k, v in model.state_dict().items():  # dense weights restored even on error
        assert torch.equal(v, before[k]), k


def test_methods_registry_all_predict(setup):
    model, spec, images = setup
    # regimes (gradual pruning) need training data: run by core.regimes, tested there
    methods = sorted(m for m, v in prune.METHODS.items() if v.kind != "regime")
    assert {"channel_l1_global", "channel_l1_uniform"} <= set(methods)
    before = copy.deepcopy(model.state_dict())
    out = predict_grid(model, spec, images[:8], methods, [0, 50], 1, "cpu", 8, False)
    assert set(out) == set(methods)
    for preds, measured in out.values():
        assert np.isfinite(preds.astype(np.float32)).all()
        assert measured[0] == 0.0 and abs(measured[1] - 0.5) < 0.02
    for k, v in model.state_dict().items():  # structured pruning worked on copies
        assert torch.equal(v, before[k]), k
