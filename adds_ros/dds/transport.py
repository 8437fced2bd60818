# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Publish and subscribe ROS 2 topics over Cyclone DDS, without a ROS 2 installation.

ROS 2 (rmw_cyclonedds_cpp) maps a fully qualified topic `/ns/name` to the DDS topic
`rt/ns/name` and each message type to `<pkg>::msg::dds_::<Name>_`, serialised as XCDR1 (plain
CDR). Doing the same here makes this process one more node on the vehicle's ROS 2 graph.
"""

import threading
from dataclasses import fields, is_dataclass
from types import ModuleType
from typing import Any, Callable, Dict, Optional

from cyclonedds.core import Listener
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic
from cyclonedds.util import duration

from adds_ros import messages
from adds_ros.dds import types as wire

RELIABILITY = {
    'best_effort': Policy.Reliability.BestEffort,
    'reliable': Policy.Reliability.Reliable(duration(milliseconds=100)),
}


def make_qos(reliability: str, depth: int) -> Qos:
    """ROS-style QoS: volatile, keep-last `depth`, plain CDR as rmw_cyclonedds_cpp writes it."""
    if reliability not in RELIABILITY:
        raise ValueError(f'reliability must be one of {tuple(RELIABILITY)}, got {reliability!r}')
    return Qos(RELIABILITY[reliability], Policy.History.KeepLast(depth),
               Policy.Durability.Volatile,
               Policy.DataRepresentation(use_cdrv0_representation=True))


# ROS 2's predefined profiles: sensor data (cameras) and the default for everything else.
SENSOR_DATA = ('best_effort', 1)
DEFAULT = ('reliable', 10)


def resolve(name: str, namespace: str = '/') -> str:
    """Fully qualified ROS name: relative names are placed under `namespace`."""
    if not name or name.startswith('~'):
        raise ValueError(f'topic name {name!r} is empty or private; not supported here')
    if name.startswith('/'):
        return name
    return '/' + '/'.join(part for part in (namespace.strip('/'), name) if part)


def dds_topic(name: str, namespace: str = '/') -> str:
    """Return the DDS topic ROS 2 uses for a ROS topic name."""
    return 'rt' + resolve(name, namespace)


def convert(value: Any, target: ModuleType) -> Any:
    """Copy a message into the same-named classes of `target` (plain dataclasses <-> IDL)."""
    if is_dataclass(value) and not isinstance(value, type):
        cls = getattr(target, type(value).__name__)
        return cls(**{f.name: convert(getattr(value, f.name), target) for f in fields(value)})
    if isinstance(value, (list, tuple)):
        return [convert(item, target) for item in value]
    return value


class DdsTransport:
    """One DDS participant carrying a node's topics; implements the node core's Transport."""

    def __init__(self, domain_id: int = 0, namespace: str = '/',
                 remap: Optional[Dict[str, str]] = None) -> None:
        self.participant = DomainParticipant(domain_id)
        self.namespace = namespace
        self.remap = dict(remap or {})
        self._topics: Dict[str, Topic] = {}
        self._writers: Dict[str, DataWriter] = {}
        self._readers: Dict[str, DataReader] = {}
        self._lock = threading.Lock()

    def _topic(self, name: str, msg_type: type) -> Topic:
        dds_name = dds_topic(self.remap.get(name, name), self.namespace)
        if dds_name not in self._topics:
            self._topics[dds_name] = Topic(self.participant, dds_name,
                                           getattr(wire, msg_type.__name__))
        return self._topics[dds_name]

    def advertise(self, name: str, msg_type: type, reliability: str, depth: int) -> None:
        """Create the writer for `name` (a plain message class from adds_ros.messages)."""
        self._writers[name] = DataWriter(self.participant, self._topic(name, msg_type),
                                         qos=make_qos(reliability, depth))

    def subscribe(self, name: str, msg_type: type, callback: Callable[[Any], None],
                  reliability: str, depth: int) -> None:
        """Call `callback` with plain messages (on Cyclone's receive thread)."""
        topic = self._topic(name, msg_type)
        wire_type = topic.data_type

        def on_data(reader: DataReader) -> None:
            for sample in reader.take(N=64):
                if isinstance(sample, wire_type):  # not a writer's dispose/unregister notice
                    callback(convert(sample, messages))

        self._readers[name] = DataReader(self.participant, topic,
                                         qos=make_qos(reliability, depth),
                                         listener=Listener(on_data_available=on_data))

    def publish(self, name: str, msg: Any) -> None:
        with self._lock:
            self._writers[name].write(convert(msg, wire))

    def subscriber_count(self, name: str) -> int:
        writer = self._writers.get(name)
        return len(writer.get_matched_subscriptions()) if writer is not None else 0

    def publisher_count(self, name: str) -> int:
        reader = self._readers.get(name)
        return len(reader.get_matched_publications()) if reader is not None else 0

    def close(self) -> None:
        """Detach listeners first, so no callback runs into a closing node."""
        for reader in self._readers.values():
            reader.set_listener(None)
        self._readers, self._writers, self._topics = {}, {}, {}
        self.participant = None
