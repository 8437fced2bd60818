# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Network disparity -> depth at camera resolution, and a colourised view for RViz / Foxglove.

Disparity (not depth) is upsampled: it is what the network predicts, and interpolating inverse
depth is what the evaluation protocols do. The upsampled map is placed into the crop region of a
camera-sized image with NaN outside (REP 118: NaN = no measurement), so the depth image lines up
pixel for pixel with the camera image and its camera_info.
"""

from typing import Optional, Tuple

import cv2
import numpy as np

from adds_ros.preprocess import CropBox

PERCENTILE_SAMPLES = 1 << 16


def disp_to_depth(disp: np.ndarray, min_depth: float,
                  max_depth: float) -> Tuple[np.ndarray, np.ndarray]:
    """Map sigmoid disparity to (scaled disparity, depth) as Monodepth2 / ADDS train with."""
    min_disp, max_disp = 1.0 / max_depth, 1.0 / min_depth
    # float32 throughout and without temporary copies: this runs on every frame of the node
    scaled = np.multiply(np.asarray(disp, np.float32), np.float32(max_disp - min_disp))
    scaled += np.float32(min_disp)
    return scaled, np.reciprocal(scaled)


def squeeze_disparity(disp: np.ndarray) -> np.ndarray:
    """Return the h x w map of one network output (1x1xhxw, 1xhxw or hxw)."""
    disp = np.asarray(disp, dtype=np.float32)
    while disp.ndim > 2 and disp.shape[0] == 1:
        disp = disp[0]
    if disp.ndim != 2:
        raise ValueError(f'expected one disparity map, got shape {disp.shape}')
    return disp


def upsample_into_camera(values: np.ndarray, box: CropBox,
                         camera_shape: Tuple[int, int]) -> np.ndarray:
    """Bilinearly resize an h x w map to the crop `box` of a camera image; NaN elsewhere."""
    top, bottom, left, right = box
    out = np.full(camera_shape, np.nan, dtype=np.float32)
    out[top:bottom, left:right] = cv2.resize(values.astype(np.float32), (right - left,
                                             bottom - top), interpolation=cv2.INTER_LINEAR)
    return out


def colorize(depth: np.ndarray, inverse: bool = True, vmax: Optional[float] = None,
             colormap: int = cv2.COLORMAP_MAGMA) -> np.ndarray:
    """Colourise depth (or 1/depth when `inverse`) to bgr8; NaN and non-positive depth are black.

    Inverse depth spreads the colours over near objects, which matter most on a vehicle. Without
    `vmax` the 95th percentile scales the view, so one outlier does not wash it out.
    """
    depth = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    values = np.zeros_like(depth)
    values[valid] = 1.0 / depth[valid] if inverse else depth[valid]
    if vmax is None:
        # a 1-in-step^2 grid sample (about 64k pixels) is plenty to scale a view, at a tenth
        # of the cost of partitioning every pixel of a camera frame
        step = max(1, int(np.sqrt(depth.size / PERCENTILE_SAMPLES)))
        sample = values[::step, ::step][valid[::step, ::step]]
        vmax = float(np.percentile(sample, 95)) if sample.size else 1.0
    scaled = np.clip(values * np.float32(255.0 / max(vmax, 1e-12)), 0.0, 255.0)
    bgr = cv2.applyColorMap(scaled.astype(np.uint8), colormap)
    bgr *= valid[..., None]  # black where invalid (a multiply: boolean indexing is 10x slower)
    return bgr
