"""Pruning: masks equal torch's, counts, in-place application, bit-exact restore, no hooks."""
import copy
import gc

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils import prune as tprune

from core import models, pruning

UNSTRUCTURED = sorted(m for m, v in pruning.METHODS.items() if v.kind == "unstructured")

ALL = list(range(0, 100, 5))
N_TINY = 2316
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class Tiny(nn.Module):
    """Conv + Linear, 2,316 prunable weights: big enough for both of torch's topk branches
    (partial_sort when k ≤ n/64, nth_element above), with BatchNorm and biases to leave alone."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 16, 3)
        self.bn = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 12, 3, bias=False)
        self.fc = nn.Linear(12, 20)
        self.head = nn.Linear(20, 3)

    def forward(self, x):
        x = self.conv2(torch.relu(self.bn(self.conv(x))))
        return self.head(torch.relu(self.fc(x.mean((2, 3)))))


def tiny(kind="distinct", seed=0):
    torch.manual_seed(seed)
    model = Tiny()
    if kind == "ties":  # few distinct magnitudes, many exact zeros (and negative zeros)
        with torch.no_grad():
            for _, p in pruning.prunable_parameters(model):
                p.copy_(torch.randint(-3, 4, p.shape).float() * 0.5)
                p.view(-1)[::7] = -0.0
    return model


def bits(t):
    return t.detach().cpu().contiguous().view(torch.int32 if t.element_size() == 4 else torch.int16)


def snapshot(model):
    return {k: bits(v).clone() for k, v in model.state_dict().items() if v.is_floating_point()}


def assert_bit_exact(model, snap):
    now = snapshot(model)
    assert now.keys() == snap.keys()
    for k in snap:
        assert torch.equal(now[k], snap[k]), k


def torch_masks(model, k, layerwise=False):
    """torch.nn.utils.prune's masks at k % on a copy: {weight name: bool, True = kept}."""
    m = copy.deepcopy(model)
    mods = dict(m.named_modules())
    names = [n for n, _ in pruning.prunable_parameters(m)]
    pairs = [(mods[n.rpartition(".")[0]], "weight") for n in names]
    if layerwise:
        for mod, name in pairs:
            tprune.l1_unstructured(mod, name, amount=k / 100)
    else:
        tprune.global_unstructured(pairs, pruning_method=tprune.L1Unstructured, amount=k / 100)
    return {n: mod.weight_mask.bool() for n, (mod, _) in zip(names, pairs, strict=True)}


def assert_same_masks(ours, ref, k):
    for name in ref:
        assert torch.equal(ours[name].cpu(), ref[name].cpu()), f"k={k} {name}"


def assert_clean(model, params_before):
    """No hooks, masks, reparametrisation or new state; the same Parameter objects."""
    for name, m in model.named_modules():
        assert not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks), name
        assert not hasattr(m, "weight_orig") and not hasattr(m, "weight_mask"), name
        assert not parametrize.is_parametrized(m), name
    assert list(model.parameters()) == params_before  # identity, not just values
    assert not any(k.endswith(("_mask", "_orig")) for k in model.state_dict())


# --------------------------------------------------------------------------- masks vs torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["distinct", "ties"])
@pytest.mark.parametrize("layerwise", [False, True])
def test_l1_masks_equal_torch_every_percent(kind, layerwise, device):
    model = tiny(kind).to(device)
    method = "l1_layerwise" if layerwise else "l1_global"
    ks = list(range(0, 101))
    ours = pruning.masks_for(model, method, ks)
    for k in ks:
        assert_same_masks(ours[k], torch_masks(model, k, layerwise), k)


@pytest.mark.parametrize("device", DEVICES)
def test_l1_global_equals_torch_on_resnet18(device):
    torch.manual_seed(0)
    model = models.create("resnet18", 14).to(device)
    ks = [5, 50, 95]
    ours = pruning.masks_for(model, "l1_global", ks)
    for k in ks:
        assert_same_masks(ours[k], torch_masks(model, k), k)


def test_channels_last_weights_give_the_same_masks():
    model = tiny("ties")
    ref = pruning.masks_for(model, "l1_global", ALL)
    got = pruning.masks_for(model.to(memory_format=torch.channels_last), "l1_global", ALL)
    for k in ALL:
        assert_same_masks(got[k], ref[k], k)


def torch_pruned(model, k):
    """torch's pruned weights at k %: global_unstructured, then prune.remove."""
    m = copy.deepcopy(model)
    mods = dict(m.named_modules())
    names = [n for n, _ in pruning.prunable_parameters(m)]
    pairs = [(mods[n.rpartition(".")[0]], "weight") for n in names]
    tprune.global_unstructured(pairs, pruning_method=tprune.L1Unstructured, amount=k / 100)
    for mod, name in pairs:
        tprune.remove(mod, name)
    return {n: bits(mod.weight) for n, (mod, _) in zip(names, pairs, strict=True)}


def test_pruned_weights_bit_equal_torch_in_place():
    """Weights in the loop are bit for bit torch's (negative zeros too), tied runs included."""
    model = tiny("ties")
    for k, got in pruning.pruned_sequence(model, "l1_global", list(range(0, 101))):
        ref = torch_pruned(model, k)
        for name, p in pruning.prunable_parameters(model):
            assert torch.equal(bits(p), ref[name]), (k, name)
        zeros = sum(int((p == 0).sum()) for _, p in pruning.prunable_parameters(model))
        assert got == pytest.approx(zeros / N_TINY, abs=1e-12)


