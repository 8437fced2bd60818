# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""DepthEstimator geometry, metadata, backend choice, post-processing, parity (no torch)."""

import argparse
import json

import cv2
import numpy as np
import onnx
from onnx import helper, TensorProto
import pytest

from adds_ros.backends import choose_backend, parse_device
from adds_ros.backends.onnxruntime_backend import CPU, CUDA, select_providers, TENSORRT
from adds_ros.estimator import DepthEstimator, DepthPrediction
from adds_ros.image_decode import InputError
from adds_ros.metadata import ModelMetadata
from adds_ros.postprocess import colorize, disp_to_depth
from adds_ros.preprocess import crop_box, to_network_input
from adds_training.tools import parity


def tiny_onnx(path, metadata: ModelMetadata, weight: float = 0.0, bias: float = 0.5):
    """A 1x1 conv graph: disparity = weight * sum(rgb) + bias, with `metadata` as props."""
    shape = [1, 3, metadata.input_height, metadata.input_width]
    out_shape = [1, 1, metadata.input_height, metadata.input_width]
    w = helper.make_tensor('w', TensorProto.FLOAT, [1, 3, 1, 1], [weight] * 3)
    b = helper.make_tensor('b', TensorProto.FLOAT, [1], [bias])
    graph = helper.make_graph(
        [helper.make_node('Conv', ['image', 'w', 'b'], ['disparity'])], 'tiny',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info('disparity', TensorProto.FLOAT, out_shape)], [w, b])
    return save_model(graph, metadata, path)


