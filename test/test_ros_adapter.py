# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The rclpy adapter (runs where ROS 2 is installed; skipped elsewhere by conftest)."""

import threading
import time

from node_fixtures import tiny_model
import numpy as np
import pytest

from adds_ros import messages as m

pytestmark = pytest.mark.ros


def test_messages_convert_to_rclpy_and_back():
    from sensor_msgs.msg import CameraInfo, Image

    from adds_ros.depth_node import from_ros, ros_types, to_ros
    types = ros_types()
    image = m.image_from_array(np.arange(24, dtype=np.uint8).reshape(2, 4, 3), 'rgb8',
                               m.Header(m.Time(3, 4), 'cam'))
    ros_image = to_ros(image, types)
    assert isinstance(ros_image, Image) and ros_image.header.frame_id == 'cam'
    assert from_ros(ros_image, m.Image) == image
    info = m.CameraInfo(width=4, height=2, d=[0.1] * 5, k=[1.0] * 9)
    ros_info = to_ros(info, types)
    assert isinstance(ros_info, CameraInfo)
    assert from_ros(ros_info, m.CameraInfo) == info
    diag = to_ros(m.DiagnosticArray(status=[m.DiagnosticStatus(level=2, name='x')]), types)
    assert diag.status[0].level == b'\x02'


def test_parameters_are_declared_with_ranges_from_the_shared_table():
    from adds_ros.depth_node import descriptor
    desc = descriptor('height', (0.0, 10.0), None)
    assert desc.floating_point_range[0].to_value == 10.0 and desc.read_only
    desc = descriptor('depth', (1, 100), None)
    assert desc.integer_range[0].from_value == 1
    assert 'onnxruntime' in descriptor('backend', None, ('auto', 'onnxruntime'))\
        .additional_constraints


def test_node_publishes_depth_with_the_image_header(tmp_path):
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from adds_ros.depth_node import make_node, ros_types, to_ros
    model = tiny_model(tmp_path / 'm.onnx', 16, 32)
    rclpy.init(args=['--ros-args', '-p', f'model:={model}', '-p', 'backend:=onnxruntime',
                     '-p', 'device:=cpu', '-p', 'use_camera_info:=false'])
    try:
        node = make_node()
        helper = rclpy.create_node('camera')
        received = []
        helper.create_subscription(Image, 'depth/image', received.append, 10)
        camera = helper.create_publisher(Image, 'image', qos_profile_sensor_data)
        executor = MultiThreadedExecutor()
        for n in (node, helper):
            executor.add_node(n)
        threading.Thread(target=executor.spin, daemon=True).start()
        frame = m.image_from_array(np.full((32, 64, 3), 90, np.uint8), 'rgb8',
                                   m.Header(m.Time(5, 6), 'cam'))
        end = time.monotonic() + 10
        while not received and time.monotonic() < end:
            camera.publish(to_ros(frame, ros_types()))
            time.sleep(0.1)
        assert received and received[0].header.frame_id == 'cam'
        assert received[0].encoding == '32FC1'
        executor.shutdown()
        node.stop_core()
    finally:
        rclpy.try_shutdown()
