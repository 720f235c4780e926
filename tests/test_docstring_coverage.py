"""Public functions of the core modules listed here carry captum-style docstrings.

Each function defined at module level without a leading underscore needs `Args:` (when it
takes parameters) and `Returns:` (unless annotated `-> None`); each public class needs a
docstring. A module joins COVERED once all of it is documented; the list only grows.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

COVERED = [
    "core.store", "core.registries", "core.threads", "core.metrics", "core.omp",
    "core.predictions", "core.models", "core.study.markers",
    "core.data", "core.pruning", "core.pruning.base", "core.study.run",
    "core.analysis.over_seeds", "core.analysis.forgetting", "core.analysis.thresholds",
    "core.analysis.class_tables", "core.analysis.bootstrap", "core.analysis.missed",
    "core.analysis.pie_stats", "core.analysis.study_inputs",
    "core.analysis",
    "core.analysis.paper_check",
    "core.analysis.paper_check_stats",
    "core.analysis.paper_check_table",
    "core.analysis.paper_values",
    "core.analysis.uncertainty",
    "core.analysis.pie_resample",
    "core.analysis.pies",
    "core.analysis.frequency",
    "core.analysis.calibration",
    "core.analysis.subgroups",
    "core.analysis.beyond_paper",
    "core.analysis.study_analysis",
    "core.analysis.report",
    "core.analysis.report_beyond_paper",
    "core.reader",
    "core.reader.connection",
    "core.reader.db",
    "core.reader.forms",
    "core.reader.health",
    "core.reader.inputs",
    "core.reader.record",
    "core.reader.schema",
    "core.reader.stats",
    "core.data.base",
    "core.data.chestxray14",
    "core.data.formats",
    "core.data.images",
    "core.data.labels",
    "core.data.stats",
    "core.data.summary",
    "core.data.synth_base",
    "core.data.synth_findings",
    "core.data.synth_render",
    "core.data.synthcxr",
    "core.experiments",
    "core.experiments.frequency",
    "core.experiments.frequency_effect",
    "core.pruning.cost",
    "core.pruning.gradual",
    "core.pruning.structured",
    "core.pruning.unstructured",
    "core.executors",
    "core.executors.local",
    "core.executors.ray_backend",
    "core.executors.unit",
    "core.study",
    "core.study.prepare",
    "core.study.seed_unit",
    "core.config",
    "core.config_text",
    "core.lock",
    "core.textsafe",
    "core.demo",
    "core.cli",
    "core.errors",
    "core",
    "core.__main__",
    "core.compare",
    "core.explain",
    "core.importer",
    "core.metrics_float32",
    "core.predict",
    "core.train",
]


def undocumented(source: str) -> list[str]:
    """Public module-level functions and classes of `source` missing what the style asks."""
    missing = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef | ast.ClassDef) or node.name.startswith("_"):
            continue
        doc = ast.get_docstring(node) or ""
        if isinstance(node, ast.ClassDef):
            if not doc:
                missing.append(f"{node.name}: no docstring")
            continue
        params = [a.arg for a in [*node.args.posonlyargs, *node.args.args,
                                  *node.args.kwonlyargs] if a.arg not in ("self", "cls")]
        returns_none = isinstance(node.returns, ast.Constant) and node.returns.value is None
        if params and "Args:" not in doc:
            missing.append(f"{node.name}: no Args:")
        if not returns_none and "Returns:" not in doc:
            missing.append(f"{node.name}: no Returns:")
    return missing


@pytest.mark.parametrize("name", COVERED)
def test_public_functions_have_args_and_returns(name):
    origin = importlib.util.find_spec(name).origin
    assert undocumented(Path(origin).read_text()) == []


def test_the_check_can_fail():
    src = ('def f(x):\n    """Only a summary."""\n\n\ndef g() -> None:\n    """Ok."""\n\n\n'
           "class C:\n    pass\n")
    assert undocumented(src) == ["f: no Args:", "f: no Returns:", "C: no docstring"]
