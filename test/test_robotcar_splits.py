# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Published split formats (ADDS, md4all/WSGD, RNW) and ground-truth formats."""

import numpy as np
import pytest
from robotcar_fixture import G_CAMERA_IMAGE

from adds_training.data import layout
from adds_training.data.robotcar import gt_formats, raw, splits


def test_adds_split(tmp_path):
    path = tmp_path / 'night_val_411.txt'
    path.write_text('night_val_411/0000000315\n# comment\n\nnight_val_411/0000000316\n')
    records = splits.read_published_split(path)
    assert [(r.folder, r.index) for r in records] == [('night_val_411', 315),
                                                      ('night_val_411', 316)]
    with pytest.raises(ValueError, match='processed frames'):
        splits.timestamps(records)


def test_md4all_split_keeps_neighbours(tmp_path):
    path = tmp_path / 'test.txt'
    path.write_text('100 200 300\n250 350 450\n')
    records = splits.read_published_split(path)
    assert [r.timestamp for r in records] == [200, 350]
    assert records[0].neighbours == (100, 300)
    assert splits.timestamps(records) == [200, 350]
    assert splits.timestamps(records, with_neighbours=True) == [100, 200, 250, 300, 350, 450]


def test_rnw_split_with_comments_and_separators(tmp_path):
    path = tmp_path / 'rnw.txt'
    path.write_text('# 2014-12-16-18-44-24\n1418756721422679 2\n------\n'
                    '1418756722000000 3  # trailing note\n')
    records = splits.read_published_split(path, 'rnw')
    assert [(r.timestamp, r.chunk) for r in records] == [(1418756721422679, 2),
                                                         (1418756722000000, 3)]
    assert splits.read_published_split(path) == records  # auto-detected


def test_bad_split_lines_name_file_and_line(tmp_path):
    path = tmp_path / 'bad.txt'
    path.write_text('100 200 300\n100 x 300\n')
    with pytest.raises(ValueError, match='bad.txt:2'):
        splits.read_published_split(path, 'md4all')
    with pytest.raises(ValueError, match='unknown split format'):
        splits.read_published_split(path, 'kitti')
    (tmp_path / 'empty.txt').write_text('# nothing\n')
    with pytest.raises(ValueError, match='no entries'):
        splits.read_published_split(tmp_path / 'empty.txt')


def test_gt_formats_read_to_metres(tmp_path):
    depth = np.zeros((6, 8), np.float32)
    depth[2, 3] = 12.5
    layout.write_gt_png(tmp_path / 'a.png', depth)
    np.testing.assert_allclose(gt_formats.read_adds_gt(tmp_path / 'a.png'), depth)
    rnw = depth.copy()
    rnw[0, 0] = np.nan
    rnw[0, 1] = -1
    np.save(tmp_path / '1_depth.npy', rnw)
    np.testing.assert_array_equal(gt_formats.read_rnw_gt(tmp_path / '1_depth.npy'), depth)


def test_md4all_pointcloud_projects_with_camera_model(tmp_path):
    model = raw.CameraModel((10.0, 10.0), (4.0, 3.0), G_CAMERA_IMAGE,
                            np.zeros((2, 6, 8), np.float32))
    # camera frame (x forward, y right, z down): 5 m ahead, 1 m right -> u = 4 + 10 / 5 = 6
    points = np.array([[5.0, 1.0, 0.0], [4.0, 0.0, 0.0]], np.float32).T
    points.astype('<f4').tofile(str(tmp_path / '1.pcd.bin'))
    depth = gt_formats.read_md4all_gt(tmp_path / '1.pcd.bin', model, (6, 8))
    assert depth[3, 6] == 5.0 and depth[3, 4] == 4.0 and np.count_nonzero(depth) == 2
    (tmp_path / 'bad.pcd.bin').write_bytes(np.zeros(4, '<f4').tobytes())
    with pytest.raises(ValueError, match='3xN'):
        gt_formats.read_md4all_pointcloud(tmp_path / 'bad.pcd.bin')
