"""Prediction grid: shapes, dense row = plain inference, same as the hook-based reference,
NaN/inf outputs reported with (method, seed, sparsity) and never returned; stored as float32
logits (or a study's older encoding); the head computes in float32 under autocast."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

from core import models, predictions, pruning
from core.errors import NonFiniteOutputError
from core.predict import float32_head, predict_batches, predict_dense, predict_grid

SPARSITIES = [0, 30, 60, 90]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = models.create("smallcnn", num_classes=4, pretrained=False).eval()
    spec = models.spec("smallcnn")
    images = np.random.default_rng(0).integers(0, 256, (50, 32, 32), dtype=np.uint8)
    return model, spec, images


def _dense_logits(model, spec, images):
    with torch.inference_mode():
        x = models.preprocess(torch.from_numpy(images), spec)
        return model(x).numpy()


def _dense_probs(model, spec, images):
    return 1 / (1 + np.exp(-_dense_logits(model, spec, images).astype(np.float64)))


def test_grid_shapes_dtype_and_dense_row(setup):
    model, spec, images = setup
    before = copy.deepcopy(model.state_dict())
    out = predict_grid(model, spec, images, ["l1_global", "random"], SPARSITIES, seed=3,
                       device="cpu", batch_size=16, progress=False)
    assert set(out) == {"l1_global", "random"}
    for preds, measured in out.values():
        assert preds.shape == (len(SPARSITIES), 50, 4) and preds.dtype == np.float32
        assert len(measured) == len(SPARSITIES)
        assert measured[0] == 0.0
        assert all(abs(m - k / 100) < 0.01 for m, k in zip(measured, SPARSITIES, strict=True))
        # sparsity 0 is the dense model; stored as float32 logits
        np.testing.assert_allclose(preds[0], _dense_logits(model, spec, images), atol=1e-5)
    # pruning was undone: dense weights are back
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_grid_is_deterministic_and_batch_size_free(setup):
    model, spec, images = setup
    a = predict_grid(model, spec, images, ["random"], SPARSITIES, seed=5, device="cpu",
                     batch_size=50, progress=False)
    b = predict_grid(model, spec, images, ["random"], SPARSITIES, seed=5, device="cpu",
                     batch_size=50, progress=False)
    c = predict_grid(model, spec, images, ["random"], SPARSITIES, seed=5, device="cpu",
                     batch_size=7, progress=False)
    assert np.array_equal(a["random"][0], b["random"][0])
    np.testing.assert_allclose(a["random"][0], c["random"][0], atol=1e-5)


def test_l1_global_grid_matches_torch_prune_reference(setup):
    """The reference approach: copy the model, prune with torch's hooks, predict."""
    model, spec, images = setup
    ours = predict_grid(model, spec, images, ["l1_global"], SPARSITIES, seed=0, device="cpu",
                        batch_size=64, progress=False)["l1_global"][0]
    for i, k in enumerate(SPARSITIES):
        ref = copy.deepcopy(model)
        params = [(m, "weight") for m in ref.modules()
                  if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
        if k:
            tprune.global_unstructured(params, pruning_method=tprune.L1Unstructured,
                                       amount=k / 100)
        np.testing.assert_allclose(ours[i], _dense_logits(ref, spec, images), atol=1e-5)


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
    # regimes (gradual pruning) need training data: tested in test_gradual.py
    methods = sorted(m for m, v in pruning.METHODS.items() if v.kind != "regime")
    assert {"channel_l1_global", "channel_l1_uniform"} <= set(methods)
    before = copy.deepcopy(model.state_dict())
    out = predict_grid(model, spec, images[:8], methods, [0, 50], seed=1, device="cpu",
                       batch_size=8, progress=False)
    assert set(out) == set(methods)
    for preds, measured in out.values():
        assert np.isfinite(preds.astype(np.float32)).all()
        assert measured[0] == 0.0 and abs(measured[1] - 0.5) < 0.02
    for k, v in model.state_dict().items():  # structured pruning worked on copies
        assert torch.equal(v, before[k]), k


def test_older_study_encoding_stores_float16_probabilities(setup):
    model, spec, images = setup
    out = predict_grid(model, spec, images, ["l1_global"], [0, 50], seed=0, device="cpu",
                       batch_size=64, progress=False, encoding=predictions.LEGACY)["l1_global"][0]
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out[0], _dense_probs(model, spec, images).astype(np.float16))


def test_predict_dense_is_the_plain_forward_pass(setup):
    model, spec, images = setup
    got = predict_dense(model, spec=spec, images=images, seed=0, device="cpu", batch_size=7)
    assert got.dtype == np.float32 and got.shape == (50, 4)
    np.testing.assert_allclose(got, _dense_logits(model, spec, images), atol=1e-5)


def test_head_runs_in_float32_under_autocast(setup):
    """On the CPU, bfloat16 autocast stands in for CUDA's float16: without the float32 head
    every logit would lie on bfloat16's grid (8 bits of mantissa)."""
    model, spec, images = setup
    x = models.preprocess(torch.from_numpy(images), spec)
    cpu = torch.device("cpu")
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        plain = model(x)
    assert plain.dtype == torch.bfloat16   # what the head returns without the fix
    got = predict_batches(model, x, cpu, 16, torch.bfloat16)
    assert got.dtype == torch.float32
    off_grid = (got != got.to(torch.bfloat16).float()).float().mean()
    assert off_grid > 0.9
    # close to the float32 forward pass (the body still ran in bfloat16)
    np.testing.assert_allclose(got.numpy(), _dense_logits(model, spec, images), atol=0.1)
    assert "forward" not in vars(model.fc)   # the instance's forward is restored
    with float32_head(model, cpu):
        assert "forward" in vars(model.fc)
    assert "forward" not in vars(model.fc)
