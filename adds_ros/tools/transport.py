# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""End to end through real ROS 2: a camera node, `depth_node` in its own process, and back.

Latency is measured in lock step (publish a frame, wait for its depth image, matched by stamp)
so that it is the cost of one frame, not of a queue. The sustained rate comes from a camera
publishing at its own rate while the node keeps only the newest frame; the node's resident
memory is sampled over that whole run, and its peak read from the kernel (VmHWM), to show it
stays flat over thousands of frames. With the tiny model the network costs almost nothing, so
the latency left over is the transport's: rclpy's message conversion and Fast DDS.

`bench_qos` counts the frames that arrive per QoS pairing (camera publisher x node subscriber)
and Fast DDS transport, at the camera sizes asked for: the measurement the node's default input
QoS was chosen by (docs/ros.md).
"""

import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import psutil

from adds_ros.estimator import DepthEstimator
from adds_ros.messages import image_from_array
from adds_ros.resources import FASTDDS_PROFILE, config_file
from adds_ros.ros_messages import ros_types, to_ros
from adds_ros.testing.camera import camera_frame
from adds_ros.tools.rosgraph import (Peer, in_fresh_process, needs_fresh_process, ros_env,
                                     start_depth_node, stop, unique_domain, wait_until)
from adds_ros.tools.stats import summarize

NODE_PARAMS = ('backend:=onnxruntime', 'device:=cpu', 'use_camera_info:=false',
               'publish_colorized:=false', 'scale_mode:=fixed', 'scale_factor:=1.0',
               'diagnostics_period:=0.5')
ENCODING = 'rgb8'
# The project's Fast DDS profile for camera-size frames (64 MiB shared-memory segment).
LARGE_DATA_PROFILE = config_file('fastdds_large_data.xml')
# Fast DDS set-ups compared: its defaults, and the profile (docs/ros.md says why). Defaults are
# asked for with an empty value: the depth node applies the profile itself when the variable
# is unset.
FASTDDS_SETUPS = {'default': {FASTDDS_PROFILE: ''}, 'fastdds_large_data.xml': {
    FASTDDS_PROFILE: str(LARGE_DATA_PROFILE)}}


def peak_rss(pid: int) -> Optional[int]:
    """Peak resident bytes of a process since it started (Linux VmHWM), None elsewhere."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


WARM_UP_S = 60.0  # per warm-up frame: the first inference allocates the session's arenas


def camera_label(camera: Tuple[int, int]) -> str:
    """'1280x960 rgb8' for a (height, width) camera: how the transport results name it."""
    return f'{camera[1]}x{camera[0]} {ENCODING}'


class NoDepth(RuntimeError):
    """The node answered none of the warm-up frames: the set-up delivers nothing (a result)."""


class Graph:
    """A depth node process and this process's camera and depth subscriber."""

    def __init__(self, model: Path, work: Path, params: Tuple[str, ...] = NODE_PARAMS,
                 camera_reliable: bool = True, node_reliable: bool = True, offset: int = 0,
                 command: Optional[Sequence[str]] = None, **env: str) -> None:
        """`command`: the depth node to start (default: this installation's)."""
        from sensor_msgs.msg import Image

        self.domain = unique_domain(40 + offset)
        self.log = work / f'bench_node{offset}.log'
        args = ['--log-level', 'warn', '-p', f'model:={model}']
        for item in params:
            args += ['-p', item]
        self.proc = start_depth_node(args, ros_env(self.domain, **env), self.log, command)
        self.peer = Peer(self.domain, 'bench_camera', **env)
        self.camera = self.peer.publisher(Image, 'image', reliable=camera_reliable, depth=1)
        self.peer.listen(Image, 'depth/image', depth=10)
        # matched (or, for a pairing that cannot match, merely seen) in both directions
        matched = (self.camera.get_subscription_count if camera_reliable or not node_reliable
                   else lambda: self.peer.node.count_subscribers('image'))
        wait_until(lambda: matched() > 0 and self.peer.node.count_publishers('depth/image') > 0,
                   120, 'the node', self.proc, self.log)

    def frame(self, camera: Tuple[int, int]) -> Any:
        return to_ros(image_from_array(camera_frame(ENCODING, *camera), ENCODING), ros_types())

    def send(self, msg: Any, stamp: Tuple[int, int]) -> float:
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        sent = time.monotonic()
        self.camera.publish(msg)
        return sent

    def wait(self, stamp: Tuple[int, int], timeout: float) -> Optional[float]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            arrived = self.peer.arrival('depth/image', stamp)
            if arrived is not None:
                return arrived
            time.sleep(0.001)
        return None

    def warm_up(self, msg: Any) -> None:
        """Three frames first: session arenas, thread pools, the reverse path's discovery."""
        warm = [self.wait((0, i), WARM_UP_S) for i in range(3) if self.send(msg, (0, i))]
        if not any(warm):
            raise NoDepth(f'no depth image came back for any of 3 warm-up frames '
                          f'({WARM_UP_S:.0f} s each; node log: {self.log})')

    def lockstep(self, msg: Any, frames: int) -> Tuple[List[float], int]:
        """Send a frame and wait for its depth image, `frames` times: (seconds each, lost)."""
        latencies, lost = [], 0
        for i in range(frames):
            sent = self.send(msg, (1, i))
            arrived = self.wait((1, i), 30)
            lost += arrived is None
            if arrived is not None:
                latencies.append(arrived - sent)
        return latencies, lost

    def close(self) -> None:
        self.peer.close()
        stop(self.proc)


