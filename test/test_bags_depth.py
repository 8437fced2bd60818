# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bag-depth`: the node core over every frame of a bag, with a tiny real ONNX model."""

import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from adds_ros.atomic import write_text_atomic
from adds_ros.messages import (CameraInfo, Header, Image, array_from_float_image,
                               image_from_array)
from adds_ros.params import NodeParams
from adds_training.tools.bags import rosbag_io
from adds_training.tools.bags.bag_depth import BagDepthConfig, bag_depth
from adds_training.tools.bags.raw_to_bag import BagConfig, convert
from adds_training.data import layout
from node_fixtures import tiny_model
from robotcar_fixture import build_raw_sequence

NS = '/stereo/left'


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """A rectified six-frame bag (frame 2 missing from the raw data) and a tiny model."""
    root = tmp_path_factory.mktemp('bag_depth')
    fx = build_raw_sequence(root, n_frames=7, missing=(2,), margin_s=0.2)
    bag = root / 'drive'
    convert(BagConfig(fx.sequence, bag, fx.models, image_mode='rectified'))
    return fx, bag, tiny_model(root / 'tiny.onnx'), tiny_model(root / 'relative.onnx',
                                                               metric_scale=None)


@pytest.fixture(scope='module')
def predicted(scene, tmp_path_factory):
    """Depth maps (metres) of a plain run over the scene's bag, to build GT from."""
    _, bag, model, _ = scene
    out = tmp_path_factory.mktemp('predicted') / 'depth'
    run(bag, out, model)
    return depths(out, NS + '/depth/image')


def read_topics(bag: Path):
    out = {}
    for topic, msgtype, stamp, data in rosbag_io.read_messages(bag):
        out.setdefault(topic, []).append((stamp, rosbag_io.deserialize(data, msgtype)))
    return out


def run(bag: Path, out: Path, model: Path, **kwargs):
    params = kwargs.pop('params', NodeParams(model=str(model)))
    return bag_depth(BagDepthConfig(bag=bag, out=out, params=params, **kwargs))


def test_one_depth_frame_per_input_frame_with_input_stamps(scene, tmp_path):
    fx, bag, model, _ = scene
    summary = run(bag, tmp_path / 'depth', model)
    assert (summary.frames, summary.written, sum(summary.skipped.values())) == (6, 6, 0)
    inputs = read_topics(bag)[NS + '/image_raw']
    outputs = read_topics(tmp_path / 'depth')
    assert set(outputs) == {NS + '/depth/image', NS + '/depth/camera_info',
                            NS + '/depth/confidence', NS + '/depth/colorized', '/tf_static'}
    for name in ('image', 'camera_info', 'colorized'):
        got = outputs[f'{NS}/depth/{name}']
        assert [t for t, _ in got] == [t for t, _ in inputs]
        for (_, msg), (_, src) in zip(got, inputs):
            assert msg.header.stamp == src.header.stamp
            assert msg.header.frame_id == src.header.frame_id == 'stereo_left_optical'
    for _, depth in outputs[NS + '/depth/image']:
        assert (depth.encoding, depth.height, depth.width) == ('32FC1', *fx.size)
        values = array_from_float_image(rosbag_io.from_rosbags(depth, Image))
        assert np.isfinite(values).all() and (values > 0).all()  # no crop: depth everywhere
    for _, info in outputs[NS + '/depth/camera_info']:
        assert (info.height, info.width) == fx.size
        assert info.k[0] == fx.focal[0] and info.k[2] == fx.principal[0]
    assert outputs[NS + '/depth/colorized'][0][1].encoding == 'bgr8'
    meta = yaml.safe_load((tmp_path / 'depth' / 'metadata.yaml').read_text())
    qos = {t['topic_metadata']['name']: yaml.safe_load(t['topic_metadata']['offered_qos_profiles'])
           [0] for t in meta['rosbag2_bagfile_information']['topics_with_message_count']}
    assert qos[NS + '/depth/image']['reliability'] == 1  # the node publishes reliable


def depths(bag: Path, topic: str):
    return [array_from_float_image(rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype),
                                                          Image))
            for _, msgtype, _, data in rosbag_io.read_messages(bag, [topic])]


def test_scale_policy_and_inverse_depth_without_metres(scene, tmp_path):
    _, bag, _, relative = scene
    run(bag, tmp_path / 'inverse', relative)
    topics = rosbag_io.bag_topics(tmp_path / 'inverse')
    assert NS + '/inverse_depth/image' in topics and NS + '/depth/image' not in topics
    params = NodeParams(model=str(relative), scale_mode='fixed', scale_factor=2.5)
    run(bag, tmp_path / 'scaled', relative, params=params)
    inverse = depths(tmp_path / 'inverse', NS + '/inverse_depth/image')
    metres = depths(tmp_path / 'scaled', NS + '/depth/image')
    assert len(inverse) == len(metres) == 6
    for inv, m in zip(inverse, metres):
        np.testing.assert_allclose(m, 2.5 / inv, rtol=1e-5)


