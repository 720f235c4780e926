"""Image decoding (PNG/JPEG, 8/16-bit, colour) and the atomic uint8 cache."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.data.images import (
    FileSource,
    build_cache,
    cache_is_current,
    decode_image,
    open_cache,
    read_cache_info,
)
from core.errors import MissingImagesError


def gradient(h=64, w=64, hi=255, dtype=np.uint8) -> np.ndarray:
    x = np.linspace(0, hi, w)
    return np.tile(x, (h, 1)).round().astype(dtype)


def save(path, array, **kw):
    Image.fromarray(array).save(path, **kw)
    return path


def rows_for(names) -> pd.DataFrame:
    return pd.DataFrame({"id": [n.split(".")[0] for n in names], "path": list(names)})


def write_images(root, n, size=32) -> pd.DataFrame:
    root.mkdir(exist_ok=True)
    names = []
    for i in range(n):
        save(root / f"im{i}.png", np.full((size, size), i * 10, np.uint8))
        names.append(f"im{i}.png")
    return rows_for(names)


# --------------------------------------------------------------------------- decoding
def test_8bit_png_same_size_is_exact(tmp_path):
    a = gradient()
    assert np.array_equal(decode_image(save(tmp_path / "a.png", a), 64), a)


def test_16bit_png_uses_its_range_not_clipping(tmp_path):
    a = gradient(hi=4095, dtype=np.uint16)  # 12 bits used out of 16, as in many CXR PNGs
    p = save(tmp_path / "a16.png", a)
    assert Image.open(p).mode == "I;16"
    out = decode_image(p, 64)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    expected = np.rint(a.astype(np.float64) * 255 / 4095).astype(np.uint8)
    assert np.abs(out.astype(int) - expected).max() <= 1
    deep = decode_image(p, 64, scale16="depth")
    assert deep.max() == round(4095 * 255 / 65535)  # 16 → 8 bit by depth: dark, not clipped
    flat = save(tmp_path / "flat16.png", np.full((8, 8), 1000, np.uint16))
    assert (decode_image(flat, 8) == 0).all()
    with pytest.raises(ValueError, match="scale16"):
        decode_image(p, 64, scale16="clip")


def test_16bit_resize_keeps_precision(tmp_path):
    a = gradient(64, 256, hi=65535, dtype=np.uint16)
    out = decode_image(save(tmp_path / "b16.png", a), 32)
    assert out.shape == (32, 32)
    row = out[0].astype(int)
    assert (np.diff(row) >= 0).all() and row[0] <= 5 and row[-1] >= 250


def test_jpeg_gray_and_large_jpeg_are_close(tmp_path):
    a = gradient()
    out = decode_image(save(tmp_path / "a.jpg", a, quality=95), 64)
    assert np.abs(out.astype(int) - a).mean() < 2
    big = gradient(512, 512)
    small = decode_image(save(tmp_path / "big.jpg", big, quality=95), 64)  # draft + resize
    ref = np.asarray(Image.fromarray(big).resize((64, 64), Image.Resampling.BILINEAR))
    assert np.abs(small.astype(int) - ref).mean() < 2


def test_rgb_rgba_and_palette_become_gray(tmp_path):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    expected = round((200 * 299 + 100 * 587 + 50 * 114) / 1000)  # ITU-R 601-2 luma
    assert (np.abs(decode_image(save(tmp_path / "c.png", rgb), 16).astype(int) - expected)
            <= 1).all()
    rgba = np.dstack([rgb, np.full((16, 16), 255, np.uint8)])
    assert abs(int(decode_image(save(tmp_path / "d.png", rgba), 16)[0, 0]) - expected) <= 1
    jpg = decode_image(save(tmp_path / "e.jpg", rgb, quality=95), 16)
    assert np.abs(jpg.astype(int) - expected).max() <= 3
    pal = Image.fromarray(rgb).convert("P")
    pal.save(tmp_path / "f.png")
    assert abs(int(decode_image(tmp_path / "f.png", 16)[0, 0]) - expected) <= 3


def test_downscaling_is_antialiased_and_non_square_becomes_square(tmp_path):
    checker = (np.indices((256, 256)).sum(0) % 2 * 255).astype(np.uint8)
    out = decode_image(save(tmp_path / "k.png", checker), 32)
    assert np.abs(out.astype(int) - 127.5).max() < 3  # nearest-neighbour would give 0/255
    wide = decode_image(save(tmp_path / "w.png", gradient(40, 100)), 20)
    assert wide.shape == (20, 20)


# --------------------------------------------------------------------------- FileSource
def test_file_source_loads_rows_in_order_and_describes_itself(tmp_path):
    rows = write_images(tmp_path / "img", 5)
    src = FileSource(tmp_path / "img")
    out = src.load(rows.iloc[[3, 1]], 8)
    assert out.shape == (2, 8, 8) and out.dtype == np.uint8
    assert out[0, 0, 0] == 30 and out[1, 0, 0] == 10
    assert src.describe() == {"kind": "files", "root": str(tmp_path / "img")}
    with pytest.raises(FileNotFoundError, match="image_root"):
        FileSource(None).load(rows, 8)


# --------------------------------------------------------------------------- cache
def test_build_cache_writes_a_read_only_memmap_and_sidecar(tmp_path):
    rows = write_images(tmp_path / "img", 7)
    src = FileSource(tmp_path / "img", workers=2)
    cache, skipped = build_cache(src, rows, 16, tmp_path / "cache" / "eval.npy", progress=False,
                                 chunk=3)
    assert skipped == [] and cache.shape == (7, 16, 16) and cache.dtype == np.uint8
    assert [int(cache[i, 0, 0]) for i in range(7)] == [0, 10, 20, 30, 40, 50, 60]
    assert isinstance(cache, np.memmap) and not cache.flags.writeable
    again = open_cache(tmp_path / "cache" / "eval.npy")
    assert np.array_equal(again, cache)
    info = read_cache_info(tmp_path / "cache" / "eval.npy")
    assert info["n_images"] == 7 and info["size"] == 16
    assert cache_is_current(tmp_path / "cache" / "eval.npy", src, rows, 16)
    assert not cache_is_current(tmp_path / "cache" / "eval.npy", src, rows.iloc[:6], 16)
    assert not cache_is_current(tmp_path / "cache" / "eval.npy", src, rows, 32)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["eval.npy",
                                                                    "eval.npy.json"]


class FailingSource:
    """A source that dies while the cache is half filled."""

    def __init__(self, exc):
        self.exc, self.calls = exc, 0

    def load(self, rows, size):
        self.calls += 1
        if self.calls == 2:
            raise self.exc
        return np.full((len(rows), size, size), 7, np.uint8)

    def describe(self):
        return {"kind": "failing"}


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_cache_interrupted_mid_fill_leaves_nothing_under_its_name(tmp_path, exc):
    rows = rows_for([f"x{i}.png" for i in range(10)])
    target = tmp_path / "eval.npy"
    with pytest.raises(type(exc)):
        build_cache(FailingSource(exc), rows, 8, target, progress=False, chunk=4)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []  # no temp file left either


def test_interrupted_rebuild_keeps_no_stale_sidecar(tmp_path):
    rows = rows_for([f"x{i}.png" for i in range(10)])
    target = tmp_path / "eval.npy"
    build_cache(FailingSource(None), rows.iloc[:4], 8, target, progress=False, chunk=4)
    assert read_cache_info(target) is not None
    with pytest.raises(RuntimeError):
        build_cache(FailingSource(RuntimeError("x")), rows, 8, target, progress=False, chunk=4)
    # the old array may stay, but it is no longer described as a complete cache
    assert read_cache_info(target) is None


def test_missing_images_one_error_with_count_and_first_ten(tmp_path):
    rows = write_images(tmp_path / "img", 2)
    rows = pd.concat([rows, rows_for([f"gone{i:02d}.png" for i in range(13)])],
                     ignore_index=True)
    target = tmp_path / "eval.npy"
    with pytest.raises(MissingImagesError) as err:
        build_cache(FileSource(tmp_path / "img"), rows, 8, target, progress=False)
    msg = str(err.value)
    assert "13 of 15 image file(s) missing or unreadable" in msg
    assert all(f"gone{i:02d}.png" in msg for i in range(10))
    assert "gone10.png" not in msg and "… and 3 more" in msg
    assert "skip_missing_images" in msg
    assert len(err.value.failures) == 13
    assert not target.exists() and list(tmp_path.glob(".tmp-*")) == []


def test_skip_missing_and_unreadable_images(tmp_path):
    rows = write_images(tmp_path / "img", 4)
    (tmp_path / "img" / "im2.png").write_bytes(b"not a png at all")
    src = FileSource(tmp_path / "img")
    with pytest.raises(MissingImagesError, match=r"(?s)1 of 4 .*im2.png \(unreadable"):
        build_cache(src, rows, 8, tmp_path / "a.npy", progress=False)
    assert not (tmp_path / "a.npy").exists()
    rows = pd.concat([rows, rows_for(["gone.png"])], ignore_index=True)
    # missing files are found by a stat pass before any decoding (a wrong image_root fails
    # in seconds); unreadable ones only while decoding
    with pytest.raises(MissingImagesError, match=r"(?s)1 of 5 .*gone.png \(missing"):
        build_cache(src, rows, 8, tmp_path / "a.npy", progress=False)
    big = tmp_path / "img" / "im3.png"
    save(big, np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    big.write_bytes(big.read_bytes()[:300])  # truncated mid-data
    cache, skipped = build_cache(src, rows, 8, tmp_path / "a.npy", skip_missing=True,
                                 progress=False, chunk=2)
    assert sorted(skipped) == ["gone", "im2", "im3"]
    assert [int(v) for v in cache[:, 0, 0]] == [0, 10]
    assert read_cache_info(tmp_path / "a.npy")["skipped_ids"] == skipped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "a.npy.json", "img"]


def test_progress_bar_reports_to_stderr(tmp_path, capsys):
    rows = write_images(tmp_path / "img", 3)
    build_cache(FileSource(tmp_path / "img"), rows, 8, tmp_path / "p.npy", progress=True)
    assert "caching p.npy" in capsys.readouterr().err


def test_empty_rows_give_an_empty_cache(tmp_path):
    cache, skipped = build_cache(FileSource(tmp_path), rows_for([]), 8, tmp_path / "e.npy",
                                 progress=False)
    assert cache.shape == (0, 8, 8) and skipped == []
