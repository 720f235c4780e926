"""Visual signatures of the 14 ChestX-ray14 findings on a SynthCXR chest.

Each finding has a plausible place and look, with random size, position, intensity and
texture per image. Some pairs are deliberately alike, as on real films: Nodule/Mass (round
opacities that differ in size, with overlapping ranges), Fibrosis/Infiltration (reticular
lines), Consolidation/Pneumonia (dense airspace opacity), Hernia vs the normal gastric bubble,
Emphysema vs a deep inspiration, Cardiomegaly vs an AP film's magnified heart, Nodule vs
nipple shadows.

`strength` (1 / difficulty) scales every signature's contrast; `size` (difficulty^-0.35)
scales lesion sizes. Intensities are drawn from a wide log-normal, so some findings are faint
at any difficulty, and image quality (contrast, noise, blur) hides the faint ones further.
"""
from __future__ import annotations

import numpy as np

from core.data.chestxray14 import CLASSES
from core.data.synth_base import (
    F32,
    bubble,
    bump,
    col,
    lung_point,
    lung_shape,
    sample_texture,
    soft,
)

FINDINGS = [c for c in CLASSES if c != "No Finding"]
# Opacities that fill the lung's air spaces: their density is capped by the air they replace.
AIRSPACE = {"Effusion", "Consolidation", "Pneumonia", "Edema", "Infiltration", "Nodule",
            "Mass", "Atelectasis", "Fibrosis"}


def _intensity(R, name: str, strength: np.ndarray) -> np.ndarray:
    """Per-image signature intensity: log-normal around 1, times the difficulty strength."""
    return np.clip(np.exp(R.normal(name + ":v", 0.0, 0.4)), 0.3, 1.8) * strength


def _side(R, name: str, p_both: float = 0.0):
    """-1 / +1 per image, and whether the finding is bilateral."""
    return np.where(R.bernoulli(name + ":side", 0.5), 1, -1), R.bernoulli(name + ":both", p_both)


# --------------------------------------------------------------------------- anatomy changes
def modify_anatomy(a: dict, F: np.ndarray, R, strength: np.ndarray) -> None:
    """Findings that change the anatomy itself (heart size, lung volume, diaphragm), in place.

    Cardiomegaly widens the heart; Emphysema hyperinflates the lungs and flattens the domes;
    Atelectasis raises a dome and shifts the mediastinum; Fibrosis shrinks both lungs.

    Args:
        a (dict[str, np.ndarray]): the batch's anatomy parameters, float ``[n]`` each; updated.
        F (np.ndarray): ``[n, 14]`` 0/1 findings in `FINDINGS` order.
        R (Streams): the batch's named random streams.
        strength (np.ndarray): float ``[n]`` contrast scale (1 / difficulty).
    """
    j = {name: F[:, i] for i, name in enumerate(FINDINGS)}
    # Cardiomegaly: the heart shadow widens, mostly towards the patient's left
    enl = j["Cardiomegaly"] * R.uniform("Cardiomegaly:enl", 0.08, 0.32) * np.minimum(strength, 2)
    a["ha"] = a["ha"] * (1 + enl)
    a["hb"] = a["hb"] * (1 + 0.5 * enl)
    a["hx"] = a["hx"] + 0.35 * enl * a["ha"]
    # Emphysema: hyperinflated, hyperlucent lungs, flat low domes, sparse markings, slim heart
    e = j["Emphysema"] * np.minimum(0.8 * _intensity(R, "Emphysema", strength), 1.3)
    a["air"] = a["air"] * (1 + 0.2 * e)
    a["marks"] = a["marks"] * np.clip(1 - 0.3 * e, 0.4, 1)
    a["dh"] = a["dh"] * np.clip(1 - 0.45 * e, 0.3, 1)
    a["ybase"] = a["ybase"] + 0.07 * e
    a["ha"] = a["ha"] * (1 - 0.07 * e)
    # Atelectasis: volume loss pulls the dome up and the mediastinum towards its side
    side, _ = _side(R, "Atelectasis")
    v = j["Atelectasis"] * np.minimum(_intensity(R, "Atelectasis", strength), 1.6)
    a["dome_r"] = a["dome_r"] + 0.045 * v * (side < 0)
    a["dome_l"] = a["dome_l"] + 0.045 * v * (side > 0)
    a["mshift"] = a["mshift"] + 0.03 * v * side
    # Fibrosis: mild volume loss of both lungs
    a["ybase"] = a["ybase"] - 0.035 * j["Fibrosis"] * np.minimum(strength, 1.6)


