# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Day or night per frame, for models exported with one stem per domain.

ADDS separates the day and night domains in its encoders; when a checkpoint is exported as two
models (day stem, night stem) the node must pick one per frame. The frame's `daylight` decides,
with hysteresis (two thresholds plus smoothing) so a street lamp or a tunnel mouth does not make
the node flip models on every frame.

`daylight` is a logistic model of two image statistics, the log mean linear luminance and the
log blue/red ratio of the mean linear colour (night light is artificial, mostly sodium orange),
calibrated on the synthetic world's day renders and their exact night twins under camera gains
of 0.7-1.4 and a grey-world white balance, so neither statistic alone decides
(`python -m adds_training.tools.confidence_study illumination`). Its accuracy, and that of the
mean luma it replaces, are in docs/confidence.md; a real camera's own day and night frames
should recalibrate it.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

DOMAIN_MODES = ('auto', 'day', 'night')
# daylight = sigmoid(w . (log10 luminance, log blue/red) + bias), fitted by
# adds_training.tools.illumination_study.calibrate (docs/confidence.md, "Illumination").
DAYLIGHT_WEIGHTS = (9.0809, 4.0754)
DAYLIGHT_BIAS = 9.3402


@dataclass
class DomainConfig:
    """`mode` forces a domain or lets the frame's daylight choose (`auto`)."""

    mode: str = 'auto'
    night_below: float = 0.3   # smoothed daylight in [0, 1] under which night starts
    day_above: float = 0.7     # ... over which day starts again
    smoothing: float = 0.5     # weight of the previous smoothed daylight

    def validate(self) -> None:
        if self.mode not in DOMAIN_MODES:
            raise ValueError(f'domain must be one of {DOMAIN_MODES}, got {self.mode!r}')
        if not 0.0 <= self.night_below < self.day_above <= 1.0:
            raise ValueError(f'need 0 <= night_below < day_above <= 1, got '
                             f'{self.night_below}, {self.day_above}')
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f'smoothing must be in [0, 1), got {self.smoothing}')


def _grid(rgb: np.ndarray) -> np.ndarray:
    """About 64 x 64 pixels of the frame as float32 in [0, 1] (statistics, not detail)."""
    step = max(1, min(rgb.shape[:2]) // 64)
    return rgb[::step, ::step].astype(np.float32) / np.float32(255.0)


def illumination(rgb: np.ndarray) -> float:
    """Mean luma (Rec. 601) of an RGB uint8 image in [0, 1], on a subsampled grid for speed."""
    return float((_grid(rgb) @ np.float32([0.299, 0.587, 0.114])).mean())


def image_statistics(rgb: np.ndarray) -> np.ndarray:
    """(log10 mean linear luminance, log mean linear blue / red) of an RGB uint8 frame.

    Linear light undoes an sRGB-like gamma of 2.2; both means get a floor of 1e-4 so a black
    frame has finite statistics.
    """
    linear = _grid(rgb).reshape(-1, 3) ** np.float32(2.2)
    mean = np.maximum(linear.mean(axis=0), 1e-4)
    luminance = max(float(mean @ np.float32([0.2126, 0.7152, 0.0722])), 1e-4)
    return np.array([np.log10(luminance), np.log(mean[2] / mean[0])])


def daylight(rgb: np.ndarray, weights=None, bias: Optional[float] = None) -> float:
    """Estimated probability that the frame is lit by daylight, in [0, 1] (1 = day)."""
    w = np.asarray(DAYLIGHT_WEIGHTS if weights is None else weights, np.float64)
    b = DAYLIGHT_BIAS if bias is None else bias
    z = float(image_statistics(rgb) @ w + b)
    return float(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))))


class DomainSelector:
    """Stateful day/night choice for a stream of frames."""

    def __init__(self, config: DomainConfig) -> None:
        config.validate()
        self.config = config
        self.daylight: Optional[float] = None    # smoothed; None before the first frame
        self.domain: Optional[str] = None if config.mode == 'auto' else config.mode

    def select(self, rgb: np.ndarray, value: Optional[float] = None) -> str:
        """Return 'day' or 'night' for this frame (`value`: its daylight, if known already)."""
        if self.config.mode != 'auto':
            return self.config.mode
        return self.update(daylight(rgb) if value is None else value)

    def update(self, value: float) -> str:
        """Feed one frame's daylight in [0, 1]; return the domain."""
        alpha = self.config.smoothing
        self.daylight = value if self.daylight is None else (
            alpha * self.daylight + (1 - alpha) * value)
        if self.domain is None:
            middle = (self.config.night_below + self.config.day_above) / 2
            self.domain = 'night' if self.daylight < middle else 'day'
        elif self.domain == 'day' and self.daylight < self.config.night_below:
            self.domain = 'night'
        elif self.domain == 'night' and self.daylight > self.config.day_above:
            self.domain = 'day'
        return self.domain
