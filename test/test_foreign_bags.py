# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Recordings no code of this project wrote, through `adds bag-depth`, read back independently.

The input MCAP files come from Foxglove's `mcap-ros2-support` writer with the message
definitions written out here by hand (as a recorder stores them); the sqlite3 file is laid out
by hand as Humble's plugin lays it out; metadata.yaml files are written as each rosbag2
version writes them. The output is read back with the `mcap` reader and `mcap-ros2-support`'s
decoder, never with this project's reader.
"""

import contextlib
import sqlite3
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from mcap_ros2.writer import Writer as FoxgloveWriter

from adds_ros.cli import main
from adds_training.tools.bags import rosbag_io
from node_fixtures import tiny_model

SEPARATOR = '=' * 80 + '\n'
TIME = 'int32 sec\nuint32 nanosec\n'
HEADER = 'builtin_interfaces/Time stamp\nstring frame_id\n'
IMAGE = ('std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\n'
         'uint8 is_bigendian\nuint32 step\nuint8[] data\n')
ROI = 'uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n'
CAMERA_INFO = ('std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\n'
               'float64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\n'
               'uint32 binning_y\nsensor_msgs/RegionOfInterest roi\n')
EXPOSURE = 'std_msgs/Header header\nfloat32 exposure_ms\nuint16[] histogram\n'
DEPENDENCIES = {'std_msgs/Header': HEADER, 'builtin_interfaces/Time': TIME,
                'sensor_msgs/RegionOfInterest': ROI}
NS = '/front'
W, H = 64, 32
FRAMES = 6
START = 1_717_000_000_000_000_000


def msgdef(text: str, *dependencies: str) -> str:
    """A definition with its dependencies appended, as ROS 2 recorders store it."""
    return text + ''.join(f'{SEPARATOR}MSG: {name}\n{DEPENDENCIES[name]}'
                          for name in dependencies)


def header(i: int) -> dict:
    stamp = START + i * 100_000_000 + 12_345  # not on the log time: headers must be copied
    return {'stamp': {'sec': stamp // 10 ** 9, 'nanosec': stamp % 10 ** 9},
            'frame_id': f'front_optical_{i % 2}'}


def frame(i: int) -> dict:
    pixels = np.random.default_rng(i).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return {'header': header(i), 'height': H, 'width': W, 'encoding': 'rgb8',
            'is_bigendian': 0, 'step': 3 * W, 'data': pixels.tobytes()}


def camera_info(i: int, calibration: str = 'calibrated') -> dict:
    """A calibrated camera's camera_info, or as drivers send it uncalibrated or without R."""
    info = {'header': header(i), 'height': H, 'width': W, 'distortion_model': 'plumb_bob',
            'd': [0.0] * 5, 'k': [40.0, 0, 32, 0, 40.0, 16, 0, 0, 1],
            'r': [1.0, 0, 0, 0, 1, 0, 0, 0, 1], 'p': [40.0, 0, 32, 0, 0, 40.0, 16, 0, 0, 0, 1, 0],
            'binning_x': 0, 'binning_y': 0,
            'roi': {'x_offset': 0, 'y_offset': 0, 'height': 0, 'width': 0,
                    'do_rectify': False}}
    if calibration != 'calibrated':  # a fresh CameraInfo's zeros: R never filled ...
        info['r'] = [0.0] * 9
    if calibration == 'uncalibrated':  # ... or nothing filled (camera_info_manager's default)
        info.update(distortion_model='', d=[], k=[0.0] * 9, p=[0.0] * 12)
    return info


