# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds prepare` on the fixture: frames, intrinsics, static filtering, splits, robustness."""

import numpy as np
import pytest
from robotcar_fixture import build_raw_sequence

from adds_ros import cli
from adds_training.data import layout
from adds_training.data.robotcar import prepare, raw


def config(fx, out, **kw):
    return prepare.PrepareConfig(raw=fx.sequence, models=fx.models, out=out, folder='day',
                                 height=32, width=64, crop_rows=(20, 100), static_threshold=0.1,
                                 camera_size=fx.size, workers=1, **kw)


def test_intrinsics_after_crop_and_resize_are_exact(tmp_path):
    fx = build_raw_sequence(tmp_path, n_frames=3, static=())
    prepare.prepare(config(fx, tmp_path / 'out'))
    info = layout.DatasetInfo.load(tmp_path / 'out')
    (f_x, f_y), (c_x, c_y) = fx.focal, fx.principal
    # crop rows 20:100 of 120x160 -> 80x160, resized to 32x64: scale 0.4 both ways
    expected = np.array([[f_x * 0.4, 0, c_x * 0.4], [0, f_y * 0.4, (c_y - 20) * 0.4], [0, 0, 1]])
    np.testing.assert_allclose(info.K_for(32, 64), expected, rtol=1e-6)
    assert info.gt_size == (120, 160) and info.gt_crop == (20, 100, 0, 160)
    assert info.image_size == (32, 64)


def test_sdk_model_gives_the_layout_robotcar_intrinsics():
    model = raw.CameraModel((layout.ROBOTCAR_FOCAL,) * 2, layout.ROBOTCAR_PRINCIPAL, np.eye(4),
                            np.zeros((2, 960, 1280), np.float32))
    info = prepare.crop_info(model, (160, 800), (256, 512))
    np.testing.assert_allclose(info.K, layout.robotcar_info().K, rtol=1e-12)
    assert info.K[1][1] == pytest.approx(1.536, abs=1e-3)  # normalised by 640 rows, not 960
    with pytest.raises(ValueError, match='crop rows'):
        prepare.crop_info(model, (500, 1000), (256, 512))


def test_frames_are_demosaiced_cropped_and_resized(tmp_path):
    import cv2
    fx = build_raw_sequence(tmp_path, n_frames=3, static=())
    prepare.prepare(config(fx, tmp_path / 'out'))
    frame = layout.read_rgb(layout.frame_path(tmp_path / 'out', 'day', 1))
    expected = cv2.resize(fx.rgb[20:100], (64, 32), interpolation=cv2.INTER_AREA)
    assert frame.shape == (32, 64, 3)
    assert np.abs(frame.astype(int) - expected)[1:-1, 1:-1].max() <= 2


def test_static_frames_dropped_and_triplets_never_cross_a_gap(tmp_path):
    fx = build_raw_sequence(tmp_path, n_frames=10, static=(4, 5))
    counts = prepare.prepare(config(fx, tmp_path / 'out'))
    assert counts['static'] == 2 and counts['done'] == 8
    written = sorted(int(p.stem) for p in (tmp_path / 'out' / 'day').glob('*.png'))
    assert written == [0, 1, 2, 3, 6, 7, 8, 9]
    split = layout.read_split(layout.split_path(tmp_path / 'out', 'day'))
    assert [i for _, i in split] == [1, 2, 7, 8]
    stamps = layout.read_index_timestamps(tmp_path / 'out', 'day')
    assert stamps == {i: int(fx.stamps[i]) for i in written}
    held_out = prepare.prepare(config(fx, tmp_path / 'out', split='val', frames=(5, 9)))
    assert held_out['static'] == 1 and held_out['resumed'] == 3
    assert layout.read_split(layout.split_path(tmp_path / 'out', 'val')) == [('day', 7)]
    assert layout.read_index_timestamps(tmp_path / 'out', 'day') == stamps  # merged, not lost


def test_corrupt_and_missing_images_are_skipped_counted_and_resumed(tmp_path, caplog):
    fx = build_raw_sequence(tmp_path, n_frames=10, static=(), missing=(2,), corrupt=(6,))
    cfg = config(fx, tmp_path / 'out', split='train')
    cfg.workers = 2
    counts = prepare.prepare(cfg)
    assert (counts['done'], counts['missing'], counts['corrupt']) == (8, 1, 1)
    assert 'skipped frame 6' in caplog.text  # a logged warning (stderr under adds)
    split = layout.read_split(layout.split_path(tmp_path / 'out', 'train'))
    assert [i for _, i in split] == [4, 8]  # 1, 3 border the missing 2; 5, 7 the corrupt 6
    assert not list((tmp_path / 'out' / 'day').glob('.*'))  # no temporary files left
    again = prepare.prepare(config(fx, tmp_path / 'out', split='train'))
    assert (again['done'], again['resumed']) == (0, 8)


