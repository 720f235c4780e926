"""`python -m core experiment frequency`: the design (map, pooled slope), a --quick run that
produces the tables, and the tables checked against the arm studies' own analysis."""
from __future__ import annotations

import shutil
import sys
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from core import store
from core.analysis import uncertainty as unc
from core.cli import main
from core.data.synth_findings import FINDINGS
from core.errors import ConfigError
from core.experiments import frequency as fx
from core.experiments import frequency_effect as fe


# ----------------------------------------------------------------------------- design
def test_reversed_map_pairs_ranks_from_both_ends():
    counts = {f: 100 + 10 * (len(FINDINGS) - i) for i, f in enumerate(FINDINGS)}
    counts["Hernia"] = 5                          # rarest
    counts["Cardiomegaly"] = counts["Effusion"]   # a tie: column order decides
    m = fx.reversed_frequency_map(counts)
    ranked = sorted(FINDINGS, key=lambda f: (-counts[f], FINDINGS.index(f)))
    first = FINDINGS[0]                           # most counts
    assert ranked[0] == first and ranked[-1] == "Hernia"
    assert m["Hernia"] == first and m[first] == "Hernia"
    assert ranked.index("Cardiomegaly") == ranked.index("Effusion") + 1
    for i, column in enumerate(ranked):
        assert m[column] == ranked[-1 - i]
    assert all(m[m[c]] == c for c in FINDINGS)     # swaps pairs: its own inverse
    assert sorted(m.values()) == sorted(FINDINGS)


def test_reversed_map_needs_every_finding_seen():
    counts = dict.fromkeys(FINDINGS, 10) | {"Hernia": 0}
    with pytest.raises(ConfigError, match="Hernia have no training positive"):
        fx.reversed_frequency_map(counts)


def test_pooled_slope_is_least_squares_through_zero():
    rng = np.random.default_rng(1)
    d = rng.uniform(0.05, 1.2, 14)
    delta = -7 * d + rng.normal(0, 2, 14)
    delta[[2, 5]] = np.nan                       # "never" drops: left out
    ok = np.isfinite(delta)
    want = np.linalg.lstsq(d[ok, None], delta[ok], rcond=None)[0][0]
    assert fe.pooled_slope(delta, d) == pytest.approx(want, rel=1e-12)
    # hand-worked: d = (1, 2), Δ = (−3, −4) → (−3 − 8) / (1 + 4) = −2.2
    assert fe.pooled_slope(np.array([-3.0, -4.0]), np.array([1.0, 2.0])) == pytest.approx(-2.2)
    # replicates along the first axis, each its own slope
    reps = np.stack([delta, 2 * delta])
    assert np.allclose(fe.pooled_slope(reps, d), [want, 2 * want])
    assert np.isnan(fe.pooled_slope(np.full(3, np.nan), np.ones(3)))


def test_base_config_refuses_what_would_break_the_design():
    with pytest.raises(ConfigError, match="signature_map"):
        fx.base_config(True, ["dataset.options.signature_map={Hernia: Nodule}"])
    with pytest.raises(ConfigError, match="needs synthcxr"):
        fx.base_config(True, ["dataset.name=csv"])
    full = fx.base_config(False)
    assert full["methods"] == ["l1_global"] and full["seeds"] == [0, 1, 2]
    assert full["sparsities"] == list(range(0, 100, 5))


