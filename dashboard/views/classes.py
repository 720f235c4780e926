"""Classes: per-class AP vs sparsity (absolute or relative to dense), and when each drops."""
import pandas as pd
import streamlit as st

from dashboard import charts, loaders
from dashboard.export import show_chart, show_table
from dashboard.filters import bound

ctx = loaders.page_context()
d, f = ctx.data, ctx.filters
drop = d.param("drop_percent", 20)

st.title("Classes")
st.caption("Which diseases does pruning forget first? Each line is one class's average "
           "precision (AP), the **median over seeds**, with its interquartile band. Choose "
           "diseases, methods and the sparsity range in the sidebar; click a legend entry to "
           "highlight one class.")

left, right = st.columns([3, 2])
mode = bound(left.radio, "Show", key="cl_mode", param="y", default="rel",
             options=["rel", "abs"], horizontal=True,
             format_func={"rel": "AP relative to the dense model", "abs": "AP"}.get,
             valid=lambda v: v in ("rel", "abs"))
relative = mode == "rel"
# One method per chart: twenty classes × two methods is forty lines, too many to read.
chart_method = ctx.methods[0]
if len(ctx.methods) > 1:
    chart_method = bound(right.selectbox, "Method shown in the chart", key="cl_method",
                         param="cm", default=ctx.methods[0], options=ctx.methods,
                         valid=lambda v: v in ctx.methods)
curves = loaders.class_curves(d, d.key, (chart_method,), tuple(ctx.seeds), relative)
curves = curves[curves["class"].isin(ctx.classes)
                & curves["sparsity"].between(*f.sparsity_range)]
if relative:
    st.caption("y = (AP at sparsity k − dense AP) / dense AP, per seed, then the median: "
               "0% = unchanged, −50% = half the dense AP lost; the dotted line is 0%. The "
               "axis stops at +50%: a class with a tiny dense AP can 'gain' wildly by chance.")
y_title = "AP change relative to dense" if relative else "average precision (AP)"
show_chart(charts.class_curves(curves, y_title, relative),
           f"class_{mode}_ap_vs_sparsity_{chart_method}")

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
show_table(table, f"class_first_drop_and_change_at_{f.sparsity}", column_config={
    "dense AP (median)": st.column_config.NumberColumn(format="%.3f"),
    "train images": st.column_config.NumberColumn(format="%d"),
    f"change at {f.sparsity}%": st.column_config.NumberColumn(format="percent"),
})

with st.expander("Curve data (median and quartiles per class, method and sparsity)"):
    show_table(curves, f"class_curves_{mode}_{chart_method}")