def test_published_split_selects_its_frames(tmp_path):
    fx = build_raw_sequence(tmp_path, n_frames=8, static=())
    s = fx.stamps
    published = tmp_path / 'md4all_test.txt'
    published.write_text(f'{s[1]} {s[2]} {s[3]}\n{s[5]} {s[6]} {s[7]}\n')
    counts = prepare.prepare(config(fx, tmp_path / 'out', split_file=published, split='test'))
    assert counts['done'] == 6
    split = layout.read_split(layout.split_path(tmp_path / 'out', 'test'))
    assert split == [('day', 2), ('day', 6)]


def test_cli_prepare_and_gt_end_to_end_at_full_resolution(tmp_path, capsys):
    fx = build_raw_sequence(tmp_path, n_frames=3, size=(960, 1280), static=(),
                            focal=(layout.ROBOTCAR_FOCAL,) * 2,
                            principal=layout.ROBOTCAR_PRINCIPAL)
    out = tmp_path / 'out'
    args = ['prepare', '--raw', str(fx.sequence), '--models', str(fx.models), '--out', str(out),
            '--folder', 'day', '--workers', '1']
    assert cli.main(args) == 0
    assert '3 written' in capsys.readouterr().out
    assert layout.read_rgb(layout.frame_path(out, 'day', 0)).shape == (256, 512, 3)
    np.testing.assert_allclose(layout.DatasetInfo.load(out).K, layout.robotcar_info().K)
    assert cli.main(args[:4] + [str(tmp_path / 'none')] + args[5:]) == 2
    assert 'camera model' in capsys.readouterr().err
    gt_args = ['gt', '--raw', str(fx.sequence), '--models', str(fx.models), '--extrinsics',
               str(fx.extrinsics), '--out', str(out), '--folder', 'day', '--workers', '1']
    assert cli.main(gt_args) == 0
    assert '3 written' in capsys.readouterr().out
    assert layout.read_gt_png(layout.gt_path(out, 'day', 1)).shape == (960, 1280)


def test_mixed_geometry_in_one_root_is_refused(tmp_path):
    fx = build_raw_sequence(tmp_path, n_frames=3, static=())
    cfg = config(fx, tmp_path / 'out')
    prepare.prepare(cfg)
    cfg.height, cfg.width = 64, 128
    with pytest.raises(ValueError, match='other intrinsics or image size'):
        prepare.prepare(cfg)


def _md4all_test_frame(tmp_path, centre: int):
    """30 frames at 10 Hz and an md4all split file naming frame `centre` and its neighbours."""
    fx = build_raw_sequence(tmp_path, n_frames=30, static=())
    published = tmp_path / 'md4all_test.txt'
    published.write_text(' '.join(str(fx.stamps[centre + k]) for k in (-1, 0, 1)) + '\n')
    return fx, published, tmp_path / 'out'


def test_test_frames_and_their_neighbours_stay_out_of_training(tmp_path):
    # md4all's test frame 10 (with neighbours 9, 11), margin 0.5 s.
    fx, published, out = _md4all_test_frame(tmp_path, 10)
    counts = prepare.prepare(config(fx, out, split='train', exclude_splits=(published,),
                                    exclude_margin_s=0.5))
    held = set(range(4, 17))  # within 5 frames of 9, 10 or 11
    assert counts['held_out'] == len(held) and counts['done'] == 30 - len(held)
    written = {int(p.stem) for p in (out / 'day').glob('*.png')}
    assert written == set(range(30)) - held
    centres = [i for _, i in layout.read_split(layout.split_path(out, 'train'))]
    assert centres == [1, 2, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28]


def test_the_roots_own_test_split_is_held_out_by_default(tmp_path):
    fx, published, out = _md4all_test_frame(tmp_path, 20)
    test_cfg = config(fx, out, split='test_day', split_file=published)
    test_cfg.folder = 'day_test'
    prepare.prepare(test_cfg)
    counts = prepare.prepare(config(fx, out, split='train'))   # default margin: 10 s
    assert counts['held_out'] == 30 and counts['done'] == 0    # 3 s of frames, all near
    counts = prepare.prepare(config(fx, out, split='train', exclude_margin_s=1.0))
    # the root's split lists the centre, frame 20: frames 10..29 lie within 1 s of it
    assert counts['held_out'] == 20 and counts['done'] == 10
    written = {int(p.stem) for p in (out / 'day').glob('*.png')}
    assert written == set(range(10))
    listed = tmp_path / 'adds_test.txt'  # the ADDS format maps through day_test.timestamps
    listed.write_text('day_test/20\n')
    assert prepare.split_timestamps(out, listed, 'adds') == [int(fx.stamps[20])]
    listed.write_text('elsewhere/3\n')
    with pytest.raises(ValueError, match='elsewhere.timestamps is missing'):
        prepare.split_timestamps(out, listed, 'adds')
