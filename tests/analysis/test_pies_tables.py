"""The PIE module's study-facing parts on hand-made inputs: the seed ensemble, the PIE cut
with its ties, the image table behind the PIE list and gallery, the PIE list, and the stored
correlations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import store
from core.analysis import pies
from core.store import StudyPaths

CLASSES = ["No Finding", "Effusion", "Mass"]


def test_seed_ensemble_sums_in_float64_and_divides_once():
    e = pies.SeedEnsemble((2, 2))
    assert e.n_seeds == 0 and e.total.dtype == np.float64 and not e.total.any()
    e.add(np.full((2, 2), 1.0, np.float32))
    e.add(np.array([[2.0 ** -30, 0.0], [0.5, 3.0]], np.float32))   # lost in a float32 sum
    e.add(np.array([[0.0, 0.0], [0.25, 2.0]], np.float32))
    assert e.n_seeds == 3
    m = e.mean()
    assert m is e.total and m.dtype == np.float64
    assert m.tolist() == [[(1 + 2.0 ** -30) / 3, 1 / 3], [1.75 / 3, 2.0]]


def test_seed_ensemble_by_parts_counts_seeds_only_when_told():
    blocks = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 8   # [seed, S, N, C]
    e = pies.SeedEnsemble((3, 2, 2))
    for seed in range(2):
        for k in range(3):
            e.add(blocks[seed, k], k)
        assert e.n_seeds == seed
        e.seed_done()
    assert e.n_seeds == 2
    np.testing.assert_array_equal(e.mean(), blocks.astype(np.float64).mean(axis=0))


def test_seed_ensemble_of_blocks_and_of_none():
    blocks = [np.array([[0.5, 0.25, 1.0]], np.float32), np.array([[0.0, 0.75, 1.0]]),
              np.array([[0.25, 0.5, 0.0]], np.float32)]
    got = pies.seed_ensemble(iter(blocks))
    assert got.dtype == np.float64 and got.shape == (1, 3)
    assert got.tolist() == [[0.25, 0.5, 2 / 3]]
    assert pies.seed_ensemble(blocks[:1]).tolist() == [[0.5, 0.25, 1.0]]
    with pytest.raises(ValueError, match="^an ensemble needs at least one seed$"):
        pies.seed_ensemble([])


def test_pie_cut_mask_ties_and_its_dict():
    c = pies.pie_cut([0.4, 0.1, np.nan, 0.3, 0.1, 0.1, 0.9, 0.8, 0.7, 0.6], 20)
    assert c.mask.dtype == np.bool_ and np.flatnonzero(c.mask).tolist() == [1, 4]
    assert (c.cut_value, c.n_tied_at_cut, c.n_tied_pies) == (0.1, 3, 2)
    assert c.ties() == {"cut_value": 0.1, "n_tied_at_cut": 3, "n_tied_pies": 2}
    none = pies.pie_cut([0.5, 0.2, 0.9], 10)                 # ⌊0.3⌋ = 0 PIEs
    assert not none.mask.any()
    assert none.ties() == {"cut_value": None, "n_tied_at_cut": 0, "n_tied_pies": 0}


def test_cut_ties_reads_an_int_mask_as_a_mask_not_as_indices():
    # as indices, [0, 1, 0] would pick images 0, 1, 0 and put the cut at 0.9
    assert pies.cut_ties([0.9, 0.1, 0.5], np.array([0, 1, 0])) == {
        "cut_value": 0.1, "n_tied_at_cut": 1, "n_tied_pies": 1}


def _labels(rows=(0, 1, 2, 3)):
    return pd.DataFrame({
        "row": list(rows), "id": [101, 102, 103, 104],
        "No Finding": [1.0, 0.0, 0.0, 0.0],
        "Effusion": [0.0, 1.0, np.nan, 1.0],
        "Mass": [0.0, 1.0, 0.0, np.nan],
        "bbox": ["", "x", "", "y"]})


def test_image_table_columns_types_and_values():
    corr = np.array([0.5, -0.25, np.nan, 0.125], np.float32)
    t = pies.image_table(_labels(), CLASSES, corr, [0, 1, 0, 1], ["bbox"])
    assert list(t.columns) == ["row", "id", "corr", "pie", "n_findings", "labels", "bbox"]
    assert t["row"].tolist() == [0, 1, 2, 3] and t["row"].dtype == np.int64
    assert t["id"].tolist() == ["101", "102", "103", "104"]
    assert t["corr"].dtype == np.float64
    np.testing.assert_array_equal(t["corr"].to_numpy(), corr.astype(np.float64))
    assert t["pie"].dtype == np.bool_ and t["pie"].tolist() == [False, True, False, True]
    assert t["n_findings"].tolist() == [0, 2, 0, 1]
    assert t["labels"].tolist() == ["No Finding", "Effusion, Mass", "No Finding", "Effusion"]
    assert t["bbox"].tolist() == ["", "x", "", "y"]


def test_image_table_copies_row_numbers_or_counts_them():
    labels = _labels(rows=(4, 5, 6, 7)).astype({"row": np.int32})
    t = pies.image_table(labels, CLASSES, np.zeros(4), np.zeros(4))
    assert t["row"].tolist() == [4, 5, 6, 7] and t["row"].dtype == np.int64
    assert list(t.columns) == ["row", "id", "corr", "pie", "n_findings", "labels"]
    t = pies.image_table(_labels().drop(columns="row"), CLASSES, np.zeros(4), np.zeros(4))
    assert t["row"].tolist() == [0, 1, 2, 3] and t["row"].dtype == np.int64


def _table_and_labels():
    """Five images listed in DEScending row order; four PIEs, two tied at corr 0.25; the
    one non-PIE is positive for both classes."""
    labels = pd.DataFrame({"A": [1.0, 0.0, np.nan, 1.0, 1.0], "B": [0.0, 0.0, 1.0, 1.0, 1.0]})
    table = pd.DataFrame({"row": [9, 7, 5, 3, 1], "id": list("abcde"),
                          "corr": [0.25, 0.5, -0.5, 0.25, 0.0],
                          "pie": [True, True, True, True, False],
                          "n_findings": [1, 0, 2, 7, 3], "labels": list("vwxyz"),
                          "bbox": ["p", "q", "r", "s", "t"]})
    return table, labels


def test_pie_list_lowest_first_ties_by_row_bins_and_columns():
    table, labels = _table_and_labels()
    before = table.copy()
    got = pies.pie_list(table, labels)
    assert list(got.columns) == ["row", "id", "corr", "labels", "n_findings", "bbox"]
    assert got.index.tolist() == [0, 1, 2, 3]
    assert got["id"].tolist() == ["c", "d", "a", "b"]          # -0.5, 0.25 (row 3 < 9), 0.5
    assert got["corr"].tolist() == [-0.5, 0.25, 0.25, 0.5]
    assert got["n_findings"].tolist() == ["2", "4+", "1", "0"]
    assert got["labels"].tolist() == ["x", "y", "v", "w"]
    pd.testing.assert_frame_equal(table, before)


def test_pie_list_by_disease_keeps_pies_positive_for_any_and_leaves_the_table():
    table, labels = _table_and_labels()
    before = table.copy()
    assert pies.pie_list(table, labels, ["A"])["id"].tolist() == ["d", "a"]   # NaN: not positive
    assert pies.pie_list(table, labels, ("B",))["id"].tolist() == ["c", "d"]
    assert pies.pie_list(table, labels, ["A", "B"])["id"].tolist() == ["c", "d", "a"]
    pd.testing.assert_frame_equal(table, before)                  # the PIE flags untouched
    assert pies.pie_list(table, labels, [])["id"].tolist() == ["c", "d", "a", "b"]


def test_pie_list_reads_0_1_pie_flags_as_flags():
    table, labels = _table_and_labels()
    flags = table.assign(pie=table["pie"].astype(np.int64))
    for diseases in ((), ["A"]):
        pd.testing.assert_frame_equal(pies.pie_list(flags, labels, diseases),
                                      pies.pie_list(table, labels, diseases))


def test_read_pie_corr_returns_the_stored_array_or_none(tmp_path):
    paths = StudyPaths(tmp_path)
    corr = np.array([[1.0, 1.0, 1.0], [0.5, np.nan, -0.25]], np.float32)
    p = paths.pie_array(StudyPaths.PIE_CORR, "magnitude")
    p.parent.mkdir(parents=True)
    store.write_npy(p, corr)
    got = pies.read_pie_corr(tmp_path, "magnitude")
    assert isinstance(got, np.memmap) and got.dtype == np.float32
    np.testing.assert_array_equal(got, corr)
    assert pies.read_pie_corr(tmp_path, "random") is None
    store.write_npy(paths.pie_array(StudyPaths.PIE_POPULATION, "random"),
                    np.ones(3, np.uint8))
    assert pies.read_pie_corr(tmp_path, "random") is None        # only pie_corr/ is read
