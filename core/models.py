"""Model registry: the paper's ResNet50, ResNet18, and a small residual CNN for CPU demos.

One way in: `create(name, num_classes, pretrained)` builds any registered architecture with a
C-logit head, and `spec(name)` says how to feed it (input size, channels, normalisation) and
which layer Grad-CAM explains. `preprocess` turns the uint8 grayscale image cache into the
model's input, so training, prediction and Grad-CAM normalise images the same way.

Weights are saved as safetensors with JSON metadata (architecture, classes, input size,
normalisation), so a checkpoint re-creates its own model without any pickle. ImageNet weights
are never downloaded: they are used only when already in the torch hub cache, and that
torchvision file is read with `weights_only=True`.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.errors import PretrainedUnavailableError
from core.registries import MODELS
from core.store import atomic_write

__all__ = ["MODELS", "ModelSpec", "create", "load_model",
           "preprocess", "register_model", "save_model", "spec"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Single-channel statistics for models trained from scratch on grayscale CXRs: centring
# around mid-grey keeps the inputs roughly zero-mean without a dataset pass.
GRAY_MEAN = (0.5,)
GRAY_STD = (0.25,)

_FORMAT = "prunelens-model"
_FORMAT_VERSION = "1"  # 1: state dict tensors + metadata {"format", "format_version", "meta"}


@dataclass(frozen=True)
class ModelSpec:
    """How to feed a registered architecture and which layer Grad-CAM explains."""

    name: str
    input_size: int                 # declared square input side (the cache resolution)
    in_chans: int                   # 1 = grayscale as is; 3 = grayscale replicated
    mean: tuple[float, ...]         # per input channel, on [0, 1] pixels
    std: tuple[float, ...]
    gradcam_layer: str              # dotted module path, for model.get_submodule
    description: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        d = dict(data)
        d["mean"], d["std"] = tuple(d["mean"]), tuple(d["std"])
        return cls(**d)


@dataclass(frozen=True)
class _Entry:
    spec: ModelSpec
    build: Callable[[int, bool], nn.Module]   # (num_classes, pretrained) -> model
    # ImageNet weights (torchvision name) `pretrained: true` loads; None: trained from scratch
    weights: str | None = None

    @property
    def pretrained(self) -> bool:
        return self.weights is not None



def register_model(name: str, *, input_size: int, in_chans: int, mean, std,
                   gradcam_layer: str, description: str, weights: str | None = None):
    """Decorator registering `fn(num_classes, pretrained) -> nn.Module` under `name`.

    Args:
        name (str): the model name a config's `model` uses.
        input_size (int): the square input side (the image cache's resolution).
        in_chans (int): 1 = grayscale as is; 3 = grayscale replicated.
        mean (Sequence[float]): per input channel, on [0, 1] pixels.
        std (Sequence[float]): per input channel.
        gradcam_layer (str): dotted module path of the layer Grad-CAM explains.
        description (str): one line shown to users.
        weights (str | None): file name of the pretrained weights, if the model has any.

    Returns:
        Callable: the decorator; it returns `fn` unchanged.

    Raises:
        ValueError: mean/std do not have one value per input channel.
    """
    if len(mean) != in_chans or len(std) != in_chans:
        raise ValueError(f"{name}: mean/std need one value per input channel ({in_chans})")

    def deco(fn):
        MODELS.register(name, _Entry(ModelSpec(name, input_size, in_chans, tuple(mean),
                                               tuple(std), gradcam_layer, description), fn,
                                     weights))
        return fn
    return deco


def _entry(name: str) -> _Entry:
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}") \
            from None


def spec(name: str) -> ModelSpec:
    """How to feed the registered model `name`.

    Args:
        name (str): a registered model name (`core.registries.MODELS`).

    Returns:
        ModelSpec: input size, channels, normalisation and Grad-CAM layer.
    """
    return _entry(name).spec


def create(name: str, num_classes: int, pretrained: bool = False) -> nn.Module:
    """Build `name` with a `num_classes`-logit head.

    Args:
        name (str): a registered model name.
        num_classes (int): C, the number of logits.
        pretrained (bool): load its pretrained weights (random init otherwise).

    Returns:
        nn.Module: the model, outputs ``[N, C]`` logits.

    Raises:
        ValueError: `num_classes` < 1.
        PretrainedUnavailableError: pretrained weights asked for but not on this machine.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be ≥ 1, got {num_classes}")
    return _entry(name).build(int(num_classes), bool(pretrained))


def preprocess(batch_uint8: torch.Tensor, spec: ModelSpec,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 grayscale images → the model's normalised float input.

    Stays on the input's device, so callers move the 4× smaller uint8 batch to the GPU first.

    Args:
        batch_uint8 (torch.Tensor): uint8 ``[N, H, W]`` or ``[N, 1, H, W]``.
        spec (ModelSpec): the model's spec (channels, mean, std).
        dtype (torch.dtype): the output dtype.

    Returns:
        torch.Tensor: ``[N, in_chans, H, W]`` in `dtype`.
    """
    x = batch_uint8
    if x.dtype != torch.uint8:
        raise TypeError(f"preprocess expects uint8 pixels, got {x.dtype}")
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"preprocess expects [N, H, W] or [N, 1, H, W], got {list(x.shape)}")
    mean = torch.tensor(spec.mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    # Broadcasting [N, 1, H, W] against [1, C, 1, 1] replicates gray into C channels and
    # normalises each with its own statistics in one pass.
    return ((x.to(torch.float32) / 255.0 - mean) / std).to(dtype)


# --------------------------------------------------------------------------- torchvision
def _hub_checkpoint(weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def _load_imagenet(name: str, model: nn.Module, weights) -> None:
    """Load ImageNet weights from the hub cache only; never download."""
    path = _hub_checkpoint(weights)
    if not path.is_file():
        raise PretrainedUnavailableError(
            f"ImageNet weights for {name} ({weights}) are not available offline: expected "
            f"{path}. This program never downloads weights. On a machine with internet, "
            f"download {weights.url} and copy the file into {path.parent}/ (or point TORCH_HOME "
            f"at a folder whose hub/checkpoints/ holds it); or set pretrained: false.")
    # weights_only: the torchvision checkpoint is a pickle; refuse anything but tensors.
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)


def pretrained_weights_file(name: str) -> Path | None:
    """Where `create(name, pretrained=True)` reads its weights.

    Args:
        name (str): a registered model name.

    Returns:
        Path | None: the weights file; None when the model has none.
    """
    entry = _entry(name)
    if entry.weights is None:
        return None
    import torchvision

    return _hub_checkpoint(getattr(torchvision.models.get_model_weights(name), entry.weights))


def check_pretrained(name: str) -> None:
    """Check, before any work starts, that `create(name, pretrained=True)` would find its
    weights on this machine.

    Args:
        name (str): a registered model name.

    Raises:
        PretrainedUnavailableError: saying what to do.
    """
    path = pretrained_weights_file(name)
    if path is None:
        _no_pretrained(name, True)
    elif not path.is_file():
        raise PretrainedUnavailableError(
            f"pretrained: ImageNet weights for {name} are not on this machine (expected {path}; "
            "this program never downloads weights): copy the file there, or set "
            "pretrained: false")


def _resnet(name: str, num_classes: int, pretrained: bool) -> nn.Module:
    import torchvision

    builder = getattr(torchvision.models, name)
    model = builder(weights=None)
    if pretrained:
        # IMAGENET1K_V1: the weights torchvision's old `pretrained=True` gave (the paper's).
        weights = getattr(torchvision.models.get_model_weights(name), _entry(name).weights)
        _load_imagenet(name, model, weights)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


@register_model("resnet50", input_size=256, in_chans=3, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                gradcam_layer="layer4", weights="IMAGENET1K_V1",
                description="torchvision ResNet50 (the paper's), fc → C logits, 256×256")
def _resnet50(num_classes: int, pretrained: bool) -> nn.Module:
    return _resnet("resnet50", num_classes, pretrained)


@register_model("resnet18", input_size=256, in_chans=3, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                gradcam_layer="layer4", weights="IMAGENET1K_V1",
                description="torchvision ResNet18, fc → C logits, 256×256")
def _resnet18(num_classes: int, pretrained: bool) -> nn.Module:
    return _resnet("resnet18", num_classes, pretrained)


# --------------------------------------------------------------------------- small CNN
class _Block(nn.Module):
    """ResNet basic block: two 3×3 convs with BatchNorm and an identity/1×1 shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class SmallCNN(nn.Module):
    """A residual CNN for 64×64 grayscale CPU demos.

    The stride-2 stem and the max-pool bring 64×64 down to 16×16 before any block runs: on a
    2-core CPU the full-resolution convolutions are what make small CNNs slow (a prototype
    trained at 1,400 images/s with a stride-2 stem, 90 without it at twice the width). The
    parameters sit in the 4×4 stage (`wide_last` × width channels), where they are cheap, so
    the net has enough redundancy to keep its accuracy at low sparsity: calibrated on
    SynthCXR (one seed, 7k training images, 20 epochs), width 32 with a 4× last stage
    (0.68M parameters) lost 20% of its mAP by 30% sparsity, width 24 with an 8× last stage
    (1.18M) kept it to 40% and first lost 20% at 65%, as the paper's ResNet50 does.
    """

    def __init__(self, num_classes: int, width: int = 24, in_chans: int = 1,
                 wide_last: int = 8):
        super().__init__()
        w = width
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1))                                       # 64 → 16
        self.layer1 = _Block(w, w, 1)                                    # 16×16
        self.layer2 = nn.Sequential(_Block(w, 2 * w, 2), _Block(2 * w, 2 * w, 1))  # 8×8
        wl = wide_last * w
        self.layer3 = nn.Sequential(_Block(2 * w, wl, 2), _Block(wl, wl, 1))  # 4×4
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(wl, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def _no_pretrained(name: str, pretrained: bool) -> None:
    if pretrained:
        raise PretrainedUnavailableError(f"{name} has no pretrained weights; it is trained "
                                         "from scratch (set pretrained: false)")


@register_model("smallcnn", input_size=64, in_chans=1, mean=GRAY_MEAN, std=GRAY_STD,
                gradcam_layer="layer3",
                description="small residual CNN (width 24, 8× last stage, ~1.2M params), "
                            "64×64 grayscale, for CPU demos")
def _smallcnn(num_classes: int, pretrained: bool) -> nn.Module:
    _no_pretrained("smallcnn", pretrained)
    return SmallCNN(num_classes, width=24, wide_last=8)


@register_model("smallcnn_wide", input_size=64, in_chans=1, mean=GRAY_MEAN, std=GRAY_STD,
                gradcam_layer="layer3",
                description="small residual CNN (width 32, 8× last stage, ~2.1M params), "
                            "64×64 grayscale")
def _smallcnn_wide(num_classes: int, pretrained: bool) -> nn.Module:
    _no_pretrained("smallcnn_wide", pretrained)
    return SmallCNN(num_classes, width=32, wide_last=8)


# --------------------------------------------------------------------------- checkpoints
def round_weights_(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Round every floating tensor of the state (weights, BN statistics) to `dtype`, in place.

    The model keeps its own dtype; only the values change, so a model saved afterwards with
    `save_model(..., dtype=dtype)` loads back bit-identical to the one that was evaluated.

    Args:
        model (nn.Module): the model.
        dtype (torch.dtype): e.g. torch.float16.

    Returns:
        nn.Module: `model`.
    """
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.to(dtype))
    return model


def save_model(path, model: nn.Module, meta: dict, dtype: torch.dtype | None = None) -> Path:
    """Write `model`'s weights as safetensors, with `meta` as JSON metadata, atomically.

    Args:
        path (str | Path): the .safetensors file.
        model (nn.Module): the model.
        meta (dict): needs "architecture" (a registered name) and "classes" (the class order
            of the logits); input size and normalisation are added from the spec where
            `meta` lacks them.
        dtype (torch.dtype | None): store floating tensors in this dtype (None: as they are).

    Returns:
        Path: `path`.
    """
    from safetensors.torch import save


    s = spec(str(meta.get("architecture")))  # an unknown name raises, listing the models
    if "classes" not in meta:
        raise ValueError("save_model: meta needs 'classes' (the class order of the logits)")
    full = {"input_size": s.input_size, "in_chans": s.in_chans, "mean": list(s.mean),
            "std": list(s.std), **meta, "num_classes": len(meta["classes"])}
    # safetensors refuses non-contiguous or shared tensors; a state dict copy on the CPU is
    # neither, whatever device or memory format the model uses.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
        full["weights_dtype"] = str(dtype).replace("torch.", "")
    header = {"format": _FORMAT, "format_version": _FORMAT_VERSION,
              "meta": json.dumps(full, sort_keys=True)}
    data = canonical_safetensors(save(tensors, metadata=header))
    return atomic_write(path, lambda fh: fh.write(data))


def canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its JSON header written in one fixed order.

    safetensors writes the metadata from a hash map, whose order changes from process to
    process: equal weights gave different bytes. Here the header is re-serialised with sorted
    keys and padded with spaces to a multiple of 8 bytes (as safetensors pads it); tensor
    offsets are relative to the data that follows, which is unchanged.

    Args:
        data (bytes): a safetensors file.

    Returns:
        bytes: the same file, canonical header.
    """
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), sort_keys=True,
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + data[8 + n:]


def load_model(path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Re-create the model a `save_model` file describes.

    Args:
        path (str | Path): the .safetensors file.
        device (str | torch.device): where to put the model.

    Returns:
        tuple[nn.Module, dict]: (the model in eval mode, its metadata).
    """
    from safetensors.torch import load

    path = Path(path)
    raw = path.read_bytes()
    # safetensors layout: 8-byte little-endian header length, then the JSON header whose
    # "__metadata__" holds our str -> str metadata.
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n]).get("__metadata__") or {}
    if header.get("format") != _FORMAT:
        raise ValueError(f"{path}: not a PruneLens model file (no '{_FORMAT}' metadata)")
    if header.get("format_version") != _FORMAT_VERSION:
        raise ValueError(f"{path}: model format version {header.get('format_version')!r}; "
                         f"this code reads version {_FORMAT_VERSION}")
    meta = json.loads(header["meta"])
    model = create(meta["architecture"], int(meta["num_classes"]))
    # load_state_dict copies into the model's float32 tensors, widening float16 files exactly
    model.load_state_dict(load(raw), strict=True)
    return model.to(device).eval(), meta
