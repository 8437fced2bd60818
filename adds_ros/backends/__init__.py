# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Inference backends behind one interface, chosen from the model file and a parameter.

One registry: the runtime's own backends (BUILTIN) and every `adds_ros.backends` entry point
another package installs (name = module:Class, a `Backend` subclass). Each class says which
model files it runs (`suffixes`), which precisions it builds (`precisions`) and whether this
machine can run it (`usable`); the `backend` parameter accepts every registered name.

| model file     | backends                    | 'auto' picks                                  |
|----------------|-----------------------------|-----------------------------------------------|
| .onnx          | tensorrt, onnxruntime       | tensorrt when TensorRT and a CUDA layer       |
|                |                             | (cuda-python or pycuda) import and a GPU is   |
|                |                             | present (engine cached beside the ONNX), else |
|                |                             | onnxruntime                                   |
| .engine, .plan | tensorrt                    | tensorrt                                      |
| .pt, .pth      | torch                       | torch                                         |
| others         | a plug-in that claims them  | the first registered one that is usable       |

'auto' tries the runtime's own backends first, in BUILTIN's order, then the plug-ins; the first
usable one that runs the file wins (none usable: the first that runs it, whose error then says
what is missing). The torch backend runs project checkpoints with the training code, so it
lives in the training half (`adds_training.torch_backend`) and registers itself through the
entry point (setup.py): the runtime never imports the training package, and an install without
it says so when asked for a `.pt` model.

Backend modules import their heavy libraries (onnxruntime, tensorrt, torch) only when built, so
importing this package, or a backend's module to read its class, costs little. `precision`
(adds_ros.precision.REQUESTS) goes to the backends whose constructor takes it; a backend runs
only the precisions its class lists ('auto' is always accepted).
"""

import abc
import importlib
import importlib.util
import inspect
import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple, Type, Union

import numpy as np

from adds_ros.backends.cuda_layer import load_cuda_layer
from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_ros.metadata import ModelMetadata

LOGGER = logging.getLogger(__name__)

PLUGIN_GROUP = 'adds_ros.backends'
# The runtime's own backends, written as entry points are ('module:Class'), in the order 'auto'
# tries them; other packages add theirs to the PLUGIN_GROUP entry-point group.
BUILTIN = {
    'tensorrt': 'adds_ros.backends.tensorrt_backend:TensorRTBackend',
    'onnxruntime': 'adds_ros.backends.onnxruntime_backend:OnnxRuntimeBackend',
}
# backend -> what to install when it is asked for but not registered
PROVIDED_BY = {'torch': "the training half (pip install '.[train]')"}
# suffix -> the backend that runs it, for the error of a file no installed backend runs
SUFFIX_PROVIDED_BY = {'.pt': 'torch', '.pth': 'torch'}


class Backend(abc.ABC):
    """One loaded network: 1x3xHxW float32 RGB in [0, 1] -> named float32 outputs."""

    name: str = ''
    suffixes: Tuple[str, ...] = ()  # the model files it runs, lower case with the dot
    precisions: Tuple[str, ...] = ('fp32',)  # what it can run in; default: the graph as exported
    metadata: ModelMetadata

    @classmethod
    def usable(cls) -> bool:
        """Tell whether this machine can run the backend ('auto' passes over those that cannot)."""
        return True

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
        return load_cuda_layer().device_count() > 0
    except Exception:  # noqa: BLE001 - any driver failure means "no usable GPU"
        return False


def registered_backends() -> Dict[str, str]:
    """Name -> 'module:Class' of every backend: the runtime's own, then the entry points'."""
    table = dict(BUILTIN)
    for entry in entry_points(group=PLUGIN_GROUP):
        table.setdefault(entry.name, entry.value)
    return table


def backend_choices() -> Tuple[str, ...]:
    """Return what the `backend` parameter accepts: 'auto' and every backend name.

    Those are the registered ones and the known ones not installed here (asking for one of
    those says what to install).
    """
    return ('auto',) + tuple(dict.fromkeys([*registered_backends(), *PROVIDED_BY]))


def backend_class(name: str) -> Type[Backend]:
    """Return the class of backend `name`: the runtime's own or one another package registered."""
    target = registered_backends().get(name)
    if target is None:
        raise UserValueError(f'the {name} backend is not installed: it comes with '
                             f'{PROVIDED_BY.get(name, "another package")}')
    module_name, _, attribute = target.partition(':')
    try:
        found = importlib.import_module(module_name)
        for part in attribute.split('.'):
            found = getattr(found, part)
    except (ImportError, AttributeError) as err:
        raise UserValueError(f'the {name} backend ({target}) does not load: {err}') from None
    if not (isinstance(found, type) and issubclass(found, Backend)):
        raise UserValueError(f'the {name} backend ({target}) is not an adds_ros.backends.Backend')
    return found


