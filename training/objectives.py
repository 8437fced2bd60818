# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The training objectives for one batch: full ADDS, and the Monodepth2 baseline.

Batch format (all images RGB in [0, 1], Bx3xHxW, H and W multiples of 32):
- `batch[domain][frame_id]` for domain 'day' / 'night' and frame ids 0, -1, 1: the frames the
  photometric loss compares (not colour-augmented). Night frame i is the fake-night twin of day
  frame i.
- `batch[domain + '_aug'][frame_id]` (optional, defaults to the above): the colour-augmented
  frames the networks see; also the reconstruction target.
- `batch['K']`, `batch['inv_K']`: Bx4x4 pixel intrinsics at scale 0 and their inverse.
"""

from typing import Dict, List, Mapping, Optional

import torch
import torch.nn.functional as F

from .geometry import backproject, disp_to_depth, pose_vec_to_mat, project
from .losses import (gram_matrix, LossWeights, orthogonality_loss, photometric_error,
                     reconstruction_loss, reprojection_loss, similarity_loss, smoothness_loss)
from .networks.adds import ADDSModel

FRAME_IDS = (0, -1, 1)
SOURCE_IDS = (-1, 1)
Frames = Mapping[int, torch.Tensor]


def _frames(batch: Mapping, key: str) -> Frames:
    if key not in batch:
        raise KeyError(f"batch has no {key!r} frames (keys: {sorted(map(str, batch))})")
    frames = batch[key]
    missing = [f for f in FRAME_IDS if f not in frames]
    if missing:
        raise KeyError(f'batch[{key!r}] lacks frame ids {missing}')
    return frames


def _network_frames(batch: Mapping, domain: str) -> Frames:
    """Return the frames the networks see: the colour-augmented ones where given."""
    return _frames(batch, f'{domain}_aug' if f'{domain}_aug' in batch else domain)


def source_transforms(model: ADDSModel, frames_aug: Frames) -> Dict[int, torch.Tensor]:
    """Target->source camera transform per source frame; pose input always in time order."""
    transforms = {}
    for fid in SOURCE_IDS:
        pair = (frames_aug[fid], frames_aug[0]) if fid < 0 else (frames_aug[0], frames_aug[fid])
        axisangle, translation = model.pose(*pair)
        transforms[fid] = pose_vec_to_mat(axisangle, translation, invert=fid < 0)
    return transforms


def warp(source: torch.Tensor, depth: torch.Tensor, k: torch.Tensor, inv_k: torch.Tensor,
         t: torch.Tensor) -> torch.Tensor:
    """Synthesise the target view by sampling `source` where target pixels land in it."""
    height, width = depth.shape[-2:]
    grid = project(backproject(depth, inv_k), k, t, height, width)
    return F.grid_sample(source, grid, padding_mode='border', align_corners=True)


def view_synthesis_loss(frames: Frames, disps: List[torch.Tensor],
                        transforms: Mapping[int, torch.Tensor], k: torch.Tensor,
                        inv_k: torch.Tensor, weights: LossWeights, min_depth: float,
                        max_depth: float) -> torch.Tensor:
    """Photometric (min over sources, auto-masked) + smoothness, averaged over scales."""
    target = frames[0]
    size = target.shape[-2:]
    identity = [photometric_error(frames[f], target, weights.ssim) for f in SOURCE_IDS]
    total = target.new_zeros(())
    for scale, disp in enumerate(disps):
        full = F.interpolate(disp, size, mode='bilinear', align_corners=False)
        _, depth = disp_to_depth(full, min_depth, max_depth)
        warped = [photometric_error(warp(frames[f], depth, k, inv_k, transforms[f]), target,
                                    weights.ssim) for f in SOURCE_IDS]
        image = F.interpolate(target, disp.shape[-2:], mode='area') if scale else target
        total = total + reprojection_loss(warped, identity)
        total = total + weights.smoothness * smoothness_loss(disp, image) / 2 ** scale
    return total / len(disps)


def compute_monodepth2_losses(model: ADDSModel, batch: Mapping,
                              weights: Optional[LossWeights] = None, domain: str = 'day',
                              min_depth: float = 0.1,
                              max_depth: float = 100.0) -> Dict[str, torch.Tensor]:
    """Compute the Monodepth2 baseline on one domain: {'view_synthesis/<domain>', 'loss'}."""
    weights = weights or LossWeights()
    frames = _frames(batch, domain)
    frames_aug = _network_frames(batch, domain)
    disps = model.depth(model.invariant_features(frames_aug[0], domain))
    loss = view_synthesis_loss(frames, disps, source_transforms(model, frames_aug), batch['K'],
                               batch['inv_K'], weights, min_depth, max_depth)
    return {f'view_synthesis/{domain}': loss, 'loss': loss}


def compute_adds_losses(model: ADDSModel, batch: Mapping, weights: Optional[LossWeights] = None,
                        min_depth: float = 0.1,
                        max_depth: float = 100.0) -> Dict[str, torch.Tensor]:
    """Compute the full ADDS objective; every entry is already weighted and 'loss' is their sum.

    Each domain is processed with its own frames (the day branch uses the day frames). The
    camera motion is predicted once, from the day frames, and serves both domains: a fake-night
    twin has exactly the day frame's geometry.
    """
    weights = weights or LossWeights()
    terms: Dict[str, torch.Tensor] = {}
    day_night_disp = {}
    transforms = source_transforms(model, _network_frames(batch, 'day'))
    for domain in ('day', 'night'):
        frames = _frames(batch, domain)
        frames_aug = _network_frames(batch, domain)
        features = model.invariant_features(frames_aug[0], domain)
        disps = model.depth(features)
        day_night_disp[domain] = disps[0]
        terms[f'view_synthesis/{domain}'] = view_synthesis_loss(
            frames, disps, transforms, batch['K'], batch['inv_K'], weights, min_depth, max_depth)
        private4, invariant4 = model.private_features(frames_aug[0], domain), features[-1]
        terms[f'reconstruction/{domain}'] = reconstruction_loss(
            model.reconstruct(private4, invariant4), frames_aug[0],
            weights.reconstruction_mse, weights.reconstruction_simse)
        private_code, invariant_code = model.codes(private4, invariant4, domain)
        terms[f'orthogonality_code/{domain}'] = (
            weights.orthogonality_code * orthogonality_loss(private_code, invariant_code))
        terms[f'orthogonality_gram/{domain}'] = weights.orthogonality_gram * orthogonality_loss(
            gram_matrix(private4), gram_matrix(invariant4))
    terms['similarity'] = weights.similarity * similarity_loss(day_night_disp['night'],
                                                               day_night_disp['day'])
    terms['loss'] = torch.stack(list(terms.values())).sum()
    return terms
