# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from adds_ros.domain import DomainConfig, DomainSelector, illumination


def frame(level: float) -> np.ndarray:
    return np.full((32, 64, 3), int(level * 255), np.uint8)


def test_illumination_is_mean_luma():
    assert illumination(frame(0.0)) == 0.0
    assert illumination(frame(1.0)) == pytest.approx(1.0)
    red = np.zeros((32, 64, 3), np.uint8)
    red[..., 0] = 255
    assert illumination(red) == pytest.approx(0.299, abs=1e-3)


def test_hysteresis_needs_a_clear_change_to_switch():
    selector = DomainSelector(DomainConfig(night_below=0.25, day_above=0.35, smoothing=0.0))
    assert selector.select(frame(0.5)) == 'day'
    assert selector.select(frame(0.3)) == 'day'      # between the thresholds: stays
    assert selector.select(frame(0.2)) == 'night'
    assert selector.select(frame(0.3)) == 'night'    # between the thresholds: stays
    assert selector.select(frame(0.4)) == 'day'


def test_smoothing_ignores_a_single_bright_frame_at_night():
    selector = DomainSelector(DomainConfig(smoothing=0.8))
    for _ in range(10):
        assert selector.select(frame(0.05)) == 'night'
    assert selector.select(frame(0.9)) == 'night'    # one headlight flash
    for _ in range(20):
        last = selector.select(frame(0.9))
    assert last == 'day'


def test_forced_domain_ignores_the_image():
    selector = DomainSelector(DomainConfig(mode='night'))
    assert selector.select(frame(1.0)) == 'night'


def test_invalid_configuration_is_refused():
    with pytest.raises(ValueError, match='night_below < day_above'):
        DomainSelector(DomainConfig(night_below=0.5, day_above=0.4))
    with pytest.raises(ValueError, match='domain must be one of'):
        DomainSelector(DomainConfig(mode='dusk'))
