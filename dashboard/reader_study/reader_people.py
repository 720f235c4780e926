"""Reader study — readers and links: the coordinator registers readers, hands out their
personal reading links, assigns forms, closes and archives form sets, and sees the record of
everything done here.

A link is shown once, when it is made (only its hash is stored); a lost link is replaced with
"New link", which stops the old one. Assignment refuses a form that shares an image with a
form the reader already has, so every (reader, image) is read once.
"""
from __future__ import annotations

import streamlit as st

from core.reader import InputError
from dashboard.common.safe import md_escape
from dashboard.reader_study import reader_ui
from dashboard.reader_study.reader_access import TOKEN_PARAM

ss = st.session_state
st.title("Reader study: readers and links")
study = reader_ui.current_study()
if study is None:
    st.stop()
db = reader_ui.reader_db(study)


def link_for(token: str) -> str:
    """The reader's URL on this server (as the coordinator reached it)."""
    base = (st.context.url or "").split("?")[0].rstrip("/")
    for suffix in ("/reader_people", "/readers_and_links"):
        base = base.removesuffix(suffix)
    return f"{base}/?{TOKEN_PARAM}={token}"


def show_new_link(name: str, token: str) -> None:
    st.success(f"Reading link for {md_escape(name)} — copy it now, it is not stored and "
               "cannot be shown again:")
    st.code(link_for(token), language=None)


# ---------------------------------------------------------------- readers
st.subheader("Readers")
with st.form("rs_add_reader", clear_on_submit=True, border=False):
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    new_name = c1.text_input("New reader's name", max_chars=100, key="rs_new_reader")
    if c2.form_submit_button("Add reader", type="primary"):
        try:
            reader, token = db.add_reader(new_name)
        except InputError as exc:
            st.error(md_escape(exc))
        else:
            ss["rs_new_link"] = (reader.name, token)
if "rs_new_link" in ss:
    show_new_link(*ss.pop("rs_new_link"))

readers = db.readers()
if readers.empty:
    st.caption("No readers yet.")
else:
    st.dataframe(readers.rename(columns={"forms": "forms assigned"}), hide_index=True,
                 column_config={"reader_id": None})
    names = dict(zip(readers["reader_id"].astype(int), readers["name"], strict=True))
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    who = c1.selectbox("Reader", list(names), format_func=names.get, key="rs_who")
    if c2.button("New link", help="Make a new link for this reader; the old one stops working"):
        ss["rs_new_link"] = (names[who], db.reissue_token(who))
        st.rerun()
    if c3.button("Stop link", help="The reader's link stops working; answers are kept"):
        db.revoke_reader(who)
        st.rerun()

# ---------------------------------------------------------------- assignments
st.subheader("Assignments")
forms = db.form_table()
if readers.empty or forms.empty:
    st.caption("Add readers (above) and forms (*Set up* page) to assign forms.")
else:
    c1, c2, c3 = st.columns([2, 3, 1], vertical_alignment="bottom")
    who = c1.selectbox("Reader", list(names), format_func=names.get, key="rs_assign_who")
    form_names = dict(zip(forms["form_id"].astype(int), forms["form"], strict=True))
    chosen = c2.multiselect("Forms", list(form_names), format_func=form_names.get,
                            key="rs_assign_forms")
    if c3.button("Assign", type="primary", disabled=not chosen):
        for form_id in chosen:
            try:
                db.assign(who, form_id)
            except InputError as exc:
                st.error(md_escape(f"{form_names[form_id]}: {exc}"))
    table = db.assignments()
    if table.empty:
        st.caption("Nothing assigned yet.")
    else:
        st.dataframe(table.drop(columns=["reader_id"]), hide_index=True)

# ---------------------------------------------------------------- form sets
st.subheader("Form sets: open, closed, archived")
st.caption("Closed: no answers are taken until reopened. Archived: final; the forms leave the "
           "readers' lists and their answers stay in the results. Nothing is ever deleted.")
sets = db.form_sets()
for _, row in sets.iterrows():
    c1, c2 = st.columns([4, 2], vertical_alignment="center")
    c1.markdown(f"{md_escape(reader_ui.form_set_label(row))} — **{row['status']}**")
    actions = {"open": ["closed"], "closed": ["open", "archived"], "archived": []}
    row_buttons = c2.container(horizontal=True)
    for target in actions[row["status"]]:
        label = {"closed": "Close", "open": "Reopen", "archived": "Archive"}[target]
        if row_buttons.button(label, key=f"rs_status_{row['set_id']}_{target}"):
            db.set_status(int(row["set_id"]), target)
            st.rerun()

# ---------------------------------------------------------------- audit
with st.expander("Record of coordinator actions"):
    st.dataframe(db.audit_log(), hide_index=True)
