"""The paper check (issue 19 §1): the verdict rule, each finding's statistic on hand-worked
cases and against scipy / explicit resampling, and studies that lack what a row needs."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis import paper_check as pc
from core.analysis import paper_check_stats as pcs
from core.analysis import paper_check_table as pct
from core.analysis import pie_stats
from core.analysis.paper_values import VALUES
from core.data.stats import findings_per_image


# ----------------------------------------------------------------------------- the rule
@pytest.mark.parametrize("sign, lo, hi, expected", [
    (+1, 0.10, 0.50, pc.HOLDS),
    (+1, -0.20, 0.30, pc.NOT_SHOWN),
    (+1, -0.50, -0.10, pc.OPPOSITE),
    (-1, -0.50, -0.10, pc.HOLDS),
    (-1, 0.05, 0.40, pc.OPPOSITE),
    (-1, -0.40, 0.00, pc.NOT_SHOWN),     # an interval touching 0 includes it
    (+1, 0.00, 0.40, pc.NOT_SHOWN),
    (+1, math.nan, 0.40, pc.CANNOT),
])
def test_verdict_rule(sign, lo, hi, expected):
    assert pc.verdict(sign, lo, hi) == expected


def test_judge_takes_the_percentile_interval_of_the_replicates():
    pv = VALUES["F1"][0]                                  # paper sign +
    reps = np.linspace(0.1, 0.9, 101)                     # 2.5th / 97.5th: 0.12 / 0.88
    j = pc.judge(pv, 0.5, reps, 0.95)
    assert (j.lo, j.hi, j.n_boot, j.verdict) == (pytest.approx(0.12), pytest.approx(0.88),
                                                 101, pc.HOLDS)
    j = pc.judge(pv, 0.5, np.r_[reps - 0.5, np.nan], 0.95)   # NaN replicates left out
    assert j.n_boot == 101 and j.verdict == pc.NOT_SHOWN
    j = pc.judge(pv, math.nan, reps, 0.95, "why")
    assert (j.verdict, j.reason) == (pc.CANNOT, "why")
    j = pc.judge(pv, 0.5, np.full(10, np.nan), 0.95)
    assert j.verdict == pc.CANNOT and "no bootstrap replicate" in j.reason


# ----------------------------------------------------------------------------- statistics
def test_corr_reps_equal_scipy_row_by_row():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 12))
    y = x * 0.5 + rng.normal(size=(6, 12))
    x[1, :3] = np.nan
    y[2, 5] = np.nan
    x[3, 2] = x[3, 7]                                      # a tie for the ranks
    r, rho = pcs.corr_reps(x, y)
    for b in range(6):
        ok = np.isfinite(x[b]) & np.isfinite(y[b])
        assert r[b] == pytest.approx(stats.pearsonr(x[b, ok], y[b, ok])[0], abs=1e-12)
        assert rho[b] == pytest.approx(stats.spearmanr(x[b, ok], y[b, ok])[0], abs=1e-12)
    r, rho = pcs.corr_reps(np.array([[1.0, 2.0, np.nan, np.nan]]), np.ones((1, 4)))
    assert np.isnan(r[0]) and np.isnan(rho[0])            # under 3 points: undefined


def test_slope_by_hand_and_the_papers_derived_slope():
    x = np.arange(5.0)
    assert pcs.slope_reps(x, (2 * x + 1)[None])[0] == pytest.approx(2.0)
    assert pcs.slope_reps(x, np.array([[1.0, np.nan, 5.0, 7.0, np.nan]]))[0] == \
        pytest.approx(2.0)
    assert np.isnan(pcs.slope_reps(x, np.array([[1.0, np.nan, np.nan, 7.0, np.nan]]))[0])
    # the paper's value: least-squares slope of the ratios read off its figure
    ratios = np.array([[0.75, 0.83, 0.97, 1.8, 3.2]])
    assert pcs.slope_reps(x, ratios)[0] == pytest.approx(5.87 / 10)
    assert VALUES["F5"][1].nih == pytest.approx(round(5.87 / 10, 3))


def test_findings_reps_by_hand():
    counts = np.array([0, 1, 2, 3])
    pie = np.array([False, False, True, True])
    w = np.array([[1, 2], [1, 0], [1, 1], [1, 1]], dtype=np.float32)
    diff, ratio = pcs.findings_reps(counts, pie, w)
    # all ones: PIEs (2, 3) mean 2.5, non-PIEs (0, 1) mean 0.5
    # second draw: non-PIEs = image 0 twice (mean 0), PIEs 2 and 3 once (mean 2.5)
    assert diff.tolist() == pytest.approx([2.0, 2.5])
    # bins 0..4; PIE prevalence 0, 0, .5, .5, 0 and non-PIE .5, .5, 0, 0, 0 (draw 1)
    assert ratio[0, :2].tolist() == [0.0, 0.0] and np.isnan(ratio[0, 2:]).all()


def test_weighted_statistics_equal_explicit_resampling():
    """A multiplicity column = the data with each image repeated that often."""
    rng = np.random.default_rng(3)
    n, c = 40, 5
    y = (rng.random((n, c)) < 0.4).astype(float)
    y[rng.random((n, c)) < 0.1] = np.nan
    pie = rng.random(n) < 0.3
    w = rng.integers(0, 4, size=(n, 3)).astype(np.float32)
    classes = ["No Finding"] + [f"c{j}" for j in range(c - 1)]
    counts = findings_per_image(y, classes)
    diff, fr = pcs.findings_reps(counts, pie, w)
    cr = pcs.class_ratio_reps(y, pie, w)
    m_b = pcs.cooccurrence_reps(y, w)
    q = rng.random(n)
    md = pcs.mean_diff_reps(q, pie, w)
    for b in range(3):
        idx = np.repeat(np.arange(n), w[:, b].astype(int))
        yr, pr = y[idx], pie[idx]
        cr_ref = pie_stats.class_ratio(yr, classes, pr)["ratio"].to_numpy()
        np.testing.assert_allclose(cr[b], cr_ref, rtol=1e-12, equal_nan=True)
        fr_ref = pie_stats.findings_ratio(yr, classes, pr)["ratio"].to_numpy()
        np.testing.assert_allclose(fr[b], fr_ref, rtol=1e-12, equal_nan=True)
        cr_counts = counts[idx]
        assert diff[b] == pytest.approx(cr_counts[pr].mean() - cr_counts[~pr].mean())
        y0 = np.nan_to_num(yr)
        np.testing.assert_array_equal(m_b[b], y0.T @ y0)
        assert md[b] == pytest.approx(q[idx][pr].mean() - q[idx][~pr].mean())


def test_fcd_and_pair_reps_equal_the_analysis_functions_per_replicate():
    from core.analysis import frequency as fq

    rng = np.random.default_rng(1)
    sp = [0, 30, 60, 90]
    reps = rng.normal(size=(4, len(sp), 5))
    reps[:, 0] = 0
    fcd_b = pcs.fcd_reps(reps, sp)
    a, b = fq.pair_index(5)
    m = rng.integers(0, 9, size=(4, 5, 5)).astype(float)
    m = m + m.transpose(0, 2, 1)
    x_b = pcs.pair_x_reps(m)
    for i in range(4):
        np.testing.assert_allclose(fcd_b[i], fq.fcd_matrix(reps[i, 1:])[a, b])
        st = fq.pair_statistics(m[i], "paper")
        np.testing.assert_allclose(x_b["log_freq_diff"][i], st["log_freq_diff"])
        np.testing.assert_allclose(x_b["iou4"][i], st["iou4"])


# ----------------------------------------------------------------------------- rows
def _inputs(y, classes, sparsities=(0, 50, 90, 95), n_boot=200, seeds=3, gt=None,
            answers=None, log_freq=None):
    n = len(y)
    rng = np.random.default_rng(0)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n)
                        for _ in range(n_boot)], axis=1).astype(np.uint8)
    y0 = np.nan_to_num(y)
    lf = np.log(np.arange(len(classes), 0, -1) * 10.0) if log_freq is None else log_freq
    return pc.StudyInputs(classes=list(classes), sparsities=list(sparsities), log_freq=lf,
                          y=y, cooc=y0.T @ y0, weights=weights, level=0.95, n_seeds=seeds,
                          pie_sparsity=90, pie_percentile=5.0, ground_truth=gt,
                          answers=answers, answers_note="" if answers is not None else
                          "the study has no reader study")


def _by(df):
    return {r["finding"]: r for r in df.to_dict(orient="records")}


def test_f1_f2_hand_worked():
    """Five classes, frequencies falling (ln 50 … ln 10); curves built so that the first 20%
    drop is 95, 90, 90, 50, 50 and the change at 95% −0.3 … −0.7: both rise with frequency."""
    classes = ["A", "B", "C", "D", "E"]
    sp = [0, 50, 90, 95]
    rel = np.array([[0, 0, 0, 0, 0],
                    [-0.1, -0.1, -0.1, -0.3, -0.3],
                    [-0.1, -0.3, -0.3, -0.4, -0.4],
                    [-0.3, -0.4, -0.5, -0.6, -0.7]], dtype=float)
    y = np.eye(5)[np.arange(20) % 5]
    inp = _inputs(y, classes, sp, n_boot=50)
    rows = _by(pd.DataFrame(pc.forgetting_rows(inp, "m", rel, np.repeat(rel[None], 50, 0))))
    lf = inp.log_freq
    first = np.array([95, 90, 90, 50, 50.0])
    at = rel[3]
    assert rows["F1"]["value"] == pytest.approx(stats.pearsonr(first, lf)[0], abs=1e-12)
    assert rows["F1"]["value2"] == pytest.approx(stats.spearmanr(first, lf)[0], abs=1e-12)
    assert rows["F2"]["value"] == pytest.approx(stats.pearsonr(at, lf)[0], abs=1e-12)
    assert rows["F1"]["value"] > 0.8
    # every replicate equal to the point: the interval is the point, the verdict its sign
    assert rows["F1"]["lo"] == pytest.approx(rows["F1"]["value"])
    assert rows["F1"]["verdict"] == pc.HOLDS and rows["F2"]["verdict"] == pc.HOLDS
    # F4's paper sign is negative: identical replicates of a positive r are "opposite"
    assert rows["F4"]["paper_sign"] == -1
    f4 = rows["F4"]
    assert pc.verdict(-1, f4["lo"], f4["hi"]) == f4["verdict"]


def test_f3_f4_value_is_the_analysis_pair_correlation():
    from core.analysis import frequency as fq

    rng = np.random.default_rng(5)
    classes = list("ABCDEF")
    y = (rng.random((80, 6)) < np.linspace(0.6, 0.1, 6)).astype(float)
    sp = [0, 30, 60, 90, 95]
    rel = np.vstack([np.zeros(6), -rng.random((4, 6)).cumsum(0) / 3])
    inp = _inputs(y, classes, sp)
    rows = _by(pd.DataFrame(pc.forgetting_rows(inp, "m", rel, None)))
    st = fq.pair_statistics(inp.cooc, "paper")
    d = fq.fcd_matrix(rel[1:])[st["a"], st["b"]]
    assert rows["F3"]["value"] == pytest.approx(stats.pearsonr(d, st["log_freq_diff"])[0])
    assert rows["F4"]["value2"] == pytest.approx(stats.spearmanr(d, st["iou4"])[0])
    assert rows["F3"]["n"] == 15
    # without replicates a verdict would be invented: it says so instead
    assert rows["F3"]["verdict"] == pc.CANNOT and "no bootstrap" in rows["F3"]["reason"]


def test_f5_f6_f7_hand_worked():
    """Eight images; the two PIEs carry 3 and 2 findings, the others 0 or 1; quality lower
    among PIEs (0.2, 0.4 vs 0.8 …)."""
    classes = ["No Finding", "A", "B", "C"]
    y = np.array([[0, 1, 1, 1], [0, 1, 1, 0], [1, 0, 0, 0], [1, 0, 0, 0],
                  [0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=float)
    pie = np.array([True, True] + [False] * 6)
    gt = pd.DataFrame({"quality": [0.2, 0.4, 0.8, 0.9, 0.7, 0.8, 0.9, 0.6],
                       "label_noise": [True, False, False, False, False, False, False, False]})
    inp = _inputs(y, classes, gt=gt)
    rows = _by(pd.DataFrame(pc.pie_rows(inp, "m", pie) + [pc.f7_row(inp, "m", pie)]))
    assert rows["F5"]["value"] == pytest.approx(2.5 - 0.5)          # (3+2)/2 − 3/6
    assert rows["F5"]["n"] == 8
    cr = pie_stats.class_ratio(y, classes, pie)["ratio"].to_numpy()
    ok = np.isfinite(cr)
    assert rows["F6"]["value"] == pytest.approx(stats.spearmanr(cr[ok], inp.log_freq[ok])[0])
    assert rows["F7"]["value"] == pytest.approx((0.2 + 0.4) / 2 - 4.7 / 6)
    assert rows["F7"]["value2"] == pytest.approx(0.5 - 0.0)
    assert rows["F7"]["note"].startswith("dataset ground truth")
    for r in rows.values():
        assert r["verdict"] == pc.verdict(r["paper_sign"], r["lo"], r["hi"])


def test_f7_from_reader_answers_and_without_them():
    classes = ["No Finding", "A", "B"]
    y = np.array([[0, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=float)
    pie = np.array([True, True, False, False])
    inp = _inputs(y, classes)
    row = pc.f7_row(inp, "m", pie)
    assert row["verdict"] == pc.CANNOT
    assert row["reason"].startswith(pc.NEEDS_READERS)
    answers = pd.DataFrame({"reader": ["r1", "r1", "r2", "r2", "r1", "r2"],
                            "row": [0, 1, 0, 2, 3, 3], "is_pie": [1, 1, 1, 0, 0, 0],
                            "quality": [2, 3, 4, 4, 5, 3], "agree": [0, 1, 0, 1, 1, 1],
                            "method": "m"})
    row = pc.f7_row(_inputs(y, classes, answers=answers), "m", pie)
    assert row["value"] == pytest.approx(3.0 - 4.0)             # PIEs 2,3,4; non-PIEs 4,5,3
    assert row["value2"] == pytest.approx(2 / 3 - 0.0)
    assert row["n"] == 6 and "reader study" in row["note"]
    other = pc.f7_row(_inputs(y, classes, answers=answers), "other", pie)
    assert other["reason"].startswith(pc.NEEDS_READERS)          # answers of another method


# ----------------------------------------------------------------------------- bad input
def test_one_class_no_pies_and_no_positive_never_crash():
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    inp = _inputs(y, ["A"], n_boot=20, log_freq=np.array([math.log(5)]))
    rel = np.array([[0.0], [-0.1], [-0.5], [-0.6]])
    df = pc.check_method(inp, "m", rel, np.repeat(rel[None], 20, 0), np.zeros(4, bool))
    assert list(df["finding"]) == ["F1", "F2", "F3", "F4", "F5", "F6", "F7"]
    rows = _by(df)
    for f in ("F1", "F2", "F3", "F4"):
        assert rows[f]["verdict"] == pc.CANNOT and "1 class" in rows[f]["reason"], f
    for f in ("F5", "F6"):
        assert rows[f]["verdict"] == pc.CANNOT and rows[f]["reason"].startswith("no PIEs")
    assert rows["F7"]["verdict"] == pc.CANNOT
    cannot = df[df["verdict"] == pc.CANNOT]
    assert (cannot["reason"].str.len() > 0).all() and cannot["value"].isna().all()


def test_a_class_without_eval_positives_is_left_out_and_named():
    classes = list("ABCDE")
    y = np.eye(5)[np.arange(25) % 4]                  # class E: no positive
    rel = np.array([[0, 0, 0, 0, np.nan], [-0.1, -0.2, -0.3, -0.5, np.nan],
                    [-0.3, -0.4, -0.5, -0.6, np.nan], [-0.4, -0.5, -0.6, -0.7, np.nan]])
    inp = _inputs(y, classes, n_boot=30)
    rows = _by(pd.DataFrame(pc.forgetting_rows(inp, "m", rel, np.repeat(rel[None], 30, 0))))
    assert rows["F1"]["n"] == 4 and rows["F2"]["n"] == 4
    assert "1 with an undefined AP" in rows["F1"]["note"]
    assert rows["F3"]["n"] == 6 and "pair(s) left out" in rows["F3"]["note"]


def test_one_seed_and_a_grid_without_95():
    classes = list("ABCD")
    y = np.eye(4)[np.arange(16) % 4]
    rel = np.array([[0, 0, 0, 0], [-0.1, -0.3, -0.3, -0.4], [-0.3, -0.4, -0.5, -0.6]])
    inp = _inputs(y, classes, sparsities=(0, 50, 90), seeds=1, n_boot=30)
    rows = _by(pd.DataFrame(pc.forgetting_rows(inp, "m", rel, np.repeat(rel[None], 30, 0))))
    assert rows["F2"]["verdict"] == pc.CANNOT and "95% sparsity" in rows["F2"]["reason"]
    assert "one seed" in rows["F1"]["interval_over"]
    assert rows["F1"]["verdict"] in pc.VERDICTS


def test_sentences_give_the_study_value_beside_the_paper():
    row = {"finding": "F1", "verdict": pc.NOT_SHOWN, "value": -0.2377, "lo": -0.455,
           "hi": 0.176, "n": 15, "reason": ""}
    s = pct.sentence(row)
    assert s == ("The paper found rarer classes are forgotten earlier: first 20%-drop "
                 "sparsity rises with log train frequency (r = 0.64, NIH-CXR-LT). In this "
                 "study: not shown (r = −0.24, 95% CI [−0.46, 0.18], n = 15).")
    rows = pd.DataFrame([{"finding": f, "verdict": v} for f, v in
                         [("F1", pc.NOT_SHOWN), ("F2", pc.HOLDS), ("F3", pc.NOT_SHOWN),
                          ("F5", pc.HOLDS), ("F7", pc.CANNOT)]])
    assert pct.summary_sentence(rows, "l1") == (
        "In this study (l1), of the paper's 5 findings: F2 and F5 hold; F1 and F3 are not "
        "shown; F7 cannot be computed.")


# ----------------------------------------------------------------------------- CLI
def test_cli_on_an_analysed_study(tmp_path, capsys):
    import json

    from core.analysis import main_analyze
    from core.cli import main as cli_main
    from tests.analysis.conftest import make_study

    root = tmp_path / "s"
    make_study(root)
    main_analyze(SimpleNamespace(study=str(root)))
    capsys.readouterr()
    assert cli_main(["paper-check", str(root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["finding"] for r in out["rows"]] == list(VALUES)
    for r in out["rows"]:
        assert set(("value", "lo", "hi", "n", "verdict")) <= set(r)
        if r["verdict"] != pc.CANNOT:
            assert r["verdict"] == pc.verdict(r["paper_sign"], r["lo"], r["hi"])
    assert cli_main(["paper-check", str(root), "--method", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: method 'nope'") and err.count("\n") == 1
    (root / "analysis" / "paper_check.parquet").write_bytes(b"x")     # tampered
    assert cli_main(["paper-check", str(root)]) == 1
    assert "does not verify" in capsys.readouterr().err


def test_cli_refuses_a_study_analysed_before_the_check(tmp_path, capsys):
    from core import store
    from core.analysis import main_analyze
    from core.cli import main as cli_main
    from tests.analysis.conftest import make_study

    root = tmp_path / "s"
    make_study(root)
    main_analyze(SimpleNamespace(study=str(root)))
    p = store.StudyPaths(root).paper_check
    p.unlink()
    manifest = store.read_json(store.StudyPaths(root).manifest)
    manifest["files"] = {k: v for k, v in manifest["files"].items()
                         if not k.endswith("paper_check.parquet")}
    store.write_json(store.StudyPaths(root).manifest, manifest)
    capsys.readouterr()
    rc = cli_main(["paper-check", str(root)])
    err = capsys.readouterr().err
    assert rc in (1, 2) and err.startswith("error:")
    assert err.count("\n") == 1 or "does not verify" in err


def test_cli_recomputes_f7_from_reader_answers_given_after_the_analysis(tmp_path, capsys,
                                                                        monkeypatch):
    """A real study has no ground truth: F7 first needs reader answers; once the reader
    database has some, paper-check computes F7 from them on the analysis's own draws."""
    import json

    from core import store
    from core.analysis import main_analyze
    from core.cli import main as cli_main
    from tests.analysis.conftest import make_study

    root = tmp_path / "s"
    make_study(root, groundtruth=False)
    main_analyze(SimpleNamespace(study=str(root)))
    capsys.readouterr()
    assert cli_main(["paper-check", str(root), "--json"]) == 0
    f7 = json.loads(capsys.readouterr().out)["rows"][6]
    assert f7["verdict_text"].startswith("cannot be computed: needs reader-study answers")
    answers = pd.DataFrame({"reader": ["a"] * 6 + ["b"] * 6, "row": list(range(6)) * 2,
                            "is_pie": [True, True, True, False, False, False] * 2,
                            "quality": [1, 2, 2, 4, 5, 4, 2, 1, 2, 5, 4, 4],
                            "agree": [0, 0, 1, 1, 1, 1] * 2, "method": "l1_global"})
    store.StudyPaths(root).reader_db.parent.mkdir()
    store.StudyPaths(root).reader_db.write_bytes(b"")      # unmanifested, like a real one
    monkeypatch.setattr(pct, "reader_answers", lambda r: (answers, ""))
    assert cli_main(["paper-check", str(root), "--json"]) == 0
    f7 = json.loads(capsys.readouterr().out)["rows"][6]
    assert f7["value"] == pytest.approx(10 / 6 - 26 / 6)
    assert f7["value2"] == pytest.approx(4 / 6 - 0.0)
    assert f7["verdict"] == pc.verdict(-1, f7["lo"], f7["hi"]) and f7["n_boot"] > 0
    assert "reader study: 12 answers on 6 images by 2 reader(s)" in f7["note"]


