"""Shared primitives of the SynthCXR renderer: random streams, soft shapes, texture banks.

Every random number is a counter-based hash of (seed, key, stream name), never a draw from a
sequential generator, so an image's pixels do not depend on the other images in its batch nor
on the order of rendering.
"""
from __future__ import annotations

import functools
import zlib

import numpy as np

# Bumped whenever the pixels of a given (seed, index, options) change, so a stored study can
# tell that a re-render would not match the images its models saw.
RENDER_VERSION = 1
F32 = np.float32

# --------------------------------------------------------------------------- random streams
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrap-around arithmetic is intended)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class Streams:
    """Named random streams, one value per key: `u(name)[i]` depends on (seed, keys[i], name).

    Adding a stream never shifts the values of another, so new parameters leave old images
    unchanged except where they are used.
    """

    def __init__(self, seed: int, keys, salt: str = ""):
        keys = np.atleast_1d(np.asarray(keys)).astype(np.int64).astype(np.uint64)
        s = _mix(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], np.uint64)
                 ^ np.uint64(zlib.crc32(salt.encode())))
        self._base = _mix(keys ^ s)
        self.n = len(keys)

    def __getitem__(self, sl) -> Streams:
        """The same streams for a subset of the keys (values unchanged)."""
        sub = Streams.__new__(Streams)
        sub._base = self._base[sl]
        sub.n = len(sub._base)
        return sub

    def u(self, name: str) -> np.ndarray:
        """Uniform in [0, 1), float64 [n]."""
        salt = (zlib.crc32(name.encode()) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = _mix(self._base ^ np.uint64(salt))
        return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def uniform(self, name: str, lo: float, hi: float) -> np.ndarray:
        return lo + (hi - lo) * self.u(name)

    def normal(self, name: str, mean: float = 0.0, sd: float = 1.0) -> np.ndarray:
        u1 = np.maximum(self.u(name + "#1"), 1e-12)
        u2 = self.u(name + "#2")
        return mean + sd * np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2)

    def choice(self, name: str, k: int) -> np.ndarray:
        return np.minimum((self.u(name) * k).astype(np.int64), k - 1)

    def bernoulli(self, name: str, p) -> np.ndarray:
        return self.u(name) < p


def col(a) -> np.ndarray:
    """Per-image values as a [n, 1, 1] float32 array that broadcasts over pixels.

    Args:
        a (array-like): ``[n]`` (or a scalar) values.

    Returns:
        np.ndarray: float32 ``[n, 1, 1]``.
    """
    return np.asarray(a, dtype=F32).reshape(-1, 1, 1)


def soft(z: np.ndarray) -> np.ndarray:
    """Smooth step from 0 (z ≤ -0.5) to 1 (z ≥ 0.5): soft edges without exp().

    Args:
        z (np.ndarray): any shape.

    Returns:
        np.ndarray: float32, the shape of `z`, in [0, 1].

    Example:
        >>> soft(np.array([-1.0, 0.0, 1.0])).tolist()
        [0.0, 0.5, 1.0]
    """
    t = np.add(z, F32(0.5), dtype=F32)
    np.clip(t, 0, 1, out=t)
    s = t * t
    t *= F32(-2)
    t += F32(3)
    s *= t
    return s


def bump(d2: np.ndarray) -> np.ndarray:
    """Smooth round profile of a squared normalised distance: 1 at the centre, 0 from d² = 1.

    Args:
        d2 (np.ndarray): squared normalised distances, any shape.

    Returns:
        np.ndarray: (1 − d²)² clipped to [0, 1], the shape of `d2`.
    """
    t = np.clip(F32(1) - d2, 0, 1)
    return t * t


# --------------------------------------------------------------------------- textures
_BANK_SIZE = 12