def bench_transport(model: Path, camera: Tuple[int, int], frames: int, camera_hz: float,
                    seconds: float, work: Path, setup: str = 'default') -> Dict[str, Any]:
    """Lock-step latency over `frames` frames, then `seconds` of a `camera_hz` camera.

    A set-up with another Fast DDS profile than this process's runs in a new process (the
    profile is read once per process). One that answers no warm-up frame is a result too:
    `{'failed': why}` instead of the measurements.
    """
    env = FASTDDS_SETUPS[setup]
    if needs_fresh_process(env):
        return in_fresh_process(env, bench_transport, model, camera, frames, camera_hz,
                                seconds, work, setup)
    graph = Graph(model, work, **env)
    try:
        msg = graph.frame(camera)
        try:
            graph.warm_up(msg)
        except NoDepth as err:  # e.g. Fast DDS defaults: camera frames as lossy UDP fragments
            return {'camera': camera_label(camera), 'fastdds': setup,
                    'failed': str(err)}
        latencies, lost = graph.lockstep(msg, frames)
        node = psutil.Process(graph.proc.pid)
        rss_start = node.memory_info().rss
        sent_at, rss = sustained(lambda stamp: graph.send(msg, stamp), node, camera_hz, seconds)
        time.sleep(1.0)
        with graph.peer.lock:
            done = [(m.header.stamp.nanosec, t) for t, m in graph.peer.received['depth/image']
                    if m.header.stamp.sec == 2]
        peak = peak_rss(graph.proc.pid)
    finally:
        graph.close()
    result = transport_result(latencies, lost, sent_at, done, rss_start, rss, peak, camera,
                              camera_hz)
    result['inference'] = inference_p50(model, camera)
    result['fastdds'] = setup
    return result


def inference_p50(model: Path, camera: Tuple[int, int], repeats: int = 20) -> Dict[str, float]:
    """Return the estimator's own p50 per stage (ms) on the same frame, in this process."""
    rgb = camera_frame(ENCODING, *camera)
    with DepthEstimator(model, backend='onnxruntime', device='cpu') as estimator:
        runs = [estimator.predict(rgb).timings for _ in range(repeats)]
    return {stage: float(np.median([r[stage] for r in runs]) * 1e3) for stage in runs[0]}


def bench_qos(model: Path, cameras: List[Tuple[int, int]], frames: int, rate_hz: float,
              work: Path, progress: Callable[[], None] = lambda: None) -> List[Dict[str, Any]]:
    """Depth images back per (camera QoS, node input QoS, Fast DDS transport, camera size)."""
    rows = []
    for transport, env in FASTDDS_SETUPS.items():
        if needs_fresh_process(env):  # the profile is read once per process
            rows += in_fresh_process(env, qos_rows, model, cameras, frames, rate_hz, work,
                                     transport, len(rows))
            for _ in range(4 * len(cameras)):
                progress()
        else:
            rows += qos_rows(model, cameras, frames, rate_hz, work, transport, len(rows),
                             progress)
    return rows


def qos_rows(model: Path, cameras: List[Tuple[int, int]], frames: int, rate_hz: float,
             work: Path, transport: str, offset: int,
             progress: Callable[[], None] = lambda: None) -> List[Dict[str, Any]]:
    """bench_qos's rows of one Fast DDS set-up; node domains from `offset` + 1."""
    rows = []
    for camera_reliable in (True, False):
        for node_reliable in (True, False):
            name = 'reliable' if node_reliable else 'best_effort'
            graph = Graph(model, work, NODE_PARAMS + (f'input_reliability:={name}',),
                          camera_reliable, node_reliable, offset=offset + len(rows) + 1,
                          **FASTDDS_SETUPS[transport])
            try:
                for camera in cameras:
                    rows.append(qos_row(graph, camera, frames, rate_hz, transport,
                                        camera_reliable, node_reliable))
                    progress()
            finally:
                graph.close()
    return rows


