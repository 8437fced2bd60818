# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from adds_ros import image_decode, messages as m
from adds_ros.image_decode import (InputError, MAX_PIXELS, check_camera_info, decode_compressed,
                                   decode_image, jpeg_size, png_size)

RGB = np.random.default_rng(1).integers(0, 256, (16, 24, 3), dtype=np.uint8)


def reason(call, *args) -> str:
    with pytest.raises(InputError) as err:
        call(*args)
    return err.value.reason


@pytest.mark.parametrize('encoding,array', [
    ('rgb8', RGB), ('bgr8', RGB[..., ::-1]),
    ('rgba8', np.dstack([RGB, np.full(RGB.shape[:2], 7, np.uint8)])),
    ('bgra8', np.dstack([RGB[..., ::-1], np.full(RGB.shape[:2], 7, np.uint8)])),
    ('32FC3', RGB.astype(np.float32) / 255.0)])
def test_colour_encodings_decode_to_the_same_rgb(encoding, array):
    np.testing.assert_array_equal(decode_image(m.image_from_array(array, encoding)), RGB)


def test_mono_and_float_mono_become_grey_rgb():
    grey = RGB[..., 0]
    for msg in (m.image_from_array(grey, 'mono8'),
                m.image_from_array(grey.astype(np.float32) / 255.0, '32FC1')):
        out = decode_image(msg)
        assert out.shape == (16, 24, 3)
        np.testing.assert_array_equal(out, np.dstack([grey] * 3))


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Sample `rgb` through a Bayer filter named as ROS names it (first row, second row)."""
    channel = {'r': 0, 'g': 1, 'b': 2}
    out = np.empty(rgb.shape[:2], rgb.dtype)
    for dy in range(2):
        for dx in range(2):
            out[dy::2, dx::2] = rgb[dy::2, dx::2, channel[pattern[2 * dy + dx]]]
    return out


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
def test_bayer_patterns_demosaic_to_the_right_colours(pattern):
    flat = np.zeros((16, 24, 3), np.uint8)
    flat[...] = (200, 100, 30)  # a uniform colour survives demosaicing exactly in the interior
    out = decode_image(m.image_from_array(mosaic(flat, pattern), f'bayer_{pattern}8'))
    np.testing.assert_array_equal(out[4:-4, 4:-4].reshape(-1, 3).min(0), (200, 100, 30))
    np.testing.assert_array_equal(out[4:-4, 4:-4].reshape(-1, 3).max(0), (200, 100, 30))


def packed(array: np.ndarray, encoding: str, bigendian: bool = False, pad: int = 0) -> m.Image:
    """An Image of `array` as a driver writes it: in either byte order, rows padded."""
    height, width = array.shape[:2]
    order = '>' if bigendian else '<'
    rows = np.ascontiguousarray(array, array.dtype.newbyteorder(order)).view(np.uint8)
    rows = rows.reshape(height, -1)
    data = np.hstack([rows, np.full((height, pad), 0xAB, np.uint8)])
    return m.Image(height=height, width=width, encoding=encoding, is_bigendian=int(bigendian),
                   step=data.shape[1], data=data.tobytes())


RGB16 = np.random.default_rng(2).integers(0, 65536, (16, 24, 3), dtype=np.uint16)
# cv_bridge scales with cv::Mat::convertTo(CV_8U, 255 / 65535): round to the nearest integer
RGB16_AS_8 = np.rint(RGB16.astype(np.float64) * 255 / 65535).astype(np.uint8)
ALPHA16 = np.full(RGB16.shape[:2], 4321, np.uint16)


@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('encoding,array', [
    ('rgb16', RGB16), ('bgr16', RGB16[..., ::-1]), ('rgba16', np.dstack([RGB16, ALPHA16])),
    ('bgra16', np.dstack([RGB16[..., ::-1], ALPHA16]))])
def test_16_bit_colour_is_scaled_to_8_bits_as_cv_bridge_does(encoding, array, bigendian):
    out = decode_image(packed(array, encoding, bigendian, pad=6))
    np.testing.assert_array_equal(out, RGB16_AS_8)


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
@pytest.mark.parametrize('bigendian', [False, True])
def test_16_bit_grey_becomes_grey_rgb(encoding, bigendian):
    edges = np.array([0, 128, 129, 385, 65406, 65535], np.uint16)
    grey = np.concatenate([RGB16[..., 0].ravel()[:-6], edges])
    out = decode_image(packed(grey.reshape(16, 24), encoding, bigendian))
    expected = np.rint(grey * (255 / 65535)).reshape(16, 24)
    np.testing.assert_array_equal(out, np.dstack([expected] * 3))
    assert (out[-1, -6:, 0] == (0, 0, 1, 1, 254, 255)).all()  # 128/257 rounds down, 129 up


@pytest.mark.parametrize('encoding', ['8UC3', '8UC4', '16UC3', '16UC4', '8UC2'])
def test_generic_colour_types_are_refused_as_ambiguous(encoding):
    array = np.zeros((4, 6, int(encoding[-1])), np.uint16 if encoding[0] == '1' else np.uint8)
    with pytest.raises(InputError, match='does not say which channel is red') as err:
        decode_image(packed(array, encoding))
    assert err.value.reason == 'encoding'


def test_8uc1_is_mono8():
    grey = RGB[..., 1]
    np.testing.assert_array_equal(decode_image(packed(grey, '8UC1', pad=3)),
                                  np.dstack([grey] * 3))


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
@pytest.mark.parametrize('bigendian', [False, True])
def test_16_bit_bayer_demosaics_to_the_right_colours_then_scales(pattern, bigendian):
    flat = np.zeros((16, 24, 3), np.uint16)
    flat[...] = (51500, 25600, 7800)  # / 257 = 200.4, 99.6, 30.4
    out = decode_image(packed(mosaic(flat, pattern), f'bayer_{pattern}16', bigendian, pad=2))
    assert out.dtype == np.uint8 and out.shape == (16, 24, 3)
    np.testing.assert_array_equal(np.unique(out[2:-2, 2:-2].reshape(-1, 3), axis=0),
                                  [(200, 100, 30)])


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """BT.601 video range to RGB the way OpenCV computes it: 20-bit fixed point, Y < 16 as 16.

    R = 1.164 (Y-16) + 1.596 (V-128); G = 1.164 (Y-16) - 0.813 (V-128) - 0.391 (U-128);
    B = 1.164 (Y-16) + 2.018 (U-128).
    """
    def fixed(c: float) -> int:
        return int(round(c * (1 << 20)))
    y = np.maximum(y.astype(np.int64) - 16, 0) * fixed(1.164)
    u, v = u.astype(np.int64) - 128, v.astype(np.int64) - 128
    channels = (y + fixed(1.596) * v, y - fixed(0.813) * v - fixed(0.391) * u,
                y + fixed(2.018) * u)
    return np.stack([np.clip((c + (1 << 19)) >> 20, 0, 255) for c in channels], -1)


YUV_BYTES = np.random.default_rng(3).integers(0, 256, (16, 12, 4), dtype=np.uint8)


@pytest.mark.parametrize('encoding,byte_order', [('yuv422', [0, 1, 2, 3]),  # U Y0 V Y1 (UYVY)
                                                 ('yuv422_yuy2', [1, 0, 3, 2])])  # Y0 U Y1 V
def test_yuv422_decodes_with_opencvs_bt601_coefficients(encoding, byte_order):
    quads = np.random.default_rng(3).integers(0, 256, (16, 12, 4), dtype=np.uint8)  # U Y0 V Y1
    quads[0, :3] = [[128, 235, 128, 235], [128, 16, 128, 16], [90, 81, 240, 81]]
    out = decode_image(packed(quads[..., byte_order].reshape(16, 24, 2), encoding, pad=4))
    u, v = (np.repeat(quads[..., i], 2, axis=1) for i in (0, 2))
    np.testing.assert_array_equal(out, yuv_to_rgb(quads[..., [1, 3]].reshape(16, 24), u, v))
    # BT.601 video range: white, black, and red (rounded to 81/90/240: R = 254.4)
    np.testing.assert_array_equal(out[0, :6], [[255] * 3] * 2 + [[0] * 3] * 2 + [[254, 0, 0]] * 2)


def test_padded_rows_are_skipped():
    msg = m.image_from_array(RGB, 'rgb8')
    padded = np.zeros((16, 24 * 3 + 8), np.uint8)
    padded[:, :72] = RGB.reshape(16, 72)
    msg.step, msg.data = 80, padded.tobytes()
    np.testing.assert_array_equal(decode_image(msg), RGB)


def test_malformed_images_are_rejected_with_their_reason():
    good = m.image_from_array(RGB, 'rgb8')
    assert reason(decode_image, m.Image(height=16, width=24, encoding='yuv444', step=72,
                                        data=bytes(1152))) == 'encoding'
    assert reason(decode_image, m.Image(height=16, width=24, encoding='rgb16', step=144,
                                        data=bytes(16 * 144 - 1))) == 'truncated'
    assert reason(decode_image, m.Image(height=16, width=24, encoding='mono16', step=47,
                                        data=bytes(16 * 47))) == 'step'
    assert reason(decode_image, m.Image(height=16, width=23, encoding='yuv422', step=46,
                                        data=bytes(16 * 46))) == 'size'
    assert reason(decode_image, m.Image(height=16, width=24, encoding='rgb8', step=72,
                                        data=good.data[:-1])) == 'truncated'
    assert reason(decode_image, m.Image(height=16, width=24, encoding='rgb8', step=60,
                                        data=bytes(960))) == 'step'
    assert reason(decode_image, m.Image(height=0, width=24, encoding='rgb8', step=72)) == 'size'
    assert reason(decode_image, m.Image(height=16, width=10 ** 6, encoding='mono8',
                                        step=10 ** 6)) == 'size'
    nan = RGB.astype(np.float32) / 255
    nan[3, 4, 1] = np.nan
    assert reason(decode_image, m.image_from_array(nan, '32FC3')) == 'nan'


def test_compressed_jpeg_and_png_decode_and_corrupt_data_is_named():
    bgr = np.ascontiguousarray(RGB[..., ::-1])
    png = m.CompressedImage(format='rgb8; png compressed bgr8',
                            data=cv2.imencode('.png', bgr)[1].tobytes())
    np.testing.assert_array_equal(decode_compressed(png), RGB)
    smooth = np.zeros((16, 24, 3), np.uint8)
    smooth[...] = (220, 120, 20)  # jpeg is lossy: a flat colour shows the channel order
    jpeg = m.CompressedImage(format='jpeg',
                             data=cv2.imencode('.jpg', smooth[..., ::-1])[1].tobytes())
    assert np.abs(decode_compressed(jpeg).astype(int) - smooth).max() <= 3
    assert reason(decode_compressed, m.CompressedImage(format='jpeg', data=b'garbage!')) \
        == 'format'
    assert reason(decode_compressed, m.CompressedImage(format='jpeg', data=jpeg.data[:40])) \
        == 'corrupt'
    assert reason(decode_compressed, m.CompressedImage(format='tiff', data=b'II*')) == 'format'
    assert reason(decode_compressed, m.CompressedImage(format='png')) == 'truncated'


BGR = cv2.GaussianBlur(np.ascontiguousarray(RGB[..., ::-1]), (5, 5), 2)
JPEG = cv2.imencode('.jpg', BGR)[1].tobytes()
PNG = cv2.imencode('.png', BGR)[1].tobytes()


@pytest.fixture
def no_decoder(monkeypatch):
    """Make reaching cv2.imdecode a test failure: the check must come before any decoding."""
    def imdecode(*args):
        raise AssertionError('the decoder was reached')
    monkeypatch.setattr(image_decode.cv2, 'imdecode', imdecode)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims width x height (a decompression bomb)."""
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (image_decode.PNG_MAGIC + png_chunk(b'IHDR', header)
            + png_chunk(b'IDAT', zlib.compress(bytes(3 * width + 1))) + png_chunk(b'IEND', b''))


