"""Code and docs point only at files inside the repository: the design notes and the
paper's figures the code relies on live in docs/ (definitions.md, paper_facts.md), not in
notes that a fresh clone does not have."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("core", "dashboard", "tests", "benchmarks", "docs")
SUFFIXES = {".py", ".md", ".js", ".css", ".toml", ".cfg", ".yaml", ".yml", ".txt"}
# notes kept outside the repository, and this machine's own folders
OUTSIDE = re.compile(r"\b(DESIGN\.md|PAPER_FACTS(\.md)?|STYLE\.md)\b|/work/(wt|shared|main)\b")


def _files():
    yield REPO / "README.md"
    for folder in FOLDERS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix in SUFFIXES and path.is_file() and path != Path(__file__):
                yield path


def test_no_comment_or_doc_points_outside_the_repository():
    hits = [f"{p.relative_to(REPO)}:{i}: {line.strip()}"
            for p in _files()
            for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace")
                                     .splitlines(), start=1)
            if OUTSIDE.search(line)]
    assert not hits, "\n".join(hits)


def test_the_pattern_finds_what_it_is_for():
    # the check above can fail: each kind of outside pointer is caught
    for text in ("see DESIGN.md", "(PAPER_FACTS.md)", "PAPER_FACTS / issue 10",
                 "STYLE.md", "flock /work/wt/bench.lock"):
        assert OUTSIDE.search(text), text
    assert not OUTSIDE.search("docs/definitions.md and docs/paper_facts.md")


def test_the_docs_the_code_points_at_exist():
    for name in ("definitions.md", "paper_facts.md", "ARCHITECTURE.md"):
        assert (REPO / "docs" / name).is_file(), name
