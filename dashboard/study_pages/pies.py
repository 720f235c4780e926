"""PIEs: the images pruning changes most and what they have in common. The images themselves
are read on the Browse PIEs page (reading_room/browse.py), which this page opens on the same
PIEs."""
import numpy as np
import streamlit as st

from core.analysis.pie_stats import (
    FINDING_BINS,
    class_ratio,
    findings_ratio,
    groundtruth_comparison,
)
from core.analysis.pies import image_table, pie_cut, pie_list, tie_text
from dashboard.common import charts, loaders
from dashboard.common.export import show_chart, show_table
from dashboard.common.filters import url_control
from dashboard.common.safe import md_escape
from dashboard.study_pages import paper_text

ctx = loaders.page_context()
d, f = ctx.data, ctx.filters
k = f.sparsity

st.title("PIEs · pruning-identified exemplars")
st.caption(f"For every image, the classes are ranked by the dense model's predictions and by "
           f"the model pruned to **{k}%** (each averaged over the selected seeds); the Spearman "
           "correlation of the two rankings says how much pruning changed the image's "
           "diagnosis. The images with the lowest correlation are the PIEs (paper: bottom 5% "
           "at 90%). Change the sparsity in the sidebar.")

c1, c2 = st.columns(2)
method = url_control(c1.selectbox, "Pruning method", key="pie_method", param="pie_method",
                     default=ctx.methods[0], options=ctx.methods, valid=lambda v: v in ctx.methods)
pct = url_control(c2.slider, "PIEs = bottom percentile of the correlation", key="pie_pct",
                  param="pie_percentile", default=float(d.param("pie_percentile", 5.0)),
                  parse=float,
                  min_value=0.5, max_value=50.0, step=0.5, format="%.1f%%",
                  valid=lambda v: 0.5 <= float(v) <= 50)

corr = loaders.pie_corr(d, d.key, method, tuple(ctx.seeds), k)
pies = pie_cut(corr, pct)        # the analysis' own cut, ties counted as params.json does
mask = pies.mask
n_pie = int(mask.sum())
cut = pies.cut_value if n_pie else float("nan")

m = st.columns(4)
m[0].metric("PIEs", f"{n_pie:,}", help="Images in the bottom percentile")
m[1].metric("Eval images", f"{len(corr):,}")
m[2].metric("Correlation cut", f"{cut:.3f}" if n_pie else "—",
            help="The highest correlation among PIEs. Images tied at exactly this value are "
                 "PIEs in row order until the count is reached (see below the chart)")
m[3].metric("Median correlation, non-PIEs",
            f"{np.nanmedian(corr[~mask]):.3f}" if (~mask).any() else "—")
show_chart(charts.corr_histogram(corr, cut if n_pie else None,
                                 f"Dense vs {k}%-pruned agreement per image (red: PIE cut)"),
           f"pie_correlation_histogram_{method}_{k}")
ties = tie_text(pies.ties())
st.caption(ties[:1].upper() + ties[1:] + ".")

if n_pie == 0:
    st.warning("No PIEs at this percentile: raise it.")
    st.stop()

st.subheader("What PIEs have in common")
st.caption("Bars: how much more often a class (left) or a number of findings per image "
           "(right, 'No Finding' not counted) occurs among PIEs than among the other images. "
           "1 (dashed) = no difference.")
st.caption(paper_text.cite(d, "F6", method) + " " + paper_text.cite(d, "F5", method) +
           md_escape(f" (The stored check uses the analysis's PIEs: bottom "
                     f"{d.param('pie_percentile', 5.0):g}% at {d.param('pie_sparsity', 90)}%.)"))
labels = d.labels
left, right = st.columns(2)
with left:
    cr = class_ratio(labels, d.classes, mask)
    show_chart(charts.ratio_bars(cr, "class", "By class", sort="-x",
                                 tooltip=["pos_pie:Q", "pos_nonpie:Q"]),
               f"pie_ratio_by_class_{method}_{k}")
with right:
    fr = findings_ratio(labels, d.classes, mask)
    show_chart(charts.ratio_bars(fr, "n_findings", "By number of findings",
                                 sort=list(FINDING_BINS), tooltip=["count_pie:Q",
                                                                   "count_nonpie:Q"]),
               f"pie_ratio_by_findings_{method}_{k}")
with st.expander("Numbers behind the ratios (counts and prevalences)"):
    show_table(cr, f"pie_ratio_by_class_{method}_{k}")
    show_table(fr, f"pie_ratio_by_findings_{method}_{k}")

if d.groundtruth_columns:
    st.subheader("Ground truth: are PIEs noisier and of lower quality?")
    gt = groundtruth_comparison(labels, mask, d.groundtruth_columns)
    st.caption("SynthCXR knows what no real dataset does: each image's rendered quality and "
               "whether its label vector was deliberately corrupted, so the paper's "
               "reader-study question is answered by ground truth here (two-sided "
               "Mann-Whitney U p-values in the labels).")
    st.caption(paper_text.cite(d, "F7", method))
    show_chart(charts.groundtruth_bars(gt), f"pie_groundtruth_{method}_{k}", stretch=False)

st.subheader("The PIEs")
diseases = ctx.classes if set(ctx.classes) != set(d.classes) else []
table = pie_list(image_table(labels, d.classes, corr, mask, d.groundtruth_columns), labels,
                 diseases)
st.caption("Lowest correlation first. " + (
    f"Only PIEs labelled with {md_escape(', '.join(diseases))} (sidebar filter)." if diseases
    else "Filter by disease in the sidebar."))
show_table(table, f"pies_{method}_{k}_p{pct:g}", height=260, column_config={
    "corr": st.column_config.NumberColumn("correlation", format="%.3f")})


def _to_browse() -> None:
    # the same PIEs on the Browse page: this method and percentile, PIEs only, first image
    for key, value in (("br_method", method), ("br_pct", float(pct)), ("br_which", "pies")):
        st.session_state[key] = st.session_state["_keep_" + key] = value
    st.session_state["br_row"] = None


st.button("Look at these PIEs: Browse PIEs (the image, Grad-CAM, why each is a PIE) →",
          on_click=_to_browse, key="pie_to_browse")
if st.session_state.get("pie_to_browse"):
    st.switch_page("reading_room/browse.py")
