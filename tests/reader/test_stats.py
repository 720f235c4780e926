"""Statistics on fixed data, cross-checked against scipy and hand-worked values."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from core.reader.stats import (
    POOLED,
    agreement,
    compare_groups,
    distributions,
    groundtruth,
    group_test,
    has_groundtruth,
    krippendorff_alpha,
    pairwise_agreement,
)

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4-observer example.
KRIPP = [[1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
         [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN]]


def _answers() -> pd.DataFrame:
    """Two readers, eight images (four PIEs), fixed answers."""
    rows = []
    table = {  # image: (is_pie, reader A (agree, q, d), reader B (agree, q, d))
        "i1": (True, (0, 2, 4), (0, 3, 4)), "i2": (True, (1, 3, 3), (0, 2, 3)),
        "i3": (True, (0, 2, 5), (0, 2, 4)), "i4": (True, (1, 4, 2), (1, 4, 2)),
        "i5": (False, (1, 4, 1), (1, 5, 1)), "i6": (False, (1, 5, 2), (1, 4, 2)),
        "i7": (False, (0, 3, 2), (1, 3, 1)), "i8": (False, (1, 4, 1), (1, 4, 3)),
    }
    for image, (pie, a, b) in table.items():
        for reader, (agree, q, d) in (("A", a), ("B", b)):
            rows.append({"reader": reader, "image_id": image, "is_pie": pie, "agree": agree,
                         "quality": q, "difficulty": d})
    return pd.DataFrame(rows)


def test_krippendorff_published_example():
    assert krippendorff_alpha(KRIPP, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KRIPP, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(KRIPP, "interval") == pytest.approx(0.849, abs=5e-4)


def test_krippendorff_edge_cases():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]]) == 1.0
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]]))       # no variation at all
    assert np.isnan(krippendorff_alpha([[1, NAN], [NAN, 2]]))   # no unit read twice
    # Two raters, nominal, complete data: alpha = Scott's pi with the small-sample factor.
    a, b = np.array([1, 1, 0, 0, 1, 0]), np.array([1, 0, 0, 0, 1, 1])
    p_o = (a == b).mean()
    pbar = np.concatenate([a, b]).mean()
    p_e = pbar ** 2 + (1 - pbar) ** 2
    n = 2 * len(a)
    expected = 1 - (1 - p_o) / (1 - p_e) * (n - 1) / n
    assert krippendorff_alpha([a, b]) == pytest.approx(expected)


def test_group_test_matches_scipy():
    ans = _answers()
    for q in ("agree", "quality", "difficulty"):
        pie = ans.loc[ans["is_pie"], q].to_numpy()
        non = ans.loc[~ans["is_pie"], q].to_numpy()
        res = group_test(pie, non)
        mw = sps.mannwhitneyu(pie, non, alternative="two-sided")
        kw = sps.kruskal(pie, non)
        assert res["u"] == pytest.approx(mw.statistic)
        assert res["p_mannwhitney"] == pytest.approx(mw.pvalue)
        assert res["h"] == pytest.approx(kw.statistic)
        assert res["p_kruskal"] == pytest.approx(kw.pvalue)
        assert res["mean_pie"] == pytest.approx(pie.mean())
        assert res["diff"] == pytest.approx(pie.mean() - non.mean())


def test_compare_groups_per_reader_and_pooled():
    ans = _answers()
    table = compare_groups(ans)
    assert len(table) == 3 * 3  # 3 questions × (pooled + 2 readers)
    row = table[(table["question"] == "quality") & (table["reader"] == "A")].iloc[0]
    a = ans[ans["reader"] == "A"]
    mw = sps.mannwhitneyu(a.loc[a["is_pie"], "quality"], a.loc[~a["is_pie"], "quality"])
    assert row["p_mannwhitney"] == pytest.approx(mw.pvalue)
    assert (row["mean_pie"], row["mean_non_pie"]) == (2.75, 4.0)
    pooled = table[(table["question"] == "agree") & (table["reader"] == POOLED)].iloc[0]
    assert (pooled["n_pie"], pooled["n_non_pie"]) == (8, 8)
    assert pooled["mean_pie"] == pytest.approx(3 / 8)


def test_group_test_degenerate():
    res = group_test([3, 3], [3, 3])
    assert np.isnan(res["p_kruskal"]) and "the same" in res["note"]
    res = group_test([], [1, 2])
    assert np.isnan(res["p_mannwhitney"]) and res["note"]


def test_distributions():
    d = distributions(_answers(), "quality")
    pie = d[d["group"] == "PIE"].set_index("value")
    assert pie["count"].to_dict() == {1: 0, 2: 4, 3: 2, 4: 2, 5: 0}
    assert pie["share"].sum() == pytest.approx(1.0)
    assert set(distributions(_answers(), "agree")["value"]) == {0, 1}


def test_agreement_uses_images_read_twice():
    ans = _answers()
    table = agreement(ans).set_index(["question", "images"])
    mat = ans.pivot(index="reader", columns="image_id", values="quality").to_numpy()
    assert table.loc[("quality", "all images"), "alpha"] == \
        pytest.approx(krippendorff_alpha(mat, "ordinal"))
    assert table.loc[("agree", "all images"), "observed_agreement"] == pytest.approx(6 / 8)
    assert table.loc[("agree", "PIE"), "n_images_multi_read"] == 4
    assert table.loc[("agree", "all images"), "level"] == "nominal"
    # a third reader on one image only: still usable, alpha accepts missing ratings
    extra = pd.DataFrame([{"reader": "C", "image_id": "i1", "is_pie": True, "agree": 1,
                           "quality": 5, "difficulty": 1}])
    assert agreement(pd.concat([ans, extra]))["n_readers"].max() == 3


def test_pairwise_agreement_hand_worked():
    mat = pd.DataFrame({"u1": [1, 1, 0], "u2": [1, 1, NAN], "u3": [0, NAN, NAN]})
    # u1: ordered pairs 6, agreeing 2 → weight 3 · 2/6 = 1; u2: 2 of 2 → 2 · 1 = 2 ; total 5
    assert pairwise_agreement(mat) == pytest.approx(3 / 5)


def test_groundtruth_against_known_noise_and_quality():
    ans = _answers()
    labels = pd.DataFrame({"id": [f"i{k}" for k in range(1, 9)],
                           "label_noise": [True, True, True, False, False, False, False, False],
                           "quality": [0.1, 0.3, 0.2, 0.8, 0.9, 0.95, 0.5, 0.7]})
    assert has_groundtruth(["label_noise", "quality"]) and not has_groundtruth(["quality"])
    out = groundtruth(ans, labels)
    pooled = out["noise"].set_index("reader").loc[POOLED]
    assert pooled["agree_rate_noisy"] == pytest.approx(1 / 6)
    assert pooled["agree_rate_clean"] == pytest.approx(9 / 10)
    merged = ans.merge(labels.rename(columns={"id": "image_id"}), on="image_id")
    rho = sps.spearmanr(merged["quality_x"], merged["quality_y"]).statistic
    q = out["quality"].set_index(["reader", "rating"]).loc[(POOLED, "quality")]
    assert q["rho_vs_true_quality"] == pytest.approx(rho)
    sample = out["sample"].set_index("group")
    assert sample.loc["PIE", "label_noise_rate"] == pytest.approx(3 / 4)
    assert sample.loc["non-PIE", "mean_true_quality"] == pytest.approx(np.mean([.9, .95, .5, .7]))
