# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node core in process: lifecycle, newest-frame-only, scale and domain choices, drops."""

import threading
import time
from typing import Any, Dict, List

from node_fixtures import tiny_model
import numpy as np
import pytest

from adds_ros import messages as m
from adds_ros.estimator import DepthEstimator
from adds_ros.node_core import DepthNodeCore
from adds_ros.pipeline import camera_k_from_metadata
from adds_ros.params import NodeParams
from adds_ros.postprocess import colorize_view
from adds_ros.preprocess import crop_box

H, W = 32, 64


class Recorder:
    """A transport that keeps what is published; `listeners` = subscribers per output topic.

    A camera publishes the image; `camera_info_publishers` says whether it publishes
    camera_info too.
    """

    def __init__(self, listeners: int = 1, camera_info_publishers: int = 0) -> None:
        self.listeners = listeners
        self.publishers = {'camera_info': camera_info_publishers}
        self.lock = threading.Lock()
        self.sent: List = []

    def publish(self, topic: str, msg: Any) -> None:
        with self.lock:
            self.sent.append((topic, msg))

    def subscriber_count(self, topic: str) -> int:
        return self.listeners

    def publisher_count(self, topic: str) -> int:
        return self.publishers.get(topic, 1)

    def on(self, topic: str) -> List:
        with self.lock:
            return [msg for t, msg in self.sent if t == topic]


class Logger:
    def __init__(self) -> None:
        self.warnings: List[str] = []

    def warning(self, text: str) -> None:
        self.warnings.append(text)

    info = error = warning


def onnx_factory(model: str, params: NodeParams) -> DepthEstimator:
    return DepthEstimator(model, backend='onnxruntime', device='cpu')