# --------------------------------------------------------------------------- local signatures
class Ctx:
    """What a signature needs: coordinates, anatomy, lung masks, streams, texture bank."""

    def __init__(self, X, Y, a, L, R, strength, size, bank, edge):
        self.X, self.Y, self.a, self.L, self.R = X, Y, a, L, R
        self.strength, self.size, self.bank, self.edge = strength, size, bank, edge

    def lung(self, idx, side):
        """Mask of the lung on `side` (per image) for the images in idx, heart excluded."""
        left, right = self.L["lungs"][0][idx], self.L["lungs"][1][idx]
        return np.where(col(side) < 0, left, right)

    def tex(self, kind, name, idx):
        return sample_texture(self.bank, kind, self.R, name, idx)


def _round(c: Ctx, idx, name, r, x, y, lobes=0):
    """Round opacity (optionally lobulated by satellite blobs) of radius r at (x, y)."""
    X, Y = c.X[idx], c.Y[idx]
    d2 = ((X - col(x)) ** 2 + (Y - col(y)) ** 2) / col(r * r)
    t = np.clip(F32(1) - d2, 0, 1)
    out = t * (F32(2) - t)
    for k in range(lobes):
        ang = c.R.uniform(f"{name}:ang{k}", 0, 2 * np.pi)[idx]
        rk = r * c.R.uniform(f"{name}:rk{k}", 0.45, 0.75)[idx]
        xk, yk = x + 0.55 * r * np.cos(ang), y + 0.55 * r * np.sin(ang)
        dk = ((X - col(xk)) ** 2 + (Y - col(yk)) ** 2) / col(rk * rk)
        tk = np.clip(F32(1) - dk, 0, 1)
        out = np.maximum(out, tk * (F32(2) - tk))
    return out


def nodule(c: Ctx, idx):
    """One to three small round opacities in the lungs.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Nodule", c.strength)[idx]
    count = 1 + (c.R.u("Nodule:count")[idx] > 0.7) + (c.R.u("Nodule:count")[idx] > 0.9)
    out = 0
    for k in range(3):
        name = f"Nodule{k}"
        r = c.size * (0.03 + 0.04 * c.R.u(name + ":r")[idx] ** 1.5)
        _, x, y = lung_point(c.a, c.R, name, idx)
        out = out + _round(c, idx, name, r, x, y) * col((k < count) * v * 0.18)
    return out


def mass(c: Ctx, idx):
    """One larger lobulated round opacity with a mottled texture.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Mass", c.strength)[idx]
    r = c.size * (0.07 + 0.1 * c.R.u("Mass:r")[idx])
    _, x, y = lung_point(c.a, c.R, "Mass", idx, 0.2, 0.85)
    tex = F32(1) + F32(0.15) * c.tex("mottle", "Mass:tex", idx)
    return _round(c, idx, "Mass", r, x, y, lobes=2) * tex * col(0.15 * v)


def effusion(c: Ctx, idx):
    """Fluid at a lung base: density rising to a meniscus, higher laterally; blunted angle.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Effusion", c.strength)[idx]
    side, both = _side(c.R, "Effusion", 0.4)
    side, both = side[idx], both[idx]
    h = c.size * (0.04 + 0.26 * c.R.u("Effusion:h")[idx] ** 1.5)
    X, Y, a = c.X[idx], c.Y[idx], c.a
    out = 0
    for s in (-1, 1):
        on = (side == s) | both
        if not on.any():
            continue
        dome = a["dome_r" if s < 0 else "dome_l"][idx]
        cx = col(s * a["lx"][idx] + a["mshift"][idx])
        lat = np.clip((X - cx) * F32(s) / col(a["lw"][idx]), 0, 1)
        top = col(a["ybase"][idx] - dome - h) - col(0.6 * h) * lat * lat
        fluid = soft((Y - top) / F32(0.07)) * c.lung(idx, np.full(len(idx), s))
        out = out + fluid * col(on * v * 0.2)
    return out


def pneumothorax_mask(c: Ctx, idx):
    """The pneumothorax's region and pleural line at the apex/lateral wall.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        tuple[np.ndarray, np.ndarray]: (region without lung markings, visceral pleural
        line), float32 ``[n, H, W]`` each.
    """
    side = _side(c.R, "Pneumothorax")[0][idx]
    a, X, Y = c.a, c.X[idx], c.Y[idx]
    dome = np.where(side < 0, a["dome_r"][idx], a["dome_l"][idx])
    cx = side * a["lx"][idx] + a["mshift"][idx] - 0.06 * side
    cy = a["ybase"][idx] - dome - 0.1
    ax, ay = a["lw"][idx] * 1.1, (cy - a["ytop"][idx]) * 1.02
    rr = np.sqrt(((X - col(cx)) / col(ax)) ** 2 + ((Y - col(cy)) / col(ay)) ** 2)
    r0 = col(1 - c.size * (0.08 + 0.25 * c.R.u("Pneumothorax:r")[idx]))
    lung = c.lung(idx, side)
    region = soft((rr - r0) / F32(0.05)) * lung
    line = np.exp(-((rr - r0) / F32(0.02)) ** 2) * lung
    return region, line


def pneumothorax(c: Ctx, idx):
    """Air without lung markings at the apex/lateral wall, with a faint pleural line.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Pneumothorax", c.strength)[idx]
    region, line = c.L["ptx"]
    return (F32(0.6) * line - region) * col(0.04 * v)


