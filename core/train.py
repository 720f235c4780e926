"""One seed's training loop, as in the paper: BCE with logits, Adam, early stopping on the
validation loss with a patience, keeping a real copy of the best weights.

Training images come from the decoded uint8 cache (``core.data.images``) at model
resolution: no epoch ever decodes a file again. Augmentation (horizontal flip, rotation
within ±rotation_degrees) runs on whole batches as tensor ops, drawn from a generator
seeded by the seed, so a seed trains to the same weights every time on CPU.

On the CPU, `train.channels_last_cpu` trains in the channels-last layout (faster for small
CNNs, other float bits); the trained model is handed back in the default layout.

On CUDA: mixed precision (bf16 where supported, else fp16 with a GradScaler), channels-last
memory, pinned host batches copied with non_blocking, and `train.num_workers` threads that
assemble the next batches from the memmap while the GPU works.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from core import models
from core.threads import flush_denormals

__all__ = ["masked_bce", "masked_bce_sum", "augment_batch", "copy_state", "resolve_device",
           "train_seed", "evaluate_loss"]


# --------------------------------------------------------------------------- pieces
def masked_bce_sum(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE with logits summed over labelled entries only (NaN = not labelled).

    A NaN label contributes neither loss nor gradient. Computed in float32 even under
    autocast.

    Args:
        logits (torch.Tensor): ``[N, C]``.
        targets (torch.Tensor): ``[N, C]`` labels (1/0/NaN).

    Returns:
        torch.Tensor: float32 scalar.

    Example:
        >>> round(float(masked_bce_sum(torch.zeros(1, 2), torch.tensor([[1.0, float("nan")]]))), 4)
        0.6931
    """
    mask = ~torch.isnan(targets)
    safe = torch.where(mask, targets, torch.zeros_like(targets))
    per = F.binary_cross_entropy_with_logits(logits.float(), safe.float(), reduction="none")
    return (per * mask).sum()


