"""benchmarks/bench_analysis.py stays runnable: a tiny run, and the RESULTS.md section logic
(benchmarks/results_md.py, shared by the benchmarks)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_analysis.py"


@pytest.fixture
def bench():
    spec = importlib.util.spec_from_file_location("bench_analysis", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_agrees_with_the_reference(bench, tmp_path):
    res = bench.main(["--seeds", "2", "--images", "300", "--reference-seeds", "1",
                      "--no-write", "--tmp", str(tmp_path)])
    assert res["max_diff"] < 1e-9 and res["pie_diff"] < 1e-6
    assert list(tmp_path.iterdir()) == []          # the temporary study is gone


def test_rows_go_into_this_benchmark_section_only(bench, tmp_path):
    from results_md import append_to_section  # benchmarks/ is on sys.path once bench loads

    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Other\n\n| a |\n")
    append_to_section(bench.SECTION, "| row 1 |", preamble="| header |", path=results)
    results.write_text(results.read_text() + "\n## Later section\n\nkeep me\n")
    append_to_section(bench.SECTION, "| row 2 |", preamble="| header |", path=results)
    text = results.read_text()
    section = text[text.index(bench.SECTION):text.index("## Later section")]
    assert section.count("| header |") == 1
    assert "| row 1 |\n| row 2 |" in section
    assert text.endswith("keep me\n") and "## Other\n\n| a |" in text
