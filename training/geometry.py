# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Camera geometry for view synthesis: disparity -> depth, back-projection, projection, poses.

All functions are batched over B and create their tensors on the input's device and dtype.
Conventions: pixel K is 4x4 (Monodepth2's layout), poses map points of the target camera into
the source camera, pixel centres sit at integer coordinates.
"""

import contextlib
from typing import ContextManager, Tuple

import torch


def full_precision(like: torch.Tensor) -> ContextManager:
    """Switch autocast off on `like`'s device: geometry must run in fp32 (inputs .float())."""
    if torch.is_autocast_enabled(like.device.type):
        return torch.autocast(like.device.type, enabled=False)
    return contextlib.nullcontext()


def disp_to_depth(disp: torch.Tensor, min_depth: float = 0.1,
                  max_depth: float = 100.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Map sigmoid output to (scaled disparity, depth) with depth in [min_depth, max_depth]."""
    if not 0 < min_depth < max_depth:
        raise ValueError(f'need 0 < min_depth < max_depth, got {min_depth}, {max_depth}')
    min_disp, max_disp = 1.0 / max_depth, 1.0 / min_depth
    scaled_disp = min_disp + (max_disp - min_disp) * disp
    return scaled_disp, 1.0 / scaled_disp


def pixel_intrinsics(k_normalised: torch.Tensor, width: int, height: int,
                     scale: int = 0) -> torch.Tensor:
    """Normalised K (3x3 or 4x4, optionally batched) -> 4x4 pixel K for the image at `scale`.

    Row 0 is multiplied by width / 2**scale and row 1 by height / 2**scale.
    """
    if k_normalised.shape[-2:] not in ((3, 3), (4, 4)):
        raise ValueError(f'K must be 3x3 or 4x4, got shape {tuple(k_normalised.shape)}')
    k = torch.zeros(k_normalised.shape[:-2] + (4, 4), dtype=k_normalised.dtype,
                    device=k_normalised.device)
    k[..., :3, :3] = k_normalised[..., :3, :3]
    k[..., 3, 3] = 1.0
    k[..., 0, :] *= width / 2 ** scale
    k[..., 1, :] *= height / 2 ** scale
    return k


def pixel_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Homogeneous pixel coordinates 3x(H*W), rows (x, y, 1), on `like`'s device/dtype."""
    ys, xs = torch.meshgrid(torch.arange(height, dtype=like.dtype, device=like.device),
                            torch.arange(width, dtype=like.dtype, device=like.device),
                            indexing='ij')
    return torch.stack([xs.reshape(-1), ys.reshape(-1), torch.ones_like(xs).reshape(-1)])


def backproject(depth: torch.Tensor, inv_k: torch.Tensor) -> torch.Tensor:
    """Bx1xHxW depth + Bx4x4 inverse K -> Bx4x(H*W) homogeneous camera points."""
    batch, _, height, width = depth.shape
    rays = inv_k[:, :3, :3] @ pixel_grid(height, width, depth)
    points = rays * depth.reshape(batch, 1, -1)
    return torch.cat([points, torch.ones_like(points[:, :1])], 1)


def project(points: torch.Tensor, k: torch.Tensor, t: torch.Tensor, height: int, width: int,
            eps: float = 1e-7) -> torch.Tensor:
    """Bx4xN points, pixel K, pose T -> BxHxWx2 sampling grid in [-1, 1] for grid_sample."""
    camera = (k @ t)[:, :3, :] @ points
    pixels = camera[:, :2] / (camera[:, 2:3] + eps)
    pixels = pixels.reshape(points.shape[0], 2, height, width).permute(0, 2, 3, 1)
    size = torch.tensor([width - 1, height - 1], dtype=points.dtype, device=points.device)
    return pixels / size * 2.0 - 1.0


def grid_to_pixels(grid: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of the normalisation in `project`: BxHxWx2 grid -> pixel coordinates."""
    size = torch.tensor([width - 1, height - 1], dtype=grid.dtype, device=grid.device)
    return (grid + 1.0) / 2.0 * size


def rotation_from_axisangle(axisangle: torch.Tensor) -> torch.Tensor:
    """Bx3 axis-angle -> Bx3x3 rotation (Rodrigues), stable at zero angle."""
    angle = axisangle.norm(dim=-1, keepdim=True)
    axis = axisangle / (angle + 1e-7)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    cross = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(-1, 3, 3)
    eye = torch.eye(3, dtype=axisangle.dtype, device=axisangle.device).expand_as(cross)
    sin, cos = torch.sin(angle)[..., None], torch.cos(angle)[..., None]
    return eye + sin * cross + (1 - cos) * (cross @ cross)


def pose_vec_to_mat(axisangle: torch.Tensor, translation: torch.Tensor,
                    invert: bool = False) -> torch.Tensor:
    """Axis-angle + translation (Bx3 or Bx1x3) -> Bx4x4 rigid transform [R | t].

    `invert` returns the inverse transform, used for a source frame earlier than the target
    (the pose network always sees frames in time order).
    """
    rotation = rotation_from_axisangle(axisangle.reshape(-1, 3))
    translation = translation.reshape(-1, 3, 1)
    if invert:
        rotation = rotation.transpose(1, 2)
        translation = -rotation @ translation
    top = torch.cat([rotation, translation], 2)
    bottom = torch.zeros_like(top[:, :1])
    bottom[:, 0, 3] = 1.0
    return torch.cat([top, bottom], 1)
