# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""How night-like is a set of images? Colour/luminance statistics and histogram distances.

Used to show that fake-night images are closer to real night than the day inputs are. The
distance is the earth mover's distance between the intensity histograms of two image sets, in
grey levels (0-255): how far, on average, pixel values must move to match the other set.
Sets are compared as wholes, so they need not be paired or of equal size.
"""

from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

from adds_ros.errors import UserValueError
from adds_training import pictures
from adds_training.data import layout

CHANNELS = ('R', 'G', 'B', 'Y')
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as OpenCV's RGB->Y


def channels(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 -> float HxWx4 (R, G, B, luminance Y)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise UserValueError(f'expected an HxWx3 RGB image, got shape {rgb.shape}')
    rgb = rgb.astype(np.float64)
    return np.concatenate([rgb, rgb @ LUMA[:, None]], axis=2)


def channel_histograms(images: Sequence[np.ndarray], bins: int = 64) -> np.ndarray:
    """Normalised histograms (4 x bins) of R, G, B and Y over all pixels of all images."""
    if not len(images):
        raise UserValueError('no images to measure')
    hist = np.zeros((len(CHANNELS), bins))
    for rgb in images:
        values = channels(rgb).reshape(-1, len(CHANNELS))
        for c in range(len(CHANNELS)):
            hist[c] += np.histogram(values[:, c], bins=bins, range=(0.0, 256.0))[0]
    return hist / hist.sum(axis=1, keepdims=True)


def histogram_distance(a: Sequence[np.ndarray], b: Sequence[np.ndarray],
                       bins: int = 64) -> Dict[str, float]:
    """Earth mover's distance (grey levels) between the R, G, B, Y histograms of two sets.

    Returns one value per channel and their mean under 'mean'. 1-D EMD is the area between
    the two cumulative histograms.
    """
    cdf_a = np.cumsum(channel_histograms(a, bins), axis=1)
    cdf_b = np.cumsum(channel_histograms(b, bins), axis=1)
    emd = np.abs(cdf_a - cdf_b).sum(axis=1) * (256.0 / bins)
    out = {name: float(v) for name, v in zip(CHANNELS, emd)}
    out['mean'] = float(emd.mean())
    return out


def image_statistics(images: Sequence[np.ndarray]) -> Dict[str, Dict[str, float]]:
    """Mean and standard deviation (grey levels) of R, G, B and Y over a set of images."""
    if not len(images):
        raise UserValueError('no images to measure')
    values = np.concatenate([channels(rgb).reshape(-1, len(CHANNELS)) for rgb in images])
    return {name: {'mean': float(values[:, c].mean()), 'std': float(values[:, c].std())}
            for c, name in enumerate(CHANNELS)}


def read_images(paths: Sequence[Path]) -> List[np.ndarray]:
    return [layout.read_rgb(p) for p in paths]


def mean_abs_error(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Mean absolute RGB difference (grey levels) of paired images of equal size."""
    if len(a) != len(b) or not len(a):
        raise UserValueError(f'need equally many paired images, got {len(a)} and {len(b)}')
    errors = []
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise UserValueError(f'paired images differ in shape: {x.shape} vs {y.shape}')
        errors.append(np.abs(x.astype(np.float64) - y.astype(np.float64)).mean())
    return float(np.mean(errors))


def compare_to_night(day: Sequence[np.ndarray], fake_night: Sequence[np.ndarray],
                     night: Sequence[np.ndarray], bins: int = 64, paired: bool = False) -> dict:
    """Distances of the day inputs and of their fake-night twins to real night, plus stats.

    With `paired` (night[i] is the real night render of day[i], as the synthetic world gives)
    the per-pixel error is reported too: unlike histograms it also catches a generator that
    paints plausible night colours in the wrong places.
    """
    out = {'distance_to_night': {'day': histogram_distance(day, night, bins),
                                 'fake_night': histogram_distance(fake_night, night, bins)},
           'statistics': {name: image_statistics(images) for name, images in
                          (('day', day), ('fake_night', fake_night), ('night', night))}}
    if paired:
        out['paired_mae'] = {'day': mean_abs_error(day, night),
                             'fake_night': mean_abs_error(fake_night, night)}
    return out


def sample_strip(day: Sequence[np.ndarray], fake_night: Sequence[np.ndarray],
                 night: Sequence[np.ndarray], rows: int = 4) -> np.ndarray:
    """One RGB image, a row per sample: day | fake night | real night (at the day's size)."""
    rows = min(rows, len(day), len(fake_night), len(night))
    if rows < 1:
        raise UserValueError('need at least one day, fake-night and night image')
    height, width = day[0].shape[:2]
    return pictures.grid([[pictures.fit(image[i], height, width)
                           for image in (day, fake_night, night)] for i in range(rows)])
