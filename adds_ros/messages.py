# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ROS 2 messages as plain dataclasses, so the node core never needs a ROS 2 install.

Field names and types mirror the ROS 2 definitions exactly (sensor_msgs, std_msgs,
builtin_interfaces, diagnostic_msgs). That is what lets one generic field-by-field copy turn
them into rclpy messages (adds_ros.ros_messages) or rosbags messages, and back. `data` fields
hold any bytes-like buffer (bytes, memoryview), so pixels need not be copied to build one.
"""

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, List, Optional

import numpy as np

# REP 118: depth images are 32-bit float metres, one channel.
DEPTH_ENCODING = '32FC1'


@dataclass
class Time:
    """builtin_interfaces/Time."""

    sec: int = 0
    nanosec: int = 0

    def to_sec(self) -> float:
        return self.sec + self.nanosec * 1e-9

    @classmethod
    def from_sec(cls, seconds: float) -> 'Time':
        nanos = int(round(seconds * 1e9))
        return cls(sec=nanos // 1_000_000_000, nanosec=nanos % 1_000_000_000)


@dataclass
class Header:
    """std_msgs/Header."""

    stamp: Time = field(default_factory=Time)
    frame_id: str = ''


@dataclass
class Image:
    """sensor_msgs/Image."""

    header: Header = field(default_factory=Header)
    height: int = 0
    width: int = 0
    encoding: str = ''
    is_bigendian: int = 0
    step: int = 0
    data: bytes = b''


@dataclass
class CompressedImage:
    """sensor_msgs/CompressedImage."""

    header: Header = field(default_factory=Header)
    format: str = ''
    data: bytes = b''


@dataclass
class RegionOfInterest:
    """sensor_msgs/RegionOfInterest."""

    x_offset: int = 0
    y_offset: int = 0
    height: int = 0
    width: int = 0
    do_rectify: bool = False


@dataclass
class CameraInfo:
    """sensor_msgs/CameraInfo (k, r: 3x3 row-major; p: 3x4 row-major)."""

    header: Header = field(default_factory=Header)
    height: int = 0
    width: int = 0
    distortion_model: str = ''
    d: List[float] = field(default_factory=list)
    k: List[float] = field(default_factory=lambda: [0.0] * 9)
    r: List[float] = field(default_factory=lambda: [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0])
    p: List[float] = field(default_factory=lambda: [0.0] * 12)
    binning_x: int = 0
    binning_y: int = 0
    roi: RegionOfInterest = field(default_factory=RegionOfInterest)


@dataclass
class KeyValue:
    """diagnostic_msgs/KeyValue."""

    key: str = ''
    value: str = ''


@dataclass
class DiagnosticStatus:
    """diagnostic_msgs/DiagnosticStatus."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3

    level: int = 0
    name: str = ''
    message: str = ''
    hardware_id: str = ''
    values: List[KeyValue] = field(default_factory=list)


@dataclass
class DiagnosticArray:
    """diagnostic_msgs/DiagnosticArray."""

    header: Header = field(default_factory=Header)
    status: List[DiagnosticStatus] = field(default_factory=list)


def from_fields(msg: Any, cls: type) -> Any:
    """Make a plain message of class `cls` from any message with the same field names.

    One copy rule for every middleware's message objects (rclpy, rosbags): nested messages
    recurse, `data` becomes a byte view of the source buffer (array.array or numpy: no copy),
    float arrays become lists of floats.
    """
    values = {}
    for spec in fields(cls):
        item = getattr(msg, spec.name)
        if is_dataclass(spec.type):
            item = from_fields(item, spec.type)
        elif spec.name == 'data':
            item = memoryview(np.ascontiguousarray(item, dtype=np.uint8)).cast('B')
        elif spec.type == List[float]:
            item = [float(v) for v in item]
        elif getattr(spec.type, '__origin__', None) is list and is_dataclass(
                spec.type.__args__[0]):
            item = [from_fields(v, spec.type.__args__[0]) for v in item]
        values[spec.name] = item
    return cls(**values)


