# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A tiny processed dataset for trainer/eval tests (imported by test_trainer*.py, test_ddp.py)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from adds_training.data import layout

HEIGHT, WIDTH = 64, 128


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    noise = rng.random((height // 4, width // 4, 3)).astype(np.float32)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def make_tiny_dataset(root: Path, frames: int = 6, seed: int = 0) -> Path:
    """Day frames sliding over one texture, dimmed 'night' twins, GT rising 5 -> 40 m."""
    rng = np.random.default_rng(seed)
    texture = _texture(rng, HEIGHT, WIDTH + 4 * frames)
    gt = np.repeat(np.linspace(40, 5, HEIGHT, dtype=np.float32)[:, None], WIDTH, 1)
    for i in range(frames):
        day = (texture[:, 2 * i:2 * i + WIDTH] * 255).astype(np.uint8)
        night = (day * np.array([0.25, 0.25, 0.4])).astype(np.uint8)
        for folder, image in (('seq', day), ('seq_fake_night', night), ('night', night)):
            layout.write_rgb(layout.frame_path(root, folder, i), image)
        for folder in ('seq', 'night'):
            layout.write_gt_png(layout.gt_path(root, folder, i), gt)
    centres = range(1, frames - 1)
    layout.write_split(layout.split_path(root, 'train'), [('seq', i) for i in centres])
    layout.write_split(layout.split_path(root, 'val_day'), [('seq', i) for i in range(2)])
    layout.write_split(layout.split_path(root, 'val_night'), [('night', i) for i in range(2)])
    info = layout.DatasetInfo(K=[[0.6, 0, 0.5], [0, 1.2, 0.5], [0, 0, 1]],
                              image_size=(HEIGHT, WIDTH), gt_size=(HEIGHT, WIDTH),
                              gt_crop=(0, HEIGHT, 0, WIDTH), name='tiny')
    info.save(root)
    return root


def tiny_config(root: Path, out: Path, **overrides):
    """A TrainConfig that runs a few CPU steps in about a second each."""
    from adds_training.config import TrainConfig

    values = dict(data_root=str(root), out_dir=str(out), height=HEIGHT, width=WIDTH,
                  batch_size=2, num_workers=0, epochs=10, max_steps=3, lr=1e-4,
                  val_protocol='full40', log_every=1, image_every=1000,
                  checkpoint_every=1000, channels_last=False, seed=3, cpu_threads=1)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture
def one_thread():
    """Tiny runs use one thread (much faster on a loaded CPU); restore the count afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_tiny_dataset_is_readable(tmp_path):
    from adds_training.data.datasets import EvalDataset, TripletDataset

    root = make_tiny_dataset(tmp_path)
    sample = TripletDataset(root, 'train', HEIGHT, WIDTH, augment=False)[0]
    assert sample['day'][0].shape == (3, HEIGHT, WIDTH)
    assert sample['night'][0].mean() < sample['day'][0].mean()
    item = EvalDataset(root, 'val_night', HEIGHT, WIDTH)[1]
    assert float(item['gt'].max()) == 40.0
