# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds export`: the depth graph (invariant encoder + depth decoder) to ONNX, with metadata.

The exported graph takes `image`, float32 RGB in [0, 1], N x 3 x H x W at the training size
(normalisation is inside), and returns `disparity` (sigmoid, scale 0) and, when a metric scale
is known, `depth` in metres. Everything the runtime needs (input size, crop, depth range, metric
scale, intrinsics, stem, source hash, version) goes into the file's metadata_props
(`adds_ros.metadata.ModelMetadata`).

With `--camera-size WxH` the graph instead takes the camera frame (uint8 1 x H x W x 3 RGB),
does the crop, resize and depth conversion itself and returns camera-size `depth` and
`disparity` (`adds_training.camera_graph`); the metadata marks it `in_graph`, so every backend
and DepthEstimator pick the byte-moving path by themselves.

Exporter: torch.onnx's dynamo exporter (opset 18) with its onnxscript optimiser. On the ADDS
depth net it gives ~100 nodes (Conv, Relu, Elu, Pad(reflect), Resize(nearest), Concat,
Sigmoid), constant-folded, where the TorchScript exporter gives ~330 (reflection padding
expanded into Slice/Transpose/Concat chains). Every written file passes TensorRT's importer
rules (operators, types, opsets of 10.3, 10.x and 11: `adds_ros.backends.trt_rules`).
"""

import argparse
import logging
from dataclasses import dataclass, MISSING
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from adds_ros import __version__, cli_config
from adds_ros.atomic import atomic_path
from adds_ros.backends.trt_rules import require_importable
from adds_ros.errors import UserFileNotFoundError, UserValueError
from adds_ros.metadata import IN_GRAPH_OUTPUTS, ModelMetadata
from adds_ros.settings import check, param, same_as
from adds_training.networks.loading import LoadOptions

LOGGER = logging.getLogger(__name__)

OPSET = 18
INPUT_NAME = 'image'


def robotcar_defaults() -> Dict[str, Any]:
    """Geometry the authors' RobotCar checkpoints were trained with (crop rows 160:800 of 960)."""
    from adds_training.data.layout import robotcar_info

    info = robotcar_info()
    (full_h, full_w), (top, bottom, left, right) = info.gt_size, info.gt_crop
    return {'crop': [top / full_h, bottom / full_h, left / full_w, right / full_w],
            'intrinsics': info.K, 'min_depth': 0.1, 'max_depth': 100.0}


def build_metadata(meta: Dict[str, Any], info: Dict[str, Any], stem: str,
                   height: Optional[int] = None, width: Optional[int] = None,
                   metric_scale: Optional[float] = None, half: bool = False,
                   camera: Optional[Tuple[int, int]] = None) -> ModelMetadata:
    """Combine checkpoint meta, loader info and command-line overrides into ModelMetadata.

    Missing geometry falls back to RobotCar's (what the authors trained on), said in the log.
    `camera` (height, width) makes the metadata of an in-graph model for that camera size.
    """
    defaults = robotcar_defaults()
    missing = [k for k in defaults if meta.get(k) is None]
    if missing:
        LOGGER.info(f'checkpoint has no {", ".join(missing)}: using RobotCar defaults')
    values = {k: meta[k] if meta.get(k) is not None else v for k, v in defaults.items()}
    scale = metric_scale if metric_scale is not None else meta.get('metric_scale')
    height = height or meta.get('height') or info.get('height')
    width = width or meta.get('width') or info.get('width')
    if not height or not width:
        raise UserValueError('the checkpoint does not say its input size: pass --height/--width')
    if height % 32 or width % 32:
        raise UserValueError(f'input size must be a multiple of 32, got {height}x{width}')
    return ModelMetadata(
        input_height=height, input_width=width, crop=values['crop'],
        min_depth=values['min_depth'], max_depth=values['max_depth'], metric_scale=scale,
        intrinsics=values['intrinsics'], stem=stem,
        outputs=(IN_GRAPH_OUTPUTS if camera else
                 ['disparity'] + (['depth'] if scale is not None else [])),
        source_hash=str(info.get('source') or ''), version=__version__,
        precision='fp16' if half else 'fp32', in_graph=bool(camera),
        camera_height=camera[0] if camera else 0, camera_width=camera[1] if camera else 0)


def depth_graph(net, metadata: ModelMetadata):
    """Wrap a DepthNet as the exported graph: scale-0 disparity, plus metric depth if known.

    For in-graph metadata the disparity graph goes inside the camera-frame pre/post-processing.
    """
    import torch

    from adds_training.camera_graph import camera_graph
    from adds_training.geometry import disp_to_depth

    class DepthGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, image: torch.Tensor):
            dtype = next(self.net.parameters()).dtype
            disparity = self.net(image.to(dtype))[0].float()
            if metadata.metric_scale is None or metadata.in_graph:
                return disparity
            _, depth = disp_to_depth(disparity, metadata.min_depth, metadata.max_depth)
            return disparity, depth * metadata.metric_scale

    graph = DepthGraph().eval()
    return camera_graph(graph, metadata) if metadata.in_graph else graph


def sample_input(metadata: ModelMetadata):
    """Make an input of the graph's type and shape: camera frame (uint8 NHWC) or tensor."""
    import torch

    if metadata.in_graph:
        return torch.randint(0, 256, (1, metadata.camera_height, metadata.camera_width, 3),
                             dtype=torch.uint8)
    return torch.rand(1, 3, metadata.input_height, metadata.input_width)


