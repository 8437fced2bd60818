# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Fuzzing of the depth node's input path: decode, validate and scale, class by class.

Each class mutates valid messages one way (bit flips, truncation, forged headers, other codecs,
random fields, NaN calibration, broken depth for the ground plane...). A case passes when the
function under test returns a valid result or raises `InputError` with a known reason and a
bounded, printable message; anything else is a crash, an invalid output, or (for the scale) a
value that is not a positive finite number. stderr is watched at the file descriptor: the C
decoders must not write to it.

`python -m adds_ros.tools.fuzz [--cases 1000]` prints the table (the `fuzz` section of
`adds bench`); test/test_fuzz.py runs a few hundred cases per class in CI.
"""

import argparse
import json
import os
import resource
import struct
import sys
import tempfile
import time
import zlib
from typing import Any, Callable, Dict, List, Tuple

import cv2
import numpy as np

from adds_ros import messages as m
from adds_ros.image_decode import (ENCODINGS, InputError, MAX_PIXELS, PNG_MAGIC,
                                   check_camera_info, decode_compressed, decode_image, jpeg_size,
                                   png_size)
from adds_ros.scale import ScaleConfig, ScaleEstimator

REASONS = {'encoding', 'size', 'step', 'truncated', 'nan', 'corrupt', 'format', 'frame_id',
           'camera_info'}
MAX_MESSAGE = 600
H, W = 48, 64
Case = Tuple[str, Callable[[], Any], Callable[[Any], bool]]


def smooth_picture(seed: int = 0) -> np.ndarray:
    """Make a smooth BGR test picture (compresses like a camera frame, not like noise)."""
    noise = np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (7, 7), 2)


BGR = smooth_picture()
JPEG = cv2.imencode('.jpg', BGR)[1].tobytes()
PNG = cv2.imencode('.png', BGR)[1].tobytes()
STRINGS = ('', 'jpeg', 'png', 'bgr8; jpeg compressed bgr8', 'rgb8; png compressed', 'bmp',
           'tiff', 'webp', '32FC1; compressedDepth png', 'jpeg\x00png', 'p\ufffdng', 'x' * 100000,
           '\x1b[31mred', 'rgb8', 'bgr8', 'mono8', 'bayer_rggb8', '32FC1', '32FC3', 'yuv422',
           'yuv422_yuy2', 'rgb16', 'bgra16', 'mono16', 'bayer_grbg16', '8UC1', '16UC1', '8UC3',
           'nv21', 'camera', 'cam\nera', 'a' * 300)


def _other_codecs() -> List[bytes]:
    """Encode the picture in every other format OpenCV writes (all must stay unreachable)."""
    encoded = []
    for ext in ('.bmp', '.tiff', '.webp', '.ppm', '.pfm', '.hdr', '.jp2', '.sr', '.gif'):
        try:
            ok, data = cv2.imencode(ext, BGR)
        except cv2.error:
            continue
        if ok:
            encoded.append(data.tobytes())
    return encoded


OTHER_CODECS = _other_codecs()


def _flip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        out[rng.integers(len(out))] ^= 1 << int(rng.integers(8))
    return bytes(out)


def _splice(data: bytes, rng: np.random.Generator) -> bytes:
    a, b = sorted(rng.integers(0, len(data), 2))
    choice = rng.integers(4)
    if choice == 0:
        return data[:a] + data[b:]                            # delete a range
    if choice == 1:
        return data[:b] + data[a:b] + data[b:]                # duplicate a range
    if choice == 2:
        return data[:a] + rng.bytes(int(rng.integers(1, 64))) + data[a:]  # insert noise
    return data[:a] + bytes([0xFF, int(rng.integers(256))]) + data[a:]   # insert a marker


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))


def _png_forged(rng: np.random.Generator) -> bytes:
    """Forge a PNG with valid CRCs but random header fields or data: libpng's error paths."""
    width, height = (int(v) for v in rng.choice([0, 1, 7, 64, 5000, 70000, 2 ** 31 - 1], 2))
    depth, colour = int(rng.choice([1, 2, 8, 16, 3])), int(rng.choice([0, 2, 3, 4, 6, 5]))
    header = struct.pack('>IIBBBBB', width, height, depth, colour, 0, 0, int(rng.integers(2)))
    rows = rng.bytes(int(rng.integers(0, 2000)))
    idat = zlib.compress(rows) if rng.random() < 0.7 else rows
    chunks = [_chunk(b'IHDR', header)]
    if rng.random() < 0.5:
        chunks.append(_chunk(b'PLTE', rng.bytes(3 * int(rng.integers(0, 300)))))
    chunks += [_chunk(b'IDAT', idat), _chunk(b'IEND', b'')]
    return PNG_MAGIC + b''.join(chunks)