def choose_backend(model: Union[str, Path], backend: str = 'auto',
                   usable: Optional[Callable[[Type[Backend]], bool]] = None) -> str:
    """Return the backend name for `model` and the requested `backend` ('auto' or a name).

    `usable` (default: each class's own `usable()`) decides which backends 'auto' may pick.
    """
    suffix = Path(model).suffix.lower()
    if backend != 'auto':
        if backend not in backend_choices():
            raise ValueError(f'unknown backend {backend!r}: expected one of {backend_choices()}')
        runs = backend_class(backend).suffixes
        if suffix not in runs:
            raise ValueError(f'backend {backend!r} cannot run a {suffix} file ({model}); it '
                             f'runs {", ".join(runs)} files')
        return backend
    candidates = [name for name, cls in _classes() if suffix in cls.suffixes]
    if not candidates:
        known = sorted({s for _, cls in _classes() for s in cls.suffixes})
        missing = SUFFIX_PROVIDED_BY.get(suffix)
        hint = f'; the {missing} backend comes with {PROVIDED_BY[missing]}' if missing else ''
        raise ValueError(f'cannot tell how to run {model}: the backends here run {known}{hint}')
    check = usable or (lambda cls: cls.usable())
    return next((name for name in candidates if check(backend_class(name))), candidates[0])


def _classes() -> Iterator[Tuple[str, Type[Backend]]]:
    """(name, class) of every registered backend; one that does not load is left out."""
    for name in registered_backends():
        try:
            yield name, backend_class(name)
        except UserValueError as err:
            LOGGER.warning('%s', err)


def create_backend(model: Union[str, Path], backend: str = 'auto', device: str = 'auto',
                   precision: str = 'auto', **options) -> Backend:
    """Load `model` with the chosen backend; `options` go to that backend's constructor."""
    model = Path(model)
    if not model.exists():
        raise UserFileNotFoundError(f'no model file at {model}')
    name = choose_backend(model, backend)
    cls = backend_class(name)
    if precision not in ('auto',) + cls.precisions:
        suffix = model.suffix.lower()
        able = [other for other, klass in _classes()
                if precision in klass.precisions and suffix in klass.suffixes]
        needs = (f'the {" or ".join(able)} backend' if able
                 else f'a backend not installed here for {suffix} files')
        raise UserValueError(f'the {name} backend runs {", ".join(cls.precisions)}; precision '
                             f'{precision!r} needs {needs}')
    if 'precision' in inspect.signature(cls).parameters:
        options['precision'] = precision
    unknown = sorted(set(options) - set(inspect.signature(cls).parameters))
    if unknown:
        raise UserValueError(f'the {name} backend takes no {", ".join(unknown)} (engine-builder '
                             f'settings are the tensorrt backend\'s)')
    return cls(model, device=device, **options)


def parse_device(device: str) -> Tuple[str, int]:
    """Split 'cuda:1' / 'cpu' / 'auto' / 'cuda' into (kind, index)."""
    kind, _, index = device.partition(':')
    if kind not in ('auto', 'cpu', 'cuda', 'tensorrt') or (index and not index.isdigit()):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda[:N]' or 'tensorrt[:N]', "
                         f'got {device!r}')
    return kind, int(index or 0)
