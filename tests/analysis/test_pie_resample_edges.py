"""The edges of core.analysis.pie_resample, worked by hand: error texts, empty and one-image
groups, warnings, dtypes, chunking, two classes, tiny probabilities, the findings bins."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from core.analysis import pie_resample as pr
from core.analysis import pies


def _w(*columns):
    """float32 [N, B] multiplicities from one list per replicate."""
    return np.array(columns, dtype=np.float32).T


# ----------------------------------------------------------------------------- refusals
def test_every_refusal_names_what_was_wrong():
    d = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=re.escape(
            "need dense and pruned probabilities [K, N, C] of one shape; got (2, 3, 4) and "
            "(2, 3, 5)")):
        pr.replicate_correlations(d, np.zeros((2, 3, 5)), np.ones((1, 2), np.int64))
    with pytest.raises(ValueError, match=re.escape("seed draws outside 0 … 2")):
        pr.seed_multiplicities(np.array([[0, 3]]), 3)
    with pytest.raises(ValueError, match=re.escape("need counts [B, 2], got (1, 3)")):
        pr.replicate_correlations(d, d, np.ones((1, 3), np.int64))
    with pytest.raises(ValueError, match=re.escape("need [B, N] correlations, got shape (3,)")):
        pr.bottom_masks(np.zeros(3), 10)
    for p in (0, 100):
        with pytest.raises(ValueError, match=re.escape(f"percentile {p} outside (0, 100)")):
            pr.bottom_masks(np.zeros((1, 3)), p)
    with pytest.raises(ValueError, match=re.escape(
            "replicate PIE sets (3, 2) do not match the image draws (3, 1): not the same "
            "bootstrap plan")):
        pr.pie_weights(np.ones((3, 1), np.float32), np.zeros((3, 2), bool))


def test_a_replicate_without_a_seed_is_refused_even_beside_others():
    d = np.random.default_rng(0).random((2, 3, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="^every replicate must draw at least one seed$"):
        pr.replicate_correlations(d, d, np.array([[1, 0], [0, 0]]))
    # one draw of one seed is a replicate: that seed's own correlations
    one = pr.replicate_correlations(d, d[::-1], np.array([[1, 0]]))
    np.testing.assert_array_equal(one[0], pies.rowwise_spearman(d[0], d[1]))


# ----------------------------------------------------------------------------- multiplicities
def test_multiplicities_are_int64_counts():
    m = pr.seed_multiplicities([[2, 2, 0], [1, 1, 1]], 3)
    assert m.dtype == np.int64
    assert m.tolist() == [[1, 0, 2], [0, 3, 0]]


# ----------------------------------------------------------------------------- correlations
def test_two_classes_give_plus_or_minus_one():
    """With two classes every non-constant row has centred ranks ±½ (den = ½): the
    correlation is ±1, never NaN."""
    dense = np.array([[[0.1, 0.9], [0.1, 0.9], [0.5, 0.5]]])
    pruned = np.array([[[0.2, 0.8], [0.8, 0.2], [0.1, 0.9]]])
    got = pr.replicate_correlations(dense, pruned, np.array([[1]]))
    assert got[0, 0] == 1.0 and got[0, 1] == -1.0 and np.isnan(got[0, 2])


def test_tiny_probabilities_keep_their_order():
    """Ensembles start from 0, not from any offset: 1e-30 and 3e-30 stay apart (an offset of
    1 would tie them)."""
    dense = np.array([[[1e-30, 2e-30, 3e-30, 0.5]]], dtype=np.float32)
    pruned = np.array([[[3e-30, 2e-30, 1e-30, 0.5]]], dtype=np.float32)
    got = pr.replicate_correlations(dense, pruned, np.array([[1]]))[0, 0]
    want = pies.rowwise_spearman(dense[0], pruned[0])[0]
    assert got == want == pytest.approx(0.2)   # centred ranks: num 1, sx = sy = 5


def test_probabilities_are_taken_in_float32_as_stored():
    """Scores are float32 on disk: two float64 values that round to one float32 tie."""
    a, b = 0.1 + 1e-12, 0.1 + 2e-12
    assert np.float32(a) == np.float32(b)
    dense = np.array([[[a, b, 0.5]]])
    pruned = np.array([[[0.2, 0.2, 0.5]]])
    got = pr.replicate_correlations(dense, pruned, np.array([[1]]))[0, 0]
    assert got == 1.0   # tied in both: ranks (1.5, 1.5, 3) against themselves


def test_all_ones_equals_rowwise_spearman_bit_for_bit_on_many_rows():
    rng = np.random.default_rng(7)
    dense = rng.random((1, 400, 15)).astype(np.float32)
    pruned = rng.random((1, 400, 15)).astype(np.float32)
    pruned[0, :50] = np.round(pruned[0, :50], 1)          # ties
    got = pr.replicate_correlations(dense, pruned, np.array([[1]]))[0]
    np.testing.assert_array_equal(got, pies.rowwise_spearman(dense[0], pruned[0]))


# ----------------------------------------------------------------------------- the cut
def test_bottom_masks_equal_select_bottom_on_long_rows():
    """Rows long enough that a partition at the wrong index leaves the cut unordered."""
    rng = np.random.default_rng(3)
    corr = rng.random((20, 300))
    corr[:, ::7] = np.round(corr[:, ::7], 1)              # ties
    corr[:, ::11] = np.nan
    for p in (5.0, 10.0, 33.0):
        got = pr.bottom_masks(corr, p)
        for b in range(corr.shape[0]):
            want = pies.select_bottom(corr[b], p)
            np.testing.assert_array_equal(got[b], want)


def test_bottom_masks_with_exactly_n_finite_values_take_them_all():
    corr = np.array([[0.3, np.nan, 0.1, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan,
                      np.nan]])
    assert pies.cut_size(10, 20) == 2
    assert pr.bottom_masks(corr, 20).tolist() == [[True, False, True] + [False] * 7]


def test_replicate_pies_chunks_cover_every_replicate():
    """More replicates than seeds, one replicate per chunk: every column is filled, as with
    one chunk, and the result is bool."""
    rng = np.random.default_rng(1)
    dense = rng.random((2, 40, 5))
    pruned = rng.random((2, 40, 5))
    draws = np.array([[0, 0], [1, 1], [0, 1], [1, 0], [0, 0]])
    whole = pr.replicate_pies(dense, pruned, draws, 10)
    one_by_one = pr.replicate_pies(dense, pruned, draws, 10, chunk=1)
    assert whole.dtype == one_by_one.dtype == bool and whole.shape == (40, 5)
    np.testing.assert_array_equal(whole, one_by_one)
    assert one_by_one.sum(axis=0).tolist() == whole.sum(axis=0).tolist()
    assert whole.sum(axis=0).tolist() == [4] * 5
    assert not np.array_equal(whole[:, 0], whole[:, 1])   # seeds A and B cut differently


# ----------------------------------------------------------------------------- weights
def test_split_weights_of_one_mask_and_of_float64_weights():
    w = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]])     # float64 given
    w_pie, w_non = pr.split_weights(np.array([True, False, True]), w)
    assert w_pie.dtype == w_non.dtype == np.float32
    assert w_pie.tolist() == [[1, 2], [0, 0], [3, 0]]
    assert w_non.tolist() == [[0, 0], [0, 1], [0, 0]]


# ----------------------------------------------------------------------------- statistics
def test_findings_reps_by_hand_with_one_image_groups_and_five_or_more_findings():
    """Images' findings 0, 1, 6, 2, 5; replicate 0: PIE = image 2 alone (weight 1), non-PIEs
    0, 1, 3, 4; replicate 1: no PIE; replicate 2: PIEs 0, 1 (weights 1, 2), non-PIE image 3
    alone. Default bins 0, 1, 2, 3, 4+."""
    counts = np.array([0, 1, 6, 2, 5])
    w_pie = _w([0, 0, 1, 0, 0], [0, 0, 0, 0, 0], [1, 2, 0, 0, 0])
    w_non = _w([1, 1, 0, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diff, ratio = pr.findings_reps(counts, w_pie, w_non)
    assert ratio.shape == (3, 5) and ratio.dtype == np.float64
    assert diff[0] == pytest.approx(6 - (0 + 1 + 2 + 5) / 4)   # one PIE
    assert np.isnan(diff[1])                                   # no PIE
    assert diff[2] == pytest.approx((0 + 2 * 1) / 3 - 2)       # one non-PIE
    # replicate 0: PIE prevalence 1 in bin 4+ (6 findings), non-PIE 1/4 there (5 findings)
    np.testing.assert_array_equal(ratio[0], [0, 0, 0, np.nan, 4])
    assert np.isnan(ratio[1]).all()
    # replicate 2: non-PIE all in bin 2; PIEs in bins 0 and 1, where non-PIEs have none: NaN
    np.testing.assert_array_equal(ratio[2], [np.nan, np.nan, 0, np.nan, np.nan])


def test_class_ratio_reps_by_hand_with_one_labelled_image_and_warnings_as_errors():
    """Two classes; class 0 unlabelled (NaN) for image 3."""
    y = np.array([[1, 0], [0, 1], [1, 1], [np.nan, 0]])
    w_pie = _w([0, 0, 1, 0], [1, 1, 0, 0])
    w_non = _w([1, 1, 0, 1], [0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pr.class_ratio_reps(y, w_pie, w_non)
    assert got.shape == (2, 2) and got.dtype == np.float64
    # replicate 0: PIE = image 2 (1, 1); non-PIE class 0: images 0, 1 → 1/2; class 1:
    # images 0, 1, 3 → 1/3
    np.testing.assert_allclose(got[0], [1 / 0.5, 1 / (1 / 3)])
    # replicate 1: PIEs 0, 1: class 0 prevalence 1/2, class 1 1/2; non-PIEs 2 (class 0
    # labelled only there: 1/1) and 3: class 1 1/2
    np.testing.assert_allclose(got[1], [0.5 / 1.0, 0.5 / 0.5])


def test_class_ratio_reps_without_non_pie_positives_is_nan_quietly():
    """Class 0: PIE prevalence 1, non-PIE 0 (a division by 0); class 1: no positive at all
    (0 / 0). Both NaN, without a warning."""
    y = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    w_pie = _w([1, 0, 0])
    w_non = _w([0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pr.class_ratio_reps(y, w_pie, w_non)
    assert got.shape == (1, 2) and np.isnan(got).all() and got.dtype == np.float64


def test_mean_diff_reps_by_hand_with_nan_values_and_one_image_groups():
    values = np.array([0.5, np.nan, 0.0, -1.0])
    w_pie = _w([1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0])
    w_non = _w([0, 1, 1, 1], [1, 0, 0, 2], [1, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pr.mean_diff_reps(values, w_pie, w_non)
    assert got.dtype == np.float64 and got.shape == (3,)
    assert got[0] == pytest.approx(0.5 - (-0.5))           # one PIE; non-PIE 0 and −1
    # replicate 1: PIEs NaN (left out) and 0.0 → 0; non-PIEs 0.5 and −1 twice → −0.5
    assert got[1] == pytest.approx(0 - (0.5 - 2) / 3)
    assert np.isnan(got[2])                                # no PIE


def test_mean_diff_reps_with_non_pie_values_summing_to_zero_and_one_non_pie():
    values = np.array([1.0, -1.0, 1.0, 0.0])
    got = pr.mean_diff_reps(values, _w([0, 0, 1, 0], [1, 1, 0, 0]), _w([1, 1, 0, 1], [0, 0, 1, 0]))
    assert got[0] == pytest.approx(1.0 - 0.0)    # non-PIE values sum to 0
    assert got[1] == pytest.approx(0.0 - 1.0)    # one non-PIE


def test_mean_diff_reps_sums_in_float32_as_the_weights():
    """Values are summed with the float32 image multiplicities in float32 (as the images-only
    statistics do), then divided in float64."""
    values = np.array([0.1, 0.7, 0.3])
    got = pr.mean_diff_reps(values, _w([1, 0, 0]), _w([0, 1, 1]))
    f = np.float32
    want = np.float64(f(0.1)) - np.float64(f(0.7) + f(0.3)) / 2
    assert got[0] == want
    assert got[0] != 0.1 - (0.7 + 0.3) / 2     # what float64 sums would give


def test_bottom_masks_where_partitioning_at_another_index_gives_another_nth_value():
    """A row where np.partition at n + 1 leaves a different value at n − 1 than the n-th
    lowest (found by search): the cut must still be select_bottom's."""
    rng = np.random.default_rng(21)
    assert int(rng.integers(20, 2000)) == 616       # the search drew the row's length first
    corr = rng.random((1, 616))
    n = pies.cut_size(616, 77.8)
    assert n == 479
    nth = np.partition(corr, n - 1, axis=1)[0, n - 1]
    assert np.partition(corr, n + 1, axis=1)[0, n - 1] != nth
    np.testing.assert_array_equal(pr.bottom_masks(corr, 77.8)[0],
                                  pies.select_bottom(corr[0], 77.8))


def test_ensembles_are_summed_in_seed_order():
    """20 seeds, seed 0 not drawn. Class a: 1.0 on seed 1 and 2^-54 (a quarter of 1.0's ulp)
    on seeds 2–19: summed from seed 1 on, each small term rounds away (1.0); summed in
    another order they add up first and lift it above class b (exactly 1 + 2^-51). Summed in
    seed order the dense ranks equal the pruned ones: Spearman 1."""
    k = 20
    dense = np.zeros((k, 1, 3), dtype=np.float32)
    dense[1, 0] = [1.0, 1.0, 0.5]
    dense[2:, 0, 0] = 2.0 ** -54
    dense[2, 0, 1] = 2.0 ** -51
    pruned = np.tile(np.array([0.2, 0.3, 0.1], np.float32), (k, 1, 1))
    counts = np.array([[0] + [1] * (k - 1)])
    assert pr.replicate_correlations(dense, pruned, counts)[0, 0] == 1.0