def fibrosis(c: Ctx, idx):
    """Coarse reticular lines, peripheral and basal, both lungs.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Fibrosis", c.strength)[idx]
    a, X, Y = c.a, c.X[idx], c.Y[idx]
    ytop, ybase = col(a["ytop"][idx]), col(a["ybase"][idx])
    basal = F32(0.35) + F32(0.65) * np.clip((Y - ytop) / (ybase - ytop), 0, 1)
    periph = np.clip(np.abs(X) / col(a["lx"][idx] + a["lw"][idx]), 0, 1) ** 2
    w = c.L["lung"][idx] * basal * periph
    return w * c.tex("ridge_coarse", "Fibrosis:tex", idx) * col(0.2 * v)


def infiltration(c: Ctx, idx):
    """Patchy hazy reticular opacity in one or two places (alike Fibrosis, finer, patchy).

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Infiltration", c.strength)[idx]
    X, Y = c.X[idx], c.Y[idx]
    out = 0
    second = c.R.bernoulli("Infiltration:two", 0.4)[idx]
    for k in range(2):
        name = f"Infiltration{k}"
        _, x, y = lung_point(c.a, c.R, name, idx, 0.25, 0.9)
        r = c.size * c.R.uniform(name + ":r", 0.16, 0.32)[idx]
        patch = bump(((X - col(x)) ** 2 + (Y - col(y)) ** 2) / col(r * r))
        out = out + patch * col((k == 0) | second)
    tex = F32(0.6) * c.tex("ridge_fine", "Infiltration:tex", idx) + F32(0.25) * np.clip(
        c.tex("blotch", "Infiltration:haze", idx) + F32(1), 0, 2)
    return np.minimum(out, 1) * c.L["lung"][idx] * tex * col(0.16 * v)


def edema(c: Ctx, idx):
    """Bilateral hazy perihilar (bat-wing) opacity.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Edema", c.strength)[idx]
    X, Y = c.X[idx], c.Y[idx]
    hy = c.L["hily"][idx]
    wx = col(c.R.uniform("Edema:wx", 0.22, 0.34)[idx])
    wy = col(c.R.uniform("Edema:wy", 0.18, 0.3)[idx])
    wing = np.exp(-((np.abs(X) - F32(0.2)) / wx) ** 2 - ((Y - hy) / wy) ** 2)
    tex = F32(0.85) + F32(0.15) * c.tex("mottle", "Edema:tex", idx)
    return wing * tex * c.L["lung"][idx] * col(0.11 * v)


def _lobar(c: Ctx, idx, name):
    """A lobe-shaped region of one lung, bounded by a fissure-like edge."""
    side = _side(c.R, name)[0][idx]
    a, X, Y = c.a, c.X[idx], c.Y[idx]
    lobe = c.R.u(name + ":lobe")[idx]  # lower 55%, upper 30%, middle (right) 15%
    ytop, ybase = a["ytop"][idx], a["ybase"][idx] - a["dh"][idx]
    yf = ytop + (ybase - ytop) * c.R.uniform(name + ":fiss", 0.35, 0.65)[idx]
    cx = side * a["lx"][idx]
    tilt = col(0.35 * side)
    fiss = col(yf) + tilt * (X - col(cx))
    lower = soft((Y - fiss) / F32(0.04))
    region = np.where(col(lobe < 0.55), lower, F32(1) - lower)
    mid = soft((fiss + F32(0.25) - Y) / F32(0.05)) * lower
    region = np.where(col((lobe > 0.85) & (side < 0)), mid, region)
    return region * c.lung(idx, side)


def consolidation(c: Ctx, idx):
    """Dense, fairly homogeneous lobar opacity with faint air bronchograms.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Consolidation", c.strength)[idx]
    region = _lobar(c, idx, "Consolidation")
    tex = F32(0.9) + F32(0.1) * c.tex("blotch", "Consolidation:tex", idx)
    tex = tex - F32(0.25) * c.tex("ridge_fine", "Consolidation:airbr", idx)
    return region * tex * col(0.11 * v)


