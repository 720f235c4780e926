"""Procedural chest radiographs for SynthCXR: anatomy, image quality, and the batch renderer.

A whole batch is rendered at once with numpy broadcasting: per-image parameters are [n, 1, 1]
float32 arrays and pixels are [n, S, S] float32 "density" (0 air … 1 bone), tone-mapped to
uint8 at the end. Every random number is a counter-based hash of (seed, key, stream name),
never a draw from a sequential generator, so an image's pixels do not depend on the other
images in its batch nor on the order of rendering: the dashboard re-renders one row and gets
the pixels the model was trained on. Geometry lives in normalised coordinates (x, y ∈ [-1, 1],
x to the image right = the patient's left, as on a PA film, y down), so every size shows the
same chest; only grain and texture are per-pixel.

Primitives live in `core.data.synth_base`, finding signatures in `core.data.synth_findings`,
the dataset glue in `core.data.synthcxr`.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from core.data.synth_base import (
    F32,
    Streams,
    axis,
    bubble,
    bump,
    col,
    lung_shape,
    sample_texture,
    soft,
    texture_bank,
)
from core.data.synth_findings import (
    AIRSPACE,
    FINDINGS,
    SIGNATURES,
    Ctx,
    modify_anatomy,
    pneumothorax_mask,
)

# Bumped whenever the pixels of a given (seed, index, options) change, so a stored study can
# tell that a re-render would not match the images its models saw.
RENDER_VERSION = 1
# Width of soft edges in normalised units (≈ 1.3 pixels at 64): the same look at every size.
EDGE = 0.042

# --------------------------------------------------------------------------- anatomy
def anatomy_params(P: Streams, R: Streams, ap: np.ndarray, female: np.ndarray) -> dict:
    """Per-image anatomy: body shape from the patient (P), pose from the image (R).

    Args:
        P (Streams): the patients' named random streams (one per image's patient).
        R (Streams): the images' named random streams.
        ap (np.ndarray): bool ``[n]`` AP view (magnifies the heart).
        female (np.ndarray): bool ``[n]``.

    Returns:
        dict[str, np.ndarray]: parameter name → float (or bool) ``[n]``.
    """
    n = P.n
    a = {}
    a["bw"] = np.clip(P.normal("bw", 0.86, 0.035) + 0.02 * ~female, 0.76, 0.96)
    a["lx"] = P.normal("lx", 0.42, 0.018)
    a["lw"] = np.clip(P.normal("lw", 0.32, 0.02), 0.26, 0.38)
    a["ytop"] = P.normal("ytop", -0.70, 0.03) + R.normal("ytop_i", 0, 0.015)
    # inspiration depth varies per image: the main confounder of emphysema's low diaphragm
    a["ybase"] = np.clip(P.normal("ybase", 0.56, 0.04) + R.normal("insp", 0, 0.04), 0.4, 0.72)
    a["dh"] = np.clip(P.normal("dh", 0.15, 0.025), 0.09, 0.22)
    a["dome_r"] = R.normal("dome_r", 0.05, 0.02)  # right hemidiaphragm (image left) sits higher
    a["dome_l"] = np.zeros(n)
    # heart: centre, half-axes (AP films magnify the heart), tilt of the long axis
    a["hx"] = P.normal("hx", 0.02, 0.025)
    a["hy_off"] = P.normal("hy", 0.42, 0.03)  # heart top above the dome top
    a["ha"] = np.clip(P.normal("ha", 0.38, 0.025), 0.31, 0.45) * (1 + 0.08 * ap)
    a["hb"] = np.clip(P.normal("hb", 0.45, 0.025), 0.37, 0.53) * (1 + 0.05 * ap)
    a["hr"] = np.clip(P.normal("hr", 0.62, 0.06), 0.45, 0.8)  # right-heart share of width
    a["mshift"] = np.zeros(n)  # mediastinal shift (atelectasis pulls it)
    a["air"] = np.clip(P.normal("air", 0.36, 0.03), 0.28, 0.44)
    a["marks"] = np.clip(P.normal("marks", 1.0, 0.15), 0.6, 1.4)
    a["rib_sp"] = P.normal("rib_sp", 0.145, 0.008)
    a["rib_ph"] = P.u("rib_ph")
    a["rib_amp"] = np.clip(P.normal("rib_amp", 0.05, 0.01), 0.025, 0.08)
    a["clav_y"] = P.normal("clav_y", -0.62, 0.03) - 0.06 * ap
    # pose: magnification and shift (no rotation: it would cost separability, below, and
    # training augments with rotations anyway)
    a["scale"] = R.normal("scale", 1.0, 0.035) * (1 + 0.04 * ap)
    a["dx"] = R.normal("dx", 0, 0.03)
    a["dy"] = R.normal("dy", 0.02, 0.035)
    # normal structures that mimic findings (confounders): gastric bubble, nipples, breasts
    a["gastric"] = R.bernoulli("gastric", 0.85)
    a["nipples"] = R.bernoulli("nipples", np.where(female, 0.15, 0.35))
    a["breast"] = female & R.bernoulli("breast", 0.85)
    a["g_dx"] = R.normal("g_dx", 0, 0.04)
    a["g_r"] = R.uniform("g_r", 0.04, 0.09)
    a["g_lv"] = R.uniform("g_lv", -0.3, 0.8)
    return a


def coordinates(a: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-image body coordinates X [n, 1, S] and Y [n, S, 1] after the pose.

    Kept separable: every term that depends on x alone or on y alone is computed on S values
    per image instead of S², which roughly halves the renderer's arithmetic.

    Args:
        a (dict[str, np.ndarray]): anatomy (scale, dx, dy), ``[n]`` each.
        size (int): S, pixels per side.

    Returns:
        tuple[np.ndarray, np.ndarray]: (X float32 ``[n, 1, S]``, Y float32 ``[n, S, 1]``).
    """
    ax = axis(size)
    k = col(1 / a["scale"])
    return (ax[None, None, :] - col(a["dx"])) * k, (ax[None, :, None] - col(a["dy"])) * k


