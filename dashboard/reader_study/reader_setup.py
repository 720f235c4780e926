"""Reader study — setup: the researcher creates blinded reading forms from the study's PIEs.

Choose method, sparsity and PIE definition, how many PIEs and non-PIEs per form, how many
forms and readers, and a seed (recorded, so the same forms can be drawn again). The numbers
available at the current choice are shown before anything is stored.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.reader import FormError, FormSpec, InputError, forms_from_study, study_candidates
from dashboard.common.safe import md_escape
from dashboard.reader_study import reader_ui

st.title("Reader study: set up forms")
st.caption("Forms mix PIEs and non-PIEs in a shuffled order. Readers see only the image, its "
           "labels and the questions, never which images are PIEs.")
study = reader_ui.current_study()
if study is None:
    st.stop()
view = reader_ui.study_view(study)
db = reader_ui.reader_db(study)

if not view.has_pie_analysis or not view.pie_sparsities:
    st.warning("This study has no PIEs to build a form from: its PIE analysis is missing. "
               "Run `python -m core analyze STUDY`, then come back.")
else:
    st.subheader("New form set")
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Pruning method", view.methods, key="rs_method")
    default_k = view.default_sparsity if view.default_sparsity in view.pie_sparsities \
        else view.pie_sparsities[-1]
    sparsity = c2.selectbox("Sparsity (%)", view.pie_sparsities, key="rs_sparsity",
                            index=view.pie_sparsities.index(default_k))
    definition = c3.radio("PIE definition", ["paper", "population"], key="rs_definition",
                          format_func={"paper": "bottom % of dense-pruned correlation (paper)",
                                       "population": "majority label changes (Hooker et al.)"
                                       }.get)
    percentile = c1.number_input("Bottom percentile (paper definition)", 0.1, 50.0,
                                 view.default_percentile, step=0.5, key="rs_percentile",
                                 disabled=definition != "paper")
    n_pie = c2.number_input("PIEs per form", 0, 1000, 20, key="rs_npie")
    n_non = c3.number_input("Non-PIEs per form", 0, 1000, 20, key="rs_nnon")
    n_forms = c1.number_input("Forms", 1, 100, 1, key="rs_nforms")
    readers = c2.number_input("Readers per form (planned)", 1, 100, 1, key="rs_readers")
    seed = c3.number_input("Random seed (recorded)", 0, 2**31 - 1, 0, key="rs_seed")
    overlap = c1.radio("Images across forms", ["disjoint", "shared"], key="rs_overlap",
                       format_func={"disjoint": "each form its own images",
                                    "shared": "same images, own order (agreement)"}.get)
    match = c2.checkbox("Match non-PIEs on number of findings", key="rs_match")

    try:
        cand = study_candidates(study, method, int(sparsity), definition, float(percentile))
    except FormError as exc:
        st.error(md_escape(exc))
        st.stop()
    n_p, n_n = int(cand["is_pie"].sum()), int((~cand["is_pie"]).sum())
    per = 1 if overlap == "shared" else int(n_forms)
    st.info(f"At this choice the study has **{n_p} PIEs** and **{n_n} non-PIEs**; the forms "
            f"need {int(n_pie) * per} PIEs and {int(n_non) * per} non-PIEs.")
    if st.button("Create forms", type="primary", disabled=n_p == 0 and int(n_pie) > 0):
        spec = FormSpec(method=method, sparsity=int(sparsity), definition=definition,
                        percentile=float(percentile), n_pie=int(n_pie), n_non_pie=int(n_non),
                        n_forms=int(n_forms), readers_per_form=int(readers), seed=int(seed),
                        match_findings=bool(match), image_overlap=overlap)
        existing = db.forms()["name"]
        numbers = pd.to_numeric(existing.str.removeprefix("Form "), errors="coerce")
        first = int(numbers.max()) + 1 if numbers.notna().any() else 1
        try:
            plan = forms_from_study(study, spec, first_number=first)
            db.add_form_set(plan.spec_record(), plan.forms)
        except (FormError, InputError) as exc:
            st.error(md_escape(exc))
        else:
            names = [f.name for f in plan.forms]
            st.success(f"Created {len(names)} form(s): {md_escape(', '.join(names))}.")
            if plan.unmatched:
                st.warning(f"{plan.unmatched} non-PIE(s) came from a neighbouring "
                           "number-of-findings bin (too few exact matches).")
    if n_p == 0:
        st.warning("There are no PIEs at this choice: a form cannot be made from it.")

st.subheader("Form sets")
sets = db.form_sets()
if sets.empty:
    st.caption("No forms yet.")
else:
    for _, row in sets.iterrows():
        st.markdown("- " + md_escape(f"{reader_ui.form_set_label(row)} · seed {row['seed']} · "
                                     f"{row['image_overlap']} images · created {row['created']}"))
    st.subheader("Progress")
    st.dataframe(db.form_table().rename(columns={"readers_per_form": "readers planned",
                                                 "started": "readers started",
                                                 "submitted": "readers submitted"}),
                 hide_index=True)
    sessions = db.sessions()
    if sessions.empty:
        st.caption("Nobody has started reading yet.")
    else:
        st.dataframe(sessions[["form", "reader", "answered", "n_items", "started", "submitted"]],
                     hide_index=True)
