# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Band-limited procedural patterns evaluated at world coordinates.

Every pattern is a function of a surface point, never of the pixel, so a surface looks the same
in every frame, and each takes the pixel footprint `fp` (metres covered by one pixel there): a
pattern finer than the footprint fades to its mean instead of aliasing. Without that, distant
bricks and lane dashes would flicker between frames and break photometric matching.
"""

import numpy as np

_M1, _M2, _M3 = np.uint32(0x27D4EB2D), np.uint32(0x165667B1), np.uint64(0x9E3779B9)


def _u32(x) -> np.ndarray:
    return np.asarray(x).astype(np.int64).astype(np.uint32)


def hash01(ix: np.ndarray, iy: np.ndarray, seed) -> np.ndarray:
    """Return a uniform pseudo-random value in [0, 1) per integer lattice cell (ix, iy).

    `seed` is an int or an array broadcast with the cells (e.g. one seed per box).
    """
    salt = ((_u32(seed).astype(np.uint64) * _M3) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    h = _u32(ix) * _M1 ^ _u32(iy) * _M2 ^ salt
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x2C1B3C6D)
    h ^= h >> np.uint32(12)
    h *= np.uint32(0x297A2D39)
    h ^= h >> np.uint32(15)
    return (h >> np.uint32(8)).astype(np.float32) / np.float32(1 << 24)


def value_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """Smoothly interpolated lattice noise in [0, 1) with unit cell size."""
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = (u - iu).astype(np.float32), (v - iv).astype(np.float32)
    su, sv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    a, b = hash01(iu, iv, seed), hash01(iu + 1, iv, seed)
    c, d = hash01(iu, iv + 1, seed), hash01(iu + 1, iv + 1, seed)
    return (a + (b - a) * su) * (1 - sv) + (c + (d - c) * su) * sv


def fade(fp: np.ndarray, size: float) -> np.ndarray:
    """Weight of a detail of `size` metres at footprint `fp`: 1 when resolved, 0 when not."""
    return np.clip(1.5 - fp / size, 0.0, 1.0).astype(np.float32)


def fbm(u: np.ndarray, v: np.ndarray, fp: np.ndarray, cell: float, octaves: int,
        seed: int) -> np.ndarray:
    """Zero-mean fractal noise (about -0.5..0.5): octaves of `cell`, `cell`/2, ... metres."""
    total = np.zeros(np.shape(u), np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        size = cell / 2 ** octave
        total += amp * fade(fp, size) * (value_noise(u / size, v / size, seed + octave) - 0.5)
        norm += amp
        amp *= 0.55
    return total / np.float32(norm)


def band(x: np.ndarray, lo: float, hi, fp: np.ndarray) -> np.ndarray:
    """Fraction of the footprint [x - fp/2, x + fp/2] inside [lo, hi] (a box-filtered step)."""
    half = fp / 2
    return (np.clip(np.minimum(x + half, hi) - np.maximum(x - half, lo), 0, None)
            / fp).astype(np.float32)


def pulses(x: np.ndarray, period, width, fp: np.ndarray) -> np.ndarray:
    """Box-filtered pulse train: 1 on [k*period, k*period + width), averaged over the footprint.

    Exact: the integral of the pulse train is floor(x/p)*w + min(x mod p, w), so the box-filtered
    value is a difference of two integrals. `period` and `width` may be arrays (per surface).
    """
    def integral(y):
        k = np.floor(y / period)
        return k * width + np.minimum(y - k * period, width)
    return ((integral(x + fp / 2) - integral(x - fp / 2)) / fp).astype(np.float32)


def cell_index(x: np.ndarray, period) -> np.ndarray:
    """Index of the period-long cell that holds x (for per-brick / per-window randomness)."""
    return np.floor(x / period).astype(np.int64)