def pneumonia(c: Ctx, idx):
    """Airspace opacity, lobar or round, patchier than Consolidation (deliberately alike).

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Pneumonia", c.strength)[idx]
    lobar = _lobar(c, idx, "Pneumonia")
    _, x, y = lung_point(c.a, c.R, "Pneumonia:patch", idx, 0.3, 0.9)
    r = c.size * c.R.uniform("Pneumonia:r", 0.14, 0.28)[idx]
    X, Y = c.X[idx], c.Y[idx]
    patch = bump(((X - col(x)) ** 2 + (Y - col(y)) ** 2) / col(r * r)) * c.L["lung"][idx]
    region = np.where(col(c.R.bernoulli("Pneumonia:lobar", 0.5)[idx]), lobar, patch)
    tex = np.clip(F32(0.7) + F32(0.35) * c.tex("blotch", "Pneumonia:tex", idx), 0, 1.2)
    return region * tex * col(0.13 * v)


def atelectasis(c: Ctx, idx):
    """Plate-like linear opacity in the lower zone (volume loss is in modify_anatomy).

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Atelectasis", c.strength)[idx]
    side = _side(c.R, "Atelectasis")[0][idx]
    _, x, y = lung_point(c.a, c.R, "Atelectasis", idx, 0.55, 0.9, side=side)
    ang = col(c.R.normal("Atelectasis:ang", 0, 0.25)[idx])
    half = col(c.size * c.R.uniform("Atelectasis:len", 0.1, 0.22)[idx])
    w = col(c.size * c.R.uniform("Atelectasis:w", 0.018, 0.04)[idx])
    dx, dy = c.X[idx] - col(x), c.Y[idx] - col(y)
    ca, sa = np.cos(ang), np.sin(ang)
    along, perp = ca * dx + sa * dy, ca * dy - sa * dx
    plate = np.exp(-(perp / w) ** 2) * soft((half - np.abs(along)) / F32(0.06))
    haze = F32(0.3) * bump((dx * dx + dy * dy) / (F32(4) * half * half))
    return np.maximum(plate, haze) * c.lung(idx, side) * col(0.15 * v)


def pleural_thickening(c: Ctx, idx):
    """Thin pleural rim along the lateral chest wall, or an apical cap.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Pleural Thickening", c.strength)[idx]
    side, both = _side(c.R, "Pleural Thickening", 0.45)
    side, both = side[idx], both[idx]
    th = col(c.size * c.R.uniform("Pleural Thickening:th", 0.025, 0.06)[idx])
    cap = th * col(c.R.bernoulli("Pleural Thickening:apical", 0.35)[idx])
    X, Y = c.X[idx], c.Y[idx]
    a = {k: np.asarray(val)[idx] for k, val in c.a.items()}
    out = 0
    for s in (-1, 1):
        on = (side == s) | both
        if not on.any():
            continue
        inner = lung_shape(X, Y, a, s, c.edge, shrink=th, cap=cap)[0]
        lateral = soft(((X - col(s * a["lx"])) * F32(s) + F32(0.05)) / F32(0.1))
        rim = (F32(1) - inner) * lateral * c.lung(idx, np.full(len(idx), s))
        out = out + rim * col(on)
    return out * c.L["air"][idx] * col(0.7 * v)


def hernia(c: Ctx, idx):
    """Hiatal hernia: a gas bubble with an air-fluid level behind the heart.

    Args:
        c (Ctx): the batch's coordinates, anatomy, lung masks, random streams and textures.
        idx (np.ndarray): int ``[n]`` indices (into the batch) of the images with the finding.

    Returns:
        np.ndarray: float32 ``[n, H, W]``, the density added to those images.
    """
    v = _intensity(c.R, "Hernia", c.strength)[idx]
    x = c.a["hx"][idx] + c.R.normal("Hernia:x", 0.0, 0.05)[idx]
    y = c.L["hy_v"][idx] + c.R.normal("Hernia:y", 0.04, 0.04)[idx]
    r = c.size * c.R.uniform("Hernia:r", 0.05, 0.11)[idx]
    level = y + r * c.R.uniform("Hernia:level", -0.3, 0.5)[idx]
    return bubble(c.X[idx], c.Y[idx], col(x), col(y), col(r), col(level), col(0.2 * v), c.edge)


SIGNATURES = {
    "Infiltration": infiltration, "Effusion": effusion, "Atelectasis": atelectasis,
    "Nodule": nodule, "Mass": mass, "Pneumothorax": pneumothorax,
    "Consolidation": consolidation, "Pleural Thickening": pleural_thickening,
    "Cardiomegaly": None,  # anatomy change only
    "Emphysema": None,     # anatomy change only
    "Edema": edema, "Fibrosis": fibrosis, "Pneumonia": pneumonia, "Hernia": hernia,
}
