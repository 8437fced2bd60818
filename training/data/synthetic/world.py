# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The procedural street: axis-aligned boxes on a ground plane, and a car driving through it.

World frame (right-handed): X to the right of the street, Y along it, Z up; the ground is Z = 0
and the road is |X| < road_half. Everything else (pavements and kerbs, façades, parked cars,
lamp posts, trees, billboards) is an axis-aligned box, so a ray hits it analytically and depth
is exact.
Camera poses are 4x4 camera-to-world matrices in the OpenCV camera convention (x right, y down,
z forward), so depth is the camera z of the hit point.
"""

from dataclasses import dataclass, field
from enum import IntEnum
from typing import List

import numpy as np


class Kind(IntEnum):
    """What a surface is; selects its material. GROUND is the plane, the rest are boxes."""

    GROUND = -1
    PAVEMENT = 0
    BUILDING = 1
    CAR = 2
    POLE = 3
    LAMP = 4
    TRUNK = 5
    CROWN = 6
    BILLBOARD = 7


# Per-box parameters (World.param columns), used by the materials.
P_STYLE, P_WINDOW_SPACING, P_FLOOR_HEIGHT, P_LIT = range(4)

KERB_HEIGHT = 0.15
CAMERA_HEIGHT = 1.6
PARKING = 1.9  # parked cars fill road_half - PARKING < |x| < road_half

_FACADE_COLOURS = np.array([
    [0.45, 0.20, 0.14], [0.55, 0.28, 0.18], [0.62, 0.56, 0.45], [0.70, 0.66, 0.58],
    [0.50, 0.50, 0.50], [0.78, 0.74, 0.66], [0.40, 0.33, 0.28], [0.60, 0.40, 0.30]], np.float32)
_CAR_COLOURS = np.array([
    [0.60, 0.05, 0.05], [0.05, 0.12, 0.45], [0.75, 0.75, 0.75], [0.08, 0.08, 0.08],
    [0.85, 0.85, 0.80], [0.12, 0.35, 0.15], [0.55, 0.45, 0.10]], np.float32)


@dataclass
class World:
    """A street: boxes (lo/hi corners, kind, base colour, parameters), lights and sun.

    `seed` decorrelates the textures of different worlds; `lamps` are the street-lamp light
    positions; `sun` a unit vector towards the sun.
    """

    lo: np.ndarray
    hi: np.ndarray
    kind: np.ndarray
    colour: np.ndarray
    param: np.ndarray
    lamps: np.ndarray
    seed: int = 0
    road_half: float = 4.5
    sun: np.ndarray = field(default_factory=lambda: np.array([0.5, -0.43, 0.75]))

    def __post_init__(self):
        self.lo = np.asarray(self.lo, np.float64).reshape(-1, 3)
        self.hi = np.asarray(self.hi, np.float64).reshape(-1, 3)
        n = len(self.lo)
        if self.hi.shape != (n, 3) or np.any(self.hi <= self.lo):
            raise ValueError('box corners must be (N, 3) arrays with hi > lo on every axis')
        self.kind = np.asarray(self.kind, np.int16).reshape(n)
        self.colour = np.asarray(self.colour, np.float32).reshape(n, 3)
        self.param = np.asarray(self.param, np.float32).reshape(n, 4)
        self.lamps = np.asarray(self.lamps, np.float64).reshape(-1, 3)
        self.sun = np.asarray(self.sun, np.float64) / np.linalg.norm(self.sun)


class _Builder:
    """Collects boxes while the street is laid out."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.boxes: List[tuple] = []
        self.lamps: List[tuple] = []

    def add(self, lo, hi, kind: Kind, colour, param=(0, 0, 0, 0)) -> None:
        self.boxes.append((lo, hi, int(kind), colour, param))

    def world(self, seed: int, road_half: float, sun: np.ndarray) -> World:
        lo, hi, kind, colour, param = zip(*self.boxes)
        return World(lo=np.array(lo), hi=np.array(hi), kind=np.array(kind),
                     colour=np.array(colour), param=np.array(param),
                     lamps=np.array(self.lamps), seed=seed, road_half=road_half, sun=sun)


