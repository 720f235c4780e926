"""core.analysis.forgetting: the definitions pinned at their boundaries, by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.analysis import forgetting as fg
from core.analysis.over_seeds import metric_cube, summary_table


def test_first_drop_at_exactly_minus_drop_is_not_a_drop():
    # AP 0.625 → 0.5 is exactly −20 % (both exact in binary): "below −20 %" is strict, so
    # the class never drops; 0.625 → 0.49 (−21.6 %) drops at that sparsity.
    ap = np.array([[[0.625, 0.625], [0.5, 0.49]]])          # 1 seed, sparsities 0 and 50
    rel = fg.forgetting_curves(ap).median
    assert rel[1, 0] == -0.2
    first = fg.first_drop_sparsity(rel, [0, 50], 20)
    assert np.isnan(first[0]) and first[1] == 50


@pytest.mark.parametrize("drop", [10, 20, 50])
def test_first_drop_boundary_for_other_thresholds(drop):
    # The curve sits exactly on −drop at 50 %, just past it (1e-12 lower) at 90 %.
    rel = np.array([0.0, -drop / 100, -drop / 100 - 1e-12])
    assert fg.first_drop_sparsity(rel, [0, 50, 90], drop) == 90
    assert np.isnan(fg.first_drop_sparsity(rel[:2], [0, 50], drop))


def test_first_drop_default_threshold_and_grid_edges():
    # default drop_percent is the paper's 20: −20.5 % drops, at sparsity 1 % already
    rel = np.array([-0.9, -0.205, -0.5])        # the dense point never counts, whatever it is
    assert fg.first_drop_sparsity(rel, [0, 1, 50]) == 1
    assert fg.first_drop_sparsity(rel, [0, 1, 50], 21) == 50
    with pytest.raises(ValueError, match="3 curve points for 2 sparsities"):
        fg.first_drop_sparsity(rel, [0, 50])
    out = fg.first_drop_sparsity(np.array([[0, 0], [-0.3, 0]], dtype=np.float32), [0, 50])
    assert out.dtype == np.float64 and out[0] == 50 and np.isnan(out[1])


def test_relative_change_is_float64_and_silent_on_undefined(recwarn):
    ap = np.array([[0.3, 0.0, 0.0], [0.2, 0.0, 0.1]], dtype=np.float32)   # [S, C]
    rel = fg.relative_change(ap)
    assert rel.dtype == np.float64
    # computed in float64 from the float32 values, not in float32
    want = (np.float64(np.float32(0.2)) - np.float64(np.float32(0.3))) / np.float64(
        np.float32(0.3))
    assert rel[1, 0] == want and rel[0, 0] == 0
    assert np.isnan(rel[:, 1]).all() and np.isnan(rel[1, 2])     # 0/0 and x/0: undefined
    with np.errstate(all="raise"):
        fg.relative_change(ap)                                   # no FloatingPointError
    assert not recwarn.list


def test_summarise_over_seeds_counts_seeds_and_keeps_float64():
    per_seed = np.array([[[0.1, np.nan]], [[0.2, np.nan]], [[0.4, 0.5]]], dtype=np.float16)
    c = fg.summarise_over_seeds(per_seed)
    assert c.n_seeds.tolist() == [[3, 1]]
    assert c.median.dtype == np.float64
    assert c.median[0, 0] == np.float64(np.float16(0.2))
    assert c.q25[0, 0] == pytest.approx((np.float64(np.float16(0.1))
                                         + np.float64(np.float16(0.2))) / 2, abs=0)


def test_rel_change_at_default_95_and_missing_sparsity():
    rel = np.array([[0.0, 0.0], [-0.1, -0.2], [-0.3, -0.4]], dtype=np.float32)
    at95 = fg.rel_change_at(rel, [0, 90, 95])
    assert at95.dtype == np.float64 and at95.tolist() == [np.float64(np.float32(-0.3)),
                                                           np.float64(np.float32(-0.4))]
    missing = fg.rel_change_at(rel, [0, 90, 96])
    assert missing.shape == (2,) and np.isnan(missing).all()


def test_status_reason_and_text_by_hand():
    first = [45.0, np.nan, np.nan, np.nan]
    dense = [0.5, 0.4, np.nan, np.nan]
    eval_pos = [10, 3, 0, 7]
    status = fg.first_drop_status(first, dense)
    assert status.tolist() == [fg.DROPS, fg.NEVER, fg.UNDEFINED, fg.UNDEFINED]
    assert fg.undefined_reason(eval_pos).tolist() == [fg.AP_UNDEFINED, fg.AP_UNDEFINED,
                                                      fg.NO_POSITIVE, fg.AP_UNDEFINED]
    assert fg.undefined_reason([1]).tolist() == [fg.AP_UNDEFINED]
    assert fg.first_drop_text(status, first, eval_pos) == [
        "45%", "never", fg.NO_POSITIVE, fg.AP_UNDEFINED]
    with pytest.raises(ValueError):                  # lengths must agree (zip strict)
        fg.first_drop_text(status, first[:3], eval_pos)


def test_first_drop_compares_float32_curves_in_float64():
    # float32(−0.2) is −0.20000000298…: strictly below −20 % once read exactly (in float32 it
    # would tie with the rounded threshold and not count)
    rel = np.array([0.0, -0.2], dtype=np.float32)
    assert fg.first_drop_sparsity(rel, [0, 50]) == 50


def test_status_treats_a_missing_value_as_nan():
    status = fg.first_drop_status([None, 30.0, None], [0.5, None, None])
    assert status.tolist() == [fg.NEVER, fg.DROPS, fg.UNDEFINED]


def test_metric_cube_places_each_row_by_seed_sparsity_and_class():
    rows = [("m", 1, 0, "B", 0.9, 0.8), ("m", 1, 50, "A", 0.3, 0.4),
            ("m", 7, 0, "A", 0.5, 0.6), ("other", 1, 0, "A", 0.1, 0.1),
            ("m", 1, 70, "A", 0.2, 0.2),          # sparsity not in the grid: left out
            ("m", 1, 0, "Z", 0.2, 0.2)]           # class not asked for: left out
    per_class = pd.DataFrame(rows, columns=["method", "seed", "sparsity", "class", "ap", "auc"])
    cube = metric_cube(per_class, "m", [7, 1, 99], [0, 50], ["A", "B"])
    assert cube.shape == (3, 2, 2) and cube.dtype == np.float64
    expected = np.full((3, 2, 2), np.nan)
    expected[0, 0, 0] = 0.5                       # seed 7 is the first axis' first entry
    expected[1, 0, 1], expected[1, 1, 0] = 0.9, 0.3
    np.testing.assert_array_equal(cube, expected)
    auc = metric_cube(per_class, "m", [1], [0, 50], ["A", "B"], metric="auc")
    np.testing.assert_array_equal(auc, [[[np.nan, 0.8], [0.4, np.nan]]])


def test_summary_table_sorting_extremes_and_an_empty_table():
    t = pd.DataFrame({"seed": [0, 1, 0, 1, 2], "k": [9, 9, 3, 3, 3],
                      "v": [0.5, 0.7, 0.1, np.nan, 0.3]})
    first_seen = summary_table(t, "v", ["k"], extremes=True)
    assert first_seen["k"].tolist() == [9, 3]
    assert first_seen["median"].tolist() == [0.6, 0.2]
    assert first_seen["min"].tolist() == [0.5, 0.1] and first_seen["max"].tolist() == [0.7, 0.3]
    assert first_seen["n_seeds"].tolist() == [2, 2] and first_seen["n_seeds"].dtype == np.int64
    assert list(first_seen.columns) == ["k", "median", "q25", "q75", "min", "max", "n_seeds"]
    by_key = summary_table(t, "v", ["k"], sort=True)
    assert by_key["k"].tolist() == [3, 9] and by_key["median"].tolist() == [0.2, 0.6]
    assert by_key["q75"].tolist() == [0.25, pytest.approx(0.65)]
    none = summary_table(t, "v", ["k"], seeds=[5], extremes=True)
    assert len(none) == 0 and none["n_seeds"].dtype == np.int64
    assert list(none.columns) == ["k", "median", "q25", "q75", "min", "max", "n_seeds"]


def test_a_cell_without_any_finite_value_is_nan_silently():
    import warnings
    t = pd.DataFrame({"seed": [0, 1, 0, 1], "k": [1, 1, 2, 2], "v": [0.2, 0.4, np.nan, np.nan]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # the all-NaN cell is expected: no warning
        out = summary_table(t, "v", ["k"], extremes=True)
        s = fg.summarise_over_seeds([[0.2, np.nan], [0.4, np.nan]])
    assert out["median"].tolist()[0] == pytest.approx(0.3) and np.isnan(out["median"][1])
    assert np.isnan(out["min"][1]) and np.isnan(out["max"][1]) and out["min"][0] == 0.2
    assert out["n_seeds"].tolist() == [2, 0]
    assert np.isnan(s.median[1]) and np.isnan(s.q25[1]) and s.n_seeds.tolist() == [2, 0]
