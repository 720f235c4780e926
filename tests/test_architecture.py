"""The house from the code: no import circle in core or dashboard (grimp), every module of
core in the layers contract of .importlinter (run by `lint-imports` in .ci/run), and no
study file name written outside core.store.StudyPaths."""
from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent

# Circles another piece of work removes; each entry must still be a circle (else delete it).
KNOWN_CIRCLES: set[frozenset[str]] = set()
# Study file names still written outside StudyPaths, by file: {path: how many}. Each count
# must stay exact, so a fix shows up here as a failure asking to delete the entry.
KNOWN_NAMES: dict[str, int] = {
    # an experiment's own folder (several studies and their pooled tables), not a study:
    # its names belong in one place of their own, next to TABLE_FILES
    "core/experiments/frequency.py": 10,
    "dashboard/study_pages/experiment_data.py": 6,
}


def _graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        # every import statement counts, inside functions too; no on-disk cache
        return grimp.build_graph("core", "dashboard", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def circles(graph) -> list[frozenset[str]]:
    """Groups of modules that reach each other through direct imports (strongly connected
    components of more than one module, Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(frozenset(group))
    return found


def _describe(graph, group: frozenset[str]) -> str:
    a, b = sorted(group)[:2]
    there = graph.find_shortest_chain(importer=a, imported=b)
    back = graph.find_shortest_chain(importer=b, imported=a)
    return f"{' → '.join(there or ())}  and back  {' → '.join(back or ())}"


def test_circle_finder_finds_a_circle():
    g = grimp.ImportGraph()
    for m in ("p.a", "p.b", "p.c", "p.d"):
        g.add_module(m)
    g.add_import(importer="p.a", imported="p.b")
    g.add_import(importer="p.b", imported="p.c")
    g.add_import(importer="p.c", imported="p.a")
    g.add_import(importer="p.c", imported="p.d")
    assert circles(g) == [frozenset({"p.a", "p.b", "p.c"})]
    g.remove_import(importer="p.c", imported="p.a")
    assert circles(g) == []


def test_no_import_circle_in_core_or_dashboard():
    """For every pair of modules, no chain of imports runs both ways."""
    graph = _graph()
    assert "core.study.run" in graph.modules and "dashboard.app" in graph.modules
    found = set(circles(graph))
    new = found - KNOWN_CIRCLES
    assert not new, "import circles:\n" + "\n".join(_describe(graph, g) for g in new)
    gone = KNOWN_CIRCLES - found
    assert not gone, f"no longer circles, delete them from KNOWN_CIRCLES: {gone}"


def test_executors_never_import_the_study():
    graph = _graph()
    for module in graph.find_children("core.executors") | {"core.executors"}:
        chain = graph.find_shortest_chain(importer=module, imported="core.study.run")
        assert chain is None, " → ".join(chain)
        for sub in ("core.study", "core.study.seed_unit", "core.study.prepare"):
            assert graph.find_shortest_chain(importer=module, imported=sub) is None


def test_every_core_module_is_in_a_layer():
    """A new top-level module of core must be placed in .importlinter's layers."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / ".importlinter")
    text = cfg["importlinter:contract:core-layers"]["layers"]
    placed = set(re.findall(r"[a-z_0-9]+", text))
    have = {p.stem for p in (ROOT / "core").glob("*.py") if p.stem != "__init__"}
    have |= {p.name for p in (ROOT / "core").iterdir()
             if p.is_dir() and (p / "__init__.py").is_file()}
    assert have - placed == set(), f"core modules missing from .importlinter: {have - placed}"
    assert placed - have == set(), f".importlinter names what core lacks: {placed - have}"


# A string literal naming a study file: a stem, then one of the store's extensions.
_FILE_NAME = re.compile(
    r"""(["'])[A-Za-z0-9_{}./-]+\.(?:parquet|npy|json|sqlite|safetensors)\1""")


def _names_outside_store() -> dict[str, int]:
    counts: dict[str, int] = {}
    for folder in ("core", "dashboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "core/store.py":
                continue
            n = len(_FILE_NAME.findall(path.read_text(encoding="utf-8")))
            if n:
                counts[rel] = n
    return counts


def test_study_file_names_only_in_study_paths():
    assert _FILE_NAME.search('x = paths.root / "metrics" / "overall.parquet"')
    assert _FILE_NAME.search("f'{method}.npy'")
    assert not _FILE_NAME.search('path.suffix == ".json"')   # a suffix is not a name
    assert not _FILE_NAME.search('"""regression.json\'s entry"""')   # prose in a docstring
    assert _names_outside_store() == KNOWN_NAMES


def test_study_paths_names_are_distinct():
    from core.store import StudyPaths

    names = [v for k, v in vars(StudyPaths).items() if k.isupper() and isinstance(v, str)]
    assert len(names) == len(set(names)) and StudyPaths.MISSED in names


def test_the_documented_example_method_runs():
    """docs/ARCHITECTURE.md's "Adding a pruning method" block, as written, is a method."""
    import torch

    from core import models, pruning
    from core.registries import METHODS

    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    section = doc.split("## Adding a pruning method", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert 15 <= len(code.strip().splitlines()) <= 40
    namespace: dict = {}
    exec(compile(code, "ARCHITECTURE.md", "exec"), namespace)
    try:
        assert pruning.method_kind("example_l1_quantile") == "unstructured"
        torch.manual_seed(0)
        model = models.create("smallcnn", 3).eval()
        dense = {k: v.clone() for k, v in model.state_dict().items()}
        with pruning.sequence(model, "example_l1_quantile", [0, 30, 60]) as seq:
            got = [(k, measured) for k, measured, _ in seq]
        assert [k for k, _ in got] == [0, 30, 60]
        assert got[0][1] < 0.01 and abs(got[1][1] - 0.3) < 0.02 and abs(got[2][1] - 0.6) < 0.02
        for k, v in model.state_dict().items():
            assert torch.equal(v, dense[k]), k
    finally:
        METHODS.unregister("example_l1_quantile")
