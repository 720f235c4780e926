"""core.analysis.frequency.train_frequency: train counts come from data/class_counts.parquet,
never from the evaluation labels (whose positives need not be proportional to them)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import store
from core.analysis import analyze_study
from core.analysis import frequency as fq
from tests.analysis.conftest import _write_study

DEMO = Path(__file__).resolve().parents[2] / "artifacts" / "demo"


def test_train_frequency_reads_the_counts_in_class_order():
    # eval positives per class: 2, 1, 0 — the counts are not proportional to them.
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, np.nan]])
    counts = pd.DataFrame({"class": ["C", "A", "B"], "train_pos": [5, 700, 0]})
    pos, source = fq.train_frequency(counts, ["A", "B", "C"], y)
    assert pos.tolist() == [700.0, 0.0, 5.0] and pos.dtype == np.float64
    assert source == fq.FREQ_FROM_COUNTS


@pytest.mark.parametrize("counts", [None, pd.DataFrame({"class": ["A", "B", "C"]}),
                                    pd.DataFrame({"class": ["A", "B", "C"],
                                                  "train_pos": [5.0, np.nan, 1.0]})])
def test_train_frequency_falls_back_to_eval_positives_and_says_so(counts):
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, np.nan]])
    pos, source = fq.train_frequency(counts, ["A", "B", "C"], y)
    assert pos.tolist() == [2.0, 1.0, 0.0] and source == fq.FREQ_FROM_EVAL


def _assert_summary_matches_counts(root):
    counts = pd.read_parquet(Path(root) / "data" / "class_counts.parquet").set_index("class")
    summary = pd.read_parquet(Path(root) / "analysis" / "class_summary.parquet")
    assert len(summary) > 0
    want = counts.loc[summary["class"], "train_pos"].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(summary["train_pos"].to_numpy(dtype=np.float64), want)
    with np.errstate(divide="ignore"):
        want_log = np.where(want > 0, np.log(want), np.nan)
    np.testing.assert_allclose(summary["log_train_freq"].to_numpy(dtype=np.float64), want_log,
                               rtol=1e-12, equal_nan=True)


def test_stored_class_summary_uses_class_counts_on_a_study_with_unrelated_counts(tmp_path):
    root = tmp_path / "study"
    with store.record_writes() as written:
        paths = _write_study(root)
        # Train counts unrelated to the eval positives (not 10 × eval + 3 as the fixture's).
        store.write_parquet(paths.class_counts, pd.DataFrame({
            "class": ["No Finding", "A", "B", "C"], "train_pos": [40, 900, 7, 260],
            "train_neg": 100, "train_nan": 0}))
    store.write_manifest(root, written)
    analyze_study(root)
    _assert_summary_matches_counts(root)


def test_stored_class_summary_uses_class_counts_on_the_fixture_study(small_study):
    analyze_study(small_study.root)
    _assert_summary_matches_counts(small_study.root)


def test_shipped_demo_class_summary_equals_its_class_counts():
    _assert_summary_matches_counts(DEMO)
