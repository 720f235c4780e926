"""Gradual magnitude pruning with fine-tuning (`gmp_finetune`), after Zhu & Gupta (2017).

One run per seed starts from the dense (stored) weights and climbs the sparsity grid
k_0 = 0 < k_1 < … : between consecutive grid points it fine-tunes `gradual.finetune_steps`
optimiser steps on the training split and raises the sparsity on Zhu & Gupta's cubic
schedule, applied within each interval:

    s(t) = k_j + (k_{j-1} − k_j) · (1 − t / R)³   for the pruning updates t = 0, Δ, 2Δ, … < R,

with Δ = `gradual.prune_every` steps and R = round(`gradual.ramp` · steps), so the mask reaches
exactly k_j at step R (fast at first, gently near the target) and the remaining steps only
recover. The fine-tuned model is yielded at each grid point (`GmpFinetune.prune`, the
interface of core/pruning/base.py), where the prediction grid predicts the evaluation images
with it, so the cost grows with the number of fine-tuning steps, not with the number of grid
points. It is predicted in float32 without autocast, as it always was (core.study.seed_unit).

Masks are global L1 over the weights of every Conv2d and Linear (as `l1_global`): a pruning
update keeps the largest-magnitude weights among those still alive, so a pruned weight never
comes back (its score is below every live weight's). Masked weights stay exactly zero: the
mask is multiplied into the weights after every optimiser step (no hooks or
parametrisations are left on the model). Training pieces are core/train.py's: masked BCE
(NaN labels skipped), Adam, the same batch augmentation, deterministic on the CPU.
The fine-tuned models are not stored (only their predictions), like every pruned model.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch

from core import models
from core.pruning.base import PruneRequest, PruningMethod, Step, check_sparsities, register
from core.pruning.unstructured import measured_sparsity, n_to_prune, prunable_parameters
from core.train import _black, _to_input, augment_batch, masked_bce_sum, resolve_device

__all__ = ["GmpFinetune", "cubic_sparsity", "raise_masks"]


def cubic_sparsity(k_from: float, k_to: float, t: int, ramp_steps: int) -> float:
    """Zhu & Gupta's cubic schedule between two sparsities (same units as given).

    Args:
        k_from (float): the sparsity at step 0.
        k_to (float): the sparsity from `ramp_steps` on.
        t (int): the step.
        ramp_steps (int): the ramp's length (≤ 0: `k_to` at once).

    Returns:
        float: k_to + (k_from − k_to)(1 − t/ramp_steps)³.

    Example:
        >>> [cubic_sparsity(0, 80, t, 10) for t in (0, 5, 10)]
        [0.0, 70.0, 80.0]
    """
    if ramp_steps <= 0 or t >= ramp_steps:
        return float(k_to)
    return float(k_to + (k_from - k_to) * (1 - t / ramp_steps) ** 3)


def raise_masks(params, masks: list[torch.Tensor], n_pruned: int) -> list[torch.Tensor]:
    """New keep-masks with exactly `n_pruned` weights pruned (globally), never un-pruning.

    Weights already pruned score −1, below any live weight's |w|, so they are always among
    the n smallest once n ≥ their number; asking for fewer is refused.

    Args:
        params (Sequence[torch.Tensor]): the weights.
        masks (list[torch.Tensor]): bool keep-masks, one per weight, True = kept.
        n_pruned (int): weights pruned in all after the call.

    Returns:
        list[torch.Tensor]: bool masks of the weights' shapes.

    Raises:
        ValueError: when `n_pruned` is below the number already pruned.
    """
    with torch.no_grad():
        scores = torch.cat([torch.where(m, p.detach().abs(), torch.full_like(p, -1.0)).reshape(-1)
                            for p, m in zip(params, masks, strict=True)])
        already = int((scores < 0).sum())
        if n_pruned < already:
            raise ValueError(f"cannot lower sparsity ({already} weights already pruned, asked "
                             f"for {n_pruned}): gradual masks never un-prune")
        keep = torch.ones_like(scores, dtype=torch.bool)
        if n_pruned:
            keep[torch.topk(scores, n_pruned, largest=False, sorted=False).indices] = False
        sizes = [p.numel() for p in params]
        return [k.view(p.shape) for k, p in zip(keep.split(sizes), params, strict=True)]


def _apply(params, masks) -> None:
    with torch.no_grad():
        for p, m in zip(params, masks, strict=True):
            p.mul_(m)


def _batches_forever(images, labels, batch_size: int, gen: torch.Generator):
    """Shuffled training batches, epoch after epoch (a last batch of one image is dropped:
    BatchNorm needs two)."""
    n = len(images)
    while True:
        order = torch.randperm(n, generator=gen).numpy()
        for i in range(0, n, batch_size):
            idx = np.sort(order[i:i + batch_size])
            if len(idx) < 2:
                continue
            yield (torch.from_numpy(np.ascontiguousarray(images[idx])),
                   torch.from_numpy(np.ascontiguousarray(labels[idx], dtype=np.float32)))


@register
class GmpFinetune(PruningMethod):
    """Gradual magnitude pruning with fine-tuning (Zhu & Gupta's cubic schedule): global L1
    unstructured masks raised through the sparsity grid in one run from the dense weights,
    fine-tuning on the training split between grid points (core/pruning/gradual.py; budget
    and learning rate in the config's `gradual` section)."""

    name = "gmp_finetune"
    kind = "regime"

    def schedule(self, cfg) -> dict:
        """The fine-tuning budget of a StudyConfig: steps per grid interval, ramp steps (the
        mask reaches the grid point there), steps between pruning updates, learning rate."""
        g = cfg.gradual
        steps = int(g.finetune_steps)
        return {"finetune_steps": steps, "ramp_steps": int(round(g.ramp * steps)),
                "prune_every": int(g.prune_every), "lr": float(g.lr)}

    def prune(self, model: torch.nn.Module, request: PruneRequest):
        """`model` holds the dense weights and is not modified (a copy is fine-tuned); the
        yielded model is that copy, in eval mode, at each grid point."""
        if request.training is None:
            raise ValueError(f"{self.name!r} is a pruning regime: its pruned models are "
                             "fine-tuned with training data during the study and not stored, "
                             "so they cannot be re-derived here (the study runs them)")
        sparsities = check_sparsities(request.sparsities)
        if sparsities[0] != 0:
            raise ValueError(f"gradual pruning starts from the dense model: sparsities must "
                             f"start at 0, got {sparsities}")
        return self._run(model, sparsities, int(request.seed), request.training)

    def _run(self, model, sparsities: list[int], seed: int, data):
        from tqdm.auto import tqdm

        cfg, device = data.config, data.device
        g, t = cfg.gradual, cfg.train
        device = resolve_device(device) if isinstance(device, str) else torch.device(device)
        spec = models.spec(cfg.model)
        net = copy.deepcopy(model).to(device)
        params = [p for _, p in prunable_parameters(net)]
        total = sum(p.numel() for p in params)
        masks = [torch.ones_like(p, dtype=torch.bool) for p in params]
        plan = self.schedule(cfg)
        steps, ramp = plan["finetune_steps"], plan["ramp_steps"]
        opt = torch.optim.Adam(net.parameters(), lr=g.lr, weight_decay=t.weight_decay)
        shuffle_gen = torch.Generator().manual_seed(seed + 0x6A0)
        aug_gen = torch.Generator().manual_seed(seed + 0x6A1)
        batches = _batches_forever(data.images, data.labels, g.batch_size or t.batch_size,
                                   shuffle_gen)
        fill = _black(spec).to(device)
        bar = tqdm(total=steps * (len(sparsities) - 1), desc=f"gmp seed {seed}", unit="step",
                   disable=not data.progress, leave=False)
        for j, sparsity in enumerate(sparsities):
            if j > 0:
                previous = sparsities[j - 1]
                for step in range(steps):
                    if step <= ramp and (step % max(1, g.prune_every) == 0 or step == ramp):
                        sparsity_now = cubic_sparsity(previous, sparsity, step, ramp)
                        masks = raise_masks(params, masks, n_to_prune(sparsity_now, total))
                        _apply(params, masks)
                    net.train()
                    xb, yb = next(batches)
                    x = augment_batch(_to_input(xb, spec, device, False), aug_gen, t.hflip,
                                      t.rotation_degrees, fill)
                    y = yb.to(device)
                    c = int((~torch.isnan(yb)).sum())
                    loss = masked_bce_sum(net(x), y) / max(c, 1)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    _apply(params, masks)   # masked weights stay exactly zero
                    bar.update(1)
                    if not math.isfinite(float(loss.detach())):
                        raise FloatingPointError(f"{self.name} seed {seed}: non-finite loss "
                                                 f"at {sparsity}%; lower gradual.lr")
                masks = raise_masks(params, masks, n_to_prune(sparsity, total))
                _apply(params, masks)
            net.eval()
            yield Step(int(sparsity), float(measured_sparsity(params)), net)
        bar.close()
