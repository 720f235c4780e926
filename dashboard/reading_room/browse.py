"""Browse PIEs: the reading room. The image twice, side by side: the dense model's Grad-CAM
on the left, the pruned model's on the right, one colour scale, zoom, pan and window moving
both (dashboard/reading_room/static/viewer.js); each model's top findings and calls under its
pane; why the image is a PIE in words and the rank table below; a gallery of thumbnails at the
bottom; previous/next walk the gallery.

The image is sent first, the words and tables next, the Grad-CAM maps last (a second
component, `viewer_cams`), so the image never waits on a model. A session's first run sends
the image alone (with its maps): the browser would otherwise draw the gallery's filters,
words, tables and thumbnails before it gets to paint the image. Once the image is painted,
the viewer says so (`viewer_ready`) and the room reruns with everything. Each run ends by
sending the next image ahead (`viewer_ahead`): → then draws it in the browser at once, and
the server's reply (words, rank table, the next one ahead) follows.

Everything below the title runs in one `st.fragment`: a click, a key or a filter change
reruns only this part, and window/level, presets, invert, zoom, pan, flips, layouts and
overlays never rerun anything (the browser does them). The selected image lives
in the URL (`image=<id>`), the gallery's filters too.
"""
import numpy as np
import streamlit as st

from core.analysis.pies import cut_ties
from dashboard.common import loaders
from dashboard.common.filters import url_control
from dashboard.common.url_params import set_params, url_batch
from dashboard.reading_room import browse_loaders as bl
from dashboard.reading_room.browse_logic import (
    FINDING_FILTERS,
    GROUNDTRUTH_SORTS,
    SORTS,
    WHICH,
    default_cam_class,
    explain,
    find_image,
    gallery_order,
    neighbours,
    rank_table,
)
from dashboard.reading_room.browse_text import GLOSSARY, esc, model_name, rank_view
from dashboard.reading_room.viewer_component import (
    cams_data,
    gallery,
    viewer,
    viewer_ahead,
    viewer_cams,
    viewer_data,
    viewer_ready,
)
from dashboard.reading_room.viewer_panes import cam_note_words, cams_payload, cycle, model_findings

PAGE = 24        # thumbnails per gallery page

ctx = loaders.page_context()
d = ctx.data
k = ctx.filters.sparsity
ss = st.session_state

# less empty space above the title, so both panes fit a 1280×800 screen (constant CSS)
st.html("<style>.block-container{padding-top:2.5rem}h1{padding-top:0.25rem}</style>")
st.title("Browse PIEs")


# --------------------------------------------------------------------------- events
def _reset() -> None:
    """A filter or the model changed: back to the first image of the new order."""
    ss["br_row"], ss["br_page"], ss["br_unknown"] = None, 0, None


def _on_nav() -> None:
    ev = (ss.get("br_viewer") or {}).get("nav") or {}
    order, row = ss.get("_br_order"), ss.get("br_row")
    if order is None or ev.get("dir") not in (-1, 1):
        return
    pos, prev_, next_ = neighbours(order, row if row is not None else -1)
    target = next_ if ev["dir"] == 1 else prev_
    # the row the browser drew (it may have drawn it already, from the image sent ahead)
    shown = ev.get("row")
    if isinstance(shown, int) and not isinstance(shown, bool) and 0 <= shown < len(d.labels):
        target = shown
    if target is not None:
        ss["br_row"], ss["br_unknown"] = target, None
        at = np.flatnonzero(order == target)
        if at.size:
            ss["br_page"] = int(at[0]) // PAGE


def _on_pick() -> None:
    ev = (ss.get("br_gallery") or {}).get("pick") or {}
    if isinstance(ev.get("row"), int):
        ss["br_row"], ss["br_unknown"] = ev["row"], None


def _on_page() -> None:
    ev = (ss.get("br_gallery") or {}).get("page") or {}
    if isinstance(ev.get("page"), int):
        ss["br_page"] = max(ev["page"], 0)


