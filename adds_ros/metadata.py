# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""What the runtime must know about an exported depth network, stored inside the model file.

`adds export` writes these fields into the ONNX file's `metadata_props` (and the engine cache
copies them beside each TensorRT engine), so the node reads crop, input size, depth range and
metric scale from the model itself: a user never retypes them, and a model can never be run
with another model's geometry.
"""

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from adds_ros.precision import GRAPH_PRECISIONS

PROP_PREFIX = 'adds_ros.'
STEMS = ('shared', 'day', 'night')
# Fields added after the first exports: files without them get the default.
LATER_FIELDS = ('precision', 'in_graph', 'camera_height', 'camera_width')
# What an in-graph model returns: both float32 camera-size maps, NaN outside the crop.
IN_GRAPH_OUTPUTS = ['depth', 'disparity']
NO_CROP = (0.0, 1.0, 0.0, 1.0)


@dataclass
class ModelMetadata:
    """Geometry and depth range of one exported depth network.

    `crop` is (top, bottom, left, right) as fractions of the camera image, applied before the
    resize to (input_height, input_width); RobotCar's is (1/6, 5/6, 0, 1), rows 160:800 of 960.
    `intrinsics` is the normalised 3x3 K of the cropped training image. `metric_scale` converts
    model depth units to metres; None means the model only knows relative depth. `precision`
    is the arithmetic of the graph's weights ('fp16' graphs build strongly typed TensorRT
    engines, the only FP16 route on releases without the FP16 builder flag).

    `in_graph` models (`adds export --camera-size`) do the pre- and post-processing in the
    graph: input `image` is the camera frame, uint8 1 x camera_height x camera_width x 3 RGB,
    and the outputs are `depth` (model units) and `disparity` (sigmoid), float32 camera_height x
    camera_width with NaN outside the crop. Other models take the network input (float32 1 x 3
    x input_height x input_width in [0, 1]) and return network-size `disparity` (and `depth` in
    metres when the metric scale is known); their camera size is 0 x 0 (any camera).
    """

    input_height: int
    input_width: int
    crop: Tuple[float, float, float, float] = NO_CROP
    min_depth: float = 0.1
    max_depth: float = 100.0
    metric_scale: Optional[float] = None
    intrinsics: List[List[float]] = field(
        default_factory=lambda: [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    stem: str = 'shared'
    outputs: List[str] = field(default_factory=lambda: ['disparity'])
    source_hash: str = ''
    version: str = ''
    precision: str = 'fp32'
    in_graph: bool = False
    camera_height: int = 0
    camera_width: int = 0

    def __post_init__(self) -> None:
        self.input_height, self.input_width = int(self.input_height), int(self.input_width)
        self.crop = tuple(float(c) for c in self.crop)
        self.min_depth, self.max_depth = float(self.min_depth), float(self.max_depth)
        if self.metric_scale is not None:
            self.metric_scale = float(self.metric_scale)
        self.intrinsics = [[float(v) for v in row] for row in self.intrinsics]
        self.outputs = list(self.outputs)
        self.in_graph = bool(self.in_graph)
        self.camera_height, self.camera_width = int(self.camera_height), int(self.camera_width)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first field that cannot describe a usable model."""
        if self.input_height <= 0 or self.input_width <= 0:
            raise ValueError(f'input size must be positive, got '
                             f'{self.input_height}x{self.input_width}')
        if len(self.crop) != 4:
            raise ValueError(f'crop must be (top, bottom, left, right), got {self.crop}')
        top, bottom, left, right = self.crop
        if not (0.0 <= top < bottom <= 1.0 and 0.0 <= left < right <= 1.0):
            raise ValueError(f'crop fractions must satisfy 0 <= top < bottom <= 1 and '
                             f'0 <= left < right <= 1, got {self.crop}')
        if not 0.0 < self.min_depth < self.max_depth:
            raise ValueError(f'need 0 < min_depth < max_depth, got '
                             f'{self.min_depth}, {self.max_depth}')
        if self.metric_scale is not None and not self.metric_scale > 0.0:
            raise ValueError(f'metric_scale must be positive or None, got {self.metric_scale}')
        if len(self.intrinsics) != 3 or any(len(row) != 3 for row in self.intrinsics):
            raise ValueError(f'intrinsics must be a 3x3 matrix, got {self.intrinsics}')
        if self.stem not in STEMS:
            raise ValueError(f'stem must be one of {STEMS}, got {self.stem!r}')
        if self.precision not in GRAPH_PRECISIONS:
            raise ValueError(f'precision must be one of {GRAPH_PRECISIONS}, got '
                             f'{self.precision!r}')
        if 'disparity' not in self.outputs:
            raise ValueError(f"outputs must include 'disparity', got {self.outputs}")
        self.validate_camera()

    def validate_camera(self) -> None:
        """Check the camera size: in-graph models need one their crop leaves pixels of."""
        size = f'{self.camera_width}x{self.camera_height}'
        if not self.in_graph:
            if self.camera_height or self.camera_width:
                raise ValueError(f'camera size {size} is only for in-graph models')
            return
        if self.camera_height <= 0 or self.camera_width <= 0:
            raise ValueError(f'an in-graph model needs a positive camera size, got {size}')
        if self.outputs != IN_GRAPH_OUTPUTS:
            raise ValueError(f'an in-graph model returns {IN_GRAPH_OUTPUTS}, got {self.outputs}')
        from adds_ros.preprocess import crop_box  # imports cv2: only for in-graph models
        crop_box(self.crop, self.camera_height, self.camera_width)

    def input_shape(self) -> Tuple[Optional[int], ...]:
        """Shape of the graph's `image` input (None: the batch of a host-processed model).

        In-graph: the camera frame as uint8 (1, camera_height, camera_width, 3), RGB. Others:
        float (N, 3, input_height, input_width) in [0, 1] (float16 in half graphs is allowed).
        """
        if self.in_graph:
            return (1, self.camera_height, self.camera_width, 3)
        return (None, 3, self.input_height, self.input_width)

    def output_shape(self) -> Tuple[Optional[int], ...]:
        """Shape of every output: camera-size (H, W) in-graph, else (N, 1, h, w); float32."""
        if self.in_graph:
            return (self.camera_height, self.camera_width)
        return (None, 1, self.input_height, self.input_width)

    def to_onnx_props(self) -> Dict[str, str]:
        """Return one `adds_ros.<field>` -> JSON string entry per field (ONNX props are str)."""
        return {PROP_PREFIX + name: json.dumps(value) for name, value in asdict(self).items()}

    @classmethod
    def from_onnx_props(cls, props: Dict[str, str]) -> 'ModelMetadata':
        """Rebuild from `to_onnx_props` output; a missing field is an error, extras are ignored."""
        values = {}
        for f in fields(cls):
            key = PROP_PREFIX + f.name
            if key not in props and f.name in LATER_FIELDS:
                continue
            if key not in props:
                raise ValueError(f'model metadata lacks {key!r}: was the model exported with '
                                 f'`adds export`?')
            try:
                values[f.name] = json.loads(props[key])
            except json.JSONDecodeError as err:
                raise ValueError(f'model metadata {key!r} is not valid JSON: {err}') from None
        return cls(**values)

    @classmethod
    def from_onnx(cls, path: Union[str, Path]) -> 'ModelMetadata':
        """Read the metadata of an ONNX file (uses ONNX Runtime, which the runtime has anyway)."""
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'no ONNX model at {path}')
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=['CPUExecutionProvider'])
        try:
            return cls.from_onnx_props(session.get_modelmeta().custom_metadata_map)
        except ValueError as err:
            raise ValueError(f'{path}: {err}') from None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> 'ModelMetadata':
        return cls(**json.loads(text))