# Encodings written by `image_from_array`: numpy dtype and channel count of each.
_ARRAY_ENCODINGS = {
    'rgb8': (np.uint8, 3), 'bgr8': (np.uint8, 3), 'rgba8': (np.uint8, 4),
    'bgra8': (np.uint8, 4), 'mono8': (np.uint8, 1), 'bayer_rggb8': (np.uint8, 1),
    'bayer_bggr8': (np.uint8, 1), 'bayer_gbrg8': (np.uint8, 1), 'bayer_grbg8': (np.uint8, 1),
    '32FC1': (np.float32, 1), '32FC3': (np.float32, 3),
}


def image_from_array(array: np.ndarray, encoding: str,
                     header: Optional[Header] = None) -> Image:
    """Pack an HxW or HxWxC array into an Image (little endian, rows not padded).

    `data` is a byte view of the (contiguous) array, not a copy: don't write to the array
    afterwards.
    """
    if encoding not in _ARRAY_ENCODINGS:
        raise ValueError(f'cannot pack encoding {encoding!r}; known: {sorted(_ARRAY_ENCODINGS)}')
    dtype, channels = _ARRAY_ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    shape_channels = 1 if array.ndim == 2 else array.shape[2]
    if array.ndim not in (2, 3) or shape_channels != channels:
        raise ValueError(f'{encoding} needs {channels} channel(s), got array of shape '
                         f'{array.shape}')
    height, width = array.shape[:2]
    return Image(header=header or Header(), height=height, width=width, encoding=encoding,
                 is_bigendian=0, step=width * channels * array.itemsize,
                 data=memoryview(array).cast('B'))


def depth_image(depth: np.ndarray, header: Header) -> Image:
    """REP 118 depth image: 32FC1 metres, NaN where invalid, the input image's header."""
    return image_from_array(depth, DEPTH_ENCODING, header)


def array_from_float_image(msg: Image) -> np.ndarray:
    """Unpack a 32FC1 image (the depth output) into an HxW float32 array."""
    if msg.encoding != DEPTH_ENCODING:
        raise ValueError(f'expected {DEPTH_ENCODING}, got {msg.encoding!r}')
    dtype = np.dtype('>f4' if msg.is_bigendian else '<f4')
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    return rows[:, :msg.width * 4].copy().view(dtype).astype(np.float32)


def camera_matrix(info: CameraInfo) -> np.ndarray:
    """Return K of a camera_info as a 3x3 float64 array."""
    return np.asarray(info.k, dtype=np.float64).reshape(3, 3)


def camera_info_from_k(k: np.ndarray, width: int, height: int, header: Header) -> CameraInfo:
    """Build a pinhole, undistorted camera_info for intrinsics `k` (pixels) at width x height."""
    k = np.asarray(k, dtype=np.float64).reshape(3, 3)
    p = np.hstack([k, np.zeros((3, 1))])
    return CameraInfo(header=header, height=int(height), width=int(width),
                      distortion_model='plumb_bob', d=[0.0] * 5, k=k.ravel().tolist(),
                      p=p.ravel().tolist())


def scale_camera_info(info: CameraInfo, width: int, height: int, header: Header) -> CameraInfo:
    """Camera_info for an image of width x height taken by the camera `info` describes.

    K and P scale with the resolution change (fx, cx by the width ratio, fy, cy by the height
    ratio), so depth_image_proc back-projects depth pixels along the right rays; the header is
    the depth image's, as REP 118 consumers match the two by stamp and frame.
    """
    sx = width / info.width if info.width else 1.0
    sy = height / info.height if info.height else 1.0
    k = np.asarray(info.k, dtype=np.float64).reshape(3, 3).copy()
    p = np.asarray(info.p, dtype=np.float64).reshape(3, 4).copy()
    k[0] *= sx
    k[1] *= sy
    p[0] *= sx  # Tx = -fx * baseline scales with fx
    p[1] *= sy
    return CameraInfo(header=header, height=int(height), width=int(width),
                      distortion_model=info.distortion_model, d=list(info.d),
                      k=k.ravel().tolist(), r=list(info.r), p=p.ravel().tolist(),
                      binning_x=0, binning_y=0, roi=RegionOfInterest())
