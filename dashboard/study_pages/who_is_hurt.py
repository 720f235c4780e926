"""Who is hurt: which patients lose most (subgroups), which findings get missed at the
dense model's operating point, and how calibration degrades — with 95% bootstrap CIs."""
import pandas as pd
import streamlit as st

from core.analysis.missed import CELL, RATES
from core.analysis.over_seeds import summary_table
from dashboard.common import loaders
from dashboard.common.export import show_chart, show_table
from dashboard.common.filters import url_control
from dashboard.common.safe import literal, md_escape
from dashboard.study_pages import charts_hurt

ctx = loaders.page_context()
d, f = ctx.data, ctx.filters
ext = loaders.beyond_paper_params(d, d.key)


st.title("Who is hurt")
st.caption("Pruning's cost is not spread evenly. This page shows **which patient groups** lose "
           "most average precision, **which findings a deployed model would start to miss** "
           "at the dense model's fixed operating threshold, and **how calibrated** the "
           "probabilities stay. Intervals are 95% percentile bootstrap intervals over "
           "evaluation images (paired across sparsities) and seeds, computed by "
           "`python -m core analyze` over all of the study's seeds.")
if not ext:
    st.warning("This study was analysed before these tables existed: run "
               "`python -m core analyze STUDY` to add them.", icon=":material/info:")
    st.stop()

method = ctx.methods[0]
if len(ctx.methods) > 1:
    method = url_control(st.selectbox, "Pruning method", key="wh_method", param="hurt_method",
                         default=ctx.methods[0], options=ctx.methods,
                         valid=lambda v: v in ctx.methods)
sparsity = f.sparsity
st.caption(f"Chosen sparsity (sidebar): **{sparsity}%** · method: **{md_escape(method)}** · "
           f"B = {ext.get('n_boot')} bootstrap replicates.")

# ----------------------------------------------------------------------------- subgroups
st.subheader(f"Subgroups: AP change at {sparsity}% sparsity")
sub = loaders.analysis_table(d, d.key, d.paths.SUBGROUPS)
if not ext.get("subgroups") or sub is None or sub.empty:
    st.info("No subgroups: this study's evaluation labels have no sex, age or view "
            "(the dataset's metadata), so per-group results are absent.",
            icon=":material/group_off:")
    absent = ext.get("subgroups_absent") or {}
    if absent:
        show_table(pd.DataFrame({"attribute": list(absent), "why absent": list(absent.values())}),
                   "subgroups_absent")
else:
    st.caption("Each cell: the median over seeds of (AP at the chosen sparsity − dense AP) / "
               "dense AP on that group's images; red = lost. Hover for the 95% CI, the AP and "
               f"the number of positive images. Grey **few**: fewer than "
               f"{ext.get('min_group_positives')} positives in the group, not reported.")
    at = sub[(sub["method"] == method) & (sub["sparsity"] == sparsity)
             & sub["class"].isin(ctx.classes)]
    if sparsity == 0:
        st.caption("At 0% the pruned model is the dense model: every change is 0.")
    show_chart(charts_hurt.subgroup_heatmap(at, ctx.classes,
                                            f"AP change vs dense at {sparsity}% ({method})"),
               f"subgroup_heatmap_{method}_{sparsity}", stretch=False)
    worst = loaders.analysis_table(d, d.key, d.paths.SUBGROUP_WORST)
    if worst is not None and sparsity > 0:
        w = worst[(worst["method"] == method) & (worst["sparsity"] == sparsity)
                  & worst["class"].isin(ctx.classes)]
        st.markdown("**Worst-hit group per class** (lowest AP change among groups with enough "
                    "positives)")
        show_table(w.drop(columns=["method"]), f"subgroup_worst_{method}_{sparsity}",
                   column_config={c: st.column_config.NumberColumn(format="percent")
                                  for c in ("rel_ap", "rel_ap_lo", "rel_ap_hi")})
    pies = loaders.analysis_table(d, d.key, d.paths.SUBGROUP_PIES)
    if pies is not None and len(pies):
        st.markdown(f"**PIE enrichment per group** (PIEs at the study's PIE sparsity "
                    f"{d.param('pie_sparsity', 90)}%; 1 = the group's share)")
        show_table(pies[pies["method"] == method].drop(columns=["method"]),
                   f"subgroup_pie_enrichment_{method}",
                   column_config={"pie_rate": st.column_config.NumberColumn(format="%.3f"),
                                  "enrichment": st.column_config.NumberColumn(format="%.2f")})
    # Lazy expanders: a collapsed table still costs the browser a data grid on every rerun.
    box = st.expander("All subgroup numbers at this sparsity", key="wh_sub_all",
                      on_change="rerun")
    if box.open:
        with box:
            show_table(at, f"subgroups_{method}_{sparsity}")

