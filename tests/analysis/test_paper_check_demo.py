"""The shipped demo's paper check, recomputed independently (issue 19: F1–F4 from the stored
predictions to 1e-9, with scikit-learn and scipy only), and its verdicts by the written rule."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score

DEMO = Path(__file__).resolve().parents[2] / "artifacts" / "demo"
TABLE = DEMO / "analysis" / "paper_check.parquet"

pytestmark = pytest.mark.skipif(not TABLE.is_file(), reason="demo without a paper check")


def _predictions(method: str, seed: int) -> np.ndarray:
    """[S, N, C] scores as stored; AP only needs their order (logits or probabilities)."""
    study = json.loads((DEMO / "study.json").read_text())
    enc = study.get("predictions") or {"kind": "probability", "dtype": "float16"}
    raw = np.load(DEMO / "predictions" / method / f"seed-{seed}.npy")
    assert raw.dtype == np.dtype(enc["dtype"])
    return raw.astype(np.float64) if enc["dtype"] != "float32" else raw


def _recompute(method: str) -> dict[str, tuple[float, float]]:
    study = json.loads((DEMO / "study.json").read_text())
    classes, sparsities = study["classes"], np.asarray(study["sparsities"])
    labels = pd.read_parquet(DEMO / "data" / "labels.parquet").sort_values("row")
    y = labels[classes].to_numpy(dtype=np.float64)
    ap = np.full((len(study["seeds"]), len(sparsities), len(classes)), np.nan)
    for i, seed in enumerate(study["seeds"]):
        scores = _predictions(method, seed)
        for c in range(len(classes)):
            ok = ~np.isnan(y[:, c])
            if y[ok, c].sum() == 0:
                continue
            for s in range(len(sparsities)):
                ap[i, s, c] = average_precision_score(y[ok, c], scores[s, ok, c])
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (ap - ap[:, :1]) / ap[:, :1]
    curve = np.nanmedian(rel, axis=0)                          # [S, C]
    counts = pd.read_parquet(DEMO / "data" / "class_counts.parquet").set_index("class")
    lf = np.log(counts.loc[classes, "train_pos"].to_numpy(dtype=np.float64))
    pos = sparsities > 0
    dropped = (curve < -0.2) & pos[:, None]
    first = np.where(dropped.any(0), sparsities[np.argmax(dropped, 0)], np.nan)
    at95 = curve[list(sparsities).index(95)]
    out = {}
    for name, v in (("F1", first), ("F2", at95)):
        ok = np.isfinite(v) & np.isfinite(lf)
        out[name] = (stats.pearsonr(v[ok], lf[ok])[0], stats.spearmanr(v[ok], lf[ok])[0])
    y0 = np.nan_to_num(y)
    m = y0.T @ y0
    freq = m.sum(axis=0)                                        # the paper's variant
    a, b = np.triu_indices(len(classes), k=1)
    fcd = np.sqrt(((curve[pos][:, a] - curve[pos][:, b]) ** 2).sum(axis=0))
    iou4 = (m[a, b] / (freq[a] + freq[b] - m[a, b])) ** 0.25
    dlf = np.abs(np.log(freq[a]) - np.log(freq[b]))
    for name, x in (("F3", dlf), ("F4", iou4)):
        ok = np.isfinite(fcd) & np.isfinite(x)
        out[name] = (stats.pearsonr(fcd[ok], x[ok])[0], stats.spearmanr(fcd[ok], x[ok])[0])
    return out


@pytest.mark.parametrize("method", ["l1_global", "random"])
def test_f1_to_f4_match_an_independent_recomputation(method):
    table = pd.read_parquet(TABLE)
    rows = table[table["method"] == method].set_index("finding")
    for finding, (r, rho) in _recompute(method).items():
        assert abs(rows.loc[finding, "value"] - r) < 1e-9, finding
        assert abs(rows.loc[finding, "value2"] - rho) < 1e-9, finding


def test_verdicts_follow_the_rule_from_the_stored_numbers():
    table = pd.read_parquet(TABLE)
    assert len(table) == 7 * len(json.loads((DEMO / "study.json").read_text())["methods"])
    for r in table.to_dict(orient="records"):
        lo, hi, sign = r["lo"], r["hi"], r["paper_sign"]
        if not (np.isfinite(lo) and np.isfinite(hi)):
            assert r["verdict"] == "cannot be computed" and r["reason"]
        elif lo <= 0 <= hi:
            assert r["verdict"] == "not shown"
        else:
            assert r["verdict"] == ("holds" if np.sign(lo) == sign else "opposite")


def test_f1_f2_intervals_are_the_analysis_intervals():
    """Same bootstrap draws: the class-level intervals equal ci_correlations.json's."""
    ci = json.loads((DEMO / "analysis" / "ci_correlations.json").read_text())
    params = json.loads((DEMO / "analysis" / "params.json").read_text())
    if (params.get("drop_percent"), params.get("at_sparsity")) != (20, 95):
        pytest.skip("the demo's analysis does not use the paper's 20% / 95%")
    table = pd.read_parquet(TABLE).set_index(["method", "finding"])
    for method, entry in ci.items():
        for finding, name in (("F1", "first_drop_vs_log_freq"),
                              ("F2", "rel_ap_at_vs_log_freq")):
            row = table.loc[(method, finding)]
            assert row["lo"] == pytest.approx(entry[name]["r_lo"], abs=1e-12)
            assert row["hi2"] == pytest.approx(entry[name]["rho_hi"], abs=1e-12)
