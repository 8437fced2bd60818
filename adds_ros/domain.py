# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Day or night per frame, for models exported with one stem per domain.

ADDS separates the day and night domains in its encoders; when a checkpoint is exported as two
models (day stem, night stem) the node must pick one per frame. Image illumination decides,
with hysteresis (two thresholds plus smoothing) so a street lamp or a tunnel mouth does not make
the node flip models on every frame.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

DOMAIN_MODES = ('auto', 'day', 'night')


@dataclass
class DomainConfig:
    """`mode` forces a domain or lets illumination choose (`auto`)."""

    mode: str = 'auto'
    night_below: float = 0.25  # smoothed mean luma in [0, 1] under which night starts
    day_above: float = 0.35    # ... over which day starts again
    smoothing: float = 0.5     # weight of the previous smoothed luma

    def validate(self) -> None:
        if self.mode not in DOMAIN_MODES:
            raise ValueError(f'domain must be one of {DOMAIN_MODES}, got {self.mode!r}')
        if not 0.0 <= self.night_below < self.day_above <= 1.0:
            raise ValueError(f'need 0 <= night_below < day_above <= 1, got '
                             f'{self.night_below}, {self.day_above}')
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f'smoothing must be in [0, 1), got {self.smoothing}')


def illumination(rgb: np.ndarray) -> float:
    """Mean luma (Rec. 601) of an RGB uint8 image in [0, 1], on a subsampled grid for speed."""
    step = max(1, min(rgb.shape[:2]) // 64)
    pixels = rgb[::step, ::step].astype(np.float32)
    luma = pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114
    return float(luma.mean() / 255.0)


class DomainSelector:
    """Stateful day/night choice for a stream of frames."""

    def __init__(self, config: DomainConfig) -> None:
        config.validate()
        self.config = config
        self.luma: Optional[float] = None
        self.domain: Optional[str] = None if config.mode == 'auto' else config.mode

    def select(self, rgb: np.ndarray) -> str:
        """Return 'day' or 'night' for this frame."""
        if self.config.mode != 'auto':
            return self.config.mode
        value = illumination(rgb)
        alpha = self.config.smoothing
        self.luma = value if self.luma is None else alpha * self.luma + (1 - alpha) * value
        if self.domain is None:
            middle = (self.config.night_below + self.config.day_above) / 2
            self.domain = 'night' if self.luma < middle else 'day'
        elif self.domain == 'day' and self.luma < self.config.night_below:
            self.domain = 'night'
        elif self.domain == 'night' and self.luma > self.config.day_above:
            self.domain = 'day'
        return self.domain
