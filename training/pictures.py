# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Pictures for people: grids of RGB panels, colourised depth, labels, compressed PNG files.

The demo's picture (input | depth | ground truth), the CycleGAN's samples (day | fake night |
night) and the synthetic world's contact sheet (day | night render | depth) are all grids of
equal-sized panels; this module draws them all. Panels are RGB uint8 (the project's image
convention); depth for the vehicle's view is coloured by `adds_ros.postprocess.colorize`, the
node's own colouring, so the demo shows what `depth/colorized` shows.
"""

from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np

from adds_ros.atomic import write_bytes_atomic
from adds_ros.postprocess import colorize

PANEL_WIDTH = 384   # small panels are enlarged towards this, so a picture in the docs is legible


def grid(rows: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """Lay panels side by side per row and stack the rows (one image, panels' dtype)."""
    return np.concatenate([np.concatenate(list(row), 1) for row in rows], 0)


def fit(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a panel to height x width (area averaging: the panels are photographs)."""
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def depth_rgb(depth: np.ndarray, vmax: Optional[float] = None) -> np.ndarray:
    """Colour depth as the node's `depth/colorized` does (inverse depth), as an RGB panel."""
    return cv2.cvtColor(colorize(depth, vmax=vmax), cv2.COLOR_BGR2RGB)


def log_depth_rgb(depth: np.ndarray, near: float = 2.0, far: float = 80.0) -> np.ndarray:
    """Colour depth on a log scale from near (bright) to far (dark), invalid black (RGB).

    For exact ground truth, whose range (a street to the horizon) inverse depth would squeeze
    into the darkest colours.
    """
    closeness = 1 - np.log(np.clip(depth, near, far) / near) / np.log(far / near)
    bgr = cv2.applyColorMap(np.round(closeness * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    bgr[depth <= 0] = 0
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def unit_rgb(values: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """Colour values from 0 (dark) to `vmax` (bright) with magma, NaN black (RGB).

    For per-pixel maps that are not depth: uncertainty and error.
    """
    level = np.clip(np.nan_to_num(values / vmax, nan=0.0), 0, 1)
    bgr = cv2.applyColorMap(np.round(level * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    bgr[np.isnan(values)] = 0
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def panel_scale(width: int) -> int:
    """Integer enlargement of a panel (nearest neighbour: every network pixel stays visible)."""
    return max(1, PANEL_WIDTH // width)


def labelled(panel: np.ndarray, label: str, scale: int = 1) -> np.ndarray:
    """Enlarge a panel `scale` times (nearest) and write `label` top left, outlined to show."""
    panel = cv2.resize(panel, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(panel, label, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, thickness,
                    cv2.LINE_AA)
    return panel


def depth_strip(rgb: np.ndarray, depth: np.ndarray, gt: np.ndarray,
                labels: Sequence[str]) -> np.ndarray:
    """Input | depth | ground truth as one labelled RGB strip; both depths share one scale."""
    valid = gt > 0
    vmax = float(np.percentile(1.0 / gt[valid], 95)) if valid.any() else None
    scale = panel_scale(rgb.shape[1])
    panels = (rgb, depth_rgb(depth, vmax), depth_rgb(gt, vmax))
    return grid([[labelled(panel, label, scale) for panel, label in zip(panels, labels)]])


def save_png(path: Union[str, Path], rgb: np.ndarray) -> None:
    """Write an RGB picture as a maximally compressed PNG, atomically (pictures live in docs)."""
    ok, data = cv2.imencode('.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise OSError(f'cannot encode picture {path}')
    write_bytes_atomic(path, data.tobytes())
