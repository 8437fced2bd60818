# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""TensorRT backend on a real GPU: build, cache reuse, parity with ONNX Runtime, threading.

Skipped (with the reason shown) where TensorRT and pycuda cannot be imported; see conftest.py.
"""

import threading

import numpy as np
import pytest

from adds_ros.estimator import DepthEstimator
from adds_ros.metadata import ModelMetadata

pytestmark = pytest.mark.tensorrt

HEIGHT, WIDTH = 64, 128


@pytest.fixture(scope='module')
def depth_onnx(tmp_path_factory):
    """The real depth graph (ResNet-18 + decoder: reflect Pad, nearest Resize), exported."""
    import torch

    from adds_training.export import build_metadata, depth_graph, export_onnx
    from adds_training.networks import DepthNet

    torch.manual_seed(0)
    metadata = build_metadata({}, {'height': HEIGHT, 'width': WIDTH, 'source': 'test'},
                              'shared', metric_scale=2.0, log=lambda _: None)
    path = tmp_path_factory.mktemp('trt') / 'depth.onnx'
    export_onnx(depth_graph(DepthNet().eval(), metadata), metadata, path)
    return path


def camera_image(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (96, 160, 3), dtype=np.uint8)


def test_fp32_engine_matches_onnxruntime_and_is_cached(depth_onnx):
    rgb = camera_image()
    reference = DepthEstimator(depth_onnx, backend='onnxruntime', device='cpu').predict(rgb)
    with DepthEstimator(depth_onnx, backend='tensorrt', precision='fp32') as estimator:
        assert estimator.backend.cached.built
        prediction = estimator.predict(rgb)
        assert isinstance(estimator.metadata, ModelMetadata)
    np.testing.assert_allclose(prediction.disparity, reference.disparity, atol=1e-4)
    with DepthEstimator(depth_onnx, backend='tensorrt', precision='fp32') as again:
        assert not again.backend.cached.built
        engine_path = again.backend.cached.path
        np.testing.assert_allclose(again.predict(rgb).disparity, reference.disparity, atol=1e-4)
    with DepthEstimator(engine_path) as direct:
        assert direct.backend_name == 'tensorrt'
        np.testing.assert_allclose(direct.predict(rgb).disparity, reference.disparity, atol=1e-4)


def test_fp16_engine_stays_close(depth_onnx):
    rgb = camera_image(1)
    reference = DepthEstimator(depth_onnx, backend='onnxruntime', device='cpu').predict(rgb)
    with DepthEstimator(depth_onnx, backend='tensorrt', precision='fp16') as estimator:
        prediction = estimator.predict(rgb)
    np.testing.assert_allclose(prediction.disparity, reference.disparity, atol=2e-2)


def test_corrupt_engine_is_rebuilt_on_the_gpu(depth_onnx):
    with DepthEstimator(depth_onnx, backend='tensorrt') as estimator:
        path = estimator.backend.cached.path
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with DepthEstimator(depth_onnx, backend='tensorrt') as estimator:
        assert estimator.backend.cached.built and 'corrupt' in estimator.backend.cached.reason


def test_inference_from_another_thread_is_refused(depth_onnx):
    errors = []
    with DepthEstimator(depth_onnx, backend='tensorrt') as estimator:
        def other():
            try:
                estimator.predict(camera_image())
            except RuntimeError as err:
                errors.append(str(err))

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    assert errors and 'thread' in errors[0]
