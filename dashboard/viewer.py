"""The PIE page's image viewer: contrast, labels, dense vs pruned predictions, Grad-CAM."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import charts, derive, loaders
from dashboard.export import show_chart
from dashboard.filters import bound
from dashboard.imaging import diverging_rgb, overlay, overlay_signed, upscale, window_level


def _pick_row(pies: pd.DataFrame, corr: np.ndarray, n: int) -> int:
    src = bound(st.radio, "Browse", key="vw_src", param="src", default="pies",
                options=["pies", "any"], horizontal=True,
                format_func={"pies": "PIEs in the table above", "any": "any image"}.get,
                valid=lambda v: v in ("pies", "any"))
    if src == "pies" and len(pies):
        rows = pies["row"].astype(int).tolist()
        info = pies.set_index("row")
        return bound(st.selectbox, "Image", key="vw_row_pie", param="img", default=rows[0],
                     options=rows, parse=int, valid=lambda v: v in info.index,
                     format_func=lambda r: f"#{r} · {info.at[r, 'id']} · correlation "
                                           f"{info.at[r, 'corr']:.2f} · {info.at[r, 'labels']}")
    return int(bound(st.number_input, "Image row (0 = first evaluation image)", key="vw_row_any",
                     param="img", default=0, parse=int, min_value=0, max_value=n - 1, step=1,
                     valid=lambda v: 0 <= int(v) < n))


def image_viewer(ctx, method: str, k: int, pies: pd.DataFrame, corr: np.ndarray,
                 mask: np.ndarray) -> None:
    d = ctx.data
    st.subheader("Image viewer")
    st.caption("Pick an image to see its labels, what the dense and the pruned model predict "
               "for each class, and where each model looks (Grad-CAM).")
    row = _pick_row(pies, corr, len(d.labels))
    lab = d.labels.iloc[row]
    positives = [c for c in d.classes if lab[c] == 1]
    unlabelled = [c for c in d.classes if pd.isna(lab[c])]

    left, right = st.columns([2, 3], gap="large")
    with left:
        a, b = st.columns(2)
        level = a.slider("Level (brightness centre)", 0, 255, 128, key="vw_level",
                         help="Grey value shown as mid-grey")
        width = b.slider("Window (contrast range)", 8, 256, 256, key="vw_width",
                         help="Range of grey values spread from black to white; "
                              "narrower = more contrast")
        try:
            img = window_level(loaders.image(d, d.key, row), level, width)
        except Exception as exc:  # images on another machine, a moved folder, …
            img = None
            st.warning(f"The image cannot be shown: {exc}")
        if img is not None:
            st.image(upscale(img), caption=f"image {lab['id']} (row {row}) at the model's input "
                                           f"size, {img.shape[0]}×{img.shape[1]} px",
                     width=320)
        tag = "**PIE**" if mask[row] else "not a PIE"
        st.markdown(f"{tag} · correlation dense vs {k}%: **{corr[row]:.3f}**  \n"
                    f"**Labels:** {', '.join(positives) or 'none positive'}"
                    + (f"  \n*Not labelled:* {', '.join(unlabelled)}" if unlabelled else ""))
        truth = d.groundtruth_columns  # declared by the dataset, not guessed from names
        if truth:
            q = f"quality **{lab['quality']:.2f}** (0 poor – 1 excellent)" \
                if "quality" in truth else ""
            noise = "" if "label_noise" not in truth else (
                "  \n:material/warning: **label noise**: the rendered findings differ "
                "from these labels" if bool(lab["label_noise"]) else "  \nlabels match the image")
            st.markdown(f"SynthCXR ground truth: {q}{noise}")
    with right:
        ki = d.sparsities.index(k)
        dense = loaders.ensemble(d, method, ctx.seeds, 0, [row])[0]
        pruned = loaders.ensemble(d, method, ctx.seeds, ki, [row])[0]
        y = lab[d.classes].to_numpy(dtype=float)
        preds = derive.prediction_pair(dense, pruned, y, d.classes, k)
        st.caption(f"Predicted probability per class, mean over {len(ctx.seeds)} seed(s): "
                   f"dense (blue) vs pruned to {k}% with {method} (orange). ● bold = the "
                   "image's positive labels.")
        show_chart(charts.prediction_bars(preds), f"predictions_row{row}_{method}_{k}")

    if img is not None:
        _gradcam(ctx, method, k, row, img, dense, pruned, positives)


def _gradcam(ctx, method, k, row, img, dense, pruned, positives) -> None:
    d = ctx.data
    st.markdown("#### Where the models look (Grad-CAM)")
    have = [s for s in ctx.seeds if s not in d.missing_weights()]
    if not have:
        st.info("Grad-CAM is not available: this study has no model weights for the selected "
                "seeds (models/seed-N/weights.safetensors). Everything else is shown.")
        return
    # Default class: of the image's positive labels, the one whose prediction pruning changes
    # most; without positives, the dense model's top class. (Grad-CAM keeps only evidence
    # *for* a class, so an unlikely class often has an empty map: a poor first view.)
    change = np.abs(np.asarray(pruned) - np.asarray(dense))
    pos = [d.classes.index(c) for c in positives]
    default = d.classes[max(pos, key=lambda i: change[i]) if pos
                        else int(np.argmax(np.asarray(dense)))]
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    cls = bound(c1.selectbox, "Class to explain", key="vw_cls", param="cam",
                default=default, options=d.classes, valid=lambda v: v in d.classes,
                format_func=lambda c: f"● {c}" if c in positives else c)
    seed = bound(c2.selectbox, "Model (seed)", key="vw_seed", param="cs_seed",
                 default=have[0], options=have, parse=int, valid=lambda v: v in have,
                 help="Grad-CAM explains one trained model; the pruned one is that model "
                      "pruned with the chosen method and sparsity")
    alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.6, 0.05, key="vw_alpha")
    signed = bound(c4.toggle, "Evidence against too", key="vw_signed", param="signed",
                   default=False, parse=lambda v: v == "1", fmt=lambda v: "1" if v else "0",
                   help="Off: Grad-CAM as published, only regions that raise the score. On: "
                        "the signed map, red = raises the score, blue = lowers it.")
    try:
        cam = loaders.gradcam(d, d.key, int(seed), method, k, row, d.classes.index(cls),
                              bool(signed))
    except Exception as exc:  # a model that cannot be loaded must not take the page down
        st.error(f"Grad-CAM failed for seed {seed}: {exc}")
        return
    from core.explain import normalize_cam

    def empty(m) -> str:
        if signed:
            return " · flat map" if float(np.abs(m).max()) <= 0 else ""
        return " · no region raises the score (empty map)" if float(np.max(m)) <= 0 else ""

    def show(m):
        return upscale(overlay_signed(img, normalize_cam(m), alpha) if signed
                       else overlay(img, normalize_cam(m), alpha))

    cols = st.columns(3)
    cols[0].image(show(cam.dense), width=260,
                  caption=f"dense · P({cls}) = {cam.dense_prob:.2f}{empty(cam.dense)}")
    cols[1].image(show(cam.pruned), width=260,
                  caption=f"pruned {k}% · P({cls}) = {cam.pruned_prob:.2f}{empty(cam.pruned)}")
    cols[2].image(upscale(diverging_rgb(cam.difference)), width=260,
                  caption="difference pruned − dense: red = more, blue = less, white = same")
    st.caption("Grad-CAM of the last convolutional stage. " + (
        "Red = regions whose features raise the score for the class, blue = lower it. "
        if signed else
        "Bright = regions whose features raise the model's score for the class; evidence "
        "against it is not drawn, so an unlikely class (or a heavily pruned model) can have "
        "an empty map — switch on *Evidence against too* to see it. ")
        + "Each map is scaled to its own maximum, so the difference compares *where* the two "
        "models look, not how strongly.")