@functools.lru_cache(maxsize=8)
def texture_bank(size: int) -> dict[str, np.ndarray]:
    """Periodic noise fields per kind, made once per size from a fixed generator.

    Frequencies are in cycles per image, so a texture (grain included) looks alike at 64 and
    at 256 pixels. FFT-filtered fields wrap seamlessly, so images sample them at random
    offsets. Cached (the same arrays for the same size).

    Args:
        size (int): S, pixels per side.

    Returns:
        dict[str, np.ndarray]: grain, mottle, blotch, ridge_fine, ridge_coarse, vessel:
        float32 ``[K, S, S]`` each.
    """
    rng = np.random.default_rng(0x5C4 + size)
    spec = np.fft.fft2(rng.standard_normal((_BANK_SIZE, size, size)))
    fy = np.fft.fftfreq(size)[:, None] * size  # cycles per image
    fx = np.fft.fftfreq(size)[None, :] * size
    fr = np.sqrt(fy ** 2 + fx ** 2)

    def filtered(gain):
        out = np.fft.ifft2(spec * gain).real
        return out / out.std(axis=(1, 2), keepdims=True)

    def ridges(gain, sharp):
        # zero crossings of band-pass noise form a net of curved lines (reticular pattern)
        return np.exp(-(filtered(gain) / sharp) ** 2)

    bank = {
        # quantum mottle: correlated over ~1 pixel of a 64-pixel image at every size
        "grain": filtered(np.exp(-(fr / 24.0) ** 2)),
        "mottle": filtered(np.exp(-(fr / 4.0) ** 2)),
        "blotch": filtered(np.exp(-(fr / 9.0) ** 2)),
        "ridge_fine": ridges(np.exp(-((fr - 12.0) / 4.0) ** 2), 0.35),
        "ridge_coarse": ridges(np.exp(-((fr - 7.0) / 2.5) ** 2), 0.45),
        # read in (angle, radius) about a hilum: lines elongated along the radius = vessels
        "vessel": ridges(np.exp(-(fy / 4.0) ** 2 - ((np.abs(fx) - 8.0) / 4.0) ** 2), 0.55),
    }
    return {k: np.ascontiguousarray(v, dtype=F32) for k, v in bank.items()}


def sample_texture(bank: dict, kind: str, R: Streams, name: str, idx=None) -> np.ndarray:
    """One texture per image: a bank field at a random offset, mirrored at random.

    Args:
        bank (dict[str, np.ndarray]): `texture_bank`'s result.
        kind (str): the field kind.
        R (Streams): the batch's named random streams.
        name (str): the stream name (one draw per name).
        idx (np.ndarray | None): int ``[m]`` images to sample for; None = all.

    Returns:
        np.ndarray: float32 ``[n, S, S]`` (or ``[m, S, S]``).
    """
    fields = bank[kind]
    size = fields.shape[-1]
    k, dy, dx = (R.choice(name + c, m) for c, m in ((":k", len(fields)), (":y", size),
                                                     (":x", size)))
    flip = R.bernoulli(name + ":f", 0.5)
    if idx is not None:
        k, dy, dx, flip = k[idx], dy[idx], dx[idx], flip[idx]
    ar = np.arange(size)
    iy = (ar[None, :] + dy[:, None]) % size
    ix = (ar[None, :] + dx[:, None]) % size
    ix = np.where(flip[:, None], ix[:, ::-1], ix)
    flat = (k[:, None, None] * size + iy[:, :, None]) * size + ix[:, None, :]
    return np.take(fields.reshape(-1), flat)


@functools.lru_cache(maxsize=8)
def axis(size: int) -> np.ndarray:
    """Pixel centres in normalised coordinates [-1, 1] (cached per size).

    Args:
        size (int): pixels.

    Returns:
        np.ndarray: float32 ``[size]``.

    Example:
        >>> axis(4).tolist()
        [-0.75, -0.25, 0.25, 0.75]
    """
    return (np.arange(size, dtype=F32) + F32(0.5)) / F32(size) * F32(2) - F32(1)