# ----------------------------------------------------------------------------- edges
# every 0/0 of an empty group or a constant x is expected: the functions must not warn
@pytest.mark.filterwarnings("error")
def test_slope_rows_are_independent_and_equal_scipy():
    x = np.array([[0.0, 0.1, 0.2, 0.3], [5.0, 7.0, 8.0, 20.0], [1.0, 2.0, 3.0, 4.0],
                  [2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 4.0]])
    y = np.array([[1.0, 1.3, 1.1, 1.9], [-1.0, 4.0, 2.0, 9.0], [np.nan, 2.0, 1.0, 7.0],
                  [1.0, 2.0, 3.0, 4.0], [1.0, np.nan, np.nan, 4.0]])
    got = pcs.slope_reps(x, y)
    got32 = pcs.slope_reps(x.astype(np.float32), y.astype(np.float32))
    for b in range(3):
        ok = np.isfinite(y[b])
        ref = stats.linregress(x[b, ok], y[b, ok]).slope
        assert got[b] == pytest.approx(ref, rel=1e-12)
        ref32 = stats.linregress(x[b, ok].astype(np.float32).astype(np.float64),
                                 y[b, ok].astype(np.float32).astype(np.float64)).slope
        assert got32[b] == pytest.approx(ref32, rel=1e-12)   # float32 in, float64 maths
    assert np.isnan(got[3]) and np.isnan(got[4])      # no spread in x; only 2 points


