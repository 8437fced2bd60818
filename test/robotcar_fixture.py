# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Build a tiny raw RobotCar sequence in the real file formats, with known content.

The camera sees a smooth known RGB image (stored as a GBRG Bayer mosaic); the vehicle drives
straight ahead at a known speed (with a configurable static stretch) over a flat ground plane a
known height below the camera; the front lidar, pitched down, scans that plane. So demosaic,
undistortion, intrinsics, static filtering and lidar ground truth all have analytic answers.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Tuple

import cv2
import numpy as np

# Image axes (x right, y down, z forward) -> SDK camera axes (x forward, y right, z down).
G_CAMERA_IMAGE = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)


@dataclass
class RawFixture:
    sequence: Path
    models: Path
    extrinsics: Path
    stamps: np.ndarray
    rgb: np.ndarray
    focal: Tuple[float, float]
    principal: Tuple[float, float]
    size: Tuple[int, int]
    camera_height: float
    static: Tuple[int, ...] = ()
    missing: Tuple[int, ...] = ()
    corrupt: Tuple[int, ...] = ()
    truncated_scans: Tuple[int, ...] = field(default_factory=tuple)


def smooth_rgb(height: int, width: int) -> np.ndarray:
    """Return a smooth colour image (slow sinusoids), so bilinear demosaicing is nearly exact."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 128 + 80 * np.sin(2 * np.pi * x / 64.0)
    g = 128 + 70 * np.cos(2 * np.pi * y / 48.0)
    b = 128 + 60 * np.sin(2 * np.pi * (x + y) / 80.0)
    return np.clip(np.round(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)


def mosaic_gbrg(rgb: np.ndarray) -> np.ndarray:
    """Sample an RGB image on the XB3's GBRG pattern (G B / R G from pixel (0, 0))."""
    bayer = np.empty(rgb.shape[:2], np.uint8)
    bayer[0::2, 0::2] = rgb[0::2, 0::2, 1]
    bayer[0::2, 1::2] = rgb[0::2, 1::2, 2]
    bayer[1::2, 0::2] = rgb[1::2, 0::2, 0]
    bayer[1::2, 1::2] = rgb[1::2, 1::2, 1]
    return bayer


def shifted_lut(size: Tuple[int, int], dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """LUT in which undistorted pixel (x, y) samples the raw image at (x + dx, y + dy)."""
    y, x = np.mgrid[0:size[0], 0:size[1]].astype(np.float64)
    return np.stack([x + dx, y + dy])


def write_camera_model(models: Path, focal: Tuple[float, float], principal: Tuple[float, float],
                       lut: np.ndarray, camera: str = 'stereo_wide_left') -> None:
    models.mkdir(parents=True, exist_ok=True)
    rows = [' '.join(f'{v:.6f}' for v in (*focal, *principal))]
    rows += [' '.join(f'{v:.6f}' for v in row) for row in G_CAMERA_IMAGE]
    (models / f'{camera}.txt').write_text('\n'.join(rows) + '\n')
    lut.astype('<f8').tofile(str(models / f'{camera}_distortion_lut.bin'))


def xyzrpy_line(values: Sequence[float]) -> str:
    return ' '.join(f'{v:.6f}' for v in values) + '\n'


def build_raw_sequence(root: Path, n_frames: int = 10, size: Tuple[int, int] = (120, 160),
                       focal: Tuple[float, float] = (100.0, 100.0),
                       principal: Tuple[float, float] = (80.0, 60.0),
                       static: Tuple[int, ...] = (4, 5), missing: Tuple[int, ...] = (),
                       corrupt: Tuple[int, ...] = (), truncated_scans: Tuple[int, ...] = (),
                       lut_shift: Tuple[float, float] = (0.0, 0.0), speed: float = 1.0,
                       camera_height: float = 1.5, lidar_pitch: float = -0.3,
                       frame_us: int = 100_000, scan_us: int = 50_000,
                       margin_s: float = 5.0) -> RawFixture:
    """Write `<root>/seq` (stereo/left, timestamps, vo, lms_front), `models/`, `extrinsics/`.

    Frame k moves `speed` metres forward since frame k-1 unless k is in `static`. Indices in
    `missing` get a timestamp but no file, `corrupt` a file that is not a PNG; scan numbers in
    `truncated_scans` lose their last bytes.
    """
    seq, models, extrinsics = root / 'seq', root / 'models', root / 'extrinsics'
    t0 = 1_418_132_000_000_000
    stamps = t0 + frame_us * np.arange(n_frames, dtype=np.int64)
    rgb = smooth_rgb(*size)
    bayer = mosaic_gbrg(rgb)
    (seq / 'stereo' / 'left').mkdir(parents=True)
    for k, stamp in enumerate(stamps):
        path = seq / 'stereo' / 'left' / f'{stamp}.png'
        if k in corrupt:
            path.write_bytes(b'\x89PNG truncated download')
        elif k not in missing:
            cv2.imwrite(str(path), bayer)
    (seq / 'stereo.timestamps').write_text(''.join(f'{s} 1\n' for s in stamps))

    margin = int(margin_s * 1e6)
    vo_stamps = np.arange(t0 - margin, stamps[-1] + margin + 1, frame_us, dtype=np.int64)
    rows = ['source_timestamp,destination_timestamp,x,y,z,roll,pitch,yaw\n']
    for dest, source in zip(vo_stamps[:-1], vo_stamps[1:]):
        k = (source - t0) // frame_us
        step = 0.0 if (source - t0) % frame_us == 0 and k in static else speed
        rows.append(f'{source},{dest},{step},0,0,0,0,0\n')
    (seq / 'vo').mkdir()
    (seq / 'vo' / 'vo.csv').write_text(''.join(rows))

    extrinsics.mkdir()
    lidar_xyz = (0.5, 0.0, 0.0)
    (extrinsics / 'stereo.txt').write_text(xyzrpy_line([0] * 6))
    (extrinsics / 'lms_front.txt').write_text(xyzrpy_line([*lidar_xyz, 0, lidar_pitch, 0]))
    reach = (camera_height - lidar_xyz[2]) / -np.sin(lidar_pitch)  # sensor-x range to ground
    across = np.linspace(-8.0, 8.0, 161)
    scan = np.stack([np.full_like(across, reach), across, np.ones_like(across)], 1)
    scan_stamps = np.arange(t0 - margin, stamps[-1] + margin + 1, scan_us, dtype=np.int64)
    (seq / 'lms_front').mkdir()
    for number, stamp in enumerate(scan_stamps):
        data = scan.astype('<f8').tobytes()
        (seq / 'lms_front' / f'{stamp}.bin').write_bytes(
            data[:-5] if number in truncated_scans else data)
    (seq / 'lms_front.timestamps').write_text(''.join(f'{s} 1\n' for s in scan_stamps))

    write_camera_model(models, focal, principal, shifted_lut(size, *lut_shift))
    return RawFixture(seq, models, extrinsics, stamps, rgb, focal, principal, size,
                      camera_height, tuple(static), tuple(missing), tuple(corrupt),
                      tuple(truncated_scans))