def _jpeg_forged(rng: np.random.Generator) -> bytes:
    """Rewrite the JPEG's frame header fields (size, precision, components, frame type)."""
    sof = JPEG.index(b'\xff\xc0')
    fields = struct.pack('>BHHB', int(rng.choice([8, 12, 16, 0])),
                         int(rng.choice([0, 1, H, 8192, 20000, 65535])),
                         int(rng.choice([0, 1, W, 8192, 20000, 65535])),
                         int(rng.choice([1, 3, 4])))
    marker = bytes([0xFF, int(rng.choice([0xC0, 0xC1, 0xC2, 0xC3, 0xC9]))])
    return JPEG[:sof] + marker + JPEG[sof + 2:sof + 4] + fields + JPEG[sof + 10:]


def _compressed(fmt: str, data: bytes) -> Tuple[str, Callable[[], Any], Callable[[Any], bool]]:
    msg = m.CompressedImage(format=fmt, data=data)
    codec_size = jpeg_size if data.startswith(b'\xff\xd8') else png_size
    return ('decode_compressed', lambda: decode_compressed(msg),
            lambda out: _valid_rgb(out) and out.shape[:2] == codec_size(data))


def _valid_rgb(out: Any) -> bool:
    return (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.ndim == 3
            and out.shape[2] == 3 and 0 < out.shape[0] * out.shape[1] <= MAX_PIXELS)


def jpeg_bitflip(rng: np.random.Generator) -> Case:
    return _compressed('jpeg', _flip(JPEG, rng))


def jpeg_truncate(rng: np.random.Generator) -> Case:
    return _compressed('jpeg', JPEG[:int(rng.integers(0, len(JPEG)))])


def jpeg_splice(rng: np.random.Generator) -> Case:
    return _compressed('jpeg', _splice(JPEG, rng))


def jpeg_header(rng: np.random.Generator) -> Case:
    return _compressed('jpeg', _jpeg_forged(rng))


def png_bitflip(rng: np.random.Generator) -> Case:
    return _compressed('png', _flip(PNG, rng) if rng.random() < 0.5 else _splice(PNG, rng))


def png_forged(rng: np.random.Generator) -> Case:
    return _compressed('png', _png_forged(rng))


def other_codecs(rng: np.random.Generator) -> Case:
    data = OTHER_CODECS[int(rng.integers(len(OTHER_CODECS)))]
    return _compressed(str(rng.choice(['jpeg', 'png', 'bgr8; jpeg compressed bgr8'])), data)


def format_strings(rng: np.random.Generator) -> Case:
    fmt = STRINGS[int(rng.integers(len(STRINGS)))]
    if rng.random() < 0.3:
        fmt = rng.bytes(int(rng.integers(1, 40))).decode('utf-8', 'replace')
    return _compressed(fmt, JPEG if rng.random() < 0.5 else PNG)


def random_bytes(rng: np.random.Generator) -> Case:
    prefix = [b'', b'\xff\xd8\xff', PNG_MAGIC][int(rng.integers(3))]
    return _compressed(str(rng.choice(['jpeg', 'png'])),
                       prefix + rng.bytes(int(rng.integers(0, 4000))))


def raw_image(rng: np.random.Generator) -> Case:
    """Random combinations of encoding, size, step, endianness and data length."""
    encoding = STRINGS[int(rng.integers(len(STRINGS)))]
    height = int(rng.choice([0, 1, 2, H, 3000, 20000, 2 ** 31]))
    width = int(rng.choice([0, 1, 3, W, 5000, 20000, 2 ** 31]))
    step = max(0, int(rng.choice([0, width, 2 * width, 3 * width, 4 * width, 6 * width,
                                  12 * width + 4, width - 1])))
    small = height * step <= 1 << 22
    length = height * step if small and rng.random() < 0.6 else int(rng.integers(0, 5000))
    data = (np.full(length // 4 + 1, rng.choice([0.5, np.nan, np.inf, -3.0, 1e30]),
                    np.float32).tobytes()[:length] if rng.random() < 0.5 else rng.bytes(length))
    msg = m.Image(height=height, width=width, encoding=encoding,
                  is_bigendian=int(rng.integers(2)), step=step, data=data)
    return ('decode_image', lambda: decode_image(msg),
            lambda out: _valid_rgb(out) and out.shape[:2] == (msg.height, msg.width))


