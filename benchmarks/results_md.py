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
    line = f"\n{section}\n"   # the whole heading line: "## A" must not match "## A and B"
    if line not in text:
        text = text.rstrip("\n") + f"\n{line}" + (f"\n{preamble}\n" if preamble else "")
    start = text.index(line) + 1
    nxt = text.find("\n## ", start + len(section))
    end = len(text) if nxt < 0 else nxt
    part = text[start:end].rstrip("\n") + "\n" + body.rstrip("\n") + "\n"
    text = text[:start] + part + ("\n" + text[end:].lstrip("\n") if nxt >= 0 else "")
    atomic_write(path, lambda fh: fh.write(text.encode()))