# --------------------------------------------------------------------------- every method
@pytest.mark.parametrize("method", UNSTRUCTURED)
def test_counts_and_measured_sparsity(method):
    model = tiny()
    named = pruning.prunable_parameters(model)
    n = sum(p.numel() for _, p in named)
    assert n == N_TINY
    for k, got in pruning.pruned_sequence(model, method, ALL, seed=3):
        zeros = [int((p == 0).sum()) for _, p in named]
        assert got == pytest.approx(sum(zeros) / n, abs=1e-12)
        assert got == pytest.approx(pruning.measured_sparsity(p for _, p in named), abs=1e-12)
        if pruning.METHODS[method].layerwise:
            for z, (_, p) in zip(zeros, named, strict=True):
                assert abs(z - k / 100 * p.numel()) <= 1
        else:
            assert abs(sum(zeros) - k / 100 * n) <= 1


@pytest.mark.parametrize("method", UNSTRUCTURED)
def test_only_conv_and_linear_weights_change(method):
    model = tiny()
    before = copy.deepcopy(model.state_dict())
    weights = {n for n, _ in pruning.prunable_parameters(model)}
    assert weights == {"conv.weight", "conv2.weight", "fc.weight", "head.weight"}
    for _ in pruning.pruned_sequence(model, method, [90]):
        for key, value in model.state_dict().items():
            if key not in weights:  # biases, BatchNorm parameters and statistics
                assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("method", UNSTRUCTURED)
def test_restored_bit_exactly_and_clean(method):
    model = tiny("ties")  # holds negative zeros: a restore through arithmetic would lose them
    snap, params = snapshot(model), list(model.parameters())
    seen = [k for k, _ in pruning.pruned_sequence(model, method, ALL)]
    assert seen == ALL
    assert_bit_exact(model, snap)
    assert_clean(model, params)


@pytest.mark.parametrize("method", UNSTRUCTURED)
def test_restored_after_break_and_exception(method):
    model = tiny()
    snap, params = snapshot(model), list(model.parameters())
    gc.disable()  # restore must not wait for the cycle collector
    try:
        for k, _ in pruning.pruned_sequence(model, method, ALL):
            if k == 50:
                break
        assert_bit_exact(model, snap)
    finally:
        gc.enable()
    with pytest.raises(RuntimeError, match="consumer failed"):
        for k, _ in pruning.pruned_sequence(model, method, ALL):
            if k == 35:
                raise RuntimeError("consumer failed")
    assert_bit_exact(model, snap)
    with pytest.raises(RuntimeError, match="consumer failed"):
        with pruning.pruned_sequence(model, method, ALL) as seq:
            it = iter(seq)
            next(it)
            next(it)
            raise RuntimeError("consumer failed")
    assert_bit_exact(model, snap)
    assert_clean(model, params)


def test_loop_body_keeps_autograd():
    """Grad-CAM of a pruned model runs inside the loop: grad mode must not be switched off."""
    model = tiny()
    x = torch.randn(2, 2, 8, 8, requires_grad=True)
    for _k, _ in pruning.pruned_sequence(model, "l1_global", [0, 50]):
        assert torch.is_grad_enabled()
        model(x).sum().backward()
        assert x.grad is not None


def test_random_is_seeded_nested_and_device_independent():
    model = tiny()
    a = pruning.masks_for(model, "random", ALL, seed=1)
    b = pruning.masks_for(model, "random", ALL, seed=1)
    c = pruning.masks_for(model, "random", ALL, seed=2)
    for k in ALL:
        assert_same_masks(a[k], b[k], k)
    assert not torch.equal(a[50]["fc.weight"], c[50]["fc.weight"])
    for lo, hi in zip(ALL, ALL[1:], strict=False):  # pruned at lo ⇒ pruned at hi
        for name in a[lo]:
            assert not (~a[lo][name] & a[hi][name]).any()
    if torch.cuda.is_available():
        g = pruning.masks_for(tiny().cuda(), "random", ALL, seed=1)
        for k in ALL:
            assert_same_masks(g[k], a[k], k)


def test_dense_zeros_are_measured_not_assumed():
    model = tiny()
    with torch.no_grad():
        model.fc.weight[:5] = 0  # 60 exact zeros in the dense model
    got = dict(pruning.pruned_sequence(model, "random", [0, 5], seed=0))
    assert got[0] == pytest.approx(60 / N_TINY)
    assert got[5] > round(0.05 * N_TINY) / N_TINY  # random pruning also hits non-zero weights


def test_masks_for_leaves_the_model_alone():
    model = tiny()
    snap = snapshot(model)
    masks = pruning.masks_for(model, "l1_global", [0, 100])
    assert all(m.all() for m in masks[0].values())
    assert not any(m.any() for m in masks[100].values())
    assert_bit_exact(model, snap)


def test_bad_arguments():
    model = tiny()
    with pytest.raises(KeyError, match="l1_global"):
        pruning.pruned_sequence(model, "magnitude", ALL)
    for bad in ([10, 5], [5, 5], [0.5], [True], [101], [-5]):
        with pytest.raises(ValueError, match="sparsit"):
            pruning.pruned_sequence(model, "l1_global", bad)
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        pruning.masks_for(model, "l1_global", [50])
    seq = pruning.pruned_sequence(tiny(), "l1_global", [50])
    list(seq)
    with pytest.raises(RuntimeError, match="once"):
        list(seq)
    with pytest.raises(ValueError, match="no Conv2d or Linear"):
        pruning.pruned_sequence(nn.Sequential(nn.ReLU()), "l1_global", [50])
    hooked = tiny()
    tprune.l1_unstructured(hooked.fc, "weight", amount=0.5)
    with pytest.raises(ValueError, match="prune.remove"):
        pruning.masks_for(hooked, "l1_global", [50])
