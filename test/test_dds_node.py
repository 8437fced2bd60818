# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The depth node across processes: `adds node` in a child process, this test as the camera.

Everything travels over Cyclone DDS on loopback with ROS 2's wire conventions, in a DDS domain
of its own per test, so what is checked here is what a ROS 2 graph would see.
"""

import collections
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List

import cv2
from node_fixtures import LOOPBACK, dds_env, tiny_model, unique_domain_id
import numpy as np
import psutil
import pytest

from adds_ros import messages as m
from adds_ros.estimator import DepthEstimator
from adds_ros.image_decode import decode_compressed, decode_image

H, W = 64, 128
K = [100.0, 0.0, 64.0, 0.0, 100.0, 32.0, 0.0, 0.0, 1.0]


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = '') -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.01)


class Graph:
    """This test's side of the DDS graph: a camera publisher and listeners on the outputs."""

    def __init__(self, domain: int) -> None:
        from adds_ros.dds.transport import DdsTransport
        self.transport = DdsTransport(domain)
        self.lock = threading.Lock()
        self.received: Dict[str, List] = collections.defaultdict(list)
        self.listen('/diagnostics', m.DiagnosticArray)

    def listen(self, topic: str, msg_type: type) -> None:
        def store(msg) -> None:
            with self.lock:
                self.received[topic].append((time.monotonic(), msg))
        self.transport.subscribe(topic, msg_type, store, 'reliable', 100)

    def by_stamp(self, topic: str, stamp: m.Time):
        with self.lock:
            return next((msg for _, msg in self.received[topic] if msg.header.stamp == stamp),
                        None)

    def diagnostics(self) -> Dict[str, str]:
        with self.lock:
            if not self.received['/diagnostics']:
                return {}
            status = self.received['/diagnostics'][-1][1].status[0]
        return {kv.key: kv.value for kv in status.values}

    def count(self, key: str) -> int:
        return int(self.diagnostics().get(key, 0))


@pytest.fixture
def start_node(tmp_path, monkeypatch):
    """Start `adds node` on a fresh domain; yields (graph, process, log path) per call."""
    monkeypatch.setenv('CYCLONEDDS_URI', LOOPBACK)
    started = []

    def start(model: Path, *params: str, offset: int = 0):
        domain = unique_domain_id(offset)
        log = tmp_path / f'node{offset}.log'
        args = [sys.executable, '-m', 'adds_ros.dds_node', '--model', str(model),
                '--domain-id', str(domain), '-p', 'backend:=onnxruntime', '-p', 'device:=cpu',
                '-p', 'diagnostics_period:=0.1']
        for item in params:
            args += ['-p', item]
        with open(log, 'wb') as out:
            proc = subprocess.Popen(args, env=dds_env(domain), stdout=out,
                                    stderr=subprocess.STDOUT)
        graph = Graph(domain)
        started.append((proc, graph))
        wait_for(lambda: graph.diagnostics().get('state') == 'active' or proc.poll() is not None,
                 what='the node to start', timeout=30.0)
        assert proc.poll() is None, log.read_text()
        return graph, proc, log

    yield start
    for proc, graph in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, 'the node did not shut down cleanly'
        graph.transport.close()


def advertise_camera(graph: Graph, compressed: bool = False, camera_info: bool = True) -> None:
    topics = {'image/compressed': m.CompressedImage} if compressed else {'image': m.Image}
    if camera_info:
        topics['camera_info'] = m.CameraInfo
    for topic, msg_type in topics.items():
        graph.transport.advertise(topic, msg_type, 'reliable', 1)
    wait_for(lambda: all(graph.transport.subscriber_count(t) for t in topics),
             what='the node to subscribe')
    # and the other direction: a reader drops samples from a writer it has not matched yet
    wait_for(lambda: graph.count('input_publishers') >= len(topics),
             what='the node to match our publishers')


def subscribe_outputs(graph: Graph, *topics: str) -> None:
    for topic in topics:
        graph.listen(topic, m.CameraInfo if topic.endswith('camera_info') else m.Image)
    wait_for(lambda: all(graph.transport.publisher_count(t) for t in topics),
             what='the node to match our subscriptions')
    # discovery runs both ways separately: the node must also see our readers, or it would
    # drop the next frame as `no_subscribers`
    wait_for(lambda: graph.count('subscribers') >= len(topics),
             what='the node to count our subscriptions')


def send_camera_info(graph: Graph, width: int = W, height: int = H) -> None:
    graph.transport.publish('camera_info', m.CameraInfo(height=height, width=width, k=K,
                                                        distortion_model='plumb_bob'))
    time.sleep(0.3)  # camera_info and images are separate topics: let it arrive first


