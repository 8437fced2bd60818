# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Shared test set-up: markers for optional platforms skip with a visible reason."""

import importlib.util

import pytest


def _missing(*modules: str) -> list:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _cuda_available() -> bool:
    if importlib.util.find_spec('torch') is None:
        return False
    import torch
    return torch.cuda.is_available()


# marker -> (test needs this, reason shown in the summary when it is skipped)
REQUIREMENTS = {
    'ros': (lambda: not _missing('rclpy'),
            'needs a ROS 2 installation (rclpy is not importable; ROS 2 cannot be installed '
            'from PyPI)'),
    'tensorrt': (lambda: not _missing('tensorrt', 'pycuda'),
                 'needs TensorRT and pycuda (installed from NVIDIA\'s own index, with a GPU)'),
    'gpu': (_cuda_available, 'needs a CUDA GPU'),
}


def pytest_collection_modifyitems(config, items):
    for name, (available, reason) in REQUIREMENTS.items():
        if any(item.get_closest_marker(name) for item in items) and not available():
            skip = pytest.mark.skip(reason=reason)
            for item in items:
                if item.get_closest_marker(name):
                    item.add_marker(skip)