def _segments(rng: np.random.Generator, y0: float, y1: float, lengths, gap_p: float, gaps):
    """Split [y0, y1] into consecutive segments with occasional gaps (alleys, parking gaps)."""
    y = y0
    while y < y1:
        length = rng.uniform(*lengths)
        yield y, y + length
        y += length + (rng.uniform(*gaps) if rng.random() < gap_p else 0.0)


def _buildings(b: _Builder, side: int, edge: float, y0: float, y1: float) -> None:
    rng = b.rng
    for ya, yb in _segments(rng, y0, y1, (8, 24), 0.3, (3, 8)):
        setback = 0.0 if rng.random() < 0.6 else rng.uniform(1, 6)
        x_front = edge + setback
        _facade(b, side, x_front, x_front + 12, ya, yb, rng.uniform(6, 20))
    for ya, yb in _segments(rng, y0, y1, (15, 40), 0.0, (0, 0)):
        x_front = edge + rng.uniform(16, 24)
        _facade(b, side, x_front, x_front + 10, ya, yb, rng.uniform(10, 28))


def _facade(b: _Builder, side: int, x_near: float, x_far: float, ya: float, yb: float,
            height: float) -> None:
    rng = b.rng
    xs = sorted((side * x_near, side * x_far))
    style = float(rng.random() < 0.5)
    param = (style, rng.uniform(2.4, 4.0), rng.uniform(2.8, 3.6), rng.uniform(0.2, 0.5))
    colour = _FACADE_COLOURS[rng.integers(len(_FACADE_COLOURS))] * rng.uniform(0.85, 1.1)
    b.add((xs[0], ya, 0.0), (xs[1], yb, height), Kind.BUILDING, colour, param)


def _street_furniture(b: _Builder, side: int, road_half: float, pavement: float, y0: float,
                      y1: float) -> None:
    rng = b.rng
    x_kerb = side * (road_half + 0.4)
    spacing = rng.uniform(20, 30)
    for y in np.arange(y0 + rng.uniform(0, spacing), y1, spacing):
        b.add((x_kerb - 0.08, y - 0.08, 0.0), (x_kerb + 0.08, y + 0.08, 6.2), Kind.POLE,
              (0.35, 0.36, 0.38))
        arm = sorted((x_kerb, x_kerb - side * 1.4))
        b.add((arm[0], y - 0.15, 6.0), (arm[1], y + 0.15, 6.25), Kind.LAMP, (0.5, 0.5, 0.52))
        b.lamps.append((x_kerb - side * 1.1, y, 5.9))
        for _ in range(rng.integers(0, 3)):
            _tree_or_billboard(b, side, road_half, pavement, y + rng.uniform(4, spacing - 4))
    for ya, yb in _segments(rng, y0, y1, (4.0, 4.6), 0.5, (1.5, 12)):
        xs = sorted((side * (road_half - 0.2), side * (road_half - PARKING)))
        lit = float(rng.random() < 0.35)
        colour = _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]
        b.add((xs[0], ya, 0.0), (xs[1], yb, rng.uniform(1.4, 1.7)), Kind.CAR, colour,
              (0, 0, 0, lit))


def _tree_or_billboard(b: _Builder, side: int, road_half: float, pavement: float,
                       y: float) -> None:
    rng = b.rng
    x = side * (road_half + rng.uniform(1.2, pavement - 0.4))
    if rng.random() < 0.75:
        b.add((x - 0.17, y - 0.17, 0.0), (x + 0.17, y + 0.17, 2.6), Kind.TRUNK, (0.3, 0.2, 0.12))
        r = rng.uniform(1.0, 1.6)
        b.add((x - r, y - r, 2.4), (x + r, y + r, 2.4 + 2 * r), Kind.CROWN,
              (0.16, 0.32, 0.10) * rng.uniform(0.8, 1.2, 3))
    else:
        b.add((x - 0.06, y - 0.06, 0.0), (x + 0.06, y + 0.06, 2.4), Kind.POLE, (0.3, 0.3, 0.3))
        b.add((x - 1.3, y - 0.1, 2.4), (x + 1.3, y + 0.1, 4.2), Kind.BILLBOARD,
              rng.uniform(0.2, 0.9, 3), (rng.integers(1 << 20), 0, 0, 0))


