# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the node tests: the tiny real ONNX depth model (adds_ros.testing)."""

from adds_ros.testing.tiny_model import tiny_model

__all__ = ['tiny_model']
