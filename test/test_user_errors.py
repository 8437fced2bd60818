# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Bad input to `adds` commands ends in one line `adds <command>: <problem>`, exit 2, no trace.

Each case runs the real command through `adds_ros.cli.main` on files made here: corrupt ground
truth, files that are not checkpoints, bad training configs, ONNX graphs that do not match
their metadata.
"""

from pathlib import Path

import numpy as np
import pytest
from test_trainer_support import HEIGHT, make_tiny_dataset, WIDTH
import torch

from adds_ros.cli import main
from adds_ros.errors import EXIT_USER_ERROR, UserError
from adds_training.checkpoint import checkpoint_dict, save_checkpoint
from adds_training.data import layout


def one_error_line(capsys, argv) -> str:
    """Run `adds argv`; check exit 2 and a single stderr line; return that line."""
    assert main([str(a) for a in argv]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert 'Traceback' not in err and err.count('\n') == 1, err
    err = err.split('\r')[-1]  # after a progress bar's redraws (it clears its line on close)
    assert err.startswith(f'adds {argv[0]}: '), err
    return err.strip()


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp('tiny'))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from adds_training.networks import ADDSModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'model.pt'
    save_checkpoint(path, checkpoint_dict(ADDSModel(), {'height': HEIGHT, 'width': WIDTH},
                                          {'mode': 'adds'}))
    return path


def _corrupt_png(data: bytes, how: str) -> bytes:
    if how == 'empty':
        return b''
    if how == 'truncated':
        return data[:len(data) // 2]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF   # inside the image data: its CRC no longer matches
    return bytes(flipped)


@pytest.mark.parametrize('how, problem', [
    ('empty', 'the file is empty'),
    ('truncated', 'truncated PNG'),
    ('bitflip', "corrupt PNG (CRC mismatch in the 'IDAT' chunk"),
])
def test_eval_names_a_bad_ground_truth_png(data, checkpoint, tmp_path, capsys, how, problem):
    gt = layout.gt_path(data, 'seq', 1)
    good = gt.read_bytes()
    try:
        gt.write_bytes(_corrupt_png(good, how))
        line = one_error_line(capsys, ['eval', '--checkpoint', checkpoint, '--data', data,
                                       '--splits', 'val_day', '--protocols', 'full40',
                                       '--out', tmp_path, '--device', 'cpu'])
    finally:
        gt.write_bytes(good)
    assert line.startswith(f'adds eval: ground truth {gt}: {problem}')


def test_eval_names_a_missing_data_folder_and_split(data, checkpoint, tmp_path, capsys):
    line = one_error_line(capsys, ['eval', '--checkpoint', checkpoint, '--data',
                                   tmp_path / 'nope', '--device', 'cpu'])
    assert line == f'adds eval: --data {tmp_path / "nope"}: no such folder'
    line = one_error_line(capsys, ['eval', '--checkpoint', checkpoint, '--data', data,
                                   '--splits', 'test_moon', '--device', 'cpu'])
    assert "split 'test_moon' not found" in line


@pytest.mark.parametrize('content, problem', [
    ('text', 'not a PyTorch file'),
    ('tensor', 'it holds a bare Tensor'),
    ('other dict', "it holds format 'something/else'"),
    ('empty', 'the file is empty'),
    ('truncated', 'truncated/corrupt'),
    ('pickle', 'Python objects other than tensors'),
])
def test_export_says_a_file_is_not_a_checkpoint(tmp_path, capsys, content, problem):
    path = tmp_path / 'model.pt'
    if content == 'text':
        path.write_text('these are not the weights you are looking for\n')
    elif content == 'tensor':
        torch.save(torch.zeros(3), path)
    elif content == 'other dict':
        torch.save({'format': 'something/else', 'model': {}}, path)
    elif content == 'empty':
        path.write_bytes(b'')
    elif content == 'truncated':
        torch.save({'format': 'adds_ros/1', 'model': {'w': torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:2000])
    else:
        torch.save({'format': 'adds_ros/1', 'model': np.float64}, path)  # a class: not weights
    line = one_error_line(capsys, ['export', '--checkpoint', path, '--out', tmp_path / 'm.onnx'])
    assert line.startswith(f'adds export: {path}: not an adds_ros checkpoint: ')
    assert problem in line
    assert not (tmp_path / 'm.onnx').exists()


def test_node_backend_refuses_a_wrong_kind_pt_as_a_value_error(tmp_path):
    """The node reports ValueError at configure; the loader's error is one, and names the file."""
    from adds_ros.backends import create_backend

    path = tmp_path / 'weights.pt'
    torch.save({'encoder': torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=f'{path}: not an adds_ros checkpoint: it holds format '
                                         'None') as err:
        create_backend(path, backend='torch', device='cpu')
    assert isinstance(err.value, UserError)


@pytest.mark.parametrize('words, message', [
    (['lrr=1'], "unknown config key 'lrr' in 'lrr=1'"),
    (['lr=-1'], 'lr must be a positive finite number, got -1'),
    (['lr=0'], 'lr must be a positive finite number, got 0'),
    (['batch_size=six'], "batch_size must be an integer, got 'six'"),
    (['num_workers=-2'], 'num_workers must be >= 0, got -2'),
    (['lr_gamma=1.5'], 'lr_gamma must be in (0, 1], got 1.5'),
    (['max_steps=0'], 'max_steps must be >= 1, got 0'),
    (['loss.similarty=0'], "unknown loss keys ['similarty']"),
    (['model.num_layer=18'], "unknown model keys ['num_layer']"),
    (['data_root='], 'data_root is not set'),
])
def test_train_refuses_bad_config_values(capsys, words, message):
    line = one_error_line(capsys, ['train', *words])
    assert line.startswith(f'adds train: {message}'), line


def test_train_names_a_missing_data_root_and_config_file(tmp_path, capsys):
    missing = tmp_path / 'no_data'
    line = one_error_line(capsys, ['train', f'data_root={missing}', f'out_dir={tmp_path}'])
    assert line == f'adds train: data_root {missing}: no such folder'
    line = one_error_line(capsys, ['train', '--config', tmp_path / 'nope.yaml'])
    assert line == f'adds train: {tmp_path / "nope.yaml"}: no such config file'
    (tmp_path / 'bad.yaml').write_text('lr: [1, 2\n')
    line = one_error_line(capsys, ['train', '--config', tmp_path / 'bad.yaml'])
    assert line.startswith(f'adds train: {tmp_path / "bad.yaml"}: not a YAML file')


def _onnx(path: Path, output_name: str, output_channels: int, rank: int = 4) -> Path:
    """A tiny graph (mean/slice of the image) with valid metadata for a 64x128 network."""
    import onnx
    from onnx import helper, TensorProto

    from adds_ros.metadata import ModelMetadata

    image = helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, HEIGHT, WIDTH])
    shape = [1, output_channels, HEIGHT, WIDTH][4 - rank:]
    out = helper.make_tensor_value_info(output_name, TensorProto.FLOAT, shape)
    axes = helper.make_tensor('axes', TensorProto.INT64, [1], [1])
    nodes = [helper.make_node('ReduceMean', ['image', 'axes'], ['mean'],
                              keepdims=int(rank == 4))]
    nodes.append(helper.make_node('Concat', ['mean'] * output_channels, [output_name], axis=1)
                 if rank == 4 else helper.make_node('Identity', ['mean'], [output_name]))
    graph = helper.make_graph(nodes, 'g', [image], [out], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    for key, value in ModelMetadata(input_height=HEIGHT, input_width=WIDTH).to_onnx_props(
            ).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(path))
    return path


