# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
import cv2
import numpy as np
import pytest

from adds_ros import messages as m
from adds_ros.image_decode import (InputError, check_camera_info, decode_compressed,
                                   decode_image)

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
    out = np.empty(rgb.shape[:2], np.uint8)
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


def test_padded_rows_are_skipped():
    msg = m.image_from_array(RGB, 'rgb8')
    padded = np.zeros((16, 24 * 3 + 8), np.uint8)
    padded[:, :72] = RGB.reshape(16, 72)
    msg.step, msg.data = 80, padded.tobytes()
    np.testing.assert_array_equal(decode_image(msg), RGB)


def test_malformed_images_are_rejected_with_their_reason():
    good = m.image_from_array(RGB, 'rgb8')
    assert reason(decode_image, m.Image(height=16, width=24, encoding='yuv422', step=48,
                                        data=bytes(768))) == 'encoding'
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
        == 'corrupt'
    assert reason(decode_compressed, m.CompressedImage(format='jpeg', data=jpeg.data[:40])) \
        == 'corrupt'
    assert reason(decode_compressed, m.CompressedImage(format='tiff', data=b'II*')) == 'encoding'
    assert reason(decode_compressed, m.CompressedImage(format='png')) == 'truncated'


def test_camera_info_must_match_the_image_and_be_calibrated():
    info = m.CameraInfo(width=24, height=16, k=[20, 0, 12, 0, 20, 8, 0, 0, 1])
    check_camera_info(info, 16, 24)
    check_camera_info(None, 16, 24)
    with pytest.raises(InputError, match='camera_info is 24x16 but the image is 48x32'):
        check_camera_info(info, 32, 48)
    info.k = [0.0] * 9
    assert reason(check_camera_info, info, 16, 24) == 'camera_info'