def rgb_frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_frames_in_depth_out_equal_to_the_estimator(tmp_path, start_node):
    model = tiny_model(tmp_path / 'm.onnx', 32, 64, metric_scale=5.0, crop=(0.25, 1, 0, 1))
    graph, _, _ = start_node(model)
    advertise_camera(graph)
    subscribe_outputs(graph, 'depth/image', 'depth/camera_info', 'depth/colorized')
    send_camera_info(graph)
    estimator = DepthEstimator(model, backend='onnxruntime', device='cpu')
    bayer = cv2.cvtColor(rgb_frame(3), cv2.COLOR_RGB2GRAY)
    frames = [m.image_from_array(rgb_frame(1), 'rgb8'),
              m.image_from_array(rgb_frame(2)[..., ::-1], 'bgr8'),
              m.image_from_array(bayer, 'bayer_rggb8')]
    for i, msg in enumerate(frames):
        msg.header = m.Header(m.Time(100 + i, 5000 + i), f'camera_{i}')
        graph.transport.publish('image', msg)
        wait_for(lambda: graph.by_stamp('depth/image', msg.header.stamp) is not None,
                 what=f'depth for frame {i}')
        wait_for(lambda: graph.by_stamp('depth/camera_info', msg.header.stamp) is not None,
                 what=f'camera_info for frame {i}')
        depth_msg = graph.by_stamp('depth/image', msg.header.stamp)
        info = graph.by_stamp('depth/camera_info', msg.header.stamp)
        assert depth_msg.header == msg.header and info.header == msg.header
        assert (depth_msg.encoding, depth_msg.height, depth_msg.width) == ('32FC1', H, W)
        depth = m.array_from_float_image(depth_msg)
        expected = estimator.metric_depth(estimator.predict(decode_image(msg)))
        np.testing.assert_allclose(depth, expected, rtol=1e-5, equal_nan=True)
        assert np.isnan(depth[:H // 4]).all() and np.isfinite(depth[H // 4:]).all()
        assert (info.width, info.height) == (W, H) and info.k == K
    wait_for(lambda: len(graph.received['depth/colorized']) == len(frames), what='colorized')
    view = graph.received['depth/colorized'][-1][1]
    assert view.encoding == 'bgr8' and view.header == frames[-1].header
    wait_for(lambda: graph.count('published') == len(frames), what='diagnostics')


def bad_inputs() -> List:
    """(message, diagnostics reason) for every malformed frame the issue lists."""
    good = m.image_from_array(rgb_frame(0), 'rgb8')
    nan_image = m.image_from_array(np.full((H, W), np.nan, np.float32), '32FC1')
    return [
        (m.Image(height=H, width=W, encoding='yuv422', step=W * 2, data=bytes(H * W * 2)),
         'encoding'),
        (m.Image(height=H, width=W, encoding='rgb8', step=W * 3, data=good.data[:-7]),
         'truncated'),
        (m.Image(height=H, width=W, encoding='rgb8', step=W * 2, data=bytes(H * W * 2)),
         'step'),
        (m.Image(height=0, width=W, encoding='rgb8', step=W * 3, data=b''), 'size'),
        (m.Image(height=H, width=100000, encoding='mono8', step=100000, data=b''), 'size'),
        (nan_image, 'nan'),
    ]


def test_every_bad_input_is_survived_counted_and_warned_once(tmp_path, start_node):
    model = tiny_model(tmp_path / 'm.onnx', 32, 64)
    graph, proc, log = start_node(model, 'warn_period:=60.0', offset=1)
    advertise_camera(graph)
    good = m.image_from_array(rgb_frame(0), 'rgb8')
    # nobody subscribes to depth yet: frames are not even inferred
    for _ in range(3):
        graph.transport.publish('image', good)
    wait_for(lambda: graph.count('dropped_no_subscribers') == 3, what='no_subscribers drops')
    assert graph.count('published') == 0
    subscribe_outputs(graph, 'depth/image')
    expected: Dict[str, int] = collections.Counter()
    for msg, reason in bad_inputs() + bad_inputs()[:1]:
        graph.transport.publish('image', msg)
        expected[reason] += 1
        wait_for(lambda: graph.count(f'dropped_{reason}') == expected[reason],
                 what=f'a {reason} drop')
    send_camera_info(graph, width=640, height=480)
    graph.transport.publish('image', good)
    wait_for(lambda: graph.count('dropped_camera_info') == 1, what='a camera_info drop')
    send_camera_info(graph)
    good.header.stamp = m.Time(7, 7)
    graph.transport.publish('image', good)
    wait_for(lambda: graph.by_stamp('depth/image', m.Time(7, 7)) is not None,
             what='depth after the bad inputs')
    assert proc.poll() is None
    text = log.read_text()
    # throttled per reason: the second yuv422 frame and the absurd size (after the zero size)
    # are counted but not logged again
    assert text.count("unsupported encoding 'yuv422'") == 1 and 'exceeds' not in text
    for phrase in ('bytes, step x height needs', 'is smaller than width', 'zero size', 'NaN',
                   'camera_info is 640x480 but the image is 128x64'):
        assert phrase in text


def test_compressed_input_and_corrupt_data(tmp_path, start_node):
    model = tiny_model(tmp_path / 'm.onnx', 32, 64)
    graph, proc, _ = start_node(model, 'compressed:=true', 'use_camera_info:=false', offset=2)
    advertise_camera(graph, compressed=True, camera_info=False)
    subscribe_outputs(graph, 'depth/image')
    estimator = DepthEstimator(model, backend='onnxruntime', device='cpu')
    bgr = np.ascontiguousarray(rgb_frame(4)[..., ::-1])
    for i, (fmt, ext) in enumerate((('jpeg', '.jpg'), ('png', '.png'))):
        msg = m.CompressedImage(m.Header(m.Time(50, i), 'cam'), fmt,
                                cv2.imencode(ext, bgr)[1].tobytes())
        graph.transport.publish('image/compressed', msg)
        wait_for(lambda: graph.by_stamp('depth/image', msg.header.stamp) is not None,
                 what=f'depth for {fmt}')
        depth = m.array_from_float_image(graph.by_stamp('depth/image', msg.header.stamp))
        expected = estimator.metric_depth(estimator.predict(decode_compressed(msg)))
        np.testing.assert_allclose(depth, expected, rtol=1e-5)
    bad = [(m.CompressedImage(format='jpeg', data=b'\xff\xd8 not a jpeg' * 9), 'corrupt'),
           (m.CompressedImage(format='tiff', data=b'II*\x00'), 'encoding'),
           (m.CompressedImage(format='png', data=b''), 'truncated')]
    for msg, reason in bad:
        graph.transport.publish('image/compressed', msg)
        wait_for(lambda: graph.count(f'dropped_{reason}') == 1, what=f'a {reason} drop')
    assert proc.poll() is None


def test_burst_keeps_latency_bounded_and_memory_flat(tmp_path, start_node):
    # ~15 ms per inference here; frames come at ~1 kHz, many times faster
    model = tiny_model(tmp_path / 'slow.onnx', H, W, layers=3, hidden=64)
    graph, proc, _ = start_node(model, 'publish_colorized:=false', 'use_camera_info:=false',
                                offset=3)
    advertise_camera(graph, camera_info=False)
    subscribe_outputs(graph, 'depth/image')
    frame = m.image_from_array(rgb_frame(5), 'rgb8')
    node = psutil.Process(proc.pid)
    total, sent_at, rss = 3000, {}, []
    start = time.monotonic()
    for i in range(total):
        frame.header.stamp = m.Time(1, i)
        sent_at[i] = time.monotonic()
        graph.transport.publish('image', frame)
        if i in (total // 3, total - 1):
            rss.append(node.memory_info().rss)
        time.sleep(max(0.0, start + (i + 1) * 1e-3 - time.monotonic()))
    send_rate = total / (time.monotonic() - start)
    time.sleep(0.5)
    with graph.lock:
        outputs = [(t, msg.header.stamp.nanosec) for t, msg in graph.received['depth/image']]
    latencies = np.array([t - sent_at[i] for t, i in outputs])
    output_rate = len(outputs) / (outputs[-1][0] - sent_at[0])
    assert send_rate > 3 * output_rate, (send_rate, output_rate)
    assert 20 < len(outputs) < total
    assert np.percentile(latencies, 99) < 0.5 and latencies.max() < 1.0, latencies.max()
    assert graph.count('dropped_superseded') > total // 2
    assert rss[1] - rss[0] < 20e6, rss
    print(f'burst: sent {send_rate:.0f} Hz, depth {output_rate:.0f} Hz, latency p50 '
          f'{np.median(latencies) * 1e3:.1f} ms p99 {np.percentile(latencies, 99) * 1e3:.1f} ms '
          f'max {latencies.max() * 1e3:.1f} ms, rss growth {(rss[1] - rss[0]) / 1e6:.1f} MB')


@pytest.mark.parametrize('args,code,message', [
    (['--model', '/nonexistent/m.onnx'], 1, 'could not load the depth model: no model file'),
    (['--model', 'm.onnx', '-p', 'backend:=cuda'], 2, "'backend' = 'cuda' is not one of"),
    (['-p', 'scale_mode:=fixed'], 1, "parameter 'model' is required"),
])
def test_bad_configuration_stops_the_node_with_a_clear_error(args, code, message):
    domain = unique_domain_id(9)
    result = subprocess.run([sys.executable, '-m', 'adds_ros.dds_node', '--domain-id',
                             str(domain), '--duration', '5'] + args, env=dds_env(domain),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == code and message in result.stderr, result.stderr