@pytest.mark.filterwarnings("error")
def test_group_statistics_with_one_image_an_empty_group_and_int_masks():
    # images: 0 PIE (3 findings), 1-3 non-PIE; draw 0 all once, draw 1 no PIE at all
    counts = np.array([3, 0, 6, 1])
    pie = np.array([1, 0, 0, 0])                      # an int 0/1 mask, as read from a table
    w = np.array([[1, 0], [1, 2], [1, 1], [1, 0]], dtype=np.float32)
    values = np.array([0.0, -1.0, np.nan, -3.0])      # one NaN value, none positive
    y = np.array([[1.0, 0.0], [0.0, np.nan], [1.0, 0.0], [0.0, 0.0]])
    diff, ratio = pcs.findings_reps(counts, pie, w)
    md = pcs.mean_diff_reps(values, pie, w)
    cr = pcs.class_ratio_reps(y, pie, w)
    # draw 0: PIE mean 3, non-PIE mean (0 + 6 + 1)/3
    assert diff[0] == pytest.approx(3 - 7 / 3) and np.isnan(diff[1])
    assert diff.dtype == np.float64
    # bins 0..4 ("4+" holds the 6): PIE prevalence (0,0,0,1,0), non-PIE (1/3,1/3,0,0,1/3)
    np.testing.assert_array_equal(ratio[0], [0.0, 0.0, np.nan, np.nan, 0.0])
    assert np.isnan(ratio[1]).all()
    # values: PIE mean 0, non-PIE mean (-1 - 3)/2 (the NaN left out)
    assert md[0] == pytest.approx(2.0) and np.isnan(md[1]) and md.dtype == np.float64
    # class 0: PIE prevalence 1/1, non-PIE 1/3 → 3; class 1: non-PIE prevalence 0 → NaN,
    # even though the PIE prevalence is 0/1 (not 0/0)
    assert cr[0, 0] == pytest.approx(3.0) and np.isnan(cr[0, 1])
    assert np.isnan(cr[1, 0])                         # draw 1: no labelled PIE image
    assert np.isnan(cr[1, 1])


