# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The rclpy adapter's message copying, run here against stand-in message classes.

rclpy messages are plain attribute bags with no-argument constructors; arrays arrive as
array.array / numpy arrays. The stand-ins reproduce exactly that, so the copy logic the
ROS-marked tests exercise with real rclpy is also checked where ROS 2 is absent.
"""

import array

import numpy as np

from adds_ros import messages as m
from adds_ros.ros_messages import from_ros, to_ros

NAMES = ('Time', 'Header', 'Image', 'CompressedImage', 'CameraInfo', 'RegionOfInterest',
         'DiagnosticArray', 'DiagnosticStatus', 'KeyValue')
STANDINS = {name: type(name, (), {}) for name in NAMES}


def test_plain_messages_copy_into_ros_classes_field_by_field():
    diag = m.DiagnosticArray(header=m.Header(m.Time(1, 2), 'x'), status=[
        m.DiagnosticStatus(level=1, name='depth', values=[m.KeyValue('rate_hz', '9.5')])])
    out = to_ros(diag, STANDINS)
    assert type(out).__name__ == 'DiagnosticArray' and out.header.stamp.sec == 1
    assert out.status[0].level == b'\x01' and out.status[0].values[0].value == '9.5'


def test_ros_messages_with_array_fields_come_back_as_plain_messages():
    ros = to_ros(m.CameraInfo(width=4, height=2, d=[0.5] * 5, k=[2.0] * 9), STANDINS)
    ros.k, ros.d = np.array(ros.k), array.array('d', ros.d)  # what rclpy hands out
    info = from_ros(ros, m.CameraInfo)
    assert info == m.CameraInfo(width=4, height=2, d=[0.5] * 5, k=[2.0] * 9)
    assert all(type(v) is float for v in info.k)
    image = m.image_from_array(np.arange(6, dtype=np.uint8).reshape(2, 3), 'mono8')
    ros = to_ros(image, STANDINS)
    assert isinstance(ros.data, array.array) and ros.data.typecode == 'B'
    assert from_ros(ros, m.Image) == image
