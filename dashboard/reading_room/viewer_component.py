"""The reading room's browser components: the image viewer, its Grad-CAM maps, the gallery.

All are Streamlit v2 components (`st.components.v2.component`): HTML/CSS/JS mounted in the
page (no iframe, nothing fetched from anywhere). Their code is in static/ beside this file (the
viewer: viewer_draw.js + viewer_keys.js + viewer.js joined into one module, viewer.css/.html;
viewer_cams.js, viewer_ahead.js, viewer_ready.js; gallery.js/.css/.html), read once from
disk here, so each file is linted and read as what it is. Python sends pixels as base64
PNG data: URLs; the browser does window/level, presets, invert, zoom, pan, flips, the
layouts and the Grad-CAM overlays itself, so those never rerun the script. Events come back
as trigger values: `nav` ({dir: ±1, row: the image drawn}) and `cam` ({dir: ±1}, key C)
from the viewer, `pick` ({row}) and `page` ({page}) from the gallery, `ready` once the
first image is painted.

The image comes first: `viewer` mounts the image and the two panes at once, and
`viewer_cams` (called by the page after its words and tables) brings the Grad-CAM maps,
which the viewer paints over the panes when they arrive. `viewer_ready` tells the page when
that first image is painted (the page then sends the rest), and `viewer_ahead` sends the
next image with its maps, so → draws it in the browser at once.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from dashboard.common.imaging import _DIVERGING, _HEAT

STATIC = Path(__file__).resolve().parent / "static"
# The viewer's module, in the order its parts are joined (the last one exports the component)
VIEWER_JS = ("viewer_draw.js", "viewer_keys.js", "viewer.js")
SENT_KEEP = 6    # payload tokens remembered per session as already in the browser

# Window/level presets on the display image's 8-bit grey values (level, window), keys 1-5.
# These radiographs are 8-bit PNGs or renderings, not Hounsfield-calibrated CT, so the
# presets are starting points named after what they bring out, not standard CT windows.
PRESETS = {"default": (128, 256), "lung": (85, 150), "mediastinum": (150, 110),
           "bone": (165, 70), "contrast": (128, 128)}
COLORMAPS = {"heat": _HEAT.astype(int).tolist(), "diverging": _DIVERGING.astype(int).tolist()}


def _static(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def png_data_url(img: np.ndarray, compress_level: int = 1) -> str:
    """uint8 grey [H, W] (or RGB) → 'data:image/png;base64,…'. Level 1 compression: on
    these images 3× faster than the default for ~30% more bytes, on a local connection."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, "PNG", compress_level=compress_level)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def jpeg_data_url(img: np.ndarray, quality: int = 85) -> str:
    """Thumbnails only (lossy, ~3× smaller than PNG here); the viewer's image is PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, "JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def cam_to_u8(cam01: np.ndarray, signed: bool = False) -> np.ndarray:
    """A normalised map as 8-bit grey for the browser: [0, 1] → 0…255, or for a signed map
    [−1, 1] → 1…255 with 128 = 0 (the browser decodes with the same convention)."""
    cam = np.nan_to_num(np.asarray(cam01, dtype=np.float32))
    if signed:
        return np.clip(np.rint(128 + 127 * np.clip(cam, -1, 1)), 1, 255).astype(np.uint8)
    return np.clip(np.rint(255 * np.clip(cam, 0, 1)), 0, 255).astype(np.uint8)


def token(obj) -> str:
    """A short fingerprint of a payload: the browser rebuilds only when it changes."""
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


_mounted: dict = {}


def _components():
    """(viewer, cams, gallery, ahead, ready) renderers, registered once per process."""
    if not _mounted:
        import streamlit as st

        v2 = st.components.v2.component
        _mounted["all"] = (
            v2("prunelens_viewer", html=_static("viewer.html"), css=_static("viewer.css"),
               js="\n".join(_static(f) for f in VIEWER_JS)),
            v2("prunelens_viewer_cams", js=_static("viewer_cams.js")),
            v2("prunelens_gallery", html=_static("gallery.html"), css=_static("gallery.css"),
               js=_static("gallery.js")),
            v2("prunelens_viewer_ahead", js=_static("viewer_ahead.js")),
            v2("prunelens_viewer_ready", js=_static("viewer_ready.js")))
    return _mounted["all"]


def _slim(data: dict, keep: tuple, memo, memo_key: str, n: int = SENT_KEEP) -> dict:
    """The payload, or only its token and `keep` fields when this session already sent it
    (the browser keeps the last payloads; it asks again with a 'resend' event if it lost
    one). Every rerun would otherwise re-send ~0.3 MB of unchanged pixels."""
    if data["token"] in (memo.get(memo_key) or ()):
        return {"token": data["token"], "slim": True, **{k: data[k] for k in keep}}
    _sent(memo, memo_key, data["token"], n)
    return data


def _sent(memo, memo_key: str, tok: str, n: int = SENT_KEEP) -> None:
    memo[memo_key] = ([t for t in memo.get(memo_key) or () if t != tok] + [tok])[-n:]


def viewer_data(payload: dict) -> dict:
    """The viewer's payload as the browser gets it, with its token (see `viewer`)."""
    data = {"panes": None, **payload, "presets": {k: list(v) for k, v in PRESETS.items()},
            "colormaps": COLORMAPS}
    data["token"] = token({k: v for k, v in data.items() if k != "nav"})
    return data


