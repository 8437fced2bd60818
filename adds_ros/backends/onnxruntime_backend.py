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
from adds_ros.errors import UserValueError
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


# ---------------------------------------------------------------- graph vs. metadata check
# A file whose metadata fits but whose graph does not would load, then fail every frame; the
# runtime feeds one N x 3 x H x W float tensor at the metadata's size and reads N x 1 x H x W
# float outputs by the names the metadata lists (in-graph models: one 1 x H x W x 3 uint8 camera
# frame in, H x W float maps out; ModelMetadata.input_shape / output_shape).
GRAPH_FLOATS = ('tensor(float)', 'tensor(float16)')
GRAPH_UINT8 = ('tensor(uint8)',)


def _dims_fit(shape: Sequence, expected: Sequence) -> bool:
    """Whether ONNX dims fit: symbolic (str) or unknown (None) dims fit any value."""
    return len(shape) == len(expected) and all(
        not isinstance(dim, int) or want is None or dim == want
        for dim, want in zip(shape, expected))


def check_graph(model: Path, inputs: Sequence, outputs: Sequence,
                metadata: ModelMetadata) -> None:
    """Refuse a graph whose inputs/outputs (ORT NodeArgs) do not match `metadata`."""
    in_shape, out_shape = metadata.input_shape(), metadata.output_shape()
    in_types, in_text = (GRAPH_UINT8, 'uint8') if metadata.in_graph else (GRAPH_FLOATS, 'float')
    problems = []
    if len(inputs) != 1:
        problems.append(f'{len(inputs)} inputs {[i.name for i in inputs]}, expected one image')
    elif inputs[0].type not in in_types or not _dims_fit(inputs[0].shape, in_shape):
        problems.append(f'input {inputs[0].name!r} is {inputs[0].type} {inputs[0].shape}, '
                        f'expected {in_text} {shape_text(in_shape)}')
    found = {o.name: o for o in outputs}
    for name in metadata.outputs:
        if name not in found:
            problems.append(f'no output {name!r} (the graph has {sorted(found)})')
        elif (found[name].type not in GRAPH_FLOATS
              or not _dims_fit(found[name].shape, out_shape)):
            problems.append(f'output {name!r} is {found[name].type} {found[name].shape}, '
                            f'expected float {shape_text(out_shape)}')
    if problems:
        raise UserValueError(f'{model}: the graph does not match its metadata: '
                             f'{"; ".join(problems)}')


def shape_text(shape: Sequence) -> str:
    """'[N, 3, 256, 512]': a shape with its free batch dimension shown as N."""
    return '[' + ', '.join('N' if dim is None else str(dim) for dim in shape) + ']'


class OnnxRuntimeBackend(Backend):
    name = 'onnxruntime'
    suffixes = ('.onnx',)

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
        check_graph(model, self.session.get_inputs(), self.session.get_outputs(), self.metadata)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {self.input_name: image})
        return dict(zip(self.output_names, outputs))

    def describe(self) -> str:
        return f'onnxruntime ({", ".join(self.session.get_providers())})'
