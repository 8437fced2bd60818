# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds export`: project checkpoints and the authors' layout -> ONNX equal to PyTorch."""

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from reference_fixtures import load_layout, random_state_dicts
import torch

from adds_ros import __version__
from adds_ros.errors import UserValueError
from adds_ros.backends.trt_rules import check_model
from adds_ros.estimator import DepthEstimator
from adds_ros.metadata import ModelMetadata
from adds_training import export
from adds_training.checkpoint import checkpoint_dict
from adds_training.geometry import disp_to_depth
from adds_training.networks import ADDSModel, load_depth_net

HEIGHT, WIDTH = 64, 128
META = {'height': HEIGHT, 'width': WIDTH, 'crop': [0.25, 0.75, 0.0, 1.0], 'min_depth': 0.1,
        'max_depth': 80.0, 'metric_scale': 3.0,
        'intrinsics': [[0.6, 0.0, 0.5], [0.0, 1.2, 0.5], [0.0, 0.0, 1.0]]}


def run_export(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    return export.run(parser.parse_args([str(a) for a in argv]))


def onnx_outputs(path: Path, image: np.ndarray) -> dict:
    session = onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {'image': image})))


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """A project checkpoint (random ADDSModel, BN statistics made non-trivial) and its export."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('project')
    model = ADDSModel().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    checkpoint = folder / 'adds.pt'
    torch.save(checkpoint_dict(model, META), checkpoint)
    out = folder / 'adds.onnx'
    assert run_export('--checkpoint', checkpoint, '--out', out) == 0
    return checkpoint, out


@pytest.fixture(scope='module')
def project_net(project):
    """The project checkpoint's DepthNet and loader info, loaded once."""
    return load_depth_net(project[0])


@pytest.mark.slow
def test_project_checkpoint_exports_clean_onnx_with_metadata(project, project_net):
    _, out = project
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')) >= 17
    image = model.graph.input[0]
    assert image.name == 'image'
    assert [d.dim_value for d in image.type.tensor_type.shape.dim] == [1, 3, HEIGHT, WIDTH]
    assert [o.name for o in model.graph.output] == ['disparity', 'depth']
    assert not any(n.op_type in ('Identity', 'Constant') for n in model.graph.node)
    assert check_model(model) == []          # TensorRT 10.3, 10.x and 11 import it
    metadata = ModelMetadata.from_onnx(out)
    assert metadata.crop == (0.25, 0.75, 0.0, 1.0) and metadata.metric_scale == 3.0
    assert metadata.max_depth == 80.0 and metadata.intrinsics == META['intrinsics']
    assert (metadata.input_height, metadata.input_width) == (HEIGHT, WIDTH)
    assert metadata.stem == 'shared' and metadata.version == __version__
    assert metadata.source_hash == project_net[1]['source']


def test_onnx_runtime_equals_pytorch(project, project_net):
    _, out = project
    net = project_net[0]
    image = np.random.default_rng(1).random((1, 3, HEIGHT, WIDTH), dtype=np.float32)
    with torch.no_grad():
        disparity = net(torch.from_numpy(image))[0]
        depth = 3.0 * disp_to_depth(disparity, 0.1, 80.0)[1]
    outputs = onnx_outputs(out, image)
    np.testing.assert_allclose(outputs['disparity'], disparity.numpy(), atol=1e-4)
    np.testing.assert_allclose(outputs['depth'], depth.numpy(), rtol=1e-4)


def test_torch_backend_matches_the_onnx_estimator(project):
    checkpoint, out = project
    rgb = np.random.default_rng(2).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    onnx_estimator = DepthEstimator(out, backend='onnxruntime', device='cpu')
    reference = onnx_estimator.predict(rgb)
    torch_estimator = DepthEstimator(checkpoint, device='cpu')
    assert torch_estimator.backend_name == 'torch'
    assert torch_estimator.metadata == onnx_estimator.metadata
    prediction = torch_estimator.predict(rgb)
    np.testing.assert_allclose(prediction.disparity, reference.disparity, atol=1e-4)
    inside = np.isfinite(reference.depth)
    assert inside[24:72].all() and not inside[:24].any()
    np.testing.assert_allclose(prediction.depth[inside], reference.depth[inside], rtol=1e-3)


def reference_folder(folder: Path, seed: int = 0) -> Path:
    """The authors' encoder.pth + depth.pth with the layout's shapes and random values."""
    state_dicts = random_state_dicts(load_layout(), seed, HEIGHT, WIDTH)
    for name in ('encoder.pth', 'depth.pth'):
        torch.save(state_dicts[name], folder / name)
    return folder


