# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""A real ROS 2 graph on this machine for benchmarks and tests: the depth node and its peers.

`depth_node` runs in its own process, started the way users start it (the console script with
`--ros-args`); a camera and a subscriber are rclpy nodes of `Peer`, which spins them on a
thread. Discovery stays on the loopback interface and in a domain of its own per process, so
parallel runs neither see each other nor send a frame over the machine's network.

Fast DDS reads its XML profile (`FASTDDS_DEFAULT_PROFILES_FILE`) once per process, when the
first participant is created: a peer that needs another profile than the process's first one
runs in a new process (`in_fresh_process`), and `Peer` refuses the mix instead of silently
running with the first profile.
"""

import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from adds_ros.resources import FASTDDS_PROFILE

Stamp = Tuple[int, int]
T = TypeVar('T')
_NO_PEER_YET = object()
_process_profile: Any = _NO_PEER_YET  # the profile this process's Fast DDS loaded, if known


def ros_env(domain: int, **extra: str) -> Dict[str, str]:
    """Environment of a ROS 2 process that discovers only on this machine, in `domain`."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST',
               PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0')
    env.update(extra)
    return env


def unique_domain(offset: int = 0) -> int:
    """Pick a DDS domain per process (Fast DDS default ports allow 0..101): runs never mix."""
    return (os.getpid() * 7 + offset) % 90 + 5


def depth_node_command() -> List[str]:
    """`depth_node` as installed (console script next to this Python), else the module."""
    script = Path(sys.executable).with_name('depth_node')
    found = str(script) if script.exists() else shutil.which('depth_node')
    return [found] if found else [sys.executable, '-m', 'adds_ros.depth_node']


def start_depth_node(ros_args: Sequence[str], env: Dict[str, str], log: Path,
                     command: Optional[Sequence[str]] = None) -> subprocess.Popen:
    """Start `depth_node --ros-args ...` with its output in `log`.

    `command` is the node to run (default: `depth_node_command()`), e.g. the console script of
    another installation.
    """
    with open(log, 'wb') as out:
        return subprocess.Popen([*(command or depth_node_command()), '--ros-args', *ros_args],
                                env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> int:
    """SIGINT (what Ctrl-C and `ros2 launch` send), then kill if it does not end."""
    if proc.poll() is None:
        proc.send_signal(2)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Peer:
    """rclpy nodes in this process, spun on a thread: publish and collect by stamp.

    The thread spins a SingleThreadedExecutor: the callbacks only append, and rclpy's
    MultiThreadedExecutor busy-loops over its futures, holding the GIL long enough (0.1-3 s
    measured on 2 cores) that the process's own publishing loop overslept and sent late
    frames back to back: the stalls the node's tests and latency benchmarks once blamed on DDS.
    """

    def __init__(self, domain: int, name: str = 'adds_peer', **env: str) -> None:
        """`env`: extra environment for this participant only (e.g. a Fast DDS profile)."""
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        global _process_profile
        profile = requested_profile(env)
        if _process_profile is not _NO_PEER_YET and profile != _process_profile:
            raise RuntimeError(
                f'Fast DDS reads its XML profile once per process and this one loaded '
                f'{_process_profile or "none"}: start a peer with {profile or "none"} in a new '
                'process (rosgraph.in_fresh_process)')
        _process_profile = profile
        saved = dict(os.environ)
        os.environ.update(ros_env(domain, **env))
        if os.environ.get(FASTDDS_PROFILE) == '':  # empty: Fast DDS's defaults
            del os.environ[FASTDDS_PROFILE]
        self.context = Context()
        try:  # rmw_fastrtps creates the participant (and reads its profile) with the first node
            rclpy.init(context=self.context, domain_id=domain)
            self.node = rclpy.create_node(name, context=self.context)
        finally:  # the middleware has read it: later participants choose their own
            os.environ.clear()
            os.environ.update(saved)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.lock = threading.Lock()
        self.received: Dict[str, List[Tuple[float, Any]]] = {}
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def publisher(self, msg_type: type, topic: str, reliable: bool = True, depth: int = 1
                  ) -> Any:
        return self.node.create_publisher(msg_type, topic, qos(reliable, depth))

    def listen(self, msg_type: type, topic: str, reliable: bool = True, depth: int = 10
               ) -> None:
        """Keep (arrival time, message) of everything on `topic`."""
        self.received[topic] = []

        def keep(msg: Any) -> None:
            with self.lock:
                self.received[topic].append((time.monotonic(), msg))
        self.node.create_subscription(msg_type, topic, keep, qos(reliable, depth))

    def arrival(self, topic: str, stamp: Stamp) -> Optional[float]:
        with self.lock:
            for arrived, msg in self.received[topic]:
                if (msg.header.stamp.sec, msg.header.stamp.nanosec) == stamp:
                    return arrived
        return None

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)


def _update_environ(env: Dict[str, str]) -> None:
    os.environ.update(env)


def in_fresh_process(env: Dict[str, str], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return fn(*args, **kwargs) run in a new Python process whose environment adds `env`.

    For a peer with another Fast DDS profile than this process's (see the module docstring);
    `fn` and its arguments must pickle, and its exceptions come back as they were raised.
    """
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn'),
                             initializer=_update_environ, initargs=(env,)) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def requested_profile(env: Dict[str, str]) -> Optional[str]:
    """Return the Fast DDS profile a participant started with `env` added reads (None: none).

    An empty value is none too: Fast DDS's defaults (and the depth node's way to be told so).
    """
    return env.get(FASTDDS_PROFILE, os.environ.get(FASTDDS_PROFILE)) or None


def needs_fresh_process(env: Dict[str, str]) -> bool:
    """Whether a peer with `env` needs a new process: it asks for another Fast DDS profile."""
    loaded = (requested_profile({}) if _process_profile is _NO_PEER_YET else _process_profile)
    return requested_profile(env) != loaded


def fastdds_segment_bytes() -> int:
    """Size of the largest Fast DDS shared-memory segment this process has mapped (0: none).

    What shows that a profile is in effect: the default segment is 0.5 MiB, the project's
    profile asks for 64 MiB. Peers' segments count once data came from them: check early.
    """
    sizes = {0}
    with open('/proc/self/maps') as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith('/dev/shm/fastdds_'):
                sizes.add(os.path.getsize(fields[5]))
    return max(sizes)


def qos(reliable: bool, depth: int) -> Any:
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable
                      else ReliabilityPolicy.BEST_EFFORT)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               proc: Optional[subprocess.Popen] = None, log: Optional[Path] = None) -> None:
    """Poll `predicate`; fail naming `what` (and the node's log) on timeout or node exit."""
    end = time.monotonic() + timeout
    while not predicate():
        tail = f'; node log:\n{log.read_text()[-3000:]}' if log and log.exists() else ''
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f'the node exited with code {proc.returncode} while waiting '
                               f'for {what}{tail}')
        if time.monotonic() > end:
            raise RuntimeError(f'timed out after {timeout:.0f} s waiting for {what}{tail}')
        time.sleep(0.02)
