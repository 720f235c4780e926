"""The frequency experiment's shipped result tables, verified, and the words for its effects.

Kept apart from the page so the sentences and the chart's data are plain functions (tested
without Streamlit). The tables are written by `python -m core experiment frequency`
(core/experiments/frequency.py); the folder's manifest.json holds their sha256.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core import store
from core.experiments.frequency import verify_tables

ROOT = Path(__file__).resolve().parents[2]
# Where the page looks; PRUNELENS_FREQUENCY_EXPERIMENT points it elsewhere (tests, own runs).
DEFAULT_DIR = ROOT / "artifacts" / "frequency-experiment"
ENV = "PRUNELENS_FREQUENCY_EXPERIMENT"
PRODUCE = ("python -m core experiment frequency --out artifacts/frequency-experiment")

METRIC_TITLES = {
    "first_drop": "first 20%-drop sparsity (%)",
    "rel_ap_at": "relative AP change at 95% sparsity",
    "dense_ap": "dense AP (sparsity 0)",
}
# What the paper's frequency effect predicts for a 10× rarer label, per metric.
PREDICTION = {"first_drop": "earlier (a negative change)",
              "rel_ap_at": "a larger loss (a negative change)",
              "dense_ap": "a lower dense AP (a negative change)"}


@dataclass
class Experiment:
    folder: Path
    arms: pd.DataFrame
    effects: pd.DataFrame
    design: dict
    timing: dict


def folder() -> Path:
    return Path(os.environ.get(ENV) or DEFAULT_DIR)


def load(path: Path) -> Experiment | list[str] | None:
    """The experiment, or its problems (the tables do not match manifest.json), or None
    when the folder holds no result tables at all."""
    if not (path / "manifest.json").is_file() and not (path / "experiment.json").is_file():
        return None
    problems = verify_tables(path)
    if problems:
        return problems
    return Experiment(path, pd.read_parquet(path / "frequency_arms.parquet"),
                      pd.read_parquet(path / "frequency_effects.parquet"),
                      store.read_json(path / "experiment.json"),
                      store.read_json(path / "timing.json"))


def _num(x, unit: str, digits: int) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.{digits}f}{unit}"


def verdict(lo: float, hi: float) -> str:
    """The rule of docs/experiments.md: an interval excluding 0 shows an effect."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "cannot be judged (the interval is undefined)"
    if lo > 0:
        return "an effect of frequency, positive"
    if hi < 0:
        return "an effect of frequency, negative"
    return "no effect of frequency shown (the interval includes 0)"


def pooled_sentence(pooled: dict, metric: str) -> str:
    """One sentence: the pooled change per 10× rarer with its interval and verdict."""
    p = pooled.get(metric) or {}
    digits, unit = (1, " points") if metric == "first_drop" else (3, "")
    return (f"Pooled over {p.get('n_signatures', 'the')} signatures, a label 10× rarer "
            f"changes the {METRIC_TITLES[metric]} by {_num(p.get('per_10x'), unit, digits)} "
            f"(95% paired bootstrap CI {_num(p.get('lo'), '', digits)} to "
            f"{_num(p.get('hi'), '', digits)}; the paper's frequency effect predicts "
            f"{PREDICTION[metric]}): {verdict(p.get('lo', math.nan), p.get('hi', math.nan))}.")


def short_answer(design: dict) -> str | None:
    """One sentence for the study pages: what the experiment measured, pooled, with its
    intervals and how many seeds (None when it holds no pooled first-drop result)."""
    summary = design.get("results", {})
    pooled = summary.get("pooled", {})
    fd, at = pooled.get("first_drop"), pooled.get("rel_ap_at")
    if not fd or not at:
        return None
    seeds = summary.get("seeds", [])
    part = design.get("partial")
    of = f" of {len(part.get('planned_seeds', []))} planned" if part else ""
    n = f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}{of} per arm"
    return (f"Its answer ({n}, same signatures in both arms): a label "
            f"10× rarer changes the first 20%-drop sparsity by "
            f"{_num(fd.get('per_10x'), ' points', 1)} (95% CI {_num(fd.get('lo'), '', 1)} to "
            f"{_num(fd.get('hi'), '', 1)}) and the relative AP change at 95% by "
            f"{_num(at.get('per_10x'), '', 3)} ({_num(at.get('lo'), '', 3)} to "
            f"{_num(at.get('hi'), '', 3)}). On the first drop: "
            f"{verdict(fd.get('lo', math.nan), fd.get('hi', math.nan))}.")


def dot_frame(arms: pd.DataFrame, effects: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Long frame for the paired dot plot: one row per signature and arm role."""
    eff = effects[(effects["metric"] == metric) & (effects["signature"] != "pooled")]
    order = eff.sort_values("log10_ratio", ascending=False)["signature"].tolist()
    df = arms[arms["role"].isin(["common", "rare"])][
        ["signature", "arm", "label_column", "train_pos", "role", metric, f"{metric}_lo",
         f"{metric}_hi"]].rename(columns={metric: "value", f"{metric}_lo": "lo",
                                          f"{metric}_hi": "hi"})
    df["rank"] = df["signature"].map({s: i for i, s in enumerate(order)})
    return df.sort_values(["rank", "role"]).reset_index(drop=True)
