# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Metric scale: how model depth units become metres, or the honest refusal to claim metres.

A self-supervised monocular network knows depth only up to one unknown factor. The factor can
come from the model (`metric_scale` in its metadata, e.g. from stereo or GPS-supervised
training), from a user (`fixed`), or per frame from geometry the vehicle knows: the camera
height above a flat road (`ground_plane`). With none, the node must not publish a metres topic.

The ground plane is only as good as the network's road, so a fit must earn its trust: its
normal within `max_tilt_deg` of the calibrated mounting's vertical, enough of the road region
on the plane (`min_inlier_fraction`) across enough of its rows (`min_row_coverage`), and within
`max_jump` of the running value; a new running value needs `confirm_frames` agreeing fits, and
a held value expires `max_age` seconds after the last accepted fit. Frames without a
trustworthy scale get None (the node drops them as `no_scale`); `status()` says why.
"""

import collections
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from adds_ros.settings import check, param

MODES = ('auto', 'metadata', 'fixed', 'ground_plane', 'none')
# Why a ground-plane fit was refused (the keys of ScaleEstimator.status()'s counters).
# no_camera_k: the frame's K is the model's, not this camera's calibration, so not trusted.
REFUSALS = ('no_camera_k', 'bad_k', 'no_road', 'tilt', 'inliers', 'coverage', 'jump',
            'confirming', 'expired')
# A road-region row counts as covered when this share of its sampled pixels are plane inliers.
ROW_MIN_SHARE = 0.25
# Points fitted per frame: plenty for a plane, fast at any resolution.
MAX_POINTS = 4000


@dataclass
class ScaleConfig:
    """Which scale source to use and when a ground-plane fit is trusted.

    `auto` takes the first available of metadata/fixed/ground_plane. Camera frame: x right,
    y down, z forward; `pitch_deg` > 0 tilts the camera down to the road, `roll_deg` > 0 turns
    it clockwise as seen from behind (its right side down). Each setting is declared here once;
    the node's parameters take theirs with `settings.same_as` (adds_ros/params.py).
    """

    mode: str = param('auto', 'metric scale source; none publishes inverse depth only',
                      choices=MODES)
    factor: float = param(0.0, 'metres per model unit for scale_mode fixed', (0.0, 1e4))
    camera_height: float = param(0.0, 'camera height above the road (m) for ground_plane',
                                 (0.0, 10.0))
    road_top: float = param(0.6, 'road region: rows below this fraction of the image height',
                            (0.0, 0.95))
    road_half_width: float = param(0.2, 'road region: within this fraction of the width '
                                   'around the centre', (0.01, 0.5))
    pitch_deg: float = param(0.0, 'camera pitch below horizontal (deg): the road ground_plane '
                             'expects', (-45.0, 45.0))
    roll_deg: float = param(0.0, 'camera roll, right side down (deg): the road ground_plane '
                            'expects', (-45.0, 45.0))
    max_tilt_deg: float = param(5.0, 'refuse ground planes further than this from the expected '
                                'road (deg)', (0.1, 45.0))
    min_inlier_fraction: float = param(0.5, 'share of the road region that must lie on the '
                                       'ground plane', (0.0, 1.0))
    min_row_coverage: float = param(0.5, 'share of the road region rows the ground plane must '
                                    'cover', (0.0, 1.0))
    max_jump: float = param(0.15, 'refuse ground-plane scales this far (relative) from the '
                            'running one', (0.001, 10.0))
    confirm_frames: int = param(3, 'agreeing ground-plane fits before a new scale is used',
                                (1, 100))
    max_age: float = param(2.0, 'seconds a ground-plane scale is held without a new fit (then '
                           'frames drop as no_scale)', (0.0, 3600.0))
    smoothing: float = param(0.8, 'weight of the previous ground-plane scale (0: per frame '
                             'only)', (0.0, 0.99))

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first setting outside its range or choices."""
        check(self, 'scale setting')


def resolve_mode(config: ScaleConfig, metadata_scale: Optional[float]) -> str:
    """Pick the concrete scale source; raise if the requested one has no data."""
    available = {'metadata': metadata_scale is not None and metadata_scale > 0,
                 'fixed': config.factor > 0, 'ground_plane': config.camera_height > 0,
                 'none': True}
    if config.mode == 'auto':
        return next(mode for mode in ('metadata', 'fixed', 'ground_plane', 'none')
                    if available[mode])
    if not available[config.mode]:
        need = {'metadata': 'a model with metric_scale in its metadata',
                'fixed': 'scale_factor > 0', 'ground_plane': 'camera_height > 0'}
        raise ValueError(f'scale mode {config.mode!r} needs {need[config.mode]}')
    return config.mode


