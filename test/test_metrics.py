# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Metrics and protocols against values worked out by hand on a 12x16 ground truth."""

import math

import numpy as np
import pytest

from adds_training.metrics import (
    compute_depth_metrics, evaluate_image, get_protocol, markdown_table, mean_metrics,
    median_ratio, prediction_to_gt_frame, PROTOCOLS, region_pixels)


def test_seven_metrics_by_hand():
    m = compute_depth_metrics(np.array([2.0, 4.0]), np.array([1.0, 4.0]))
    assert m['abs_rel'] == pytest.approx(0.25)
    assert m['sq_rel'] == pytest.approx(0.25)
    assert m['rmse'] == pytest.approx(math.sqrt(0.5))
    assert m['rmse_log'] == pytest.approx(math.log(2) / math.sqrt(2))
    # ratio 2 fails 1.25, 1.5625 and 1.953; ratio 1 passes all three
    assert (m['a1'], m['a2'], m['a3']) == (0.5, 0.5, 0.5)
    m = compute_depth_metrics(np.array([1.0]), np.array([1.5]))
    assert (m['a1'], m['a2'], m['a3']) == (0.0, 1.0, 1.0)


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match='non-empty'):
        compute_depth_metrics(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match='positive'):
        compute_depth_metrics(np.array([1.0]), np.array([0.0]))


# Pixels (row, col): gt, pred on a 12x16 image. Regions there: adds rows 2:10; md4all rows
# 0:10; rnw/steps rows 2:10, cols 1:15; full everything.
PIXELS = {'A': ((5, 5), 10, 5), 'B': ((0, 5), 20, 10), 'C': ((5, 0), 30, 10),
          'D': ((6, 6), 45, 15), 'E': ((11, 6), 8, 2), 'G': ((3, 8), 6, 4),
          'H': ((4, 4), 35, 30), 'F': ((7, 7), 12, 0)}  # F: not predicted, never scored
# protocol -> (pixels scored, expected scale, scaled + clamped predictions), by hand
EXPECTED = {
    'adds40': ('ACGH', 20 / 7.5, [40 / 3, 80 / 3, 32 / 3, 40]),
    'adds60': ('ACDGH', 3.0, [15, 30, 45, 12, 60]),
    'md4all_rows160-768': ('ABCDGH', 2.0, [10, 20, 20, 30, 8, 50]),
    'md4all_rows160-768_median': ('ABCDGH', 2.5, [12.5, 25, 25, 37.5, 10, 50]),
    'rnw40': ('AGH', 2.0, [10, 8, 40]),
    'steps60': ('ADGH', 2.25, [11.25, 33.75, 9, 60]),
    'full40': ('ABCEGH', 2.0, [10, 20, 20, 4, 8, 40]),
    'full40_metric': ('ABCEGH', 2.0, [10, 20, 20, 4, 8, 40]),
}


def _scene():
    gt = np.zeros((12, 16), np.float32)
    pred = np.zeros((12, 16), np.float32)
    for (r, c), g, p in PIXELS.values():
        gt[r, c], pred[r, c] = g, p
    return gt, pred


def test_every_protocol_has_a_hand_computed_case():
    assert set(EXPECTED) == set(PROTOCOLS)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_protocol_matches_hand_computation(name):
    gt, pred = _scene()
    letters, scale, scaled = EXPECTED[name]
    result = evaluate_image(gt, pred, get_protocol(name), metric_scale=2.0)
    expected = compute_depth_metrics(np.array([PIXELS[k][1] for k in letters], float),
                                     np.array(scaled, float))
    assert result['pixels'] == len(letters)
    assert result['scale'] == pytest.approx(scale)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value), key


def test_md4all_is_named_for_what_it_scores_and_old_names_still_work():
    # Rows 160:768 at the model's input size: not md4all's 544x320 numbers (docs/training.md).
    assert get_protocol('md4all') is get_protocol('md4all_rows160-768')
    assert get_protocol('md4all_median').name == 'md4all_rows160-768_median'
    assert 'not md4all' in get_protocol('md4all').description
    assert not any(name in PROTOCOLS for name in ('md4all', 'md4all_median'))


def test_median_scaling_comes_after_the_cap():
    # Reference defect 6 took the median over all GT (incl. D = 45 m) before the 40 m cap.
    gt, pred = _scene()
    scale = evaluate_image(gt, pred, get_protocol('adds40'))['scale']
    assert scale == pytest.approx(20 / 7.5)
    assert median_ratio(gt, pred, get_protocol('md4all')) == pytest.approx(2.5)


def test_view_limits_scored_pixels():
    gt, pred = _scene()
    result = evaluate_image(gt, pred, get_protocol('full40'), view=(0, 6, 0, 16))
    assert result['pixels'] == 5  # A B C G H; E (row 11) lies outside the view


def test_metric_protocol_without_scale_is_a_clear_error():
    gt, pred = _scene()
    with pytest.raises(ValueError, match='metric scale'):
        evaluate_image(gt, pred, get_protocol('md4all'))
    with pytest.raises(ValueError, match='unknown protocol'):
        get_protocol('kitti')


def test_robotcar_fractions_reproduce_pixel_crops():
    shape = (960, 1280)
    assert region_pixels(shape, get_protocol('adds40').crop) == (160, 800, 0, 1280)
    assert region_pixels(shape, get_protocol('md4all').crop) == (0, 768, 0, 1280)
    assert region_pixels(shape, get_protocol('rnw40').crop) == (160, 800, 64, 1216)


def test_prediction_placed_in_gt_frame():
    depth = np.full((4, 8), 5.0, np.float32)
    full = prediction_to_gt_frame(depth, (12, 16), (2, 10, 0, 16))
    assert full.shape == (12, 16)
    assert np.allclose(full[2:10], 5.0) and not full[:2].any() and not full[10:].any()
    # bilinear on inverse depth: halfway between 1/2 and 1/4 disparity is 1/3 -> 3 m
    depth = np.array([[2.0, 4.0]], np.float32)
    full = prediction_to_gt_frame(depth, (1, 3), (0, 1, 0, 3))
    assert full[0, 1] == pytest.approx(1 / (0.5 * (1 / 2 + 1 / 4)), rel=1e-5)
    with pytest.raises(ValueError, match='inside'):
        prediction_to_gt_frame(depth, (1, 3), (0, 2, 0, 3))


def test_mean_and_table():
    rows = [{'abs_rel': 0.1, 'sq_rel': 1, 'rmse': 2, 'rmse_log': 0.2, 'a1': 1, 'a2': 1,
             'a3': 1},
            {'abs_rel': 0.3, 'sq_rel': 3, 'rmse': 4, 'rmse_log': 0.4, 'a1': 0, 'a2': 1,
             'a3': 1}]
    mean = mean_metrics(rows)
    assert mean['abs_rel'] == pytest.approx(0.2) and mean['a1'] == pytest.approx(0.5)
    table = markdown_table([('night', mean)])
    assert '| night | 0.200 | 2.000 | 3.000 | 0.300 | 0.500 | 1.000 | 1.000 |' in table
    with pytest.raises(ValueError):
        mean_metrics([])
