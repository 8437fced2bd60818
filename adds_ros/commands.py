# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The runtime's own `adds` sub-commands (name -> (module, one-line help)).

The offline half registers its commands in adds_training.commands through the
`adds_ros.commands` entry-point group (setup.py), so this package never names it.
"""

COMMANDS = {
    'node': ('adds_ros.node_cli', 'run the ROS 2 depth node (= ros2 run adds_ros depth_node)'),
    'engine': ('adds_ros.tools.engine_cli', 'build (or reuse) a cached TensorRT engine'),
}
