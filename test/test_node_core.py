# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node core in process: lifecycle, newest-frame-only, scale and domain choices, drops,
camera_info as real drivers send it."""

import threading
import time
from typing import Any, Dict, List

from node_fixtures import tiny_model
import numpy as np
import pytest

from adds_ros import messages as m
from adds_ros.camera_info import (CameraChoice, CameraInfoPairing, CameraInfoPolicy,
                                  LivePairing, ReplayPairing)
from adds_ros.diagnostics import QUIET_DROPS, Statistics, drop_health
from adds_ros.estimator import DepthEstimator, DepthPrediction
from adds_ros.image_decode import InputError, decode_image
from adds_ros.metadata import ModelMetadata
from adds_ros.node_core import DepthNodeCore
from adds_ros.pipeline import FramePipeline, camera_k_from_metadata
from adds_ros.params import NodeParams
from adds_ros.postprocess import colorize_view, scale_disparity
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
        colorize_view(scale_disparity(estimator.predict(rgb).disparity, meta.min_depth,
                                      meta.max_depth), crop_box(meta.crop, H, W), (H, W)))


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
    core.on_image(m.Image(encoding='hsv8'))
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


# ---- camera_info as real drivers send it (adds_ros.camera_info) ------------------------------
CAMERA_K = [40.0, 0.0, 32.0, 0.0, 40.0, 16.0, 0.0, 0.0, 1.0]


def calibrated(stamp: int = 0, **changes: Any) -> m.CameraInfo:
    """A valid monocular calibration of the H x W test camera, with `changes` applied."""
    values = dict(header=m.Header(m.Time(stamp, 0), 'cam'), height=H, width=W,
                  distortion_model='plumb_bob', d=[0.0] * 5, k=list(CAMERA_K),
                  p=CAMERA_K[0:3] + [0.0] + CAMERA_K[3:6] + [0.0] + CAMERA_K[6:9] + [0.0])
    values.update(changes)
    return m.CameraInfo(**values)


def uncalibrated(stamp: int = 0) -> m.CameraInfo:
    """What camera_info_manager publishes for a camera without a calibration file."""
    return m.CameraInfo(header=m.Header(m.Time(stamp, 0), 'cam'), height=H, width=W,
                        distortion_model='', d=[], k=[0.0] * 9, r=[0.0] * 9, p=[0.0] * 12)


class Warnings:
    """CameraInfoPolicy's two warning channels, recorded."""

    def __init__(self) -> None:
        self.throttled: List[str] = []
        self.once: List[str] = []

    def policy(self, strict: bool = False) -> CameraInfoPolicy:
        return CameraInfoPolicy(strict, lambda kind, text: self.throttled.append(kind),
                                lambda kind, text: self.once.append(kind))