def test_corrupt_frames_are_skipped_and_counted(tmp_path, scene):
    _, _, model, _ = scene
    bag = tmp_path / 'broken'
    topic = '/cam/image_raw'
    rgb = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)
    with rosbag_io.BagWriter(bag) as writer:
        writer.add_topic(topic, rosbag_io.IMAGE)
        for k in range(5):
            stamp = 1_000_000_000 + k * 100_000_000
            header = Header(stamp=rosbag_io.time_from_ns(stamp), frame_id='cam')
            msg = image_from_array(rgb, 'rgb8', header)
            if k == 1:
                msg.data = msg.data[:-7]  # truncated buffer
            if k == 3:
                msg = b'\x00\x01\x00\x00garbage'  # not a CDR Image at all
            writer.write(topic, stamp, msg)
    summary = run(bag, tmp_path / 'out', model)
    assert (summary.frames, summary.written) == (5, 3)
    assert summary.skipped == {'truncated': 1, 'undeserializable': 1}
    stamps = [rosbag_io.stamp_ns(m.header.stamp)
              for _, m in read_topics(tmp_path / 'out')['/cam/depth/image']]
    assert stamps == [1_000_000_000 + k * 100_000_000 for k in (0, 2, 4)]


def write_gt(fx, root: Path, folder: str, depth_maps, factor: float) -> None:
    """GT in the processed layout: index <-> µs timestamps, 16-bit PNGs (metres * 256)."""
    kept = [k for k in range(len(fx.stamps)) if k not in fx.missing]
    write_text_atomic(root / f'{folder}.timestamps',
                      ''.join(f'{k:010d} {fx.stamps[k]}\n' for k in kept))
    for k, depth in zip(kept, depth_maps):
        layout.write_gt_png(layout.gt_path(root, folder, k), depth * factor)


@pytest.mark.parametrize('factor,protocol,abs_rel', [(1.0, 'full40_metric', 0.0),
                                                     (2.0, 'full40', 0.0),
                                                     (2.0, 'full40_metric', 0.5)])
def test_evaluation_against_ground_truth(scene, predicted, tmp_path, factor, protocol,
                                         abs_rel):
    fx, bag, model, _ = scene
    write_gt(fx, tmp_path / 'gt', 'day', predicted, factor)
    summary = run(bag, tmp_path / 'scored', model, gt_root=tmp_path / 'gt', gt_folder='day',
                  protocol=protocol)
    assert summary.evaluated == 6
    # GT PNGs hold metres in 1/256 steps, so exact agreement is only up to that rounding
    assert summary.metrics['abs_rel'] == pytest.approx(abs_rel, abs=5e-3)
    assert summary.metrics['a1'] == (1.0 if abs_rel == 0 else 0.0)


def test_metric_protocol_without_metres_is_refused(scene, tmp_path):
    fx, bag, _, relative = scene
    write_gt(fx, tmp_path / 'gt', 'day', [np.ones(fx.size)] * 6, 1.0)
    with pytest.raises(ValueError, match='no metric scale'):
        run(bag, tmp_path / 'out', relative, gt_root=tmp_path / 'gt', gt_folder='day',
            protocol='full40_metric')
    assert not (tmp_path / 'out').exists()


def test_topic_choice_and_cli(scene, tmp_path, capsys):
    from adds_ros.cli import main
    _, bag, model, _ = scene
    with pytest.raises(ValueError, match='not an image topic'):
        run(bag, tmp_path / 'x', model, topic='/stereo/left/camera_info')
    assert main(['bag-depth', str(bag), '--out', str(tmp_path / 'out'), '--model', str(model),
                 '--out-ns', '/front', '--no-tf', '-p', 'publish_colorized:=false']) == 0
    assert '6 frames in, 6 depth frames written, 0 skipped' in capsys.readouterr().out
    topics = set(rosbag_io.bag_topics(tmp_path / 'out'))
    assert topics == {'/front/depth/image', '/front/depth/camera_info',
                      '/front/depth/confidence'}
    assert main(['bag-depth', str(bag), '--out', str(tmp_path / 'o2'), '--model',
                 str(tmp_path / 'none.onnx')]) == 2
    assert 'no model' in capsys.readouterr().err


def test_frames_without_usable_ground_truth_are_counted_not_fatal(scene, predicted, tmp_path):
    fx, bag, model, _ = scene
    maps = list(predicted)
    maps[0] = np.zeros(fx.size)  # a GT image without one valid pixel
    write_gt(fx, tmp_path / 'gt', 'day', maps, 1.0)
    (tmp_path / 'gt' / 'day_gt' / f'{6:010d}.png').unlink()  # and a frame without GT
    summary = run(bag, tmp_path / 'scored', model, gt_root=tmp_path / 'gt', gt_folder='day',
                  protocol='full40_metric')
    assert (summary.written, summary.evaluated, summary.unscored) == (6, 4, 1)
    assert summary.metrics['a1'] == 1.0


