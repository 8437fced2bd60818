# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""`adds node`: the depth node over Cyclone DDS, for machines without a ROS 2 installation.

It speaks ROS 2's wire protocol (see adds_ros.dds.transport), so `ros2 topic echo`, RViz and
depth_image_proc on a ROS 2 machine using rmw_cyclonedds_cpp see its topics like any node's.
Parameters come from the same table and the same params files as the rclpy node.
"""

import argparse
import logging
import os
import signal
import threading
from typing import Any, Dict, List

import yaml

from adds_ros.node_core import DepthNodeCore
from adds_ros.params import NodeParams, load_params_file, parameter_table


def _pairs(items: List[str], what: str) -> Dict[str, str]:
    pairs = {}
    for item in items:
        name, sep, value = item.partition(':=')
        if not sep or not name:
            raise ValueError(f'{what} {item!r} must be written NAME:=VALUE')
        pairs[name] = value
    return pairs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = ', '.join(name for name, *_ in parameter_table())
    parser.add_argument('--model', help='depth model (.onnx / .engine / .pt); same as '
                                        '-p model:=PATH')
    parser.add_argument('--params-file', help='ROS 2 parameters YAML (/**: ros__parameters:)')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                        help=f'set a parameter (YAML value), repeatable; names: {names}')
    parser.add_argument('-r', '--remap', action='append', default=[], metavar='FROM:=TO',
                        help='rename a topic, e.g. image:=/camera/image_raw')
    parser.add_argument('--namespace', default='/', help='namespace for relative topics')
    parser.add_argument('--domain-id', type=int,
                        default=int(os.environ.get('ROS_DOMAIN_ID', '0') or 0),
                        help='DDS domain (default: $ROS_DOMAIN_ID or 0)')
    parser.add_argument('--duration', type=float, default=0.0,
                        help='stop after this many seconds (0 = until Ctrl-C / SIGTERM)')
    parser.add_argument('--log-level', default='INFO',
                        choices=('DEBUG', 'INFO', 'WARNING', 'ERROR'))


def build_params(args: argparse.Namespace) -> NodeParams:
    """Params file, then -p overrides, then --model: the order ROS 2 applies them in."""
    values: Dict[str, Any] = load_params_file(args.params_file) if args.params_file else {}
    values.update({name: yaml.safe_load(value)
                   for name, value in _pairs(args.param, 'parameter').items()})
    if args.model:
        values['model'] = args.model
    return NodeParams.from_dict(values)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level,
                        format='[%(levelname)s] [%(asctime)s] [depth_node]: %(message)s')
    logger = logging.getLogger('adds_ros.depth_node')
    try:
        params = build_params(args)
        remap = _pairs(args.remap, 'remap')
    except (ValueError, FileNotFoundError) as err:
        logger.error(str(err))
        return 2
    from adds_ros.dds.transport import DdsTransport

    transport = DdsTransport(args.domain_id, args.namespace, remap)
    try:
        core = DepthNodeCore(params, transport, logger=logger)
        core.configure()
    except (ValueError, RuntimeError) as err:
        logger.error(str(err))
        transport.close()
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for topic, msg_type in core.output_topics().items():
            transport.advertise(topic, msg_type, *core.qos_for(topic))
        for topic, (msg_type, callback) in core.input_topics().items():
            transport.subscribe(topic, msg_type, callback, *core.qos_for(topic))
        core.activate()
        logger.info(f'ready on DDS domain {args.domain_id}: in {sorted(core.input_topics())}, '
                    f'out {sorted(core.output_topics())}')
        stop.wait(args.duration or None)
    finally:
        core.shutdown()
        transport.close()
    logger.info('stopped')
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog='adds node', description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == '__main__':
    raise SystemExit(main())