@pytest.mark.filterwarnings("error")
def test_a_ratio_with_pies_but_no_non_pie_positive_is_nan_not_infinite():
    y = np.array([[1.0], [1.0], [0.0], [0.0]])
    pie = np.array([True, True, False, False])
    cr = pcs.class_ratio_reps(y, pie, np.ones((4, 1), dtype=np.float32))
    assert np.isnan(cr[0, 0])


@pytest.mark.filterwarnings("error")
def test_corr_reps_of_float32_rows_no_columns_and_a_bad_shape():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3, 9)).astype(np.float32)
    y = (x + rng.normal(size=(3, 9))).astype(np.float32)
    r, rho = pcs.corr_reps(x, y)
    for b in range(3):                                 # float32 in, float64 maths
        x64, y64 = x[b].astype(np.float64), y[b].astype(np.float64)
        assert r[b] == pytest.approx(stats.pearsonr(x64, y64)[0], rel=1e-12)
        assert rho[b] == pytest.approx(stats.spearmanr(x64, y64)[0], rel=1e-12)
    r, rho = pcs.corr_reps(np.empty((4, 0)), np.empty((4, 0)))
    assert r.shape == rho.shape == (4,) and np.isnan(r).all() and np.isnan(rho).all()
    with pytest.raises(ValueError, match=r"need \[B, P\] arrays, got \(5,\)"):
        pcs.corr_reps(np.ones(5), np.ones(5))


