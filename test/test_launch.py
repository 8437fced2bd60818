# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""depth.launch.py (needs ROS 2's launch and launch_ros; skipped elsewhere by conftest)."""

import importlib.util
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.launch

LAUNCH = Path(__file__).resolve().parents[1] / 'launch' / 'depth.launch.py'


def load_launch_module():
    spec = importlib.util.spec_from_file_location('depth_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launch_declares_its_arguments():
    from launch.actions import DeclareLaunchArgument
    description = load_launch_module().generate_launch_description()
    names = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert {'namespace', 'image', 'camera_info', 'params_file', 'model', 'backend',
            'use_sim_time', 'point_cloud'} <= names


@pytest.mark.parametrize('point_cloud,count', [('false', 1), ('true', 2)])
def test_point_cloud_adds_depth_image_proc(point_cloud, count):
    from launch import LaunchContext
    from launch.utilities import perform_substitutions
    module = load_launch_module()
    context = LaunchContext()
    values = {name: default for name, (default, _) in module.ARGUMENTS.items()}
    values.update(point_cloud=point_cloud, model='/models/m.onnx', namespace='front')
    context.launch_configurations.update(values)
    nodes = module.launch_nodes(context)
    assert len(nodes) == count
    for node in nodes:  # camera-size frames: the large-data Fast DDS profile, unless set
        env = {perform_substitutions(context, key): perform_substitutions(context, value)
               for key, value in node.additional_env or []}
        if 'FASTDDS_DEFAULT_PROFILES_FILE' not in os.environ:
            assert env['FASTDDS_DEFAULT_PROFILES_FILE'].endswith('fastdds_large_data.xml')
    if count == 2:
        assert nodes[1].node_package == 'depth_image_proc'
