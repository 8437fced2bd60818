# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A made-up camera picture: smooth, noisy, in any encoding's layout the node takes."""

import numpy as np


def camera_frame(encoding: str, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Make a camera picture in `encoding`'s layout: a smooth scene with sensor noise."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 128, width, dtype=np.float32)[None, :]
    scene = (rows * 0.7 + cols * 0.3)[..., None] + rng.normal(0, 8, (height, width, 3))
    rgb = np.clip(scene, 0, 255).astype(np.uint8)
    return rgb[..., 1].copy() if encoding.startswith('bayer') else rgb
