# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Sparsification metrics against hand-worked curves and areas."""

import numpy as np
import pytest

from adds_training.metrics import get_protocol
from adds_training.uncertainty import (
    image_sparsification, mean_sparsification, pixel_errors, removal_curve, retained_error,
    sparsification, summary_row)

# Four pixels of true depth 10 with Abs Rel errors 0.4, 0.3, 0.2, 0.1.
GT = np.full(4, 10.0)
PRED = np.array([14.0, 13.0, 12.0, 11.0])


def test_pixel_errors_match_the_image_metrics():
    assert pixel_errors(GT, PRED, 'abs_rel') == pytest.approx([0.4, 0.3, 0.2, 0.1])
    assert pixel_errors(GT, PRED, 'rmse') == pytest.approx([16, 9, 4, 1])
    assert pixel_errors(GT, PRED, 'a1').tolist() == [1, 1, 0, 0]   # 1.4, 1.3 >= 1.25
    with pytest.raises(ValueError, match='metric must be one of'):
        pixel_errors(GT, PRED, 'sq_rel')


def test_perfect_confidence_worked_by_hand():
    # 4 intervals: fractions 0, 1/4, 2/4, 3/4 removed, then nothing left.
    # curve: mean of (.4 .3 .2 .1), (.3 .2 .1), (.2 .1), (.1), 0 = .25 .2 .15 .1 0
    # area = 1/4 * ((.25+.2)/2 + (.2+.15)/2 + (.15+.1)/2 + (.1+0)/2) = 0.14375
    # random: .25 .25 .25 .25 0, area 1/4 * (.25 * 3 + .125) = 0.21875
    s = sparsification(GT, PRED, np.array([0.0, 1.0, 2.0, 3.0]), 'abs_rel', intervals=4)
    assert s.curve == pytest.approx([0.25, 0.2, 0.15, 0.1, 0.0])
    assert s.oracle == pytest.approx(s.curve)
    assert s.random == pytest.approx([0.25, 0.25, 0.25, 0.25, 0.0])
    assert s.ause == pytest.approx(0.0)
    assert s.aurg == pytest.approx(0.21875 - 0.14375)
    assert s.all_error == pytest.approx(0.25)
    assert s.half_error == pytest.approx(0.15)


def test_reversed_confidence_worked_by_hand():
    # the largest errors are trusted most: curve .25 .3 .35 .4 0, area 0.29375
    s = sparsification(GT, PRED, np.array([3.0, 2.0, 1.0, 0.0]), 'abs_rel', intervals=4)
    assert s.curve == pytest.approx([0.25, 0.3, 0.35, 0.4, 0.0])
    assert s.ause == pytest.approx(0.29375 - 0.14375)
    assert s.aurg == pytest.approx(0.21875 - 0.29375)
    assert s.half_error == pytest.approx(0.35)


def test_rmse_curve_is_the_root_of_the_remaining_mean_square():
    s = sparsification(GT, PRED, np.array([0.0, 1.0, 2.0, 3.0]), 'rmse', intervals=4)
    assert s.curve == pytest.approx([np.sqrt(7.5), np.sqrt(14 / 3), np.sqrt(2.5), 1.0, 0.0])


def test_a1_oracle_drops_the_outliers_first():
    # a1 errors 1 1 0 0; a confidence that trusts one outlier most:
    s = sparsification(GT, PRED, np.array([3.0, 0.0, 1.0, 2.0]), 'a1', intervals=4)
    assert s.oracle == pytest.approx([0.5, 1 / 3, 0.0, 0.0, 0.0])
    assert s.curve == pytest.approx([0.5, 1 / 3, 0.5, 1.0, 0.0])


def test_constant_confidence_is_random_ordering_exactly():
    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 40, 1000)
    pred = gt * rng.lognormal(0, 0.3, 1000)
    for metric in ('abs_rel', 'rmse', 'a1'):
        s = sparsification(gt, pred, np.full(1000, 0.7), metric)
        assert s.aurg == pytest.approx(0.0, abs=1e-12)
        assert s.half_error == pytest.approx(s.all_error)


def test_random_confidence_has_no_gain_and_a_true_one_has_some():
    rng = np.random.default_rng(1)
    gt = rng.uniform(1, 40, 20000)
    noise = rng.lognormal(0, 0.3, 20000)
    pred = gt * noise
    errors = np.abs(noise - 1)                    # Abs Rel of each pixel
    random = sparsification(gt, pred, rng.random(20000), 'abs_rel')
    assert abs(random.aurg) < 0.01 * random.all_error
    # a noisy but informative confidence: between random and the oracle
    informed = sparsification(gt, pred, -errors + rng.normal(0, 0.1, 20000), 'abs_rel')
    assert informed.aurg > 0.2 * informed.all_error
    assert 0 < informed.ause < random.ause
    perfect = sparsification(gt, pred, -errors, 'abs_rel')
    assert perfect.ause == pytest.approx(0.0, abs=1e-12)


def test_ties_leave_together_at_their_mean_error():
    # pixels 0 and 1 tie as least confident: removing one removes half of each
    curve = removal_curve(np.array([0.4, 0.2, 0.1, 0.1]), np.array([0.0, 0.0, 1.0, 1.0]),
                          'abs_rel', intervals=4)
    assert curve[1] == pytest.approx((0.3 + 0.1 + 0.1) / 3)


