# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ADDS losses: photometric, smoothness, reconstruction, similarity, orthogonality.

Each returns a scalar (or a per-pixel map where named so); weights live in
`LossWeights`. Deliberate differences from the reference code are listed in docs/model.md.
"""

import dataclasses
from typing import Sequence

import torch
import torch.nn.functional as F

SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2
TIE_NOISE = 1e-5


@dataclasses.dataclass
class LossWeights:
    """Weight of every loss term (defaults: the reference code's values)."""

    ssim: float = 0.85                 # photometric mix: ssim*(1-SSIM)/2 + (1-ssim)*L1
    smoothness: float = 1e-3           # divided by 2**scale
    reconstruction_mse: float = 1.0
    reconstruction_simse: float = 1.0  # DSN's scale-invariant MSE
    similarity: float = 1.0
    orthogonality_code: float = 0.5
    orthogonality_gram: float = 1.0


def _pool3x3(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode='reflect'), 3, 1)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-pixel, per-channel SSIM index over 3x3 windows (reflection-padded), same shape."""
    mu_x, mu_y = _pool3x3(x), _pool3x3(y)
    sigma_x = _pool3x3(x * x) - mu_x ** 2
    sigma_y = _pool3x3(y * y) - mu_y ** 2
    sigma_xy = _pool3x3(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + SSIM_C1) * (2 * sigma_xy + SSIM_C2)
    denominator = (mu_x ** 2 + mu_y ** 2 + SSIM_C1) * (sigma_x + sigma_y + SSIM_C2)
    return numerator / denominator


def photometric_error(pred: torch.Tensor, target: torch.Tensor,
                      ssim_weight: float = 0.85) -> torch.Tensor:
    """Bx1xHxW error: ssim_weight * (1 - SSIM) / 2 + (1 - ssim_weight) * L1, channel mean."""
    l1 = (target - pred).abs().mean(1, True)
    dssim = ((1 - ssim(pred, target)) / 2).clamp(0, 1).mean(1, True)
    return ssim_weight * dssim + (1 - ssim_weight) * l1


def reprojection_loss(warped_errors: Sequence[torch.Tensor],
                      identity_errors: Sequence[torch.Tensor] = ()) -> torch.Tensor:
    """Mean over pixels of the per-pixel minimum over source frames, with auto-masking.

    `warped_errors`: photometric errors of each warped source against the target.
    `identity_errors`: errors of each *un-warped* source (empty disables auto-masking); tiny
    noise breaks ties, so a pixel where not moving explains the target best is masked out.
    """
    if not warped_errors:
        raise ValueError('reprojection_loss needs at least one source frame')
    candidates = list(warped_errors)
    candidates += [e + torch.randn_like(e) * TIE_NOISE for e in identity_errors]
    return torch.cat(candidates, 1).min(1).values.mean()


def smoothness_loss(disp: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Edge-aware smoothness of the mean-normalised disparity (image gradients damp it)."""
    disp = disp / (disp.mean((2, 3), keepdim=True) + 1e-7)
    grad_disp_x = (disp[..., :, :-1] - disp[..., :, 1:]).abs()
    grad_disp_y = (disp[..., :-1, :] - disp[..., 1:, :]).abs()
    grad_img_x = (image[..., :, :-1] - image[..., :, 1:]).abs().mean(1, True)
    grad_img_y = (image[..., :-1, :] - image[..., 1:, :]).abs().mean(1, True)
    return ((grad_disp_x * torch.exp(-grad_img_x)).mean()
            + (grad_disp_y * torch.exp(-grad_img_y)).mean())


def scale_invariant_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Scale-invariant MSE of DSN: (1/k)·Σd² − (1/k²)·(Σd)² per sample, batch mean.

    k is the number of values per sample; a constant offset between pred and target costs 0.
    """
    d = (target - pred).flatten(1)
    return (d.pow(2).mean(1) - d.mean(1).pow(2)).mean()


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor,
                        mse_weight: float = 1.0, simse_weight: float = 1.0) -> torch.Tensor:
    """MSE + scale-invariant MSE between the reconstruction and the (augmented) input."""
    if recon.shape != target.shape:
        raise ValueError(f'reconstruction {tuple(recon.shape)} != target {tuple(target.shape)}')
    return (mse_weight * F.mse_loss(recon, target)
            + simse_weight * scale_invariant_mse(recon, target))


def similarity_loss(night_disp: torch.Tensor, day_disp: torch.Tensor) -> torch.Tensor:
    """MSE pulling the night disparity to the paired day disparity (day is not trained)."""
    return F.mse_loss(night_disp, day_disp.detach())


def orthogonality_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of (x·y)² / dim, x and y the flattened per-sample tensors."""
    x, y = a.flatten(1), b.flatten(1)
    if x.shape != y.shape:
        raise ValueError(f'orthogonality needs equal shapes, got {tuple(a.shape)}, '
                         f'{tuple(b.shape)}')
    return ((x * y).sum(1).pow(2) / x.shape[1]).mean()


def gram_matrix(f: torch.Tensor) -> torch.Tensor:
    """Gram matrix F Fᵀ / (C·H·W) of BxCxHxW features (BxCxC)."""
    batch, channels, height, width = f.shape
    flat = f.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)
