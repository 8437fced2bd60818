# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The node's per-frame work at camera size, stage by stage: the node's own FramePipeline.

sensor_msgs/Image -> decode (+ demosaic for Bayer) -> crop/resize/normalise -> inference ->
post-processing (upsample disparity into the crop, depth, metric scale) -> message packing
(REP 118 depth image and camera_info, then the rclpy messages the node hands to rclpy, where
rclpy is installed). The colourised view is timed on its own: the node only makes it while
someone subscribes to it.

`bench_estimator_paths` compares the estimator's two ways of running a frame at camera size:
the host path (crop/resize, network, upsample on the host) and the in-graph path (the
`adds export --camera-size` model does it all; the host only moves bytes), stage by stage with
the colourised view, and times `colorize` alone against its 1 ms target.

`bench_confidence` times what each `depth/confidence` method adds to a camera frame's depth
pass (adds_ros.confidence: `flip` a second pass on the mirrored frame, `gradient` only host
work on the depth map); the node pays it only while someone subscribes or masks depth.
"""

import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from adds_ros.testing.camera import camera_frame
from adds_ros.tools.stats import summarize, time_interleaved

OUTSIDE = ('decode', 'demosaic', 'crop/resize', 'post-processing', 'message packing')
STAGES = OUTSIDE[:3] + ('inference',) + OUTSIDE[3:] + ('colorize (viewer only)',)
ENCODINGS = ('bayer_gbrg8', 'rgb8')
PATH_STAGES = ('preprocess', 'inference', 'postprocess', 'colorize')
HOST_STAGES = ('preprocess', 'postprocess', 'colorize')  # host work around the network


def rclpy_conversion(outputs: Dict[str, Any]) -> float:
    """Seconds to turn the pipeline's plain messages into rclpy messages (0 without rclpy)."""
    try:
        from adds_ros.ros_messages import ros_types, to_ros
        types = ros_types()
    except ImportError:
        return 0.0
    start = time.perf_counter()
    for msg in outputs.values():
        to_ros(msg, types)
    return time.perf_counter() - start


def frame_stages(msg: Any, pipeline: Any, info: Any = None) -> Dict[str, float]:
    """Seconds of each stage for one message (demosaic timed separately from the decode)."""
    from adds_ros.image_decode import decode_image, ENCODINGS as CONVERSIONS
    from adds_ros.pipeline import COLORIZED, DEPTH, DEPTH_INFO

    demosaic = 0.0
    if msg.encoding.startswith('bayer'):
        raw = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width)
        before = time.perf_counter()
        cv2.cvtColor(raw, CONVERSIONS[msg.encoding][2])
        demosaic = time.perf_counter() - before
    result = pipeline.process(msg, decode_image, info, (DEPTH, DEPTH_INFO, COLORIZED))
    t, outputs = result.timings, result.outputs
    view = {COLORIZED: outputs.pop(COLORIZED)}
    colorized = t['colorize'] + rclpy_conversion(view)
    return {'decode': max(t['decode'] - demosaic, 0.0), 'demosaic': demosaic,
            'crop/resize': t['preprocess'], 'inference': t['inference'],
            'post-processing': t['postprocess'] + t['scale'],
            'message packing': t['pack'] + rclpy_conversion(outputs),
            'colorize (viewer only)': colorized}


def bench_pipeline(onnx: Path, camera: Tuple[int, int], iterations: int, warmup: int,
                   threads: int, progress: Callable[[], None] = lambda: None
                   ) -> List[Dict[str, Any]]:
    """Per encoding: each stage's median, p99 and share; and outside-inference / inference."""
    from adds_ros.estimator import DepthEstimator
    from adds_ros.messages import Header, image_from_array
    from adds_ros.params import NodeParams
    from adds_ros.pipeline import FramePipeline

    estimator = DepthEstimator(onnx, backend='onnxruntime', device='cpu', threads=threads)
    pipeline = FramePipeline(NodeParams(model=str(onnx), scale_mode='fixed', scale_factor=1.0),
                             {'day': estimator})
    height, width = camera
    messages = {enc: image_from_array(camera_frame(enc, height, width), enc, Header())
                for enc in ENCODINGS}
    samples: Dict[str, Dict[str, List[float]]] = {enc: {s: [] for s in STAGES}
                                                  for enc in ENCODINGS}
    for i in range(warmup + iterations):
        for enc in (ENCODINGS if i % 2 else ENCODINGS[::-1]):
            stages = frame_stages(messages[enc], pipeline)
            if i >= warmup:
                for stage, seconds in stages.items():
                    samples[enc][stage].append(seconds)
        if i >= warmup:
            progress()
    estimator.close()
    return [pipeline_row(enc, camera, samples[enc], estimator.metadata) for enc in ENCODINGS]


def pipeline_row(encoding: str, camera: Tuple[int, int], samples: Dict[str, List[float]],
                 metadata: Any) -> Dict[str, Any]:
    """Summaries per stage, shares of the per-frame total (colorize apart) and the target ratio."""
    stages = {stage: summarize(samples[stage]) for stage in STAGES}
    core = [s for s in STAGES if s != 'colorize (viewer only)']
    total = sum(stages[s]['p50_ms'] for s in core)
    for stage in STAGES:
        stages[stage]['share'] = stages[stage]['p50_ms'] / total
    outside = sum(stages[s]['p50_ms'] for s in OUTSIDE)
    return {'encoding': encoding, 'camera': f'{camera[1]}x{camera[0]}',
            'network': f'{metadata.input_width}x{metadata.input_height}', 'stages': stages,
            'total_p50_ms': total, 'outside_inference_ms': outside,
            'outside_over_inference': outside / stages['inference']['p50_ms']}


