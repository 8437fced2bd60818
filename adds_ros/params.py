# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The depth node's parameters: one table that the rclpy node, `adds node` and the docs share.

Each field carries its description and its allowed range or choices, so the rclpy adapter can
declare ROS parameters with matching ParameterDescriptors and every transport validates the same
way, with an error that names the parameter.
"""

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple, Union

from adds_ros.camera_info import SYNC_MODES
from adds_ros.backends import backend_choices
from adds_ros.confidence import ConfidenceConfig
from adds_ros.domain import DOMAIN_MODES, DomainConfig
from adds_ros.image_decode import MAX_PIXELS, MAX_SIDE
from adds_ros.precision import REQUESTS as PRECISIONS
from adds_ros.scale import ScaleConfig
from adds_ros.settings import check, choices_of, param, same_as, section

RELIABILITY = ('best_effort', 'reliable')
MAPPED_MEMORY = ('auto', 'on', 'off')


@dataclass
class NodeParams:
    """All parameters of the depth node (names are the ROS parameter names)."""

    model: str = param('', 'depth model: .onnx, .engine or .pt/.pth checkpoint (required)')
    night_model: str = param('', 'night-stem model for per-domain checkpoints (empty: one model)')
    backend: str = param('auto', 'inference backend: auto, the runtime\'s own or one an '
                         'adds_ros.backends entry point registers', choices=backend_choices)
    device: str = param('auto', "inference device, e.g. 'cpu', 'cuda:0'")
    precision: str = param('auto', 'TensorRT engine precision for an .onnx model (auto: fp16 '
                                   'where the GPU runs it fast, else fp32)', choices=PRECISIONS)
    workspace_mib: int = param(0, 'TensorRT builder workspace (MiB) of an engine built from an '
                               '.onnx model; 0: reuse a cached engine built with any limit '
                               '(adds engine --workspace-mib), else build with 1024',
                               (0, 1 << 20))
    calib: str = param('', 'INT8 calibration for precision int8: a folder of camera images or '
                       'a .calib cache (adds engine --calib); empty: the one cache for this '
                       'model and GPU')
    mapped_memory: str = param('auto', 'TensorRT inputs and outputs in mapped (zero-copy) '
                               'page-locked memory: auto (on integrated GPUs: Jetson), on, off',
                               choices=MAPPED_MEMORY)
    domain: str = param('auto', 'day/night stem: auto (from illumination) or forced',
                        choices=DOMAIN_MODES)
    night_below: float = param(0.3, 'smoothed daylight (0 night .. 1 day) under which night '
                               'starts', (0.0, 1.0))
    day_above: float = param(0.7, 'smoothed daylight over which day starts again', (0.0, 1.0))
    domain_smoothing: float = param(0.5, 'weight of the previous daylight in the day/night '
                                    'filter', (0.0, 0.99))
    # the depth confidence's settings, declared in adds_ros.confidence.ConfidenceConfig
    confidence: str = same_as(ConfidenceConfig, 'method')
    confidence_scale: float = same_as(ConfidenceConfig, 'scale')
    confidence_threshold: float = same_as(ConfidenceConfig, 'threshold')
    # the metric scale's settings, declared in adds_ros.scale.ScaleConfig
    scale_mode: str = same_as(ScaleConfig, 'mode')
    scale_factor: float = same_as(ScaleConfig, 'factor')
    camera_height: float = same_as(ScaleConfig, 'camera_height')
    scale_smoothing: float = same_as(ScaleConfig, 'smoothing')
    camera_pitch_deg: float = same_as(ScaleConfig, 'pitch_deg')
    camera_roll_deg: float = same_as(ScaleConfig, 'roll_deg')
    scale_max_tilt_deg: float = same_as(ScaleConfig, 'max_tilt_deg')
    scale_min_inlier_fraction: float = same_as(ScaleConfig, 'min_inlier_fraction')
    scale_min_row_coverage: float = same_as(ScaleConfig, 'min_row_coverage')
    scale_max_jump: float = same_as(ScaleConfig, 'max_jump')
    scale_confirm_frames: int = same_as(ScaleConfig, 'confirm_frames')
    scale_max_age: float = same_as(ScaleConfig, 'max_age')
    max_pixels: int = param(MAX_PIXELS, 'largest accepted frame, width x height (checked in '
                                        'the compressed header before decoding)',
                            (1, MAX_SIDE * MAX_SIDE))
    compressed: bool = param(False, 'subscribe to image/compressed instead of image')
    use_camera_info: bool = param(True, 'subscribe to camera_info and check it against frames')
    strict_camera_info: bool = param(False, 'drop frames whose camera_info is not a valid '
                                     "calibration (default: use the model's K and warn)")
    camera_info_sync: str = param('exact', 'pair camera_info with a frame by the same stamp, '
                                  'the nearest within camera_info_slop, or the latest',
                                  choices=SYNC_MODES)
    camera_info_slop: float = param(0.01, 'seconds a camera_info stamp may differ from the '
                                    "frame's with camera_info_sync approximate", (0.0, 10.0))
    publish_colorized: bool = param(True, 'publish depth/colorized (bgr8) for viewing')
    input_reliability: str = param('best_effort', 'QoS reliability of the subscriptions '
                                   '(best_effort, the sensor-data QoS, matches reliable and '
                                   'best-effort cameras; large frames need the large-data '
                                   'Fast DDS profile on both sides: docs/ros.md)',
                                   choices=RELIABILITY)
    input_depth: int = param(5, 'QoS history depth of the subscriptions (sensor data: 5)',
                             (1, 100))
    output_reliability: str = param('reliable', 'QoS reliability of the publishers',
                                    choices=RELIABILITY)
    output_depth: int = param(1, 'QoS history depth of the publishers', (1, 100))
    diagnostics_period: float = param(1.0, 'seconds between /diagnostics messages',
                                      (0.05, 60.0))
    warn_period: float = param(5.0, 'seconds between repeated warnings of one kind',
                               (0.0, 600.0))
    drop_warn_share: float = param(0.5, 'diagnostics WARN when more than this share of the '
                                   'last latency_window frames was dropped (ERROR: all)',
                                   (0.0, 1.0))
    latency_window: int = param(200, 'frames in the latency percentile and drop-share '
                                'windows', (10, 100000))

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first parameter outside its type, range or choices."""
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not _type_ok(value, spec.type):
                raise ValueError(f'parameter {spec.name!r} must be {spec.type}, got '
                                 f'{value!r}')
        check(self, 'parameter')
        self.domain_config().validate()

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> 'NodeParams':
        """Build from a parameter mapping (e.g. a params file); unknown names are errors."""
        known = {spec.name: spec.type for spec in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f'unknown parameter(s) {unknown}; known: {sorted(known)}')
        coerced = {name: float(v) if known[name] is float and _is_int(v) else v
                   for name, v in values.items()}
        return cls(**coerced)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def backend_options(self) -> Dict[str, Any]:
        """Return the engine-builder options the parameters set (the TensorRT backend's).

        Unset ones are left out, so the other backends run as before.
        """
        options: Dict[str, Any] = {'workspace_mib': self.workspace_mib or None,
                                   'calib': self.calib or None,
                                   'mapped_memory': None if self.mapped_memory == 'auto'
                                   else self.mapped_memory == 'on'}
        return {name: value for name, value in options.items() if value is not None}

    def domain_config(self) -> DomainConfig:
        return DomainConfig(mode=self.domain, night_below=self.night_below,
                            day_above=self.day_above, smoothing=self.domain_smoothing)

    def scale_config(self) -> ScaleConfig:
        return section(self, ScaleConfig)

    def confidence_config(self) -> ConfidenceConfig:
        return section(self, ConfidenceConfig)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_ok(value: Any, declared: type) -> bool:
    if declared is bool:
        return isinstance(value, bool)
    if declared is int:
        return _is_int(value)
    return isinstance(value, declared)


def parameter_table() -> Iterator[Tuple[str, Any, str, Any, Any]]:
    """(name, default, description, range, choices) per parameter, for declaring and docs."""
    for spec in fields(NodeParams):
        yield (spec.name, spec.default, spec.metadata['description'], spec.metadata['range'],
               choices_of(spec))


def load_params_file(path: Union[str, Path], node_name: str = 'depth_node') -> Dict[str, Any]:
    """Read the parameters a ROS 2 params file gives this node (`/**` first, then its own name)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no parameters file at {path}')
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict):
        raise ValueError(f'{path}: expected a mapping of node names to ros__parameters')
    values: Dict[str, Any] = {}
    for key in ('/**', node_name, '/' + node_name):
        section = content.get(key) or {}
        if section and 'ros__parameters' not in section:
            raise ValueError(f'{path}: section {key!r} has no ros__parameters')
        values.update(section.get('ros__parameters') or {})
    return values