def save_model(graph, metadata: ModelMetadata, path):
    """Write `graph` as an opset-17 model with `metadata` as props; return `path`."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    for key, value in metadata.to_onnx_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def tiny_in_graph_onnx(path, metadata: ModelMetadata):
    """An in-graph-shaped graph: uint8 frame -> disparity = channel sum, depth = 2 x that."""
    height, width = metadata.camera_height, metadata.camera_width
    axes = helper.make_tensor('axes', TensorProto.INT64, [2], [0, 3])
    two = helper.make_tensor('two', TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph(
        [helper.make_node('Cast', ['image'], ['f'], to=TensorProto.FLOAT),
         helper.make_node('ReduceSum', ['f', 'axes'], ['disparity'], keepdims=0),
         helper.make_node('Mul', ['disparity', 'two'], ['depth'])], 'tiny_in_graph',
        [helper.make_tensor_value_info('image', TensorProto.UINT8, [1, height, width, 3])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [height, width])
         for name in ('depth', 'disparity')], [axes, two])
    return save_model(graph, metadata, path)


def meta(**overrides) -> ModelMetadata:
    values = dict(input_height=32, input_width=64, crop=(0.25, 0.75, 0.0, 1.0), min_depth=0.5,
                  max_depth=50.0, metric_scale=None, stem='shared', source_hash='sha256:00',
                  version='0.1.0')
    values.update(overrides)
    return ModelMetadata(**values)


def random_rgb(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_metadata_round_trips_through_props_and_file(tmp_path):
    original = meta(metric_scale=2.5, stem='night', outputs=['disparity', 'depth'],
                    intrinsics=[[0.7, 0, 0.5], [0, 1.5, 0.52], [0, 0, 1]])
    props = original.to_onnx_props()
    assert all(isinstance(v, str) for v in props.values())
    assert ModelMetadata.from_onnx_props(props) == original
    assert ModelMetadata.from_onnx(tiny_onnx(tmp_path / 'm.onnx', original)) == original
    assert ModelMetadata.from_json(original.to_json()) == original


@pytest.mark.parametrize('change, message', [
    ({'crop': (0.5, 0.4, 0, 1)}, 'crop'), ({'stem': 'dusk'}, 'stem'),
    ({'min_depth': 10.0, 'max_depth': 5.0}, 'min_depth'), ({'metric_scale': -1.0}, 'metric'),
    ({'intrinsics': [[1, 0], [0, 1]]}, 'intrinsics'), ({'outputs': ['depth']}, 'disparity'),
    ({'input_height': 0}, 'input size'), ({'precision': 'int4'}, 'precision')])
def test_metadata_rejects_unusable_values(change, message):
    with pytest.raises(ValueError, match=message):
        meta(**change)


def test_metadata_missing_or_broken_props_are_named(tmp_path):
    props = meta().to_onnx_props()
    del props['adds_ros.crop']
    with pytest.raises(ValueError, match='adds_ros.crop'):
        ModelMetadata.from_onnx_props(props)
    props = meta(precision='fp16').to_onnx_props()
    del props['adds_ros.precision']
    assert ModelMetadata.from_onnx_props(props).precision == 'fp32'
    props['adds_ros.max_depth'] = '{'
    with pytest.raises(ValueError, match='adds_ros.max_depth'):
        ModelMetadata.from_onnx_props(props)


def in_graph_meta(**overrides) -> ModelMetadata:
    return meta(**{'in_graph': True, 'camera_height': 48, 'camera_width': 80,
                   'outputs': ['depth', 'disparity'], **overrides})


def test_in_graph_metadata_round_trips_and_old_files_are_host_processed(tmp_path):
    original = in_graph_meta()
    assert ModelMetadata.from_onnx_props(original.to_onnx_props()) == original
    assert ModelMetadata.from_json(original.to_json()) == original
    assert original.input_shape() == (1, 48, 80, 3) and original.output_shape() == (48, 80)
    props = meta().to_onnx_props()
    for key in ('in_graph', 'camera_height', 'camera_width'):
        del props['adds_ros.' + key]
    old = ModelMetadata.from_onnx_props(props)
    assert not old.in_graph and old.input_shape() == (None, 3, 32, 64)


@pytest.mark.parametrize('change, message', [
    ({'camera_height': 0}, 'positive camera size'),
    ({'outputs': ['disparity']}, 'returns'),
    ({'crop': (0.5, 0.5001, 0.0, 1.0)}, 'no pixels of a 48x80'),
    ({'in_graph': False}, 'only for in-graph')])
def test_in_graph_metadata_rejects_unusable_values(change, message):
    with pytest.raises(ValueError, match=message):
        in_graph_meta(**change)


def test_in_graph_model_gets_the_frame_and_its_maps_come_back(tmp_path):
    estimator = DepthEstimator(tiny_in_graph_onnx(tmp_path / 'i.onnx', in_graph_meta()),
                               device='cpu')
    rgb = random_rgb(48, 80)
    prediction = estimator.predict(rgb)
    expected = rgb.astype(np.float32).sum(2)
    np.testing.assert_array_equal(prediction.disparity, expected)
    np.testing.assert_array_equal(prediction.depth, 2 * expected)
    assert prediction.depth.shape == (48, 80) and prediction.depth.dtype == np.float32
    assert set(prediction.timings) == {'preprocess', 'inference', 'postprocess'}
    with pytest.raises(InputError, match='80x40 but the model was exported for 80x48') as err:
        estimator.predict(random_rgb(40, 80))
    assert err.value.reason == 'size_mismatch'
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        estimator.predict(rgb.astype(np.float32))


def relabel(path, metadata):
    """Give the ONNX file at `path` another model's metadata (graph unchanged)."""
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.to_onnx_props().items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
    return path


def test_graph_must_match_in_graph_metadata(tmp_path):
    host_graph = relabel(tiny_onnx(tmp_path / 'h.onnx', meta()), in_graph_meta())
    with pytest.raises(ValueError, match=r"expected uint8 \[1, 48, 80, 3\]"):
        DepthEstimator(host_graph, device='cpu')
    path = relabel(tiny_in_graph_onnx(tmp_path / 'i.onnx', in_graph_meta()), meta())
    with pytest.raises(ValueError, match=r'expected float \[N, 3, 32, 64\]'):
        DepthEstimator(path, device='cpu')


def test_crop_box_gives_robotcar_rows():
    assert crop_box((1 / 6, 5 / 6, 0, 1), 960, 1280) == (160, 800, 0, 1280)
    with pytest.raises(ValueError, match='no pixels'):
        crop_box((0.5, 0.5001, 0, 1), 10, 10)


def test_network_input_is_cropped_resized_nchw_in_unit_range():
    rgb = np.zeros((40, 80, 3), np.uint8)
    rgb[10:30, 40:] = (255, 0, 0)      # red right half of the crop rows
    x = to_network_input(rgb, (0.25, 0.75, 0.0, 1.0), 8, 16)
    assert x.shape == (1, 3, 8, 16) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, :, 8:], 1.0)
    np.testing.assert_allclose(x[0, 0, :, :8], 0.0)
    np.testing.assert_allclose(x[0, 1:], 0.0)