def test_retained_error_keeps_the_most_confident_fraction():
    confidence = np.array([0.0, 1.0, 2.0, 3.0])
    assert retained_error(GT, PRED, confidence, 'abs_rel', 0.25) == pytest.approx(0.1)
    assert retained_error(GT, PRED, confidence, 'abs_rel', 1.0) == pytest.approx(0.25)
    with pytest.raises(ValueError, match='keep must be in'):
        retained_error(GT, PRED, confidence, 'abs_rel', 0.0)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match='equal, non-empty'):
        removal_curve(np.ones(3), np.ones(4), 'abs_rel')
    with pytest.raises(ValueError, match='finite'):
        removal_curve(np.ones(3), np.array([0, np.nan, 1]), 'abs_rel')


def test_image_sparsification_scores_the_protocol_pixels_and_averages():
    gt = np.full((4, 8), 10.0)
    gt[0] = 0.0                                   # invalid ground truth: never scored
    pred = np.full((4, 8), 5.0)                   # median scaling makes it exact ...
    pred[1, :4] = 10.0                            # ... except these, 2x too far
    confidence = np.ones((4, 8))
    confidence[1, :4] = 0.0
    confidence[0] = np.nan                        # unscored pixels may be NaN
    result = image_sparsification(gt, pred, confidence, get_protocol('full40'), intervals=4)
    assert result['abs_rel'].all_error == pytest.approx(4 / 24)
    assert result['abs_rel'].ause == pytest.approx(0.0)
    assert result['abs_rel'].half_error == pytest.approx(0.0)
    mean = mean_sparsification([result, result])
    assert mean['a1'].aurg == pytest.approx(result['a1'].aurg)
    assert mean['rmse'].curve.shape == (5,)
    row = summary_row(mean)
    assert set(row) == {f'{m}_{k}' for m in ('abs_rel', 'rmse', 'a1')
                        for k in ('ause', 'aurg', 'all', 'half')}
    with pytest.raises(ValueError, match='differ in shape'):
        image_sparsification(gt, pred, confidence[:2], get_protocol('full40'))


# ---- the studies behind docs/confidence.md ----------------------------------------------

def test_fit_logistic_recovers_known_weights():
    from adds_training.tools.illumination_study import fit_logistic

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (4000, 2))
    p = 1 / (1 + np.exp(-(x @ np.array([2.0, -1.0]) + 0.5)))
    weights, bias = fit_logistic(x, (rng.random(4000) < p).astype(float), l2=0.0)
    assert weights == pytest.approx([2.0, -1.0], abs=0.2) and bias == pytest.approx(0.5, abs=0.15)


def test_camera_conditions_and_dusk_fade():
    from adds_training.tools.illumination_study import camera, fade, to_linear

    rng = np.random.default_rng(1)
    day = rng.integers(0, 256, (8, 16, 3), dtype=np.uint8)
    night = (day // 4).astype(np.uint8)
    assert np.array_equal(camera(day, 'gain 1'), day)
    assert to_linear(camera(night, 'gain 2')).mean() == pytest.approx(
        2 * to_linear(night).mean(), rel=0.05)
    means = to_linear(camera(day, 'awb')).reshape(-1, 3).mean(0)
    assert np.ptp(means) < 0.01 * means.mean()            # grey world: equal channel means
    assert np.array_equal(fade(day, night, 1.0), day) and np.array_equal(fade(day, night, 0.0),
                                                                         night)


@pytest.mark.slow
def test_studies_run_end_to_end_on_a_small_world(tmp_path):
    import json

    from adds_ros.testing.tiny_model import tiny_model
    from adds_training.data.synthetic.write import render_dataset, SynthConfig
    from adds_training.tools.confidence_study import main

    root = tmp_path / 'world'
    render_dataset(root, SynthConfig(height=32, width=64, frames=4, train_sequences=1,
                                     val_sequences=0, test_sequences=1, night_sequences=0))
    model = tiny_model(tmp_path / 'tiny.onnx', height=32, width=64)
    out = tmp_path / 'study'
    assert main(['confidence', '--model', str(model), '--data', str(root), '--out',
                 str(out)]) == 0
    summary = json.loads((out / 'confidence.json').read_text())
    for split in ('test_day', 'test_night'):
        rows = summary['splits'][split]
        assert set(rows) == {'flip', 'gradient', 'random', 'distance'}
        assert abs(rows['random']['abs_rel_aurg']) < 0.1 * rows['random']['abs_rel_all']
        assert len(rows['flip']['curves']['rmse']['oracle']) == 51
    assert (out / 'confidence.png').stat().st_size > 0
    timing = summary['timing']   # the bench's confidence_cost, at the vehicle camera's size
    assert timing['camera'] == '1280x960' and set(timing['methods']) == {'flip', 'gradient'}
    assert all(row['frame_ratio'] > 1 for row in timing['methods'].values())
    assert 'CPU cost at 1280x960: depth' in (out / 'confidence.md').read_text()
    assert main(['illumination', '--data', str(root), '--out', str(out)]) == 0
    result = json.loads((out / 'illumination.json').read_text())
    assert result['accuracy']['day_test']['gain 1']['daylight'] == 1.0
    assert result['accuracy']['night_test']['gain 1']['daylight'] == 1.0
    assert '| daylight |' in (out / 'illumination.md').read_text()
