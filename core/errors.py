"""Every error type of `core`, in one leaf module that imports nothing from the project.

Why one place: an error is raised low (config, data, store) and caught high (the study, the
CLI, the dashboard). When each lived beside the code that raised it, catching one meant
importing that code, and several of those imports ran back up the layers (the executors
took `StudyError` from the study that imports them; data took `ConfigError` from config,
which imports the dataset registry). Here they cost nothing to import from anywhere.

The CLI's exit codes follow these types (core/cli.py): `StudyNotVerified` → 1; bad input
(`ConfigError`, any ValueError), `StudyLockedError`, `StoreError`, `StudyError` and OS
errors → 2, each as one line. The reader study's own errors stay in core/reader.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["ConfigError", "DuplicateIdError", "LabelError", "LeakageError",
           "MissingColumnError", "MissingImagesError", "NonFiniteOutputError",
           "PredictionFileError", "PretrainedUnavailableError", "ReleaseError", "StoreError",
           "StudyError", "StudyLockedError", "StudyNotVerified", "UnreadableFile"]


# --------------------------------------------------------------------------- configuration
class ConfigError(ValueError):
    """A study configuration that cannot run."""


# --------------------------------------------------------------------------- study folders
class StudyError(RuntimeError):
    """A study folder that cannot be used for this run."""


class StudyLockedError(RuntimeError):
    """Another coordinator holds the study's lock; the message names it (host, pid, since)."""

    def __init__(self, root, holders: list[dict]):
        self.root = Path(root)
        self.holders = holders
        if holders:
            who = "; ".join(f"host {h.get('host', '?')} pid {h.get('pid', '?')} since "
                            f"{h.get('since', '?')}" + (" (--seeds run)" if h.get("mode") ==
                                                        "shared" else "")
                            for h in holders)
        else:   # taken a moment ago; its record is not written yet
            who = "another process (it is starting)"
        super().__init__(f"{root} is in use by {who}")


class StoreError(RuntimeError):
    """A study folder is missing, incomplete or corrupt."""


class StudyNotVerified(StoreError):
    """A study that does not verify against its manifest; `problems` names every file
    (`core.store.Problem`s)."""

    def __init__(self, root, problems: list):
        self.root = Path(root)
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{root} does not verify ({len(self.problems)} problem(s)); "
                         f"refusing to read it:\n{lines}")


class UnreadableFile(StoreError, ValueError):
    """A store file that exists but cannot be read as what it should be (e.g. truncated)."""


class PredictionFileError(StoreError):
    """A prediction file (or its encoding record) is missing or malformed; the message names
    the file. (A damaged .npy raises UnreadableFile, which names it too.)"""


# --------------------------------------------------------------------------- data
class LabelError(ValueError):
    """A label table that cannot be used as given (bad value, missing column, …)."""


class DuplicateIdError(LabelError):
    """The same image id appears more than once."""


class LeakageError(LabelError):
    """A patient appears in more than one split: evaluation would be on training patients."""


class MissingColumnError(LabelError):
    """A column named in the options or required by the format is not in the file."""


class MissingImagesError(FileNotFoundError):
    """Image files that are missing or cannot be decoded (all of them listed in one error)."""

    def __init__(self, message: str, failures: list[tuple[str, str, str]]):
        super().__init__(message)
        self.failures = failures  # (id, path, reason)


class ReleaseError(ValueError):
    """The paper's release folder or label file does not have the expected shape."""


# --------------------------------------------------------------------------- models
class PretrainedUnavailableError(RuntimeError):
    """Pretrained weights were asked for but are not on this machine."""


class NonFiniteOutputError(FloatingPointError):
    """A pruned (or dense) model produced NaN or infinite outputs: never stored."""

    def __init__(self, method: str, seed: int, sparsity: int, count: int):
        self.method, self.seed, self.sparsity, self.count = method, seed, sparsity, count
        super().__init__(f"non-finite model outputs ({count} values) for method={method}, "
                         f"seed={seed}, sparsity={sparsity}%: nothing was stored")