def render_anatomy(X, Y, a: dict, edge: float) -> dict:
    """Density layers of a normal chest; findings then add to it and read its masks.

    Args:
        X (np.ndarray): float32 ``[n, 1, S]`` x coordinates.
        Y (np.ndarray): float32 ``[n, S, 1]`` y coordinates.
        a (dict[str, np.ndarray]): anatomy parameters, ``[n]`` each.
        edge (float): soft-edge width.

    Returns:
        dict: ``density`` float32 ``[n, S, S]``, lung masks (``lungs`` [right, left],
        ``lung``, ``air``), ``body``, and hilum / diaphragm geometry the signatures read.
    """
    e = F32(edge)
    L = {}
    ax_ = np.abs(X)
    bw = col(a["bw"])
    # body outline: chest wall tapering a little to the waist; neck and sloping shoulders
    half = bw * (F32(1) - F32(0.05) * (Y - F32(0.1)) ** 2) + F32(0.06) * soft(
        (F32(-0.5) - Y) / F32(0.3))  # shoulders
    top = F32(-1.2) + soft((ax_ - F32(0.33)) / F32(0.25)) * (F32(0.2) + F32(0.1) * ax_)
    body = soft(np.minimum(half - ax_, Y - top) / F32(0.05))
    # an elliptic cross-section: the body's roundness shows as brightness falling to the skin
    thick = np.sqrt(np.clip(F32(1) - (X / (half + F32(0.03))) ** 2, 0, 1))
    dens = body * (F32(0.3) + F32(0.2) * thick)

    # lungs and diaphragm domes (side -1: image left = patient right)
    right, dep_r, yd_r = lung_shape(X, Y, a, -1, edge)
    left, dep_l, yd_l = lung_shape(X, Y, a, 1, edge)
    ydia = np.where(X < col(a["mshift"]), yd_r, yd_l)
    abd = soft((Y - ydia) / e) * (F32(0.11) - F32(0.03) * soft((Y - ydia - F32(0.4)) / F32(0.5)))

    # heart: two half-ellipses, wide towards the patient's left (image right), centred near
    # the dome top so that only the upper half shows above the diaphragm
    hx, ha, hb = col(a["hx"] + a["mshift"]), col(a["ha"]), col(a["hb"])
    hy_v = a["ybase"] - a["dh"] - a["hy_off"] + a["hb"]
    du, dv = X - hx, (Y - col(hy_v)) / hb
    hu = du / np.where(du > 0, ha * F32(1.2), ha * col(a["hr"]))
    heart = soft((F32(1) - hu * hu - dv * dv) * hb / (F32(2) * e))
    # upper mediastinum and aortic knob
    mx = X - col(a["mshift"] * 0.6)
    med = soft((F32(0.1) + F32(0.04) * (Y + F32(1)) - np.abs(mx - F32(0.02))) / e)
    knob = bump(((mx - F32(0.13)) ** 2 + (Y + F32(0.33)) ** 2) / F32(0.075 ** 2))
    solid = np.maximum(np.maximum(heart, med), knob)
    # heart and abdomen are both water density: where they meet no border is seen
    dens += np.maximum(abd, F32(0.1) * solid) * body

    # lung air: darkest where the lung is thickest; apices overlapped by the shoulder girdle
    clear = F32(1) - solid
    L["lungs"] = [right * clear, left * clear]
    L["lung"] = L["lungs"][0] + L["lungs"][1]
    deep = right * dep_r + left * dep_l
    zone = F32(0.75) + F32(0.25) * soft((Y - col(a["ytop"]) - F32(0.22)) / F32(0.3))
    L["air"] = col(a["air"]) * clear * (F32(0.5) * (right + left) + F32(0.5) * deep) * zone

    # spine (vertebrae as a faint periodic pattern) and trachea
    spine = soft((F32(0.075) - np.abs(X - col(a["mshift"] * 0.3))) / e)
    # barely seen through the heart and the abdomen, as on a well-exposed PA film
    spine = spine * (F32(1) - F32(0.6) * np.maximum(heart, soft((Y - ydia) / F32(0.1))))
    dens += spine * (F32(0.045) + F32(0.015) * np.cos(Y * F32(2 * np.pi / 0.12)))
    trach = soft((F32(0.038) - np.abs(mx)) / F32(0.03)) * soft((F32(-0.3) - Y) / F32(0.1))
    dens -= F32(0.14) * trach

    # ribs: posterior arcs (one cosine draws them all) and fainter anterior ribs
    chest = soft((bw - F32(0.05) - ax_) / e) * soft((ydia + F32(0.08) - Y) / F32(0.08))
    chest = chest * soft((Y + F32(0.95)) / F32(0.1)) * (F32(0.4) + F32(0.6) * L["lung"])
    sp, ph0 = col(a["rib_sp"]), col(a["rib_ph"])
    ph = (Y + F32(0.25) * ax_ - F32(0.75) * ax_ * ax_) / sp + ph0
    rib = (F32(0.5) + F32(0.5) * np.cos(ph * F32(2 * np.pi))) ** 3
    ph2 = (Y + F32(0.45) * ax_) / (sp * F32(1.3)) + ph0 * F32(0.7)
    rib2 = (F32(0.5) + F32(0.5) * np.cos(ph2 * F32(2 * np.pi))) ** 4
    rib2 = rib2 * soft((ax_ - F32(0.3)) / F32(0.15))
    bones = chest * col(a["rib_amp"]) * (rib + F32(0.5) * rib2)
    # clavicles
    cy = col(a["clav_y"]) - F32(0.3) * (ax_ - F32(0.08)) + F32(0.25) * (ax_ - F32(0.35)) ** 2
    clav = np.exp(-((Y - cy) / F32(0.04)) ** 2) * soft((ax_ - F32(0.08)) / F32(0.04))
    bones += F32(0.1) * clav * soft((F32(0.66) - ax_) / F32(0.05))
    dens += bones * body

    # hila: the vessels gather here
    hily = col(a["ybase"] - a["dh"] - 0.45)
    L["hil_dx"], L["hil_dy"] = ax_ - F32(0.17), Y - hily
    dh2 = L["hil_dx"] ** 2 + L["hil_dy"] ** 2
    dens += F32(0.06) * bump(dh2 / F32(0.1 ** 2)) * L["lung"]
    L["hily"], L["hy_v"], L["ydia"], L["body"] = hily, hy_v, ydia, body
    L["density"] = dens
    return L