def test_class_level_reps_defaults_other_drops_and_a_grid_without_95():
    # one replicate, one class: −20.5 % at 50 (past the default 20 %), −30 % at 95, −9 % at 96
    reps = np.array([[[0.0], [-0.05], [-0.205], [-0.3], [-0.09]]], dtype=np.float32)
    sp = [0, 1, 50, 95, 96]
    first, at = pcs.class_level_reps(reps, sp)
    assert first.tolist() == [[50.0]] and at.dtype == np.float64
    assert at.tolist() == [[np.float64(np.float32(-0.3))]]
    first4, _ = pcs.class_level_reps(reps, sp, drop_percent=4)
    assert first4.tolist() == [[1.0]]
    _, at96 = pcs.class_level_reps(reps, sp, at=96)
    assert at96.tolist() == [[np.float64(np.float32(-0.09))]]
    first_no95, at_no95 = pcs.class_level_reps(reps[:, :3], sp[:3])
    assert first_no95.tolist() == [[50.0]] and np.isnan(at_no95).all()
    # FCD over every sparsity above 0, the 1 % one included; float64 out of float32 in
    fcd = pcs.fcd_reps(np.concatenate([reps, np.zeros_like(reps)], axis=2), sp)
    expected = np.sqrt(sum(float(v) ** 2 for v in reps[0, 1:, 0]))
    assert fcd.dtype == np.float64 and fcd[0, 0] == pytest.approx(expected, rel=1e-12)


