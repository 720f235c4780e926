"""Window/level and overlays (pure numpy)."""
from __future__ import annotations

import numpy as np
import pytest

from dashboard.imaging import diverging_rgb, heat_rgb, overlay, upscale, window_level


def test_window_level_stretches_and_clips():
    img = np.array([[0, 100, 128, 156, 255]], dtype=np.uint8)
    out = window_level(img, level=128, width=56)
    assert out.tolist() == [[0, 0, 130, 255, 255]]
    assert window_level(img, 128, 256).tolist() == img.tolist()  # identity


def test_colour_maps_and_overlay():
    assert heat_rgb(np.array([0.0, 1.0])).tolist() == [[0, 0, 4], [252, 255, 164]]
    assert diverging_rgb(np.array([0.0])).tolist() == [[247, 247, 247]]   # no difference: white
    gray = np.full((4, 4), 100, np.uint8)
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1
    out = overlay(gray, cam, 0.8)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    assert (out[1:, 1:] == 100).all()             # no attribution: the X-ray stays visible
    assert not (out[0, 0] == 100).all()
    with pytest.raises(ValueError):
        overlay(gray, np.zeros((2, 2)), 0.5)
    assert upscale(gray, 16).shape == (16, 16)


def test_signed_overlay_colours_for_and_against():
    from dashboard.imaging import overlay_signed

    gray = np.full((2, 2), 128, np.uint8)
    cam = np.array([[1.0, -1.0], [0.0, 0.0]], np.float32)
    out = overlay_signed(gray, cam, 1.0)
    assert out[0, 0, 0] > out[0, 0, 2]          # for: red
    assert out[0, 1, 2] > out[0, 1, 0]          # against: blue
    assert (out[1] == 128).all()                # nothing: the X-ray
