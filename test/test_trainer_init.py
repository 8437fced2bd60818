# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Fine-tuning with `init_from`: the authors' layout, our own checkpoints, and every refusal."""

import json
import logging

import pytest
from reference_fixtures import load_layout, random_state_dicts
import torch

from adds_ros.errors import UserValueError
from adds_training.checkpoint import file_hash, load_checkpoint
from adds_training.config import ConfigError
from adds_training.networks import import_reference_checkpoint
from adds_training.networks.init_from import part_of, SEPARATION
from adds_training.trainer import Trainer
from test_trainer_support import make_tiny_dataset, one_thread, tiny_config  # noqa: F401

pytestmark = [pytest.mark.usefixtures('one_thread'),
              pytest.mark.filterwarnings('ignore:training from random initialisation')]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('tiny'))


@pytest.fixture(scope='module')
def reference():
    return random_state_dicts(load_layout(), seed=5)


def _save_folder(state_dicts: dict, folder, drop=()):
    folder.mkdir(parents=True, exist_ok=True)
    for name, state in state_dicts.items():
        if name not in drop:
            torch.save(state, folder / name)
    return folder


def _state(trainer):
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_fine_tune_from_the_authors_layout_loads_every_tensor(
        data, reference, tmp_path, caplog):
    folder = _save_folder(reference, tmp_path / 'authors')
    source, _ = import_reference_checkpoint(folder)
    expected = source.state_dict()
    fresh = Trainer(tiny_config(data, tmp_path / 'fresh', model={'stem': 'per_domain'}))
    with caplog.at_level(logging.INFO):
        trainer = Trainer(tiny_config(data, tmp_path / 'run', init_from=str(folder),
                                      model={'stem': 'per_domain'}))
    loaded = _state(trainer)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    assert not torch.equal(loaded['invariant.encoder.conv1.weight'],
                           _state(fresh)['invariant.encoder.conv1.weight'])
    assert trainer.init_meta['fresh'] == {}
    assert sum(trainer.init_meta['loaded'].values()) == len(expected)
    order = ('encoder.pth', 'depth.pth', 'pose_encoder.pth', 'pose.pth')
    assert trainer.init_meta['hash'] == file_hash([folder / name for name in order])
    assert 'init_from' in caplog.text and 'left fresh 0 tensors' in caplog.text
    # The weights keep training from there, and the run's checkpoints say where they began.
    trainer.fit()
    for name in ('best.pt', 'last.pt'):
        meta = load_checkpoint(tmp_path / 'run' / name)['meta']['init_from']
        assert meta['hash'] == trainer.init_meta['hash'] and meta['format'] == 'reference-folder'
    summary = json.loads((tmp_path / 'run' / 'summary.json').read_text())
    assert summary['init_from']['parts'] == ['encoders', 'decoders', 'pose']


def test_a_part_left_out_stays_fresh_and_is_reported(data, reference, tmp_path):
    folder = _save_folder(reference, tmp_path / 'authors', drop=('pose_encoder.pth', 'pose.pth'))
    fresh = _state(Trainer(tiny_config(data, tmp_path / 'fresh', model={'stem': 'per_domain'})))
    trainer = Trainer(tiny_config(data, tmp_path / 'run', init_from=str(folder),
                                  init_parts=['encoders', 'decoders'],
                                  model={'stem': 'per_domain'}))
    state = _state(trainer)
    pose = [k for k in state if part_of(k) == 'pose']
    assert all(torch.equal(state[k], fresh[k]) for k in pose)
    assert trainer.init_meta['fresh'] == {'pose_encoder': sum(k.startswith('pose_encoder.')
                                                              for k in pose),
                                          'pose_decoder': sum(k.startswith('pose_decoder.')
                                                              for k in pose)}
    assert trainer.init_meta['fresh_reason'] == {'not in init_parts': 'pose'}


@pytest.mark.parametrize('case, message', [
    ('no_pose', 'has no pose weights (no pose_encoder.'),
    ('shared_stem', 'invariant.night_conv1.weight has no place in this model'),
    ('one_missing', 'depth_decoder.decoder.13.conv.bias is missing'),
    ('bad_shape', 'pose.pth:net.3.weight has shape (6, 256, 1, 1), the model expects '
                  '(12, 256, 1, 1)'),
])
def test_an_authors_checkpoint_that_does_not_fit_is_named(data, reference, tmp_path, case,
                                                          message):
    states = {name: dict(state) for name, state in reference.items()}
    model = {'stem': 'per_domain'}
    drop = ()
    if case == 'no_pose':
        drop = ('pose_encoder.pth', 'pose.pth')
    elif case == 'shared_stem':
        model = {}
    elif case == 'one_missing':
        del states['depth.pth']['decoder.13.conv.bias']
    else:
        states['pose.pth']['net.3.weight'] = states['pose.pth']['net.3.weight'][:6]
    folder = _save_folder(states, tmp_path / case, drop)
    with pytest.raises(UserValueError, match='init_from') as err:
        Trainer(tiny_config(data, tmp_path / 'run', init_from=str(folder), model=model))
    assert message in str(err.value) and '\n' not in str(err.value)


