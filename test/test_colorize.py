# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The colourised depth view: colormap, scale, black for no measurement (speed: adds bench)."""

import cv2
import numpy as np
import pytest

from adds_ros.postprocess import (color_table, colorize, colorize_view, scale_disparity,
                                  upsample_into_camera, view_scale)

MAGMA = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_MAGMA)[:, 0]


def depth_with_holes(seed: int = 0) -> np.ndarray:
    """A camera-size-like depth map: smooth range, NaN rows, zeros, negatives and infinities."""
    rng = np.random.default_rng(seed)
    depth = cv2.resize(rng.uniform(1.0, 60.0, (24, 32)).astype(np.float32), (320, 240))
    depth[:40] = np.nan
    holes = rng.random(depth.shape) < 0.02
    depth[holes] = rng.choice(np.array([0.0, -0.0, -3.0, np.inf, -np.inf], np.float32),
                              holes.sum())
    return depth


def expected_index(values: np.ndarray, vmax: float) -> np.ndarray:
    """Lookup index of valid values: 1 + round(254 * value / vmax), 255 at and above vmax."""
    return 1 + np.minimum(np.round(254.0 * values.astype(np.float64) / vmax), 254).astype(int)


@pytest.mark.parametrize('inverse', [True, False])
def test_invalid_pixels_are_black_and_valid_ones_follow_the_colormap(inverse):
    depth = depth_with_holes()
    valid = np.isfinite(depth) & (depth > 0)
    vmax = 0.5 if inverse else 40.0
    bgr = colorize(depth, inverse=inverse, vmax=vmax)
    assert bgr.shape == (*depth.shape, 3) and bgr.dtype == np.uint8
    np.testing.assert_array_equal(bgr.sum(2) == 0, ~valid)
    values = 1.0 / depth[valid] if inverse else depth[valid]
    index = expected_index(values, vmax)
    matches = (bgr[valid] == color_table(cv2.COLORMAP_MAGMA)[index, 0]).all(1)
    assert matches.mean() > 0.999  # float32 vs float64 rounding at exact half steps only
    assert (values >= vmax).any() and (values < vmax / 4).any()


def test_the_table_spans_the_whole_colormap_with_black_first():
    table = color_table(cv2.COLORMAP_MAGMA)[:, 0]
    assert table[0].sum() == 0
    np.testing.assert_array_equal(table[1], MAGMA[0])
    np.testing.assert_array_equal(table[255], MAGMA[255])
    sampled = np.round(np.arange(255) * 255 / 254).astype(int)
    np.testing.assert_array_equal(table[1:], MAGMA[sampled])


def test_near_is_bright_far_is_dark_and_extremes_saturate():
    depth = np.array([[1.0, 50.0, 0.5, 1e6]], np.float32)
    bgr = colorize(depth, vmax=1.0).astype(int)
    assert bgr[0, 0].sum() > bgr[0, 1].sum() > bgr[0, 3].sum() > 0
    np.testing.assert_array_equal(bgr[0, 0], bgr[0, 2])  # 1/0.5 > vmax: the brightest colour
    np.testing.assert_array_equal(bgr[0, 3], MAGMA[0])    # ~0 inverse depth: the darkest


def test_without_vmax_the_95th_percentile_scales_the_view():
    depth = depth_with_holes(1)
    valid = np.isfinite(depth) & (depth > 0)
    full = float(np.percentile(1.0 / depth[valid], 95))
    assert view_scale(depth) == pytest.approx(full, rel=0.02)
    assert view_scale(depth, inverse=False) == pytest.approx(
        float(np.percentile(depth[valid], 95)), rel=0.02)
    np.testing.assert_array_equal(colorize(depth), colorize(depth, vmax=view_scale(depth)))
    assert view_scale(np.full((4, 4), np.nan, np.float32)) == 1.0
    assert colorize(np.full((2, 2), np.nan, np.float32)).sum() == 0


def test_tiny_positive_depth_cannot_wrap_to_a_dark_colour():
    # 1/1e-30 overflows uint8 conversion on x86 (wraps to 0): such pixels are invalid, not far
    bgr = colorize(np.array([[1e-30, 1.0]], np.float32), vmax=1.0)
    assert bgr[0, 0].sum() == 0 and bgr[0, 1].sum() > 0


def smooth_disparity(shape=(32, 64), seed: int = 2) -> np.ndarray:
    """A network-like sigmoid disparity: smooth, in (0, 1)."""
    coarse = np.random.default_rng(seed).uniform(0.02, 0.9, (4, 8)).astype(np.float32)
    return cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC).clip(0.01, 0.99)


@pytest.mark.parametrize('box', [(40, 200, 0, 320), (30, 210, 16, 304)])
def test_the_node_view_matches_colouring_the_upsampled_depth(box):
    """Colour then resize (the node) ~ resize then colour (exact); black outside the crop."""
    disparity, camera = smooth_disparity(), (240, 320)
    view = colorize_view(scale_disparity(disparity, 0.1, 100.0), box, camera)
    inverse = upsample_into_camera(scale_disparity(disparity, 0.1, 100.0), box, camera)
    exact = colorize(inverse, inverse=False)
    top, bottom, left, right = box
    inside = np.zeros(camera, bool)
    inside[top:bottom, left:right] = True
    assert view.shape == (*camera, 3) and view.dtype == np.uint8
    assert (view[~inside] == 0).all() and (view[inside].sum(1) > 0).all()
    error = np.abs(view.astype(int) - exact)[inside]
    assert np.median(error) <= 1 and np.percentile(error, 99) <= 6


def test_a_camera_sized_depth_is_coloured_at_half_size_and_the_view_is_scale_free():
    """An in-graph model's view: its camera-size depth (NaN outside the crop), not disparity."""
    disparity = np.full((240, 320), np.nan, np.float32)
    disparity[60:] = cv2.resize(smooth_disparity(), (320, 180))
    inverse = scale_disparity(disparity, 0.1, 100.0)
    view = colorize_view(1.0 / inverse, (60, 240, 0, 320), (240, 320), inverse=True)
    exact = colorize(inverse, inverse=False)
    np.testing.assert_array_equal(exact, colorize(1.0 / inverse))   # depth in model units
    metres = colorize(np.float32(7.5) / inverse)        # any metric scale colours alike
    assert (np.abs(metres.astype(int) - exact) > 3).mean() < 0.001
    assert view.shape == exact.shape
    np.testing.assert_array_equal(view[:59], 0)         # the crop edge blends over one row
    error = np.abs(view.astype(int) - exact)[61:]
    assert np.median(error) <= 1 and np.percentile(error, 99) <= 6
