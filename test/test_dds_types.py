# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Wire conventions of the DDS transport: topic names, type names and CDR bytes as in ROS 2."""

import struct
from dataclasses import dataclass

from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import sequence, uint32, uint8
import pytest

from adds_ros import messages as m
from adds_ros.dds import types as wire
from adds_ros.dds.transport import convert, dds_topic, make_qos, resolve


def test_topic_names_follow_ros2():
    assert dds_topic('image') == 'rt/image'
    assert dds_topic('depth/image', '/front_camera') == 'rt/front_camera/depth/image'
    assert dds_topic('/diagnostics', '/front_camera') == 'rt/diagnostics'
    assert resolve('camera_info', 'car/cam/') == '/car/cam/camera_info'
    with pytest.raises(ValueError, match='private'):
        resolve('~/image')


def test_type_names_follow_rmw_cyclonedds():
    assert wire.Image.__idl_typename__ == 'sensor_msgs::msg::dds_::Image_'
    assert wire.CameraInfo.__idl_typename__ == 'sensor_msgs::msg::dds_::CameraInfo_'
    assert wire.Header.__idl_typename__ == 'std_msgs::msg::dds_::Header_'
    assert wire.Time.__idl_typename__ == 'builtin_interfaces::msg::dds_::Time_'
    assert (wire.DiagnosticArray.__idl_typename__
            == 'diagnostic_msgs::msg::dds_::DiagnosticArray_')


def cdr_string(text: str, offset: int) -> bytes:
    """CDR string at `offset` (from the start of the payload): aligned length, bytes, NUL."""
    pad = b'\0' * (-offset % 4)
    return pad + struct.pack('<I', len(text) + 1) + text.encode() + b'\0'


def test_image_serialises_to_the_plain_cdr_ros2_expects():
    msg = wire.Image(header=wire.Header(wire.Time(7, 9), 'cam'), height=1, width=2,
                     encoding='mono8', is_bigendian=0, step=2, data=b'\x05\x06')
    payload = struct.pack('<iI', 7, 9)
    payload += cdr_string('cam', len(payload))
    payload += b'\0' * (-len(payload) % 4) + struct.pack('<II', 1, 2)
    payload += cdr_string('mono8', len(payload)) + b'\0'
    payload += b'\0' * (-len(payload) % 4) + struct.pack('<I', 2)
    payload += struct.pack('<I', 2) + b'\x05\x06'
    assert msg.serialize() == b'\x00\x01\x00\x00' + payload  # XCDR1 little-endian header
    back = wire.Image.deserialize(msg.serialize())
    assert back.data == b'\x05\x06' and isinstance(back.data, bytes)


@dataclass
class GenericBytes(IdlStruct, typename='test::GenericBytes'):
    step: uint32
    data: sequence[uint8]


@dataclass
class FastBytes(IdlStruct, typename='test::FastBytes'):
    step: uint32
    data: sequence[uint8]


def test_fast_byte_sequences_write_the_same_bytes_as_the_generic_machine():
    wire._raw_byte_sequences(FastBytes)
    data = bytes(range(256)) * 3
    generic = GenericBytes(3, list(data)).serialize()
    assert FastBytes(3, data).serialize() == generic
    assert FastBytes.deserialize(generic).data == data


def test_messages_convert_to_wire_and_back_unchanged():
    info = m.CameraInfo(header=m.Header(m.Time(1, 2), 'cam'), height=4, width=6,
                        distortion_model='plumb_bob', d=[0.1, 0.2, 0, 0, 0],
                        k=[5.0, 0, 3, 0, 5, 2, 0, 0, 1],
                        roi=m.RegionOfInterest(1, 2, 3, 4, True))
    diag = m.DiagnosticArray(status=[m.DiagnosticStatus(
        level=m.DiagnosticStatus.WARN, name='n', values=[m.KeyValue('a', '1')])])
    for msg in (info, diag):
        sample = convert(msg, wire)
        assert type(sample).__idl_typename__.endswith(type(msg).__name__ + '_')
        again = type(sample).deserialize(sample.serialize())
        assert convert(again, m) == msg


def test_qos_names_are_checked():
    make_qos('best_effort', 1)
    with pytest.raises(ValueError, match='reliability must be one of'):
        make_qos('sometimes', 1)
