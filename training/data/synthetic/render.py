# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Ray casting and shading of the street world, by day and by night.

`cast` finds, for every pixel, the nearest surface along its ray: the ground plane analytically,
then each box that can be on screen by the slab test, restricted to the pixel rectangle its
near-clipped corners project to (so the cost is the screen area of the boxes, not pixels times
boxes). Rays are K^-1 [u, v, 1] rotated into the world, so the ray parameter of a hit *is* its
depth along the optical axis: the ground truth is exact by construction.

`shade` turns the hits into an image. Both illuminations use the same hits and the same albedo,
so a day frame and its night render differ only in light: day has sky light and a sun
(Lambertian, with cast shadows); night has a dark ambient, a headlight cone that moves with the
car, sodium street lamps with fall-off, lit windows, tail lights and lamp heads, glare around
bright lights, an orange cast and sensor noise. The `hard` night (`NIGHT_DIFFICULTIES`) is the
same scene through a worse camera: underexposed, with shot and read noise, a compressed dynamic
range, wider glare and halos, a stronger colour cast and motion blur (`hard_night_sensor`).
"""

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import cv2
import numpy as np

from adds_training.data.synthetic import texture as tx
from adds_training.data.synthetic.world import Kind, P_FLOOR_HEIGHT, P_LIT, P_STYLE, \
    P_WINDOW_SPACING, World

NEAR = 0.05
SKY, GROUND = -2, -1
MAX_DEPTH = 80.0
ILLUMINATIONS = ('day', 'night')
# 'standard': the night of every earlier result (the default); 'hard': `hard_night_sensor`.
NIGHT_DIFFICULTIES = ('standard', 'hard')

# Corner c of a box takes hi on axis a where bit a of c is set; edges join corners one bit apart.
_CORNER_BITS = np.array([[(c >> a) & 1 for a in range(3)] for c in range(8)], bool)
_EDGES = np.array([(c, c | 1 << a) for c in range(8) for a in range(3) if not c >> a & 1])


@dataclass
class Hits:
    """Per-pixel result of `cast`: depth (camera z, inf for sky), what was hit and how."""

    depth: np.ndarray
    box: np.ndarray
    axis: np.ndarray
    rays: np.ndarray
    origin: np.ndarray
    pose: np.ndarray
    focal: float


def camera_rays(pose: np.ndarray, K: np.ndarray, height: int, width: int) -> np.ndarray:
    """World directions (H, W, 3) of K^-1 [u, v, 1]: a step of t along one moves t in depth."""
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    d = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    return d @ np.asarray(pose, np.float64)[:3, :3].T


def screen_rects(world: World, pose: np.ndarray, K: np.ndarray, height: int, width: int,
                 far: float) -> np.ndarray:
    """Pixel rectangles (N, 4: x0, x1, y0, y1) that hold each box's image; empty if unseen.

    The box is clipped by the near plane: the projections of its corners in front of the camera
    and of its edges' crossings of the near plane bound its image.
    """
    R, o = pose[:3, :3], pose[:3, 3]
    corners = np.where(_CORNER_BITS[None], world.hi[:, None], world.lo[:, None])
    cam = (corners - o) @ R
    za, zb = cam[:, _EDGES[:, 0], 2], cam[:, _EDGES[:, 1], 2]
    cross = (za - NEAR) * (zb - NEAR) < 0
    s = np.where(cross, (NEAR - za) / np.where(cross, zb - za, 1.0), 0.0)[..., None]
    crossing = cam[:, _EDGES[:, 0]] + s * (cam[:, _EDGES[:, 1]] - cam[:, _EDGES[:, 0]])
    points = np.concatenate([cam, crossing], 1)
    valid = np.concatenate([cam[..., 2] >= NEAR, cross], 1)
    z = np.where(valid, points[..., 2], 1.0)
    u = K[0, 0] * points[..., 0] / z + K[0, 2]
    v = K[1, 1] * points[..., 1] / z + K[1, 2]
    lo = lambda a: np.floor(np.where(valid, a, np.inf).min(1))  # noqa: E731
    hi = lambda a: np.ceil(np.where(valid, a, -np.inf).max(1)) + 1  # noqa: E731
    rects = np.stack([lo(u), hi(u), lo(v), hi(v)], 1)
    seen = valid.any(1) & (cam[..., 2].min(1) < far)
    rects = np.clip(np.where(seen[:, None], rects, 0), 0, [width, width, height, height])
    return rects.astype(np.int64)


def cast(world: World, pose: np.ndarray, K: np.ndarray, height: int, width: int,
         far: float = 1000.0) -> Hits:
    """Find the nearest surface of every pixel's ray (ground plane, then boxes by slab test)."""
    pose = np.asarray(pose, np.float64)
    K = np.asarray(K, np.float64)
    o = pose[:3, 3]
    rays = camera_rays(pose, K, height, width)
    down = rays[..., 2] < -1e-12
    depth = np.where(down, -o[2] / np.where(down, rays[..., 2], -1.0), np.inf)
    box = np.where(down, GROUND, SKY).astype(np.int32)
    axis = np.full((height, width), 2, np.int8)
    inv = 1.0 / np.where(np.abs(rays) < 1e-12, 1e-12, rays)
    rects = screen_rects(world, pose, K, height, width, far)
    for i in np.flatnonzero((rects[:, 1] > rects[:, 0]) & (rects[:, 3] > rects[:, 2])):
        x0, x1, y0, y1 = rects[i]
        sub_inv = inv[y0:y1, x0:x1]
        ta, tb = (world.lo[i] - o) * sub_inv, (world.hi[i] - o) * sub_inv
        t_in = np.minimum(ta, tb)
        t_near, t_far = t_in.max(-1), np.maximum(ta, tb).min(-1)
        sub_depth = depth[y0:y1, x0:x1]
        hit = (t_near <= t_far) & (t_near > NEAR) & (t_near < sub_depth)
        sub_depth[hit] = t_near[hit]
        box[y0:y1, x0:x1][hit] = i
        axis[y0:y1, x0:x1][hit] = t_in.argmax(-1)[hit]
    beyond = depth > far
    depth[beyond], box[beyond] = np.inf, SKY
    return Hits(depth=depth, box=box, axis=axis, rays=rays, origin=o, pose=pose,
                focal=float(K[0, 0]))


