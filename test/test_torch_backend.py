# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""PyTorch backend options: fp16, channels_last, CUDA graphs; the fp32 path is the reference."""

import numpy as np
import pytest
import torch

from adds_training.torch_backend import TorchBackend
from adds_ros.estimator import DepthEstimator
from adds_training.checkpoint import checkpoint_dict
from adds_training.networks import ADDSModel

META = {'height': 64, 'width': 128, 'crop': [0.25, 0.75, 0.0, 1.0], 'min_depth': 0.1,
        'max_depth': 80.0}
CAMERA = (128, 256)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('torch_backend') / 'adds.pt'
    torch.save(checkpoint_dict(ADDSModel().eval(), META), path)
    return path


def frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*CAMERA, 3), dtype=np.uint8)


def relative(a: np.ndarray, b: np.ndarray) -> float:
    inside = np.isfinite(b)
    return float(np.max(np.abs(a[inside] / b[inside] - 1.0)))


def test_fp16_and_channels_last_match_the_fp32_reference_on_cpu(checkpoint):
    reference = DepthEstimator(checkpoint, device='cpu')
    assert reference.describe() == 'torch (cpu, fp32)'
    variants = {'channels_last': DepthEstimator(checkpoint, device='cpu', channels_last=True),
                'fp16': DepthEstimator(checkpoint, device='cpu', precision='fp16')}
    assert variants['fp16'].metadata.precision == 'fp16'
    assert variants['channels_last'].describe() == 'torch (cpu, fp32, channels_last)'
    rgb = frame()
    expected = reference.predict(rgb).depth
    assert relative(variants['channels_last'].predict(rgb).depth, expected) < 1e-5
    fp16 = variants['fp16'].predict(rgb)
    assert fp16.depth.dtype == np.float32 and fp16.disparity.dtype == np.float32
    assert 1e-6 < relative(fp16.depth, expected) < 2e-2  # half arithmetic, really used


def test_in_graph_fp16_channels_last_on_cpu(checkpoint):
    reference = DepthEstimator(checkpoint, device='cpu', camera_size=CAMERA)
    fast = DepthEstimator(checkpoint, device='cpu', camera_size=CAMERA, precision='fp16',
                          channels_last=True)
    rgb = frame(1)
    expected, got = reference.predict(rgb), fast.predict(rgb)
    assert got.depth.shape == CAMERA
    assert np.array_equal(np.isnan(got.depth), np.isnan(expected.depth))
    assert relative(got.depth, expected.depth) < 2e-2


def test_bad_options_are_refused(checkpoint):
    with pytest.raises(ValueError, match='int8 needs the tensorrt backend'):
        TorchBackend(checkpoint, device='cpu', precision='int8')
    with pytest.raises(ValueError, match='cuda_graph needs a CUDA device'):
        TorchBackend(checkpoint, device='cpu', cuda_graph=True)


@pytest.mark.gpu
@pytest.mark.parametrize('camera_size', [None, CAMERA])
def test_cuda_fp16_channels_last_graph_matches_fp32_eager(checkpoint, camera_size):
    reference = DepthEstimator(checkpoint, device='cuda', camera_size=camera_size)
    fast = DepthEstimator(checkpoint, device='cuda', camera_size=camera_size, precision='fp16',
                          channels_last=True, cuda_graph=True)
    assert fast.describe() == 'torch (cuda:0, fp16, channels_last, CUDA graph)'
    for seed in range(3):  # replays reuse the static buffers: every frame must be its own
        rgb = frame(seed)
        expected, got = reference.predict(rgb), fast.predict(rgb)
        assert relative(got.depth, expected.depth) < 2e-2
    first = fast.predict(frame(0))
    fast.predict(frame(1))
    assert relative(first.depth, reference.predict(frame(0)).depth) < 2e-2


@pytest.mark.gpu
def test_cuda_graph_refuses_another_input_shape(checkpoint):
    backend = TorchBackend(checkpoint, device='cuda', cuda_graph=True)
    with pytest.raises(ValueError, match='captured for input'):
        backend.infer(np.zeros((2, 3, 64, 128), np.float32))
