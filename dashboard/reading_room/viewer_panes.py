"""What the reading room's two panes show besides the image, as pure functions: each
model's top findings and calls, the shared Grad-CAM colour scale, the class key C walks.

The dense pane and the pruned pane draw their maps on ONE colour scale (one colour bar, one
maximum, stated): a map that pruning weakened looks weaker, instead of being stretched back
to full brightness by scaling each map to its own maximum.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dashboard.reading_room.viewer_component import cam_to_u8, png_data_url

TOP = 5      # findings listed under each pane


def model_findings(rt: pd.DataFrame, which: str, n: int = TOP) -> dict:
    """One model's top `n` findings by its own probability, and its calls at the operating
    thresholds. `rt`: browse_logic.rank_table; `which`: 'dense' or 'pruned'.
    → {rows: [[finding, 'P 0.83', call text, labelled positive?]], calls: str}."""
    p = rt[f"{which}_p"].to_numpy(dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:n]
    has_thr = "threshold" in rt
    rows = []
    for i in order:
        r = rt.iloc[int(i)]
        call = ""
        if has_thr:
            c = r[f"{which}_call"]
            call = "no threshold" if pd.isna(c) else (
                f"positive (≥ {r['threshold']:.2f})" if bool(c) else
                f"negative (< {r['threshold']:.2f})")
        rows.append([str(r["class"]), f"P {p[i]:.2f}", call, r["label"] == "positive"])
    if has_thr:
        called = rt.loc[rt[f"{which}_call"].fillna(False).to_numpy(dtype=bool), "class"]
        calls = "Called positive: " + (", ".join(map(str, called)) or "none")
    else:
        calls = "No operating thresholds: probabilities only."
    return {"rows": rows, "calls": calls}


def shared_scale(dense: np.ndarray, pruned: np.ndarray, signed: bool = False
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """Both raw maps divided by ONE maximum: the larger of the two maps' largest magnitudes.
    → (dense, pruned, top): [0, 1] (ReLU'd maps) or [−1, 1] (signed), and `top` in the
    maps' own units (0 where both maps are flat)."""
    a = np.nan_to_num(np.asarray(dense, dtype=np.float64))
    b = np.nan_to_num(np.asarray(pruned, dtype=np.float64))
    if not signed:
        a, b = np.maximum(a, 0), np.maximum(b, 0)
    top = float(max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0)))
    if top <= 0:
        return np.zeros_like(a, dtype=np.float32), np.zeros_like(b, dtype=np.float32), 0.0
    lo = -1.0 if signed else 0.0
    return (np.clip(a / top, lo, 1).astype(np.float32), np.clip(b / top, lo, 1).astype(
        np.float32), top)


def scale_words(top: float, dense_max: float, pruned_max: float, signed: bool) -> str:
    """The shared colour scale in one line (what 1 on the colour bar is)."""
    if top <= 0:
        return "Both maps are flat (no region raises the score): nothing to draw."
    ends = f"±1 = ±{top:.3g}" if signed else f"1 = {top:.3g}"
    return (f"One colour scale for both panes: {ends}, the larger of the two maps' maxima "
            f"(dense {dense_max:.3g}, pruned {pruned_max:.3g}, Grad-CAM units).")


def cycle(options: Sequence[str], current: str, step: int) -> str:
    """The option `step` places after `current`, wrapping (C / shift+C on the viewer)."""
    options = list(options)
    i = options.index(current) if current in options else 0
    return options[(i + int(step)) % len(options)]


def cams_payload(m: dict, cls: str, p_dense: float, p_pruned: float, k: int, signed: bool
                 ) -> dict:
    """The viewer_cams payload from browse_loaders.cam_maps' `m`: both maps on one shared
    scale, the difference, the words."""
    a, b, top = shared_scale(m["raw"]["dense"], m["raw"]["pruned"], signed)
    raw = {w: float(np.abs(m["raw"][w]).max() if signed else np.max(m["raw"][w]))
           for w in ("dense", "pruned")}
    return {"maps": {"dense": png_data_url(cam_to_u8(a, signed)),
                     "pruned": png_data_url(cam_to_u8(b, signed)),
                     "diff": png_data_url(cam_to_u8(m["diff"], signed=True))},
            "cls": cls, "signed": bool(signed),
            "captions": _captions(cls, p_dense, p_pruned, m["empty"], k, signed),
            "scale": scale_words(top, max(raw["dense"], 0.0), max(raw["pruned"], 0.0),
                                 signed),
            "diff_note": "Difference: each map scaled to its own maximum first, so it "
                         "compares where the two models look, not how strongly.",
            "legend": _legend(signed, top)}


def _legend(signed: bool, top: float) -> dict:
    maps = (f"−{top:.3g} lowers the score", f"+{top:.3g} raises it") if signed else (
        "0 no evidence", f"{top:.3g} shared max")
    return {"maps": maps, "diff": ("−1 pruned looks less", "+1 pruned looks more")}


def _captions(cls, p_dense, p_pruned, empty, k, signed) -> dict:
    def none(flag):
        return (" · flat map" if signed else " · no region raises the score (empty map)") \
            if flag else ""
    return {"dense": f"Grad-CAM of {cls} · P = {p_dense:.2f}{none(empty['dense'])}",
            "pruned": f"Grad-CAM of {cls} · P = {p_pruned:.2f}{none(empty['pruned'])}",
            "diff": f"pruned − dense, {cls}: red = the pruned model looks more, blue = less"}


def cam_note_words(n: int, signed: bool) -> str:
    """What the overlays show, in one line (under the panes)."""
    who = f"the mean of the {n} models' maps" if n > 1 else "one model"
    what = ("red = regions whose features raise the score for the class, blue = lower it"
            if signed else "bright = regions whose features raise the score for the class; "
            "evidence against it is not drawn (switch on Evidence against)")
    return (f"Grad-CAM of the last convolutional stage ({who}), upsampled onto the image: "
            f"{what}.")
