# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Bag tools: RobotCar raw sequences to rosbag2 (`adds bag`) and depth over a bag (`bag-depth`)."""