# --------------------------------------------------------------------------- shared shapes
def lung_shape(X, Y, a: dict, side: int, edge: float, shrink=0.0, cap=0.0):
    """Soft mask of one lung (side -1: image left = patient right), its depth, its dome line.

    The lung is the upper half of an ellipse (rounded apex, widest at the base) cut from below
    by the diaphragm dome, which is highest medially and lowest at the costophrenic angle.
    Depth (0 at the border, 1 inside) makes the lung darker where it is thicker.

    Args:
        X (np.ndarray): float32 ``[n, H, W]`` (or broadcastable) x coordinates.
        Y (np.ndarray): float32 ``[n, H, W]`` (or broadcastable) y coordinates.
        a (dict[str, np.ndarray]): anatomy parameters, ``[n]`` each.
        side (int): -1 or +1.
        edge (float): the width of a soft edge.
        shrink (float | np.ndarray): moves the lateral border inwards (a pleural rim).
        cap (float | np.ndarray): moves the apex down (an apical cap).

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (mask in [0, 1], depth in [0, 1], dome
        line y), float32, broadcast over the pixels.
    """
    e = F32(edge)
    cx = col(side * a["lx"] + a["mshift"])
    lw, ytop = col(a["lw"]), col(a["ytop"])
    ybase = col(a["ybase"] - a["dome_r" if side < 0 else "dome_l"])
    u = (X - cx - F32(0.04 * side)) / (lw * F32(1.05))
    yd = ybase - col(a["dh"]) * np.clip(F32(1) - u * u, 0, 1)
    t = np.clip((Y - ytop) / (ybase - ytop), 0, 1)
    hw = lw * (t * (F32(2) - t)) ** F32(0.35)  # blunt, rounded apex
    inside_x = hw - np.abs(X - cx) - shrink
    inside_y = np.minimum(yd - Y, (Y - ytop) - cap)
    mask = soft(inside_x / e) * soft(inside_y / e)
    depth = np.clip(np.minimum(inside_x / (F32(0.5) * lw), (yd - Y) / F32(0.25)), 0, 1)
    return mask, depth, yd


def lung_point(a: dict, R: Streams, name: str, idx, vlo=0.15, vhi=0.9, side=None):
    """A random point inside a lung for each image in `idx`.

    Args:
        a (dict[str, np.ndarray]): anatomy parameters, ``[n]`` each.
        R (Streams): the batch's named random streams.
        name (str): the stream name.
        idx (np.ndarray): int ``[m]`` images.
        vlo (float): highest point, 0 = apex … 1 = base.
        vhi (float): lowest point.
        side (np.ndarray | None): ``[m]`` -1 / +1; None = drawn.

    Returns:
        tuple[np.ndarray, np.ndarray, np.ndarray]: (side, x, y), ``[m]`` each.
    """
    if side is None:
        side = np.where(R.bernoulli(name + ":side", 0.5), 1, -1)[idx]
    v = R.uniform(name + ":v", vlo, vhi)[idx]  # 0 apex … 1 base
    h = R.uniform(name + ":h", -0.7, 0.75)[idx]  # medial … lateral
    dome = np.where(side < 0, a["dome_r"][idx], a["dome_l"][idx])
    ytop, ybase = a["ytop"][idx], a["ybase"][idx] - dome - 0.5 * a["dh"][idx]
    y = ytop + v * (ybase - ytop)
    t = np.clip(v * 1.15, 0, 1)
    x = side * a["lx"][idx] + a["mshift"][idx] + side * h * a["lw"][idx] * np.sqrt(t * (2 - t))
    return side, x, y


def bubble(X, Y, cx, cy, r, level, amp, edge: float):
    """Gas bubble with an air-fluid level: lucent above `level`, a thin wall, fluid below.

    Used for the normal gastric bubble and for a hiatal hernia alike: the two differ only in
    where they sit (below the left dome vs above the diaphragm behind the heart).

    Args:
        X (np.ndarray): x coordinates ``[n, H, W]``.
        Y (np.ndarray): y coordinates ``[n, H, W]``.
        cx (np.ndarray): centre x, ``[n, 1, 1]``.
        cy (np.ndarray): centre y, ``[n, 1, 1]``.
        r (np.ndarray): radius, ``[n, 1, 1]``.
        level (np.ndarray): the air-fluid level's y, ``[n, 1, 1]``.
        amp (np.ndarray): amplitude, ``[n, 1, 1]``.
        edge (float): soft-edge width.

    Returns:
        np.ndarray: float32 ``[n, H, W]`` density change (negative = air).
    """
    d2 = (((X - cx) * F32(0.8)) ** 2 + (Y - cy) ** 2) / (r * r)  # wider than tall
    disk = soft((F32(1) - d2) * r / F32(2 * edge))
    air = disk * soft((level - Y) / F32(0.6 * edge))
    wall = np.exp(-((d2 - F32(1)) * F32(3)) ** 2)
    return -amp * air + F32(0.15) * amp * wall