def foxglove_mcap(path: Path, frames: range, type_names: str = 'sensor_msgs/msg/{}',
                  exposure: bool = False, calibration: str = 'calibrated') -> Path:
    """Camera frames and camera_info (plus a custom message) by Foxglove's ROS 2 writer."""
    with open(path, 'wb') as stream:
        writer = FoxgloveWriter(stream)
        image = writer.register_msgdef(type_names.format('Image'),
                                       msgdef(IMAGE, 'std_msgs/Header', 'builtin_interfaces/Time'))
        info = writer.register_msgdef(
            type_names.format('CameraInfo'),
            msgdef(CAMERA_INFO, 'std_msgs/Header', 'builtin_interfaces/Time',
                   'sensor_msgs/RegionOfInterest'))
        custom = writer.register_msgdef(
            'acme_msgs/msg/Exposure', msgdef(EXPOSURE, 'std_msgs/Header',
                                             'builtin_interfaces/Time'))
        for i in frames:
            log_time = START + i * 100_000_000
            writer.write_message(f'{NS}/image_raw', image, frame(i), log_time=log_time)
            writer.write_message(f'{NS}/camera_info', info, camera_info(i, calibration),
                                 log_time=log_time)
            if exposure:
                writer.write_message(f'{NS}/exposure', custom,
                                     {'header': header(i), 'exposure_ms': 2.5 * i,
                                      'histogram': [i, 2 * i, 65535]}, log_time=log_time)
        writer.finish()
    return path


def raw_records(mcap: Path) -> List[tuple]:
    """(topic, schema name, log time, CDR bytes) of an MCAP, by the mcap reader."""
    with open(mcap, 'rb') as stream:
        return [(channel.topic, schema.name, message.log_time, message.data)
                for schema, channel, message in make_reader(stream).iter_messages()]


def humble_db3(path: Path, records: List[tuple]) -> Path:
    """A .db3 laid out as Humble's sqlite3 plugin writes it (schema 3, no definitions)."""
    qos = ('- history: 1\n  depth: 5\n  reliability: 2\n  durability: 2\n  deadline:\n    sec: 0'
           '\n    nsec: 0\n  lifespan:\n    sec: 0\n    nsec: 0\n  liveliness: 1\n'
           '  liveliness_lease_duration:\n    sec: 0\n    nsec: 0\n'
           '  avoid_ros_namespace_conventions: false')
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript('''
            CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
            CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL,
                                  metadata TEXT NOT NULL);
            CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                                serialization_format TEXT NOT NULL,
                                offered_qos_profiles TEXT NOT NULL);
            CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,
                                  timestamp INTEGER NOT NULL, data BLOB NOT NULL);
            CREATE INDEX timestamp_idx ON messages (timestamp ASC);
            INSERT INTO schema VALUES (3, 'humble');
        ''')
        ids: Dict[str, int] = {}
        for topic, msgtype, log_time, data in records:
            if topic not in ids:
                ids[topic] = len(ids) + 1
                db.execute('INSERT INTO topics VALUES (?, ?, ?, ?, ?)',
                           (ids[topic], topic, msgtype, 'cdr', qos))
            db.execute('INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)',
                       (ids[topic], log_time, data))
    return path


def span(records: List[tuple]) -> dict:
    """Start, duration and count of records, as metadata.yaml states them for a bag or file."""
    times = [log_time for _, _, log_time, _ in records]
    return {'starting_time': {'nanoseconds_since_epoch': min(times)},
            'duration': {'nanoseconds': max(times) - min(times)},
            'message_count': len(records)}


def rosbag2_folder(folder: Path, files: List[Path], version: int) -> Path:
    """Wrap storage files in a metadata.yaml as rosbag2 of `version` writes it (5 Humble,
    7 Iron, 9 Jazzy and Kilted): QoS as a YAML string of numbers before 9, by name from 9."""
    per_file = {file.name: raw_records(file) for file in files}
    records = [r for file in files for r in per_file[file.name]]
    counts: Dict[str, int] = {}
    types = {}
    for topic, msgtype, _, _ in records:
        counts[topic] = counts.get(topic, 0) + 1
        types[topic] = msgtype
    numeric = {'history': 1, 'depth': 5, 'reliability': 2, 'durability': 2,
               'deadline': {'sec': 0, 'nsec': 0}, 'lifespan': {'sec': 0, 'nsec': 0},
               'liveliness': 1, 'liveliness_lease_duration': {'sec': 0, 'nsec': 0},
               'avoid_ros_namespace_conventions': False}
    named = dict(numeric, history='keep_last', reliability='best_effort',
                 durability='volatile', liveliness='automatic')
    topics = []
    for topic, count in counts.items():
        meta = {'name': topic, 'type': types[topic], 'serialization_format': 'cdr',
                'offered_qos_profiles': [named] if version >= 9 else yaml.safe_dump([numeric])}
        if version >= 7:
            meta['type_description_hash'] = ''
        topics.append({'topic_metadata': meta, 'message_count': count})
    info = {'version': version, 'storage_identifier': 'mcap', **span(records),
            'topics_with_message_count': topics,
            'compression_format': '', 'compression_mode': '',
            'relative_file_paths': [file.name for file in files],
            'files': [{'path': name, **span(records)} for name, records in per_file.items()]}
    if version >= 6:
        info['custom_data'] = None
    if version >= 8:
        info['ros_distro'] = 'kilted' if version >= 9 else 'jazzy'
    (folder / 'metadata.yaml').write_text(yaml.safe_dump({'rosbag2_bagfile_information': info},
                                                         sort_keys=False))
    return folder


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp('model') / 'tiny.onnx')