@pytest.mark.slow
def test_reference_layout_exports_the_night_stem(tmp_path):
    folder = reference_folder(tmp_path)
    out = tmp_path / 'export' / 'night.onnx'
    assert run_export('--checkpoint', folder, '--out', out, '--domain', 'night',
                      '--dynamic-batch') == 0
    metadata = ModelMetadata.from_onnx(out)
    assert metadata.stem == 'night' and metadata.metric_scale is None
    assert metadata.outputs == ['disparity']
    np.testing.assert_allclose(metadata.crop, (1 / 6, 5 / 6, 0.0, 1.0))
    np.testing.assert_allclose(metadata.intrinsics[1][1], 983.044006 / 640, rtol=1e-6)
    net, _ = load_depth_net(folder, 'night')
    image = np.random.default_rng(3).random((2, 3, HEIGHT, WIDTH), dtype=np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(image))[0].numpy()
    np.testing.assert_allclose(onnx_outputs(out, image)['disparity'], expected, atol=1e-4)


def test_export_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='metric-scale'):
        run_export('--checkpoint', tmp_path, '--out', tmp_path / 'x.onnx', '--metric-scale', '0')
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        run_export('--checkpoint', tmp_path / 'nope.pt', '--out', tmp_path / 'x.onnx')
    with pytest.raises(ValueError, match='multiple of 32'):
        export.build_metadata({}, {'height': 100, 'width': 128}, 'shared')


CAMERA = (192, 320)  # crop rows 48:144 -> 96 x 320, shrunk 1.5 x 2.5 to 64 x 128 (INTER_AREA)
# Measured (3 frames): in-graph depth within 8.3e-6 relative of the host path's, median 1.2e-7
# (float rounding: the resize taps are OpenCV's own); the bounds leave room for other CPUs.
IN_GRAPH_MAX_RTOL, IN_GRAPH_MEDIAN_RTOL = 1e-4, 1e-5


@pytest.fixture(scope='module')
def in_graph(tmp_path_factory):
    """A checkpoint whose depth spans the range, exported plain and with --camera-size.

    Random weights give a nearly constant disparity, which would hide resampling errors: the
    scale-0 disparity head is amplified so the depth varies from pixel to pixel.
    """
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp('in_graph')
    model = ADDSModel().eval()
    with torch.no_grad():
        model.depth_decoder.decoder[10].conv.weight *= 200.0
    checkpoint, host, camera = folder / 'varied.pt', folder / 'host.onnx', folder / 'camera.onnx'
    torch.save(checkpoint_dict(model, META), checkpoint)
    assert run_export('--checkpoint', checkpoint, '--out', host) == 0
    assert run_export('--checkpoint', checkpoint, '--out', camera, '--camera-size',
                      f'{CAMERA[1]}x{CAMERA[0]}') == 0
    return checkpoint, host, camera


def camera_images(count: int = 3):
    """Noise, a smooth ramp scene and a saturated one: the resize and NaN edges all matter."""
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 256, (*CAMERA, 3), dtype=np.uint8)
    ramp = np.outer(np.linspace(0.2, 1, CAMERA[0]), np.linspace(0, 255, CAMERA[1]))[..., None]
    scene = np.clip(ramp + rng.normal(0, 8, (*CAMERA, 3)), 0, 255).astype(np.uint8)
    return [noise, scene, np.full((*CAMERA, 3), 255, np.uint8)][:count]


@pytest.mark.slow
def test_in_graph_export_takes_the_camera_frame_and_returns_camera_maps(in_graph):
    model = onnx.load(str(in_graph[2]))
    onnx.checker.check_model(model, full_check=True)
    image = model.graph.input[0]
    assert image.name == 'image' and image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in image.type.tensor_type.shape.dim] == [1, *CAMERA, 3]
    outputs = {o.name: o.type.tensor_type for o in model.graph.output}
    assert list(outputs) == ['depth', 'disparity']
    for tensor in outputs.values():
        assert tensor.elem_type == onnx.TensorProto.FLOAT
        assert [d.dim_value for d in tensor.shape.dim] == list(CAMERA)
    metadata = ModelMetadata.from_onnx(in_graph[2])
    assert metadata.in_graph and (metadata.camera_height, metadata.camera_width) == CAMERA
    # TensorRT takes UINT8 only as network I/O or a Cast's input: the frame is cast first
    assert [n.op_type for n in model.graph.node if 'image' in n.input] == ['Cast']
    assert check_model(model) == []
    assert metadata.metric_scale == 3.0 and metadata.outputs == ['depth', 'disparity']


def test_in_graph_depth_equals_the_host_path(in_graph):
    """Parity as a number: relative depth difference to today's host pre/post-processing."""
    host = DepthEstimator(in_graph[1], backend='onnxruntime', device='cpu')
    camera = DepthEstimator(in_graph[2], backend='onnxruntime', device='cpu')
    worst, medians, spreads = 0.0, [], []
    for rgb in camera_images():
        expected, got = host.predict(rgb), camera.predict(rgb)
        assert got.depth.shape == got.disparity.shape == CAMERA
        assert np.array_equal(np.isnan(got.depth), np.isnan(expected.depth))
        assert np.isnan(got.depth[:48]).all() and np.isfinite(got.depth[48:144]).all()
        inside = np.isfinite(expected.depth)
        relative = np.abs(got.depth[inside] / expected.depth[inside] - 1.0)
        worst, medians = max(worst, relative.max()), medians + [np.median(relative)]
        np.testing.assert_allclose(got.disparity[48:144], disparity_at_camera(expected),
                                   atol=1e-5)
        assert camera.metric_depth(got) is not None
        spreads.append(np.ptp(expected.depth[inside]))
    assert max(spreads) > 1.0  # depth maps, not constants (depth units of 0.1..80)
    assert worst <= IN_GRAPH_MAX_RTOL and max(medians) <= IN_GRAPH_MEDIAN_RTOL