def expected_down(config: ScaleConfig) -> np.ndarray:
    """Return the unit vector towards the road in the camera frame (calibrated pitch, roll)."""
    pitch, roll = np.radians(config.pitch_deg), np.radians(config.roll_deg)
    return np.array([np.sin(roll) * np.cos(pitch), np.cos(roll) * np.cos(pitch), np.sin(pitch)])


class Refused(Exception):
    """A ground-plane fit that is not trusted; `reason` is one of REFUSALS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RoadPoints:
    """Sampled pixels of the road region: camera-frame points of the valid ones, and rows."""

    points: np.ndarray   # N x 3, model units
    rows: np.ndarray     # N, the image row of each point
    sampled: int         # pixels sampled in the region, valid or not
    row_samples: Dict[int, int]  # sampled pixels per region row


def road_points(depth: np.ndarray, k: np.ndarray, config: ScaleConfig) -> RoadPoints:
    """Back-project a grid sample of the road region (raises Refused('bad_k') for a bad K)."""
    k = np.asarray(k, dtype=np.float64)
    if k.shape != (3, 3) or not np.isfinite(k).all() or abs(np.linalg.det(k)) < 1e-9:
        raise Refused('bad_k')
    height, width = depth.shape
    top = int(config.road_top * height)
    left = int(width / 2.0 - config.road_half_width * width)
    right = int(np.ceil(width / 2.0 + config.road_half_width * width))
    step = max(1, int(np.ceil(np.sqrt((height - top) * (right - left) / MAX_POINTS))))
    v, u = np.mgrid[top:height:step, left:right:step]
    z = depth[top:height:step, left:right:step].astype(np.float64)
    row_samples = {int(row): v.shape[1] for row in v[:, 0]}
    valid = np.isfinite(z) & (z > 0)
    u, v, z = u[valid], v[valid], z[valid]
    rays = np.linalg.solve(k, np.stack([u, v, np.ones_like(u)]).astype(np.float64))
    return RoadPoints((rays * z).T, v, valid.size, row_samples)


def fit_plane(points: np.ndarray) -> Tuple[np.ndarray, float]:
    """Least-squares plane through `points`: (unit normal, distance of the origin from it)."""
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    return normal, abs(float(normal @ centroid))


def tilt_deg(normal: np.ndarray, down: np.ndarray) -> float:
    """Angle between a plane normal (either sign) and the expected down vector, in degrees."""
    cosine = abs(float(normal @ down)) / max(float(np.linalg.norm(normal)), 1e-300)
    return float(np.degrees(np.arccos(min(1.0, cosine))))


def ransac_road(points: np.ndarray, down: np.ndarray, max_tilt: float, iterations: int = 64,
                tolerance: float = 0.02) -> np.ndarray:
    """Inlier mask of the plane near the expected road orientation through most points.

    Candidate planes from 3 random points are kept only if within `max_tilt` degrees of the
    mounting's road, so walls, cars and kerbs cannot win; the inlier band is `tolerance` times
    the median point distance, since model units are arbitrary. Seeded: a frame always gives
    the same answer.
    """
    rng = np.random.default_rng(0)
    band = tolerance * float(np.median(np.linalg.norm(points, axis=1)))
    best = np.zeros(len(points), bool)
    for a, b, c in points[rng.integers(0, len(points), (iterations, 3))]:
        normal = np.cross(b - a, c - a)
        length = np.linalg.norm(normal)
        if not length > 1e-12 or tilt_deg(normal, down) > max_tilt:
            continue
        inliers = np.abs((points - a) @ (normal / length)) < band
        if inliers.sum() > best.sum():
            best = inliers
    return best


@dataclass
class PlaneFit:
    """One frame's ground plane: height (model units) and the evidence it rests on."""

    height: float
    tilt_deg: float
    inlier_fraction: float
    row_coverage: float


def ground_plane_fit(depth: np.ndarray, k: np.ndarray, config: ScaleConfig) -> PlaneFit:
    """Fit the road plane of one frame; raise Refused naming the first check it fails."""
    with np.errstate(all='ignore'):  # absurd depths overflow to inf/NaN: refused below
        road = road_points(depth, k, config)
        if len(road.points) < 20:
            raise Refused('no_road')
        down = expected_down(config)
        inliers = ransac_road(road.points, down, config.max_tilt_deg)
        if inliers.sum() < 10:
            raise Refused('tilt')
        normal, height = fit_plane(road.points[inliers])
        tilt = tilt_deg(normal, down)
    if not (np.isfinite(height) and height > 0 and tilt <= config.max_tilt_deg):
        raise Refused('tilt')
    fraction = float(inliers.sum()) / road.sampled
    rows, counts = np.unique(road.rows[inliers], return_counts=True)
    covered = sum(count >= ROW_MIN_SHARE * road.row_samples[int(row)]
                  for row, count in zip(rows, counts))
    coverage = covered / len(road.row_samples)
    fit = PlaneFit(height, tilt, fraction, coverage)
    if fraction < config.min_inlier_fraction:
        raise Refused('inliers')
    if coverage < config.min_row_coverage:
        raise Refused('coverage')
    return fit


