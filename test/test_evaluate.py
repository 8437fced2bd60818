# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds eval` end to end on a tiny dataset whose ground truth is known row by row."""

import argparse
import csv
import json
import math

import numpy as np
import pytest
import torch

from adds_training import evaluate
from adds_training.checkpoint import checkpoint_dict, load_checkpoint, save_checkpoint
from adds_training.metrics import get_protocol
from test_trainer_support import HEIGHT, make_tiny_dataset, WIDTH

MIN_DEPTH, MAX_DEPTH = 0.1, 100.0


class TwiceTooFar(torch.nn.Module):
    """Predicts exactly twice the tiny dataset's ground truth (which only depends on the row)."""

    def forward(self, x):
        depth = 2 * torch.linspace(40, 5, HEIGHT).view(1, 1, HEIGHT, 1).expand(
            x.shape[0], 1, HEIGHT, WIDTH)
        sigmoid = (1 / depth - 1 / MAX_DEPTH) / (1 / MIN_DEPTH - 1 / MAX_DEPTH)
        return [sigmoid]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('tiny'))


def _gt_rows():
    """The GT the PNGs hold (rounded to 1/256 m), excluding the 40 m row (cap is exclusive)."""
    gt = np.round(np.linspace(40, 5, HEIGHT) * 256) / 256
    return gt[gt < 40]


def _split(data, protocols, scale=None):
    return evaluate.evaluate_split(TwiceTooFar(), str(data), 'val_day',
                                   [get_protocol(p) for p in protocols], HEIGHT, WIDTH,
                                   MIN_DEPTH, MAX_DEPTH, metric_scale=scale)


def test_median_scaling_recovers_a_scaled_prediction(data):
    rows = _split(data, ['full40'])['full40']
    assert len(rows) == 2
    for row in rows:
        assert row['scale'] == pytest.approx(0.5, rel=1e-3)
        assert row['abs_rel'] < 1e-3 and row['a1'] == 1.0
        assert row['pixels'] == len(_gt_rows()) * WIDTH


def test_metric_protocol_by_hand(data):
    g = _gt_rows()
    row = _split(data, ['full40_metric'], scale=1.0)['full40_metric'][0]
    # prediction = 2 x GT, clamped to the 40 m cap; one value per GT row (all columns equal)
    p = np.minimum(2 * g, 40.0)
    ratio = p / g
    assert row['abs_rel'] == pytest.approx(np.mean((p - g) / g), rel=1e-3)
    assert row['sq_rel'] == pytest.approx(np.mean((p - g) ** 2 / g), rel=1e-3)
    assert row['rmse'] == pytest.approx(math.sqrt(np.mean((p - g) ** 2)), rel=1e-3)
    assert row['rmse_log'] == pytest.approx(math.sqrt(np.mean(np.log(ratio) ** 2)), rel=1e-3)
    for key, limit in (('a1', 1.25), ('a2', 1.25 ** 2), ('a3', 1.25 ** 3)):
        assert row[key] == pytest.approx(np.mean(ratio < limit), abs=1 / len(g)), key
    assert _split(data, ['full40_metric'], scale=0.5)['full40_metric'][0]['abs_rel'] < 1e-3


