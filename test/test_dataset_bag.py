# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Processed frames to a camera bag and depth read back by stamp (the demo's bag stages)."""

import numpy as np
import pytest

from adds_ros.messages import camera_matrix, CameraInfo, depth_image, Header, Image
from adds_training.tools.bags import rosbag_io
from adds_training.tools.bags.dataset_bag import depth_image_at, write_camera_bag
from adds_training.data import layout

TOPIC = '/cam/image_raw'


def test_camera_bag_holds_every_frame_with_its_camera_info_at_its_stamp(tmp_path):
    root, info = tmp_path / 'data', layout.robotcar_info((8, 16))
    info.save(root)
    frames = {3: np.full((8, 16, 3), 40, np.uint8), 7: np.arange(384, dtype=np.uint8)}
    frames[7] = frames[7].reshape(8, 16, 3)
    for index, rgb in frames.items():
        layout.write_rgb(layout.frame_path(root, 'night', index), rgb)
    stamps = [(7, 2_000), (3, 5_000)]      # bag order follows the given frames, not the index
    write_camera_bag(tmp_path / 'bag', root, 'night', stamps, TOPIC, 'optical')

    seen = []
    for topic, msgtype, time_ns, data in rosbag_io.read_messages(tmp_path / 'bag'):
        cls = Image if topic == TOPIC else CameraInfo
        msg = rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype), cls)
        assert rosbag_io.stamp_ns(msg.header.stamp) == time_ns and msg.header.frame_id == 'optical'
        seen.append((topic, time_ns))
        index = dict((s, i) for i, s in stamps)[time_ns]
        if cls is Image:
            assert msg.encoding == 'rgb8'
            pixels = np.frombuffer(msg.data, np.uint8).reshape(8, 16, 3)
            np.testing.assert_array_equal(pixels, frames[index])
        else:
            assert (msg.height, msg.width) == (8, 16)
            np.testing.assert_allclose(camera_matrix(msg), info.K_for(8, 16), rtol=1e-6)
    assert sorted(seen) == sorted((t, s) for _, s in stamps
                                  for t in (TOPIC, rosbag_io.camera_info_topic(TOPIC)))


def test_depth_image_at_finds_the_frame_by_header_stamp(tmp_path):
    bag, topic = tmp_path / 'depth', '/cam/depth/image'
    with rosbag_io.BagWriter(bag) as writer:
        writer.add_topic(topic, rosbag_io.IMAGE)
        for stamp in (10, 20, 30):
            header = Header(stamp=rosbag_io.time_from_ns(stamp))
            writer.write(topic, stamp, depth_image(np.full((4, 6), stamp / 10, np.float32),
                                                   header))
    depth = depth_image_at(bag, topic, 20)
    assert depth.shape == (4, 6) and (depth == 2.0).all()
    with pytest.raises(ValueError, match='no depth frame stamped 25 ns'):
        depth_image_at(bag, topic, 25)
