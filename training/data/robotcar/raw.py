# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""Readers for the raw Oxford RobotCar download and the public SDK's model/extrinsics files.

Conventions follow the RobotCar SDK: an "x y z roll pitch yaw" line is the SE(3) transform
[R_z(yaw) R_y(pitch) R_x(roll) | xyz]; a VO row is the pose of the source frame in the
destination frame; the camera model's G_camera_image maps image axes (x right, y down,
z forward) to the camera axes (x forward, y right, z down).
"""

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

CAMERA = 'stereo_wide_left'
IMAGE_DIR = Path('stereo') / 'left'
IMAGE_TIMESTAMPS = 'stereo.timestamps'
VO_FILE = Path('vo') / 'vo.csv'
LIDAR = 'lms_front'


def read_timestamps(path: Path) -> np.ndarray:
    """Read a `<sensor>.timestamps` file ("<µs> <chunk>" per line) as int64 µs."""
    stamps = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if not fields[0].isdigit():
            raise ValueError(f'{path}:{number}: expected "<µs timestamp> <chunk>", got {line!r}')
        stamps.append(int(fields[0]))
    return np.asarray(stamps, dtype=np.int64)


def demosaic(bayer: np.ndarray) -> np.ndarray:
    """Turn the XB3's single-channel GBRG mosaic into RGB uint8.

    OpenCV names Bayer patterns by the 2x2 block starting at pixel (1, 1), so the SDK's GBRG
    (pattern from pixel (0, 0)) is OpenCV's "GR"; its RGB variant gives R, G, B channel order.
    """
    if bayer.ndim != 2:
        raise ValueError(f'expected a single-channel Bayer image, got shape {bayer.shape}')
    return cv2.cvtColor(bayer, cv2.COLOR_BayerGR2RGB)


def read_bayer_image(path: Path) -> np.ndarray:
    """Read `stereo/left/<ts>.png` as RGB uint8; ValueError if missing or undecodable."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f'cannot read image {path}')
    if raw.ndim != 2:
        raise ValueError(f'{path} is not a single-channel Bayer image (shape {raw.shape})')
    return demosaic(raw)


