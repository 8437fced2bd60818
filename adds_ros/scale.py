# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Metric scale: how model depth units become metres, or the honest refusal to claim metres.

A self-supervised monocular network knows depth only up to one unknown factor. The factor can
come from the model (`metric_scale` in its metadata, e.g. from stereo or GPS-supervised
training), from a user (`fixed`), or per frame from geometry the vehicle knows: the camera
height above a flat road (`ground_plane`). With none, the node must not publish a metres topic.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

MODES = ('auto', 'metadata', 'fixed', 'ground_plane', 'none')


@dataclass
class ScaleConfig:
    """Which scale source to use. `auto` takes the first available of metadata/fixed/ground."""

    mode: str = 'auto'
    factor: float = 0.0          # metres per model unit for `fixed`
    camera_height: float = 0.0   # metres above the road for `ground_plane`
    road_top: float = 0.6        # road region: rows below this fraction of the image height,
    road_half_width: float = 0.2  # and within this fraction of the width around the centre
    max_tilt_deg: float = 20.0   # reject fits whose normal is further than this from vertical
    smoothing: float = 0.8       # weight of the previous frame's scale (0 = per-frame only)


def resolve_mode(config: ScaleConfig, metadata_scale: Optional[float]) -> str:
    """Pick the concrete scale source; raise if the requested one has no data."""
    if config.mode not in MODES:
        raise ValueError(f'scale mode must be one of {MODES}, got {config.mode!r}')
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


def road_points(depth: np.ndarray, k: np.ndarray, config: ScaleConfig) -> np.ndarray:
    """Back-project the valid pixels of the road region: Nx3 camera-frame points (model units)."""
    height, width = depth.shape
    rows = slice(int(config.road_top * height), height)
    centre = width / 2.0
    cols = slice(int(centre - config.road_half_width * width),
                 int(np.ceil(centre + config.road_half_width * width)))
    v, u = np.mgrid[rows, cols]
    z = depth[rows, cols]
    valid = np.isfinite(z) & (z > 0)
    u, v, z = u[valid], v[valid], z[valid]
    rays = np.linalg.solve(k, np.stack([u, v, np.ones_like(u)]).astype(np.float64))
    return (rays * z).T


def fit_plane(points: np.ndarray):
    """Least-squares plane through `points`: (unit normal, distance of the origin from it)."""
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    return normal, abs(float(normal @ centroid))


def tilt_deg(normal: np.ndarray) -> float:
    """Angle between a plane normal and the camera's vertical (y down): 0 for a level road."""
    return float(np.degrees(np.arccos(min(1.0, abs(float(normal[1])) / np.linalg.norm(normal)))))


def ransac_road(points: np.ndarray, config: ScaleConfig, iterations: int = 64,
                tolerance: float = 0.02) -> Optional[np.ndarray]:
    """Inliers of the near-level plane through most points (cars, kerbs and walls are outliers).

    Candidate planes from 3 random points are kept only if level enough to be a road; the
    inlier band is `tolerance` times the median point distance, since model units are arbitrary.
    Seeded, so a frame always gives the same answer.
    """
    rng = np.random.default_rng(0)
    band = tolerance * float(np.median(np.linalg.norm(points, axis=1)))
    best, best_count = None, 0
    for a, b, c in points[rng.integers(0, len(points), (iterations, 3))]:
        normal = np.cross(b - a, c - a)
        if np.linalg.norm(normal) < 1e-12 or tilt_deg(normal) > config.max_tilt_deg:
            continue
        inliers = np.abs((points - a) @ (normal / np.linalg.norm(normal))) < band
        if inliers.sum() > best_count:
            best, best_count = inliers, int(inliers.sum())
    return points[best] if best_count >= 10 else None


def ground_plane_height(depth: np.ndarray, k: np.ndarray, config: ScaleConfig) -> Optional[float]:
    """Camera height above the road in model units, or None when no level road is visible."""
    points = road_points(depth, k, config)
    if len(points) < 20:
        return None
    points = points[::max(1, len(points) // 4000)]  # plenty for a plane, fast at any resolution
    inliers = ransac_road(points, config)
    if inliers is None:
        return None
    normal, height = fit_plane(inliers)
    if tilt_deg(normal) > config.max_tilt_deg or height <= 0:
        return None
    return height


class ScaleEstimator:
    """Metres per model unit for each frame under the resolved mode (None = no metres)."""

    def __init__(self, config: ScaleConfig, metadata_scale: Optional[float]) -> None:
        self.config = config
        self.mode = resolve_mode(config, metadata_scale)
        self._metadata_scale = metadata_scale
        self._last: Optional[float] = None

    @property
    def metric(self) -> bool:
        return self.mode != 'none'

    def scale(self, depth: np.ndarray, k: Optional[np.ndarray]) -> Optional[float]:
        """Scale for this frame's model-unit `depth`; ground_plane keeps the last good value."""
        if self.mode == 'metadata':
            return self._metadata_scale
        if self.mode == 'fixed':
            return self.config.factor
        if self.mode == 'none' or k is None:
            return self._last if self.mode == 'ground_plane' else None
        height = ground_plane_height(depth, k, self.config)
        if height is not None:
            current = self.config.camera_height / height
            alpha = self.config.smoothing if self._last is not None else 0.0
            self._last = alpha * self._last + (1.0 - alpha) * current if alpha else current
        return self._last