def test_constant_disparity_gives_expected_depth_inside_crop_and_nan_outside(tmp_path):
    metadata = meta()
    estimator = DepthEstimator(tiny_onnx(tmp_path / 'c.onnx', metadata, bias=0.25),
                               device='cpu')
    assert estimator.backend_name == 'onnxruntime'
    rgb = random_rgb(120, 200)
    prediction = estimator.predict(rgb)
    expected = 1.0 / (1 / 50.0 + (1 / 0.5 - 1 / 50.0) * 0.25)
    assert prediction.depth.shape == (120, 200) and prediction.depth.dtype == np.float32
    np.testing.assert_allclose(prediction.depth[30:90], expected, rtol=1e-5)
    assert np.isnan(prediction.depth[:30]).all() and np.isnan(prediction.depth[90:]).all()
    assert prediction.disparity.shape == (32, 64)
    assert set(prediction.timings) == {'preprocess', 'inference', 'postprocess'}
    assert estimator.metric_depth(prediction) is None
    np.testing.assert_allclose(estimator.metric_depth(prediction, 2.0)[30:90], 2 * expected,
                               rtol=1e-5)


def test_metric_depth_uses_the_model_scale(tmp_path):
    estimator = DepthEstimator(tiny_onnx(tmp_path / 's.onnx', meta(metric_scale=3.0)),
                               device='cpu')
    prediction = estimator.predict(random_rgb(64, 128))
    metric = estimator.metric_depth(prediction)
    np.testing.assert_allclose(metric[16:48], 3.0 * prediction.depth[16:48])
    with pytest.raises(ValueError, match='positive'):
        estimator.metric_depth(prediction, -1.0)


def test_upsampled_disparity_lines_up_with_the_camera_image(tmp_path):
    # disparity = mean intensity; a horizontal ramp in the crop must come back in place.
    metadata = meta(crop=(0.2, 0.8, 0.5, 1.0), input_height=32, input_width=64,
                    min_depth=1.0, max_depth=1e6)
    path = tiny_onnx(tmp_path / 'g.onnx', metadata, weight=1 / 3, bias=0.0)
    camera_h, camera_w = 100, 256
    ramp = np.tile(np.linspace(0, 255, camera_w), (camera_h, 1))
    rgb = np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8)
    prediction = DepthEstimator(path, device='cpu').predict(rgb)
    top, bottom, left, right = crop_box(metadata.crop, camera_h, camera_w)
    assert (top, bottom, left, right) == (20, 80, 128, 256)
    inside = prediction.depth[top:bottom, left:right]
    assert np.isfinite(inside).all()
    assert np.isnan(prediction.depth[:, :left]).all()
    # depth ~ 1/disparity with max_depth huge; compare intensities away from the borders
    recovered = 255.0 / inside[:, 8:-8]
    np.testing.assert_allclose(recovered, ramp[top:bottom, left + 8:right - 8], atol=2.0)


def test_bad_images_are_rejected_with_a_clear_error(tmp_path):
    estimator = DepthEstimator(tiny_onnx(tmp_path / 'b.onnx', meta()), device='cpu')
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        estimator.predict(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match='HxWx3 uint8'):
        estimator.predict(np.zeros((10, 10), np.uint8))


def test_onnx_without_metadata_is_refused(tmp_path):
    path = tiny_onnx(tmp_path / 'n.onnx', meta())
    model = onnx.load(str(path))
    del model.metadata_props[:]
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match='adds export'):
        DepthEstimator(path, device='cpu')


def test_backend_is_chosen_from_file_and_parameter(tmp_path):
    assert choose_backend('m.onnx', 'auto', usable=lambda cls: cls.name != 'tensorrt'
                          ) == 'onnxruntime'
    assert choose_backend('m.onnx', 'auto', usable=lambda cls: True) == 'tensorrt'
    assert choose_backend('m.engine', usable=lambda cls: False) == 'tensorrt'  # it says why
    assert choose_backend('m.engine') == 'tensorrt'
    assert choose_backend('m.pth') == 'torch'
    assert choose_backend('m.onnx', 'tensorrt') == 'tensorrt'
    with pytest.raises(ValueError, match='cannot run a .engine'):
        choose_backend('m.engine', 'onnxruntime')
    with pytest.raises(ValueError, match='unknown backend'):
        choose_backend('m.onnx', 'openvino')
    with pytest.raises(ValueError, match='cannot tell how to run'):
        choose_backend('m.tflite')
    with pytest.raises(FileNotFoundError):
        DepthEstimator(tmp_path / 'missing.onnx')


