# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""TrainConfig: YAML files, key=value overrides, clear errors; the shipped configs load."""

from pathlib import Path

import pytest

from adds_training.config import apply_overrides, load_config, TrainConfig

CONFIGS = Path(__file__).resolve().parents[1] / 'config'


def test_yaml_then_overrides(tmp_path):
    path = tmp_path / 'c.yaml'
    path.write_text('mode: monodepth2\nlr: 1.0e-3\nloss:\n  similarity: 2.0\n')
    config = load_config(str(path), ['lr=5e-4', 'loss.smoothness=0', 'frame_ids=[0, -1]',
                                     'model.num_layers=34', 'use_fake_night=true'])
    assert config.mode == 'monodepth2' and config.lr == 5e-4 and config.use_fake_night
    assert config.loss == {'similarity': 2.0, 'smoothness': 0}
    assert config.frame_ids == [0, -1] and config.model == {'num_layers': 34}


@pytest.mark.parametrize('words, message', [
    (['lrr=1'], 'unknown config key'),
    (['lr'], 'key=value'),
    (['mode=stereo'], 'mode must be one of'),
    (['height=100'], 'multiples of 32'),
    (['mode=adds', 'use_fake_night=true'], 'baseline'),
    (['min_depth=10', 'max_depth=5'], 'min_depth'),
    (['lr.x=1'], 'not a section'),
    (['domain_batch=mixed'], 'domain_batch must be one of'),
    (['test_normalisation=instance'], 'test_normalisation must be one of'),
    (['domain_batch=joint', 'model.stem=per_domain'], 'per-domain stem'),
])
def test_bad_overrides_are_named(words, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, words)


def test_overrides_do_not_touch_the_input():
    data = {'loss': {'similarity': 1.0}}
    apply_overrides(data, ['loss.similarity=0'])
    assert data == {'loss': {'similarity': 1.0}}


@pytest.mark.parametrize('name', ['train_robotcar.yaml', 'train_synthetic.yaml'])
def test_shipped_configs_build_the_model_and_loss_settings(name):
    from adds_training.losses import LossWeights
    from adds_training.networks import ModelConfig

    config = load_config(str(CONFIGS / name), ['data_root=/data'])
    assert isinstance(config, TrainConfig) and config.data_root == '/data'
    ModelConfig(**config.model)
    LossWeights(**config.loss)
    assert not any(s.startswith('test') for s in config.val_splits)
