# Copyright 2026 adds_ros developers
# SPDX-License-Identifier: Apache-2.0
"""The RobotCar SDK camera model as ROS sees a camera: camera_info and a static transform.

The SDK undistorts with a per-pixel look-up table, which no ROS distortion model can carry. For
images stored as recorded, camera_info therefore holds the `plumb_bob` coefficients that best
reproduce the table (a linear least-squares fit, residual reported), so `image_proc` rectifies
them close to the SDK; for rectified images it holds the SDK pinhole with zero distortion.
"""

from typing import List, Tuple

import numpy as np

from adds_ros.messages import CameraInfo, Header, camera_info_from_k
from adds_training.data.robotcar.raw import CameraModel

# RobotCar's vehicle and camera frames are x forward, y right, z down; REP 103's base_link is
# x forward, y left, z up: a half turn about x.
ROBOTCAR_TO_REP103 = np.diag([1.0, -1.0, -1.0, 1.0])


def fit_plumb_bob(model: CameraModel, step: int = 8) -> Tuple[List[float], float]:
    """Fit (k1, k2, p1, p2, k3) to the SDK look-up table; return them and the RMS error (px).

    The table says where each undistorted pixel lies in the raw image. In normalised
    coordinates the plumb_bob displacement is linear in the five coefficients, so sampling
    every `step`-th pixel and solving one least-squares problem gives the fit.
    """
    (fx, fy), (cx, cy) = model.focal, model.principal
    height, width = model.size
    v, u = np.mgrid[0:height:step, 0:width:step].astype(np.float64)
    x, y = (u - cx) / fx, (v - cy) / fy
    xd = (model.lut[0, 0:height:step, 0:width:step] - cx) / fx
    yd = (model.lut[1, 0:height:step, 0:width:step] - cy) / fy
    x, y, xd, yd = x.ravel(), y.ravel(), xd.ravel(), yd.ravel()
    r2 = x * x + y * y
    radial = np.stack([r2, r2 * r2, r2 ** 3], axis=1)
    rows_x = np.column_stack([x[:, None] * radial[:, :2], 2 * x * y, r2 + 2 * x * x,
                              x * radial[:, 2]])
    rows_y = np.column_stack([y[:, None] * radial[:, :2], r2 + 2 * y * y, 2 * x * y,
                              y * radial[:, 2]])
    a = np.vstack([rows_x * fx, rows_y * fy])
    b = np.concatenate([(xd - x) * fx, (yd - y) * fy])
    coefficients, *_ = np.linalg.lstsq(a, b, rcond=None)
    rms = float(np.sqrt(np.mean((a @ coefficients - b) ** 2) * 2))
    return [float(c) for c in coefficients], rms


def camera_info_from_model(model: CameraModel, rectified: bool,
                           header: Header) -> Tuple[CameraInfo, float]:
    """camera_info for frames as recorded (plumb_bob fit) or rectified through the table.

    Also returns the fit's RMS error in pixels (0 for rectified frames, which are exact).
    """
    height, width = model.size
    info = camera_info_from_k(model.K(), width, height, header)
    if rectified:
        return info, 0.0
    info.d, rms = fit_plumb_bob(model)
    return info, rms


def optical_frame_pose(model: CameraModel) -> np.ndarray:
    """4x4 pose of the camera's optical frame (z forward, x right, y down) in REP 103 base_link.

    G_camera_image maps image axes into the SDK's stereo (vehicle) frame, whose origin RobotCar
    places at the stereo camera; turning that frame into REP 103 gives base_link.
    """
    return ROBOTCAR_TO_REP103 @ np.asarray(model.G_camera_image, dtype=np.float64)
