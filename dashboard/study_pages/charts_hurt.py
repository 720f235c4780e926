"""Altair builders for the tables beyond the paper (CIs, subgroups, missed findings,
calibration): DataFrames in, charts out, no Streamlit — tested on their own like charts.py.
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from dashboard.common.charts import HEIGHT, WIDTH, band_curves

# Relative change is coloured on [−100%, +100%] (diverging around 0); larger gains are
# clipped to the top colour (their tooltips keep the true value).
REL_DOMAIN = (-1.0, 1.0)


def subgroup_heatmap(table: pd.DataFrame, classes, title: str) -> alt.Chart:
    """Relative AP change per (subgroup, class) at one sparsity; the 95% CI on hover.

    `table`: rows of analysis/subgroups.parquet for one method and sparsity. Cells whose
    group has too few positives are grey and say so (no number is drawn for them).
    """
    d = table.copy()
    d["subgroup"] = d["attribute"].astype(str) + ": " + d["group"].astype(str)
    d["few"] = d["note"].astype(str) != ""
    d["shown"] = d["rel_ap"].clip(*REL_DOMAIN)
    d["label"] = np.where(d["few"], "few", d["rel_ap"].map(
        lambda v: "" if pd.isna(v) else f"{v:+.0%}"))
    order = list(dict.fromkeys(d["subgroup"]))
    enc = dict(
        x=alt.X("class:N", sort=list(classes), title=None,
                axis=alt.Axis(labelAngle=-45, labelOverlap=False, labelLimit=140)),
        y=alt.Y("subgroup:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
        tooltip=[alt.Tooltip("subgroup:N"), alt.Tooltip("class:N"),
                 alt.Tooltip("rel_ap:Q", title="AP change vs dense", format="+.1%"),
                 alt.Tooltip("rel_ap_lo:Q", title="95% CI low", format="+.1%"),
                 alt.Tooltip("rel_ap_hi:Q", title="95% CI high", format="+.1%"),
                 alt.Tooltip("ap:Q", title="AP", format=".3f"),
                 alt.Tooltip("n_pos:Q", title="positive images"),
                 alt.Tooltip("n_images:Q", title="images in group"),
                 alt.Tooltip("note:N", title="note")])
    grey = alt.Chart(d).transform_filter("datum.few || !isValid(datum.rel_ap)").mark_rect(
        color="#e6e6e6").encode(**enc)
    cells = alt.Chart(d).transform_filter("!datum.few && isValid(datum.rel_ap)").mark_rect(
    ).encode(color=alt.Color("shown:Q", title="AP change", scale=alt.Scale(
        scheme="redblue", domain=list(REL_DOMAIN), domainMid=0),
        legend=alt.Legend(format="%")), **enc)
    text = alt.Chart(d).mark_text(fontSize=9, color="#222").encode(
        x=alt.X("class:N", sort=list(classes)), y=alt.Y("subgroup:N", sort=order),
        text="label:N")
    step = 34 if len(classes) <= 15 else 28
    return alt.layer(grey, cells, text, title=title).properties(
        width=alt.Step(step), height=alt.Step(22))


def rate_curves(summary: pd.DataFrame, rate: str, rate_title: str,
                legend_columns: int = 4) -> alt.Chart:
    """Median over seeds of a missed-finding rate per class vs sparsity (IQR on hover)."""
    scheme = "tableau10" if summary["class"].nunique() <= 10 else "tableau20"
    pick = alt.selection_point(fields=["class"], bind="legend")
    base = alt.Chart(summary).encode(
        x=alt.X("sparsity:Q", title="sparsity (% of weights removed)",
                scale=alt.Scale(nice=False)),
        color=alt.Color("class:N", sort=None, title="class (click to highlight)",
                        scale=alt.Scale(scheme=scheme),
                        legend=alt.Legend(orient="bottom", columns=legend_columns,
                                          symbolType="stroke",
                                          labelLimit=180)))
    line = base.mark_line(point=alt.OverlayMarkDef(size=16)).encode(
        y=alt.Y("median:Q", title=rate_title, axis=alt.Axis(format="%")),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
        tooltip=["class:N", "sparsity:Q", alt.Tooltip("median:Q", format=".1%"),
                 alt.Tooltip("q25:Q", format=".1%"), alt.Tooltip("q75:Q", format=".1%"),
                 "n_seeds:Q"])
    return line.add_params(pick).properties(width=WIDTH, height=HEIGHT + 60)


def calibration_metric_curves(summary: pd.DataFrame, metric: str, title: str,
                              legend_columns: int = 4) -> alt.Chart:
    """ECE or Brier (median over seeds) per class vs sparsity."""
    return rate_curves(summary, metric, title, legend_columns).encode(
        y=alt.Y("median:Q", title=title, axis=alt.Axis(format=".2f")),
        tooltip=["class:N", "sparsity:Q", alt.Tooltip("median:Q", format=".3f"),
                 alt.Tooltip("q25:Q", format=".3f"), alt.Tooltip("q75:Q", format=".3f"),
                 "n_seeds:Q"])


def reliability(bins: pd.DataFrame, title: str) -> alt.Chart:
    """Reliability diagram: fraction positive vs mean predicted probability per bin, one line
    per sparsity (bins pooled over seeds); the diagonal is perfect calibration."""
    d = bins[bins["count"] > 0].copy()
    d["sparsity_label"] = d["sparsity"].astype(int).astype(str) + "%"
    order = [f"{k}%" for k in sorted(d["sparsity"].astype(int).unique())]
    diag = alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})).mark_line(
        color="#999", strokeDash=[3, 3]).encode(x="x:Q", y="y:Q")
    line = alt.Chart(d).mark_line(point=True).encode(
        x=alt.X("mean_prob:Q", title="mean predicted probability in bin",
                scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("frac_pos:Q", title="fraction of images with the finding",
                scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("sparsity_label:N", sort=order, title="sparsity",
                        scale=alt.Scale(scheme="viridis")),
        tooltip=[alt.Tooltip("sparsity_label:N", title="sparsity"),
                 alt.Tooltip("bin_lo:Q", title="bin from", format=".1f"),
                 alt.Tooltip("bin_hi:Q", title="bin to", format=".1f"),
                 alt.Tooltip("mean_prob:Q", format=".3f"), alt.Tooltip("frac_pos:Q",
                                                                       format=".3f"),
                 alt.Tooltip("count:Q", title="images (all seeds)", format=",")])
    return alt.layer(diag, line, title=title).properties(width=WIDTH - 160, height=HEIGHT)


def ci_metric_curves(table: pd.DataFrame, metric_title: str,
                     k_range: tuple[int, int] | None = None,
                     x: tuple[str, str] | None = None) -> alt.Chart:
    """mAP per method vs sparsity (or the cost column `x`, see dashboard.study_pages.cost_axis)
    with its 95% bootstrap CI band (analysis/ci_overall)."""
    return band_curves(table, metric_title, "map", "map_lo", "map_hi", k_range,
                       [alt.Tooltip("map:Q", title="median", format=".3f"),
                        alt.Tooltip("map_lo:Q", title="95% CI low", format=".3f"),
                        alt.Tooltip("map_hi:Q", title="95% CI high", format=".3f")], x)


# Memoised by their inputs, as charts.py's builders (dashboard/common/chart_memo.py).
from dashboard.common.chart_memo import memoise  # noqa: E402

memoise(globals(), ("subgroup_heatmap", "rate_curves", "calibration_metric_curves",
                    "reliability", "ci_metric_curves"))
