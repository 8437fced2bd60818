# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Camera messages -> RGB uint8, with every way a frame can be malformed named precisely.

A node on a vehicle meets drivers with wrong encodings, truncated buffers, padded rows and
broken compressors, and a network that can send it anything. Each check raises `InputError`
with a short `reason` (the key the node counts dropped frames under in diagnostics) and a
message a user can act on, with every string taken from the message bounded and escaped.

Compressed frames are checked before any decoder sees them: the `format` string must name jpeg
or png, the data must start with that codec's magic bytes, and its structure is walked by hand
(JPEG markers up to the end-of-image marker, PNG chunks with their CRCs) to read the picture's
size from the header and refuse it before anything is allocated. By hand because OpenCV has no
header-only API (`cv2.imdecode` allocates the full picture first), and the structure walk also
keeps every other OpenCV decoder (BMP, TIFF, WebP, JPEG 2000, PFM, HDR...) unreachable.
"""

import os
import re
import struct
import sys
import tempfile
import threading
import zlib
from typing import Any, IO, Optional, Tuple

import cv2
import numpy as np

from adds_ros.messages import CameraInfo, CompressedImage, Image

# Larger than any automotive camera, small enough that a corrupt header cannot make the node
# allocate gigabytes: 4096 x 4096 RGB is 48 MB decoded (node parameter `max_pixels`).
MAX_SIDE = 16384
MAX_PIXELS = 4096 * 4096
# frame_id longer than this is refused; strings quoted in messages are cut to LOG_TEXT chars.
MAX_FRAME_ID = 256
LOG_TEXT = 64

# encoding -> (channels, bytes per channel, OpenCV conversion to RGB or None): cv_bridge's
# table (cv_bridge.cpp getConversionCodes) for every encoding it converts to rgb8.
_BAYER = {  # ROS names the pattern by its first row, OpenCV by the second row's first two
    'rggb': cv2.COLOR_BayerBG2RGB, 'bggr': cv2.COLOR_BayerRG2RGB,  # pixels, hence the swap
    'gbrg': cv2.COLOR_BayerGR2RGB, 'grbg': cv2.COLOR_BayerGB2RGB}
_COLOURS = {'rgb': (3, None), 'bgr': (3, cv2.COLOR_BGR2RGB), 'rgba': (4, cv2.COLOR_RGBA2RGB),
            'bgra': (4, cv2.COLOR_BGRA2RGB), 'mono': (1, cv2.COLOR_GRAY2RGB),
            **{f'bayer_{pattern}': (1, code) for pattern, code in _BAYER.items()}}
ENCODINGS = {
    **{f'{name}{bits}': (channels, bits // 8, code)
       for bits in (8, 16) for name, (channels, code) in _COLOURS.items()},
    # 4:2:2 YUV, two bytes a pixel: U Y0 V Y1 (UYVY) and Y0 U Y1 V (YUYV), BT.601 video range
    'yuv422': (2, 1, cv2.COLOR_YUV2RGB_UYVY),
    'yuv422_yuy2': (2, 1, cv2.COLOR_YUV2RGB_YUY2),
    # generic single-channel types are grey, as cv_bridge's cvtColorForDisplay reads 16UC1
    '8UC1': (1, 1, cv2.COLOR_GRAY2RGB),
    '16UC1': (1, 2, cv2.COLOR_GRAY2RGB),
    # float intensities in [0, 1] (simulators publish these)
    '32FC1': (1, 4, cv2.COLOR_GRAY2RGB),
    '32FC3': (3, 4, None),
}
# Generic multi-channel types do not say which channel is red: refused with that reason.
AMBIGUOUS = re.compile(r'(8U|16U)C[2-9]')
# cv_bridge scales 16 bits to 8 as cv::Mat::convertTo(CV_8U, 255 / 65535): rounded, after the
# colour conversion (a 16-bit Bayer frame is demosaiced at 16 bits).
SCALE_16_TO_8 = 255.0 / 65535.0
# Codecs of sensor_msgs/CompressedImage accepted, and the source encodings image_transport may
# name before the ';' ('bgr8; jpeg compressed bgr8', 'rgb8; png compressed').
CODECS = ('jpeg', 'png')
COMPRESSED_SOURCES = ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', '8UC1', '8UC3', '8UC4')
# distortion_model -> number of coefficients in D (REP 104 / sensor_msgs/distortion_models.h)
DISTORTION_MODELS = {'plumb_bob': 5, 'rational_polynomial': 8, 'equidistant': 4}

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
JPEG_MAGIC = b'\xff\xd8\xff'
# Other formats' magic bytes, only to tell a user what was sent instead.
_OTHER_MAGIC = ((b'BM', 'BMP'), (b'II*\x00', 'TIFF'), (b'MM\x00*', 'TIFF'), (b'GIF8', 'GIF'),
                (b'\x00\x00\x00\x0cjP  ', 'JPEG 2000'), (b'\xffO\xffQ', 'JPEG 2000'),
                (b'#?RADIANCE', 'Radiance HDR'), (b'PF', 'PFM'), (b'Pf', 'PFM'),
                (b'P', 'PNM'), (b'\x76\x2f\x31\x01', 'OpenEXR'))


class InputError(ValueError):
    """A frame the node must drop; `reason` is the diagnostics counter it is counted under."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def printable(value: Any, limit: int = LOG_TEXT) -> str:
    """Quote a string from a message for a log line: escaped, at most `limit` characters."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value[:limit + 1]).decode('utf-8', 'backslashreplace')
    text = str(value)
    shown = repr(text[:limit])
    return shown if len(text) <= limit else f'{shown}... ({len(text)} characters)'


def check_frame_id(frame_id: Any) -> None:
    """Refuse a frame_id that is not printable UTF-8 of sane length (it is republished).

    rclpy decodes message strings with replacement characters (U+FFFD) where the bytes were not
    UTF-8, other middlewares hand over the bytes: both are refused rather than republished.
    """
    if isinstance(frame_id, (bytes, bytearray)):
        try:
            frame_id = bytes(frame_id).decode('utf-8')
        except UnicodeDecodeError:
            raise InputError('frame_id', f'frame_id is not UTF-8: {printable(frame_id)}')
    if not isinstance(frame_id, str):
        raise InputError('frame_id', f'frame_id is not a string: {printable(frame_id)}')
    if len(frame_id) > MAX_FRAME_ID:
        raise InputError('frame_id', f'frame_id has {len(frame_id)} characters, more than '
                                     f'{MAX_FRAME_ID}: {printable(frame_id)}')
    if '\ufffd' in frame_id or not frame_id.isprintable():
        raise InputError('frame_id', f'frame_id is not printable UTF-8: {printable(frame_id)}')


def check_size(height: int, width: int, max_pixels: int = MAX_PIXELS) -> None:
    """Reject zero and absurd image sizes before any buffer is touched."""
    if height <= 0 or width <= 0:
        raise InputError('size', f'image has zero size ({width}x{height})')
    if height > MAX_SIDE or width > MAX_SIDE:
        raise InputError('size', f'image size {width}x{height} exceeds {MAX_SIDE} per side')
    if height * width > max_pixels:
        raise InputError('size', f'image size {width}x{height} = {height * width} pixels '
                                 f'exceeds max_pixels = {max_pixels}')


def decode_image(msg: Image, max_pixels: int = MAX_PIXELS,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Return the RGB uint8 HxWx3 picture carried by a sensor_msgs/Image, as cv_bridge would.

    Same as `cv_bridge.toCvCopy(msg, 'rgb8')` for every encoding cv_bridge converts to rgb8.
    `out` (an H x W x 3 uint8 array, e.g. the inference backend's page-locked input): the
    picture is written there when the size fits, by the conversion itself where it has one.
    """
    check_frame_id(msg.header.frame_id)
    _check_encoding(msg.encoding)
    check_size(msg.height, msg.width, max_pixels)
    channels, depth, conversion = ENCODINGS[msg.encoding]
    if channels == 2 and msg.width % 2:
        raise InputError('size', f'{msg.encoding} packs two pixels in four bytes: its width '
                                 f'must be even, got {msg.width}')
    row_bytes = msg.width * channels * depth
    if msg.step < row_bytes:
        raise InputError('step', f'step {msg.step} is smaller than width x pixel size '
                                 f'({msg.width} x {channels * depth} = {row_bytes})')
    if len(msg.data) != msg.step * msg.height:
        raise InputError('truncated', f'data has {len(msg.data)} bytes, step x height needs '
                                      f'{msg.step * msg.height}')
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)[:, :row_bytes]
    if depth > 1:  # 16-bit unsigned or 32-bit float samples in the message's byte order
        order = '>' if msg.is_bigendian else '<'
        rows = np.ascontiguousarray(rows).view(f'{order}{"f" if depth == 4 else "u"}{depth}')
    if depth == 4:
        rows = _float_to_uint8(rows)
    pixels = np.ascontiguousarray(rows, rows.dtype.newbyteorder('=')).reshape(
        msg.height, msg.width, channels)
    if depth == 2 and conversion not in _BAYER.values():  # channels only move: scale first
        pixels = cv2.convertScaleAbs(pixels, alpha=SCALE_16_TO_8)
    out = out if out is not None and out.shape == (msg.height, msg.width, 3) else None
    if conversion is not None and pixels.dtype == np.uint8 and out is not None:
        return cv2.cvtColor(pixels, conversion, dst=out)
    rgb = pixels if conversion is None else cv2.cvtColor(pixels, conversion)
    if rgb.dtype == np.uint16:
        return cv2.convertScaleAbs(rgb, alpha=SCALE_16_TO_8, dst=out)
    if out is not None:
        np.copyto(out, rgb)
        return out
    return rgb.copy() if rgb.base is not None else rgb


