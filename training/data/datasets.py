# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""PyTorch datasets over the processed layout (RobotCar, the authors' release, synthetic world).

`TripletDataset` yields a day triplet and its fake-night twins with *one* random colour jitter
and flip shared by all of them: the similarity loss compares day and night depth pixel by pixel,
so the two must stay geometrically and photometrically paired. `EvalDataset` yields an image and
its ground truth at GT resolution; `info` tells the evaluator which GT region the image shows.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_training.data import layout

PathLike = Union[str, Path]


def resolve_split(root: PathLike, split: PathLike) -> List[layout.SplitEntry]:
    """Split entries from a split name under `<root>/splits` or from a file path."""
    path = Path(split)
    if not path.is_file():
        path = layout.split_path(root, str(split))
    if not path.is_file():
        raise UserFileNotFoundError(f'split {split!r} not found (looked for {path})')
    entries = layout.read_split(path)
    if not entries:
        raise UserValueError(f'split file {path} is empty')
    return entries


def load_image(path: Path, height: int, width: int) -> torch.Tensor:
    """RGB file -> float32 3xHxW in [0, 1] at the requested size."""
    rgb = layout.read_rgb(path)
    if rgb.shape[:2] != (height, width):
        shrink = rgb.shape[0] > height
        rgb = cv2.resize(rgb, (width, height),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0)


def intrinsics_4x4(info: layout.DatasetInfo, height: int, width: int) -> torch.Tensor:
    K = np.eye(4, dtype=np.float32)
    K[:3, :3] = info.K_for(height, width)
    return torch.from_numpy(K)


def grayscale(image: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, 1xHxW."""
    r, g, b = image
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(0)


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    r, g, b = image
    value, argmax = image.max(0)
    chroma = value - image.min(0).values
    safe = torch.where(chroma > 0, chroma, torch.ones_like(chroma))
    hue = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4])
    hue = hue.gather(0, argmax.unsqueeze(0)).squeeze(0) / 6.0
    hue = torch.where(chroma > 0, hue, torch.zeros_like(hue))
    saturation = torch.where(value > 0, chroma / torch.where(value > 0, value,
                                                             torch.ones_like(value)),
                             torch.zeros_like(value))
    return torch.stack([hue % 1.0, saturation, value])


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    hue, saturation, value = hsv
    k = (torch.tensor([5.0, 3.0, 1.0]).view(3, 1, 1) + hue * 6.0) % 6.0
    ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
    return value - value * saturation * ramp


@dataclass
class ColorJitter:
    """One draw of the ADDS colour jitter; applying it to several images keeps them paired."""

    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0

    @classmethod
    def sample(cls, strength: float = 0.2, hue: float = 0.1) -> 'ColorJitter':
        u = torch.rand(4).tolist()
        return cls(1 - strength + 2 * strength * u[0], 1 - strength + 2 * strength * u[1],
                   1 - strength + 2 * strength * u[2], -hue + 2 * hue * u[3])

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        image = (image * self.brightness).clamp(0, 1)
        mean = grayscale(image).mean()
        image = ((image - mean) * self.contrast + mean).clamp(0, 1)
        gray = grayscale(image)
        image = ((image - gray) * self.saturation + gray).clamp(0, 1)
        if self.hue:
            hsv = rgb_to_hsv(image)
            hsv[0] = (hsv[0] + self.hue) % 1.0
            image = hsv_to_rgb(hsv).clamp(0, 1)
        return image


def flip_intrinsics(K: torch.Tensor, width: int) -> torch.Tensor:
    """Intrinsics of the mirrored image: pixel u maps to width - 1 - u, so cx does too."""
    K = K.clone()
    K[0, 2] = width - 1 - K[0, 2]
    return K


class TripletDataset(Dataset):
    """Training triplets (frame ids relative to each split entry) with fake-night twins."""

    def __init__(self, root: PathLike, split: PathLike = 'train', height: int = 256,
                 width: int = 512, frame_ids: Sequence[int] = (0, -1, 1),
                 with_night: bool = True, augment: bool = True,
                 jitter_p: float = 0.5, flip_p: float = 0.5) -> None:
        self.root, self.height, self.width = Path(root), height, width
        self.frame_ids = tuple(frame_ids)
        self.with_night, self.augment = with_night, augment
        self.jitter_p, self.flip_p = jitter_p, flip_p
        self.entries = resolve_split(root, split)
        self.info = layout.DatasetInfo.load(self.root)
        self.K = intrinsics_4x4(self.info, height, width)

    def __len__(self) -> int:
        return len(self.entries)

    def _frames(self, folder: str, index: int) -> Dict[int, torch.Tensor]:
        out = {}
        for fid in self.frame_ids:
            path = layout.frame_path(self.root, folder, index + fid)
            if not path.exists():
                raise FileNotFoundError(f'{path} (frame {fid:+d} of {folder}/{index:010d}) is '
                                        'missing: the split crosses a gap')
            out[fid] = load_image(path, self.height, self.width)
        return out

    def _night(self, folder: str, index: int) -> Dict[int, torch.Tensor]:
        return self._frames(folder + layout.FAKE_NIGHT_SUFFIX, index)

    def __getitem__(self, item: int) -> Dict:
        folder, index = self.entries[item]
        sample = {'day': self._frames(folder, index)}
        if self.with_night:
            sample['night'] = self._night(folder, index)
        K = self.K
        if self.augment:
            draw = torch.rand(2).tolist()  # global RNG: DataLoader seeds each worker apart
            jitter = ColorJitter.sample() if draw[0] < self.jitter_p else None
            flip = draw[1] < self.flip_p
            for frames in (sample['day'], sample.get('night', {})):
                for fid, image in frames.items():
                    image = jitter(image) if jitter else image
                    frames[fid] = image.flip(-1) if flip else image
            K = flip_intrinsics(K, self.width) if flip else K
        sample['K'] = K.clone()
        sample['inv_K'] = torch.linalg.inv(K)
        sample['index'] = f'{folder}/{index:010d}'
        return sample


class EvalDataset(Dataset):
    """Image at the network resolution and its ground truth (metres, 0 = invalid)."""

    def __init__(self, root: PathLike, split: PathLike, height: int = 256,
                 width: int = 512) -> None:
        self.root, self.height, self.width = Path(root), height, width
        self.entries = resolve_split(root, split)
        self.info = layout.DatasetInfo.load(self.root)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, item: int) -> Dict:
        folder, index = self.entries[item]
        image = load_image(layout.frame_path(self.root, folder, index), self.height, self.width)
        gt = layout.read_gt_png(layout.gt_path(self.root, folder, index))
        return {'image': image, 'gt': torch.from_numpy(gt), 'index': f'{folder}/{index:010d}'}

    def gt_region(self) -> Tuple[int, int, int, int]:
        """(top, bottom, left, right) of the GT image that the input image shows."""
        return tuple(self.info.gt_crop)