def raw_encodings(rng: np.random.Generator) -> Case:
    """Every encoding of the table (and generic colour types), small, either byte order, padded.

    Half of them are broken by one byte of step or data; random widths are odd half the time.
    """
    names = list(ENCODINGS) + ['8UC3', '16UC4']
    encoding = names[int(rng.integers(len(names)))]
    channels, depth, _ = ENCODINGS.get(encoding, (int(encoding[-1]), 2, None))
    height, width = (int(v) for v in rng.integers(1, 40, 2))
    step = width * channels * depth + int(rng.integers(0, 8))
    length = step * height
    if rng.random() < 0.5:
        change = int(rng.choice([-1, 1]))
        if rng.random() < 0.5:
            length += change
        else:
            step += change
    samples = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    if depth == 4 and rng.random() < 0.8:  # mostly finite intensities, else raw bit patterns
        samples = rng.uniform(-0.5, 1.5, length // 4 + 1).astype(np.float32).tobytes()[:length]
    msg = m.Image(height=height, width=width, encoding=encoding,
                  is_bigendian=int(rng.integers(2)), step=step, data=samples)
    return ('decode_image', lambda: decode_image(msg),
            lambda out: _valid_rgb(out) and out.shape[:2] == (height, width))


def frame_ids(rng: np.random.Generator) -> Case:
    frame_id: Any = STRINGS[int(rng.integers(len(STRINGS)))]
    if rng.random() < 0.5:
        raw = rng.bytes(int(rng.integers(0, 40)))
        frame_id = raw if rng.random() < 0.5 else raw.decode('utf-8', 'replace')
    msg = m.image_from_array(cv2.cvtColor(BGR, cv2.COLOR_BGR2RGB), 'rgb8',
                             m.Header(frame_id=frame_id))
    return ('decode_image', lambda: decode_image(msg), _valid_rgb)


def camera_info(rng: np.random.Generator) -> Case:
    """Break 1-3 fields of a valid camera_info: NaN/inf/0/negative/huge, lengths, models."""
    k = np.array([[40.0, 0, 32], [0, 40, 24], [0, 0, 1]])
    info = m.camera_info_from_k(k, W, H, m.Header())
    values = [np.nan, np.inf, -np.inf, 0.0, -1.0, 1e300, 1e-300, 2.0]
    for _ in range(int(rng.integers(1, 4))):
        name = str(rng.choice(['k', 'p', 'r', 'd', 'distortion_model', 'size', 'binning']))
        if name in ('k', 'p', 'r', 'd'):
            field = list(getattr(info, name))
            if field and rng.random() < 0.7:
                field[int(rng.integers(len(field)))] = float(rng.choice(values))
            else:
                field = field[:int(rng.integers(0, 13))] + [1.0] * int(rng.integers(0, 3))
            setattr(info, name, field)
        elif name == 'distortion_model':
            info.distortion_model = STRINGS[int(rng.integers(len(STRINGS)))]
        elif name == 'size':
            info.width, info.height = (int(v) for v in rng.choice([0, 1, W, H, 2 ** 31], 2))
        else:
            info.binning_x = int(rng.integers(0, 3))
    return ('check_camera_info', lambda: check_camera_info(info, H, W),
            lambda out: out is None and _sane(info))


def _sane(info: m.CameraInfo) -> bool:
    """Check an accepted camera_info independently: finite, 9/12/9 values, fx, fy > 0."""
    sizes = {'k': 9, 'p': 12, 'r': 9}
    values = {name: np.asarray(getattr(info, name), np.float64) for name in ('k', 'p', 'r', 'd')}
    return (all(values[n].size == size for n, size in sizes.items())
            and all(np.isfinite(v).all() for v in values.values())
            and min(values['k'][[0, 4]].min(), values['p'][[0, 5]].min()) > 0)


def scale_depth(rng: np.random.Generator) -> Case:
    """Ground-plane scale on broken depth and K: None or a positive finite number, no raise."""
    depth = rng.uniform(0.5, 50.0, (H, W))
    for _ in range(int(rng.integers(0, 4))):
        r0, c0 = rng.integers(0, H), rng.integers(0, W)
        depth[r0:r0 + int(rng.integers(1, H)), c0:c0 + int(rng.integers(1, W))] = rng.choice(
            [np.nan, np.inf, -1.0, 0.0, 1e300, 1e-300, 5.0])
    k = np.array([[40.0, 0, 32], [0, 40, 24], [0, 0, 1]])
    if rng.random() < 0.5:
        k.flat[int(rng.integers(9))] = float(rng.choice([0.0, np.nan, np.inf, 1e300, -40.0]))
    estimator = ScaleEstimator(ScaleConfig(camera_height=1.6, confirm_frames=1,
                                           min_inlier_fraction=0.0, min_row_coverage=0.0,
                                           max_tilt_deg=45.0), None)
    return ('ScaleEstimator.scale', lambda: (estimator.scale(depth, k, stamp=0.0),
                                             estimator.status()),
            lambda out: out[0] is None or (np.isfinite(out[0]) and out[0] > 0))


CLASSES: Dict[str, Callable[[np.random.Generator], Case]] = {
    f.__name__: f for f in (jpeg_bitflip, jpeg_truncate, jpeg_splice, jpeg_header, png_bitflip,
                            png_forged, other_codecs, format_strings, random_bytes, raw_image,
                            raw_encodings, frame_ids, camera_info, scale_depth)}


def run_class(name: str, cases: int, seed: int = 0) -> Dict[str, Any]:
    """Run `cases` mutations of one class; count outcomes, crashes and invalid outputs."""
    rng = np.random.default_rng([seed, sum(name.encode())])
    result: Dict[str, Any] = {'cases': cases, 'accepted': 0, 'refused': {}, 'crashes': [],
                              'invalid': 0, 'bad_messages': 0}
    for index in range(cases):
        target, call, valid = CLASSES[name](rng)
        try:
            out = call()
        except InputError as err:
            text = str(err)
            result['refused'][err.reason] = result['refused'].get(err.reason, 0) + 1
            if (err.reason not in REASONS or len(text) > MAX_MESSAGE
                    or not text.isprintable()):
                result['bad_messages'] += 1
            continue
        except Exception as err:  # what the fuzzing is for: report, do not stop
            result['crashes'].append(f'{name}[{index}] {target}: {type(err).__name__}: '
                                     f'{str(err)[:200]}')
            continue
        if valid(out):
            result['accepted'] += 1
        else:
            result['invalid'] += 1
    return result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_fuzz(cases: int = 1000, seed: int = 0) -> Dict[str, Any]:
    """Every class `cases` times, with fd 2 captured; per class: outcomes, time, peak memory."""
    results: Dict[str, Any] = {'cases_per_class': cases, 'classes': {}}
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            for name in CLASSES:
                start = time.perf_counter()
                row = run_class(name, cases, seed)
                row['seconds'] = time.perf_counter() - start
                row['peak_rss_mb'] = peak_rss_mb()
                results['classes'][name] = row
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        lines = sink.read().decode('utf-8', 'replace').splitlines()
    results['stderr_lines'] = len(lines)
    results['stderr_sample'] = lines[:5]
    rows = results['classes'].values()
    results['crashes'] = sum(len(r['crashes']) for r in rows)
    results['invalid'] = sum(r['invalid'] + r['bad_messages'] for r in rows)
    results['peak_rss_mb'] = peak_rss_mb()
    return results


def fuzz_section(results: Dict[str, Any]) -> List[str]:
    """Markdown lines of the fuzz results."""
    lines = ['## Input fuzzing', '',
             f"{results['cases_per_class']} mutations per class through decode_image, "
             f"decode_compressed, check_camera_info and ScaleEstimator: "
             f"{results['crashes']} crashes, {results['invalid']} invalid outputs or messages, "
             f"{results['stderr_lines']} stderr lines, "
             f"peak RSS {results['peak_rss_mb']:.0f} MB.",
             '', '| class | accepted | refused (by reason) | crashes | invalid | s '
                 '| peak RSS MB |', '|---|---|---|---|---|---|---|']
    for name, r in results['classes'].items():
        refused = ', '.join(f'{k} {v}' for k, v in sorted(r['refused'].items()))
        lines.append(f"| {name} | {r['accepted']} | {refused} | {len(r['crashes'])} | "
                     f"{r['invalid'] + r['bad_messages']} | {r['seconds']:.1f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    crashes = [c for r in results['classes'].values() for c in r['crashes']]
    return lines + [''] + [f'- {c}' for c in crashes[:20]] + ([''] if crashes else [])


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(prog='python -m adds_ros.tools.fuzz',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--cases', type=int, default=1000, help='mutations per class')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', help='also write the results to this JSON file')
    args = parser.parse_args(argv)
    results = bench_fuzz(args.cases, args.seed)
    print('\n'.join(fuzz_section(results)))
    if args.json:
        with open(args.json, 'w') as out:
            json.dump(results, out, indent=1, default=str)
    return 1 if results['crashes'] or results['invalid'] or results['stderr_lines'] else 0


if __name__ == '__main__':
    sys.exit(main())
