"""Structured channel pruning (core/pruning/structured.py via pruning.sequence): the stated
fraction of prunable parameters is removed, the pruned model runs, is physically smaller, keeps its
class outputs, and the dense model is left untouched."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from safetensors.torch import save
from torch import nn

from core import models, pruning
from core.pruning.structured import classifier_of, prunable_count

STRUCTURED = sorted(m for m, v in pruning.METHODS.items() if v.kind == "structured")


def _bytes(model: nn.Module) -> int:
    return len(save({k: v.contiguous() for k, v in model.state_dict().items()}))


def test_registry_kinds():
    assert STRUCTURED == ["channel_l1_global", "channel_l1_uniform"]
    assert pruning.method_kind("l1_global") == "unstructured"
    with pytest.raises(ValueError, match="structured"):
        pruning.masks_for(nn.Linear(3, 2), "channel_l1_global", [0, 50])


@pytest.mark.parametrize("arch", ["smallcnn", "smallcnn_wide", "resnet18", "resnet50"])
@pytest.mark.parametrize("method", STRUCTURED)
def test_removes_the_stated_fraction_and_runs(arch, method):
    torch.manual_seed(0)
    n_cls = 15
    model = models.create(arch, n_cls).eval()
    spec = models.spec(arch)
    # tracing needs only the shapes: 64 px keeps the ResNets quick (any size ≥ 32 works)
    x = torch.randn(2, spec.in_chans, 64, 64)
    dense_state = copy.deepcopy(model.state_dict())
    total, size0 = prunable_count(model), _bytes(model)
    ks = [0, 30, 50, 70] if arch.startswith("smallcnn") else [0, 50]
    seen = []
    with pruning.sequence(model, method, ks, seed=0, example_input=x[:1]) as seq:
        for k, measured, net in seq:
            left = prunable_count(net)
            assert measured == pytest.approx(1 - left / total)
            # channel granularity: within 1.5 percentage points of the grid point
            assert abs(measured - k / 100) < 0.015, (k, measured)
            with torch.no_grad():
                out = net(x)
            assert out.shape == (2, n_cls) and torch.isfinite(out).all()
            assert classifier_of(net).out_features == n_cls
            if k == 0:
                assert left == total
            else:
                assert _bytes(net) < size0 * (1 - k / 100 + 0.03)   # physically smaller
            seen.append(k)
    assert seen == ks
    for name, v in model.state_dict().items():
        assert torch.equal(v, dense_state[name]), name


def test_global_and_uniform_differ_and_are_nested():
    torch.manual_seed(1)
    model = models.create("smallcnn", 4).eval()
    x = torch.randn(1, 1, 64, 64)
    widths = {}
    for method in STRUCTURED:
        with pruning.sequence(model, method, [0, 40, 80], seed=0, example_input=x) as seq:
            widths[method] = [[m.out_channels for m in net.modules()
                               if isinstance(m, nn.Conv2d)] for _, _, net in seq]
    for w in widths.values():   # channels only ever go away as sparsity rises
        for lo, hi in zip(w, w[1:], strict=False):
            assert all(b <= a for a, b in zip(lo, hi, strict=True))
    assert widths["channel_l1_global"][2] != widths["channel_l1_uniform"][2]
    # uniform: every conv keeps about the same share of its channels
    uni = [b / a for a, b in zip(widths["channel_l1_uniform"][0],
                                 widths["channel_l1_uniform"][2], strict=True)]
    assert max(uni) - min(uni) < 0.1


def test_removed_channels_are_the_lowest_l1():
    """conv → pool → classifier whose weights are all equal: the conv channels with the
    lowest L1 norm go first, and 3 of 8 channels (each 9 + 3 weights of 96) is 37.5%."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 3)).eval()
    with torch.no_grad():
        net[4].weight.fill_(0.5)
        for i, scale in enumerate([5, 0.1, 4, 0.2, 3, 2, 0.3, 1]):
            net[0].weight[i] *= scale / net[0].weight[i].abs().sum()
    l1 = net[0].weight.detach().abs().sum((1, 2, 3))
    keep_expected = set(torch.argsort(l1, descending=True)[:5].tolist())
    for method in STRUCTURED:
        with pruning.sequence(net, method, [0, 37], seed=0,
                              example_input=torch.randn(1, 1, 8, 8)) as s:
            *_, (_, measured, pruned) = list(s)
        kept = {i for i in range(8) for j in range(pruned[0].out_channels)
                if torch.equal(pruned[0].weight[j], net[0].weight[i])}
        assert pruned[0].out_channels == 5 and kept == keep_expected, method
        assert measured == pytest.approx(36 / 96)
        assert pruned[-1].out_features == 3 and pruned[-1].in_features == 5


def test_sequence_needs_example_for_structured():
    model = models.create("smallcnn", 3)
    with pytest.raises(ValueError, match="example_input"), \
            pruning.sequence(model, "channel_l1_global", [0, 50]) as seq:
        list(seq)


def test_gradcam_of_a_structured_model():
    """Grad-CAM explains the physically pruned copy (the dashboard's viewer path)."""
    from core.explain import gradcam

    torch.manual_seed(3)
    model = models.create("smallcnn", 4).eval()
    x = torch.randn(1, 1, 64, 64)
    before = copy.deepcopy(model.state_dict())
    dense = gradcam(model, "layer3", x, 1)
    with pruning.sequence(model, "channel_l1_global", [50], seed=0,
                          example_input=x) as seq:
        for _, _, net in seq:
            pruned = gradcam(net, "layer3", x, 1)    # the layer looked up in the copy
            assert net is not model
            with torch.no_grad():
                assert not torch.allclose(net(x), model(x))
    assert dense.shape == pruned.shape == (64, 64)
    assert not np.allclose(dense, pruned)
    for name, v in model.state_dict().items():
        assert torch.equal(v, before[name]), name
