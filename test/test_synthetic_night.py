# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The hard night: the default night is unchanged, the hard one darker, flatter and noisier."""

import hashlib

import numpy as np
import pytest

from adds_training.data.layout import robotcar_info
from adds_training.data.synthetic.render import render_views, sensor
from adds_training.data.synthetic.world import camera_trajectory, make_world
from adds_training.data.synthetic.write import dataset_info, SynthConfig

H, W = 64, 128
K = robotcar_info().K_for(H, W).astype(np.float64)
# sha256 of three poses' (day, night, depth) from render_views, recorded with the renderer as
# it was before `night_difficulty` existed: every earlier dataset must render the same bytes.
DEFAULT_DIGEST = '40fe121f8fee511877a9013e36b853593c294e85bcba2a6570ec4343dbdb1185'


@pytest.fixture(scope='module')
def street():
    world = make_world(4, length=60.0)
    return world, camera_trajectory(world, 6, 4)


def _views(street, night: str, seed: int = 0, frames=range(3)):
    world, poses = street
    return [render_views(world, poses[i], K, H, W, np.random.default_rng(seed + i), night=night)
            for i in frames]


def test_the_default_night_renders_the_bytes_it_always_did(street):
    digest = hashlib.sha256()
    for views in _views(street, 'standard'):
        for array in views:
            digest.update(array.tobytes())
    assert digest.hexdigest() == DEFAULT_DIGEST
    assert 'night_difficulty' not in dataset_info(SynthConfig()).extra['config']
    assert dataset_info(SynthConfig(night_difficulty='hard')).extra['config'][
        'night_difficulty'] == 'hard'


def test_day_and_depth_do_not_depend_on_the_night(street):
    pairs = zip(_views(street, 'standard'), _views(street, 'hard'))
    for (day, _, depth), (day_hard, _, depth_hard) in pairs:
        np.testing.assert_array_equal(day, day_hard)
        np.testing.assert_array_equal(depth, depth_hard)


def _noise(image: np.ndarray, again: np.ndarray) -> float:
    """Mean absolute difference of two renders of one pose with different sensor noise."""
    return float(np.abs(image.astype(float) - again.astype(float)).mean())


def test_the_hard_night_is_darker_flatter_noisier_and_more_orange(street):
    standard = [v[1] for v in _views(street, 'standard')]
    hard = [v[1] for v in _views(street, 'hard')]
    hard_again = [v[1] for v in _views(street, 'hard', seed=10)]
    standard_again = [v[1] for v in _views(street, 'standard', seed=10)]
    for s, h, h2, s2 in zip(standard, hard, hard_again, standard_again):
        assert h.mean() < 0.95 * s.mean()
        assert h.std() < 0.8 * s.std()                     # compressed dynamic range
        assert _noise(h, h2) > 2 * _noise(s, s2)           # shot, read noise and blur draws
        r, g, b = h.reshape(-1, 3).mean(0)
        assert r > 1.1 * g > 1.2 * b                        # the colour cast


def test_hard_sensor_blurs_lights_into_halos_and_keeps_shadows_dark():
    linear = np.zeros((64, 128, 3), np.float32)
    linear[30:34, 62:66] = 200.0                            # one lamp on black
    rng = np.random.default_rng(0)
    standard = sensor(linear, 'night', rng).astype(float)
    hard = sensor(linear, 'night', np.random.default_rng(0), 'hard').astype(float)
    rows, cols = np.mgrid[:64, :128]
    distance = np.hypot(rows - 31.5, cols - 63.5)
    ring = (distance > 25) & (distance < 40)                 # around the lamp, not on it
    assert hard[ring].mean() > standard[ring].mean() + 10   # wider glare around the light
    assert hard[distance > 40].mean() < hard[ring].mean() - 10  # far from it: darker
    with pytest.raises(ValueError, match='night must be one of'):
        sensor(linear, 'night', rng, 'harder')
    with pytest.raises(ValueError, match='night_difficulty'):
        SynthConfig(night_difficulty='harder')