def disparity_at_camera(prediction) -> np.ndarray:
    """The host's disparity in the crop rows at camera size, from its depth (0.1..80 range)."""
    min_disp, max_disp = 1 / 80.0, 1 / 0.1
    return (1.0 / prediction.depth[48:144] - min_disp) / (max_disp - min_disp)


def test_in_graph_model_runs_in_the_torch_backend_too(in_graph):
    checkpoint, _, camera = in_graph
    onnx_side = DepthEstimator(camera, backend='onnxruntime', device='cpu')
    torch_side = DepthEstimator(checkpoint, device='cpu', camera_size=CAMERA)
    assert torch_side.metadata.in_graph and torch_side.metadata.outputs == ['depth', 'disparity']
    borrowed = DepthEstimator(checkpoint, device='cpu', metadata=camera)
    assert borrowed.metadata == onnx_side.metadata
    rgb = camera_images(1)[0]
    reference = onnx_side.predict(rgb)
    for estimator in (torch_side, borrowed):
        prediction = estimator.predict(rgb)
        np.testing.assert_allclose(prediction.depth, reference.depth, rtol=1e-4)
        np.testing.assert_allclose(prediction.disparity, reference.disparity, atol=1e-5)


def test_in_graph_model_refuses_another_camera_size(in_graph):
    from adds_ros.image_decode import InputError

    estimator = DepthEstimator(in_graph[2], backend='onnxruntime', device='cpu')
    with pytest.raises(InputError, match='320x192') as err:
        estimator.predict(np.zeros((CAMERA[0], CAMERA[1] + 2, 3), np.uint8))
    assert err.value.reason == 'size_mismatch'


def test_camera_size_option_is_checked(project, tmp_path):
    assert export.camera_size('1280x960') == (960, 1280)
    for bad in ('1280', '1280x', 'x960', '0x960', '12a0x960'):
        with pytest.raises(argparse.ArgumentTypeError, match='WIDTHxHEIGHT'):
            export.camera_size(bad)
    with pytest.raises(UserValueError, match='dynamic-batch'):
        run_export('--checkpoint', project[0], '--out', tmp_path / 'x.onnx', '--camera-size',
                   '320x192', '--dynamic-batch')
    thin = tmp_path / 'thin.pt'
    torch.save(checkpoint_dict(ADDSModel(), {**META, 'crop': [0.5, 0.5001, 0.0, 1.0]}), thin)
    with pytest.raises(UserValueError, match='camera-size.*no pixels of a 4x320'):
        run_export('--checkpoint', thin, '--out', tmp_path / 'x.onnx', '--camera-size', '320x4')
    assert not (tmp_path / 'x.onnx').exists()


@pytest.mark.slow
def test_export_refuses_a_graph_tensorrt_would_refuse_naming_the_node(tmp_path):
    """A graph indexing the uint8 frame (the camera-size export before the fix) is not written."""
    metadata = ModelMetadata(input_height=8, input_width=16, in_graph=True, camera_height=8,
                             camera_width=16, outputs=['depth', 'disparity'])

    class Gathers(torch.nn.Module):
        def forward(self, image):
            rows = torch.index_select(image, 1, torch.tensor([0, 2, 4, 6])).float()
            return rows.mean(3)[0], rows.mean(3)[0]

    out = tmp_path / 'gathers.onnx'
    with pytest.raises(UserValueError, match=r"would refuse it: node '\w+' \(Gather\): input "
                                             r"'image' is UINT8"):
        export.export_onnx(Gathers().eval(), metadata, out)
    assert not out.exists()


def test_per_image_normalisation_exports_and_runs_in_onnx_runtime(project, tmp_path):
    """`--normalisation per_image`: every BatchNorm becomes InstanceNormalization in the graph;
    ONNX Runtime equals PyTorch, and each image of a batch is normalised on its own."""
    checkpoint, _ = project
    out = tmp_path / 'per_image.onnx'
    assert run_export('--checkpoint', checkpoint, '--out', out, '--normalisation',
                      'per_image', '--dynamic-batch') == 0
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert 'InstanceNormalization' in ops and 'BatchNormalization' not in ops
    net, info = load_depth_net(checkpoint, normalisation='per_image')
    assert info['normalisation'] == 'per_image'
    images = np.random.default_rng(3).random((2, 3, HEIGHT, WIDTH), dtype=np.float32)
    images[1] *= 0.2                                    # a dark second image
    with torch.no_grad():
        disparity = net(torch.from_numpy(images))[0].numpy()
    np.testing.assert_allclose(onnx_outputs(out, images)['disparity'], disparity, atol=1e-4)
    alone = onnx_outputs(out, images[:1])['disparity']
    np.testing.assert_allclose(alone, disparity[:1], atol=1e-4)