def gt_depth(hits: Hits, max_depth: float = MAX_DEPTH) -> np.ndarray:
    """Ground truth (H, W) float32 metres: 0 for sky and for anything beyond `max_depth`."""
    return np.where(hits.depth <= max_depth, hits.depth, 0.0).astype(np.float32)


@dataclass
class Surface:
    """The hit pixels of one material: position, face, texture coordinates, footprint, box."""

    P: np.ndarray
    normal: np.ndarray
    axis: np.ndarray
    u: np.ndarray
    v: np.ndarray
    fp: np.ndarray
    box: np.ndarray
    world: World

    def take(self, mask: np.ndarray) -> 'Surface':
        return Surface(self.P[mask], self.normal[mask], self.axis[mask], self.u[mask],
                       self.v[mask], self.fp[mask], self.box[mask], self.world)

    def seed(self, salt: int) -> int:
        return (int(self.world.seed) * 7919 + salt) & 0xFFFFFFF


def surfaces(world: World, hits: Hits) -> Tuple[np.ndarray, Surface]:
    """Flat indices of the non-sky pixels and their Surface."""
    index = np.flatnonzero(hits.box.ravel() != SKY)
    rays = hits.rays.reshape(-1, 3)[index]
    t = hits.depth.ravel()[index]
    axis = hits.axis.ravel()[index].astype(np.int64)
    P = hits.origin + t[:, None] * rays
    normal = np.zeros_like(P)
    rows = np.arange(len(index))
    normal[rows, axis] = -np.sign(rays[rows, axis])
    # Texture coordinates: horizontal then vertical on walls, (x, y) on horizontal faces.
    u = np.where(axis == 0, P[:, 1], P[:, 0])
    v = np.where(axis == 2, P[:, 1], P[:, 2])
    length = np.linalg.norm(rays, axis=1)
    cos = np.abs(rays[rows, axis]) / length
    fp = np.maximum(t * length / hits.focal / np.maximum(cos, 0.1), 1e-3)
    box = hits.box.ravel()[index]
    f32 = lambda a: a.astype(np.float32)  # noqa: E731  shading needs no more than float32
    return index, Surface(f32(P), f32(normal), axis, f32(u), f32(v), f32(fp), box, world)


Material = Callable[[Surface], Tuple[np.ndarray, np.ndarray]]


def _rgb(colour, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(colour, np.float32), (n, 3))


