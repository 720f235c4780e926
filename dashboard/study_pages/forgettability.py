"""Forgettability: is forgetting predicted by class frequency and co-occurrence?"""
import streamlit as st

from core.analysis.class_tables import class_correlations, pair_correlations
from dashboard.common import charts, loaders
from dashboard.common.export import show_chart, show_table
from dashboard.common.filters import url_control
from dashboard.common.safe import md_escape
from dashboard.study_pages import paper_text

ctx = loaders.page_context()
d, f = ctx.data, ctx.filters
drop = d.param("drop_percent", 20)

st.title("Forgettability")
st.caption("Is forgetting predicted by how frequent a class is, and by which classes it "
           "appears with? Each chart prints Pearson r, Spearman ρ, their p-values and the "
           "number of points n; the dashed line is a least-squares fit.")

c1, c2 = st.columns(2)
method = url_control(c1.selectbox, "Pruning method", key="fg_method", param="forgetting_method",
                     default=ctx.methods[0], options=ctx.methods, valid=lambda v: v in ctx.methods)
variant = url_control(c2.radio, "Class-pair frequency and IoU", key="fg_variant",
                      param="pair_variant",
                      default=d.param("pair_variant", "paper"), options=["paper", "plain"],
                      horizontal=True, valid=lambda v: v in ("paper", "plain"),
                      format_func={"paper": "paper (co-occurrence column sums)",
                                   "plain": "plain (images per class)"}.get,
                      help="'paper' reproduces the reference code: a class's frequency is the "
                           "column sum of the co-occurrence matrix. 'plain' uses image counts.")

_check = paper_text.summary(d, method)
if _check:
    st.markdown(_check)
    paper_text.link_to_check()
    paper_text.why_pointer(d)

summary = loaders.class_summary(d, d.key, method, tuple(ctx.seeds), float(drop), f.sparsity)
summary = summary.assign(selected=summary["class"].isin(ctx.classes))
# over all classes: the relation is the finding; as correlations.json for these seeds
rel = class_correlations(summary)
# a disease filter highlights its classes rather than dropping the others from the fit
highlight = "selected" if set(ctx.classes) != set(d.classes) else None

st.subheader("Class frequency vs forgetting")
st.caption("One point per class; x = natural log of its number of training images. "
           f"Left: the first sparsity where its AP is down {drop}% (classes that never drop "
           f"are left out). Right: its AP change at the chosen sparsity ({f.sparsity}%; the "
           "paper measures at 95%). A rising trend means frequent classes hold out longer. "
           "Diseases chosen in the sidebar are highlighted; r and ρ are over all classes.")
st.caption(paper_text.cite(d, "F1", method))
st.caption(paper_text.cite(d, "F2", method))
at = int(d.param("at_sparsity", 95))
if f.sparsity != at:
    # the F2 sentence is at the analysed sparsity; the right chart follows the sidebar, so
    # say what the chart itself shows rather than let the two numbers be read as one
    st.caption(paper_text.chart_aside(rel["rel_ap_at_vs_log_freq"], f.sparsity, at))
left, right = st.columns(2)
with left:
    left_out = rel["first_drop_vs_log_freq"]["excluded"]   # {class: why}, as in correlations.json
    show_chart(charts.labelled_scatter(summary, "log_train_freq", "first_drop",
                                       "log train frequency", f"first {drop}%-drop sparsity (%)",
                                       rel["first_drop_vs_log_freq"], highlight=highlight),
               f"freq_vs_first_drop_{method}")
    if left_out:
        st.caption("Not plotted: " + md_escape("; ".join(
            f"{c} ({'never drops ' + str(drop) + '%' if why == 'never drops' else why})"
            for c, why in left_out.items())) + ".")
with right:
    show_chart(charts.labelled_scatter(summary, "log_train_freq", "rel_ap_at",
                                       "log train frequency",
                                       f"AP change at {f.sparsity}% sparsity",
                                       rel["rel_ap_at_vs_log_freq"], y_format="%",
                                       highlight=highlight),
               f"freq_vs_change_at_{f.sparsity}_{method}")

st.subheader("Class pairs: forgetting alike")
st.caption("One point per pair of classes (hover to name it). y = **forgettability curve "
           "dissimilarity (FCD)**: the distance between the two classes' forgetting curves "
           "(0 = forgotten identically). Left: against the difference of their log frequencies "
           "— similar frequency, similar forgetting. Right: against IoU^¼, how often they "
           "co-occur.")
st.caption(paper_text.cite(d, "F3", method))
st.caption(paper_text.cite(d, "F4", method))
pairs = loaders.pair_table(d, d.key, method, tuple(ctx.seeds), variant)
prel = pair_correlations(pairs)
left, right = st.columns(2)
with left:
    show_chart(charts.stat_scatter(pairs, "log_freq_diff", "fcd", "|Δ log frequency|",
                                   "FCD", prel["fcd_vs_log_freq_diff"], label="pair"),
               f"fcd_vs_log_freq_diff_{variant}_{method}")
with right:
    show_chart(charts.stat_scatter(pairs, "iou4", "fcd", "IoU^(1/4)", "FCD", prel["fcd_vs_iou4"],
                                   label="pair", color="#54a24b"),
               f"fcd_vs_iou4_{variant}_{method}")

st.subheader("Co-occurrence")
splits = d.cooccurrence_splits()
split = url_control(st.radio, "Labels of", key="fg_split", param="cooccurrence_of",
                    default=splits[0],
                    options=splits, horizontal=True, valid=lambda v: v in splits,
                    format_func={"train": "training split", "eval": "evaluation split"}.get)
st.caption("Cell (row, column) = number of images labelled with both classes; the diagonal "
           "is each class's own count. Colour is on a log scale; grey = never together. "
           "The pair plots above use the evaluation split, as the paper does.")
show_chart(charts.heatmap(d.cooccurrence(split), d.classes, f"Co-occurrence ({split} labels)"),
           f"cooccurrence_{split}", stretch=False)

with st.expander("Tables: per-class summary and class pairs"):
    show_table(summary, f"class_summary_{method}_at_{f.sparsity}")
    show_table(pairs, f"class_pairs_{variant}_{method}")
