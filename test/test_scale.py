# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Ground-plane metres on the synthetic street: ground truth, network-like errors, occlusions.

The depths are the renderer's exact ground truth divided by a known scale, then damaged the
ways a network's prediction is: smooth multiplicative error, a road that is not planar, a
wall or NaN where the road should be, a textureless road predicted too far.
"""

import numpy as np
import pytest

from adds_ros.scale import (REFUSALS, Refused, ScaleConfig, ScaleEstimator, expected_down,
                            ground_plane_fit, ground_plane_height, resolve_mode)
from adds_training.data.layout import robotcar_info
from adds_training.data.synthetic.render import cast, gt_depth
from adds_training.data.synthetic.world import CAMERA_HEIGHT, camera_trajectory, make_world

H, W = 96, 192
K = robotcar_info().K_for(H, W).astype(np.float64)
TRUE_SCALE = 7.5  # metres per model unit
WORLD = make_world(4, length=60.0)
POSES = camera_trajectory(WORLD, 12, 4)
# The trajectory pitches the camera 0.6-1.7 degrees down: the calibrated mean is 1.15.
CONFIG = dict(camera_height=CAMERA_HEIGHT, pitch_deg=1.15, smoothing=0.0)


def street_depth(frame: int, pitch_deg: float = 0.0, roll_deg: float = 0.0) -> np.ndarray:
    """Model-unit depth of one synthetic frame (camera optionally re-mounted), NaN = no data."""
    pose = POSES[frame].copy()
    pitch, roll = np.radians(pitch_deg), np.radians(roll_deg)
    # camera-frame rotations: pitch about x (down +), then roll about z (right side down +)
    pitch_m = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)],
                        [0, np.sin(pitch), np.cos(pitch)]])
    roll_m = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0],
                       [0, 0, 1]])
    pose[:3, :3] = pose[:3, :3] @ pitch_m.T @ roll_m
    depth = gt_depth(cast(WORLD, pose, K, H, W)).astype(np.float64)
    return np.where(depth > 0, depth / TRUE_SCALE, np.nan)


def network_like(depth: np.ndarray, seed: int, amount: float = 0.05) -> np.ndarray:
    """Smooth multiplicative error and pixel noise, as a decent network's depth has."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:H, 0:W] / np.array([H, W])[:, None, None]
    smooth = sum(rng.normal(0, amount) * np.sin(np.pi * (a * u + b * v) + rng.uniform(0, 6))
                 for a, b in ((1, 0), (0, 1), (1, 1), (2, 1)))
    return depth * np.exp(smooth / 2 + rng.normal(0, amount / 2, depth.shape))


def run(estimator: ScaleEstimator, depths, start: float = 0.0, dt: float = 0.1):
    return [estimator.scale(d, K, stamp=start + i * dt) for i, d in enumerate(depths)]


def test_ground_truth_depth_gives_the_true_scale_after_confirmation():
    estimator = ScaleEstimator(ScaleConfig(**CONFIG), None)
    scales = run(estimator, [street_depth(i) for i in range(6)])
    assert scales[:2] == [None, None]  # three agreeing fits before the first metres
    assert scales[2:] == pytest.approx([TRUE_SCALE] * 4, rel=0.01)
    fit = ground_plane_fit(street_depth(0), K, ScaleConfig(**CONFIG))
    assert fit.tilt_deg < 1.0 and fit.inlier_fraction > 0.5 and fit.row_coverage > 0.9
    status = estimator.status()
    assert status['scale'] == pytest.approx(TRUE_SCALE, rel=0.01)
    assert status['scale_source'] == 'ground_plane' and status['scale_age_s'] == 0.0
    assert status['scale_refused_confirming'] == 2 and status['scale_last_refusal'] == 'confirming'
    assert set(status) >= {f'scale_refused_{r}' for r in REFUSALS}


