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

PROP_PREFIX = 'adds_ros.'
STEMS = ('shared', 'day', 'night')
PRECISIONS = ('fp32', 'fp16')
# Fields added after the first exports: files without them get the default.
LATER_FIELDS = ('precision',)
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

    def __post_init__(self) -> None:
        self.input_height, self.input_width = int(self.input_height), int(self.input_width)
        self.crop = tuple(float(c) for c in self.crop)
        self.min_depth, self.max_depth = float(self.min_depth), float(self.max_depth)
        if self.metric_scale is not None:
            self.metric_scale = float(self.metric_scale)
        self.intrinsics = [[float(v) for v in row] for row in self.intrinsics]
        self.outputs = list(self.outputs)
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
        if self.precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {self.precision!r}')
        if 'disparity' not in self.outputs:
            raise ValueError(f"outputs must include 'disparity', got {self.outputs}")

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
