# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Geometry: depth range, intrinsics scaling, projection round trips, pose matrices."""

import math

import pytest
import torch

from adds_training.geometry import (backproject, disp_to_depth, grid_to_pixels, pixel_grid,
                                    pixel_intrinsics, pose_vec_to_mat, project)

K_NORM = torch.tensor([[0.768, 0, 0.503], [0, 1.536, 0.521], [0, 0, 1]], dtype=torch.float64)


def _k(batch: int, height: int, width: int) -> torch.Tensor:
    return pixel_intrinsics(K_NORM, width, height).expand(batch, 4, 4)


def test_disp_to_depth_spans_the_range():
    scaled, depth = disp_to_depth(torch.tensor([0.0, 1.0]), 0.1, 100.0)
    assert torch.allclose(depth, torch.tensor([100.0, 0.1]))
    assert torch.allclose(scaled * depth, torch.ones(2))
    with pytest.raises(ValueError):
        disp_to_depth(torch.zeros(1), 10.0, 1.0)


def test_pixel_intrinsics_scale_rows():
    k = pixel_intrinsics(K_NORM, 512, 256, scale=1)
    assert k.shape == (4, 4) and k.dtype == torch.float64
    assert math.isclose(k[0, 0], 0.768 * 256) and math.isclose(k[1, 2], 0.521 * 128)
    assert k[3, 3] == 1 and k[2, 2] == 1
    assert pixel_intrinsics(K_NORM.expand(3, 3, 3), 64, 32).shape == (3, 4, 4)
    with pytest.raises(ValueError, match='3x3 or 4x4'):
        pixel_intrinsics(torch.eye(2), 64, 32)


def test_project_backproject_round_trip_returns_pixel_grid():
    torch.manual_seed(0)
    batch, height, width = 2, 8, 12
    k = _k(batch, height, width)
    depth = torch.rand(batch, 1, height, width, dtype=torch.float64) * 50 + 1
    points = backproject(depth, torch.linalg.inv(k))
    assert torch.allclose(points[:, 2], depth.reshape(batch, -1))
    identity = torch.eye(4, dtype=torch.float64).expand(batch, 4, 4)
    grid = project(points, k, identity, height, width)
    pixels = grid_to_pixels(grid, height, width).permute(0, 3, 1, 2).reshape(batch, 2, -1)
    expected = pixel_grid(height, width, depth)[:2].expand(batch, 2, -1)
    assert torch.allclose(pixels, expected, atol=1e-9)


def test_sideways_motion_shifts_pixels_by_focal_times_baseline_over_depth():
    height, width, depth_m, shift_m = 8, 16, 10.0, 0.5
    k = _k(1, height, width)
    depth = torch.full((1, 1, height, width), depth_m, dtype=torch.float64)
    t = pose_vec_to_mat(torch.zeros(1, 3, dtype=torch.float64),
                        torch.tensor([[shift_m, 0, 0]], dtype=torch.float64))
    grid = project(backproject(depth, torch.linalg.inv(k)), k, t, height, width)
    moved = grid_to_pixels(grid, height, width)
    fx = float(k[0, 0, 0])
    assert torch.allclose(moved[..., 0] - pixel_grid(height, width, depth)[0].reshape(
        height, width), torch.full((1, height, width), fx * shift_m / depth_m,
                                   dtype=torch.float64))


def test_pose_vec_to_mat_rotation_and_inverse():
    torch.manual_seed(1)
    axisangle = torch.randn(4, 1, 3)
    translation = torch.randn(4, 1, 3)
    t = pose_vec_to_mat(axisangle, translation)
    rotation = t[:, :3, :3]
    assert t.shape == (4, 4, 4)
    assert torch.allclose(rotation @ rotation.transpose(1, 2), torch.eye(3).expand(4, 3, 3),
                          atol=1e-5)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(4), atol=1e-5)
    inverse = pose_vec_to_mat(axisangle, translation, invert=True)
    assert torch.allclose(t @ inverse, torch.eye(4).expand(4, 4, 4), atol=1e-5)
    quarter = pose_vec_to_mat(torch.tensor([[0, 0, math.pi / 2]]), torch.zeros(1, 3))
    assert torch.allclose(quarter[0, :3, :3] @ torch.tensor([1.0, 0, 0]),
                          torch.tensor([0.0, 1, 0]), atol=1e-6)


def test_zero_rotation_is_identity_with_finite_gradient():
    axisangle = torch.zeros(2, 3, requires_grad=True)
    t = pose_vec_to_mat(axisangle, torch.zeros(2, 3))
    assert torch.allclose(t, torch.eye(4).expand(2, 4, 4))
    t.sum().backward()
    assert torch.isfinite(axisangle.grad).all()


def test_warp_under_bf16_autocast_matches_fp32_within_005_px():
    # The reference geometry at 512x256: bf16 matmuls put pixels up to ~8 px off (issue 19).
    from adds_training.objectives import sampling_grid, warp

    torch.manual_seed(0)
    batch, height, width = 2, 256, 512
    k = _k(batch, height, width).float()
    depth = torch.rand(batch, 1, height, width) * 30 + 2
    t = pose_vec_to_mat(torch.tensor([[0.01, -0.02, 0.005]]).expand(batch, 3),
                        torch.tensor([[0.1, 0.02, -0.9]]).expand(batch, 3))
    image = torch.rand(batch, 3, height, width)
    inv_k = torch.linalg.inv(k)
    reference = grid_to_pixels(sampling_grid(depth, k, inv_k, t), height, width)
    reference_image = warp(image, depth, k, inv_k, t)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        grid = sampling_grid(depth, k, inv_k, t)
        warped = warp(image, depth, k, inv_k, t)
    assert grid.dtype == torch.float32 and warped.dtype == torch.float32
    assert float((grid_to_pixels(grid, height, width) - reference).abs().max()) < 0.05
    assert torch.allclose(warped, reference_image, atol=1e-4)
