# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds gt`: lidar ground truth of the fixture's ground plane against its analytic depth."""

import numpy as np
import pytest
from robotcar_fixture import build_raw_sequence

from adds_training.data import layout
from adds_training.data.robotcar import gt, prepare, raw
from adds_training.data.robotcar.gt_formats import points_to_depth


def prepared(tmp_path, **kw):
    fx = build_raw_sequence(tmp_path, n_frames=5, static=(), **kw)
    out = tmp_path / 'out'
    prepare.prepare(prepare.PrepareConfig(raw=fx.sequence, models=fx.models, out=out,
                                          folder='day', height=32, width=64,
                                          crop_rows=(20, 100), camera_size=fx.size,
                                          workers=1))
    cfg = gt.GTConfig(raw=fx.sequence, models=fx.models, extrinsics=fx.extrinsics, out=out,
                      folder='day', window_s=2.0, camera_size=fx.size, workers=1)
    return fx, cfg


def test_lidar_gt_of_ground_plane_matches_analytic_depth(tmp_path):
    fx, cfg = prepared(tmp_path)
    counts = gt.make_gt(cfg)
    assert counts['done'] == 5 and counts['truncated_scans'] == 0
    depth = layout.read_gt_png(layout.gt_path(cfg.out, 'day', 2))
    assert depth.shape == fx.size
    v, u = np.nonzero(depth)
    assert len(v) > 200 and v.min() > fx.principal[1]  # only the ground, below the horizon
    # a point at depth d projects to row cy + fy * h / d; the pixel holds it within half a row
    fy, cy, h = fx.focal[1], fx.principal[1], fx.camera_height
    d = depth[v, u]
    tolerance = 1.0 / 256 + 1e-6  # 16-bit PNG quantisation
    assert np.all(d >= fy * h / (v + 0.5 - cy) - tolerance)
    assert np.all(d <= fy * h / (v - 0.5 - cy) + tolerance)
    # the accumulated window reaches 2 s * 10 m/s beyond the first scan line (~5.4 m ahead)
    assert d.max() > 20.0


def test_truncated_scans_skipped_counted_and_split_selection(tmp_path):
    fx, cfg = prepared(tmp_path, truncated_scans=(100, 101, 102))
    layout.write_split(layout.split_path(cfg.out, 'test'), [('day', 1), ('day', 3)])
    cfg.split = 'test'
    cfg.workers = 2
    counts = gt.make_gt(cfg)
    assert counts['done'] == 2 and counts['truncated_scans'] > 0
    written = sorted(int(p.stem) for p in (cfg.out / 'day_gt').glob('*.png'))
    assert written == [1, 3]
    assert gt.make_gt(cfg)['resumed'] == 2
    cfg.split = str(tmp_path / 'nope.txt')
    with pytest.raises(FileNotFoundError):
        gt.make_gt(cfg)


def test_nearest_depth_wins_per_pixel():
    model = raw.CameraModel((10.0, 10.0), (4.0, 4.0), np.eye(4), np.zeros((2, 8, 8), np.float32))
    # G_camera_image = I: camera axes are image axes here; three points on one ray, one aside
    points = np.array([[0, 0, 5.0], [0, 0, 2.0], [0, 0, 9.0], [0.2, 0, 2.0], [0, 0, -1.0]]).T
    depth = points_to_depth(points, model, (8, 8))
    assert depth[4, 4] == 2.0 and depth[4, 5] == 2.0
    assert np.count_nonzero(depth) == 2  # the point behind the camera is dropped
