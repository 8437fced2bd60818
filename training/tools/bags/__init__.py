# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Bag tools: RobotCar raw or processed frames to rosbag2, depth over a bag (`bag-depth`)."""