def lung_markings(L: dict, a: dict, bank: dict, R: Streams) -> np.ndarray:
    """Vessels: lines radiating from each hilum, branching (more of them) and fading outwards.

    A bank texture is read in (angle, radius) coordinates about the hilum; the angular
    frequency grows with the radius, so lines multiply outwards and keep a constant width.

    Args:
        L (dict): `render_anatomy`'s layers.
        a (dict[str, np.ndarray]): anatomy parameters (``marks``).
        bank (dict[str, np.ndarray]): the texture bank (``vessel``).
        R (Streams): the images' named random streams.

    Returns:
        np.ndarray: float32 ``[n, S, S]`` density of the markings.
    """
    fields = bank["vessel"]
    size = fields.shape[-1]
    dx, dy = L["hil_dx"], L["hil_dy"]
    r = np.sqrt(dx * dx + dy * dy)
    th = np.arctan2(dy, np.abs(dx) + F32(0.02))
    k = R.choice("vessel:k", len(fields))
    ox, oy = R.uniform("vessel:x", 0, size), R.uniform("vessel:y", 0, size)
    ix = (th * (F32(size / np.pi) * (F32(0.3) + F32(0.6) * r)) + col(ox)).astype(np.int64)
    iy = (r * F32(0.5 * size) + col(oy)).astype(np.int64)
    flat = (col(k).astype(np.int64) * size + iy % size) * size + ix % size
    lines = np.take(fields.reshape(-1), flat)
    fade = np.exp(-r / F32(0.3)) * soft((r - F32(0.1)) / F32(0.12))
    return lines * fade * L["lung"] * col(0.08 * a["marks"])


