# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Inference backends behind one interface, chosen from the model file and a parameter.

| model file     | backends                    | 'auto' picks                                  |
|----------------|-----------------------------|-----------------------------------------------|
| .onnx          | onnxruntime, tensorrt       | tensorrt when TensorRT + pycuda import and a  |
|                |                             | GPU is present (engine cached beside the ONNX)|
|                |                             | else onnxruntime                              |
| .engine, .plan | tensorrt                    | tensorrt                                      |
| .pt, .pth      | torch                       | torch                                         |

Backend modules import their heavy libraries (onnxruntime, tensorrt, torch) only when built, so
importing this package costs nothing.
"""

import abc
import importlib
import importlib.util
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from adds_ros.metadata import ModelMetadata

# name -> (module, class)
BACKENDS = {
    'onnxruntime': ('adds_ros.backends.onnxruntime_backend', 'OnnxRuntimeBackend'),
    'tensorrt': ('adds_ros.backends.tensorrt_backend', 'TensorRTBackend'),
    'torch': ('adds_ros.backends.torch_backend', 'TorchBackend'),
}
# suffix -> the backends that can run such a file
SUFFIX_BACKENDS = {
    '.onnx': ('onnxruntime', 'tensorrt'),
    '.engine': ('tensorrt',),
    '.plan': ('tensorrt',),
    '.pt': ('torch',),
    '.pth': ('torch',),
}


class Backend(abc.ABC):
    """One loaded network: 1x3xHxW float32 RGB in [0, 1] -> named float32 outputs."""

    name: str = ''
    metadata: ModelMetadata

    @abc.abstractmethod
    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        """Run the network; the result holds at least 'disparity' (N x 1 x H x W)."""

    def describe(self) -> str:
        """One line for logs and diagnostics (backend, device, precision)."""
        return self.name

    def close(self) -> None:
        """Release device memory and contexts; the default has nothing to release."""


def tensorrt_usable() -> bool:
    """Tell whether TensorRT and pycuda import and a CUDA device is present."""
    if any(importlib.util.find_spec(m) is None for m in ('tensorrt', 'pycuda')):
        return False
    try:
        import pycuda.driver as cuda

        cuda.init()
        return cuda.Device.count() > 0
    except Exception:  # noqa: BLE001 - any driver failure means "no usable GPU"
        return False


def choose_backend(model: Union[str, Path], backend: str = 'auto',
                   tensorrt_available: Optional[bool] = None) -> str:
    """Return the backend name for `model` and the requested `backend` ('auto' or a name)."""
    suffix = Path(model).suffix.lower()
    if suffix not in SUFFIX_BACKENDS:
        raise ValueError(f'cannot tell how to run {model}: expected one of '
                         f'{sorted(SUFFIX_BACKENDS)}')
    if backend != 'auto' and backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: expected 'auto' or one of "
                         f'{sorted(BACKENDS)}')
    possible = SUFFIX_BACKENDS[suffix]
    if backend == 'auto':
        if len(possible) == 1:
            return possible[0]
        available = tensorrt_usable() if tensorrt_available is None else tensorrt_available
        return 'tensorrt' if available else 'onnxruntime'
    if backend not in possible:
        raise ValueError(f'backend {backend!r} cannot run a {suffix} file ({model}); '
                         f'it runs with {", ".join(possible)}')
    return backend


def create_backend(model: Union[str, Path], backend: str = 'auto', device: str = 'auto',
                   **options) -> Backend:
    """Load `model` with the chosen backend; `options` go to that backend's constructor."""
    model = Path(model)
    if not model.exists():
        raise FileNotFoundError(f'no model file at {model}')
    name = choose_backend(model, backend)
    module_name, class_name = BACKENDS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(model, device=device, **options)


def parse_device(device: str) -> Tuple[str, int]:
    """Split 'cuda:1' / 'cpu' / 'auto' / 'cuda' into (kind, index)."""
    kind, _, index = device.partition(':')
    if kind not in ('auto', 'cpu', 'cuda', 'tensorrt') or (index and not index.isdigit()):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'tensorrt[:N]', "
                         f'got {device!r}')
    return kind, int(index or 0)
