"""Appending to one benchmark's section of benchmarks/RESULTS.md (shared by the benchmarks)."""
from __future__ import annotations

from pathlib import Path

from core.store import atomic_write

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def append_to_section(section: str, body: str, preamble: str = "", path: Path = RESULTS) -> None:
    """Add `body` at the end of the `section` heading's part of the file.

    A missing file or section is created first, the section with `preamble` (e.g. a table
    header) under its heading; sections written by other benchmarks are left as they are.
    """
    text = path.read_text() if path.is_file() else "# Benchmark results\n"
    if section not in text:
        text = text.rstrip("\n") + f"\n\n{section}\n" + (f"\n{preamble}\n" if preamble else "")
    start = text.index(section)
    nxt = text.find("\n## ", start + len(section))
    end = len(text) if nxt < 0 else nxt
    part = text[start:end].rstrip("\n") + "\n" + body.rstrip("\n") + "\n"
    text = text[:start] + part + ("\n" + text[end:].lstrip("\n") if nxt >= 0 else "")
    atomic_write(path, lambda fh: fh.write(text.encode()))