def add_confounders(D, X, Y, a: dict, L: dict, edge: float) -> None:
    """Normal structures that mimic findings, added to `D` in place.

    Gastric bubble (mimics Hernia), nipples (Nodule), breast shadows (basal opacity).

    Args:
        D (np.ndarray): float32 ``[n, S, S]`` density; updated.
        X (np.ndarray): x coordinates.
        Y (np.ndarray): y coordinates.
        a (dict[str, np.ndarray]): anatomy parameters (gastric, nipples, breast, …).
        L (dict): `render_anatomy`'s layers (``ydia``).
        edge (float): soft-edge width.
    """
    idx = np.flatnonzero(a["gastric"])
    if len(idx):
        g = {k: a[k][idx] for k in ("ybase", "dome_l", "dh", "mshift", "g_dx", "g_r", "g_lv")}
        x = 0.3 + g["mshift"] + g["g_dx"]
        y = g["ybase"] - g["dome_l"] - 0.78 * g["dh"] + g["g_r"] + 0.03
        D[idx] += bubble(X[idx], Y[idx], col(x), col(y), col(g["g_r"]),
                         col(y + g["g_r"] * g["g_lv"]), F32(0.15), edge)
    idx = np.flatnonzero(a["nipples"])
    if len(idx):
        y = col(a["ybase"][idx] - a["dh"][idx] - 0.02)
        x = col(a["bw"][idx] * 0.52)
        d2 = (np.abs(X[idx]) - x) ** 2 + (Y[idx] - y) ** 2
        D[idx] += F32(0.07) * bump(d2 / F32(0.032 ** 2))
    idx = np.flatnonzero(a["breast"])
    if len(idx):
        ax_, yd = np.abs(X[idx]), L["ydia"][idx]
        br = bump(((ax_ - F32(0.45)) / F32(0.42)) ** 2
                  + ((Y[idx] - yd + F32(0.05)) / F32(0.3)) ** 2)
        D[idx] += F32(0.07) * br * soft((yd + F32(0.1) - Y[idx]) / F32(0.2))


# --------------------------------------------------------------------------- quality
def quality_params(q: np.ndarray, R: Streams) -> dict:
    """Contrast, noise, blur and haze of each image from its quality q ∈ [0, 1].

    Args:
        q (np.ndarray): float ``[n]`` quality.
        R (Streams): the images' named random streams.

    Returns:
        dict[str, np.ndarray]: contrast, noise, blur, haze, expo, gamma, ``[n]`` each.
    """
    bad = 1 - q
    return {
        "contrast": (0.55 + 0.65 * q) * np.exp(R.normal("contrast", 0, 0.06)),
        "noise": 0.006 + 0.035 * bad ** 1.5,
        "blur": np.clip(0.9 * bad + R.normal("blur", 0, 0.08), 0, 1),
        "haze": 0.14 * bad * R.u("haze"),
        "expo": R.normal("expo", 0, 0.03 + 0.08 * bad),
        "gamma": np.exp(R.normal("gamma", 0, 0.08)),
    }


