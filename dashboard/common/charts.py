"""Altair chart builders: DataFrames in, charts out; no Streamlit, tested on their own.

Every chart carries its data inline and a fixed size, so the same object renders in the
app and exports to SVG/PNG (dashboard/common/export.py) without a browser.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

WIDTH, HEIGHT = 560, 340
# Colour-blind-safe categorical palette (Tableau 10) for methods / models.
PALETTE = "tableau10"


def _fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def stats_text(s: Mapping) -> str:
    """'r = 0.64 (p 0.002) · ρ = 0.61 (p 0.004) · n = 20' (n/a where undefined)."""
    def num(v):
        return "n/a" if v is None or not math.isfinite(v) else f"{v:.2f}"
    return (f"r = {num(s.get('r'))} (p {_fmt_p(s.get('p_r'))}) · ρ = {num(s.get('rho'))} "
            f"(p {_fmt_p(s.get('p_rho'))}) · n = {s.get('n', 0)}")


def _note(text: str) -> alt.Chart:
    """A line of text in the chart's top-left corner (kept in exports, unlike a caption)."""
    return alt.Chart(pd.DataFrame({"t": [text]})).mark_text(
        align="left", baseline="top", fontSize=12, fontWeight="bold", color="#333",
    ).encode(text="t:N", x=alt.value(6), y=alt.value(4))


def long_tail(counts: pd.DataFrame, title: str = "Training images per class") -> alt.Chart:
    """Horizontal bars of `images` per `class`, most frequent first, on a log scale.
    Bars start at 1 (a log axis has no 0); zero counts are named in the title instead."""
    df = counts[counts["images"] > 0]
    zero = counts.loc[~(counts["images"] > 0), "class"].tolist()
    if zero:
        title += f" (none: {', '.join(zero)})"
    order = df.sort_values("images", ascending=False)["class"].tolist()
    top = float(df["images"].max()) if len(df) else 10.0
    ticks = [10 ** i for i in range(int(math.log10(max(top, 1))) + 2)]
    tooltip = [alt.Tooltip("class:N"), alt.Tooltip("images:Q", title="train images", format=",")]
    if "eval_images" in df:
        tooltip.append(alt.Tooltip("eval_images:Q", title="eval images", format=","))
    return alt.Chart(df, title=title).mark_bar(color="#4c78a8").encode(
        y=alt.Y("class:N", sort=order, title=None),
        x=alt.X("images:Q", scale=alt.Scale(type="log", domain=[1, ticks[-1]]),
                axis=alt.Axis(values=ticks, format="~s"), title="images with the finding (log)"),
        x2=alt.datum(1),
        tooltip=tooltip,
    ).properties(width=WIDTH - 160, height=alt.Step(20))


def _x(df: pd.DataFrame, x: tuple[str, str] | None,
       domain: Sequence[float] | None = None) -> alt.X:
    """Sparsity (default) or a cost column (`x` = (column, title)); a cost axis spans
    `domain` when given (else its data, not from zero)."""
    field, title = x or ("sparsity", "sparsity (% of weights removed)")
    if field == "sparsity":
        vals = df["sparsity"]
        domain = [int(vals.min()), int(vals.max())] if len(vals) else [0, 100]
        return alt.X("sparsity:Q", title=title, scale=alt.Scale(domain=domain, nice=False))
    # padding: unstructured methods sit exactly at 100% of the FLOPs, the domain's edge,
    # where their points and bars would be cut in half
    scale = (alt.Scale(zero=False, padding=12) if domain is None
             else alt.Scale(domain=list(domain), nice=False, padding=12))
    return alt.X(f"{field}:Q", title=title, scale=scale)


def _on_cost(df: pd.DataFrame, x: tuple[str, str] | None) -> tuple[pd.DataFrame, list]:
    """For a cost axis: the rows that have that cost, and a tooltip naming it with its unit
    (the axis title). Nothing changes for the sparsity axis."""
    if x is None or x[0] == "sparsity":
        return df, []
    return df[df[x[0]].notna()], [alt.Tooltip(f"{x[0]}:Q", title=x[1], format=".3~g")]


def metric_curves(summary: pd.DataFrame, metric_title: str, band: str = "iqr",
                  k_range: tuple[int, int] | None = None,
                  x: tuple[str, str] | None = None) -> alt.Chart:
    """Median over seeds per method vs sparsity (or a cost column `x` = (column, title),
    see dashboard.study_pages.cost_axis), with a band: 'iqr' (q25–q75) or 'range' (min–max
    over seeds).
    `summary` is loaders.metric_summary's table (with the cost columns for `x`)."""
    lo, hi = ("q25", "q75") if band == "iqr" else ("min", "max")
    return band_curves(summary, metric_title, "median", lo, hi, k_range,
                       [alt.Tooltip("median:Q", format=".3f"),
                        alt.Tooltip(f"{lo}:Q", format=".3f"),
                        alt.Tooltip(f"{hi}:Q", format=".3f"), "n_seeds:Q"], x)