def test_network_like_errors_stay_within_a_few_percent():
    estimator = ScaleEstimator(ScaleConfig(**dict(CONFIG, smoothing=0.8)), None)
    scales = run(estimator, [network_like(street_depth(i), seed=i) for i in range(12)])
    assert None not in scales[2:]
    assert scales[-1] == pytest.approx(TRUE_SCALE, rel=0.05)


def test_a_road_the_network_bends_is_refused_by_the_mounting_not_trusted():
    # Depth growing too fast down the image: the road tilts 6.4 deg (the demo model's: 5-7).
    rows = np.arange(H)[:, None] / H
    bent = street_depth(0) * np.exp(1.4 * (rows - 0.8))
    with pytest.raises(Refused) as refusal:
        ground_plane_fit(bent, K, ScaleConfig(**CONFIG))
    assert refusal.value.reason in ('tilt', 'inliers')  # no plane near the mounting's fits
    old_rules = ScaleConfig(**dict(CONFIG, max_tilt_deg=20.0, min_inlier_fraction=0.0,
                                   min_row_coverage=0.0))
    loose = ground_plane_fit(bent, K, old_rules)
    assert 5.0 < loose.tilt_deg < 20.0  # the old 20 degree limit would have taken it
    assert abs(CAMERA_HEIGHT / loose.height / TRUE_SCALE - 1) > 0.05  # ... and wrong metres