INVALID_CAMERA_INFOS = {
    'nan': dict(k=[np.nan] + CAMERA_K[1:]),
    'wrong size': dict(width=2 * W, height=2 * H),
    'negative fx, valid P': dict(k=[-40.0] + CAMERA_K[1:]),
    'zero fx, valid P': dict(k=[0.0] + CAMERA_K[1:]),
    'binning': dict(binning_x=2, binning_y=2),
    'roi': dict(roi=m.RegionOfInterest(0, 0, H // 2, W // 2)),
    'short D': dict(d=[0.0] * 3),
    'nine-value P': dict(p=list(CAMERA_K)),
}


def test_a_valid_calibration_is_the_frames_k():
    warnings = Warnings()
    policy = warnings.policy()
    info = calibrated()
    assert policy.choose(info, H, W) == CameraChoice(info, 'camera_info')
    assert policy.choose(None, H, W) == CameraChoice(None, 'no_camera_info')
    assert policy.status()['camera_k_camera_info'] == 1 and policy.status()['camera_k'] == \
        'no_camera_info'
    assert warnings.throttled == warnings.once == []


def test_r_all_zeros_is_not_stated_and_taken_as_identity():
    warnings = Warnings()
    policy = warnings.policy()
    for _ in range(3):
        choice = policy.choose(calibrated(r=[0.0] * 9), H, W)
        assert choice.source == 'camera_info' and choice.info.k == CAMERA_K
        assert choice.info.r == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert warnings.once == ['camera_info_r'] * 3 and warnings.throttled == []
    with pytest.raises(InputError, match='R is not a rotation'):
        warnings.policy(strict=True).choose(calibrated(r=[0.0] * 9), H, W)


def test_k_all_zeros_is_an_uncalibrated_camera_served_with_the_models_k():
    warnings = Warnings()
    policy = warnings.policy()
    assert policy.choose(uncalibrated(), H, W) == CameraChoice(None, 'uncalibrated')
    assert policy.status()['camera_k_uncalibrated'] == 1
    assert warnings.once == ['camera_info_uncalibrated'] and warnings.throttled == []
    with pytest.raises(InputError) as dropped:
        warnings.policy(strict=True).choose(uncalibrated(), H, W)
    assert dropped.value.reason == 'camera_info'


@pytest.mark.parametrize('case', sorted(INVALID_CAMERA_INFOS))
def test_an_unusable_camera_info_is_ignored_with_a_warning_or_dropped_when_strict(case):
    warnings = Warnings()
    info = calibrated(**INVALID_CAMERA_INFOS[case])
    assert warnings.policy().choose(info, H, W) == CameraChoice(None, 'invalid_camera_info')
    assert warnings.throttled == ['camera_info_ignored'] and warnings.once == []
    with pytest.raises(InputError) as dropped:
        warnings.policy(strict=True).choose(info, H, W)
    assert dropped.value.reason == 'camera_info'


# ---- pairing ----------------------------------------------------------------------------------
def stamped(sec: int, nanosec: int = 0, fx: float = 40.0) -> m.CameraInfo:
    return calibrated(k=[fx] + CAMERA_K[1:], header=m.Header(m.Time(sec, nanosec), 'cam'))


def test_pairing_modes():
    infos = [stamped(10, 0, 1.0), stamped(10, 40_000_000, 2.0), stamped(11, 0, 3.0)]
    exact, near, latest = (CameraInfoPairing('exact'), CameraInfoPairing('approximate', 0.05),
                           CameraInfoPairing('latest'))
    for pairing in (exact, near, latest):
        pairing.infos.extend(infos)
    assert exact.pick(m.Time(10, 40_000_000)).k[0] == 2.0
    assert exact.pick(m.Time(10, 30_000_000)) is None
    assert near.pick(m.Time(10, 30_000_000)).k[0] == 2.0   # the nearest within 50 ms
    assert near.pick(m.Time(10, 10_000_000)).k[0] == 1.0
    assert near.pick(m.Time(10, 500_000_000)) is None      # 460 ms from the nearest
    assert latest.pick(m.Time(3, 0)).k[0] == 3.0
    exact.infos.append(stamped(0, 0, 4.0))                  # a static calibration pairs always
    assert exact.pick(m.Time(99, 0)).k[0] == 4.0
    assert exact.unpaired(m.Time(99, 0)).reason == 'camera_info_unpaired'
    with pytest.raises(ValueError, match='camera_info_sync'):
        CameraInfoPairing('nearest')


def test_replay_pairing_answers_as_the_live_node_waits():
    second = 1_000_000_000
    arrivals = [(1 * second, stamped(1)), (2 * second + 100_000_000, stamped(2)),  # late
                (4 * second + 900_000_000, stamped(4))]                            # too late
    replay = ReplayPairing(arrivals)
    assert replay.match(m.Time(1, 0), 1 * second + 1).header.stamp.sec == 1
    assert replay.match(m.Time(2, 0), 2 * second).header.stamp.sec == 2
    with pytest.raises(InputError):
        replay.match(m.Time(3, 0), 3 * second)                   # missing
    with pytest.raises(InputError):
        replay.match(m.Time(4, 0), 4 * second)                   # later than the wait
    assert ReplayPairing([]).match(m.Time(1, 0), second) is None  # none at all: model K
    live = LivePairing()
    assert live.match(m.Time(1, 0), expected=False) is None
    threading.Timer(0.1, live.add, (stamped(1),)).start()
    assert live.match(m.Time(1, 0), expected=True).header.stamp.sec == 1
    with pytest.raises(InputError):
        live.match(m.Time(2, 0), expected=True, wait=0.05)


# ---- the node on such camera_info -------------------------------------------------------------
def run_frames(core: DepthNodeCore, recorder: 'Recorder', infos, frames: int = 4) -> None:
    core.configure()
    core.activate()
    for stamp in range(1, frames + 1):
        if infos is not None:
            core.on_camera_info(infos(stamp))
        core.on_image(frame(stamp, stamp=stamp))
        wait_for(lambda: core.stats.snapshot()['received'] == stamp and sum(
            core.stats.dropped.values()) + core.stats.published == stamp)


def test_an_uncalibrated_camera_gets_depth_for_every_frame_with_one_warning(tmp_path):
    recorder = Recorder(camera_info_publishers=1)
    core = make_core(tmp_path, recorder)
    run_frames(core, recorder, uncalibrated)
    values = {kv.key: kv.value for kv in core.diagnostics().status[0].values}
    model_k = camera_k_from_metadata(core.pipeline.estimators['day'].metadata, H, W)
    core.shutdown()
    assert len(recorder.on('depth/image')) == 4 and core.stats.dropped == {}
    for topic in ('depth/camera_info', 'inverse_depth/camera_info'):
        for info in recorder.on(topic):
            np.testing.assert_allclose(m.camera_matrix(info), model_k)
    assert values['camera_k'] == 'uncalibrated' and values['camera_k_uncalibrated'] == '4'
    assert sum('uncalibrated' in w for w in core.logger.warnings) == 1


def test_strict_camera_info_drops_and_diagnostics_say_error_with_the_reason(tmp_path):
    recorder = Recorder(camera_info_publishers=1)
    core = make_core(tmp_path, recorder, strict_camera_info=True)
    run_frames(core, recorder, lambda stamp: calibrated(stamp, r=[0.0] * 9))
    status = core.diagnostics().status[0]
    core.shutdown()
    assert not recorder.on('depth/image') and core.stats.dropped == {'camera_info': 4}
    assert status.level == m.DiagnosticStatus.ERROR
    assert 'no output: 4 of the last 4 frames dropped, mostly camera_info' in status.message


def test_inverse_depth_has_its_camera_info_with_the_same_header(tmp_path):
    recorder = Recorder(camera_info_publishers=1)
    core = make_core(tmp_path, recorder, metric_scale=None)
    run_frames(core, recorder, lambda stamp: calibrated(stamp, r=[0.0] * 9), frames=2)
    core.shutdown()
    images, infos = recorder.on('inverse_depth/image'), recorder.on('inverse_depth/camera_info')
    assert len(images) == len(infos) == 2
    for image, info in zip(images, infos):
        assert image.header == info.header and (info.width, info.height) == (W, H)
        assert info.k == CAMERA_K and info.r == [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
    assert core.output_topics()['inverse_depth/camera_info'] is m.CameraInfo


@pytest.mark.parametrize('published,dropped,level', [
    (10, {}, None),
    (10, {'superseded': 90, 'no_subscribers': 5}, None),   # a fast camera is not a fault
    (6, {'camera_info': 4}, None),                          # 40 % <= 50 %
    (4, {'camera_info': 5, 'nan': 1}, m.DiagnosticStatus.WARN),
    (0, {'no_scale': 3, 'encoding': 7, 'superseded': 2}, m.DiagnosticStatus.ERROR),
    (0, {'inactive': 7}, None),
])
def test_drop_health_over_the_last_frames(published, dropped, level):
    stats = Statistics(window=10)
    for _ in range(20):  # older outcomes leave the window
        stats.done(0.01)
    for reason, count in dropped.items():
        for _ in range(count):
            stats.drop(reason)
    for _ in range(published):
        stats.done(0.01)
    health = drop_health(stats.snapshot()['recent'], 0.5)
    assert (health and health[0]) == level
    if level is not None:
        top = max(dropped, key=lambda reason: (reason not in QUIET_DROPS, dropped[reason]))
        assert f'mostly {top}' in health[1]


# ---- ground-plane metres only with the camera's own K ----------------------------------------
class RoadEstimator:
    """An estimator whose depth is a flat road 0.5 model units below a camera with CAMERA_K."""

    backend_name = 'road'

    def __init__(self) -> None:
        self.metadata = ModelMetadata(intrinsics=[[1.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]],
                                      metric_scale=None, input_height=16, input_width=32)

    def predict(self, rgb: np.ndarray) -> DepthPrediction:
        fy, cy = CAMERA_K[4], CAMERA_K[5]
        rows = np.arange(H, dtype=np.float32)[:, None] - cy
        depth = np.where(rows > 0, 0.5 * fy / np.maximum(rows, 1e-3), 50.0)
        depth = np.broadcast_to(depth, (H, W)).astype(np.float32)
        return DepthPrediction(depth=depth, disparity=1.0 / depth, timings={})

    def metric_depth(self, prediction: DepthPrediction, scale: float) -> np.ndarray:
        return prediction.depth * np.float32(scale)


def road_pipeline(**params: Any) -> FramePipeline:
    values = dict(model='road.onnx', scale_mode='ground_plane', camera_height=1.5,
                  scale_confirm_frames=1, scale_smoothing=0.0)
    values.update(params)
    return FramePipeline(NodeParams(**values), {'day': RoadEstimator()})


def test_ground_plane_metres_use_the_cameras_k():
    pipeline = road_pipeline()
    result = pipeline.process(frame(), decode_image, calibrated(r=[0.0] * 9),
                              ['depth/image', 'depth/camera_info'])
    # camera_height / road height: 1.5 m / 0.5 model units, along the camera's own rays
    np.testing.assert_allclose(m.array_from_float_image(result.outputs['depth/image']),
                               RoadEstimator().predict(None).depth * 3.0, rtol=1e-4)
    assert result.outputs['depth/camera_info'].k == CAMERA_K


@pytest.mark.parametrize('info', [None, uncalibrated(), calibrated(k=[-40.0] + CAMERA_K[1:]),
                                  calibrated(k=[0.0] + CAMERA_K[1:])],
                         ids=['none', 'uncalibrated', 'negative fx', 'zero fx'])
def test_ground_plane_metres_are_refused_without_the_cameras_k(info):
    pipeline = road_pipeline()
    with pytest.raises(InputError) as dropped:
        pipeline.process(frame(), decode_image, info, ['depth/image'])
    assert dropped.value.reason == 'no_scale'
    assert pipeline.scaler.status()['scale_refused_no_camera_k'] == 1
    with pytest.raises(InputError) as strict:
        road_pipeline(strict_camera_info=True).process(frame(), decode_image,
                                                       calibrated(k=[-40.0] + CAMERA_K[1:]),
                                                       ['depth/image'])
    assert strict.value.reason == 'camera_info'