def _check_encoding(encoding: Any) -> None:
    if encoding in ENCODINGS:
        return
    if isinstance(encoding, str) and AMBIGUOUS.fullmatch(encoding):
        raise InputError('encoding', f'encoding {printable(encoding)} does not say which '
                                     f'channel is red: publish rgb8/bgr8 (or rgb16/bgr16, '
                                     f'rgba*, bgra*) instead')
    raise InputError('encoding', f'unsupported encoding {printable(encoding)}; '
                                 f'supported: {", ".join(ENCODINGS)}')


def _float_to_uint8(values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise InputError('nan', 'float image contains NaN or infinite values')
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def compressed_codec(fmt: str) -> str:
    """Return the codec a CompressedImage `format` names: 'jpeg' or 'png' (else InputError).

    Accepted: 'jpeg', 'jpg', 'png' and image_transport's '<source encoding>; <codec> compressed
    [<encoding>]' with an 8-bit colour or mono source (not 'compressedDepth').
    """
    text = fmt.strip().lower() if isinstance(fmt, str) else ''
    source, _, rest = text.rpartition(';') if ';' in text else ('', '', text)
    words = rest.split()
    codec = {'jpg': 'jpeg'}.get(words[0], words[0]) if words else ''
    valid_tail = len(words) == 1 or (2 <= len(words) <= 3 and words[1] == 'compressed')
    valid_source = not source or source.strip() in {s.lower() for s in COMPRESSED_SOURCES}
    if codec not in CODECS or not valid_tail or not valid_source:
        raise InputError('format', f'unsupported compressed format {printable(fmt)}; '
                                   f'supported: jpeg or png of an 8-bit colour or mono image, '
                                   f"e.g. 'jpeg', 'bgr8; jpeg compressed bgr8', "
                                   f"'rgb8; png compressed'")
    return codec


def _check_magic(data: bytes, codec: str) -> None:
    magic = JPEG_MAGIC if codec == 'jpeg' else PNG_MAGIC
    if data.startswith(magic):
        return
    if data.startswith(PNG_MAGIC if codec == 'jpeg' else JPEG_MAGIC):
        actual = 'PNG' if codec == 'jpeg' else 'JPEG'
    else:
        actual = next((name for prefix, name in _OTHER_MAGIC if data.startswith(prefix)),
                      f'unknown data starting {data[:8].hex()}')
    raise InputError('format', f'format names {codec} but the data is {actual}')


# JPEG start-of-frame markers: baseline, extended and progressive Huffman are what cameras
# and image_transport write; lossless, hierarchical and arithmetic-coded ones are refused.
_SOF_ACCEPTED = {0xC0, 0xC1, 0xC2}
_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Within entropy-coded data 0xFF is followed by 0x00 (stuffing), RSTn or more 0xFF fill bytes;
# anything else is the next marker (a plain character class: 20x faster than '\xff+').
_NEXT_MARKER = re.compile(rb'\xff[\x01-\xcf\xd8-\xfe]')


def jpeg_size(data: bytes) -> Tuple[int, int]:
    """(height, width) of a JPEG from its frame header, after walking every marker to EOI.

    Raises InputError('corrupt') for a stream a decoder would have to guess about: no frame
    header, a segment running past the data, a scan before the frame header, no end-of-image
    marker (truncated), or anything but padding after it; InputError('format') for JPEG
    variants other than 8-bit baseline/extended/progressive Huffman with 1 or 3 components.
    """
    end, pos, size, scans = len(data), 2, None, 0
    while True:
        while pos < end and data[pos] == 0xFF and pos + 1 < end and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > end:
            raise InputError('corrupt', 'JPEG ends without an end-of-image marker (truncated)')
        if data[pos] != 0xFF:
            raise InputError('corrupt', f'JPEG has no marker where one must be (byte {pos})')
        marker = data[pos + 1]
        if marker == 0xD9:
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if marker in (0x00, 0xD8) or pos + 4 > end:
            raise InputError('corrupt', f'JPEG has a misplaced marker 0x{marker:02x} at '
                                        f'byte {pos}')
        length = struct.unpack_from('>H', data, pos + 2)[0]
        if length < 2 or pos + 2 + length > end:
            raise InputError('corrupt', f'JPEG segment 0x{marker:02x} at byte {pos} runs past '
                                        f'the data (truncated)')
        segment = data[pos + 4:pos + 2 + length]
        if marker in _SOF_ACCEPTED or marker in _SOF_OTHER:
            if size is not None:
                raise InputError('corrupt', 'JPEG has two frame headers')
            size = _jpeg_frame_header(marker, segment)
        pos += 2 + length
        if marker == 0xDA:
            if size is None:
                raise InputError('corrupt', 'JPEG scan comes before its frame header')
            scans += 1
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                raise InputError('corrupt', 'JPEG ends inside its image data (truncated)')
            pos = found.start()
    if size is None or scans == 0:
        raise InputError('corrupt', 'JPEG has no frame header or no image data')
    if data[pos + 2:].strip(b'\x00\xff'):
        raise InputError('corrupt', f'JPEG has {end - pos - 2} bytes after its end-of-image '
                                    f'marker')
    return size


def _jpeg_frame_header(marker: int, segment: bytes) -> Tuple[int, int]:
    if marker not in _SOF_ACCEPTED:
        raise InputError('format', f'JPEG frame type 0x{marker:02x} (lossless, hierarchical or '
                                   f'arithmetic-coded) is not accepted')
    if len(segment) < 6:
        raise InputError('corrupt', 'JPEG frame header is too short')
    precision, height, width, components = struct.unpack_from('>BHHB', segment)
    if precision != 8 or components not in (1, 3):
        raise InputError('format', f'JPEG with {precision}-bit samples and {components} '
                                   f'components is not accepted (8-bit grey or colour only)')
    if len(segment) != 6 + 3 * components:
        raise InputError('corrupt', 'JPEG frame header length does not match its components')
    for index in range(components):
        sampling = segment[7 + 3 * index]
        if not (1 <= sampling >> 4 <= 4 and 1 <= sampling & 15 <= 4):
            raise InputError('corrupt', f'JPEG component {index} has sampling factors '
                                        f'0x{sampling:02x}')
    return height, width


# PNG: (bit depths allowed) per colour type
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CRITICAL = {b'IHDR', b'PLTE', b'IDAT', b'IEND'}


def png_size(data: bytes) -> Tuple[int, int]:
    """(height, width) of a PNG from IHDR, after checking every chunk's bounds and CRC.

    The CRCs cover all the image data, so a bit flipped anywhere is refused here, before libpng
    could warn about it on stderr. Raises InputError('corrupt') for a broken chunk sequence,
    InputError('format') for an unknown critical chunk or an invalid IHDR combination.
    """
    end, pos, size, seen = len(data), len(PNG_MAGIC), None, set()
    while True:
        if pos + 12 > end:
            raise InputError('corrupt', 'PNG ends without an IEND chunk (truncated)')
        length, kind = struct.unpack_from('>I4s', data, pos)
        if pos + 12 + length > end:
            raise InputError('corrupt', f'PNG chunk {printable(kind)} runs past the data '
                                        f'(truncated)')
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack_from('>I', data, pos + 8 + length)[0]
        if zlib.crc32(body, zlib.crc32(kind)) != crc:
            raise InputError('corrupt', f'PNG chunk {printable(kind)} at byte {pos} fails its '
                                        f'CRC')
        if (size is None) != (kind == b'IHDR'):
            raise InputError('corrupt', 'PNG must start with exactly one IHDR chunk')
        if kind == b'IHDR':
            size = _png_header(body)
        elif not kind.isalpha() or (kind[:1].isupper() and kind not in _PNG_CRITICAL):
            raise InputError('format', f'PNG has an unknown critical chunk {printable(kind)}')
        seen.add(kind)
        pos += 12 + length
        if kind == b'IEND':
            break
    if b'IDAT' not in seen or (size[2] == 3 and b'PLTE' not in seen):
        raise InputError('corrupt', 'PNG has no image data or a palette image no palette')
    if data[pos:].strip(b'\x00'):
        raise InputError('corrupt', f'PNG has {end - pos} bytes after its IEND chunk')
    return size[:2]


def _png_header(body: bytes) -> Tuple[int, int, int]:
    if len(body) != 13:
        raise InputError('corrupt', f'PNG IHDR has {len(body)} bytes, not 13')
    width, height, depth, colour, compression, filtering, interlace = \
        struct.unpack('>IIBBBBB', body)
    if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise InputError('format', f'PNG header is invalid (bit depth {depth}, colour type '
                                   f'{colour}, methods {compression}/{filtering}/{interlace})')
    return height, width, colour


def decode_compressed(msg: CompressedImage, max_pixels: int = MAX_PIXELS,
                      out: Optional[np.ndarray] = None) -> np.ndarray:
    """Return the RGB uint8 picture of a sensor_msgs/CompressedImage (jpeg or png).

    The codec named by `format` must match the data's magic bytes; the size in its header is
    checked against `max_pixels` before decoding; a picture the decoder complained about
    (libjpeg tolerates many corruptions with a warning on stderr) is dropped as 'corrupt'.
    """
    check_frame_id(msg.header.frame_id)
    codec = compressed_codec(msg.format)
    data = bytes(msg.data)
    if not data:
        raise InputError('truncated', 'compressed image has no data')
    _check_magic(data, codec)
    height, width = (jpeg_size if codec == 'jpeg' else png_size)(data)
    check_size(height, width, max_pixels)
    picture, complaints = _decode_quietly(data)
    if picture is None or complaints:
        said = f': {printable(complaints[0], 120)}' if complaints else ''
        raise InputError('corrupt', f'{codec} image ({len(data)} bytes) could not be decoded '
                                    f'cleanly{said}')
    if picture.shape[:2] != (height, width):
        raise InputError('corrupt', f'{codec} decoded to {picture.shape[1]}x{picture.shape[0]}'
                                    f', its header says {width}x{height}')
    if out is not None and out.shape == picture.shape:   # decode_image's `out`
        return cv2.cvtColor(picture, cv2.COLOR_BGR2RGB, dst=out)
    return cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)