def qos_row(graph: Graph, camera: Tuple[int, int], frames: int, rate_hz: float,
            transport: str, camera_reliable: bool, node_reliable: bool) -> Dict[str, Any]:
    msg = graph.frame(camera)
    tag = camera[1]  # stamps of this size's frames: (width, i)
    start = time.monotonic()
    for i in range(frames):
        graph.send(msg, (tag, i))
        time.sleep(max(0.0, start + (i + 1) / rate_hz - time.monotonic()))
    time.sleep(2.0)
    with graph.peer.lock:
        back = {m.header.stamp.nanosec for _, m in graph.peer.received['depth/image']
                if m.header.stamp.sec == tag}
    name = {True: 'reliable', False: 'best_effort'}
    return {'transport': transport, 'camera': f'{camera[1]}x{camera[0]}',
            'camera_qos': name[camera_reliable], 'node_qos': name[node_reliable],
            'compatible': camera_reliable or not node_reliable, 'sent': frames,
            'depth_back': len(back)}


def sustained(send: Callable[[Tuple[int, int]], float], node: psutil.Process,
              camera_hz: float, seconds: float) -> Tuple[List[float], List[Tuple[float, int]]]:
    """Publish at `camera_hz` for `seconds`; sample the node's RSS twice a second."""
    sent_at, rss = [], []
    start = time.monotonic()
    next_sample = start
    i = 0
    while time.monotonic() - start < seconds:
        sent_at.append(send((2, i)))
        i += 1
        now = time.monotonic()
        if now >= next_sample:
            rss.append((now - start, node.memory_info().rss))
            next_sample += 0.5
        time.sleep(max(0.0, start + i / camera_hz - time.monotonic()))
    return sent_at, rss


def baseline_slope(rss: List[Tuple[float, int]], window: float = 5.0) -> Optional[float]:
    """Bytes per second by which the RSS baseline (minimum per `window` seconds) grows.

    RSS swings by a few frames' buffers as frames come and go; a leak shows as a rising floor,
    so the trend is fitted to the per-window minima (None with fewer than three windows).
    """
    if not rss:
        return None
    windows: Dict[int, Tuple[float, int]] = {}
    for t, value in rss:
        key = int(t // window)
        if key not in windows or value < windows[key][1]:
            windows[key] = (t, value)
    if len(windows) < 3:
        return None
    times, values = zip(*windows.values())
    return float(np.polyfit(times, values, 1)[0])


def transport_result(latencies: List[float], lost: int, sent_at: List[float],
                     done: List[Tuple[int, float]], rss_start: int,
                     rss: List[Tuple[float, int]], peak: Optional[int],
                     camera: Tuple[int, int], camera_hz: float) -> Dict[str, Any]:
    """Summaries of both phases and the memory trend (MiB per 1000 camera frames)."""
    mib = 2 ** 20
    duration = sent_at[-1] - sent_at[0] if len(sent_at) > 1 else 0.0
    sent_hz = (len(sent_at) - 1) / duration if duration else 0.0
    outputs = sorted(t for _, t in done)
    rate = (len(outputs) - 1) / (outputs[-1] - outputs[0]) if len(outputs) > 1 else 0.0
    slope = baseline_slope(rss)
    return {'camera': camera_label(camera),
            'lockstep': dict(summarize(latencies) if latencies else {}, lost=lost),
            'sustained': {'camera_hz': camera_hz, 'sent': len(sent_at), 'sent_hz': sent_hz,
                          'depth_received': len(done), 'depth_hz': rate,
                          'sustained_latency': summarize([t - sent_at[i] for i, t in done])
                          if done else None},
            'memory': {'rss_after_warmup_mib': rss_start / mib,
                       'rss_end_mib': rss[-1][1] / mib if rss else None,
                       'rss_min_mib': min(r for _, r in rss) / mib if rss else None,
                       'rss_max_sampled_mib': max(r for _, r in rss) / mib if rss else None,
                       'peak_rss_mib': peak / mib if peak else None,
                       'baseline_growth_mib_per_1000_frames':
                           slope / mib / sent_hz * 1000 if slope is not None and sent_hz
                           else None,
                       'samples': [(round(t, 2), round(r / mib, 1)) for t, r in rss]}}
