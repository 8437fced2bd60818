# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Inference backends behind one interface, chosen from the model file and a parameter.

| model file     | backends                    | 'auto' picks                                  |
|----------------|-----------------------------|-----------------------------------------------|
| .onnx          | onnxruntime, tensorrt       | tensorrt when TensorRT and a CUDA layer       |
|                |                             | (cuda-python or pycuda) import and a GPU is   |
|                |                             | present (engine cached beside the ONNX), else |
|                |                             | onnxruntime                                   |
| .engine, .plan | tensorrt                    | tensorrt                                      |
| .pt, .pth      | torch                       | torch                                         |

The torch backend runs project checkpoints with the training code, so it lives in the training
half (`adds_training.torch_backend`) and registers itself through the `adds_ros.backends` entry
point (setup.py): the runtime never imports the training package, and an install without it
says so when asked for a `.pt` model.

Backend modules import their heavy libraries (onnxruntime, tensorrt, torch) only when built, so
importing this package costs nothing. `precision` ('auto', 'fp32', 'fp16', 'int8') goes to the
backends whose constructor takes it (TensorRT: see tensorrt_backend); the others run the graph as
exported and accept only 'auto' or 'fp32'.
"""

import abc
import importlib
import importlib.util
import inspect
from importlib.metadata import entry_points
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_ros.metadata import ModelMetadata

# name -> (module, class); more come from the `adds_ros.backends` entry-point group
BACKENDS = {
    'onnxruntime': ('adds_ros.backends.onnxruntime_backend', 'OnnxRuntimeBackend'),
    'tensorrt': ('adds_ros.backends.tensorrt_backend', 'TensorRTBackend'),
}
PLUGIN_GROUP = 'adds_ros.backends'
# backend -> what to install when it is asked for but not registered
PROVIDED_BY = {'torch': "the training package (pip install -e '.[train]')"}
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

    def use_outputs(self, names: Sequence[str]) -> None:
        """Say which outputs the caller reads; a backend may skip fetching the others."""

    def close(self) -> None:
        """Release device memory and contexts; the default has nothing to release."""


def tensorrt_usable() -> bool:
    """Tell whether TensorRT and a CUDA layer (cuda-python or pycuda) import, with a GPU."""
    if importlib.util.find_spec('tensorrt') is None:
        return False
    try:
        from adds_ros.backends.cuda_layer import load_cuda_layer

        return load_cuda_layer().device_count() > 0
    except Exception:  # noqa: BLE001 - any driver failure means "no usable GPU"
        return False


def choose_backend(model: Union[str, Path], backend: str = 'auto',
                   tensorrt_available: Optional[bool] = None) -> str:
    """Return the backend name for `model` and the requested `backend` ('auto' or a name)."""
    suffix = Path(model).suffix.lower()
    if suffix not in SUFFIX_BACKENDS:
        raise ValueError(f'cannot tell how to run {model}: expected one of '
                         f'{sorted(SUFFIX_BACKENDS)}')
    if backend != 'auto' and backend not in BACKENDS and backend not in PROVIDED_BY:
        raise ValueError(f"unknown backend {backend!r}: expected 'auto' or one of "
                         f'{sorted(set(BACKENDS) | set(PROVIDED_BY))}')
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
                   precision: str = 'auto', **options) -> Backend:
    """Load `model` with the chosen backend; `options` go to that backend's constructor."""
    model = Path(model)
    if not model.exists():
        raise UserFileNotFoundError(f'no model file at {model}')
    name = choose_backend(model, backend)
    cls = backend_class(name)
    if 'precision' in inspect.signature(cls).parameters:
        options['precision'] = precision
    elif precision not in ('auto', 'fp32'):
        raise UserValueError(f'the {name} backend runs the graph as exported; precision '
                             f'{precision!r} needs the tensorrt backend')
    return cls(model, device=device, **options)


def backend_class(name: str) -> type:
    """Return the class of backend `name`: the runtime's own or one another package registered."""
    if name in BACKENDS:
        module_name, class_name = BACKENDS[name]
        return getattr(importlib.import_module(module_name), class_name)
    for entry in entry_points(group=PLUGIN_GROUP):
        if entry.name == name:
            return entry.load()
    raise UserValueError(f'the {name} backend is not installed: it comes with '
                         f'{PROVIDED_BY.get(name, "another package")}')


def parse_device(device: str) -> Tuple[str, int]:
    """Split 'cuda:1' / 'cpu' / 'auto' / 'cuda' into (kind, index)."""
    kind, _, index = device.partition(':')
    if kind not in ('auto', 'cpu', 'cuda', 'tensorrt') or (index and not index.isdigit()):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'tensorrt[:N]', "
                         f'got {device!r}')
    return kind, int(index or 0)