def test_verdict_text_and_the_empty_table():
    assert pc.verdict_text({"verdict": pc.HOLDS, "reason": ""}) == "holds"
    assert pc.verdict_text({"verdict": pc.CANNOT, "reason": "2 classes"}) == \
        "cannot be computed: 2 classes"
    assert pc.verdict_text({"verdict": pc.CANNOT, "reason": ""}) == "cannot be computed"
    assert pc.verdict_text({"verdict": pc.NOT_SHOWN, "reason": "odd"}) == "not shown"
    empty = pc.empty_table()
    assert len(empty) == 0 and list(empty.columns) == pc.COLUMNS


def test_check_method_names_the_method_and_uses_the_replicates():
    rng = np.random.default_rng(2)
    y = (rng.random((60, 5)) < 0.4).astype(float)
    classes = [f"c{j}" for j in range(5)]
    rel = np.array([[0.0] * 5, [-0.1, -0.15, -0.3, -0.25, -0.5], [-0.2, -0.3, -0.5, -0.6, -0.9],
                    [-0.3, -0.35, -0.6, -0.7, -0.95]])
    reps = rel[None] + rng.normal(scale=0.02, size=(200, 4, 5))
    reps[:, 0] = 0.0
    df = pc.check_method(_inputs(y, classes), "magnitude", rel, reps, rng.random(60) < 0.2)
    assert (df["method"] == "magnitude").all()
    f14 = df[df["finding"].isin(["F1", "F2", "F3", "F4"])]
    assert (f14["n_boot"] == 200).all() and np.isfinite(f14[["lo", "hi"]].to_numpy()).all()


