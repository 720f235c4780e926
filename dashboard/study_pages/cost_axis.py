"""The x-axis of the accuracy curves: sparsity, or what the pruned model costs.

Overview and Classes let the reader compare methods at equal cost instead of equal
sparsity: remaining FLOPs per image (as a % of the dense model; counted by core.pruning.cost, so
unstructured zeros stay at 100% — dense hardware multiplies them anyway) or measured CPU
latency per image (batch 1, measured once on the study's first seed while it ran). Both
are read from metrics/cost.parquet (core.pruning.cost.read_cost_table), never recomputed here;
studies without one (imported, or made before it existed, like the shipped demo) offer
sparsity only and the page says so.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

# key → (column in the merged table, axis title; the title names the unit and is the
# tooltip's label too)
AXES = {
    "sparsity": ("sparsity", "sparsity (% of weights removed)"),
    "flops": ("flops_pct", "remaining FLOPs per image (% of the dense model)"),
    "latency": ("cpu_ms_b1", "CPU latency (ms per image, batch 1)"),
}
LABELS = {"sparsity": "sparsity", "flops": "remaining FLOPs", "latency": "CPU latency"}
CAPTIONS = {
    "flops": "x: FLOPs of one forward pass per image, counted on each pruned model, as a % "
             "of the dense model's. Unstructured pruning leaves zeros that dense hardware "
             "still multiplies, so its points stay at 100%; channel pruning removes them.",
    "latency": "x: CPU time per image (batch 1, median of repeated passes), measured once "
               "while the study ran, on its first seed, on whatever machine and load it had: "
               "compare points of one study, not studies.",
}
NO_TABLE = ("x-axis: sparsity only — this study has no measured cost table "
            "(metrics/cost.parquet; studies made before it existed and imported ones lack it).")


@st.cache_data(show_spinner=False, max_entries=16)
def cost_table(_d, key: str) -> pd.DataFrame | None:
    """metrics/cost.parquet of the (verified) study `_d`, or None; `key` stands for `_d`."""
    from core.pruning.cost import read_cost_table

    return read_cost_table(_d.path)


def with_cost(table: pd.DataFrame, cost: pd.DataFrame | None) -> pd.DataFrame:
    """`table` (rows keyed by method and sparsity) with the cost of that (method, sparsity)
    from the cost table: `flops_pct` = its `flops` / the dense model's `flops` × 100 and
    `cpu_ms_b1` as stored (NaN where the table has no row). The dense model is the method's
    own 0% row; every method starts from the same dense weights, so any method's 0% row
    stands in when one lacks it."""
    if cost is None or not len(cost):
        return table.assign(flops_pct=float("nan"), cpu_ms_b1=float("nan"))
    zero = cost[cost["sparsity"] == 0]
    dense = cost["method"].map(zero.groupby("method")["flops"].first())
    if len(zero):
        dense = dense.fillna(float(zero["flops"].median()))
    c = cost.assign(flops_pct=100 * cost["flops"] / dense)
    out = table.drop(columns=["flops_pct", "cpu_ms_b1"], errors="ignore")
    return out.merge(c[["method", "sparsity", "flops_pct", "cpu_ms_b1"]],
                     on=["method", "sparsity"], how="left")


def domain(cost: pd.DataFrame | None, methods, xkey: str) -> list[float] | None:
    """x-axis range over `methods` (all of them, not only the one drawn), so that switching
    the Classes chart from one method to another keeps the axis and costs stay comparable."""
    if cost is None or xkey == "sparsity":
        return None
    col = with_cost(cost[cost["method"].isin(methods)][["method", "sparsity"]], cost)
    vals = col[AXES[xkey][0]].dropna()
    return [float(vals.min()), float(vals.max())] if len(vals) else None


def pick_axis(container, cost: pd.DataFrame | None, key: str) -> str:
    """A radio for the x-axis, kept in the URL as `x` (shared by Overview and Classes). A
    study without a cost table gets no radio, one line saying why, and sparsity."""
    from dashboard.common.filters import url_control

    if cost is None:
        container.caption(NO_TABLE)
        return "sparsity"
    return url_control(container.radio, "x-axis", key=key, param="x_axis", default="sparsity",
                       options=list(AXES), horizontal=True, format_func=LABELS.get,
                       valid=lambda v: v in AXES,
                       help="Compare methods at equal cost: FLOPs counted per image (zero weights "
                            "of unstructured pruning still cost FLOPs on dense hardware); latency "
                            "measured on the CPU for one image at a time while the study ran "
                            "(metrics/cost.parquet).")


_HOW = {"unstructured": "one-shot methods set weights to zero, no retraining",
        "structured": "channel methods remove whole channels (a smaller model)",
        "regime": "gradual methods prune step by step, fine-tuning between sparsities"}


def how_pruned(methods) -> str:
    """': <how each kind of method present prunes>' for the page's opening line ('' when no
    method is a registered one, e.g. an imported study's)."""
    from core.pruning import method_kind

    kinds = set()
    for m in methods:
        try:
            kinds.add(method_kind(m))
        except KeyError:
            pass
    parts = [_HOW[k] for k in _HOW if k in kinds]
    return f": {'; '.join(parts)}" if parts else ""


def latency_note(cost: pd.DataFrame | None) -> str | None:
    """How noisy the study's latency column is, from the table itself: every method's 0% row
    is the same dense model, timed once per method. None with fewer than two such timings."""
    if cost is None:
        return None
    dense = cost.loc[cost["sparsity"] == 0, "cpu_ms_b1"].dropna()
    if len(dense) < 2:
        return None
    return (f"Measurement noise: the dense model, timed once per method ({len(dense)} times, "
            f"the same weights), took {dense.min():.2f}–{dense.max():.2f} ms per image; "
            "latency differences within that spread are noise, not pruning.")


def missing_note(table: pd.DataFrame, xkey: str) -> str | None:
    """One Markdown line naming the methods of `table` (with_cost's) that have no cost for
    the axis and so are left out of the chart, or None."""
    if xkey == "sparsity":
        return None
    col = AXES[xkey][0]
    gone = sorted(set(table["method"]) - set(table.loc[table[col].notna(), "method"]))
    from dashboard.common.safe import md_escape

    return (f"No measured {LABELS[xkey]} for: {md_escape(', '.join(gone))} — left out of "
            "the chart." if gone else None)