def test_execution_providers_follow_the_device():
    assert select_providers('cpu', [CPU, CUDA]) == [CPU]
    assert select_providers('auto', [CPU]) == [CPU]
    assert select_providers('auto', [CUDA, CPU])[0][0] == CUDA
    providers = select_providers('tensorrt:1', [TENSORRT, CUDA, CPU])
    assert providers[0][0] == TENSORRT and providers[0][1]['device_id'] == 1
    with pytest.raises(RuntimeError, match='onnxruntime-gpu'):
        select_providers('cuda', [CPU])
    with pytest.raises(ValueError, match='device'):
        parse_device('gpu0')


def test_disp_to_depth_spans_the_depth_range():
    _, depth = disp_to_depth(np.array([0.0, 1.0]), 0.1, 100.0)
    np.testing.assert_allclose(depth, [100.0, 0.1], rtol=1e-5)


def test_colorize_marks_invalid_black_and_near_bright():
    depth = np.array([[1.0, 50.0, np.nan, 0.0]], np.float32)
    bgr = colorize(depth, vmax=1.0)
    assert bgr.shape == (1, 4, 3) and bgr.dtype == np.uint8
    assert bgr[0, 2].sum() == 0 and bgr[0, 3].sum() == 0
    assert int(bgr[0, 0].sum()) > int(bgr[0, 1].sum())
    assert colorize(np.full((2, 2), np.nan, np.float32)).sum() == 0


def parity_args(*argv):
    parser = argparse.ArgumentParser()
    parity.add_arguments(parser)
    return parity.run(parser.parse_args([str(a) for a in argv]))


def test_parity_compares_predictions():
    disparity = np.full((4, 4), 0.5, np.float32)
    depth = np.full((8, 8), 10.0, np.float32)
    depth[0] = np.nan
    reference = DepthPrediction(depth, disparity)
    close = parity.compare(DepthPrediction(depth * 1.1, disparity + 0.01), reference)
    assert close.disparity_max_abs == pytest.approx(0.01, abs=1e-6)
    assert close.depth_abs_rel == pytest.approx(0.1, rel=1e-5)
    assert close.delta_agreement == 1.0
    far = parity.compare(DepthPrediction(depth * 1.3, disparity), reference)
    assert far.delta_agreement == 0.0
    total = parity.aggregate([close, far])
    assert total.delta_agreement == 0.0 and total.disparity_max_abs == close.disparity_max_abs
    with pytest.raises(ValueError, match='input sizes'):
        parity.compare(DepthPrediction(depth, disparity[:2]), reference)


def test_parity_ignores_the_nan_border_of_in_graph_disparity_but_not_a_nan_inside():
    depth = np.full((6, 8), 10.0, np.float32)
    depth[:2] = np.nan
    disparity = np.where(np.isnan(depth), np.nan, 0.5).astype(np.float32)
    reference = DepthPrediction(depth, disparity)
    close = parity.compare(DepthPrediction(depth, disparity + 0.01), reference)
    assert close.disparity_max_abs == pytest.approx(0.01, abs=1e-6)
    broken = disparity.copy()
    broken[3, 3] = np.nan
    assert parity.compare(DepthPrediction(depth, broken), reference).disparity_max_abs == np.inf


def test_parity_command_passes_equal_models_and_fails_different_ones(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f'{i:03d}.png'), random_rgb(48, 96, seed=i))
    a = tiny_onnx(tmp_path / 'a.onnx', meta(), weight=0.1, bias=0.2)
    b = tiny_onnx(tmp_path / 'b.onnx', meta(), weight=0.1, bias=0.3)
    report = tmp_path / 'parity.json'
    common = ('--images', images, '--backend', 'onnxruntime', '--device', 'cpu')
    assert parity_args('--model', a, '--reference', a, *common, '--json', report) == 0
    result = json.loads(report.read_text())
    assert result['passed'] and result['images'] == 2 and result['disparity_max_abs'] == 0.0
    assert parity_args('--model', a, '--reference', b, *common) == 1