@pytest.mark.parametrize('name, channels, rank, problem', [
    ('disp', 1, 4, "no output 'disparity' (the graph has ['disp'])"),
    ('disparity', 3, 4, "output 'disparity' is tensor(float) [1, 3, 64, 128], expected float "
                        '[N, 1, 64, 128]'),
    ('disparity', 1, 3, "output 'disparity' is tensor(float) [1, 64, 128]"),
])
def test_onnx_graph_not_fitting_its_metadata_is_refused_at_load(tmp_path, name, channels, rank,
                                                                problem):
    from adds_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

    good = OnnxRuntimeBackend(_onnx(tmp_path / 'good.onnx', 'disparity', 1), device='cpu')
    image = np.random.default_rng(0).random((1, 3, HEIGHT, WIDTH), dtype=np.float32)
    np.testing.assert_allclose(good.infer(image)['disparity'], image.mean(1, keepdims=True),
                               rtol=1e-5)
    bad = _onnx(tmp_path / 'bad.onnx', name, channels, rank)
    with pytest.raises(ValueError, match='the graph does not match its metadata') as err:
        OnnxRuntimeBackend(bad, device='cpu')
    assert isinstance(err.value, UserError)
    assert str(err.value).startswith(f'{bad}: ') and problem in str(err.value)


def test_parity_names_a_missing_model_no_images_and_mismatched_models(tmp_path, capsys):
    from node_fixtures import tiny_model

    images = tmp_path / 'images'
    images.mkdir()
    small, large = tiny_model(tmp_path / 'small.onnx'), tiny_model(tmp_path / 'large.onnx',
                                                                   height=64, width=128)
    argv = ['parity', '--model', small, '--reference', large, '--images', images,
            '--device', 'cpu']
    assert one_error_line(capsys, argv).startswith('adds parity: no images (')
    layout.write_rgb(images / 'a.png', np.full((48, 96, 3), 90, np.uint8))
    line = one_error_line(capsys, argv[:2] + [tmp_path / 'nope.onnx'] + argv[3:])
    assert line == f'adds parity: no model file at {tmp_path / "nope.onnx"}'
    line = one_error_line(capsys, argv)
    assert line == ('adds parity: the models have different input sizes: (32, 64) vs '
                    '(64, 128)')


def test_train_names_imagenet_weights_that_are_not_weights(data, tmp_path, capsys):
    weights = tmp_path / 'resnet18.pth'
    weights.write_text('not weights\n')
    line = one_error_line(capsys, ['train', f'data_root={data}', f'out_dir={tmp_path / "run"}',
                                   f'height={HEIGHT}', f'width={WIDTH}', 'device=cpu',
                                   f'model.pretrained_path={weights}'])
    assert line.startswith(f'adds train: {weights}: not a torchvision ResNet state_dict: ')


@pytest.mark.parametrize('argv, message', [
    (['prepare', '--height', '0'], "option 'height' = 0 is outside"),
    (['prepare', '--exclude-margin', '-1'], "option 'exclude_margin_s' = -1.0 is "),
    (['gt', '--extrinsics', 'e', '--window', '-2'], "option 'window_s' = -2.0 is outside"),
    (['gt', '--extrinsics', 'e', '--workers', '0'], "option 'workers' = 0 is outside")])
def test_prepare_and_gt_refuse_values_out_of_their_declared_range(tmp_path, capsys, argv,
                                                                  message):
    command, *options = argv
    argv = [command, '--raw', tmp_path / 'seq', '--models', tmp_path, '--out', tmp_path / 'out',
            '--folder', 'f', *options]
    assert message in one_error_line(capsys, argv)
