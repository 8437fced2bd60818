# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`depth_node`: the depth node as a ROS 2 managed (lifecycle) node.

Deliberately thin: it declares the shared parameter table (adds_ros.params) as ROS parameters,
maps lifecycle transitions onto DepthNodeCore and moves messages (adds_ros.ros_messages).
Every behaviour lives in the ROS-free core and pipeline, which are tested without ROS 2; this
module is tested with real rclpy across processes (test/test_ros_node.py).

ROS idiom, and why:
- lifecycle publishers for the depth outputs: nothing leaves an inactive node; /diagnostics is
  a plain publisher, so operators see an unconfigured or inactive node's state too;
- QoS from parameters plus the standard `qos_overrides.<topic>.*` parameters (rclpy's
  QoSOverridingOptions), so integrators tune QoS the way they do for any ROS 2 node;
- incompatible-QoS events are warned about and counted: a mismatch otherwise moves no data and
  says nothing.
"""

import os
import sys
from typing import Any, Dict, List, Optional

import rclpy
try:
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos_overriding_options import QoSOverridingOptions

from adds_ros import messages
from adds_ros.diagnostics import DIAGNOSTICS_TOPIC
from adds_ros.errors import EXIT_USER_ERROR, UserError
from adds_ros.log import route_to_rclpy, unroute
from adds_ros.node_core import DepthNodeCore
from adds_ros.params import NodeParams, parameter_table
from adds_ros.resources import FASTDDS_PROFILE, large_data_environment
from adds_ros.ros_messages import from_ros, ros_qos, ros_types, to_ros

NODE_NAME = 'depth_node'
# Parameters every rclpy node has, or that rclpy declares for us: not "unknown".
ROS_OWN = ('use_sim_time', 'start_type_description_service', 'autostart')


def descriptor(description: str, limits: Any, choices: Any, kind: type = str) -> Any:
    """Make a ParameterDescriptor carrying the table's description and range or choices.

    Float parameters accept integers too (`scale_factor:=2`, YAML `camera_height: 2`): ROS
    types them strictly, people don't; NodeParams converts and range-checks them.
    """
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    desc = ParameterDescriptor(description=description, read_only=True)
    if choices:
        desc.additional_constraints = f'one of: {", ".join(choices)}'
    if kind is float:
        desc.dynamic_typing = True
    if limits and kind is int:
        desc.integer_range = [IntegerRange(from_value=limits[0], to_value=limits[1], step=1)]
    elif limits:
        desc.floating_point_range = [FloatingPointRange(from_value=float(limits[0]),
                                                        to_value=float(limits[1]), step=0.0)]
    return desc


class DepthNode(LifecycleNode):
    """Camera topics in, REP 118 depth, camera_info, a colour view and diagnostics out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        # the project's Python loggers (engine builds, backends) speak through this node
        self.log_handler = route_to_rclpy(self.get_logger())
        self.core: Optional[DepthNodeCore] = None
        self.configure_error = ''  # why the last configure failed, for make_node's one line
        self.types = ros_types()
        self.publishers_: Dict[str, Any] = {}
        self.subscriptions_: Dict[str, Any] = {}
        self.kinds = {name: type(default) for name, default, *_ in parameter_table()}
        for name, default, description, limits, choices in parameter_table():
            self.declare_parameter(name, default,
                                   descriptor(description, limits, choices, self.kinds[name]))
        self.declare_parameter('autostart', True, descriptor(
            'configure and activate at start (false: wait for lifecycle commands)', None, None,
            bool))
        self._warn_unknown_parameters()

    def destroy_node(self) -> None:
        # also called by rclpy's shutdown for a node whose __init__ raised
        if getattr(self, 'log_handler', None) is not None:
            unroute(self.log_handler)
            self.log_handler = None
        super().destroy_node()

    def _warn_unknown_parameters(self) -> None:
        known = set(self.kinds) | set(ROS_OWN)
        unknown = sorted(name for name in self._parameter_overrides
                         if name not in known and not name.startswith('qos_overrides.'))
        if unknown:
            self.get_logger().warning(f'ignoring unknown parameter(s) {unknown}; known: '
                                      f'{sorted(self.kinds)} (docs/ros.md)')

    # ---- lifecycle ------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.start_core()
        except (ValueError, RuntimeError) as err:
            self.configure_error = str(err)
            if not self.get_parameter('autostart').value:  # at autostart main() says it once
                self.get_logger().error(self.configure_error)
            self.stop_core()
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.core.activate()
        inputs = sorted(sub.topic_name for sub in self.subscriptions_.values())
        outputs = sorted(self.publishers_[topic].topic_name for topic in self.core.served())
        self.get_logger().info(f'active: {self.core.params.model} on '
                               f'{self.core.pipeline.backend_name}; in {inputs}; out {outputs}')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.core.deactivate()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_core()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stop_core()
        return TransitionCallbackReturn.SUCCESS

    # ---- the core and its topics ----------------------------------------------------------
    def parameter_values(self) -> Dict[str, Any]:
        return {name: self.get_parameter(name).value for name in self.kinds}

    def clock_now(self) -> messages.Time:
        sec, nanosec = self.get_clock().now().seconds_nanoseconds()
        return messages.Time(sec, nanosec)

    def start_core(self) -> None:
        """Validate parameters, load the model, open topics (raises with a clear message)."""
        self.core = DepthNodeCore(NodeParams.from_dict(self.parameter_values()), self,
                                  clock=self.clock_now, logger=self.get_logger())
        self._open_topics()
        self.core.configure()

    def stop_core(self) -> None:
        if self.core is not None:
            self.core.shutdown()
            self.core = None
        for sub in self.subscriptions_.values():
            self.destroy_subscription(sub)
        for pub in self.publishers_.values():
            self.destroy_publisher(pub)
        self.publishers_, self.subscriptions_ = {}, {}

    def _open_topics(self) -> None:
        core, overrides = self.core, QoSOverridingOptions.with_default_policies()
        for topic, msg_type in core.output_topics().items():
            create = (self.create_publisher if topic == DIAGNOSTICS_TOPIC
                      else self.create_lifecycle_publisher)
            self.publishers_[topic] = create(
                self.types[msg_type.__name__], topic, ros_qos(*core.qos_for(topic)),
                qos_overriding_options=overrides, event_callbacks=PublisherEventCallbacks(
                    incompatible_qos=lambda event, t=topic: core.on_incompatible_qos(
                        t, event.last_policy_kind.name)))
        for topic, (msg_type, callback) in core.input_topics().items():
            self.subscriptions_[topic] = self.create_subscription(
                self.types[msg_type.__name__], topic,
                lambda msg, cls=msg_type, cb=callback: cb(from_ros(msg, cls)),
                ros_qos(*core.qos_for(topic)), qos_overriding_options=overrides,
                event_callbacks=SubscriptionEventCallbacks(
                    incompatible_qos=lambda event, t=topic: core.on_incompatible_qos(
                        t, event.last_policy_kind.name)))

    # ---- the core's Transport ------------------------------------------------------------
    def publish(self, topic: str, msg: Any) -> None:
        self.publishers_[topic].publish(to_ros(msg, self.types))

    def subscriber_count(self, topic: str) -> int:
        pub = self.publishers_.get(topic)
        return pub.get_subscription_count() if pub is not None else 0

    def publisher_count(self, topic: str) -> int:
        sub = self.subscriptions_.get(topic)
        return self.count_publishers(sub.topic_name) if sub is not None else 0