def test_cli_help_exists(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["experiment", "frequency", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--out" in out and "--quick" in out


# ----------------------------------------------------------------------------- quick run
@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The quick run, two units at once in spawned workers, from a process whose __main__
    is a script that must not run again (as under Streamlit's AppTest earlier in a test
    session): the workers must not re-run it."""
    out = tmp_path_factory.mktemp("freq") / "exp"
    page = out.parent / "page.py"
    page.write_text("raise SystemExit('a worker re-ran the parent process' main script')\n")
    fake_main = types.ModuleType("__main__")
    fake_main.__file__ = str(page)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "__main__", fake_main)
        rc = main(["experiment", "frequency", "--out", str(out), "--quick", "--no-progress"])
        assert fake_main.__file__ == str(page)        # put back after the pool started
    assert rc == 0
    return out


def test_quick_run_writes_verified_tables_and_verified_studies(quick):
    assert fx.verify_tables(quick) == []
    for arm in fx.ARMS:
        assert store.verify(quick / arm) == []
    arms = pd.read_parquet(quick / "frequency_arms.parquet")
    eff = pd.read_parquet(quick / "frequency_effects.parquet")
    assert len(arms) == 2 * 14 and set(arms["signature"]) == set(FINDINGS)
    assert len(eff) == 3 * 15 and set(eff["metric"]) == set(fe.METRICS)
    exp = store.read_json(quick / "experiment.json")
    assert exp["quick"] is True and exp["method"] == "l1_global"
    assert set(exp["results"]["pooled"]) == set(fe.METRICS)
    # the map the reversed arm's study was run with is the one reported
    rev = store.read_json(quick / "reversed" / "study.json")
    ident = store.read_json(quick / "identity" / "study.json")
    assert rev["config"]["dataset"]["options"]["signature_map"] == \
        exp["arms"]["reversed"]["signature_map"]
    assert "signature_map" not in ident["config"]["dataset"]["options"]
    timing = store.read_json(quick / "timing.json")["runs"][-1]
    assert timing["seeds_trained"] == 4 and timing["wall_s"] > 0


def test_tables_agree_with_each_arms_own_analysis(quick):
    """Same plan (B, seed, images, seeds) as `core analyze`: same points AND intervals."""
    arms = pd.read_parquet(quick / "frequency_arms.parquet")
    for arm in fx.ARMS:
        a = arms[arms["arm"] == arm].set_index("label_column")
        root = quick / arm / "analysis"
        cs = pd.read_parquet(root / "ci_class_summary.parquet").set_index("class").loc[a.index]
        pc = pd.read_parquet(root / "ci_per_class.parquet")
        pc = pc[pc["sparsity"] == 0].set_index("class").loc[a.index]
        counts = pd.read_parquet(quick / arm / "data" / "class_counts.parquet")
        assert np.array_equal(a["train_pos"],
                              counts.set_index("class")["train_pos"].loc[a.index])
        for col in ("first_drop", "first_drop_lo", "first_drop_hi", "rel_ap_at",
                    "rel_ap_at_lo", "rel_ap_at_hi"):
            assert np.allclose(a[col], cs[col], equal_nan=True, rtol=0, atol=1e-12), col
        for mine, theirs in (("dense_ap", "ap"), ("dense_ap_lo", "ap_lo"),
                             ("dense_ap_hi", "ap_hi")):
            assert np.allclose(a[mine], pc[theirs], equal_nan=True, rtol=0, atol=1e-12)
    # in the reversed arm each signature sits on its partner's column
    exp = store.read_json(quick / "experiment.json")
    sig_map = exp["arms"]["reversed"]["signature_map"]
    rev = arms[arms["arm"] == "reversed"]
    assert all(sig_map[c] == s for c, s in zip(rev["label_column"], rev["signature"],
                                               strict=True))


def test_effects_are_rare_minus_common_per_log10_ratio(quick):
    arms = pd.read_parquet(quick / "frequency_arms.parquet")
    eff = pd.read_parquet(quick / "frequency_effects.parquet")
    for metric in fe.METRICS:
        e = eff[(eff["metric"] == metric) & (eff["signature"] != fe.POOLED)]
        e = e.set_index("signature")
        common = arms[arms["role"] == "common"].set_index("signature")
        rare = arms[arms["role"] == "rare"].set_index("signature")
        assert np.allclose(e["difference"], rare.loc[e.index, metric]
                           - common.loc[e.index, metric], equal_nan=True)
        assert np.allclose(e["log10_ratio"], np.log10(common.loc[e.index, "train_pos"]
                                                      / rare.loc[e.index, "train_pos"]))
        assert (e["log10_ratio"] > 0).all()
        assert np.allclose(e["per_10x"], e["difference"] / e["log10_ratio"], equal_nan=True)
        pooled = eff[(eff["metric"] == metric) & (eff["signature"] == fe.POOLED)].iloc[0]
        ok = e["difference"].notna()
        if ok.sum():
            want = np.linalg.lstsq(e.loc[ok, ["log10_ratio"]].to_numpy(),
                                   e.loc[ok, "difference"].to_numpy(), rcond=None)[0][0]
            assert pooled["per_10x"] == pytest.approx(want, rel=1e-9)
            assert pooled["per_10x_lo"] <= pooled["per_10x_hi"]


def test_a_replicate_is_the_paired_resample_recomputed_by_sklearn(quick):
    """Replicate b of an arm's dense AP = the median over b's drawn seeds of scikit-learn's
    AP on b's resampled images; both arms get the same draw (one plan)."""
    from core import predictions
    from core.analysis.study_inputs import load_study

    cfg = fx.arm_configs(fx.base_config(True), store.read_json(
        quick / "experiment.json")["arms"]["reversed"]["signature_map"])["identity"]
    study = load_study(quick / "identity")
    y = study["y"]
    plan = unc.make_plan(len(y), len(cfg.seeds), 20, 7, 0.95)
    stats = fe.arm_statistics(quick / "identity", "l1_global", cfg.seeds, cfg.sparsities, plan,
                              y, 20, 95)
    c = study["classes"].index("Effusion")
    for b in range(3):
        w = plan.weights[:, b].astype(int)
        per_seed = []
        for seed in cfg.seeds:
            s = np.asarray(predictions.read_scores(quick / "identity", "l1_global", seed))[0]
            per_seed.append(average_precision_score(np.repeat(y[:, c], w),
                                                    np.repeat(s[:, c], w)))
        want = np.median([per_seed[i] for i in plan.seed_draws[b]])
        assert stats["dense_ap"][1][b, c] == pytest.approx(want, abs=1e-6)


def test_tampered_or_missing_table_is_reported(quick, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (*fx.TABLE_FILES, fx.MANIFEST):
        shutil.copy(quick / name, copy / name)
    assert fx.verify_tables(copy) == []
    exp = store.read_json(copy / "experiment.json")
    exp["results"]["pooled"]["first_drop"]["per_10x"] = -99.0
    store.write_json(copy / "experiment.json", exp)
    assert any("experiment.json: modified" in p for p in fx.verify_tables(copy))
    (copy / "timing.json").unlink()
    assert any("timing.json: missing" in p for p in fx.verify_tables(copy))
    assert fx.verify_tables(tmp_path / "nothing") != []


def test_partial_uses_the_seeds_both_arms_finished(quick, tmp_path):
    # on a finished experiment, --partial recomputes the same tables from the same seeds
    again = fx.tables_from_finished_seeds(quick, quick=True)
    assert again["design"]["partial"]["seeds_used"] == [0, 1]
    units = again["timing"]["runs"][-1]["units"]
    assert [(u["arm"], u["seed"]) for u in units] == [("identity", 0), ("reversed", 0),
                                                      ("identity", 1), ("reversed", 1)]
    assert all(u["seconds"] > 0 for u in units)
    assert again["effects"].equals(pd.read_parquet(quick / "frequency_effects.parquet"))
    # a copy whose reversed arm lost seed 1's marker: only seed 0 is paired
    copy = tmp_path / "exp"
    shutil.copytree(quick, copy, ignore=shutil.ignore_patterns("cache"))
    (copy / "reversed" / "units" / "seed-1.json").unlink()
    part = fx.tables_from_finished_seeds(copy, quick=True)
    assert part["design"]["partial"] == {"planned_seeds": [0, 1], "seeds_used": [0]}
    assert part["summary"]["seeds"] == [0]
    assert store.read_json(copy / "experiment.json")["partial"]["seeds_used"] == [0]
    assert fx.verify_tables(copy) == []
    # a changed prediction file unpairs its seed: nothing left to compare
    pred = copy / "identity" / "predictions" / "l1_global" / "seed-0.npy"
    pred.write_bytes(pred.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ConfigError, match="no seed is finished in both arms"):
        fx.tables_from_finished_seeds(copy, quick=True)
    assert main(["experiment", "frequency", "--out", str(copy), "--quick", "--partial"]) == 2


def test_a_resumed_run_keeps_each_units_training_time(quick, tmp_path):
    """Rerunning on finished seeds trains nothing, and its timing entry still says how long
    each unit took, from the unit's marker (the first invocation may have ended before it
    wrote timing.json)."""
    copy = tmp_path / "exp"
    shutil.copytree(quick, copy)
    (copy / "timing.json").unlink()   # as if the first invocation had stopped before it
    fx.run_experiment(copy, quick=True, progress=False, log=lambda *_: None)
    run = store.read_json(copy / "timing.json")["runs"][-1]
    assert run["seeds_trained"] == 0
    seeds = [u for u in run["units"] if u["seed"] is not None]
    assert len(seeds) == 4 and all(u["already_done"] for u in seeds)
    for u in seeds:
        marker = store.read_json(store.StudyPaths(copy / u["arm"]).unit_done(u["seed"]))
        assert u["seconds"] == marker["seconds"] > 0 and u["finished"] == marker["finished"]
    assert fx.verify_tables(copy) == []


def test_units_one_at_a_time_train_the_same_bits_as_two_at_once(quick, tmp_path):
    """The fixture trained two units at once in worker processes (the default); one after
    another in this process must give byte-identical weights and predictions: the thread
    count and layout are in the arms' configs, not in the scheduling."""
    exp = store.read_json(quick / "experiment.json")
    assert exp["config"]["train"]["threads"] == 1
    assert exp["config"]["train"]["channels_last_cpu"] is True
    assert store.read_json(quick / "timing.json")["runs"][0]["jobs"] == 2
    out = tmp_path / "serial"
    fx.run_experiment(out, quick=True, progress=False, log=lambda *_: None, jobs=1)
    assert store.read_json(out / "timing.json")["runs"][-1]["jobs"] == 1
    for arm in fx.ARMS:
        for seed in (0, 1):
            for rel in (f"models/seed-{seed}/weights.safetensors",
                        f"predictions/l1_global/seed-{seed}.npy"):
                a, b = (quick / arm / rel), (out / arm / rel)
                assert a.is_file() and a.read_bytes() == b.read_bytes(), (arm, rel)


def test_jobs_below_one_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match="jobs"):
        fx.run_experiment(tmp_path / "x", quick=True, progress=False, log=lambda *_: None,
                          jobs=0)
