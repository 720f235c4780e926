"""Overview: what the study is, its long tail, and accuracy vs sparsity per method."""
import json

import pandas as pd
import streamlit as st

from dashboard.common import charts, loaders
from dashboard.common.export import show_chart, show_table
from dashboard.common.filters import url_control
from dashboard.common.safe import md_escape
from dashboard.study_pages import charts_hurt, cost_axis, paper_text

ctx = loaders.page_context()
d, f = ctx.data, ctx.filters

st.title(f"Overview · {md_escape(d.name)}")
st.caption("A model is trained several times (seeds), then pruned at increasing sparsity"
           f"{cost_axis.how_pruned(d.methods)}. This page shows the data's long tail and how "
           "much overall accuracy each pruning method costs.")

# Does the paper hold here? One sentence from the stored paper check, and where to read it.
_check = paper_text.summary(d, paper_text.default_method(d))
if _check:
    st.markdown(_check)
    paper_text.link_to_check()
    paper_text.why_pointer(d)

n_eval = len(d.labels)
c = st.columns(5)
c[0].metric("Dataset", md_escape(d.dataset_name))
c[1].metric("Model", md_escape(d.model_name))
c[2].metric("Seeds", f"{len(ctx.seeds)} of {len(d.seeds)}")
c[3].metric("Classes", len(d.classes))
c[4].metric("Eval images", f"{n_eval:,}")

left, right = st.columns([5, 6], gap="large")
with left:
    st.subheader("The long tail")
    st.caption("Training images per class, most frequent first, on a **log scale**: each "
               "grid line is ten times the one before. Rare classes sit at the bottom.")
    cc = d.class_counts.set_index("class").reindex(d.classes)
    counts = pd.DataFrame({"class": d.classes, "images": d.train_pos(),
                           "eval_images": cc["eval_pos"].to_numpy() if "eval_pos" in cc
                           else float("nan")})
    show_chart(charts.long_tail(counts), "long_tail")

with right:
    st.subheader("Accuracy vs sparsity or cost")
    band = url_control(st.radio, "Band", key="ov_band", param="band", default="iqr",
                       options=["iqr", "range", "ci"], horizontal=True,
                       format_func={"iqr": "interquartile over seeds (25–75%)",
                                    "range": "min–max over seeds",
                                    "ci": "95% bootstrap CI (mAP)"}.get,
                       valid=lambda v: v in ("iqr", "range", "ci"))
    cost = cost_axis.cost_table(d, d.key)
    xkey = cost_axis.pick_axis(st, cost, "ov_x")
    x = None if xkey == "sparsity" else cost_axis.AXES[xkey]
    ci = loaders.analysis_table(d, d.key, d.paths.CI_OVERALL)
    if ci is not None:
        ci = ci[ci["method"].isin(ctx.methods)]
    if band == "ci":
        st.caption("95% CI: percentile bootstrap over evaluation images (paired across "
                   "sparsities) and seeds, for all of the study's seeds; mAUC keeps the "
                   "interquartile band. It may sit more above the line than below: rare "
                   "classes' AP rises when a resample duplicates their few positives."
                   if ci is not None else
                   "This study has no confidence intervals yet: run `python -m core analyze "
                   "STUDY`. Showing the interquartile band.")
    shaded = ("the 95% CI (mAP, all seeds)" if band == "ci" and ci is not None
              else "spread over seeds")
    if x is None:
        st.caption(f"Line: **median over the selected seeds**; shaded band: {shaded}. "
                   "x: percentage of prunable weights removed. A flat start means weights "
                   "can be removed for free; the bend shows where the model starts to forget.")
    else:
        st.caption(f"Line: **median over the selected seeds**, its points joined in sparsity "
                   f"order; vertical bar at each point: {shaded}. {cost_axis.CAPTIONS[xkey]}")
        noise = cost_axis.latency_note(cost) if xkey == "latency" else None
        if noise:
            st.caption(noise)
    # Lazy tabs: only the open tab's chart is built and drawn (a hidden Vega chart still
    # costs the browser its full render); switching tabs reruns the page.
    tabs = st.tabs(["mAP (mean average precision)", "mAUC (mean ROC AUC)"],
                   key="overview_metric_tab", on_change="rerun")
    tables = []
    for tab, metric, title in ((tabs[0], "map", "mAP"), (tabs[1], "mauc", "mAUC")):
        summary = loaders.metric_summary(d, d.key, tuple(ctx.methods), tuple(ctx.seeds), metric)
        if metric == "map" and ci is not None:   # CIs in the table whatever the band
            summary = summary.merge(ci[["method", "sparsity", "map_lo", "map_hi"]].rename(
                columns={"map_lo": "ci95_lo", "map_hi": "ci95_hi"}),
                on=["method", "sparsity"], how="left")
        if x is not None:
            summary = cost_axis.with_cost(summary, cost)
        tables.append(summary)
        if tab.open is False:
            continue
        with tab:
            if band == "ci" and metric == "map" and ci is not None:
                chart = charts_hurt.ci_metric_curves(
                    ci if x is None else cost_axis.with_cost(ci, cost), title,
                    f.sparsity_range, x)
            else:
                chart = charts.metric_curves(summary, title, "range" if band == "range"
                                             else "iqr", f.sparsity_range, x)
            show_chart(chart, f"{metric}_vs_{xkey}")
            note = cost_axis.missing_note(summary, xkey)
            if note:
                st.caption(note)

st.subheader("Numbers behind the curves")
table = pd.concat(tables, ignore_index=True)
table = table[table["sparsity"].between(*f.sparsity_range)]
four_digits = st.column_config.NumberColumn(format="%.4f")
show_table(table, "overall_metrics_vs_sparsity",
           column_config={**{c: four_digits for c in ("median", "q25", "q75", "min", "max",
                                                      "ci95_lo", "ci95_hi")},
                          "flops_pct": st.column_config.NumberColumn(
                              "FLOPs (% of dense)", format="%.1f"),
                          "cpu_ms_b1": st.column_config.NumberColumn(
                              "CPU ms per image (batch 1)", format="%.2f")})

def _created() -> str:
    """When the study was created: timings.json (schema 2), else study.json (schema 1)."""
    path = d.paths.timings
    try:
        created = json.loads(path.read_text()).get("created") if path.is_file() else None
    except (OSError, ValueError, AttributeError):
        created = None
    return str(created or d.meta.get("created") or "?")


def _study_facts() -> pd.DataFrame:
    facts = {
        "folder": str(d.path), "dataset": d.dataset_name, "model": d.model_name,
        "seeds": ", ".join(map(str, d.seeds)), "methods": ", ".join(d.methods),
        "sparsities (%)": ", ".join(map(str, d.sparsities)), "classes": ", ".join(d.classes),
        "eval images": f"{n_eval:,}", "created": _created(),
        "code version": str(d.meta.get("code_version", "?")),
        "analysis": ", ".join(f"{k}={v}" for k, v in d.analysis_cfg.items()) or "defaults",
    }
    splits = (d.dataset_info or {}).get("splits") or {}
    for name, info in splits.items():
        facts[f"{name} split"] = (f"{info.get('images', '?'):,} images, "
                                  f"{info.get('patients', '?'):,} patients")
    return pd.DataFrame({"fact": list(facts), "value": list(facts.values())})


facts_box = st.expander("Study facts", key="overview_facts", on_change="rerun")
if facts_box.open:   # built only when opened: a collapsed table still costs a data grid
    with facts_box:
        show_table(_study_facts(), "study_facts")
