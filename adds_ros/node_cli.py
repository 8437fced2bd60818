# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds node`: run the rclpy depth node with familiar options (no `ros2` CLI needed).

The options translate one to one into ROS 2 arguments (`--ros-args -p/-r/--params-file`), so
`adds node --model m.onnx -r image:=/camera/image_raw` is exactly
`ros2 run adds_ros depth_node --ros-args -p model:=m.onnx -r image:=/camera/image_raw`.

Every way of starting the node (this command, `ros2 run`, the launch file) gives its process
the package's large-data Fast DDS profile unless the user chose one (`adds_ros.resources.
large_data_environment`): with Fast DDS's 0.5 MiB default shared-memory segment a camera frame
travels as UDP fragments, and the node's best-effort (sensor data) subscription loses most of
them (docs/ros.md).
"""

import argparse
from typing import List

from adds_ros.errors import UserError
from adds_ros.params import parameter_table

LOG_LEVELS = ('debug', 'info', 'warn', 'error')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = ', '.join(name for name, *_ in parameter_table())
    parser.add_argument('--model', help='depth model (.onnx / .engine / .pt); same as '
                                        '-p model:=PATH')
    parser.add_argument('--params-file', help='ROS 2 parameters YAML (/**: ros__parameters:)')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                        help=f'set a parameter, repeatable; names: {names}, autostart')
    parser.add_argument('-r', '--remap', action='append', default=[], metavar='FROM:=TO',
                        help='rename a topic, e.g. image:=/camera/image_raw')
    parser.add_argument('--namespace', default='', help='namespace for the node and its topics')
    parser.add_argument('--log-level', default='info', choices=LOG_LEVELS)


def ros_arguments(args: argparse.Namespace) -> List[str]:
    """Return the `--ros-args` list these options mean (params file first, as ROS 2 does)."""
    out = ['--ros-args', '--log-level', args.log_level]
    if args.params_file:
        out += ['--params-file', args.params_file]
    for flag, items in (('-p', args.param), ('-r', args.remap)):
        for item in items:
            name, sep, _ = item.partition(':=')
            if not sep or not name:
                raise UserError(f'{flag} {item!r} must be written NAME:=VALUE')
            out += [flag, item]
    if args.model:
        out += ['-p', f'model:={args.model}']
    if args.namespace:
        out += ['-r', f'__ns:=/{args.namespace.strip("/")}']
    return out


def run(args: argparse.Namespace) -> int:
    ros_args = ros_arguments(args)
    try:
        from adds_ros.depth_node import main
    except ImportError as err:
        raise UserError(f'ROS 2 (rclpy) is not importable ({err}): source your ROS 2 '
                        'setup.bash, or run scripts/setup.sh, which installs the ROS 2 wheels '
                        'into .venv') from err
    return main(['adds node', *ros_args], prog='adds node')