def export_onnx(graph, metadata: ModelMetadata, out: Path, dynamic_batch: bool = False) -> Path:
    """Export, check, attach metadata, write atomically.

    Checks: onnx.checker, strict shape inference, and TensorRT's importer rules for every
    supported release (`adds_ros.backends.trt_rules`): a graph TensorRT would refuse is not
    written, and the error names the node.
    """
    import onnx
    import torch

    if dynamic_batch and metadata.in_graph:
        raise UserValueError('an in-graph model (--camera-size) takes one camera frame: '
                             'drop --dynamic-batch')
    sample = sample_input(metadata)
    dynamic = {'image': {0: torch.export.Dim('batch', min=1, max=64)}} if dynamic_batch \
        else None
    with torch.no_grad():
        program = torch.onnx.export(graph, (sample,), dynamo=True, opset_version=OPSET,
                                    input_names=[INPUT_NAME], output_names=metadata.outputs,
                                    dynamic_shapes=dynamic, optimize=True, verbose=False)
    model = onnx.shape_inference.infer_shapes(program.model_proto, check_type=True,
                                              strict_mode=True, data_prop=True)
    onnx.checker.check_model(model, full_check=True)
    require_importable(model, f'the graph exported to {out}')
    model.producer_name, model.producer_version = 'adds_ros', __version__
    del model.metadata_props[:]
    for key, value in metadata.to_onnx_props().items():
        model.metadata_props.add(key=key, value=value)
    out = Path(out)
    with atomic_path(out) as tmp:
        onnx.save_model(model, str(tmp), save_as_external_data=False)
    return out


def export_checkpoint(checkpoint: Path, out: Path, domain: str = 'day',
                      height: Optional[int] = None, width: Optional[int] = None,
                      dynamic_batch: bool = False, metric_scale: Optional[float] = None,
                      half: bool = False, camera: Optional[Tuple[int, int]] = None,
                      normalisation: Optional[str] = None) -> ModelMetadata:
    """Load a project checkpoint or the authors' folder and export its depth graph to `out`.

    `camera` (height, width) exports the in-graph model for that camera size;
    `normalisation` overrides the checkpoint's test-time BatchNorm statistics.
    """
    from adds_training.networks import load_depth_net

    net, info = load_depth_net(checkpoint, domain, normalisation)
    try:
        metadata = build_metadata(dict(info.get('meta') or {}), info, net.stem, height, width,
                                  metric_scale, half, camera)
    except ValueError as err:
        if camera is None or isinstance(err, UserValueError):
            raise
        raise UserValueError(f'--camera-size: {err}') from None
    net = net.eval().half() if half else net.eval().float()
    export_onnx(depth_graph(net, metadata), metadata, out, dynamic_batch)
    return metadata


@dataclass
class ExportConfig:
    """`adds export`'s options; the checkpoint's are `LoadOptions`' (as `adds eval`'s)."""

    checkpoint: Path = same_as(LoadOptions, 'checkpoint')
    out: Path = param(MISSING, 'ONNX file to write')
    domain: str = same_as(LoadOptions, 'domain')
    height: Optional[int] = param(None, 'input height (default: training size)', (1, 1 << 14))
    width: Optional[int] = param(None, 'input width (default: training size)', (1, 1 << 14))
    dynamic_batch: bool = param(False, 'make the batch dimension dynamic (1..64)')
    metric_scale: Optional[float] = param(None, "metres per model depth unit (default: the "
                                                "checkpoint's, if any)")
    half: bool = param(False, 'FP16 weights (for strongly typed TensorRT FP16 engines); input '
                              'and outputs stay float32')
    camera_size: Optional[Tuple[int, int]] = param(None, 'do crop, resize and depth conversion '
                                                         'inside the graph for this camera '
                                                         'size: uint8 HxWx3 frame in, '
                                                         'camera-size depth and disparity out '
                                                         '(see docs/deploy.md)')
    normalisation: Optional[str] = same_as(LoadOptions, 'normalisation')

    def __post_init__(self) -> None:
        check(self, 'option')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_config.add_options(parser, ExportConfig, parsers={'camera_size': camera_size},
                           extra={'camera_size': {'metavar': 'WxH'}})


def camera_size(text: str) -> Tuple[int, int]:
    """Parse 'WxH' (e.g. 1280x960) into (height, width)."""
    width, sep, height = text.lower().partition('x')
    if not sep or not width.isdigit() or not height.isdigit() or not int(width) \
            or not int(height):
        raise argparse.ArgumentTypeError(f'expected WIDTHxHEIGHT such as 1280x960, got {text!r}')
    return int(height), int(width)


def run(args: argparse.Namespace) -> int:
    config = cli_config.build_checked(ExportConfig, args)
    if config.metric_scale is not None and not config.metric_scale > 0:
        raise UserValueError(f'--metric-scale must be positive, got {config.metric_scale}')
    if not config.checkpoint.exists():
        raise UserFileNotFoundError(f'--checkpoint {config.checkpoint}: no checkpoint there')
    metadata = export_checkpoint(config.checkpoint, config.out, config.domain, config.height,
                                 config.width, config.dynamic_batch, config.metric_scale,
                                 config.half, camera=config.camera_size,
                                 normalisation=config.normalisation)
    size = config.out.stat().st_size / 2 ** 20
    print(f'wrote {config.out} ({size:.1f} MiB): {metadata.input_width}x{metadata.input_height}, '
          f'stem {metadata.stem}, outputs {metadata.outputs}, metric scale '
          f'{metadata.metric_scale if metadata.metric_scale is not None else "unknown"}'
          + (f', in-graph for {metadata.camera_width}x{metadata.camera_height} camera frames'
             if metadata.in_graph else ''))
    return 0
