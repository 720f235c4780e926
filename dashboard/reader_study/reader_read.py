"""Reader study — reading: a clinician rates the images of their forms, blinded.

Reached only through a personal link (`?r=<token>`); app.py then serves this page alone,
without navigation, sidebar or study facts. What the screen shows: the image (window /
level), its labels in words, three questions and a comment box, progress. What it never
shows, in the page, its HTML or its URL: whether an image is a PIE, the pruning method or
sparsity, correlations, the image's id, the study's name. One screen per image at 1280×800;
answers by keyboard (reader_keys); each save is committed at once with the time spent on the
image; a reload resumes at the same image (form and position live in the URL).
"""
from __future__ import annotations

import time

import streamlit as st

from core.reader import FormLocked, InputError
from core.reader.inputs import MAX_COMMENT, clip_comment
from dashboard.common.safe import md_escape
from dashboard.reader_study import reader_access, reader_keys, reader_ui
from dashboard.reading_room.viewer_component import png_data_url, viewer

QUALITY = {1: "1 poor", 2: "2", 3: "3", 4: "4", 5: "5 excellent"}
DIFFICULTY = {1: "1 very easy", 2: "2", 3: "3", 4: "4", 5: "5 very difficult"}
ss = st.session_state

link = reader_access.current_reader()
if link is None:
    st.stop()
study, me = link.study, link.reader
db = reader_access.reading_db(link)  # an unreadable database: one sentence, no traceback
view = reader_ui.study_view(study)
reader_ui.compact_layout()
forms = db.forms_of(me.reader_id)
if forms.empty:
    st.title("Reading")
    st.info("No forms are assigned to you at the moment. The coordinator will tell you when "
            "there is something to read.")
    st.stop()

# ---------------------------------------------------------------- which form, which image
names = dict(zip(forms["form_id"].astype(int), forms["name"], strict=True))
wanted = st.query_params.get("form")
form_id = int(wanted) if wanted and wanted.isdigit() and int(wanted) in names else None
if form_id is None:  # the first form not yet submitted, else the first
    form_id = next((f for f in names if not db.submitted(me.name, f)), next(iter(names)))
items = db.blind_items(form_id)
answers = db.answers_of(me.name, form_id)
total, done = len(items), len(answers)
is_open = bool(forms.loc[forms["form_id"] == form_id, "open"].iloc[0])


def first_unrated(after: int = 0) -> int:
    """Position of the next unrated image after `after` (wrapping), else `after` or 1."""
    rated = db.answers_of(me.name, form_id)
    order = [it.position for it in items]
    for pos in order[after:] + order[:after]:
        if items[pos - 1].item_id not in rated:
            return pos
    return after or 1


pos_param = st.query_params.get("i")
pos = int(pos_param) if pos_param and pos_param.isdigit() and 1 <= int(pos_param) <= total \
    else first_unrated()
st.query_params.update({"form": str(form_id), "i": str(pos)})
item = items[pos - 1]
previous = answers.get(item.item_id)
shown = ss.setdefault("rs_shown", {})
shown.setdefault(item.item_id, time.monotonic())  # time on this image starts now


def go(form: int, position: int) -> None:
    st.query_params.update({"form": str(form), "i": str(position)})


def save(item_id: str, position: int) -> None:
    """Form callback: runs before the rerun, so it can move to the next image."""
    key = f"{form_id}_{position}"
    started = ss.get("rs_shown", {}).pop(item_id, None)
    comment, clipped = clip_comment(ss.get(f"rs_comment_{key}", ""))
    try:
        db.save_answer(me.name, item_id, ss.get(f"rs_agree_{key}"), ss.get(f"rs_quality_{key}"),
                       ss.get(f"rs_difficulty_{key}"), comment,
                       seconds=None if started is None else time.monotonic() - started)
    except (FormLocked, InputError) as exc:
        ss["rs_msg"] = ("error", f"Not saved: {exc}")
        return
    ss["rs_msg"] = ("warning", f"Saved image {position}; your comment was longer than "
                    f"{MAX_COMMENT:,} characters, so only its first {MAX_COMMENT:,} were kept."
                    ) if clipped else ("success", f"Saved image {position}.")
    go(form_id, first_unrated(position))


def on_viewer_nav() -> None:
    step = ((ss.get("rs_viewer") or {}).get("nav") or {}).get("dir")
    if step in (-1, 1):
        go(form_id, min(total, max(1, pos + step)))


