# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Bytes the node moves through host memory per camera frame on the TensorRT in-graph path.

The node's own FramePipeline runs a camera-size model (`adds export --camera-size`) on the
TensorRT backend; per frame it counts what the backend reports (`TensorRTBackend.traffic`:
the frame copied into the page-locked input, uploads, downloads, FP16 conversions) plus the
decoded frame itself, which the decoder writes once (into the page-locked input when it can).
Two subscriber sets: depth + inverse depth (no viewer), and everything (depth/colorized is
coloured from the depth, so a viewer adds no download). Needs TensorRT and a GPU; the tests
drive it through the fake TensorRT (test/fake_tensorrt.py), which runs the same backend code.
"""

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

CASES = {'depth + inverse depth': ('depth/image', 'inverse_depth/image'),
         'all outputs (with depth/colorized)': None}
KINDS = ('decode', 'staging', 'upload', 'download', 'convert')


def frame_traffic(model: Path, camera: Tuple[int, int], frames: int = 3,
                  mapped_memory: Optional[bool] = False, device: str = 'cuda:0'
                  ) -> Dict[str, Any]:
    """Return bytes per frame by kind and in total, per subscriber case, for an rgb8 camera.

    `mapped_memory`: the zero-copy buffers of integrated GPUs (no uploads or downloads);
    None: the backend's default (on where the GPU is integrated).
    """
    from adds_ros.estimator import DepthEstimator
    from adds_ros.image_decode import decode_image
    from adds_ros.messages import Header, image_from_array
    from adds_ros.params import NodeParams
    from adds_ros.pipeline import FramePipeline, OUTPUTS
    from adds_ros.testing.camera import camera_frame

    estimator = DepthEstimator(model, backend='tensorrt', device=device,
                               mapped_memory=mapped_memory)
    try:
        pipeline = FramePipeline(NodeParams(model=str(model), scale_mode='fixed',
                                            scale_factor=1.0), {'day': estimator})
        msg = image_from_array(camera_frame('rgb8', *camera), 'rgb8', Header())
        rows = {}
        for case, wanted in CASES.items():
            counted = dict(estimator.backend.traffic)
            for _ in range(frames):
                pipeline.process(msg, decode_image, None, wanted or OUTPUTS)
            per_frame = {kind: (estimator.backend.traffic[kind] - counted[kind]) / frames
                         for kind in KINDS[1:]}
            per_frame['decode'] = float(camera[0] * camera[1] * 3)
            rows[case] = {**per_frame, 'total': sum(per_frame.values())}
        return {'camera': f'{camera[1]}x{camera[0]}', 'mapped_memory': estimator.backend.mapped,
                'backend': estimator.describe(), 'bytes_per_frame': rows}
    finally:
        estimator.close()


def bench_traffic(checkpoint: Path, onnx: Path, camera: Tuple[int, int],
                  frames: int = 5) -> Dict[str, Any]:
    """Measure both memory modes where TensorRT runs (the bench section), else say why not."""
    from adds_ros.backends import tensorrt_usable
    from adds_ros.metadata import ModelMetadata
    from adds_training.tools.bench.models import export_for_size

    if not tensorrt_usable():
        return {'skipped': 'TensorRT, a CUDA layer or a GPU is missing (the counts are tested '
                           'through the fake TensorRT: test/test_tensorrt.py)'}
    metadata = ModelMetadata.from_onnx(onnx)
    height, width = camera
    model = export_for_size(checkpoint, onnx.with_name(f'{onnx.stem}_camera_{width}x{height}'
                                                       f'.onnx'),
                            (metadata.input_height, metadata.input_width), camera=camera)
    return {'pinned': frame_traffic(model, camera, frames, mapped_memory=False),
            'mapped': frame_traffic(model, camera, frames, mapped_memory=True)}
