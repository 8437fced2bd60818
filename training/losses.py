# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The ADDS losses: photometric, smoothness, reconstruction, similarity, orthogonality.

Each returns a scalar (or a per-pixel map where named so); weights live in
`LossWeights`. Deliberate differences from the reference code are listed in docs/model.md.
"""

import dataclasses
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2
TIE_NOISE = 1e-5


BALANCES = ('reference', 'normalised')
# What `balance` sets where a field is left None: (reference, normalised) formulation or weight
# of the three terms whose scale the reference leaves to chance. Why and the measured gradient
# norms: docs/model.md, "Loss balance".
BALANCE_DEFAULTS = {
    'code_form': ('reference', 'dsn'),
    'gram_form': ('reference', 'cosine'),
    'similarity_form': ('reference', 'scale_free'),
    'orthogonality_code': (0.5, 0.5),
    'orthogonality_gram': (1.0, 0.01),
    'similarity': (1.0, 10.0),
}


@dataclasses.dataclass
class LossWeights:
    """Weight and formulation of every loss term (defaults: the reference code's).

    `balance` picks the formulation (and weight) of the three terms whose scale the reference
    leaves to chance: 'reference' (the authors' formulas and weights) or 'normalised'
    (scale-free versions bounded by 1, weighted so that no term's gradient on the shared
    encoder is orders of magnitude off the photometric one). Fields left None follow it.
    """

    ssim: float = 0.85                 # photometric mix: ssim*(1-SSIM)/2 + (1-ssim)*L1
    smoothness: float = 1e-3           # divided by 2**scale
    reconstruction_mse: float = 1.0
    reconstruction_simse: float = 1.0  # DSN's scale-invariant MSE
    similarity: Optional[float] = None
    orthogonality_code: Optional[float] = None
    orthogonality_gram: Optional[float] = None
    balance: str = 'reference'
    code_form: Optional[str] = None        # 'reference' (x·y)²/dim | 'dsn' difference loss
    gram_form: Optional[str] = None        # 'reference' (x·y)²/dim | 'cosine' cos²
    similarity_form: Optional[str] = None  # 'reference' sigmoid | 'scale_free' mean-normalised

    def __post_init__(self) -> None:
        if self.balance not in BALANCES:
            raise ValueError(f'loss.balance must be one of {BALANCES}, got {self.balance!r}')
        for name, values in BALANCE_DEFAULTS.items():
            if getattr(self, name) is None:
                setattr(self, name, values[BALANCES.index(self.balance)])
            elif name.endswith('_form') and getattr(self, name) not in values:
                raise ValueError(f'loss.{name} must be one of {values}, got '
                                 f'{getattr(self, name)!r}')


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


def mean_normalised(disp: torch.Tensor) -> torch.Tensor:
    """Divide each sample's disparity by its mean: the scale-free shape of the depth map."""
    return disp / (disp.mean((1, 2, 3), keepdim=True) + 1e-7)


def similarity_loss(night_disp: torch.Tensor, day_disp: torch.Tensor,
                    form: str = 'reference') -> torch.Tensor:
    """MSE pulling the night disparity to the paired day disparity (day is not trained).

    'scale_free' compares mean-normalised disparities: the sigmoid's range depends on
    `min_depth` (0.01 makes it ~10x smaller and the MSE ~100x), the shape does not.
    """
    day_disp = day_disp.detach()
    if form == 'scale_free':
        night_disp, day_disp = mean_normalised(night_disp), mean_normalised(day_disp)
    elif form != 'reference':
        raise ValueError(f"similarity form must be 'reference' or 'scale_free', got {form!r}")
    return F.mse_loss(night_disp, day_disp)


def orthogonality_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of (x·y)² / dim, x and y the flattened per-sample tensors."""
    x, y = a.flatten(1), b.flatten(1)
    if x.shape != y.shape:
        raise ValueError(f'orthogonality needs equal shapes, got {tuple(a.shape)}, '
                         f'{tuple(b.shape)}')
    return ((x * y).sum(1).pow(2) / x.shape[1]).mean()


def difference_loss(private: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
    """Domain Separation Networks' difference loss, in [0, 1], invariant to feature scale.

    Rows are the feature vectors at every position of every sample (BxCxHxW -> (B·H·W)xC),
    centred over the rows and L2-normalised; the loss is the mean squared entry of the
    Cp x Cs correlation Pᵀ S, i.e. ||Pᵀ S||²_F / (Cp·Cs). 0 when no private channel
    correlates with any shared one.
    """
    rows = []
    for f in (private, shared):
        flat = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).float()
        flat = flat - flat.mean(0, keepdim=True)
        rows.append(F.normalize(flat, dim=1, eps=1e-6))
    if rows[0].shape[0] != rows[1].shape[0]:
        raise ValueError(f'difference loss needs equal B, H, W, got {tuple(private.shape)}, '
                         f'{tuple(shared.shape)}')
    return (rows[0].t() @ rows[1]).pow(2).mean()


def cosine_orthogonality(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batch mean of cos²(x, y) of the flattened per-sample tensors: scale-free, in [0, 1]."""
    x, y = a.flatten(1).float(), b.flatten(1).float()
    if x.shape != y.shape:
        raise ValueError(f'orthogonality needs equal shapes, got {tuple(a.shape)}, '
                         f'{tuple(b.shape)}')
    return F.cosine_similarity(x, y, dim=1, eps=1e-12).pow(2).mean()


def gram_matrix(f: torch.Tensor) -> torch.Tensor:
    """Gram matrix F Fᵀ / (C·H·W) of BxCxHxW features (BxCxC)."""
    batch, channels, height, width = f.shape
    flat = f.reshape(batch, channels, height * width)
    return flat @ flat.transpose(1, 2) / (channels * height * width)