def tone_map(D: np.ndarray, qp: dict, grain: np.ndarray, size: int) -> np.ndarray:
    """Film response: blur, contrast, exposure, haze, grain, then 8-bit quantisation.

    Args:
        D (np.ndarray): float32 ``[n, S, S]`` density.
        qp (dict[str, np.ndarray]): `quality_params`' result.
        grain (np.ndarray): float32 ``[n, S, S]`` grain texture.
        size (int): S (the blur width is a fixed fraction of it).

    Returns:
        np.ndarray: uint8 ``[n, S, S]``.
    """
    sigma = 1.1 * size / 64.0  # blur width is a fixed fraction of the image, as the anatomy
    blurred = gaussian_filter1d(gaussian_filter1d(D, sigma, axis=1, mode="nearest"),
                                sigma, axis=2, mode="nearest")
    b = col(qp["blur"])
    D = D + b * (blurred - D)
    v = F32(0.45) + col(qp["contrast"]) * (D - F32(0.4)) + col(qp["expo"])
    h = col(qp["haze"])
    v = h + (F32(1) - h) * np.clip(v, 0, 1)
    v = np.clip(v, 1e-4, 1) ** col(1 / qp["gamma"])
    v = v + col(qp["noise"]) * grain
    return (np.clip(v, 0, 1) * F32(255) + F32(0.5)).astype(np.uint8)


# --------------------------------------------------------------------------- the renderer
def render(seed: int, index, patient, ap, female, findings, quality, size: int,
           difficulty: float = 1.0) -> np.ndarray:
    """SynthCXR radiographs.

    Args:
        seed (int): the dataset seed.
        index (np.ndarray): int ``[n]`` per-image keys (synth_index): the pose and findings.
        patient (np.ndarray): int ``[n]`` per-patient keys: the anatomy is the patient's.
        ap (np.ndarray): bool ``[n]`` AP view.
        female (np.ndarray): bool ``[n]``.
        findings (np.ndarray): bool ``[n, 14]`` in `FINDINGS` order, the findings to *draw*
            (label noise already applied).
        quality (np.ndarray): float ``[n]`` in [0, 1].
        size (int): pixels per side.
        difficulty (float): > 1 fainter, smaller signatures; < 1 stronger.

    Returns:
        np.ndarray: uint8 ``[n, size, size]``; the same inputs give the same pixels.
    """
    index = np.asarray(index, dtype=np.int64)
    n = len(index)
    F = np.asarray(findings, dtype=bool).reshape(n, len(FINDINGS))
    R = Streams(seed, index, "image")
    P = Streams(seed, np.asarray(patient, dtype=np.int64), "patient")
    strength = np.full(n, 1.0 / difficulty)
    a = anatomy_params(P, R, np.asarray(ap, bool), np.asarray(female, bool))
    modify_anatomy(a, F, R, strength)
    qp = quality_params(np.asarray(quality, np.float64), R)
    out = np.empty((n, size, size), dtype=np.uint8)
    # ~128 k pixels per chunk keeps each float32 layer (512 kB) in cache: 3× faster than
    # whole-batch arrays, which spend their time in page faults and memory traffic
    chunk = max(1, (1 << 17) // (size * size))
    for lo in range(0, n, chunk):
        sl = slice(lo, lo + chunk)
        out[sl] = _render_chunk(R[sl], {k: v[sl] for k, v in a.items()}, F[sl],
                                {k: v[sl] for k, v in qp.items()}, strength[sl], size,
                                difficulty)
    return out


def _render_chunk(R, a, F, qp, strength, size, difficulty):
    X, Y = coordinates(a, size)
    L = render_anatomy(X, Y, a, EDGE)
    bank = texture_bank(size)
    ctx = Ctx(X, Y, a, L, R, strength, difficulty ** -0.35, bank, EDGE)

    marks = lung_markings(L, a, bank, R)
    ptx = np.flatnonzero(F[:, FINDINGS.index("Pneumothorax")])
    if len(ptx):  # a pneumothorax has no lung markings beyond the pleural line
        L["ptx"] = pneumothorax_mask(ctx, ptx)
        marks[ptx] *= F32(1) - L["ptx"][0]
    D = L["density"] - L["air"] + marks
    D += F32(0.025) * sample_texture(bank, "mottle", R, "soft_tissue") * L["body"]
    add_confounders(D, X, Y, a, L, EDGE)
    for j, name in enumerate(FINDINGS):
        idx = np.flatnonzero(F[:, j])
        if len(idx) and SIGNATURES[name] is not None:
            delta = SIGNATURES[name](ctx, idx)
            if name in AIRSPACE:  # fluid or tissue filling the lung cannot exceed its air
                delta = np.minimum(delta, L["air"][idx])
            D[idx] += delta
    grain = sample_texture(bank, "grain", R, "grain")
    return tone_map(D, qp, grain, size)
