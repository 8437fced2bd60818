# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""IDL structs with the exact layout and type names ROS 2 gives its messages on the wire.

rmw_cyclonedds_cpp registers every ROS message type as `<package>::msg::dds_::<Name>_` and
serialises it as plain (final) CDR in field order. Structs below repeat those layouts field by
field, so samples written here are read by ROS 2 nodes and vice versa.
"""

from dataclasses import dataclass

from cyclonedds.idl import IdlStruct
from cyclonedds.idl._machinery import BytesMachine
from cyclonedds.idl.types import array, float64, int32, sequence, uint32, uint8


@dataclass
class Time(IdlStruct, typename='builtin_interfaces::msg::dds_::Time_'):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename='std_msgs::msg::dds_::Header_'):
    stamp: Time
    frame_id: str


@dataclass
class Image(IdlStruct, typename='sensor_msgs::msg::dds_::Image_'):
    header: Header
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


@dataclass
class CompressedImage(IdlStruct, typename='sensor_msgs::msg::dds_::CompressedImage_'):
    header: Header
    format: str
    data: sequence[uint8]


@dataclass
class RegionOfInterest(IdlStruct, typename='sensor_msgs::msg::dds_::RegionOfInterest_'):
    x_offset: uint32
    y_offset: uint32
    height: uint32
    width: uint32
    do_rectify: bool


@dataclass
class CameraInfo(IdlStruct, typename='sensor_msgs::msg::dds_::CameraInfo_'):
    header: Header
    height: uint32
    width: uint32
    distortion_model: str
    d: sequence[float64]
    k: array[float64, 9]
    r: array[float64, 9]
    p: array[float64, 12]
    binning_x: uint32
    binning_y: uint32
    roi: RegionOfInterest


@dataclass
class KeyValue(IdlStruct, typename='diagnostic_msgs::msg::dds_::KeyValue_'):
    key: str
    value: str


@dataclass
class DiagnosticStatus(IdlStruct, typename='diagnostic_msgs::msg::dds_::DiagnosticStatus_'):
    level: uint8  # ROS `byte` is an IDL octet
    name: str
    message: str
    hardware_id: str
    values: sequence[KeyValue]


@dataclass
class DiagnosticArray(IdlStruct, typename='diagnostic_msgs::msg::dds_::DiagnosticArray_'):
    header: Header
    status: sequence[DiagnosticStatus]


def _raw_byte_sequences(cls: type, member: str = 'data') -> None:
    """Carry `sequence<uint8>` member `member` as one `bytes` object instead of a list of ints.

    cyclonedds' generic machine packs a sequence of uint8 element by element (seconds for a
    camera frame); its `bytes` machine writes the identical CDR (uint32 length + raw octets) in
    one copy, but `bytes` cannot be declared in the type (it has no XTypes type object). So the
    type is declared as `sequence[uint8]`, exactly as ROS 2 does, and the machine is swapped.
    """
    idl = cls.__idl__
    idl.populate()
    for machine in (idl.v1_machine, idl.v2_machine):
        machine.members_machines[member] = BytesMachine()


for _message in (Image, CompressedImage):
    _raw_byte_sequences(_message)
