# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from adds_ros.scale import ScaleConfig, ScaleEstimator, ground_plane_height, resolve_mode

H, W = 64, 128
K = np.array([[100.0, 0, 64], [0, 100.0, 32], [0, 0, 1]])


def road_depth(height: float, pitch_deg: float = 0.0) -> np.ndarray:
    """Metric depth of a flat road `height` below a camera pitched down by `pitch_deg`."""
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.linalg.solve(K, np.stack([u.ravel(), v.ravel(), np.ones(u.size)]))
    pitch = np.radians(pitch_deg)
    # road normal (pointing down, +y in camera frame) seen from the pitched camera
    normal = np.array([0.0, np.cos(pitch), -np.sin(pitch)])
    along = normal @ rays
    t = np.where(along > 1e-6, height / np.where(along > 1e-6, along, 1), np.nan)
    return (t * rays[2]).reshape(H, W).astype(np.float32)


@pytest.mark.parametrize('pitch', [0.0, 5.0])
def test_ground_plane_height_recovers_the_scale(pitch):
    true_scale = 7.5  # metres per model unit
    model_depth = road_depth(1.5, pitch) / true_scale
    height = ground_plane_height(model_depth, K, ScaleConfig())
    assert height == pytest.approx(1.5 / true_scale, rel=0.01)
    estimator = ScaleEstimator(ScaleConfig(camera_height=1.5, smoothing=0.0), None)
    assert estimator.mode == 'ground_plane'
    assert estimator.scale(model_depth, K) == pytest.approx(true_scale, rel=0.01)


def test_an_obstacle_on_the_road_does_not_move_the_plane():
    depth = road_depth(1.5)
    depth[45:60, 55:75] = 4.0  # the back of a car, nearer than the road there
    assert ground_plane_height(depth, K, ScaleConfig()) == pytest.approx(1.5, rel=0.02)


def test_no_road_keeps_the_last_good_scale_and_smooths():
    estimator = ScaleEstimator(ScaleConfig(camera_height=1.5, smoothing=0.5), None)
    assert estimator.scale(np.full((H, W), np.nan, np.float32), K) is None
    first = estimator.scale(road_depth(1.5) / 2.0, K)
    assert first == pytest.approx(2.0, rel=0.01)
    assert estimator.scale(np.full((H, W), np.nan, np.float32), K) == first
    assert estimator.scale(road_depth(1.5) / 4.0, K) == pytest.approx(3.0, rel=0.01)


def test_a_wall_is_not_a_road():
    wall = np.full((H, W), 5.0, np.float32)  # fronto-parallel: normal along the optical axis
    assert ground_plane_height(wall, K, ScaleConfig()) is None


def test_mode_resolution_prefers_metadata_then_fixed_then_ground():
    assert resolve_mode(ScaleConfig(factor=2.0, camera_height=1.5), 3.0) == 'metadata'
    assert resolve_mode(ScaleConfig(factor=2.0, camera_height=1.5), None) == 'fixed'
    assert resolve_mode(ScaleConfig(camera_height=1.5), None) == 'ground_plane'
    assert resolve_mode(ScaleConfig(), None) == 'none'
    assert not ScaleEstimator(ScaleConfig(), None).metric
    fixed = ScaleEstimator(ScaleConfig(mode='fixed', factor=2.5), 3.0)
    assert fixed.scale(road_depth(1.5), K) == 2.5
    assert ScaleEstimator(ScaleConfig(), 3.0).scale(road_depth(1.5), None) == 3.0


def test_a_requested_mode_without_its_data_is_an_error():
    with pytest.raises(ValueError, match='needs a model with metric_scale'):
        resolve_mode(ScaleConfig(mode='metadata'), None)
    with pytest.raises(ValueError, match='camera_height > 0'):
        resolve_mode(ScaleConfig(mode='ground_plane'), None)
    with pytest.raises(ValueError, match='scale mode must be one of'):
        resolve_mode(ScaleConfig(mode='stereo'), None)
