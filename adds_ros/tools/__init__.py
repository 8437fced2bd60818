# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Tools that need only the runtime: `adds engine`, the input fuzzer, the ROS 2 graph harness.

They import nothing of `adds_training`, so a vehicle install runs them and the node's own tests
use them: `engine_cli` (`adds engine`), `fuzz` (`python -m adds_ros.tools.fuzz`, also the
`fuzz` section of `adds bench`), `rosgraph` (depth_node and rclpy peers on this machine),
`transport` (end-to-end latency and QoS through real ROS 2) and `stats` (timing summaries).
"""
