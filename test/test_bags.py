# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bag`: raw RobotCar fixture -> rosbag2, read back with rosbags and the mcap reader."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from mcap.reader import make_reader

from adds_ros.errors import UserValueError
from adds_ros.messages import (CameraInfo, CompressedImage, Header, Image, RegionOfInterest,
                               camera_info_from_k, image_from_array)
from adds_training.tools.bags import raw_to_bag, rosbag_io
from adds_training.tools.bags.raw_to_bag import BagConfig, convert, select_stamps
from adds_training.tools.bags.sdk_camera import (camera_info_from_model, fit_plumb_bob,
                                                 optical_frame_pose)
from adds_training.data.robotcar import raw
from robotcar_fixture import build_raw_sequence, write_camera_model

IMAGE_TOPIC = '/stereo/left/image_raw'
INFO_TOPIC = '/stereo/left/camera_info'

# A child process whose bag conversion takes a second per frame, so a test that interrupts it
# after the first file appears has seconds to spare even on a loaded machine (and never waits
# for the rest).
SLOW_FRAMES = ('import sys, time\n'
               'from adds_training.tools.bags import raw_to_bag as r\n'
               'real = r.frame_message\n'
               'def slow(*a):\n'
               '    time.sleep(1.0)\n'
               '    return real(*a)\n'
               'r.frame_message = slow\n')


@pytest.fixture(scope='module')
def fixture(tmp_path_factory):
    """Eight frames: index 2 has no file, index 5 is not a PNG."""
    return build_raw_sequence(tmp_path_factory.mktemp('robotcar'), n_frames=8, missing=(2,),
                              corrupt=(5,), margin_s=0.2)


def good_indices(fx):
    return [k for k in range(len(fx.stamps)) if k not in fx.missing + fx.corrupt]


def read_back(bag: Path):
    """topic -> list of (log time, deserialised rosbags message)."""
    out = {}
    for topic, msgtype, stamp, data in rosbag_io.read_messages(bag):
        out.setdefault(topic, []).append((stamp, rosbag_io.deserialize(data, msgtype)))
    return out


def mosaic(fx, k):
    return cv2.imread(str(fx.sequence / raw.IMAGE_DIR / f'{fx.stamps[k]}.png'),
                      cv2.IMREAD_UNCHANGED)


def test_raw_bag_has_every_frame_stamp_encoding_and_bytes(fixture, tmp_path):
    fx = fixture
    bag = tmp_path / 'drive'
    counts = convert(BagConfig(fx.sequence, bag, fx.models))
    assert counts == {'written': 6, 'missing': 1, 'corrupt': 1}
    messages = read_back(bag)
    images, infos = messages[IMAGE_TOPIC], messages[INFO_TOPIC]
    assert len(images) == len(infos) == 6
    height, width = fx.size
    for k, (log_time, msg), (info_time, info) in zip(good_indices(fx), images, infos):
        expected_ns = int(fx.stamps[k]) * 1000
        assert log_time == info_time == expected_ns
        assert rosbag_io.stamp_ns(msg.header.stamp) == expected_ns
        assert rosbag_io.stamp_ns(info.header.stamp) == expected_ns
        assert msg.header.frame_id == info.header.frame_id == 'stereo_left_optical'
        assert (msg.encoding, msg.height, msg.width, msg.step) == ('bayer_gbrg8', height,
                                                                   width, width)
        assert bytes(msg.data) == mosaic(fx, k).tobytes()
        # camera_info describes these very images: size, SDK intrinsics, P = [K | 0]
        assert (info.height, info.width) == (height, width)
        K = np.array([[fx.focal[0], 0, fx.principal[0]], [0, fx.focal[1], fx.principal[1]],
                      [0, 0, 1]])
        np.testing.assert_allclose(info.k.reshape(3, 3), K, atol=1e-6)
        np.testing.assert_allclose(info.p.reshape(3, 4), np.hstack([K, np.zeros((3, 1))]),
                                   atol=1e-6)
        assert info.distortion_model == 'plumb_bob' and len(info.d) == 5
        np.testing.assert_allclose(info.d, 0.0, atol=1e-5)  # the fixture LUT is the identity
    (_, tf), = messages['/tf_static']
    transform = tf.transforms[0]
    assert (transform.header.frame_id, transform.child_frame_id) == ('base_link',
                                                                     'stereo_left_optical')


