# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Import of the authors' checkpoint layout, Monodepth2 folders and project checkpoints."""

from pathlib import Path

import pytest
from reference_fixtures import load_layout, random_state_dicts
import torch

from adds_ros.atomic import atomic_path
from adds_training.checkpoint import checkpoint_dict
from adds_training.networks import (ADDSModel, DepthNet, import_reference_checkpoint,
                                    load_depth_net, ModelConfig)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def layout() -> dict:
    return load_layout()


@pytest.fixture(scope='module')
def reference(layout) -> dict:
    """Random reference state dicts, built once (copy before changing them)."""
    return random_state_dicts(layout)


@pytest.fixture(scope='module')
def reference_folder(reference, tmp_path_factory) -> Path:
    """The random reference weights saved as the four .pth files."""
    folder = tmp_path_factory.mktemp('reference')
    for name, state in reference.items():
        torch.save(state, folder / name)
    return folder


def hand_mapped_depth_net(state_dicts: dict) -> DepthNet:
    """The same weights loaded the other way: explicit renames into a fresh DepthNet."""
    net = DepthNet(stem='night')
    state = {}
    for key, value in state_dicts['encoder.pth'].items():
        if key.startswith('encoder.') and '.fc.' not in key:
            state['encoder.' + key] = value
        elif key.startswith(('conv1.', 'bn1.')):
            state['encoder.night_' + key] = value
    for key, value in state_dicts['depth.pth'].items():
        state['decoder.' + key] = value
    net.load_state_dict(state, strict=True)
    return net.eval()


def test_every_reference_tensor_maps(layout, reference):
    state_dicts = reference
    model, report = import_reference_checkpoint(state_dicts)
    tensors = sum(len(v) for f, v in layout.items() if '#' not in f)
    fc_keys = [f'{f}:{k}' for f, v in layout.items() for k in v if '.fc.' in k]
    assert report.complete
    assert sorted(report.ignored_source_keys) == sorted(fc_keys) and len(fc_keys) == 8
    assert report.mapped == tensors - len(fc_keys) == len(model.state_dict())
    assert report.metadata == {'height': 256, 'width': 512, 'use_stereo': False}
    assert model.config == ModelConfig(num_layers=18, stem='per_domain')
    state = model.state_dict()
    assert torch.equal(state['recon_decoder.convt3.1.running_var'],
                       state_dicts['encoder.pth']['convt3.1.running_var'])
    assert torch.equal(state['pose_decoder.net.3.bias'], state_dicts['pose.pth']['net.3.bias'])
    assert torch.equal(state['private_code.night.weight'],
                       state_dicts['encoder.pth']['conv_diff_night.weight'])


def test_imported_depth_equals_hand_mapped_weights(reference, reference_folder):
    x = torch.rand(1, 3, 64, 128)
    expected = hand_mapped_depth_net(reference)
    net, info = load_depth_net(reference_folder, domain='night')
    model = import_reference_checkpoint(reference_folder)[0].eval()
    with torch.no_grad():
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(net(x), expected(x)))
        assert not torch.allclose(model.depth_net('day')(x)[0], net(x)[0])
        pose = model.pose(x, x)
    assert info['stem'] == 'night' and (info['height'], info['width']) == (256, 512)
    assert info['source'].startswith('sha256:') and info['report']['mapped'] > 500
    assert pose[0].shape == (1, 3)


def test_monodepth2_folder_loads_with_shared_stem(reference, tmp_path):
    encoder = {k: v for k, v in reference['encoder.pth'].items()
               if k.startswith('encoder.') or k in ('height', 'width')}
    torch.save(encoder, tmp_path / 'encoder.pth')
    torch.save(reference['depth.pth'], tmp_path / 'depth.pth')
    net, info = load_depth_net(tmp_path)
    assert net.stem == 'shared'
    uninitialised = info['report']['uninitialised_model_keys']
    other_parts = ('private', 'recon_decoder', 'invariant_code', 'pose')
    assert uninitialised and all(k.startswith(other_parts) for k in uninitialised)
    with pytest.raises(ValueError, match='depth network'):
        torch.save({'encoder.layer1.0.conv1.weight': torch.zeros(64, 64, 3, 3)},
                   tmp_path / 'encoder.pth')
        load_depth_net(tmp_path)


def test_bad_reference_inputs_are_named(reference, tmp_path):
    state_dicts = {name: dict(state) for name, state in reference.items()}
    state_dicts['depth.pth']['decoder.10.conv.weight'] = torch.zeros(2, 16, 3, 3)
    with pytest.raises(ValueError, match='decoder.10.conv.weight'):
        import_reference_checkpoint(state_dicts)
    with pytest.raises(FileNotFoundError, match='encoder.pth'):
        import_reference_checkpoint(tmp_path)
    with pytest.raises(ValueError, match='expected state dicts'):
        import_reference_checkpoint({'decoder.pth': {}})
    state_dicts['depth.pth']['decoder.10.conv.weight'] = torch.zeros(1, 16, 3, 3)
    state_dicts['pose.pth']['net.9.weight'] = torch.zeros(1)
    assert import_reference_checkpoint(state_dicts)[1].unmapped_source_keys == [
        'pose.pth:net.9.weight']


def test_project_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = ADDSModel().eval()
    path = tmp_path / 'checkpoint.pth'
    with atomic_path(path) as tmp:
        torch.save(checkpoint_dict(model, {'height': 64, 'width': 128, 'epoch': 3},
                                   {'lr': 1e-4}), tmp)
    net, info = load_depth_net(path, domain='night')
    x = torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        assert torch.equal(net(x)[0], model.depth_net()(x)[0])
    assert info['stem'] == 'shared' and (info['height'], info['width']) == (64, 128)
    assert info['format'] == 'adds_ros/1' and info['meta']['epoch'] == 3
    torch.save({'format': 'other'}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='adds_ros/1'):
        load_depth_net(tmp_path / 'bad.pth')
    with pytest.raises(FileNotFoundError):
        load_depth_net(tmp_path / 'missing.pth')
