"""SynthCXR: real labels, rendered images, ground-truth quality and label noise."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter, laplace
from scipy.stats import spearmanr

from core.data.chestxray14 import CLASSES
from core.data.synth_base import Streams
from core.data.synth_findings import FINDINGS, SIGNATURES
from core.data.synth_render import render
from core.data.synthcxr import SynthSource, label_noise, load_synthcxr
from core.errors import ConfigError

# Real ChestX-ray14 image counts (docs/paper_facts.md), CLASSES order.
REAL_COUNTS = [60361, 19894, 13317, 11559, 6331, 5782, 5302, 4667, 3385, 2776, 2516, 2303,
               1686, 1431, 227]


@pytest.fixture(scope="module")
def ds20k():
    return load_synthcxr({"n_images": 20000, "seed": 0})


@pytest.fixture(scope="module")
def rows(ds20k):
    # a mix of findings, views and qualities; fixed so failures are reproducible
    return ds20k.table.sample(160, random_state=1).reset_index(drop=True)


# --------------------------------------------------------------------------- images
def test_dtype_shape_and_sizes(ds20k, rows):
    for size in (64, 37, 256):
        n = 4 if size == 256 else 12
        im = ds20k.source.load(rows.iloc[:n], size)
        assert im.dtype == np.uint8 and im.shape == (n, size, size)
        assert im.std() > 10  # an image, not a blank
    assert ds20k.source.load(rows.iloc[:0], 64).shape == (0, 64, 64)


def test_deterministic_and_independent_of_batch(ds20k, rows):
    src = ds20k.source
    a = src.load(rows.iloc[:40], 64)
    b = src.load(rows.iloc[:40].iloc[::-1], 64)[::-1]  # other order, other chunks
    c = np.stack([src.load(rows.iloc[[i]], 64)[0] for i in (0, 17, 39)])
    assert np.array_equal(a, b)
    assert np.array_equal(a[[0, 17, 39]], c)
    # re-created from its description (as the dashboard does): the same pixels
    again = SynthSource.from_description(src.describe()).load(rows.iloc[:40], 64)
    assert np.array_equal(a, again)
    # another seed draws other images
    other = SynthSource(seed=1, difficulty=src.difficulty).load(rows.iloc[:40], 64)
    assert (np.abs(a.astype(int) - other).mean(axis=(1, 2)) > 1).all()


def test_every_finding_has_a_visible_signature():
    n = 16
    idx = np.arange(n) + 500
    base = np.zeros((n, len(FINDINGS)), bool)
    args = dict(seed=0, index=idx, patient=idx, ap=np.zeros(n, bool), female=idx % 2 == 0,
                quality=np.full(n, 0.9), size=64)
    clean = render(findings=base, **args).astype(np.float32)
    assert set(SIGNATURES) == set(FINDINGS)
    for j, name in enumerate(FINDINGS):
        with_f = base.copy()
        with_f[:, j] = True
        diff = np.abs(render(findings=with_f, **args) - clean)
        assert np.median(diff.max(axis=(1, 2))) > 10, name  # grey levels, at its peak
        # difficulty scales the signature (only: a normal chest does not change with it)
        hard = np.abs(render(findings=with_f, difficulty=3.0, **args) - clean)
        assert hard.mean() < diff.mean(), name
    assert np.array_equal(render(findings=base, difficulty=3.0, **args), clean)


def test_quality_tracks_measured_contrast_and_noise(ds20k, rows):
    im = ds20k.source.load(rows, 64).astype(np.float32)
    q = rows["quality"].to_numpy()
    smooth = gaussian_filter(im, (0, 2, 2))
    contrast = np.percentile(smooth, 95, axis=(1, 2)) - np.percentile(smooth, 5, axis=(1, 2))
    # median |Laplacian|: edges are sparse, so the median measures the grain
    noise = np.median(np.abs(np.stack([laplace(x) for x in im])), axis=(1, 2))
    assert spearmanr(q, contrast)[0] > 0.5
    assert spearmanr(q, noise)[0] < -0.5


# --------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize("rate", [0.04, 0.1])
def test_label_noise_rate_and_shape(ds20k, rate):
    t = ds20k.table
    y = t[FINDINGS].to_numpy()
    drawn, flag, detail = label_noise(0, t["synth_index"].to_numpy(), y, rate)
    assert abs(flag.mean() - rate) < 0.01
    changed = (drawn != (y > 0.5)).sum(axis=1)
    assert (changed[flag] == 1).all() and (changed[~flag] == 0).all()
    assert all(d.startswith(("added ", "dropped ")) for d in detail[flag])
    assert (detail[~flag] == "").all()
    # images with no finding can only gain one
    assert not any(d.startswith("dropped") for d in detail[flag & (y.sum(1) == 0)])


def test_table_columns_and_noise_column(ds20k):
    t = ds20k.table
    assert ds20k.classes == CLASSES
    for c in ("id", "path", "split", "patient_id", "sex", "age", "view", "synth_index",
              "quality", "label_noise", "noise_detail", *CLASSES):
        assert c in t.columns, c
    assert t["id"].is_unique and (t["path"] == "").all()
    assert t["quality"].between(0, 1).all() and t["label_noise"].dtype == bool
    assert abs(t["label_noise"].mean() - 0.04) < 0.01
    assert ds20k.source.describe()["kind"] == "synthcxr"


def test_flagged_image_shows_drawn_not_labelled_findings(ds20k):
    t = ds20k.table
    row = t[t["label_noise"]].iloc[[0]]
    src = ds20k.source
    shown = src.load(row, 64)
    drawn, _, _ = label_noise(src.seed, row["synth_index"].to_numpy(), row[FINDINGS].to_numpy(),
                              src.noise_rate)
    relabelled = row.copy()
    relabelled[FINDINGS] = drawn.astype(np.float32)
    clean = SynthSource(src.seed, src.difficulty, noise_rate=0.0)
    assert np.array_equal(shown, clean.load(relabelled, 64))
    assert not np.array_equal(shown, clean.load(row, 64))


def test_patient_disjoint_splits_and_subsample(ds20k):
    t = ds20k.table
    assert (t.groupby("patient_id")["split"].nunique() == 1).all()
    assert 20000 <= len(t) < 20200  # whole patients until about n
    frac = t["split"].value_counts(normalize=True)
    assert abs(frac["train"] - 0.7) < 0.03 and abs(frac["test"] - 0.2) < 0.03
    again = load_synthcxr({"n_images": 20000, "seed": 0}).table
    pd.testing.assert_frame_equal(t, again)


def test_class_frequencies_rank_like_chestxray14(ds20k):
    counts = ds20k.table[CLASSES].sum().to_numpy()
    assert spearmanr(counts, REAL_COUNTS)[0] >= 0.95


def test_tempered_subsample_keeps_the_order_and_lifts_the_tail():
    """prevalence_power α: class counts ≈ K · count^α, ranked like ChestX-ray14, long-tailed,
    and the rarest class far more common than in a plain subsample of the same size."""
    from core.data.synthcxr import tempered_inclusion

    t = load_synthcxr({"n_images": 10000, "seed": 0, "prevalence_power": 0.5}).table
    assert abs(len(t) - 10000) < 300
    counts = t[CLASSES].sum().to_numpy()
    assert spearmanr(counts, REAL_COUNTS)[0] >= 0.95
    assert counts.max() / counts.min() > 5        # still long-tailed
    assert counts[CLASSES.index("Hernia")] >= 100  # ~20 in a 20% evaluation split
    assert (t.groupby("patient_id")["split"].nunique() == 1).all()
    # inclusion probabilities by hand: one class of 100 images, one of 25, α = 0.5 →
    # rates K/10 and K/5; n = 30 expected images solves 100·K/10 + 25·K/5 = 30 → K = 2
    y = np.zeros((125, 2))
    y[:100, 0] = 1
    y[100:, 1] = 1
    p = tempered_inclusion(y, 30, 0.5)
    assert np.allclose(p[:100], 0.2) and np.allclose(p[100:], 0.4)
    again = load_synthcxr({"n_images": 10000, "seed": 0, "prevalence_power": 0.5}).table
    pd.testing.assert_frame_equal(t, again)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="unknown option"):
        load_synthcxr({"n_image": 10})
    for bad in ({"difficulty": 0}, {"noise_rate": 0.9}, {"fractions": [0.5, 0.5]},
                {"n_images": -3}, {"seed": "x"}, {"prevalence_power": 1.5},
                {"prevalence_power": 0.5}):
        with pytest.raises(ConfigError, match="dataset.options"):
            load_synthcxr(bad)


def test_streams_are_keyed_not_sequential():
    a = Streams(3, [5, 9, 11]).u("x")
    b = Streams(3, [11, 5]).u("x")
    assert a[2] == b[0] and a[0] == b[1]
    assert Streams(3, [5]).u("y")[0] != a[0] and Streams(4, [5]).u("x")[0] != a[0]


def test_through_the_registry():
    from core.config import DatasetConfig
    from core.data import load_dataset, source_from_description

    ds = load_dataset(DatasetConfig(name="synthcxr", options={"n_images": 1500, "seed": 2}))
    assert ds.name == "synthcxr" and len(ds.table) >= 1500
    assert {"synth_index", "quality", "label_noise"} <= set(ds.table.columns)
    # the reader declares its ground truth; analysis and pages read it from here
    assert ds.description["ground_truth"] == ["label_noise", "quality"]
    rows = ds.split("test").iloc[:5]
    src = source_from_description(ds.description["source"])
    assert np.array_equal(src.load(rows, 48), ds.source.load(rows, 48))