def test_unknown_protocol_is_named_before_any_work(scene, tmp_path):
    _, bag, model, _ = scene
    with pytest.raises(ValueError, match="unknown protocol 'kitti'"):
        run(bag, tmp_path / 'out', model, gt_root=tmp_path, gt_folder='day', protocol='kitti')
    assert not (tmp_path / 'out').exists()


def test_raw_bayer_bag_warns_that_the_network_wants_rectified_colour(scene, tmp_path, caplog):
    from adds_training.tools.bags.bag_depth import warn_if_bayer

    fx, rectified, _, _ = scene
    raw_bag = tmp_path / 'raw'
    convert(BagConfig(fx.sequence, raw_bag, fx.models, image_mode='raw'))
    compressed = tmp_path / 'compressed'
    convert(BagConfig(fx.sequence, compressed, fx.models, image_mode='compressed'))
    with caplog.at_level('WARNING', logger='adds_training.tools.bags.bag_depth'):
        assert warn_if_bayer(rectified, NS + '/image_raw') is None
        assert warn_if_bayer(compressed, NS + '/image_raw/compressed') is None
        assert not caplog.records
        assert warn_if_bayer(raw_bag, NS + '/image_raw') == 'bayer_gbrg8'
    warning, = caplog.records
    assert 'raw Bayer images (bayer_gbrg8)' in warning.getMessage()
    assert 'rectified colour' in warning.getMessage()


# ---- one per-frame path: the live node core and bag-depth answer alike ------------------------
SECOND = 1_000_000_000
EQ_H, EQ_W = 24, 32
EQ_K = [30.0, 0.0, 16.0, 0.0, 30.0, 12.0, 0.0, 0.0, 1.0]


def eq_info(stamp: int, **changes) -> CameraInfo:
    values = dict(header=Header(rosbag_io.time_from_ns(stamp * SECOND), 'cam'), height=EQ_H,
                  width=EQ_W, distortion_model='plumb_bob', d=[0.0] * 5, k=list(EQ_K),
                  p=EQ_K[0:3] + [0.0] + EQ_K[3:6] + [0.0] + EQ_K[6:9] + [0.0])
    values.update(changes)
    return CameraInfo(**values)


def eq_image(stamp: int, encoding: str = 'rgb8') -> Image:
    rgb = np.random.default_rng(stamp).integers(0, 256, (EQ_H, EQ_W, 3), dtype=np.uint8)
    msg = image_from_array(rgb, 'rgb8', Header(rosbag_io.time_from_ns(stamp * SECOND), 'cam'))
    msg.encoding = encoding
    return msg


def camera_sequence():
    """(arrival s, 'info' | 'image', message): on time, late, missing, too late, mismatched,
    uncalibrated, R unstated, a bad frame, and a static (zero-stamp) calibration."""
    return [(0.0, 'info', eq_info(1)), (0.01, 'image', eq_image(1)),
            (1.0, 'image', eq_image(2)), (1.1, 'info', eq_info(2)),           # late, in time
            (2.0, 'image', eq_image(3)),                                       # missing
            (3.0, 'image', eq_image(4)), (3.7, 'info', eq_info(4)),           # too late
            (4.0, 'info', eq_info(5, width=2 * EQ_W)), (4.01, 'image', eq_image(5)),
            (5.0, 'info', eq_info(6, k=[0.0] * 9, r=[0.0] * 9, p=[0.0] * 12, d=[],
                                  distortion_model='')), (5.01, 'image', eq_image(6)),
            (6.0, 'info', eq_info(7, r=[0.0] * 9)), (6.01, 'image', eq_image(7)),
            (7.0, 'info', eq_info(8)), (7.01, 'image', eq_image(8, encoding='hsv8')),
            (8.0, 'info', eq_info(0)), (8.01, 'image', eq_image(9))]