def band_curves(df: pd.DataFrame, metric_title: str, mid: str, lo: str, hi: str,
                k_range: tuple[int, int] | None, tooltip: list,
                x: tuple[str, str] | None = None) -> alt.Chart:
    """A line per method (column `mid`) with a band from `lo` to `hi`, against sparsity or
    the cost column `x` = (column, title). Points are joined in sparsity order whatever the
    axis. On a cost axis the band is a vertical bar per point, not an area: cost need not
    fall with sparsity (unstructured zeros keep every FLOP; latency is noisy), and an area
    over a back-and-forth x would cross itself."""
    df = df if k_range is None else df[df["sparsity"].between(*k_range)]
    df, cost_tip = _on_cost(df, x)
    base = alt.Chart(df).encode(
        x=_x(df, x), color=alt.Color("method:N", scale=alt.Scale(scheme=PALETTE),
                                     title="method"))
    if cost_tip:
        band = base.mark_rule(opacity=0.45, strokeWidth=3).encode(y=f"{lo}:Q", y2=f"{hi}:Q")
    else:
        band = base.mark_area(opacity=0.2).encode(y=f"{lo}:Q", y2=f"{hi}:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y(f"{mid}:Q", title=metric_title), order="sparsity:Q",
        tooltip=["method:N", "sparsity:Q", *cost_tip, *tooltip])
    return (band + line).properties(width=WIDTH, height=HEIGHT)


REL_CEILING = 0.5   # relative-AP axis stops at +50%: a rare class with a tiny dense AP can
                    # "gain" +1000% by chance and would flatten every other curve


def class_curves(curves: pd.DataFrame, y_title: str, relative: bool,
                 band_title: str = "IQR", x: tuple[str, str] | None = None,
                 x_domain: Sequence[float] | None = None) -> alt.Chart:
    """Median over seeds per class vs sparsity (or the cost column `x` = (column, title))
    with its IQR band; one colour per class, one dash per method. Clicking a legend entry
    highlights that class. On the relative
    scale the y-axis runs from the lowest value (at least −100%) to at most +50%; higher
    values are cut off at the top edge (their tooltips keep the true numbers). The band is
    the `q25`–`q75` columns, named `band_title` in tooltips (a 95% CI can be passed in them).
    `x_domain` fixes a cost axis's range (the same for every method: see cost_axis.domain)."""
    pick = alt.selection_point(fields=["class"], bind="legend")
    curves, cost_tip = _on_cost(curves, x)
    n_methods = curves["method"].nunique()
    # tableau20 pairs light and dark shades of one hue: only worth it past ten classes
    scheme = "tableau10" if curves["class"].nunique() <= 10 else "tableau20"
    legend = alt.Legend(orient="bottom", columns=4, symbolType="stroke", symbolStrokeWidth=3,
                        symbolOpacity=1, labelLimit=180)
    enc = {"x": _x(curves, x, x_domain),
           "color": alt.Color("class:N", sort=None, title="class (click to highlight)",
                              scale=alt.Scale(scheme=scheme), legend=legend)}
    if n_methods > 1:
        enc["strokeDash"] = alt.StrokeDash("method:N", title="method",
                                           legend=alt.Legend(orient="bottom"))
    y_scale = alt.Scale()
    if relative:
        lo = float(np.nanmin(curves[["median", "q25"]].to_numpy())) if len(curves) else -1.0
        hi = float(np.nanmax(curves[["median", "q75"]].to_numpy())) if len(curves) else 0.0
        lo = min(-1.0, lo) if np.isfinite(lo) else -1.0
        hi = min(REL_CEILING, max(hi, 0.05)) if np.isfinite(hi) else REL_CEILING
        y_scale = alt.Scale(domain=[lo, hi], nice=False)
    base = alt.Chart(curves).encode(**enc)
    fade = alt.condition(pick, alt.value(1.0), alt.value(0.12))
    # on a cost axis a bar per point, not an area (see band_curves)
    band = (base.mark_rule(strokeWidth=3, clip=True) if cost_tip
            else base.mark_area(opacity=0.12, clip=True)).encode(
        y=alt.Y("q25:Q", scale=y_scale), y2="q75:Q",
        opacity=alt.condition(pick, alt.value(0.3 if cost_tip else 0.15), alt.value(0.02)))
    fmt = ".1%" if relative else ".3f"
    line = base.mark_line(point=alt.OverlayMarkDef(size=18), clip=True).encode(
        y=alt.Y("median:Q", title=y_title, scale=y_scale,
                axis=alt.Axis(format="%" if relative else ".2f")),
        order="sparsity:Q", opacity=fade,
        tooltip=["class:N", "method:N", "sparsity:Q", *cost_tip,
                 alt.Tooltip("median:Q", format=fmt),
                 alt.Tooltip("q25:Q", format=fmt, title=f"{band_title} low"),
                 alt.Tooltip("q75:Q", format=fmt, title=f"{band_title} high"),
                 "n_seeds:Q"])
    layers = [band, line]
    if relative:
        layers.insert(0, alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(
            color="#999", strokeDash=[2, 2]).encode(y="y:Q"))
    return alt.layer(*layers).add_params(pick).properties(width=WIDTH, height=HEIGHT + 60)