def test_metadata_declares_storage_cdr_types_and_qos(fixture, tmp_path):
    fx = fixture
    bag = tmp_path / 'drive'
    convert(BagConfig(fx.sequence, bag, fx.models))
    info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['version'] == 8 and info['storage_identifier'] == 'mcap'
    assert info['relative_file_paths'] == ['drive_0.mcap']
    assert info['message_count'] == 6 + 6 + 1
    topics = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert {n: t['topic_metadata']['type'] for n, t in topics.items()} == {
        IMAGE_TOPIC: 'sensor_msgs/msg/Image', INFO_TOPIC: 'sensor_msgs/msg/CameraInfo',
        '/tf_static': 'tf2_msgs/msg/TFMessage'}
    assert all(t['topic_metadata']['serialization_format'] == 'cdr' for t in topics.values())
    assert topics[IMAGE_TOPIC]['message_count'] == 6
    qos = {n: yaml.safe_load(t['topic_metadata']['offered_qos_profiles'])[0]
           for n, t in topics.items()}
    # numeric enums (Humble's form): reliability 2 = best effort, 1 = reliable; history 1 =
    # keep last; durability 1 = transient local, 2 = volatile
    assert (qos[IMAGE_TOPIC]['reliability'], qos[IMAGE_TOPIC]['history'],
            qos[IMAGE_TOPIC]['durability']) == (2, 1, 2)
    assert qos[INFO_TOPIC]['reliability'] == 2
    assert (qos['/tf_static']['reliability'], qos['/tf_static']['durability'],
            qos['/tf_static']['depth']) == (1, 1, 1)
    # the MCAP file's own summary agrees
    with open(bag / 'drive_0.mcap', 'rb') as handle:
        reader = make_reader(handle)
        assert reader.get_header().profile == 'ros2'
        summary = reader.get_summary()
    channels = {c.topic: c for c in summary.channels.values()}
    assert set(channels) == set(topics)
    for topic, channel in channels.items():
        assert channel.message_encoding == 'cdr'
        assert summary.schemas[channel.schema_id].name == topics[topic]['topic_metadata']['type']
        assert summary.statistics.channel_message_counts[channel.id] == \
            topics[topic]['message_count']
        assert yaml.safe_load(channel.metadata['offered_qos_profiles']) == [qos[topic]]


