# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The synthetic world renders exact depth and photometrically consistent video."""

import cv2
import numpy as np
import pytest

from adds_training.data.layout import robotcar_info
from adds_training.data.synthetic import texture as tx
from adds_training.data.synthetic.render import cast, render_frame, render_views, SKY, \
    sun_visibility
from adds_training.data.synthetic.world import camera_trajectory, Kind, make_world, \
    pose_matrix, World

H, W = 64, 128
K = robotcar_info().K_for(H, W).astype(np.float64)


def boxes_world(lo, hi, kind=Kind.BUILDING) -> World:
    n = len(lo)
    return World(lo=lo, hi=hi, kind=[kind] * n, colour=np.full((n, 3), 0.5),
                 param=np.tile([1.0, 3.0, 3.0, 0.3], (n, 1)), lamps=np.zeros((0, 3)))


def test_ground_plane_depth_matches_hand_computation():
    height = 1.6
    world = boxes_world(np.zeros((0, 3)), np.zeros((0, 3)))
    _, depth = render_frame(world, pose_matrix((0.0, 0.0, height), 0.0, 0.0), K, H, W,
                            max_depth=200.0)
    v = np.arange(H, dtype=np.float64)
    expected = np.where(v > K[1, 2], height * K[1, 1] / np.maximum(v - K[1, 2], 1e-9), 0.0)
    expected[expected > 200.0] = 0.0
    np.testing.assert_allclose(depth, np.repeat(expected[:, None], W, 1), rtol=1e-6)
    assert (depth[: int(K[1, 2])] == 0).all()  # sky above the horizon is invalid


@pytest.mark.parametrize('yaw', [0.0, 0.15, -0.2])
def test_box_face_depth_matches_hand_computation(yaw):
    # A wall across the street 10 m ahead, seen from a camera turned by `yaw`: the ray of
    # normalised column x runs along right * x + forward, so it meets Y = 10 after
    # t = 10 / (cos(yaw) - x sin(yaw)), and t is its depth.
    world = boxes_world([[-30.0, 10.0, 0.0]], [[30.0, 11.0, 20.0]])
    _, depth = render_frame(world, pose_matrix((0.0, 0.0, 1.5), yaw, 0.0), K, H, W)
    x = (np.arange(W) - K[0, 2]) / K[0, 0]
    expected = 10.0 / (np.cos(yaw) - x * np.sin(yaw))
    rows = np.arange(H) <= K[1, 2]  # above the horizon only the wall is seen
    np.testing.assert_allclose(depth[rows], np.broadcast_to(expected, (rows.sum(), W)),
                               rtol=1e-6)


def test_side_face_depth_and_hit_identity():
    # A façade on the right, x = 3: column u sees it at depth 3 / x_n (if x_n > 0).
    world = boxes_world([[3.0, -5.0, 0.0]], [[4.0, 200.0, 50.0]])
    hits = cast(world, pose_matrix((0.0, 0.0, 1.5), 0.0, 0.0), K, H, W)
    x = (np.arange(W) - K[0, 2]) / K[0, 0]
    right = np.flatnonzero(x > 0.1)
    np.testing.assert_allclose(hits.depth[0, right], 3.0 / x[right], rtol=1e-9)
    assert (hits.box[0, right] == 0).all() and (hits.axis[0, right] == 0).all()
    assert (hits.box[0, x < 0] == SKY).all()


def brute_force_depth(world: World, pose: np.ndarray) -> np.ndarray:
    """Nearest hit of every ray against the ground and every box, without any culling."""
    u, v = np.meshgrid(np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64))
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    rays = rays @ pose[:3, :3].T
    o = pose[:3, 3]
    with np.errstate(divide='ignore', invalid='ignore'):
        best = np.where(rays[..., 2] < 0, -o[2] / rays[..., 2], np.inf)
        for lo, hi in zip(world.lo, world.hi):
            t0, t1 = (lo - o) / rays, (hi - o) / rays
            near = np.nanmax(np.minimum(t0, t1), -1)
            far = np.nanmin(np.maximum(t0, t1), -1)
            hit = (near <= far) & (near > 0.05)
            best = np.where(hit, np.minimum(best, near), best)
    return best


