# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The depth node without ROS: every behaviour of `depth_node`, behind a two-method transport.

Transports (rclpy in `depth_node`, Cyclone DDS in `dds_node`) only move messages: they feed
`on_image` / `on_compressed` / `on_camera_info` from their callbacks and publish what the core
hands them. The core keeps the newest frame only and runs inference on its own thread, so a
camera faster than the network raises the drop count, never the latency or the memory.

The estimator is built by a factory *inside* that thread: TensorRT and pycuda contexts belong to
the thread that creates them. Lifecycle follows ROS 2 managed nodes: configure loads the model,
activate starts processing, deactivate pauses, cleanup unloads, shutdown ends.
"""

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Optional, Protocol, Tuple

import numpy as np

from adds_ros.domain import DomainSelector
from adds_ros.image_decode import InputError, check_camera_info, decode_compressed, decode_image
from adds_ros.messages import (CameraInfo, CompressedImage, DiagnosticArray, DiagnosticStatus,
                               Header, Image, KeyValue, Time, camera_info_from_k, depth_image,
                               image_from_array, scale_camera_info)
from adds_ros.params import NodeParams
from adds_ros.scale import ScaleEstimator

DIAGNOSTICS_TOPIC = '/diagnostics'
DIAGNOSTIC_NAME = 'adds_ros: depth'
# Drop reasons that are not the input's fault, so they are counted but never warned about.
QUIET_DROPS = ('superseded', 'no_subscribers', 'inactive')

EstimatorFactory = Callable[[str, NodeParams], Any]


class Transport(Protocol):
    """What the core needs from a middleware."""

    def publish(self, topic: str, msg: Any) -> None: ...

    def subscriber_count(self, topic: str) -> int: ...

    def publisher_count(self, topic: str) -> int: ...


def default_estimator_factory(model: str, params: NodeParams) -> Any:
    """Build the project's DepthEstimator (imported here: it pulls in the backends)."""
    from adds_ros.estimator import DepthEstimator
    return DepthEstimator(model, backend=params.backend, device=params.device)


def wall_clock() -> Time:
    return Time.from_sec(time.time())


@dataclass
class Frame:
    """One received camera message waiting for the worker."""

    msg: Any
    decode: Callable[[Any], np.ndarray]
    received: float


class Throttle:
    """At most one warning per kind per `period` seconds, saying how many were held back."""

    def __init__(self, logger: Any, period: float) -> None:
        self._logger, self._period = logger, period
        self._last: Dict[str, float] = {}
        self._held: Dict[str, int] = collections.Counter()

    def warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -np.inf) < self._period:
            self._held[kind] += 1
            return
        held = self._held.pop(kind, 0)
        suffix = f' ({held} more like this since the last warning)' if held else ''
        self._last[kind] = now
        self._logger.warning(f'{message}{suffix}')


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


class Statistics:
    """Counters and a bounded latency window: constant memory however long the node runs."""

    def __init__(self, window: int) -> None:
        self.lock = threading.Lock()
        self.received = 0
        self.published = 0
        self.dropped: Dict[str, int] = collections.Counter()
        self.latencies = collections.deque(maxlen=window)
        self._period_start = time.monotonic()
        self._period_published = 0

    def drop(self, reason: str) -> None:
        with self.lock:
            self.dropped[reason] += 1

    def done(self, latency: float) -> None:
        with self.lock:
            self.published += 1
            self.latencies.append(latency)

    def snapshot(self) -> Dict[str, Any]:
        """Return current values; the rate covers the time since the previous snapshot."""
        with self.lock:
            now = time.monotonic()
            rate = (self.published - self._period_published) / max(now - self._period_start,
                                                                   1e-9)
            self._period_start, self._period_published = now, self.published
            latencies = np.asarray(self.latencies, dtype=np.float64) * 1e3
            p50, p90, p99 = (np.percentile(latencies, (50, 90, 99)) if len(latencies)
                             else (np.nan,) * 3)
            return {'received': self.received, 'published': self.published,
                    'rate_hz': rate, 'latency_p50_ms': p50, 'latency_p90_ms': p90,
                    'latency_p99_ms': p99, 'dropped': dict(self.dropped)}