def make_world(seed: int, length: float = 300.0) -> World:
    """Build a random street of `length` metres (plus margins) from `seed`, deterministically."""
    rng = np.random.default_rng([seed, 0x57EE7])
    road_half = rng.uniform(5.0, 6.5)
    pavement = rng.uniform(2.5, 4.0)
    y0, y1 = -40.0, length + 150.0
    b = _Builder(rng)
    for side in (-1, 1):
        xs = sorted((side * road_half, side * (road_half + pavement)))
        b.add((xs[0], y0, -0.5), (xs[1], y1, KERB_HEIGHT), Kind.PAVEMENT, (0.55, 0.54, 0.52))
        _buildings(b, side, road_half + pavement, y0, y1)
        _street_furniture(b, side, road_half, pavement, y0, y1)
    elevation, azimuth = rng.uniform(0.45, 1.0), rng.uniform(0, 2 * np.pi)
    sun = np.array([np.cos(elevation) * np.sin(azimuth), np.cos(elevation) * np.cos(azimuth),
                    np.sin(elevation)])
    return b.world(seed, road_half, sun)


# Camera axes (x right, y down, z forward) in the world of a camera looking up the street.
_CAMERA_AXES = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def pose_matrix(position, yaw: float, pitch: float) -> np.ndarray:
    """Camera-to-world 4x4 for a camera at `position` turned by yaw (right +) and pitch (up +)."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    yaw_m = np.array([[cy, sy, 0], [-sy, cy, 0], [0, 0, 1]])
    pitch_m = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    T = np.eye(4)
    T[:3, :3] = yaw_m @ pitch_m @ _CAMERA_AXES
    T[:3, 3] = position
    return T


def camera_trajectory(world: World, frames: int, seed: int, speed=(0.6, 1.2)) -> np.ndarray:
    """Poses (frames, 4, 4) of a car driving up the free left lane.

    Lateral offset x(s) is a sum of sines and the yaw is its slope, so the car heads where it
    goes; speed (metres per frame) and pitch vary slowly. Deterministic for a seed. The car
    keeps clear of the parked cars (which fill road_half - PARKING < |x| < road_half).
    """
    if frames < 1:
        raise ValueError(f'frames must be positive, got {frames}')
    rng = np.random.default_rng([seed, 0x7A1])
    lane_x = -0.4 * (world.road_half - PARKING)
    step = rng.uniform(*speed) + 0.25 * (speed[1] - speed[0]) * np.sin(
        np.arange(frames) * rng.uniform(0.02, 0.06) + rng.uniform(0, 6.3))
    s = np.concatenate([[0.0], np.cumsum(step[:-1])]) + rng.uniform(0, 20)
    amp, freq = rng.uniform(0.1, 0.25, 2), rng.uniform(0.01, 0.04, 2)
    phase = rng.uniform(0, 6.3, 2)
    x = lane_x + sum(a * np.sin(f * s + p) for a, f, p in zip(amp, freq, phase))
    slope = sum(a * f * np.cos(f * s + p) for a, f, p in zip(amp, freq, phase))
    yaw = np.arctan(slope)
    pitch = 0.01 * np.sin(s * rng.uniform(0.05, 0.15) + rng.uniform(0, 6.3)) - 0.02
    return np.stack([pose_matrix((xi, si, CAMERA_HEIGHT), yi, pi)
                     for xi, si, yi, pi in zip(x, s, yaw, pitch)])
