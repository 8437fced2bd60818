# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""End to end through Cyclone DDS: a camera process, `adds node` in its own process, and back.

Latency is measured in lock step (publish a frame, wait for its depth image, matched by stamp)
so that it is the cost of one frame, not of a queue. The sustained rate comes from a camera
publishing at its own rate while the node keeps only the newest frame; the node's resident
memory is sampled over that whole run, and its peak read from the kernel (VmHWM), to show it
stays flat over thousands of frames.
"""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import psutil

from adds_training.bench.pipeline import camera_frame
from adds_training.bench.stats import summarize

# Loopback only: a benchmark must not send camera frames over the machine's network.
LOOPBACK = ('<CycloneDDS><Domain><General><Interfaces><NetworkInterface name="lo"/>'
            '</Interfaces></General></Domain></CycloneDDS>')
NODE_PARAMS = ('backend:=onnxruntime', 'device:=cpu', 'use_camera_info:=false',
               'publish_colorized:=false', 'scale_mode:=fixed', 'scale_factor:=1.0')
ENCODING = 'bayer_gbrg8'


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


class Receiver:
    """Depth images arriving at the camera's side, by stamp."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrived: Dict[Tuple[int, int], float] = {}
        self.event = threading.Event()

    def __call__(self, msg: Any) -> None:
        with self.lock:
            self.arrived[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = time.monotonic()
        self.event.set()

    def wait_for(self, stamp: Tuple[int, int], timeout: float) -> Optional[float]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if stamp in self.arrived:
                    return self.arrived[stamp]
                self.event.clear()
            self.event.wait(0.05)
        return None


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise RuntimeError(f'the node exited with code {proc.returncode} while waiting '
                               f'for {what}')
        if time.monotonic() > end:
            raise RuntimeError(f'timed out after {timeout:.0f} s waiting for {what}')
        time.sleep(0.05)


def start_node(model: Path, domain: int, log: Path) -> subprocess.Popen:
    args = [sys.executable, '-m', 'adds_ros.dds_node', '--model', str(model), '--domain-id',
            str(domain), '--log-level', 'WARNING']
    for item in NODE_PARAMS:
        args += ['-p', item]
    env = dict(os.environ, CYCLONEDDS_URI=os.environ.get('CYCLONEDDS_URI', LOOPBACK),
               ROS_DOMAIN_ID=str(domain))
    with open(log, 'wb') as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


def bench_transport(model: Path, camera: Tuple[int, int], frames: int, camera_hz: float,
                    seconds: float, work: Path, progress: Callable[[], None] = lambda: None
                    ) -> Dict[str, Any]:
    """Lock-step latency over `frames` frames, then `seconds` of a `camera_hz` camera."""
    os.environ.setdefault('CYCLONEDDS_URI', LOOPBACK)
    from adds_ros.dds.transport import DdsTransport
    from adds_ros.messages import Image, image_from_array, Time

    domain = os.getpid() % 200 + 20
    log = work / 'bench_node.log'
    proc = start_node(model, domain, log)
    transport = DdsTransport(domain)
    receiver = Receiver()
    try:
        transport.advertise('image', Image, 'reliable', 1)
        transport.subscribe('depth/image', Image, receiver, 'reliable', 10)
        wait_until(lambda: transport.subscriber_count('image') > 0
                   and transport.publisher_count('depth/image') > 0, 120, 'the node', proc)
        frame = image_from_array(camera_frame(ENCODING, *camera), ENCODING)
        node = psutil.Process(proc.pid)

        def send(stamp: Tuple[int, int]) -> float:
            frame.header.stamp = Time(*stamp)
            sent = time.monotonic()
            transport.publish('image', frame)
            return sent

        warm = [receiver.wait_for((0, i), 60) for i in range(3) if send((0, i))]
        if not any(warm):  # session arenas, thread pools, the reverse path's discovery
            raise RuntimeError(f'no depth image came back from the node (log: {log})')
        latencies, lost = [], 0
        for i in range(frames):
            sent = send((1, i))
            arrived = receiver.wait_for((1, i), 30)
            lost += arrived is None
            if arrived is not None:
                latencies.append(arrived - sent)
            progress()
        rss_start = node.memory_info().rss
        sent_at, rss = sustained(send, node, camera_hz, seconds, progress)
        time.sleep(1.0)
        with receiver.lock:
            done = [(stamp[1], t) for stamp, t in receiver.arrived.items() if stamp[0] == 2]
        peak = peak_rss(proc.pid)
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        transport.close()
    return transport_result(latencies, lost, sent_at, done, rss_start, rss, peak, camera,
                            camera_hz)


def sustained(send: Callable[[Tuple[int, int]], float], node: psutil.Process,
              camera_hz: float, seconds: float, progress: Callable[[], None]
              ) -> Tuple[List[float], List[Tuple[float, int]]]:
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
            progress()
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
    return {'camera': f'{camera[1]}x{camera[0]} {ENCODING}',
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