def estimator_stages(estimator: Any, rgb: np.ndarray) -> Dict[str, float]:
    """Seconds of the estimator's stages for one frame, and of the node's colourised view."""
    from adds_ros.pipeline import colorized_view

    prediction = estimator.predict(rgb)
    before = time.perf_counter()
    colorized_view(estimator, prediction, rgb.shape[:2])
    return {**prediction.timings, 'colorize': time.perf_counter() - before}


def bench_estimator_paths(checkpoint: Path, onnx: Path, camera: Tuple[int, int], iterations: int,
                          warmup: int, threads: int,
                          progress: Callable[[], None] = lambda: None) -> Dict[str, Any]:
    """Host path (`onnx`) against the in-graph export of `checkpoint`, ONNX Runtime on the CPU.

    Both estimators get the same camera frame, in alternating order each round. Returns one row
    per path (each stage's summary and share of the frame, the host's share), the node's
    colourised view alone at camera size ('colorize') and, for comparison, colouring the
    camera-size depth instead of the network map ('colorize_camera_size').
    """
    from adds_ros.estimator import DepthEstimator
    from adds_ros.metadata import ModelMetadata
    from adds_ros.pipeline import colorized_view
    from adds_ros.postprocess import colorize
    from adds_training.tools.bench.models import export_for_size

    height, width = camera
    metadata = ModelMetadata.from_onnx(onnx)
    in_graph = export_for_size(checkpoint, onnx.with_name(f'{onnx.stem}_camera_{width}x{height}'
                                                          f'.onnx'),
                               (metadata.input_height, metadata.input_width), camera=camera)
    estimators = {path: DepthEstimator(model, backend='onnxruntime', device='cpu',
                                       threads=threads)
                  for path, model in (('host', onnx), ('in-graph', in_graph))}
    rgb = camera_frame('rgb8', height, width)
    samples = {path: {stage: [] for stage in PATH_STAGES} for path in estimators}
    for i in range(warmup + iterations):
        for path in (list(estimators) if i % 2 else list(estimators)[::-1]):
            stages = estimator_stages(estimators[path], rgb)
            if i >= warmup:
                for stage in PATH_STAGES:
                    samples[path][stage].append(stages[stage])
        if i >= warmup:
            progress()
    host = estimators['host']
    prediction = host.predict(rgb)
    repeats = max(iterations, 50)
    view = time_calls(lambda: colorized_view(host, prediction, camera), repeats)
    after_upsampling = time_calls(lambda: colorize(prediction.depth), repeats)
    for estimator in estimators.values():
        estimator.close()
    return {'rows': [path_row(path, camera, samples[path], metadata) for path in estimators],
            'colorize': {'camera': f'{width}x{height}', **summarize(view)},
            'colorize_camera_size': summarize(after_upsampling)}


def time_calls(call: Callable[[], Any], repeats: int) -> List[float]:
    """Seconds of `repeats` calls after one untimed call."""
    call()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def path_row(path: str, camera: Tuple[int, int], samples: Dict[str, List[float]],
             metadata: Any) -> Dict[str, Any]:
    """Per-stage summaries and shares of one estimator path; host work as a share of the frame."""
    stages = {stage: summarize(samples[stage]) for stage in PATH_STAGES}
    total = sum(stages[s]['p50_ms'] for s in PATH_STAGES)
    for stage in PATH_STAGES:
        stages[stage]['share'] = stages[stage]['p50_ms'] / total
    return {'path': path, 'camera': f'{camera[1]}x{camera[0]}',
            'network': f'{metadata.input_width}x{metadata.input_height}', 'stages': stages,
            'total_p50_ms': total,
            'host_share': sum(stages[s]['share'] for s in HOST_STAGES)}


def confidence_cost(estimator: Any, rgb: np.ndarray, methods: Sequence[str], iterations: int,
                    warmup: int, progress: Callable[[], None] = lambda: None) -> Dict[str, Any]:
    """Time one frame's depth pass against each confidence method's extra work on its depth.

    The depth pass and every method's `compute` are timed in rotating order each round. Per
    method: its extra time and (depth + extra) / depth at the medians.
    """
    from adds_ros.confidence import ConfidenceConfig, ConfidenceEstimator

    depth = estimator.predict(rgb).depth
    calls = {'depth': partial(estimator.predict, rgb),
             **{method: partial(ConfidenceEstimator(estimator, ConfidenceConfig(method)).compute,
                                rgb, depth) for method in methods}}
    seconds = time_interleaved(calls, iterations, warmup, progress)
    depth_pass = summarize(seconds.pop('depth'))
    return {'camera': f'{rgb.shape[1]}x{rgb.shape[0]}', 'depth': depth_pass,
            'methods': {method: {**row, 'frame_ratio': 1 + row['p50_ms'] / depth_pass['p50_ms']}
                        for method, row in ((m, summarize(v)) for m, v in seconds.items())}}


def bench_confidence(onnx: Path, camera: Tuple[int, int], iterations: int, warmup: int,
                     threads: int, progress: Callable[[], None] = lambda: None
                     ) -> Dict[str, Any]:
    """`confidence_cost` of every method on one camera frame (ONNX Runtime, CPU)."""
    from adds_ros.confidence import CONFIDENCE_METHODS
    from adds_ros.estimator import DepthEstimator

    with DepthEstimator(onnx, backend='onnxruntime', device='cpu', threads=threads) as estimator:
        cost = confidence_cost(estimator, camera_frame('rgb8', *camera), CONFIDENCE_METHODS,
                               iterations, warmup, progress)
        metadata = estimator.metadata
    return {**cost, 'network': f'{metadata.input_width}x{metadata.input_height}'}
