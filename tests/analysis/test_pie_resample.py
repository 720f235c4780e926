"""F5–F7 intervals that resample seeds: each replicate's PIE set re-cut from its drawn seeds'
ensemble (core.analysis.pie_resample), checked by hand and against scipy."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.analysis import paper_check as pc
from core.analysis import paper_check_stats as pcs
from core.analysis import pie_resample as pr
from core.analysis import pie_stats, pies
from core.analysis import uncertainty as unc
from core.data.stats import findings_per_image

DENSE = [0.125, 0.25, 0.5]


def _hand_study():
    """2 seeds (A, B), 10 images, 3 classes; dense ranks (1, 2, 3) in both seeds.

    Pruned, per image (ranks → Spearman with the dense ranks):
      0: A (3, 2, 1) → −1;   B (1, 2, 3) → 1;   mean A+B (.3125, .25, .5) → (2, 1, 3) → 0.5
      1: A (1, 2, 3) → 1;    B (3, 2, 1) → −1;  mean (.5, .375, .375) → (3, 1.5, 1.5) → −√3/2
      2: A = B (2, 3, 1) → −0.5
      3: A (1, 2, 3) → 1;    B (2, 3, 1) → −0.5; mean (.1875, .375, .3125) → (1, 3, 2) → 0.5
      4–9: A = B = dense → 1
    """
    dense = np.tile(np.array(DENSE, np.float32), (2, 10, 1))
    pruned = dense.copy()
    pruned[0, 0], pruned[1, 0] = [0.5, 0.25, 0.125], [0.125, 0.25, 0.875]
    pruned[0, 1], pruned[1, 1] = [0.125, 0.25, 0.5], [0.875, 0.5, 0.25]
    pruned[:, 2] = [0.25, 0.5, 0.125]
    pruned[1, 3] = [0.25, 0.5, 0.125]
    return dense, pruned


def test_a_replicates_pie_set_by_hand():
    dense, pruned = _hand_study()
    draws = np.array([[0, 0], [1, 1], [0, 1]])       # A twice, B twice, A and B
    counts = pr.seed_multiplicities(draws, 2)
    assert counts.tolist() == [[2, 0], [0, 2], [1, 1]]
    corr = pr.replicate_correlations(dense, pruned, counts)
    ones = [1.0] * 6
    np.testing.assert_allclose(corr[0], [-1, 1, -0.5, 1] + ones)
    np.testing.assert_allclose(corr[1], [1, -1, -0.5, -0.5] + ones)
    np.testing.assert_allclose(corr[2], [0.5, -np.sqrt(3) / 2, -0.5, 0.5] + ones)
    masks = pr.replicate_pies(dense, pruned, draws, 20)      # ⌊20% of 10⌋ = 2 PIEs
    assert [np.flatnonzero(masks[:, b]).tolist() for b in range(3)] == [[0, 2], [1, 2], [1, 2]]
    # 30%: three PIEs; in replicate B-B images 2 and 3 tie at −0.5 and both fit
    masks = pr.replicate_pies(dense, pruned, draws, 30)
    assert np.flatnonzero(masks[:, 1]).tolist() == [1, 2, 3]
    # 25% of 10 = 2: the tie at −0.5 in replicate B-B is broken by row order (image 2)
    assert np.flatnonzero(pr.replicate_pies(dense, pruned, draws, 25)[:, 1]).tolist() == [1, 2]
    # F7 by hand with every image drawn once: quality 0.25, 0.5, 0.75, then 1 × 7
    q = np.array([0.25, 0.5, 0.75] + [1.0] * 7)
    w = np.ones((10, 3), np.float32)
    diff = pr.mean_diff_reps(q, *pr.split_weights(pr.replicate_pies(dense, pruned, draws, 20),
                                                  w))
    # {0, 2}: 0.5 − (0.5 + 7)/8;  {1, 2}: 0.625 − (0.25 + 7)/8
    np.testing.assert_allclose(diff, [0.5 - 0.9375, 0.625 - 0.90625, 0.625 - 0.90625])


def test_all_seeds_once_is_the_analysed_ensemble_bit_for_bit():
    rng = np.random.default_rng(3)
    k, n, c = 4, 300, 7
    dense = rng.random((k, n, c), dtype=np.float32)
    pruned = (dense + rng.random((k, n, c), dtype=np.float32)).astype(np.float32)
    pruned[:, 5] = 0.5                                   # constant: NaN
    point = pies.ensemble_correlations(np.stack([pies.seed_ensemble(list(dense)),
                                                 pies.seed_ensemble(list(pruned))]))[1]
    got = pr.replicate_correlations(dense, pruned, np.ones((1, k), np.int64))[0]
    np.testing.assert_array_equal(got.astype(np.float32), point)
    assert np.isnan(got[5])


def test_a_nan_reaches_only_the_replicates_that_draw_its_seed():
    rng = np.random.default_rng(4)
    dense = rng.random((3, 20, 5), dtype=np.float32)
    pruned = rng.random((3, 20, 5), dtype=np.float32)
    pruned[2, 7, 1] = np.nan
    corr = pr.replicate_correlations(dense, pruned, np.array([[1, 2, 0], [0, 0, 3], [1, 1, 1]]))
    assert not np.isnan(corr[0]).any()
    assert np.flatnonzero(np.isnan(corr[1])).tolist() == [7]
    assert np.flatnonzero(np.isnan(corr[2])).tolist() == [7]


def test_bottom_masks_is_select_bottom_row_by_row_with_ties_and_nan():
    rng = np.random.default_rng(5)
    for _ in range(100):
        corr = rng.integers(0, 6, (4, 37)).astype(float)
        corr[corr == 5] = np.nan
        corr[3, 2:] = np.nan                             # fewer finite than the cut
        pct = float(rng.choice([1, 5, 10, 25, 50, 90]))
        got = pr.bottom_masks(corr, pct)
        for b in range(4):
            np.testing.assert_array_equal(got[b], pies.select_bottom(corr[b], pct))


def test_bad_shapes_and_draws_are_refused():
    d = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="outside 0"):
        pr.seed_multiplicities(np.array([[0, 2]]), 2)
    with pytest.raises(ValueError, match="one shape"):
        pr.replicate_correlations(d, d[:, :2], np.ones((1, 2), int))
    with pytest.raises(ValueError, match="counts"):
        pr.replicate_correlations(d, d, np.ones((1, 3), int))
    with pytest.raises(ValueError, match="at least one seed"):
        pr.replicate_correlations(d, d, np.zeros((1, 2), int))
    with pytest.raises(ValueError, match="outside"):
        pr.bottom_masks(np.zeros((1, 3)), 100)
    with pytest.raises(ValueError, match="same bootstrap plan"):
        pr.pie_weights(np.ones((3, 4), np.float32), np.ones((3, 5), bool))


# ----------------------------------------------------------------------------- the rows
def _study(n=60, k=3, n_classes=5, n_boot=40, identical=False, seed=0):
    """Dyadic probabilities (multiples of 1/16): every ensemble sum is exact, and ties occur."""
    rng = np.random.default_rng(seed)
    classes = ["No Finding"] + [f"c{j}" for j in range(1, n_classes)]
    y = (rng.random((n, n_classes)) < 0.35).astype(float)
    y[:, 0] = y[:, 1:].sum(axis=1) == 0
    dense = (rng.integers(1, 16, (k, n, n_classes)) / 16).astype(np.float32)
    pruned = (rng.integers(1, 16, (k, n, n_classes)) / 16).astype(np.float32)
    if identical:
        dense[:], pruned[:] = dense[0], pruned[0]
    plan = unc.make_plan(n, k, n_boot, rng_seed=1)
    gt = pd.DataFrame({"quality": rng.integers(0, 9, n) / 8,
                       "label_noise": (rng.random(n) < 0.2).astype(float)})
    y0 = np.nan_to_num(y)
    inp = pc.StudyInputs(classes=classes, sparsities=[0, 50, 90], log_freq=np.log(
        np.arange(n_classes, 0, -1) * 10.0), y=y, cooc=y0.T @ y0, weights=plan.weights,
        level=0.95, n_seeds=k, pie_sparsity=90, pie_percentile=20.0, ground_truth=gt)
    ens = np.stack([pies.seed_ensemble(list(dense)), pies.seed_ensemble(list(pruned))])
    pie = pies.pie_cut(pies.ensemble_correlations(ens)[1], 20.0).mask
    return inp, plan, dense, pruned, pie


def _scipy_replicate(inp, plan, dense, pruned, b):
    """Replicate b from scratch: its seeds' ensemble, scipy Spearman per image, the cut,
    then the statistics on the explicitly resampled images."""
    m = np.bincount(plan.seed_draws[b], minlength=dense.shape[0]).astype(np.float64)
    ens_d = np.tensordot(m, dense.astype(np.float64), axes=1) / m.sum()
    ens_p = np.tensordot(m, pruned.astype(np.float64), axes=1) / m.sum()
    corr = np.full(len(ens_d), np.nan)
    for i in range(len(ens_d)):
        if np.ptp(ens_d[i]) > 0 and np.ptp(ens_p[i]) > 0:
            corr[i] = stats.spearmanr(ens_d[i], ens_p[i])[0]
    pie_b = pies.select_bottom(corr, inp.pie_percentile)
    rows = np.repeat(np.arange(len(pie_b)), plan.weights[:, b])   # the drawn images
    pie_r, y_r = pie_b[rows], inp.y[rows]
    counts = findings_per_image(y_r, inp.classes)
    f5 = counts[pie_r].mean() - counts[~pie_r].mean()
    ratio = pie_stats.class_ratio(y_r, inp.classes, pie_r)["ratio"].to_numpy(np.float64)
    ok = np.isfinite(ratio)
    f6 = stats.spearmanr(ratio[ok], inp.log_freq[ok])[0] if ok.sum() >= 3 else np.nan
    q = inp.ground_truth["quality"].to_numpy()[rows]
    f7 = q[pie_r].mean() - q[~pie_r].mean()
    return pie_b, f5, f6, f7


def test_f5_f6_f7_replicates_equal_a_scipy_recomputation_on_each_replicates_ensemble():
    inp, plan, dense, pruned, pie = _study()
    pie_reps = pr.replicate_pies(dense, pruned, plan.seed_draws, inp.pie_percentile)
    direct = [_scipy_replicate(inp, plan, dense, pruned, b) for b in range(plan.n_boot)]
    np.testing.assert_array_equal(pie_reps, np.stack([d[0] for d in direct], axis=1))
    assert (pie_reps != pie[:, None]).any()            # the seeds do move the PIE set
    split = pr.pie_weights(inp.w32, pie_reps)
    f5, _ = pr.findings_reps(findings_per_image(inp.y, inp.classes), *split)
    _, f6 = pcs.corr_reps(pr.class_ratio_reps(inp.y, *split), inp.log_freq[None, :])
    f7 = pr.mean_diff_reps(inp.ground_truth["quality"].to_numpy(), *split)
    for got, k in ((f5, 1), (f6, 2), (f7, 3)):
        np.testing.assert_allclose(got, [d[k] for d in direct], rtol=1e-12, atol=1e-12)
    # … and the rows' intervals are those replicates' percentiles
    rows = {r["finding"]: r for r in pc.pie_rows(inp, "m", pie, pie_reps)}
    rows["F7"] = pc.f7_row(inp, "m", pie, pie_reps)
    for f, k in (("F5", 1), ("F6", 2), ("F7", 3)):
        lo, hi, n_boot = unc.interval(np.array([d[k] for d in direct]), 0.95)
        assert (rows[f]["lo"], rows[f]["hi"], rows[f]["n_boot"]) == pytest.approx(
            (float(lo), float(hi), int(n_boot)), abs=1e-12)
        assert rows[f]["interval_over"] == pr.PIES_RECUT
    # the point values stay the analysed PIE set's
    plain = {r["finding"]: r for r in pc.pie_rows(inp, "m", pie)}
    assert rows["F5"]["value"] == plain["F5"]["value"]
    assert rows["F6"]["value"] == plain["F6"]["value"]
    assert rows["F7"]["value"] == pc.f7_row(inp, "m", pie)["value"]


def test_identical_seeds_change_nothing_relative_to_images_only():
    inp, plan, dense, pruned, pie = _study(identical=True, seed=7)
    pie_reps = pr.replicate_pies(dense, pruned, plan.seed_draws, inp.pie_percentile)
    assert (pie_reps == pie[:, None]).all()
    seeds = pd.DataFrame(pc.pie_rows(inp, "m", pie, pie_reps) +
                         [pc.f7_row(inp, "m", pie, pie_reps)])
    images = pd.DataFrame(pc.pie_rows(inp, "m", pie) + [pc.f7_row(inp, "m", pie)])
    cols = ["value", "lo", "hi", "n_boot", "verdict", "value2", "lo2", "hi2", "verdict2"]
    pd.testing.assert_frame_equal(seeds[cols], images[cols])
    assert set(seeds["interval_over"]) == {pr.PIES_RECUT}
    assert set(images["interval_over"]) == {pr.PIES_AS_ANALYSED}


def test_a_one_seed_study_says_images_only():
    inp, plan, dense, pruned, pie = _study(k=1)
    inp.n_seeds = 1
    rows = pc.pie_rows(inp, "m", pie) + [pc.f7_row(inp, "m", pie)]
    assert [r["interval_over"] for r in rows] == [pr.PIES_ONE_SEED] * 3
    assert all(np.isfinite(r["lo"]) for r in rows)


@pytest.mark.parametrize("seeds, over", [((0, 1, 2), pr.PIES_RECUT), ((0,), pr.PIES_ONE_SEED)])
def test_analyze_stores_what_the_f5_f7_intervals_resample(tmp_path, seeds, over):
    from core.analysis import analyze_study
    from tests.analysis.conftest import make_study

    make_study(tmp_path / "s", seeds=seeds, n_images=80)
    analyze_study(tmp_path / "s")
    table = pd.read_parquet(tmp_path / "s" / "analysis" / "paper_check.parquet")
    rows = table[table["finding"].isin(["F5", "F6", "F7"])]
    assert len(rows) == 3 and (rows["interval_over"] == over).all()
    assert (rows["n_boot"] > 0).all()


def test_check_method_hands_the_replicate_pie_sets_to_f5_f6_f7():
    inp, plan, dense, pruned, pie = _study()
    pie_reps = pr.replicate_pies(dense, pruned, plan.seed_draws, inp.pie_percentile)
    rel = np.zeros((len(inp.sparsities), len(inp.classes)))
    table = pc.check_method(inp, "m", rel, None, pie, pie_reps).set_index("finding")
    want = {r["finding"]: r for r in pc.pie_rows(inp, "m", pie, pie_reps)}
    want["F7"] = pc.f7_row(inp, "m", pie, pie_reps)
    for f in ("F5", "F6", "F7"):
        assert table.loc[f, "interval_over"] == pr.PIES_RECUT
        assert (table.loc[f, "lo"], table.loc[f, "hi"]) == (want[f]["lo"], want[f]["hi"])
    # F7 that cannot be computed (no PIE) still says what its interval would resample
    none = pc.f7_row(inp, "m", np.zeros_like(pie), pie_reps)
    assert none["verdict"] == pc.CANNOT and none["interval_over"] == pr.PIES_RECUT
