"""Pruning: one interface (`base.PruningMethod`), one module per family, one registry.

    unstructured.py  l1_global, l1_layerwise, random: weights zeroed in place
    structured.py    channel_l1_global, channel_l1_uniform: channels removed (Torch-Pruning)
    gradual.py       gmp_finetune: gradual magnitude pruning with fine-tuning (a "regime")
    cost.py          params, FLOPs, size and latency of every pruned model the study runs

Importing this package registers every method in `core.registries.METHODS`. Whatever runs
pruned models goes through `sequence(...)`, whatever the method's kind.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# Each module registers its methods when imported: this is the one place they are loaded.
from core.pruning import gradual, structured, unstructured  # noqa: F401
from core.pruning.base import (
    KINDS,
    PruneRequest,
    PruningMethod,
    Step,
    TrainingData,
    check_sparsities,
    get_method,
    method_kind,
    register,
)
from core.pruning.unstructured import (
    PrunedSequence,
    masks_for,
    measured_sparsity,
    n_to_prune,
    prunable_parameters,
    pruned_sequence,
)
from core.registries import METHODS

__all__ = ["KINDS", "METHODS", "PruneRequest", "PrunedSequence", "PruningMethod", "Step",
           "TrainingData", "check_sparsities", "get_method", "masks_for", "measured_sparsity",
           "method_kind", "n_to_prune", "prunable_parameters", "pruned_sequence", "register",
           "sequence"]


@contextmanager
def sequence(model, method: str, sparsities, *, seed: int = 0, example_input=None,
             training: TrainingData | None = None) -> Iterator[Iterator[Step]]:
    """Context manager over the pruned models of one method, whatever its kind.

    Unstructured methods prune `model` in place (dense weights restored on exit) and yield
    it; structured methods leave `model` untouched and yield a smaller copy, pruned further
    at each step; regimes fine-tune a copy and need `training` (refused without it: their
    models are not stored and cannot be re-derived outside the study). Use each yielded
    model before asking for the next.

    Args:
        model (torch.nn.Module): the dense model.
        method (str): a registered pruning method (`core.registries.METHODS`).
        sparsities (Sequence[int]): integer percents, strictly increasing.
        seed (int): for methods that draw (e.g. `random`).
        example_input (torch.Tensor | None): one preprocessed batch ``[1, 3, H, W]`` on the
            model's device; structured methods trace the network with it.
        training (TrainingData | None): what regimes fine-tune with; None for other kinds.

    Returns:
        Iterator[Iterator[Step]]: yields an iterator of one `Step` (sparsity, measured
        sparsity, model to run) per requested sparsity, ascending.
    """
    request = PruneRequest(check_sparsities(sparsities), int(seed), example_input, training)
    steps = iter(get_method(method).prune(model, request))
    try:
        yield steps
    finally:
        close = getattr(steps, "close", None)   # a generator's: runs its cleanup now
        if close is not None:
            close()
