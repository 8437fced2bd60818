# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Camera image -> network input: crop as in training, resize, HWC uint8 -> NCHW float [0, 1].

The network only ever saw images cropped and resized the way the training data was made, so the
crop comes from the model's metadata, never from a node parameter. Normalisation
((x - 0.45) / 0.225) is inside the exported graph, so every backend gets the same [0, 1] input.
Message decoding (encodings, Bayer, compressed) is in `adds_ros.image_decode`, not here.
"""

from pathlib import Path
from typing import List, Sequence, Tuple, Union

import cv2
import numpy as np

from adds_ros.errors import UserValueError

CropBox = Tuple[int, int, int, int]
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp')


def crop_box(crop: Sequence[float], height: int, width: int) -> CropBox:
    """Pixel rows/cols (top, bottom, left, right) of fractional `crop` in a height x width image.

    Rounded to the nearest pixel, so RobotCar's (1/6, 5/6) of 960 rows gives exactly 160:800.
    """
    top, bottom, left, right = crop
    box = (int(round(top * height)), int(round(bottom * height)),
           int(round(left * width)), int(round(right * width)))
    if box[1] <= box[0] or box[3] <= box[2]:
        raise ValueError(f'crop {tuple(crop)} leaves no pixels of a {height}x{width} image')
    return box


def check_rgb(rgb: np.ndarray) -> None:
    """Raise ValueError unless `rgb` is an HxWx3 uint8 image."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3:
        shape = getattr(rgb, 'shape', None)
        dtype = getattr(rgb, 'dtype', type(rgb).__name__)
        raise ValueError(f'expected an HxWx3 uint8 RGB image, got {dtype} {shape}')


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with area averaging when shrinking (no aliasing) and bilinear when enlarging."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = image.shape[0] * image.shape[1] > height * width
    return cv2.resize(image, (width, height),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def to_network_input(rgb: np.ndarray, crop: Sequence[float], height: int,
                     width: int) -> np.ndarray:
    """Crop, resize and convert a camera RGB uint8 image to a 1x3xHxW float32 tensor in [0, 1]."""
    check_rgb(rgb)
    top, bottom, left, right = crop_box(crop, rgb.shape[0], rgb.shape[1])
    resized = resize_image(rgb[top:bottom, left:right], height, width)
    chw = np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32)
    chw *= 1.0 / 255.0
    return chw[None]


def image_files(folder: Union[str, Path]) -> List[Path]:
    """List the images of a folder in name order; none at all (or no folder) is a user error.

    The one image-folder lister (calibration, parity, CycleGAN): hidden files are skipped
    because they are atomic-write temporaries.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith('.')) \
        if folder.is_dir() else []
    if not files:
        raise UserValueError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {folder}')
    return files