def _on_find() -> None:
    text = str(ss.get("br_find") or "").strip()
    if not text:
        return
    row = find_image(d.labels, text)
    ss["br_row"], ss["br_unknown"] = (row, None) if row is not None else (None, text)


def _on_ready() -> None:
    ss["br_full"] = True


def _peek(key: str, param: str, default: str, valid) -> str:
    """A gallery filter's value without drawing its widget (a session's first run draws the
    image alone): as `url_control` finds it (the session, then the URL), else the default."""
    v = ss.get(key, ss.get("_keep_" + key))
    if v is None:
        v = st.query_params.get(param)
    return v if v is not None and valid(v) else default


def _initial_row() -> None:
    """First visit of this session (or a pasted link): the image named in the URL."""
    if "br_row" in ss:
        return
    ss["br_row"], ss["br_unknown"], ss["br_page"] = None, None, 0
    wanted = st.query_params.get("image")
    if wanted:
        row = find_image(d.labels, wanted)
        ss["br_row"], ss["br_unknown"] = (row, None) if row is not None else (None, wanted)


# --------------------------------------------------------------------------- the room
@st.fragment
def room() -> None:
    with url_batch():     # a rerun of this fragment alone sends its URL writes as one
        _room()


def _room() -> None:
    _initial_row()
    head = st.columns([2, 12], vertical_alignment="bottom")
    with head[0].popover("Model", help="Pruning method, seeds, PIE definition"):
        method = url_control(st.selectbox, "Pruning method", key="br_method", param="pie_method",
                             default=d.methods[0], options=list(d.methods),
                             valid=lambda v: v in d.methods, on_change=_reset)
        choices = ["ens"] + [str(s) for s in ctx.seeds]
        model = url_control(st.selectbox, "Model", key="br_model", param="model", default="ens",
                            options=choices, valid=lambda v: v in choices, on_change=_reset,
                            format_func=lambda v: f"ensemble of {len(ctx.seeds)} seeds (mean)"
                            if v == "ens" else f"seed {v} only",
                            help="Every number and map on this page comes from this selection: "
                                 "the mean of the seeds' probabilities, or one trained model.")
        pct = url_control(st.number_input, "PIEs = bottom % of agreement", key="br_pct",
                          param="pie_percentile", default=float(d.param("pie_percentile", 5.0)),
                          parse=float,
                          min_value=0.5, max_value=50.0, step=0.5, on_change=_reset,
                          valid=lambda v: 0.5 <= float(v) <= 50)
        st.caption(f"Pruned to {k}% sparsity: *Chosen sparsity* in the sidebar. Seeds: the "
                   "sidebar's seed range. Every pruning method of the study is offered here "
                   "(the research pages' method filter does not apply).")
    seeds = tuple(ctx.seeds) if model == "ens" else (int(model),)
    table = bl.gallery(d, d.key, method, seeds, k, float(pct))
    head[1].markdown(f"**{model_name(seeds, ctx.seeds, model)}**, pruned with {esc(method)} "
                     f"to **{k}%** · PIEs: bottom {pct:g}%",
                     help="The rank table, the words and the Grad-CAM captions all use this "
                          "model selection (change it with the Model button).")

    top = st.container()
    sorts = [s for s in SORTS if s not in GROUNDTRUTH_SORTS or s == "quality" and "quality"
             in table or s == "noise" and "label_noise" in table]
    # a session's first run: the image alone (see the module's docstring)
    held = not ss.get("br_full") and ss.get("br_unknown") is None
    if held:
        which = _peek("br_which", "show", "pies", lambda v: v in WHICH)
        disease = _peek("br_dis", "disease", "", lambda v: v in [""] + d.classes)
        findings = _peek("br_nf", "findings", "any", lambda v: v in FINDING_FILTERS)
        sort = _peek("br_sort", "sort", "pie", lambda v: v in sorts)
        # written now, as their widgets will: the second run then changes no URL (one
        # history entry for the page, not two)
        set_params({"show": which, "disease": disease, "findings": findings, "sort": sort})
    else:
        which, disease, findings, sort = _gallery_filters(sorts)
    order = gallery_order(table, which=which, disease=disease or None, findings=findings,
                          sort=sort, labels=d.labels)
    ss["_br_order"] = order
    row, unknown = ss.get("br_row"), ss.get("br_unknown")
    if row is None and unknown is None and len(order):
        row = ss["br_row"] = int(order[0])

    filt = f"{WHICH[which]}" + (f" with {disease}" if disease else "") + (
        f", {findings} finding(s)" if findings != "any" else "")
    pages = max(1, -(-len(order) // PAGE))
    page = ss["br_page"] = min(int(ss.get("br_page") or 0), pages - 1)
    ss["_br_page_shown"] = page
    with top:
        ss["_br_in_room"] = True     # the room's own run: the next image goes out last
        try:
            image_room(order, table, method, seeds, model, k, float(pct), filt, held)
        finally:
            ss["_br_in_room"] = False
    if held:
        token = ss.pop("_br_held", None)
        if token is not None:       # the image is on its way: the rest once it is painted
            viewer_ready(token, key="br_ready", on_ready=_on_ready)
            return
        # no image to wait for: everything now (same values, same place on the page)
        which, disease, findings, sort = _gallery_filters(sorts)
    ss["br_full"] = True

    items = order[page * PAGE:(page + 1) * PAGE]
    thumbs = bl.thumbnails(d, items)
    # one lookup for the page's rows (a .loc per thumbnail cost ~5 ms each)
    info = table.set_index("row").loc[[int(r) for r in items]].to_dict("index")
    gallery({"items": [_thumb(info[int(r)], int(r), src) for r, src in zip(items, thumbs,
                                                                           strict=True)],
             "page": page, "pages": pages, "selected": None if row is None else int(row),
             "info": f"{len(order):,} {filt} · page {page + 1} of {pages}"},
            key="br_gallery", on_pick=_on_pick, on_page=_on_page, memo=ss)
    with st.expander("Glossary: PIE, sparsity, pruning method, Grad-CAM, threshold"):
        st.markdown(GLOSSARY)
    # after everything drawn (the gallery's thumbnails do not wait on it)
    later = ss.pop("_br_ahead_later", None)
    if later is not None:
        _send_ahead(*later, key="br_viewer_ahead_room")


def _gallery_filters(sorts: list) -> tuple:
    """The gallery's heading and filters → (which, disease, findings, sort)."""
    st.subheader("Gallery")
    g = st.columns([2, 3, 2, 4, 4])
    which = url_control(g[0].selectbox, "Show", key="br_which", param="show", default="pies",
                        options=list(WHICH), format_func=WHICH.get, on_change=_reset,
                        valid=lambda v: v in WHICH)
    disease = url_control(g[1].selectbox, "Disease (positive)", key="br_dis", param="disease",
                          default="", options=[""] + list(d.classes), on_change=_reset,
                          format_func=lambda v: v or "any", valid=lambda v: v in [""] + d.classes)
    findings = url_control(g[2].selectbox, "Findings", key="br_nf", param="findings", default="any",
                           options=list(FINDING_FILTERS), on_change=_reset,
                           valid=lambda v: v in FINDING_FILTERS,
                           help="Positive findings per image, 'No Finding' not counted")
    sort = url_control(g[3].selectbox, "Sort by", key="br_sort", param="sort", default="pie",
                       options=sorts, format_func=SORTS.get, on_change=_reset,
                       valid=lambda v: v in sorts)
    g[4].text_input("Find any image by id", key="br_find", on_change=_on_find,
                    placeholder="e.g. " + str(d.labels["id"].iloc[0]),
                    help="Any image of the evaluation split, PIE or not (Enter)")
    return which, disease, findings, sort


@st.fragment
def image_room(*args) -> None:
    """The viewer and why this image is a PIE: a fragment inside the room, so previous/next,
    the Grad-CAM class and 'Evidence against' rerun only this part (the gallery, the filters
    and the model picker are not rebuilt or re-sent; the browser moves the gallery's
    highlight itself). The arguments are the room's last run's; the image is the session's."""
    with url_batch():
        _image_room(*args)


def _image_room(order, table, method, seeds, model, k, pct, filt, held=False) -> None:
    row, unknown = ss.get("br_row"), ss.get("br_unknown")
    if ss.get("_br_page_shown") != ss.get("br_page"):
        st.rerun(scope="app")      # next/previous left the gallery's page: redraw it too
    if unknown is not None:
        st.warning(f"No image with the id {esc(unknown)} in this study's evaluation "
                   f"split ({len(d.labels):,} images). Check the id, or pick a "
                   "thumbnail below.", icon=":material/search_off:")
        set_params({"image": str(unknown)})
    elif row is None:
        st.info(f"No image matches the gallery filter ({esc(filt)}, pruned to {k}% with "
                f"{esc(method)}, PIEs = bottom {pct:g}%). Widen the filter below.",
                icon=":material/filter_alt_off:")
        set_params({}, drop=["image"])
    else:
        # one thin row of Grad-CAM controls, then the two panes across the page's width
        ctl = st.columns([4, 3, 7], vertical_alignment="center")
        signed = url_control(ctl[1].toggle, "Evidence against", key="br_signed", param="signed",
                             default=False, parse=lambda v: v == "1",
                             fmt=lambda v: "1" if v else "0",
                             help="Off: Grad-CAM as published, only regions that raise the "
                                  "score. On: the signed map, red = raises the score, blue = "
                                  "lowers it.")
        _show(row, order, table, method, seeds, model, k, pct, ctl[0], signed, held)


def _on_cam() -> None:
    """Key C (shift+C): the next (previous) class for Grad-CAM."""
    ev = (ss.get("br_viewer") or {}).get("cam") or {}
    key = ss.get("_br_cam_key")
    if key and ev.get("dir") in (-1, 1):
        ss[key] = cycle(d.classes, ss.get(key), ev["dir"])


def _thumb(t: dict, r: int, src) -> dict:
    corr = "—" if not np.isfinite(t["corr"]) else f"{t['corr']:.2f}"
    n = int(t["n_findings"])
    gt = ""
    if "quality" in t:
        gt = f" · q {t['quality']:.2f}" + (" · noisy label" if bool(t.get("label_noise"))
                                            else "")
    return {"row": r, "id": str(t["id"]), "src": src or "", "pie": bool(t["pie"]),
            "line1": f"ρ {corr}", "line2": f"{n} finding{'s' if n != 1 else ''}" + (
                " · noisy" if bool(t.get("label_noise", False)) else ""),
            "title": f"{t['id']}\nlabels: {t['labels']}\nagreement (Spearman) {corr}{gt}"}


def _row_view(row, order, method, seeds, k, thr, cam_seeds, cam_note, img) -> dict:
    """The viewer's payload for one image (`img`: bl.display_image), as `viewer_data`
    makes it; the same for the image shown and the next one sent ahead (one token)."""
    image_id = str(d.labels["id"].iloc[row])
    dense, pruned = bl.probabilities(d, method, seeds, k, row)
    y = d.labels.iloc[row][d.classes].to_numpy(dtype=float)
    rt = rank_table(dense, pruned, y, d.classes, thr)
    pos, prev_, next_ = neighbours(order, row)
    nav = {"prev": prev_ is not None, "next": next_ is not None, "row": int(row),
           "prev_row": None if prev_ is None else int(prev_),
           "next_row": None if next_ is None else int(next_),
           "text": (f"{pos + 1:,} of {len(order):,}" if pos is not None
                    else f"not in the gallery ({len(order):,})")}
    head = ("top findings · call at the dense model's threshold" if thr is not None
            else "top findings (no operating thresholds)")
    panes = [{"title": "dense (unpruned)", "head": f"dense · {head}",
              **model_findings(rt, "dense")},
             {"title": f"pruned {k}% ({method})", "head": f"pruned {k}% · {head}",
              **model_findings(rt, "pruned")}]
    return {"image": {**img, "caption": f"{image_id} · {img['note']}"},
            "panes": panes, "nav": nav,
            "cam_classes": list(d.classes) if cam_seeds else None,
            "cam_wait": "Grad-CAM: computing…" if cam_seeds else cam_note,
            "file": "".join(ch if ch.isalnum() or ch in "-_." else "_"
                            for ch in image_id)[:80] or "image"}


def _cam_payload(row, method, seeds, k, cls, signed, cam_seeds, cam_note) -> tuple:
    """(the viewer_cams payload or None, the note under the panes) for one image."""
    if not cam_seeds:
        return None, cam_note
    ci = d.classes.index(cls)
    dense, pruned = bl.probabilities(d, method, seeds, k, row)
    try:
        m = bl.cam_maps(d, cam_seeds, method, k, row, ci, signed)
        return (cams_payload(m, cls, dense[ci], pruned[ci], k, signed),
                cam_note_words(len(cam_seeds), signed))
    except Exception as exc:  # noqa: BLE001  (a model that cannot load must not take the page down)
        return None, f"Grad-CAM failed, the panes are shown without overlays: {exc}"


def _cam_class(row, model, method, seeds, k) -> str:
    """The class Grad-CAM explains for an image: the one picked for it, else the default."""
    picked = ss.get(f"br_cam_{row}_{model}_{method}_{k}")
    if picked in d.classes:
        return picked
    dn, pr = bl.probabilities(d, method, seeds, k, row)
    return default_cam_class(dn, pr, d.labels.iloc[row][d.classes].to_numpy(dtype=float),
                             d.classes)


def _ahead(row, order, method, seeds, model, k, thr, signed, cam_seeds, cam_note) -> list:
    """The next image with its maps, for the browser to keep (nothing if it cannot be read:
    the server then draws it on →, as for any image)."""
    try:
        img = bl.display_image(d, row)
    except Exception:  # noqa: BLE001  (shown, with its message, when it is reached)
        return []
    data = viewer_data(_row_view(row, order, method, seeds, k, thr, cam_seeds, cam_note, img))
    cams, note = _cam_payload(row, method, seeds, k, _cam_class(row, model, method, seeds, k),
                              signed, cam_seeds, cam_note)
    return [{"data": data, "cams": cams_data(data["token"], cams, note)}]


def _show(row, order, table, method, seeds, model, k, pct, cls_slot, signed, held) -> None:
    lab = d.labels.iloc[row]
    image_id = str(lab["id"])
    set_params({"image": image_id})
    dense, pruned = bl.probabilities(d, method, seeds, k, row)
    y = lab[d.classes].to_numpy(dtype=float)
    thr, why = bl.thresholds(d, d.key, seeds)
    rt = rank_table(dense, pruned, y, d.classes, thr)
    pos, prev_, next_ = neighbours(order, row)

    default = default_cam_class(dense, pruned, y, d.classes)
    positives = set(rt.loc[rt["label"] == "positive", "class"])
    cam_key = ss["_br_cam_key"] = f"br_cam_{row}_{model}_{method}_{k}"
    if ss.get(cam_key) not in d.classes:
        ss[cam_key] = default
    cls = cls_slot.selectbox("Grad-CAM explains", d.classes, key=cam_key,
                             label_visibility="collapsed",
                             format_func=lambda c: "Grad-CAM of: "
                             + ("● " if c in positives else "") + c,
                             help="Grad-CAM explains this class (key C: the next one). "
                                  "Default: the positive finding whose probability pruning "
                                  "changed most (● = labelled positive).")
    cam_seeds, cam_note = bl.cam_seeds(d, seeds)

    # 1. the image and the two panes, before anything slow
    try:
        img = bl.display_image(d, row)
    except FileNotFoundError:
        img = None
        st.warning(f"The image file {esc(bl.image_file(d, row) or image_id)} is missing on "
                   "disk: the panes cannot be drawn. Everything else is shown.",
                   icon=":material/broken_image:")
    except Exception as exc:  # noqa: BLE001  (images on another machine, a moved folder, …)
        img = None
        st.warning(f"The image {esc(bl.image_file(d, row) or image_id)} cannot be shown: "
                   f"{esc(str(exc))}", icon=":material/broken_image:")
    token = None
    if img is not None:
        token = viewer(_row_view(row, order, method, seeds, k, thr, cam_seeds, cam_note, img),
                       key="br_viewer", on_nav=_on_nav, on_cam=_on_cam, memo=ss)
    if held and token is not None:
        # a session's first run: the maps right behind the image, the rest once it is painted
        viewer_cams(token, *_cam_payload(row, method, seeds, k, cls, signed, cam_seeds,
                                         cam_note), key="br_viewer_cams")
        ss["_br_held"] = token
        _prefetch(order, row, method, seeds, model, k, cam_seeds)
        return

    # 2. why this image is a PIE, in words and in the rank table
    t = table.set_index("row").loc[row]
    mask = table["pie"].to_numpy()
    cut = cut_ties(table["corr"].to_numpy(), mask)["cut_value"]   # the analysis' PIE cut
    words, ranks_ = st.columns([2, 3], gap="medium")
    with words:
        labels = str(t["labels"])   # core.data.stats.labels_in_words, as in the gallery
        gt = ""
        if "quality" in d.groundtruth_columns:  # declared by the dataset, not found by name
            gt = f"  \nSynthCXR ground truth: quality **{lab['quality']:.2f}** (0 poor – 1 " \
                 "excellent) · " + ("**label noise**: the drawn findings differ from these "
                                    "labels" if bool(lab.get("label_noise", False))
                                    else "labels match the image")
        st.markdown(f"**{esc(image_id)}** · {'**PIE**' if t['pie'] else 'not a PIE'}  \n"
                    f"**Labels:** {esc(labels)}{gt}")
        sentences = explain(rt, float(t["corr"]), bool(t["pie"]), cut, k, method, pct,
                            len(table), bl.RULE if thr is not None else None)
        st.markdown("\n".join(f"- {esc(s)}" for s in sentences))
        if thr is None:
            st.caption(f"Operating thresholds are unavailable: {esc(why)}. The table shows "
                       "ranks and probabilities only.")
    with ranks_:
        rank_view(rt, k, thr is not None)

    # 3. the Grad-CAM maps, painted over the panes when they arrive; then the next image
    if token is not None:
        viewer_cams(token, *_cam_payload(row, method, seeds, k, cls, signed, cam_seeds,
                                         cam_note), key="br_viewer_cams")
        args = (next_, order, method, seeds, model, k, thr, signed, cam_seeds, cam_note)
        if ss.get("_br_in_room"):
            ss["_br_ahead_later"] = args
        else:                       # previous/next rerun only this fragment: last here
            _send_ahead(*args, key="br_viewer_ahead")
    _prefetch(order, row, method, seeds, model, k, cam_seeds)


def _send_ahead(next_, order, method, seeds, model, k, thr, signed, cam_seeds, cam_note, *,
                key: str) -> None:
    """The next image with its maps, to the browser (`viewer_ahead`)."""
    ahead = [] if next_ is None else _ahead(next_, order, method, seeds, model, k, thr,
                                            signed, cam_seeds, cam_note)
    viewer_ahead(ahead, key=key, viewer_key="br_viewer", memo=ss)


def _prefetch(order, row, method, seeds, model, k, cam_seeds) -> None:
    """Prepare, in the background, the images a next run will want: the previous one and
    the one after the next (the next one is sent ahead by this run)."""
    _, prev_, next_ = neighbours(order, row)
    after = None if next_ is None else neighbours(order, next_)[2]
    rows = [r for r in (after, next_, prev_) if r is not None]
    # the classes here: the prefetch thread has no session to read a picked class from
    classes = {r: d.classes.index(_cam_class(r, model, method, seeds, k)) for r in rows
               } if cam_seeds else {}
    bl.prefetch(d, rows, cam_seeds, method, k, classes.get if cam_seeds else None)


room()
