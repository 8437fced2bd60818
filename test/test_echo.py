# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The transport floor: the depth node against a plain rclpy echo of the same frames."""

import pytest

from adds_ros.testing.tiny_model import tiny_model

pytestmark = [pytest.mark.ros, pytest.mark.slow]   # two node processes, ~10 s


def test_the_echo_answers_every_frame_and_the_node_is_measured_against_it(tmp_path):
    from adds_ros.tools.echo import bench_echo

    model = tiny_model(tmp_path / 'tiny.onnx', 32, 64)
    result = bench_echo(model, (240, 320), 3, tmp_path)
    for side in ('depth node', 'rclpy echo'):
        assert result[side]['n'] == 3 and result[side]['lost'] == 0
        assert result[side]['p50_ms'] > 0
    assert result['node_over_echo_p50_ms'] == pytest.approx(
        result['depth node']['p50_ms'] - result['rclpy echo']['p50_ms'])