# How the lines libjpeg (its JWRN_* warnings), libpng and OpenCV's logger write to stderr
# begin; other lines caught in the window belong to other threads (rclpy logs '[WARN] [...').
_DECODER_LINE = re.compile(r'^(Corrupt JPEG data|Premature end of JPEG|Invalid SOS parameters|'
                           r'Warning: unknown JFIF|Inconsistent progression|Unknown Adobe|'
                           r'Application transferred|libpng (warning|error)|'
                           r'\[ ?(WARN|ERROR|INFO):)')
_STDERR_LOCK = threading.Lock()
_sink: Optional[IO[bytes]] = None


def _decode_quietly(data: bytes) -> Tuple[Optional[np.ndarray], list]:
    """cv2.imdecode with file descriptor 2 pointed at a temporary file for the call.

    libjpeg reports the corruptions it tolerates only by printing a warning to stderr, and
    libpng prints its errors there, from C: no Python or OpenCV setting reaches them. So
    stderr is swapped around the decode (a lock serialises the swap, as fd 2 is process-wide):
    the decoders' lines become the reason to drop the frame, and any line another thread wrote
    in that window is passed on to the real stderr afterwards, delayed by one decode, not lost.
    """
    global _sink
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    with _STDERR_LOCK:
        if _sink is None:
            _sink = tempfile.TemporaryFile()
        _sink.seek(0)
        _sink.truncate()
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(_sink.fileno(), 2)
            try:
                picture = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
            finally:
                os.dup2(saved, 2)
        finally:
            os.close(saved)
        _sink.seek(0)
        lines = _sink.read().decode('utf-8', 'replace').splitlines()
    complaints, others = [], []
    for line in lines:
        (complaints if _DECODER_LINE.search(line) else others).append(line)
    if others:
        os.write(2, ('\n'.join(others) + '\n').encode())
    return picture, complaints


