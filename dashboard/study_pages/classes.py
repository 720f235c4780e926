"""Classes: per-class AP vs sparsity (absolute or relative to dense), and when each drops."""
import pandas as pd
import streamlit as st

from dashboard.common import charts, loaders
from dashboard.common.export import show_chart, show_table
from dashboard.common.filters import url_control
from dashboard.study_pages import cost_axis

ctx = loaders.page_context()
d, f = ctx.data, ctx.filters
drop = d.param("drop_percent", 20)

st.title("Classes")
st.caption("Which diseases does pruning forget first? Each line is one class's average "
           "precision (AP), the **median over seeds**, with its interquartile band. Choose "
           "diseases, methods and the sparsity range in the sidebar; click a legend entry to "
           "highlight one class.")

left, right = st.columns([3, 2])
mode = url_control(left.radio, "Show", key="cl_mode", param="classes_show", default="rel",
                   options=["rel", "abs"], horizontal=True,
                   format_func={"rel": "AP relative to the dense model", "abs": "AP"}.get,
                   valid=lambda v: v in ("rel", "abs"))
relative = mode == "rel"
# One method per chart: twenty classes × two methods is forty lines, too many to read.
chart_method = ctx.methods[0]
if len(ctx.methods) > 1:
    chart_method = url_control(right.selectbox, "Method shown in the chart", key="cl_method",
                               param="classes_method", default=ctx.methods[0], options=ctx.methods,
                               valid=lambda v: v in ctx.methods)
band = url_control(left.radio, "Band", key="cl_band", param="classes_band", default="iqr",
                   options=["iqr", "ci"], horizontal=True,
                   format_func={"iqr": "interquartile range over seeds",
                                "ci": "95% bootstrap CI"}.get,
                   valid=lambda v: v in ("iqr", "ci"))
ci_table = loaders.analysis_table(d, d.key, d.paths.CI_PER_CLASS)
band_title = "IQR"
if band == "ci" and ci_table is None:
    st.info("This study has no confidence intervals yet (analysed before they existed): "
            "run `python -m core analyze STUDY`. Showing the interquartile range.",
            icon=":material/info:")
if band == "ci" and ci_table is not None:
    # Stored intervals: all of the study's seeds, at analysis time (not the seed filter).
    col = "rel_ap" if relative else "ap"
    c = ci_table[ci_table["method"] == chart_method]
    curves = pd.DataFrame({"method": c["method"], "class": c["class"],
                           "sparsity": c["sparsity"], "median": c[col],
                           "q25": c[f"{col}_lo"], "q75": c[f"{col}_hi"],
                           "n_seeds": len(d.seeds)})
    band_title = "95% CI"
    st.caption(f"Band: 95% percentile bootstrap interval (images resampled, paired across "
               f"sparsities; seeds as a second level), over all {len(d.seeds)} seeds of the "
               "study whatever the seed filter. For a rare class the band often lies mostly "
               "above the line: a resample that draws one of its few positives twice counts "
               "it twice, which raises AP (docs/ARCHITECTURE.md, 'Reading an interval').")
else:
    curves = loaders.class_curves(d, d.key, (chart_method,), tuple(ctx.seeds), relative)
curves = curves[curves["class"].isin(ctx.classes)
                & curves["sparsity"].between(*f.sparsity_range)]
if relative:
    st.caption("y = (AP at sparsity k − dense AP) / dense AP, per seed, then the median: "
               "0% = unchanged, −50% = half the dense AP lost; the dotted line is 0%. The "
               "axis stops at +50%: a class with a tiny dense AP can 'gain' wildly by chance.")
