# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Network disparity -> depth at camera resolution, and a colourised view for RViz / Foxglove.

Disparity (not depth) is upsampled: it is what the network predicts, and interpolating inverse
depth is what the evaluation protocols do. The upsampled map is placed into the crop region of a
camera-sized image with NaN outside (REP 118: NaN = no measurement), so the depth image lines up
pixel for pixel with the camera image and its camera_info.
"""

import functools
from typing import Optional, Tuple

import cv2
import numpy as np

from adds_ros.preprocess import CropBox

PERCENTILE_SAMPLES = 1 << 14
COLOR_STEPS = 255  # colours of the view; lookup index 0 is reserved for invalid pixels
TINY = float(np.finfo(np.float32).tiny)
FLOAT_MAX = float(np.finfo(np.float32).max)


def disp_to_depth(disp: np.ndarray, min_depth: float,
                  max_depth: float) -> Tuple[np.ndarray, np.ndarray]:
    """Map sigmoid disparity to (scaled disparity, depth) as Monodepth2 / ADDS train with."""
    scaled = scale_disparity(disp, min_depth, max_depth)
    return scaled, np.reciprocal(scaled)


def scale_disparity(disp: np.ndarray, min_depth: float, max_depth: float) -> np.ndarray:
    """Map sigmoid disparity to inverse depth in model units (1/max_depth .. 1/min_depth)."""
    min_disp, max_disp = 1.0 / max_depth, 1.0 / min_depth
    # float32 throughout and without temporary copies: this runs on every frame of the node
    scaled = np.multiply(np.asarray(disp, np.float32), np.float32(max_disp - min_disp))
    scaled += np.float32(min_disp)
    return scaled


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
    `vmax` the 95th percentile scales the view, so one outlier does not wash it out. Values 0 to
    `vmax` span the colormap in 255 steps; index 0 of the lookup table is black and marks invalid
    pixels, so one uint8 pass builds the index and one table lookup the image (the node's
    per-frame cost at camera size: no float64, no boolean indexing, no colour-sized masks).
    """
    depth = np.asarray(depth, dtype=np.float32)
    if vmax is None:
        vmax = view_scale(depth, inverse)
    scale = (COLOR_STEPS - 1) / max(float(vmax), 1e-12)
    # uint8 conversion saturates at 255 but wraps past 2^31 on x86: values that would
    # overflow (depth within 2^-31 of zero, or beyond 2^31 view units) count as invalid
    if inverse:
        index = cv2.divide(scale, depth, dtype=cv2.CV_8U)
        valid = cv2.inRange(depth, max(scale / 2.0 ** 31, TINY), FLOAT_MAX)
    else:
        index = cv2.multiply(depth, scale, dtype=cv2.CV_8U)
        valid = cv2.inRange(depth, TINY, min(2.0 ** 31 / scale, FLOAT_MAX))
    index = cv2.min(index, COLOR_STEPS - 1, dst=index)
    index = cv2.add(index, 1, dst=index)
    index = cv2.bitwise_and(index, valid, dst=index)   # invalid -> 0 (black)
    return cv2.applyColorMap(index, color_table(colormap))


def colorize_view(values: np.ndarray, box: CropBox, camera_shape: Tuple[int, int],
                  inverse: bool = False) -> np.ndarray:
    """Colour a map, then resize it into a camera-sized bgr8 image: the node's depth/colorized.

    `values` is inverse depth (`inverse` False: the host path's network map, scaled) or depth
    (`inverse` True: an in-graph model's camera-size depth, which is already on the host, so
    its disparity never has to leave the GPU). The view is scale-free (its range is a
    percentile of the map itself), so model units and metres colour alike. Colouring the
    network's h x w map and resizing the bgr image into the crop `box` of a camera-sized black
    image costs one resize at camera size, where colouring after upsampling costs a float
    pass, a mask and a lookup there (3 ms against under 1 ms at 1280x960, docs/benchmarks.md).
    Bilinear colours between two neighbours of the colormap are a viewer's approximation; the
    depth images are exact. A map already at camera size (NaN outside the crop, which colours
    black) is coloured at half size and resized over the whole frame, for the same cost.
    """
    if values.shape == tuple(camera_shape):
        values, box = values[::2, ::2], (0, camera_shape[0], 0, camera_shape[1])
    view = colorize(values, inverse=inverse)
    top, bottom, left, right = box
    out = np.empty((*camera_shape, 3), dtype=np.uint8)   # each byte written once
    out[:top] = 0
    out[bottom:] = 0
    rows = out[top:bottom]
    if left == 0 and right == camera_shape[1]:   # contiguous rows: resize straight into them
        cv2.resize(view, (right - left, bottom - top), dst=rows, interpolation=cv2.INTER_LINEAR)
    else:
        rows[:, :left] = 0
        rows[:, right:] = 0
        rows[:, left:right] = cv2.resize(view, (right - left, bottom - top),
                                         interpolation=cv2.INTER_LINEAR)
    return out


def view_scale(depth: np.ndarray, inverse: bool = True) -> float:
    """95th percentile of the valid (inverse) depth on a grid of about 16k pixels (1.0 if none).

    A grid sample is plenty to scale a view, at a small fraction of partitioning every pixel.
    """
    step = max(1, int(np.sqrt(depth.size / PERCENTILE_SAMPLES)))
    sample = depth[::step, ::step]
    sample = sample[(sample > 0) & (sample < np.inf)]
    if not sample.size:
        return 1.0
    sample = np.reciprocal(sample) if inverse else sample
    rank = round(0.95 * (sample.size - 1))   # nearest rank: a partition, not a sort
    return float(np.partition(sample, rank)[rank])


@functools.lru_cache(maxsize=None)
def color_table(colormap: int) -> np.ndarray:
    """256x1x3 bgr lookup table: black at 0, then `colormap` from its first to its last colour."""
    full = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], colormap)
    table = np.zeros_like(full)
    steps = np.arange(COLOR_STEPS) * 255.0 / (COLOR_STEPS - 1)
    table[1:] = full[np.round(steps).astype(np.intp)]
    return table