def viewer(payload: dict, *, key: str, on_nav, memo, on_cam=None) -> str:
    """Mount the viewer; returns the image's token (for `viewer_cams`). `payload`: image
    {src, w, h, caption}, nav {prev, next, text, row?, prev_row?, next_row?}, file
    (download name stem), and for the model panes (None on the reader study's Read page:
    readers stay blind) panes [dense, pruned] each {title, head, rows [[finding,
    probability, call, positive?]], calls}, cam_classes (the classes C cycles through),
    cam_wait (shown until the maps come); keys_note (said under the key list). `memo`: the
    session's state (remembers what this browser already has)."""
    data = viewer_data(payload)
    memo_key = f"_sent_{key}"

    def resend():
        memo[memo_key] = None

    events = {"on_cam_change": on_cam} if on_cam is not None else {}
    _components()[0](key=key, data=_slim(data, ("nav",), memo, memo_key), on_nav_change=on_nav,
                     on_resend_change=resend, height="content", **events)
    return data["token"]


def cams_data(image_token: str, cams: dict | None, note: str) -> dict:
    """`viewer_cams`' payload, with its token (the browser decodes a payload once)."""
    data = {"image": image_token, "note": note, **(cams or {"maps": None})}
    data["token"] = token(data)
    return data


def viewer_cams(image_token: str, cams: dict | None, note: str, *, key: str) -> None:
    """The Grad-CAM maps of the viewer's image (`image_token`, from `viewer`). `cams`:
    {maps {dense, pruned, diff} (PNG data URLs, `cam_to_u8`), signed, scale (the shared
    colour scale in words), diff_note, legend {maps, diff}: (low end, high end)} or None:
    the panes then stay without overlays and `note` says why."""
    _components()[1](key=key, data=cams_data(image_token, cams, note), height="content")


def viewer_ahead(items: list[dict], *, key: str, viewer_key: str, memo) -> None:
    """Send images ahead: `items` [{data (`viewer_data`), cams (`cams_data`)}], kept by the
    browser for previous/next; remembered as sent, so the viewer's own payload for one of
    them later goes slim."""
    for it in items:
        _sent(memo, f"_sent_{viewer_key}", it["data"]["token"])
    _components()[3](key=key, data={"items": items}, height="content")


def viewer_ready(image_token: str, *, key: str, on_ready) -> None:
    """A trigger (`on_ready`) once the viewer has painted `image_token`: the page sends
    what it held back until then."""
    _components()[4](key=key, data={"token": image_token}, on_ready_change=on_ready,
                     height="content")


def gallery(payload: dict, *, key: str, on_pick, on_page, memo) -> None:
    """Mount the gallery. `payload`: items [{row, id, src, pie, line1, line2, title}],
    page, pages, info, selected (row or None)."""
    data = dict(payload)
    data["token"] = token({"items": [(i["row"], i["line1"], i["line2"], i["pie"])
                                     for i in data["items"]], "page": data["page"]})
    memo_key = f"_sent_{key}"

    def resend():
        memo[memo_key] = None

    # the gallery keeps one payload in the browser: one token remembered
    _components()[2](key=key, data=_slim(data, ("page", "pages", "info", "selected"), memo,
                                         memo_key, n=1),
                     on_pick_change=on_pick, on_page_change=on_page, on_resend_change=resend,
                     height="content")
