# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One camera frame in, the depth node's output messages out: synchronous, no threads, no ROS.

This is the per-frame sequence of the depth node (decode -> validate camera_info -> day/night
stem -> inference -> metric scale -> pack outputs), written once. The threaded node core
(`adds_ros.node_core`), the offline bag tool (`adds bag-depth`) and the pipeline benchmark all
call `FramePipeline.process`; they differ only in where frames come from and where outputs go.

Output topics never change name with the model: `depth/image` carries metres (REP 118) and is
published only when a metric scale is known; `inverse_depth/image` carries relative inverse
depth (model units) and is always available. So a `depth/image` remap (depth_image_proc, a
point cloud) is either served metres or told by diagnostics why not — never relative values.
"""

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Dict, Optional, Tuple

import numpy as np

from adds_ros.domain import DomainSelector
from adds_ros.image_decode import InputError, check_camera_info
from adds_ros.messages import (CameraInfo, Header, Time, camera_info_from_k, depth_image,
                               image_from_array, scale_camera_info)
from adds_ros.params import NodeParams
from adds_ros.postprocess import colorize_view
from adds_ros.preprocess import crop_box
from adds_ros.scale import ScaleEstimator

DEPTH = 'depth/image'
DEPTH_INFO = 'depth/camera_info'
COLORIZED = 'depth/colorized'
INVERSE = 'inverse_depth/image'
OUTPUTS = (DEPTH, DEPTH_INFO, COLORIZED, INVERSE)

EstimatorFactory = Callable[[str, NodeParams], Any]


def default_estimator_factory(model: str, params: NodeParams) -> Any:
    """Build the project's DepthEstimator (imported here: it pulls in the backends)."""
    from adds_ros.estimator import DepthEstimator
    return DepthEstimator(model, backend=params.backend, device=params.device,
                          precision=params.precision, **params.backend_options())


def camera_k_from_metadata(metadata: Any, height: int, width: int) -> np.ndarray:
    """Pixel K of the full camera image from the model's normalised K of its cropped input."""
    from adds_ros.preprocess import crop_box
    top, bottom, left, right = crop_box(metadata.crop, height, width)
    k = np.asarray(metadata.intrinsics, dtype=np.float64).copy()
    k[0] *= right - left
    k[1] *= bottom - top
    k[0, 2] += left
    k[1, 2] += top
    k[2] = (0.0, 0.0, 1.0)
    return k


def colorized_view(estimator: Any, disparity: np.ndarray,
                   camera_shape: Tuple[int, int]) -> np.ndarray:
    """`depth/colorized` of one prediction (postprocess.colorize_view with the model's range)."""
    meta = estimator.metadata
    return colorize_view(disparity, meta.min_depth, meta.max_depth,
                         crop_box(meta.crop, *camera_shape), camera_shape)


def close_all(estimators: Dict[str, Any]) -> None:
    for estimator in estimators.values():
        getattr(estimator, 'close', lambda: None)()


@dataclass
class FrameResult:
    """What one frame produced: topic -> message, and seconds per stage."""

    outputs: Dict[str, Any]
    timings: Dict[str, float] = field(default_factory=dict)
    domain: str = 'day'