# ----------------------------------------------------------------------------- missed
st.subheader("Missed findings at the dense model's operating point")
missed = loaders.analysis_table(d, d.key, d.paths.MISSED)
if missed is None or missed.empty:
    st.info("No missed-finding rates: they need the dense model's predictions on the "
            "validation split to fix each class's threshold, and this study has none.",
            icon=":material/visibility_off:")
    note = ext.get("thresholds_note")
    if note:
        literal(note)
else:
    names = {"missed_rate": "missed findings (positive → negative, among true positives)",
             "false_alarm_rate": "false alarms (negative → positive, among true negatives)",
             "sensitivity": "sensitivity", "specificity": "specificity",
             "flip_rate": "calls changed vs the dense model"}
    rate = url_control(st.radio, "Rate", key="wh_rate", param="hurt_rate", default="missed_rate",
                       options=list(RATES), format_func=names.get, horizontal=True,
                       valid=lambda v: v in RATES)
    rule = md_escape(str(ext.get("threshold_rule")))
    st.caption(f"Each class is called positive when its probability ≥ the threshold chosen "
               f"for that seed's dense model on the validation split ({rule} rule) and kept "
               "fixed, as a deployed model's would be. Lines: median over the selected seeds.")
    summary, at = loaders.missed_views(d, d.key, method, tuple(ctx.classes),
                                       tuple(ctx.seeds), tuple(f.sparsity_range), sparsity, rate)
    show_chart(charts_hurt.rate_curves(summary, rate, names[rate]),
               f"{rate}_vs_sparsity_{method}")
    st.markdown(f"**At {sparsity}%** (median over seeds)")
    show_table(at, f"missed_findings_{method}_{sparsity}", column_config={
        r: st.column_config.NumberColumn(format="percent") for r in RATES})

# ----------------------------------------------------------------------------- calibration
st.subheader("Calibration")
cal = loaders.analysis_table(d, d.key, d.paths.CALIBRATION)
bins = loaders.analysis_table(d, d.key, d.paths.CALIBRATION_BINS)
if cal is None or bins is None:
    st.info("No calibration tables in this study's analysis.", icon=":material/info:")
else:
    left, right = st.columns(2)
    c = cal[(cal["method"] == method) & cal["class"].isin(ctx.classes)
            & cal["sparsity"].between(*f.sparsity_range)]
    with left:
        metric = url_control(st.radio, "Measure", key="wh_cal", param="calibration_measure",
                             default="ece",
                             options=["ece", "brier"], horizontal=True,
                             format_func={"ece": "expected calibration error",
                                          "brier": "Brier score"}.get,
                             valid=lambda v: v in ("ece", "brier"))
        st.caption(f"ECE: {ext.get('calibration_bins')} equal-width probability bins, the "
                   "image-weighted gap between mean probability and the fraction positive; "
                   "Brier: mean squared error of the probability. Lower is better.")
        cs = summary_table(c, metric, CELL, ctx.seeds)
        show_chart(charts_hurt.calibration_metric_curves(
            cs, metric, "ECE" if metric == "ece" else "Brier", legend_columns=2),
                   f"{metric}_vs_sparsity_{method}")
    with right:
        cls = url_control(st.selectbox, "Class (reliability diagram)", key="wh_cls",
                          param="reliability_class",
                          default=ctx.classes[0], options=ctx.classes,
                          valid=lambda v: v in ctx.classes)
        grid = [x for x in d.sparsities if x in (0, sparsity)] or [0]
        b = bins[(bins["method"] == method) & (bins["class"] == cls)
                 & bins["sparsity"].isin(grid)]
        st.caption("Dense (0%) and the chosen sparsity; bins pooled over all seeds. Points "
                   "below the diagonal: the model is over-confident.")
        show_chart(charts_hurt.reliability(b, f"Reliability, {cls}"),
                   f"reliability_{method}_{sparsity}")
    box = st.expander("Calibration numbers (per seed)", key="wh_cal_all", on_change="rerun")
    if box.open:
        with box:
            show_table(c, f"calibration_{method}")
