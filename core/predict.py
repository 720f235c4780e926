"""The prediction grid of one seed: outputs of every (method, sparsity) pruned model on the
evaluation images, [sparsity, image, class] per method, encoded for storage by
`core.predictions.encode` (float32 logits for new studies; see that module for why).

Where the speed comes from (vs. the reference loop, which re-creates the model, prunes it
with hooks and decodes every image file again for each of the 20 sparsities):
- eval pixels are read from the decoded uint8 cache and preprocessed ONCE into one float
  tensor kept in memory (on the GPU when it fits), reused by every method and sparsity;
- pruned models come from `core.pruning.sequence`, whatever the method's kind: unstructured
  ones in place from the dense weights in memory (one sort of the magnitudes gives every
  sparsity's mask), structured ones as a shrinking copy, regimes as a fine-tuned copy;
- inference runs under torch.inference_mode, with autocast on CUDA.
A paper-scale grid (30 seeds × 20 × 21,081 × 20) is 1.0 GB per method as float32.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from core import models, predictions, pruning
from core.errors import NonFiniteOutputError
from core.threads import flush_denormals

__all__ = ["preprocess_all", "predict_grid",
           "predict_batches", "predict_dense"]

def _amp_dtype(device: torch.device) -> torch.dtype | None:
    # float16, not bfloat16, for inference: 8× finer mantissa (bf16 moved the sigmoid
    # outputs of a ResNet50 by up to 0.07 vs float32) at the same speed; there is no
    # gradient to overflow, and an overflow in the forward pass is caught below and that
    # sparsity recomputed in float32.
    return torch.float16 if device.type == "cuda" else None


def preprocess_all(images, spec, device: torch.device, dtype: torch.dtype = torch.float32,
                   chunk: int = 1024, channels_last: bool = False) -> torch.Tensor:
    """Preprocess every cached uint8 image once into one tensor.

    On CUDA the tensor goes on the GPU when it fits in half of the free memory, else it stays
    in pinned host memory and batches are copied over without blocking.

    Args:
        images (np.ndarray): uint8 ``[N, H, W]``.
        spec (ModelSpec): the model's preprocessing.
        device (torch.device): where the model runs.
        dtype (torch.dtype): the tensor's dtype.
        chunk (int): images preprocessed per step.
        channels_last (bool): channels-last memory format.

    Returns:
        torch.Tensor: ``[N, C, H, W]``.
    """
    n = len(images)
    probe = models.preprocess(torch.from_numpy(np.array(images[:1])), spec)
    shape = (n, *probe.shape[1:])
    where = torch.device("cpu")
    if device.type == "cuda":
        need = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        free, _ = torch.cuda.mem_get_info(device)
        where = device if need < free // 2 else torch.device("cpu")
    fmt = torch.channels_last if channels_last and len(shape) == 4 else torch.contiguous_format
    out = torch.empty(shape, dtype=dtype, device=where, memory_format=fmt,
                      pin_memory=where.type == "cpu" and device.type == "cuda")
    for i in range(0, n, chunk):
        # np.array copies: torch wants writable memory, and cache memmaps are read-only
        xb = torch.from_numpy(np.array(images[i:i + chunk])).to(device)
        out[i:i + len(xb)] = models.preprocess(xb, spec).to(dtype)
    return out


def _head(model: torch.nn.Module) -> torch.nn.Linear | None:
    last = None
    for mod in model.modules():
        if isinstance(mod, torch.nn.Linear):
            last = mod
    return last


@contextlib.contextmanager
def float32_head(model: torch.nn.Module, device: torch.device):
    """Run the classifier head (the last Linear) in float32 under autocast.

    Under autocast the head would return float16 logits: rounded to float16's grid, they tie
    where float32 logits differ, which moves per-class AP by ~1e-3 at paper scale
    (benchmarks/bench_precision.py) — the very error float32 storage avoids. The head is a
    tiny share of the compute. Only the instance's forward is replaced (module tree and
    parameter names unchanged) and restored after.

    Args:
        model (torch.nn.Module): the model (nothing is done without a Linear layer).
        device (torch.device): the autocast device type.

    Returns:
        Iterator[None]: a context manager.
    """
    head = _head(model)
    if head is None:
        yield
        return

    def forward(x):
        with torch.autocast(device_type=device.type, enabled=False):
            return torch.nn.functional.linear(x.float(), head.weight.float(),
                                              None if head.bias is None else head.bias.float())

    head.forward = forward
    try:
        yield
    finally:
        del head.forward


def predict_batches(model, x: torch.Tensor, device: torch.device, batch_size: int,
                    dtype: torch.dtype | None = None) -> torch.Tensor:
    """Logits of a preprocessed input tensor, batch by batch.

    Args:
        model (torch.nn.Module): the model, on `device`.
        x (torch.Tensor): ``[N, C, H, W]`` preprocessed images.
        device (torch.device): where to run.
        batch_size (int): images per batch.
        dtype (torch.dtype | None): autocast dtype (the head still computes in float32);
            None = float32.

    Returns:
        torch.Tensor: float32 ``[N, C]`` on the CPU.
    """
    outs = []
    with contextlib.ExitStack() as ctx:
        ctx.enter_context(torch.inference_mode())
        if dtype is not None:
            ctx.enter_context(torch.autocast(device_type=device.type, dtype=dtype))
            ctx.enter_context(float32_head(model, device))
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device, non_blocking=True)
            if dtype is None and xb.dtype != torch.float32:
                xb = xb.float()  # pixels kept in half precision, model run in float32
            outs.append(model(xb).float())
    return torch.cat(outs).cpu() if outs else torch.empty(0)


def _finite_logits(model, x, device, batch_size, dtype, method, seed, sparsity):
    logits = predict_batches(model, x, device, batch_size, dtype)
    bad = int((~torch.isfinite(logits)).sum())
    if bad and dtype is not None:  # float16 overflow? float32 decides
        logits = predict_batches(model, x, device, batch_size, None)
        bad = int((~torch.isfinite(logits)).sum())
    if bad:
        raise NonFiniteOutputError(method, seed, sparsity, bad)
    return logits


def predict_dense(model: torch.nn.Module, *, spec, images, seed: int,
                  device: str | torch.device = "cpu", batch_size: int = 512, amp: bool = True,
                  channels_last: bool = False) -> np.ndarray:
    """The dense model's logits on cached images, computed as the grid's dense row is.

    Args:
        model (torch.nn.Module): the dense model.
        spec (ModelSpec): its preprocessing.
        images (np.ndarray): uint8 ``[N, H, W]`` (e.g. the validation split).
        seed (int): named in errors.
        device (str | torch.device): where to run.
        batch_size (int): images per batch.
        amp (bool): mixed precision (CUDA only).
        channels_last (bool): channels-last format (CUDA only).

    Returns:
        np.ndarray: float32 ``[N, C]`` logits.

    Raises:
        NonFiniteOutputError: on NaN or inf outputs (method "dense").
    """
    device = torch.device(device)
    with flush_denormals(device):
        dtype = _amp_dtype(device) if amp else None
        model.eval()
        model.to(device)
        channels_last = channels_last and device.type == "cuda"
        if channels_last:
            model.to(memory_format=torch.channels_last)
        x = preprocess_all(images, spec, device, dtype or torch.float32,
                           channels_last=channels_last)
        return _finite_logits(model, x, device, batch_size, dtype, "dense", seed, 0).numpy()


def predict_grid(model: torch.nn.Module, spec, eval_images, methods, sparsities, *,
                 seed: int, device: str | torch.device = "cpu", batch_size: int = 512,
                 progress: bool = True, amp: bool = True, channels_last: bool = False,
                 on_model=None, encoding: predictions.Encoding = predictions.DEFAULT,
                 training: pruning.TrainingData | None = None
                 ) -> dict[str, tuple[np.ndarray, list[float]]]:
    """Outputs of every method at every sparsity on the evaluation images.

    `model` holds the dense weights (they are restored after each method); structured
    methods yield a physically smaller copy instead.

    Args:
        model (torch.nn.Module): the dense model.
        spec (ModelSpec): its preprocessing.
        eval_images (np.ndarray): uint8 ``[N, H, W]``.
        methods (Sequence[str]): registered pruning methods.
        sparsities (Sequence[int]): integer percents.
        seed (int): the seed (random methods, errors).
        device (str | torch.device): where to run.
        batch_size (int): images per batch.
        progress (bool): show a progress bar.
        amp (bool): mixed precision (CUDA only).
        channels_last (bool): channels-last format (CUDA only).
        on_model (Callable | None): ``on_model(method, sparsity, measured, net)`` is called
            with each pruned model after its predictions (the study measures its cost there).
        encoding (Encoding): how outputs are stored.
        training (TrainingData | None): what regimes fine-tune with; None for other kinds.

    Returns:
        dict[str, tuple[np.ndarray, list[float]]]: {method: (outputs ``[S, N, C]`` encoded
        as `encoding`, measured sparsity per requested one)}.

    Raises:
        NonFiniteOutputError: naming (method, seed, sparsity) on NaN or inf outputs, before
            anything is returned.
    """
    from tqdm.auto import tqdm

    device = torch.device(device)
    with flush_denormals(device):
        dtype = _amp_dtype(device) if amp else None
        model.eval()
        model.to(device)
        if channels_last and device.type == "cuda":
            model.to(memory_format=torch.channels_last)
        else:
            channels_last = False
        # Under autocast the first conv casts its input to the AMP dtype anyway, so keeping the
        # preprocessed pixels in that dtype halves their memory at no cost in accuracy.
        x = preprocess_all(eval_images, spec, device, dtype or torch.float32,
                           channels_last=channels_last)
        n = len(eval_images)
        n_batches = math.ceil(n / batch_size)
        bar = tqdm(total=len(methods) * len(sparsities) * n_batches, unit="batch",
                   desc=f"predict seed {seed}", disable=not progress, leave=False)
        results = {}
        for method in methods:
            preds = None
            measured: list[float] = []
            # the context manager restores the dense weights even when a check below raises;
            # structured methods yield a physically smaller copy instead (`net`)
            with pruning.sequence(model, method, sparsities, seed=seed, example_input=x[:1].float(),
                                  training=training) as seq:
                for i_sparsity, (sparsity, got, net) in enumerate(seq):
                    logits = _finite_logits(net, x, device, batch_size, dtype, method, seed,
                                            int(sparsity))
                    bar.update(n_batches)
                    if preds is None:
                        preds = np.empty((len(sparsities), n, logits.shape[1]),
                                         dtype=encoding.dtype)
                    preds[i_sparsity] = predictions.encode(logits.numpy(), encoding)
                    measured.append(float(got))
                    if on_model is not None:
                        on_model(method, int(sparsity), float(got), net)
            if preds is None:  # no sparsities at all
                preds = np.empty((0, n, 0), dtype=encoding.dtype)
            results[method] = (preds, measured)
        bar.close()
        return results
