"""The `Example:` blocks of core's public docstrings run and print what they show."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["core.data.stats", "core.analysis.over_seeds", "core.analysis.forgetting",
           "core.analysis.frequency", "core.analysis.pies", "core.analysis.thresholds",
           "core.metrics", "core.analysis", "core.store", "core.registries", "core.threads",
           "core.pruning.base", "core.analysis.class_tables", "core.predictions",
           "core.analysis.paper_check", "core.analysis.paper_check_table",
           "core.analysis.uncertainty", "core.analysis.calibration",
           "core.analysis.paper_values", "core.analysis.pie_resample",
           "core.reader.stats", "core.reader.inputs", "core.reader.schema",
           "core.data.labels", "core.data.synth_base", "core.data.base", "core.data.synthcxr",
           "core.data.summary",
           "core.experiments.frequency", "core.experiments.frequency_effect",
           "core.pruning.unstructured", "core.pruning.gradual",
           "core.config", "core.textsafe",
           "core.train", "core.explain", "core.importer", "core.metrics_float32"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    tests = [t for t in finder.find(module) if t.examples]
    assert tests, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        t.globs.setdefault("np", importlib.import_module("numpy"))
        runner.run(t)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name}"
