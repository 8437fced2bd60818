# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Readers for the three published RobotCar ground-truth formats, all to metres (0 = invalid).

- ADDS: 16-bit PNG at 1280x960, metres = value / 256 (the project's own format too).
- RNW / STEPS: `<ts>_depth.npy`, a float depth map in metres.
- md4all: `<ts>.pcd.bin`, float32 3xN points in the stereo camera frame (SDK axes: x forward,
  y right, z down) accumulated from lms_front; projected here with the camera model.
"""

from pathlib import Path
from typing import Tuple

import numpy as np

from adds_training.data.layout import read_gt_png
from adds_training.data.robotcar.raw import CameraModel


def read_adds_gt(path: Path) -> np.ndarray:
    return read_gt_png(path)


def read_rnw_gt(path: Path) -> np.ndarray:
    """Read an RNW `<ts>_depth.npy` map; non-finite or negative values become 0 (invalid)."""
    depth = np.load(str(path)).astype(np.float32)
    if depth.ndim != 2:
        raise ValueError(f'{path}: expected a 2-D depth map, got shape {depth.shape}')
    depth[~np.isfinite(depth) | (depth < 0)] = 0.0
    return depth


def read_md4all_pointcloud(path: Path) -> np.ndarray:
    """Read an md4all `.pcd.bin` as 3xN float32 camera-frame points."""
    data = np.fromfile(str(path), dtype='<f4')
    if data.size % 3:
        raise ValueError(f'{path}: {data.size} floats is not a 3xN point cloud')
    return data.reshape(3, -1)


def points_to_depth(points: np.ndarray, model: CameraModel, size: Tuple[int, int]) -> np.ndarray:
    """Project camera-frame points into a HxW depth map keeping the nearest depth per pixel."""
    height, width = size
    uv, depth = model.project(np.asarray(points, dtype=np.float64))
    u, v = np.round(uv).astype(np.int64)  # pixel centres at integer coordinates, as in K
    keep = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    u, v, depth = u[keep], v[keep], depth[keep]
    out = np.full(height * width, np.inf)
    np.minimum.at(out, v * width + u, depth)
    out[~np.isfinite(out)] = 0.0
    return out.reshape(height, width).astype(np.float32)


def read_md4all_gt(path: Path, model: CameraModel, size: Tuple[int, int] = (960, 1280)
                   ) -> np.ndarray:
    return points_to_depth(read_md4all_pointcloud(path), model, size)
