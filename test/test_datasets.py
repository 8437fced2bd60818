# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""TripletDataset / EvalDataset over a tiny processed layout."""

import numpy as np
import pytest
import torch

from adds_training.data import datasets, layout

H, W = 16, 32


def make_root(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / 'data'
    for index in range(5):
        day = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        layout.write_rgb(layout.frame_path(root, 'seq', index), day)
        layout.write_rgb(layout.fake_night_path(root, 'seq', index), day)
    layout.write_split(layout.split_path(root, 'train'), [('seq', i) for i in (1, 2, 3)])
    layout.robotcar_info((H, W)).save(root)
    return root


def test_triplets_shapes_intrinsics_and_names(tmp_path):
    root = make_root(tmp_path)
    data = datasets.TripletDataset(root, 'train', H, W, augment=False)
    sample = data[0]
    assert len(data) == 3 and sample['index'] == 'seq/0000000001'
    for domain in ('day', 'night'):
        assert set(sample[domain]) == {0, -1, 1}
        for image in sample[domain].values():
            assert image.shape == (3, H, W) and image.dtype == torch.float32
            assert 0 <= image.min() and image.max() <= 1
    expected = layout.read_rgb(layout.frame_path(root, 'seq', 0))
    np.testing.assert_allclose(sample['day'][-1].permute(1, 2, 0).numpy() * 255, expected,
                               atol=1e-3)
    K = sample['K']
    assert K.shape == (4, 4) and K.dtype == torch.float32
    np.testing.assert_allclose(K[:3, :3].numpy(), layout.robotcar_info().K_for(H, W), rtol=1e-6)
    torch.testing.assert_close(sample['inv_K'] @ K, torch.eye(4), atol=1e-5, rtol=0)
    # another network resolution rescales both the images and K
    big = datasets.TripletDataset(root, 'train', 2 * H, 2 * W, with_night=False,
                                  augment=False)[0]
    assert 'night' not in big and big['day'][0].shape == (3, 2 * H, 2 * W)
    torch.testing.assert_close(big['K'][:2], K[:2] * 2)


def test_same_augmentation_for_day_night_and_all_frames(tmp_path):
    root = make_root(tmp_path)
    plain = datasets.TripletDataset(root, 'train', H, W, augment=False)[1]
    data = datasets.TripletDataset(root, 'train', H, W)
    torch.manual_seed(0)
    flips = jitters = 0
    for _ in range(20):
        sample = data[1]
        flipped = not torch.equal(sample['K'], plain['K'])
        for fid in (0, -1, 1):
            torch.testing.assert_close(sample['night'][fid], sample['day'][fid])
            reference = plain['day'][fid].flip(-1) if flipped else plain['day'][fid]
            jittered = not torch.allclose(sample['day'][fid], reference, atol=1e-6)
            jitters += jittered
        if flipped:
            flips += 1
            assert sample['K'][0, 2] == pytest.approx(W - 1 - plain['K'][0, 2].item())
            torch.testing.assert_close(sample['inv_K'] @ sample['K'], torch.eye(4), atol=1e-5,
                                       rtol=0)
    assert 3 <= flips <= 17 and 9 <= jitters <= 51


def test_jitter_is_identity_at_neutral_and_hsv_round_trips():
    torch.manual_seed(0)
    image = torch.rand(3, 8, 8)
    torch.testing.assert_close(datasets.ColorJitter()(image), image)
    hsv = datasets.rgb_to_hsv(image)
    torch.testing.assert_close(datasets.hsv_to_rgb(hsv), image, atol=1e-5, rtol=0)
    red = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    # a hue shift of 1/3 turns pure red into pure green
    torch.testing.assert_close(datasets.ColorJitter(hue=1 / 3)(red).flatten(),
                               torch.tensor([0.0, 1.0, 0.0]), atol=1e-5, rtol=0)
    dimmer = datasets.ColorJitter(brightness=0.8)(image)
    torch.testing.assert_close(dimmer, image * 0.8)


def test_eval_dataset_returns_image_and_metric_gt(tmp_path):
    root = make_root(tmp_path)
    gt = np.zeros((48, 64), np.float32)
    gt[30, 10] = 7.25
    layout.write_gt_png(layout.gt_path(root, 'seq', 2), gt)
    split = tmp_path / 'val.txt'
    layout.write_split(split, [('seq', 2)])
    data = datasets.EvalDataset(root, split, H, W)
    sample = data[0]
    assert sample['image'].shape == (3, H, W) and sample['index'] == 'seq/0000000002'
    assert sample['gt'].dtype == torch.float32 and sample['gt'].shape == (48, 64)
    assert sample['gt'][30, 10] == 7.25 and torch.count_nonzero(sample['gt']) == 1
    assert data.gt_region() == layout.ROBOTCAR_CROP


def test_missing_split_or_neighbour_is_a_clear_error(tmp_path):
    root = make_root(tmp_path)
    with pytest.raises(FileNotFoundError, match='nope'):
        datasets.TripletDataset(root, 'nope')
    layout.write_split(layout.split_path(root, 'edge'), [('seq', 4)])
    with pytest.raises(FileNotFoundError, match='crosses a gap'):
        datasets.TripletDataset(root, 'edge', H, W)[0]
