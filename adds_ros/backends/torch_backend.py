# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""PyTorch backend: runs a project checkpoint (.pt/.pth) directly, without an export step.

It runs the very module `adds export` would export (`adds_training.export.depth_graph`), so it
is the ground truth an ONNX file or engine is compared with. Its metadata comes from the
checkpoint's `meta` (as export builds it), or from a `metadata` option: a ModelMetadata or the
ONNX file exported from this checkpoint, so both sides of a parity check share one geometry.
"""

from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from adds_ros.backends import Backend, parse_device
from adds_ros.metadata import ModelMetadata


class TorchBackend(Backend):
    name = 'torch'

    def __init__(self, model: Union[str, Path], device: str = 'auto', domain: str = 'day',
                 metadata: Optional[Union[ModelMetadata, str, Path]] = None,
                 metric_scale: Optional[float] = None) -> None:
        import torch

        from adds_training.export import build_metadata, depth_graph
        from adds_training.networks import load_depth_net

        kind, index = parse_device(device)
        if kind == 'tensorrt':
            raise ValueError("the torch backend runs on 'cpu' or 'cuda[:N]'")
        if kind == 'auto':
            kind = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(f'cuda:{index}' if kind == 'cuda' else 'cpu')
        net, info = load_depth_net(model, domain)
        if isinstance(metadata, (str, Path)):
            metadata = ModelMetadata.from_onnx(metadata)
        self.metadata = metadata or build_metadata(dict(info.get('meta') or {}), info,
                                                   net.stem, metric_scale=metric_scale,
                                                   log=lambda _: None)
        self.graph = depth_graph(net.float(), self.metadata).to(self.device)

    def infer(self, image: np.ndarray) -> Dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            outputs = self.graph(torch.from_numpy(np.ascontiguousarray(image)).to(self.device))
        if isinstance(outputs, torch.Tensor):
            outputs = (outputs,)
        return {name: out.cpu().numpy() for name, out in zip(self.metadata.outputs, outputs)}

    def describe(self) -> str:
        return f'torch ({self.device})'