def occluded(kind: str, depth: np.ndarray) -> np.ndarray:
    out = depth.copy()
    if kind == 'wall':  # a building facade (fronto-parallel) filling the lower image
        out[H // 2:] = 6.0 / TRUE_SCALE
    elif kind == 'nan_bottom_third':
        out[2 * H // 3:] = np.nan
    elif kind == 'grey_blur':  # textureless: the network predicts one far distance
        out[int(0.6 * H):] = np.nanmedian(depth) * 3
    return out


@pytest.mark.parametrize('kind', ['wall', 'nan_bottom_third', 'grey_blur'])
def test_occluded_roads_are_refused(kind):
    with pytest.raises(Refused) as refusal:
        ground_plane_fit(occluded(kind, street_depth(3)), K, ScaleConfig(**CONFIG))
    assert refusal.value.reason in ('tilt', 'inliers', 'coverage')


@pytest.mark.parametrize('kind', ['wall', 'nan_bottom_third', 'grey_blur'])
def test_occluded_frames_hold_the_scale_then_expire_to_no_scale(kind):
    estimator = ScaleEstimator(ScaleConfig(**dict(CONFIG, max_age=0.75)), None)
    run(estimator, [street_depth(i) for i in range(3)])  # accepted at t = 0.2 s
    held = run(estimator, [occluded(kind, street_depth(i)) for i in range(3, 12)], start=0.3)
    assert held[:7] == pytest.approx([TRUE_SCALE] * 7, rel=0.01)  # t = 0.3 .. 0.9 s
    assert held[7:] == [None, None]  # 0.8 s after the last accepted fit: expired
    status = estimator.status()
    assert status['scale'] is None and status['scale_refused_expired'] == 1
    assert sum(status[f'scale_refused_{r}'] for r in ('tilt', 'inliers', 'coverage')) == 9


def test_a_white_road_predicted_too_far_does_not_pull_the_running_scale():
    estimator = ScaleEstimator(ScaleConfig(**dict(CONFIG, smoothing=0.8)), None)
    run(estimator, [street_depth(i) for i in range(3)])
    white = run(estimator, [street_depth(i) * 1.3 for i in range(3, 12)], start=0.3)
    assert white == pytest.approx([TRUE_SCALE] * 9, rel=0.01)
    assert estimator.status()['scale_refused_jump'] == 9


def test_a_new_value_needs_agreeing_fits():
    estimator = ScaleEstimator(ScaleConfig(**CONFIG), None)
    flicker = [street_depth(i) * (1.0 if i % 2 else 1.4) for i in range(8)]
    assert run(estimator, flicker) == [None] * 8


def test_a_wrong_running_value_is_replaced_after_it_expires():
    estimator = ScaleEstimator(ScaleConfig(**dict(CONFIG, max_age=0.5)), None)
    run(estimator, [street_depth(i) * 1.4 for i in range(3)])  # e.g. a bad start
    later = run(estimator, [street_depth(i) for i in range(3, 12)], start=0.3)
    assert later[-1] == pytest.approx(TRUE_SCALE, rel=0.01)


@pytest.mark.parametrize('pitch,roll', [(8.0, 0.0), (0.0, 6.0), (4.0, -6.0)])
def test_the_calibrated_mounting_is_the_expected_road(pitch, roll):
    depth = street_depth(0, pitch, roll)
    mounted = ScaleConfig(**dict(CONFIG, pitch_deg=1.15 + pitch, roll_deg=roll))
    assert ground_plane_height(depth, K, mounted) == pytest.approx(CAMERA_HEIGHT / TRUE_SCALE,
                                                                   rel=0.01)
    wrong = ScaleConfig(**dict(CONFIG, pitch_deg=1.15 - pitch, roll_deg=-roll))
    assert ground_plane_height(depth, K, wrong) is None


def test_expected_down_matches_the_conventions():
    np.testing.assert_allclose(expected_down(ScaleConfig()), [0, 1, 0], atol=1e-12)
    down = expected_down(ScaleConfig(pitch_deg=30.0))
    np.testing.assert_allclose(down, [0, np.cos(np.radians(30)), 0.5], atol=1e-12)
    assert expected_down(ScaleConfig(roll_deg=10.0))[0] > 0  # right side down


@pytest.mark.parametrize('k,reason', [
    (np.zeros((3, 3)), 'bad_k'), (np.full((3, 3), np.nan), 'bad_k'),
    (np.array([[100.0, 0, 64], [200.0, 0, 128], [0, 0, 1]]), 'bad_k'),
    (None, 'no_camera_k')])
def test_a_singular_or_missing_k_is_a_counted_refusal_not_an_exception(k, reason):
    estimator = ScaleEstimator(ScaleConfig(**CONFIG), None)
    assert estimator.scale(street_depth(0), k) is None
    assert estimator.status()[f'scale_refused_{reason}'] == 1


def test_a_few_valid_points_are_not_a_road():
    depth = street_depth(0)
    sparse = np.full_like(depth, np.nan)
    sparse[-1, W // 2:W // 2 + 15] = depth[-1, W // 2:W // 2 + 15]
    with pytest.raises(Refused, match='no_road'):
        ground_plane_fit(sparse, K, ScaleConfig(**CONFIG))
    speckle = np.where(np.random.default_rng(0).random(depth.shape) < 0.15, depth, np.nan)
    with pytest.raises(Refused, match='inliers'):
        ground_plane_fit(speckle, K, ScaleConfig(**CONFIG))


def test_row_coverage_is_its_own_check():
    depth = street_depth(0)
    depth[int(0.8 * H):] = np.nan  # half the road region's rows
    config = ScaleConfig(**dict(CONFIG, min_inlier_fraction=0.0))
    with pytest.raises(Refused, match='coverage'):
        ground_plane_fit(depth, K, config)
    config.min_row_coverage = 0.3
    assert ground_plane_fit(depth, K, config).row_coverage == pytest.approx(0.5, abs=0.1)


def test_absurd_depth_values_are_refused_quietly():
    estimator = ScaleEstimator(ScaleConfig(**CONFIG), None)
    for depth in (np.full((H, W), np.inf), np.full((H, W), -1.0), np.zeros((H, W)),
                  np.full((H, W), 1e300), street_depth(0) * 1e-300):
        with np.errstate(all='raise'):
            assert estimator.scale(depth, K) is None


def test_constant_sources_report_their_status():
    status = ScaleEstimator(ScaleConfig(factor=2.5), None).status()
    assert (status['scale'], status['scale_source'], status['scale_age_s']) == (2.5, 'fixed', 0.0)
    status = ScaleEstimator(ScaleConfig(), 3.0).status()
    assert (status['scale'], status['scale_source']) == (3.0, 'metadata')
    assert ScaleEstimator(ScaleConfig(), None).status()['scale'] is None


def test_settings_out_of_range_are_named():
    with pytest.raises(ValueError, match="'max_tilt_deg' = 0.0 is outside"):
        ScaleConfig(max_tilt_deg=0.0)
    with pytest.raises(ValueError, match="'confirm_frames' = 0 is outside"):
        ScaleConfig(confirm_frames=0)
    with pytest.raises(ValueError, match="'mode' = 'stereo' is not one of"):
        ScaleConfig(mode='stereo')


def test_mode_resolution_prefers_metadata_then_fixed_then_ground():
    assert resolve_mode(ScaleConfig(factor=2.0, camera_height=1.5), 3.0) == 'metadata'
    assert resolve_mode(ScaleConfig(factor=2.0, camera_height=1.5), None) == 'fixed'
    assert resolve_mode(ScaleConfig(camera_height=1.5), None) == 'ground_plane'
    assert resolve_mode(ScaleConfig(), None) == 'none'
    assert not ScaleEstimator(ScaleConfig(), None).metric
    fixed = ScaleEstimator(ScaleConfig(mode='fixed', factor=2.5), 3.0)
    assert fixed.scale(street_depth(0), K) == 2.5
    assert ScaleEstimator(ScaleConfig(), 3.0).scale(street_depth(0), None) == 3.0


def test_a_requested_mode_without_its_data_is_an_error():
    with pytest.raises(ValueError, match='needs a model with metric_scale'):
        resolve_mode(ScaleConfig(mode='metadata'), None)
    with pytest.raises(ValueError, match='camera_height > 0'):
        resolve_mode(ScaleConfig(mode='ground_plane'), None)


def test_only_level_candidates_compete_so_a_large_van_does_not_hide_the_road():
    depth = street_depth(0)
    depth[int(0.5 * H):, :int(0.54 * W)] = 5.0 / TRUE_SCALE  # the back of a van, left of centre
    config = ScaleConfig(**dict(CONFIG, min_inlier_fraction=0.3, min_row_coverage=0.3))
    fit = ground_plane_fit(depth, K, config)
    assert 0.3 < fit.inlier_fraction < 0.5
    assert CAMERA_HEIGHT / fit.height == pytest.approx(TRUE_SCALE, rel=0.01)


def test_every_estimator_setting_is_a_node_parameter():
    from dataclasses import fields

    from adds_ros.params import NodeParams
    mapped = {spec.metadata['section'][1]: spec.name for spec in fields(NodeParams)
              if spec.metadata.get('section', (None,))[0] is ScaleConfig}
    # the road region is fixed by the method, not tuned per vehicle
    tuned = {spec.name for spec in fields(ScaleConfig)} - {'road_top', 'road_half_width'}
    assert set(mapped) == tuned
    assert NodeParams(model='m').scale_config() == ScaleConfig()
    config = NodeParams(model='m.onnx', camera_height=1.6, scale_smoothing=0.5,
                        camera_pitch_deg=3.0, camera_roll_deg=-1.0, scale_max_tilt_deg=4.0,
                        scale_min_inlier_fraction=0.6, scale_min_row_coverage=0.7,
                        scale_max_jump=0.2, scale_confirm_frames=5,
                        scale_max_age=9.0).scale_config()
    assert (config.camera_height, config.smoothing, config.pitch_deg, config.roll_deg,
            config.max_tilt_deg, config.min_inlier_fraction, config.min_row_coverage,
            config.max_jump, config.confirm_frames, config.max_age) == \
        (1.6, 0.5, 3.0, -1.0, 4.0, 0.6, 0.7, 0.2, 5, 9.0)
    with pytest.raises(ValueError, match='scale_max_tilt_deg'):
        NodeParams(model='m.onnx', scale_max_tilt_deg=90.0)
