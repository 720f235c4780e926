"""core/reader's modules import one way: no module imports one that (directly or not)
imports it back, at module level or inside a function (the old ReaderDB was one class split
over db.py and access.py, each importing the other)."""
from __future__ import annotations

import ast
from pathlib import Path

READER = Path(__file__).resolve().parents[2] / "core" / "reader"


def _graph() -> dict[str, set[str]]:
    mods = {p.stem for p in READER.glob("*.py") if p.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for m in mods:
        deps = set()
        for node in ast.walk(ast.parse((READER / f"{m}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["core", "reader"]:
                    if len(parts) > 2:
                        deps.add(parts[2])
                    deps.update(a.name for a in node.names if a.name in mods)
        graph[m] = deps & mods - {m}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_core_reader_has_no_import_cycle():
    graph = _graph()
    assert {"db", "inputs", "connection", "health", "schema"} <= set(graph)
    assert not (READER / "access.py").exists()
    assert _cycle(graph) is None, " → ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