def stat_scatter(df: pd.DataFrame, x: str, y: str, x_title: str, y_title: str,
                 stats: Mapping, label: str = "class", tooltip: Sequence = (),
                 y_format: str | None = None, color: str = "#4c78a8") -> alt.Chart:
    """Points with a least-squares line and 'r, ρ, p, n' written on the chart; hovering a
    point names it (`label`). Points with a missing x or y are left out (see stats n)."""
    d = df[np.isfinite(df[x].astype(float)) & np.isfinite(df[y].astype(float))]
    tips = [alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{x}:Q", title=x_title, format=".3f"),
            alt.Tooltip(f"{y}:Q", title=y_title, format=y_format or ".3f"), *tooltip]
    pts = alt.Chart(d).mark_circle(size=70, opacity=0.75, color=color).encode(
        x=alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(zero=False, padding=24)),
        y=alt.Y(f"{y}:Q", title=y_title, scale=alt.Scale(zero=False),
                axis=alt.Axis(format=y_format) if y_format else alt.Axis()),
        tooltip=tips)
    layers = [pts]
    if len(d) >= 2 and d[x].nunique() > 1:
        layers.append(alt.Chart(d).transform_regression(x, y).mark_line(
            color="#e45756", strokeDash=[4, 3]).encode(x=f"{x}:Q", y=f"{y}:Q"))
    layers.append(_note(stats_text(stats)))
    return alt.layer(*layers).properties(width=WIDTH - 120, height=HEIGHT)


def labelled_scatter(df: pd.DataFrame, x: str, y: str, x_title: str, y_title: str,
                     stats: Mapping, label: str = "class", y_format: str | None = None,
                     highlight: str | None = None) -> alt.Chart:
    """stat_scatter with each point's name written beside it (few points: classes). With
    `highlight` (a boolean column), those points are drawn bold and the others faded; the
    statistics stay those of all points."""
    chart = stat_scatter(df, x, y, x_title, y_title, stats, label, y_format=y_format)
    d = df[np.isfinite(df[x].astype(float)) & np.isfinite(df[y].astype(float))]
    text = alt.Chart(d).mark_text(align="left", dx=6, fontSize=9, color="#555").encode(
        x=f"{x}:Q", y=f"{y}:Q", text=f"{label}:N")
    layers = list(chart.layer)
    if highlight is not None:
        strong = f"datum.{highlight}"
        layers[0] = layers[0].encode(
            opacity=alt.condition(strong, alt.value(0.95), alt.value(0.2)),
            size=alt.condition(strong, alt.value(110), alt.value(50)))
        text = text.encode(opacity=alt.condition(strong, alt.value(1.0), alt.value(0.3)))
    return alt.layer(*layers, text).properties(width=WIDTH - 120, height=HEIGHT)


