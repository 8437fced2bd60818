# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Data: the processed-data layout, RobotCar tools, the synthetic world and torch datasets."""