def check_camera_info(info: Optional[CameraInfo], height: int, width: int) -> None:
    """Raise unless `info` describes a calibrated camera at exactly this image's resolution.

    REP 104 conventions: K and P upper-triangular pinhole matrices with fx, fy > 0 and a last
    row (0, 0, 1[, 0]); R a rotation; D finite with the length its distortion_model defines;
    width/height equal to the image's (or both 0: not stated); no binning or ROI, since K would
    then not be the image's. Everything lands in the published depth/camera_info or the scale.
    """
    if info is None:
        return
    if (info.height, info.width) not in ((height, width), (0, 0)):
        raise InputError('camera_info', f'camera_info is {info.width}x{info.height} but the '
                                        f'image is {width}x{height}')
    k = _matrix(info.k, 'K', 9).reshape(3, 3)
    p = _matrix(info.p, 'P', 12).reshape(3, 4)
    r = _matrix(info.r, 'R', 9).reshape(3, 3)
    d = _matrix(info.d, 'D', len(info.d))
    for name, m in (('K', k), ('P', p[:, :3])):
        if not (m[0, 0] > 0 and m[1, 1] > 0 and m[1, 0] == 0 and (m[2] == (0, 0, 1)).all()):
            raise InputError('camera_info', f'camera_info {name} is not a calibrated camera '
                                            f'matrix (fx, fy > 0, last row 0 0 1): '
                                            f'{m.ravel().tolist()}')
    if p[2, 3] != 0:
        raise InputError('camera_info', f'camera_info P[2,3] must be 0, got {p[2, 3]}')
    with np.errstate(all='ignore'):  # absurd entries overflow to inf: not a rotation either
        rotation = np.allclose(r @ r.T, np.eye(3), atol=1e-3) and np.linalg.det(r) > 0
    if not rotation:
        raise InputError('camera_info', f'camera_info R is not a rotation: {r.ravel().tolist()}')
    model = info.distortion_model
    expected = DISTORTION_MODELS.get(model, 0 if model in ('', 'none') else None)
    if expected is None:
        raise InputError('camera_info', f'unknown distortion_model {printable(model)}; known: '
                                        f'{", ".join(DISTORTION_MODELS)}')
    if len(d) != expected:
        raise InputError('camera_info', f'distortion_model {model!r} needs {expected} '
                                        f'coefficients in D, got {len(d)}')
    if info.binning_x > 1 or info.binning_y > 1 or (info.roi.width and info.roi.height and (
            info.roi.width, info.roi.height) != (width, height)):
        raise InputError('camera_info', 'camera_info with binning or a region of interest is '
                                        'not supported: publish the camera_info of the image '
                                        'as sent (e.g. image_proc crop_decimate does)')


def _matrix(values: Any, name: str, size: int) -> np.ndarray:
    """Finite float64 array of exactly `size` values, else InputError('camera_info')."""
    try:
        array = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError('camera_info', f'camera_info {name} is not numeric')
    if array.size != size:
        raise InputError('camera_info', f'camera_info {name} has {array.size} values, not '
                                        f'{size}')
    if not np.isfinite(array).all():
        raise InputError('camera_info', f'camera_info {name} contains NaN or infinity: '
                                        f'{printable(array.tolist(), 200)}')
    return array