def jpeg_claiming(width: int, height: int) -> bytes:
    """The small JPEG with its frame header's size rewritten."""
    sof = JPEG.index(b'\xff\xc0')
    return JPEG[:sof + 5] + struct.pack('>HH', height, width) + JPEG[sof + 9:]


@pytest.mark.parametrize('fmt', ['jpeg', 'JPEG', 'jpg', 'bgr8; jpeg compressed bgr8',
                                 'rgb8; jpeg compressed bgr8', 'mono8; jpeg compressed mono8'])
def test_jpeg_format_strings_of_image_transport_are_accepted(fmt):
    assert decode_compressed(m.CompressedImage(format=fmt, data=JPEG)).shape == (16, 24, 3)


@pytest.mark.parametrize('fmt', ['png', 'rgb8; png compressed', 'bgr8; png compressed bgr8'])
def test_png_format_strings_are_accepted_and_lossless(fmt):
    np.testing.assert_array_equal(decode_compressed(m.CompressedImage(format=fmt, data=PNG)),
                                  BGR[..., ::-1])


@pytest.mark.parametrize('fmt', ['tiff', 'bmp', 'webp', '', 'jpeg2000', 'jpeg png',
                                 '32FC1; compressedDepth png', '16UC1; png compressed',
                                 'png; jpeg compressed'])
