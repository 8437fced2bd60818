# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The transport floor: a plain rclpy node that republishes each camera frame as it arrives.

`python -m adds_ros.tools.echo --ros-args ...` subscribes `image` and publishes the same message
on `depth/image`, with the depth node's default QoS (reliable, depth 1), so the transport
benchmark's camera and subscriber (adds_ros.tools.transport.Graph) run against it unchanged.
What the depth node adds over this echo (decode, inference, packing a float32 depth image of
4/3 the frame's bytes) is the node's own cost; the rest is rclpy and Fast DDS moving frames.

`bench_echo` runs both, one after the other in the same call, on the same frames, lock-step.
"""

import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple


def main(argv: Optional[List[str]] = None) -> int:
    """Run the echo node until SIGINT (ROS arguments after --ros-args are rclpy's)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init(args=sys.argv if argv is None else argv)
    node = rclpy.create_node('adds_echo')
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    publisher = node.create_publisher(Image, 'depth/image', qos)
    node.create_subscription(Image, 'image', publisher.publish, qos)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def bench_echo(model: Path, camera: Tuple[int, int], frames: int, work: Path,
               setup: str = 'fastdds_large_data.xml') -> Dict[str, Any]:
    """Lock-step latency of the depth node and of the echo on the same frames, in one call.

    `setup`: the Fast DDS profile of all three processes (transport.FASTDDS_SETUPS; default
    the project's large-data profile, with which camera-size frames are not starved).
    """
    from adds_ros.tools.rosgraph import in_fresh_process, needs_fresh_process
    from adds_ros.tools.stats import summarize
    from adds_ros.tools.transport import FASTDDS_SETUPS, Graph, camera_label

    env = FASTDDS_SETUPS[setup]
    if needs_fresh_process(env):
        return in_fresh_process(env, bench_echo, model, camera, frames, work, setup=setup)
    rows = {}
    for name, command in (('depth node', None), ('rclpy echo', [sys.executable, '-m', __name__])):
        graph = Graph(model, work, command=command, offset=7 if command else 6, **env)
        try:
            msg = graph.frame(camera)
            graph.warm_up(msg)
            latencies, lost = graph.lockstep(msg, frames)
        finally:
            graph.close()
        rows[name] = dict(summarize(latencies) if latencies else {}, lost=lost)
    node, echo = rows['depth node'], rows['rclpy echo']
    over = node['p50_ms'] - echo['p50_ms'] if 'p50_ms' in node and 'p50_ms' in echo else None
    return {'camera': camera_label(camera), 'frames': frames, 'fastdds': setup,
            **rows, 'node_over_echo_p50_ms': over}


if __name__ == '__main__':
    raise SystemExit(main())
