"""Cached data of the Browse page: gallery tables, thumbnails, the display image, Grad-CAM
for a model selection, operating thresholds, and prefetching of the next image.

A *model selection* is a tuple of seeds: one seed, or the seeds of the ensemble (the mean of
their sigmoid outputs, the paper's PIE definition). Every number the page shows for an image
(rank table, plain words, Grad-CAM captions) comes from the stored predictions of that same
selection; Grad-CAM of an ensemble is the mean of its models' maps.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.common import loaders
from dashboard.common.data import StudyData
from dashboard.reading_room.browse_logic import gallery_table

DISPLAY_SYNTH = 512      # SynthCXR has no file: it is rendered at this size from its seed
MAX_SIDE = 2048          # larger files are shown downsampled to this (browser memory, speed)
THUMB = 96
MAX_CAM_SEEDS = 8        # Grad-CAM of an ensemble runs every model: beyond this, pick a seed
RULE = "youden"          # operating-threshold rule (core.analysis.thresholds.choose_thresholds)


# --------------------------------------------------------------------------- tables
@st.cache_data(show_spinner=False, max_entries=32)
def gallery(_d: StudyData, key: str, method: str, seeds: tuple, k: int, pct: float
            ) -> pd.DataFrame:
    from core.analysis.pies import select_bottom

    corr = loaders.pie_corr(_d, key, method, seeds, k)
    return gallery_table(_d.labels, _d.classes, corr, select_bottom(corr, pct),
                         _d.groundtruth_columns)


def probabilities(d: StudyData, method: str, seeds: Sequence[int], k: int, row: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(dense, pruned) float32 [C] for one image: the selection's mean sigmoid outputs."""
    ki = d.sparsities.index(k)
    return (loaders.ensemble(d, method, seeds, 0, [row])[0],
            loaders.ensemble(d, method, seeds, ki, [row])[0])


@st.cache_data(show_spinner=False, max_entries=16)
def thresholds(_d: StudyData, key: str, seeds: tuple, rule: str = RULE
               ) -> tuple[np.ndarray | None, str]:
    """Per-class operating thresholds of the dense selection on the validation split, or
    (None, why not): core.analysis.thresholds.selection_thresholds (one seed: its rows of
    thresholds.parquet; an ensemble: chosen on the mean of its validation probabilities)."""
    from core.analysis.thresholds import selection_thresholds
    from core.errors import StoreError

    try:
        return selection_thresholds(_d.path, seeds, list(_d.classes), rule)
    except (FileNotFoundError, KeyError, ValueError, StoreError) as exc:
        return None, f"the validation predictions of the dense model cannot be read ({exc})"


# --------------------------------------------------------------------------- pixels
def _native(d: StudyData, row: int) -> tuple[np.ndarray, str]:
    """The image a radiologist should see: the dataset's file at its own resolution (capped
    at MAX_SIDE), SynthCXR rendered at DISPLAY_SYNTH from its seed. (uint8 [H, W], note)."""
    desc = d.meta.get("image_source") or {}
    rows = d.labels.iloc[[int(row)]]
    if desc.get("kind") == "synthcxr":
        img = np.asarray(d.image_source.load(rows, DISPLAY_SYNTH))[0]
        return img, f"SynthCXR rendered at {DISPLAY_SYNTH}×{DISPLAY_SYNTH} from its seed"
    if desc.get("kind") == "files":
        from PIL import Image

        path = d.image_source.file_paths(rows)[0]
        with Image.open(path) as im:
            w, h = im.size
            deep = im.mode.startswith("I") or im.mode == "F"
        scale = min(1.0, MAX_SIDE / max(w, h))
        tw, th = max(1, round(w * scale)), max(1, round(h * scale))
        from core.data.images import decode_image

        if tw == th:
            img = decode_image(path, tw)
        else:   # decode_image makes squares; keep the file's aspect ratio here
            sq = decode_image(path, max(tw, th))
            img = np.asarray(Image.fromarray(sq).resize((tw, th), Image.BILINEAR))
        note = f"the file at {w}×{h}" + (" (16-bit, shown in 8 bits over its used range)"
                                          if deep else "") + (
            f", shown downsampled to {tw}×{th}" if scale < 1 else "")
        return img, note
    return d.image(row), f"at the model's input size {d.image_size}×{d.image_size}"