@pytest.mark.filterwarnings("error")
def test_groups_of_one_image_and_pairs_with_a_union_of_one_or_none():
    pie, w = np.array([True, False]), np.ones((2, 1), dtype=np.float32)
    diff, ratio = pcs.findings_reps(np.array([2, 5]), pie, w)
    assert diff.tolist() == [-3.0]
    np.testing.assert_array_equal(ratio[0], [np.nan, np.nan, np.nan, np.nan, 0.0])
    assert pcs.mean_diff_reps(np.array([0.5, 0.25]), pie, w).tolist() == [0.25]
    assert pcs.class_ratio_reps(np.array([[1.0], [1.0]]), pie, w).tolist() == [[1.0]]
    # class 0 in one image, classes 1 and 2 in none: IoU(0, 1) = 0/1, IoU(1, 2) = 0/0
    x = pcs.pair_x_reps(np.diag([1.0, 0.0, 0.0])[None])
    assert x["iou4"][0, :2].tolist() == [0.0, 0.0] and np.isnan(x["iou4"][0, 2])


def _twelve_images():
    """4 PIEs with 1-4 findings, 8 non-PIEs with 0-3 findings twice (hand-worked below)."""
    classes = ["No Finding", "A", "B", "C", "D"]
    counts = [1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2, 3]
    y = np.zeros((12, 5))
    for i, k in enumerate(counts):
        y[i, 0] = k == 0
        y[i, 1:1 + k] = 1
    return classes, y, np.array([True] * 4 + [False] * 8)


