"""Names known to the registries, imported lazily so config validation stays cheap."""
from __future__ import annotations


def dataset_names() -> list[str]:
    from core.data import READERS

    return sorted(READERS)


def model_names() -> list[str]:
    from core.models import MODELS

    return sorted(MODELS)


def method_names() -> list[str]:
    from core.prune import METHODS

    return sorted(METHODS)


def pretrained_model_names() -> list[str]:
    """Models that have pretrained weights (`pretrained: true` is allowed with them)."""
    from core.models import MODELS

    return sorted(name for name, entry in MODELS.items() if entry.pretrained)
