"""Reader study — results: PIE vs non-PIE per question, agreement, ground truth, export.

For the researcher (this page names PIEs; readers use the reading page). Tests are
two-sided Mann-Whitney U and Kruskal-Wallis, per reader and pooled over readers;
agreement is Krippendorff's alpha over images read by more than one reader.
"""
from __future__ import annotations

import streamlit as st

from core.reader import agreement, compare_groups, distributions, groundtruth, has_groundtruth
from core.reader.stats import QUESTIONS, first_reads
from dashboard.common.export import show_chart, show_table
from dashboard.reader_study import reader_ui

st.title("Reader study: results")
study = reader_ui.current_study()
if study is None:
    st.stop()
db = reader_ui.reader_db(study)
view = reader_ui.study_view(study)
everything = db.all_answers()
st.download_button("⬇ Every answer (CSV)", data=db.export_csv(), file_name="reader_answers.csv",
                   mime="text/csv", on_click="ignore", key="rs_export",
                   help="One row per reader and image, with form, PIE flag, method, sparsity, "
                        "comment and times.")
if everything.empty:
    st.info("No answers yet. Readers rate images on the *Reader study → Read* page.")
    st.stop()

sets = db.form_sets()
labels = {int(r["set_id"]): reader_ui.form_set_label(r) for _, r in sets.iterrows()}
c1, c2 = st.columns(2)
latest = [int(everything["set_id"].max())]  # the newest set that has answers
chosen_sets = c1.multiselect("Form sets", list(labels), default=latest,
                             format_func=labels.get, key="rs_res_sets",
                             help="Sets drawn with different methods or sparsities are better "
                                  "not pooled.")
readers = sorted(everything["reader"].unique())
chosen_readers = c2.multiselect("Readers", readers, key="rs_res_readers",
                                help="Empty = all readers.")
only_final = st.checkbox("Only submitted forms", key="rs_res_final")
answers = everything[everything["set_id"].isin(chosen_sets or list(labels))]
if chosen_readers:
    answers = answers[answers["reader"].isin(chosen_readers)]
if only_final:
    answers = answers[answers["submitted"].notna()]
if answers.empty:
    st.info("No answers match these choices.")
    st.stop()

answers, repeats = first_reads(answers)
if repeats:
    st.warning(f"{repeats} repeat read(s) — a reader answering an image a second time, on "
               "another form (possible only in databases made before assignments) — are left "
               "out: each (reader, image) counts once, with its first read.")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Readers", answers["reader"].nunique())
m2.metric("Answers", len(answers))
m3.metric("Images", answers["image_id"].nunique())
m4.metric("Forms submitted", int(answers.drop_duplicates(["form_id", "reader"])["submitted"]
                                 .notna().sum()))

st.subheader("PIE vs non-PIE")
table = compare_groups(answers)
show_chart(reader_ui.means_chart(table), "reader_means", stretch=False)
st.caption("Bars: pooled mean; dots: each reader; ticks: the paper's means (Holste et al., "
           "6 forms of 20 PIEs + 20 non-PIEs) for reference.")
show_table(reader_ui.with_paper_means(table), "reader_pie_vs_non_pie", column_config={
    c: st.column_config.NumberColumn(format="%.4g") for c in
    ("mean_pie", "mean_non_pie", "diff", "u", "p_mannwhitney", "h", "p_kruskal",
     "paper_mean_pie", "paper_mean_non_pie")})
if answers["seconds"].notna().any():
    timing = compare_groups(answers.assign(seconds=answers["seconds"]), questions=("seconds",))
    st.markdown("**Time spent per image** (seconds, summed over saves of one answer):")
    show_table(timing.drop(columns=["h", "p_kruskal"]), "reader_seconds")

st.subheader("Distributions")
show_chart(reader_ui.distributions_chart(
    [reader_ui.distribution_chart(distributions(answers, q), title)
     for q, title in QUESTIONS.items()]), "reader_distributions", stretch=False)

st.subheader("Inter-reader agreement")
agree = agreement(answers)
if agree["n_images_multi_read"].max() == 0:
    st.caption("No image was read by more than one reader yet: agreement needs shared images "
               "(several readers per form, or forms with shared images).")
else:
    st.caption("Krippendorff's alpha: nominal for yes/no, ordinal for the 1–5 ratings "
               "(1 = perfect agreement, 0 = chance).")
    show_table(agree, "reader_agreement")

if has_groundtruth(view.groundtruth_columns):
    st.subheader("Against the known ground truth (SynthCXR)")
    gt = groundtruth(answers, view.labels)
    st.markdown("**Do readers spot the noisy labels?** Share of 'fully agree' on images whose "
                "label is known to be noisy vs clean.")
    show_table(gt["noise"], "reader_vs_label_noise")
    st.markdown("**Do quality ratings follow the true quality?** Spearman ρ between ratings and "
                "the rendered image quality.")
    show_table(gt["quality"], "reader_vs_true_quality")
    st.markdown("**The images read**: true label-noise rate and quality of PIEs and non-PIEs.")
    show_table(gt["sample"], "reader_sample_groundtruth")

comments = answers[answers["comment"].str.len() > 0]
if len(comments):
    with st.expander(f"Comments ({len(comments)})"):
        st.dataframe(comments[["reader", "form", "position", "is_pie", "comment"]],
                     hide_index=True)  # dataframe cells are literal text, never Markdown
