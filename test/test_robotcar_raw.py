# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Raw RobotCar readers: Bayer demosaic, LUT undistortion, SE(3) conventions, VO, lidar."""

import numpy as np
import pytest
from robotcar_fixture import build_raw_sequence, mosaic_gbrg, shifted_lut, smooth_rgb
from robotcar_fixture import write_camera_model

from adds_training.data.robotcar import raw


def test_demosaic_reproduces_known_image_away_from_borders():
    rgb = smooth_rgb(96, 128)
    out = raw.demosaic(mosaic_gbrg(rgb))
    error = np.abs(out.astype(int) - rgb.astype(int))[2:-2, 2:-2]
    assert error.max() <= 2
    # the channels are in RGB order (a swapped R/B would be off by tens of grey levels)
    assert np.abs(out[..., 0].astype(int) - rgb[..., 2]).max() > 20


def test_read_bayer_image_rejects_colour_and_garbage(tmp_path):
    import cv2
    cv2.imwrite(str(tmp_path / 'rgb.png'), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / 'bad.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match='single-channel'):
        raw.read_bayer_image(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='cannot read'):
        raw.read_bayer_image(tmp_path / 'bad.png')


def test_lut_undistortion_moves_pixels_the_right_way(tmp_path):
    size, dx, dy = (40, 60), 3.0, 2.0
    write_camera_model(tmp_path, (50.0, 50.0), (30.0, 20.0), shifted_lut(size, dx, dy))
    model = raw.read_camera_model(tmp_path, size=size)
    image = np.zeros(size, np.uint8)
    image[20, 30] = 255
    out = model.undistort(image)
    # undistorted (x, y) samples raw (x + dx, y + dy): the dot appears at (30 - dx, 20 - dy)
    assert np.unravel_index(out.argmax(), out.shape) == (20 - dy, 30 - dx)
    write_camera_model(tmp_path, (50.0, 50.0), (30.0, 20.0), shifted_lut(size))
    identity = raw.read_camera_model(tmp_path, size=size)
    np.testing.assert_array_equal(identity.undistort(image), image)


def test_camera_model_errors_name_the_problem(tmp_path):
    write_camera_model(tmp_path, (50.0, 50.0), (30.0, 20.0), shifted_lut((40, 60)))
    with pytest.raises(ValueError, match='expected 2\\*30\\*60'):
        raw.read_camera_model(tmp_path, size=(30, 60))
    with pytest.raises(FileNotFoundError, match='models'):
        raw.read_camera_model(tmp_path / 'nowhere')


def test_se3_follows_sdk_convention():
    yaw = np.pi / 2
    T = raw.build_se3_transform([1, 2, 3, 0, 0, yaw])
    # yaw about z: x axis -> y axis; translation applied after rotation
    np.testing.assert_allclose(T @ [1, 0, 0, 1], [1, 3, 3, 1], atol=1e-12)
    R = raw.euler_to_so3(0.1, 0.2, 0.3)
    Rx = raw.euler_to_so3(0.1, 0, 0)
    Ry = raw.euler_to_so3(0, 0.2, 0)
    Rz = raw.euler_to_so3(0, 0, 0.3)
    np.testing.assert_allclose(R, Rz @ Ry @ Rx, atol=1e-12)
    with pytest.raises(ValueError, match='6 values'):
        raw.build_se3_transform([0, 0, 0])


def test_vo_chains_and_interpolates(tmp_path):
    fx = build_raw_sequence(tmp_path, n_frames=6, size=(16, 16), static=(2,))
    trajectory = raw.read_vo(fx.sequence / 'vo' / 'vo.csv')
    x = trajectory.at(fx.stamps)[:, 0, 3]
    np.testing.assert_allclose(np.diff(x), [1, 0, 1, 1, 1], atol=1e-9)
    midway = trajectory.at([fx.stamps[3] + 50_000])[0, 0, 3]
    assert midway == pytest.approx(x[3] + 0.5)
    # relative to frame 3, frame 5 lies 2 m ahead
    assert trajectory.relative([fx.stamps[5]], fx.stamps[3])[0, 0, 3] == pytest.approx(2.0)


def test_interpolate_pose_rotates_halfway():
    A = np.eye(4)
    B = raw.build_se3_transform([2, 0, 0, 0, 0, 0.8])
    M = raw.interpolate_pose(A, B, 0.5)
    np.testing.assert_allclose(M, raw.build_se3_transform([1, 0, 0, 0, 0, 0.4]), atol=1e-9)


def test_timestamps_and_lidar_readers_reject_bad_input(tmp_path):
    (tmp_path / 'ok.timestamps').write_text('100 1\n200 1\n\n')
    np.testing.assert_array_equal(raw.read_timestamps(tmp_path / 'ok.timestamps'), [100, 200])
    (tmp_path / 'bad.timestamps').write_text('100 1\nabc 1\n')
    with pytest.raises(ValueError, match='bad.timestamps:2'):
        raw.read_timestamps(tmp_path / 'bad.timestamps')
    scan = np.array([[1.0, 2.0, 7.0], [3.0, 4.0, 9.0]])
    (tmp_path / 'scan.bin').write_bytes(scan.tobytes())
    np.testing.assert_array_equal(raw.read_lidar_scan(tmp_path / 'scan.bin'),
                                  [[1, 3], [2, 4], [0, 0]])
    (tmp_path / 'short.bin').write_bytes(scan.tobytes()[:-3])
    with pytest.raises(ValueError, match='truncated'):
        raw.read_lidar_scan(tmp_path / 'short.bin')
