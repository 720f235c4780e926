"""Frequency experiment: does a signature get forgotten earlier when its label is rarer?

Reads the result tables of `python -m core experiment frequency` (artifacts/frequency-
experiment/ by default), verified against their manifest; no study is needed."""
import streamlit as st

from dashboard.common.export import show_chart, show_table
from dashboard.common.safe import md_code, md_escape
from dashboard.study_pages import experiment_data as ed
from dashboard.study_pages.charts_experiment import paired_dots

st.title("Frequency experiment")
st.caption(
    "Is a finding forgotten early under pruning because its label is rare, or because its "
    "signature is hard to see? On real data the two come together. SynthCXR can separate "
    "them: two studies identical in data, model, seeds and pruning, except that the second "
    "draws each finding's visual signature on the label column at the mirrored frequency "
    "rank (the commonest finding's signature on the rarest label, and so on). Labels, "
    "frequencies and co-occurrences are the real ChestX-ray14 ones in both. Each signature "
    "is thus measured at a common and at a rare frequency. The plan was fixed before the "
    "run (docs/experiments.md).")

where = ed.folder()
exp = ed.load(where)
if exp is None:
    st.info(f"No frequency experiment results in {md_code(where)}. Produce them with "
            f"{md_code(ed.PRODUCE)} (about 30 minutes on a 2-core CPU; add `--quick` for a "
            "tiny smoke run), or point `PRUNELENS_FREQUENCY_EXPERIMENT` at a folder that "
            "holds them.", icon=":material/info:")
    st.stop()
if isinstance(exp, list):
    st.error(f"The result tables in {md_code(where)} do not match their manifest, so they "
             "are not shown: " + "; ".join(md_escape(p) for p in exp), icon=":material/error:")
    st.stop()

design, summary = exp.design, exp.design.get("results", {})
cfg = design.get("config", {})
if design.get("quick"):
    st.warning("These tables come from a `--quick` run (a few hundred tiny images, two short "
               "seeds): a smoke test of the pipeline, not evidence either way.",
               icon=":material/science:")
partial = design.get("partial")
if partial:
    st.warning(f"Partial result: from seed(s) {md_escape(partial.get('seeds_used'))} of the "
               f"planned {md_escape(partial.get('planned_seeds'))}, the seeds both arms had "
               "finished (`--partial`); the full run did not complete.",
               icon=":material/hourglass_bottom:")
seeds = summary.get("seeds", [])
st.caption(
    f"Method **{md_escape(design.get('method', '?'))}** · model "
    f"**{md_escape(cfg.get('model', '?'))}** at {md_escape(cfg.get('image_size', '?'))} px · "
    f"seeds {md_escape(', '.join(map(str, seeds)))} in both arms · "
    f"{summary.get('n_eval_images', '?')} evaluation images · B = "
    f"{summary.get('n_boot', '?')} paired bootstrap replicates (images and seeds drawn "
    "once, applied to both arms).")

st.subheader("The answer, pooled")
for metric in ed.METRIC_TITLES:
    st.markdown(("**" if metric == "first_drop" else "") + md_escape(
        ed.pooled_sentence(summary.get("pooled", {}), metric))
        + ("**" if metric == "first_drop" else ""))
st.caption(
    "\"10× rarer\": no signature's frequency moves by exactly 10×, so each change is divided "
    "by log10 of its frequency ratio (training positives, common ÷ rare); the pooled value "
    "is the least-squares slope through 0 of the 14 changes on those log ratios, so "
    "signatures whose frequency moved most count most. A first drop that never happens on "
    "the grid leaves that signature out.")

st.subheader("Per signature: common arm vs rare arm")
metric = st.radio("Measure", list(ed.METRIC_TITLES), format_func=ed.METRIC_TITLES.get,
                  horizontal=True, key="fe_metric")
dots = ed.dot_frame(exp.arms, exp.effects, metric)
show_chart(paired_dots(dots, ed.METRIC_TITLES[metric]), f"frequency-experiment-{metric}")
never = sorted(set(dots.loc[dots["value"].isna(), "signature"]))
if never and metric == "first_drop":
    st.caption("No first 20% drop on the grid (\"never\", no dot) in one arm for: "
               + ", ".join(md_escape(s) for s in never) + ".")
eff = exp.effects[exp.effects["metric"] == metric].drop(columns=["metric"])
show_table(eff, f"frequency-experiment-effects-{metric}",
           column_config={"per_10x": st.column_config.NumberColumn("change per 10× rarer"),
                          "log10_ratio": st.column_config.NumberColumn("log10 f ratio")})
runs = exp.timing.get("runs") or [{}]
t = max(runs, key=lambda r: r.get("seeds_trained", 0))   # the run that trained the models
seed_units = [u for u in t.get("units", []) if u.get("seed") is not None]
# a run that trained nothing but found every seed trained (resumed): the markers' times
trained_before = (bool(seed_units) and not t.get("seeds_trained")
                  and all(u.get("seconds") for u in seed_units))
units = "; ".join(f"{md_escape(u.get('arm'))} seed {md_escape(u.get('seed'))}: "
                  f"{u.get('seconds') or 0:.0f} s" for u in seed_units)
if t.get("partial") or trained_before:
    how = "`--partial`" if t.get("partial") else "a resumed run (every seed already trained)"
    st.caption(f"Tables computed by {how} in {t.get('wall_s', '?')} s (load average "
               f"{md_escape(t.get('load_before'))}); the seeds were trained before, each "
               f"unit's time as its marker recorded it: {units}. Tables: {md_code(exp.folder)}.")
else:
    st.caption(f"Run: {t.get('wall_s', '?')} s wall for {t.get('seeds_trained', '?')} seed "
               f"trainings on {t.get('cpu_count', '?')} CPU core(s), load average "
               f"{md_escape(t.get('load_before'))} before and {md_escape(t.get('load_after'))} "
               f"after; started {md_escape(t.get('started_utc', '?'))}"
               + (f", {md_escape(t.get('jobs'))} unit(s) at once" if t.get("jobs") else "")
               + (f"; each unit as its marker recorded it: {units}" if units else "")
               + (f" ({len(runs) - 1} later run(s) only recomputed the tables)"
                  if len(runs) > 1 else "") + f". Tables: {md_code(exp.folder)}.")
