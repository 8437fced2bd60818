# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Processed frames to a camera bag, and a node's depth image read back from a bag by stamp.

`adds demo` records its night test drive with `write_camera_bag` (what a camera driver would
publish: rgb8 images and camera_info with the dataset's intrinsics, same stamp) and reads the
depth node's answer for one frame back with `depth_image_at`; both work on any processed-layout
folder (`adds_training.data.layout`) and any bag `adds bag-depth` writes.
"""

from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
from tqdm import tqdm

from adds_ros.messages import (array_from_float_image, camera_info_from_k, Header, Image,
                               image_from_array)
from adds_training.tools.bags import rosbag_io
from adds_training.data import layout


def write_camera_bag(out: Path, root: Path, folder: str, frames: Sequence[Tuple[int, int]],
                     image_topic: str, frame_id: str) -> None:
    """Record frames `(index, stamp ns)` of `<root>/<folder>` as rgb8 images plus camera_info.

    camera_info goes on the image topic's sibling `camera_info` topic, its K from the dataset's
    intrinsics at the frame's size; an existing bag at `out` is replaced.
    """
    info = layout.DatasetInfo.load(root)
    info_topic = rosbag_io.camera_info_topic(image_topic)
    with rosbag_io.BagWriter(out, overwrite=True) as bag:
        bag.add_topic(image_topic, rosbag_io.IMAGE)
        bag.add_topic(info_topic, rosbag_io.CAMERA_INFO)
        for index, stamp in tqdm(frames, desc='camera bag', unit='frame'):
            header = Header(stamp=rosbag_io.time_from_ns(stamp), frame_id=frame_id)
            rgb = layout.read_rgb(layout.frame_path(root, folder, index))
            height, width = rgb.shape[:2]
            bag.write(image_topic, stamp, image_from_array(rgb, 'rgb8', header))
            bag.write(info_topic, stamp, camera_info_from_k(info.K_for(height, width), width,
                                                            height, header))


def depth_image_at(bag: Path, topic: str, stamp_ns: int) -> np.ndarray:
    """Return the float depth image on `topic` whose header is stamped `stamp_ns`."""
    for _, msgtype, _, data in rosbag_io.read_messages(bag, [topic]):
        msg = rosbag_io.from_rosbags(rosbag_io.deserialize(data, msgtype), Image)
        if rosbag_io.stamp_ns(msg.header.stamp) == stamp_ns:
            return array_from_float_image(msg)
    raise ValueError(f'{bag} has no depth frame stamped {stamp_ns} ns on {topic}')
