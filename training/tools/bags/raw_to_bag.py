# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds bag`: a raw RobotCar sequence -> a rosbag2 bag that `ros2 bag play` replays as a camera.

Per frame of `stereo.timestamps` (after time range and stride): the image as recorded
(`bayer_gbrg8`), rectified (`rgb8`: demosaic + SDK undistortion, the path `adds prepare` uses)
or rectified and compressed (`sensor_msgs/CompressedImage` on `<topic>/compressed`), plus its
camera_info on the sibling `camera_info` topic, both stamped with the frame's timestamp. One
latched `/tf_static` gives the optical frame's pose in base_link. Missing and undecodable
images are skipped and counted. The bag appears only when complete (see `rosbag_io`).
"""

import argparse
import dataclasses
import logging
import sys
from collections import Counter
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import Optional, Tuple, Union

import cv2
import numpy as np
from tqdm import tqdm

from adds_ros import cli_config
from adds_ros.errors import UserError
from adds_ros.messages import CompressedImage, Header, Image, image_from_array
from adds_ros.settings import check, param
from adds_training.tools.bags import rosbag_io
from adds_training.tools.bags.sdk_camera import camera_info_from_model, optical_frame_pose
from adds_training.data.robotcar import raw

LOGGER = logging.getLogger(__name__)
IMAGE_MODES = ('raw', 'rectified', 'compressed')
CODECS = ('jpeg', 'png')
# A value this large is a RobotCar timestamp (µs since 1970); smaller ones are seconds into
# the sequence.
ABSOLUTE_US = 10 ** 12


@dataclass
class BagConfig:
    """`adds bag`'s settings: each declared once, for the command line and for callers."""

    sequence: Path = param(MISSING, 'raw sequence folder (has stereo/left/ and '
                                    'stereo.timestamps)')
    out: Path = param(MISSING, 'bag folder to create')
    models_dir: Path = param(MISSING, 'RobotCar SDK models/ folder (camera model and '
                                      'distortion LUT)')
    storage: str = param('mcap', 'rosbag2 storage plug-in',
                         choices=tuple(sorted(rosbag_io.STORAGES)))
    image_mode: str = param('raw', 'raw: bayer_gbrg8 as recorded; rectified: rgb8 undistorted; '
                                   'compressed: rectified as sensor_msgs/CompressedImage',
                            choices=IMAGE_MODES)
    topic: str = param('/stereo/left/image_raw', 'image topic (compressed mode appends '
                                                 '/compressed); camera_info goes beside it')
    frame_id: str = param('stereo_left_optical', 'optical frame of the image headers')
    base_frame: str = param('base_link', 'parent frame of the static camera transform')
    camera: str = param(raw.CAMERA, 'SDK camera model name')
    start: Optional[float] = param(None, 'first frame: seconds after the sequence start, or an '
                                         'absolute µs timestamp')
    end: Optional[float] = param(None, 'last frame (same units as --start)')
    stride: int = param(1, 'keep every N-th frame', (1, 1 << 30))
    split_size_mb: float = param(0.0, 'start a new bag file after this many MB (0 = one file)',
                                 (0.0, 1e9))
    codec: str = param('jpeg', 'codec of --image-mode compressed', choices=CODECS)
    jpeg_quality: int = param(95, 'JPEG quality of --codec jpeg', (0, 100))
    overwrite: bool = param(False, 'replace an existing bag')

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of its range or choices."""
        check(self, 'bag setting')
        if not self.topic.startswith('/'):
            raise ValueError(f'topic must be absolute (start with /), got {self.topic!r}')


def resolve_time(value: Optional[float], first_us: int) -> Optional[int]:
    """µs timestamp of --start/--end: absolute µs, or seconds after the first frame."""
    if value is None:
        return None
    if value >= ABSOLUTE_US:
        return int(value)
    return first_us + int(round(value * 1e6))


def select_stamps(stamps: np.ndarray, start: Optional[float], end: Optional[float],
                  stride: int) -> np.ndarray:
    """Timestamps inside [start, end] (inclusive), then every `stride`-th of them."""
    if len(stamps) == 0:
        raise ValueError('stereo.timestamps lists no frames')
    lo, hi = resolve_time(start, int(stamps[0])), resolve_time(end, int(stamps[0]))
    keep = np.ones(len(stamps), bool)
    if lo is not None:
        keep &= stamps >= lo
    if hi is not None:
        keep &= stamps <= hi
    chosen = stamps[keep][::stride]
    if len(chosen) == 0:
        raise ValueError(f'no frame between start={start} and end={end} (sequence spans '
                         f'{stamps[0]}..{stamps[-1]} µs, i.e. '
                         f'{(stamps[-1] - stamps[0]) / 1e6:.1f} s)')
    return chosen


def read_mosaic(path: Path) -> np.ndarray:
    """Read the single-channel Bayer mosaic `stereo/left/<µs>.png`; ValueError if unusable."""
    mosaic = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mosaic is None:
        raise ValueError(f'cannot decode image {path}')
    if mosaic.ndim != 2 or mosaic.dtype != np.uint8:
        raise ValueError(f'{path} is not an 8-bit single-channel Bayer image '
                         f'({mosaic.dtype} {mosaic.shape})')
    return mosaic


def frame_message(mosaic: np.ndarray, model: raw.CameraModel, cfg: BagConfig,
                  header: Header) -> Union[Image, CompressedImage]:
    """Build the message of one frame in the configured image mode."""
    if cfg.image_mode == 'raw':
        return image_from_array(mosaic, 'bayer_gbrg8', header)
    rgb = model.undistort(raw.demosaic(mosaic))
    if cfg.image_mode == 'rectified':
        return image_from_array(rgb, 'rgb8', header)
    params = [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality] if cfg.codec == 'jpeg' else []
    ok, data = cv2.imencode('.jpg' if cfg.codec == 'jpeg' else '.png',
                            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f'{cfg.codec} encoding failed')
    # image_transport's format string: "<original encoding>; <codec> compressed <encoding>"
    return CompressedImage(
        header=header, format=f'rgb8; {cfg.codec} compressed bgr8', data=data.tobytes())


def first_size(sequence: Path, stamps: np.ndarray) -> Tuple[int, int]:
    """(height, width) of the first readable frame: the camera model is loaded at that size."""
    for stamp in stamps:
        path = sequence / raw.IMAGE_DIR / f'{stamp}.png'
        try:
            return read_mosaic(path).shape
        except ValueError:
            continue
    raise ValueError(f'no readable image under {sequence / raw.IMAGE_DIR} for the selected '
                     'frames')


def convert(cfg: BagConfig) -> Counter:
    """Write the bag; return counts of written, missing and corrupt frames."""
    cfg.validate()
    cfg.sequence, cfg.out, cfg.models_dir = Path(cfg.sequence), Path(cfg.out), Path(cfg.models_dir)
    stamps = select_stamps(raw.read_timestamps(cfg.sequence / raw.IMAGE_TIMESTAMPS),
                           cfg.start, cfg.end, cfg.stride)
    size = first_size(cfg.sequence, stamps)
    model = raw.read_camera_model(cfg.models_dir, cfg.camera, size)
    rectified = cfg.image_mode != 'raw'
    compressed = cfg.image_mode == 'compressed'
    image_topic = cfg.topic + '/compressed' if compressed else cfg.topic
    info_topic = rosbag_io.camera_info_topic(cfg.topic)
    info, rms = camera_info_from_model(model, rectified, Header(frame_id=cfg.frame_id))
    if not rectified:
        LOGGER.info(f'camera_info: plumb_bob fit of the SDK distortion table, RMS {rms:.2f} px')
    counts: Counter = Counter()
    with rosbag_io.BagWriter(cfg.out, cfg.storage, cfg.split_size_mb, cfg.overwrite) as bag:
        bag.add_topic(image_topic, rosbag_io.COMPRESSED_IMAGE if compressed else rosbag_io.IMAGE,
                      rosbag_io.SENSOR_QOS)
        bag.add_topic(info_topic, rosbag_io.CAMERA_INFO, rosbag_io.SENSOR_QOS)
        bag.add_topic('/tf_static', rosbag_io.TF_MESSAGE, rosbag_io.STATIC_TF_QOS)
        first_ns = int(stamps[0]) * 1000
        bag.write('/tf_static', first_ns, rosbag_io.static_transform_message(
            cfg.base_frame, cfg.frame_id, optical_frame_pose(model), first_ns))
        for stamp in tqdm(stamps, desc='bag', unit='frame', disable=not sys.stderr.isatty()):
            path = cfg.sequence / raw.IMAGE_DIR / f'{stamp}.png'
            if not path.exists():
                counts['missing'] += 1
                continue
            stamp_ns = int(stamp) * 1000
            header = Header(stamp=rosbag_io.time_from_ns(stamp_ns), frame_id=cfg.frame_id)
            try:
                mosaic = read_mosaic(path)
                if mosaic.shape != size:
                    raise ValueError(f'{path} is {mosaic.shape}, the sequence is {size}')
                msg = frame_message(mosaic, model, cfg, header)
            except (ValueError, cv2.error) as err:
                counts['corrupt'] += 1
                LOGGER.warning(f'skipping frame {stamp}: {err}')
                continue
            bag.write(info_topic, stamp_ns, dataclasses.replace(info, header=header))
            bag.write(image_topic, stamp_ns, msg)
            counts['written'] += 1
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_config.add_options(parser, BagConfig, extra={
        'sequence': {'flags': ['sequence']},
        'models_dir': {'flags': ['--models-dir', '--models']},
        'split_size_mb': {'flags': ['--split-size'], 'metavar': 'MB'}})


def run(args: argparse.Namespace) -> int:
    cfg = cli_config.build(BagConfig, args)
    try:
        counts = convert(cfg)
    except (ValueError, FileNotFoundError, FileExistsError) as err:  # the paths and values given
        raise UserError(str(err)) from None
    summary = (f'{counts["written"]} frames, {counts["missing"]} missing, {counts["corrupt"]} '
               'corrupt (skipped)')
    if not counts['written']:
        raise UserError(f'wrote {cfg.out} without a single frame: {summary}')
    print(f'wrote {cfg.out}: {summary}')
    return 0
