"""Pixels for the image viewer: window/level and the Grad-CAM colour maps (the browser viewer
draws the overlays with these tables). Pure numpy."""
from __future__ import annotations

import numpy as np

# Anchor colours of the heat map (dark → bright: "inferno"-like, readable on grey) and of
# the diverging difference map (blue = pruned looks less, white = same, red = looks more).
_HEAT = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]],
                 dtype=np.float32)
_DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130],
                       [178, 24, 43]], dtype=np.float32)


def window_level(img: np.ndarray, level: float, width: float) -> np.ndarray:
    """Radiology contrast (the DICOM linear VOI formula): grey values in
    [level − width/2, level + width/2] are stretched to black…white, the rest clipped.
    Level 128 / width 256 is the identity. Input and output uint8."""
    width = max(float(width), 2.0)
    out = (np.asarray(img, dtype=np.float32) - (float(level) - 0.5)) / (width - 1) + 0.5
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def _lut(anchors: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] through piecewise-linear anchor colours → uint8 RGB."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)), 0, 1)
    pos = v * (len(anchors) - 1)
    i = np.minimum(pos.astype(np.int64), len(anchors) - 2)
    t = (pos - i)[..., None]
    rgb = anchors[i] * (1 - t) + anchors[i + 1] * t
    return (rgb + 0.5).astype(np.uint8)


def heat_rgb(cam01: np.ndarray) -> np.ndarray:
    return _lut(_HEAT, cam01)


def diverging_rgb(diff: np.ndarray) -> np.ndarray:
    """diff in [−1, 1] → blue…white…red."""
    return _lut(_DIVERGING, (np.asarray(diff, dtype=np.float32) + 1) / 2)


def upscale(img: np.ndarray, size: int = 320) -> np.ndarray:
    """Enlarge a small demo image smoothly for display (bilinear, via Pillow)."""
    from PIL import Image

    arr = np.asarray(img)
    if arr.shape[0] >= size:
        return arr
    return np.asarray(Image.fromarray(arr).resize((size, size), Image.BILINEAR))