def test_culling_never_loses_a_box():
    world = make_world(5, length=60.0)
    for pose in camera_trajectory(world, 40, 5)[::13]:
        depth = cast(world, pose, K, H, W).depth
        expected = brute_force_depth(world, pose)
        finite = np.isfinite(expected) & (expected < 1000)
        np.testing.assert_allclose(depth[finite], expected[finite], rtol=1e-9)


def warp(source, depth, T_target, T_source):
    """Warp `source` into the target view with the target's depth and both camera poses.

    Returns the warped image (-1 outside the source) and the depth each pixel has in the source
    camera, with the source pixel it samples.
    """
    v, u = np.mgrid[0:H, 0:W].astype(np.float64)
    cam = np.stack([(u - K[0, 2]) / K[0, 0] * depth, (v - K[1, 2]) / K[1, 1] * depth, depth], -1)
    relative = np.linalg.inv(T_source) @ T_target
    moved = cam @ relative[:3, :3].T + relative[:3, 3]
    z = moved[..., 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        mu = (K[0, 0] * moved[..., 0] / z + K[0, 2]).astype(np.float32)
        mv = (K[1, 1] * moved[..., 1] / z + K[1, 2]).astype(np.float32)
    warped = cv2.remap(source.astype(np.float32), mu, mv, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=(-1.0, -1.0, -1.0))
    return warped, z, mu, mv


def photometric_errors(illumination: str, seed: int = 11):
    """Warp errors (0..1) with the true depth and pose, a wrong depth and a wrong pose.

    All three are measured on the same pixels: valid depth, inside the next frame and not
    occluded there (its own depth agrees with the true geometry).
    """
    world = make_world(seed, length=60.0)
    poses = camera_trajectory(world, 12, seed)
    rng = np.random.default_rng(0)
    (target, depth), (source, source_depth) = [
        render_frame(world, poses[i], K, H, W, illumination, rng) for i in (4, 5)]
    T_t, T_s = poses[4], poses[5]
    warped, z, mu, mv = warp(source, depth, T_t, T_s)
    seen = cv2.remap(source_depth, mu, mv, cv2.INTER_NEAREST, borderValue=0.0)
    valid = (depth > 0) & (warped[..., 0] >= 0) & (np.abs(seen - z) < 0.05 * z)
    wrong_pose = T_s.copy()
    wrong_pose[:3, 3] += T_s[:3, :3] @ np.array([0.4, 0.0, 0.0])
    errors = [np.abs(warp(source, d, T_t, T)[0] - target)[valid].mean() / 255.0
              for d, T in [(depth, T_s), (0.7 * depth, T_s), (depth, wrong_pose)]]
    return errors[0], valid.mean(), errors[1], errors[2]


# (illumination, largest mean L1 error, largest ratio to the error of a wrong depth or pose).
# Night matches less well: the headlight moves with the car, plus glare and stronger noise.
@pytest.mark.parametrize('illumination,limit,ratio', [('day', 0.025, 0.35),
                                                      ('night', 0.04, 0.65)])
def test_true_depth_and_pose_reproduce_the_next_frame(illumination, limit, ratio):
    true, coverage, wrong_depth, wrong_pose = photometric_errors(illumination)
    assert coverage > 0.5
    assert true < limit
    assert true < ratio * wrong_depth and true < ratio * wrong_pose


def test_night_matches_worse_than_day():
    day, night = photometric_errors('day')[0], photometric_errors('night')[0]
    assert day < night


def test_day_and_night_share_geometry_and_differ_in_light():
    world = make_world(2, length=40.0)
    pose = camera_trajectory(world, 5, 2)[2]
    day, night, depth = render_views(world, pose, K, H, W, np.random.default_rng(1))
    _, depth_alone = render_frame(world, pose, K, H, W, 'night')
    np.testing.assert_array_equal(depth, depth_alone)
    assert day.shape == night.shape == (H, W, 3) and day.dtype == night.dtype == np.uint8
    assert night.mean() < 0.6 * day.mean()
    r, g, b = night.reshape(-1, 3).mean(0)
    assert r > g > b  # sodium light and white balance give the orange cast
    again = render_views(world, pose, K, H, W, np.random.default_rng(2))[1]
    noise = np.abs(again.astype(int) - night).mean()
    assert 0 < noise < 8  # only the sensor noise differs between two renders


def test_textures_have_no_large_flat_areas():
    world = make_world(4, length=40.0)
    day, _ = render_frame(world, camera_trajectory(world, 3, 4)[1], K, 128, 256)
    grey = day.mean(2)
    flat = 0
    for y in range(0, 128 - 16, 16):
        for x in range(0, 256 - 16, 16):
            flat += grey[y:y + 16, x:x + 16].std() < 1.0
    assert flat / (7 * 15) < 0.15


def test_pulses_is_the_exact_box_filter():
    rng = np.random.default_rng(0)
    x, fp = rng.uniform(-10, 10, 200), rng.uniform(0.01, 3.0, 200)
    offsets = np.linspace(-0.5, 0.5, 20001)
    samples = x[:, None] + offsets[None] * fp[:, None]
    dense = (np.mod(samples, 0.7) < 0.2).mean(1)
    np.testing.assert_allclose(tx.pulses(x, 0.7, 0.2, fp), dense, atol=2e-3)
    np.testing.assert_allclose(tx.band(x, -1.0, 2.0, fp),
                               ((samples >= -1) & (samples <= 2)).mean(1), atol=2e-3)


def test_hash_is_uniform_and_deterministic():
    ix, iy = np.meshgrid(np.arange(-50, 50), np.arange(-50, 50))
    a, b = tx.hash01(ix, iy, 3), tx.hash01(ix, iy, 4)
    assert 0 <= a.min() and a.max() < 1 and abs(a.mean() - 0.5) < 0.02
    np.testing.assert_array_equal(a, tx.hash01(ix, iy, 3))
    assert np.abs(a - b).mean() > 0.2


def test_sun_shadows_of_a_wall():
    # Sun at 45 degrees from +x; a 10 m wall at 2 < x < 3 shades the ground for -8 < x < 2.
    world = boxes_world([[2.0, -100.0, 0.0]], [[3.0, 100.0, 10.0]])
    world.sun = np.array([1.0, 0.0, 1.0]) / np.sqrt(2)
    x = np.array([-9.0, -7.9, -5.0, 1.9, 5.0])
    ground = np.stack([x, np.zeros_like(x), np.zeros_like(x)], 1)
    up = np.tile([0.0, 0.0, 1.0], (len(x), 1))
    np.testing.assert_array_equal(sun_visibility(world, ground, up), [1, 0, 0, 0, 1])
    walls = np.array([[2.0, 0.0, 5.0], [3.0, 0.0, 5.0]])
    normals = np.array([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(sun_visibility(world, walls, normals), [0, 1])


def test_world_rejects_inverted_boxes():
    with pytest.raises(ValueError, match='hi > lo'):
        boxes_world([[0.0, 0.0, 0.0]], [[1.0, -1.0, 1.0]])


def test_trajectory_drives_forward_in_the_free_lane():
    world = make_world(9, length=200.0)
    poses = camera_trajectory(world, 150, 9)
    steps = np.diff(poses[:, :3, 3], axis=0)
    assert (steps[:, 1] > 0.4).all() and (np.abs(steps[:, 2]) < 1e-12).all()
    for pose in poses:
        np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
        assert np.linalg.det(pose[:3, :3]) > 0
        inside = np.all((world.lo < pose[:3, 3]) & (pose[:3, 3] < world.hi), axis=1)
        assert not inside.any()
    hits = cast(world, poses[0], K, H, W)
    assert hits.depth[H // 2 + 5:, W // 2].min() > 2.0  # the lane ahead is free