def _mix(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return a + (b - a) * weight[:, None]


def ground(s: Surface) -> Tuple[np.ndarray, np.ndarray]:
    """Asphalt with grain and repair patches; dashed centre line and solid edge lines."""
    x, y, fp = s.P[:, 0], s.P[:, 1], s.fp
    grey = (0.21 + 0.12 * tx.fbm(x, y, fp, 0.6, 4, s.seed(1))
            + 0.08 * tx.fbm(x, y, fp, 5.0, 2, s.seed(2)))
    rh = s.world.road_half
    paint = (tx.band(x, -0.07, 0.07, fp) * tx.pulses(y, 6.0, 3.0, fp)
             + tx.band(np.abs(x), rh - 0.45, rh - 0.3, fp))
    paint *= 0.75 + 0.5 * tx.fbm(x, y, fp, 0.3, 2, s.seed(3))
    albedo = _mix(grey[:, None] * np.float32([1.0, 1.0, 1.05]), _rgb(0.8, len(x)), paint)
    return albedo, np.zeros_like(albedo)


def pavement(s: Surface) -> Tuple[np.ndarray, np.ndarray]:
    """Paving slabs with joints on top; rough concrete on the kerb face."""
    colour, fp = s.world.colour[s.box], s.fp
    top = s.axis == 2
    slab, joint = 0.6, 0.03
    joints = np.maximum(tx.pulses(s.u, slab, joint, fp), tx.pulses(s.v, slab, joint, fp))
    tint = (tx.hash01(tx.cell_index(s.u, slab), tx.cell_index(s.v, slab), s.seed(4)) - 0.5)
    tint *= tx.fade(fp, slab)
    grain = tx.fbm(s.u, s.v, fp, 0.25, 3, s.seed(5))
    shade = np.where(top, (1 + 0.35 * tint + 0.4 * grain) * (1 - 0.55 * joints),
                     1.2 * (1 + 0.5 * grain))
    albedo = colour * shade[:, None]
    return albedo, np.zeros_like(albedo)


def building(s: Surface) -> Tuple[np.ndarray, np.ndarray]:
    """Brick or plaster façade with framed windows (some lit at night) and doors."""
    w, fp, u, v, n = s.world, s.fp, s.u, s.v, len(s.u)
    param, colour, top = w.param[s.box], w.colour[s.box], w.hi[s.box, 2]
    spacing, floor = param[:, P_WINDOW_SPACING], param[:, P_FLOOR_HEIGHT]
    row = tx.cell_index(v, 0.2)
    shifted = u + 0.25 * (row % 2)
    mortar = np.maximum(tx.pulses(v, 0.2, 0.03, fp), tx.pulses(shifted, 0.5, 0.03, fp))
    brick = (tx.hash01(tx.cell_index(shifted, 0.5), row, s.seed(6) + 17) - 0.5) * tx.fade(fp, 0.5)
    brick_shade = (1 + 0.45 * brick) * (1 - 0.5 * mortar)
    plaster_shade = (1 + 0.5 * tx.fbm(u, v, fp, 1.5, 4, s.seed(7))
                     - 0.3 * tx.pulses(v, floor, 0.12, fp))
    wall = colour * np.where(param[:, P_STYLE] > 0.5, brick_shade, plaster_shade)[:, None]
    upper = tx.band(v, floor, top - 0.6, fp)
    sill = v - 0.9
    win_w, win_h = 0.45 * spacing, 0.5 * floor
    glass = tx.pulses(u, spacing, win_w, fp) * tx.pulses(sill, floor, win_h, fp) * upper
    frame = (tx.pulses(u + 0.1, spacing, win_w + 0.2, fp)
             * tx.pulses(sill + 0.1, floor, win_h + 0.2, fp) * upper)
    door = tx.pulses(u - 1.0, 3 * spacing, 1.2, fp) * tx.band(v, 0.0, 2.3, fp)
    reflection = 0.08 * (1 + 1.5 * tx.fbm(u, v, fp, 0.5, 3, s.seed(8)))
    albedo = _mix(wall, _rgb(0.85, n), np.clip(frame - glass, 0, 1))
    albedo = _mix(albedo, reflection[:, None] * np.float32([0.8, 0.9, 1.1]), glass)
    albedo = _mix(albedo, _rgb([0.25, 0.13, 0.07], n), door)
    cell_u, cell_v = tx.cell_index(u, spacing), tx.cell_index(sill, floor)
    lit = tx.hash01(cell_u, cell_v, s.seed(9) + 131 * s.box.astype(np.int64)) < param[:, P_LIT]
    warmth = tx.hash01(cell_u, cell_v, s.seed(10) + 131 * s.box.astype(np.int64))
    glow = lit * glass * (0.5 + 0.8 * warmth) * (1 + 0.6 * tx.fbm(u, v, fp, 0.4, 2, s.seed(11)))
    emissive = glow[:, None] * np.float32([1.0, 0.72, 0.4])
    return albedo, emissive


def car(s: Surface) -> Tuple[np.ndarray, np.ndarray]:
    """Painted body, dark windows and tyres/bumper; tail lights on the rear (lit if parked on)."""
    w, fp, n = s.world, s.fp, len(s.u)
    lo, hi = w.lo[s.box], w.hi[s.box]
    height = hi[:, 2] - lo[:, 2]
    panels = tx.pulses(s.u, 1.1, 0.04, fp) + tx.pulses(s.v, 0.5, 0.03, fp)
    dirt = 1 + 0.6 * tx.fbm(s.u, s.v, fp, 0.5, 3, s.seed(12)) - 0.5 * panels
    body = w.colour[s.box] * dirt[:, None] + 0.03
    side = s.axis != 2
    window = tx.band(s.v, 0.62 * height, height - 0.1, fp) * side
    bumper = tx.band(s.v, 0.0, 0.38, fp) * side
    across = s.u - lo[:, 0]
    width = hi[:, 0] - lo[:, 0]
    rear = (s.axis == 1) & (s.normal[:, 1] < 0)
    tail = ((tx.band(across, 0.1, 0.45, fp) + tx.band(across, width - 0.45, width - 0.1, fp))
            * tx.band(s.v, 0.75, 0.95, fp) * rear)
    albedo = _mix(body, _rgb([0.06, 0.07, 0.08], n), window)
    albedo = _mix(albedo, _rgb(0.04, n), bumper)
    albedo = _mix(albedo, _rgb([0.5, 0.04, 0.03], n), tail)
    emissive = (tail * w.param[s.box, P_LIT])[:, None] * np.float32([4.0, 0.25, 0.12])
    return albedo, emissive


def _plain(relief: float, cell: float, emission=None) -> Material:
    """Make a material: base colour with noise of `relief`, optionally glowing at night."""
    def material(s: Surface) -> Tuple[np.ndarray, np.ndarray]:
        noise = tx.fbm(s.u, s.v, s.fp, cell, 3, s.seed(13))
        albedo = s.world.colour[s.box] * np.clip(1 + relief * noise, 0.05, None)[:, None]
        glow = np.zeros_like(albedo) if emission is None else _rgb(emission, len(s.u))
        return albedo, glow
    return material


def billboard(s: Surface) -> Tuple[np.ndarray, np.ndarray]:
    """Colourful posters on the faces, back-lit at night."""
    salt = s.world.param[s.box, 0].astype(np.int64)
    cells = [tx.hash01(tx.cell_index(s.u, 0.4), tx.cell_index(s.v, 0.4), s.seed(14 + c) + salt)
             for c in range(3)]
    poster = (np.stack(cells, 1) - 0.5) * tx.fade(s.fp, 0.4)[:, None] + 0.5
    face = (s.axis == 1)[:, None]
    albedo = np.where(face, poster * 0.8 + 0.1, 0.3 * s.world.colour[s.box]).astype(np.float32)
    return albedo, np.where(face, 0.5 * albedo, 0.0).astype(np.float32)


MATERIALS: Dict[int, Material] = {
    Kind.GROUND: ground,
    Kind.PAVEMENT: pavement,
    Kind.BUILDING: building,
    Kind.CAR: car,
    Kind.POLE: _plain(0.6, 0.3),
    Kind.LAMP: _plain(0.3, 0.2, emission=[6.0, 4.2, 2.2]),
    Kind.TRUNK: _plain(1.2, 0.25),
    Kind.CROWN: _plain(2.2, 0.35),
    Kind.BILLBOARD: billboard,
}


Materials = Tuple[np.ndarray, Surface, np.ndarray, np.ndarray]


def albedo_and_emission(world: World, hits: Hits) -> Materials:
    """Material of every non-sky pixel: (flat index, Surface, albedo, night emission)."""
    index, s = surfaces(world, hits)
    kind = np.append(world.kind, Kind.GROUND)[s.box]  # box -1 (GROUND) picks the last
    albedo = np.zeros((len(index), 3), np.float32)
    emission = np.zeros((len(index), 3), np.float32)
    for code, material in MATERIALS.items():
        mask = kind == code
        if mask.any():
            albedo[mask], emission[mask] = material(s.take(mask))
    return index, s, np.clip(albedo, 0, 1), emission


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0, 1)
    return t * t * (3 - 2 * t)


