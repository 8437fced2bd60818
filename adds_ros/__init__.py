# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""adds_ros: all-day monocular depth for vehicles, the runtime side (node, estimator, backends)."""

__version__ = '0.1.0'