class FramePipeline:
    """The depth node's per-frame work over one or two (day, night) estimators."""

    def __init__(self, params: NodeParams, estimators: Dict[str, Any],
                 message_time: bool = False) -> None:
        """`message_time`: held scales age in header time (bag replay), not the wall clock."""
        self.params = params
        self.estimators = estimators
        self.message_time = message_time
        day = estimators['day']
        # One scale per stem: day and night depths differ in scale until the fits agree.
        self.scalers = {name: ScaleEstimator(params.scale_config(), day.metadata.metric_scale)
                        for name in estimators}
        self.backend_name: str = getattr(day, 'backend_name', '')
        self.domains = DomainSelector(params.domain_config())
        # What diagnostics show: the model's own stem for one model, else the selector's choice.
        self.domain = 'day' if 'night' in estimators else day.metadata.stem

    @classmethod
    def load(cls, params: NodeParams, factory: EstimatorFactory = default_estimator_factory,
             message_time: bool = False) -> 'FramePipeline':
        """Load the model(s) named by the parameters; closes what it opened if one fails."""
        estimators = {'day': factory(params.model, params)}
        try:
            if params.night_model:
                estimators['night'] = factory(params.night_model, params)
            return cls(params, estimators, message_time)
        except BaseException:
            close_all(estimators)
            raise

    @property
    def scaler(self) -> ScaleEstimator:
        """The scale of the stem in use."""
        return self.scalers.get(self.domain, self.scalers['day'])

    @property
    def metric(self) -> bool:
        """True when depth/image is served (a metric scale source exists)."""
        return self.scaler.metric

    def close(self) -> None:
        close_all(self.estimators)
        self.estimators = {}

    def process(self, msg: Any, decode: Callable[[Any], np.ndarray],
                camera_info: Optional[CameraInfo],
                wanted: Collection[str] = OUTPUTS) -> FrameResult:
        """Run one frame; raise InputError(reason) when it must be dropped.

        `wanted` are the output topics someone listens to: nothing is computed for the others.
        """
        timings: Dict[str, float] = {}
        start = time.perf_counter()
        rgb = decode(msg)
        height, width = rgb.shape[:2]
        check_camera_info(camera_info, height, width)
        timings['decode'] = time.perf_counter() - start
        if 'night' in self.estimators:
            self.domain = self.domains.select(rgb)
        estimator = self.estimators.get(self.domain, self.estimators['day'])
        prediction = estimator.predict(rgb)
        timings.update(prediction.timings)
        k = (np.asarray(camera_info.k, dtype=np.float64).reshape(3, 3) if camera_info is not None
             else camera_k_from_metadata(estimator.metadata, height, width))
        mark = time.perf_counter()
        header = Header(stamp=Time(msg.header.stamp.sec, msg.header.stamp.nanosec),
                        frame_id=msg.header.frame_id)
        stamp = header.stamp.to_sec() if self.message_time else None
        metres = self._metres(estimator, prediction, k, stamp) if self.metric else None
        timings['scale'] = time.perf_counter() - mark
        outputs = self._pack(prediction.depth, metres, camera_info, k, header, wanted, timings)
        if self.params.publish_colorized and COLORIZED in wanted:
            mark = time.perf_counter()
            outputs[COLORIZED] = image_from_array(
                colorized_view(estimator, prediction.disparity, (height, width)), 'bgr8', header)
            timings['colorize'] = time.perf_counter() - mark
        return FrameResult(outputs=outputs, timings=timings, domain=self.domain)

    def _metres(self, estimator: Any, prediction: Any, k: np.ndarray,
                stamp: Optional[float]) -> np.ndarray:
        scale = self.scaler.scale(prediction.depth, k, stamp)
        if scale is None:
            why = self.scaler.status().get('scale_last_refusal') or 'none yet'
            raise InputError('no_scale', f'no trustworthy metric scale for this frame (last '
                                         f'refusal: {why}; scale_* keys in /diagnostics)')
        return estimator.metric_depth(prediction, scale=scale)

    def _pack(self, depth: np.ndarray, metres: Optional[np.ndarray],
              camera_info: Optional[CameraInfo], k: np.ndarray, header: Header,
              wanted: Collection[str], timings: Dict[str, float]) -> Dict[str, Any]:
        start = time.perf_counter()
        height, width = depth.shape
        outputs: Dict[str, Any] = {}
        if metres is not None and DEPTH in wanted:
            outputs[DEPTH] = depth_image(metres, header)
        if INVERSE in wanted:
            outputs[INVERSE] = depth_image(np.reciprocal(depth), header)
        if DEPTH_INFO in wanted:
            outputs[DEPTH_INFO] = (scale_camera_info(camera_info, width, height, header)
                                   if camera_info is not None
                                   else camera_info_from_k(k, width, height, header))
        timings['pack'] = time.perf_counter() - start
        return outputs