def wait_for(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, 'timed out'
        time.sleep(0.005)


def frame(seed: int = 0, level: int = None, stamp: int = 1) -> m.Image:
    rgb = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    if level is not None:
        rgb[...] = level
    return m.image_from_array(rgb, 'rgb8', m.Header(m.Time(stamp, 0), 'cam'))


def make_core(tmp_path, transport=None, factory=onnx_factory, metric_scale=4.0,
              **params: Any) -> DepthNodeCore:
    model = tiny_model(tmp_path / 'day.onnx', 16, 32, metric_scale=metric_scale)
    values: Dict[str, Any] = dict(model=str(model), diagnostics_period=0.05)
    values.update(params)
    return DepthNodeCore(NodeParams(**values), transport or Recorder(),
                         estimator_factory=factory, logger=Logger())


def test_lifecycle_order_is_enforced_and_the_model_loads_on_the_worker(tmp_path):
    threads = []

    def factory(model, params):
        threads.append(threading.current_thread().name)
        estimator = onnx_factory(model, params)
        estimator.close = lambda: threads.append('closed on ' + threading.current_thread().name)
        return estimator

    core = make_core(tmp_path, factory=factory)
    with pytest.raises(RuntimeError, match="cannot go to 'active' from state 'unconfigured'"):
        core.activate()
    assert 'depth/image' in core.output_topics()  # fixed names: known before the model loads
    core.configure()
    assert threads == ['adds-inference'] and core.state == 'inactive'
    core.on_image(frame())
    assert core.stats.dropped['inactive'] == 1
    core.activate()
    core.deactivate()
    core.cleanup()
    assert core.state == 'unconfigured' and core.pipeline.estimators == {}
    assert threads == ['adds-inference', 'closed on adds-inference']
    core.configure()
    core.activate()
    core.shutdown()
    core.shutdown()
    assert core.state == 'finalized'


def test_a_model_that_fails_to_load_fails_configure_with_its_error(tmp_path):
    def broken(model, params):
        raise FileNotFoundError('no model file at /nowhere.onnx')

    core = make_core(tmp_path, factory=broken)
    with pytest.raises(RuntimeError, match='could not load the depth model: no model file'):
        core.configure()
    assert core.state == 'unconfigured'


def test_metric_depth_equals_the_estimator_and_headers_are_copied(tmp_path):
    recorder = Recorder()
    core = make_core(tmp_path, recorder)
    core.configure()
    core.activate()
    msg = frame(3, stamp=42)
    core.on_image(msg)
    wait_for(lambda: recorder.on('depth/colorized'))
    core.shutdown()
    depth_msg, = recorder.on('depth/image')
    info, = recorder.on('depth/camera_info')
    assert depth_msg.header == msg.header == info.header
    estimator = onnx_factory(core.params.model, core.params)
    rgb = np.frombuffer(msg.data, np.uint8).reshape(H, W, 3)
    expected = estimator.metric_depth(estimator.predict(rgb))
    np.testing.assert_array_equal(m.array_from_float_image(depth_msg), expected)
    # no camera_info subscribed: K comes from the model's normalised intrinsics
    np.testing.assert_allclose(m.camera_matrix(info),
                               camera_k_from_metadata(estimator.metadata, H, W))
    view, = recorder.on('depth/colorized')
    assert view.encoding == 'bgr8'
    meta = estimator.metadata   # the view colours the network map, then resizes it
    np.testing.assert_array_equal(
        np.frombuffer(view.data, np.uint8).reshape(H, W, 3),
        colorize_view(estimator.predict(rgb).disparity, meta.min_depth, meta.max_depth,
                      crop_box(meta.crop, H, W), (H, W)))


def test_without_a_scale_only_inverse_depth_is_published_with_a_warning(tmp_path):
    recorder = Recorder()
    core = make_core(tmp_path, recorder, metric_scale=None)
    core.configure()
    assert 'depth/image' in core.output_topics()  # names never change with the model
    assert 'depth/image' not in core.served() and 'inverse_depth/image' in core.served()
    assert any('INVERSE depth' in w for w in core.logger.warnings)
    core.activate()
    msg = frame(4)
    core.on_image(msg)
    wait_for(lambda: recorder.on('depth/camera_info'))
    core.shutdown()
    estimator = onnx_factory(core.params.model, core.params)
    prediction = estimator.predict(np.frombuffer(msg.data, np.uint8).reshape(H, W, 3))
    inverse = m.array_from_float_image(recorder.on('inverse_depth/image')[0])
    np.testing.assert_allclose(inverse, 1.0 / prediction.depth, rtol=1e-6)
    assert not recorder.on('depth/image')
    status = core.diagnostics().status[0]
    assert status.level == m.DiagnosticStatus.WARN and 'inverse depth' in status.message


def test_fixed_scale_multiplies_model_depth(tmp_path):
    recorder = Recorder()
    core = make_core(tmp_path, recorder, metric_scale=None, scale_mode='fixed',
                     scale_factor=10.0)
    core.configure()
    core.activate()
    msg = frame(5)
    core.on_image(msg)
    wait_for(lambda: recorder.on('depth/camera_info'))
    core.shutdown()
    estimator = onnx_factory(core.params.model, core.params)
    prediction = estimator.predict(np.frombuffer(msg.data, np.uint8).reshape(H, W, 3))
    np.testing.assert_allclose(m.array_from_float_image(recorder.on('depth/image')[0]),
                               prediction.depth * 10.0, rtol=1e-6)


class Gate:
    """An estimator wrapper that blocks in predict until released, to pile frames up."""

    def __init__(self, inner) -> None:
        self.inner, self.metadata, self.backend_name = inner, inner.metadata, 'gated'
        self.release, self.entered, self.seen = threading.Event(), threading.Event(), []

    def predict(self, rgb):
        self.seen.append(int(rgb[0, 0, 0]))
        self.entered.set()
        self.release.wait()
        return self.inner.predict(rgb)

    def metric_depth(self, prediction, scale=None):
        return self.inner.metric_depth(prediction, scale)


def test_only_the_newest_frame_waits_while_inference_is_busy(tmp_path):
    gates = []

    def factory(model, params):
        gates.append(Gate(onnx_factory(model, params)))
        return gates[-1]

    recorder = Recorder()
    core = make_core(tmp_path, recorder, factory=factory)
    core.configure()
    core.activate()
    core.on_image(frame(level=1, stamp=1))
    gates[0].entered.wait(5)
    for i in range(2, 12):
        core.on_image(frame(level=i, stamp=i))
    gates[0].release.set()
    wait_for(lambda: len(recorder.on('depth/image')) == 2)
    core.shutdown()
    assert gates[0].seen == [1, 11]
    assert [msg.header.stamp.sec for msg in recorder.on('depth/image')] == [1, 11]
    assert core.stats.dropped['superseded'] == 9


def test_nobody_listening_means_no_inference(tmp_path):
    calls = []

    def factory(model, params):
        estimator = onnx_factory(model, params)
        predict = estimator.predict
        estimator.predict = lambda rgb: calls.append(1) or predict(rgb)
        return estimator

    core = make_core(tmp_path, Recorder(listeners=0), factory=factory)
    core.configure()
    core.activate()
    for _ in range(5):
        core.on_image(frame())
    time.sleep(0.1)
    core.shutdown()
    assert calls == [] and core.stats.dropped['no_subscribers'] == 5


def test_a_failing_backend_drops_the_frame_and_the_node_goes_on(tmp_path):
    recorder = Recorder()
    failures = iter([True, False])

    def factory(model, params):
        estimator = onnx_factory(model, params)
        predict = estimator.predict

        def flaky(rgb):
            if next(failures, False):
                raise RuntimeError('CUDA error: an illegal memory access')
            return predict(rgb)
        estimator.predict = flaky
        return estimator

    core = make_core(tmp_path, recorder, factory=factory)
    core.configure()
    core.activate()
    core.on_image(frame(stamp=1))
    wait_for(lambda: core.stats.dropped['inference_error'] == 1)
    core.on_image(frame(stamp=2))
    wait_for(lambda: recorder.on('depth/image'))
    core.shutdown()
    assert any('illegal memory access' in w for w in core.logger.warnings)


def test_night_frames_go_to_the_night_model(tmp_path):
    night = tiny_model(tmp_path / 'night.onnx', 16, 32, metric_scale=4.0, stem='night',
                       seed=9)
    recorder = Recorder()
    core = make_core(tmp_path, recorder, night_model=str(night), domain_smoothing=0.0)
    core.configure()
    core.activate()
    for stamp, level in ((1, 200), (2, 10)):
        core.on_image(frame(level=level, stamp=stamp))
        wait_for(lambda: len(recorder.on('depth/image')) == stamp)
    core.shutdown()
    day_est = onnx_factory(core.params.model, core.params)
    night_est = onnx_factory(str(night), core.params)
    for msg, estimator, level in zip(recorder.on('depth/image'), (day_est, night_est),
                                     (200, 10)):
        rgb = np.full((H, W, 3), level, np.uint8)
        np.testing.assert_array_equal(m.array_from_float_image(msg),
                                      estimator.metric_depth(estimator.predict(rgb)))
    assert core.pipeline.domain == 'night'


def test_diagnostics_report_rate_latency_drops_backend_and_model(tmp_path):
    recorder = Recorder()
    core = make_core(tmp_path, recorder)
    core.configure()
    core.activate()
    core.on_image(m.Image(encoding='yuv422'))
    wait_for(lambda: core.stats.dropped['encoding'] == 1)
    core.on_image(frame())
    wait_for(lambda: recorder.on('depth/image'))
    wait_for(lambda: len(recorder.on('/diagnostics')) >= 2)
    core.shutdown()
    values = {kv.key: kv.value for kv in recorder.on('/diagnostics')[-1].status[0].values}
    assert values['backend'] == 'onnxruntime' and values['model'] == core.params.model
    assert values['published'] == '1' and values['dropped_encoding'] == '1'
    assert float(values['latency_p50_ms']) > 0 and 'rate_hz' in values
    assert values['scale_mode'] == 'metadata'


def test_camera_info_is_scaled_into_the_depth_camera_info(tmp_path):
    recorder = Recorder()
    core = make_core(tmp_path, recorder)
    core.configure()
    core.activate()
    info = m.CameraInfo(width=W, height=H, k=[40, 0, 32, 0, 40, 16, 0, 0, 1],
                        p=[40, 0, 32, 0, 0, 40, 16, 0, 0, 0, 1, 0])
    core.on_camera_info(info)
    core.on_image(frame(stamp=8))
    wait_for(lambda: recorder.on('depth/camera_info'))
    core.shutdown()
    out, = recorder.on('depth/camera_info')
    assert out.k == info.k and out.p == info.p and out.header.stamp.sec == 8


def test_a_frame_waits_for_camera_info_that_has_a_publisher(tmp_path):
    # The image callback may run before the camera_info one: the first frame must not take the
    # model's K while its camera_info is on the way (a CI run saw exactly that).
    recorder = Recorder(camera_info_publishers=1)
    core = make_core(tmp_path, recorder)
    core.configure()
    core.activate()
    info = m.CameraInfo(header=m.Header(m.Time(9, 0), 'cam'), width=W, height=H,
                        k=[40, 0, 32, 0, 40, 16, 0, 0, 1],
                        p=[40, 0, 32, 0, 0, 40, 16, 0, 0, 0, 1, 0])
    core.on_image(frame(stamp=9))
    time.sleep(0.1)
    core.on_camera_info(info)
    wait_for(lambda: recorder.on('depth/camera_info'))
    out, = recorder.on('depth/camera_info')
    assert out.k == info.k
    core.on_image(frame(stamp=10))   # a publisher, but nothing stamped 10: dropped, not guessed
    wait_for(lambda: core.stats.snapshot()['dropped'].get('camera_info_unpaired') == 1)
    core.shutdown()
    assert len(recorder.on('depth/camera_info')) == 1


def test_camera_k_from_metadata_accounts_for_the_crop(tmp_path):
    class Meta:
        crop = (0.25, 1.0, 0.0, 0.5)
        intrinsics = [[0.5, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1]]

    k = camera_k_from_metadata(Meta, 400, 800)  # crop: rows 100:400, cols 0:400
    np.testing.assert_allclose(k, [[200, 0, 200], [0, 300, 250], [0, 0, 1]])
