"""The one pruning-method interface (in the style of Torch-Pruning's `Importance`).

A method is a `PruningMethod` subclass with ONE abstract method, `prune(model, request)`:
an iterator (usually a generator) of one `Step` per sparsity of the request, ascending:
(sparsity, measured sparsity, model to run). What a method needs comes in one small dataclass,
`PruneRequest` (grid, seed, an example input to trace, training data for regimes). Whatever
runs the models (prediction grid, cost, Grad-CAM) treats every method alike.

Three kinds, one interface:
- "unstructured": weights zeroed in place, dense weights restored when the generator closes
  (core/pruning/unstructured.py; a method there only gives one score per weight);
- "structured": whole channels removed from a copy, physically smaller
  (core/pruning/structured.py);
- "regime": pruning interleaved with fine-tuning on the training split, so the request must
  carry `training` (core/pruning/gradual.py); the fine-tuned models are not stored.

Adding a method = one file with a subclass decorated `@register` + one import line in
core/pruning/__init__.py (docs/ARCHITECTURE.md, "Adding a pruning method").
"""
from __future__ import annotations

import abc
import inspect
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from core.registries import METHODS

__all__ = ["KINDS", "PruneRequest", "PruningMethod", "Step", "TrainingData",
           "check_sparsities", "get_method", "method_kind", "register"]

KINDS = ("unstructured", "structured", "regime")


class Step(NamedTuple):
    """One grid point: the model to run at `sparsity` % and the fraction of prunable weights
    it really has removed (`measured`)."""

    sparsity: int
    measured: float
    model: Any          # torch.nn.Module: use it before asking for the next step


@dataclass(frozen=True)
class TrainingData:
    """What a regime fine-tunes with: cached uint8 training images [n, H, W], their float32
    labels [n, C] (NaN = not labelled), the StudyConfig (its `model`, `train` and `gradual`
    sections), the torch device and whether to show progress."""

    images: Any
    labels: Any
    config: Any
    device: Any = "cpu"
    progress: bool = False


@dataclass(frozen=True)
class PruneRequest:
    """What every method receives besides the model.

    sparsities: integer percents, strictly increasing; seed: for methods that draw;
    example_input: one preprocessed batch on the model's device (structured methods trace
    the network with it); training: regimes only."""

    sparsities: Sequence[int]
    seed: int = 0
    example_input: Any = None
    training: TrainingData | None = None


class PruningMethod(abc.ABC):
    """A pruning method. Subclasses set `name` and `kind` and implement `prune`; the class
    docstring is the description shown to users."""

    name: str = ""
    kind: str = "unstructured"
    layerwise: bool = False    # unstructured only: the same fraction of every layer

    @property
    def description(self) -> str:
        return inspect.getdoc(type(self)) or ""

    @abc.abstractmethod
    def prune(self, model, request: PruneRequest) -> Iterator[Step]:
        """An iterator of one Step per sparsity of `request.sparsities`, ascending. Check the
        request when called (bad input fails before any work); leave `model`'s weights as
        they were once the iterator is closed (core.pruning.sequence closes it, also when
        the consumer breaks out or raises)."""


def register(cls: type[PruningMethod]) -> type[PruningMethod]:
    """Class decorator: put one instance of `cls` in the METHODS registry under `cls.name`.

    Args:
        cls (type[PruningMethod]): a subclass with `name` set and `kind` one of `KINDS`.

    Returns:
        type[PruningMethod]: `cls` itself, so the decorator leaves the class usable.

    Raises:
        ValueError: the kind is unknown, the name empty or already registered.
    """
    if cls.kind not in KINDS:
        raise ValueError(f"method kind {cls.kind!r}; allowed: {', '.join(KINDS)}")
    if not cls.name:
        raise ValueError(f"{cls.__name__}: a pruning method needs a name")
    METHODS.register(cls.name, cls())
    return cls


def get_method(name: str, kind: str | None = None) -> PruningMethod:
    """The registered pruning method `name`.

    Args:
        name (str): a name of `core.registries.METHODS`.
        kind (str | None): when given, the kind the method must be ("unstructured",
            "structured" or "regime").

    Returns:
        PruningMethod: the registered instance.

    Raises:
        KeyError: naming the known methods, when `name` is not one.
        ValueError: when the method is not of `kind`.
    """
    try:
        m = METHODS[name]
    except KeyError:
        raise KeyError(f"unknown pruning method {name!r}; available: "
                       f"{', '.join(sorted(METHODS))}") from None
    if kind is not None and m.kind != kind:
        raise ValueError(f"pruning method {name!r} is {m.kind}; this needs an {kind} method")
    return m


def method_kind(name: str) -> str:
    """The kind of the registered method `name`.

    Args:
        name (str): a name of `core.registries.METHODS`.

    Returns:
        str: "unstructured", "structured" or "regime" (KeyError naming the known methods).
    """
    return get_method(name).kind


def check_sparsities(sparsities) -> list[int]:
    """The sparsity grid as a list of ints, checked.

    Args:
        sparsities (Iterable[int]): integer percents in 0–100, strictly increasing.

    Returns:
        list[int]: the grid.

    Raises:
        ValueError: a value is not an integer percent, or the grid does not increase.

    Example:
        >>> check_sparsities([0, 50, 90])
        [0, 50, 90]
    """
    grid = list(sparsities)
    for sparsity in grid:
        if (not isinstance(sparsity, numbers.Integral) or isinstance(sparsity, bool)
                or not 0 <= sparsity <= 100):
            raise ValueError(f"sparsity {sparsity!r} is not an integer percent in 0–100 "
                             "(write 50 for 50% sparsity)")
    grid = [int(sparsity) for sparsity in grid]
    if any(b <= a for a, b in zip(grid, grid[1:], strict=False)):
        raise ValueError(f"sparsities must be strictly increasing, got {grid}")
    return grid