@pytest.mark.parametrize('name', ['best.pt', 'last.pt'])
def test_fine_tune_from_our_own_checkpoints(data, tmp_path, name):
    first = Trainer(tiny_config(data, tmp_path / 'day', mode='monodepth2', max_steps=2,
                                val_every_steps=1))
    first.fit()
    source = load_checkpoint(tmp_path / 'day' / name)['model']
    trainer = Trainer(tiny_config(data, tmp_path / 'adds', mode='adds',
                                  init_from=str(tmp_path / 'day' / name), seed=9))
    state = _state(trainer)
    fresh = _state(Trainer(tiny_config(data, tmp_path / 'fresh', mode='adds', seed=9)))
    for key, value in state.items():
        if key.startswith(SEPARATION):  # a Monodepth2 run never trained them: left fresh
            assert torch.equal(value, fresh[key]), key
        else:
            assert torch.equal(value, source[key]), key
    meta = trainer.init_meta
    assert meta['source_mode'] == 'monodepth2' and 'separation branch' in meta['fresh_reason']
    assert set(meta['fresh']) == {'private', 'private_code', 'invariant_code', 'recon_decoder'}
    assert meta['hash'] == file_hash([tmp_path / 'day' / name])


def test_an_adds_checkpoint_passes_its_separation_branch_on(data, tmp_path):
    Trainer(tiny_config(data, tmp_path / 'a', mode='adds', max_steps=1)).fit()
    source = load_checkpoint(tmp_path / 'a' / 'last.pt')['model']
    trainer = Trainer(tiny_config(data, tmp_path / 'b', init_from=str(tmp_path / 'a' / 'last.pt'),
                                  seed=11))
    assert all(torch.equal(v, source[k]) for k, v in _state(trainer).items())
    assert trainer.init_meta['fresh'] == {}


def test_bad_init_settings_are_config_errors(data, tmp_path):
    with pytest.raises(ConfigError, match='init_parts'):
        tiny_config(data, tmp_path, init_parts=['encoder'])
    with pytest.raises(ConfigError, match='init_parts'):
        tiny_config(data, tmp_path, init_parts=[])
    with pytest.raises(ConfigError, match='init_from .*nothing.pt: no such'):
        tiny_config(data, tmp_path, init_from=str(tmp_path / 'nothing.pt'))
    (tmp_path / 'text.pt').write_text('not weights')
    with pytest.raises(UserValueError, match='text.pt: not an adds_ros checkpoint'):
        Trainer(tiny_config(data, tmp_path / 'run', init_from=str(tmp_path / 'text.pt')))
    with pytest.raises(ConfigError, match='twin_pose'):
        tiny_config(data, tmp_path, twin_pose='night')


def test_aux_ramp_scales_adds_auxiliary_terms_only(data, tmp_path):
    trainer = Trainer(tiny_config(data, tmp_path, mode='adds', augment=False, aux_ramp_steps=4))
    batch = next(iter(trainer.loader))
    trainer.objective.eval()
    full = trainer.objective(batch)
    trainer.objective.aux_scale = 0.25
    ramped = trainer.objective(batch)
    for key, value in full.items():
        if key.startswith('view_synthesis/'):
            assert torch.allclose(ramped[key], value), key
        elif key != 'loss':
            assert torch.allclose(ramped[key], 0.25 * value), key
    assert [Trainer.ramp_factor(4, s) for s in range(6)] == [0.25, 0.5, 0.75, 1, 1, 1]


@pytest.mark.parametrize('twin_pose, calls', [('own', ['day', 'day', 'night', 'night']),
                                              ('day', ['day', 'day'])])
def test_twin_pose_day_warps_the_baselines_twins_with_the_day_motion(
        data, tmp_path, twin_pose, calls):
    trainer = Trainer(tiny_config(data, tmp_path, mode='monodepth2', use_fake_night=True,
                                  augment=False, twin_pose=twin_pose))
    batch = next(iter(trainer.loader))
    seen, pose = [], trainer.model.pose

    def recording(a, b):
        seen.append('day' if any(torch.equal(a, batch['day'][f]) for f in (-1, 0)) else 'night')
        return pose(a, b)

    trainer.model.pose = recording
    terms = trainer.objective(batch)
    assert seen == calls and torch.isfinite(terms['view_synthesis/night'])


def test_a_run_resumed_at_its_end_keeps_its_stall_signal(data, tmp_path):
    Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_steps=2)).fit()
    first = json.loads((tmp_path / 'summary.json').read_text())['translation_to_depth']
    again = Trainer(tiny_config(data, tmp_path, mode='monodepth2', max_steps=2))
    again.resume(tmp_path / 'last.pt')
    assert first is not None and again.fit()['translation_to_depth'] == first
