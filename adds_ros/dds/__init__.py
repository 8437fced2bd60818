# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Cyclone DDS transport with ROS 2 wire conventions (imports cyclonedds only in submodules)."""
