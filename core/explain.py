"""Grad-CAM (captum `LayerGradCam`): the one Grad-CAM computation of the project.

`gradcam` explains one model; the dashboard (`dashboard.reading_room.browse_loaders.cam_maps`)
calls it on a seed's dense model and on its pruned copy (`core.pruning.sequence`, kept per
method and sparsity: pruned models are never stored), and averages the maps of an ensemble's seeds.
Grad-CAM registers hooks on the target layer; captum removes its own, but this module also
snapshots every hook dict of every sub-module before a call and deletes anything new
afterwards, so a model shared by the dashboard can never accumulate hooks, even when the
call raises.

Maps are returned as float32 `[H, W]` at the input resolution, ReLU'd (Grad-CAM's
"where the evidence for this class is"), un-normalised; `normalize_cam` and
`difference_map` are for display.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["gradcam", "normalize_cam", "difference_map", "count_hooks", "no_new_hooks",
           "eval_mode", "resolve_layer"]

# Every per-module hook registry in torch >= 2.0; missing names are skipped, so an older
# or newer torch only loses the defensive clean-up of the hooks it does not have.
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
               "_backward_pre_hooks", "_forward_hooks_with_kwargs",
               "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called",
               "_state_dict_hooks", "_load_state_dict_pre_hooks")
_COUNTED = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    """The Grad-CAM layer: a module, or its dotted name (ModelSpec.gradcam_layer).

    Args:
        model (nn.Module): the model.
        layer (str | nn.Module): a sub-module or its dotted name.

    Returns:
        nn.Module: the layer.

    Raises:
        ValueError: when the name is not a sub-module of `model`.
    """
    if isinstance(layer, nn.Module):
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError as exc:
        raise ValueError(f"Grad-CAM layer {layer!r} not found in {type(model).__name__}") from exc


def count_hooks(model: nn.Module) -> int:
    """Forward/backward hooks registered on the model and all its sub-modules.

    Args:
        model (nn.Module): the model.

    Returns:
        int: the count.
    """
    return sum(len(getattr(m, name, {})) for m in model.modules() for name in _COUNTED)


@contextlib.contextmanager
def no_new_hooks(model: nn.Module) -> Iterator[None]:
    """Remove, on exit (also on error), every hook added to the model inside the block.

    Args:
        model (nn.Module): the model.

    Returns:
        Iterator[None]: a context manager.
    """
    before = {(id(m), name): set(getattr(m, name).keys())
              for m in model.modules() for name in _HOOK_DICTS if hasattr(m, name)}
    try:
        yield
    finally:
        for m in model.modules():
            for name in _HOOK_DICTS:
                hooks = getattr(m, name, None)
                if hooks is None:
                    continue
                for handle_id in set(hooks.keys()) - before.get((id(m), name), set()):
                    del hooks[handle_id]


def gradcam(model: nn.Module, layer: str | nn.Module, x: torch.Tensor, target: int,
            relu: bool = True) -> np.ndarray:
    """Grad-CAM (captum's LayerGradCam) of class `target` for one preprocessed image.

    The model is put in eval mode for the call (BatchNorm must use its running stats, as at
    prediction time) and returned to its previous mode afterwards; no hook is left behind.

    Args:
        model (nn.Module): the model.
        layer (str | nn.Module): the layer (`resolve_layer`).
        x (torch.Tensor): ``[1, C, H, W]`` preprocessed image.
        target (int): the class index.
        relu (bool): True is Grad-CAM as published (only evidence *for* the class); False
            keeps the sign, so evidence against the class shows as negative values.

    Returns:
        np.ndarray: float32 ``[H, W]``, upsampled bilinearly to the input size.

    Raises:
        ValueError: when `x` is not one ``[1, C, H, W]`` image, or the layer is unknown.
    """
    from captum.attr import LayerAttribution, LayerGradCam

    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image shaped [1, C, H, W], got {tuple(x.shape)}")
    module = resolve_layer(model, layer)
    with eval_mode(model), no_new_hooks(model), torch.enable_grad():
        inp = x.detach().clone().requires_grad_(True)
        attr = LayerGradCam(model, module).attribute(inp, target=int(target),
                                                     relu_attributions=relu)
        up = LayerAttribution.interpolate(attr, tuple(x.shape[-2:]),
                                          interpolate_mode="bilinear")
    return up.detach()[0, 0].float().cpu().numpy()


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block; on exit (also on error) every sub-module gets back its own
    previous mode (a model may be in train mode with some layers frozen in eval).

    Args:
        model (nn.Module): the model.

    Returns:
        Iterator[nn.Module]: a context manager yielding `model`.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def normalize_cam(cam: np.ndarray) -> np.ndarray:
    """Scale a map by its largest magnitude.

    Args:
        cam (np.ndarray): ``[H, W]`` map.

    Returns:
        np.ndarray: float32, the shape of `cam`: in [0, 1] for a ReLU'd map, [−1, 1] for a
        signed one; an all-zero map stays zero.

    Example:
        >>> normalize_cam(np.array([[0.0, -2.0], [1.0, 4.0]])).tolist()
        [[0.0, -0.5], [0.25, 1.0]]
    """
    cam = np.asarray(cam, dtype=np.float32)
    top = float(np.abs(cam).max()) if cam.size else 0.0
    return cam / top if top > 0 else np.zeros_like(cam)


def difference_map(dense: np.ndarray, pruned: np.ndarray) -> np.ndarray:
    """Where the pruned model looks more (> 0) or less (< 0) than the dense one.

    pruned − dense after normalising each, clipped to [−1, 1]. Normalising first compares
    *where* each model looks; their raw magnitudes differ by orders after heavy pruning.

    Args:
        dense (np.ndarray): ``[H, W]`` the dense model's map.
        pruned (np.ndarray): ``[H, W]`` the pruned model's map.

    Returns:
        np.ndarray: float32 ``[H, W]`` in [−1, 1].
    """
    return np.clip(normalize_cam(pruned) - normalize_cam(dense), -1, 1)
