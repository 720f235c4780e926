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


def test_log_frequency_nan_for_zero_float64_and_silent():
    with np.errstate(all="raise"):
        out = fq.log_frequency(np.array([np.e, 0, 1, -1], dtype=np.float32))
    assert out.dtype == np.float64
    assert out[0] == np.log(np.float64(np.float32(np.e))) and out[2] == 0
    assert np.isnan(out[1]) and np.isnan(out[3])


def test_pair_statistics_by_hand_both_variants():
    # 3 classes; M = YᵀY of a small label matrix (diag = images with the class)
    m = np.array([[4, 2, 0], [2, 3, 0], [0, 0, 0]])
    paper = fq.pair_statistics(m)                          # the default is the paper's
    assert paper["a"].tolist() == [0, 0, 1] and paper["b"].tolist() == [1, 2, 2]
    # paper: freq = column sums (6, 5, 0); IoU(0,1) = 2 / (6 + 5 − 2)
    assert paper["freq_a"].tolist() == [6, 6, 5] and paper["freq_b"].tolist() == [5, 0, 0]
    assert paper["iou"][0] == 2 / 9 and paper["iou"][1] == 0 and paper["iou"][2] == 0
    assert paper["iou4"][0] == (2 / 9) ** 0.25
    assert paper["log_freq_diff"][0] == abs(np.log(5) - np.log(6))
    assert np.isnan(paper["log_freq_diff"][1])             # a class without images: no log
    plain = fq.pair_statistics(m, "plain")
    assert plain["freq_a"].tolist() == [4, 4, 3] and plain["iou"][0] == 2 / 5
    # union 0 (two classes never seen): IoU undefined, silently
    with np.errstate(all="raise"):
        empty = fq.pair_statistics(np.zeros((2, 2)), "plain")
    assert np.isnan(empty["iou"][0])
    with pytest.raises(ValueError, match=r"must be square, got \(2, 3\)"):
        fq.pair_statistics(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"must be square, got \(4,\)"):
        fq.pair_statistics(np.zeros(4))
    with pytest.raises(ValueError, match="pair variant 'iou'; allowed: paper, plain"):
        fq.pair_statistics(m, "iou")


def test_fcd_matrix_by_hand():
    curves = np.array([[0.0, -0.3, np.nan], [0.0, -0.4, -0.1]], dtype=np.float32)  # [K, C]
    d = fq.fcd_matrix(curves)
    assert d.shape == (3, 3) and d.dtype == np.float64 and d[0, 0] == 0
    c = curves.astype(np.float64)
    assert d[0, 1] == d[1, 0] == np.sqrt(c[0, 1] ** 2 + c[1, 1] ** 2)
    assert np.isnan(d[2]).all() and np.isnan(d[:, 2]).all()


