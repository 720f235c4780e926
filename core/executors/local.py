"""The local executor: units one after another in this process (the default)."""
from __future__ import annotations


class LocalExecutor:
    """Runs each unit in the calling process on `device` (None: the config's device).

    The unit's own progress bars and lines are printed as they come; the process-wide
    torch thread count is the caller's (core.study.run_study applies `train.threads`)."""

    name = "local"

    def __init__(self, device=None):
        self.device = device

    def run(self, units, fn) -> dict:
        return {u.key: fn(u, device=self.device) for u in units}
