"""Grad-CAM: values equal Grad-CAM computed by hand, shape, no hooks left (also when it
raises), dense vs pruned differ, the dense weights and the model's mode come back."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from core import models, pruning
from core.explain import (
    count_hooks,
    difference_map,
    gradcam,
    no_new_hooks,
    normalize_cam,
    resolve_layer,
)


@pytest.fixture(scope="module")
def model_and_x():
    torch.manual_seed(0)
    model = models.create("smallcnn", 5).eval()
    spec = models.spec("smallcnn")
    g = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (1, 64, 64), dtype=torch.uint8, generator=g)
    return model, spec, models.preprocess(img, spec)


def _pruned(model, k=90):
    @contextlib.contextmanager
    def ctx():
        with pruning.pruned_sequence(model, "l1_global", [k], 0) as seq:
            for _ in seq:
                yield
    return ctx


def test_gradcam_shape_and_no_hooks_left(model_and_x):
    model, spec, x = model_and_x
    assert count_hooks(model) == 0
    cam = gradcam(model, spec.gradcam_layer, x, target=2)
    assert cam.shape == (64, 64) and cam.dtype == np.float32 and (cam >= 0).all()
    assert count_hooks(model) == 0
    assert not model.training


def test_no_hooks_left_when_it_raises(model_and_x):
    model, spec, x = model_and_x
    with pytest.raises(IndexError):
        gradcam(model, spec.gradcam_layer, x, target=99)      # no such class
    assert count_hooks(model) == 0
    with pytest.raises(ValueError):
        gradcam(model, spec.gradcam_layer, x.repeat(2, 1, 1, 1), target=0)
    with pytest.raises(ValueError, match="not found"):
        resolve_layer(model, "layer99")


def test_no_new_hooks_removes_only_what_the_block_added(model_and_x):
    model, _, _ = model_and_x
    mine = model.fc.register_forward_hook(lambda *a: None)    # the caller's own hook stays
    try:
        with pytest.raises(RuntimeError), no_new_hooks(model):
            model.layer1.register_forward_hook(lambda *a: None)
            model.stem.register_forward_pre_hook(lambda *a: None)
            raise RuntimeError("boom")
        assert count_hooks(model) == 1
    finally:
        mine.remove()
    assert count_hooks(model) == 0


@pytest.mark.parametrize("start", ["train", "eval", "mixed"])
def test_dense_and_pruned_differ_and_weights_and_mode_come_back(model_and_x, start):
    model, spec, x = model_and_x
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train(start != "eval")
    if start == "mixed":                      # train mode with one layer frozen in eval
        model.layer1.eval()
    modes = {name: m.training for name, m in model.named_modules()}
    try:
        dense = gradcam(model, spec.gradcam_layer, x, 1)
        assert {name: m.training for name, m in model.named_modules()} == modes
        with _pruned(model)():                # pruned in place, restored on exit
            pruned = gradcam(model, spec.gradcam_layer, x, 1)
            assert {name: m.training for name, m in model.named_modules()} == modes
    finally:
        model.eval()
    assert dense.shape == pruned.shape == (64, 64)
    assert not np.allclose(dense, pruned)
    assert count_hooks(model) == 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    diff = difference_map(dense, pruned)
    assert diff.shape == (64, 64) and diff.min() >= -1 and diff.max() <= 1


def test_mode_comes_back_when_grad_cam_raises(model_and_x):
    model, spec, x = model_and_x
    model.train()
    try:
        with pytest.raises(IndexError):
            gradcam(model, spec.gradcam_layer, x, 99)
        assert model.training and all(m.training for m in model.modules())
    finally:
        model.eval()


class _Tiny(torch.nn.Module):
    """conv → ReLU (the Grad-CAM layer) → conv → ReLU → global mean → linear: small enough
    to compute Grad-CAM by hand, nonlinear after the layer so the weights are not constant."""

    def __init__(self, head_conv: bool = True):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.act = torch.nn.ReLU()
        self.head_conv = head_conv
        self.conv2 = torch.nn.Conv2d(4, 3, 3, padding=1)
        self.fc = torch.nn.Linear(3 if head_conv else 4, 2)

    def forward(self, x):
        a = self.act(self.conv(x))
        if self.head_conv:
            a = torch.relu(self.conv2(a))
        return self.fc(a.mean(dim=(2, 3)))


def _by_hand(model, layer, x, target):
    """Grad-CAM from its definition: A = the layer's output (forward hook), α_k = mean over
    positions of ∂y_target/∂A_k (torch.autograd.grad), map = ReLU(Σ_k α_k A_k)."""
    store = {}
    handle = layer.register_forward_hook(lambda m, i, o: store.setdefault("a", o))
    try:
        y = model(x)[0, target]
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(y, store["a"])
    alpha = grad[0].mean(dim=(1, 2))                            # [K]
    return torch.relu((alpha[:, None, None] * store["a"][0]).sum(0)).detach().numpy()


@pytest.mark.parametrize("target", [0, 1])
def test_grad_cam_values_equal_a_computation_by_hand(target):
    torch.manual_seed(3)
    model = _Tiny().eval()
    x = torch.randn(1, 1, 12, 12, generator=torch.Generator().manual_seed(4))
    want = _by_hand(model, model.act, x, target)
    got = gradcam(model, model.act, x, target)          # same resolution: no upsampling
    assert want.max() > 0                               # a map with evidence to compare
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert count_hooks(model) == 0


def test_grad_cam_of_a_linear_head_is_the_weighted_feature_sum():
    # with only a mean and a linear layer after A, ∂y_c/∂A_k(i, j) = W[c, k] / (h·w), so
    # Grad-CAM = ReLU(Σ_k W[c, k] A_k) / (h·w): worked out on paper, no autograd needed
    torch.manual_seed(5)
    model = _Tiny(head_conv=False).eval()
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        a = torch.relu(model.conv(x))[0]                       # [4, 8, 8]
        want = torch.relu((model.fc.weight[1][:, None, None] * a).sum(0)) / 64
    np.testing.assert_allclose(gradcam(model, model.act, x, 1), want.numpy(), rtol=1e-5,
                               atol=1e-8)


def test_normalise_and_difference():
    assert normalize_cam(np.zeros((2, 2))).tolist() == [[0, 0], [0, 0]]
    a = np.array([[0.0, 2.0]])
    b = np.array([[1.0, 0.0]])
    assert normalize_cam(a).tolist() == [[0, 1]]
    assert difference_map(a, b).tolist() == [[1, -1]]


def test_dashboard_gradcam_on_a_fixture_study(studies_root):
    from dashboard.common import loaders
    from dashboard.common.data import StudyData
    from dashboard.reading_room import browse_loaders as bl

    d = StudyData(studies_root / "alpha")
    maps = bl.cam_maps(d, (0,), "l1_global", 90, 3, 1)
    assert maps["dense"].shape == maps["pruned"].shape == (d.image_size, d.image_size)
    model, _ = loaders._model(d, d.key, 0)
    assert count_hooks(model) == 0


def test_signed_map_keeps_evidence_against(model_and_x):
    model, spec, x = model_and_x
    signed = gradcam(model, spec.gradcam_layer, x, target=2, relu=False)
    plain = gradcam(model, spec.gradcam_layer, x, target=2)
    assert signed.min() < 0 <= plain.min()
    # ReLU of the signed map at the layer's resolution, upsampled, bounds the plain map
    assert float(plain.max()) <= float(np.abs(signed).max()) + 1e-6
    assert normalize_cam(signed).min() >= -1 and count_hooks(model) == 0