def depth_bag(recording: Path, out: Path, model: Path, capsys) -> List[tuple]:
    """Run `adds bag-depth` on `recording`; the output's messages, decoded independently."""
    assert main(['bag-depth', str(recording), '--out', str(out), '--model', str(model),
                 '--out-ns', NS]) == 0, capsys.readouterr().err
    assert f'{FRAMES} frames in, {FRAMES} depth frames written, 0 skipped' in \
        capsys.readouterr().out
    mcaps = sorted(out.glob('*.mcap'))
    assert mcaps and (out / 'metadata.yaml').is_file()
    decoded = []
    for file in mcaps:
        with open(file, 'rb') as stream:
            reader = make_reader(stream, decoder_factories=[DecoderFactory()])
            decoded += [(channel.topic, message.log_time, ros)
                        for _, channel, message, ros in reader.iter_decoded_messages()]
    return decoded


def assert_one_depth_per_frame(decoded: List[tuple]) -> None:
    """Per input frame, in order: a depth image and its camera_info with the frame's header."""
    for name in ('depth/image', 'depth/camera_info'):
        got = [(log_time, ros) for topic, log_time, ros in decoded if topic == f'{NS}/{name}']
        assert [log_time for log_time, _ in got] == [START + i * 100_000_000
                                                     for i in range(FRAMES)]
        for i, (_, ros) in enumerate(got):
            expected = header(i)
            assert (ros.header.stamp.sec, ros.header.stamp.nanosec) == \
                (expected['stamp']['sec'], expected['stamp']['nanosec'])
            assert ros.header.frame_id == expected['frame_id']
            assert (ros.height, ros.width) == (H, W)
    for _, _, ros in decoded:
        if hasattr(ros, 'encoding') and ros.encoding == '32FC1':
            depth = np.frombuffer(bytes(ros.data), '<f4').reshape(H, W)
            assert np.isfinite(depth).all() and (depth > 0).all()


@pytest.mark.parametrize('type_names', ['sensor_msgs/msg/{}', 'sensor_msgs/{}'])
def test_a_bare_foxglove_mcap_gets_one_depth_image_per_frame(tmp_path, model, capsys,
                                                             type_names):
    recording = foxglove_mcap(tmp_path / 'drive.mcap', range(FRAMES), type_names)
    assert_one_depth_per_frame(depth_bag(recording, tmp_path / 'out', model, capsys))


@pytest.mark.parametrize('calibration', ['no_rotation', 'uncalibrated'])
def test_camera_info_as_uncalibrated_drivers_send_it(tmp_path, model, capsys, calibration):
    """R left at zeros, or nothing calibrated: every frame still gets depth, with the model's
    K beside it when the camera's is unknown."""
    recording = foxglove_mcap(tmp_path / 'drive.mcap', range(FRAMES), calibration=calibration)
    decoded = depth_bag(recording, tmp_path / 'out', model, capsys)
    assert_one_depth_per_frame(decoded)
    infos = [ros for topic, _, ros in decoded if topic == f'{NS}/depth/camera_info']
    k = np.array([list(info.k) for info in infos])
    assert (k[:, 0] > 0).all() and (k[:, 4] > 0).all() and (k == k[0]).all()
    if calibration == 'no_rotation':  # the camera's own K is used
        assert k[0].tolist() == camera_info(0)['k']


