# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Losses: SSIM by hand, identity warp, auto-masking, smoothness, reconstruction, codes."""

import torch

from adds_training.geometry import pixel_intrinsics
from adds_training.losses import (gram_matrix, orthogonality_loss, photometric_error,
                                  reconstruction_loss, reprojection_loss, scale_invariant_mse,
                                  similarity_loss, smoothness_loss, ssim)
from adds_training.objectives import warp

C1, C2 = 0.01 ** 2, 0.03 ** 2


def _ssim_by_hand(x: list, y: list, rows: list, cols: list) -> float:
    """SSIM over the window of listed (reflected) rows/cols, plain Python."""
    xs = [x[r][c] for r in rows for c in cols]
    ys = [y[r][c] for r in rows for c in cols]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    vx = sum(v * v for v in xs) / n - mx * mx
    vy = sum(v * v for v in ys) / n - my * my
    cxy = sum(a * b for a, b in zip(xs, ys)) / n - mx * my
    return ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))


def test_ssim_matches_hand_computed_values():
    x = [[0.1, 0.5, 0.9], [0.3, 0.2, 0.7], [0.8, 0.4, 0.6]]
    y = [[0.2, 0.5, 0.7], [0.1, 0.4, 0.9], [0.6, 0.3, 0.5]]
    result = ssim(torch.tensor([[x]], dtype=torch.float64),
                  torch.tensor([[y]], dtype=torch.float64))
    assert abs(float(result[0, 0, 1, 1]) - _ssim_by_hand(x, y, [0, 1, 2], [0, 1, 2])) < 1e-12
    # the corner window is reflection-padded: rows/cols 1, 0, 1
    assert abs(float(result[0, 0, 0, 0]) - _ssim_by_hand(x, y, [1, 0, 1], [1, 0, 1])) < 1e-12
    same = ssim(torch.tensor([[x]]), torch.tensor([[x]]))
    assert torch.allclose(same, torch.ones_like(same))


def test_photometric_error_is_zero_for_an_identity_warp():
    torch.manual_seed(0)
    height, width = 32, 48
    image = torch.rand(2, 3, height, width)
    k = pixel_intrinsics(torch.tensor([[0.7, 0, 0.5], [0, 1.4, 0.5], [0, 0, 1.0]]),
                         width, height).expand(2, 4, 4)
    depth = torch.rand(2, 1, height, width) * 20 + 1
    warped = warp(image, depth, k, torch.linalg.inv(k), torch.eye(4).expand(2, 4, 4))
    assert float(photometric_error(warped, image).max()) < 1e-4
    shifted = torch.roll(image, 3, dims=3)
    assert float(photometric_error(shifted, image).mean()) > 0.1


def test_reprojection_takes_per_pixel_minimum_and_automasks():
    torch.manual_seed(0)
    low, high = torch.full((1, 1, 4, 4), 0.1), torch.full((1, 1, 4, 4), 0.9)
    high[..., 0, 0] = 0.05
    loss = reprojection_loss([low, high])
    assert torch.isclose(loss, torch.tensor((15 * 0.1 + 0.05) / 16))
    # a static source explains the target better than any warp: masked out (loss ~ 0)
    masked = reprojection_loss([low, high], [torch.zeros_like(low), torch.ones_like(low)])
    assert float(masked) < 1e-4


def test_smoothness_is_edge_aware():
    flat = torch.ones(1, 1, 8, 8)
    assert float(smoothness_loss(flat, torch.rand(1, 3, 8, 8))) == 0.0
    step = torch.ones(1, 1, 8, 8)
    step[..., 4:] = 2.0
    plain = torch.zeros(1, 3, 8, 8)
    edge = torch.zeros(1, 3, 8, 8)
    edge[..., 4:] = 1.0
    assert float(smoothness_loss(step, edge)) < float(smoothness_loss(step, plain))
    # mean normalisation: scaling the disparity does not change the loss
    assert torch.isclose(smoothness_loss(step, plain), smoothness_loss(3 * step, plain))


def test_scale_invariant_mse_uses_dsn_sign():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 8, 8)
    assert float(scale_invariant_mse(target + 0.3, target)) < 1e-10
    pred = torch.rand(2, 3, 8, 8)
    d = (target - pred).flatten(1)
    k = d.shape[1]
    expected = ((d.pow(2).sum(1) / k) - d.sum(1).pow(2) / k ** 2).mean()
    assert torch.isclose(scale_invariant_mse(pred, target), expected)
    total = reconstruction_loss(pred, target)
    assert torch.isclose(total, ((pred - target) ** 2).mean() + expected)
    assert torch.isclose(reconstruction_loss(pred, target, 2.0, 0.0),
                         2 * ((pred - target) ** 2).mean())


def test_similarity_does_not_train_the_day_disparity():
    night = torch.rand(1, 1, 4, 4, requires_grad=True)
    day = torch.rand(1, 1, 4, 4, requires_grad=True)
    loss = similarity_loss(night, day)
    loss.backward()
    assert day.grad is None and night.grad.abs().sum() > 0
    assert torch.isclose(loss, ((night - day) ** 2).mean())


def test_orthogonality_zero_for_orthogonal_inputs_and_batched():
    a = torch.zeros(2, 4, 2, 2)
    b = torch.zeros(2, 4, 2, 2)
    a[:, 0], b[:, 1] = 1.0, 1.0
    assert float(orthogonality_loss(a, b)) == 0.0
    torch.manual_seed(0)
    x, y = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2)
    dim = 16
    by_loop = sum(float(torch.dot(x[i].flatten(), y[i].flatten()) ** 2) / dim
                  for i in range(3)) / 3
    assert abs(float(orthogonality_loss(x, y)) - by_loop) < 1e-5
    assert float(orthogonality_loss(x, x)) > 0


def test_gram_matrix_is_normalised_feature_correlation():
    torch.manual_seed(0)
    f = torch.randn(2, 3, 4, 5)
    gram = gram_matrix(f)
    assert gram.shape == (2, 3, 3)
    assert torch.isclose(gram[1, 0, 2], (f[1, 0] * f[1, 2]).sum() / 60)
    assert torch.allclose(gram, gram.transpose(1, 2))
