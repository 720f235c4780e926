"""Image decoding and the uint8 image cache.

A study evaluates hundreds of pruned models on the same images, so the evaluation split is
decoded once into a uint8 ``[N, size, size]`` .npy that every model reads by memory
mapping (the paper's code re-read and re-decoded every image for each of its 600 models).
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from core.errors import MissingImagesError
from core.store import write_json

# Bilinear in PIL widens its kernel by the reduction factor, so downscaling is antialiased
# (like torchvision's antialias=True), at a fraction of Lanczos' cost.
RESAMPLE = Image.Resampling.BILINEAR
_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_TMP_PREFIX = ".tmp-"  # same prefix as core.store, so its clean_temp_files finds leftovers
_SHOWN = 10            # failures listed by name in one error


def decode_image(path: str | os.PathLike, size: int, *, scale16: str = "range") -> np.ndarray:
    """Decode a PNG/JPEG (8/16-bit gray, RGB, RGBA, palette) into uint8 gray.

    16-bit (and 32-bit int / float) images are scaled to 0–255 over their used range
    (``scale16="range"``): CXR PNGs often fill only 10–12 of their 16 bits, so dividing by
    65535 would give near-black images, and clipping would destroy them. ``scale16="depth"``
    divides 16-bit images by 65535 instead (for data where absolute intensity matters).
    Images are resized to a square without keeping the aspect ratio, as the paper does.

    Args:
        path (str | os.PathLike): the image file.
        size (int): output side in pixels.
        scale16 (str): ``"range"`` or ``"depth"``.

    Returns:
        np.ndarray: uint8 ``[size, size]``.

    Raises:
        ValueError: for another `scale16`.
        OSError: when PIL cannot open or decode the file.
    """
    if scale16 not in ("range", "depth"):
        raise ValueError(f"scale16: {scale16!r}; allowed: range, depth")
    with Image.open(path) as im:
        if im.format == "JPEG":
            # decode at a reduced DCT scale (still ≥ size): several times faster on MIMIC's
            # ~2500 px JPEGs, and the resize below antialiases the rest
            im.draft("L", (size, size))
        im.load()
        if im.mode in _HIGH_DEPTH_MODES:
            arr = np.asarray(im, dtype=np.float32)
            if scale16 == "depth" and im.mode.startswith("I;16"):
                lo, hi = 0.0, 65535.0
            else:
                lo, hi = float(arr.min()), float(arr.max())
            scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
            img = Image.fromarray(scaled.astype(np.float32))  # mode "F"
            if img.size != (size, size):
                img = img.resize((size, size), RESAMPLE)
            return np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        img = im if im.mode == "L" else im.convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), RESAMPLE)
        return np.asarray(img, dtype=np.uint8).copy()


def _default_workers() -> int:
    # threads: PIL releases the GIL while decoding and resizing, and file reads wait on I/O
    return min(16, 2 * (os.cpu_count() or 1))


def _failure_message(failures: list[tuple[str, str, str]], total: int, root) -> str:
    shown = "\n".join(f"  {p} ({why})" for _, p, why in failures[:_SHOWN])
    more = f"\n  … and {len(failures) - _SHOWN} more" if len(failures) > _SHOWN else ""
    return (f"{len(failures)} of {total} image file(s) missing or unreadable under {root} "
            f"(first {min(len(failures), _SHOWN)} below); fix image_root, or skip them with "
            f"dataset.skip_missing_images: true\n{shown}{more}")


class FileSource:
    """Images read from files: `rows["path"]` relative to `root`."""

    def __init__(self, root: str | os.PathLike | None, *, workers: int | None = None):
        self.root = None if root in (None, "") else Path(root)
        self.workers = workers or _default_workers()

    def describe(self) -> dict:
        return {"kind": "files", "root": None if self.root is None else str(self.root)}

    @classmethod
    def from_description(cls, desc: dict, image_root=None) -> FileSource:
        return cls(image_root if image_root is not None else desc.get("root"))

    def _root(self) -> Path:
        if self.root is None:
            raise FileNotFoundError("no image folder: set the dataset option image_root "
                                    "(e.g. --option image_root=/data/images)")
        return self.root

    def file_paths(self, rows: pd.DataFrame) -> list[Path]:
        root = self._root()
        return [root / p for p in rows["path"].astype(str)]

    def missing(self, rows: pd.DataFrame) -> list[tuple[str, str, str]]:
        """(id, path, "missing") for every row whose file does not exist (stat only, fast)."""
        return [(str(i), str(p), "missing")
                for i, p in zip(rows["id"], self.file_paths(rows), strict=True)
                if not p.is_file()]

    def load_checked(self, rows: pd.DataFrame, size: int, *, executor: Executor | None = None,
                     ) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
        """Images (zeros where a file failed) and failures as (position, id, path, reason)."""
        paths = self.file_paths(rows)
        out = np.zeros((len(paths), size, size), dtype=np.uint8)

        def one(i: int):
            try:
                out[i] = decode_image(paths[i], size)
            except FileNotFoundError:
                return i, "missing"
            except UnidentifiedImageError:
                return i, "unreadable: not a PNG/JPEG image"
            except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt data
                return i, f"unreadable: {type(exc).__name__}: {exc}"
            return None

        if executor is None:
            with ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(one, range(len(paths))))
        else:
            results = list(executor.map(one, range(len(paths))))
        ids = rows["id"].astype(str).to_numpy()
        failures = [(i, ids[i], str(paths[i]), why) for i, why in filter(None, results)]
        return out, failures

    def load(self, rows: pd.DataFrame, size: int) -> np.ndarray:
        images, failures = self.load_checked(rows, size)
        if failures:
            raise MissingImagesError(_failure_message([f[1:] for f in failures], len(rows),
                                                      self.root), [f[1:] for f in failures])
        return images


# --------------------------------------------------------------------------- cache
def cache_key(source, rows: pd.DataFrame, size: int) -> str:
    """A cache's identity: sha256 over the source description, the size and the row ids.

    Args:
        source (ImageSource): the source (its ``describe()``).
        rows (pd.DataFrame): the rows (``id``), in order.
        size (int): the image side.

    Returns:
        str: 64 hex digits.
    """
    h = hashlib.sha256()
    h.update(json.dumps(source.describe(), sort_keys=True, default=str).encode())
    h.update(f"|{size}|".encode())
    h.update("\n".join(rows["id"].astype(str)).encode())
    return h.hexdigest()


def _info_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def build_cache(source, rows: pd.DataFrame, size: int, path: str | os.PathLike, *,
                skip_missing: bool = False, progress: bool = True, chunk: int = 256,
                ) -> tuple[np.memmap, list[str]]:
    """Decode `rows` once into a uint8 [N, size, size] .npy at `path`; return it read-only.

    Written under a temp name in the same folder and renamed into place, so a killed process
    never leaves a partial cache under `path`. Missing files are found by a stat pass before
    any decoding, so a wrong image root fails in seconds; unreadable files are found while
    decoding and reported at the end. A sidecar ``<path>.json`` records `cache_key`, the
    size and the skipped ids.

    Args:
        source (ImageSource): where the pixels come from.
        rows (pd.DataFrame): the images (``id``, ``path``).
        size (int): the image side.
        path (str | os.PathLike): the cache file.
        skip_missing (bool): leave out missing or unreadable images instead of raising;
            row i of the cache is then row i of `rows` without the skipped ones.
        progress (bool): show a progress bar.
        chunk (int): images decoded per step.

    Returns:
        tuple[np.memmap, list[str]]: (uint8 ``[N', size, size]`` read-only, skipped ids).

    Raises:
        MissingImagesError: for missing or unreadable files (count and first ten) unless
            `skip_missing`.
        OSError: when the disk cannot hold the cache (ENOSPC, naming the file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = rows.reset_index(drop=True)
    info = _info_path(path)
    # an old sidecar must never describe the new array, even if we are killed midway
    info.unlink(missing_ok=True)
    failures: list[tuple[str, str, str]] = []
    keep = rows
    if isinstance(source, FileSource):
        # stat every file first: a wrong image_root fails in seconds, not after decoding
        failures = source.missing(rows)
        if failures and not skip_missing:
            raise MissingImagesError(_failure_message(failures, len(rows), source.root),
                                     failures)
        gone = {f[0] for f in failures}
        keep = rows[~rows["id"].astype(str).isin(gone)].reset_index(drop=True)
    tmp = path.with_name(f"{_TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}")
    bad: list[int] = []
    try:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                       shape=(len(keep), size, size))
        reserve_blocks(tmp, path)
        checked = getattr(source, "load_checked", None)
        with ThreadPoolExecutor(getattr(source, "workers", 1)) as pool, \
                tqdm(total=len(keep), unit="img", desc=f"caching {path.name}",
                     disable=not progress, mininterval=1.0) as bar:
            for start in range(0, len(keep), chunk):
                sub = keep.iloc[start:start + chunk]
                if checked is not None:
                    images, fails = checked(sub, size, executor=pool)
                    bad += [start + f[0] for f in fails]
                    failures += [f[1:] for f in fails]
                else:
                    images = np.asarray(source.load(sub, size), dtype=np.uint8)
                mm[start:start + len(sub)] = images
                bar.update(len(sub))
        if failures and not skip_missing:
            raise MissingImagesError(
                _failure_message(failures, len(rows), getattr(source, "root", "the source")),
                failures)
        if bad:
            mm = _compact(mm, tmp, bad)
        mm.flush()
        with open(mm.filename, "rb+") as fh:
            os.fsync(fh.fileno())
        done = Path(mm.filename)
        del mm
        os.replace(done, path)
    except BaseException:
        for p in (tmp, _compacted(tmp)):
            p.unlink(missing_ok=True)
        raise
    skipped = [f[0] for f in failures]
    write_json(info, {"key": cache_key(source, rows, size), "size": size,
                      "n_images": len(rows) - len(skipped), "skipped_ids": skipped,
                      "source": source.describe()})
    return open_cache(path), skipped


def reserve_blocks(tmp: Path, final: Path) -> None:
    """Allocate a memory-mapped file's disk blocks now.

    A memory map over a sparse file on a full disk kills the process with SIGBUS at some
    later page write; allocating up front turns that into an OSError (ENOSPC) naming the
    file, before any work is done.

    Args:
        tmp (Path): the file being written.
        final (Path): its final name, used in the error.

    Raises:
        OSError: when the blocks cannot be allocated.
    """
    with open(tmp, "rb+") as fh:
        try:
            os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(final)) from exc


def _compacted(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + ".c")


def _compact(mm: np.memmap, tmp: Path, bad: list[int]) -> np.memmap:
    """Copy the rows that decoded into a new temp array (rare: corrupt files being skipped)."""
    keep = np.setdiff1d(np.arange(len(mm)), bad)
    out_path = _compacted(tmp)
    out = np.lib.format.open_memmap(out_path, mode="w+", dtype=np.uint8,
                                    shape=(len(keep), *mm.shape[1:]))
    reserve_blocks(out_path, tmp)
    for s in range(0, len(keep), 1024):
        out[s:s + 1024] = mm[keep[s:s + 1024]]
    del mm
    tmp.unlink()
    return out


def open_cache(path: str | os.PathLike) -> np.memmap:
    """A cache built by `build_cache`, memory-mapped read-only.

    Args:
        path (str | os.PathLike): the cache file.

    Returns:
        np.memmap: uint8 ``[N, size, size]``.

    Raises:
        ValueError: when the file is not a uint8 3-D array.
    """
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise ValueError(f"{path}: not an image cache (dtype {arr.dtype}, shape {arr.shape})")
    return arr


def read_cache_info(path: str | os.PathLike) -> dict | None:
    """The sidecar of a complete cache.

    Args:
        path (str | os.PathLike): the cache file.

    Returns:
        dict | None: key, size, n_images, skipped_ids, source; None when the cache or its
        sidecar is absent.
    """
    path = Path(path)
    info = _info_path(path)
    if not (path.is_file() and info.is_file()):
        return None
    with open(info) as fh:
        return json.load(fh)


def cache_is_current(path, source, rows: pd.DataFrame, size: int) -> bool:
    """Whether `path` holds a complete cache of exactly these rows, source and size.

    Args:
        path (str | os.PathLike): the cache file.
        source (ImageSource): the source.
        rows (pd.DataFrame): the rows.
        size (int): the image side.

    Returns:
        bool: True when the sidecar's key equals `cache_key`.
    """
    info = read_cache_info(path)
    return bool(info) and info.get("key") == cache_key(source, rows, size)
