# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`depth_node`: the rclpy adapter around DepthNodeCore (`ros2 run adds_ros depth_node`).

Deliberately thin: it declares the shared parameter table as ROS parameters, converts messages
and QoS, and maps lifecycle transitions onto the core. Every behaviour lives in node_core, which
is tested here without ROS 2 and across processes over Cyclone DDS.
"""

import array
import sys
from dataclasses import fields, is_dataclass
from typing import Any, Dict, List, Optional

from adds_ros import messages
from adds_ros.node_core import DepthNodeCore
from adds_ros.params import NodeParams, parameter_table

NODE_NAME = 'depth_node'


def ros_types() -> Dict[str, type]:
    """Our message class name -> the rclpy message class with the same fields."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest
    from std_msgs.msg import Header
    return {cls.__name__: cls for cls in (Time, Header, Image, CompressedImage, CameraInfo,
                                          RegionOfInterest, DiagnosticArray, DiagnosticStatus,
                                          KeyValue)}


def to_ros(value: Any, types: Dict[str, type]) -> Any:
    """Plain message -> rclpy message, field by field (names are identical by construction)."""
    if is_dataclass(value):
        msg = types[type(value).__name__]()
        for spec in fields(value):
            item = getattr(value, spec.name)
            if isinstance(item, bytes):
                item = array.array('B', item)  # uint8[]: rclpy checks a list element by element
            elif isinstance(value, messages.DiagnosticStatus) and spec.name == 'level':
                item = bytes([item])  # ROS `byte` is a length-1 bytes object in rclpy
            else:
                item = to_ros(item, types)
            setattr(msg, spec.name, item)
        return msg
    if isinstance(value, list) and value and is_dataclass(value[0]):
        return [to_ros(item, types) for item in value]
    return value


def from_ros(msg: Any, cls: type) -> Any:
    """Copy an rclpy message into a plain message of class `cls` (images, camera_info)."""
    values = {}
    for spec in fields(cls):
        item = getattr(msg, spec.name)
        if is_dataclass(spec.type):
            item = from_ros(item, spec.type)
        elif spec.type is bytes:
            item = bytes(item)
        elif spec.type == List[float]:
            item = [float(v) for v in item]
        values[spec.name] = item
    return cls(**values)


def descriptor(description: str, limits: Any, choices: Any) -> Any:
    """Make a ParameterDescriptor carrying the table's description and range or choices."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    desc = ParameterDescriptor(description=description, read_only=True)
    if choices:
        desc.additional_constraints = f'one of: {", ".join(choices)}'
    if limits and all(isinstance(v, int) for v in limits):
        desc.integer_range = [IntegerRange(from_value=limits[0], to_value=limits[1], step=1)]
    elif limits:
        desc.floating_point_range = [FloatingPointRange(from_value=float(limits[0]),
                                                        to_value=float(limits[1]), step=0.0)]
    return desc


def ros_qos(reliability: str, depth: int) -> Any:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      durability=DurabilityPolicy.VOLATILE,
                      reliability=(ReliabilityPolicy.BEST_EFFORT if reliability == 'best_effort'
                                   else ReliabilityPolicy.RELIABLE))


class RclpyTransport:
    """The core's Transport over an rclpy node."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.types = ros_types()
        self.publishers: Dict[str, Any] = {}
        self.subscriptions: Dict[str, Any] = {}

    def open(self, core: DepthNodeCore) -> None:
        for topic, msg_type in core.output_topics().items():
            self.publishers[topic] = self.node.create_publisher(
                self.types[msg_type.__name__], topic, ros_qos(*core.qos_for(topic)))
        for topic, (msg_type, callback) in core.input_topics().items():
            self.subscriptions[topic] = self.node.create_subscription(
                self.types[msg_type.__name__], topic,
                lambda msg, cls=msg_type, cb=callback: cb(from_ros(msg, cls)),
                ros_qos(*core.qos_for(topic)))

    def close(self) -> None:
        for sub in self.subscriptions.values():
            self.node.destroy_subscription(sub)
        for pub in self.publishers.values():
            self.node.destroy_publisher(pub)
        self.publishers, self.subscriptions = {}, {}

    def publish(self, topic: str, msg: Any) -> None:
        self.publishers[topic].publish(to_ros(msg, self.types))

    def subscriber_count(self, topic: str) -> int:
        return self.publishers[topic].get_subscription_count() if topic in self.publishers else 0

    def publisher_count(self, topic: str) -> int:
        sub = self.subscriptions.get(topic)
        return self.node.count_publishers(sub.topic_name) if sub is not None else 0


class CoreHost:
    """What both node flavours share: parameters in, core and transport built, torn down."""

    def declare_table(self) -> None:
        for name, default, description, limits, choices in parameter_table():
            self.declare_parameter(name, default, descriptor(description, limits, choices))

    def clock_now(self) -> messages.Time:
        sec, nanosec = self.get_clock().now().seconds_nanoseconds()
        return messages.Time(sec, nanosec)

    def start_core(self) -> None:
        """Validate parameters, load the model, open topics (raises with a clear message)."""
        values = {name: self.get_parameter(name).value for name, *_ in parameter_table()}
        self.transport = RclpyTransport(self)
        self.core = DepthNodeCore(NodeParams.from_dict(values), self.transport,
                                  clock=self.clock_now, logger=self.get_logger())
        self.core.configure()
        self.transport.open(self.core)

    def stop_core(self) -> None:
        if getattr(self, 'core', None) is not None:
            self.core.shutdown()
            self.transport.close()
            self.core = None


def make_node() -> Any:
    """Create a lifecycle node where rclpy has them (Humble and later), else a plain node."""
    try:
        from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
    except ImportError:
        return _plain_node()

    class DepthLifecycleNode(CoreHost, LifecycleNode):
        def __init__(self) -> None:
            super().__init__(NODE_NAME)
            self.core: Optional[DepthNodeCore] = None
            self.declare_table()
            self.declare_parameter('autostart', True, descriptor(
                'configure and activate at start (false: wait for lifecycle commands)',
                None, None))

        def on_configure(self, state: Any) -> Any:
            try:
                self.start_core()
            except (ValueError, RuntimeError) as err:
                self.get_logger().error(str(err))
                self.stop_core()
                return TransitionCallbackReturn.FAILURE
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state: Any) -> Any:
            self.core.activate()
            return TransitionCallbackReturn.SUCCESS

        def on_deactivate(self, state: Any) -> Any:
            self.core.deactivate()
            return TransitionCallbackReturn.SUCCESS

        def on_cleanup(self, state: Any) -> Any:
            self.stop_core()
            return TransitionCallbackReturn.SUCCESS

        def on_shutdown(self, state: Any) -> Any:
            self.stop_core()
            return TransitionCallbackReturn.SUCCESS

    node = DepthLifecycleNode()
    if node.get_parameter('autostart').value:
        node.trigger_configure()
        if node.core is not None:
            node.trigger_activate()
    return node


def _plain_node() -> Any:
    from rclpy.node import Node

    class DepthNode(CoreHost, Node):
        def __init__(self) -> None:
            super().__init__(NODE_NAME)
            self.declare_table()
            self.start_core()
            self.core.activate()

    return DepthNode()


def main(args: Optional[List[str]] = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, RuntimeError) as err:
        print(f'depth_node: {err}', file=sys.stderr)
        return 1
    finally:
        if node is not None:
            node.stop_core()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