@dataclass
class CameraModel:
    """Pinhole intrinsics, G_camera_image and the undistortion look-up table of one camera."""

    focal: Tuple[float, float]
    principal: Tuple[float, float]
    G_camera_image: np.ndarray
    lut: np.ndarray  # (2, H, W) float32: where each undistorted pixel samples the raw image

    @property
    def size(self) -> Tuple[int, int]:
        return self.lut.shape[1], self.lut.shape[2]

    def K(self) -> np.ndarray:
        """Return the 3x3 pixel intrinsics of the undistorted image."""
        (fx, fy), (cx, cy) = self.focal, self.principal
        return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dtype=np.float64)

    def undistort(self, image: np.ndarray) -> np.ndarray:
        """Resample a raw image through the LUT (bilinear, black outside), as the SDK does."""
        if image.shape[:2] != self.size:
            raise ValueError(f'image is {image.shape[:2]}, camera model expects {self.size}')
        return cv2.remap(image, self.lut[0], self.lut[1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT)

    def project(self, xyz_camera: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Project 3xN points in the camera frame; return (uv 2xM, depth M) of those in front."""
        xyzw = np.vstack([xyz_camera, np.ones((1, xyz_camera.shape[1]))])
        image_xyz = np.linalg.solve(self.G_camera_image, xyzw)[:3]
        front = image_xyz[2] > 0
        x, y, z = image_xyz[:, front]
        uv = np.vstack([self.focal[0] * x / z + self.principal[0],
                        self.focal[1] * y / z + self.principal[1]])
        return uv, z


def read_lut(path: Path, size: Tuple[int, int]) -> np.ndarray:
    """Read the SDK's distortion LUT: float64 LE, H*W x-coordinates then H*W y-coordinates."""
    height, width = size
    data = np.fromfile(str(path), dtype='<f8')
    if data.size != 2 * height * width:
        raise ValueError(f'{path}: {data.size} values, expected 2*{height}*{width}')
    return data.reshape(2, height, width).astype(np.float32)


def read_camera_model(models_dir: Path, camera: str = CAMERA,
                      size: Tuple[int, int] = (960, 1280)) -> CameraModel:
    """Read `<camera>.txt` ("fx fy cx cy", then 4x4 G_camera_image) and its LUT."""
    path = Path(models_dir) / f'{camera}.txt'
    if not path.exists():
        raise FileNotFoundError(f'camera model {path} not found (point --models at the SDK '
                                'models/ folder)')
    rows = [[float(v) for v in line.split()] for line in path.read_text().splitlines()
            if line.strip()]
    if len(rows) != 5 or len(rows[0]) != 4 or any(len(r) != 4 for r in rows[1:]):
        raise ValueError(f'{path}: expected "fx fy cx cy" and a 4x4 matrix')
    fx, fy, cx, cy = rows[0]
    lut = read_lut(Path(models_dir) / f'{camera}_distortion_lut.bin', size)
    return CameraModel((fx, fy), (cx, cy), np.array(rows[1:], dtype=np.float64), lut)


def euler_to_so3(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """R = R_z(yaw) R_y(pitch) R_x(roll), the SDK's convention."""
    cr, sr, cp, sp, cy, sy = (np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch),
                              np.cos(yaw), np.sin(yaw))
    R_x = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    R_y = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    R_z = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return R_z @ R_y @ R_x


def build_se3_transform(xyzrpy: Sequence[float]) -> np.ndarray:
    """4x4 transform from (x, y, z, roll, pitch, yaw)."""
    if len(xyzrpy) != 6:
        raise ValueError(f'an SE(3) transform needs 6 values (x y z roll pitch yaw), got '
                         f'{len(xyzrpy)}')
    T = np.eye(4)
    T[:3, :3] = euler_to_so3(*xyzrpy[3:6])
    T[:3, 3] = xyzrpy[:3]
    return T


def read_extrinsics(path: Path) -> np.ndarray:
    """Read an SDK `extrinsics/<sensor>.txt` ("x y z roll pitch yaw") as a 4x4 transform."""
    text = Path(path).read_text().split()
    try:
        return build_se3_transform([float(v) for v in text])
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None


@dataclass
class Trajectory:
    """Absolute poses (4x4, in the frame of the first VO timestamp) at increasing timestamps."""

    timestamps: np.ndarray
    poses: np.ndarray  # (N, 4, 4)

    def at(self, stamps: Sequence[int]) -> np.ndarray:
        """Interpolate poses (linear position, geodesic rotation); clamp outside the range."""
        stamps = np.asarray(stamps, dtype=np.int64)
        upper = np.clip(np.searchsorted(self.timestamps, stamps, side='right'),
                        1, len(self.timestamps) - 1)
        lower = upper - 1
        span = (self.timestamps[upper] - self.timestamps[lower]).astype(np.float64)
        alpha = np.clip((stamps - self.timestamps[lower]) / span, 0.0, 1.0)
        out = np.empty((len(stamps), 4, 4))
        for i, (lo, hi, a) in enumerate(zip(lower, upper, alpha)):
            out[i] = interpolate_pose(self.poses[lo], self.poses[hi], a)
        return out

    def relative(self, stamps: Sequence[int], origin: int) -> np.ndarray:
        """Poses at `stamps` expressed in the vehicle frame at `origin` (SDK semantics)."""
        origin_pose = self.at([origin])[0]
        return np.linalg.solve(origin_pose[None], self.at(stamps))


def interpolate_pose(A: np.ndarray, B: np.ndarray, alpha: float) -> np.ndarray:
    """Pose a fraction `alpha` of the way from A to B (slerp-equivalent rotation)."""
    R_rel = A[:3, :3].T @ B[:3, :3]
    rvec, _ = cv2.Rodrigues(R_rel)
    R_step, _ = cv2.Rodrigues(rvec * alpha)
    out = np.eye(4)
    out[:3, :3] = A[:3, :3] @ R_step
    out[:3, 3] = (1 - alpha) * A[:3, 3] + alpha * B[:3, 3]
    return out


def read_vo(path: Path) -> Trajectory:
    """Chain `vo/vo.csv` relative poses into absolute poses.

    Each row (source, destination, x, y, z, roll, pitch, yaw) is the pose of the source frame
    in the destination frame, so pose(source) = pose(destination) @ T(row).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f'visual odometry {path} not found')
    stamps: List[int] = []
    poses: List[np.ndarray] = []
    with path.open(newline='') as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for number, row in enumerate(reader, 2):
            if not row:
                continue
            if len(row) < 8:
                raise ValueError(f'{path}:{number}: expected 8 columns, got {len(row)}')
            source, destination = int(row[0]), int(row[1])
            if not stamps:
                stamps.append(destination)
                poses.append(np.eye(4))
            stamps.append(source)
            poses.append(poses[-1] @ build_se3_transform([float(v) for v in row[2:8]]))
    if len(stamps) < 2:
        raise ValueError(f'{path}: no visual odometry rows')
    order = np.argsort(stamps, kind='stable')
    return Trajectory(np.asarray(stamps, np.int64)[order], np.stack(poses)[order])


def read_lidar_scan(path: Path) -> np.ndarray:
    """Read `lms_front/<ts>.bin` as 3xN float64 (x, y, 0) points in the sensor frame.

    A missing file or one whose size is not a whole number of (x, y, reflectance) float64
    triples (a truncated download) raises ValueError.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f'lidar scan {path} is missing')
    size = path.stat().st_size
    if size == 0 or size % 24:
        raise ValueError(f'lidar scan {path} is truncated ({size} bytes, not a multiple of 24)')
    scan = np.fromfile(str(path), dtype='<f8').reshape(-1, 3).T.copy()
    scan[2] = 0.0
    return scan
