"""Window/level and overlays (pure numpy)."""
from __future__ import annotations

import numpy as np

from dashboard.common.imaging import diverging_rgb, heat_rgb, upscale, window_level


def test_window_level_stretches_and_clips():
    img = np.array([[0, 100, 128, 156, 255]], dtype=np.uint8)
    out = window_level(img, level=128, width=56)
    assert out.tolist() == [[0, 0, 130, 255, 255]]
    assert window_level(img, 128, 256).tolist() == img.tolist()  # identity


def test_colour_maps():
    assert heat_rgb(np.array([0.0, 1.0])).tolist() == [[0, 0, 4], [252, 255, 164]]
    assert diverging_rgb(np.array([0.0])).tolist() == [[247, 247, 247]]   # no difference: white
    gray = np.full((4, 4), 100, np.uint8)
    assert upscale(gray, 16).shape == (16, 16)