class _LRU:
    """A small thread-safe LRU (the prefetch thread and the page share it)."""

    def __init__(self, size: int):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
        return None

    def put(self, key, value):
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def _cache() -> _LRU:
    return _LRU(256)   # display images (~0.3 MB), Grad-CAMs and thumbnails (~3 kB)


def image_file(d: StudyData, row: int) -> str | None:
    """The path of a row's image file, for messages (None: the images are rendered)."""
    if (d.meta.get("image_source") or {}).get("kind") != "files":
        return None
    return str(d.image_source.file_paths(d.labels.iloc[[int(row)]])[0])


def display_image(d: StudyData, row: int) -> dict:
    """{src (PNG data URL), w, h, note}; cached."""
    from dashboard.reading_room.viewer_component import png_data_url

    key = ("img", d.key, int(row))
    hit = _cache().get(key)
    if hit is None:
        img, note = _native(d, row)
        hit = _cache().put(key, {"src": png_data_url(img), "w": int(img.shape[1]),
                                 "h": int(img.shape[0]), "note": note})
    return hit


def thumbnails(d: StudyData, rows: Sequence[int]) -> list[str | None]:
    """JPEG data URLs of small images (None where an image cannot be read)."""
    from dashboard.reading_room.viewer_component import jpeg_data_url

    out: list[str | None] = [_cache().get(("th", d.key, int(r))) for r in rows]
    todo = [i for i, v in enumerate(out) if v is None]
    if todo and d.has_images:
        sub = d.labels.iloc[[int(rows[i]) for i in todo]]
        try:
            imgs = np.asarray(d.image_source.load(sub, THUMB))
        except Exception:  # noqa: BLE001  (one unreadable file must not blank the gallery)
            imgs = [None] * len(todo)
            for j, i in enumerate(todo):
                try:
                    imgs[j] = np.asarray(d.image_source.load(d.labels.iloc[[int(rows[i])]],
                                                             THUMB))[0]
                except Exception:  # noqa: BLE001
                    imgs[j] = None
        for j, i in enumerate(todo):
            if imgs[j] is not None:
                out[i] = _cache().put(("th", d.key, int(rows[i])), jpeg_data_url(imgs[j]))
    return out


def cam_seeds(d: StudyData, seeds: Sequence[int]) -> tuple[list[int], str]:
    """Seeds whose Grad-CAM can be shown for the selection, or ([], why not)."""
    missing = set(d.missing_weights())
    have = [s for s in seeds if s not in missing]
    if len(have) < len(seeds):
        return [], ("Grad-CAM is not available: this study has no model weights for seed(s) "
                    + ", ".join(str(s) for s in seeds if s in missing)
                    + " (models/seed-N/weights.safetensors). Everything else is shown.")
    if len(seeds) > MAX_CAM_SEEDS:
        return [], (f"Grad-CAM of an ensemble of {len(seeds)} models runs each of them: "
                    f"choose one seed (or at most {MAX_CAM_SEEDS}) to see where they look.")
    return have, ""


@st.cache_resource(show_spinner=False, max_entries=8)
def _pruned_copy(_d: StudyData, key: str, seed: int, method: str, k: int):
    """A pruned copy of a seed's model, kept: the page's Grad-CAMs then need no pruning (one
    sort of every weight) per image, only two forward/backward passes. The same pruning as
    the stored predictions: this method, sparsity and seed, through core.pruning."""
    import copy

    import torch

    from core import pruning

    model, spec = loaders._model(_d, _d.key, seed)
    # structured methods trace the network with one input and yield a smaller model;
    # unstructured ones prune `model` in place (restored on exit): either way, copy it
    x = torch.zeros(1, spec.in_chans, spec.input_size, spec.input_size)
    pruned = None
    with _d.model_lock, pruning.sequence(model, method, [k], seed=seed, example_input=x) as seq:
        for _, _, net in seq:
            pruned = copy.deepcopy(net)
    pruned.eval()
    return pruned