def test_other_format_strings_are_refused(fmt, no_decoder):
    assert reason(decode_compressed, m.CompressedImage(format=fmt, data=JPEG)) == 'format'


@pytest.mark.parametrize('ext,name', [('.bmp', 'BMP'), ('.tiff', 'TIFF'), ('.ppm', 'PNM'),
                                      ('.png', 'PNG')])
def test_data_of_another_codec_labelled_jpeg_never_reaches_a_decoder(ext, name, no_decoder):
    data = cv2.imencode(ext, BGR)[1].tobytes()
    with pytest.raises(InputError, match=f'format names jpeg but the data is {name}') as err:
        decode_compressed(m.CompressedImage(format='jpeg', data=data))
    assert err.value.reason == 'format'
    assert reason(decode_compressed, m.CompressedImage(format='png', data=JPEG)) == 'format'


def test_header_size_is_read_without_decoding():
    assert jpeg_size(JPEG) == (16, 24)
    assert png_size(PNG) == (16, 24)
    assert png_size(png_claiming(20000, 20000)) == (20000, 20000)
    assert jpeg_size(jpeg_claiming(8192, 8192)) == (8192, 8192)


@pytest.mark.parametrize('make,fmt', [(png_claiming, 'png'), (jpeg_claiming, 'jpeg')])
@pytest.mark.parametrize('side', [8192, 20000])
def test_oversized_compressed_frames_are_refused_before_decoding(make, fmt, side, no_decoder):
    msg = m.CompressedImage(format=fmt, data=make(side, side))
    assert len(msg.data) < 100_000
    with pytest.raises(InputError, match='exceeds') as err:
        decode_compressed(msg)
    assert err.value.reason == 'size'