def test_ols_full_output_against_scipy_and_by_hand():
    from scipy import stats
    rng = np.random.default_rng(3)
    x = rng.normal(size=20)
    y = 1.5 * x + rng.normal(size=20)
    y[4] = np.nan                                         # dropped
    fit = fq.ols(y, x)
    ok = np.isfinite(y)
    ref = stats.linregress(x[ok], y[ok])
    assert fit["n"] == 19 and fit["terms"] == ["intercept", "x1"]
    assert fit["coef"] == pytest.approx([ref.intercept, ref.slope], rel=1e-12)
    assert fit["se"][1] == pytest.approx(ref.stderr, rel=1e-12)
    assert fit["se"][0] == pytest.approx(ref.intercept_stderr, rel=1e-12)
    assert fit["p"][1] == pytest.approx(ref.pvalue, rel=1e-9)
    assert fit["r2"] == pytest.approx(ref.rvalue ** 2, rel=1e-12)
    assert fit["adj_r2"] == pytest.approx(1 - (1 - ref.rvalue ** 2) * 18 / 17, rel=1e-12)
    # one predictor: F = t², same p-value
    assert fit["f"] == pytest.approx(fit["t"][1] ** 2, rel=1e-12)
    assert fit["p_f"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert fq.ols(y, x, ["slope"])["terms"] == ["intercept", "slope"]


def test_ols_undefined_cases_are_nan():
    x = np.array([1.0, 2, 3, 4])
    # rank-deficient design: a constant predictor duplicates the intercept
    flat = fq.ols(np.array([1.0, 2, 3, 5]), np.ones(4))
    assert flat["n"] == 4 and all(np.isnan(flat["coef"])) and np.isnan(flat["r2"])
    # constant y: no variance to explain
    const = fq.ols(np.full(4, 2.0), x)
    assert const["coef"] == pytest.approx([2.0, 0.0], abs=1e-12)
    assert np.isnan(const["r2"]) and np.isnan(const["adj_r2"]) and np.isnan(const["f"])
    assert np.isnan(const["p_f"])
    assert fq.ols(2 * x + 1, x)["r2"] == pytest.approx(1.0)
    assert fq.ols(np.array([1.0, 2]), np.array([1.0, 2]))["n"] == 2    # n <= k: all NaN


def test_class_exclusions_reasons_in_order():
    out = fq.class_exclusions(
        ["ok", "undef", "nofreq", "never"], values=[0.5, np.nan, 0.2, np.nan],
        log_freq=[1.0, 2.0, np.nan, 3.0],
        status=["drops", "undefined", "drops", "never"], eval_pos=[5, 0, 5, 5],
        missing="never drops")
    assert out == {"undef": "undefined (no positive in the evaluation split)",
                   "nofreq": "no train positives", "never": "never drops"}
    # without status / eval positives: generic reasons and the default `missing`
    out = fq.class_exclusions(["a", "b"], [np.nan, 1.0], [1.0, np.nan])
    assert out == {"a": "undefined", "b": "no train positives"}


def test_correlate_undefined_below_three_points_or_constant():
    assert fq.correlate([1, 2], [3, 4]) == {"r": pytest.approx(np.nan, nan_ok=True),
                                            "p_r": pytest.approx(np.nan, nan_ok=True),
                                            "rho": pytest.approx(np.nan, nan_ok=True),
                                            "p_rho": pytest.approx(np.nan, nan_ok=True),
                                            "n": 2}
    assert np.isnan(fq.correlate([1, 1, 1], [1, 2, 3])["r"])
    assert np.isnan(fq.correlate([1, 2, 3], [5, 5, 5])["rho"])
    three = fq.correlate([1, 2, 3], [1, 2, 4])
    assert three["n"] == 3 and three["rho"] == pytest.approx(1.0)


def test_class_exclusions_undefined_without_eval_positives():
    out = fq.class_exclusions(["a", "b"], [np.nan, np.nan], [1.0, 1.0],
                              status=["undefined", "never"])
    assert out == {"a": "undefined (AP is undefined)", "b": "undefined"}


def test_correlate_range_one_is_fine_and_constant_input_is_quiet():
    import warnings
    x, y = [0.0, 0.5, 1.0], [0.0, 1.0, 0.8]                  # ranges of exactly 1
    got = fq.correlate(x, y)
    assert got["r"] == pytest.approx(np.corrcoef(x, y)[0, 1]) and got["rho"] == 0.5
    got = fq.correlate(y, x)
    assert got["r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # scipy warns on constant input
        assert np.isnan(fq.correlate([1, 1, 1], [1, 2, 3])["r"])
        assert np.isnan(fq.correlate([1, 2, 3], [5, 5, 5])["p_rho"])


def test_ols_undefined_result_has_every_key_and_nan_rows_drop_alone():
    import warnings
    keys = {"n", "terms", "coef", "se", "t", "p", "r2", "adj_r2", "f", "p_f"}
    flat = fq.ols(np.array([1.0, 2, 3, 5]), np.ones(4))
    assert set(flat) == keys
    for k in ("coef", "se", "t", "p"):
        assert len(flat[k]) == 2 and np.isnan(flat[k]).all()
    for k in ("r2", "adj_r2", "f", "p_f"):
        assert np.isnan(flat[k])
    X = np.array([[1.0, 0], [2, 1], [3, np.nan], [4, 0], [5, 1], [6, 1]])
    assert fq.ols(np.arange(6.0) ** 2, X)["n"] == 5            # only the NaN row goes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        const = fq.ols(np.full(4, 2.0), np.array([1.0, 2, 3, 4]))   # se = 0: t undefined
    assert set(const) == keys


def test_pair_statistics_union_of_one():
    plain = fq.pair_statistics(np.array([[1, 0], [0, 0]]), "plain")
    assert plain["iou"].tolist() == [0.0]                      # union 1 + 0 − 0 = 1


def test_read_cooccurrence_reads_the_split_file_into_memory_or_recomputes(tmp_path):
    from core.store import StudyPaths

    paths = StudyPaths(tmp_path)
    paths.cooccurrence("train").parent.mkdir(parents=True)
    train = np.array([[4, 1], [1, 2]], np.int64)
    store.write_npy(paths.cooccurrence("train"), train)
    got = fq.read_cooccurrence(tmp_path, "train")
    assert got.dtype == np.int64 and got.tolist() == train.tolist()
    assert got.flags.writeable           # read into memory, not a read-only map of the file
    # the stored file wins over labels passed along (they are only the fallback)
    y = np.array([[1, 1], [1, np.nan], [0, 1]])
    assert fq.read_cooccurrence(tmp_path, "train", y).tolist() == train.tolist()
    # no eval file: YᵀY of the labels, NaN counted as 0
    assert fq.read_cooccurrence(tmp_path, "eval", y).tolist() == [[2, 1], [1, 2]]
    with pytest.raises(FileNotFoundError):
        fq.read_cooccurrence(tmp_path, "eval")