class DepthNodeCore:
    """Camera frames in, depth (or inverse depth) and diagnostics out."""

    def __init__(self, params: NodeParams, transport: Transport,
                 estimator_factory: EstimatorFactory = default_estimator_factory,
                 clock: Callable[[], Time] = wall_clock,
                 logger: Optional[Any] = None) -> None:
        params.validate()
        if not params.model:
            raise ValueError("parameter 'model' is required (path to an .onnx, .engine or .pt "
                             'model)')
        self.params = params
        self.transport = transport
        self.clock = clock
        self.logger = logger or logging.getLogger('adds_ros.depth_node')
        self.state = 'unconfigured'
        self.stats = Statistics(params.latency_window)
        self._factory = estimator_factory
        self._throttle = Throttle(self.logger, params.warn_period)
        self._cond = threading.Condition()
        self._pending: Optional[Frame] = None
        self._camera_info: Optional[CameraInfo] = None
        self._stop = threading.Event()
        self._threads: Tuple[threading.Thread, ...] = ()
        self._loaded = threading.Event()
        self._load_error: Optional[BaseException] = None
        self.estimators: Dict[str, Any] = {}
        self.scaler: Optional[ScaleEstimator] = None
        self.domains = DomainSelector(params.domain_config())
        self.domain = 'day'

    # ---- topics ---------------------------------------------------------------------------
    def input_topics(self) -> Dict[str, Tuple[type, Callable[[Any], None]]]:
        """Relative input topic -> (message type, callback) for the transport to subscribe."""
        topics = ({'image/compressed': (CompressedImage, self.on_compressed)}
                  if self.params.compressed else {'image': (Image, self.on_image)})
        if self.params.use_camera_info:
            topics['camera_info'] = (CameraInfo, self.on_camera_info)
        return topics

    @property
    def prefix(self) -> str:
        """Output prefix: 'depth' with a metric scale, else 'inverse_depth' (never mislabelled)."""
        if self.scaler is None:
            raise RuntimeError('the node is not configured: output topics depend on the model')
        return 'depth' if self.scaler.metric else 'inverse_depth'

    def output_topics(self) -> Dict[str, type]:
        """Output topic -> message type, known once the model's metadata has been read."""
        topics = {f'{self.prefix}/image': Image, f'{self.prefix}/camera_info': CameraInfo}
        if self.params.publish_colorized:
            topics[f'{self.prefix}/colorized'] = Image
        topics[DIAGNOSTICS_TOPIC] = DiagnosticArray
        return topics

    def qos_for(self, topic: str) -> Tuple[str, int]:
        """(reliability, history depth) of a topic: sensor data in, reliable out, by parameter."""
        if topic == DIAGNOSTICS_TOPIC:
            return 'reliable', 10  # ROS 2's default profile, what diagnostic aggregators expect
        if topic in self.input_topics():
            return self.params.input_reliability, self.params.input_depth
        return self.params.output_reliability, self.params.output_depth

    # ---- lifecycle ------------------------------------------------------------------------
    def _transition(self, expected: Tuple[str, ...], target: str) -> None:
        if self.state not in expected:
            raise RuntimeError(f'cannot go to {target!r} from state {self.state!r}')
        self.state = target

    def configure(self) -> None:
        """Load the model(s) on the inference thread; raise with the loader's error on failure."""
        if self.state != 'unconfigured':
            raise RuntimeError(f'cannot configure from state {self.state!r}')
        self._stop.clear()
        self._loaded.clear()
        self._load_error = None
        worker = threading.Thread(target=self._work, name='adds-inference', daemon=True)
        worker.start()
        self._loaded.wait()
        if self._load_error is not None:
            worker.join()
            raise RuntimeError(f'could not load the depth model: {self._load_error}') \
                from self._load_error
        self._threads = (worker,)
        self.state = 'inactive'
        if not self.scaler.metric:
            self.logger.warning(
                'no metric scale (the model has no metric_scale, scale_factor and '
                'camera_height are 0, or scale_mode is none): publishing relative INVERSE '
                'depth on inverse_depth/image, NOT metres on depth/image')

    def activate(self) -> None:
        """Start processing; the first activation also starts the diagnostics reporter.

        (Not at configure: the transport creates its publishers between the two.)
        """
        self._transition(('inactive',), 'active')
        if len(self._threads) == 1:
            reporter = threading.Thread(target=self._report, name='adds-diagnostics',
                                        daemon=True)
            reporter.start()
            self._threads += (reporter,)

    def deactivate(self) -> None:
        self._transition(('active',), 'inactive')
        with self._cond:
            self._pending = None

    def cleanup(self) -> None:
        """Stop the threads and unload the model."""
        self._transition(('inactive',), 'unconfigured')
        self._join()

    def shutdown(self) -> None:
        """Stop from any state; idempotent, so signal handlers and destructors may both call."""
        self.state = 'finalized'
        self._join()

    def _join(self) -> None:
        self._stop.set()
        with self._cond:
            self._pending = None
            self._cond.notify_all()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._threads = ()

    # ---- input callbacks (transport threads; must return quickly) ------------------------
    def on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def on_image(self, msg: Image) -> None:
        self._enqueue(Frame(msg, decode_image, time.monotonic()))

    def on_compressed(self, msg: CompressedImage) -> None:
        self._enqueue(Frame(msg, decode_compressed, time.monotonic()))

    def _enqueue(self, frame: Frame) -> None:
        with self.stats.lock:
            self.stats.received += 1
        if self.state != 'active':
            self.stats.drop('inactive')
            return
        if not self._anyone_listening():
            self.stats.drop('no_subscribers')
            return
        with self._cond:
            if self._pending is not None:
                self.stats.drop('superseded')
            self._pending = frame
            self._cond.notify()

    def _output_subscriber_counts(self) -> Iterator[int]:
        return (self.transport.subscriber_count(topic)
                for topic in self.output_topics() if topic != DIAGNOSTICS_TOPIC)

    def _output_subscribers(self) -> int:
        """Readers matched on the depth outputs (a reader on two topics counts twice)."""
        return sum(self._output_subscriber_counts())

    def _input_publishers(self) -> int:
        """Writers matched on the inputs: 0 means no camera is connected (or QoS mismatch)."""
        return sum(self.transport.publisher_count(topic) for topic in self.input_topics())

    def _anyone_listening(self) -> bool:
        """Per frame: stops at the first topic with a reader."""
        return any(n > 0 for n in self._output_subscriber_counts())

    # ---- inference thread -----------------------------------------------------------------
    def _work(self) -> None:
        try:
            self._load()
        except Exception as err:  # reported by configure() on the caller's thread
            self._load_error = err
        self._loaded.set()
        while self._load_error is None:
            with self._cond:
                while self._pending is None and not self._stop.is_set():
                    self._cond.wait()
                if self._stop.is_set():
                    break
                frame, self._pending = self._pending, None
            self._process(frame)
        for estimator in self.estimators.values():  # on this thread: it owns their contexts
            getattr(estimator, 'close', lambda: None)()
        self.estimators = {}

    def _load(self) -> None:
        day = self._factory(self.params.model, self.params)
        self.estimators = {'day': day}
        self.domain = day.metadata.stem  # what diagnostics show for a single model
        if self.params.night_model:
            self.estimators['night'] = self._factory(self.params.night_model, self.params)
            self.domain = 'day'
        self.scaler = ScaleEstimator(self.params.scale_config(), day.metadata.metric_scale)

    def _process(self, frame: Frame) -> None:
        try:
            rgb = frame.decode(frame.msg)
            info = self._camera_info if self.params.use_camera_info else None
            check_camera_info(info, *rgb.shape[:2])
            self._infer_and_publish(rgb, info, frame)
        except InputError as err:
            self._drop(err.reason, str(err))
        except Exception as err:  # a backend failure must not kill the node
            self._drop('inference_error', f'{type(err).__name__}: {err}')

    def _drop(self, reason: str, message: str) -> None:
        self.stats.drop(reason)
        if reason not in QUIET_DROPS:
            self._throttle.warn(reason, f'dropped frame: {message}')

    def _infer_and_publish(self, rgb: np.ndarray, info: Optional[CameraInfo],
                           frame: Frame) -> None:
        if 'night' in self.estimators:
            self.domain = self.domains.select(rgb)
        estimator = self.estimators.get(self.domain, self.estimators['day'])
        prediction = estimator.predict(rgb)
        height, width = rgb.shape[:2]
        k = (np.asarray(info.k, dtype=np.float64).reshape(3, 3) if info is not None
             else camera_k_from_metadata(estimator.metadata, height, width))
        if self.scaler.metric:
            scale = self.scaler.scale(prediction.depth, k)
            if scale is None:
                raise InputError('no_scale', 'no metric scale yet: the ground plane was not '
                                             'found in this frame')
            values = estimator.metric_depth(prediction, scale=scale)
        else:
            values = 1.0 / prediction.depth
        header = Header(stamp=Time(frame.msg.header.stamp.sec, frame.msg.header.stamp.nanosec),
                        frame_id=frame.msg.header.frame_id)
        out_info = (scale_camera_info(info, width, height, header) if info is not None
                    else camera_info_from_k(k, width, height, header))
        self.transport.publish(f'{self.prefix}/image', depth_image(values, header))
        self.transport.publish(f'{self.prefix}/camera_info', out_info)
        colorized = f'{self.prefix}/colorized'
        if self.params.publish_colorized and self.transport.subscriber_count(colorized):
            from adds_ros.postprocess import colorize
            view = colorize(values if self.scaler.metric else prediction.depth)
            self.transport.publish(colorized, image_from_array(view, 'bgr8', header))
        self.stats.done(time.monotonic() - frame.received)

    # ---- diagnostics ----------------------------------------------------------------------
    def diagnostics(self) -> DiagnosticArray:
        """One DiagnosticArray describing rate, latency, drops, backend and model."""
        snap = self.stats.snapshot()
        day = self.estimators.get('day')
        values = {'state': self.state, 'received': snap['received'],
                  'published': snap['published'], 'subscribers': self._output_subscribers(),
                  'input_publishers': self._input_publishers(),
                  'rate_hz': f"{snap['rate_hz']:.2f}",
                  'latency_p50_ms': f"{snap['latency_p50_ms']:.1f}",
                  'latency_p90_ms': f"{snap['latency_p90_ms']:.1f}",
                  'latency_p99_ms': f"{snap['latency_p99_ms']:.1f}",
                  'backend': getattr(day, 'backend_name', ''), 'model': self.params.model,
                  'night_model': self.params.night_model, 'domain': self.domain,
                  'scale_mode': self.scaler.mode if self.scaler else ''}
        values.update({f'dropped_{reason}': n for reason, n in sorted(snap['dropped'].items())})
        metric = self.scaler is not None and self.scaler.metric
        level = DiagnosticStatus.OK if metric else DiagnosticStatus.WARN
        message = 'publishing metric depth' if metric else \
            'no metric scale: publishing inverse depth only'
        status = DiagnosticStatus(level=level, name=DIAGNOSTIC_NAME, message=message,
                                  hardware_id=self.params.model,
                                  values=[KeyValue(k, str(v)) for k, v in values.items()])
        return DiagnosticArray(header=Header(stamp=self.clock()), status=[status])

    def _report(self) -> None:
        while not self._stop.wait(self.params.diagnostics_period):
            try:
                self.transport.publish(DIAGNOSTICS_TOPIC, self.diagnostics())
            except Exception as err:  # a transport hiccup must not end the reporting
                self._throttle.warn('diagnostics', f'could not publish diagnostics: {err}')
