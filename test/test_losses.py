# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Losses: every term against hand-worked numbers, its weight, its formulation switch.

Each test here was seen to fail when the property it guards was broken on purpose (SSIM/L1
mix swapped, smoothness y-gradient dropped, similarity weight ignored, no 2^scale divisor).
"""

import math

import pytest
import torch

from adds_training.geometry import pixel_intrinsics
from adds_training.losses import (cosine_orthogonality, difference_loss, gram_matrix,
                                  LossWeights, mean_normalised, orthogonality_loss,
                                  photometric_error, reconstruction_loss, reprojection_loss,
                                  scale_invariant_mse, similarity_loss, smoothness_loss, ssim)
from adds_training.objectives import view_synthesis_loss, warp

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


def test_photometric_mix_is_085_ssim_015_l1_by_hand():
    # Two flat images 0.6 and 0.5: L1 = 0.1; variances are 0, so SSIM is the luminance term.
    pred = torch.full((1, 3, 4, 4), 0.6, dtype=torch.float64)
    target = torch.full((1, 3, 4, 4), 0.5, dtype=torch.float64)
    luminance = (2 * 0.6 * 0.5 + C1) / (0.6 ** 2 + 0.5 ** 2 + C1)
    dssim = (1 - luminance) / 2
    expected = 0.85 * dssim + 0.15 * 0.1   # 0.02197; the swapped mix would give 0.0862
    for error in (photometric_error(pred, target),
                  photometric_error(pred, target, LossWeights().ssim)):
        assert torch.allclose(error, torch.full_like(error, expected))
    assert float(photometric_error(pred, target, 0.0)[0, 0, 0, 0]) == pytest.approx(0.1)


def test_smoothness_by_hand_in_x_and_in_y():
    flat = torch.zeros(1, 3, 8, 8)
    rows = torch.ones(1, 1, 8, 8)
    rows[..., 4:, :] = 3.0                      # mean 2: normalised 0.5 / 1.5, one step of 1
    # y: 1 of 7 row differences is 1, x: none -> 1/7
    assert float(smoothness_loss(rows, flat)) == pytest.approx(1 / 7)
    assert float(smoothness_loss(rows.transpose(2, 3), flat)) == pytest.approx(1 / 7)
    edge = torch.zeros(1, 3, 8, 8)
    edge[..., 4:, :] = 0.5                      # an image edge at the same place damps it
    assert float(smoothness_loss(rows, edge)) == pytest.approx(math.exp(-0.5) / 7)


def test_reconstruction_by_hand():
    target = torch.tensor([0.0, 0.5, 1.0, 0.5]).view(1, 1, 2, 2)
    recon = torch.tensor([0.5, 0.5, 0.5, 0.5]).view(1, 1, 2, 2)
    # d = [-0.5, 0, 0.5, 0]: MSE 0.125, mean d 0 -> scale-invariant term also 0.125
    assert float(reconstruction_loss(recon, target)) == pytest.approx(0.25)
    assert float(reconstruction_loss(recon + 0.25, target + 0.25)) == pytest.approx(0.25)
    assert float(reconstruction_loss(recon, target, 1.0, 0.0)) == pytest.approx(0.125)


def test_similarity_forms_by_hand():
    night = torch.tensor([1.0, 3.0]).view(1, 1, 1, 2)
    day = torch.tensor([2.0, 2.0]).view(1, 1, 1, 2)
    assert float(similarity_loss(night, day)) == pytest.approx(1.0)
    # scale-free: night / 2 = [0.5, 1.5], day / 2 = [1, 1] -> MSE 0.25, whatever the scale
    assert float(similarity_loss(night, day, 'scale_free')) == pytest.approx(0.25)
    assert float(similarity_loss(night / 100, day / 100, 'scale_free')) == pytest.approx(
        0.25, rel=1e-4)
    assert float(similarity_loss(night / 100, day / 100)) == pytest.approx(1e-4)
    assert torch.allclose(mean_normalised(night).mean(), torch.tensor(1.0))
    with pytest.raises(ValueError, match='scale_free'):
        similarity_loss(night, day, 'cosine')


def test_orthogonality_forms_by_hand():
    x = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    y = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)
    assert float(orthogonality_loss(x, y)) == pytest.approx(11 ** 2 / 2)
    a = torch.tensor([1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    b = torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1)
    assert float(cosine_orthogonality(a, b)) == pytest.approx(0.25)     # cos = 1/2
    assert float(cosine_orthogonality(5 * a, 0.1 * b)) == pytest.approx(0.25)


def test_difference_loss_by_hand():
    # 2 channels at 2 positions; centred rows are +-(0.5, -0.5), normalised +-(1, -1)/sqrt 2.
    private = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).t().reshape(1, 2, 1, 2)
    shared = 2 * private
    # P^T S = 2 * [[0.5, -0.5], [-0.5, 0.5]] = [[1, -1], [-1, 1]]: mean square 1
    assert float(difference_loss(private, shared)) == pytest.approx(1.0)
    assert float(difference_loss(3 * private, 0.01 * shared)) == pytest.approx(1.0)
    constant = torch.ones(1, 2, 1, 2)  # no variation left after centring: uncorrelated
    assert float(difference_loss(private, constant)) == pytest.approx(0.0, abs=1e-6)
    torch.manual_seed(0)
    p, s = torch.randn(2, 8, 3, 4), torch.randn(2, 5, 3, 4)
    rows_p = p.permute(0, 2, 3, 1).reshape(-1, 8)
    rows_s = s.permute(0, 2, 3, 1).reshape(-1, 5)
    rows_p = torch.nn.functional.normalize(rows_p - rows_p.mean(0), dim=1)
    rows_s = torch.nn.functional.normalize(rows_s - rows_s.mean(0), dim=1)
    expected = (rows_p.t() @ rows_s).pow(2).sum() / (8 * 5)
    assert float(difference_loss(p, s)) == pytest.approx(float(expected), rel=1e-5)
    assert 0 < float(difference_loss(p, s)) < 1


def test_balance_presets_and_overrides():
    reference, normalised = LossWeights(), LossWeights(balance='normalised')
    assert (reference.similarity, reference.orthogonality_code,
            reference.orthogonality_gram) == (1.0, 0.5, 1.0)
    assert (reference.code_form, reference.gram_form, reference.similarity_form) == (
        'reference', 'reference', 'reference')
    assert (normalised.code_form, normalised.gram_form, normalised.similarity_form) == (
        'dsn', 'cosine', 'scale_free')
    mixed = LossWeights(balance='normalised', code_form='reference', similarity=0.0)
    assert mixed.code_form == 'reference' and mixed.similarity == 0.0
    with pytest.raises(ValueError, match='balance'):
        LossWeights(balance='auto')
    with pytest.raises(ValueError, match='gram_form'):
        LossWeights(gram_form='dsn')


def _static_frames(height=16, width=32):
    torch.manual_seed(0)
    image = torch.rand(1, 3, height, width)
    k = pixel_intrinsics(torch.tensor([[0.6, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1.0]]), width,
                         height).unsqueeze(0)
    return {f: image for f in (0, -1, 1)}, k, torch.linalg.inv(k)


def test_view_synthesis_averages_scales_and_divides_smoothness_by_two_to_the_scale():
    frames, k, inv_k = _static_frames()
    torch.manual_seed(1)
    disps = [torch.rand(1, 1, 16 // 2 ** s, 32 // 2 ** s) * 0.5 + 0.1 for s in range(4)]
    identity = {f: torch.eye(4).unsqueeze(0) for f in (-1, 1)}
    out = view_synthesis_loss(frames, disps, identity, k, inv_k, LossWeights(smoothness=1.0),
                              0.1, 100.0)
    assert abs(float(out['photometric'])) < 1e-4  # nothing moves: every warp is exact
    images = [torch.nn.functional.interpolate(frames[0], d.shape[-2:], mode='area') if s
              else frames[0] for s, d in enumerate(disps)]
    expected = sum(float(smoothness_loss(d, im)) / 2 ** s
                   for s, (d, im) in enumerate(zip(disps, images))) / 4
    assert float(out['smoothness']) == pytest.approx(expected, rel=1e-5)
    half = view_synthesis_loss(frames, disps, identity, k, inv_k, LossWeights(smoothness=0.5),
                               0.1, 100.0)
    assert float(half['smoothness']) == pytest.approx(expected / 2, rel=1e-5)
