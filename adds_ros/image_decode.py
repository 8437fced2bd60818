# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Camera messages -> RGB uint8, with every way a frame can be malformed named precisely.

A node on a vehicle meets drivers with wrong encodings, truncated buffers, padded rows and
broken compressors. Each check raises `InputError` with a short `reason` (the key the node counts
dropped frames under in diagnostics) and a message a user can act on.
"""

from typing import Optional

import cv2
import numpy as np

from adds_ros.messages import CameraInfo, CompressedImage, Image

# Larger than any automotive camera, small enough that a corrupt header cannot make the node
# allocate gigabytes.
MAX_SIDE = 16384

# encoding -> (channels, bytes per channel, OpenCV conversion to RGB or None)
ENCODINGS = {
    'rgb8': (3, 1, None),
    'bgr8': (3, 1, cv2.COLOR_BGR2RGB),
    'rgba8': (4, 1, cv2.COLOR_RGBA2RGB),
    'bgra8': (4, 1, cv2.COLOR_BGRA2RGB),
    'mono8': (1, 1, cv2.COLOR_GRAY2RGB),
    # ROS names the Bayer pattern by its first row; OpenCV by the second row's first two
    # pixels, hence the apparent swap (see cv_bridge's table).
    'bayer_rggb8': (1, 1, cv2.COLOR_BayerBG2RGB),
    'bayer_bggr8': (1, 1, cv2.COLOR_BayerRG2RGB),
    'bayer_gbrg8': (1, 1, cv2.COLOR_BayerGR2RGB),
    'bayer_grbg8': (1, 1, cv2.COLOR_BayerGB2RGB),
    # float intensities in [0, 1] (simulators publish these)
    '32FC1': (1, 4, cv2.COLOR_GRAY2RGB),
    '32FC3': (3, 4, None),
}
COMPRESSED_FORMATS = ('jpeg', 'jpg', 'png')


class InputError(ValueError):
    """A frame the node must drop; `reason` is the diagnostics counter it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_size(height: int, width: int) -> None:
    """Reject zero and absurd image sizes before any buffer is touched."""
    if height <= 0 or width <= 0:
        raise InputError('size', f'image has zero size ({width}x{height})')
    if height > MAX_SIDE or width > MAX_SIDE:
        raise InputError('size', f'image size {width}x{height} exceeds {MAX_SIDE} per side')


def decode_image(msg: Image) -> np.ndarray:
    """Return the RGB uint8 HxWx3 picture carried by a sensor_msgs/Image."""
    if msg.encoding not in ENCODINGS:
        raise InputError('encoding', f'unsupported encoding {msg.encoding!r}; supported: '
                                     f'{", ".join(ENCODINGS)}')
    check_size(msg.height, msg.width)
    channels, depth, conversion = ENCODINGS[msg.encoding]
    row_bytes = msg.width * channels * depth
    if msg.step < row_bytes:
        raise InputError('step', f'step {msg.step} is smaller than width x pixel size '
                                 f'({msg.width} x {channels * depth} = {row_bytes})')
    if len(msg.data) != msg.step * msg.height:
        raise InputError('truncated', f'data has {len(msg.data)} bytes, step x height needs '
                                      f'{msg.step * msg.height}')
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :row_bytes]
    if depth == 4:
        order = '>f4' if msg.is_bigendian else '<f4'
        pixels = _float_to_uint8(np.ascontiguousarray(rows).view(order))
    else:
        pixels = rows
    pixels = np.ascontiguousarray(pixels).reshape(msg.height, msg.width, channels)
    if conversion is None:
        return pixels.copy() if pixels.base is not None else pixels
    return cv2.cvtColor(pixels, conversion)


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise InputError('nan', 'float image contains NaN or infinite values')
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def decode_compressed(msg: CompressedImage) -> np.ndarray:
    """Return the RGB uint8 picture of a sensor_msgs/CompressedImage (jpeg or png)."""
    # image_transport writes e.g. 'bgr8; jpeg compressed bgr8': the codec is what matters.
    fmt = msg.format.lower()
    if not any(name in fmt for name in COMPRESSED_FORMATS):
        raise InputError('encoding', f'unsupported compressed format {msg.format!r}; '
                                     f'supported: jpeg, png')
    if len(msg.data) == 0:
        raise InputError('truncated', 'compressed image has no data')
    picture = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if picture is None:
        raise InputError('corrupt', f'compressed image ({len(msg.data)} bytes, '
                                    f'{msg.format!r}) could not be decoded')
    check_size(*picture.shape[:2])
    return cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)


def check_camera_info(info: Optional[CameraInfo], height: int, width: int) -> None:
    """Raise unless `info` describes a calibrated camera at exactly this image's resolution."""
    if info is None:
        return
    if (info.height, info.width) != (height, width):
        raise InputError('camera_info', f'camera_info is {info.width}x{info.height} but the '
                                        f'image is {width}x{height}')
    k = np.asarray(info.k, dtype=np.float64)
    if k.size != 9 or not np.isfinite(k).all() or k[0] <= 0 or k[4] <= 0:
        raise InputError('camera_info', f'camera_info K is not a calibrated camera matrix: '
                                        f'{list(info.k)}')
