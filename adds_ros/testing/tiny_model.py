# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A real, tiny ONNX depth model with the project's metadata, for tests and benchmarks.

A 3x3 convolution stack plus a sigmoid with the project's metadata props, so the real
DepthEstimator runs it exactly as it runs an exported network: deterministic and cheap. The
node benchmarks use it where the network's cost must not hide the transport's.
"""

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from adds_ros.atomic import write_bytes_atomic
from adds_ros.metadata import ModelMetadata


def tiny_model(path: Path, height: int = 32, width: int = 64,
               metric_scale: Optional[float] = 5.0, stem: str = 'shared',
               crop: Sequence[float] = (0.0, 1.0, 0.0, 1.0), layers: int = 1,
               hidden: int = 3, seed: int = 0) -> Path:
    """Write a `layers`-conv + sigmoid depth model with ModelMetadata props to `path`.

    `hidden` channels between the convolutions make inference as slow as a test needs.
    """
    rng = np.random.default_rng(seed)
    nodes, inits, previous, in_channels = [], [], 'image', 3
    for i in range(layers):
        out_channels = 1 if i == layers - 1 else hidden
        weight = rng.normal(0, 0.3 / np.sqrt(in_channels), (out_channels, in_channels, 3, 3))
        weight = weight.astype(np.float32)
        inits += [numpy_helper.from_array(weight, f'w{i}'),
                  numpy_helper.from_array(np.zeros(out_channels, np.float32), f'b{i}')]
        nodes.append(helper.make_node('Conv', [previous, f'w{i}', f'b{i}'], [f'c{i}'],
                                      pads=[1, 1, 1, 1]))
        previous, in_channels = f'c{i}', out_channels
    nodes.append(helper.make_node('Sigmoid', [previous], ['disparity']))
    graph = helper.make_graph(
        nodes, 'tiny_depth',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info('disparity', TensorProto.FLOAT, [1, 1, height, width])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    metadata = ModelMetadata(input_height=height, input_width=width, crop=tuple(crop),
                             min_depth=0.1, max_depth=100.0, metric_scale=metric_scale,
                             stem=stem)
    helper.set_model_props(model, metadata.to_onnx_props())
    onnx.checker.check_model(model)
    write_bytes_atomic(path, model.SerializeToString())
    return path
