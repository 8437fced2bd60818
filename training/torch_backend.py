# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""PyTorch backend: runs a project checkpoint (.pt/.pth) directly, without an export step.

It needs the training code, so it lives in the training half and registers itself with the
runtime's estimator through the `adds_ros.backends` entry point (setup.py).

It runs the very module `adds export` would export (`adds_training.export.depth_graph`), so it
is the ground truth an ONNX file or engine is compared with. Its metadata comes from the
checkpoint's `meta` (as export builds it), or from a `metadata` option: a ModelMetadata or the
ONNX file exported from this checkpoint, so both sides of a parity check share one geometry.
In-graph metadata (or `camera_size`) runs the in-graph module: camera frame in, camera-size
depth and disparity out, exactly as `adds export --camera-size` exports it.

On CUDA it offers what makes the network fast there: `precision='fp16'` (half weights and
activations; input and outputs stay as the graph's contract says), `channels_last` (the memory
order cuDNN's tensor-core convolutions want) and `cuda_graph` (the whole forward captured once
for the model's input shape and replayed: one launch instead of hundreds). The default
(fp32, contiguous, eager) is the reference path, unchanged.
"""

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from adds_ros.backends import Backend, parse_device
from adds_ros.errors import UserValueError
from adds_ros.metadata import IN_GRAPH_OUTPUTS, ModelMetadata
from adds_ros.precision import GRAPH_PRECISIONS

WARMUP = 3  # eager runs before capture: cuDNN picks its algorithms, allocator pools fill


class TorchBackend(Backend):
    name = 'torch'
    suffixes = ('.pt', '.pth')
    precisions = GRAPH_PRECISIONS  # 'auto' is fp32: the reference arithmetic

    def __init__(self, model: Union[str, Path], device: str = 'auto', domain: str = 'day',
                 metadata: Optional[Union[ModelMetadata, str, Path]] = None,
                 metric_scale: Optional[float] = None, precision: str = 'auto',
                 channels_last: bool = False, cuda_graph: bool = False,
                 camera_size: Optional[Tuple[int, int]] = None) -> None:
        """Load `model`; `camera_size` (height, width) runs it as the in-graph module."""
        import torch

        from adds_training.export import build_metadata, depth_graph
        from adds_training.networks import load_depth_net

        if precision not in ('auto',) + self.precisions:
            raise UserValueError(f'the torch backend runs {self.precisions}, got precision '
                                 f'{precision!r} (int8 needs the tensorrt backend)')
        kind, index = parse_device(device)
        if kind == 'tensorrt':
            raise ValueError("the torch backend runs on 'cpu' or 'cuda[:N]'")
        if kind == 'auto':
            kind = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(f'cuda:{index}' if kind == 'cuda' else 'cpu')
        if cuda_graph and self.device.type != 'cuda':
            raise UserValueError('cuda_graph needs a CUDA device (device=cuda[:N])')
        net, info = load_depth_net(model, domain)
        if isinstance(metadata, (str, Path)):
            metadata = ModelMetadata.from_onnx(metadata)
        metadata = metadata or build_metadata(dict(info.get('meta') or {}), info, net.stem,
                                              metric_scale=metric_scale)
        self.half = precision == 'fp16'
        self.metadata = dataclasses.replace(
            metadata, precision='fp16' if self.half else metadata.precision,
            **(camera_fields(camera_size) if camera_size else {}))
        self.channels_last = channels_last
        graph = depth_graph(net.half() if self.half else net.float(), self.metadata)
        if channels_last:
            graph = graph.to(memory_format=torch.channels_last)
        self.graph = graph.to(self.device)
        self.captured = CapturedGraph(self.graph, self._example()) if cuda_graph else None

    def _example(self):
        """Make a device tensor of the graph's input type and shape (batch 1)."""
        import torch

        shape = [1 if dim is None else dim for dim in self.metadata.input_shape()]
        dtype = torch.uint8 if self.metadata.in_graph else torch.float32
        return self._layout(torch.zeros(shape, dtype=dtype, device=self.device))

    def _layout(self, tensor):
        """channels_last for an NCHW network input (an in-graph frame is NHWC already)."""
        import torch

        if self.channels_last and not self.metadata.in_graph:
            return tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        import torch

        if self.captured is not None:
            return dict(zip(self.metadata.outputs, self.captured.run(image)))
        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)
            outputs = self.graph(self._layout(tensor))
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return {name: out.cpu().numpy() for name, out in zip(self.metadata.outputs, outputs)}

    def describe(self) -> str:
        options = ['fp16' if self.half else 'fp32'] + (['channels_last'] * self.channels_last) \
            + (['CUDA graph'] if self.captured is not None else [])
        return f'torch ({self.device}, {", ".join(options)})'


def camera_fields(camera_size: Sequence[int]) -> Dict[str, object]:
    """Return the metadata fields that make a model in-graph for a (height, width) camera."""
    height, width = (int(v) for v in camera_size)
    return {'in_graph': True, 'camera_height': height, 'camera_width': width,
            'outputs': list(IN_GRAPH_OUTPUTS)}


class CapturedGraph:
    """`module` captured as a CUDA graph for one input: static buffers, warm-up, replay.

    The input is staged through page-locked host memory and copied into the static device
    buffer the graph reads; the outputs come back through page-locked buffers, copied out so
    the next frame cannot overwrite a result the caller still holds.
    """

    def __init__(self, module, example) -> None:
        import torch

        self.device = example.device
        with torch.inference_mode():
            self.static_input = example.clone(memory_format=torch.preserve_format)
            self.host_input = torch.empty(example.shape, dtype=example.dtype, pin_memory=True)
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                for _ in range(WARMUP):
                    module(self.static_input)
            torch.cuda.current_stream(self.device).wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                outputs = module(self.static_input)
            self.static_outputs = outputs if isinstance(outputs, tuple) else (outputs,)
            self.host_outputs = [torch.empty(o.shape, dtype=o.dtype, pin_memory=True)
                                 for o in self.static_outputs]

    def run(self, image: np.ndarray) -> List[np.ndarray]:
        """Replay on `image`, which must have the captured shape; return copies of the outputs."""
        import torch

        staged = self.host_input.numpy()
        if image.shape != staged.shape:
            raise ValueError(f'the CUDA graph was captured for input {staged.shape}, got '
                             f'{image.shape}')
        np.copyto(staged, image, casting='same_kind')
        with torch.inference_mode():
            self.static_input.copy_(self.host_input, non_blocking=True)
            self.graph.replay()
            for host, out in zip(self.host_outputs, self.static_outputs):
                host.copy_(out, non_blocking=True)
            torch.cuda.current_stream(self.device).synchronize()
        return [host.numpy().copy() for host in self.host_outputs]
