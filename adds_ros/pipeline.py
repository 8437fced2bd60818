# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""One camera frame in, the depth node's output messages out: synchronous, no threads, no ROS.

This is the per-frame sequence of the depth node (decode -> validate camera_info -> day/night
stem -> inference -> metric scale -> pack outputs), written once. The threaded node core
(`adds_ros.node_core`), the offline bag tool (`adds bag-depth`) and the pipeline benchmark all
call `FramePipeline.process`; they differ only in where frames come from and where outputs go.

`FrameHandler` adds what every caller needs around it, so the live node and `adds bag-depth`
cannot drift apart: the decoder for the configured input, the camera_info policy
(adds_ros.camera_info), drop accounting with throttled warnings, and which topics are filled.

Output topics never change name with the model: `depth/image` carries metres (REP 118) and is
published only when a metric scale is known; `inverse_depth/image` carries relative inverse
depth (model units) and is always available. So a `depth/image` remap (depth_image_proc, a
point cloud) is either served metres or told by diagnostics why not — never relative values.
Every image output has a `camera_info` topic in its namespace with the image's header
(image_transport's pair, which CameraSubscriber and message_filters wait for): a new image
output only needs adding to IMAGE_OUTPUTS. `depth/confidence` (32FC1, 0..1, adds_ros.confidence)
shares `depth/camera_info`; it is computed only for a subscriber, or for the
`confidence_threshold` mask of the depth outputs.
"""

import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Dict, List, Optional, Tuple

import numpy as np

from adds_ros.camera_info import CameraChoice, CameraInfoPolicy
from adds_ros.confidence import ConfidenceEstimator
from adds_ros.diagnostics import QUIET_DROPS, Statistics, Throttle
from adds_ros.domain import daylight, DomainSelector
from adds_ros.image_decode import InputError, decode_compressed, decode_image
from adds_ros.messages import (CameraInfo, Header, Image, Time, camera_info_from_k,
                               camera_matrix, depth_image, image_from_array, scale_camera_info)
from adds_ros.params import NodeParams
from adds_ros.postprocess import colorize_view, scale_disparity
from adds_ros.preprocess import crop_box
from adds_ros.scale import ScaleEstimator

DEPTH = 'depth/image'
CONFIDENCE = 'depth/confidence'
COLORIZED = 'depth/colorized'
INVERSE = 'inverse_depth/image'
IMAGE_OUTPUTS = (DEPTH, CONFIDENCE, COLORIZED, INVERSE)


def camera_info_topic(image_topic: str) -> str:
    """Name the camera_info beside an image output: `<ns>/camera_info` (image_transport)."""
    return image_topic.rsplit('/', 1)[0] + '/camera_info'


DEPTH_INFO = camera_info_topic(DEPTH)
INVERSE_INFO = camera_info_topic(INVERSE)
OUTPUTS = (DEPTH, DEPTH_INFO, CONFIDENCE, COLORIZED, INVERSE, INVERSE_INFO)

EstimatorFactory = Callable[[str, NodeParams], Any]
LOGGER = logging.getLogger('adds_ros.pipeline')


def output_type(topic: str) -> type:
    """Return an output topic's message type (the one rule of the node and the bag tool)."""
    return CameraInfo if topic.endswith('/camera_info') else Image


def served_outputs(metric: bool, colorized: bool, inverse: bool = True,
                   confidence: bool = False) -> List[str]:
    """Output topics filled, each image with its camera_info, in OUTPUTS order.

    `inverse` False (a recording): inverse depth only when there are no metres to write.
    """
    images = {DEPTH: metric, CONFIDENCE: confidence, COLORIZED: colorized,
              INVERSE: inverse or not metric}
    filled = {topic for topic, on in images.items() if on}
    filled |= {camera_info_topic(topic) for topic in filled}
    return [topic for topic in OUTPUTS if topic in filled]


def default_estimator_factory(model: str, params: NodeParams) -> Any:
    """Build the project's DepthEstimator (imported here: it pulls in the backends)."""
    from adds_ros.estimator import DepthEstimator
    return DepthEstimator(model, backend=params.backend, device=params.device,
                          precision=params.precision, **params.backend_options())


def camera_k_from_metadata(metadata: Any, height: int, width: int) -> np.ndarray:
    """Pixel K of the full camera image from the model's normalised K of its cropped input."""
    top, bottom, left, right = crop_box(metadata.crop, height, width)
    k = np.asarray(metadata.intrinsics, dtype=np.float64).copy()
    k[0] *= right - left
    k[1] *= bottom - top
    k[0, 2] += left
    k[1, 2] += top
    k[2] = (0.0, 0.0, 1.0)
    return k


def colorized_view(estimator: Any, prediction: Any,
                   camera_shape: Tuple[int, int]) -> np.ndarray:
    """`depth/colorized` of one prediction (postprocess.colorize_view).

    A host-processed model colours its network-size disparity (scaled to inverse depth); an
    in-graph model colours its camera-size depth: the same inverse depth up to rounding, and
    already on the host, so the disparity output is never downloaded (issue 27).
    """
    meta = estimator.metadata
    if meta.in_graph:
        return colorize_view(prediction.depth, (0, camera_shape[0], 0, camera_shape[1]),
                             camera_shape, inverse=True)
    return colorize_view(scale_disparity(prediction.disparity, meta.min_depth, meta.max_depth),
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
    daylight: float = float('nan')           # adds_ros.domain.daylight of the frame
    confidence: Optional[float] = None       # mean confidence, when it was computed


class FramePipeline:
    """The depth node's per-frame work over one or two (day, night) estimators."""

    def __init__(self, params: NodeParams, estimators: Dict[str, Any],
                 message_time: bool = False, throttle: Optional[Throttle] = None) -> None:
        """`message_time`: held scales age in header time (bag replay), not the wall clock.

        `throttle` carries the camera_info policy's warnings (default: this module's logger).
        """
        self.params = params
        self.estimators = estimators
        for estimator in estimators.values():   # the view colours the depth (colorized_view)
            if hasattr(estimator, 'want_disparity'):
                estimator.want_disparity = False
        self.message_time = message_time
        throttle = throttle or Throttle(LOGGER, params.warn_period)
        self.camera = CameraInfoPolicy(params.strict_camera_info, throttle.warn, throttle.once)
        day = estimators['day']
        # One scale per stem: day and night depths differ in scale until the fits agree.
        self.scalers = {name: ScaleEstimator(params.scale_config(), day.metadata.metric_scale)
                        for name in estimators}
        self.backend_name: str = getattr(day, 'backend_name', '')
        self.domains = DomainSelector(params.domain_config())
        # What diagnostics show: the model's own stem for one model, else the selector's choice.
        self.domain = 'day' if 'night' in estimators else day.metadata.stem
        self.daylight = float('nan')
        self.confidence_mean: Optional[float] = None
        self.confidence_config = params.confidence_config()
        self.confidences = ({name: ConfidenceEstimator(estimator, self.confidence_config)
                             for name, estimator in estimators.items()}
                            if self.confidence_config.enabled else {})

    @classmethod
    def load(cls, params: NodeParams, factory: EstimatorFactory = default_estimator_factory,
             message_time: bool = False, throttle: Optional[Throttle] = None
             ) -> 'FramePipeline':
        """Load the model(s) named by the parameters; closes what it opened if one fails."""
        estimators = {'day': factory(params.model, params)}
        try:
            if params.night_model:
                estimators['night'] = factory(params.night_model, params)
            return cls(params, estimators, message_time, throttle)
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
        buffer = self._input_buffer()
        rgb = decode(msg) if buffer is None else decode(msg, out=buffer)
        height, width = rgb.shape[:2]
        camera = self.camera.choose(camera_info, height, width)
        timings['decode'] = time.perf_counter() - start
        self.daylight = daylight(rgb)
        if 'night' in self.estimators:
            self.domain = self.domains.select(rgb, self.daylight)
        estimator = self.estimators.get(self.domain, self.estimators['day'])
        prediction = estimator.predict(rgb)
        timings.update(prediction.timings)
        mark = time.perf_counter()
        header = Header(stamp=Time(msg.header.stamp.sec, msg.header.stamp.nanosec),
                        frame_id=msg.header.frame_id)
        stamp = header.stamp.to_sec() if self.message_time else None
        camera_k = camera_matrix(camera.info) if camera.info is not None else None
        metres = self._metres(estimator, prediction, camera_k, stamp) if self.metric else None
        timings['scale'] = time.perf_counter() - mark
        depth = prediction.depth
        confidence = self._confidence(rgb, depth, wanted, timings)
        if confidence is not None and self.confidence_config.threshold > 0:
            unsure = ~(confidence >= self.confidence_config.threshold)   # NaN: no depth anyway
            depth = np.where(unsure, np.float32(np.nan), depth)
            metres = None if metres is None else np.where(unsure, np.float32(np.nan), metres)
        outputs = self._pack(estimator, depth, metres, camera, header, wanted, timings)
        if confidence is not None and CONFIDENCE in wanted:
            outputs[CONFIDENCE] = depth_image(confidence, header)
        if self.params.publish_colorized and COLORIZED in wanted:
            mark = time.perf_counter()
            outputs[COLORIZED] = image_from_array(
                colorized_view(estimator, prediction, (height, width)), 'bgr8', header)
            timings['colorize'] = time.perf_counter() - mark
        return FrameResult(outputs=outputs, timings=timings, domain=self.domain,
                           daylight=self.daylight, confidence=self.confidence_mean)

    def _confidence(self, rgb: np.ndarray, depth: np.ndarray, wanted: Collection[str],
                    timings: Dict[str, float]) -> Optional[np.ndarray]:
        """Return the confidence, computed only for a subscriber or the depth mask; or None."""
        masking = self.confidence_config.threshold > 0 and any(
            topic in wanted for topic in (DEPTH, INVERSE))
        if not self.confidences or not (masking or CONFIDENCE in wanted):
            self.confidence_mean = None
            return None
        result = self.confidences.get(self.domain, self.confidences['day']).compute(rgb, depth)
        timings['confidence'] = result.seconds
        self.confidence_mean = result.mean
        return result.confidence

    def _input_buffer(self) -> Optional[np.ndarray]:
        """Return the one estimator's page-locked input to decode into, or None."""
        if len(self.estimators) != 1:
            return None
        return getattr(self.estimators['day'], 'input_buffer', lambda: None)()

    def _metres(self, estimator: Any, prediction: Any, k: Optional[np.ndarray],
                stamp: Optional[float]) -> np.ndarray:
        scale = self.scaler.scale(prediction.depth, k, stamp)
        if scale is None:
            why = self.scaler.status().get('scale_last_refusal') or 'none yet'
            raise InputError('no_scale', f'no trustworthy metric scale for this frame (last '
                                         f'refusal: {why}; scale_* keys in /diagnostics)')
        return estimator.metric_depth(prediction, scale=scale)

    def _pack(self, estimator: Any, depth: np.ndarray, metres: Optional[np.ndarray],
              camera: CameraChoice, header: Header, wanted: Collection[str],
              timings: Dict[str, float]) -> Dict[str, Any]:
        start = time.perf_counter()
        height, width = depth.shape
        outputs: Dict[str, Any] = {}
        if metres is not None and DEPTH in wanted:
            outputs[DEPTH] = depth_image(metres, header)
        if INVERSE in wanted:
            outputs[INVERSE] = depth_image(np.reciprocal(depth), header)
        infos = [topic for topic in (DEPTH_INFO, INVERSE_INFO) if topic in wanted]
        if infos:  # the K this frame used: the camera's, or the model's (camera_k says which)
            info = (scale_camera_info(camera.info, width, height, header) if camera.info
                    else camera_info_from_k(camera_k_from_metadata(estimator.metadata, height,
                                                                   width), width, height,
                                            header))
            outputs.update(dict.fromkeys(infos, info))
        timings['pack'] = time.perf_counter() - start
        return outputs


class FrameHandler:
    """One frame from message to published outputs, counted: the node's and bag-depth's path.

    The caller supplies only where things come from and go to: `pair(stamp)` (the camera_info
    pairing of its transport, adds_ros.camera_info) and `publish(topic, msg)`.
    """

    def __init__(self, params: NodeParams, logger: Optional[Any] = None,
                 latency_window: Optional[int] = None) -> None:
        self.params = params
        self.stats = Statistics(latency_window or params.latency_window)
        self.throttle = Throttle(logger or LOGGER, params.warn_period)
        self.decode = functools.partial(decode_compressed if params.compressed else decode_image,
                                        max_pixels=params.max_pixels)
        self.pipeline: Optional[FramePipeline] = None
        # asked per frame (served): built from the parameter table once, not on every call
        self.confidence_enabled = params.confidence_config().enabled

    def load(self, factory: EstimatorFactory = default_estimator_factory,
             message_time: bool = False) -> FramePipeline:
        """Load the model(s); on the thread that will run them (CUDA contexts are per thread)."""
        self.pipeline = FramePipeline.load(self.params, factory, message_time, self.throttle)
        return self.pipeline

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close()

    def served(self, inverse: bool = True) -> List[str]:
        """Output topics filled (served_outputs); `inverse` False for a recording."""
        metric = self.pipeline is not None and self.pipeline.metric
        return served_outputs(metric, self.params.publish_colorized, inverse,
                              self.confidence_enabled)

    def handle(self, msg: Any, pair: Callable[[Time], Optional[CameraInfo]],
               wanted: Collection[str], publish: Callable[[str, Any], None],
               received: float) -> bool:
        """Run one received frame; True when published, else it is counted as dropped.

        `received`: time.monotonic() at arrival, for the latency statistics.
        """
        try:
            info = pair(msg.header.stamp) if self.params.use_camera_info else None
            result = self.pipeline.process(msg, self.decode, info, wanted)
            for topic, out in result.outputs.items():
                publish(topic, out)
        except InputError as err:
            self.drop(err.reason, str(err))
            return False
        except Exception as err:  # a backend failure must not kill the node
            self.drop('inference_error', f'{type(err).__name__}: {err}')
            return False
        self.stats.done(time.monotonic() - received)
        return True

    def drop(self, reason: str, message: str) -> None:
        """Count a dropped frame; warn (throttled) unless it is no fault of the input."""
        self.stats.drop(reason)
        if reason not in QUIET_DROPS:
            self.throttle.warn(reason, f'dropped frame: {message}')