def cam_maps(d: StudyData, seeds: Sequence[int], method: str, k: int, row: int, cls: int,
             signed: bool = False) -> dict:
    """{dense, pruned, diff, raw, empty}: normalised maps at the model's input size (each to
    its own maximum; `raw`: the unnormalised maps); for an ensemble the mean of its models'
    raw maps, normalised after averaging. ReLU'd (Grad-CAM as
    published, [0, 1]) or `signed` ([−1, 1]: evidence against the class too). Cached."""
    import torch

    from core import models
    from core.explain import difference_map, gradcam, normalize_cam
    from core.threads import torch_threads

    key = ("cam", d.key, tuple(seeds), method, int(k), int(row), int(cls), bool(signed))
    hit = _cache().get(key)
    if hit is not None:
        return hit
    dense = pruned = None
    pixels = np.ascontiguousarray(loaders.image(d, d.key, int(row)))
    pairs = [(*loaders._model(d, d.key, int(s)), _pruned_copy(d, d.key, int(s), method, int(k)))
             for s in seeds]     # (loaded before the lock: the copy takes it while pruning)
    # models are shared by sessions and the prefetcher; hooks are not. One small image is
    # too little work to split: on a busy 2-core machine torch's intra-op threads made a
    # 16 ms Grad-CAM take up to 1.8 s (measured), so small inputs run on one thread;
    # paper-size inputs (ResNet50 at 256 px) keep torch's default. torch_threads is scoped,
    # so overlapping sessions restore the count the process had.
    with d.model_lock, torch_threads(1 if pixels.shape[-1] <= 128 else None):
        for model, spec, cut in pairs:
            x = models.preprocess(torch.from_numpy(pixels)[None], spec)
            a = gradcam(model, spec.gradcam_layer, x, int(cls), relu=not signed)
            b = gradcam(cut, spec.gradcam_layer, x, int(cls), relu=not signed)
            dense = a if dense is None else dense + a
            pruned = b if pruned is None else pruned + b
    n = len(pairs)
    out = {"dense": normalize_cam(dense), "pruned": normalize_cam(pruned),
           "diff": difference_map(dense, pruned),
           # the selection's mean maps in Grad-CAM units, for the panes' shared colour scale
           "raw": {"dense": dense / n, "pruned": pruned / n},
           "empty": {"dense": float(np.abs(dense).max() if signed else np.max(dense)) <= 0,
                     "pruned": float(np.abs(pruned).max() if signed else np.max(pruned)) <= 0}}
    return _cache().put(key, out)


# --------------------------------------------------------------------------- prefetch
_busy = threading.Lock()


@atexit.register
def _drain() -> None:
    # a daemon thread killed inside torch at interpreter exit aborts the process
    if _busy.acquire(timeout=10):
        _busy.release()


def prefetch(d: StudyData, rows: Sequence[int], seeds: Sequence[int], method: str, k: int,
             cam_class) -> None:
    """Prepare the next images (display PNG and Grad-CAM of their default class) in a
    background thread, so previous/next usually finds them ready. One prefetch at a time;
    a busy prefetcher skips (the page computes on demand anyway)."""
    rows = [int(r) for r in rows if r is not None]
    if os.environ.get("PRUNELENS_PREFETCH", "1") == "0":   # off: benchmarks of the cold path
        return
    if not rows or not _busy.acquire(blocking=False):
        return

    def work():
        # cached loaders called outside a script run warn on every call; nothing is drawn
        logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context"
                          ).setLevel(logging.ERROR)
        try:
            for r in rows:
                display_image(d, r)
                if seeds:
                    cam_maps(d, seeds, method, k, r, cam_class(r))
        except Exception:  # noqa: BLE001  (a prefetch failure is retried on demand)
            pass
        finally:
            _busy.release()

    threading.Thread(target=work, name="prunelens-prefetch", daemon=True).start()
