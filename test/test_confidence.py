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
    with pytest.raises(ValueError, match="'method' = 'dropout' is not one of"):
        ConfidenceEstimator(None, ConfidenceConfig('dropout'))
    with pytest.raises(ValueError, match="'scale' = -1.0 is outside"):
        ConfidenceEstimator(None, ConfidenceConfig('flip', -1.0))
    with pytest.raises(ValueError, match='computes no confidence'):
        ConfidenceEstimator(None, ConfidenceConfig('none'))
    assert ConfidenceConfig('gradient').resolved_scale == 0.065
    assert ConfidenceConfig('flip', 0.5).resolved_scale == 0.5


# ---- in the node's frame pipeline --------------------------------------------------------

def pipeline_for(tmp_path, **params):
    from adds_ros.params import NodeParams
    from adds_ros.pipeline import FramePipeline

    model = tiny_model(tmp_path / 'tiny.onnx', height=H, width=W, crop=(0.25, 1.0, 0.0, 1.0))
    values = dict(model=str(model), scale_mode='fixed', scale_factor=2.0)
    values.update(params)
    node_params = NodeParams(**values)
    estimator = DepthEstimator(model, backend='onnxruntime', device='cpu')
    return FramePipeline(node_params, {'day': estimator})


def camera_frame(seed: int = 3):
    from adds_ros import messages as m

    rgb = np.random.default_rng(seed).integers(0, 256, (2 * H, 2 * W, 3), dtype=np.uint8)
    return m.image_from_array(rgb, 'rgb8', m.Header(m.Time(7, 5), 'cam')), rgb


def run(pipeline, wanted):
    from adds_ros.image_decode import decode_image

    msg, _ = camera_frame()
    return pipeline.process(msg, decode_image, None, wanted)


def test_pipeline_publishes_confidence_beside_depth(tmp_path):
    from adds_ros.messages import array_from_float_image
    from adds_ros.pipeline import CONFIDENCE, DEPTH, OUTPUTS

    pipeline = pipeline_for(tmp_path)                       # default: gradient
    result = run(pipeline, OUTPUTS)
    depth_msg, conf_msg = result.outputs[DEPTH], result.outputs[CONFIDENCE]
    assert conf_msg.header == depth_msg.header and conf_msg.encoding == '32FC1'
    assert (conf_msg.height, conf_msg.width) == (depth_msg.height, depth_msg.width)
    depth, confidence = array_from_float_image(depth_msg), array_from_float_image(conf_msg)
    assert np.array_equal(np.isnan(confidence), np.isnan(depth))   # NaN outside the crop only
    valid = confidence[np.isfinite(confidence)]
    assert valid.min() >= 0 and valid.max() <= 1 and np.ptp(valid) > 0.1
    assert result.confidence == pytest.approx(float(valid.mean()), rel=1e-5)
    _, rgb = camera_frame()
    expected = ConfidenceEstimator(pipeline.estimators['day'], ConfidenceConfig()).compute(
        rgb, pipeline.estimators['day'].predict(rgb).depth).confidence
    np.testing.assert_allclose(confidence, expected, rtol=1e-6)
    assert 0 <= result.daylight <= 1 and 'confidence' in result.timings


def test_nothing_is_computed_without_a_subscriber(tmp_path, monkeypatch):
    from adds_ros.pipeline import CONFIDENCE, DEPTH, DEPTH_INFO, INVERSE, served_outputs

    calls = []
    original = ConfidenceEstimator.compute
    monkeypatch.setattr(ConfidenceEstimator, 'compute',
                        lambda self, *a: calls.append(1) or original(self, *a))
    pipeline = pipeline_for(tmp_path, confidence='flip')
    result = run(pipeline, (DEPTH, DEPTH_INFO, INVERSE))
    assert CONFIDENCE not in result.outputs and 'confidence' not in result.timings
    assert calls == [] and result.confidence is None
    run(pipeline, (CONFIDENCE,))
    assert calls == [1]
    off = pipeline_for(tmp_path, confidence='none')
    assert not off.confidences
    assert CONFIDENCE not in served_outputs(True, True, confidence=False)
    assert CONFIDENCE in served_outputs(True, True, confidence=True)
    assert CONFIDENCE not in run(off, (CONFIDENCE, DEPTH)).outputs and calls == [1]


def test_threshold_masks_unsure_depth_to_nan(tmp_path):
    from adds_ros.messages import array_from_float_image
    from adds_ros.pipeline import CONFIDENCE, DEPTH, INVERSE, OUTPUTS

    plain = run(pipeline_for(tmp_path), OUTPUTS).outputs
    confidence = array_from_float_image(plain[CONFIDENCE])
    threshold = float(np.nanmedian(confidence))
    masked = run(pipeline_for(tmp_path, confidence_threshold=threshold),
                 (DEPTH, INVERSE)).outputs
    assert CONFIDENCE not in masked                          # computed for the mask only
    unsure = ~(confidence >= threshold)
    assert 0 < unsure[np.isfinite(confidence)].mean() < 1
    for topic in (DEPTH, INVERSE):
        before, after = (array_from_float_image(o[topic]) for o in (plain, masked))
        assert np.isnan(after[unsure]).all()
        np.testing.assert_array_equal(after[~unsure], before[~unsure])


def test_the_node_reports_daylight_and_mean_confidence(tmp_path):
    import time

    from adds_ros.node_core import DepthNodeCore
    from adds_ros.params import NodeParams

    class Transport:
        published = []

        def publish(self, topic, msg):
            self.published.append((topic, msg))

        def subscriber_count(self, topic):
            return int(topic == 'depth/confidence')

        def publisher_count(self, topic):
            return 0

    model = tiny_model(tmp_path / 'tiny.onnx', height=H, width=W)
    transport = Transport()
    core = DepthNodeCore(NodeParams(model=str(model), scale_mode='fixed', scale_factor=2.0),
                         transport)
    core.configure()
    core.activate()
    core.on_image(camera_frame()[0])
    end = time.monotonic() + 10
    while not any(t == 'depth/confidence' for t, _ in transport.published):
        assert time.monotonic() < end, 'no confidence published'
        time.sleep(0.005)
    values = {kv.key: kv.value for kv in core.diagnostics().status[0].values}
    core.shutdown()
    assert {t for t, _ in transport.published} == {'depth/confidence'}   # only what is read
    assert values['confidence'] == 'gradient'
    assert 0 < float(values['confidence_mean']) < 1 and 0 <= float(values['daylight']) <= 1