def live_outputs(params: NodeParams, sequence):
    """Feed the sequence to the node core in arrival order; a frame's wait runs in real time."""
    from adds_ros.camera_info import CAMERA_INFO_WAIT
    from adds_ros.estimator import DepthEstimator
    from adds_ros.node_core import DepthNodeCore

    class Recorder:
        sent = []

        def publish(self, topic, msg):
            self.sent.append((topic, msg))

        def subscriber_count(self, topic):
            return 1

        def publisher_count(self, topic):
            return 1

    def settled(frames: int) -> bool:
        stats = core.stats
        return stats.published + sum(stats.dropped.values()) == frames

    def wait_until_settled(frames: int) -> None:
        end = time.monotonic() + 10
        while not settled(frames):
            assert time.monotonic() < end, 'the node core did not finish a frame'
            time.sleep(0.005)

    recorder = Recorder()
    core = DepthNodeCore(params, recorder, lambda model, p: DepthEstimator(
        model, backend='onnxruntime', device='cpu'))
    core.configure()
    core.activate()
    frames, deadline = 0, None
    for arrival, kind, msg in sequence:
        if deadline is not None and arrival > deadline:  # what arrives after a frame's wait
            wait_until_settled(frames)
        if kind == 'info':
            core.on_camera_info(msg)
        else:
            core.on_image(msg)
            frames, deadline = frames + 1, arrival + CAMERA_INFO_WAIT
    wait_until_settled(frames)
    core.shutdown()
    return recorder.sent, dict(core.stats.dropped)


def offline_outputs(params: NodeParams, sequence, tmp_path: Path):
    bag = tmp_path / 'camera'
    with rosbag_io.BagWriter(bag) as writer:
        writer.add_topic('/cam/image_raw', rosbag_io.IMAGE)
        writer.add_topic('/cam/camera_info', rosbag_io.CAMERA_INFO)
        for arrival, kind, msg in sequence:
            topic = '/cam/image_raw' if kind == 'image' else '/cam/camera_info'
            writer.write(topic, 100 * SECOND + round(arrival * SECOND), msg)
    summary = run(bag, tmp_path / 'depth', Path(params.model), params=params, out_ns='')
    sent = [(topic.lstrip('/'), rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype),
                                                       rosbag_io_type(msgtype)))
            for topic, msgtype, _, data in rosbag_io.read_messages(tmp_path / 'depth')]
    return sent, dict(summary.skipped), summary


def rosbag_io_type(msgtype: str) -> type:
    return CameraInfo if msgtype == rosbag_io.CAMERA_INFO else Image


def comparable(msg):
    if isinstance(msg, Image):
        return (msg.header, msg.encoding, msg.height, msg.width, msg.step, bytes(msg.data))
    return msg


@pytest.mark.slow  # about 2 s: two frames wait out the camera_info wait in real time
def test_live_node_and_bag_depth_give_the_same_outputs_and_drops(scene, tmp_path):
    _, _, model, _ = scene
    params = NodeParams(model=str(model))
    live, live_drops = live_outputs(params, camera_sequence())
    offline, offline_drops, summary = offline_outputs(params, camera_sequence(), tmp_path)
    assert live_drops == offline_drops == {'camera_info_unpaired': 2, 'encoding': 1}
    topics = {topic for topic, _ in offline}
    assert topics == {'depth/image', 'depth/camera_info', 'depth/confidence',
                      'depth/colorized'}
    for topic in topics:
        assert [comparable(msg) for t, msg in live if t == topic] == \
            [comparable(msg) for t, msg in offline if t == topic], topic
    infos = {msg.header.stamp.sec: msg for t, msg in offline if t == "depth/camera_info"}
    assert sorted(infos) == [1, 2, 5, 6, 7, 9]   # 3, 4 unpaired; 8 not decodable
    assert infos[1].k == infos[2].k == infos[7].k == infos[9].k == EQ_K  # the camera's
    assert infos[5].k == infos[6].k != EQ_K     # mismatched, uncalibrated: the model's K
    assert summary.written == 6


def test_node_parameters_come_from_the_file_then_p_then_the_options(tmp_path):
    """ROS 2's order: params file, -p NAME:=VALUE, then --backend/--device/--scale."""
    import argparse
    from adds_training.tools.bags.bag_depth import add_arguments, build_config
    params_file = tmp_path / 'params.yaml'
    params_file.write_text('depth_node:\n  ros__parameters:\n    device: cuda:1\n'
                           '    publish_colorized: true\n    scale_factor: 2.0\n')
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    words = ['in.mcap', '--out', 'o', '--model', 'm.onnx', '--params-file', str(params_file),
             '-p', 'publish_colorized:=false', '-p', 'device:=cpu']
    cfg = build_config(parser.parse_args(words), Path('in.mcap'))
    assert (cfg.params.model, cfg.params.device, cfg.params.publish_colorized) == \
        ('m.onnx', 'cpu', False)
    assert (cfg.params.scale_factor, cfg.copy_tf, cfg.storage) == (2.0, True, 'mcap')
    cfg = build_config(parser.parse_args(words + ['--device', 'cuda:0', '--scale', '3',
                                                  '--no-tf', '--storage', 'sqlite3']),
                       Path('in.mcap'))
    assert (cfg.params.device, cfg.params.scale_mode, cfg.params.scale_factor) == \
        ('cuda:0', 'fixed', 3.0)
    assert (cfg.copy_tf, cfg.storage, cfg.bag) == (False, 'sqlite3', Path('in.mcap'))
