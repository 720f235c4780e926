"""Pruning regimes that need training data: methods of kind "regime" in core.prune.METHODS.

`gradual` — gradual magnitude pruning with fine-tuning (`gmp_finetune`).
"""
from __future__ import annotations

__all__ = ["run_regime"]


def run_regime(method: str, *args, **kwargs):
    """Run a regime method by name (see `core.regimes.gradual.run_gradual` for arguments)."""
    if method == "gmp_finetune":
        from core.regimes.gradual import run_gradual

        return run_gradual(*args, **kwargs)
    raise KeyError(f"no regime named {method!r}")
