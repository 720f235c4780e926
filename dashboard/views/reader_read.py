"""Reader study — reading: a clinician rates the images of a form, blinded.

What this screen shows: the image (with contrast control), its labels in words, three
questions and a comment box, and progress. What it never shows: whether an image is a PIE,
the pruning method or sparsity, correlations, or the image's id (which could be looked up in
the PIE table). Answers are committed on every save; a reader can leave and resume, and
correct any answer until the form is submitted.
"""
from __future__ import annotations

import zlib

import streamlit as st

from core.reader import FormLocked, InputError, clean_reader
from dashboard import reader_ui
from dashboard.imaging import window_level

QUALITY = {1: "1 – poor", 2: "2", 3: "3", 4: "4", 5: "5 – excellent"}
DIFFICULTY = {1: "1 – very easy", 2: "2", 3: "3", 4: "4", 5: "5 – very difficult"}
ss = st.session_state

st.title("Reader study: reading")
study = reader_ui.current_study()
if study is None:
    st.stop()
db = reader_ui.reader_db(study)
view = reader_ui.study_view(study)
forms = db.forms()
if forms.empty:
    st.info("There are no reading forms for this study yet. The researcher creates them on "
            "the *Reader study → Set up* page.")
    st.stop()

name = st.text_input("Your name", key="rs_name", max_chars=100,
                     help="Your answers are kept under this name; type the same name to resume.")
try:
    reader = clean_reader(name)
except InputError as exc:
    st.warning(str(exc))
    st.stop()
form_name = st.selectbox("Form", list(forms["name"]), key="rs_form")
form_id = int(forms.loc[forms["name"] == form_name, "form_id"].iloc[0])
items = db.blind_items(form_id)
answers = db.answers_of(reader, form_id)
total, done = len(items), len(answers)
st.progress(done / total if total else 0.0, text=f"{done} of {total} images rated")

submitted = db.submitted(reader, form_id)
if submitted:
    st.success(f"You submitted {form_name} on {submitted} (UTC). Thank you; the answers are "
               "final.")
    st.stop()


def first_unrated(after: int = 0) -> int:
    """Position of the next unrated image after `after` (wrapping), else `after` or 1."""
    rated = db.answers_of(reader, form_id)
    order = [it.position for it in items]
    for pos in order[after:] + order[:after]:
        if items[pos - 1].item_id not in rated:
            return pos
    return after or 1


# A new reader or form starts at its first unrated image.
context = (reader.casefold(), form_id)
if ss.get("rs_context") != context:
    ss["rs_context"] = context
    ss["rs_pos"] = first_unrated()
# Widget keys carry the reader, so another name typed in the same browser starts clean.
tag = f"{form_id}_{zlib.crc32(reader.casefold().encode())}"


def go_next_unrated() -> None:
    ss["rs_pos"] = first_unrated(ss["rs_pos"])


def save(pos: int) -> None:
    """Form callback: runs before the next rerun, so it may move the position widget."""
    item = items[pos - 1]
    try:
        db.save_answer(reader, item.item_id, ss.get(f"rs_agree_{tag}_{pos}"),
                       ss.get(f"rs_quality_{tag}_{pos}"), ss.get(f"rs_difficulty_{tag}_{pos}"),
                       ss.get(f"rs_comment_{tag}_{pos}", ""))
    except FormLocked as exc:
        ss["rs_msg"] = ("error", str(exc))
        return
    except InputError as exc:
        ss["rs_msg"] = ("error", f"Not saved: {exc}")
        return
    ss["rs_msg"] = ("success", f"Saved image {pos}.")
    ss["rs_pos"] = first_unrated(pos)


nav1, nav2 = st.columns([3, 1], vertical_alignment="bottom")
nav1.selectbox("Image", [it.position for it in items], key="rs_pos",
               format_func=lambda p: f"{p} of {total}" + (
                   "  ✓ rated" if items[p - 1].item_id in answers else ""),
               help="Go back to any image to correct its answer until you submit the form.")
nav2.button("Next unrated", on_click=go_next_unrated, disabled=done == total)
pos = int(ss["rs_pos"])
item = items[pos - 1]
previous = answers.get(item.item_id)

if "rs_msg" in ss:
    kind, text = ss.pop("rs_msg")
    (st.success if kind == "success" else st.error)(text)

left, right = st.columns([3, 2])
with left:
    pixels = reader_ui.image(study, item.row)
    with st.expander("Contrast (window / level)"):
        level = st.slider("Level (centre)", 0, 255, 128, key="rs_level")
        width = st.slider("Window (width)", 1, 255, 255, key="rs_width")
        st.button("Reset contrast", on_click=lambda: ss.update(rs_level=128, rs_width=255))
    if pixels is None:
        st.warning("This image cannot be shown (its file is missing); rate it only if you "
                   "can, or tell the researcher.")
    else:
        st.image(window_level(pixels, level, width), caption=f"Image {pos} of {total}",
                 width="stretch")
with right:
    st.markdown(f"**Label:** {view.label_text(item.row)}")
    with st.form(f"rs_form_{tag}_{pos}", border=True):
        st.radio("Do you fully agree with the label?", ["Yes", "No"], horizontal=True,
                 key=f"rs_agree_{tag}_{pos}",
                 index=None if previous is None else (0 if previous.agree else 1))
        st.radio("Image quality", list(QUALITY), format_func=QUALITY.get, horizontal=True,
                 key=f"rs_quality_{tag}_{pos}",
                 index=None if previous is None else previous.quality - 1)
        st.radio("Diagnosis difficulty", list(DIFFICULTY), format_func=DIFFICULTY.get,
                 horizontal=True, key=f"rs_difficulty_{tag}_{pos}",
                 index=None if previous is None else previous.difficulty - 1)
        st.text_area("Comment (optional)", key=f"rs_comment_{tag}_{pos}",
                     value="" if previous is None else previous.comment, max_chars=2000)
        st.form_submit_button("Save and next", type="primary", on_click=save, args=(pos,))
    if previous is not None:
        st.caption("Already rated: saving again replaces your earlier answer.")

st.divider()
if done < total:
    st.caption(f"You can stop at any time and resume later under the same name. "
               f"{total - done} image(s) left before the form can be submitted.")
else:
    st.subheader("Submit the form")
    final = st.checkbox("My answers are final (they cannot be changed after submitting).",
                        key=f"rs_final_{tag}")
    if st.button("Submit form", disabled=not final, type="primary"):
        try:
            db.submit(reader, form_id)
        except InputError as exc:
            st.error(str(exc))
        else:
            st.rerun()
