# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""DepthEstimator: the one object the node, the bag tools, parity and bench call.

camera RGB uint8 (H x W x 3) -> crop + resize (from the model's metadata) -> backend ->
disparity -> upsampled into the crop region -> depth at camera resolution, NaN outside the crop.
In-graph models (`adds export --camera-size`) do all of that inside the graph on the backend's
device: the estimator hands over the camera frame and takes the camera-size maps back.

With the TensorRT backend the estimator is used from the thread that created it (its execution
context and buffers are not thread-safe): the node constructs it inside its inference thread.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

from adds_ros.backends import create_backend
from adds_ros.image_decode import InputError
from adds_ros.metadata import IN_GRAPH_OUTPUTS, ModelMetadata
from adds_ros.postprocess import disp_to_depth, squeeze_disparity, upsample_into_camera
from adds_ros.preprocess import check_rgb, crop_box, to_network_input


@dataclass
class DepthPrediction:
    """One frame's result.

    `depth` is float32 H x W at camera resolution in model depth units (disp_to_depth of the
    network output; metres only after `DepthEstimator.metric_depth`), NaN outside the crop.
    `disparity` is the sigmoid disparity: network resolution (h x w) for host-processed models,
    camera resolution with NaN outside the crop for in-graph ones (None when `predict` was told
    it is not needed: an in-graph model then downloads only depth). `timings` holds seconds
    for 'preprocess', 'inference' and 'postprocess' (host work only: an in-graph model's
    pre/post-processing counts as inference).
    """

    depth: np.ndarray
    disparity: Optional[np.ndarray]
    timings: Dict[str, float] = field(default_factory=dict)


class DepthEstimator:
    """Run an exported depth network on camera images with any backend.

    `model` is an .onnx, .engine or .pt/.pth file; `backend` is 'auto', 'onnxruntime',
    'tensorrt' or 'torch'; `device` is 'auto', 'cpu', 'cuda[:N]' (or 'tensorrt' for ONNX
    Runtime's TensorRT provider); `precision` is 'auto', 'fp32', 'fp16' or 'int8' (TensorRT
    builds or loads the engine of that precision; see adds_ros.backends.tensorrt_backend);
    `backend_options` go to the backend (e.g. calib=DIR for int8).
    """

    def __init__(self, model: Union[str, Path], backend: str = 'auto', device: str = 'auto',
                 precision: str = 'auto', **backend_options) -> None:
        self.backend = create_backend(model, backend, device, precision, **backend_options)
        self.metadata: ModelMetadata = self.backend.metadata
        # all that predict() reads
        self._wanted = IN_GRAPH_OUTPUTS if self.metadata.in_graph else ('disparity',)
        self.backend.use_outputs(self._wanted)
        self.backend_name: str = self.backend.name
        # False: predict() of an in-graph model leaves the disparity on the device
        self.want_disparity = True

    def describe(self) -> str:
        return self.backend.describe()

    def input_buffer(self) -> Optional[np.ndarray]:
        """Return where to decode a camera frame so that `predict` copies it no more, or None.

        The backend's page-locked input (camera H x W x 3 uint8) of an in-graph model on a
        backend that has one (TensorRT); a frame of another size is decoded as usual.
        """
        buffer = getattr(self.backend, 'input_buffer', None)
        return buffer()[0] if buffer is not None and self.metadata.in_graph else None

    def predict(self, rgb: np.ndarray, disparity: Optional[bool] = None) -> DepthPrediction:
        """Estimate depth for one camera image (RGB uint8 H x W x 3, any resolution).

        An in-graph model takes only its export's camera size: another size raises
        InputError('size_mismatch'). `disparity` (default `want_disparity`) False: the caller
        needs no disparity (the node without a depth/colorized subscriber); an in-graph model
        then leaves it on the device. The maps may be views of the backend's buffers
        (TensorRT): they stay valid while referenced, but keep them only while the estimator is
        open.
        """
        meta = self.metadata
        check_rgb(rgb)
        if meta.in_graph:
            return self._predict_in_graph(
                rgb, self.want_disparity if disparity is None else disparity)
        start = time.perf_counter()
        tensor = to_network_input(rgb, meta.crop, meta.input_height, meta.input_width)
        preprocessed = time.perf_counter()
        disparity = squeeze_disparity(self.backend.infer(tensor)['disparity'])
        inferred = time.perf_counter()
        box = crop_box(meta.crop, rgb.shape[0], rgb.shape[1])
        # Bilinear resizing commutes with disp_to_depth's affine map of the disparity, so the
        # map runs at network resolution and only the reciprocal at camera size (speed).
        scaled, _ = disp_to_depth(disparity, meta.min_depth, meta.max_depth)
        camera_scaled = upsample_into_camera(scaled, box, rgb.shape[:2])
        depth = np.reciprocal(camera_scaled, out=camera_scaled)
        done = time.perf_counter()
        return DepthPrediction(depth=depth, disparity=disparity,
                               timings={'preprocess': preprocessed - start,
                                        'inference': inferred - preprocessed,
                                        'postprocess': done - inferred})

    def _predict_in_graph(self, rgb: np.ndarray, disparity: bool) -> DepthPrediction:
        meta = self.metadata
        if rgb.shape[:2] != (meta.camera_height, meta.camera_width):
            raise InputError('size_mismatch', f'camera image is {rgb.shape[1]}x{rgb.shape[0]} '
                             f'but the model was exported for {meta.camera_width}x'
                             f'{meta.camera_height} frames (adds export --camera-size)')
        start = time.perf_counter()
        frame = np.ascontiguousarray(rgb)[None]
        wanted = IN_GRAPH_OUTPUTS if disparity else IN_GRAPH_OUTPUTS[:1]
        if wanted != self._wanted:
            self.backend.use_outputs(wanted)
            self._wanted = wanted
        preprocessed = time.perf_counter()
        outputs = self.backend.infer(frame)
        inferred = time.perf_counter()
        depth = squeeze_disparity(outputs['depth'])
        maps = squeeze_disparity(outputs['disparity']) if disparity else None
        done = time.perf_counter()
        return DepthPrediction(depth=depth, disparity=maps,
                               timings={'preprocess': preprocessed - start,
                                        'inference': inferred - preprocessed,
                                        'postprocess': done - inferred})

    def metric_depth(self, prediction: DepthPrediction,
                     scale: Optional[float] = None) -> Optional[np.ndarray]:
        """Return depth in metres: `scale` (or the model's metric_scale) times model depth.

        None if neither is known: relative depth is never passed off as metres.
        """
        scale = scale if scale is not None else self.metadata.metric_scale
        if scale is None:
            return None
        if not scale > 0:
            raise ValueError(f'metric scale must be positive, got {scale}')
        return prediction.depth * np.float32(scale)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> 'DepthEstimator':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