def test_max_pixels_is_configurable_for_both_message_types():
    assert 8192 * 8192 > MAX_PIXELS >= 3840 * 2160
    small = m.CompressedImage(format='png', data=PNG)
    assert reason(decode_compressed, small, 16 * 24 - 1) == 'size'
    assert decode_compressed(small, 16 * 24).shape == (16, 24, 3)
    raw = m.image_from_array(RGB, 'rgb8')
    assert reason(decode_image, raw, 16 * 24 - 1) == 'size'
    assert reason(decode_image, m.Image(height=8192, width=8192, encoding='mono8',
                                        step=8192)) == 'size'


def test_every_truncation_is_refused_silently(capfd):
    for data, fmt in ((JPEG, 'jpeg'), (PNG, 'png')):
        for end in range(1, len(data)):
            assert reason(decode_compressed, m.CompressedImage(format=fmt, data=data[:end])) \
                in ('corrupt', 'format'), end
    assert capfd.readouterr().err == ''


def test_a_jpeg_libjpeg_only_warns_about_is_dropped_and_stderr_stays_clean(capfd):
    eoi = JPEG.rindex(b'\xff\xd9')
    tolerated = JPEG[:eoi] + bytes(range(1, 61)) + JPEG[eoi:]  # leftover bytes in the scan
    assert jpeg_size(tolerated) == (16, 24)  # structurally sound: only the decoder can tell
    with pytest.raises(InputError, match='extraneous bytes') as err:
        decode_compressed(m.CompressedImage(format='jpeg', data=tolerated))
    assert err.value.reason == 'corrupt'
    assert capfd.readouterr().err == ''


