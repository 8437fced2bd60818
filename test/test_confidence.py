# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Per-pixel confidence: hand-worked maps, and a confidence that must find a network's errors."""

from types import SimpleNamespace

import numpy as np
import pytest

from adds_ros.confidence import (
    ConfidenceConfig, ConfidenceEstimator, flip_disagreement, gradient_disagreement,
    to_confidence)
from adds_ros.estimator import DepthEstimator
from adds_ros.testing.tiny_model import tiny_model

H, W = 16, 32


def test_mapping_is_exp_of_minus_disagreement_over_scale():
    d = np.array([0.0, 0.05, 0.15, np.nan], np.float32)
    c = to_confidence(d, 0.05)
    assert c.dtype == np.float32
    assert c[:3] == pytest.approx([1.0, np.exp(-1), np.exp(-3)], rel=1e-6)
    assert np.isnan(c[3])


def test_flip_disagreement_mirrors_back_before_comparing():
    depth = np.array([[1.0, 2.0, 4.0]], np.float32)
    assert flip_disagreement(depth, depth[:, ::-1]) == pytest.approx(np.zeros((1, 3)))
    mirrored = np.array([[4.0, 2.0, 2.0]], np.float32)     # mirrored back: 2 2 4
    assert flip_disagreement(depth, mirrored) == pytest.approx(np.array([[np.log(2), 0, 0]]))
    with pytest.raises(ValueError, match='differ in shape'):
        flip_disagreement(depth, depth.T)


def test_gradient_marks_both_sides_of_a_depth_edge():
    depth = np.ones((6, 8), np.float32)
    depth[:, 4:] = np.e                      # one log-depth step of 1 between columns 3 and 4
    depth[0] = np.nan                        # outside the crop
    d = gradient_disagreement(depth)
    assert np.isnan(d[0]).all()
    # the step touches columns 3 and 4; the 3x3 spread reaches 2 and 5
    assert d[1:, 2:6] == pytest.approx(np.ones((5, 4)))
    assert d[1:, [0, 1, 6, 7]] == pytest.approx(np.zeros((5, 4)))


def test_gradient_is_per_network_pixel_at_any_camera_size():
    ramp = np.exp(0.1 * np.arange(16, dtype=np.float32))[None].repeat(8, 0)   # 0.1 per pixel
    upsampled = np.exp(0.05 * np.arange(32, dtype=np.float32))[None].repeat(16, 0)
    assert gradient_disagreement(ramp) == pytest.approx(np.full((8, 16), 0.1), rel=1e-4)
    assert gradient_disagreement(upsampled, pixel=2.0) == pytest.approx(
        np.full((16, 32), 0.1), rel=1e-4)


def test_network_pixel_follows_the_crop_and_the_model_width():
    meta = SimpleNamespace(crop=(0.0, 1.0, 0.25, 0.75), input_width=32)
    confidence = ConfidenceEstimator(SimpleNamespace(metadata=meta), ConfidenceConfig('gradient'))
    assert confidence.network_pixel((48, 256)) == 4.0        # 128 crop columns / 32
    assert confidence.network_pixel((12, 64)) == 1.0         # never below one


class RedChannelNet:
    """A fake estimator: depth is encoded in the red channel, exact except where `wrong` says.

    `wrong(depth)` returns the mask of its *input* columns it gets 1.5x too far.
    """

    def __init__(self, wrong) -> None:
        self.wrong = wrong
        self.calls = 0

    def predict(self, rgb: np.ndarray) -> SimpleNamespace:
        self.calls += 1
        depth = 1.0 + rgb[..., 0].astype(np.float32) / 10.0
        depth[self.wrong(depth)] *= 1.5
        return SimpleNamespace(depth=depth)


def scene() -> tuple:
    """A frame whose red channel encodes a depth map that is not mirror-symmetric."""
    rng = np.random.default_rng(0)
    truth = 1.0 + rng.integers(0, 250, (H, W)).astype(np.float32) / 10.0
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[..., 0] = np.round((truth - 1.0) * 10.0)
    return rgb, truth


def left_quarter(depth: np.ndarray) -> np.ndarray:
    mask = np.zeros(depth.shape, bool)
    mask[:, :W // 4] = True
    return mask


def depth_edges(depth: np.ndarray) -> np.ndarray:
    return gradient_disagreement(depth) > 0.5


@pytest.mark.parametrize('method,wrong', [('flip', left_quarter), ('gradient', depth_edges)])
def test_confidence_finds_where_the_network_is_wrong(method, wrong):
    rgb, truth = scene()
    if method == 'gradient':                 # a smooth scene with one far block
        truth = np.full((H, W), 5.0, np.float32)
        truth[4:12, 10:20] = 20.0
        rgb[..., 0] = np.round((truth - 1.0) * 10.0)
    net = RedChannelNet(wrong)
    depth = net.predict(rgb).depth
    result = ConfidenceEstimator(net, ConfidenceConfig(method)).compute(rgb, depth)
    assert net.calls == (2 if method == 'flip' else 1)
    c = result.confidence
    assert c.shape == (H, W) and c.dtype == np.float32
    assert np.all((c >= 0) & (c <= 1))
    assert np.ptp(c) > 0.5                   # not constant
    # the training half's metric (skipped where only the runtime is installed)
    sparsification = pytest.importorskip('adds_training.uncertainty').sparsification
    s = sparsification(truth.ravel(), depth.ravel(), c.ravel(), 'abs_rel')
    assert s.all_error > 0.05
    assert s.aurg > 0.3 * s.all_error        # clearly better than random ordering
    assert s.half_error < 0.5 * s.all_error


def test_flip_through_the_real_estimator(tmp_path):
    model = tiny_model(tmp_path / 'tiny.onnx', height=H, width=W, crop=(0.25, 1.0, 0.0, 1.0))
    rgb = np.random.default_rng(1).integers(0, 255, (2 * H, 2 * W, 3), dtype=np.uint8)
    with DepthEstimator(model, backend='onnxruntime', device='cpu') as estimator:
        depth = estimator.predict(rgb).depth
        mirrored = estimator.predict(np.ascontiguousarray(rgb[:, ::-1])).depth
        result = ConfidenceEstimator(estimator, ConfidenceConfig('flip', 0.02)).compute(
            rgb, depth)
    c = result.confidence
    assert c.shape == rgb.shape[:2]
    assert np.isnan(c[:H // 2]).all() and np.isfinite(c[H // 2:]).all()   # crop rows 0.25..1
    expected = np.exp(-np.abs(np.log(depth) - np.log(mirrored[:, ::-1])) / 0.02)
    assert c[H // 2:] == pytest.approx(expected[H // 2:], rel=1e-5)
    assert 0 < result.mean < 1 and result.seconds > 0


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match='confidence method must be one of'):
        ConfidenceEstimator(None, ConfidenceConfig('dropout'))
    with pytest.raises(ValueError, match='scale must be positive'):
        ConfidenceEstimator(None, ConfidenceConfig('flip', 0.0))
    assert ConfidenceConfig('gradient').resolved_scale == 0.065
