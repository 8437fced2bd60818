# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""adds_training: the offline side of adds_ros (networks, losses, data, training, export)."""