def test_bit_flips_are_dropped_or_decode_to_the_header_size_without_stderr(capfd):
    rng = np.random.default_rng(3)
    reasons = set()
    for data, fmt in ((JPEG, 'jpeg'), (PNG, 'png')):
        for _ in range(150):
            flipped = bytearray(data)
            flipped[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
            try:
                out = decode_compressed(m.CompressedImage(format=fmt, data=bytes(flipped)))
            except InputError as err:
                reasons.add(err.reason)
                continue
            assert fmt == 'jpeg' and out.shape == (16, 24, 3) and out.dtype == np.uint8
    assert reasons <= {'corrupt', 'format', 'size'} and 'corrupt' in reasons
    assert capfd.readouterr().err == ''


def test_other_threads_stderr_written_during_a_decode_is_passed_on(monkeypatch, capfd):
    def imdecode(buffer, flags):
        os.write(2, b'[WARN] [1.0] [node]: dropped frame: Corrupt JPEG data: in a log line\n'
                    b'Corrupt JPEG data: bad Huffman code\n')
        return BGR.copy()
    monkeypatch.setattr(image_decode.cv2, 'imdecode', imdecode)
    with pytest.raises(InputError, match='bad Huffman code'):
        decode_compressed(m.CompressedImage(format='jpeg', data=JPEG))
    assert capfd.readouterr().err == \
        '[WARN] [1.0] [node]: dropped frame: Corrupt JPEG data: in a log line\n'


def test_structural_damage_is_named():
    cases = {JPEG[:2] + b'\xff\xd9': 'no frame header',
             JPEG + b'trailing junk': 'after its end-of-image',
             JPEG[:-2]: 'truncated',
             JPEG.replace(b'\xff\xc0', b'\xff\xc3', 1): 'lossless, hierarchical',
             PNG[:8] + PNG[33:]: 'IHDR',
             PNG + b'junk': 'after its IEND',
             png_claiming(4, 4).replace(b'IDAT', b'IDAX'): 'CRC'}
    for data, message in cases.items():
        fmt = 'png' if data.startswith(image_decode.PNG_MAGIC) else 'jpeg'
        with pytest.raises(InputError, match=message):
            decode_compressed(m.CompressedImage(format=fmt, data=data))


@pytest.mark.parametrize('frame_id', ['cam\ufffdera', 'cam\nera', 'x' * 300, b'cam\xff'])
def test_frame_ids_that_are_not_printable_utf8_are_dropped(frame_id):
    msg = m.image_from_array(RGB, 'rgb8', m.Header(frame_id=frame_id))
    with pytest.raises(InputError) as err:
        decode_image(msg)
    assert err.value.reason == 'frame_id' and len(str(err.value)) < 200
    compressed = m.CompressedImage(header=m.Header(frame_id=frame_id), format='png', data=PNG)
    assert reason(decode_compressed, compressed) == 'frame_id'


def test_strings_in_messages_are_bounded_and_escaped():
    huge_encoding = m.Image(height=1, width=1, encoding='\x1b[2J' + 'e' * 10 ** 6)
    huge_format = m.CompressedImage(format='\x00' + 'f' * 10 ** 6)
    for call, msg, length in ((decode_image, huge_encoding, 1000004),
                              (decode_compressed, huge_format, 1000001)):
        with pytest.raises(InputError) as err:
            call(msg)
        text = str(err.value)
        assert len(text) < 400 and '\x1b' not in text and '\x00' not in text
        assert f'({length} characters)' in text


def test_non_utf8_strings_through_rclpy_are_dropped_and_later_messages_pass():
    rclpy_serialization = pytest.importorskip('rclpy.serialization')
    from sensor_msgs.msg import CompressedImage as RosCompressed

    from adds_ros.ros_messages import from_ros
    ros = RosCompressed(format='png', data=PNG)
    ros.header.frame_id = 'AAAA'
    raw = rclpy_serialization.serialize_message(ros)
    results = []
    for wire in (raw, raw.replace(b'AAAA', b'A\xffA\xfe'), raw):
        # rclpy decodes strings on take with replacement characters: no exception reaches the
        # callback, and the frame is dropped by the check, not republished with U+FFFD.
        msg = from_ros(rclpy_serialization.deserialize_message(wire, RosCompressed),
                       m.CompressedImage)
        try:
            results.append(decode_compressed(msg).shape)
        except InputError as err:
            results.append(err.reason)
    assert results == [(16, 24, 3), 'frame_id', (16, 24, 3)]


def test_camera_info_must_match_the_image_and_be_calibrated():
    info = calibrated()
    check_camera_info(info, 16, 24)
    check_camera_info(None, 16, 24)
    with pytest.raises(InputError, match='camera_info is 24x16 but the image is 48x32'):
        check_camera_info(info, 32, 48)
    info.width = info.height = 0  # size not stated: accepted by convention
    check_camera_info(info, 32, 48)


def calibrated(**changes) -> m.CameraInfo:
    info = m.camera_info_from_k(np.array([[20.0, 0, 12], [0, 20, 8], [0, 0, 1]]), 24, 16,
                                m.Header())
    for name, value in changes.items():
        setattr(info, name, value)
    return info


@pytest.mark.parametrize('model,d', [('plumb_bob', [0.1, -0.2, 0, 0, 0.01]),
                                     ('rational_polynomial', [0.0] * 8),
                                     ('equidistant', [0.1, 0, 0, 0]), ('', [])])
def test_distortion_models_with_their_coefficient_counts_pass(model, d):
    check_camera_info(calibrated(distortion_model=model, d=d), 16, 24)


K_OK = [20.0, 0, 12, 0, 20, 8, 0, 0, 1]
P_OK = [20.0, 0, 12, 0, 0, 20, 8, 0, 0, 0, 1, 0]


@pytest.mark.parametrize('changes,message', [
    (dict(k=[0.0] * 9), 'K is not a calibrated'),
    (dict(k=K_OK[:8] + [2.0]), 'K is not a calibrated'),
    (dict(k=[20.0, 0, 12, 0, -20, 8, 0, 0, 1]), 'K is not a calibrated'),
    (dict(k=K_OK[:4] + [np.nan] + K_OK[5:]), 'K contains NaN'),
    (dict(k=K_OK[:8]), 'K has 8 values'),
    (dict(p=P_OK[:3] + [np.nan] + P_OK[4:]), 'P contains NaN'),
    (dict(p=P_OK[:5] + [np.inf] + P_OK[6:]), 'P contains NaN'),
    (dict(p=[0.0] * 12), 'P is not a calibrated'),
    (dict(p=P_OK[:11] + [1.0]), 'P\\[2,3\\]'),
    (dict(d=[0.1, np.nan, 0, 0, 0]), 'D contains NaN'),
    (dict(d=[0.0] * 4), "'plumb_bob' needs 5"),
    (dict(distortion_model='fisheye62'), 'unknown distortion_model'),
    (dict(r=[0.0] * 9), 'R is not a rotation'),
    (dict(r=[1.0, 0, 0, 0, 1, 0, 0, 0, np.nan]), 'R contains NaN'),
    (dict(k=['a'] * 9), 'K is not numeric'),
    (dict(binning_x=2), 'binning'),
    (dict(roi=m.RegionOfInterest(0, 0, 8, 12)), 'region of interest')])
def test_camera_info_with_any_bad_field_is_refused_naming_it(changes, message):
    with pytest.raises(InputError, match=message) as err:
        check_camera_info(calibrated(**changes), 16, 24)
    assert err.value.reason == 'camera_info'