# ---------------------------------------------------------------- top bar
top = st.columns([2, 3, 1, 1], vertical_alignment="bottom")
if len(names) > 1:
    choice = top[0].selectbox("Form", list(names), index=list(names).index(form_id),
                              format_func=lambda f: names[f], key="rs_form_pick")
    if choice != form_id:
        go(choice, 0)  # position 0 is no image: the form opens at its first unrated one
        st.rerun()
else:
    top[0].markdown(f"**{md_escape(names[form_id])}**")
top[1].progress(done / total if total else 0.0,
                text=f"Image {pos} of {total} · {done} rated")
top[2].button("◀ Previous", on_click=go, args=(form_id, max(1, pos - 1)), disabled=pos == 1,
              width="stretch")
top[3].button("Next ▶", on_click=go, args=(form_id, min(total, pos + 1)),
              disabled=pos == total, width="stretch")

submitted = db.submitted(me.name, form_id)
if submitted:
    st.success(f"You submitted this form on {submitted} (UTC). Thank you; the answers are "
               "final.")
    st.stop()
if not is_open:
    st.warning("The coordinator has closed this form for now: answers cannot be saved.")
    reader_ui.rerun_when_open(db, me.reader_id, form_id)  # Save comes back without a reload
if "rs_msg" in ss:
    kind, text = ss.pop("rs_msg")
    {"success": st.toast, "warning": st.warning}.get(kind, st.error)(md_escape(text))

# ---------------------------------------------------------------- image and questions
left, right = st.columns([3, 2], gap="medium")
with left:
    pixels = reader_ui.image(study, item.row)
    if pixels is None:
        st.warning("This image cannot be shown (its file is missing); tell the coordinator.")
    else:
        # The Browse page's viewer and its keys (? lists them): window/level, presets,
        # invert, zoom, pan and flips in the browser (no rerun); its ◀ ▶ and ← → walk this
        # form. It gets pixels and a position, nothing else: no model panes, no Grad-CAM.
        viewer({"image": {"src": png_data_url(pixels), "w": int(pixels.shape[1]),
                          "h": int(pixels.shape[0]), "caption": f"Image {pos} of {total}"},
                "nav": {"prev": pos > 1, "next": pos < total, "text": f"{pos} / {total}"},
                "keys_note": "On this page 1–5, Y/N, Q/D and Enter answer the questions; "
                             "window presets are shift+1–5.",
                "file": f"image_{pos}"},
               key="rs_viewer", on_nav=on_viewer_nav, memo=ss)
with right:
    st.markdown(f"**Label:** {md_escape(view.label_text(item.row))}")
    key = f"{form_id}_{pos}"
    with st.form(f"rs_form_{key}", border=True):
        st.radio("Do you fully agree with the label?", ["Yes", "No"], horizontal=True,
                 key=f"rs_agree_{key}",
                 index=None if previous is None else (0 if previous.agree else 1))
        st.radio("Image quality", list(QUALITY), format_func=QUALITY.get, horizontal=True,
                 key=f"rs_quality_{key}",
                 index=None if previous is None else previous.quality - 1)
        st.radio("Diagnosis difficulty", list(DIFFICULTY), format_func=DIFFICULTY.get,
                 horizontal=True, key=f"rs_difficulty_{key}",
                 index=None if previous is None else previous.difficulty - 1)
        st.text_area("Comment (optional)", key=f"rs_comment_{key}", height=68,
                     value="" if previous is None else previous.comment)
        st.form_submit_button("Save and next", type="primary", on_click=save,
                              args=(item.item_id, pos), disabled=not is_open)
    st.caption(reader_keys.HINT + ("  \nAlready rated: saving again replaces your earlier "
                                   "answer." if previous is not None else ""))
    if done == total and is_open:
        final = st.checkbox("My answers are final (they cannot be changed after submitting).",
                            key=f"rs_final_{form_id}")
        if st.button("Submit form", disabled=not final, type="primary"):
            try:
                db.submit(me.name, form_id)
            except InputError as exc:
                st.error(md_escape(exc))
            else:
                st.rerun()
    elif done < total:
        st.caption(f"{total - done} image(s) left before the form can be submitted. You can "
                   "stop at any time: your link resumes here.")
reader_keys.install()
