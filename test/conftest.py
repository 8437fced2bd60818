# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Shared test set-up: markers for optional platforms skip with a visible reason.

ROS 2 is not optional in CI: scripts/setup.sh installs rclpy wheels where no ROS 2 is sourced,
so under CI=true a missing rclpy fails the run instead of skipping the ROS tests. Every rclpy
process the tests start discovers on localhost only, in a ROS domain of its own per process.
"""

import importlib.util
import os
import signal

import pytest

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 5))
# A suite started in the background by a non-interactive shell (`nohup ... &`, some CI
# runners) inherits SIGINT ignored, and an ignored signal stays ignored across exec: every
# node and command the tests stop with Ctrl-C would then run on. Python's own handler is
# reset to the default on exec, so the processes the tests start can be interrupted again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _missing(*modules: str) -> list:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _has_origin(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.origin is not None


def _cuda_available() -> bool:
    if importlib.util.find_spec('torch') is None:
        return False
    import torch
    return torch.cuda.is_available()


# marker -> (test needs this, reason shown in the summary when it is skipped)
REQUIREMENTS = {
    'ros': (lambda: not _missing('rclpy'),
            'needs rclpy: source a ROS 2 installation or run scripts/setup.sh (ROS 2 wheels)'),
    # The repository's own launch/ folder imports as a namespace package called `launch`:
    # only a real launch package (with a file) counts.
    'launch': (lambda: not _missing('launch_ros') and _has_origin('launch'),
               'needs ROS 2 launch and launch_ros (not on PyPI: a ROS 2 installation)'),
    'tensorrt': (lambda: not _missing('tensorrt') and len(_missing('cuda', 'pycuda')) < 2,
                 'needs TensorRT and cuda-python or pycuda (from NVIDIA\'s index, with a GPU)'),
    'gpu': (_cuda_available, 'needs a CUDA GPU'),
}


def pytest_collection_modifyitems(config, items):
    for name, (available, reason) in REQUIREMENTS.items():
        if any(item.get_closest_marker(name) for item in items) and not available():
            if name == 'ros' and os.environ.get('CI'):
                raise pytest.UsageError(f'CI runs every rclpy test, but {reason}')
            skip = pytest.mark.skip(reason=reason)
            for item in items:
                if item.get_closest_marker(name):
                    item.add_marker(skip)