def test_a_folder_of_mcap_files_without_metadata_is_one_recording(tmp_path, model, capsys):
    folder = tmp_path / 'drive'
    folder.mkdir()
    foxglove_mcap(folder / 'drive_0.mcap', range(0, 4))
    foxglove_mcap(folder / 'drive_1.mcap', range(4, FRAMES))
    assert_one_depth_per_frame(depth_bag(folder, tmp_path / 'out', model, capsys))


def test_a_humble_db3_without_metadata(tmp_path, model, capsys):
    records = raw_records(foxglove_mcap(tmp_path / 'source.mcap', range(FRAMES)))
    recording = humble_db3(tmp_path / 'drive.db3', records)
    assert_one_depth_per_frame(depth_bag(recording, tmp_path / 'out', model, capsys))


@pytest.mark.parametrize('version', [5, 6, 7, 8, 9])
def test_metadata_written_by_humble_to_kilted(tmp_path, model, capsys, version):
    folder = tmp_path / 'drive'
    folder.mkdir()
    files = [foxglove_mcap(folder / 'drive_0.mcap', range(0, 3)),
             foxglove_mcap(folder / 'drive_1.mcap', range(3, FRAMES))]
    rosbag2_folder(folder, files, version)
    assert_one_depth_per_frame(depth_bag(folder, tmp_path / 'out', model, capsys))


def test_a_type_humble_lacks_is_decoded_from_the_files_schema(tmp_path):
    recording = foxglove_mcap(tmp_path / 'drive.mcap', range(3), exposure=True)
    assert rosbag_io.bag_topics(recording)[f'{NS}/exposure'] == 'acme_msgs/msg/Exposure'
    got = [rosbag_io.deserialize(data, msgtype) for _, msgtype, _, data in
           rosbag_io.read_messages(recording, [f'{NS}/exposure'])]
    assert [m.exposure_ms for m in got] == [0.0, 2.5, 5.0]
    assert [m.histogram.tolist() for m in got] == [[i, 2 * i, 65535] for i in range(3)]
    assert [m.header.frame_id for m in got] == [header(i)['frame_id'] for i in range(3)]


def test_a_humble_db3_reads_its_known_types_and_names_a_type_it_does_not_define(tmp_path):
    records = raw_records(foxglove_mcap(tmp_path / 'source.mcap', range(3), exposure=True))
    unseen = [(topic, 'acme_msgs/msg/Unseen' if topic.endswith('exposure') else msgtype, *rest)
              for topic, msgtype, *rest in records]
    recording = humble_db3(tmp_path / 'drive.db3', unseen)
    assert rosbag_io.bag_topics(recording)[f'{NS}/exposure'] == 'acme_msgs/msg/Unseen'
    messages = list(rosbag_io.read_messages(recording))
    assert len(messages) == 9
    images = [rosbag_io.deserialize(data, t) for _, t, _, data in messages
              if t == rosbag_io.IMAGE]
    assert [bytes(image.data) for image in images] == [frame(i)['data'] for i in range(3)]
    _, msgtype, _, data = next(m for m in messages if m[0] == f'{NS}/exposure')
    with pytest.raises(ValueError, match='acme_msgs/msg/Unseen is neither a ROS 2 Humble type '
                                         'nor defined in the recording'):
        rosbag_io.deserialize(data, msgtype)


def test_bare_mcap_files_run_as_a_batch_into_folders_named_by_stem(tmp_path, model, capsys):
    for name in ('monday', 'tuesday'):
        foxglove_mcap(tmp_path / f'{name}.mcap', range(FRAMES))
    assert main(['bag-depth', str(tmp_path / '*.mcap'), '--out', str(tmp_path / 'out'),
                 '--model', str(model), '--out-ns', NS]) == 0, capsys.readouterr().err
    for name in ('monday', 'tuesday'):
        depth = [stamp for topic, _, stamp, _ in rosbag_io.read_messages(tmp_path / 'out' / name)
                 if topic == f'{NS}/depth/image']
        assert depth == [START + i * 100_000_000 for i in range(FRAMES)]