def _point_light(s: Surface, position: np.ndarray, power: float,
                 soft: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Lambertian irradiance of a light and the unit direction from the light to each point.

    Fall-off is power / (d^2 + soft); a large `soft` models a source of some size.
    """
    to_light = position - s.P
    dist2 = np.einsum('ij,ij->i', to_light, to_light)
    direction = to_light / np.sqrt(dist2)[:, None]
    lambert = np.maximum(np.einsum('ij,ij->i', s.normal, direction), 0)
    return power * lambert / (dist2 + soft), -direction


def sun_visibility(world: World, P: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """1 where a point sees the sun, 0 where a box is in the way or it faces away (float32).

    Shadow rays are only tested against boxes whose silhouette seen from the sun covers the
    point: points are sorted along one axis of a plane across the sunlight, so each box takes
    a slice of them, filtered by the other axis, before the slab test.
    """
    sun = world.sun
    facing = np.flatnonzero(normal @ sun > 0)
    start = P[facing].astype(np.float64) + 1e-3 * normal[facing]
    across = np.cross(sun, [0.0, 0.0, 1.0])
    across /= np.linalg.norm(across)
    plane = np.stack([across, np.cross(sun, across)], 1)
    coords = start @ plane
    order = np.argsort(coords[:, 0])
    sorted_a = coords[order, 0]
    corners = np.where(_CORNER_BITS[None], world.hi[:, None], world.lo[:, None]) @ plane
    low, high = corners.min(1), corners.max(1)
    inv = 1.0 / np.where(np.abs(sun) < 1e-12, 1e-12, sun)
    shadowed = np.zeros(len(facing), bool)
    if not len(facing):
        return np.zeros(len(P), np.float32)
    overlap = np.all((low <= coords.max(0)) & (high >= coords.min(0)), axis=1)
    for i in np.flatnonzero(overlap):
        first, last = np.searchsorted(sorted_a, [low[i, 0], high[i, 0]], side='left')
        candidates = order[first:last]
        b = coords[candidates, 1]
        candidates = candidates[(b >= low[i, 1]) & (b <= high[i, 1])]
        if not len(candidates):
            continue
        ta = (world.lo[i] - start[candidates]) * inv
        tb = (world.hi[i] - start[candidates]) * inv
        hit = np.minimum(ta, tb).max(1) <= np.maximum(ta, tb).min(1)
        hit &= np.maximum(ta, tb).min(1) > 0
        shadowed[candidates[hit]] = True
    visible = np.zeros(len(P), np.float32)
    visible[facing] = ~shadowed
    return visible


def day_light(world: World, s: Surface) -> np.ndarray:
    """Sky light (brighter on up-facing surfaces) plus sun where it is not shadowed."""
    sky = np.float32([0.33, 0.38, 0.48]) * (0.65 + 0.35 * s.normal[:, 2:3])
    lambert = np.maximum(s.normal @ world.sun.astype(np.float32), 0)
    sun = (lambert * sun_visibility(world, s.P, s.normal))[:, None]
    return (sky + sun * np.float32([1.05, 0.98, 0.86])).astype(np.float32)


SODIUM = np.float32([1.0, 0.6, 0.26])
HEADLIGHT = np.float32([1.0, 0.95, 0.85])


def night_light(world: World, hits: Hits, s: Surface, lamp_range: float = 70.0) -> np.ndarray:
    """Dark ambient, the car's headlight cone and the street lamps within range."""
    light = np.float32([0.012, 0.011, 0.016]) * (0.6 + 0.4 * s.normal[:, 2:3])
    R, o = hits.pose[:3, :3], hits.origin
    lamp_position = (o + R @ np.array([0.0, 0.9, 0.3])).astype(np.float32)
    beam = (R @ np.array([0.0, 0.06, 1.0])).astype(np.float32)
    irradiance, direction = _point_light(s, lamp_position, 60.0, soft=16.0)
    cos = direction @ (beam / np.linalg.norm(beam))
    cone = _smoothstep(0.88, 0.97, cos) + 0.2 * _smoothstep(0.55, 0.9, cos)
    light = light + (irradiance * cone)[:, None] * HEADLIGHT
    near = world.lamps[np.linalg.norm(world.lamps - o, axis=1) < lamp_range]
    for position in near.astype(np.float32):
        irradiance, direction = _point_light(s, position, 9.0)
        light += (irradiance * _smoothstep(0.05, 0.5, -direction[:, 2]))[:, None] * SODIUM
    return light.astype(np.float32)


def sky(hits: Hits, illumination: str, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """(flat index, colour) of the sky pixels: a gradient plus clouds on a plane 800 m up."""
    index = np.flatnonzero(hits.box.ravel() == SKY)
    rays = hits.rays.reshape(-1, 3)[index]
    elevation = np.clip(rays[:, 2] / np.linalg.norm(rays, axis=1), 0, 1)
    reach = 800.0 / np.maximum(rays[:, 2], 1e-3)
    cx, cy = hits.origin[0] + reach * rays[:, 0], hits.origin[1] + reach * rays[:, 1]
    fp = (reach * np.linalg.norm(rays, axis=1) / hits.focal).astype(np.float32)
    cloud = np.clip(2.5 * tx.fbm(cx, cy, fp, 400.0, 4, seed) + 0.3, 0, 1)
    if illumination == 'day':
        base = _mix(_rgb([0.75, 0.82, 0.9], len(index)), _rgb([0.3, 0.5, 0.85], len(index)),
                    np.sqrt(elevation).astype(np.float32))
        return index, _mix(base, _rgb(0.92, len(index)), cloud)
    glow = (1 - elevation)[:, None] ** 4 * np.float32([0.07, 0.04, 0.018])
    return index, np.float32([0.008, 0.009, 0.02]) + glow + 0.02 * cloud[:, None] * glow


def glare(linear: np.ndarray, threshold: float = 1.5,
          halos: Tuple[Tuple[float, float], ...] = ((0.4, 1.0), (0.2, 4.0))) -> np.ndarray:
    """Halo around lights: the over-bright part, blurred at each (weight, width), added back."""
    h, w = linear.shape[:2]
    excess = np.maximum(linear - threshold, 0).astype(np.float32)
    small = cv2.resize(excess, (max(w // 4, 1), max(h // 4, 1)), interpolation=cv2.INTER_AREA)
    sigma = max(w / 256.0, 0.5)
    halo = sum(weight * cv2.GaussianBlur(small, (0, 0), width * sigma)
               for weight, width in halos)
    return linear + cv2.resize(halo, (w, h), interpolation=cv2.INTER_LINEAR)


WHITE_BALANCE = {'day': np.float32([1.0, 1.0, 1.0]), 'night': np.float32([1.0, 0.8, 0.55])}
EXPOSURE = {'day': 1.0, 'night': 1.6}
# Noise of the 8-bit output (as after the camera's own processing): sigma = a + b * sqrt(value).
NOISE = {'day': (0.002, 0.004), 'night': (0.006, 0.012)}


# The hard night's camera (`hard_night_sensor`): exposure, white balance, glare threshold and
# halos (weight, width), linear-domain read and shot noise (sigma^2 = read^2 + shot * value),
# the tone curve's black and white levels and knee, and the zoom blur's largest scale change.
HARD_NIGHT = {'exposure': 0.2, 'white_balance': np.float32([1.0, 0.68, 0.36]),
              'glare_threshold': 0.35, 'halos': ((0.6, 1.0), (0.45, 4.0), (0.3, 12.0)),
              'read': 0.012, 'shot': 0.003, 'black': 0.008, 'white': 0.4, 'knee': 0.25,
              'blur': 0.1}


def zoom_blur(linear: np.ndarray, strength: float, taps: int = 6) -> np.ndarray:
    """Forward-motion blur: the mean of the image scaled about its centre by 1 .. 1+strength."""
    h, w = linear.shape[:2]
    out = np.zeros_like(linear)
    for scale in np.linspace(1.0, 1.0 + strength, taps):
        m = np.float32([[scale, 0, (1 - scale) * (w - 1) / 2],
                        [0, scale, (1 - scale) * (h - 1) / 2]])
        out += cv2.warpAffine(linear, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    return out / taps


def hard_night_sensor(linear: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Turn linear radiance into uint8 as a poor camera at night does (`HARD_NIGHT`).

    Motion blur (a random share of the largest), underexposure and a strong sodium cast, wide
    glare and halos around lamps and headlights, shot and read noise on the dim signal, then a
    flat tone curve (raised black, low white) that compresses the dynamic range, gamma, 8 bits.
    """
    cam = HARD_NIGHT
    linear = zoom_blur(linear.astype(np.float32), cam['blur'] * rng.uniform(0.3, 1.0))
    linear = linear * cam['exposure'] * cam['white_balance']
    linear = glare(linear, cam['glare_threshold'], cam['halos'])
    sigma = np.sqrt(cam['read'] ** 2 + cam['shot'] * np.maximum(linear, 0))
    linear = linear + sigma * rng.standard_normal(linear.shape, dtype=np.float32)
    tone = 1 - np.exp(-np.maximum(linear, 0) / cam['knee'])
    srgb = (cam['black'] + (cam['white'] - cam['black']) * tone) ** (1 / 2.2)
    return np.round(np.clip(srgb, 0, 1) * 255).astype(np.uint8)


def sensor(linear: np.ndarray, illumination: str, rng: np.random.Generator,
           night: str = 'standard') -> np.ndarray:
    """Exposure, white balance, glare (night), gamma and noise: linear radiance -> uint8.

    `night` ('standard' | 'hard') picks the night camera; day ignores it.
    """
    if night not in NIGHT_DIFFICULTIES:
        raise ValueError(f'night must be one of {NIGHT_DIFFICULTIES}, got {night!r}')
    if illumination == 'night' and night == 'hard':
        return hard_night_sensor(linear, rng)
    linear = linear * EXPOSURE[illumination] * WHITE_BALANCE[illumination]
    if illumination == 'night':
        linear = glare(linear)
    srgb = np.clip(linear, 0, 1) ** (1 / 2.2)
    read, shot = NOISE[illumination]
    srgb += (read + shot * np.sqrt(srgb)) * rng.standard_normal(srgb.shape, dtype=np.float32)
    return np.round(np.clip(srgb, 0, 1) * 255).astype(np.uint8)


def shade(world: World, hits: Hits, illumination: str = 'day',
          rng: Optional[np.random.Generator] = None,
          materials: Optional[Materials] = None, night: str = 'standard') -> np.ndarray:
    """Render the hits under 'day' or 'night' light to RGB uint8 (H, W, 3).

    `materials` (from `albedo_and_emission`) can be passed in to shade one cast twice; `night`
    is the night's difficulty (`NIGHT_DIFFICULTIES`).
    """
    if illumination not in ILLUMINATIONS:
        raise ValueError(f'illumination must be one of {ILLUMINATIONS}, got {illumination!r}')
    rng = np.random.default_rng(0) if rng is None else rng
    index, s, albedo, emission = materials or albedo_and_emission(world, hits)
    h, w = hits.depth.shape
    linear = np.zeros((h * w, 3), np.float32)
    if illumination == 'day':
        linear[index] = albedo * day_light(world, s)
    else:
        linear[index] = albedo * night_light(world, hits, s) + emission
    sky_index, sky_rgb = sky(hits, illumination, (int(world.seed) * 7919 + 99) & 0xFFFFFFF)
    linear[sky_index] = sky_rgb
    return sensor(linear.reshape(h, w, 3), illumination, rng, night)


def render_frame(world: World, pose: np.ndarray, K: np.ndarray, height: int, width: int,
                 illumination: str = 'day', rng: Optional[np.random.Generator] = None,
                 max_depth: float = MAX_DEPTH) -> Tuple[np.ndarray, np.ndarray]:
    """Render one view: (RGB uint8 HxWx3, depth float32 HxW in metres, 0 = invalid)."""
    hits = cast(world, pose, K, height, width)
    return shade(world, hits, illumination, rng), gt_depth(hits, max_depth)


def render_views(world: World, pose: np.ndarray, K: np.ndarray, height: int, width: int,
                 rng: np.random.Generator, max_depth: float = MAX_DEPTH,
                 night: str = 'standard') -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day image, night image and depth of one pose, casting and texturing only once.

    The day image draws its noise first, so it is the same whatever the night's difficulty.
    """
    hits = cast(world, pose, K, height, width)
    materials = albedo_and_emission(world, hits)
    day = shade(world, hits, 'day', rng, materials)
    night = shade(world, hits, 'night', rng, materials, night)
    return day, night, gt_depth(hits, max_depth)