def make_node(**kwargs: Any) -> DepthNode:
    """Create the node; with autostart, configure and activate it or raise UserError."""
    node = DepthNode(**kwargs)
    if node.get_parameter('autostart').value:
        node.trigger_configure()
        if node.core is None:
            error = node.configure_error or 'configure failed'
            node.destroy_node()
            raise UserError(error)
        node.trigger_activate()
    return node


def main(args: Optional[List[str]] = None, prog: str = NODE_NAME) -> int:
    """`ros2 run adds_ros depth_node [--ros-args ...]`: 0 on a clean stop, 2 on bad setup.

    A bad setup is one line `<prog>: <problem>` on stderr, no traceback. The large-data Fast
    DDS profile goes into the environment first: Fast DDS reads it once, at rclpy.init.
    """
    from rclpy.executors import ExternalShutdownException

    profile = large_data_environment()
    os.environ.update(profile)
    if os.environ.get(FASTDDS_PROFILE) == '':  # set empty: Fast DDS's defaults, and no
        del os.environ[FASTDDS_PROFILE]         # parser error about an empty file name
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        if profile:
            node.get_logger().info(f'Fast DDS profile {profile[FASTDDS_PROFILE]} (set '
                                   f'{FASTDDS_PROFILE} to choose another; docs/ros.md)')
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (UserError, ParameterException, ValueError) as err:
        print(f'{prog}: {err}', file=sys.stderr)
        return EXIT_USER_ERROR
    finally:
        if node is not None:
            node.stop_core()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
