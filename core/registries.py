"""The registries: tables of names → entries, filled by the implementations themselves.

timm's `_registry.py` pattern. This module imports nothing from the project: a dataset
format, a model architecture or a pruning method registers itself into its table when its
module is imported (`core.data.base.register_dataset`, `core.models.register_model`,
`core.pruning.base.register`). So a table never imports an implementation, and an
implementation depends only on this leaf.

Each table names, as text, the package whose import registers its built-in entries (its
`provider`, as a plugin's entry point names a module). The first time a table is read
(`names()`, `table[name]`, `name in table`, iteration) it imports that package, so that
`core.config` can validate a config's names without depending on the implementations, and
validation stays cheap until a name is asked for. Code that runs the implementations imports
their packages itself anyway (the study, the CLI).
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["METHODS", "MODELS", "DATASETS", "Registry", "dataset_names", "method_names",
           "model_names"]


class Registry(Mapping):
    """name → entry, read-only except through `register` (one way in, by name)."""

    def __init__(self, kind: str, provider: str):
        self.kind = kind            # what an entry is, for messages ("pruning method")
        self.provider = provider    # the package whose import registers the built-in entries
        self._entries: dict[str, Any] = {}

    def register(self, name: str, entry: Any) -> Any:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests and examples that register one for a moment)."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if self.provider not in sys.modules:
            importlib.import_module(self.provider)

    def __getitem__(self, name: str) -> Any:
        self._load()
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def names(self) -> list[str]:
        return sorted(self)


DATASETS = Registry("dataset format", "core.data")
MODELS = Registry("model", "core.models")
METHODS = Registry("pruning method", "core.pruning")


def __getattr__(name: str):
    # `READERS` was this table's name when "reader" meant a dataset format too (it now means
    # only the reader study's human reader); old plugin code keeps working, with a warning.
    if name == "READERS":
        import warnings

        warnings.warn("core.registries.READERS is now core.registries.DATASETS",
                      DeprecationWarning, stacklevel=2)
        return DATASETS
    raise AttributeError(f"module 'core.registries' has no attribute {name!r}")


def dataset_names() -> list[str]:
    """Names of the registered dataset formats (`dataset.name` in a config).

    Returns:
        list[str]: sorted names; reading them imports `core.data`, which registers the
        built-in formats.

    Example:
        >>> dataset_names()
        ['chestx-ray14', 'csv', 'mimic-cxr-lt', 'nih-cxr-lt', 'synthcxr']
    """
    return DATASETS.names()


def model_names() -> list[str]:
    """Names of the registered model architectures (`model` in a config).

    Returns:
        list[str]: sorted names (imports `core.models` on first read).
    """
    return MODELS.names()


def method_names() -> list[str]:
    """Names of the registered pruning methods (`methods` in a config).

    Returns:
        list[str]: sorted names (imports `core.pruning` on first read).
    """
    return METHODS.names()


def pretrained_model_names() -> list[str]:
    """Models that have pretrained weights (`pretrained: true` is allowed with them).

    Returns:
        list[str]: sorted names of the models registered with `pretrained` weights.
    """
    return sorted(name for name, entry in MODELS.items() if entry.pretrained)
