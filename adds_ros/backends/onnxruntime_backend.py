# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""ONNX Runtime backend: CPU everywhere, CUDA or TensorRT execution providers where present.

It is the backend that always works (a wheel on PyPI for x86 and aarch64), and the reference
the TensorRT engines are compared with by `adds parity`.
"""

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from adds_ros.backends import Backend, parse_device
from adds_ros.metadata import ModelMetadata

CPU = 'CPUExecutionProvider'
CUDA = 'CUDAExecutionProvider'
TENSORRT = 'TensorrtExecutionProvider'


def select_providers(device: str, available: Sequence[str],
                     trt_cache_dir: Optional[Path] = None) -> List:
    """Return the execution providers for `device`; an unavailable explicit request is an error.

    'auto' takes CUDA when this onnxruntime build has it, never the TensorRT provider (its first
    run builds an engine for minutes; ask for it with device='tensorrt').
    """
    kind, index = parse_device(device)
    if kind == 'cpu' or (kind == 'auto' and CUDA not in available):
        return [CPU]
    wanted = TENSORRT if kind == 'tensorrt' else CUDA
    if wanted not in available:
        raise RuntimeError(f'device {device!r} needs {wanted}, but this onnxruntime only has '
                           f'{list(available)} (install onnxruntime-gpu)')
    providers = [(CUDA, {'device_id': index}), CPU]
    if wanted == TENSORRT:
        options = {'device_id': index, 'trt_engine_cache_enable': True}
        if trt_cache_dir is not None:
            options['trt_engine_cache_path'] = str(trt_cache_dir)
        providers.insert(0, (TENSORRT, options))
    return providers


class OnnxRuntimeBackend(Backend):
    name = 'onnxruntime'

    def __init__(self, model: Union[str, Path], device: str = 'auto', threads: int = 0,
                 providers: Optional[List] = None) -> None:
        import onnxruntime

        model = Path(model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads sleep instead of spinning: spinning burns the cores that the
        # node's decode / DDS threads and the vehicle's other processes need (measured by
        # `adds bench`: faster, not slower, on a shared CPU).
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if providers is None:
            providers = select_providers(device, onnxruntime.get_available_providers(),
                                         model.parent)
        self.session = onnxruntime.InferenceSession(str(model), options, providers=providers)
        try:
            self.metadata = ModelMetadata.from_onnx_props(
                self.session.get_modelmeta().custom_metadata_map)
        except ValueError as err:
            raise ValueError(f'{model}: {err}') from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {self.input_name: image})
        return dict(zip(self.output_names, outputs))

    def describe(self) -> str:
        return f'onnxruntime ({", ".join(self.session.get_providers())})'
