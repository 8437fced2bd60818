# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import numpy as np
import pytest

from adds_ros import messages as m


def test_time_round_trips_through_seconds():
    t = m.Time.from_sec(1234.000000567)
    assert (t.sec, t.nanosec) == (1234, 567)
    assert abs(t.to_sec() - 1234.000000567) < 1e-9


@pytest.mark.parametrize('encoding,shape,dtype', [('rgb8', (4, 6, 3), np.uint8),
                                                  ('mono8', (4, 6), np.uint8),
                                                  ('bgra8', (4, 6, 4), np.uint8),
                                                  ('32FC1', (4, 6), np.float32)])
def test_image_from_array_packs_rows_without_padding(encoding, shape, dtype):
    array = (np.random.default_rng(0).random(shape) * 200).astype(dtype)
    msg = m.image_from_array(array, encoding, m.Header(m.Time(3, 4), 'cam'))
    assert (msg.height, msg.width, msg.encoding) == (4, 6, encoding)
    assert msg.step * msg.height == len(msg.data) == array.nbytes
    assert msg.header.frame_id == 'cam'
    restored = np.frombuffer(msg.data, dtype).reshape(shape)
    np.testing.assert_array_equal(restored, array)


def test_image_from_array_rejects_wrong_channels_and_encodings():
    with pytest.raises(ValueError, match='needs 3 channel'):
        m.image_from_array(np.zeros((4, 4), np.uint8), 'rgb8')
    with pytest.raises(ValueError, match='cannot pack'):
        m.image_from_array(np.zeros((4, 4), np.uint8), 'yuv422')


def test_depth_image_round_trip_keeps_nan_and_values():
    depth = np.array([[1.5, np.nan], [80.0, 0.25]], np.float32)
    msg = m.depth_image(depth, m.Header(frame_id='cam'))
    assert msg.encoding == '32FC1' and msg.step == 8
    np.testing.assert_array_equal(m.array_from_float_image(msg), depth)


def test_float_image_reader_honours_padding_and_big_endian():
    depth = np.arange(6, dtype=np.float32).reshape(2, 3)
    padded = np.zeros((2, 16), np.uint8)
    padded[:, :12] = depth.astype('>f4').view(np.uint8).reshape(2, 12)
    msg = m.Image(height=2, width=3, encoding='32FC1', is_bigendian=1, step=16,
                  data=padded.tobytes())
    np.testing.assert_array_equal(m.array_from_float_image(msg), depth)


def test_scale_camera_info_scales_k_and_p_with_resolution():
    info = m.CameraInfo(width=1280, height=960, k=[1000, 0, 640, 0, 1000, 480, 0, 0, 1],
                        p=[1000, 0, 640, -100, 0, 1000, 480, 0, 0, 0, 1, 0],
                        distortion_model='plumb_bob', d=[0.1, 0, 0, 0, 0])
    header = m.Header(m.Time(9, 9), 'depth')
    half = m.scale_camera_info(info, 640, 480, header)
    assert (half.width, half.height, half.header) == (640, 480, header)
    assert half.k == [500, 0, 320, 0, 500, 240, 0, 0, 1]
    assert half.p == [500, 0, 320, -50, 0, 500, 240, 0, 0, 0, 1, 0]
    same = m.scale_camera_info(info, 1280, 960, header)
    assert same.k == info.k and same.p == info.p and same.d == info.d


def test_camera_info_from_k_is_a_pinhole_with_matching_projection():
    k = np.array([[50.0, 0, 32], [0, 60.0, 16], [0, 0, 1]])
    info = m.camera_info_from_k(k, 64, 32, m.Header())
    np.testing.assert_array_equal(m.camera_matrix(info), k)
    assert info.p[:3] == [50.0, 0, 32] and info.p[3] == 0
