# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds synth` writes the processed layout, deterministically, and resumes."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from adds_ros import cli
from adds_training.data import layout
from adds_training.data.synthetic.cli import parse_sequences
from adds_training.data.synthetic.render import render_views
from adds_training.data.synthetic.write import intrinsics, read_poses, render_dataset, \
    SEQUENCE_STRIDE, sequence_world, SynthConfig

CFG = dict(seed=3, height=32, width=64, frames=4, train_sequences=2, val_sequences=1,
           test_sequences=1, night_sequences=1)


def digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp('synth')
    summary = render_dataset(root, SynthConfig(**CFG), progress=False)
    return root, summary


def test_layout_folders_splits_and_info(dataset):
    root, summary = dataset
    assert summary.rendered == 4 * 7 and summary.skipped == 0
    for folder in ('day_train', 'day_val', 'day_test'):
        for suffix in ('', layout.FAKE_NIGHT_SUFFIX, layout.GT_SUFFIX):
            assert len(list((root / (folder + suffix)).glob('*.png'))) == summary.folders[folder]
    for folder in ('night_train', 'night_val', 'night_test'):
        assert (root / (folder + layout.GT_SUFFIX)).is_dir()
        assert not (root / (folder + layout.FAKE_NIGHT_SUFFIX)).exists()
    info = layout.DatasetInfo.load(root)
    assert info.image_size == (32, 64) and info.gt_size == (32, 64)
    assert info.gt_crop == (0, 32, 0, 64)
    np.testing.assert_allclose(info.K_for(32, 64), intrinsics(SynthConfig(**CFG)), rtol=1e-6)
    train = layout.read_split(layout.split_path(root, 'train'))
    # Two sequences of 4 frames: centres 1, 2 of each, never across the gap between streets.
    assert train == [('day_train', k * SEQUENCE_STRIDE + i) for k in (0, 1) for i in (1, 2)]
    expected = {'val_day': 'day_val', 'val_night': 'night_val', 'test_day': 'day_test',
                'test_night': 'night_test', 'cyclegan_day': 'day_train',
                'cyclegan_night': 'night_train'}
    for split, folder in expected.items():
        entries = layout.read_split(layout.split_path(root, split))
        assert {f for f, _ in entries} == {folder}
        assert len(entries) == summary.folders[folder] == summary.splits[split]
        for f, index in entries:
            assert layout.frame_path(root, f, index).exists()


def test_stored_frames_poses_and_depth_match_the_renderer(dataset):
    root, _ = dataset
    cfg = SynthConfig(**CFG)
    world, poses = sequence_world(cfg, 'day_train', 1)
    stored = read_poses(root, 'day_train')
    index = SEQUENCE_STRIDE + 2
    np.testing.assert_allclose(stored[index], poses[2], atol=1e-8)
    rng = np.random.default_rng([cfg.seed, 0, index])
    day, night, depth = render_views(world, poses[2], intrinsics(cfg), 32, 64, rng)
    np.testing.assert_array_equal(layout.read_rgb(layout.frame_path(root, 'day_train', index)),
                                  day)
    np.testing.assert_array_equal(
        layout.read_rgb(layout.fake_night_path(root, 'day_train', index)), night)
    gt = layout.read_gt_png(layout.gt_path(root, 'day_train', index))
    assert ((gt > 0) == (depth > 0)).all()
    assert np.abs(gt - depth).max() <= 0.5 / layout.GT_SCALE + 1e-6


def test_deterministic_and_resumes(dataset, tmp_path):
    root, _ = dataset
    again = tmp_path / 'again'
    render_dataset(again, SynthConfig(**CFG), progress=False)
    reference = digest(root)
    assert digest(again) == reference
    removed = [layout.frame_path(again, 'night_val', 2),
               layout.fake_night_path(again, 'day_train', SEQUENCE_STRIDE + 1)]
    for path in removed:
        path.unlink()
    summary = render_dataset(again, SynthConfig(**CFG), progress=False)
    assert summary.rendered == 2 and summary.skipped == 4 * 7 - 2
    assert digest(again) == reference


def test_resuming_with_another_config_is_refused(dataset):
    root, _ = dataset
    with pytest.raises(ValueError, match='another config'):
        render_dataset(root, SynthConfig(**dict(CFG, frames=5)), progress=False)


def test_two_workers_write_the_same_bytes(dataset, tmp_path):
    root, _ = dataset
    render_dataset(tmp_path, SynthConfig(**CFG, workers=2), progress=False)
    assert digest(tmp_path) == digest(root)


def test_other_seed_other_streets(tmp_path):
    cfg = dict(CFG, train_sequences=1, val_sequences=0, test_sequences=0, night_sequences=0)
    render_dataset(tmp_path / 'a', SynthConfig(**cfg), progress=False)
    render_dataset(tmp_path / 'b', SynthConfig(**dict(cfg, seed=4)), progress=False)
    a = layout.read_rgb(layout.frame_path(tmp_path / 'a', 'day_train', 0))
    b = layout.read_rgb(layout.frame_path(tmp_path / 'b', 'day_train', 0))
    assert np.abs(a.astype(int) - b).mean() > 10


@pytest.mark.parametrize('bad', [dict(frames=2), dict(height=4), dict(train_sequences=-1),
                                 dict(max_depth=300.0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        SynthConfig(**dict(CFG, **bad))


def test_cli_renders_and_writes_a_contact_sheet(tmp_path, capsys):
    out, sheet = tmp_path / 'data', tmp_path / 'sheet.png'
    rc = cli.main(['synth', '--out', str(out), '--height', '32', '--width', '64', '--frames',
                   '3', '--sequences', 'train=1', 'val=0', 'test=0', 'night=0', '--quiet',
                   '--contact-sheet', str(sheet)])
    assert rc == 0
    assert 'rendered 3 frames' in capsys.readouterr().out
    assert layout.read_rgb(sheet).shape == (3 * 32, 3 * 64, 3)
    assert len(layout.read_split(layout.split_path(out, 'train'))) == 1


def test_cli_rejects_bad_sequences(tmp_path, capsys):
    rc = cli.main(['synth', '--out', str(tmp_path), '--sequences', 'day=3'])
    assert rc == 2 and 'NAME=COUNT' in capsys.readouterr().err
    assert parse_sequences(['train=2', 'night=0']) == {'train_sequences': 2,
                                                       'night_sequences': 0}