def ground_plane_height(depth: np.ndarray, k: np.ndarray, config: ScaleConfig) -> Optional[float]:
    """Camera height above the road in model units, or None when no trusted road is visible."""
    try:
        return ground_plane_fit(depth, k, config).height
    except Refused:
        return None


class ScaleEstimator:
    """Metres per model unit for each frame under the resolved mode (None = no metres)."""

    def __init__(self, config: ScaleConfig, metadata_scale: Optional[float]) -> None:
        self.config = config
        self.mode = resolve_mode(config, metadata_scale)
        self._metadata_scale = metadata_scale
        self._value: Optional[float] = None       # running ground-plane scale
        self._accepted_at: Optional[float] = None
        self._candidates: List[float] = []       # fits waiting for confirmation
        self._refused: Dict[str, int] = collections.Counter()
        self._last_refusal = ''
        self._last_fit: Optional[PlaneFit] = None
        self._now = time.monotonic()
        self._stamped = False  # frames carry their own time (bag replay): age in that time

    @property
    def metric(self) -> bool:
        return self.mode != 'none'

    def scale(self, depth: np.ndarray, k: Optional[np.ndarray],
              stamp: Optional[float] = None) -> Optional[float]:
        """Scale for this frame's model-unit `depth`, or None when there is no trusted one.

        `k` is the camera's own calibration; None (the frame has only the model's K, which
        would guess the road's distance) refuses a ground-plane fit as `no_camera_k`. `stamp`
        (seconds, default: the monotonic clock) times the expiry of a held ground-plane value.
        """
        if self.mode == 'metadata':
            return self._metadata_scale
        if self.mode == 'fixed':
            return self.config.factor
        if self.mode == 'none':
            return None
        self._stamped = stamp is not None
        self._now = time.monotonic() if stamp is None else stamp
        if self._value is not None and self._now - self._accepted_at > self.config.max_age:
            self._refuse('expired')
            self._value, self._candidates = None, []
        try:
            if k is None:
                raise Refused('no_camera_k')
            fit = ground_plane_fit(depth, k, self.config)
            self._last_fit = fit
            self._accept(self.config.camera_height / fit.height)
        except Refused as refusal:
            self._refuse(refusal.reason)
        return self._value

    def _accept(self, current: float) -> None:
        if self._value is None:
            self._candidates = (self._candidates + [current])[-self.config.confirm_frames:]
            median = float(np.median(self._candidates))
            if len(self._candidates) < self.config.confirm_frames or any(
                    abs(c / median - 1) > self.config.max_jump for c in self._candidates):
                raise Refused('confirming')
            self._value, self._candidates = median, []
        elif abs(current / self._value - 1) > self.config.max_jump:
            raise Refused('jump')
        else:
            alpha = self.config.smoothing
            self._value = alpha * self._value + (1.0 - alpha) * current
        self._accepted_at = self._now

    def _refuse(self, reason: str) -> None:
        self._refused[reason] += 1
        self._last_refusal = reason

    def status(self) -> Dict[str, Any]:
        """Diagnostics of the scale: value, source, age and why fits were refused.

        Keys: scale (metres per model unit, None without one), scale_source (the resolved
        mode), scale_age_s (seconds since the value was last confirmed; 0 for metadata/fixed),
        scale_last_refusal, scale_tilt_deg / scale_inlier_fraction / scale_row_coverage (the
        last plane fit), scale_refused_<reason> (counts, for every reason in REFUSALS).
        """
        constant = self.mode in ('metadata', 'fixed')
        value = {'metadata': self._metadata_scale, 'fixed': self.config.factor}.get(
            self.mode, self._value)
        now = self._now if self._stamped else time.monotonic()
        age = 0.0 if constant else (None if self._value is None else now - self._accepted_at)
        fit = self._last_fit
        values = {'scale': value, 'scale_source': self.mode, 'scale_age_s': age,
                  'scale_last_refusal': self._last_refusal,
                  'scale_tilt_deg': fit.tilt_deg if fit else None,
                  'scale_inlier_fraction': fit.inlier_fraction if fit else None,
                  'scale_row_coverage': fit.row_coverage if fit else None}
        values.update({f'scale_refused_{r}': self._refused[r] for r in REFUSALS})
        return values