def heatmap(matrix: np.ndarray, classes: Sequence[str], title: str) -> alt.Chart:
    """Co-occurrence counts M[a, b] (images with both) in class order, colour on a log scale
    (zeros shown grey: a log scale has no place for them)."""
    m = np.asarray(matrix)
    a, b = np.meshgrid(np.arange(len(classes)), np.arange(len(classes)), indexing="ij")
    names = np.asarray(classes, dtype=object)
    df = pd.DataFrame({"a": names[a.ravel()], "b": names[b.ravel()],
                       "count": m.ravel().astype(np.int64)})
    order = list(classes)
    step = max(14, min(30, 480 // max(len(classes), 1)))
    enc = dict(x=alt.X("b:N", sort=order, title=None,
                       axis=alt.Axis(labelAngle=-50, labelOverlap=False)),
               y=alt.Y("a:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
               tooltip=[alt.Tooltip("a:N", title="class"), alt.Tooltip("b:N", title="with"),
                        alt.Tooltip("count:Q", format=",")])
    # grey cells underneath: pairs never seen together (a log colour scale has no 0)
    base = alt.Chart(df).mark_rect(color="#e8e8e8").encode(**enc)
    cells = alt.Chart(df).transform_filter("datum.count > 0").mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(type="log", scheme="viridis"),
                        title="images"), **enc)
    return alt.layer(base, cells, title=title).properties(width=alt.Step(step),
                                                          height=alt.Step(step))


def ratio_bars(df: pd.DataFrame, category: str, title: str, sort: Sequence | str = "-x",
               tooltip: Sequence = ()) -> alt.Chart:
    """PIE:non-PIE prevalence ratio per category with a rule at 1 (= no over-representation);
    bars above 1 are over-represented among PIEs."""
    d = df.copy()
    d["over"] = np.where(d["ratio"] > 1, "more common in PIEs", "less common in PIEs")
    d.loc[d["ratio"].isna(), "over"] = "undefined"
    bars = alt.Chart(d).mark_bar().encode(
        y=alt.Y(f"{category}:N", sort=sort, title=None),
        x=alt.X("ratio:Q", title="prevalence in PIEs ÷ prevalence in non-PIEs"),
        color=alt.Color("over:N", title=None, scale=alt.Scale(
            domain=["more common in PIEs", "less common in PIEs", "undefined"],
            range=["#e45756", "#4c78a8", "#bbbbbb"])),
        tooltip=[f"{category}:N", alt.Tooltip("ratio:Q", format=".2f"), *tooltip])
    one = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(color="#333", strokeDash=[3, 3]
                                                           ).encode(x="x:Q")
    return alt.layer(bars, one, title=title).properties(width=WIDTH - 200, height=alt.Step(20))


def corr_histogram(corr: np.ndarray, cut: float | None, title: str, bins: int = 50
                   ) -> alt.Chart:
    """Distribution of per-image dense-vs-pruned Spearman correlations, with the PIE cut.
    Binned here, not in Vega: 21,081 raw values would be shipped to the browser each rerun."""
    c = np.asarray(corr, dtype=np.float64)
    c = c[np.isfinite(c)]
    lo, hi = (float(c.min()), float(c.max())) if c.size else (0.0, 1.0)
    counts, edges = np.histogram(c, bins=bins, range=(lo, hi if hi > lo else lo + 1e-9))
    d = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "images": counts})
    hist = alt.Chart(d).mark_bar(color="#4c78a8").encode(
        x=alt.X("from:Q", title="Spearman correlation dense vs pruned (1 = same ranking)",
                scale=alt.Scale(zero=False)),
        x2="to:Q", y=alt.Y("images:Q", title="images"), y2=alt.datum(0),
        tooltip=[alt.Tooltip("from:Q", format=".3f"), alt.Tooltip("to:Q", format=".3f"),
                 "images:Q"])
    layers = [hist]
    if cut is not None and math.isfinite(cut):
        layers.append(alt.Chart(pd.DataFrame({"x": [cut]})).mark_rule(
            color="#e45756", size=2).encode(x="x:Q"))
    return alt.layer(*layers, title=title).properties(width=WIDTH - 160, height=200)


def groundtruth_bars(gt: Mapping) -> alt.Chart:
    """PIE vs non-PIE label-noise rate and mean image quality (SynthCXR ground truth)."""
    rows = []
    for key, what, a, b in (("label_noise", "label-noise rate", "rate_pie", "rate_nonpie"),
                            ("quality", "mean image quality (0–1)", "mean_pie", "mean_nonpie")):
        if key in gt:
            g = gt[key]
            p = f"p {_fmt_p(g.get('p'))}"
            rows += [{"measure": f"{what} ({p})", "group": "PIEs", "value": g[a],
                      "n": g["n_pie"]},
                     {"measure": f"{what} ({p})", "group": "non-PIEs", "value": g[b],
                      "n": g["n_nonpie"]}]
    d = pd.DataFrame(rows, columns=["measure", "group", "value", "n"])
    return alt.Chart(d).mark_bar().encode(
        x=alt.X("value:Q", title=None), y=alt.Y("group:N", title=None),
        color=alt.Color("group:N", legend=None,
                        scale=alt.Scale(domain=["PIEs", "non-PIEs"],
                                        range=["#e45756", "#4c78a8"])),
        row=alt.Row("measure:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left",
                                                               labelAnchor="start")),
        tooltip=["group:N", alt.Tooltip("value:Q", format=".3f"), "n:Q"],
    ).properties(width=WIDTH - 260, height=60).resolve_scale(x="independent")


# The page-level builders are memoised by their inputs (dashboard/common/chart_memo.py): a rerun
# with unchanged tables reuses the built chart and its spec instead of rebuilding them.
# Done here, at the end, so each builder above stays a plain, separately tested function.
from dashboard.common.chart_memo import memoise  # noqa: E402

memoise(globals(), ("long_tail", "metric_curves", "class_curves", "stat_scatter",
                    "labelled_scatter", "heatmap", "ratio_bars", "corr_histogram",
                    "groundtruth_bars"))
