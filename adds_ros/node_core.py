# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The depth node without ROS: lifecycle, the newest-frame worker and diagnostics.

The rclpy node (`adds_ros.depth_node`) only moves messages: it feeds `on_image` /
`on_compressed` / `on_camera_info` from its callbacks and publishes what the core hands it
through a three-method `Transport`. The per-frame work is `adds_ros.pipeline.FramePipeline`;
this module adds what a live camera needs around it:

- only the newest frame waits while inference is busy, so a camera faster than the network
  raises the drop count, never the latency or the memory;
- the model is loaded *inside* the worker thread: CUDA and TensorRT contexts belong to the
  thread that creates them;
- camera_info is paired with the image by stamp (image_pipeline's exact-time rule, or the
  `camera_info_sync` mode asked for), not "whatever came last" (adds_ros.camera_info);
- nothing is computed for outputs nobody subscribes to;
- lifecycle follows ROS 2 managed nodes: configure loads the model, activate starts
  processing, deactivate pauses, cleanup unloads, shutdown ends.
"""

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

from adds_ros.camera_info import CAMERA_INFO_KEEP, LivePairing
from adds_ros.diagnostics import DIAGNOSTICS_TOPIC, drop_health, status_array
from adds_ros.messages import (CameraInfo, CompressedImage, DiagnosticArray, DiagnosticStatus,
                               Image, Time)
from adds_ros.params import NodeParams
from adds_ros.pipeline import (OUTPUTS, EstimatorFactory, FrameHandler, FramePipeline,
                               default_estimator_factory, output_type)

# Seconds without a frame while a camera publisher is matched before diagnostics warn.
STARVED_AFTER = 5.0


class Transport(Protocol):
    """What the core needs from a middleware."""

    def publish(self, topic: str, msg: Any) -> None: ...

    def subscriber_count(self, topic: str) -> int: ...

    def publisher_count(self, topic: str) -> int: ...


def _shown(value: Any) -> str:
    return f'{value:.4g}' if isinstance(value, float) else str(value)


def wall_clock() -> Time:
    return Time.from_sec(time.time())


@dataclass
class Frame:
    """One received camera message waiting for the worker."""

    msg: Any
    received: float


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
        self.handler = FrameHandler(params, self.logger)
        self.stats = self.handler.stats
        self.incompatible_qos: Dict[str, int] = collections.Counter()
        self._factory = estimator_factory
        self._throttle = self.handler.throttle
        self._cond = threading.Condition()
        self._pending: Optional[Frame] = None
        self._infos = LivePairing(params.camera_info_sync, params.camera_info_slop)
        self._stop = threading.Event()
        self._threads: Tuple[threading.Thread, ...] = ()
        self._loaded = threading.Event()
        self._load_error: Optional[BaseException] = None

    @property
    def pipeline(self) -> Optional[FramePipeline]:
        """Return the loaded FramePipeline; None until configure."""
        return self.handler.pipeline

    # ---- topics ---------------------------------------------------------------------------
    def input_topics(self) -> Dict[str, Tuple[type, Callable[[Any], None]]]:
        """Relative input topic -> (message type, callback) for the transport to subscribe."""
        topics = ({'image/compressed': (CompressedImage, self.on_compressed)}
                  if self.params.compressed else {'image': (Image, self.on_image)})
        if self.params.use_camera_info:
            topics['camera_info'] = (CameraInfo, self.on_camera_info)
        return topics

    def output_topics(self) -> Dict[str, type]:
        """Output topic -> message type: fixed names, whatever the model's metadata says."""
        topics = {topic: output_type(topic) for topic in OUTPUTS}
        topics[DIAGNOSTICS_TOPIC] = DiagnosticArray
        return topics

    def qos_for(self, topic: str) -> Tuple[str, int]:
        """(reliability, history depth) of a topic, by parameter (docs/ros.md says why)."""
        if topic == DIAGNOSTICS_TOPIC:
            return 'reliable', 10  # ROS 2's default profile, what diagnostic aggregators expect
        if topic == 'camera_info':  # tiny, and each one pairs with a frame: keep several
            return self.params.input_reliability, max(self.params.input_depth, CAMERA_INFO_KEEP)
        if topic in self.input_topics():
            return self.params.input_reliability, self.params.input_depth
        return self.params.output_reliability, self.params.output_depth

    def served(self) -> List[str]:
        """Output topics this configuration fills (depth/image only with a metric scale)."""
        return self.handler.served()

    # ---- lifecycle ------------------------------------------------------------------------
    def _transition(self, expected: Tuple[str, ...], target: str) -> None:
        if self.state not in expected:
            raise RuntimeError(f'cannot go to {target!r} from state {self.state!r}')
        self.state = target

    def configure(self) -> None:
        """Load the model(s) on the inference thread and start reporting diagnostics.

        Raises with the loader's error on failure. The transport opens its topics before this
        (the names are fixed), so diagnostics describe an inactive node too.
        """
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
        reporter = threading.Thread(target=self._report, name='adds-diagnostics', daemon=True)
        self.state = 'inactive'
        reporter.start()
        self._threads = (worker, reporter)
        if not self.pipeline.metric:
            self.logger.warning(
                'no metric scale (the model has no metric_scale, scale_factor and '
                'camera_height are 0, or scale_mode is none): depth/image stays silent; '
                'relative INVERSE depth is published on inverse_depth/image')

    def activate(self) -> None:
        self._transition(('inactive',), 'active')

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
        self._infos.clear()

    # ---- input callbacks (transport threads; must return quickly) ------------------------
    def on_camera_info(self, msg: CameraInfo) -> None:
        self._infos.add(msg)

    def on_image(self, msg: Image) -> None:
        self._enqueue(Frame(msg, time.monotonic()))

    on_compressed = on_image  # the handler decodes what `compressed` subscribes to

    def on_incompatible_qos(self, topic: str, policy: str) -> None:
        """Count and warn: a peer exists whose QoS cannot match ours (name the policy)."""
        self.incompatible_qos[topic] += 1
        self._throttle.warn(f'qos:{topic}', f'{topic}: a peer has incompatible QoS ({policy}); '
                                            'no messages flow between them (docs/ros.md, QoS)')

    def _enqueue(self, frame: Frame) -> None:
        self.stats.receive()
        if self.state != 'active':
            self.stats.drop('inactive')
            return
        if not any(self.transport.subscriber_count(t) > 0 for t in self.served()):
            self.stats.drop('no_subscribers')  # stops at the first output with a reader
            return
        with self._cond:
            if self._pending is not None:
                self.stats.drop('superseded')
            self._pending = frame
            self._cond.notify()

    def _wanted(self) -> List[str]:
        return [t for t in self.served() if self.transport.subscriber_count(t) > 0]

    def _input_publishers(self) -> int:
        """Writers matched on the inputs: 0 means no camera is connected (or QoS mismatch)."""
        return sum(self.transport.publisher_count(topic) for topic in self.input_topics())

    # ---- inference thread -----------------------------------------------------------------
    def _work(self) -> None:
        try:
            self.handler.load(self._factory)
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
        self.handler.close()  # on this thread: it owns the backends' contexts

    def _process(self, frame: Frame) -> None:
        expected = self.transport.publisher_count('camera_info') > 0
        self.handler.handle(frame.msg, lambda stamp: self._infos.match(stamp, expected),
                            self._wanted(), self.transport.publish, frame.received)

    # ---- diagnostics ----------------------------------------------------------------------
    def diagnostics(self) -> DiagnosticArray:
        """One DiagnosticArray describing rate, latency, drops, backend, model and scale."""
        snap = self.stats.snapshot()
        pipeline = self.pipeline
        publishers = self._input_publishers()
        values: Dict[str, Any] = {
            'state': self.state, 'received': snap['received'], 'published': snap['published'],
            'subscribers': sum(self.transport.subscriber_count(t) for t in OUTPUTS),
            'input_publishers': publishers,
            'rate_hz': f"{snap['rate_hz']:.2f}",
            'latency_p50_ms': f"{snap['latency_p50_ms']:.1f}",
            'latency_p90_ms': f"{snap['latency_p90_ms']:.1f}",
            'latency_p99_ms': f"{snap['latency_p99_ms']:.1f}",
            'backend': pipeline.backend_name if pipeline else '', 'model': self.params.model,
            'night_model': self.params.night_model,
            'domain': pipeline.domain if pipeline else '',
            'scale_mode': pipeline.scaler.mode if pipeline else ''}
        if pipeline is not None:
            values.update({k: _shown(v) for k, v in pipeline.scaler.status().items()})
            # the last frame's illumination estimate and mean confidence ('' if not computed)
            values.update({'daylight': _shown(pipeline.daylight),
                           'confidence': self.params.confidence,
                           'confidence_mean': _shown(pipeline.confidence_mean)
                           if pipeline.confidence_mean is not None else ''})
            values.update(pipeline.camera.status())
        values.update({f'dropped_{reason}': n for reason, n in sorted(snap['dropped'].items())})
        values.update({f'incompatible_qos_{t}': n for t, n in self.incompatible_qos.items()})
        level, message = self._health(pipeline, publishers, snap)
        return status_array(level, message, self.params.model, values, self.clock())

    def _health(self, pipeline: Optional[FramePipeline], publishers: int,
                snap: Dict[str, Any]) -> Tuple[int, str]:
        """Worst first: frames dropped (ERROR when all were), then what limits the output."""
        dropping = drop_health(snap['recent'], self.params.drop_warn_share)
        if dropping is not None:
            return dropping
        if pipeline is not None and not pipeline.metric:
            return DiagnosticStatus.WARN, 'no metric scale: publishing inverse depth only'
        if self.incompatible_qos:
            return DiagnosticStatus.WARN, 'a peer has incompatible QoS: see incompatible_qos'
        if (self.state == 'active' and publishers
                and snap['seconds_since_input'] > STARVED_AFTER):
            return DiagnosticStatus.WARN, ('camera publishers are matched but no frames arrive '
                                           '(QoS or large-data transport: docs/ros.md)')
        return DiagnosticStatus.OK, 'publishing metric depth'

    def _report(self) -> None:
        while not self._stop.wait(self.params.diagnostics_period):
            try:
                self.transport.publish(DIAGNOSTICS_TOPIC, self.diagnostics())
            except Exception as err:  # a transport hiccup must not end the reporting
                self._throttle.warn('diagnostics', f'could not publish diagnostics: {err}')
