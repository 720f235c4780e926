"""Model registry: every model builds and runs, preprocessing, checkpoints, offline weights."""
import json

import pytest
import torch
from torch import nn

from core import models
from core.errors import PretrainedUnavailableError

NUM_CLASSES = 3


@pytest.fixture(scope="module")
def built():
    """Each registered model, built once (ResNet50 takes a second to initialise)."""
    torch.manual_seed(0)
    return {name: models.create(name, NUM_CLASSES) for name in models.MODELS}


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_model_builds_and_runs(name, built):
    s = models.spec(name)
    assert s.name == name
    assert isinstance(s.input_size, int) and s.input_size >= 32
    assert s.in_chans in (1, 3)
    assert len(s.mean) == len(s.std) == s.in_chans and all(v > 0 for v in s.std)
    assert s.description
    assert models.ModelSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    model = built[name].eval()
    layer = model.get_submodule(s.gradcam_layer)
    assert isinstance(layer, nn.Module)
    # 64×64 keeps the test fast; the models pool adaptively, so any size ≥ 32 runs.
    pixels = torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        out = model(models.preprocess(pixels, s))
    assert out.shape == (2, NUM_CLASSES)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["smallcnn"])
def test_small_model_size(name, built):
    n = sum(p.numel() for p in built[name].parameters())
    # Large enough to keep accuracy at low sparsity, small enough to train on a CPU.
    assert 300_000 <= n <= 1_500_000


def test_unknown_model_lists_the_registry():
    with pytest.raises(KeyError, match="smallcnn"):
        models.create("resnet51", 3)
    with pytest.raises(KeyError, match="resnet50"):
        models.spec("nope")


@pytest.mark.parametrize("shape", [(4, 8, 8), (4, 1, 8, 8)])
@pytest.mark.parametrize("name", ["resnet50", "smallcnn"])
def test_preprocess(shape, name):
    s = models.spec(name)
    x = torch.zeros(shape, dtype=torch.uint8)
    x[..., 0, 0] = 255
    y = models.preprocess(x, s)
    assert y.shape == (4, s.in_chans, 8, 8) and y.dtype == torch.float32
    for c in range(s.in_chans):
        assert y[0, c, 1, 1].item() == pytest.approx((0 - s.mean[c]) / s.std[c])
        assert y[0, c, 0, 0].item() == pytest.approx((1 - s.mean[c]) / s.std[c])
    assert models.preprocess(x, s, dtype=torch.float16).dtype == torch.float16


def test_preprocess_rejects_bad_input():
    s = models.spec("resnet18")
    with pytest.raises(TypeError, match="uint8"):
        models.preprocess(torch.zeros(2, 8, 8), s)
    with pytest.raises(ValueError, match="N, H, W"):
        models.preprocess(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), s)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    model = models.create("smallcnn", 4)
    with torch.no_grad():  # non-default BatchNorm statistics must survive too
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    classes = ["Atelectasis", "Effusion", "Hernia", "No Finding"]
    path = models.save_model(tmp_path / "w.safetensors",
                             model, {"architecture": "smallcnn", "classes": classes, "seed": 7,
                                     "input_size": 96})
    loaded, meta = models.load_model(path)
    assert meta["architecture"] == "smallcnn" and meta["classes"] == classes
    assert meta["num_classes"] == 4 and meta["seed"] == 7
    assert meta["input_size"] == 96  # what the caller says wins over the spec's default
    s = models.spec("smallcnn")
    assert meta["mean"] == list(s.mean) and meta["std"] == list(s.std)
    assert meta["in_chans"] == s.in_chans
    ref, got = model.state_dict(), loaded.state_dict()
    assert ref.keys() == got.keys()
    assert all(torch.equal(ref[k], got[k]) for k in ref)
    assert not loaded.training
    x = models.preprocess(torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8), s)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))
    # The file is safetensors (8-byte header length, then JSON), not a pickle.
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert json.loads(header["__metadata__"]["meta"])["classes"] == classes
    assert not list(tmp_path.glob(".tmp-*"))  # the atomic write left no temp file


def test_save_model_needs_architecture_and_classes(tmp_path):
    model = models.create("smallcnn", 2)
    with pytest.raises(KeyError, match="smallcnn"):
        models.save_model(tmp_path / "a.safetensors", model, {"classes": ["a", "b"]})
    with pytest.raises(ValueError, match="classes"):
        models.save_model(tmp_path / "b.safetensors", model, {"architecture": "smallcnn"})


def test_load_rejects_foreign_safetensors(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "f.safetensors"))
    with pytest.raises(ValueError, match="not a PruneLens model"):
        models.load_model(tmp_path / "f.safetensors")


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache, and no way to download anything."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def no_download(*a, **k):
        raise AssertionError("tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    return tmp_path / "hub"


def test_pretrained_unavailable_says_how_to_get_it(hub_dir):
    with pytest.raises(PretrainedUnavailableError) as err:
        models.create("resnet50", 3, pretrained=True)
    msg = str(err.value)
    assert "not available offline" in msg
    assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in msg
    assert str(hub_dir / "checkpoints") in msg
    with pytest.raises(PretrainedUnavailableError, match="from scratch"):
        models.create("smallcnn", 3, pretrained=True)


def test_pretrained_loaded_from_hub_cache(hub_dir):
    # Stand-in for the torchvision checkpoint, in torchvision's own file format.
    torch.manual_seed(2)
    imagenet = models.create("resnet18", 1000)
    (hub_dir / "checkpoints").mkdir(parents=True)
    torch.save(imagenet.state_dict(), hub_dir / "checkpoints" / "resnet18-f37072fd.pth")
    model = models.create("resnet18", 3, pretrained=True)
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, imagenet.layer4[1].bn2.running_var)
    assert model.fc.out_features == 3


def test_float16_weights_round_trip_to_the_evaluated_model(tmp_path):
    """weights_dtype=float16: rounding first makes the stored file exactly the model used."""
    import torch

    from core import models

    torch.manual_seed(0)
    model = models.create("smallcnn", num_classes=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    models.round_weights_(model, torch.float16)
    changed = [k for k, v in model.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed, "float32 init should not be exactly representable in float16"
    path = models.save_model(tmp_path / "w.safetensors", model,
                             {"architecture": "smallcnn", "classes": ["a", "b", "c"]},
                             dtype=torch.float16)
    full_size = sum(v.numel() * 4 for v in before.values() if v.is_floating_point())
    assert path.stat().st_size < 0.6 * full_size
    loaded, meta = models.load_model(path)
    assert meta["weights_dtype"] == "float16"
    for k, v in model.state_dict().items():
        assert loaded.state_dict()[k].dtype == v.dtype
        assert torch.equal(loaded.state_dict()[k], v), k