@pytest.mark.parametrize('mode,storage', [('rectified', 'sqlite3'), ('compressed', 'mcap')])
def test_rectified_and_compressed_frames_match_the_raw_readers(fixture, tmp_path, mode,
                                                               storage):
    fx = fixture
    bag = tmp_path / 'drive'
    convert(BagConfig(fx.sequence, bag, fx.models, storage=storage, image_mode=mode,
                      codec='png'))
    info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['storage_identifier'] == storage
    assert info['relative_file_paths'] == ['drive_0.db3' if storage == 'sqlite3'
                                           else 'drive_0.mcap']
    model = raw.read_camera_model(fx.models, size=fx.size)
    messages = read_back(bag)
    topic = IMAGE_TOPIC + ('/compressed' if mode == 'compressed' else '')
    assert len(messages[topic]) == 6
    for k, (log_time, msg) in zip(good_indices(fx), messages[topic]):
        assert log_time == int(fx.stamps[k]) * 1000
        expected = model.undistort(raw.demosaic(mosaic(fx, k)))
        if mode == 'rectified':
            assert (msg.encoding, msg.height, msg.width) == ('rgb8', *fx.size)
            got = np.asarray(msg.data).reshape(*fx.size, 3)
        else:
            assert msg.format == 'rgb8; png compressed bgr8'
            got = cv2.cvtColor(cv2.imdecode(np.asarray(msg.data), cv2.IMREAD_COLOR),
                               cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(got, expected)
    (_, info_msg), *_ = messages[INFO_TOPIC]
    assert list(info_msg.d) == [0.0] * 5  # rectified: no distortion left


def test_time_range_and_stride(fixture, tmp_path):
    stamps = np.arange(5) * 100_000 + 1_418_000_000_000_000  # 0.1 s apart
    np.testing.assert_array_equal(select_stamps(stamps, 0.1, 0.35, 1), stamps[1:4])
    np.testing.assert_array_equal(select_stamps(stamps, None, None, 2), stamps[[0, 2, 4]])
    np.testing.assert_array_equal(select_stamps(stamps, float(stamps[3]), None, 1), stamps[3:])
    with pytest.raises(ValueError, match='no frame between'):
        select_stamps(stamps, 10.0, None, 1)
    fx = fixture
    bag = tmp_path / 'drive'
    # seconds from the start: frames 1..6 (0.1 s apart), every second one -> 1, 3, (5 corrupt)
    counts = convert(BagConfig(fx.sequence, bag, fx.models, start=0.1, end=0.6, stride=2))
    assert counts == {'written': 2, 'corrupt': 1}
    logged = [t for t, _ in read_back(bag)[IMAGE_TOPIC]]
    assert logged == [int(fx.stamps[k]) * 1000 for k in (1, 3)]


def test_split_by_size_gives_one_bag_of_many_files(fixture, tmp_path):
    fx = fixture
    bag = tmp_path / 'drive'
    frame_mb = fx.size[0] * fx.size[1] / 2 ** 20
    convert(BagConfig(fx.sequence, bag, fx.models, split_size_mb=2.5 * frame_mb))
    info = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    files = info['relative_file_paths']
    assert files == [f'drive_{i}.mcap' for i in range(len(files))] and len(files) == 3
    assert sorted(os.listdir(bag)) == sorted(files + ['metadata.yaml'])
    assert sum(f['message_count'] for f in info['files']) == info['message_count'] == 13
    assert [f['path'] for f in info['files']] == files
    logged = [t for t, _ in read_back(bag)[IMAGE_TOPIC]]
    assert logged == [int(fx.stamps[k]) * 1000 for k in good_indices(fx)]


def test_failed_conversion_leaves_nothing(fixture, tmp_path, monkeypatch):
    fx = fixture
    bag = tmp_path / 'drive'
    real = raw_to_bag.frame_message
    seen = []

    def failing(mosaic, model, cfg, header):
        seen.append(header)
        assert not bag.exists()  # while writing, only a hidden partial folder exists
        assert [p.name.endswith('.partial') for p in tmp_path.iterdir()] == [True]
        if len(seen) == 3:
            raise RuntimeError('disk full')
        return real(mosaic, model, cfg, header)

    monkeypatch.setattr(raw_to_bag, 'frame_message', failing)
    with pytest.raises(RuntimeError, match='disk full'):
        convert(BagConfig(fx.sequence, bag, fx.models))
    assert list(tmp_path.iterdir()) == []


def test_killed_conversion_leaves_no_complete_looking_bag(fixture, tmp_path):
    fx = fixture
    bag = tmp_path / 'drive'
    script = (SLOW_FRAMES + f'r.convert(r.BagConfig({str(fx.sequence)!r}, {str(bag)!r}, '
                            f'{str(fx.models)!r}))\n')
    child = subprocess.Popen([sys.executable, '-c', script], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob('.drive.*.partial/drive_0/*.mcap')):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        time.sleep(0.4)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert not bag.exists()
    partial, = tmp_path.iterdir()
    assert partial.name.startswith('.drive.') and not (partial / 'metadata.yaml').exists()
    with pytest.raises(ValueError, match='is an unfinished bag: what an interrupted `adds bag`'):
        rosbag_io.bag_topics(partial)
    with pytest.raises(ValueError, match=f'no such file or folder; {partial.name} beside it is '
                                         'what an interrupted'):
        rosbag_io.bag_topics(bag)


def test_existing_bag_is_kept_unless_overwrite(fixture, tmp_path):
    fx = fixture
    bag = tmp_path / 'drive'
    convert(BagConfig(fx.sequence, bag, fx.models, end=0.0))
    with pytest.raises(FileExistsError, match='--overwrite'):
        convert(BagConfig(fx.sequence, bag, fx.models))
    assert len(read_back(bag)[IMAGE_TOPIC]) == 1
    convert(BagConfig(fx.sequence, bag, fx.models, overwrite=True))
    assert len(read_back(bag)[IMAGE_TOPIC]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ['drive']


def test_plumb_bob_fit_recovers_known_distortion(tmp_path):
    size, focal, principal = (60, 80), (70.0, 72.0), (41.0, 29.5)
    d_true = np.array([-0.21, 0.05, 0.001, -0.002, -0.004])
    K = np.array([[focal[0], 0, principal[0]], [0, focal[1], principal[1]], [0, 0, 1]])
    v, u = np.mgrid[0:size[0], 0:size[1]].astype(np.float64)
    rays = np.stack([(u - principal[0]) / focal[0], (v - principal[1]) / focal[1],
                     np.ones_like(u)], -1).reshape(-1, 1, 3)
    # OpenCV's own projection says where each undistorted pixel lies in the raw image
    distorted, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), K, d_true)
    lut = distorted.reshape(*size, 2).transpose(2, 0, 1)
    write_camera_model(tmp_path, focal, principal, lut)
    model = raw.read_camera_model(tmp_path, size=size)
    d_fit, rms = fit_plumb_bob(model, step=2)
    np.testing.assert_allclose(d_fit, d_true, atol=2e-4)
    assert rms < 0.01
    info, info_rms = camera_info_from_model(model, rectified=False, header=Header())
    np.testing.assert_allclose(info.d, d_true, atol=2e-4)
    assert info_rms == pytest.approx(rms, rel=0.5)
    # the fitted camera_info undistorts like the SDK table (what image_proc would do)
    image = (np.random.default_rng(0).random((*size, 3)) * 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 2.0)
    map1, map2 = cv2.initUndistortRectifyMap(K, np.array(info.d), None, K, size[::-1],
                                             cv2.CV_32FC1)
    ros = cv2.remap(image, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(ros[inner].astype(int) - model.undistort(image)[inner].astype(int)).max() <= 2


def test_optical_frame_pose_and_quaternions(fixture):
    model = raw.read_camera_model(fixture.models, size=fixture.size)
    pose = optical_frame_pose(model)
    # optical z (forward) -> base_link x; optical x (right) -> -y; optical y (down) -> -z
    np.testing.assert_allclose(pose[:3, :3] @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(pose[:3, :3] @ [1, 0, 0], [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(pose[:3, :3] @ [0, 1, 0], [0, 0, -1], atol=1e-12)
    assert rosbag_io.quaternion_from_matrix(np.diag([1.0, -1, -1])) == pytest.approx(
        (1, 0, 0, 0), abs=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(5):
        rotation, _ = cv2.Rodrigues(rng.normal(size=3))
        x, y, z, w = rosbag_io.quaternion_from_matrix(rotation)
        rebuilt = np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        np.testing.assert_allclose(rebuilt, rotation, atol=1e-9)
    with pytest.raises(ValueError, match='not a rotation'):
        rosbag_io.quaternion_from_matrix(np.diag([1.0, 1.0, -1.0]))


def test_project_messages_round_trip_through_cdr():
    header = Header(stamp=rosbag_io.time_from_ns(1_418_132_000_123_456_789), frame_id='cam')
    info = CameraInfo(header=header, height=4, width=6, distortion_model='plumb_bob',
                      d=[0.1, -0.2, 0.0, 0.0, 0.3], k=[float(i) for i in range(9)],
                      p=[float(i) for i in range(12)], binning_x=1,
                      roi=RegionOfInterest(1, 2, 3, 4, True))
    image = Image(header=header, height=2, width=3, encoding='rgb8', step=9,
                  data=bytes(range(18)))
    packed = CompressedImage(header=header, format='jpeg', data=b'\xff\xd8abc')
    for msg, msgtype in ((info, rosbag_io.CAMERA_INFO), (image, rosbag_io.IMAGE),
                         (packed, rosbag_io.COMPRESSED_IMAGE)):
        data = rosbag_io.serialize(msg, msgtype)
        assert rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype), type(msg)) == msg
    assert header.stamp.sec == 1_418_132_000 and header.stamp.nanosec == 123_456_789


def test_bad_arguments_are_named(fixture, tmp_path):
    fx = fixture
    with pytest.raises(ValueError, match="'image_mode' = 'jpeg' is not one of"):
        convert(BagConfig(fx.sequence, tmp_path / 'b', fx.models, image_mode='jpeg'))
    with pytest.raises(ValueError, match='stride'):
        convert(BagConfig(fx.sequence, tmp_path / 'b', fx.models, stride=0))
    with pytest.raises(ValueError, match='unknown storage'):
        rosbag_io.BagWriter(tmp_path / 'b', storage='bag1')
    with pytest.raises(FileNotFoundError, match='camera model'):
        convert(BagConfig(fx.sequence, tmp_path / 'b', tmp_path))
    assert not (tmp_path / 'b').exists()


def test_cli(fixture, tmp_path, capsys):
    from adds_ros.cli import main
    fx = fixture
    bag = tmp_path / 'drive'
    assert main(['bag', str(fx.sequence), '--out', str(bag), '--models-dir', str(fx.models),
                 '--image-mode', 'compressed', '--stride', '3']) == 0
    assert 'wrote' in capsys.readouterr().out
    assert rosbag_io.bag_topics(bag) == {IMAGE_TOPIC + '/compressed': rosbag_io.COMPRESSED_IMAGE,
                                         INFO_TOPIC: rosbag_io.CAMERA_INFO,
                                         '/tf_static': rosbag_io.TF_MESSAGE}
    assert main(['bag', str(fx.sequence), '--out', str(bag), '--models-dir',
                 str(fx.models)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f'\nadds bag: {bag} exists; remove it or pass --overwrite\n')


def _files_of_each_message(bag: Path) -> dict:
    """(topic, log time) -> the file of the bag it was written to."""
    where = {}
    for file in sorted(bag.glob('*.mcap')):
        with open(file, 'rb') as handle:
            for _, channel, message in make_reader(handle).iter_messages():
                where[(channel.topic, message.log_time)] = file.name
    return where


def test_size_split_never_separates_an_image_from_its_camera_info(fixture, tmp_path):
    fx = fixture
    bag = tmp_path / 'drive'
    frame_mb = fx.size[0] * fx.size[1] / 2 ** 20
    convert(BagConfig(fx.sequence, bag, fx.models, split_size_mb=1.5 * frame_mb))
    where = _files_of_each_message(bag)
    stamps = [int(fx.stamps[k]) * 1000 for k in good_indices(fx)]
    assert len({where[(IMAGE_TOPIC, t)] for t in stamps}) > 2  # it did split, per frame
    for stamp in stamps:
        assert where[(INFO_TOPIC, stamp)] == where[(IMAGE_TOPIC, stamp)], stamp
    for file in bag.glob('*.mcap'):  # a file exceeds the size only by a frame that alone does
        assert file.stat().st_size < 2.2 * frame_mb * 2 ** 20


@pytest.mark.parametrize('umask', [0o022, 0o027])
def test_bag_folder_mode_follows_the_umask_like_its_files(fixture, tmp_path, umask):
    fx = fixture
    script = ('import sys\nfrom adds_training.tools.bags.raw_to_bag import BagConfig, convert\n'
              'convert(BagConfig(*sys.argv[1:], end=0.2))\n')
    subprocess.run([sys.executable, '-c', script, str(fx.sequence), str(tmp_path / 'drive'),
                    str(fx.models)], check=True, stderr=subprocess.DEVNULL,
                   preexec_fn=lambda: os.umask(umask))  # the process's umask from its start
    assert (tmp_path / 'drive').stat().st_mode & 0o777 == 0o777 & ~umask
    for file in (tmp_path / 'drive').iterdir():
        assert file.stat().st_mode & 0o777 == 0o666 & ~umask, file


def _damage(bag: Path, how: str) -> Path:
    file = next(p for p in bag.iterdir() if p.suffix in ('.mcap', '.db3'))
    data = file.read_bytes()
    if how == 'cut':
        file.write_bytes(data[:len(data) // 2])
    elif how == 'garbage':
        file.write_bytes(b'this is not a bag file ' * 50)
    else:
        file.write_bytes(b'')
    return file


@pytest.mark.parametrize('storage, how, problem', [
    ('mcap', 'cut', 'MCAP cut short (no end magic'),
    ('mcap', 'garbage', 'not an MCAP file'),
    ('mcap', 'empty', 'empty'),
    ('sqlite3', 'cut', 'database disk image is malformed'),
    ('sqlite3', 'garbage', 'not an SQLite database'),
    ('sqlite3', 'empty', 'empty'),
])
def test_damaged_bag_is_named_with_its_file_and_problem(fixture, tmp_path, storage, how,
                                                        problem):
    from adds_ros.errors import UserError

    fx = fixture
    bag = tmp_path / 'drive'
    convert(BagConfig(fx.sequence, bag, fx.models, storage=storage))
    file = _damage(bag, how)
    for read in (rosbag_io.bag_topics, lambda b: list(rosbag_io.read_messages(b))):
        with pytest.raises(UserError) as err:
            read(bag)
        message = str(err.value)
        assert message.startswith(f'{bag}: cannot read ') and file.name in message
        assert problem in message and '\n' not in message


def test_sqlite_bag_damaged_inside_is_named(fixture, tmp_path):
    from adds_ros.errors import UserError

    fx = fixture
    bag = tmp_path / 'drive'
    convert(BagConfig(fx.sequence, bag, fx.models, storage='sqlite3'))
    file = bag / 'drive_0.db3'
    data = bytearray(file.read_bytes())
    page = int.from_bytes(data[16:18], 'big')  # SQLite header: the page size
    middle = len(data) // page // 2 * page
    data[middle:middle + 4 * page] = b'\xff' * (4 * page)  # header and first pages intact
    file.write_bytes(bytes(data))
    with pytest.raises(UserError, match=f'^{bag}: cannot read drive_0.db3: .*malformed'):
        list(rosbag_io.read_messages(bag))


SLOW_BAG = SLOW_FRAMES + 'from adds_ros.cli import main\nsys.exit(main(sys.argv[1:]))\n'


@pytest.mark.parametrize('sig, reason', [(signal.SIGINT, 'Ctrl-C'), (signal.SIGTERM, 'SIGTERM')])
def test_interrupted_bag_is_removed_and_the_removal_said(fixture, tmp_path, sig, reason):
    """Ctrl-C, and SIGTERM (timeout, docker stop, systemd), leave no hidden .partial folder."""
    fx = fixture
    bag = tmp_path / 'drive'
    child = subprocess.Popen([sys.executable, '-c', SLOW_BAG, 'bag', str(fx.sequence), '--out',
                              str(bag), '--models-dir', str(fx.models)],
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob('.drive.*.partial/drive_0/*.mcap')):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        partial, = tmp_path.glob('.drive.*.partial')
        time.sleep(0.4)
        child.send_signal(sig)
        _, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert list(tmp_path.iterdir()) == []
    last = err.splitlines()[-1]
    assert last.startswith(f'adds bag: interrupted: {reason}: removed the unfinished bag '
                           f'{partial} (') and last.endswith(f'messages); {bag} not written')
    assert 'Traceback' not in err


def test_interrupt_during_the_final_swap_keeps_one_whole_bag(tmp_path, monkeypatch):
    """Ctrl-C between 'old bag out' and 'new bag in' waits: the new bag lands, nothing is lost."""
    bag = tmp_path / 'drive'
    for run, count in ((1, 2), (2, 3)):
        real_replace = os.replace

        def replace_then_interrupt(src, dst):
            real_replace(src, dst)
            if Path(dst).parent.name.endswith('.old'):  # the old bag is out, the new not in
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)

        monkeypatch.setattr(rosbag_io.os, 'replace', replace_then_interrupt)
        try:
            with rosbag_io.BagWriter(bag, overwrite=True) as writer:
                writer.add_topic('/tf_static', rosbag_io.TF_MESSAGE, rosbag_io.STATIC_TF_QOS)
                for i in range(count):
                    writer.write('/tf_static', i, rosbag_io.static_transform_message(
                        'base_link', 'camera', np.eye(4), i))
        except KeyboardInterrupt as err:
            assert run == 2 and str(err) == f'Ctrl-C: {bag} was complete and is kept'
        monkeypatch.undo()
        assert len(list(rosbag_io.read_messages(bag))) == count
    assert os.listdir(tmp_path) == ['drive']


# ---------------------------------------------------------------- any recording in

def camera_bag(path: Path, storage: str = 'mcap', frames: int = 5, split_mb: float = 0.0):
    """A small camera bag: rgb8 frames of distinct content, each with its camera_info."""
    k = np.array([[40.0, 0, 24], [0, 40, 16], [0, 0, 1]])
    with rosbag_io.BagWriter(path, storage, split_mb) as bag:
        bag.add_topic('/cam/image_raw', rosbag_io.IMAGE)
        bag.add_topic('/cam/camera_info', rosbag_io.CAMERA_INFO)
        for i in range(frames):
            stamp = 1_700_000_000_000_000_000 + i * 100_000_000
            header = Header(stamp=rosbag_io.time_from_ns(stamp), frame_id='cam_optical')
            pixels = np.full((32, 48, 3), 30 * i, np.uint8)
            bag.write('/cam/image_raw', stamp, image_from_array(pixels, 'rgb8', header))
            bag.write('/cam/camera_info', stamp, camera_info_from_k(k, 48, 32, header))
    return path


def storage_only(bag: Path, dest: Path) -> Path:
    """The bag's storage files alone in `dest` (metadata.yaml lost), or the one file itself."""
    files = sorted(p for p in bag.iterdir() if p.suffix in rosbag_io.STORAGE_FILES)
    if dest.suffix in rosbag_io.STORAGE_FILES:
        shutil.copy(files[0], dest)
        return dest
    dest.mkdir()
    for file in files:
        shutil.copy(file, dest / file.name)
    return dest


@pytest.mark.parametrize('storage, form', [
    ('mcap', 'file'), ('mcap', 'folder'), ('sqlite3', 'file'), ('sqlite3', 'folder')])
def test_storage_files_without_metadata_read_as_the_bag(tmp_path, storage, form):
    split = 0.01 if form == 'folder' else 0.0  # a folder: several split files, merged by time
    bag = camera_bag(tmp_path / 'drive', storage, frames=8, split_mb=split)
    suffix = rosbag_io.STORAGE_SUFFIX[storage]
    recording = storage_only(bag, tmp_path / ('alone' + (suffix if form == 'file' else '')))
    if form == 'folder':
        assert len(rosbag_io.storage_files(recording)) > 2
    assert rosbag_io.is_recording(recording) and rosbag_io.is_recording(bag)
    assert rosbag_io.bag_topics(recording) == rosbag_io.bag_topics(bag) == {
        '/cam/image_raw': rosbag_io.IMAGE, '/cam/camera_info': rosbag_io.CAMERA_INFO}
    assert rosbag_io.message_count(recording, ['/cam/image_raw']) == 8
    expected = list(rosbag_io.read_messages(bag))
    assert list(rosbag_io.read_messages(recording)) == expected
    assert [t for t, *_ in rosbag_io.read_messages(recording, ['/cam/image_raw'])] == \
        ['/cam/image_raw'] * 8
    times = [stamp for _, _, stamp, _ in expected]
    assert times == sorted(times) and len(expected) == 16


def test_inputs_that_are_not_recordings_say_what_they_are(tmp_path):
    bag = camera_bag(tmp_path / 'bags' / 'drive')
    camera_bag(tmp_path / 'bags' / 'park')
    (tmp_path / 'empty').mkdir()
    mcap_named_txt = tmp_path / 'drive.bin'
    shutil.copy(next(bag.glob('*.mcap')), mcap_named_txt)
    (tmp_path / 'notes.txt').write_text('not a bag')
    cut = storage_only(bag, tmp_path / 'cut.mcap')
    cut.write_bytes(cut.read_bytes()[:-100])
    cases = [
        (tmp_path / 'missing', r'missing: no such file or folder$'),
        (tmp_path / 'empty', r'is not a recording: a folder with no metadata.yaml and no '
                             r'.mcap or .db3 file$'),
        (tmp_path / 'bags', r'bags is not a recording: .* it holds recordings: drive, park$'),
        (mcap_named_txt, r'drive.bin is not a recording \(its content is MCAP: name it '
                         r'\*.mcap\): the bag tools read a rosbag2 folder'),
        (tmp_path / 'notes.txt', r'notes.txt is not a recording: the bag tools read'),
        (cut, r'cut.mcap: cannot read: MCAP cut short \(no end magic'),
    ]
    for path, message in cases:
        with pytest.raises(UserValueError, match=f'^{re.escape(str(path))}') as err:
            rosbag_io.bag_topics(path)
        assert re.search(message, str(err.value)), (path, str(err.value))
        assert 'partial' not in str(err.value) and '\n' not in str(err.value)


def test_any_metadata_version_that_lists_its_files_reads(tmp_path):
    """The files metadata.yaml lists are read as they are: a version rosbags does not know yet,
    or QoS in the files that differ from metadata.yaml's (rosbags' folder reader would drop
    those messages silently), still read every message."""
    bag = camera_bag(tmp_path / 'drive')
    expected = list(rosbag_io.read_messages(bag))
    meta = bag / rosbag_io.METADATA
    info = yaml.safe_load(meta.read_text())
    info['rosbag2_bagfile_information']['version'] = 10
    for topic in info['rosbag2_bagfile_information']['topics_with_message_count']:
        topic['topic_metadata']['offered_qos_profiles'] = ''
    meta.write_text(yaml.safe_dump(info))
    assert list(rosbag_io.read_messages(bag)) == expected and len(expected) == 10
    (bag / 'drive_0.mcap').unlink()
    with pytest.raises(UserValueError, match=f'^{bag}: cannot read drive_0.mcap: missing$'):
        rosbag_io.bag_topics(bag)


def test_files_of_a_folder_are_merged_by_log_time(tmp_path):
    """Two files whose times interleave (two recorders, one folder) read as one time line."""
    folder = tmp_path / 'both'
    folder.mkdir()
    for name, offset in (('a', 0), ('b', 50_000_000)):
        with rosbag_io.BagWriter(tmp_path / name) as bag:
            bag.add_topic(f'/{name}/tf_static', rosbag_io.TF_MESSAGE, rosbag_io.STATIC_TF_QOS)
            for i in range(4):
                stamp = i * 100_000_000 + offset
                bag.write(f'/{name}/tf_static', stamp, rosbag_io.static_transform_message(
                    'base_link', name, np.eye(4), stamp))
        shutil.copy(tmp_path / name / f'{name}_0.mcap', folder)
    got = [(topic, stamp) for topic, _, stamp, _ in rosbag_io.read_messages(folder)]
    assert got == [(f'/{n}/tf_static', i * 100_000_000 + o) for i in range(4)
                   for n, o in (('a', 0), ('b', 50_000_000))]
    assert rosbag_io.message_count(folder, ['/a/tf_static', '/b/tf_static']) == 8


def test_a_folder_of_separate_recordings_of_one_topic_is_refused(tmp_path):
    """Two recordings of the same camera over the same time are not the splits of one."""
    folder = tmp_path / 'drives'
    folder.mkdir()
    for name in ('monday', 'tuesday'):
        bag = camera_bag(tmp_path / name)
        shutil.copy(bag / f'{name}_0.mcap', folder)
    with pytest.raises(UserValueError, match=re.escape(
            f'{folder}: monday_0.mcap and tuesday_0.mcap record /cam/camera_info over the '
            f'same time: separate recordings, not the split files of one; pass them one by '
            f'one or as a glob ({folder}/*.mcap)')):
        rosbag_io.bag_topics(folder)
