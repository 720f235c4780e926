"""Structured channel pruning with Torch-Pruning: pruned models are physically smaller.

Methods `channel_l1_global` and `channel_l1_uniform` (`ChannelL1Global`, `ChannelL1Uniform`,
kind "structured" of core/pruning/base.py's interface) remove whole output channels of
Conv2d/Linear layers, and with them the matching BatchNorm channels and input channels of
the layers that read them. Torch-Pruning's DependencyGraph finds the coupled layers (a
residual sum couples every conv that feeds it), so the network stays consistent; the final
classifier's outputs (the class logits) are never pruned, only its inputs.

Importance of a channel: Torch-Pruning's `MagnitudeImportance(p=1)` — the L1 norm of the
channel's weights in every coupled layer, averaged over the group and divided by the group's
mean (the library's default normalisation, so that groups of different scales compare).
`channel_l1_global` ranks all channels of the network together; `channel_l1_uniform` removes
the same fraction of every group's channels. At least one channel of every group is kept.

The grid point k is the fraction of prunable parameters (Conv2d and Linear weights, the
definition the unstructured methods use) removed, hit as closely as channel granularity
allows; the measured fraction, counted on the pruned model, is what is recorded.

Why not call `tp.pruner.MagnitudePruner(pruning_ratio=r)` per grid point: its ratio is a
fraction of channels, not of parameters, so hitting k% of parameters would need a search over
r with one dependency-graph build and one importance pass per try (6–8 s each for ResNet50 on
the shared 2-core CPU). Here one graph build and one importance pass per (model, method)
serve every sparsity: the parameter count of any selection is computed from the layer shapes,
the number of channels to remove is searched on that count, and since the channel order is
fixed by the dense importances, the selection at k% contains the one at every lower sparsity,
so a single working copy is pruned further and further (Torch-Pruning keeps its graph valid
after each pruning step).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from core.pruning.base import PruneRequest, PruningMethod, Step, check_sparsities, register
from core.threads import one_cpu_thread

__all__ = ["ChannelL1Global", "ChannelL1Uniform", "ChannelSequence", "classifier_of",
           "prunable_count"]


def prunable_count(model: nn.Module) -> int:
    """Number of Conv2d and Linear weights (the denominator of every measured sparsity).

    Args:
        model (nn.Module): the model.

    Returns:
        int: the count.
    """
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def classifier_of(model: nn.Module) -> nn.Module:
    """The layer that produces the logits: the last Linear (else Conv2d) in module order.

    True of every registered architecture (torchvision ResNets and SmallCNN register `fc`
    last); its outputs are the classes, so they are never pruned.

    Args:
        model (nn.Module): the model.

    Returns:
        nn.Module: the layer.

    Raises:
        ValueError: when the model has no Conv2d or Linear layer.
    """
    last = [m for m in model.modules() if isinstance(m, nn.Linear)] or \
        [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not last:
        raise ValueError("the model has no Conv2d or Linear layer to prune")
    return last[-1]


class _Shapes:
    """Parameter count of Conv2d/Linear weights as a function of channels removed per group."""

    def __init__(self, dg, groups, sizes):
        import torch_pruning as tp  # noqa: F401  (dg is a tp.DependencyGraph)

        mods = {}
        rows_out, rows_in = [], []
        for gi, group in enumerate(groups):
            for dep, idxs in group:
                mod = dep.target.module
                if not isinstance(mod, (nn.Conv2d, nn.Linear)):
                    continue
                if isinstance(mod, nn.Conv2d) and mod.groups != 1:
                    raise NotImplementedError("channel pruning of grouped convolutions is not "
                                              "supported (no registered model has one)")
                j = mods.setdefault(mod, len(mods))
                # removed channels of this layer per removed channel of the group's root
                share = len(idxs) / sizes[gi]
                if dg.is_out_channel_pruning_fn(dep.handler):
                    rows_out.append((j, gi, share))
                elif dg.is_in_channel_pruning_fn(dep.handler):
                    rows_in.append((j, gi, share))
        all_mods = [m for m in dg.model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for m in all_mods:
            mods.setdefault(m, len(mods))
        n_mod, n_grp = len(mods), len(groups)
        self.a_out, self.a_in = np.zeros((n_mod, n_grp)), np.zeros((n_mod, n_grp))
        for j, gi, s in rows_out:
            self.a_out[j, gi] = s
        for j, gi, s in rows_in:
            self.a_in[j, gi] = s
        w = [m.weight.shape for m in mods]
        self.out = np.array([s[0] for s in w], dtype=np.float64)
        self.inp = np.array([s[1] for s in w], dtype=np.float64)
        self.rest = np.array([int(np.prod(s[2:])) for s in w], dtype=np.float64)
        self.total = float((self.out * self.inp * self.rest).sum())

    def params(self, n: np.ndarray) -> float:
        """Prunable weights left after removing n[g] channels of group g."""
        out = self.out - self.a_out @ n
        inp = self.inp - self.a_in @ n
        return float((out * inp * self.rest).sum())


class ChannelSequence:
    """Iterating yields (sparsity, measured fraction removed, pruned model), sparsity ascending.

    The yielded model is one working copy pruned further at each step: use it (e.g. predict)
    before asking for the next step, and copy it to keep it. The dense `model` is untouched.
    """

    def __init__(self, model: nn.Module, sparsities, *, scope: str,
                 example_input: torch.Tensor):
        if scope not in ("global", "uniform"):
            raise ValueError(f"scope must be 'global' or 'uniform', got {scope!r}")
        self.dense, self.sparsities, self.scope = model, list(sparsities), scope
        self.example = example_input
        self._used = False

    # ------------------------------------------------------------------ planning
    def _setup(self):
        import torch_pruning as tp

        work = copy.deepcopy(self.dense).eval()
        head = classifier_of(work)
        # tracing records autograd nodes: it needs grad mode even when the caller is in no_grad
        with torch.enable_grad():
            dg = tp.DependencyGraph().build_dependency(work, example_inputs=self.example)
        groups = list(dg.get_all_groups(ignored_layers=[head],
                                        root_module_types=[nn.Conv2d, nn.Linear]))
        imp_fn = tp.importance.MagnitudeImportance(p=1)
        with torch.no_grad():
            imps = [imp_fn(g).detach().double().cpu().numpy() for g in groups]
        roots = [(g[0].dep.target.module, g[0].dep.handler) for g in groups]
        sizes = np.array([len(i) for i in imps], dtype=np.int64)
        self._total0 = prunable_count(work)
        shapes = _Shapes(dg, groups, sizes)
        if abs(shapes.total - self._total0) > 0.5:
            raise RuntimeError("internal: parameter model disagrees with the network "
                               f"({shapes.total:.0f} vs {self._total0})")
        # channel order within each group: least important first (stable, so ties keep
        # channel order and the selection is deterministic)
        order = [np.argsort(i, kind="stable") for i in imps]
        return work, dg, groups, roots, sizes, shapes, imps, order

    def _plan(self, sizes, shapes, imps) -> list[np.ndarray]:
        """Channels to remove per group, for every requested sparsity (nested)."""
        total = shapes.total
        caps = sizes - 1   # keep at least one channel per group
        plans, lo_t, lo_r = [], 0, 0.0
        if self.scope == "global":
            # every channel but each group's most important, in one global order
            gid = np.concatenate([np.full(c, g) for g, c in enumerate(caps)]).astype(np.int64)
            val = np.concatenate([np.sort(i)[:c] for i, c in zip(imps, caps, strict=True)])
            glob = gid[np.argsort(val, kind="stable")]

            def n_of(t):
                return np.bincount(glob[:t], minlength=len(sizes)).astype(np.float64)
            hi_all = len(glob)
        for sparsity in self.sparsities:
            target = total * (1 - sparsity / 100)
            if self.scope == "global":
                lo, hi = lo_t, hi_all   # params(t) decreases with t: find the closest t
                while lo < hi:
                    mid = (lo + hi) // 2
                    if shapes.params(n_of(mid)) > target:
                        lo = mid + 1
                    else:
                        hi = mid
                cands = [t for t in (lo - 1, lo) if lo_t <= t <= hi_all]
                t = min(cands, key=lambda t: abs(shapes.params(n_of(t)) - target))
                lo_t = t
                plans.append(n_of(t).astype(np.int64))
            else:
                def n_of_r(r):
                    # Torch-Pruning's rounding: keep int(C · (1 − r)) channels
                    keep = np.floor(sizes * (1 - r) + 1e-9).astype(np.int64)
                    return np.minimum(sizes - keep, caps).astype(np.float64)
                lo, hi = lo_r, 1.0
                for _ in range(50):
                    mid = (lo + hi) / 2
                    if shapes.params(n_of_r(mid)) > target:
                        lo = mid
                    else:
                        hi = mid
                r = min((lo, hi), key=lambda r: abs(shapes.params(n_of_r(r)) - target))
                if sparsity == 0:
                    r = 0.0
                lo_r = r
                plans.append(n_of_r(r).astype(np.int64))
        return plans

    # ------------------------------------------------------------------ iteration
    def __iter__(self):
        if self._used:
            raise RuntimeError("a ChannelSequence can be iterated only once")
        self._used = True
        return self._run()

    def _run(self):
        # Graph building and pruning are many small ops (index_select per layer): on the
        # shared 2-core CPU they ran ~5x faster on one thread (see threads.one_cpu_thread).
        # The thread count is restored before every yield, so the caller's inference keeps
        # every thread.
        cpu = next(self.dense.parameters()).device
        with one_cpu_thread(cpu):
            work, dg, groups, roots, sizes, shapes, imps, order = self._setup()
            plans = self._plan(sizes, shapes, imps)
        remaining = [np.arange(c) for c in sizes]   # original channel ids still present
        done = np.zeros(len(sizes), dtype=np.int64)
        for sparsity, n in zip(self.sparsities, plans, strict=True):
            with one_cpu_thread(cpu):
                for g, (mod, handler) in enumerate(roots):
                    if n[g] <= done[g]:
                        continue
                    drop = order[g][done[g]:n[g]]      # original ids, least important first
                    pos = np.searchsorted(remaining[g], np.sort(drop))
                    grp = dg.get_pruning_group(mod, handler, [int(p) for p in pos])
                    grp.prune()
                    remaining[g] = np.delete(remaining[g], pos)
                    done[g] = n[g]
            measured = 1.0 - prunable_count(work) / self._total0
            yield sparsity, measured, work


class _ChannelL1(PruningMethod):
    kind = "structured"
    scope = "global"

    def prune(self, model: nn.Module, request: PruneRequest):
        if request.example_input is None:
            raise ValueError(f"{self.name}: structured pruning needs example_input to trace "
                             "the network")
        seq = ChannelSequence(model, check_sparsities(request.sparsities), scope=self.scope,
                              example_input=request.example_input)
        return (Step(sparsity, measured, net) for sparsity, measured, net in seq)


@register
class ChannelL1Global(_ChannelL1):
    """Structured: whole channels with the lowest L1 norm across the network removed
    (Torch-Pruning); the grid point is the fraction of prunable parameters removed."""

    name = "channel_l1_global"
    scope = "global"


@register
class ChannelL1Uniform(_ChannelL1):
    """Structured: the same fraction of every layer group's channels removed, lowest L1 norm
    first (Torch-Pruning); the grid point is the fraction of prunable parameters removed."""

    name = "channel_l1_uniform"
    scope = "uniform"
