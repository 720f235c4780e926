"""core.metrics: hand-worked AP/AUC with ties, and exact agreement with scikit-learn."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from core.metrics import (
    NOTE_NAN_PRED,
    NOTE_NO_NEG,
    NOTE_NO_POS,
    label_codes,
    nanmean_classes,
    per_class_metrics,
)

DTYPES = [np.float16, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_hand_worked_ties(dtype):
    # labels 1 0 1 0 0 1, scores .9 .9 .5 .5 .1 .5 — thresholds high → low:
    #   0.9: {pos, neg}        tp=1 fp=1  precision 1/2, recall 1/3
    #   0.5: {pos, neg, pos}   tp=3 fp=2  precision 3/5, recall 1
    #   0.1: {neg}             recall unchanged
    # AP = 1/3 · 1/2 + 2/3 · 3/5 = 17/30.
    # AUC: 9 (pos, neg) pairs; pos@.9 beats 2 negs + ties 1 → 2.5; each pos@.5 ties 1, beats 1
    # → 1.5 + 1.5; AUC = 5.5 / 9 = 11/18.
    y = np.array([[1, 0, 1, 0, 0, 1]], dtype=float).T
    s = np.array([[0.9, 0.9, 0.5, 0.5, 0.1, 0.5]], dtype=dtype).T
    m = per_class_metrics(s, y)
    assert m.ap[0] == pytest.approx(17 / 30, abs=1e-12)
    assert m.auc[0] == pytest.approx(11 / 18, abs=1e-12)
    assert m.n_pos.tolist() == [3] and m.n_neg.tolist() == [3]
    assert m.note.tolist() == [""]


def _sklearn(scores, y):
    lead = scores.shape[:-2]
    flat = scores.reshape((-1,) + scores.shape[-2:])
    ap = np.full((flat.shape[0], y.shape[1]), np.nan)
    auc = np.full_like(ap, np.nan)
    for m in range(flat.shape[0]):
        for c in range(y.shape[1]):
            ok = ~np.isnan(y[:, c])
            yc = y[ok, c]
            if 0 < yc.sum() < yc.size:
                ap[m, c] = average_precision_score(yc, flat[m, ok, c])
                auc[m, c] = roc_auc_score(yc, flat[m, ok, c])
    return ap.reshape(lead + (y.shape[1],)), auc.reshape(lead + (y.shape[1],))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_sklearn_random_with_ties_and_nan_labels(dtype):
    rng = np.random.default_rng(1)
    n, c = 400, 6
    y = (rng.random((n, c)) < np.linspace(0.03, 0.5, c)).astype(float)
    y[rng.random((n, c)) < 0.15] = np.nan
    y[0], y[1] = 1.0, 0.0
    # Coarse grids make ties everywhere; float16 rounding adds more (as in stored studies).
    levels = rng.integers(2, 40, size=(1, 1, c))
    s = (np.round(rng.random((2, 3, n, c)) * levels) / levels).astype(dtype)
    m = per_class_metrics(s, y)
    ap, auc = _sklearn(s, y)
    assert m.ap.shape == (2, 3, c)
    np.testing.assert_allclose(m.ap, ap, atol=1e-9, rtol=0)
    np.testing.assert_allclose(m.auc, auc, atol=1e-9, rtol=0)


def test_float16_continuous_scores_and_negative_logits():
    rng = np.random.default_rng(2)
    n, c = 3000, 3
    y = (rng.random((n, c)) < 0.1).astype(float)
    # Logits (negative values, ±0) exercise the sign handling of the float16 key.
    s = (rng.normal(size=(4, n, c)) * 3 + 2 * y).astype(np.float16)
    s[0, :10, 0] = np.float16(-0.0)
    s[0, 10:20, 0] = np.float16(0.0)
    m = per_class_metrics(s, y)
    ap, auc = _sklearn(s, y)
    np.testing.assert_allclose(m.ap, ap, atol=1e-9, rtol=0)
    np.testing.assert_allclose(m.auc, auc, atol=1e-9, rtol=0)
    m32 = per_class_metrics(s.astype(np.float32), y)
    np.testing.assert_allclose(m.ap, m32.ap, atol=1e-12)
    np.testing.assert_allclose(m.auc, m32.auc, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_undefined_classes_get_nan_and_a_reason(dtype):
    y = np.array([[0, 1, 1, np.nan],
                  [0, 1, 0, np.nan],
                  [0, 1, 1, 1],
                  [np.nan, 1, 0, 0]], dtype=float)
    s = np.array([[0.1, 0.2, 0.3, 0.4]] * 4, dtype=dtype)
    s = np.stack([s, s])
    s[1, 0, 2] = np.nan
    m = per_class_metrics(s, y)
    assert m.note[0].tolist() == [NOTE_NO_POS, NOTE_NO_NEG, "", ""]
    assert m.note[1, 2] == NOTE_NAN_PRED
    assert np.isnan(m.ap[:, :2]).all() and np.isnan(m.auc[:, :2]).all()
    assert np.isnan(m.ap[1, 2]) and np.isfinite(m.ap[0, 2])
    assert m.n_pos.tolist() == [0, 4, 2, 1] and m.n_neg.tolist() == [3, 0, 2, 1]
    # Class 3: only rows 2 (pos) and 3 (neg) are labelled, both score 0.4 → AUC 0.5, AP 1/2.
    assert m.auc[0, 3] == 0.5 and m.ap[0, 3] == 0.5
    np.testing.assert_allclose(m.mean_ap, nanmean_classes(m.ap))
    assert m.mean_ap[0] == pytest.approx((m.ap[0, 2] + m.ap[0, 3]) / 2)


def test_nanmean_all_nan_is_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nanmean_classes(np.full((2, 3), np.nan))
    assert np.isnan(out).all()


def test_rejects_bad_labels_and_shapes():
    with pytest.raises(ValueError, match="1, 0 or NaN"):
        per_class_metrics(np.zeros((3, 1)), np.array([[2.0], [0], [1]]))
    with pytest.raises(ValueError, match="shape"):
        per_class_metrics(np.zeros((3, 2)), np.zeros((3, 1)))


def test_float32_logits_signed_zero_infinities_and_many_columns():
    # float32 takes the compiled radix-sort walk: −0.0 and +0.0 are one threshold, ±inf are
    # scores like any other, and every (model, class) column is its own parallel task.
    rng = np.random.default_rng(7)
    n, c = 300, 4
    y = (rng.random((n, c)) < 0.2).astype(float)
    y[0], y[1] = 1.0, 0.0
    s = rng.normal(0, 3, size=(5, n, c)).astype(np.float32)
    s[:, :40] = np.float32(0.0)
    s[:, 20:40] = np.float32(-0.0)
    s[:, 50] = np.inf
    s[:, 51] = -np.inf
    m = per_class_metrics(s, y)
    # scikit-learn refuses infinities: ±1e30 ranks the same against these scores
    ap, auc = _sklearn(np.clip(s.astype(np.float64), -1e30, 1e30), y)
    np.testing.assert_allclose(m.ap, ap, atol=1e-12, rtol=0)
    np.testing.assert_allclose(m.auc, auc, atol=1e-12, rtol=0)


# ---- every path pinned at its edges (mutation run: benchmarks/mutation.py)
def test_float16_key_table_preserves_order_and_merges_signed_zero():
    from core import metrics as cm
    table = cm._build_key_table()
    assert table.dtype == np.uint16 and table.shape == (1 << 16,)
    np.testing.assert_array_equal(table, cm._KEY_TABLE)
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    values = bits.view(np.float16)
    ok = ~np.isnan(values)
    v, k = values[ok].astype(np.float64), table[ok].astype(np.int64)
    order = np.argsort(v, kind="stable")
    assert (np.diff(k[order]) >= 0).all()                    # larger value ↔ larger key
    assert ((np.diff(k[order]) == 0) == (np.diff(v[order]) == 0)).all()   # equal only if equal
    neg0, pos0 = np.array([-0.0, 0.0], dtype=np.float16).view(np.uint16)
    assert table[neg0] == table[pos0] == 0x8000
    inf = np.array([-np.inf, np.inf], dtype=np.float16).view(np.uint16)
    assert table[inf].tolist() == [cm._KEY_NEG_INF, cm._KEY_POS_INF]
    nan_keys = table[~ok].astype(np.int64)
    assert ((nan_keys < cm._KEY_NEG_INF) | (nan_keys > cm._KEY_POS_INF)).all()


def test_float16_path_in_many_chunks_equals_sklearn():
    # 90 classes over a wide score range: each chunk holds one model (step = 1)
    from core import metrics as cm
    rng = np.random.default_rng(11)
    n, c = 120, 90
    y = (rng.random((n, c)) < 0.3).astype(float)
    y[0], y[1] = 1.0, 0.0
    s = (rng.normal(size=(3, n, c)) * 1e3 + 500 * y).astype(np.float16)
    keys = cm._float16_keys(s)
    assert (int(keys.max()) - int(keys.min()) + 1) * c > cm._HIST_CHUNK_BINS
    m = per_class_metrics(s, y)
    ap, auc = _sklearn(s, y)
    np.testing.assert_allclose(m.ap, ap, atol=1e-9, rtol=0)
    np.testing.assert_allclose(m.auc, auc, atol=1e-9, rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_scores_in_one_column_only_and_infinities(dtype):
    y = np.array([[1, 1], [0, 0], [1, 0], [0, 1]], dtype=float)
    s = np.array([[np.inf, 0.5], [0.2, 0.1], [-np.inf, 0.3], [0.1, 0.4]], dtype=dtype)
    m = per_class_metrics(s, y)
    # class 0: ranks +inf (pos) > .2 (neg) > .1 (neg) > −inf (pos): AP = (1 + 2/4) / 2
    assert m.ap[0] == pytest.approx(0.75, abs=1e-12) and m.auc[0] == 0.5
    assert m.note.tolist() == ["", ""]
    s2 = s.copy()
    s2[3, 1] = np.nan
    m2 = per_class_metrics(s2, y)
    assert m2.note.tolist() == ["", NOTE_NAN_PRED] and np.isnan(m2.ap[1])
    assert m2.ap[0] == m.ap[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_models_and_unlabelled_classes(dtype):
    y = np.array([[1.0, np.nan], [0.0, np.nan]])
    empty = per_class_metrics(np.zeros((0, 2, 2), dtype=dtype), y)
    assert empty.ap.shape == (0, 2) and empty.auc.shape == (0, 2)
    m = per_class_metrics(np.array([[0.7, 0.1], [0.2, 0.3]], dtype=dtype), y)
    assert m.ap[0] == 1.0 and m.auc[0] == 1.0
    assert np.isnan(m.ap[1]) and m.note[1] == NOTE_NO_POS


def test_label_and_shape_refusals_say_what_is_wrong():
    from core.metrics import label_codes
    with pytest.raises(ValueError, match=r"labels must be 1, 0 or NaN; found \[-1\.  2\.\]"):
        label_codes(np.array([2.0, 0, -1, 1, 2]))
    assert label_codes([[1, 0, np.nan]]).tolist() == [[1, 0, 2]]
    assert label_codes([1.0]).dtype == np.int8
    with pytest.raises(ValueError, match=r"scores \(3, 2\) do not end with labels' shape "
                                         r"\(3, 1\)"):
        per_class_metrics(np.zeros((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="do not end with labels' shape"):
        per_class_metrics(np.zeros(3), np.zeros(3))


def test_nanmean_classes_float64_and_ap_auc_wrappers():
    from core.metrics import average_precision, roc_auc
    v = np.array([[0.1, np.nan, 0.2], [np.nan, np.nan, 0.5]], dtype=np.float32)
    out = nanmean_classes(v)
    assert out.dtype == np.float64
    assert out[0] == (np.float64(np.float32(0.1)) + np.float64(np.float32(0.2))) / 2
    assert out[1] == np.float64(np.float32(0.5))
    y = np.array([[1.0], [0.0], [1.0]])
    s = np.array([[0.9], [0.5], [0.1]])
    assert average_precision(s, y).tolist() == [pytest.approx((1 + 2 / 3) / 2)]
    assert roc_auc(s, y).tolist() == [0.5]
    assert average_precision(s[None], y).shape == (1, 1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unlabelled_first_class_quietly_and_3d_class_means(dtype):
    y = np.array([[np.nan, 1, 0], [np.nan, 0, 0], [np.nan, 1, 0]])   # class 2: no positive
    s = np.array([[0.1, 0.9, 0.3], [0.2, 0.1, 0.2], [0.3, 0.8, 0.1]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = per_class_metrics(np.stack([s, s]), y)
    assert np.isnan(m.ap[:, 0]).all() and m.ap[:, 1].tolist() == [1.0, 1.0]
    assert np.isnan(m.ap[:, 2]).all() and m.auc[:, 1].tolist() == [1.0, 1.0]
    v = np.array([[[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]],
                  [[2.0, 2.0, 5.0], [4.0, np.nan, np.nan]]])            # [2, 2, C=3]
    out = nanmean_classes(v)
    assert out.shape == (2, 2) and out[0, 0] == 2.0 and np.isnan(out[0, 1])
    assert out[1].tolist() == [3.0, 4.0]


def test_float32_scores_one_ulp_apart_and_tiny_scores_are_distinct_thresholds():
    # neighbouring float32 values (differing in the last bit) and scores far below 1 are
    # different thresholds: a key or sort that drops a low bit, or a shift by 1 that rounds
    # them together, would tie them
    base = np.nextafter(np.float32(0.7), np.float32(1), dtype=np.float32)
    assert base.view(np.uint32) % 2 == 0            # so that the two differ in bit 0 only
    up = np.nextafter(base, np.float32(1), dtype=np.float32)
    tiny = np.array([1e-8, 2e-8, 3e-8, 4e-8], dtype=np.float32)
    col = np.concatenate([[base, up, up, base, -up, -base], tiny]).astype(np.float32)
    y = np.array([[0.0], [1.0], [1.0], [0.0], [0.0], [1.0],   # base negative, up positive
                  [0.0], [1.0], [0.0], [1.0]])
    m = per_class_metrics(col[None, :, None], y)
    ap, auc = _sklearn(col[None, :, None].astype(np.float64), y)
    np.testing.assert_allclose(m.ap, ap, atol=1e-12, rtol=0)
    np.testing.assert_allclose(m.auc, auc, atol=1e-12, rtol=0)


def test_float32_score_keys_of_float64_scores_are_those_of_their_float32_values():
    from core.metrics_float32 import score_keys
    s64 = np.array([-2.5, -0.0, 0.0, 1e-8, 0.25, 3.0, np.inf])
    keys = score_keys(s64)
    assert keys.dtype == np.uint32
    np.testing.assert_array_equal(keys, score_keys(s64.astype(np.float32)))
    assert (np.diff(keys.astype(np.int64)) <= 0).all() and keys[1] == keys[2]


def test_label_codes_read_none_as_unlabelled_and_name_at_most_five_bad_values():
    assert label_codes(np.array([[1, None, 0]], dtype=object)).tolist() == [[1, 2, 0]]
    with pytest.raises(ValueError, match=r"found \[2\. 3\. 4\. 5\. 6\.\]$"):
        label_codes([2, 3, 4, 5, 6, 7, 1])


def test_float64_and_float16_scores_never_load_the_float32_kernels(monkeypatch):
    import sys

    # numba is slow to import: only a float32 grid may pull core.metrics_float32 in
    monkeypatch.setitem(sys.modules, "core.metrics_float32", None)   # importing it fails
    s = np.array([[0.9], [0.2], [0.6], [0.4]])
    y = np.array([[1.0], [0.0], [0.0], [1.0]])
    for dtype in (np.float64, np.float16):
        m = per_class_metrics(s.astype(dtype), y)
        assert m.ap.tolist() == [average_precision_score(y[:, 0], s[:, 0])]
        assert m.auc.tolist() == [0.75]
    with pytest.raises(ImportError):
        per_class_metrics(s.astype(np.float32), y)