def test_reports(data, tmp_path):
    results = {'val_day': _split(data, ['full40', 'adds40'])}
    summary = evaluate.write_reports(tmp_path, results, {'checkpoint': 'x.pt'})
    with open(tmp_path / 'per_image_val_day_full40.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['index'] for r in rows] == ['seq/0000000000', 'seq/0000000001']
    assert set(rows[0]) == set(evaluate.ROW_COLUMNS)
    stored = json.loads((tmp_path / 'results.json').read_text())
    assert stored == json.loads(json.dumps(summary))
    assert stored['results']['val_day']['full40']['images'] == 2
    assert '| val_day / adds40 (2 images) |' in (tmp_path / 'results.md').read_text()


def _checkpoint(path):
    from adds_training.networks import ADDSModel

    torch.manual_seed(0)
    meta = {'height': HEIGHT, 'width': WIDTH, 'min_depth': MIN_DEPTH, 'max_depth': MAX_DEPTH}
    save_checkpoint(path, checkpoint_dict(ADDSModel(), meta, {'mode': 'adds'}))
    return path


def _args(**kw):
    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    return parser.parse_args([f'--{k.replace("_", "-")}={v}' for k, v in kw.items()])


def test_cli_estimates_and_stores_the_metric_scale(data, tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / 'model.pt')
    args = _args(checkpoint=ckpt, data=data, estimate_scale='val_day', out=tmp_path / 'eval')
    args.splits, args.protocols = ['val_night'], ['full40', 'full40_metric']
    assert evaluate.run(args) == 0
    scale = load_checkpoint(ckpt)['meta']['metric_scale']
    assert scale > 0 and f'{scale:.4f}' in capsys.readouterr().out
    summary = json.loads((tmp_path / 'eval' / 'results.json').read_text())
    assert summary['header']['metric_scale'] == pytest.approx(scale)
    assert set(summary['results']['val_night']) == {'full40', 'full40_metric'}


def test_cli_refuses_to_fit_the_scale_on_a_test_split(data, tmp_path):
    args = _args(checkpoint=_checkpoint(tmp_path / 'm.pt'), data=data,
                 estimate_scale='test_night')
    with pytest.raises(ValueError, match='validation split'):
        evaluate.run(args)


def test_scale_estimate_recovers_a_known_scale(data):
    # The network predicts 2 x GT everywhere: metres = prediction x 0.5.
    scale = evaluate.estimate_metric_scale(TwiceTooFar(), str(data), 'val_day',
                                           get_protocol('full40'), HEIGHT, WIDTH, MIN_DEPTH,
                                           MAX_DEPTH)
    assert scale == pytest.approx(0.5, rel=1e-3)


def test_cli_stores_the_estimated_scale_and_scores_with_it(data, tmp_path, monkeypatch):
    ckpt = _checkpoint(tmp_path / 'model.pt')
    info = {'height': HEIGHT, 'width': WIDTH, 'normalisation': 'running',
            'meta': {'min_depth': MIN_DEPTH, 'max_depth': MAX_DEPTH}}
    monkeypatch.setattr(evaluate, 'load_depth_net',
                        lambda path, domain='day', normalisation=None: (TwiceTooFar(), info))
    args = _args(checkpoint=ckpt, data=data, estimate_scale='val_day', out=tmp_path / 'eval')
    args.splits, args.protocols = ['val_night'], ['full40_metric']
    assert evaluate.run(args) == 0
    assert load_checkpoint(ckpt)['meta']['metric_scale'] == pytest.approx(0.5, rel=1e-3)
    summary = json.loads((tmp_path / 'eval' / 'results.json').read_text())
    assert summary['results']['val_night']['full40_metric']['abs_rel'] < 1e-3


def test_batchnorm_statistics_become_the_splits_own(data, tmp_path):
    """`--batchnorm-stats`: running mean and variance are those of the split's images."""
    from adds_training.networks import load_depth_net
    from adds_training.networks.adds import normalise

    net, _ = load_depth_net(_checkpoint(tmp_path / 'model.pt'))
    evaluate.recalibrate_batchnorm(net, str(data), ['val_day'], HEIGHT, WIDTH)
    assert not net.training
    loader = evaluate.eval_loader(str(data), 'val_day', HEIGHT, WIDTH)
    images = torch.cat([b['image'] for b in loader])
    assert images.shape[0] == 2      # one batch: the cumulative average is that batch's
    with torch.no_grad():
        stem = net.encoder.encoder.conv1(normalise(images))
    bn = net.encoder.encoder.bn1
    torch.testing.assert_close(bn.running_mean, stem.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.running_var, stem.var((0, 2, 3)), rtol=1e-4, atol=1e-5)


def test_cli_batchnorm_stats_leave_the_checkpoint_and_refuse_test_splits(data, tmp_path):
    ckpt = _checkpoint(tmp_path / 'model.pt')
    before = ckpt.read_bytes()
    args = _args(checkpoint=ckpt, data=data, estimate_scale='val_day', out=tmp_path / 'eval')
    args.splits, args.protocols, args.batchnorm_stats = ['val_night'], ['full40'], ['val_day']
    assert evaluate.run(args) == 0
    assert ckpt.read_bytes() == before   # neither the statistics nor their scale are stored
    summary = json.loads((tmp_path / 'eval' / 'results.json').read_text())
    assert summary['header']['batchnorm_stats'] == ['val_day']
    args.batchnorm_stats = ['val_day', 'test_day']
    with pytest.raises(ValueError, match='--batchnorm-stats on a test split'):
        evaluate.run(args)
