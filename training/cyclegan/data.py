# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Unpaired day/night images for the CycleGAN: listing, preprocessing and a resumable order.

The sample order and every random crop/flip derive from (seed, epoch, position), never from a
running random state, so a run resumed mid-epoch sees exactly the batches it would have seen,
even with several loader workers.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

from adds_ros.errors import UserValueError
from adds_ros.preprocess import image_files
from adds_training.data import layout

LOAD_SCALE = 286 / 256  # the recipe resizes 256 -> 286 before its random 256 crop

PlanItem = Tuple[int, int, int]  # (day index, night index, augmentation seed)


def split_entries(root: Path, split: str) -> List[layout.SplitEntry]:
    """Entries of a split given by name (`root/splits/<name>.txt`) or as a `.txt` path."""
    path = Path(split) if split.endswith('.txt') else layout.split_path(root, split)
    if not path.is_file():
        raise UserValueError(f'split file not found: {path}')
    return layout.read_split(path)


def split_images(root: Path, split: str) -> List[Path]:
    """Frame paths of a split of the processed layout."""
    return [layout.frame_path(root, folder, index) for folder, index in split_entries(root, split)]


def equalize_luminance(rgb: np.ndarray) -> np.ndarray:
    """Histogram-equalise the luminance (Y of YCrCb) only, so colours keep their hue."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = cv2.equalizeHist(ycc[..., 0])
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """RGB uint8 HxWx3 -> float 3xHxW in [-1, 1] (the generator's range)."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float Bx3xHxW in [-1, 1] -> RGB uint8 BxHxWx3."""
    scaled = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def augment(rgb: np.ndarray, size: Tuple[int, int], seed: int, crop: bool = True) -> np.ndarray:
    """Resize to `LOAD_SCALE` x `size`, take a random `size` crop and flip half of the images."""
    height, width = size
    rng = np.random.default_rng(seed)
    if crop:
        load_h, load_w = round(height * LOAD_SCALE), round(width * LOAD_SCALE)
        rgb = cv2.resize(rgb, (load_w, load_h), interpolation=cv2.INTER_AREA)
        top = int(rng.integers(0, load_h - height + 1))
        left = int(rng.integers(0, load_w - width + 1))
        rgb = rgb[top:top + height, left:left + width]
    else:
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return rgb[:, ::-1] if rng.random() < 0.5 else rgb


def epoch_plan(seed: int, epoch: int, n_day: int, n_night: int, length: int) -> List[PlanItem]:
    """Which day and night image each of the `length` samples of an epoch uses.

    Day images are walked in a shuffled order (repeated if the night set is larger), night
    images are drawn at random, as the published recipe does for its unaligned data.
    """
    rng = np.random.default_rng([seed, epoch])
    day = np.concatenate([rng.permutation(n_day) for _ in range(-(-length // n_day))])[:length]
    night = rng.integers(0, n_night, size=length)
    aug = rng.integers(0, 2 ** 31 - 1, size=length)
    return [(int(d), int(n), int(a)) for d, n, a in zip(day, night, aug)]


@dataclass
class UnpairedImages(torch.utils.data.Dataset):
    """Map-style dataset indexed by plan items; returns {'day', 'night'} tensors in [-1, 1]."""

    day: Sequence[Path]
    night: Sequence[Path]
    size: Tuple[int, int]
    crop: bool = True
    equalize_night: bool = False

    def __post_init__(self):
        for name, paths in (('day', self.day), ('night', self.night)):
            if not paths:
                raise UserValueError(f'no {name} images given')

    def __len__(self) -> int:
        return max(len(self.day), len(self.night))

    def load(self, path: Path, seed: int, equalize: bool = False) -> torch.Tensor:
        rgb = layout.read_rgb(path)
        if equalize:
            rgb = equalize_luminance(rgb)
        return to_tensor(augment(rgb, self.size, seed, self.crop))

    def __getitem__(self, item: PlanItem) -> dict:
        day, night, seed = item
        return {'day': self.load(self.day[day], seed),
                'night': self.load(self.night[night], seed + 1, self.equalize_night)}


def resolve_images(folder: Optional[Path], root: Optional[Path], split: Optional[str],
                   name: str) -> List[Path]:
    """Images of one domain from a folder or from a split of the processed layout."""
    if (folder is None) == (split is None):
        raise UserValueError(f'give either a {name} folder or a {name} split (with a data root)')
    if folder is not None:
        images = image_files(folder)
    else:
        if root is None:
            raise UserValueError(f'the {name} split {split!r} needs a data root')
        images = split_images(root, split)
    if not images:
        raise UserValueError(f'no {name} images found in {folder or split}')
    return images
