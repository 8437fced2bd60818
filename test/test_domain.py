# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from adds_ros.domain import (
    daylight, DomainConfig, DomainSelector, illumination, image_statistics)


def frame(level: float) -> np.ndarray:
    return np.full((32, 64, 3), int(level * 255), np.uint8)


def test_illumination_is_mean_luma():
    assert illumination(frame(0.0)) == 0.0
    assert illumination(frame(1.0)) == pytest.approx(1.0)
    red = np.zeros((32, 64, 3), np.uint8)
    red[..., 0] = 255
    assert illumination(red) == pytest.approx(0.299, abs=1e-3)


def test_image_statistics_worked_by_hand():
    grey = frame(0.5)                                 # 127: linear (127/255)^2.2
    luminance, blue_red = image_statistics(grey)
    assert luminance == pytest.approx(2.2 * np.log10(127 / 255), abs=1e-5)
    assert blue_red == pytest.approx(0.0, abs=1e-6)
    orange = np.zeros((32, 64, 3), np.uint8)
    orange[..., 0], orange[..., 1], orange[..., 2] = 255, 128, 64
    assert image_statistics(orange)[1] == pytest.approx(2.2 * np.log(64 / 255), abs=1e-5)
    assert np.isfinite(image_statistics(frame(0.0))).all()      # black: the floor


def test_daylight_grows_with_light_and_falls_with_orange_light():
    levels = [daylight(frame(v)) for v in (0.02, 0.1, 0.3, 0.6, 1.0)]
    assert levels == sorted(levels) and levels[0] < 0.1 and levels[-1] > 0.9
    grey = frame(0.45)
    orange = grey.copy()
    orange[..., 2] //= 3                              # same brightness, sodium-like colour
    assert daylight(orange) < daylight(grey)


def test_daylight_tells_a_new_street_by_day_from_its_night_twin():
    """The calibration on streets it never saw, also under a camera gain and white balance."""
    synthetic = pytest.importorskip('adds_training.data.synthetic.render')
    from adds_training.data.synthetic.world import camera_trajectory, make_world
    from adds_training.tools.illumination_study import camera
    from adds_training.data.synthetic.write import intrinsics, SynthConfig

    world = make_world(seed=4242, length=120.0)
    pose = camera_trajectory(world, 10, seed=4242)[5]
    K = intrinsics(SynthConfig(height=32, width=64))
    day, night, _ = synthetic.render_views(world, pose, K, 32, 64, np.random.default_rng(0))
    for condition in ('gain 1', 'gain 1.4', 'gain 0.7', 'awb'):
        assert daylight(camera(day, condition)) > 0.7, condition
        assert daylight(camera(night, condition)) < 0.3, condition


def test_hysteresis_needs_a_clear_change_to_switch():
    selector = DomainSelector(DomainConfig(night_below=0.3, day_above=0.7, smoothing=0.0))
    assert selector.update(0.9) == 'day'
    assert selector.update(0.5) == 'day'      # between the thresholds: stays
    assert selector.update(0.2) == 'night'
    assert selector.update(0.5) == 'night'    # between the thresholds: stays
    assert selector.update(0.8) == 'day'


def test_first_frame_decides_at_the_middle():
    assert DomainSelector(DomainConfig(smoothing=0.0)).update(0.49) == 'night'
    assert DomainSelector(DomainConfig(smoothing=0.0)).update(0.51) == 'day'


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
