# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""rclpy messages <-> the node core's plain messages, with as few copies as rclpy allows.

Field names are identical by construction (adds_ros.messages mirrors the ROS definitions), so
one generic field-by-field copy serves every type. The costs that matter are the pixel buffers:

- in: rclpy hands `uint8[]` fields over as `array.array('B')`; the plain message gets a
  `memoryview` of it, so the image is never copied before decoding (which reads it in place);
- out: numpy results become `array.array('B')` with one `frombytes` memcpy — the only form
  rclpy's field setter accepts without walking every byte in Python.
"""

import array
from dataclasses import fields, is_dataclass
from typing import Any, Dict

from adds_ros import messages


def ros_types() -> Dict[str, type]:
    """Our message class name -> the rclpy message class with the same fields."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest
    from std_msgs.msg import Header
    return {cls.__name__: cls for cls in (Time, Header, Image, CompressedImage, CameraInfo,
                                          RegionOfInterest, DiagnosticArray, DiagnosticStatus,
                                          KeyValue)}


def _byte_array(buffer: Any) -> array.array:
    out = array.array('B')
    out.frombytes(memoryview(buffer).cast('B'))
    return out


def to_ros(value: Any, types: Dict[str, type]) -> Any:
    """Plain message -> rclpy message, field by field."""
    if is_dataclass(value):
        msg = types[type(value).__name__]()
        for spec in fields(value):
            item = getattr(value, spec.name)
            if spec.name == 'data':
                item = _byte_array(item)
            elif isinstance(value, messages.DiagnosticStatus) and spec.name == 'level':
                item = bytes([item])  # ROS `byte` is a length-1 bytes object in rclpy
            else:
                item = to_ros(item, types)
            setattr(msg, spec.name, item)
        return msg
    if isinstance(value, list) and value and is_dataclass(value[0]):
        return [to_ros(item, types) for item in value]
    return value


def from_ros(msg: Any, cls: type) -> Any:
    """Make a plain message of class `cls` from an rclpy message (pixel data not copied)."""
    return messages.from_fields(msg, cls)


def ros_qos(reliability: str, depth: int) -> Any:
    """KEEP_LAST `depth`, volatile, with the given reliability."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      durability=DurabilityPolicy.VOLATILE,
                      reliability=(ReliabilityPolicy.BEST_EFFORT if reliability == 'best_effort'
                                   else ReliabilityPolicy.RELIABLE))