def test_f5_slope_of_the_ratio_per_finding_by_hand_with_its_interval_and_texts():
    classes, y, pie = _twelve_images()
    rows = _by(pd.DataFrame(pc.pie_rows(_inputs(y, classes), "m", pie)))
    f5 = rows["F5"]
    # mean findings 2.5 (PIEs) − 1.5 (non-PIEs); ratio per bin 0/.25, .25/.25 ×3, NaN (4+):
    # slope of (0, 1, 1, 1) on bins 0..3 = 1.5 / 5
    assert f5["value"] == pytest.approx(1.0) and f5["value2"] == pytest.approx(0.3)
    assert f5["n"] == 12 and f5["n_boot"] > 100 and f5["method"] == "m"
    assert np.isfinite([f5["lo"], f5["hi"], f5["lo2"], f5["hi2"]]).all()
    assert f5["lo"] < 1.0 < f5["hi"] and f5["lo2"] < 0.3 < f5["hi2"]
    assert (f5["interval_over"], f5["note"], f5["reason"]) == (
        "images (PIE set as analysed)", "4 PIEs, 8 non-PIEs", "")
    assert rows["F6"]["method"] == "m" and np.isfinite(rows["F6"]["lo"])
    assert rows["F6"]["interval_over"] == "images (PIE set as analysed)"


@pytest.mark.parametrize("mask, reason", [
    (None, "the study has no PIE table"),
    (np.zeros(12, bool), "no PIEs (bottom 5% of 12 images at 90% sparsity is 0 images)"),
    (np.ones(12, bool), "every image is a PIE: nothing to compare them with"),
])
def test_f5_f6_without_a_usable_pie_set_say_why(mask, reason):
    classes, y, _ = _twelve_images()
    rows = pc.pie_rows(_inputs(y, classes), "m", mask)
    assert [r["finding"] for r in rows] == ["F5", "F6"]
    for r in rows:
        assert (r["method"], r["n"], r["reason"], r["verdict"], r["verdict2"]) == (
            "m", 0, reason, pc.CANNOT, pc.CANNOT)
        assert r["interval_over"] == "images (PIE set as analysed)"
        assert r["statistic2"] == VALUES[r["finding"]][1].statistic


def test_f7_ground_truth_and_reader_rows_carry_intervals_and_say_what_they_are():
    classes, y, pie = _twelve_images()
    gt = pd.DataFrame({"quality": [0.2, 0.4, 0.3, 0.1] + [0.8] * 8,
                       "label_noise": [1.0, 1.0, 0.0, 0.0] + [0.0] * 8})
    row = pc.f7_row(_inputs(y, classes, gt=gt), "m", pie)
    assert row["value"] == pytest.approx(0.25 - 0.8) and row["value2"] == pytest.approx(0.5)
    assert row["n"] == 12 and row["method"] == "m" and row["n_boot"] > 100
    assert np.isfinite([row["lo"], row["hi"], row["lo2"], row["hi2"]]).all()
    assert row["interval_over"] == "images (PIE set as analysed)"
    assert row["note"] == ("dataset ground truth (quality 0 poor – 1 excellent; label noise = "
                           "the rendered findings differ from the label vector)")
    only_noise = pc.f7_row(_inputs(y, classes, gt=gt[["label_noise"]]), "m", pie)
    assert only_noise["reason"] == "the dataset declares no quality ground truth"
    assert only_noise["value2"] == pytest.approx(0.5) and only_noise["n"] == 12
    no_pie_value = gt.assign(quality=[np.nan] * 4 + [0.8] * 8)
    row = pc.f7_row(_inputs(y, classes, gt=no_pie_value), "m", pie)
    assert row["reason"] == "no PIE or no non-PIE has a quality value" and row["n"] == 12
    # reader answers: PIE qualities 2, 3, 4 and non-PIE 4, 5, 3 (see the test above)
    classes3 = ["No Finding", "A", "B"]
    y3 = np.array([[0, 1, 0], [0, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=float)
    answers = pd.DataFrame({"reader": ["r1", "r1", "r2", "r2", "r1", "r2"],
                            "row": [0, 1, 0, 2, 3, 3], "is_pie": [1, 1, 1, 0, 0, 0],
                            "quality": [2, 3, 4, 4, 5, 3], "agree": [0, 1, 0, 1, 1, 1],
                            "method": "m"})
    row = pc.f7_row(_inputs(y3, classes3, answers=answers), "m",
                    np.array([True, True, False, False]))
    assert row["method"] == "m" and row["n_boot"] > 100
    assert np.isfinite([row["lo"], row["hi"], row["lo2"], row["hi2"]]).all()
    assert row["interval_over"] == "images (each image's answers resampled together)"
    assert row["note"] == ("reader study: 6 answers on 4 images by 2 reader(s); quality 1–5, "
                           "disagreement = not fully agreeing with the label")
    one_sided = answers.assign(is_pie=1)                          # answers on PIEs only
    row = pc.f7_row(_inputs(y3, classes3, answers=one_sided), "m",
                    np.array([True, True, False, False]))
    assert row["reason"] == "the reader study has no answers for PIEs or none for non-PIEs"
