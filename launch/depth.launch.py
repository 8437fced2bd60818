# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Launch the ADDS depth node, optionally with depth_image_proc turning depth into points.

Examples:
ros2 launch adds_ros depth.launch.py model:=/path/model.onnx image:=/camera/image_raw
ros2 launch adds_ros depth.launch.py params_file:=/path/robotcar.yaml point_cloud:=true
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from adds_ros.resources import large_data_environment

# name -> (default, description). '' for model/backend/compressed: the params file decides.
ARGUMENTS = {
    'namespace': ('', 'namespace of the node and its relative topics'),
    'image': ('image', 'camera image topic (sensor_msgs/Image; base topic when compressed)'),
    'camera_info': ('camera_info', 'camera_info topic of that camera'),
    'compressed': ('', "'true': subscribe to <image>/compressed (jpeg/png)"),
    'params_file': ('', 'ROS 2 params file; default: config/depth.yaml of this package'),
    'model': ('', 'depth model (.onnx, .engine, .pt/.pth)'),
    'backend': ('', 'auto | onnxruntime | tensorrt | torch'),
    'use_sim_time': ('false', "'true' with `ros2 bag play --clock`"),
    'point_cloud': ('false', "'true': also run depth_image_proc point_cloud_xyz_node"),
}


def _is_true(text: str) -> bool:
    return text.strip().lower() in ('true', '1', 'yes')


def launch_nodes(context, *_, **__):
    """Build the nodes once the arguments are known (so empty arguments override nothing)."""
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    share = get_package_share_directory('adds_ros')
    overrides = {'use_sim_time': _is_true(arg['use_sim_time'])}
    if arg['model']:
        overrides['model'] = arg['model']
    if arg['backend']:
        overrides['backend'] = arg['backend']
    if arg['compressed']:
        overrides['compressed'] = _is_true(arg['compressed'])
    compressed = _is_true(arg['compressed'])
    # camera-size frames whole through shared memory, unless the user chose a Fast DDS profile
    env = large_data_environment()
    image_remap = (('image/compressed', arg['image'] + '/compressed') if compressed
                   else ('image', arg['image']))
    nodes = [Node(package='adds_ros', executable='depth_node', name='depth_node',
                  namespace=arg['namespace'], output='screen', additional_env=env,
                  parameters=[arg['params_file'] or os.path.join(share, 'config', 'depth.yaml'),
                              overrides],
                  remappings=[image_remap, ('camera_info', arg['camera_info'])])]
    if _is_true(arg['point_cloud']):
        # point_cloud_xyz takes metres (32FC1, REP 118): it needs a node with a metric scale.
        nodes.append(Node(package='depth_image_proc', executable='point_cloud_xyz_node',
                          name='point_cloud_xyz', namespace=arg['namespace'], output='screen',
                          additional_env=env,
                          parameters=[{'use_sim_time': overrides['use_sim_time']}],
                          remappings=[('image_rect', 'depth/image'),
                                      ('camera_info', 'depth/camera_info'),
                                      ('points', 'depth/points')]))
    return nodes


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=description)
         for name, (default, description) in ARGUMENTS.items()]
        + [OpaqueFunction(function=launch_nodes)])