def masked_bce(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The masked BCE sum and the number of labelled entries, for a mean over them.

    Callers can form a mean over the labelled entries of a batch or of a whole split.

    Args:
        logits (torch.Tensor): ``[N, C]``.
        targets (torch.Tensor): ``[N, C]`` labels (1/0/NaN).

    Returns:
        tuple[torch.Tensor, int]: (float32 scalar sum, labelled entries).
    """
    return masked_bce_sum(logits, targets), int((~torch.isnan(targets)).sum())


def augment_batch(x: torch.Tensor, gen: torch.Generator, hflip: bool, degrees: float,
                  fill: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Random horizontal flip and rotation of a preprocessed batch.

    Random numbers are drawn on the CPU from `gen` (the same on every device), so the
    augmentation of a seed is reproducible.

    Args:
        x (torch.Tensor): ``[N, C, H, W]`` preprocessed images.
        gen (torch.Generator): a CPU generator.
        hflip (bool): flip half the images at random.
        degrees (float): rotate by a uniform angle in ± this.
        fill (torch.Tensor | float): the value the rotated-in corners take: the preprocessed
            value of a black pixel (per channel), as torchvision's rotation of the raw image
            would give.

    Returns:
        torch.Tensor: ``[N, C, H, W]`` (`x` itself when there is nothing to do).
    """
    n = x.shape[0]
    if n == 0 or (not hflip and degrees <= 0):
        return x
    flip = torch.rand(n, generator=gen) < 0.5 if hflip else torch.zeros(n, dtype=torch.bool)
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    sx = torch.where(flip, -1.0, 1.0)
    # Output pixel (u, v) samples the input at R·(sx·u, v): the image rotated by the angle,
    # then mirrored (= mirrored, then rotated by −angle; the angles are drawn symmetric).
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * sx
    theta[:, 0, 1] = -sin
    theta[:, 1, 0] = sin * sx
    theta[:, 1, 1] = cos
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if not torch.is_tensor(fill):
        fill = torch.tensor(fill)
    fill = fill.to(device=x.device, dtype=x.dtype).reshape(1, -1, 1, 1)
    # grid_sample pads with zeros; shifting by `fill` makes the padding equal `fill`.
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out + fill


def copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A real copy of the weights: later optimiser steps cannot change it.

    A bare `state_dict()` holds references to the live tensors, the bug to avoid.

    Args:
        model (torch.nn.Module): the model.

    Returns:
        dict[str, torch.Tensor]: detached clones of the state dict's tensors.
    """
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def resolve_device(name: str) -> torch.device:
    """The torch device a config's ``train.device`` names.

    Args:
        name (str): "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Returns:
        torch.device: the device.

    Raises:
        ValueError: when CUDA is asked for and not available.
        RuntimeError: for a name torch does not know.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device={name!r} but CUDA is not available here; use auto or cpu")
    return dev


def amp_dtype(device: torch.device, enabled: bool) -> torch.dtype | None:
    """The mixed-precision dtype: bf16 where the GPU has it (no loss scaling needed), else fp16.

    Args:
        device (torch.device): the device.
        enabled (bool): the config's ``train.amp``.

    Returns:
        torch.dtype | None: None on CPU or when disabled.
    """
    if device.type != "cuda" or not enabled:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _black(spec) -> torch.Tensor:
    """The preprocessed value of a black pixel, per channel."""
    zero = torch.zeros(1, 1, 1, dtype=torch.uint8)
    return models.preprocess(zero, spec).reshape(-1)


def _batches(images, labels, order: np.ndarray, batch_size: int, pin: bool,
             workers: int, min_size: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images, float labels) batches in `order`, gathered from the memmap.

    Indices are sorted within a batch so the memmap reads forward (batch content is what the
    shuffle decided; order inside a batch does not matter to a mean loss). With workers > 0
    the next batches are assembled in threads (numpy releases the GIL while copying).
    """
    chunks = [np.sort(order[i:i + batch_size]) for i in range(0, len(order), batch_size)]
    chunks = [c for c in chunks if len(c) >= min_size]

    def load(idx):
        x = torch.from_numpy(np.ascontiguousarray(images[idx]))
        y = torch.from_numpy(np.ascontiguousarray(labels[idx], dtype=np.float32))
        if pin:
            x, y = x.pin_memory(), y.pin_memory()
        return x, y

    if workers <= 0:
        for c in chunks:
            yield load(c)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(load, c) for c in chunks[:workers + 1]]
        nxt = len(pending)
        while pending:
            fut = pending.pop(0)
            if nxt < len(chunks):
                pending.append(pool.submit(load, chunks[nxt]))
                nxt += 1
            yield fut.result()


@contextlib.contextmanager
def _deterministic(on: bool):
    """torch.use_deterministic_algorithms for the duration (restored after: it is global)."""
    if not on:
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def evaluate_loss(model, images, labels, spec, device, batch_size: int,
                  dtype: torch.dtype | None = None, channels_last: bool = False) -> float:
    """Mean BCE over every labelled entry of a split (not a mean of batch means).

    Args:
        model (torch.nn.Module): the model (put in eval mode).
        images (np.ndarray): uint8 ``[N, H, W]`` cached images.
        labels (np.ndarray): float32 ``[N, C]`` (NaN = not labelled).
        spec (ModelSpec): the model's preprocessing.
        device (torch.device): where to run.
        batch_size (int): images per batch.
        dtype (torch.dtype | None): autocast dtype; None = float32.
        channels_last (bool): channels-last inputs.

    Returns:
        float: the mean (0 when nothing is labelled).
    """
    model.eval()
    total, count = 0.0, 0
    order = np.arange(len(images))
    with torch.inference_mode():
        for xb, yb in _batches(images, labels, order, batch_size, device.type == "cuda", 0):
            x = _to_input(xb, spec, device, channels_last)
            with _autocast(device, dtype):
                logits = model(x)
            # float64 running sum: a split has up to ~10⁶ labelled entries
            total = total + masked_bce_sum(logits, yb.to(device, non_blocking=True)).double()
            count += int((~torch.isnan(yb)).sum())
    return float(total) / max(count, 1)


def _to_input(xb: torch.Tensor, spec, device, channels_last: bool) -> torch.Tensor:
    x = models.preprocess(xb.to(device, non_blocking=True), spec)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _autocast(device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


# --------------------------------------------------------------------------- the loop
def train_seed(cfg, *, classes: list[str], train_images, train_labels, val_images, val_labels,
               seed: int, device: str | torch.device = "cpu", progress: bool = True):
    """Train one model with Adam and early stopping on validation loss.

    Deterministic on CPU for a seed. The last batch of an epoch is dropped when it would hold
    one image (BatchNorm).

    Args:
        cfg (StudyConfig): model, pretrained and the ``train`` section.
        classes (list[str]): the C class names.
        train_images (np.ndarray): uint8 ``[N, H, W]`` (memmap), H = W = the model's input
            size.
        train_labels (np.ndarray): float32 ``[N, C]``, NaN = not labelled.
        val_images (np.ndarray): uint8 ``[M, H, W]``.
        val_labels (np.ndarray): float32 ``[M, C]``.
        seed (int): seeds the initialisation, shuffling and augmentation.
        device (str | torch.device): where to train ("auto", "cpu", "cuda", …).
        progress (bool): show a progress bar.

    Returns:
        tuple[torch.nn.Module, pd.DataFrame, dict]: (model with the best-val-loss weights,
        in eval mode; history: epoch, train_loss, val_loss, seconds, lr; info: best epoch and
        loss, epochs run, device, precision, seconds, throughput, split sizes).

    Raises:
        ValueError: for an empty train or val split, or labels not ``[N, C]``.
        FloatingPointError: for a non-finite loss.
    """
    from tqdm.auto import tqdm

    t = cfg.train
    device = resolve_device(device) if isinstance(device, str) else device
    if len(train_images) == 0 or len(val_images) == 0:
        raise ValueError(f"training needs train and val images (got {len(train_images)} train, "
                         f"{len(val_images)} val)")
    if train_labels.shape != (len(train_images), len(classes)):
        raise ValueError(f"train labels {train_labels.shape} do not match "
                         f"{len(train_images)} images × {len(classes)} classes")
    spec = models.spec(cfg.model)
    cuda = device.type == "cuda"
    dtype = amp_dtype(device, t.amp)
    channels_last = t.channels_last if cuda else t.channels_last_cpu

    torch.manual_seed(seed)  # model init and anything else drawing on the global generator
    model = models.create(cfg.model, num_classes=len(classes), pretrained=cfg.pretrained)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    shuffle_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator().manual_seed(seed + 0x5EED)
    fill = _black(spec).to(device)

    n = len(train_images)
    # A last batch of one image would break BatchNorm's batch statistics: drop it.
    n_batches = sum(1 for i in range(0, n, t.batch_size) if min(t.batch_size, n - i) >= 2)
    bar = tqdm(total=t.epochs * n_batches, desc=f"train seed {seed}", unit="batch",
               disable=not progress, leave=False)
    history, best_state = [], None
    best_loss, best_epoch, bad = math.inf, -1, 0
    started = time.perf_counter()
    seen = 0
    with _deterministic(not cuda), flush_denormals(device):
        for epoch in range(1, t.epochs + 1):
            t0 = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=shuffle_gen).numpy()
            # summed on the device: a float() per step would stall the GPU pipeline
            loss_sum, loss_count = torch.zeros((), device=device), 0
            for xb, yb in _batches(train_images, train_labels, order, t.batch_size, cuda,
                                   t.num_workers if cuda else 0, min_size=2):
                x = _to_input(xb, spec, device, channels_last)
                x = augment_batch(x, aug_gen, t.hflip, t.rotation_degrees, fill)
                if channels_last:   # grid_sample hands back the default layout
                    x = x.contiguous(memory_format=torch.channels_last)
                y = yb.to(device, non_blocking=True)
                with _autocast(device, dtype):
                    logits = model(x)
                # labelled entries counted on the host copy: no GPU sync per step
                c = int((~torch.isnan(yb)).sum())
                s = masked_bce_sum(logits, y)
                loss = s / max(c, 1)
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                loss_sum += s.detach()
                loss_count += c
                seen += len(xb)
                bar.update(1)
            val_loss = evaluate_loss(model, val_images, val_labels, spec, device,
                                     max(t.batch_size, 256), dtype, channels_last)
            train_loss = float(loss_sum) / max(loss_count, 1)
            if not math.isfinite(val_loss) or not math.isfinite(train_loss):
                raise FloatingPointError(f"seed {seed}: non-finite loss at epoch {epoch} "
                                         f"(train {train_loss}, val {val_loss}); lower train.lr")
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                            "seconds": time.perf_counter() - t0,
                            "lr": opt.param_groups[0]["lr"]})
            bar.set_postfix(val_loss=f"{val_loss:.4f}", best=best_epoch)
            if val_loss < best_loss:
                best_loss, best_epoch, bad = val_loss, epoch, 0
                best_state = copy_state(model)
            else:
                bad += 1
                if bad >= t.patience:
                    break
    bar.close()
    model.load_state_dict(best_state)
    if channels_last and not cuda:
        # CPU prediction runs in the default layout, as it does for weights loaded from disk:
        # the same bits whether a model comes from training or from its saved file
        model.to(memory_format=torch.contiguous_format)
    model.eval()
    seconds = time.perf_counter() - started
    info = {
        "seed": seed, "best_epoch": best_epoch, "best_val_loss": best_loss,
        "epochs_run": len(history), "stopped_early": len(history) < t.epochs,
        "device": str(device), "amp_dtype": str(dtype).replace("torch.", "") if dtype else None,
        "channels_last": channels_last, "seconds": seconds,
        "train_images_per_s": seen / seconds if seconds > 0 else None,
        "n_train": n, "n_val": len(val_images),
    }
    return model, pd.DataFrame(history), info
