# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Oxford RobotCar: raw readers, `adds prepare`, `adds gt`, published split and GT formats."""
