# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""In-graph pre/post-processing: resampling taps equal OpenCV's, crop and NaN border in place."""

import cv2
import numpy as np
import pytest
import torch

from adds_ros.metadata import ModelMetadata
from adds_ros.postprocess import upsample_into_camera
from adds_ros.preprocess import to_network_input
from adds_training.camera_graph import (area_taps, camera_graph, input_taps, linear_taps,
                                        resample, upsample_into_crop)


def apply(image: np.ndarray, taps, axis: int) -> np.ndarray:
    """Apply K x out taps along `axis` with numpy (the graph's Gather + Mul + ReduceSum)."""
    index, weight = taps
    shape = [1] * image.ndim
    shape[axis] = weight.shape[1]
    return sum(np.take(image.astype(np.float64), index[k], axis=axis) * weight[k].reshape(shape)
               for k in range(index.shape[0]))


def in_graph_meta(camera=(96, 160), **overrides) -> ModelMetadata:
    values = dict(input_height=32, input_width=64, crop=(0.25, 0.75, 0.0, 1.0), min_depth=0.5,
                  max_depth=50.0, in_graph=True, camera_height=camera[0],
                  camera_width=camera[1], outputs=['depth', 'disparity'])
    values.update(overrides)
    return ModelMetadata(**values)


@pytest.mark.parametrize('size_in, size_out', [(640, 256), (1280, 512), (96, 64), (7, 3),
                                               (100, 100), (1024, 512)])
def test_area_taps_equal_opencv_inter_area(size_in, size_out):
    row = np.random.default_rng(size_in).random((4, size_in), dtype=np.float32)
    expected = cv2.resize(row, (size_out, 4), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(apply(row, area_taps(size_in, size_out), 1), expected, atol=1e-6)
    assert np.allclose(area_taps(size_in, size_out)[1].sum(0), 1.0)  # an average


@pytest.mark.parametrize('size_in, size_out', [(256, 640), (48, 64), (160, 128), (3, 17),
                                               (512, 1280)])
def test_linear_taps_equal_opencv_inter_linear(size_in, size_out):
    row = np.random.default_rng(size_out).random((4, size_in), dtype=np.float32)
    expected = cv2.resize(row, (size_out, 4), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(apply(row, linear_taps(size_in, size_out), 1), expected,
                               atol=1e-6)


@pytest.mark.parametrize('camera, rounded_apart', [
    ((192, 320), 0.0), ((64, 512), 0.0), ((128, 256), 0.0),  # INTER_AREA
    ((96, 160), 0.0),                                          # INTER_LINEAR
    ((60, 100), 0.15)])                                        # INTER_AREA, one axis grows
def test_input_taps_reproduce_the_host_crop_and_resize(camera, rounded_apart):
    """The network input equals the host's, crop folded in; OpenCV's two-tap uint8 path rounds
    in fixed point, so there some pixels are one grey level apart."""
    metadata = in_graph_meta(camera)
    rgb = np.random.default_rng(0).integers(0, 256, (*camera, 3), dtype=np.uint8)
    rows, cols = input_taps(metadata)
    mine = np.round(apply(apply(rgb, rows, 0), cols, 1)) / 255.0
    host = to_network_input(rgb, metadata.crop, 32, 64)[0].transpose(1, 2, 0)
    assert np.abs(mine - host).max() <= 1 / 255 + 1e-6
    assert np.mean(np.abs(mine - host) > 1e-6) <= rounded_apart


def test_upsample_into_crop_is_the_host_upsample_with_nan_outside():
    values = np.random.default_rng(1).random((32, 64), dtype=np.float32)
    metadata = in_graph_meta((96, 160), crop=(0.25, 0.75, 0.1, 1.0))
    mine = upsample_into_crop(torch.from_numpy(values)[None, None], metadata).numpy()
    expected = upsample_into_camera(values, (24, 72, 16, 160), (96, 160))
    assert mine.shape == (96, 160)
    assert np.array_equal(np.isnan(mine), np.isnan(expected))
    # OpenCV keeps its interpolation coordinates in float32: a few 1e-6 apart
    np.testing.assert_allclose(mine[24:72, 16:], expected[24:72, 16:], atol=1e-5)


def test_camera_graph_is_the_host_path_around_the_network():
    """A network that returns the mean intensity: depth and disparity follow the picture."""
    metadata = in_graph_meta((96, 160))

    def net(x):
        return x.mean(1, keepdim=True)

    rgb = np.random.default_rng(2).integers(0, 256, (96, 160, 3), dtype=np.uint8)
    with torch.no_grad():
        depth, disparity = camera_graph(net, metadata)(torch.from_numpy(rgb)[None])
    assert depth.shape == disparity.shape == (96, 160) and depth.dtype == torch.float32
    host_in = to_network_input(rgb, metadata.crop, 32, 64)[0].mean(0)
    min_disp, max_disp = 1 / 50.0, 1 / 0.5
    expected = 1.0 / upsample_into_camera(min_disp + (max_disp - min_disp) * host_in,
                                          (24, 72, 0, 160), (96, 160))
    assert np.array_equal(np.isnan(depth.numpy()), np.isnan(expected))
    np.testing.assert_allclose(depth.numpy()[24:72], expected[24:72], rtol=1e-3)
    np.testing.assert_allclose(disparity.numpy()[24:72],
                               (1 / expected[24:72] - min_disp) / (max_disp - min_disp),
                               atol=1e-3)


def test_camera_graph_needs_in_graph_metadata():
    with pytest.raises(ValueError, match='in_graph'):
        camera_graph(lambda x: x, ModelMetadata(input_height=32, input_width=64))


def test_resample_gathers_along_any_axis():
    x = torch.arange(24, dtype=torch.uint8).reshape(2, 3, 4)
    index = torch.tensor([[0, 2], [1, 2]])
    weight = torch.tensor([[0.5, 1.0], [0.5, 0.0]])
    out = resample(x, 2, index, weight)
    assert out.dtype == torch.float32
    y = x.float()
    torch.testing.assert_close(out, torch.stack([(y[..., 0] + y[..., 1]) / 2, y[..., 2]], -1))