y_title = "AP change relative to dense" if relative else "average precision (AP)"
cost = cost_axis.cost_table(d, d.key)
xkey = cost_axis.pick_axis(st, cost, "cl_x")
x = None if xkey == "sparsity" else cost_axis.AXES[xkey]
if x is not None:
    curves = cost_axis.with_cost(curves, cost)
    st.caption(f"{cost_axis.CAPTIONS[xkey]} The axis spans every selected method, so switching "
               "the method keeps it; each point is one grid sparsity, joined in sparsity order, "
               f"its {band_title} a vertical bar.")
    noise = cost_axis.latency_note(cost) if xkey == "latency" else None
    if noise:
        st.caption(noise)
show_chart(charts.class_curves(curves, y_title, relative, band_title, x,
                               cost_axis.domain(cost, ctx.methods, xkey)),
           f"class_{mode}_ap_vs_{xkey}_{chart_method}")
note = cost_axis.missing_note(curves, xkey)
if note:
    st.caption(note)

st.subheader(f"When does each class drop by {drop}%?")
st.caption(f"**First {drop}%-drop sparsity**: the smallest sparsity whose median relative AP "
           f"change is below −{drop}% (\"never\" if it does not happen on the grid; "
           "\"undefined\" when the class has no AP to lose, e.g. no positive in the "
           "evaluation split). "
           f"**Change at {f.sparsity}%**: median relative AP change at the chosen sparsity "
           "(sidebar). Classes are in the study's order; sort by clicking a header.")
rows = []
for m in ctx.methods:
    s = loaders.class_summary(d, d.key, m, tuple(ctx.seeds), float(drop), f.sparsity)
    s = s[s["class"].isin(ctx.classes)]
    rows.append(pd.DataFrame({
        "method": m, "class": s["class"], "train images": s["train_pos"],
        "dense AP (median)": s["ap_dense_median"],
        f"first {drop}% drop": s["first_drop_text"],
        f"change at {f.sparsity}%": s["rel_ap_at"],
    }))
table = pd.concat(rows, ignore_index=True)
ci_summary = loaders.analysis_table(d, d.key, d.paths.CI_CLASS_SUMMARY)
if ci_table is not None and f.sparsity in d.sparsities:
    at_k = ci_table[ci_table["sparsity"] == f.sparsity][["method", "class", "rel_ap_lo",
                                                          "rel_ap_hi"]]
    table = table.merge(at_k.rename(columns={
        "rel_ap_lo": f"change at {f.sparsity}%: 95% CI low",
        "rel_ap_hi": f"change at {f.sparsity}%: 95% CI high"}), on=["method", "class"],
        how="left")
if ci_summary is not None:
    sig = ci_summary[["method", "class", "first_significant_drop"]].rename(
        columns={"first_significant_drop": f"first significant {drop}% drop (sparsity %)"})
    sig[sig.columns[-1]] = sig[sig.columns[-1]].map(
        lambda v: "never" if pd.isna(v) else f"{int(v)}")
    table = table.merge(sig, on=["method", "class"], how="left")
    undefined = table[f"first {drop}% drop"].str.startswith("undefined")   # no AP: not "never"
    table.loc[undefined, sig.columns[-1]] = table.loc[undefined, f"first {drop}% drop"]
    st.caption(f"**First significant {drop}% drop**: the smallest sparsity whose 95% CI "
               f"upper bound of the relative change is below −{drop}% (all seeds); the CI "
               "columns are for all of the study's seeds.")
show_table(table, f"class_first_drop_and_change_at_{f.sparsity}", column_config={
    "dense AP (median)": st.column_config.NumberColumn(format="%.3f"),
    "train images": st.column_config.NumberColumn(format="%d"),
    f"change at {f.sparsity}%": st.column_config.NumberColumn(format="percent"),
    f"change at {f.sparsity}%: 95% CI low": st.column_config.NumberColumn(format="percent"),
    f"change at {f.sparsity}%: 95% CI high": st.column_config.NumberColumn(format="percent"),
})

with st.expander("Curve data (median and quartiles per class, method and sparsity)"):
    show_table(curves, f"class_curves_{mode}_{chart_method}")
